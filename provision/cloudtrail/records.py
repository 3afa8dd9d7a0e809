"""From files to CloudTrail records: the first step of the one-way flow
source (folder, S3) -> records -> documents -> Elasticsearch. This module holds the model
(the file, its outcomes, the limits); :mod:`provision.cloudtrail.decode` reads files.

A source hands out :class:`SourceFile` objects; :func:`~provision.cloudtrail.decode.decode_events`
turns one file's bytes into its events or says, with :class:`SkipFile`, why the file holds none;
a file past STREAM_AFTER_BYTES is read item by item by
:class:`~provision.cloudtrail.itemstream.ItemStream` instead. A bad item
(a truncated line, JSON nested too deep) is an :class:`Unreadable` item that fails alone;
a file cut off is ``partly`` read. Memory is bounded by STREAM_AFTER_BYTES (and the largest
single event), never by the size or number of files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

import orjson

GZIP_MAGIC = b"\x1f\x8b"
# Extensions a folder walk picks up; a file named on the command line is always tried.
UTF8_BOM = b"\xef\xbb\xbf"
NOT_A_LOG_FILE_NAME = "not a CloudTrail log file name (.json, .json.gz, .jsonl)"
EVENT_FILE_SUFFIXES = (".json.gz", ".json", ".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz", ".gz")
# What one file may expand to (after gunzip) before it fails: a gzip bomb must not take the
# machine's memory. ``--max-file-bytes`` changes it.
MAX_FILE_BYTES = 1 << 30
INVALID_JSON = "invalid JSON"
NOT_GZIP = "not gzip: the name ends in .gz but the bytes are neither gzip nor JSON"
# A file that expands past this is streamed instead of decoded whole: read and converted in
# parts, its items one by one, so memory stays bounded whatever its size.
STREAM_AFTER_BYTES = 16 << 20
READ_CHUNK = 1 << 20
# orjson parses at most this many levels of nesting (deeper is refused, not misread).
PARSE_DEPTH = 1024
# A failed item's text kept for the dead-letter file (a bad line, an event too deep to parse).
KEPT_TEXT = 1 << 20
# orjson writes at most this many levels; a deeper event cannot become a document, and its
# dead-letter copy is cut at CUT_DEPTH levels (deeper values replaced by CUT_MARK).
WRITE_DEPTH = 254
CUT_DEPTH = 200
CUT_MARK = "...(cut)"
NOT_REGULAR = "not a regular file (a FIFO, socket or device is never read)"
TOO_DEEP = f"nested deeper than {WRITE_DEPTH} levels"


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
    # Why the source failed before it could be read (a folder that cannot be listed).
    fail_reason: str | None = None


class SkipFile(Exception):
    """The file holds no events to import; ``reason`` says why (shown in the summary)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FileFailed(Exception):
    """The file cannot be read (too large, not a regular file): it fails with ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Unreadable:
    """An item of a file that could not be read as an event (a bad line, JSON nested too
    deep to parse). It was read, so it is counted and fails alone with ``reason``; ``text``
    (the item's text, cut at KEPT_TEXT bytes) goes to the dead-letter file instead."""

    __slots__ = ("reason", "why", "text", "too_deep")

    def __init__(self, reason: str, raw: bytes | bytearray | memoryview, too_deep: bool = False) -> None:
        self.too_deep = too_deep  # valid as far as read, only deeper than the parser goes: an event's to fail
        kept = "its text" if len(raw) <= KEPT_TEXT else f"its first {KEPT_TEXT:,} bytes as text"
        self.why = reason  # what is wrong with it (a file skipped whole says only this: no dead-letter line is written then)
        self.reason = f"{reason} (the dead-letter file keeps {kept})"
        self.text = bytes(raw[:KEPT_TEXT]).decode("utf-8", "replace")

    def __repr__(self) -> str:
        return f"Unreadable({self.reason!r})"


def dead_letter_copy(item: Any) -> tuple[Any, str | None]:
    """What the dead-letter file can hold of ``item``, and a note when it is not the item
    as read: an Unreadable item's text; an event too deep to write, cut at CUT_DEPTH."""
    if isinstance(item, Unreadable):
        return item.text, None
    try:
        orjson.dumps({"event": item})  # as it sits in a dead-letter line
    except TypeError:
        return _cut(item, CUT_DEPTH), f"the dead-letter file keeps a copy cut at level {CUT_DEPTH}: deeper values are {CUT_MARK!r}"
    return item, None


def _cut(value: Any, levels: int) -> Any:
    if isinstance(value, (dict, list)):
        if levels <= 1:
            return CUT_MARK
        if isinstance(value, dict):
            return {k: _cut(v, levels - 1) for k, v in value.items()}
        return [_cut(v, levels - 1) for v in value]
    return value


class StreamIt(Exception):
    """The file is larger than what is decoded whole: read it with :func:`stream_items`."""


class Events(list):
    """A file's items in order; ``partly`` says why the end of the file could not be read
    (a truncated or corrupt gzip, a file cut off inside its array), None when all of it was."""

    partly: str | None = None


# CloudTrail's layout: AWSLogs/[o-ORG/]ACCOUNT/CloudTrail-Digest/REGION/YYYY/MM/DD/
# ACCOUNT_CloudTrail-Digest_REGION_TRAIL_REGION_TIME.json.gz
_DIGEST_FILE = re.compile(r"^\d{12}_CloudTrail-Digest_")


def is_digest_name(name: str) -> bool:
    """CloudTrail digest files (integrity hashes, no events): by the file's own name, or a
    folder named exactly CloudTrail-Digest (the layout's), never a substring of the path."""
    parts = name.replace("\\", "/").split("/")
    return bool(_DIGEST_FILE.match(parts[-1])) or "CloudTrail-Digest" in parts[:-1]


# Items looked at to tell a file of events from other JSON (any of them an event will do).
SNIFF_ITEMS = 100


def looks_like_event(obj: Any) -> bool:
    if isinstance(obj, Unreadable):
        return obj.too_deep
    return isinstance(obj, dict) and ("eventName" in obj or "eventTime" in obj or "eventID" in obj)


def too_large(max_bytes: int) -> str:
    return f"larger than {_size(max_bytes)} uncompressed, the limit per file (--max-file-bytes)"


def _size(n: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n:,} bytes"
