"""Keep up with a CloudTrail bucket: import, sleep, import what is new, repeat.

Each round is a one-shot S3 import (:class:`provision.sources.s3source.S3Import` fed to
:func:`provision.ingest.importer.run_import`) whose listing covers only the day prefixes that can
hold new objects: today and yesterday in UTC (late deliveries just after midnight), for
every account and region the filters allow, pruned by :mod:`provision.sources.s3layout`. The S3
import state skips objects earlier rounds imported, so a round downloads only new ones.
The first round may go further back (``--since``): a backfill, then the follow.

Nothing is lost: an object is remembered only once all its events are acknowledged by
Elasticsearch, so an object a round could not finish (Elasticsearch away, a signal) is
listed and imported again by a later round or the next run, and its events, created with
``_id`` = eventID, are never doubled. While Elasticsearch is unavailable the follower says
so and retries with backoff (1, 2, 4 ... 60 s) instead of waiting a whole interval.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Iterator, Sequence

from elasticsearch import ApiError, Elasticsearch, TransportError

from provision.core.connection import es_url, EsConfig, connected, describe_error
from provision.ingest.continuous import (
    ES_UNAVAILABLE, OK, STOPPING, StopSwitch, add_counts, backoff, es_available, lag_seconds, newest_event_time,
    options_for_many_runs,
)
from provision.core.errors import CtstackError
from provision.ingest.importer import run_import
from provision.ingest.options import ImportOptions
from provision.cloudtrail.records import SourceFile
from provision.sources.s3layout import S3Filters, is_s3_url
from provision.sources.s3options import S3Options

DEFAULT_INTERVAL = 300.0


@dataclass
class FollowSummary:
    """What a follower did, for its exit code and final report."""

    rounds: int = 0
    totals: dict[str, Any] = field(default_factory=dict)
    last_round: dict[str, Any] | None = None
    stopped_by: int | None = None     # the signal number, when one stopped it
    dead_letter: str | None = None

    @property
    def ok(self) -> bool:
        """True when the last round finished with every object it took imported."""
        last = self.last_round
        return last is not None and last["state"] in (OK, STOPPING) and last["ok"]

    def to_dict(self) -> dict[str, Any]:
        return {"rounds": self.rounds, "ok": self.ok, "stopped_by_signal": self.stopped_by,
                "dead_letter": self.dead_letter, "totals": self.totals, "last_round": self.last_round}


def round_filters(filters: S3Filters, today: datetime, first: bool) -> S3Filters:
    """The filters of one round: today and yesterday (UTC), or the user's ``--since`` for
    the first round (a backfill). An ``--until`` in the past leaves nothing to follow."""
    yesterday = today.date() - timedelta(days=1)
    if filters.until is not None and filters.until < yesterday:
        raise CtstackError(f"--until {filters.until} is in the past: there is nothing new to follow; drop --until or --follow.")
    if first and filters.since is not None:
        return filters
    return dataclasses.replace(filters, since=max(filters.since or yesterday, yesterday))


def _until_stopped(files: Iterable[SourceFile], stop: StopSwitch) -> Iterator[SourceFile]:
    """The files, until a stop is asked for: what is handed out is finished, the rest waits."""
    for file in files:
        if stop.is_set():
            return
        yield file


class Follower:
    """Rounds of S3 import over ``urls`` into ``es``; :meth:`run` until stopped.

    S3 is read as ``s3_options`` say (:class:`~provision.sources.s3options.S3Options`: profile,
    endpoint_url, workers, full, session); each round imports with ``options``
    (:class:`~provision.ingest.options.ImportOptions`: index prefix, fields profile, processes,
    dead_letter_path, ``filters`` whose outside events are counted, not imported ...; keyword
    ``changes`` to them are accepted too).
    ``on_round(report)`` gets each round's report (a JSON-able dict); ``progress`` is
    run_import's, for a live line within a round.
    """

    def __init__(self, es: Elasticsearch, urls: Sequence[str], filters: S3Filters | None = None, *,
                 interval: float = DEFAULT_INTERVAL, options: ImportOptions | None = None,
                 s3_options: S3Options | dict[str, Any] | None = None, stop: StopSwitch | None = None,
                 on_round: Callable[[dict[str, Any]], None] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 **changes: Any) -> None:
        if not urls or not all(is_s3_url(u) for u in urls):
            raise CtstackError("--follow needs s3://BUCKET or s3://BUCKET/PREFIX sources only (a folder does not grow by itself).")
        self.es = es
        self.urls = list(urls)
        self.filters = filters or S3Filters()
        self.interval = interval
        self.s3_options = S3Options.of(s3_options)
        self.stop = stop or StopSwitch()
        self.on_round = on_round
        self.clock = clock
        self.import_options, self.dead_letter = options_for_many_runs(ImportOptions.of(options, **changes))
        self.index_prefix = self.import_options.index_prefix
        self.summary = FollowSummary()
        self._installed = False

    def _session(self) -> None:
        """One boto3 session (``--profile``'s) for every round: credentials are loaded once
        and refreshed by botocore."""
        if self.s3_options.session is None:
            from provision.sources.s3access import aws_session

            self.s3_options = self.s3_options.but(session=aws_session(self.s3_options.profile))

    def run_round(self) -> dict[str, Any]:
        """One round: list, import what is new, report. Never raises for an unavailable
        Elasticsearch (the report's state says so); raises CtstackError for anything else
        that stops an import (S3 access, credentials)."""
        from provision.sources.s3source import S3Import

        self.summary.rounds += 1
        number = self.summary.rounds
        started = time.monotonic()
        now = self.clock()
        filters = round_filters(self.filters, now, first=number == 1)
        self._session()
        report: dict[str, Any] = {"round": number, "at": now.isoformat(timespec="seconds"), "since": filters.since.isoformat() if filters.since is not None else None}
        # --full re-reads what the first round lists; later rounds go by the state it rewrote.
        s3 = S3Import.with_options(self.urls, self.s3_options.but(filters=filters, full=self.s3_options.full and number == 1),
                                   es=self.es, index_prefix=self.index_prefix)
        summary = None
        try:
            files = s3.files()
            try:
                summary = run_import(self.es, _until_stopped(files, self.stop),
                                     self.import_options.but(install=not self._installed, on_file_done=s3.on_file_done))
                self._installed = True
            finally:
                files.close()
        except (CtstackError, TransportError, ApiError) as err:
            if es_available(self.es):
                if isinstance(err, CtstackError):
                    raise
                raise CtstackError(describe_error(err, EsConfig(url=es_url(self.es)))) from None
            report.update(state=ES_UNAVAILABLE, ok=False, error=str(err) if isinstance(err, CtstackError) else describe_error(err, EsConfig(url=es_url(self.es))))
        finally:
            s3.close()
        report.update(s3.stats)
        if summary is not None:
            add_counts(report, summary)
            add_counts(self.summary.totals, summary)
            report["failure_reasons"] = summary.failure_reasons
            report["failed_files"] = summary.failed_files[:20]
            if summary.aborted:
                report.update(state=ES_UNAVAILABLE, ok=False, error=summary.aborted)  # it stopped answering mid-round
            else:
                report.update(state=STOPPING if self.stop.is_set() else OK, ok=summary.ok, error=None)
            if summary.dead_letter:
                self.summary.dead_letter = summary.dead_letter
        newest = newest_event_time(self.es, self.index_prefix)
        report["newest_event"] = newest.isoformat(timespec="seconds") if newest else None
        report["lag_seconds"] = lag_seconds(newest, self.clock())
        report["seconds"] = round(time.monotonic() - started, 3)
        self.summary.last_round = report
        return report

    def run(self, max_rounds: int | None = None) -> FollowSummary:
        """Rounds until stopped (or ``max_rounds``): after a clean round wait ``interval``,
        while Elasticsearch is unavailable retry with backoff."""
        try:
            outages = 0
            while not self.stop.is_set():
                report = self.run_round()
                outages = outages + 1 if report["state"] == ES_UNAVAILABLE else 0
                wait = min(backoff(outages), self.interval) if outages else self.interval
                report["next_round_in"] = None if self.stop.is_set() else wait
                if self.on_round:
                    self.on_round(report)
                if max_rounds is not None and self.summary.rounds >= max_rounds:
                    break
                if self.stop.wait(wait):
                    break
            self.summary.stopped_by = self.stop.signal
        finally:
            self.close()
        return self.summary

    def close(self) -> None:
        """Close the run's dead-letter file (removed if nothing failed in any round)."""
        self.dead_letter.close()


def follow(cfg: EsConfig, urls: Sequence[str], filters: S3Filters | None = None, **options: Any) -> FollowSummary:
    """Connect (one clear error if Elasticsearch is unreachable at the start), then follow
    the bucket until stopped; ``options`` are :class:`Follower`'s, plus ``max_rounds``."""
    max_rounds = options.pop("max_rounds", None)
    with connected(cfg) as es:
        return Follower(es, urls, filters, **options).run(max_rounds)
