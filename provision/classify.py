"""What an event is: console or programmatic, read-only or changing, worth automating.

Shared by the importer (stored as ``ctstack.*`` flags), the offline hints and the report,
so every view of the data agrees.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from typing import Any

import orjson

CONSOLE_SIGN_IN = "AwsConsoleSignIn"

# Read-only by name, for events whose readOnly is missing or not a boolean. The verb must be
# followed by an upper-case letter or the end: "GetObject", "List", not "Getaway" or "Listen".
_READ_ONLY_NAME = re.compile(r"^(?:Get|Describe|List|Head|Lookup|Search|BatchGet)(?:[A-Z]|$)")


def _true(value: Any) -> bool:
    """A boolean true, or the string "true" in any case (CloudTrail uses both)."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def console_user_agent(user_agent: Any) -> bool:
    """User agents the AWS Management Console (or a browser) sends."""
    if not isinstance(user_agent, str):
        return False
    return _console_agent(user_agent)


@lru_cache(maxsize=16384)  # agents repeat endlessly across events
def _console_agent(user_agent: str) -> bool:
    agent = user_agent.strip().strip("[]").strip().lower()
    return "console" in agent or agent.startswith("mozilla/") or agent.startswith("signin.amazonaws.com")


def is_console(event: dict) -> bool:
    """Done through the AWS Management Console: a console sign-in, a session whose
    credentials came from the console, or a console / browser user agent."""
    return (
        event.get("eventType") == CONSOLE_SIGN_IN
        or _true(event.get("sessionCredentialFromConsole"))
        or console_user_agent(event.get("userAgent"))
    )


def is_read_only(event: dict) -> bool:
    """The event's own readOnly when it is a boolean or "true"/"false"; else by its name."""
    value = event.get("readOnly")
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    name = event.get("eventName")
    return isinstance(name, str) and _read_only_name(name)


@lru_cache(maxsize=16384)
def _read_only_name(name: str) -> bool:
    return _READ_ONLY_NAME.match(name) is not None


def is_automation_candidate(event: dict, console: bool | None = None, read_only: bool | None = None) -> bool:
    """A console action that changes something (sign-ins are not actions to automate).

    ``console`` and ``read_only`` may be passed when the caller computed them already.
    """
    if console is None:
        console = is_console(event)
    if read_only is None:
        read_only = is_read_only(event)
    return console and not read_only and event.get("eventType") != CONSOLE_SIGN_IN


MAX_ID_BYTES = 512  # Elasticsearch refuses a longer _id (and with it the whole bulk request)


def event_id(event: dict) -> str:
    """The event's identity (its ``_id``): its eventID, or for events without one a SHA-256
    of the event's canonical JSON (sorted keys), so the same event always gets the same id.
    An eventID longer than Elasticsearch's 512-byte limit becomes ``sha256:`` and the SHA-256
    of the eventID: fixed-length and the same on every run (``event.id`` keeps it as logged)."""
    value = event.get("eventID")
    if isinstance(value, str) and value:
        if len(value) * 4 <= MAX_ID_BYTES or len(value.encode()) <= MAX_ID_BYTES:
            return value
        return "sha256:" + hashlib.sha256(value.encode()).hexdigest()
    return hashlib.sha256(orjson.dumps(event, option=orjson.OPT_SORT_KEYS)).hexdigest()
