"""From a candidate's events to its `automation`: the command that does the same thing.

Both hints paths (files and Elasticsearch) collect the same bounded sample of candidate events,
:data:`SAMPLE_PER_USER` most recent per action and per user (newest first by time, then event
id), as :class:`SampledEvent`; :func:`complete` then fills in every candidate's `automation`
and the hints' `workflows` (:mod:`provision.analysis.workflows`) from that sample alone, so the answer is
the same whichever way the sample was read, and the cost does not grow with the trail. The
console time each action and workflow costs by hand (:func:`console_minutes`) comes from the
same sample, so it agrees too.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any, Iterable

from provision.analysis import automation_policy
from provision.analysis.console_time import per_month, step_seconds
from provision.cloudtrail import boto3call, clickcode, commandline, inputpaths
from provision.cloudtrail import fields as F

SAMPLE_PER_USER = 100  # Elasticsearch's default index.max_inner_result_window: top_hits can give no more
NO_API = "no public API has this action (console only)"


@dataclass(frozen=True)
class SampledEvent:
    """What automation and workflows need of one candidate event (from its document)."""

    provider: str
    action: str
    timestamp: str           # the document's @timestamp (ISO-8601, Z)
    event_id: str            # event.id ("" when the event had none)
    user: str                # user.name ("" when none)
    principal: str           # the user identity's ARN
    session: str             # the console session's creation date (sessionContext)
    request: Any             # aws.cloudtrail.request_parameters
    response: Any            # aws.cloudtrail.response_elements (kept for console changes in the standard profile)
    region: str = ""         # cloud.region
    account: str = ""        # cloud.account.id

    @property
    def order(self) -> tuple[str, str]:
        return (self.timestamp, self.event_id)


def sampled_event(doc: dict) -> SampledEvent:
    """The sample record of a document (offline: built by the importer's code; ES: its _source)."""
    return SampledEvent(
        provider=doc.get(F.EVENT_PROVIDER) or "",
        action=doc.get(F.EVENT_ACTION) or "",
        timestamp=doc[F.TIMESTAMP],
        event_id=doc.get(F.EVENT_ID) or "",
        user=doc.get(F.USER_NAME) or "",
        principal=doc.get(F.CT_UI_ARN) or doc.get(F.USER_ID) or "",
        session=doc.get(F.CT_UI_CREATION_DATE) or "",
        request=doc.get(F.CT_REQUEST_PARAMETERS),
        response=doc.get(F.CT_RESPONSE_ELEMENTS),
        region=doc.get(F.CLOUD_REGION) or "",
        account=doc.get(F.CLOUD_ACCOUNT_ID) or "",
    )


# The document fields a sample reads (the _source filter of the Elasticsearch query).
SAMPLE_FIELDS = [F.EVENT_PROVIDER, F.EVENT_ACTION, F.TIMESTAMP, F.EVENT_ID, F.USER_NAME, F.CT_UI_ARN, F.USER_ID,
                 F.CT_UI_CREATION_DATE, F.CT_REQUEST_PARAMETERS, F.CT_RESPONSE_ELEMENTS, F.CLOUD_REGION, F.CLOUD_ACCOUNT_ID]


class Sampler:
    """Keeps the :data:`SAMPLE_PER_USER` most recent events per (provider, action, user)."""

    def __init__(self, per_user: int = SAMPLE_PER_USER) -> None:
        self.per_user = per_user
        self._heaps: dict[tuple[str, str, str], list] = {}

    def add(self, key: tuple[str, str, str], order: tuple[str, str], make: Any) -> None:
        """Offer an event; ``make()`` builds its :class:`SampledEvent` only if it is kept."""
        heap = self._heaps.get(key)
        if heap is None:
            heap = self._heaps[key] = []
        if len(heap) < self.per_user:
            heapq.heappush(heap, (order, make()))
        elif order > heap[0][0]:
            heapq.heapreplace(heap, (order, make()))

    def events(self) -> list[SampledEvent]:
        return sorted((event for heap in self._heaps.values() for _, event in heap), key=lambda e: e.order)


@dataclass
class _Mapped:
    event: SampledEvent
    api: clickcode.ApiInput


def map_events(events: Iterable[SampledEvent]) -> list[_Mapped]:
    return [_Mapped(e, clickcode.api_input(e.provider, e.action, e.request)) for e in events]


def automation(mapped: list[_Mapped]) -> tuple[dict[str, Any] | None, str | None]:
    """(automation, None), or (None, why not) for one candidate's sampled events, oldest first."""
    if not mapped:
        return None, "no events sampled"
    latest, region = mapped[-1].api, mapped[-1].event.region
    if latest.service is None or latest.operation is None:
        return None, NO_API
    varying, constant = inputpaths.varying_paths([m.api.parameters for m in mapped])
    policy, policy_notes = automation_policy.policy([(latest.service, latest.operation, latest.parameters, set())])
    return {
        "service": latest.service,
        "operation": latest.operation,
        "parameters": latest.parameters,
        "varying": varying,
        "constant": constant,
        "region": region,
        "cli": commandline.cli_line(latest.service, latest.operation, latest.parameters, region or None, latest.placeholders),
        "boto3": boto3call.boto3_call(latest.service, latest.operation, latest.parameters, region or None, latest.placeholders),
        "valid": latest.valid,
        "message": latest.message,
        "unmapped": latest.unmapped,
        "placeholders": latest.placeholders,
        "events_sampled": len(mapped),
        "policy": policy,
        "policy_notes": policy_notes,
    }, None


def complete(hints: Any, events: list[SampledEvent]) -> None:
    """Fill in each candidate's automation, console time and the hints' workflows from the sample."""
    from provision.analysis import workflows  # workflows builds on this module's mapping

    mapped = map_events(events)
    minutes = console_minutes(mapped, workflows.sessions(mapped))
    by_action: dict[tuple[str, str], list[_Mapped]] = {}
    for m in mapped:
        by_action.setdefault((m.event.provider, m.event.action), []).append(m)
    for candidate in hints.candidates:
        candidate.automation, candidate.automation_note = automation(by_action.get((candidate.provider, candidate.action), []))
        per_event = minutes.get((candidate.provider, candidate.action))
        if per_event is not None:
            candidate.console_minutes_per_month = per_month(per_event * candidate.count, candidate.first_seen, candidate.last_seen)
    hints.workflows = workflows.find_workflows(mapped)
    hints.sample_per_user = SAMPLE_PER_USER


def console_minutes(mapped: list[_Mapped], sessions: list[list[_Mapped]]) -> dict[tuple[str, str], float]:
    """The mean console minutes of one event of each (provider, action) in the sample."""
    total: dict[tuple[str, str], list[float]] = {}
    for session in sessions:
        for i, m in enumerate(session):
            seconds = step_seconds(session[i - 1].event if i else None, m.event)
            entry = total.setdefault((m.event.provider, m.event.action), [0.0, 0])
            entry[0] += seconds
            entry[1] += 1
    return {key: seconds / 60 / n for key, (seconds, n) in total.items()}
