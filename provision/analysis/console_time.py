"""What a console change costs by hand: the time a person spent on it, per event and per month.

Shared by the automation hints (per action) and the workflows (per repeated session), so both
count a person's time by the same rule.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


def moment(timestamp: str) -> datetime:
    """A CloudTrail time (``...Z``) as an aware datetime."""
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


# -- what it costs by hand ---------------------------------------------------------------------
# The rule (docs, "What it costs by hand"): a console change took the time since the
# previous change of the same console session, when that was under SESSION_GAP, at most
# MAX_STEP; the first change of a session is counted FIRST_STEP. An action's minutes per month
# are its sampled events' mean time x its count, over the months from its first to its last day.
FIRST_STEP_SECONDS = 60
MAX_STEP_SECONDS = 600
DAYS_PER_MONTH = 30.44


def step_seconds(previous: Any, event: Any) -> float:
    """The console time of one change, by the rule above."""
    if previous is None:
        return FIRST_STEP_SECONDS
    return min(MAX_STEP_SECONDS, max(0.0, (moment(event.timestamp) - moment(previous.timestamp)).total_seconds()))


def per_month(minutes: float, first_seen: str, last_seen: str) -> float:
    """Minutes over the months from the first to the last day (one month at least), rounded."""
    days = (moment(last_seen) - moment(first_seen)).total_seconds() / 86400
    return round(minutes / max(1.0, days / DAYS_PER_MONTH), 1)
