"""Repeated console workflows: the same steps, session after session, as one script.

A **session** is one console user's candidate events under one principal (the identity's ARN)
and one console session (its sessionContext creation date), in time order, split wherever two
events are :data:`SESSION_GAP` or more apart. A **workflow** is the ordered sequence of
(provider, action) of a session of two steps or more; the same sequence in another session
(another day, another user) is the same workflow. Only workflows seen at least twice are kept,
ranked by the manual work they cost: occurrences x steps.

Steps are **linked** by data flow: a string value of a later step's API input that equals a
value of an earlier step's response (in the API's output shape, e.g. `GroupId`) and was not an
input of that earlier step (it was created there). A link is kept when every occurrence has
it. Inputs whose value differs across occurrences (and secrets CloudTrail hides) become the
script's arguments; equal values in several steps become one argument.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta
from typing import Any

from provision.analysis import automation_policy, automation_script
from provision.analysis.console_time import moment, per_month, step_seconds
from botocore import xform_name

from provision.cloudtrail import clickcode, commandline, inputpaths

SESSION_GAP = timedelta(minutes=30)
MIN_OCCURRENCES = 2
MIN_LINK_LENGTH = 4  # shorter strings ("tcp", "true") are coincidences, not ids


def sessions(mapped: list) -> list[list]:
    """Every session (a list of mapped events, oldest first) in the sample."""
    by_session: dict[tuple[str, str, str], list] = {}
    for m in sorted(mapped, key=lambda m: m.event.order):
        by_session.setdefault((m.event.user, m.event.principal, m.event.session), []).append(m)
    result = []
    for events in by_session.values():
        current = [events[0]]
        for previous, event in zip(events, events[1:]):
            if moment(event.event.timestamp) - moment(previous.event.timestamp) >= SESSION_GAP:
                result.append(current)
                current = []
            current.append(event)
        result.append(current)
    return result


def _links(session: list) -> set[tuple[int, tuple, int, tuple]]:
    """(from step, output path parts, to step, input path parts) for one occurrence."""
    outputs = []
    for m in session:
        api = m.api
        if api.service and api.operation:
            out = clickcode.api_output(api.service, api.operation, m.event.response)
        else:
            out = {}
        outputs.append({v: p for p, v in inputpaths.leaf_items(out)
                        if isinstance(v, str) and len(v) >= MIN_LINK_LENGTH and all(_QUERY_NAME.match(str(x)) for x in p)})
    found = set()
    for j, m in enumerate(session):
        for parts, value in inputpaths.leaf_items(m.api.parameters):
            if not isinstance(value, str) or len(value) < MIN_LINK_LENGTH:
                continue
            for i in range(j - 1, -1, -1):
                inputs = {v for _, v in inputpaths.leaf_items(session[i].api.parameters) if isinstance(v, str)}
                if value in outputs[i] and value not in inputs:
                    found.add((i, outputs[i][value], j, parts))
                    break
    return found


_QUERY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$|^[0-9]+$")  # output paths a --query can name as they are
MAX_NAME = 80  # characters of a workflow's name (and its script's file name)


def find_workflows(mapped: list, top: int = 0) -> list[dict[str, Any]]:
    """The repeated workflows of a sample, most costly first (see the module docstring)."""
    groups: dict[tuple[tuple[str, str], ...], list[list]] = {}
    for session in sessions(mapped):
        if len(session) >= 2:
            groups.setdefault(tuple((m.event.provider, m.event.action) for m in session), []).append(session)
    workflows = []
    for sequence, occurrences in groups.items():
        if len(occurrences) < MIN_OCCURRENCES:
            continue
        links = set.intersection(*(_links(s) for s in occurrences))
        workflows.append(_workflow(sequence, occurrences, links))
    workflows.sort(key=lambda w: (-w["cost"], -w["occurrences"], w["name"]))
    return workflows[:top] if top > 0 else workflows


def workflow_name(actions: list[str]) -> str:
    """`create-security-group-then-create-tags`: only [a-z0-9-], at most :data:`MAX_NAME`
    characters (a long one ends in a digest of the whole, so names stay distinct)."""
    name = "-then-".join(xform_name(commandline.printable(a), "-") for a in actions)
    name = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "workflow"
    if len(name) > MAX_NAME:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        name = name[: MAX_NAME - 9].rstrip("-") + "-" + digest
    return name


def _account(event: Any) -> str:
    """The caller's account: from its ARN (a cross-account call logs the other account as recipient)."""
    found = re.match(r"^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):", event.principal or "")
    return found.group(1) if found else event.account


