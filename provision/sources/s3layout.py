"""Which S3 prefixes hold the CloudTrail logs a user asked for.

CloudTrail writes ``[PREFIX/]AWSLogs/[o-ORGID/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/file``.
This module walks that layout one level at a time (ListObjectsV2 with ``Delimiter="/"``)
and only as deep as the filters need: a level the filters fix is built, not listed, and a
level nobody filters on is not descended into at all; the leaf prefix is then listed
recursively. So ``--account A --region R --since D --until D`` lists exactly that day's
prefix, after listing ``AWSLogs/`` and each organisation's folder once (one request per
1000 accounts) to learn where the account's logs are; a URL that names the account needs
no discovery at all. Never the whole bucket when filters allow less.

The module knows nothing about boto3: it asks a ``children(prefix)`` function for the
"sub-folders" of a prefix, so it is tested against the real thing through the S3 source.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Callable, Iterable, Iterator

from provision.core.errors import CtstackError

S3_SCHEME = "s3://"
AWSLOGS = "AWSLogs"
LOGS = "CloudTrail"
INSIGHTS = "CloudTrail-Insight"
DIGESTS = "CloudTrail-Digest"

ACCOUNT_RE = re.compile(r"^\d{12}$")
# 123456789012_CloudTrail_us-east-1_20240801T1330Z_abc.json.gz (also -Insight_)
FILE_NAME_RE = re.compile(r"(?:^|/)(\d{12})_CloudTrail(?:-Insight)?_([a-z0-9-]+)_(\d{8})T\d{4}Z_[^/]*$")
RELATIVE_RE = re.compile(r"^(\d+)\s*([mhdw])$")
RELATIVE_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

# How far below the given prefix to look for a custom-prefixed AWSLogs/ folder, and how
# many "folders" to look into at most before giving up and listing everything.
CUSTOM_PREFIX_DEPTH = 3
CUSTOM_PREFIX_PROBES = 200


def is_s3_url(source: str) -> bool:
    return str(source).lower().startswith(S3_SCHEME)


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ("bucket", "some/prefix")."""
    rest = str(url)[len(S3_SCHEME):]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise CtstackError(f"{url} names no bucket; use s3://BUCKET or s3://BUCKET/PREFIX.")
    return bucket, prefix.lstrip("/")


@dataclass(frozen=True)
class S3Filters:
    """What to import. Empty tuples and None mean "all"; dates are UTC days, inclusive."""

    accounts: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None
    insights: bool = False

    def wants_account(self, account: str) -> bool:
        return not self.accounts or account in self.accounts

    def wants_region(self, region: str) -> bool:
        return not self.regions or region in self.regions

    def wants_day(self, day: date) -> bool:
        return (self.since is None or day >= self.since) and (self.until is None or day <= self.until)

    @property
    def has_dates(self) -> bool:
        return self.since is not None or self.until is not None

    def wants_key(self, key: str) -> bool:
        """Whether an object key may hold wanted events: digests never do; a key with a
        CloudTrail file name must match the account, region and day filters."""
        if DIGESTS in key or key.endswith("/"):
            return False
        match = FILE_NAME_RE.search(key)
        if not match:
            return True
        account, region, day = match.groups()
        try:
            when = datetime.strptime(day, "%Y%m%d").date()
        except ValueError:
            return True
        return self.wants_account(account) and self.wants_region(region) and self.wants_day(when)


def parse_when(value: str, now: datetime | None = None) -> datetime:
    """``2024-08-01``, ``2024-08-01T12:00:00Z`` or relative to now: ``90m``, ``12h``, ``7d``, ``2w``."""
    now = now or datetime.now(timezone.utc)
    text = value.strip()
    relative = RELATIVE_RE.match(text.lower())
    if relative:
        amount, unit = relative.groups()
        return now - timedelta(**{RELATIVE_UNITS[unit]: int(amount)})
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CtstackError(f"Cannot read the time {value!r}: use a date (2024-08-01), a UTC time (2024-08-01T12:00Z) or a relative time (12h, 7d, 2w).") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def make_filters(
    accounts: Iterable[str] = (),
    regions: Iterable[str] = (),
    since: str | None = None,
    until: str | None = None,
    insights: bool = False,
    now: datetime | None = None,
) -> S3Filters:
    """Validate the user's filters; ``since``/``until`` become whole UTC days (the layout's grain)."""
    accounts = tuple(dict.fromkeys(a.strip() for a in accounts))
    for account in accounts:
        if not ACCOUNT_RE.match(account):
            raise CtstackError(f"--account {account!r} is not an AWS account ID (12 digits).")
    regions = tuple(dict.fromkeys(r.strip() for r in regions))
    for region in regions:
        if not region or "/" in region:
            raise CtstackError(f"--region {region!r} is not a region name (such as us-east-1).")
    since_day = parse_when(since, now).astimezone(timezone.utc).date() if since else None
    until_day = parse_when(until, now).astimezone(timezone.utc).date() if until else None
    if since_day and until_day and since_day > until_day:
        raise CtstackError(f"--since ({since_day}) is after --until ({until_day}).")
    return S3Filters(accounts, regions, since_day, until_day, insights)


