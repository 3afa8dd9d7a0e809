"""The import pipeline: SourceFiles -> events -> documents -> Elasticsearch bulk.

One streaming pass. Every event read ends in exactly one bucket: indexed, duplicate
(already present: documents are created with ``op_type=create`` and ``_id`` = eventID),
or failed with a reason, written with the original event to a dead-letter NDJSON file.
Memory holds one file's events and at most three bulk chunks (one on the wire, one waiting,
one being built), whatever the number of files.
"""

from __future__ import annotations

import gc
import itertools
import os
import re
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import orjson
from elasticsearch import ApiError, Elasticsearch, TransportError

from provision import classify, settings
from provision.connection import EsConfig, connect, describe_error
from provision.errors import CtstackError
from provision import fields as F
from provision.documents import PROFILES, DocumentError, index_for, to_document
from provision.records import SourceFile, local_files, read_files
from provision.s3layout import is_s3_url
from provision.template import install_template

CHUNK_SIZE = 1000                   # documents per bulk request ...
MAX_CHUNK_BYTES = 8 * 1024 * 1024   # ... or this many bytes, whichever comes first
_REASON_KIND = re.compile(r"[:(]")  # "no usable eventTime (...)" counts as "no usable eventTime"
MAX_RETRIES = 6                     # 429 retries per chunk, with exponential backoff ...
MAX_BACKOFF = 60.0                  # ... of at most this many seconds
# Events and documents are acyclic dicts, freed by reference counting; the cyclic collector's
# default passes (every 700 allocations) re-walk a file's events again and again, ~15% of the
# import's time for nothing. While importing it runs less often; the old setting is restored.
IMPORT_GC_THRESHOLD = (50_000, 20, 100)


def reason_kind(reason: str) -> str:
    """The kind of a failure reason, for counting: "no usable eventTime ('x' is ...)" and
    "no usable eventTime (missing ...)" are both "no usable eventTime"."""
    return _REASON_KIND.split(reason, 1)[0].strip()


@dataclass
class FileOutcome:
    """What happened to one file's events (given to ``on_file_done``)."""

    events: int = 0
    indexed: int = 0
    duplicate: int = 0
    failed: int = 0
    skipped_reason: str | None = None
    failed_reason: str | None = None  # the file itself could not be read


@dataclass
class ImportSummary:
    files_read: int = 0          # every file looked at, including skipped ones
    files_skipped: int = 0
    skipped_files: list[dict] = field(default_factory=list)   # [{path, reason}]
    files_failed: int = 0        # files that could not be read at all
    failed_files: list[dict] = field(default_factory=list)    # [{path, reason}]
    events_read: int = 0
    events_indexed: int = 0
    events_duplicate: int = 0
    events_failed: int = 0
    failure_reasons: dict[str, int] = field(default_factory=dict)
    dead_letter: str | None = None
    indices: list[str] = field(default_factory=list)
    aborted: str | None = None   # why the run stopped early, if it did
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.events_failed == 0 and self.files_failed == 0 and self.aborted is None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        extra = data.pop("extra")
        data["seconds"] = round(self.seconds, 3)
        data.update(extra)
        return data


class DeadLetter:
    """Failed events with their reason, one JSON object per line, created (0600) on first use."""

    def __init__(self, path: str | os.PathLike | None) -> None:
        self.path = Path(path) if path else Path(f"ctstack-dead-letter-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.ndjson")
        self._fh = None

    def write(self, source: str, reason: str, event: Any) -> None:
        if self._fh is None:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._fh = os.fdopen(fd, "ab")
        self._fh.write(orjson.dumps({"reason": reason, "source": source, "event": event}) + b"\n")

    @property
    def used(self) -> bool:
        return self._fh is not None

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()


class _File:
    """Bookkeeping for one file while its events are in flight."""

    __slots__ = ("source", "outcome", "pending", "read_done")

    def __init__(self, source: SourceFile) -> None:
        self.source = source
        self.outcome = FileOutcome()
        self.pending = 0
        self.read_done = False


