"""Which local files were already imported: re-runs over a folder skip unchanged files.

Kept in the same state index as S3 imports (:mod:`provision.sources.s3state`), one document
per (index prefix, absolute path) under the pseudo-bucket :data:`LOCAL_BUCKET` (no S3
bucket name can hold a colon, so the two never meet). Its ``etag`` is the file's
fingerprint: size, ``mtime_ns`` and a SHA-256 of the file's first and last 64 KiB (the
whole file when smaller). Why not a hash of the whole file: a second run over years of
logs would read every byte again to learn that nothing changed; size + mtime catch every
ordinary change (a copy, an append, a rewrite), and the head and tail catch a rewrite that
kept both: a gzip file's last 8 bytes are the CRC-32 and length of everything in it.

A file is remembered only when every event it holds was acknowledged (indexed or already
present) or it was skipped for its content (digest, empty, corrupt): one with failed,
unknown or filtered-out events, a partly read one, or one an interrupted run did not finish
is read again next time. Filtered files are not remembered because a later run with other
(or no) filters wants the events left out; a file whose events all pass the filters is
remembered, as every event of it is in. The fingerprint is taken before the file is read,
so a file changed while it was read is read again next time. When the index prefix holds no
event at all (its indices were deleted and the state outlived them), every file is read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import stat
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from typing import Any, Iterable, Iterator

from elasticsearch import ApiError, Elasticsearch

from provision.cloudtrail.records import SourceFile
from provision.core import settings
from provision.sources.s3state import BATCH_SIZE, ImportedObjects, elasticsearch_down

LOCAL_BUCKET = "file:"  # the state documents' bucket for local files
SAMPLE_BYTES = 64 * 1024  # hashed from the head and from the tail of each file
FINGERPRINT = "fingerprint"  # SourceFile.meta key
UNCHANGED = "files_unchanged"  # summary key: files skipped as unchanged since the last import


@dataclasses.dataclass
class LocalFile:
    """A local file as the state stores it (the shape of an S3 object there)."""

    bucket: str
    key: str   # absolute path
    etag: str  # fingerprint


def fingerprint(path: str) -> str | None:
    """``size:mtime_ns:sha256(head + tail)`` of a regular file; None when it cannot be read
    (then it is read, and fails, as it would without state)."""
    try:
        # Opened without blocking (a FIFO named on the command line must not hang the run
        # here); plain os calls, no file object: a re-run takes this for every file.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        digest = hashlib.sha256(_read_at(fd, 0))
        if st.st_size > SAMPLE_BYTES:
            digest.update(_read_at(fd, max(SAMPLE_BYTES, st.st_size - SAMPLE_BYTES)))
    except OSError:
        return None
    finally:
        os.close(fd)
    return f"{st.st_size}:{st.st_mtime_ns}:{digest.hexdigest()}"


def _read_at(fd: int, offset: int) -> bytes:
    """Up to SAMPLE_BYTES from ``offset``, fewer only at the end of the file (a read may
    return less than asked, on some file systems)."""
    parts = []
    wanted = SAMPLE_BYTES
    while wanted > 0:
        part = os.pread(fd, wanted, offset)
        if not part:
            break
        parts.append(part)
        offset += len(part)
        wanted -= len(part)
    return parts[0] if len(parts) == 1 else b"".join(parts)


class LocalImport:
    """Local SourceFiles less those imported unchanged, plus the state around them.

    Use: ``files(sources)`` feeds :func:`provision.ingest.importer.run_import`,
    ``on_file_done`` is its callback, then ``close()`` writes the remaining state; ``stats``
    goes into the summary. ``full``: read every file, still remembering what was imported.
    """

    def __init__(self, es: Elasticsearch, index_prefix: str = settings.INDEX_PREFIX, *, full: bool = False,
                 state_index: str = settings.STATE_INDEX) -> None:
        self.state = ImportedObjects(es, index_prefix, state_index)
        self.full = full
        self.stats: dict[str, Any] = {UNCHANGED: 0}
        self._has_events: bool | None = None

    def files(self, sources: Iterable[SourceFile]) -> Iterator[SourceFile]:
        """``sources`` with a fingerprint in their meta, less those unchanged since they were
        imported (looked up in batches, so memory holds two batches of files: the next
        batch is fingerprinted while Elasticsearch answers for the one before)."""
        iterator = iter(sources)
        lookups = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ctstack-state")
        try:
            waiting: tuple[list[SourceFile], dict[int, LocalFile], Future] | None = None
            while batch := list(islice(iterator, BATCH_SIZE)):
                wanted = self._fingerprints(batch)
                trusted = bool(wanted) and self._trusted()
                looked_up = lookups.submit(self.state.imported, list(wanted.values()) if trusted else [])
                if waiting is not None:
                    yield from self._unchanged_left_out(*waiting)
                waiting = (batch, wanted, looked_up)
            if waiting is not None:
                yield from self._unchanged_left_out(*waiting)
        finally:
            lookups.shutdown(wait=True, cancel_futures=True)

    @staticmethod
    def _fingerprints(batch: list[SourceFile]) -> dict[int, LocalFile]:
        wanted: dict[int, LocalFile] = {}
        for position, source in enumerate(batch):
            if source.path and not source.skip_reason and not source.fail_reason:
                seen = fingerprint(source.path)
                if seen is not None:
                    wanted[position] = LocalFile(LOCAL_BUCKET, os.path.abspath(source.path), seen)
        return wanted

    def _unchanged_left_out(self, batch: list[SourceFile], wanted: dict[int, LocalFile], looked_up: Future) -> Iterator[SourceFile]:
        done = looked_up.result()
        for position, source in enumerate(batch):
            local = wanted.get(position)
            if local is not None and (local.bucket, local.key) in done:
                self.stats[UNCHANGED] += 1
                continue
            if local is not None:
                source = dataclasses.replace(source, meta={**(source.meta or {}), FINGERPRINT: local})
            yield source

    def _trusted(self) -> bool:
        """Whether to skip what the state calls imported: not with ``full``, and not when the
        index prefix holds no event at all (its indices were deleted, the state outlived them)."""
        if self.full:
            return False
        if self._has_events is None:
            try:
                # <prefix>-YYYY.MM only: not the state index, nor another prefix that starts with this one
                months = [f"{self.state.index_prefix}-{digit}*" for digit in "0123456789"]
                self._has_events = bool(self.state.es.count(index=months)["count"])
            except ApiError as err:
                if elasticsearch_down(err):
                    raise
                self._has_events = True  # counting refused (a privilege): the state decides alone
        return self._has_events

    def on_file_done(self, file: SourceFile, outcome: Any) -> None:
        """The importer's callback: remember a local file once every event of it is in."""
        local = (file.meta or {}).get(FINGERPRINT)
        if not isinstance(local, LocalFile):
            return  # not one of ours (an S3 object, or a file that could not be fingerprinted)
        if outcome.failed or outcome.filtered or outcome.unknown or outcome.failed_reason:
            return
        self.state.remember(local.bucket, local.key, local.etag, None, outcome.events, outcome.skipped_reason)

    def close(self) -> None:
        """Write the remaining state (also after a failed or interrupted run). Files not
        remembered (the state index refused the write) are counted: read again next time."""
        self.state.flush()
        if self.state.unsaved:
            self.stats["files_not_remembered"] = self.state.unsaved
            self.stats["state_error"] = self.state.error
