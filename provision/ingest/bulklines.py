"""One file's events to bulk request lines: decode, documents, ids, serialisation.

Plain data in and out (file names and bytes, options; one NDJSON body per file with where
each document's lines end, and the failures), so it runs in worker processes as well as
here (:class:`provision.ingest.convert.Converter` decides where). Nothing here talks to
Elasticsearch.
"""

from __future__ import annotations

import itertools
from array import array
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

import orjson

from provision.cloudtrail import records
from provision.cloudtrail.decode import decode_events, read_bytes
from provision.cloudtrail.documents import DocumentError, document_and_line, document_id, index_for
from provision.cloudtrail.itemstream import ItemStream
from provision.cloudtrail.records import (GZIP_MAGIC, MAX_FILE_BYTES, SNIFF_ITEMS, FileFailed, SkipFile, SourceFile, StreamIt, dead_letter_copy,
                                          is_digest_name, looks_like_event)
from provision.sources.filters import Filters
from provision.sources.local import read_local

# A streamed file (one past records.STREAM_AFTER_BYTES) is converted in the importing process
# in parts of about this many bytes of bulk lines, each handed on as soon as it is built.
PART_BYTES = 8 * 1024 * 1024
# A gzipped file whose text is past this (gzip's trailer says so before anything is read) is
# converted item by item instead of decoded whole: the converting process then holds one
# event, not all of them (decoded events take about 3x their text: the 1M bench's largest
# file is 9 MB of text, 28 MB decoded). Anything unusual is decoded whole, as before.
DECODE_WHOLE_BYTES = 4 * 1024 * 1024
_GZIP_HEADER_AND_TRAILER = 10 + 8  # the shortest gzip member: its trailer ends in ISIZE


@dataclass(frozen=True)
class ConvertOptions:
    index_prefix: str
    profile: str = "standard"
    keep_access_keys: bool = False
    max_file_bytes: int = MAX_FILE_BYTES
    filters: Filters | None = None  # events outside them become no document (counted)


@dataclass
class ConvertedFile:
    """One file, converted. ``body`` holds each document's bulk lines (action, source, both
    newline-terminated) in event order; ``ends[i]`` is where document i's lines end. Events
    that cannot be documents are in ``failures`` as (position in the file, reason, event);
    the positions of events outside the import's filters are in ``filtered``."""

    events: int = 0
    body: bytes | bytearray = b""
    ends: array = field(default_factory=lambda: array("Q"))
    failures: list[tuple[int, str, Any]] = field(default_factory=list)
    indices: list[str] = field(default_factory=list)
    filtered: list[int] = field(default_factory=list)
    skipped: str | None = None   # the file holds no events (SkipFile's reason)
    partly: str | None = None    # why the end of the file could not be read (its events were)
    stream: bool = False         # too large to decode whole: the importing process streams it
    streamed: bool = False       # a part of a streamed file: the last part has ``last`` ...
    last: bool = True
    first_event: int = 0         # ... and where in the file this part's first event is

    @property
    def documents(self) -> int:
        return len(self.ends)

    def start(self, document: int) -> int:
        return self.ends[document - 1] if document else 0

    def line(self, document: int) -> bytes | bytearray:
        """Document ``document``'s two bulk lines."""
        return self.body[self.start(document):self.ends[document]]

    def positions(self) -> list[int] | range:
        """Each document's event position in the file (to find its original event)."""
        if not self.failures and not self.filtered:
            return range(self.events)
        failed = {position for position, _, _ in self.failures}.union(self.filtered)
        return [p for p in range(self.events) if p not in failed]


def action_line(index: str, document_id: str, heads: dict[str, bytes]) -> bytes:
    """The bulk create action line for ``document_id`` in ``index``: the bytes
    ``orjson.dumps({"create": {"_index": index, "_id": document_id}})`` and a newline make,
    with the part up to the _id built once per index in ``heads`` (a file's few indices)."""
    head = heads.get(index)
    if head is None:
        head = heads[index] = b'{"create":{"_index":' + orjson.dumps(index) + b',"_id":'
    return head + orjson.dumps(document_id) + b"}}\n"


def convert_file(name: str, raw: bytes, options: ConvertOptions) -> ConvertedFile:
    """Decode one file (raw bytes, gzipped or not) and turn each event into its bulk lines.
    An event that cannot be a document fails alone; its failure carries what the
    dead-letter file can hold of it. A file that expands past records.STREAM_AFTER_BYTES comes back
    as ``stream`` (:func:`convert_parts` then converts it)."""
    if _large_text(name, raw):
        converted = _converted_item_by_item(name, raw, options)
        if converted is not None:
            return converted
    try:
        events = decode_events(name, raw, options.max_file_bytes, records.STREAM_AFTER_BYTES)
    except SkipFile as skip:
        return ConvertedFile(skipped=skip.reason)
    except StreamIt:
        return ConvertedFile(stream=True)
    return next(_converted_parts(name, events, options, None))


