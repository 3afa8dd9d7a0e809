"""Re-flag imported documents after the classification rules changed.

Each document's ``ctstack.console``, ``ctstack.read_only`` and ``ctstack.automation_candidate``
are worked out again by :mod:`provision.cloudtrail.classify` from the fields the document holds, and the
documents whose flags differ are written back with partial-document bulk updates. No script
runs in Elasticsearch: ``_update_by_query`` can only change a field through a script (painless)
or an ingest pipeline (ingest-common), and neither is on every node ctstack supports.

Documents are read page by page through a point in time (sorted by ``_shard_doc``), so memory
holds one page; every document read is accounted for: unchanged, changed, not re-flaggable
(``--fields minimal`` documents keep no user agent or identity: re-import those) or failed.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Iterator

import orjson
from elasticsearch import ApiError, Elasticsearch, TransportError

from provision.cloudtrail import classify
from provision.core import interrupt, settings
from provision.ingest.bulkanswer import bulk_results, refused_answer
from provision.cloudtrail import fields as F
from provision.core.connection import EsConfig, connected
from provision.cloudtrail.nesting import flat_source, nested
from provision.cloudtrail.template import check_index_prefix

PAGE_SIZE = 1000
KEEP_ALIVE = "5m"

# What the rules read, as the document holds it (provision.cloudtrail.documents writes these).
_READ = (F.EVENT_OUTCOME, F.CT_EVENT_TYPE, F.CT_SESSION_CREDENTIAL_FROM_CONSOLE, F.USER_AGENT, F.CT_READ_ONLY,
         F.EVENT_ACTION, F.EVENT_PROVIDER, F.CT_UI_TYPE, F.CT_UI_PRINCIPAL_ID, F.CT_UI_INVOKED_BY,
         F.CLOUD_ACCOUNT_ID, F.CT_RECIPIENT_ACCOUNT_ID, F.CONSOLE, F.READ_ONLY, F.AUTOMATION_CANDIDATE)


@dataclass
class ReflagSummary:
    index: str
    documents_read: int = 0
    unchanged: int = 0
    changed: int = 0
    not_reflaggable: int = 0          # minimal-profile documents: re-import them to re-flag
    failed: int = 0
    failure_reasons: dict[str, int] = field(default_factory=dict)
    aborted: str | None = None        # why it stopped before the last page (a signal)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.aborted is None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def event_from_document(doc: dict) -> dict | None:
    """The CloudTrail fields the classification rules read, back from a document; None for a
    minimal-profile document (it keeps no user agent, identity or event type). Every value
    the rules can tell apart survives the document (keyword text of non-strings never reads
    as a console agent or a plumbing name), so these flags equal the importer's."""
    if F.EVENT_OUTCOME not in doc:  # standard and full always write it
        return None
    return {
        "eventType": doc.get(F.CT_EVENT_TYPE),
        "sessionCredentialFromConsole": doc.get(F.CT_SESSION_CREDENTIAL_FROM_CONSOLE),
        "userAgent": doc.get(F.USER_AGENT),
        "readOnly": doc.get(F.CT_READ_ONLY),
        "eventName": doc.get(F.EVENT_ACTION),
        "eventSource": doc.get(F.EVENT_PROVIDER),
        "errorCode": doc.get(F.CT_ERROR_CODE),
        "userIdentity": {
            "type": doc.get(F.CT_UI_TYPE),
            "principalId": doc.get(F.CT_UI_PRINCIPAL_ID),
            "invokedBy": doc.get(F.CT_UI_INVOKED_BY),
            # cloud.account.id is the identity's account only when the event had no recipient.
            "accountId": None if F.CT_RECIPIENT_ACCOUNT_ID in doc else doc.get(F.CLOUD_ACCOUNT_ID),
        },
    }


def flags_of(event: dict) -> dict[str, bool]:
    console = classify.is_console(event)
    read_only = classify.is_read_only(event)
    return {F.CONSOLE: console, F.READ_ONLY: read_only,
            F.AUTOMATION_CANDIDATE: classify.is_automation_candidate(event, console, read_only)}


