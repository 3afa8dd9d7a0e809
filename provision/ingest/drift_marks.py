"""Drift in Elasticsearch: read the stored changes back into the offline path's counter, and
mark ``ctstack.drift`` on the documents after an import so Kibana can chart it.

Drift is a relation between events (a console change to a resource that automation also
changed), so no single document knows it when it is written: the mark is set afterwards.
"""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch

from provision.cloudtrail import drift
from provision.cloudtrail import fields as F
from provision.cloudtrail.nesting import flat_source, nested
from provision.core import settings
from provision.sources.filters import Filters

DRIFT_PAGE = 1000


def drift_from_es(es: Elasticsearch, index: str, query: dict, filters: Filters, top: int) -> drift.Drift:
    """Drift from the stored changes: every successful change that changes a resource, read
    back (only the fields drift reads) and fed to the offline path's own counter."""
    from elasticsearch.helpers import scan

    counter = drift.DriftCounter(filters.ignore_actions)
    changes = {"bool": {"filter": [*query["bool"]["filter"], {"term": {F.READ_ONLY: False}}, {"exists": {"field": F.RESOURCES_CHANGED}}]}}
    for hit in scan(es, index=index, query={"query": changes, "_source": drift.DRIFT_FIELDS}, size=DRIFT_PAGE,
                    ignore_unavailable=True, allow_no_indices=True):
        counter.add(flat_source(hit["_source"]), f"{hit['_index']}/{hit['_id']}")
    return counter.result(top)


def mark_drift(es: Elasticsearch, index_prefix: str = settings.INDEX_PREFIX) -> int:
    """Set ``ctstack.drift`` true on the console changes that are drift now (default rules, no
    filters) and false where an earlier run set it and it is no longer drift, so Kibana can
    chart what is a relation between events. Partial-document updates, no scripts. Returns the
    number of documents marked."""
    from elasticsearch.helpers import bulk, scan

    index = f"{index_prefix}-*"
    es.indices.refresh(index=index, ignore_unavailable=True, allow_no_indices=True)  # the import's last documents
    wanted = set(drift_from_es(es, index, {"bool": {"filter": []}}, Filters(), 0).refs)
    marked = len(wanted)
    updates: list[dict[str, Any]] = []
    for hit in scan(es, index=index, query={"query": {"term": {F.DRIFT: True}}, "_source": False}, size=DRIFT_PAGE,
                    ignore_unavailable=True, allow_no_indices=True):
        ref = f"{hit['_index']}/{hit['_id']}"
        if ref in wanted:
            wanted.discard(ref)  # marked already
        else:
            updates.append(_drift_update(ref, False))
    updates.extend(_drift_update(ref, True) for ref in sorted(wanted))
    if updates:
        bulk(es, updates, refresh=True, raise_on_error=True)
    return marked


def _drift_update(ref: str, value: bool) -> dict[str, Any]:
    index, _, doc_id = ref.partition("/")
    return {"_op_type": "update", "_index": index, "_id": doc_id, "doc": nested({F.DRIFT: value})}