# -- prefixes -------------------------------------------------------------------------------

Children = Callable[[str], Iterable[str]]   # prefix -> its "sub-folder" prefixes (ending "/")


def last_segment(prefix: str) -> str:
    return prefix.rstrip("/").rsplit("/", 1)[-1]


def log_prefixes(children: Children, prefix: str, filters: S3Filters, today: date | None = None) -> Iterator[str]:
    """Prefixes to list recursively for the logs under ``prefix`` that ``filters`` want.

    ``prefix`` is "" (the bucket) or a folder ending in "/": a custom trail prefix, or any
    folder inside the layout (``AWSLogs/123456789012/CloudTrail/us-east-1/2024/``). Below
    a prefix that is not CloudTrail's layout, everything is listed (names still filtered).
    """
    today = today or datetime.now(timezone.utc).date()
    segments = prefix.split("/")[:-1]
    if AWSLOGS in segments:
        at = len(segments) - 1 - segments[::-1].index(AWSLOGS)
        base = "/".join(segments[: at + 1]) + "/"
        yield from _below_awslogs(children, base, segments[at + 1:], filters, today)
        return
    # The usual case first: AWSLogs/ right here. Its listing is the owners' listing too.
    base = f"{prefix}{AWSLOGS}/"
    owners = list(children(base))
    if owners:
        yield from _below_awslogs(children, base, [], filters, today, owners)
        return
    bases = _find_awslogs(children, prefix)
    if not bases:
        yield prefix  # not CloudTrail's layout: list it all and go by file names
        return
    for base in bases:
        yield from _below_awslogs(children, base, [], filters, today)


def _find_awslogs(children: Children, prefix: str) -> list[str]:
    """The shallowest AWSLogs/ folders at or below ``prefix`` (a custom trail prefix may
    have several levels), searched breadth-first within bounds."""
    frontier, probes = [prefix], 0
    for _ in range(CUSTOM_PREFIX_DEPTH + 1):
        found: list[str] = []
        deeper: list[str] = []
        for folder in frontier:
            if probes >= CUSTOM_PREFIX_PROBES:
                # A big bucket that is not (only) CloudTrail's: do not scan it whole.
                where = f"below {prefix}" if prefix else "in the bucket"
                raise CtstackError(f"No {AWSLOGS}/ folder found {where} within {probes} folders; give the trail's prefix (s3://BUCKET/PREFIX).")
            probes += 1
            for child in children(folder):
                (found if last_segment(child) == AWSLOGS else deeper).append(child)
        if found:
            return found
        frontier = deeper[:CUSTOM_PREFIX_PROBES]
        if not frontier:
            return []
    return []


def _below_awslogs(children: Children, base: str, rest: list[str], filters: S3Filters, today: date, owners: list[str] | None = None) -> Iterator[str]:
    for account_prefix, below in _accounts(children, base, rest, filters, owners):
        yield from _below_account(children, account_prefix, below, filters, today)


def _accounts(children: Children, base: str, rest: list[str], filters: S3Filters, owners: list[str] | None) -> Iterator[tuple[str, list[str]]]:
    """(``.../ACCOUNT/``, the given segments below it) for each wanted account."""
    if rest:
        owner, below = rest[0], rest[1:]
        if owner.startswith("o-"):
            org_prefix = f"{base}{owner}/"
            if below:
                if filters.wants_account(below[0]):
                    yield f"{org_prefix}{below[0]}/", below[1:]
                return
            yield from _org_accounts(children, org_prefix, filters)
        elif filters.wants_account(owner):
            yield f"{base}{owner}/", below
        return
    # Discovery: one listing of AWSLogs/ (accounts and organisation IDs side by side).
    for child in owners if owners is not None else children(base):
        name = last_segment(child)
        if name.startswith("o-"):
            yield from _org_accounts(children, child, filters)
        elif ACCOUNT_RE.match(name) and filters.wants_account(name):
            yield child, []


