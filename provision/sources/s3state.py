"""Which S3 objects were already imported: the state of incremental S3 imports.

Kept in Elasticsearch itself (index :data:`provision.core.settings.STATE_INDEX`), one document
per (index prefix, bucket, key) holding the ETag that was imported, so a second run of the
same command downloads only new or changed objects. Losing this index costs a re-download,
never duplicates: events are created with their eventID as ``_id``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any, Iterable, Protocol

from elasticsearch import ApiError, Elasticsearch, TransportError
from elasticsearch.helpers import BulkIndexError, bulk

from provision.core import settings
from provision.core.errors import CtstackError

BATCH_SIZE = 500   # objects per mget lookup and per bulk write

# Field names of state documents (this index only; event fields live in provision.cloudtrail.fields).
BUCKET = "bucket"
KEY = "key"
ETAG = "etag"
SIZE = "size"
EVENTS = "events"
INDEX_PREFIX = "index_prefix"
SKIPPED_REASON = "skipped_reason"
IMPORTED_AT = "imported_at"

MAPPINGS = {
    "dynamic": "strict",
    "properties": {
        BUCKET: {"type": "keyword"},
        KEY: {"type": "keyword"},
        ETAG: {"type": "keyword"},
        SIZE: {"type": "long"},
        EVENTS: {"type": "long"},
        INDEX_PREFIX: {"type": "keyword"},
        SKIPPED_REASON: {"type": "keyword", "ignore_above": 1024},
        IMPORTED_AT: {"type": "date"},
    },
}


def elasticsearch_down(err: Exception) -> bool:
    """Elasticsearch itself not answering or overloaded (no answer, 429, 5xx): then a state
    lookup's error is the import's own failure, raised as it is, so the import stops as it
    does for a failed bulk request (summary, every event accounted for; --full could not
    help). Anything else (the state index refused, e.g. a privilege) points at --full."""
    return not isinstance(err, ApiError) or err.status_code == 429 or err.status_code >= 500


class StoredObject(Protocol):
    bucket: str
    key: str
    etag: str


def state_id(index_prefix: str, bucket: str, key: str) -> str:
    """The state document's ``_id``. The index prefix is part of it: importing the same
    bucket into other indices (``--index-prefix``) is a different import."""
    return hashlib.sha256(f"{index_prefix}\n{bucket}\n{key}".encode()).hexdigest()


class ImportedObjects:
    """Look up and record imported objects for one index prefix, in batches."""

    def __init__(self, es: Elasticsearch, index_prefix: str = settings.INDEX_PREFIX, index: str = settings.STATE_INDEX) -> None:
        self.es = es
        self.index_prefix = index_prefix
        self.index = index
        self._pending: list[dict] = []
        self._ready = False
        self.unsaved = 0   # objects imported but not remembered (Elasticsearch refused the write)
        self.error: str | None = None

    def _ensure_index(self) -> None:
        if self._ready:
            return
        try:
            if not self.es.indices.exists(index=self.index):
                self.es.options(ignore_status=400).indices.create(
                    index=self.index, mappings=MAPPINGS, settings={"index": {"number_of_shards": 1, "auto_expand_replicas": "0-1"}},
                )
        except (ApiError, TransportError) as err:
            if elasticsearch_down(err):
                raise
            raise self._error("create", err) from err
        self._ready = True

    def imported(self, objects: Iterable[StoredObject]) -> set[tuple[str, str]]:
        """(bucket, key) of the given objects already imported with the same ETag."""
        by_id = {state_id(self.index_prefix, o.bucket, o.key): o for o in objects}
        if not by_id:
            return set()
        self._ensure_index()
        try:
            docs = self.es.mget(index=self.index, ids=list(by_id), source_includes=[ETAG])["docs"]
        except (ApiError, TransportError) as err:
            if elasticsearch_down(err):
                raise
            raise self._error("read", err) from err
        done = set()
        for doc in docs:
            if isinstance(doc.get("error"), dict):  # the index answered per document (e.g. closed): not a miss
                error = doc["error"]
                raise CtstackError(f"Cannot read the import state in Elasticsearch index {self.index} "
                                   f"({error.get('type')}: {error.get('reason')}); --full imports without it.")
            obj = by_id.get(doc.get("_id"))
            if obj is not None and doc.get("found") and doc["_source"].get(ETAG) == obj.etag:
                done.add((obj.bucket, obj.key))
        return done

    def remember(self, bucket: str, key: str, etag: str, size: int | None, events: int, skipped_reason: str | None = None) -> None:
        self._pending.append({
            "_index": self.index,
            "_id": state_id(self.index_prefix, bucket, key),
            "_source": {
                BUCKET: bucket, KEY: key, ETAG: etag, SIZE: size, EVENTS: events,
                INDEX_PREFIX: self.index_prefix, SKIPPED_REASON: skipped_reason,
                IMPORTED_AT: datetime.now(timezone.utc).isoformat(timespec="seconds"),
            },
        })
        if len(self._pending) >= BATCH_SIZE:
            self.flush()

    def flush(self) -> None:
        """Write what was remembered. A refused write does not stop the import (it only
        costs a re-download next time): it is counted in ``unsaved`` with ``error``."""
        if not self._pending:
            return
        actions, self._pending = self._pending, []
        try:
            self._ensure_index()
            # No refresh: lookups are mgets, which read the latest write of each document;
            # waiting for a refresh (1 s) per 500 files made the state half of an import's time.
            bulk(self.es, actions)
        except BulkIndexError as err:
            self.unsaved += len(err.errors)
            first: dict[str, Any] = next(iter(err.errors[0].values()), {})
            error = first.get("error") or {}
            self.error = f"Elasticsearch refused the import state in {self.index} ({error.get('type')}: {error.get('reason')})"
        except (ApiError, TransportError, CtstackError) as err:
            self.unsaved += len(actions)
            self.error = str(err)

    def _error(self, what: str, err: Exception) -> CtstackError:
        return CtstackError(f"Cannot {what} the import state in Elasticsearch index {self.index} ({type(err).__name__}: {err}); --full imports without it.")