class _Run:
    def __init__(self, index_prefix: str, profile: str, keep_access_keys: bool, dead_letter: DeadLetter,
                 on_file_done: Callable[[SourceFile, FileOutcome], None] | None,
                 progress: Callable[[ImportSummary], None] | None) -> None:
        self.prefix = index_prefix
        self.profile = profile
        self.keep_access_keys = keep_access_keys
        self.dead = dead_letter
        self.on_file_done = on_file_done
        self.progress = progress
        self.summary = ImportSummary()
        self.indices: set[str] = set()
        # (index, _id) -> files/events awaiting Elasticsearch's answer, oldest first.
        self.inflight: dict[tuple[str, str], deque] = {}
        self.current: _File | None = None
        self.current_rest: Iterator | None = None

    # -- accounting -------------------------------------------------------------------
    def fail(self, state: _File, event: Any, reason: str) -> None:
        self.summary.events_failed += 1
        state.outcome.failed += 1
        key = reason_kind(reason)
        self.summary.failure_reasons[key] = self.summary.failure_reasons.get(key, 0) + 1
        self.dead.write(state.source.name, reason, event)

    def finish_if_done(self, state: _File) -> None:
        if state.read_done and state.pending == 0:
            if self.on_file_done:
                self.on_file_done(state.source, state.outcome)
            if self.progress:
                self.progress(self.summary)

    def skip_file(self, state: _File, reason: str) -> None:
        self.summary.files_skipped += 1
        self.summary.skipped_files.append({"path": state.source.name, "reason": reason})
        state.outcome.skipped_reason = reason
        state.read_done = True
        self.finish_if_done(state)

    # -- producing actions ---------------------------------------------------------------
    def actions(self, files: Iterable[SourceFile]) -> Iterator[tuple[dict, dict]]:
        for read in read_files(files):
            source = read.source
            self.summary.files_read += 1
            state = _File(source)
            if read.skipped is not None:
                self.skip_file(state, read.skipped)
                continue
            if read.failed is not None:
                self.summary.files_failed += 1
                self.summary.failed_files.append({"path": source.name, "reason": read.failed})
                state.outcome.failed_reason = read.failed
                state.read_done = True
                self.finish_if_done(state)
                continue
            events = read.events
            self.current = state
            rest = iter(events)
            self.current_rest = rest
            for event in rest:
                self.summary.events_read += 1
                state.outcome.events += 1
                try:
                    doc = to_document(event, self.profile, self.keep_access_keys)
                except DocumentError as err:
                    self.fail(state, event, str(err))
                    continue
                if self.profile != "minimal":
                    doc[F.SOURCE_FILE] = source.name
                index = index_for(self.prefix, doc)
                doc_id = classify.event_id(event)
                self.indices.add(index)
                key = (index, doc_id)
                queue = self.inflight.get(key)
                if queue is None:
                    queue = self.inflight[key] = deque()
                queue.append((state, event))
                state.pending += 1
                yield {"create": {"_index": index, "_id": doc_id}}, doc
            state.read_done = True
            self.current = self.current_rest = None
            self.finish_if_done(state)

    # -- consuming results -----------------------------------------------------------------
    def result(self, ok: bool, item: dict) -> None:
        info = item.get("create") or next(iter(item.values()))
        key = (info.get("_index"), info.get("_id"))
        queue = self.inflight.get(key)
        if not queue:  # Elasticsearch answered for something we did not send: should not happen
            raise RuntimeError(f"bulk result for an unknown document {key}")
        state, event = queue.popleft()
        if not queue:
            del self.inflight[key]
        state.pending -= 1
        status = info.get("status")
        if ok:
            self.summary.events_indexed += 1
            state.outcome.indexed += 1
        elif status == 409:
            self.summary.events_duplicate += 1
            state.outcome.duplicate += 1
        else:
            error = info.get("error")
            if isinstance(error, dict):
                reason = f"{error.get('type', 'error')}: {error.get('reason', '')}"
                caused = error.get("caused_by")
                if isinstance(caused, dict):
                    reason += f" (caused by {caused.get('type')}: {caused.get('reason')})"
            else:
                reason = f"HTTP {status}: {error}"
            self.fail(state, event, f"rejected by Elasticsearch: {reason}")
        self.finish_if_done(state)

    def abort(self, reason: str) -> None:
        """Elasticsearch stopped answering: everything read but not acknowledged fails."""
        self.summary.aborted = reason
        for queue in self.inflight.values():
            for state, event in queue:
                state.pending -= 1
                self.fail(state, event, f"not imported: {reason}")
        self.inflight.clear()
        if self.current is not None and self.current_rest is not None:
            state = self.current
            for event in self.current_rest:  # the rest of the file being read
                self.summary.events_read += 1
                state.outcome.events += 1
                self.fail(state, event, f"not imported: {reason}")
            state.read_done = True


