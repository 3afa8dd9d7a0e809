"""S3 objects -> :class:`~provision.cloudtrail.records.SourceFile`: import straight from a CloudTrail bucket.

boto3 all the way: the default credential chain (``--profile`` for named and SSO profiles,
environment, instance roles; never keys on the command line), the bucket's own region
(found with HeadBucket), botocore's standard or adaptive retries, paginators.

Memory is bounded: the listing is streamed page by page (up to 8 prefixes listed at the
same time, each at most 2 pages ahead), objects already imported are looked up in batches
(:mod:`provision.sources.s3state`), and downloads run in a bounded thread pool whose results are
handed to the import pipeline in listing order through a window of ``2 × workers`` objects.
``is_s3_url`` and ``parse_s3_url`` come from :mod:`provision.sources.s3layout` (no boto3 import).

Failures: anything that stops the whole run (no credentials, expired token, missing
bucket, no s3:ListBucket, wrong region that cannot be fixed) raises :class:`CtstackError`
with one sentence. An object that cannot be downloaded (s3:GetObject denied, KMS key
denied, archived in Glacier, deleted meanwhile) fails that one file: the importer counts
it with its reason, the run goes on and exits non-zero, and the object is not recorded as
imported, so the next run tries it again.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from typing import Any, Callable, Generator, Iterable, Iterator, TypeVar

import boto3
from elasticsearch import Elasticsearch

from provision.cloudtrail.records import EVENT_FILE_SUFFIXES, SourceFile
from provision.core import settings
from provision.core.errors import CtstackError
from provision.sources.s3access import (DEFAULT_WORKERS, ENDPOINT_ENV, LIST_AHEAD, WINDOW_PER_WORKER, ObjectUnreadable,
                                        S3Object, aws_session, retry_config, without_login)
from provision.sources.s3bucket import S3Bucket, read_ahead
from provision.sources.s3layout import S3Filters, log_prefixes, parse_s3_url
from provision.sources.s3options import S3Options
from provision.sources.s3state import BATCH_SIZE, ImportedObjects


_Import = TypeVar("_Import", bound="S3Import")


class _OneShot:
    """``read()`` of a downloaded object: hands the bytes over once and forgets them, so a
    file the pipeline still tracks does not pin its download; a second call fetches again."""

    def __init__(self, data: bytes, fetch: Callable[[], bytes]) -> None:
        self._data: bytes | None = data
        self._fetch = fetch
        self._lock = threading.Lock()

    def __call__(self) -> bytes:
        with self._lock:
            data, self._data = self._data, None
        return data if data is not None else self._fetch()


def _unreadable(reason: str) -> Callable[[], bytes]:
    def read() -> bytes:
        raise ObjectUnreadable(reason)
    return read


def _batched(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


class S3Import:
    """SourceFiles for ``s3://`` URLs, plus the incremental-import state around them.

    Use: ``files()`` feeds :func:`provision.ingest.importer.run_import`, ``on_file_done`` is its
    callback, then ``close()`` writes the remaining state; ``stats`` goes into the summary.
    Without ``es`` nothing is remembered (every listed object is downloaded).
    """

    def __init__(
        self,
        urls: Iterable[str],
        filters: S3Filters | None = None,
        *,
        es: Elasticsearch | None = None,
        index_prefix: str = settings.INDEX_PREFIX,
        state_index: str = settings.STATE_INDEX,
        full: bool = False,
        profile: str | None = None,
        endpoint_url: str | None = None,
        workers: int = DEFAULT_WORKERS,
        session: boto3.Session | None = None,
    ) -> None:
        if workers < 1:
            raise CtstackError(f"--workers must be at least 1 (got {workers}).")
        self.urls = [parse_s3_url(u) for u in urls]
        self.filters = filters or S3Filters()
        self.state = ImportedObjects(es, index_prefix, state_index) if es is not None else None
        self.full = full
        self.profile = profile
        self.endpoint_url = without_login(endpoint_url or os.environ.get(ENDPOINT_ENV) or None,
                                          "--endpoint-url" if endpoint_url else ENDPOINT_ENV)
        self.workers = workers
        self.list_ahead = LIST_AHEAD
        self._session = session
        self._buckets: dict[str, S3Bucket] = {}
        self._lock = threading.Lock()
        self.stats: dict[str, Any] = {
            "objects_listed": 0,
            "objects_downloaded": 0,
            "objects_skipped_already_imported": 0,
            "bytes_downloaded": 0,
            "s3_list_requests": 0,
        }

    # -- connecting ---------------------------------------------------------------------------
    @classmethod
    def with_options(cls: type[_Import], urls: Iterable[str], options: S3Options, *, es: Elasticsearch | None = None,
                     index_prefix: str = settings.INDEX_PREFIX) -> _Import:
        """An S3Import reading as ``options`` say; with ``es``, imported objects are remembered."""
        return cls(urls, options.filters, es=es, index_prefix=index_prefix, full=options.full, profile=options.profile,
                   endpoint_url=options.endpoint_url, workers=options.workers, session=options.session)

    def bucket(self, name: str) -> S3Bucket:
        if name not in self._buckets:
            if self._session is None:
                self._session = aws_session(self.profile)
            prefix = next((prefix for bucket, prefix in self.urls if bucket == name), "")
            self._buckets[name] = S3Bucket(self._session, name, endpoint_url=self.endpoint_url, config=retry_config(self.workers),
                                           prefix=prefix)
        return self._buckets[name]

    def check(self) -> None:
        """Fail now, with one sentence, if a bucket is missing, denied or unreachable."""
        for name, _ in self.urls:
            self.bucket(name)

    # -- listing ------------------------------------------------------------------------------
    def listed_objects(self) -> Iterator[S3Object]:
        """The wanted objects of every URL, streamed (the listing prunes by the filters)."""
        for name, prefix in self.urls:
            bucket = self.bucket(name)
            try:
                if prefix.lower().endswith(EVENT_FILE_SUFFIXES):  # a URL naming one object
                    objects: Iterable[S3Object] = [bucket.head(prefix)]
                else:
                    folder = prefix if not prefix or prefix.endswith("/") else prefix + "/"
                    leaves = log_prefixes(bucket.children, folder, self.filters)
                    objects = (o for page in read_ahead(leaves, bucket.object_pages, self.list_ahead) for o in page)
                for obj in objects:
                    if self.filters.wants_key(obj.key):
                        self.stats["objects_listed"] += 1
                        yield obj
            finally:
                self.stats["s3_list_requests"] = sum(b.list_requests for b in self._buckets.values())

    def pending_objects(self) -> Iterator[S3Object]:
        """Listed objects minus those already imported with the same ETag (unless full)."""
        for batch in _batched(self.listed_objects(), BATCH_SIZE):
            done = self.state.imported(batch) if self.state is not None and not self.full else set()
            for obj in batch:
                if (obj.bucket, obj.key) in done:
                    self.stats["objects_skipped_already_imported"] += 1
                else:
                    yield obj

    # -- downloading ----------------------------------------------------------------------------
    def _fetch(self, obj: S3Object) -> tuple[bytes, str]:
        data, etag = self.bucket(obj.bucket).download(obj)
        with self._lock:
            self.stats["objects_downloaded"] += 1
            self.stats["bytes_downloaded"] += len(data)
        return data, etag

    def _source_file(self, obj: S3Object, future: Future) -> SourceFile:
        meta = {"bucket": obj.bucket, "key": obj.key, "etag": obj.etag, "size": obj.size}
        try:
            data, etag = future.result()
        except ObjectUnreadable as err:
            return SourceFile(name=obj.url, read=_unreadable(str(err)), size=obj.size, meta=meta)
        meta["etag"] = etag  # what was actually downloaded (the object may have changed since listing)
        return SourceFile(name=obj.url, read=_OneShot(data, lambda: self._fetch(obj)[0]), size=obj.size, meta=meta)

    def files(self) -> Generator[SourceFile, None, None]:
        """SourceFiles in listing order, downloaded ahead by ``workers`` threads; at most
        ``WINDOW_PER_WORKER × workers`` objects are downloaded but not yet handed over."""
        self.check()
        window: deque[tuple[S3Object, Future]] = deque()
        limit = WINDOW_PER_WORKER * self.workers
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="ctstack-s3") as pool:
            try:
                for obj in self.pending_objects():
                    window.append((obj, pool.submit(self._fetch, obj)))
                    if len(window) >= limit:
                        yield self._source_file(*window.popleft())
                while window:
                    yield self._source_file(*window.popleft())
            finally:
                for _, future in window:
                    future.cancel()

    # -- state ----------------------------------------------------------------------------------
    def on_file_done(self, file: SourceFile, outcome: Any) -> None:
        """The importer's callback: remember an object once all its events are in.

        Objects whose events all went in, or that were skipped for their content (digest,
        empty, corrupt: the same ETag is the same content, so retrying cannot help) are
        remembered; objects with failed events or that could not be downloaded are not, nor
        objects with events outside the filters (a later run with other filters wants them).
        """
        meta = file.meta or {}
        if self.state is None or "bucket" not in meta or "etag" not in meta:
            return  # not one of ours (a local file in the same import)
        if outcome.failed or getattr(outcome, "filtered", 0) or getattr(outcome, "unknown", 0) or getattr(outcome, "failed_reason", None):
            return
        self.state.remember(meta["bucket"], meta["key"], meta["etag"], meta.get("size"), outcome.events, outcome.skipped_reason)

    def close(self) -> None:
        """Write the remaining state (call after the import, also after a failed one).
        Objects that could not be remembered are counted in ``stats`` (re-downloaded next
        time, never duplicated)."""
        if self.state is not None:
            self.state.flush()
            if self.state.unsaved:
                self.stats["objects_not_remembered"] = self.state.unsaved
                self.stats["state_error"] = self.state.error


def s3_files(urls: Iterable[str], options: S3Options | None = None) -> Iterator[SourceFile]:
    """SourceFiles for ``s3://`` URLs without import state (see :class:`S3Import`)."""
    return S3Import.with_options(urls, options or S3Options()).files()
