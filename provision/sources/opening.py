"""Command-line sources, split once: local folders and files, and ``s3://`` URLs.

Import and hints both open their sources here, so a missing path or an empty folder is
refused the same way, before anything is read or any connection is made.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Iterator, Sequence

from provision.cloudtrail.records import SourceFile
from provision.core.errors import CtstackError
from provision.sources.local import source_files
from provision.sources.s3layout import is_s3_url


@dataclass
class OpenedSources:
    """``local``: the local files, lazily (the first already checked); ``urls``: the
    ``s3://`` URLs, for the caller's S3 reader (boto3 is loaded only when there are some)."""

    local: Iterator[SourceFile]
    urls: list[str]


def open_sources(sources: Sequence[str], nothing_given: str) -> OpenedSources:
    """Split ``sources`` into local files and ``s3://`` URLs. Raises :class:`CtstackError`
    with ``nothing_given`` when there are none, and for a missing path or a folder without
    files, before anything is read."""
    if not sources:
        raise CtstackError(nothing_given)
    urls = [s for s in sources if is_s3_url(s)]
    files = source_files([s for s in sources if not is_s3_url(s)])
    first = next(files, None)  # the checks run on the first file taken
    return OpenedSources(local=itertools.chain([first] if first else [], files), urls=urls)
