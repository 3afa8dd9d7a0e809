"""What the import keeps while documents are in flight: per file (or part of a streamed
file) its outcome, its converted bulk lines and how many documents await an answer; per bulk
request (:class:`Chunk`) whose documents it carries."""

from __future__ import annotations

import itertools
from typing import Any

from provision.cloudtrail.decode import decode_events
from provision.cloudtrail.itemstream import ItemStream
from provision.cloudtrail.records import SourceFile, dead_letter_copy
from provision.ingest.bulklines import ConvertedFile
from provision.ingest.summary import FileOutcome


class FileParts:
    """A file's parts still in flight (a streamed file comes in several), and whether its
    last part has been seen: the file is done when both say so."""

    __slots__ = ("open", "last_seen")

    def __init__(self) -> None:
        self.open = 0
        self.last_seen = False


class FileInFlight:
    """Bookkeeping for one file (or one part of a streamed file) while its documents are
    in flight."""

    __slots__ = ("source", "outcome", "parts", "pending", "read_done", "raw", "converted", "_events")

    def __init__(self, source: SourceFile, previous: FileInFlight | None = None) -> None:
        self.source = source
        self.outcome: FileOutcome = previous.outcome if previous is not None else FileOutcome()
        self.parts: FileParts = previous.parts if previous is not None else FileParts()
        self.parts.open += 1
        self.pending = 0
        self.read_done = False
        self.raw: bytes | None = None                  # the file as read, and ...
        self.converted: ConvertedFile | None = None    # ... its bulk lines (the body until cut into chunks)
        self._events: list | None = None               # document number -> original event, when needed

    def event(self, document: int) -> Any:
        """The original event of the file's ``document``-th document (for the dead-letter
        file: rare, so the file is decoded again rather than kept decoded; a streamed file's
        part is streamed again up to its last event)."""
        if self._events is None:
            converted = self.lines
            if converted.streamed:
                items = ItemStream(self.raw, None if self.raw is not None else self.source.path, max_bytes=1 << 62)
                events = list(itertools.islice(items, converted.first_event, converted.first_event + converted.events))
            else:
                events = decode_events(self.source.name, self.raw or b"")
            self._events = [events[position] for position in converted.positions()]
        return dead_letter_copy(self._events[document])[0]

    @property
    def lines(self) -> ConvertedFile:
        """Its converted bulk lines: there while its documents are in flight."""
        if self.converted is None:
            raise RuntimeError(f"{self.source.name}: its documents are no longer in flight")
        return self.converted

    def cut(self) -> None:
        """Every document is in a chunk: the body goes (chunks hold their bytes until sealed)."""
        if self.converted is not None:
            self.converted.body = b""  # its ends stay: a retried chunk cuts its own body with them

    def release(self) -> None:
        self.raw = self.converted = self._events = None


class Chunk:
    """One bulk request's worth of documents: ``parts`` of files' bulk lines while it is
    built, and whose documents they are, ``segments`` of (file, first document number,
    count), in order. :meth:`seal` joins the parts into the request's body and lets them go,
    so a file's converted lines are held only until its last chunk is sealed, not until
    Elasticsearch answers (the chunk's own body serves retries)."""

    __slots__ = ("parts", "count", "size", "segments", "data")

    def __init__(self) -> None:
        self.parts: list[bytes | memoryview] = []
        self.count = 0
        self.size = 0
        self.segments: list[tuple[FileInFlight, int, int]] = []
        self.data: bytes | None = None

    def add(self, state: FileInFlight, first: int, count: int, lines: memoryview, start: int, end: int) -> None:
        """Documents first..first+count-1 of ``state``'s file: bytes start..end of its ``lines``."""
        self.parts.append(lines[start:end])
        self.segments.append((state, first, count))
        self.count += count
        self.size += end - start

    def seal(self) -> Chunk:
        """The body joined (one copy of each document's bytes), the parts let go."""
        if self.data is None:
            self.data = b"".join(self.parts)
            for part in self.parts:
                if isinstance(part, memoryview):
                    part.release()
            self.parts = []
        return self

    def body(self) -> bytes:
        self.seal()
        assert self.data is not None
        return self.data

    def body_of(self, which: list[int]) -> bytes:
        """The bulk body of some of the chunk's documents (by their number in the chunk),
        cut from the chunk's body with each file's document ends."""
        body = self.body()
        bounds: list[tuple[int, int]] = []
        offset = 0  # where the segment's lines start in the chunk's body
        for state, first, count in self.segments:
            lines = state.lines
            shift = offset - lines.start(first)
            bounds.extend((shift + lines.start(d), shift + lines.ends[d]) for d in range(first, first + count))
            offset = shift + lines.ends[first + count - 1]
        return b"".join([body[bounds[i][0]:bounds[i][1]] for i in which])
