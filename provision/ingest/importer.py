"""The import pipeline: SourceFiles -> events -> documents -> Elasticsearch bulk.

One streaming pass. Every event read ends in exactly one bucket: indexed, duplicate
(already present: documents are created with ``op_type=create`` and ``_id`` = eventID),
or failed with a reason, written with the original event to a dead-letter NDJSON file.
Memory holds one file's events (or one part of a streamed large file) and a bounded number
of bulk chunks (``bulk_requests`` on the wire, one waiting, one being built), whatever the
number of files.
"""

from __future__ import annotations

import gc
import os
import time
from bisect import bisect_right
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from elasticsearch import ApiError, Elasticsearch, TransportError

from provision.cloudtrail.documents import PROFILES
from provision.cloudtrail.records import MAX_FILE_BYTES, SourceFile
from provision.cloudtrail.template import install_template
from provision.core import interrupt, settings
from provision.core.connection import EsConfig, describe_error, es_url
from provision.core.wording import reason_kind
from provision.ingest.bulkanswer import AllCreated, Refusal
from provision.ingest.bulksend import WritesBlocked, send_chunk
from provision.ingest.bulklines import ConvertOptions
from provision.ingest.convert import IMPORT_GC_THRESHOLD, Converter, FileConversion
from provision.ingest.deadletter import DeadLetter
from provision.ingest.heap import limit_heap_growth
from provision.ingest.inflight import Chunk, FileInFlight
from provision.ingest.options import CHUNK_SIZE, MAX_CHUNK_BYTES, ImportOptions
from provision.ingest.summary import INTERRUPTED, UNKNOWN, FileOutcome, ImportSummary
from provision.sources.filters import Filters

