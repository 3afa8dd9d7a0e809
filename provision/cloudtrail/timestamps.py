"""CloudTrail timestamps as the ISO-8601 UTC strings Elasticsearch accepts."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any


# Valid timestamps in CloudTrail's own form, seen lately: events of a file share seconds,
# and sessions share a creationDate. A dict lookup is all most events then cost.
GOOD_TIMES: dict[str, str] = {}
GOOD_TIMES_SIZE = 16384


# The layouts read, ASCII digits only: YYYY-MM-DDTHH:MM:SS, optionally .F (1 to 9 digits of
# a second), then Z, +HH:MM or -HH:MM (none: UTC). CloudTrail writes 2024-08-01T13:30:05Z.
_TIME_LAYOUT = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
                          r"(?:\.([0-9]{1,9}))?(Z|[+-][0-9]{2}:[0-9]{2})?")


_CLOUDTRAIL_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


class TimeOutOfRange(ValueError):
    """A real date outside what Python (and the monthly index name) can hold."""


def parse_time(value: Any) -> str:
    """A timestamp in one of the layouts above as an ISO-8601 UTC string Elasticsearch
    accepts (``...Z``). ValueError with the reason otherwise; one that exists but falls
    outside years 1-9999 once in UTC says "out of range"."""
    if not isinstance(value, str) or not value:
        raise ValueError("missing or not a string")
    if len(value) == 20 and value[19] == "Z":
        if value in GOOD_TIMES:
            return value
        # CloudTrail's own form, not seen lately: its layout checked, its date checked by
        # datetime (in C; a quarter of the general path below, which says why it is not valid).
        if _CLOUDTRAIL_TIME.fullmatch(value) is not None:
            try:
                datetime.fromisoformat(value)
            except ValueError:
                pass
            else:
                return _remember_time(value)
    m = _TIME_LAYOUT.fullmatch(value)
    if m is None:
        raise ValueError(f"{value!r} is not a valid timestamp")
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    try:
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                          int((fraction or "0")[:6].ljust(6, "0")), tzinfo=timezone.utc)
    except ValueError:
        if year == "0000":
            raise TimeOutOfRange(f"{value!r} is outside years 1-9999") from None
        raise ValueError(f"{value!r} is not a valid timestamp") from None
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if hours > 23 or minutes > 59:
            raise ValueError(f"{value!r} is not a valid timestamp")
        try:
            moment -= sign * timedelta(hours=hours, minutes=minutes)
        except OverflowError:
            raise TimeOutOfRange(f"{value!r} is outside years 1-9999 in UTC") from None
    text = moment.isoformat().replace("+00:00", "Z")
    if text == value:  # CloudTrail's own form: remembered, so most events cost a lookup
        _remember_time(value)
    return text


def _remember_time(value: str) -> str:
    """Note a valid timestamp in CloudTrail's own form in :data:`GOOD_TIMES` (bounded)."""
    if len(GOOD_TIMES) >= GOOD_TIMES_SIZE:
        GOOD_TIMES.clear()
    GOOD_TIMES[value] = value
    return value