def _large_text(name: str, raw: bytes) -> bool:
    if raw[:2] != GZIP_MAGIC or len(raw) < _GZIP_HEADER_AND_TRAILER or is_digest_name(name):
        return False
    size = int.from_bytes(raw[-4:], "little")  # ISIZE: the last member's length (mod 2**32)
    return DECODE_WHOLE_BYTES < size <= records.STREAM_AFTER_BYTES


def _converted_item_by_item(name: str, raw: bytes, options: ConvertOptions) -> ConvertedFile | None:
    """The file converted as it is read, item by item, into one ConvertedFile; None (decode
    it whole instead) when its first items are no events or its end cannot be read, so
    such files get exactly the answers decoding whole gives them."""
    items = ItemStream(raw, None, min(options.max_file_bytes, records.STREAM_AFTER_BYTES))
    stream = iter(items)
    head = list(itertools.islice(stream, SNIFF_ITEMS))  # as decoding whole looks
    if not any(looks_like_event(item) for item in head):
        return None
    converted = next(_converted_parts(name, itertools.chain(head, stream), options, None))
    return None if items.partly is not None else converted


def convert_parts(name: str, items: ItemStream, options: ConvertOptions) -> Iterator[ConvertedFile]:
    """A streamed file's parts, of about PART_BYTES of bulk lines each, in order; the last
    has ``last`` set and says whether the file was only ``partly`` read."""
    return _converted_parts(name, items, options, PART_BYTES)


def _converted_parts(name: str, events: Iterable[Any], options: ConvertOptions,
                     part_bytes: int | None) -> Iterator[ConvertedFile]:
    prefix, profile, keep = options.index_prefix, options.profile, options.keep_access_keys
    passes = options.filters.passes if options.filters else None  # looked up once per file
    in_memory = events if isinstance(events, list) else None
    streamed = part_bytes is not None
    part = ConvertedFile(body=bytearray(), last=False, streamed=streamed)
    indices: set[str] = set()
    action_heads: dict[str, bytes] = {}
    for number, event in enumerate(events):
        if in_memory is not None:
            # Each event is let go once converted, so a large file's memory moves from its
            # events to its bulk lines instead of holding both.
            in_memory[number] = None
        position = number - part.first_event
        try:
            doc, doc_line = document_and_line(event, profile, keep, name)
            index = index_for(prefix, doc)
            action = action_line(index, document_id(event), action_heads)
        except DocumentError as err:
            copy, note = dead_letter_copy(event)
            part.failures.append((position, f"{err} ({note})" if note else str(err), copy))
            part.events += 1
            continue
        if passes is not None and not passes(doc):
            part.filtered.append(position)
            part.events += 1
            continue
        indices.add(index)
        body = part.body
        body += action
        body += doc_line
        part.ends.append(len(body))
        part.events += 1
        if part_bytes is not None and len(body) >= part_bytes:
            part.indices = sorted(indices)
            yield part
            part = ConvertedFile(body=bytearray(), last=False, streamed=True, first_event=part.first_event + part.events)
            indices = set()
    part.indices, part.last = sorted(indices), True
    part.partly = getattr(events, "partly", None)
    yield part


def convert_batch(files: list[tuple[str, bytes | None, str | None]], options: ConvertOptions
                  ) -> list[tuple[ConvertedFile | str, bytes | None]]:
    """:func:`convert_file` for each (name, raw bytes, or else a local path to read here): one
    worker round trip for many files. Gives (the converted file, or why it could not be
    read; the bytes read here, which the importer keeps for its dead-letter file)."""
    results: list[tuple[ConvertedFile | str, bytes | None]] = []
    for name, raw, path in files:
        if raw is not None:
            results.append((convert_or_reason(name, raw, options), None))
            continue
        if path is None:  # neither bytes nor a path: nothing to read (the converter never sends one)
            results.append(("could not read: no bytes and no path", None))
            continue
        local = path
        raw, failed = read_bytes(SourceFile(name, lambda: read_local(local)), options.max_file_bytes)
        if failed is not None or raw is None:
            results.append((failed or "could not read", None))
        else:
            results.append((convert_or_reason(name, raw, options), raw))
    return results


def convert_or_reason(name: str, raw: bytes, options: ConvertOptions) -> ConvertedFile | str:
    """:func:`convert_file`, or why the file could not be converted: one file that breaks
    the converter (out of memory, an unforeseen input) fails alone, with the reason."""
    try:
        return convert_file(name, raw, options)
    except FileFailed as err:
        return err.reason
    except Exception as err:
        return f"could not convert: {type(err).__name__}: {err}"