class _Run:
    def __init__(self, index_prefix: str, profile: str, keep_access_keys: bool, dead_letter: DeadLetter,
                 on_file_done: Callable[[SourceFile, FileOutcome], None] | None,
                 progress: Callable[[ImportSummary], None] | None, processes: int | None,
                 chunk_size: int, max_chunk_bytes: int, filters: Filters | None = None,
                 max_file_bytes: int = MAX_FILE_BYTES, close_dead_letter: bool = True) -> None:
        self.converter = Converter(ConvertOptions(index_prefix, profile, keep_access_keys, max_file_bytes=max_file_bytes, filters=filters), processes)
        self.dead = dead_letter
        self.close_dead_letter = close_dead_letter  # False: the caller's file, shared by several runs
        self.on_file_done = on_file_done
        self.progress = progress
        self.chunk_size = chunk_size
        self.max_chunk_bytes = max_chunk_bytes
        self.summary = ImportSummary()
        self.indices: set[str] = set()
        self.building = Chunk()
        # The file being cut into chunks, and its first document not yet in one.
        self.current: FileInFlight | None = None
        self.current_next = 0
        self.streaming: FileInFlight | None = None  # a streamed file's latest part, while more follow
        self.stopped_early = False  # a signal stopped it before the converter's last file

    # -- accounting -------------------------------------------------------------------
    def fail(self, state: FileInFlight, event: Any, reason: str) -> None:
        self.summary.events_failed += 1
        state.outcome.failed += 1
        key = reason_kind(reason)
        self.summary.failure_reasons[key] = self.summary.failure_reasons.get(key, 0) + 1
        self.dead.write(state.source.name, reason, event)

    def finish_if_done(self, state: FileInFlight) -> None:
        if state.read_done and state.pending == 0:
            state.release()
            state.parts.open -= 1
            if state.parts.open == 0 and state.parts.last_seen:
                if self.on_file_done:
                    self.on_file_done(state.source, state.outcome)
            if self.progress:
                self.progress(self.summary)

    # -- producing chunks ----------------------------------------------------------------
    def chunks(self, files: Iterable[SourceFile]) -> Iterator[Chunk]:
        """Bulk chunks of at most ``chunk_size`` documents and ``max_chunk_bytes`` bytes (a
        larger single document goes alone), cut from the files' converted bodies in order."""
        chunk_size, max_bytes = self.chunk_size, self.max_chunk_bytes
        for conversion in self.converter.convert(files):
            if interrupt.requested():  # a signal: files converted ahead but not started are not read
                self.stopped_early = True
                break
            state = self._start_file(conversion)
            if state is None:
                continue
            converted = state.lines
            # Chunks take views of the file's body: its bytes are copied once, into the request.
            body, ends, total = memoryview(converted.body), converted.ends, converted.documents
            i = 0
            while i < total:
                chunk = self.building
                start = converted.start(i)
                # The most documents from i on that fit the chunk's room, in count and bytes.
                j = bisect_right(ends, start + max_bytes - chunk.size, i, min(total, i + chunk_size - chunk.count))
                if j == i and not chunk.count:
                    j = i + 1  # one document larger than max_bytes goes alone
                if j > i:
                    chunk.add(state, i, j - i, body, start, ends[j - 1])
                    i = self.current_next = j
                if i < total:  # the chunk is full
                    self.building = Chunk()
                    yield chunk.seal()
            state.read_done = True
            state.cut()
            self.current, self.current_next = None, 0
            self.finish_if_done(state)
        if self.building.count:
            chunk, self.building = self.building, Chunk()
            yield chunk.seal()

    def _start_file(self, conversion: FileConversion) -> FileInFlight | None:
        """Count a converted file in; its state when it has documents to send."""
        summary = self.summary
        converted = conversion.converted
        # The next part of a streamed file continues its file's bookkeeping.
        previous = self.streaming if converted is not None and converted.first_event else None
        if previous is None:
            summary.files_read += 1
        state = FileInFlight(conversion.source, previous)
        self.streaming = state if converted is not None and not converted.last else None
        state.parts.last_seen = self.streaming is None
        if conversion.failed is not None:
            summary.files_failed += 1
            summary.failed_files.append({"path": state.source.name, "reason": conversion.failed})
            state.outcome.failed_reason = conversion.failed
        elif converted is None:  # not failed, so converted: never here
            raise RuntimeError(f"{state.source.name}: neither converted nor failed")
        elif converted.skipped is not None:
            summary.files_skipped += 1
            summary.skipped_files.append({"path": state.source.name, "reason": converted.skipped})
            state.outcome.skipped_reason = converted.skipped
        else:
            summary.events_read += converted.events
            state.outcome.events += converted.events
            summary.events_filtered += len(converted.filtered)
            state.outcome.filtered += len(converted.filtered)
            for _position, reason, event in converted.failures:
                self.fail(state, event, reason)
            if converted.partly is not None:  # its readable events go on; the file counts as failed
                reason = f"partly read: {converted.partly}"
                summary.files_failed += 1
                summary.failed_files.append({"path": state.source.name, "reason": reason})
                state.outcome.failed_reason = reason
            if converted.documents:
                self.indices.update(converted.indices)
                state.raw, state.converted = conversion.raw, converted
                state.pending = converted.documents
                self.current, self.current_next = state, 0
                return state
        state.read_done = True
        self.finish_if_done(state)
        return None

    # -- consuming results -----------------------------------------------------------------
    def apply(self, chunk: Chunk, results: list[tuple[int, Any]]) -> None:
        """Elasticsearch's answer for each line of ``chunk``, in order: (status, error)."""
        summary = self.summary
        if results.__class__ is AllCreated:  # every document indexed: counted per file, not per document
            for state, _first, count in chunk.segments:
                summary.events_indexed += count
                state.outcome.indexed += count
                state.pending -= count
                self.finish_if_done(state)
            return
        k = 0
        for state, first, count in chunk.segments:
            outcome = state.outcome
            for document in range(first, first + count):
                status, error = results[k]
                k += 1
                if 200 <= status < 300:
                    summary.events_indexed += 1
                    outcome.indexed += 1
                elif status == 409:
                    summary.events_duplicate += 1
                    outcome.duplicate += 1
                else:
                    reason = error if isinstance(error, Refusal) else f"rejected by Elasticsearch: {_error_text(status, error)}"
                    self.fail(state, state.event(document), reason)
            state.pending -= count
            self.finish_if_done(state)

    def abort(self, reason: str, unanswered: Iterable[Chunk]) -> None:
        """The run stops (Elasticsearch stopped answering, or refuses writes): documents of
        chunks sent without an answer have an unknown outcome (Elasticsearch may have indexed
        them before it went quiet); documents read but never sent fail (the chunk being
        built, the rest of the file being cut into chunks). Files not yet handed out by the
        converter are not read."""
        self.summary.aborted = reason
        message = f"not imported: {reason}"
        for chunk in unanswered:
            for state, first, count in chunk.segments:
                self._unknown_documents(state, first, count)
        for state, first, count in self.building.segments:
            self._fail_documents(state, first, count, message)
        self.building = Chunk()
        current = self.current
        if current is not None:
            self._fail_documents(current, self.current_next, current.lines.documents - self.current_next, message)
            current.read_done = True
            self.current, self.current_next = None, 0

    def _fail_documents(self, state: FileInFlight, first: int, count: int, reason: str) -> None:
        for document in range(first, first + count):
            self.fail(state, state.event(document), reason)
        state.pending -= count

    def _unknown_documents(self, state: FileInFlight, first: int, count: int) -> None:
        self.summary.events_unknown += count
        state.outcome.unknown += count
        for document in range(first, first + count):  # in the dead-letter file too: nothing is lost
            self.dead.write(state.source.name, UNKNOWN, state.event(document))
        state.pending -= count

    # -- the run's lifetime ----------------------------------------------------------------
    def __enter__(self) -> _Run:
        self._gc_threshold = gc.get_threshold()
        gc.set_threshold(*IMPORT_GC_THRESHOLD)
        return self

    def __exit__(self, *exc: Any) -> None:
        """Restore the GC setting, stop the converting workers, close the dead-letter file."""
        gc.set_threshold(*self._gc_threshold)
        self.converter.close()
        if self.close_dead_letter:
            self.dead.close()


