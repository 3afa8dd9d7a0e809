"""The dead-letter file: failed events with their reason, one JSON object per line."""

from __future__ import annotations

import os
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from provision.cloudtrail.scrub import scrubbed_line
from provision.core import interrupt
from provision.core.errors import CtstackError


class DeadLetter:
    """Failed events with their reason, one JSON object per line, scrubbed like documents
    (:func:`provision.cloudtrail.scrub.scrubbed_line`: no access key IDs unless ``keep_access_keys``,
    never credential material).

    The file is created when the run starts, so a path that cannot be written fails before
    anything is read: with O_EXCL and mode 0600, so an existing file (or a symlink, which is
    never followed) is refused rather than appended to, and two runs never share one. The
    default name is unique (time and a random part). Removed at the end if nothing failed.
    """

    def __init__(self, path: str | os.PathLike | None = None, keep_access_keys: bool = False, *,
                 discard: bool = False) -> None:
        self.keep_access_keys = keep_access_keys
        self.written = 0
        self.discard = discard
        self._fh = None
        if discard:  # count only (bulk_bodies: nothing is sent, so nothing fails there)
            self.path = Path(os.devnull)
            return
        self.path, fd = _create_exclusive(path)
        self._fh = os.fdopen(fd, "wb")
        interrupt.on_hard_exit(self, self.close)  # a second Ctrl-C: keep what it holds, leave no empty file

    def write(self, source: str, reason: str, event: Any) -> None:
        self.written += 1
        if self._fh is None:
            return
        record = {"reason": reason, "source": source, "event": event}
        try:
            line = scrubbed_line(record, self.keep_access_keys, orjson.OPT_APPEND_NEWLINE)
        except (TypeError, RecursionError) as err:  # an event orjson cannot write back (too deep)
            record["event"] = f"(the event could not be written back: {type(err).__name__}: {err})"
            line = scrubbed_line(record, self.keep_access_keys, orjson.OPT_APPEND_NEWLINE)
        self._fh.write(line)

    @property
    def used(self) -> bool:
        return self.written > 0 and not self.discard

    def close(self) -> None:
        if self._fh is None:
            return
        interrupt.on_hard_exit(self, None)
        unused = not self.written
        self._fh.close()
        self._fh = None
        if unused:
            try:
                os.unlink(self.path)
            except OSError:
                pass


def _create_exclusive(path: str | os.PathLike | None) -> tuple[Path, int]:
    """Create the dead-letter file (0600, O_EXCL: never an existing file or a symlink)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    while True:
        target = Path(path) if path else Path(
            f"ctstack-dead-letter-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}.ndjson")
        try:
            return target, os.open(target, flags, 0o600)
        except FileExistsError:
            if path is None:
                continue  # another run took this default name: draw another
            raise CtstackError(f"The dead-letter file {target} already exists; give a new path with --dead-letter "
                               "(ctstack never appends to an existing file).") from None
        except FileNotFoundError:
            if not target.parent.is_dir():
                raise CtstackError(f"Cannot create the dead-letter file {target}: the folder {target.parent} does not exist.") from None
            raise CtstackError(f"Cannot create the dead-letter file {target}: the folder {target.parent} "
                               "does not take new files (choose a writable folder with --dead-letter).") from None
        except OSError as err:
            raise CtstackError(f"Cannot create the dead-letter file {target}: {err.strerror or err}.") from None
