"""Which events count: --account, --region, --user, --since and --until, one meaning everywhere.

`ctstack import` and `ctstack hints`/`report` read the same options into one :class:`Filters`
and apply it to each event's document (local files and S3 objects alike, exactly); for S3,
:meth:`Filters.s3_filters` also prunes the listing to the accounts, regions and days wanted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Iterable

from provision.cloudtrail import fields as F
from provision.core.errors import CtstackError

_BARE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Filters:
    """Which events count. Empty tuples mean "all"; times are inclusive bounds, UTC.

    ``ignore_actions`` are (eventSource, eventName) pairs, eventName ``"*"`` for all of a
    source, that are never candidates, on top of :data:`provision.cloudtrail.classify.PLUMBING_ACTIONS`
    (they still count as console events, so they select no events here)."""

    accounts: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    ignore_actions: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_text(cls, account: Iterable[str] | str | None = (), region: Iterable[str] | str | None = (),
                  user: Iterable[str] | str | None = (), since: str | None = None, until: str | None = None,
                  ignore_actions: Iterable[str] = ()) -> "Filters":
        """Filters from command-line text, named as the options are: --account, --region and
        --user (each one value or several), dates or ISO times (see :func:`parse_time_bound`),
        ignored actions as ``SOURCE:NAME`` or ``SOURCE:*``. Account IDs and region names are checked."""
        from provision.cloudtrail import classify
        from provision.sources.s3layout import make_filters  # one check of account IDs and region names

        checked = make_filters(_values(account), _values(region))
        since_at = parse_time_bound(since, end_of_day=False) if since else None
        until_at = parse_time_bound(until, end_of_day=True) if until else None
        if since_at and since_at > datetime.now(timezone.utc):
            raise CtstackError(f"--since {since} is in the future ({iso(since_at)}): no event can be that recent. Did you mean --until?")
        if since_at and until_at and since_at > until_at:
            raise CtstackError(f"--since ({since}) is after --until ({until}).")
        ignored = tuple(dict.fromkeys(classify.parse_ignored_action(text) for text in ignore_actions or ()))
        return cls(checked.accounts, checked.regions, _values(user), since_at, until_at, ignored)

    def __bool__(self) -> bool:
        """Whether any event is left out (ignored actions leave none out)."""
        return replace(self, ignore_actions=()) != Filters()

    def describe(self) -> str:
        parts = [f"{name}={','.join(values)}" for name, values in (("account", self.accounts), ("region", self.regions), ("user", self.users)) if values]
        if self.since:
            parts.append(f"since {iso(self.since)}")
        if self.until:
            parts.append(f"until {iso(self.until)}")
        if self.ignore_actions:
            parts.append("ignoring " + " ".join(f"{source}:{name}" for source, name in self.ignore_actions))
        return ", ".join(parts)

    def passes(self, doc: dict) -> bool:
        """Whether the importer's document of an event is wanted (``users`` need user.name,
        which the minimal fields profile leaves out)."""
        if self.accounts and doc.get(F.CLOUD_ACCOUNT_ID) not in self.accounts:
            return False
        if self.regions and doc.get(F.CLOUD_REGION) not in self.regions:
            return False
        if self.users and doc.get(F.USER_NAME) not in self.users:
            return False
        if self.since or self.until:
            moment = parse_timestamp(doc[F.TIMESTAMP])
            if (self.since and moment < self.since) or (self.until and moment > self.until):
                return False
        return True

    def s3_filters(self, insights: bool = False):
        """The S3 listing's filters: these accounts, regions and days. File names carry the
        delivery day, up to ~15 minutes after the event: one day of slack after --until."""
        from provision.sources.s3layout import S3Filters

        return S3Filters(
            accounts=self.accounts,
            regions=self.regions,
            since=self.since.date() if self.since else None,
            until=(self.until + timedelta(days=1)).date() if self.until else None,
            insights=insights,
        )


def _values(values: Iterable[str] | str | None) -> tuple[str, ...]:
    if not values:
        return ()
    if isinstance(values, str):
        values = (values,)
    return tuple(dict.fromkeys(v.strip() for v in values if v and v.strip()))


def iso(moment: datetime) -> str:
    """UTC, second precision, `Z` suffix: how first/last seen are shown everywhere."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time_bound(text: str, *, end_of_day: bool) -> datetime:
    """A date (`2024-08-01`), a time (`2024-08-01T12:00:00Z`, naive means UTC) or a time
    relative to now (`12h`, `7d`, `2w`). A bare date used as --until means the end of that
    day, so `--since D --until D` is the whole day."""
    from provision.sources.s3layout import parse_when

    moment = parse_when(text)
    if end_of_day and _BARE_DATE.match(text.strip()):
        moment += timedelta(days=1, milliseconds=-1)
    return moment


def parse_timestamp(text: str) -> datetime:
    # documents.parse_event_time always gives UTC ISO-8601 with a Z (Python 3.10 wants +00:00).
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
