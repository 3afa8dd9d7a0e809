"""Automation hints: which console actions that change things people repeat, and the CLI for each.

The offline path reads CloudTrail files with the importer's own reader (:mod:`provision.cloudtrail.records`)
and turns each event into the importer's own document (:mod:`provision.cloudtrail.documents`, whose flags
come from :mod:`provision.cloudtrail.classify`), so its answer is the one Elasticsearch gives after an
import (:mod:`provision.analysis.hints_es` computes the same :class:`Hints` with aggregations).

Counts are over distinct events: an event seen twice (overlapping trails, a file copied twice)
counts once, identified by :func:`provision.cloudtrail.classify.event_id`. Memory is bounded by the number
of distinct events that pass the filters (a 16-byte digest each, about 100 bytes with the set's
overhead: ~1 GB per 10 million events) plus the number of distinct console actions, users and
days, and one file's events at a time; it does not grow with the number of files or with
duplicates.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Iterable

from provision.analysis import automation
from provision.cloudtrail import classify, decode, drift, records
from provision.cloudtrail import fields as F
from provision.cloudtrail.awscli import cli_command
from provision.cloudtrail.documents import DocumentError, document_id, to_document
from provision.sources.filters import Filters, iso, parse_timestamp
from provision.sources.s3options import S3Options
from provision.core.wording import reason_kind

DEFAULT_TOP = 20
TOP_USERS = 3


@dataclass
class Candidate:
    """One automation candidate: a console action that changes something."""

    provider: str
    action: str
    count: int
    users: int
    days_active: int
    first_seen: str
    last_seen: str
    top_users: list[dict[str, Any]]  # [{"user": name, "count": n}], most active first
    cli: str | None
    automation: dict[str, Any] | None = None  # the command with its arguments (provision.analysis.automation)
    automation_note: str | None = None        # why automation is None
    console_minutes_per_month: float | None = None  # estimated time by hand (provision.analysis.console_time's rule)


@dataclass
class ActionCount:
    provider: str
    action: str
    count: int


@dataclass
class DayActivity:
    """Console events of one day, in the classes the summary counts (they add up to them)."""

    day: str          # YYYY-MM-DD (UTC)
    read_only: int    # console events that only read
    changing: int     # console changes: the automation candidates
    not_candidates: int = 0  # the rest: sign-ins, role switches, console-only actions, plumbing, service-invoked or ignored changes


@dataclass
class Hints:
    """The answer, whichever way it was computed. `to_json()` is the documented JSON shape."""

    source: str
    events_read: int
    distinct_events: int
    console_events: int
    automation_candidates: int           # candidate events (distinct), all actions
    candidate_actions: int               # distinct (provider, action) pairs among them
    candidates: list[Candidate]          # the top N actions, most frequent first
    console_actions: list[ActionCount]   # every console action, most frequent first
    activity: list[DayActivity]          # console events per day, oldest first
    filters: str = ""
    generated_at: str = field(default_factory=lambda: iso(datetime.now(timezone.utc)))
    # Offline only (None from Elasticsearch): every file and event read is accounted for.
    files_read: int | None = None
    files_skipped: int | None = None
    skipped_files: list[dict[str, str]] = field(default_factory=list)  # [{path, reason}]
    files_failed: int | None = None
    failed_files: list[dict[str, str]] = field(default_factory=list)   # [{path, reason}]
    events_unusable: int | None = None   # events the importer would fail (no usable eventTime, ...)
    unusable_reasons: dict[str, int] = field(default_factory=dict)
    # Repeated multi-step console workflows (provision.analysis.workflows), most costly first.
    workflows: list[dict[str, Any]] = field(default_factory=list)
    sample_per_user: int = 0             # automation and workflows read this many events per action and user
    # Console changes that failed (errorCode: denied, refused): never candidates, counted here.
    failed_changes: int = 0
    # Console changes to resources automation manages (provision.cloudtrail.drift), most changed first.
    drift: list[dict[str, Any]] = field(default_factory=list)
    drift_resources: int = 0
    drift_changes: int = 0
    drift_activity: list[dict[str, Any]] = field(default_factory=list)  # [{day, changes}]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.files_read is None:
            for key in _OFFLINE_ONLY:
                data.pop(key)
        return data


_OFFLINE_ONLY = ("files_read", "files_skipped", "skipped_files", "files_failed", "failed_files", "events_unusable", "unusable_reasons")


def hints_from_files(files: Iterable[records.SourceFile], filters: Filters = Filters(), top: int = DEFAULT_TOP, source: str = "",
                     max_file_bytes: int = records.MAX_FILE_BYTES) -> Hints:
    """Hints straight from CloudTrail files: no Elasticsearch needed. Files are accounted
    for as the importer does: skipped, failed, or partly read (listed as failed)."""
    counter = HintsCounter(filters)
    for read in decode.read_files(files, max_file_bytes):
        counter.files_read += 1
        if read.skipped is not None:
            counter.skipped_files.append({"path": read.source.name, "reason": read.skipped})
        elif read.failed is not None:
            counter.failed_files.append({"path": read.source.name, "reason": read.failed})
        else:
            for event in read.events or ():
                counter.add(event)
            if read.partly is not None:
                counter.failed_files.append({"path": read.source.name, "reason": f"partly read: {read.partly}"})
    return counter.result(top=top, source=source)


def hints_from_sources(sources: list[str], filters: Filters = Filters(), top: int = DEFAULT_TOP,
                       s3_options: S3Options | dict[str, Any] | None = None,
                       max_file_bytes: int = records.MAX_FILE_BYTES) -> Hints:
    """Hints from command-line sources: folders and files (the importer's own walker) and
    ``s3://bucket/prefix`` URLs (the importer's S3 source, read as ``s3_options`` say: profile,
    endpoint_url, workers). S3 listings skip files outside the filters' accounts, regions
    and days."""
    from provision.sources.opening import open_sources  # the same split `ctstack import` does

    opened = open_sources(sources, "Nothing to read: give at least one folder, file or s3:// URL.")
    files: Iterable[records.SourceFile] = opened.local
    if opened.urls:
        from provision.sources.s3source import s3_files  # boto3 only when S3 is used

        files = itertools.chain(files, s3_files(opened.urls, S3Options.of(s3_options).but(filters=filters.s3_filters())))
    return hints_from_files(files, filters, top, source=", ".join(sources), max_file_bytes=max_file_bytes)


class _CandidateStats:
    __slots__ = ("count", "users", "days", "first", "last")

    def __init__(self) -> None:
        self.count = 0
        self.users: Counter[str] = Counter()
        self.days: set[date] = set()
        self.first: datetime | None = None
        self.last: datetime | None = None

    def add(self, user: str | None, moment: datetime) -> None:
        self.count += 1
        if user:
            self.users[user] += 1
        self.days.add(moment.date())
        if self.first is None or moment < self.first:
            self.first = moment
        if self.last is None or moment > self.last:
            self.last = moment


def _sample(event: Any, standard: dict) -> automation.SampledEvent:
    """The sample of a candidate from its full document; from its standard one when the
    response (only the full profile keeps it) is nested too deep to store."""
    try:
        return automation.sampled_event(to_document(event, profile="full"))
    except DocumentError:
        return automation.sampled_event(standard)


class HintsCounter:
    """Counts events one at a time; `result()` gives the :class:`Hints`."""

    def __init__(self, filters: Filters = Filters()) -> None:
        self.filters = filters
        self.files_read = 0
        self.skipped_files: list[dict[str, str]] = []
        self.failed_files: list[dict[str, str]] = []
        self.events_read = 0
        self.events_unusable = 0
        self.unusable_reasons: dict[str, int] = {}
        self._seen: set[bytes] = set()
        self.console_events = 0
        self._console_actions: Counter[tuple[str, str]] = Counter()
        self._daily: dict[str, list[int]] = {}  # YYYY-MM-DD -> [read-only, changing, not candidates]
        self._filtering = bool(filters)  # ignored actions select no events
        self._ignored = frozenset(filters.ignore_actions)
        self._profile = "standard" if filters.users else "minimal"  # user.name needs standard
        self._candidates: dict[tuple[str, str], _CandidateStats] = {}
        self._sampler = automation.Sampler()
        self.failed_changes = 0
        self._drift = drift.DriftCounter(filters.ignore_actions)

    def add(self, event: Any) -> None:
        self.events_read += 1
        # The importer's own document: the same time, account, region, user name and
        # classification flags Elasticsearch holds after an import.
        try:
            doc = to_document(event, profile=self._profile)
            timestamp = doc[F.TIMESTAMP]
            # The importer's identity: _id = document_id in the event's monthly index.
            identity = document_id(event)
        except DocumentError as err:
            self._unusable(err)
            return
        if self._filtering and not self.filters.passes(doc):
            return
        key = hashlib.blake2b(f"{timestamp[:7]} {identity}".encode(), digest_size=16).digest()
        if key in self._seen:
            return
        self._seen.add(key)
        standard = doc if self._profile == "standard" else None
        if not doc[F.READ_ONLY]:
            try:
                standard = standard or to_document(event, profile="standard")
            except DocumentError as err:  # its request is nested too deep to store: the importer fails it too
                self._unusable(err)
                return
            self._drift.add(standard)
        if not doc[F.CONSOLE]:
            return
        action = (doc.get(F.EVENT_PROVIDER, ""), doc.get(F.EVENT_ACTION, ""))
        ignored = bool(self._ignored) and classify.is_ignored_action(*action, self._ignored)
        candidate = doc[F.AUTOMATION_CANDIDATE] and not ignored
        if candidate and self._profile == "minimal":
            try:
                doc = standard or to_document(event, profile="standard")  # for user.name
            except DocumentError as err:  # its request is nested too deep to store: the importer fails it too
                self._unusable(err)
                return
        self.console_events += 1
        self._console_actions[action] += 1
        day = self._daily.get(timestamp[:10])
        if day is None:
            day = self._daily[timestamp[:10]] = [0, 0, 0]
        day[0 if doc[F.READ_ONLY] else 1 if candidate else 2] += 1
        if not candidate and not ignored and classify.is_failed_change(event, True, doc[F.READ_ONLY]):
            self.failed_changes += 1
        if candidate:
            stats = self._candidates.get(action)
            if stats is None:
                stats = self._candidates[action] = _CandidateStats()
            stats.add(doc.get(F.USER_NAME), parse_timestamp(timestamp))
            self._sampler.add((*action, doc.get(F.USER_NAME) or ""), (timestamp, doc.get(F.EVENT_ID) or ""),
                              lambda standard=doc: _sample(event, standard))

    def _unusable(self, err: DocumentError) -> None:
        self.events_unusable += 1
        reason = reason_kind(str(err))
        self.unusable_reasons[reason] = self.unusable_reasons.get(reason, 0) + 1

    def result(self, top: int = DEFAULT_TOP, source: str = "") -> Hints:
        hints = self._result(top, source)
        hints.failed_changes = self.failed_changes
        set_drift(hints, self._drift.result(top))
        automation.complete(hints, self._sampler.events())
        return hints

    def _result(self, top: int, source: str) -> Hints:
        candidates = [
            Candidate(
                provider=provider,
                action=action,
                count=stats.count,
                users=len(stats.users),
                days_active=len(stats.days),
                first_seen=iso(stats.first),  # type: ignore[arg-type]
                last_seen=iso(stats.last),  # type: ignore[arg-type]
                top_users=[{"user": u, "count": n} for u, n in _top_users(stats.users)],
                cli=cli_command(provider, action),
            )
            for (provider, action), stats in self._candidates.items()
        ]
        return Hints(
            source=source,
            events_read=self.events_read,
            distinct_events=len(self._seen),
            console_events=self.console_events,
            automation_candidates=sum(c.count for c in candidates),
            candidate_actions=len(candidates),
            candidates=rank(candidates, top),
            console_actions=rank([ActionCount(p, a, n) for (p, a), n in self._console_actions.items()], 0),
            activity=[DayActivity(day, ro, ch, si) for day, (ro, ch, si) in sorted(self._daily.items())],
            filters=self.filters.describe(),
            files_read=self.files_read,
            files_skipped=len(self.skipped_files),
            skipped_files=self.skipped_files,
            files_failed=len(self.failed_files),
            failed_files=self.failed_files,
            events_unusable=self.events_unusable,
            unusable_reasons=self.unusable_reasons,
        )


def set_drift(hints: Hints, found: drift.Drift) -> None:
    hints.drift, hints.drift_resources, hints.drift_changes, hints.drift_activity = found.items, found.resources, found.changes, found.days


def _top_users(users: Counter[str]) -> list[tuple[str, int]]:
    return sorted(users.items(), key=lambda item: (-item[1], item[0]))[:TOP_USERS]


RANKS = ("count", "time")


def rank_by_time(hints: Hints, top: int) -> Hints:
    """Candidates and workflows by their estimated console minutes per month, most first."""
    hints.candidates = sorted(hints.candidates, key=lambda c: (-(c.console_minutes_per_month or 0), -c.count, c.provider, c.action))
    hints.candidates = hints.candidates if top <= 0 else hints.candidates[:top]
    hints.workflows = sorted(hints.workflows, key=lambda w: (-w["console_minutes_per_month"], -w["cost"], w["name"]))
    return hints


def rank(items: list, top: int) -> list:
    """Most frequent first, ties by provider then action; `top` 0 keeps all."""
    items = sorted(items, key=lambda c: (-c.count, c.provider, c.action))
    return items if top <= 0 else items[:top]
