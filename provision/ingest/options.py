"""What an import does with the events it reads: one set of options for :func:`run_import`,
``import_sources``, ``--follow`` and ``--sqs-queue``."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from provision.cloudtrail.records import MAX_FILE_BYTES, SourceFile
from provision.core import settings
from provision.ingest.bulksend import MAX_RETRIES
from provision.ingest.summary import FileOutcome, ImportSummary
from provision.sources.filters import Filters

if TYPE_CHECKING:
    from provision.ingest.deadletter import DeadLetter

CHUNK_SIZE = settings.BULK_SIZE     # documents per bulk request ...
MAX_CHUNK_BYTES = 8 * 1024 * 1024   # ... or this many bytes, whichever comes first
BULK_REQUESTS = settings.BULK_REQUESTS


@dataclass
class ImportOptions:
    """``index_prefix``: indices are ``<prefix>-YYYY.MM``; ``profile``: the fields profile
    (minimal, standard, full); ``keep_access_keys``: store access key IDs; ``filters``: events
    outside them are counted as filtered, not imported. Failed events go to a new file at
    ``dead_letter_path`` (default: a unique name), or to ``dead_letter``, an open file the caller
    owns (one for many runs). ``processes`` convert files (None: one per core, up to 4; 0: in
    this process); ``bulk_requests`` requests of at most ``chunk_size`` documents and
    ``max_chunk_bytes`` bytes are kept in flight; a 429 is retried ``max_retries`` times from
    ``initial_backoff`` seconds; a file expanding past ``max_file_bytes`` fails unread.
    ``install``: install the index template first. ``full``: read every file again, also those
    imported unchanged by an earlier run (``import_sources`` skips them otherwise; S3 objects
    too). ``on_file_done(file, outcome)`` and
    ``progress(summary)`` are called as files finish."""

    index_prefix: str = settings.INDEX_PREFIX
    profile: str = "standard"
    keep_access_keys: bool = False
    filters: Filters | None = None
    dead_letter_path: str | os.PathLike | None = None
    dead_letter: DeadLetter | None = None
    processes: int | None = None
    chunk_size: int = CHUNK_SIZE
    max_chunk_bytes: int = MAX_CHUNK_BYTES
    bulk_requests: int = BULK_REQUESTS
    max_retries: int = MAX_RETRIES
    initial_backoff: float = 1.0
    max_file_bytes: int = MAX_FILE_BYTES
    install: bool = True
    full: bool = False
    on_file_done: Callable[[SourceFile, FileOutcome], None] | None = None
    progress: Callable[[ImportSummary], None] | None = None

    def but(self, **changes: Any) -> ImportOptions:
        """A copy with ``changes`` (an unknown name is a TypeError)."""
        return dataclasses.replace(self, **changes) if changes else self

    @classmethod
    def of(cls, options: ImportOptions | None, **changes: Any) -> ImportOptions:
        """``options`` (default ones when None) with ``changes``: the keyword form callers use."""
        return (options or cls()).but(**changes)
