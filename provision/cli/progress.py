"""A live progress line for long imports (files, events, events/s), on stderr, only on a terminal."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from rich.console import Console
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text


class _GoneIsFine:
    """stderr, where a write to a terminal that was closed (SIGHUP: the write fails with EIO)
    is dropped: a live line must never turn a clean stop into a traceback."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stderr

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except OSError:
            return len(text)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except OSError:
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def stderr_console() -> Console:
    """A rich console on stderr that survives the terminal going away."""
    return Console(file=_GoneIsFine())  # type: ignore[arg-type]


class ImportProgress:
    """``with ImportProgress(enabled) as p: run(progress=p.update)``; update takes the running summary."""

    def __init__(self, enabled: bool, console: Console | None = None, min_interval: float = 0.1) -> None:
        self.enabled = enabled
        self.console = console or stderr_console()
        self.min_interval = min_interval
        self._live: Live | None = None
        self._started = time.monotonic()
        self._last = 0.0
        self._summary: Any = None  # the running summary: its counts are final at the end

    def __enter__(self) -> "ImportProgress":
        if self.enabled:
            # A spinner until the first count: reaching S3 or Elasticsearch can take seconds.
            self._live = Live(Spinner("dots", "starting import (reaching the sources and Elasticsearch)…"),
                              console=self.console, transient=True, refresh_per_second=8)
            self._live.__enter__()
        return self

    def update(self, summary: Any) -> None:
        if self._live is None:
            return
        self._summary = summary
        now = time.monotonic()
        if now - self._last < self.min_interval:
            return
        self._last = now
        self._draw(summary, now)

    def _draw(self, summary: Any, now: float) -> None:
        if self._live is None:  # not on a terminal: nothing to draw on
            return
        elapsed = max(now - self._started, 1e-9)
        line = (
            f"files {summary.files_read:,} (skipped {summary.files_skipped:,})  "
            f"events {summary.events_read:,}  indexed {summary.events_indexed:,}  "
            f"present {summary.events_duplicate:,}  failed {summary.events_failed:,}  "
            f"{summary.events_read / elapsed:,.0f} events/s"
        )
        self._live.update(Text(line), refresh=True)

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            if self._summary is not None:  # the last frame shows the final counts, not the last throttled ones
                self._draw(self._summary, time.monotonic())
            self._live.__exit__(*exc)


class LiveLine:
    """One status line on stderr that a long-running import rewrites (``--follow``,
    ``--sqs-queue``); only on a terminal."""

    def __init__(self, enabled: bool, console: Console | None = None) -> None:
        self.enabled = enabled
        self.console = console or stderr_console()
        self._live: Live | None = None

    def __enter__(self) -> "LiveLine":
        if self.enabled:
            self._live = Live(Text("starting..."), console=self.console, transient=True, refresh_per_second=4)
            self._live.__enter__()
        return self

    def update(self, line: str) -> None:
        if self._live is not None:
            self._live.update(Text(line))

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)
