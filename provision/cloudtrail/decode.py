"""One file's bytes to its events (:func:`decode_events`), and files in turn to what was read
(:func:`read_files`): a file past STREAM_AFTER_BYTES gives its events one by one through
:class:`~provision.cloudtrail.itemstream.ItemStream`."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

import orjson

FAST_INFLATE: Any  # the module gunzip() tries first, or None
try:  # ISA-L's inflate: the same bytes in about half zlib's CPU (pip install 'ctstack[fast]')
    from isal import isal_zlib as FAST_INFLATE
except ImportError:  # no wheel for this platform: zlib, as always
    FAST_INFLATE = None

from provision.cloudtrail.itemstream import ItemStream, has_big_int, scan_items
from provision.cloudtrail import records
from provision.cloudtrail.records import (GZIP_MAGIC, INVALID_JSON, MAX_FILE_BYTES, NOT_GZIP, SNIFF_ITEMS, UTF8_BOM,
                                          Events, FileFailed, SkipFile, SourceFile, StreamIt, Unreadable, is_digest_name,
                                          looks_like_event, too_large)


def decode_events(name: str, raw: bytes | bytearray, max_bytes: int = MAX_FILE_BYTES, stream_after: int | None = None) -> Events:
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
        raw, partly = gunzip(raw, max_bytes, stream_after)
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
    if partly is None and not has_big_int(raw):
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # not one JSON document: read it item by item below
        else:
            return _events_of(data)
    events, first_error = scan_items(raw)
    if not any(looks_like_event(e) for e in events[:SNIFF_ITEMS]):
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
        if looks_like_event(data):
            return Events([data])
        raise SkipFile("no CloudTrail events (a JSON object without Records)")
    if isinstance(data, list):
        if not data:
            raise SkipFile("no CloudTrail events (empty array)")
        if not any(looks_like_event(item) for item in data[:SNIFF_ITEMS]):
            raise SkipFile("no CloudTrail events (an array without events)")
        return Events(data)
    raise SkipFile(f"no CloudTrail events (a JSON {type(data).__name__})")


def gunzip(raw: bytes | bytearray, max_bytes: int, stream_after: int | None = None,
           fast: Any = FAST_INFLATE) -> tuple[bytearray, str | None]:
    """The file's bytes un-gzipped (every member, as gzip does), never more than
    ``max_bytes`` (FileFailed) or ``stream_after`` (StreamIt), and why its end could not
    be read (None: all of it was). Raises SkipFile when nothing at all could be read.

    ``fast``: a zlib-compatible module tried first (ISA-L's when installed, None: zlib only).
    A file whose end it cannot read is read again with zlib, so what is kept of it and the
    reason are zlib's to the byte (ISA-L holds back a byte of a cut stream and words its
    errors its own way)."""
    if fast is not None:
        out, partly = _inflate(raw, max_bytes, stream_after, fast, (zlib.error, fast.error))
        if partly is None:
            return out, partly
    out, partly = _inflate(raw, max_bytes, stream_after, zlib, (zlib.error,))
    if partly and not out:
        raise SkipFile(partly)
    return out, partly


def _inflate(raw: bytes | bytearray, max_bytes: int, stream_after: int | None, library: Any,
             errors: tuple[type[Exception], ...]) -> tuple[bytearray, str | None]:
    limit = max_bytes if stream_after is None else min(max_bytes, stream_after)
    out = bytearray()
    data: bytes | bytearray | memoryview = raw
    partly = None
    while data:
        inflater = library.decompressobj(31)
        try:
            out += inflater.decompress(data, limit + 1 - len(out))
        except errors as err:
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
    return out, partly


@dataclass
class FileRead:
    """One file as the reader found it: its events, or why it has none to give."""

    source: SourceFile
    events: list | ItemStream | None = None
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
        # records.STREAM_AFTER_BYTES read when used: a test (or a tool) may set it smaller
        if source.path and (source.size or 0) > records.STREAM_AFTER_BYTES and not is_digest_name(source.name):
            yield FileRead(source, events=ItemStream(None, source.path, max_bytes))
            continue
        raw, failed = read_bytes(source, max_bytes)
        if failed is not None or raw is None:
            yield FileRead(source, failed=failed or "could not read")
            continue
        try:
            events = decode_events(source.name, raw, max_bytes, records.STREAM_AFTER_BYTES)
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
