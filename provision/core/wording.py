"""How counts read in human output: thousands separators, singular or plural (JSON keeps exact integers)."""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable

_REASON_KIND = re.compile(r"[:(]")  # "no usable eventTime (...)" is a kind of "no usable eventTime"


def number(n: int) -> str:
    """20000 -> "20,000": every count a person reads."""
    return f"{n:,}"


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """ "1 file", "2 files", "20,000 events"."""
    return f"{n:,} {noun if n == 1 else nouns or noun + 's'}"


def reason_kind(reason: str) -> str:
    """The kind of a reason, for counting: "no usable eventTime ('x' is ...)" and
    "no usable eventTime (missing ...)" are both "no usable eventTime"."""
    return _REASON_KIND.split(reason, 1)[0].strip()


def by_reason(entries: Iterable[dict]) -> list[tuple[str, int]]:
    """[{path, reason}] grouped by the kind of reason, most frequent first."""
    return Counter(reason_kind(entry["reason"]) for entry in entries).most_common()


# Skip reasons (their kind) that mean a file was meant to hold events but could not be read.
UNREADABLE_KINDS = ("invalid JSON", "not gzip", "corrupt gzip", "empty file")


def nothing_readable(events_read: int, skipped_files: list[dict]) -> bool:
    """No event at all, and some file skipped because it could not be read: a folder of
    corrupt or empty files is a failure (exit 1), not an empty success."""
    return events_read == 0 and any(reason_kind(entry["reason"]).startswith(UNREADABLE_KINDS) for entry in skipped_files)


def skipped_notes(skipped_files: list[dict]) -> list[str]:
    """Skipped files by kind of reason, one rich-markup line each (folders often hold
    READMEs, licences and digests: a line per file would bury the rest)."""
    from rich.markup import escape  # reasons can hold file names: text, never markup

    return [f"[yellow]skipped {plural(n, 'file')}:[/] {escape(reason)}" for reason, n in by_reason(skipped_files)]
