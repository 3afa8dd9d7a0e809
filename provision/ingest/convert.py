"""Where files are converted to bulk lines (:mod:`provision.ingest.bulklines`, the CPU-heavy
middle of an import): :class:`Converter` spreads files over worker processes in batches and
hands the results back in file order; the importing process keeps the reading, the sending
and the accounts. Nothing here talks to Elasticsearch.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import multiprocessing
import os
import signal
import sys
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from provision.cloudtrail import records
from provision.cloudtrail.decode import read_bytes
from provision.cloudtrail.itemstream import ItemStream
from provision.cloudtrail.records import SourceFile, is_digest_name
from provision.core.errors import CtstackError
from provision.ingest.bulklines import ConvertedFile, ConvertOptions, convert_batch, convert_or_reason, convert_parts
from provision.ingest.heap import limit_heap_growth

# Converting processes by default: one per core, up to 4 (past that, Elasticsearch rather
# than conversion sets the pace). With one core, files convert in the importing process.
MAX_DEFAULT_PROCESSES = 4
# An import whose files add up to less than this (bytes as stored, mostly gzipped) converts
# in the importing process: a small import (~10,000 events) is over before workers would have
# started, and pays nothing for them. A larger one converts nothing here, so the importing
# process never holds decoded events or botocore's service models (20 MB of its peak).
POOL_AFTER_BYTES = 2 * 1024 * 1024
# Files go to workers in batches of about this many (compressed) bytes, so the cost of a
# round trip to a worker is paid per batch, not per file (most CloudTrail files are small).
BATCH_BYTES = 128 * 1024
BATCH_FILES = 256
# Batches in flight per worker: enough to keep each busy, few enough to bound memory.
BATCHES_PER_PROCESS = 2
# Events and documents are acyclic dicts, freed by reference counting; the cyclic collector's
# default passes (every 700 allocations) re-walk a file's events again and again, ~15% of a
# conversion's time for nothing. While importing it runs less often, in the importing
# process (the old setting is restored) and in the workers.
IMPORT_GC_THRESHOLD = (50_000, 20, 100)
# How long a new worker may take to answer before the pool is declared unable to start.
WORKER_START_TIMEOUT = 120.0


def default_processes() -> int:
    """How many processes convert files when the caller does not say: 0 (the importing
    process itself) on one core, else one per core up to MAX_DEFAULT_PROCESSES."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return 0 if cores < 2 else min(cores, MAX_DEFAULT_PROCESSES)


def _worker_start() -> None:
    gc.set_threshold(*IMPORT_GC_THRESHOLD)
    limit_heap_growth()
    # Ctrl-C and a closed terminal reach the whole process group: the importing process
    # decides what stops (and stops these workers); a worker ending on its own would fail files.
    for name in ("SIGINT", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)


def _worker_ready() -> bool:
    return True


@dataclass
class FileConversion:
    """One file as :meth:`Converter.convert` hands it back, in the order the files came."""

    source: SourceFile
    raw: bytes | None = None               # kept to find original events for the dead-letter file
    converted: ConvertedFile | None = None
    failed: str | None = None              # could not be read or converted at all

    def settle(self, result: ConvertedFile | str, raw: bytes | None = None) -> None:
        """Record a conversion's result (or why there is none) and the bytes a worker read."""
        if isinstance(result, str):
            self.failed, self.raw = result, None
        else:
            self.converted = result
            if raw is not None:
                self.raw = raw


class _Batch:
    """Files on their way through a worker, in order: ``conversions`` all of them (those that
    need no worker, skipped or unreadable, keep their place), ``to_convert`` those sent."""

    __slots__ = ("conversions", "to_convert", "raw_bytes", "future")

    def __init__(self) -> None:
        self.conversions: list[FileConversion] = []
        self.to_convert: list[FileConversion] = []
        self.raw_bytes = 0
        self.future: Future | None = None

    def add(self, conversion: FileConversion) -> None:
        self.conversions.append(conversion)
        if conversion.converted is None and conversion.failed is None:
            self.to_convert.append(conversion)
            self.raw_bytes += len(conversion.raw) if conversion.raw is not None else (conversion.source.size or 0)

    def work(self) -> list[tuple[str, bytes | None, str | None]]:
        return [(c.source.name, c.raw, None if c.raw is not None else c.source.path) for c in self.to_convert]