def _workflow(sequence, occurrences: list[list], links: set) -> dict[str, Any]:
    latest = occurrences[-1]
    linked_inputs = {(j, p) for _, _, j, p in links}
    arguments, secrets = _arguments(occurrences, linked_inputs)
    days = {m.event.timestamp[:10] for s in occurrences for m in s}
    users = sorted({m.event.user for s in occurrences for m in s if m.event.user})
    steps = [
        {
            "provider": provider,
            "action": action,
            "service": latest[i].api.service,
            "operation": latest[i].api.operation,
            "parameters": latest[i].api.parameters,
            "valid": latest[i].api.valid,
            "region": latest[i].event.region,
        }
        for i, (provider, action) in enumerate(sequence)
    ]
    workflow = {
        "name": workflow_name([action for _, action in sequence]),
        "steps": steps,
        "occurrences": len(occurrences),
        "cost": len(occurrences) * len(sequence),
        "users": users,
        "days": len(days),
        "first_seen": occurrences[0][0].event.timestamp,
        "last_seen": latest[-1].event.timestamp,
        "account": _account(latest[0].event),
        "console_minutes_per_month": _minutes_per_month(occurrences),
        "links": [
            {"from_step": i + 1, "output": inputpaths.path_text(out), "to_step": j + 1, "parameter": inputpaths.path_text(parts)}
            for i, out, j, parts in sorted(links)
        ],
        "varying": [{"name": a["name"], "uses": [f"{s + 1}:{inputpaths.path_text(p)}" for s, p in a["uses"]], "last_value": a["value"]}
                    for a in arguments],
        "secrets": [{"env": e["env"], "uses": [f"{s + 1}:{inputpaths.path_text(p)}" for s, p in e["uses"]], "reason": e["reason"]}
                    for e in secrets],
    }
    variable: dict[int, set[str]] = {}
    for s, parts in [*((j, p) for _, _, j, p in links), *(u for a in arguments for u in a["uses"]), *(u for e in secrets for u in e["uses"])]:
        variable.setdefault(s, set()).add(str(parts[0]))
    workflow["policy"], workflow["policy_notes"] = automation_policy.policy(
        [(s["service"], s["operation"], s["parameters"], variable.get(i, set())) for i, s in enumerate(steps) if s["service"]])
    workflow["script"] = automation_script.script(workflow, sorted(links), arguments, secrets)
    return workflow


def _minutes_per_month(occurrences: list[list]) -> float:
    """The console time of every occurrence (provision.analysis.console_time's rule), per month."""
    seconds = sum(step_seconds(s[i - 1].event if i else None, m.event) for s in occurrences for i, m in enumerate(s))
    return per_month(seconds / 60, occurrences[0][0].event.timestamp, occurrences[-1][-1].event.timestamp)


def _arguments(occurrences: list[list], linked_inputs: set) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the script's arguments: varying inputs, one per distinct value in the latest run;
    its secrets: placeholders, one environment variable per member name)."""
    latest = occurrences[-1]
    arguments: list[dict[str, Any]] = []
    secrets: dict[str, dict[str, Any]] = {}
    by_value: dict[str, dict[str, Any]] = {}
    for i, m in enumerate(latest):
        for p in m.api.placeholders:
            secret = secrets.setdefault(p["env"], {"env": p["env"], "uses": [], "reason": p["reason"]})
            secret["uses"].append((i, tuple(p["parts"])))
        secret_parts = {tuple(p["parts"]) for p in m.api.placeholders}
        varying = set(inputpaths.varying_paths([s[i].api.parameters for s in occurrences])[0])
        for parts, value in inputpaths.leaf_items(m.api.parameters):
            if (i, parts) in linked_inputs or isinstance(value, (dict, list)):
                continue
            if any(parts[: len(s)] == s for s in secret_parts) or inputpaths.path_text(parts) not in varying:
                continue
            key = json.dumps(value)
            argument = by_value.get(key)
            if argument is None:
                argument = by_value[key] = {"name": _argument_name(m.api, parts, arguments), "value": value, "uses": []}
                arguments.append(argument)
            argument["uses"].append((i, parts))
    return arguments, list(secrets.values())


def _argument_name(api: Any, parts: tuple, taken: list[dict[str, Any]]) -> str:
    """A variable name from botocore's member names on the path only (never a logged key):
    `Tags[1].Value` -> tags_value, `GroupName` -> group_name; `arg` when there is none."""
    members = clickcode.member_names(api.service, api.operation, parts)
    if len(members) > 1 and members[-1] in ("Value", "Key", "Name", "Id"):
        base = "_".join(xform_name(p) for p in members[-2:])
    else:
        base = xform_name(members[-1]) if members else "arg"
    base = re.sub(r"[^a-z0-9_]", "_", base.lower()).strip("_") or "arg"
    names = {a["name"] for a in taken}
    name, n = base, 2
    while name in names or name.startswith("ct_"):
        name, n = f"{base}_{n}", n + 1
    return name
