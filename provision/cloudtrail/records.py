"""From files to CloudTrail records: the first step of the one-way flow
source (folder, S3) -> records -> documents -> Elasticsearch.

A source hands out :class:`SourceFile` objects; :func:`decode_events` turns one file's
bytes into its events or says, with :class:`SkipFile`, why the file holds none; a file
past STREAM_AFTER_BYTES is read item by item by :class:`ItemStream` instead. A bad item
(a truncated line, JSON nested too deep) is an :class:`Unreadable` item that fails alone;
a file cut off is ``partly`` read. Memory is bounded by STREAM_AFTER_BYTES (and the largest
single event), never by the size or number of files.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import stat
import zlib
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

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

    def __init__(self, reason: str, raw: bytes | memoryview, too_deep: bool = False) -> None:
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


def _looks_like_event(obj: Any) -> bool:
    if isinstance(obj, Unreadable):
        return obj.too_deep
    return isinstance(obj, dict) and ("eventName" in obj or "eventTime" in obj or "eventID" in obj)


def decode_events(name: str, raw: bytes, max_bytes: int = MAX_FILE_BYTES, stream_after: int | None = None) -> Events:
    """All items in one file: ``{"Records": [...]}`` (several such objects one after the
    other too, as ``zcat *.gz`` makes), a JSON array of events, one event per line, or a
    single event object. Raises :class:`SkipFile` with the reason when it holds no events,
    :class:`FileFailed` when it expands past ``max_bytes``, :class:`StreamIt` when it
    expands past ``stream_after`` (the caller then streams it).

    Items are returned as found; an item that is not a JSON object, or an
    :class:`Unreadable` one (a bad line), is the caller's to fail (it was read, so it must
    be accounted for). What follows a truncated or corrupt end is ``partly`` of the result.
    """
    if is_digest_name(name):
        raise SkipFile("CloudTrail digest file (no events)")
    if not raw:
        raise SkipFile("empty file")
    partly = None
    gzipped = raw[:2] == GZIP_MAGIC
    if gzipped:
        raw, partly = _gunzip(raw, max_bytes, stream_after)
        if not raw:
            raise SkipFile("empty file (after gunzip)")
    elif len(raw) > max_bytes:
        raise FileFailed(too_large(max_bytes))
    elif stream_after is not None and len(raw) > stream_after:
        raise StreamIt()
    if raw[:3] == UTF8_BOM:
        raw = raw[3:]
    if not raw.strip():
        raise SkipFile("empty file")
    if partly is None and not _has_big_int(raw):
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # not one JSON document: read it item by item below
        else:
            return _events_of(data)
    events, first_error = _scan(raw)
    if not any(_looks_like_event(e) for e in events[:100]):
        if partly:
            raise SkipFile(partly)
        if events.partly or (first_error is not None and all(isinstance(e, Unreadable) for e in events)):
            if not gzipped and name.lower().endswith(".gz"):
                raise SkipFile(NOT_GZIP)  # random bytes under a .gz name: say so, not "invalid JSON"
            reason = str(events.partly or first_error)
            raise SkipFile(reason if reason.startswith(INVALID_JSON) else f"{INVALID_JSON}: {reason}")
        raise SkipFile("no CloudTrail events")
    events.partly = partly or events.partly
    return events


def _events_of(data: Any) -> Events:
    """The events of one parsed JSON document (the fast path: an ordinary file)."""
    if isinstance(data, dict):
        records = data.get("Records")
        if isinstance(records, list):
            if not records:
                raise SkipFile("no CloudTrail events (empty Records)")
            return Events(records)
        if _looks_like_event(data):
            return Events([data])
        raise SkipFile("no CloudTrail events (a JSON object without Records)")
    if isinstance(data, list):
        if not data:
            raise SkipFile("no CloudTrail events (empty array)")
        if not any(_looks_like_event(item) for item in data[:100]):
            raise SkipFile("no CloudTrail events (an array without events)")
        return Events(data)
    raise SkipFile(f"no CloudTrail events (a JSON {type(data).__name__})")


def too_large(max_bytes: int) -> str:
    return f"larger than {_size(max_bytes)} uncompressed, the limit per file (--max-file-bytes)"


def _size(n: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n:,} bytes"


def _gunzip(raw: bytes, max_bytes: int, stream_after: int | None = None) -> tuple[bytearray, str | None]:
    """The file's bytes un-gzipped (every member, as gzip does), never more than
    ``max_bytes`` (FileFailed) or ``stream_after`` (StreamIt), and why its end could not
    be read (None: all of it was). Raises SkipFile when nothing at all could be read."""
    limit = max_bytes if stream_after is None else min(max_bytes, stream_after)
    out = bytearray()
    data: bytes | memoryview = raw
    partly = None
    while data:
        inflater = zlib.decompressobj(31)
        try:
            out += inflater.decompress(data, limit + 1 - len(out))
        except zlib.error as err:
            partly = f"corrupt gzip after {len(out):,} bytes: {err}"
            break
        if len(out) > limit:
            if limit < max_bytes:
                raise StreamIt()
            raise FileFailed(too_large(max_bytes))
        if not inflater.eof:
            partly = f"corrupt gzip: truncated after {len(out):,} uncompressed bytes"
            break
        data = inflater.unused_data
        if data and data[:2] != GZIP_MAGIC:
            break  # padding after the last member, as gzip tolerates
    if partly and not out:
        raise SkipFile(partly)
    return out, partly


# Integers orjson cannot hold exactly (past 64 bits it reads them as floats) have 19 digits
# or more; digits map to "0", the rest to " ", and one find spots a run (~1 ms per MB).
_DIGITS = bytes(48 if 48 <= b <= 57 else 32 for b in range(256))
_LONG_RUN = b"0" * 19


def _has_big_int(raw: bytes | bytearray | memoryview) -> bool:
    if isinstance(raw, memoryview):
        raw = raw.tobytes()
    return raw.translate(_DIGITS).find(_LONG_RUN) >= 0


def _exact_int(text: str) -> Any:
    value = int(text)
    return value if -(1 << 63) <= value < (1 << 64) else orjson.Fragment(text.encode())


def _refuse_constant(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


def _loads(raw: bytes | memoryview) -> Any:
    """One JSON value, integers past 64 bits kept exact (as orjson Fragments, which orjson
    writes back digit for digit)."""
    if _has_big_int(raw):
        return json.loads(bytes(raw), parse_int=_exact_int, parse_constant=_refuse_constant)
    return orjson.loads(raw)


# The scanner: finds where each item of a file ends without parsing it, so one bad item
# fails alone. Brackets and strings are all it needs to know.
_STRUCTURE = re.compile(rb'[\[\]{}"]')
_STRING_REST = re.compile(rb'[^"\\\n]*(?:\\.[^"\\\n]*)*"')
_SPACE = re.compile(rb"[ \t\r\n]*")
_RECORDS_START = re.compile(rb'\{[ \t\r\n]*"Records"[ \t\r\n]*:[ \t\r\n]*\[')
_AFTER_ITEM = re.compile(rb"[ \t\r\n]*,?[ \t\r\n]*")
_SCALAR_END = re.compile(rb"[,\]\n]")


def _value_end(buf: bytes | bytearray, start: int) -> int | None:
    """Where the object or array at ``start`` ends (None: not within ``buf``, or a raw
    newline inside a string). Brackets are counted, not matched: parsing checks the rest."""
    return _close_object(buf, start + 1)


def _item(raw: bytes | memoryview, what: str) -> Any:
    try:
        return _loads(raw)
    except (orjson.JSONDecodeError, ValueError, RecursionError) as err:  # RecursionError: json's own depth limit
        if "depth limit" in str(err) or isinstance(err, RecursionError):
            return Unreadable(f"nested deeper than {PARSE_DEPTH} levels", raw, too_deep=True)
        return Unreadable(f"invalid JSON ({what}: {err})", raw)


class _Buffer:
    """The bytes of a file as the scanner needs them: ``buf[pos:]`` not yet read, refilled
    from ``chunks`` on demand (consumed bytes are dropped then, so a streamed file holds
    little more than its largest item)."""

    __slots__ = ("buf", "pos", "chunks", "eof", "partly", "first_error")

    def __init__(self, chunks: Iterator[bytes | bytearray]) -> None:
        self.buf = bytearray()
        self.pos = 0
        self.chunks = chunks
        self.eof = False
        self.partly: str | None = None       # why the end could not be read
        self.first_error: str | None = None  # the first item that did not parse

    def cut(self, reason: str) -> None:
        """The file ends before its items do; the first reason found (the reader's own, such
        as a truncated gzip) is the one kept."""
        if self.partly is None:
            self.partly = reason

    def more(self) -> bool:
        """Append the next chunk (False at the end of the file). Positions past ``pos``
        move by the bytes dropped: callers restart from ``pos``."""
        while not self.eof:
            chunk = next(self.chunks, None)
            if chunk is None:
                self.eof = True
                return False
            if chunk:
                del self.buf[:self.pos]
                self.pos = 0
                self.buf += chunk
                return True
        return False

    def grow(self) -> bool:
        """Append at least as many bytes as are unread (False at the end of the file, when
        nothing more came). An item measured again from its start after each call is then
        measured O(log size) times, so a value of any size costs time linear in its bytes."""
        unread = len(self.buf) - self.pos
        while len(self.buf) - self.pos < 2 * unread or len(self.buf) - self.pos == unread:
            if not self.more():
                return len(self.buf) - self.pos > unread
        return True


def _items(src: _Buffer) -> Iterator[Any]:
    """Items one by one: each Records array's (or top-level array's) elements, and other
    top-level values (a line, a pretty-printed event). A value that does not parse fails
    alone as :class:`Unreadable` and reading goes on at the next line; a file cut off sets
    ``src.partly``."""
    if src.pos == 0 and (src.buf or src.more()) and src.buf.startswith(UTF8_BOM):
        src.pos = len(UTF8_BOM)  # a file saved by an editor that marks UTF-8: the mark is no JSON
    while True:
        src.pos = _SPACE.match(src.buf, src.pos).end()
        if src.pos >= len(src.buf) and not src.more():
            return
        if len(src.buf) - src.pos < 64 and not src.eof and src.more():
            continue  # enough bytes to see whether a Records array starts here
        buf, pos = src.buf, src.pos
        records = _RECORDS_START.match(buf, pos)
        if records is not None or buf[pos] == 91:  # a CloudTrail file, or an array: element by element
            src.pos = records.end() if records is not None else pos + 1
            yield from _array_items(src)
            if src.partly:
                return
            if records is not None:  # the rest of the Records object (other keys, "}")
                while (end := _close_object(src.buf, src.pos)) is None:
                    if not src.grow():
                        src.cut("the file ends inside its Records object")
                        return
                src.pos = end
            continue
        searched = 0  # bytes past pos already known to hold no newline: each byte is searched once
        while (eol := buf.find(b"\n", pos + searched)) < 0:
            searched = len(buf) - pos
            if not src.more():
                break
            buf, pos = src.buf, src.pos
        eol = len(buf) if eol < 0 else eol
        item = _item(buf[pos:eol], "a line")
        if isinstance(item, Unreadable) and buf[pos] == 123:
            # A value over several lines (pretty-printed)? Only what is already read is
            # looked at past the line: a bad line must not pull the rest of the file in.
            end = _value_end(buf, pos)
            if end is not None and end > eol:
                whole = _item(buf[pos:end], "a value")
                if not isinstance(whole, Unreadable):
                    item, eol = whole, end
        if isinstance(item, Unreadable) and src.first_error is None:
            src.first_error = item.why
        src.pos = eol
        if isinstance(item, dict) and isinstance(item.get("Records"), list) and not _looks_like_event(item):
            yield from item["Records"]
        else:
            yield item


def _array_items(src: _Buffer) -> Iterator[Any]:
    """The elements of the array whose "[" ends before ``src.pos``; past its "]" after."""
    count = 0
    while True:
        src.pos = _AFTER_ITEM.match(src.buf, src.pos).end()
        if src.pos >= len(src.buf):
            if src.more():
                continue
            src.cut("the file ends inside its array of events")
            return
        c = src.buf[src.pos]
        if c == 93:  # ]
            src.pos += 1
            return
        if c in (123, 91):
            while (end := _parsed_end(src.buf, src.pos)) is None:
                if not src.grow():
                    src.cut("the file ends inside an event")
                    return
        else:  # a scalar element: up to the next comma or bracket
            while (m := _SCALAR_END.search(src.buf, src.pos)) is None:
                if not src.grow():
                    src.cut("the file ends inside its array of events")
                    return
            end = m.start()
        count += 1
        item = _item(src.buf[src.pos:end], f"item {count}")
        src.pos = end
        yield item


_WINDOW = 4 << 10


def _parsed_end(buf: bytearray, pos: int) -> int | None:
    """Where the object or array at ``pos`` ends, found by orjson itself (it stops after one
    value and says where), so an ordinary event costs a parse, not a Python scan; an item
    that does not parse is measured by :func:`_value_end`. None: not within ``buf``."""
    window = _WINDOW  # orjson reads (and checks as UTF-8) all it is given: give it a little
    while True:
        with memoryview(buf) as view:  # released before the buffer may grow
            try:
                orjson.loads(view[pos:pos + window])
                return min(pos + window, len(buf))  # the window holds exactly one value
            except orjson.JSONDecodeError as err:
                message, chars = err.msg, err.pos
        if not message.startswith("unexpected end of data"):
            break
        if pos + window >= len(buf):
            return None
        window *= 4
    if not message.startswith("unexpected content after document"):
        return _value_end(buf, pos)
    # orjson counts characters; for non-ASCII text the byte offset is further on.
    end = pos + chars
    if not buf[pos:end].isascii():
        end = pos + len(buf[pos:pos + 4 * chars].decode("utf-8", "surrogateescape")[:chars].encode("utf-8", "surrogateescape"))
    return end


def _scan(buf: bytes | bytearray) -> tuple[Events, str | None]:
    """All items of a file in memory, and the first parse error (None if none)."""
    src = _Buffer(iter((buf,)))
    events = Events(_items(src))
    events.partly = src.partly
    return events, src.first_error


def _close_object(buf: bytes | bytearray, pos: int) -> int | None:
    """Past the bracket closing the object or array opened just before ``pos``."""
    depth = 1
    search, rest = _STRUCTURE.search, _STRING_REST.match
    while True:
        m = search(buf, pos)
        if m is None:
            return None
        pos = m.start()
        c = buf[pos]
        if c == 34:  # a string: jump past it
            m = rest(buf, pos + 1)
            if m is None:
                return None
            pos = m.end()
            continue
        depth += 1 if c in (123, 91) else -1
        pos += 1
        if depth == 0:
            return pos


class ItemStream:
    """A file's items read one by one from its bytes (``raw``, or else the local file at
    ``path``), gunzipped on the way, never more than ``max_bytes`` of them: memory holds a
    chunk and the largest item, whatever the file's size. ``partly`` says, once the items
    are exhausted, why the end could not be read (None: all of it was)."""

    def __init__(self, raw: bytes | None, path: str | None, max_bytes: int = MAX_FILE_BYTES) -> None:
        self._raw, self._path, self._max_bytes = raw, path, max_bytes
        self._src: _Buffer | None = None

    @property
    def partly(self) -> str | None:
        return self._src.partly if self._src is not None else None

    def __iter__(self) -> Iterator[Any]:
        self._src = _Buffer(self._inflated())
        return _items(self._src)

    def _stored(self) -> Iterator[bytes | memoryview]:
        if self._raw is not None:
            view = memoryview(self._raw)
            for start in range(0, len(view), READ_CHUNK):
                yield view[start:start + READ_CHUNK]
            return
        fd = os.open(self._path, os.O_RDONLY | os.O_NONBLOCK)
        with open(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise FileFailed(NOT_REGULAR)
            while chunk := fh.read(READ_CHUNK):
                yield chunk

    def _inflated(self) -> Iterator[bytes]:
        """The file's bytes, gunzipped when they are gzip, up to ``max_bytes``; why not
        all of them could be read goes to ``partly``."""
        src, limit, total = self._src, self._max_bytes, 0
        stored = self._stored()
        try:
            first = next(stored, b"")
            if bytes(first[:2]) != GZIP_MAGIC:
                for chunk in itertools.chain((first,), stored):
                    total += len(chunk)
                    if total > limit:
                        src.partly = too_large(limit)
                        return
                    yield bytes(chunk)
                return
            inflater = zlib.decompressobj(31)
            for data in itertools.chain((first,), stored):
                while data:
                    out = inflater.decompress(data, READ_CHUNK)
                    data = inflater.unconsumed_tail
                    total += len(out)
                    if total > limit:
                        src.partly = too_large(limit)
                        return
                    if out:
                        yield out
                    if inflater.eof:  # the next gzip member, if any (padding ends it)
                        data = inflater.unused_data
                        if data[:2] != GZIP_MAGIC:
                            return
                        inflater = zlib.decompressobj(31)
            if not inflater.eof:
                src.partly = f"corrupt gzip: truncated after {total:,} uncompressed bytes"
        except zlib.error as err:
            src.partly = f"corrupt gzip after {total:,} bytes: {err}"
        except FileFailed as err:
            src.partly = err.reason
        except OSError as err:
            src.partly = f"could not read: {err}"


@dataclass
class FileRead:
    """One file as the reader found it: its events, or why it has none to give."""

    source: SourceFile
    events: list | None = None
    skipped: str | None = None  # the file holds no events (digest, empty, corrupt, foreign name)
    failed: str | None = None   # the file could not be read at all (permission, network)

    @property
    def partly(self) -> str | None:
        """Why the end of the file could not be read (once its events have been read)."""
        return getattr(self.events, "partly", None)


def read_bytes(source: SourceFile, max_bytes: int = MAX_FILE_BYTES) -> tuple[bytes | None, str | None]:
    """(the source's bytes, None), or (None, why they could not be read). A source's own
    failure (permission, network, memory, not a regular file, larger than ``max_bytes``)
    is reported, not raised: one bad file never stops a run."""
    if source.size is not None and source.size > max_bytes:
        return None, too_large(max_bytes)
    try:
        return source.read(), None
    except FileFailed as err:
        return None, err.reason
    except Exception as err:
        return None, f"could not read: {err or type(err).__name__}"


def read_files(files: Iterable[SourceFile], max_bytes: int = MAX_FILE_BYTES) -> Iterator[FileRead]:
    """Read and decode each file in turn; only one file's bytes are held at a time, and a
    file that expands past STREAM_AFTER_BYTES gives its events one by one."""
    for source in files:
        if source.skip_reason:
            yield FileRead(source, skipped=source.skip_reason)
            continue
        if source.fail_reason:
            yield FileRead(source, failed=source.fail_reason)
            continue
        if source.path and (source.size or 0) > STREAM_AFTER_BYTES and not is_digest_name(source.name):
            yield FileRead(source, events=ItemStream(None, source.path, max_bytes))
            continue
        raw, failed = read_bytes(source, max_bytes)
        if failed is not None:
            yield FileRead(source, failed=failed)
            continue
        try:
            events = decode_events(source.name, raw, max_bytes, STREAM_AFTER_BYTES)
        except StreamIt:
            yield FileRead(source, events=ItemStream(raw, None, max_bytes))
            continue
        except SkipFile as skip:
            yield FileRead(source, skipped=skip.reason)
            continue
        except FileFailed as err:
            yield FileRead(source, failed=err.reason)
            continue
        finally:
            del raw  # the decoded events are all that is kept while they are processed
        yield FileRead(source, events=events)