def _error_text(status: int, error: Any) -> str:
    if isinstance(error, dict):
        text = f"{error.get('type', 'error')}: {error.get('reason', '')}"
        caused = error.get("caused_by")
        if isinstance(caused, dict):
            text += f" (caused by {caused.get('type')}: {caused.get('reason')})"
        return text
    return f"HTTP {status}: {error}"


def _without_file(files: Iterable[SourceFile], path: Path) -> Iterator[SourceFile]:
    """The sources less the run's own dead-letter file (created before the folder is walked,
    so `ctstack import .` would otherwise list it as a skipped file)."""
    name, full = path.name, os.path.abspath(path)
    for source in files:
        if source.path and os.path.basename(source.path) == name and os.path.abspath(source.path) == full:
            continue
        yield source


def run_import(es: Elasticsearch, files: Iterable[SourceFile], options: ImportOptions | None = None,
               **changes: Any) -> ImportSummary:
    """Import CloudTrail files into ``<index_prefix>-YYYY.MM`` indices, as ``options`` say
    (:class:`~provision.ingest.options.ImportOptions`; keyword ``changes`` to them are
    accepted too: ``run_import(es, files, index_prefix="x")``).

    Bulk requests are kept in flight while the next chunk is built; their answers are
    applied in the order they were sent. Returns the summary; ``summary.ok`` is False when
    any event failed, any file could not be read, or Elasticsearch stopped answering
    (``summary.aborted`` says why). Failed events are in ``summary.dead_letter`` with their
    reason. Events outside the filters are counted in ``events_filtered`` and not imported.
    """
    o = ImportOptions.of(options, **changes)
    profile, bulk_requests, chunk_size, dead_letter = o.profile, o.bulk_requests, o.chunk_size, o.dead_letter
    if profile not in PROFILES:
        raise ValueError(f"unknown fields profile {profile!r}; choose one of {', '.join(PROFILES)}")
    for name, value in (("bulk_requests", bulk_requests), ("chunk_size", chunk_size)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")
    started = time.monotonic()
    limit_heap_growth()   # before the sender threads start: they then share one arena
    own_dead_letter = dead_letter is None
    # Created now: a bad path fails before anything is read.
    dead = DeadLetter(o.dead_letter_path, o.keep_access_keys) if dead_letter is None else dead_letter
    if o.install:
        try:
            install_template(es, o.index_prefix)
        except BaseException:
            if own_dead_letter:
                dead.close()
            raise
    run = _Run(o.index_prefix, profile, o.keep_access_keys, dead, o.on_file_done, o.progress, o.processes,
               chunk_size, o.max_chunk_bytes, o.filters, o.max_file_bytes, close_dead_letter=own_dead_letter)
    # Up to ``bulk_requests`` chunks on the wire while the next is built: reading, converting
    # and serialising overlap with Elasticsearch indexing instead of waiting for it, and a
    # cluster with more cores than one request keeps busy gets more at once. Results are
    # applied here, in this thread, in the order the chunks were sent, so memory holds at
    # most bulk_requests + 2 chunks.
    sender = ThreadPoolExecutor(max_workers=bulk_requests, thread_name_prefix="ctstack-bulk")
    on_the_wire: deque[tuple[Chunk, Future]] = deque()
    # A bulk request that timed out is not sent again by the client: if Elasticsearch did
    # process it, the repeat would call its events "already present", and if not, nobody can
    # tell. Its events are reported as of unknown outcome instead; a re-run settles them.
    # Nor after a gateway's 502/503/504 (the node may have indexed it behind the gateway).
    bulk_client = es.options(retry_on_timeout=False, retry_on_status=())
    # A first signal (Ctrl-C, SIGTERM, SIGHUP) stops taking files: the file being cut into
    # chunks and the chunks built are sent and answered, so every event read is accounted for
    # (files converted ahead but not started count as not read), and the summary says so.
    taken = interrupt.UntilRequested(_without_file(files, dead.path))
    with run, interrupt.graceful("stopping after the files in hand and the requests in flight"):
        try:
            for chunk in run.chunks(taken):
                on_the_wire.append((chunk, sender.submit(send_chunk, bulk_client, chunk, o.max_retries, o.initial_backoff)))
                while len(on_the_wire) > bulk_requests:
                    _settle_oldest(run, on_the_wire)
            while on_the_wire:
                _settle_oldest(run, on_the_wire)
        except (TransportError, ApiError, WritesBlocked) as err:
            unanswered = []
            for chunk, future in on_the_wire:  # chunks sent before the failure may still have been acknowledged
                try:
                    run.apply(chunk, future.result())
                except WritesBlocked as blocked:
                    run.apply(chunk, blocked.results)
                except (TransportError, ApiError):
                    unanswered.append(chunk)
            run.abort(err.sentence if isinstance(err, WritesBlocked) else describe_error(err, EsConfig(url=es_url(es))),
                      unanswered)
        finally:
            sender.shutdown(wait=True, cancel_futures=True)  # on an error, queued chunks are not sent
    summary = run.summary
    summary.extra["convert_processes"] = run.converter.workers_started
    summary.indices = sorted(run.indices)
    summary.dead_letter = str(dead.path) if dead.used else None
    if summary.events_indexed and summary.aborted is None:
        try:
            es.indices.refresh(index=f"{o.index_prefix}-*")
        except (TransportError, ApiError):
            pass  # the data is in; visibility follows within refresh_interval
    if (taken.cut or run.stopped_early) and summary.aborted is None:  # after the refresh: what went in is searchable
        summary.aborted = f"{INTERRUPTED} by {interrupt.signal_words(interrupt.received())}"
    summary.seconds = time.monotonic() - started
    return summary


def _settle_oldest(run: _Run, on_the_wire: deque[tuple[Chunk, Future]]) -> None:
    """Apply the answer to the oldest chunk sent; it stays on the wire if there is none."""
    chunk, future = on_the_wire[0]
    try:
        results = future.result()
    except WritesBlocked as blocked:  # answered: its documents are accounted for, then the run stops
        on_the_wire.popleft()
        run.apply(chunk, blocked.results)
        raise
    on_the_wire.popleft()
    run.apply(chunk, results)


def bulk_bodies(
    files: Iterable[SourceFile],
    *,
    index_prefix: str = settings.INDEX_PREFIX,
    profile: str = "standard",
    keep_access_keys: bool = False,
    processes: int | None = None,
    chunk_size: int = CHUNK_SIZE,
    max_chunk_bytes: int = MAX_CHUNK_BYTES,
) -> Iterator[tuple[int, bytes]]:
    """The import's own path from files to bulk request bodies, with nothing sent:
    yields (documents, NDJSON body) per chunk. For the benchmark's null sink and for
    inspecting what an import would send."""
    dead = DeadLetter(discard=True)
    run = _Run(index_prefix, profile, keep_access_keys, dead, None, None, processes, chunk_size, max_chunk_bytes)
    with run:
        for chunk in run.chunks(files):
            yield chunk.count, chunk.body()
            for state, _first, count in chunk.segments:  # nothing is sent, so nothing awaits an answer
                state.pending -= count
                run.finish_if_done(state)
