"""Reading a file item by item: the scanner finds where each item ends without parsing it
(so one bad item fails alone), and :class:`ItemStream` feeds it a large file in chunks,
gunzipped on the way, so memory holds a chunk and the largest item."""

from __future__ import annotations

import itertools
import json
import os
import re
import stat
import zlib
from typing import Any, Iterator

import orjson

from provision.cloudtrail.records import (GZIP_MAGIC, MAX_FILE_BYTES, NOT_REGULAR, PARSE_DEPTH, READ_CHUNK, UTF8_BOM,
                                          Events, FileFailed, Unreadable, looks_like_event, too_large)


# Integers orjson cannot hold exactly (past 64 bits it reads them as floats) have 19 digits
# or more; digits map to "0", the rest to " ", and one find spots a run (~1 ms per MB).
_DIGITS = bytes(48 if 48 <= b <= 57 else 32 for b in range(256))
_LONG_RUN = b"0" * 19


def has_big_int(raw: bytes | bytearray | memoryview) -> bool:
    if isinstance(raw, memoryview):
        raw = raw.tobytes()
    return raw.translate(_DIGITS).find(_LONG_RUN) >= 0


def _exact_int(text: str) -> Any:
    value = int(text)
    return value if -(1 << 63) <= value < (1 << 64) else orjson.Fragment(text.encode())


def _refuse_constant(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


def _loads(raw: bytes | bytearray | memoryview) -> Any:
    """One JSON value, integers past 64 bits kept exact (as orjson Fragments, which orjson
    writes back digit for digit)."""
    if has_big_int(raw):
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


def _item(raw: bytes | bytearray | memoryview, what: str) -> Any:
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
        src.pos = _SPACE.match(src.buf, src.pos).end()  # type: ignore[union-attr]  # matches always (the empty string too)
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
        if isinstance(item, dict) and isinstance(item.get("Records"), list) and not looks_like_event(item):
            yield from item["Records"]
        else:
            yield item


def _array_items(src: _Buffer) -> Iterator[Any]:
    """The elements of the array whose "[" ends before ``src.pos``; past its "]" after."""
    count = 0
    while True:
        src.pos = _AFTER_ITEM.match(src.buf, src.pos).end()  # type: ignore[union-attr]  # matches always (the empty string too)
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


def scan_items(buf: bytes | bytearray) -> tuple[Events, str | None]:
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
        if self._path is None:
            raise FileFailed("nothing to read: neither bytes nor a path")
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
        if src is None:  # only iterated through __iter__, which sets it first
            return
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