def reflag(es: Elasticsearch, index_prefix: str = settings.INDEX_PREFIX, page_size: int = PAGE_SIZE) -> ReflagSummary:
    """Re-flag every document of ``<index_prefix>-*`` whose flags the current rules change."""
    started = time.monotonic()
    summary = ReflagSummary(index=f"{index_prefix}-*")
    pages = interrupt.UntilRequested(_pages(es, summary.index, page_size))
    # A signal stops between pages: each page's updates are sent and counted first.
    with interrupt.graceful("stopping after this page"):
        _reflag_pages(es, pages, summary)
    if pages.cut:
        summary.aborted = f"interrupted by {interrupt.signal_words(interrupt.received())}"
    summary.seconds = round(time.monotonic() - started, 3)
    return summary


def _reflag_pages(es: Elasticsearch, pages: Iterable[list[dict]], summary: ReflagSummary) -> None:
    for page in pages:
        body = bytearray()
        for hit in page:
            summary.documents_read += 1
            source = hit.get("_source") or {}
            doc = flat_source(source)
            event = event_from_document(doc)
            if event is None:
                summary.not_reflaggable += 1
                continue
            flags = flags_of(event)
            if all(doc.get(name) is value for name, value in flags.items()):
                summary.unchanged += 1
                continue
            body += orjson.dumps({"update": {"_index": hit["_index"], "_id": hit["_id"]}}) + b"\n"
            # In the document's own shape: a partial update merges objects into objects and
            # dotted keys into dotted keys, so the other shape would add a second value.
            body += orjson.dumps({"doc": flags if _flat(source) else nested(flags)}) + b"\n"
        if body:
            _send(es, bytes(body), summary)


def _flat(source: dict) -> bool:
    """Whether a _source has dotted keys (as documents were sent before they were sent as
    nested objects) rather than a ``ctstack`` object for the flags."""
    if any(name in source for name in (F.CONSOLE, F.READ_ONLY, F.AUTOMATION_CANDIDATE)):
        return True
    return "ctstack" not in source and any("." in name for name in source)


def _pages(es: Elasticsearch, index: str, page_size: int) -> Iterator[list[dict]]:
    if not es.indices.exists(index=index, allow_no_indices=False):
        return
    pit = es.open_point_in_time(index=index, keep_alive=KEEP_ALIVE)["id"]
    try:
        after: list | None = None
        while True:
            response = es.search(pit={"id": pit, "keep_alive": KEEP_ALIVE}, size=page_size, sort=["_shard_doc"],
                                 search_after=after, source_includes=list(_READ), track_total_hits=False)
            pit = response.get("pit_id", pit)
            hits = response["hits"]["hits"]
            if not hits:
                return
            yield hits
            after = hits[-1]["sort"]
    finally:
        try:
            es.options(ignore_status=404).close_point_in_time(id=pit)
        except (TransportError, ApiError):
            pass  # it expires by itself after KEEP_ALIVE; the run's own error is the one to tell


def _send(es: Elasticsearch, body: bytes, summary: ReflagSummary) -> None:
    try:
        # An answer that does not say what happened to each update raises BulkAnswerUnknown
        # (a TransportError: one sentence, and a re-run redoes what is left: updates are idempotent).
        # bytes go as they are; the client's stubs name only mappings
        results = bulk_results(es.bulk(operations=body, filter_path="items.*.status,items.*.error").body,  # type: ignore[arg-type]
                               body.count(b"\n") // 2)
    except ApiError as err:
        refused_answer(err)  # a gateway's or portal's answer is no answer from Elasticsearch
        raise
    for status, error in results:
        if status < 300:
            summary.changed += 1
        else:
            reason = f"{error.get('type')}: {error.get('reason')}" if isinstance(error, dict) else str(error)
            summary.failed += 1
            summary.failure_reasons[reason] = summary.failure_reasons.get(reason, 0) + 1


def reflag_cluster(cfg: EsConfig, index_prefix: str = settings.INDEX_PREFIX) -> ReflagSummary:
    """Connect (one clear error when Elasticsearch is unreachable or refuses us) and re-flag."""
    check_index_prefix(index_prefix)
    with connected(cfg) as es:
        return reflag(es, index_prefix)
