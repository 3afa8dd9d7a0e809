"""Automation hints from Elasticsearch: the same :class:`~provision.analysis.hints.Hints` as the offline
path, computed with aggregations over the imported indices (``<prefix>-*``).

Documents are already distinct (``_id`` is the event's identity), so every count is a plain
document count. Only standard aggregations are used (composite, terms, cardinality, min, max,
date_histogram, filter), no scripts. Distinct users come from the `cardinality` aggregation,
which is exact up to its precision threshold (40,000 users per action) and approximate above.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable, Iterator

from elasticsearch import Elasticsearch

from provision.analysis import automation
from provision.cloudtrail import classify
from provision.cloudtrail import fields as F
from provision.core import settings
from provision.cloudtrail.awscli import cli_command
from provision.cloudtrail.template import check_index_prefix
from provision.core.connection import EsConfig, connected
from provision.core.urls import display_url
from provision.cloudtrail.nesting import flat_source
from provision.ingest.drift_marks import drift_from_es
from provision.core.errors import CtstackError
from provision.analysis.hints import DEFAULT_TOP, TOP_USERS, ActionCount, Candidate, DayActivity, Filters, Hints, iso, rank, set_drift

PAGE_SIZE = 500
USERS_PRECISION = 40000  # the cardinality aggregation's maximum: exact counts below it


def hints_from_es(
    es: Elasticsearch,
    filters: Filters = Filters(),
    top: int = DEFAULT_TOP,
    index_prefix: str = settings.INDEX_PREFIX,
    source: str = "",
) -> Hints:
    index = f"{index_prefix}-*"
    query = _query(filters)
    console = {"term": {F.CONSOLE: True}}
    candidate = candidate_query(filters.ignore_actions)
    summary = es.search(
        index=index,
        size=0,
        track_total_hits=True,
        query=query,
        aggs={
            "console": {
                "filter": console,
                "aggs": {
                    "days": {
                        "date_histogram": {"field": F.TIMESTAMP, "calendar_interval": "day", "min_doc_count": 1},
                        "aggs": {"read_only": {"filter": {"term": {F.READ_ONLY: True}}}, "candidates": {"filter": candidate}},
                    }
                },
            },
            "candidates": {"filter": candidate},
            "failed_changes": {"filter": failed_change_query(filters.ignore_actions)},
        },
        ignore_unavailable=True,
        allow_no_indices=True,
    )
    if not summary.get("_shards", {}).get("total"):
        raise CtstackError(
            f"No index matches {index} in Elasticsearch: nothing was imported with --index-prefix {index_prefix} "
            "(`ctstack import ./logs/` imports; check the prefix)."
        )
    aggs = summary.get("aggregations") or {}
    total = summary["hits"]["total"]["value"]
    console_actions = [
        ActionCount(key["provider"], key["action"], count)
        for key, count, _ in _composite(es, index, _and(query, console), {})
    ]
    days_active: dict[tuple[str, str], int] = {}
    for key, _count, _ in _composite(es, index, _and(query, candidate), {}, day=True):
        pair = (key["provider"], key["action"])
        days_active[pair] = days_active.get(pair, 0) + 1
    candidate_aggs = {
        "users": {"cardinality": {"field": F.USER_NAME, "precision_threshold": USERS_PRECISION}},
        "first": {"min": {"field": F.TIMESTAMP}},
        "last": {"max": {"field": F.TIMESTAMP}},
        "top_users": {"terms": {"field": F.USER_NAME, "size": TOP_USERS, "order": [{"_count": "desc"}, {"_key": "asc"}]}},
    }
    candidates = [
        Candidate(
            provider=key["provider"],
            action=key["action"],
            count=count,
            users=int(sub["users"]["value"]),
            days_active=days_active.get((key["provider"], key["action"]), 0),
            first_seen=_iso_millis(sub["first"]["value"]),
            last_seen=_iso_millis(sub["last"]["value"]),
            top_users=[{"user": b["key"], "count": b["doc_count"]} for b in sub["top_users"]["buckets"]],
            cli=cli_command(key["provider"], key["action"]),
        )
        for key, count, sub in _composite(es, index, _and(query, candidate), candidate_aggs)
    ]
    day_buckets = (aggs.get("console") or {}).get("days", {}).get("buckets", [])
    hints = Hints(
        source=source,
        events_read=total,
        distinct_events=total,
        console_events=(aggs.get("console") or {}).get("doc_count", 0),
        automation_candidates=(aggs.get("candidates") or {}).get("doc_count", 0),
        candidate_actions=len(candidates),
        candidates=rank(candidates, top),
        console_actions=rank(console_actions, 0),
        activity=[
            DayActivity(
                day=_iso_millis(b["key"])[:10],
                read_only=b["read_only"]["doc_count"],
                changing=b["candidates"]["doc_count"],
                not_candidates=b["doc_count"] - b["read_only"]["doc_count"] - b["candidates"]["doc_count"],
            )
            for b in day_buckets
        ],
        filters=filters.describe(),
        failed_changes=(aggs.get("failed_changes") or {}).get("doc_count", 0),
    )
    automation.complete(hints, _samples(es, index, _and(query, candidate)))
    set_drift(hints, drift_from_es(es, index, query, filters, top))
    return hints


SAMPLE_PAGE = 20  # (action, user) buckets per page: at most SAMPLE_PAGE x SAMPLE_PER_USER hits a response


def _samples(es: Elasticsearch, index: str, query: dict) -> list[automation.SampledEvent]:
    """The automation sample: the SAMPLE_PER_USER most recent candidate events per action and
    per user (top_hits in a composite aggregation; only the fields the sample reads)."""
    sources = [
        {"provider": {"terms": {"field": F.EVENT_PROVIDER, "missing_bucket": True}}},
        {"action": {"terms": {"field": F.EVENT_ACTION, "missing_bucket": True}}},
        {"user": {"terms": {"field": F.USER_NAME, "missing_bucket": True}}},
    ]
    hits_agg = {"top_hits": {
        "size": automation.SAMPLE_PER_USER,
        # Newest first. No tie-breaker: event.id has no doc_values (see provision.cloudtrail.template), so
        # of events in the same second at the 100th place, which are sampled is Elasticsearch's pick.
        "sort": [{F.TIMESTAMP: {"order": "desc"}}],
        "_source": {"includes": automation.SAMPLE_FIELDS},
    }}
    events: list[automation.SampledEvent] = []
    after: dict | None = None
    while True:
        composite: dict[str, Any] = {"size": SAMPLE_PAGE, "sources": sources}
        if after:
            composite["after"] = after
        response = es.search(index=index, size=0, query=query, aggs={"pairs": {"composite": composite, "aggs": {"latest": hits_agg}}},
                             ignore_unavailable=True, allow_no_indices=True)
        pairs = (response.get("aggregations") or {}).get("pairs")
        if not pairs or not pairs["buckets"]:
            break
        for bucket in pairs["buckets"]:
            events.extend(automation.sampled_event(flat_source(hit["_source"])) for hit in bucket["latest"]["hits"]["hits"])
        after = pairs.get("after_key")
        if not after:
            break
    return sorted(events, key=lambda e: e.order)


def _composite(es: Elasticsearch, index: str, query: dict, sub_aggs: dict, day: bool = False) -> Iterator[tuple[dict, int, dict]]:
    """Every (provider, action[, day]) bucket, page by page: (key, doc_count, sub-aggregations)."""
    sources: list[dict] = [
        {"provider": {"terms": {"field": F.EVENT_PROVIDER, "missing_bucket": True}}},
        {"action": {"terms": {"field": F.EVENT_ACTION, "missing_bucket": True}}},
    ]
    if day:
        sources.append({"day": {"date_histogram": {"field": F.TIMESTAMP, "calendar_interval": "day"}}})
    after: dict | None = None
    while True:
        composite: dict[str, Any] = {"size": PAGE_SIZE, "sources": sources}
        if after:
            composite["after"] = after
        agg: dict[str, Any] = {"composite": composite}
        if sub_aggs:
            agg["aggs"] = sub_aggs
        response = es.search(index=index, size=0, query=query, aggs={"pairs": agg}, ignore_unavailable=True, allow_no_indices=True)
        pairs = (response.get("aggregations") or {}).get("pairs")
        if not pairs or not pairs["buckets"]:
            return
        for bucket in pairs["buckets"]:
            key = dict(bucket["key"])
            key["provider"] = key["provider"] or ""
            key["action"] = key["action"] or ""
            yield key, bucket["doc_count"], bucket
        after = pairs.get("after_key")
        if not after:
            return


def _query(filters: Filters) -> dict:
    clauses: list[dict] = []
    for field_name, values in ((F.CLOUD_ACCOUNT_ID, filters.accounts), (F.CLOUD_REGION, filters.regions), (F.USER_NAME, filters.users)):
        if values:
            clauses.append({"terms": {field_name: list(values)}})
    if filters.since or filters.until:
        bounds: dict[str, Any] = {"format": "strict_date_optional_time"}
        if filters.since:
            bounds["gte"] = filters.since.astimezone(timezone.utc).isoformat(timespec="milliseconds")
        if filters.until:
            bounds["lte"] = filters.until.astimezone(timezone.utc).isoformat(timespec="milliseconds")
        clauses.append({"range": {F.TIMESTAMP: bounds}})
    return {"bool": {"filter": clauses}}


def candidate_query(ignore_actions: Iterable[tuple[str, str]] = ()) -> dict:
    """Documents flagged ``ctstack.automation_candidate`` whose action is not ignored. The
    default plumbing list is excluded here too, so documents flagged before it existed agree."""
    return {"bool": {"filter": [{"term": {F.AUTOMATION_CANDIDATE: True}}], "must_not": _ignored_clauses(ignore_actions)}}


def failed_change_query(ignore_actions: Iterable[tuple[str, str]] = ()) -> dict:
    """:func:`provision.cloudtrail.classify.is_failed_change` as a query: console changes with an error
    code that are not console actions or ignored actions."""
    return {"bool": {
        "filter": [{"term": {F.CONSOLE: True}}, {"term": {F.READ_ONLY: False}}, {"exists": {"field": F.CT_ERROR_CODE}}],
        "must_not": [*_ignored_clauses(ignore_actions), {"terms": {F.CT_EVENT_TYPE: [classify.CONSOLE_SIGN_IN, classify.CONSOLE_ACTION]}}],
    }}


def _ignored_clauses(ignore_actions: Iterable[tuple[str, str]]) -> list[dict]:
    by_source: dict[str, list[str] | None] = {}  # source -> names, None for every action
    for source, name in (*classify.PLUMBING_ACTIONS, *ignore_actions):
        if name == classify.ANY_ACTION:
            by_source[source] = None
        elif by_source.setdefault(source, []) is not None:
            by_source[source].append(name)  # type: ignore[union-attr]
    ignored = [
        {"term": {F.EVENT_PROVIDER: source}} if names is None
        else {"bool": {"filter": [{"term": {F.EVENT_PROVIDER: source}}, {"terms": {F.EVENT_ACTION: names}}]}}
        for source, names in by_source.items()
    ]
    return ignored


def _and(query: dict, clause: dict) -> dict:
    return {"bool": {"filter": [*query["bool"]["filter"], clause]}}


def _iso_millis(millis: float) -> str:
    return iso(datetime.fromtimestamp(millis / 1000, tz=timezone.utc))


def hints_from_cluster(cfg: EsConfig, filters: Filters = Filters(), top: int = DEFAULT_TOP, index_prefix: str = settings.INDEX_PREFIX) -> Hints:
    """Connect (one clear error when Elasticsearch is unreachable or refuses us) and aggregate."""
    check_index_prefix(index_prefix)
    with connected(cfg) as es:
        return hints_from_es(es, filters, top, index_prefix, source=f"{display_url(cfg.url)} {index_prefix}-*")
