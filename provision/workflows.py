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

import json
import re
import shlex
from datetime import datetime, timedelta
from typing import Any

from provision import clickcode

SESSION_GAP = timedelta(minutes=30)
MIN_OCCURRENCES = 2
MIN_LINK_LENGTH = 4  # shorter strings ("tcp", "true") are coincidences, not ids


def _moment(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def sessions(mapped: list) -> list[list]:
    """Every session (a list of mapped events, oldest first) in the sample."""
    by_session: dict[tuple[str, str, str], list] = {}
    for m in sorted(mapped, key=lambda m: m.event.order):
        by_session.setdefault((m.event.user, m.event.principal, m.event.session), []).append(m)
    result = []
    for events in by_session.values():
        current = [events[0]]
        for previous, event in zip(events, events[1:]):
            if _moment(event.event.timestamp) - _moment(previous.event.timestamp) >= SESSION_GAP:
                result.append(current)
                current = []
            current.append(event)
        result.append(current)
    return result


def _links(session: list) -> set[tuple[int, str, int, str]]:
    """(from step, output path, to step, input path) for one occurrence."""
    outputs = []
    for m in session:
        api = m.api
        if api.service and api.operation:
            out = clickcode.api_output(api.service, api.operation, m.event.response)
        else:
            out = {}
        outputs.append({v: p for p, v in clickcode.leaves(out) if isinstance(v, str) and len(v) >= MIN_LINK_LENGTH})
    found = set()
    for j, m in enumerate(session):
        for path, value in clickcode.leaves(m.api.parameters):
            if not isinstance(value, str) or len(value) < MIN_LINK_LENGTH:
                continue
            for i in range(j - 1, -1, -1):
                inputs = {v for _, v in clickcode.leaves(session[i].api.parameters) if isinstance(v, str)}
                if value in outputs[i] and value not in inputs:
                    found.add((i, outputs[i][value], j, path))
                    break
    return found


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


def _workflow(sequence, occurrences: list[list], links: set) -> dict[str, Any]:
    latest = occurrences[-1]
    linked_inputs = {(j, p) for _, _, j, p in links}
    arguments = _arguments(occurrences, linked_inputs)
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
        }
        for i, (provider, action) in enumerate(sequence)
    ]
    name = "-then-".join(clickcode.xform_name(action, "-") for _, action in sequence)
    workflow = {
        "name": name,
        "steps": steps,
        "occurrences": len(occurrences),
        "cost": len(occurrences) * len(sequence),
        "users": users,
        "days": len(days),
        "first_seen": occurrences[0][0].event.timestamp,
        "last_seen": latest[-1].event.timestamp,
        "links": [
            {"from_step": i + 1, "output": out, "to_step": j + 1, "parameter": path}
            for i, out, j, path in sorted(links)
        ],
        "varying": [{"name": a["name"], "uses": [f"{s + 1}:{p}" for s, p in a["uses"]], "last_value": a["value"]} for a in arguments],
    }
    workflow["script"] = script(workflow, links, arguments)
    return workflow


def _arguments(occurrences: list[list], linked_inputs: set) -> list[dict[str, Any]]:
    """The script's arguments: varying or secret inputs, one per distinct value in the latest run."""
    latest = occurrences[-1]
    placeholders = {(i, p["path"]) for i, m in enumerate(latest) for p in m.api.placeholders}
    arguments: list[dict[str, Any]] = []
    by_value: dict[str, dict[str, Any]] = {}
    for i, m in enumerate(latest):
        varying = set(clickcode.varying_paths([s[i].api.parameters for s in occurrences])[0])
        for path, value in clickcode.leaves(m.api.parameters):
            if (i, path) in linked_inputs or isinstance(value, (dict, list)):
                continue
            secret = any(path == p or path.startswith(p + "[") for s, p in placeholders if s == i)
            if path not in varying and not secret:
                continue
            key = json.dumps(value) if not secret else f"secret {i} {path}"
            argument = by_value.get(key)
            if argument is None:
                argument = by_value[key] = {"name": _argument_name(path, arguments), "value": None if secret else value, "uses": []}
                arguments.append(argument)
            argument["uses"].append((i, path))
    return arguments


def _argument_name(path: str, taken: list[dict[str, Any]]) -> str:
    parts = re.sub(r"\[\d+\]", "", path).split(".")
    if len(parts) > 1 and parts[-1] in ("Value", "Key", "Name", "Id"):
        parts = parts[-2:]  # Tags[1].Value -> tags_value
    base = "_".join(clickcode.xform_name(p) for p in parts[-2:] if p).strip("_") or "value"
    base = base if len(parts) > 1 and parts[-1] in ("Value", "Key", "Name", "Id") else clickcode.xform_name(parts[-1]) or "value"
    names = {a["name"] for a in taken}
    name, n = base, 2
    while name in names:
        name, n = f"{base}_{n}", n + 1
    return name


