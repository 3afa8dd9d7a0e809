"""From one CloudTrail event to one Elasticsearch document (ECS-aligned).

Field names come from :mod:`provision.cloudtrail.fields`. In Python a document is a flat dict of dotted
names (``doc["event.action"]``); it is sent to Elasticsearch as nested objects
(``{"event": {"action": ...}}``), which Elasticsearch parses in about a third less CPU, and
:func:`flat_source` reads either shape back. Values that Elasticsearch maps as keyword
are always strings here, so odd input (numbers, objects where a name belongs) never makes
a document fail on its mapping; request/response blobs go to ``flattened`` fields.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any, Literal, get_args

import orjson

from provision.cloudtrail import classify, resources
from provision.cloudtrail import fields as F
from provision.cloudtrail.identity import user_fields
from provision.cloudtrail.nesting import flat_source, nested
from provision.cloudtrail.records import TOO_DEEP, Unreadable
from provision.cloudtrail.scrub import (holds_secret_name, may_hold_access_key, scrub,
                                       scrub_access_key_values, scrub_secret_values)
from provision.cloudtrail.timestamps import GOOD_TIMES, TimeOutOfRange, parse_time
from provision.cloudtrail.values import boolean, keyword_text, put

Profile = Literal["minimal", "standard", "full"]
PROFILES: tuple[str, ...] = get_args(Profile)

# Top-level CloudTrail keys handled explicitly below; any other top-level key is kept as
# sent, unmapped, under aws.cloudtrail.unmapped (standard and full), so nothing new is lost.
_HANDLED = frozenset({
    "eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion",
    "sourceIPAddress", "userAgent", "errorCode", "errorMessage", "requestParameters",
    "responseElements", "additionalEventData", "requestID", "eventID", "readOnly", "resources",
    "eventType", "apiVersion", "managementEvent", "recipientAccountId", "serviceEventDetails",
    "sharedEventID", "vpcEndpointId", "eventCategory", "tlsDetails", "sessionCredentialFromConsole",
})


class DocumentError(ValueError):
    """The event cannot become a document; the message is the reason (dead-letter file)."""


@lru_cache(maxsize=65536)
def valid_ip(value: str) -> bool:
    """True for a real IPv4/IPv6 address. Service names ("ec2.amazonaws.com", "AWS
    Internal") and anonymised forms with leading zeros ("251.234.045.249") are not."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def parse_event_time(value: Any) -> str:
    """eventTime as an ISO-8601 UTC string Elasticsearch accepts; DocumentError if unusable:
    "no usable eventTime (...)", or "eventTime out of range (...)" for a real date that
    Python (and the monthly index name) cannot hold."""
    try:
        return parse_time(value)
    except TimeOutOfRange as err:
        raise DocumentError(f"eventTime out of range ({err})") from None
    except ValueError as err:
        raise DocumentError(f"no usable eventTime ({err})") from None


def document_id(event: dict) -> str:
    """The document's ``_id`` (:func:`provision.cloudtrail.classify.event_id`); DocumentError when the
    event is too deep to be hashed."""
    try:
        return classify.event_id(event)
    except TypeError:
        raise DocumentError(TOO_DEEP) from None


def index_for(prefix: str, doc: dict) -> str:
    """The monthly index of a document: ``<prefix>-YYYY.MM`` from its @timestamp."""
    ts = doc[F.TIMESTAMP]
    return f"{prefix}-{ts[0:4]}.{ts[5:7]}"


def _blob(value: Any) -> Any:
    """A request/response blob for a flattened field (objects only; others wrapped)."""
    if value is None or (value.__class__ in (dict, list) and not value):
        return None
    if value.__class__ is not dict:
        value = {"value": value}
    return value


# Fields that hold parts of the event as sent, so may hold any key.
_BLOB_FIELDS = (F.CT_REQUEST_PARAMETERS, F.CT_ADDITIONAL_EVENTDATA, F.CT_RESPONSE_ELEMENTS,
                F.CT_SERVICE_EVENT_DETAILS, F.CT_UNMAPPED)


def _scrub_document(doc: dict, event: dict, keep_access_keys: bool) -> None:
    """:func:`scrub` every part of ``doc`` copied from the event as sent."""
    for name in _BLOB_FIELDS:
        if name in doc:
            doc[name] = scrub(doc[name], keep_access_keys)
    if F.CT_ORIGINAL in doc:
        doc[F.CT_ORIGINAL] = orjson.dumps(scrub(event, keep_access_keys)).decode()


def _copies_secret_name(doc: dict, event: Any, keep_access_keys: bool) -> bool:
    """Whether :func:`_scrub_document` could change ``doc``: some key of a part copied from
    the event (the event itself in the full profile, for event.original) is one that
    :func:`scrub` drops or masks. False: scrubbing would give the same document."""
    if F.CT_ORIGINAL in doc:
        return holds_secret_name(event, keep_access_keys)
    for name in _BLOB_FIELDS:
        value = doc.get(name)
        if value is not None and holds_secret_name(value, keep_access_keys):
            return True
    return False


def _resources(resources: Any, doc: dict) -> None:
    if not isinstance(resources, list):
        return
    arns, types, accounts = [], [], []
    for res in resources:
        if isinstance(res, dict):
            if (v := keyword_text(res.get("ARN") or res.get("arn"))) is not None:
                arns.append(v)
            if (v := keyword_text(res.get("type"))) is not None:
                types.append(v)
            if (v := keyword_text(res.get("accountId"))) is not None:
                accounts.append(v)
    put(doc, F.CT_RESOURCES_ARN, arns or None)
    put(doc, F.CT_RESOURCES_TYPE, sorted(set(types)) or None)
    put(doc, F.CT_RESOURCES_ACCOUNT_ID, sorted(set(accounts)) or None)


# (CloudTrail key, document field): values copied as keyword text.
_TEXT_MINIMAL = (
    ("eventName", F.EVENT_ACTION),
    ("eventSource", F.EVENT_PROVIDER),
    ("awsRegion", F.CLOUD_REGION),
)
_TEXT_STANDARD = (
    ("eventID", F.EVENT_ID),
    ("errorCode", F.CT_ERROR_CODE),
    ("errorMessage", F.CT_ERROR_MESSAGE),
    ("sourceIPAddress", F.SOURCE_ADDRESS),
    ("userAgent", F.USER_AGENT),
    ("eventType", F.CT_EVENT_TYPE),
    ("eventCategory", F.CT_EVENT_CATEGORY),
    ("eventVersion", F.CT_EVENT_VERSION),
    ("recipientAccountId", F.CT_RECIPIENT_ACCOUNT_ID),
    ("requestID", F.CT_REQUEST_ID),
    ("apiVersion", F.CT_API_VERSION),
    ("vpcEndpointId", F.CT_VPC_ENDPOINT_ID),
    ("sharedEventID", F.CT_SHARED_EVENT_ID),
)
_TEXT_ALL = _TEXT_MINIMAL + _TEXT_STANDARD
_BOOLEANS = (
    ("readOnly", F.CT_READ_ONLY),
    ("managementEvent", F.CT_MANAGEMENT_EVENT),
    ("sessionCredentialFromConsole", F.CT_SESSION_CREDENTIAL_FROM_CONSOLE),
)


def _copy_text(event: dict, doc: dict, pairs: tuple) -> None:
    get = event.get
    for key, field in pairs:
        value = get(key)
        if value.__class__ is str:  # the common case, kept cheap: this runs per field per event
            if value:
                doc[field] = value
        elif value is not None and (text := keyword_text(value)) is not None:
            doc[field] = text


def to_document(event: Any, profile: str = "standard", keep_access_keys: bool = False) -> dict:
    """The Elasticsearch document for one event. Raises DocumentError with the reason when
    the event cannot be one (not an object, no usable eventTime)."""
    return document_and_line(event, profile, keep_access_keys)[0]


_APPEND_NEWLINE = orjson.OPT_APPEND_NEWLINE


def document_and_line(event: Any, profile: str = "standard", keep_access_keys: bool = False,
                      source_file: str | None = None) -> tuple[dict, bytes]:
    """The document for one event and its JSON line (newline-terminated), as the importer
    sends it; ``source_file`` is recorded in the document (standard and full profiles).

    Access key IDs and credential material are looked for once, in the serialised
    document, rather than in each part copied from the event: almost no document holds
    one, so almost none is walked (see :func:`scrub`)."""
    try:
        doc = _build(event, profile, keep_access_keys)
        if source_file is not None and profile != "minimal":
            doc[F.SOURCE_FILE] = source_file
        doc, line = _scrubbed(doc, event, keep_access_keys, orjson.dumps(nested(doc), option=_APPEND_NEWLINE))
    except (TypeError, RecursionError):  # orjson's depth limit: nothing else in a parsed event stops it
        raise DocumentError(TOO_DEEP) from None
    return doc, line


def _scrubbed(doc: dict, event: Any, keep_access_keys: bool, line: bytes) -> tuple[dict, bytes]:
    """``doc`` and its serialised ``line`` with secrets removed (:func:`document_and_line`)."""
    lower = line.lower()
    # Only a key named like a secret in a part copied from the event changes what
    # _scrub_document makes; a document with none (almost every one) skips it. The walk
    # decides alone: the line's name hints missed spellings the walk catches (`p_assword`).
    if _copies_secret_name(doc, event, keep_access_keys):
        _scrub_document(doc, event, keep_access_keys)
        line = orjson.dumps(nested(doc), option=_APPEND_NEWLINE)
        lower = line.lower()
    scrubbed = scrub_secret_values(line, lower)
    if not keep_access_keys and may_hold_access_key(scrubbed):
        scrubbed = scrub_access_key_values(scrubbed)
    if scrubbed is not line:
        line, doc = scrubbed, flat_source(orjson.loads(scrubbed))
    return doc, line


_CLASSES_CACHE: dict[tuple, tuple[bool, bool, bool]] = {}
_CLASSES_CACHE_SIZE = 16384
_EXACT = (bool, str, type(None))  # True == 1 as dict keys: other types are classified uncached


def _classes(event: dict) -> tuple[bool, bool, bool]:
    """(console, read-only, automation candidate), by the fields they depend on: a trail
    repeats the same few combinations, so each is worked out once. The identity enters the
    key as its invokedBy and whether it is anonymous (not its principalId, which is new for
    every session)."""
    get = event.get
    read_only, from_console = get("readOnly"), get("sessionCredentialFromConsole")
    identity = get("userIdentity")
    if identity.__class__ is dict:
        invoked_by, anonymous = identity.get("invokedBy"), classify.is_anonymous(identity)
    else:
        invoked_by = anonymous = None
    key = None
    if read_only.__class__ in _EXACT and from_console.__class__ in _EXACT:
        key = (get("eventType"), from_console, get("userAgent"), read_only, get("eventName"), get("eventSource"),
               invoked_by, anonymous, bool(get("errorCode")))
        try:
            found = _CLASSES_CACHE.get(key)
        except TypeError:  # an object where a name belongs
            found = key = None
        if found is not None:
            return found
    console = classify.is_console(event)
    is_read_only = classify.is_read_only(event)
    found = (console, is_read_only, classify.is_automation_candidate(event, console, is_read_only))
    if key is not None:
        if len(_CLASSES_CACHE) >= _CLASSES_CACHE_SIZE:
            _CLASSES_CACHE.clear()
        _CLASSES_CACHE[key] = found
    return found


def _changes(event: dict, doc: dict) -> None:
    """A change's resources (provision.cloudtrail.resources) and who made it (classify.actor)."""
    touched = resources.touched(event)
    for field_name, values in ((F.RESOURCES, touched.named), (F.RESOURCES_CHANGED, touched.changed), (F.RESOURCES_CREATED, touched.created)):
        if values:
            doc[field_name] = list(values)
    who, stack = classify.actor(event)
    doc[F.ACTOR] = who
    put(doc, F.ACTOR_STACK, keyword_text(stack))


def _build(event: Any, profile: str, keep_access_keys: bool) -> dict:
    """The document, with the parts copied from the event not yet scrubbed."""
    if event.__class__ is not dict:
        if isinstance(event, Unreadable):
            raise DocumentError(event.reason)
        if not isinstance(event, dict):
            raise DocumentError(f"not a CloudTrail event (a JSON {type(event).__name__}, not an object)")
    get = event.get
    timestamp = get("eventTime")
    if timestamp.__class__ is not str or timestamp not in GOOD_TIMES:
        timestamp = parse_event_time(timestamp)
    console, read_only, candidate = _classes(event)
    identity = get("userIdentity")
    if identity.__class__ is not dict:
        identity = {}
    account = get("recipientAccountId") or identity.get("accountId")

    doc: dict[str, Any] = {
        F.TIMESTAMP: timestamp,
        F.EVENT_DATASET: F.DATASET,
        F.EVENT_KIND: "event",
        F.CLOUD_PROVIDER: "aws",
        F.CONSOLE: console,
        F.READ_ONLY: read_only,
        F.AUTOMATION_CANDIDATE: candidate,
    }
    if account.__class__ is str and account:
        doc[F.CLOUD_ACCOUNT_ID] = account
    else:
        put(doc, F.CLOUD_ACCOUNT_ID, keyword_text(account))
    if profile == "minimal":
        _copy_text(event, doc, _TEXT_MINIMAL)
        return doc
    _copy_text(event, doc, _TEXT_ALL)
    for key, field in _BOOLEANS:
        value = get(key)
        if value is not None:
            if value.__class__ is bool:
                doc[field] = value
            elif (flag := boolean(value)) is not None:
                doc[field] = flag
    response = get("responseElements")
    console_login = response.get("ConsoleLogin") if response.__class__ is dict else None
    if get("errorCode") or get("errorMessage"):
        outcome = "failure"
    elif console_login is None:
        outcome = "success"
    elif isinstance(console_login, str):
        outcome = "failure" if console_login.lower() == "failure" else "success"
    else:
        outcome = "success"
    doc[F.EVENT_OUTCOME] = outcome
    if console_login is not None:
        put(doc, F.CT_CONSOLE_LOGIN, keyword_text(console_login))
    address = doc.get(F.SOURCE_ADDRESS)
    if address and valid_ip(address):
        doc[F.SOURCE_IP] = address
    if identity:
        user_fields(identity, doc)
        if keep_access_keys:
            put(doc, F.USER_ACCESS_KEY_ID, keyword_text(identity.get("accessKeyId")))
    tls = get("tlsDetails")
    if tls.__class__ is dict:
        put(doc, F.CT_TLS_VERSION, keyword_text(tls.get("tlsVersion")))
        put(doc, F.CT_TLS_CLIENT_HOST, keyword_text(tls.get("clientProvidedHostHeader")))
    resources = get("resources")
    if resources is not None:
        _resources(resources, doc)
    value = get("requestParameters")
    if value is not None:
        put(doc, F.CT_REQUEST_PARAMETERS, _blob(value))
    value = get("additionalEventData")
    if value is not None:
        put(doc, F.CT_ADDITIONAL_EVENTDATA, _blob(value))
    if not _HANDLED.issuperset(event):
        unknown = {key: value for key, value in event.items() if key not in _HANDLED and value is not None}
        if unknown:
            doc[F.CT_UNMAPPED] = unknown  # kept in _source as sent, never mapped
    if not read_only:
        _changes(event, doc)
    if profile == "full":
        put(doc, F.CT_RESPONSE_ELEMENTS, _blob(response))
        put(doc, F.CT_SERVICE_EVENT_DETAILS, _blob(event.get("serviceEventDetails")))
        doc[F.CT_ORIGINAL] = orjson.dumps(event).decode()
    elif profile != "standard":
        raise ValueError(f"unknown fields profile {profile!r}; choose one of {', '.join(PROFILES)}")
    elif candidate and response is not None:
        # A console change's response holds the ids it created: workflows link steps by them
        # (provision.analysis.workflows), so hints from Elasticsearch equal hints from the files.
        put(doc, F.CT_RESPONSE_ELEMENTS, _blob(response))
    return doc
