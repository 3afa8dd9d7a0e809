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

from provision.errors import CtstackError

CONSOLE_SIGN_IN = "AwsConsoleSignIn"
# "An action taken in the console that was not an API call" (AWS): console, never a candidate.
CONSOLE_ACTION = "AwsConsoleAction"
_CONSOLE_EVENT_TYPES = (CONSOLE_SIGN_IN, CONSOLE_ACTION)
# Old console calls carry this invokedBy; any other service in invokedBy did the call itself.
SIGN_IN_SERVICE = "signin.amazonaws.com"
ANONYMOUS_PRINCIPAL = "ANONYMOUS_PRINCIPAL"
ANY_ACTION = "*"

# Console actions that are session plumbing, not work anyone should script: never automation
# candidates. (eventSource, eventName); eventName "*" is every action of that source.
# ctstack's one list; users add to it with --ignore-action SOURCE:NAME on hints and report.
PLUMBING_ACTIONS: tuple[tuple[str, str], ...] = (
    ("cloudshell.amazonaws.com", "CreateSession"),
    ("cloudshell.amazonaws.com", "PutCredentials"),
    ("cloudshell.amazonaws.com", "SendHeartBeat"),
    ("cloudshell.amazonaws.com", "CreateEnvironment"),
    ("cloudshell.amazonaws.com", "StartEnvironment"),
    ("cloudshell.amazonaws.com", "StopEnvironment"),
    ("cloudshell.amazonaws.com", "DeleteSession"),
    ("support.amazonaws.com", ANY_ACTION),
    ("signin.amazonaws.com", ANY_ACTION),
    ("sso.amazonaws.com", "Federate"),
    ("sso.amazonaws.com", "Authenticate"),
    ("sso.amazonaws.com", "Logout"),
    ("logs.amazonaws.com", "StartQuery"),
    ("logs.amazonaws.com", "StopQuery"),
    ("logs.amazonaws.com", "StartLiveTail"),
    ("logs.amazonaws.com", "StopLiveTail"),
    ("cloudtrail.amazonaws.com", "StartQuery"),
    ("cloudtrail.amazonaws.com", "LookupEvents"),
)

# Product tokens the console sends, each optionally followed by /version. A user agent is
# split into tokens on spaces, commas and brackets and each token must match as a whole:
# aws-cli v2's "md/command#ec2.enable-serial-console-access" is no console.
_CONSOLE_TOKEN = re.compile(
    r"(?:console(?:\.[a-z0-9-]+)?\.amazonaws\.com|signin\.amazonaws\.com|s3console|ec2consolefrontend|awslambdaconsole)(?:/\S*)?",
    re.IGNORECASE,
)
_TOKEN_SEPARATORS = re.compile(r"[\s,\[\]]+")

# Read-only by name, for events whose readOnly is missing or not a boolean. The verb must be
# followed by an upper-case letter or the end: "GetObject", "List", not "Getaway" or "Listen".
_READ_ONLY_NAME = re.compile(r"^(?:Get|Describe|List|Head|Lookup|Search|BatchGet)(?:[A-Z]|$)")


def _true(value: Any) -> bool:
    """A boolean true, or the string "true" in any case (CloudTrail uses both)."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def console_user_agent(user_agent: Any) -> bool:
    """User agents the AWS Management Console (or a browser) sends: a console product token,
    or a first token starting ``Mozilla/``."""
    if not isinstance(user_agent, str):
        return False
    return _console_agent(user_agent)


@lru_cache(maxsize=16384)  # agents repeat endlessly across events
def _console_agent(user_agent: str) -> bool:
    tokens = [token for token in _TOKEN_SEPARATORS.split(user_agent) if token]
    if not tokens:
        return False
    if tokens[0][:8].lower() == "mozilla/":
        return True
    # md/, cfg/, exec-env/ and app/ tokens (SDK metadata) never match a whole console token.
    return any(_CONSOLE_TOKEN.fullmatch(token) for token in tokens)


def is_anonymous(identity: Any) -> bool:
    """An anonymous principal (a public S3 read, say): nobody signed in to anything."""
    if not isinstance(identity, dict):
        return False
    return identity.get("accountId") == ANONYMOUS_PRINCIPAL or (
        identity.get("type") == "AWSAccount" and identity.get("principalId") in (None, "")
    )


def invoked_by_service(identity: Any) -> bool:
    """An AWS service made the call on the principal's behalf (userIdentity.invokedBy set and
    not the console's own signin.amazonaws.com): it is automated already."""
    if not isinstance(identity, dict):
        return False
    value = identity.get("invokedBy")
    if isinstance(value, str):
        return value != "" and value.lower() != SIGN_IN_SERVICE
    return value is not None


def is_console(event: dict) -> bool:
    """Done through the AWS Management Console: a console sign-in or console action, a session
    whose credentials came from the console, or a console / browser user agent; never by an
    anonymous principal."""
    if is_anonymous(event.get("userIdentity")):
        return False
    return (
        event.get("eventType") in _CONSOLE_EVENT_TYPES
        or _true(event.get("sessionCredentialFromConsole"))
        or console_user_agent(event.get("userAgent"))
    )


_PLUMBING = frozenset(PLUMBING_ACTIONS)


def is_ignored_action(source: Any, name: Any, ignored: frozenset[tuple[str, str]] | None = None) -> bool:
    """(source, name) is on the list (``ignored``, default :data:`PLUMBING_ACTIONS`), by name
    or by a ``(source, "*")`` entry."""
    rules = _PLUMBING if ignored is None else ignored
    if not isinstance(source, str):
        return False
    return (source, ANY_ACTION) in rules or (isinstance(name, str) and (source, name) in rules)


def parse_ignored_action(text: str) -> tuple[str, str]:
    """``SOURCE:NAME`` or ``SOURCE:*`` (as given to --ignore-action) as (source, name)."""
    source, colon, name = text.strip().partition(":")
    if not colon or not source or not name or ":" in name or any(c.isspace() for c in source + name):
        raise CtstackError(
            f"--ignore-action must be SOURCE:NAME or SOURCE:* (cloudshell.amazonaws.com:CreateSession), not {text!r}."
        )
    return source, name


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


def failed(event: dict) -> bool:
    """The call failed (CloudTrail logged an errorCode): denied or refused, it changed nothing."""
    return bool(event.get("errorCode"))


def is_automation_candidate(event: dict, console: bool | None = None, read_only: bool | None = None) -> bool:
    """A console action that changed something and that someone would script: not a failed
    call (anyone can send a browser user agent, and a denied call did nothing), not a sign-in
    or console-only action, not made by a service on the user's behalf, not session plumbing
    (:data:`PLUMBING_ACTIONS`).

    ``console`` and ``read_only`` may be passed when the caller computed them already.
    """
    if console is None:
        console = is_console(event)
    if not console:
        return False
    if read_only is None:
        read_only = is_read_only(event)
    return not (
        read_only
        or failed(event)
        or event.get("eventType") in _CONSOLE_EVENT_TYPES
        or invoked_by_service(event.get("userIdentity"))
        or is_ignored_action(event.get("eventSource"), event.get("eventName"))
    )


def is_failed_change(event: dict, console: bool, read_only: bool) -> bool:
    """A console call that would have changed something but failed: counted apart, never
    automated. (Not a sign-in or console action, not plumbing; invokedBy is not looked at,
    as Elasticsearch does not index it: provision.hints_es counts the same events.)"""
    return (console and not read_only and failed(event) and event.get("eventType") not in _CONSOLE_EVENT_TYPES
            and not is_ignored_action(event.get("eventSource"), event.get("eventName")))


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
