"""Local folders and files as :class:`~provision.cloudtrail.records.SourceFile` objects.

Folders are walked lazily in sorted order; a FIFO, socket or device is never read, and a file
that is not a log file is handed out with a reason, so every file shows in the summary.
"""

from __future__ import annotations

import functools
import os
import stat
from pathlib import Path
from typing import Iterable, Iterator

from provision.core.errors import CtstackError
from provision.cloudtrail.records import EVENT_FILE_SUFFIXES, NOT_A_LOG_FILE_NAME, NOT_REGULAR, FileFailed, SourceFile


def read_local(path: str | os.PathLike) -> bytes:
    """A local file's bytes; FileFailed for a FIFO, socket or device, which is never read
    (opened without blocking, so a FIFO nobody writes cannot hang the run)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with open(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise FileFailed(NOT_REGULAR)
        return fh.read()


def _named_file(path: Path) -> SourceFile:
    """A file named on the command line: always tried, whatever its name or type."""
    try:
        size = path.stat().st_size
    except OSError:
        size = None
    return SourceFile(name=str(path), read=lambda: read_local(path), size=size, path=str(path))


def local_files(paths: Iterable[str | os.PathLike]) -> Iterator[SourceFile]:
    """Files under each path (folders walked recursively, in sorted order, lazily).

    A file named directly is always tried (a FIFO, socket or device then fails, unread);
    inside a folder only regular files with an event-file suffix are read, and the rest
    are handed out with a skip reason so they show in the summary. A sub-folder that
    cannot be listed is a failed source with the reason. Missing paths raise
    FileNotFoundError before anything is read.
    """
    named = [Path(p) for p in paths]
    for path in named:
        if not path.exists():
            raise FileNotFoundError(f"no such file or folder: {path}")
    for path in named:
        if path.is_dir():
            yield from _walk(path)
        else:
            yield _named_file(path)


def _walk(folder: str | os.PathLike) -> Iterator[SourceFile]:
    """What :func:`os.walk` (top-down, links to folders not followed) would find, in sorted
    order, from :func:`os.scandir` itself: each file is stat'ed once (a re-run over years of
    logs walks every file). Lazy per folder: memory grows with one folder's entries and the
    folders still to walk; no recursion, so no depth is too deep."""
    waiting: list[str] = [os.fspath(folder)]  # a stack: the next folder to list is last
    while waiting:
        current = waiting.pop()
        try:
            with os.scandir(current) as listing:
                entries = sorted(listing, key=_entry_name)
        except OSError as err:  # a folder that cannot be listed (permission): failed, with the reason
            yield SourceFile(name=str(err.filename or current), read=bytes, fail_reason=f"could not list the folder: {err.strerror or err}")
            continue
        folders = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if _is_dir(entry):
                if not entry.is_symlink():
                    folders.append(entry.path)
                continue
            yield _listed_file(entry)
        waiting.extend(reversed(folders))


def _listed_file(entry: os.DirEntry) -> SourceFile:
    path = entry.path
    try:
        st = entry.stat()
        regular, size = stat.S_ISREG(st.st_mode), st.st_size
    except OSError:  # gone, unreadable or a dangling link: reading it says why
        regular, size = True, None
    if not regular:
        reason: str | None = NOT_REGULAR
    elif entry.name.lower().endswith(EVENT_FILE_SUFFIXES):
        reason = None
    else:
        reason = NOT_A_LOG_FILE_NAME
    return SourceFile(name=path, read=functools.partial(read_local, path), size=size, skip_reason=reason, path=path)


def _entry_name(entry: os.DirEntry) -> str:
    return entry.name


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def source_files(sources: Iterable[str]) -> Iterator[SourceFile]:
    """SourceFiles for command-line sources (folders and files). A folder named that holds
    no file at all is refused, before anything is read: the user asked for logs there."""
    sources = list(sources)
    try:
        for source in sources:
            if os.path.isdir(source) and not _holds_a_file(source):
                raise CtstackError(f"{source} holds no files: there is nothing to read there (check the path).")
        yield from local_files(sources)
    except FileNotFoundError as err:
        raise CtstackError(f"Cannot read the sources: {err}.") from None


def _holds_a_file(folder: str) -> bool:
    """Whether the walk of ``folder`` would find any (non-hidden) file; stops at the first.
    Folders that cannot be listed count as holding none, as nothing can be read there."""
    return any(found.fail_reason is None for found in _walk(folder))