def _org_accounts(children: Children, org_prefix: str, filters: S3Filters) -> Iterator[tuple[str, list[str]]]:
    for child in children(org_prefix):
        name = last_segment(child)
        if ACCOUNT_RE.match(name) and filters.wants_account(name):
            yield child, []


def _below_account(children: Children, account_prefix: str, rest: list[str], filters: S3Filters, today: date) -> Iterator[str]:
    if rest:
        kind, below = rest[0], rest[1:]
        if kind == DIGESTS:
            raise CtstackError(f"{account_prefix}{DIGESTS}/ holds digest files (integrity hashes), no events; point at {account_prefix}{LOGS}/ instead.")
        if kind not in (LOGS, INSIGHTS):
            return  # another service's logs (elasticloadbalancing/, vpcflowlogs/ ...)
        kinds = [(kind, below)]
    else:
        nothing_below: list[str] = []
        kinds = [(LOGS, nothing_below)] + ([(INSIGHTS, nothing_below)] if filters.insights else [])
    for kind, below in kinds:
        kind_prefix = f"{account_prefix}{kind}/"
        if below:
            if filters.wants_region(below[0]):
                yield from _days(children, f"{kind_prefix}{below[0]}/", below[1:], filters, today)
        elif filters.regions:
            for region in filters.regions:
                yield from _days(children, f"{kind_prefix}{region}/", [], filters, today)
        elif filters.has_dates:
            for child in children(kind_prefix):
                if filters.wants_region(last_segment(child)):
                    yield from _days(children, child, [], filters, today)
        else:
            yield kind_prefix


def _days(children: Children, region_prefix: str, fixed: list[str], filters: S3Filters, today: date) -> Iterator[str]:
    """The region's date folders in the filters' range, as few prefixes as cover it: whole
    years as ``YYYY/``, whole months as ``YYYY/MM/``, the rest as days."""
    if not filters.has_dates:
        yield region_prefix + "".join(f"{part}/" for part in fixed)
        return
    try:
        parts = [int(part) for part in fixed[:3]]
    except ValueError:
        return  # not a date folder
    lo, hi = filters.since, filters.until or today
    if parts:
        fixed_lo, fixed_hi = _span(parts)
        if fixed_lo is None:
            return
        lo = max(lo, fixed_lo) if lo else fixed_lo
        hi = min(hi, fixed_hi)
    if lo is None:
        # Only --until: the oldest year present bounds the range (one listing).
        years = [int(last_segment(c)) for c in children(region_prefix) if last_segment(c).isdigit()]
        if not years:
            return
        lo = date(min(years), 1, 1)
    for folder in date_folders(lo, hi):
        yield region_prefix + folder


def _span(parts: list[int]) -> tuple[date | None, date]:
    """First and last day of the year, month or day given as [Y], [Y, M] or [Y, M, D]."""
    try:
        if len(parts) == 1:
            return date(parts[0], 1, 1), date(parts[0], 12, 31)
        if len(parts) == 2:
            return date(parts[0], parts[1], 1), date(parts[0], parts[1], calendar.monthrange(parts[0], parts[1])[1])
        day = date(*parts)
        return day, day
    except ValueError:
        return None, date.min


def date_folders(lo: date, hi: date) -> Iterator[str]:
    """``YYYY/``, ``YYYY/MM/`` and ``YYYY/MM/DD/`` folders covering lo..hi (inclusive), fewest first."""
    day = lo
    while day <= hi:
        if day.month == 1 and day.day == 1 and date(day.year, 12, 31) <= hi:
            yield f"{day.year:04d}/"
            day = date(day.year + 1, 1, 1)
            continue
        month_end = date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])
        if day.day == 1 and month_end <= hi:
            yield f"{day.year:04d}/{day.month:02d}/"
            day = month_end + timedelta(days=1)
            continue
        yield f"{day.year:04d}/{day.month:02d}/{day.day:02d}/"
        day += timedelta(days=1)