class _Var:
    def __init__(self, name: str) -> None:
        self.name = name


def _substitute(value: Any, path: str, replacements: dict[str, str]) -> Any:
    if path in replacements:
        return _Var(replacements[path])
    if isinstance(value, dict):
        return {k: _substitute(v, f"{path}.{k}" if path else k, replacements) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, f"{path}[{i}]", replacements) for i, v in enumerate(value)]
    return value


_MARK = "@@ctstack-variable@@"  # printable: JSON leaves it as it is


def _shell(value: Any) -> str:
    """A value as one shell word, with ${variables} spliced in (inside JSON for nested values)."""
    if isinstance(value, _Var):
        return f'"${{{value.name}}}"'
    if not isinstance(value, (dict, list)):
        return clickcode.shell_word(value)
    text = json.dumps(value, separators=(",", ":"), default=lambda v: f"{_MARK}{v.name}{_MARK}")
    parts = text.split(_MARK)
    words = []
    for k, part in enumerate(parts):
        if k % 2:
            words.append(f'"${{{part}}}"')
        elif part:
            words.append(shlex.quote(part))
    return "".join(words)


def _command(step: dict[str, Any], parameters: dict[str, Any]) -> str:
    words = [f"aws {clickcode.cli_name(step['service'])} {clickcode.xform_name(step['operation'], '-')}"]
    for member, value in parameters.items():
        if isinstance(value, bool):
            words.append(clickcode.option(member) if value else "--no-" + clickcode.xform_name(member, "-"))
        elif isinstance(value, list) and value and all(isinstance(v, _Var) or not isinstance(v, (dict, list)) for v in value):
            words.append(clickcode.option(member))
            words.extend(_shell(v) for v in value)
        else:
            words.extend([clickcode.option(member), _shell(value)])
    return " ".join(words)


def script(workflow: dict[str, Any], links: set, arguments: list[dict[str, Any]]) -> str:
    """A bash script doing the workflow with the AWS CLI: linked values captured, varying ones $1..$n."""
    steps = workflow["steps"]
    usage = " ".join(a["name"].upper() for a in arguments)
    lines = [
        "#!/usr/bin/env bash",
        f"# {' -> '.join(s['action'] for s in steps)}",
        f"# Done by hand in the AWS console {workflow['occurrences']} times on {workflow['days']} days "
        f"({workflow['first_seen'][:10]} to {workflow['last_seen'][:10]}) by {', '.join(workflow['users']) or 'unknown users'}.",
        "# Generated by ctstack from CloudTrail: each value an earlier step created is captured from its output.",
        "set -euo pipefail",
        "",
        f'if [ "$#" -ne {len(arguments)} ]; then',
        f'  echo "usage: $0{(" " + usage) if usage else ""}" >&2',
    ]
    for a in arguments:
        last = "(a secret: not logged)" if a["value"] is None else f"last used: {a['value']}"
        uses = ", ".join(f"step {s + 1} {p}" for s, p in a["uses"])
        lines.append("  echo " + shlex.quote(f"  {a['name'].upper()}: {uses}; {last}") + " >&2")
    lines += ["  exit 2", "fi"]
    replacements: dict[int, dict[str, str]] = {}
    for n, a in enumerate(arguments, 1):
        lines.append(f'{a["name"]}="${n}"')
        for s, p in a["uses"]:
            replacements.setdefault(s, {})[p] = a["name"]
    captures: dict[int, list[tuple[str, str]]] = {}
    for i, out, j, path in sorted(links):
        variable = f"step{i + 1}_{clickcode.xform_name(re.sub(r'[^A-Za-z0-9]', '', out))}"
        if (out, variable) not in captures.setdefault(i, []):
            captures[i].append((out, variable))
        replacements.setdefault(j, {})[path] = variable
    lines.append("")
    for i, step in enumerate(steps):
        command = _command(step, _substitute(step["parameters"], "", replacements.get(i, {})))
        lines.append(f"# step {i + 1}: {step['action']}")
        outs = captures.get(i)
        if not outs:
            lines.append(command)
        elif len(outs) == 1:
            lines.append(f"{outs[0][1]}=$({command} --query {shlex.quote(outs[0][0])} --output text)")
            lines.append(f'echo "{outs[0][1]}=${{{outs[0][1]}}}"')
        else:
            query = "[" + ",".join(o for o, _ in outs) + "]"
            lines.append(f"step{i + 1}_output=$({command} --query {shlex.quote(query)} --output text)")
            lines.append(f"read -r {' '.join(v for _, v in outs)} <<<\"$step{i + 1}_output\"")
    return "\n".join(lines) + "\n"
