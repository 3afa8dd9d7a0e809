"""From files to CloudTrail records: the first step of the one-way flow
source (folder, S3) -> records -> documents -> Elasticsearch.

A source hands out :class:`SourceFile` objects; :func:`decode_events` turns one file's
bytes into its events or says, with :class:`SkipFile`, why the file holds none. Memory is
bounded by the largest single file, never by the number of files.
"""

from __future__ import annotations

import gzip
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import orjson

GZIP_MAGIC = b"\x1f\x8b"
# Extensions a folder walk picks up; a file named on the command line is always tried.
EVENT_FILE_SUFFIXES = (".json.gz", ".json", ".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz", ".gz")


@dataclass(frozen=True)
class SourceFile:
    """One file of CloudTrail logs, wherever it lives.

    ``name`` is what users see (a path or ``s3://bucket/key``); ``read()`` returns the raw
    bytes, gzipped or not; ``meta`` is the source's own bookkeeping (S3 key and ETag).
    """

    name: str
    read: Callable[[], bytes]
    size: int | None = None
    meta: dict | None = None
    # A reason to skip the file without reading it (e.g. a name no reader handles).
    skip_reason: str | None = None
    # A local file's path: another process may read it itself (``read`` stays the way here).
    path: str | None = None


class SkipFile(Exception):
    """The file holds no events to import; ``reason`` says why (shown in the summary)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def is_digest_name(name: str) -> bool:
    """CloudTrail digest files (integrity hashes, no events) live under CloudTrail-Digest/."""
    return "CloudTrail-Digest" in name


def _looks_like_event(obj: Any) -> bool:
    return isinstance(obj, dict) and ("eventName" in obj or "eventTime" in obj or "eventID" in obj)


def decode_events(name: str, raw: bytes) -> list:
    """All events in one file: ``{"Records": [...]}``, a JSON array of events, one event
    per line, or a single event object. Raises :class:`SkipFile` with the reason otherwise.

    Items are returned as found; an item that is not a JSON object is the caller's to fail
    (it was read, so it must be accounted for).
    """
    if is_digest_name(name):
        raise SkipFile("CloudTrail digest file (no events)")
    if not raw:
        raise SkipFile("empty file")
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise SkipFile(f"corrupt gzip: {err}") from None
        if not raw:
            raise SkipFile("empty file (after gunzip)")
    if not raw.strip():
        raise SkipFile("empty file")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        events = _decode_json_lines(raw)
        if events is None:
            raise SkipFile(f"invalid JSON: {err}") from None
        return events
    if isinstance(data, dict):
        records = data.get("Records")
        if isinstance(records, list):
            if not records:
                raise SkipFile("no CloudTrail events (empty Records)")
            return records
        if _looks_like_event(data):
            return [data]
        raise SkipFile("no CloudTrail events (a JSON object without Records)")
    if isinstance(data, list):
        if not data:
            raise SkipFile("no CloudTrail events (empty array)")
        if not any(_looks_like_event(item) for item in data[:100]):
            raise SkipFile("no CloudTrail events (an array without events)")
        return data
    raise SkipFile(f"no CloudTrail events (a JSON {type(data).__name__})")


@dataclass
class FileRead:
    """One file as the reader found it: its events, or why it has none to give."""

    source: SourceFile
    events: list | None = None
    skipped: str | None = None  # the file holds no events (digest, empty, corrupt, foreign name)
    failed: str | None = None   # the file could not be read at all (permission, network)


def read_bytes(source: SourceFile) -> tuple[bytes | None, str | None]:
    """(the source's bytes, None), or (None, why they could not be read). A source's own
    failure (permission, network, memory) is reported, not raised: one bad file never
    stops a run."""
    try:
        return source.read(), None
    except Exception as err:
        return None, f"could not read: {err or type(err).__name__}"


def read_files(files: Iterable[SourceFile]) -> Iterator[FileRead]:
    """Read and decode each file in turn; only one file's bytes are held at a time."""
    for source in files:
        if source.skip_reason:
            yield FileRead(source, skipped=source.skip_reason)
            continue
        raw, failed = read_bytes(source)
        if failed is not None:
            yield FileRead(source, failed=failed)
            continue
        try:
            events = decode_events(source.name, raw)
        except SkipFile as skip:
            yield FileRead(source, skipped=skip.reason)
            continue
        finally:
            del raw  # the decoded events are all that is kept while they are processed
        yield FileRead(source, events=events)


def _decode_json_lines(raw: bytes) -> list | None:
    """One event per line (exports from other tools); None when it is not that either."""
    lines = [line for line in raw.splitlines() if line.strip()]
    if len(lines) < 2:
        return None
    events = []
    try:
        for line in lines:
            events.append(orjson.loads(line))
    except orjson.JSONDecodeError:
        return None
    if not any(_looks_like_event(e) for e in events[:100]):
        return None
    return events


def _file(path: Path, skip_reason: str | None = None) -> SourceFile:
    try:
        size = path.stat().st_size
    except OSError:
        size = None
    return SourceFile(name=str(path), read=path.read_bytes, size=size, skip_reason=skip_reason, path=str(path))


def local_files(paths: Iterable[str | os.PathLike]) -> Iterator[SourceFile]:
    """Files under each path (folders walked recursively, in sorted order, lazily).

    A file named directly is always read; inside a folder only names with an event-file
    suffix are, and the rest are handed out with a skip reason so they show in the summary.
    Missing paths raise FileNotFoundError before anything is read.
    """
    paths = [Path(p) for p in paths]
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(f"no such file or folder: {path}")
    for path in paths:
        if path.is_dir():
            yield from _walk(path)
        else:
            yield _file(path)


def _walk(folder: Path) -> Iterator[SourceFile]:
    # os.walk is lazy per directory: memory grows with one folder's entries, not the tree.
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = Path(root, name)
            if name.lower().endswith(EVENT_FILE_SUFFIXES):
                yield _file(path)
            else:
                yield _file(path, skip_reason="not a CloudTrail log file name (.json, .json.gz, .jsonl)")
