"""Drift: console changes to resources that automation manages.

Fed the importer's documents one at a time (offline from the files, or read back from
Elasticsearch: :func:`provision.ingest.drift_marks.drift_from_es`), so both give the same answer. Only
successful changes with resources count (``ctstack.resources_changed``, see
:mod:`provision.cloudtrail.resources`); who made each is ``ctstack.actor`` (:func:`provision.cloudtrail.classify.actor`).

A resource is **managed** at the moment of a console change by the actor that last created
it before then; if nothing in the trail created it (it is older than the trail), by the
infrastructure-as-code tool (:data:`provision.cloudtrail.classify.IAC_ACTORS`) that last changed it before
then, else by the first one that changes it after (a change by some SDK script does not make
a resource managed: only creating it does). Managed means one of
:data:`provision.cloudtrail.classify.MANAGING_ACTORS`. A console change to a
managed resource (a deletion included) is **drift**; a console change to what the console
created is not (it is an automation candidate); console reads never are; ignored actions
(plumbing, --ignore-action) are not drift, and neither are runtime calls
(:data:`RUNTIME_ACTIONS`: starting, stopping, rebooting, invoking), which also do not make a
resource managed.

Memory grows with the number of successful change events that change a resource (one small
tuple each), not with reads or files.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Iterable, NamedTuple

from provision.cloudtrail import classify
from provision.cloudtrail import fields as F

DRIFT_FIELDS = [F.TIMESTAMP, F.EVENT_ACTION, F.EVENT_PROVIDER, F.EVENT_OUTCOME, F.READ_ONLY, F.USER_NAME,
                F.RESOURCES_CHANGED, F.RESOURCES_CREATED, F.ACTOR, F.ACTOR_STACK]
TOP_USERS = 3
# Runtime state, not configuration: infrastructure code does not own whether an instance runs,
# so these calls are neither drift nor a sign of who manages a resource.
RUNTIME_ACTIONS = re.compile(r"^(?:Start|Stop|Reboot|Restart|Invoke|Send|Execute|Monitor|Unmonitor|Poll|Signal)[A-Z]")
MAX_ACTIONS = 20  # console actions listed per resource (the latest); the count has them all


class Change(NamedTuple):
    timestamp: str
    actor: str
    stack: str
    user: str
    provider: str
    action: str
    created: bool
    ignored: bool
    ref: str = ""   # where the document is (Elasticsearch: index and _id), for marking drift


def _list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return [value] if isinstance(value, str) else []


class DriftCounter:
    """Collects changes per resource; :meth:`result` gives the drifted resources."""

    def __init__(self, ignore_actions: Iterable[tuple[str, str]] = ()) -> None:
        self._ignored = frozenset(ignore_actions)
        self._changes: dict[str, list[Change]] = {}

    def add(self, doc: dict, ref: str = "") -> None:
        """One (distinct) document; reads, failed calls and changes without resources are left out."""
        if doc.get(F.READ_ONLY) is not False or doc.get(F.EVENT_OUTCOME) == "failure":
            return
        changed = _list(doc.get(F.RESOURCES_CHANGED))
        if not changed:
            return
        created = set(_list(doc.get(F.RESOURCES_CREATED)))
        provider, action = doc.get(F.EVENT_PROVIDER) or "", doc.get(F.EVENT_ACTION) or ""
        if RUNTIME_ACTIONS.match(action):
            return
        ignored = classify.is_ignored_action(provider, action) or (bool(self._ignored) and classify.is_ignored_action(provider, action, self._ignored))
        for resource in changed:
            self._changes.setdefault(resource, []).append(Change(
                doc[F.TIMESTAMP], doc.get(F.ACTOR) or classify.ACTOR_UNKNOWN, doc.get(F.ACTOR_STACK) or "",
                doc.get(F.USER_NAME) or "", provider, action, resource in created, ignored, ref))

    def result(self, top: int = 0) -> "Drift":
        """The drifted resources, most console changes first (ties: latest first, then by name)."""
        found = [d for resource, changes in self._changes.items() if (d := drift_of(resource, changes)) is not None]
        found.sort(key=lambda d: (-d["console_changes"], _negated(d["last_console_change"]), d["resource"]))
        days = Counter(a["at"][:10] for d in found for a in d["console_actions"])
        refs = sorted({ref for d in found for ref in d.pop("refs") if ref})
        for d in found:
            d["console_actions"] = d["console_actions"][-MAX_ACTIONS:]
        return Drift(resources=len(found), changes=sum(d["console_changes"] for d in found),
                     items=found[:top] if top > 0 else found,
                     days=[{"day": day, "changes": n} for day, n in sorted(days.items())], refs=refs)


class Drift(NamedTuple):
    resources: int                 # drifted resources
    changes: int                   # console changes to managed resources
    items: list[dict[str, Any]]    # the top ones
    days: list[dict[str, Any]]     # [{day, changes}] oldest first
    refs: list[str] = []           # where the drifting console changes are stored (from Elasticsearch)


def _negated(text: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in text)


def _summary(change: Change | None) -> dict[str, Any] | None:
    if change is None:
        return None
    return {"at": change.timestamp, "by": change.user, "tool": change.actor, "stack": change.stack or None, "action": change.action}


def drift_of(resource: str, changes: list[Change]) -> dict[str, Any] | None:
    """One resource's drift (module docstring), or None when no console change hit it while managed."""
    changes = sorted(changes)
    automated = [c for c in changes if c.actor in classify.MANAGING_ACTORS]
    infrastructure = [c for c in automated if c.actor in classify.IAC_ACTORS]
    drifted: list[tuple[Change, Change, Change | None]] = []  # (console change, manager, creation)
    creation: Change | None = None
    for i, change in enumerate(changes):
        if change.created:
            creation = change
        if change.actor != classify.ACTOR_CONSOLE or change.ignored:
            continue
        if creation is not None:
            manager: Change | None = creation
        else:
            before = [c for c in infrastructure[::-1] if c.timestamp <= change.timestamp]
            after = [c for c in infrastructure if c.timestamp > change.timestamp]
            manager = before[0] if before else after[0] if after else None
        if manager is not None and manager.actor in classify.MANAGING_ACTORS:
            drifted.append((change, manager, creation))
    if not drifted:
        return None
    console = [c for c, _, _ in drifted]
    manager = drifted[-1][1]
    creation = drifted[-1][2]
    stack = manager.stack or next((c.stack for c in automated if c.actor == manager.actor and c.stack), "")
    first, last = console[0], console[-1]
    before = [c for c in automated if c.timestamp < first.timestamp]
    after = [c for c in automated if c.timestamp > last.timestamp]
    users = Counter(c.user for c in console if c.user)
    return {
        "resource": resource,
        "managed_by": {"tool": manager.actor, "stack": stack or None},
        "created": _summary(creation),
        "console_changes": len(console),
        "first_console_change": first.timestamp,
        "last_console_change": last.timestamp,
        "console_users": [{"user": u, "count": n} for u, n in sorted(users.items(), key=lambda i: (-i[1], i[0]))[:TOP_USERS]],
        "console_actions": [{"at": c.timestamp, "by": c.user, "action": c.action, "provider": c.provider} for c in console],
        "automation_before": _summary(before[-1] if before else None),
        "automation_after": _summary(after[0] if after else None),
        "overwritten": bool(after),
        "refs": [c.ref for c in console],
    }