@contextlib.contextmanager
def _stderr_silenced() -> Iterator[None]:
    """fd 2 points to /dev/null meanwhile (what a process started now inherits)."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def quiet_resource_tracker() -> None:
    """multiprocessing's resource tracker (a helper process the converting pool's semaphores
    need) inherits stderr; killed, it is relaunched with a warning, and the new one prints a
    stdlib traceback for every semaphore it never saw. Launched (and relaunched) with stderr
    on /dev/null, it says nothing a user could act on. Where the stdlib's internals differ
    from those of 3.11 (_lock, _fd, _check_alive), it is left as it is."""
    from multiprocessing import resource_tracker

    tracker = getattr(resource_tracker, "_resource_tracker", None)
    if tracker is None or getattr(tracker, "_ctstack_quiet", False) or not all(
            hasattr(tracker, name) for name in ("_lock", "_fd", "_check_alive", "ensure_running")):
        return
    launch = tracker.ensure_running

    def ensure_running() -> None:
        with tracker._lock:
            running = tracker._fd is not None and tracker._check_alive()
        if not running:
            with _stderr_silenced():
                launch()

    tracker.ensure_running = ensure_running
    tracker._ctstack_quiet = True
    ensure_running()


class Converter:
    """Reads files (here: a source may not be picklable, e.g. S3 downloads) and converts
    them in ``processes`` worker processes (0: here), a bounded number of batches ahead,
    handing results back in file order. A worker that dies (killed, out of memory) fails
    only the file it was converting, with the reason; the rest are converted again."""

    def __init__(self, options: ConvertOptions, processes: int | None = None,
                 pool_after_bytes: int | None = None) -> None:
        self.options = options
        self.processes = default_processes() if processes is None else max(0, processes)
        self.pool_after_bytes = POOL_AFTER_BYTES if pool_after_bytes is None else pool_after_bytes
        self.workers_started = 0  # worker processes that were started (0: all converted here)
        self._pool: ProcessPoolExecutor | None = None
        self._window: deque[_Batch] = deque()

    def convert(self, files: Iterable[SourceFile]) -> Iterator[FileConversion]:
        batch = _Batch()
        files = iter(files)
        ahead, here = self._small_import(files)
        for source in itertools.chain(ahead, files):
            if self._streams(source):  # a large local file: streamed here, in its place
                batch.add(FileConversion(source, converted=ConvertedFile(stream=True)))
            elif here:
                conversion = self._read(source)
                if conversion.converted is None and conversion.failed is None:
                    conversion.settle(convert_or_reason(source.name, conversion.raw or b"", self.options))
                batch.add(conversion)
            else:
                # A local file is read by the worker converting it, which saves this process
                # the reading; other sources (S3 downloads) are read here.
                local = source.path and not source.skip_reason and not source.fail_reason
                batch.add(FileConversion(source) if local else self._read(source))
            if not batch.to_convert:  # nothing for a worker (yet): hand it on in order
                if not self._window:
                    yield from self._handed(batch.conversions)
                    batch = _Batch()
                continue
            if batch.raw_bytes >= BATCH_BYTES or len(batch.conversions) >= BATCH_FILES:
                self._send(batch)
                batch = _Batch()
                while len(self._window) >= BATCHES_PER_PROCESS * self.processes:
                    yield from self._receive(self._window.popleft())
        if batch.conversions:
            self._send(batch)
        while self._window:
            yield from self._receive(self._window.popleft())

    def _small_import(self, files: Iterator[SourceFile]) -> tuple[list[SourceFile], bool]:
        """The first files, taken until their sizes reach pool_after_bytes (not read: a
        source knows its size), and whether that was all of them: then the import is small
        and converts here, without workers."""
        if self.processes == 0:
            return [], True
        if self._pool is not None:
            return [], False
        ahead: list[SourceFile] = []
        size = 0
        for source in files:
            ahead.append(source)
            # A size not known up front counts as large: the pool is started rather than guessed.
            size += self.pool_after_bytes if source.size is None else source.size
            if size >= self.pool_after_bytes:
                return ahead, False
        return ahead, True

    def _streams(self, source: SourceFile) -> bool:
        return bool(source.path and not source.skip_reason and not source.fail_reason
                    and (source.size or 0) > records.STREAM_AFTER_BYTES and not is_digest_name(source.name))

    def _handed(self, conversions: list[FileConversion]) -> Iterator[FileConversion]:
        """Conversions as they go out: a file marked ``stream`` as its parts."""
        for conversion in conversions:
            if conversion.converted is not None and conversion.converted.stream:
                yield from self._stream(conversion)
            else:
                yield conversion

    def _stream(self, conversion: FileConversion) -> Iterator[FileConversion]:
        """A file too large to decode whole, converted here part by part: memory holds a
        part, not the file. One with no event at all is skipped, or failed if it was cut."""
        source, raw = conversion.source, conversion.raw
        items = ItemStream(raw, None if raw is not None else source.path, self.options.max_file_bytes)
        for part in convert_parts(source.name, items, self.options):
            if part.last and part.first_event == 0 and part.events == 0:
                if part.partly:
                    yield FileConversion(source, failed=part.partly)
                else:
                    yield FileConversion(source, converted=ConvertedFile(skipped="no CloudTrail events"))
                return
            yield FileConversion(source, raw, converted=part)

    def close(self) -> None:
        """Stop the workers; batches still in flight are dropped (not read, not counted)."""
        self._window.clear()
        self._stop_pool(wait=True)

    def __enter__(self) -> Converter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------
    def _read(self, source: SourceFile) -> FileConversion:
        if source.skip_reason:
            return FileConversion(source, converted=ConvertedFile(skipped=source.skip_reason))
        if source.fail_reason:
            return FileConversion(source, failed=source.fail_reason)
        raw, failed = read_bytes(source, self.options.max_file_bytes)
        return FileConversion(source, raw, failed=failed)

    def _send(self, batch: _Batch) -> None:
        if batch.to_convert:
            batch.future = self._submit(batch.work())
        self._window.append(batch)

    def _submit(self, files: list[tuple[str, bytes | None, str | None]]) -> Future:
        """The batch on its way to a worker. A pool broken since the last batch (a worker
        killed) refuses new work: the batch then carries that error, and receiving it
        starts the recovery as for any batch lost with the pool."""
        if self._pool is None:
            self._start_pool()
        pool = self._pool
        try:
            if pool is None:
                raise BrokenProcessPool("the conversion processes did not start")
            return pool.submit(convert_batch, files, self.options)
        except BrokenProcessPool as err:
            lost: Future = Future()
            lost.set_exception(err)
            return lost

    def _start_pool(self) -> None:
        quiet_resource_tracker()
        # spawn, not fork: the importing process runs threads (bulk sender, S3 downloads),
        # and forking a process with threads can deadlock the child.
        self._pool = ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_worker_start)
        try:
            self._pool.submit(_worker_ready).result(timeout=WORKER_START_TIMEOUT)
            self.workers_started = max(self.workers_started, self.processes)
        except (BrokenProcessPool, TimeoutError) as err:
            self._stop_pool(wait=False)
            raise CtstackError(
                f"Could not start processes to convert files ({type(err).__name__}: {err}). From Python, "
                'call the import under `if __name__ == "__main__":` (a rule of multiprocessing), '
                "or convert in the importing process: processes=0 (--processes 0).") from None

    def _stop_pool(self, wait: bool) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
            self._pool = None

    def _receive(self, batch: _Batch) -> Iterator[FileConversion]:
        if batch.future is not None:
            try:
                results: list = batch.future.result()
            except BrokenProcessPool:
                results = self._after_broken_pool(batch)
            for conversion, (result, raw) in zip(batch.to_convert, results):
                conversion.settle(result, raw)
        yield from self._handed(batch.conversions)

    def _after_broken_pool(self, batch: _Batch) -> list[tuple[ConvertedFile | str, bytes | None]]:
        """A worker died: every batch in flight was lost with the pool. This batch's files
        are converted again one by one in a new pool, so a file that kills its worker fails
        on its own; then the batches behind it are sent again."""
        self._stop_pool(wait=False)
        results: list[tuple[ConvertedFile | str, bytes | None]] = []
        for one in batch.work():
            try:
                results.append(self._submit([one]).result()[0])
            except BrokenProcessPool as err:
                self._stop_pool(wait=False)
                results.append((f"could not convert: the process converting it stopped ({err})", None))
        for other in self._window:
            if other.future is not None:
                other.future = self._submit(other.work())
        return results
