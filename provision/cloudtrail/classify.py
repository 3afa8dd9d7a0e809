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

from provision.core.errors import CtstackError

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
    as Elasticsearch does not index it: provision.analysis.hints_es counts the same events.)"""
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


# Who made a change (provision.cloudtrail.drift): the rules, in order, and their public sources in docs/hints-and-automation.md.
ACTOR_CONSOLE = "console"
ACTOR_CLOUDFORMATION = "cloudformation"
ACTOR_TERRAFORM = "terraform"
ACTOR_PULUMI = "pulumi"
ACTOR_AUTOMATION = "automation"   # another SDK, CLI or tool, not from a console session
ACTOR_AWS_SERVICE = "aws-service"  # another AWS service on the principal's behalf (Auto Scaling, ...)
ACTOR_UNKNOWN = "unknown"
# Actors whose resources are *managed*: a console change to one of them is drift.
MANAGING_ACTORS = (ACTOR_CLOUDFORMATION, ACTOR_TERRAFORM, ACTOR_PULUMI, ACTOR_AUTOMATION)
IAC_ACTORS = (ACTOR_CLOUDFORMATION, ACTOR_TERRAFORM, ACTOR_PULUMI)  # a change by one of them is a claim
CLOUDFORMATION_SERVICE = "cloudformation.amazonaws.com"
STACK_NAME_TAG = "aws:cloudformation:stack-name"
STACK_ID_TAG = "aws:cloudformation:stack-id"
# User-agent product tokens (whole tokens, case-insensitive, before "/version"). Pulumi's AWS
# provider is built on Terraform's and may carry its tokens too: Pulumi is tested first.
_PULUMI_TOKEN = re.compile(r"^(?:pulumi|pulumi-aws|pulumi-aws-native)(?:/\S*)?$", re.IGNORECASE)
_TERRAFORM_TOKEN = re.compile(r"^(?:terraform|terraform-provider-aws|terraform-provider-awscc)(?:/\S*)?$", re.IGNORECASE)


def actor(event: dict) -> tuple[str, str | None]:
    """(who made the call, the CloudFormation stack name when the request gives it):

    1. cloudformation: userIdentity.invokedBy, sourceIPAddress or userAgent is
       ``cloudformation.amazonaws.com`` (CDK and SAM deploy through CloudFormation; a stack
       started from the console is still CloudFormation's call);
    2. console: :func:`is_console`;
    3. pulumi / terraform: a user-agent token ``pulumi*`` / ``terraform-provider-aws``, ``Terraform``;
    4. aws-service: another AWS service made the call (invokedBy, or an AWSService identity);
    5. automation: any other user agent (SDKs, the AWS CLI, Ansible, the CDK CLI, CI);
    6. unknown: no user agent and nothing else to tell."""
    given_identity, given_agent = event.get("userIdentity"), event.get("userAgent")
    identity = given_identity if isinstance(given_identity, dict) else {}
    agent = given_agent if isinstance(given_agent, str) else ""
    if CLOUDFORMATION_SERVICE in (identity.get("invokedBy"), event.get("sourceIPAddress"), agent):
        return ACTOR_CLOUDFORMATION, stack_name(event.get("requestParameters"))
    if is_console(event):
        return ACTOR_CONSOLE, None
    if agent:
        tool = _agent_tool(agent)
        if tool is not None:
            return tool, None
    if invoked_by_service(identity) or identity.get("type") == "AWSService":
        return ACTOR_AWS_SERVICE, None
    return (ACTOR_AUTOMATION, None) if agent else (ACTOR_UNKNOWN, None)


@lru_cache(maxsize=4096)
def _agent_tool(agent: str) -> str | None:
    tokens = [token for token in _TOKEN_SEPARATORS.split(agent) if token]
    if any(_PULUMI_TOKEN.match(token) for token in tokens):
        return ACTOR_PULUMI
    if any(_TERRAFORM_TOKEN.match(token) for token in tokens):
        return ACTOR_TERRAFORM
    return None


def stack_name(request_parameters: Any) -> str | None:
    """The ``aws:cloudformation:stack-name`` tag CloudFormation puts on what it creates, from
    the request (EC2 tag specifications, ``{key, value}`` or ``{Key, Value}`` lists, tag maps);
    else the name from an ``aws:cloudformation:stack-id`` tag (``.../stack/NAME/uuid``)."""
    found: dict[str, str] = {}
    _stack_tags(request_parameters, found, 0)
    if STACK_NAME_TAG in found:
        return found[STACK_NAME_TAG]
    stack_id = found.get(STACK_ID_TAG, "")
    parts = stack_id.split("/")
    return parts[1] if len(parts) >= 3 and parts[0].endswith(":stack") else None


def _stack_tags(value: Any, found: dict[str, str], depth: int) -> None:
    if depth > 20 or len(found) == 2:
        return
    if isinstance(value, dict):
        key = value.get("key", value.get("Key"))
        if key in (STACK_NAME_TAG, STACK_ID_TAG) and isinstance(tag := value.get("value", value.get("Value")), str):
            found.setdefault(key, tag)
        for name in (STACK_NAME_TAG, STACK_ID_TAG):
            if isinstance(value.get(name), str):
                found.setdefault(name, value[name])
        for inner in value.values():
            if isinstance(inner, (dict, list)):
                _stack_tags(inner, found, depth + 1)
    elif isinstance(value, list):
        for inner in value:
            _stack_tags(inner, found, depth + 1)