def run_import(
    es: Elasticsearch,
    files: Iterable[SourceFile],
    *,
    index_prefix: str = settings.INDEX_PREFIX,
    profile: str = "standard",
    keep_access_keys: bool = False,
    dead_letter_path: str | os.PathLike | None = None,
    on_file_done: Callable[[SourceFile, FileOutcome], None] | None = None,
    progress: Callable[[ImportSummary], None] | None = None,
    install: bool = True,
    chunk_size: int = CHUNK_SIZE,
    max_chunk_bytes: int = MAX_CHUNK_BYTES,
    max_retries: int = MAX_RETRIES,
    initial_backoff: float = 1.0,
) -> ImportSummary:
    """Import CloudTrail files into ``<index_prefix>-YYYY.MM`` indices.

    Returns the summary; ``summary.ok`` is False when any event failed, any file could not
    be read, or Elasticsearch stopped answering (``summary.aborted`` says why). Failed
    events are in ``summary.dead_letter`` with their reason.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown fields profile {profile!r}; choose one of {', '.join(PROFILES)}")
    started = time.monotonic()
    if install:
        install_template(es, index_prefix)
    dead = DeadLetter(dead_letter_path)
    run = _Run(index_prefix, profile, keep_access_keys, dead, on_file_done, progress)
    chunks = _chunks(run.actions(files), chunk_size, max_chunk_bytes)
    # One chunk on the wire while the next is built: reading, converting and serialising
    # overlap with Elasticsearch indexing instead of waiting for it. Results are applied
    # here, in this thread, in the order the chunks were sent.
    sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ctstack-bulk")
    on_the_wire: deque[Future] = deque()
    gc_threshold = gc.get_threshold()
    gc.set_threshold(*IMPORT_GC_THRESHOLD)
    try:
        for headers, lines in chunks:
            on_the_wire.append(sender.submit(_send_chunk, es, headers, lines, max_retries, initial_backoff))
            while len(on_the_wire) > 1:
                _apply(run, on_the_wire.popleft().result())
        while on_the_wire:
            _apply(run, on_the_wire.popleft().result())
    except (TransportError, ApiError) as err:
        for future in on_the_wire:  # chunks sent before the failure may still have been acknowledged
            try:
                _apply(run, future.result())
            except (TransportError, ApiError):
                pass
        run.abort(describe_error(err, EsConfig(url=_es_url(es))))
    finally:
        gc.set_threshold(*gc_threshold)
        sender.shutdown(wait=True, cancel_futures=True)  # on an error, queued chunks are not sent
        dead.close()
    summary = run.summary
    summary.indices = sorted(run.indices)
    summary.dead_letter = str(dead.path) if dead.used else None
    if summary.events_indexed and summary.aborted is None:
        try:
            es.indices.refresh(index=f"{index_prefix}-*")
        except (TransportError, ApiError):
            pass  # the data is in; visibility follows within refresh_interval
    summary.seconds = time.monotonic() - started
    return summary


def _chunks(actions: Iterable[tuple[dict, dict]], chunk_size: int, max_chunk_bytes: int
            ) -> Iterator[tuple[list[dict], list[bytes]]]:
    """Bulk chunks of at most ``chunk_size`` documents and ``max_chunk_bytes`` bytes: the
    headers, and the NDJSON lines (header, document, header, ...) serialised with orjson."""
    dumps = orjson.dumps
    headers: list[dict] = []
    lines: list[bytes] = []
    size = 0
    for header, doc in actions:
        header_line, doc_line = dumps(header), dumps(doc)
        line_bytes = len(header_line) + len(doc_line) + 2
        if headers and (len(headers) == chunk_size or size + line_bytes > max_chunk_bytes):
            yield headers, lines
            headers, lines, size = [], [], 0
        headers.append(header)
        lines.append(header_line)
        lines.append(doc_line)
        size += line_bytes
    if headers:
        yield headers, lines


def _apply(run: _Run, results: list[tuple[bool, dict]]) -> None:
    for ok, item in results:
        run.result(ok, item)


_BULK_RESPONSE_FIELDS = "items.*.status,items.*.error"


def _send_chunk(es: Elasticsearch, headers: list[dict], lines: list[bytes], max_retries: int,
                initial_backoff: float) -> list[tuple[bool, dict]]:
    """One bulk request; documents Elasticsearch turns away with 429 (the whole request or
    single items) are sent again with exponential backoff. Returns (ok, item) per document,
    in order. A whole request refused otherwise fails each of its documents with the reason;
    transport errors (Elasticsearch unreachable) propagate."""
    results: list = [None] * len(headers)
    todo = list(range(len(headers)))
    for attempt in range(max_retries + 1):
        if attempt:
            time.sleep(min(MAX_BACKOFF, initial_backoff * 2 ** (attempt - 1)))
        last = attempt == max_retries
        sending = lines if len(todo) == len(headers) else [line for i in todo for line in lines[2 * i:2 * i + 2]]
        try:
            # Only each item's status (and error) comes back: a tenth of the bytes for
            # Elasticsearch to write and for us to parse; headers[i] says which document it was.
            items = es.bulk(operations=b"\n".join(sending) + b"\n", filter_path=_BULK_RESPONSE_FIELDS).body["items"]
        except ApiError as err:
            if err.status_code == 429 and not last:
                continue
            for i in todo:
                results[i] = (False, {"create": {**headers[i]["create"], "status": err.status_code, "error": str(err)}})
            return results
        retry = []
        for i, item in zip(todo, items):
            info = item.get("create") or next(iter(item.values()))
            status = info.get("status", 500)
            if status == 429 and not last:
                retry.append(i)
            else:
                info.update(headers[i]["create"])  # _index and _id, which the filtered answer leaves out
                results[i] = (200 <= status < 300, item)
        if not retry:
            return results
        todo = retry
    return results


def _es_url(es: Elasticsearch) -> str:
    try:
        return str(es.transport.node_pool.all()[0].base_url)
    except (AttributeError, IndexError):
        return "the cluster"


def source_files(sources: Iterable[str]) -> Iterator[SourceFile]:
    """SourceFiles for command-line sources (folders and files)."""
    try:
        yield from local_files(sources)
    except FileNotFoundError as err:
        raise CtstackError(f"Cannot read the sources: {err}.") from None


def import_sources(
    cfg: EsConfig,
    sources: Iterable[str],
    s3_options: dict[str, Any] | None = None,
    **options: Any,
) -> ImportSummary:
    """Connect (one clear error if Elasticsearch is unreachable or refuses us), then
    :func:`run_import` the sources. ``s3://`` sources go through
    :class:`provision.s3source.S3Import` (``s3_options`` are its keyword arguments: filters,
    profile, workers, full, ...). Other options are run_import's."""
    sources = list(sources)
    if not sources:
        raise CtstackError("Nothing to import: give at least one folder or file.")
    urls = [s for s in sources if is_s3_url(s)]
    files = source_files([s for s in sources if not is_s3_url(s)])
    first = next(files, None)  # fail on a missing path before touching Elasticsearch
    es, _version = connect(cfg)
    s3 = None
    try:
        if urls:
            from provision.s3source import S3Import  # boto3 only when S3 is used

            s3 = S3Import(urls, es=es, index_prefix=options.get("index_prefix", settings.INDEX_PREFIX), **(s3_options or {}))
            s3.check()
            files = itertools.chain(files, s3.files())
            options["on_file_done"] = s3.on_file_done
        summary = run_import(es, itertools.chain([first] if first else [], files), **options)
    except (TransportError, ApiError) as err:  # e.g. installing the template was refused
        raise CtstackError(describe_error(err, cfg)) from None
    finally:
        if s3 is not None:
            s3.close()  # remember what was imported, also when the run stopped early
        es.close()
    if s3 is not None:
        summary.extra.update(s3.stats)
    return summary


def bulk_bodies(
    files: Iterable[SourceFile],
    *,
    index_prefix: str = settings.INDEX_PREFIX,
    profile: str = "standard",
    keep_access_keys: bool = False,
    chunk_size: int = CHUNK_SIZE,
    max_chunk_bytes: int = MAX_CHUNK_BYTES,
) -> Iterator[tuple[int, bytes]]:
    """The import's own path from files to bulk request bodies, with nothing sent:
    yields (documents, NDJSON body) per chunk. For the benchmark's null sink and for
    inspecting what an import would send."""
    dead = DeadLetter(os.devnull)
    run = _Run(index_prefix, profile, keep_access_keys, dead, None, None)
    gc_threshold = gc.get_threshold()
    gc.set_threshold(*IMPORT_GC_THRESHOLD)
    try:
        for headers, lines in _chunks(run.actions(files), chunk_size, max_chunk_bytes):
            run.inflight.clear()  # nothing is sent, so nothing awaits an answer
            yield len(headers), b"\n".join(lines) + b"\n"
    finally:
        gc.set_threshold(*gc_threshold)
        dead.close()
