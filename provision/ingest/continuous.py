"""What the long-running imports (``--follow`` and ``--sqs-queue``) share: a stop switch
driven by SIGINT/SIGTERM, interval parsing, backoff while Elasticsearch is away, running
totals over many :class:`~provision.ingest.summary.ImportSummary` objects, and the live line.

One module, one job: keeping an import going. The rounds themselves are in
:mod:`provision.ingest.follow` (polling S3) and :mod:`provision.ingest.sqsqueue` (S3 notifications).
"""

from __future__ import annotations

import contextlib
import re
import signal
import threading
from datetime import datetime, timezone
from typing import Any, Iterator

from elasticsearch import ApiError, Elasticsearch, TransportError

from provision.core import interrupt
from provision.core.errors import CtstackError
from provision.cloudtrail.fields import TIMESTAMP
from provision.ingest.deadletter import DeadLetter
from provision.ingest.options import ImportOptions

INTERVAL_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h)?$")
INTERVAL_UNITS = {"s": 1, "m": 60, "h": 3600, None: 1}
MAX_BACKOFF = 60.0   # seconds between attempts while Elasticsearch is unavailable

# The states a round (or a queue batch) reports, in the live line and the NDJSON.
OK = "ok"
ES_UNAVAILABLE = "elasticsearch unavailable"
STOPPING = "stopping"

COUNTS = ("files_read", "files_skipped", "files_failed", "events_read", "events_indexed", "events_duplicate", "events_failed",
          "events_unknown", "events_filtered")


def parse_interval(text: str | float) -> float:
    """``300``, ``30s``, ``5m``, ``1h`` -> seconds (at least 1)."""
    match = INTERVAL_RE.match(str(text).strip().lower())
    if not match:
        raise CtstackError(f"Cannot read the interval {text!r}: use seconds (30, 30s), minutes (5m) or hours (1h).")
    seconds = float(match.group(1)) * INTERVAL_UNITS[match.group(2)]
    if seconds < 1:
        raise CtstackError(f"The interval must be at least 1 second (got {text!r}).")
    return seconds


def backoff(attempt: int, ceiling: float = MAX_BACKOFF) -> float:
    """Seconds to wait before attempt ``attempt`` (1, 2, 4, ... up to ``ceiling``)."""
    return min(ceiling, 2.0 ** max(0, attempt - 1))


def es_available(es: Elasticsearch) -> bool:
    """Whether Elasticsearch answers at all (any HTTP answer counts: it is up)."""
    try:
        es.options(request_timeout=10, max_retries=0).cluster.health()
        return True
    except ApiError:
        return True
    except TransportError:
        return False


def newest_event_time(es: Elasticsearch, index_prefix: str) -> datetime | None:
    """The newest ``@timestamp`` searchable in ``<index_prefix>-*`` (None if none or unreachable)."""
    try:
        body = es.options(request_timeout=10, max_retries=0).search(
            index=f"{index_prefix}-*", size=0, aggs={"newest": {"max": {"field": TIMESTAMP}}},
            ignore_unavailable=True, allow_no_indices=True,
        ).body
    except (ApiError, TransportError):
        return None
    value = body.get("aggregations", {}).get("newest", {}).get("value")
    return datetime.fromtimestamp(value / 1000, tz=timezone.utc) if value is not None else None


def lag_seconds(newest: datetime | None, now: datetime | None = None) -> float | None:
    if newest is None:
        return None
    return round(((now or datetime.now(timezone.utc)) - newest).total_seconds(), 1)


def add_counts(totals: dict[str, Any], summary: Any) -> None:
    """Add one import summary's counts (and failure reasons) to running ``totals``."""
    for name in COUNTS:
        totals[name] = totals.get(name, 0) + getattr(summary, name)
    reasons = totals.setdefault("failure_reasons", {})
    for reason, count in summary.failure_reasons.items():
        reasons[reason] = reasons.get(reason, 0) + count


class StopSwitch:
    """Set by the first SIGINT/SIGTERM/SIGHUP (finish what is in flight, then stop); a second
    signal ends the process at once (what was not acknowledged is imported again by the
    next run: documents' ``_id`` is the eventID, so nothing doubles)."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal: int | None = None

    def is_set(self) -> bool:
        return self.event.is_set()

    def wait(self, seconds: float) -> bool:
        return self.event.wait(seconds)

    def set(self) -> None:
        self.event.set()

    def _handle(self, signum: int, _frame: Any) -> None:
        if self.event.is_set():
            interrupt.hard_exit(signum)  # the dead-letter file keeps what it holds, or goes when empty
        self.signal = signum
        self.event.set()

    @contextlib.contextmanager
    def on_signals(self) -> Iterator["StopSwitch"]:
        """Install the handlers (main thread only) for the duration of the block."""
        previous = {s: signal.signal(s, self._handle) for s in interrupt.SIGNALS}
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


def format_lag(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def options_for_many_runs(options: ImportOptions) -> tuple[ImportOptions, DeadLetter]:
    """``options`` for a process that imports round after round (``--follow``) or batch after
    batch (``--sqs-queue``), and their one dead-letter file for the whole process (open; the
    caller closes it)."""
    dead_letter = DeadLetter(options.dead_letter_path, options.keep_access_keys)
    return options.but(dead_letter=dead_letter), dead_letter
