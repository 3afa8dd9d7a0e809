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
import re
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Callable

import orjson

from provision.cloudtrail import classify, resources
from provision.cloudtrail import fields as F
from provision.cloudtrail.records import TOO_DEEP, Unreadable
from provision.cloudtrail.template import FIELD_TYPES

PROFILES = ("minimal", "standard", "full")

# Top-level CloudTrail keys handled explicitly below; any other top-level key is kept as
# sent, unmapped, under aws.cloudtrail.unmapped (standard and full), so nothing new is lost.
_HANDLED = frozenset({
    "eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion",
    "sourceIPAddress", "userAgent", "errorCode", "errorMessage", "requestParameters",
    "responseElements", "additionalEventData", "requestID", "eventID", "readOnly", "resources",
    "eventType", "apiVersion", "managementEvent", "recipientAccountId", "serviceEventDetails",
    "sharedEventID", "vpcEndpointId", "eventCategory", "tlsDetails", "sessionCredentialFromConsole",
})
# -- what never leaves ctstack: access key IDs (unless kept) and credential material ----------
# A key is an access key ID by its name, whatever its case and separators (accessKeyId,
# AccessKeyID, access_key_id, ...), or a string by its shape (AKIA.../ASIA... and the other
# access key prefixes, 16 more characters), also inside longer text (errorMessage, ARNs).
# Credential material (secretAccessKey, secret keys, sessionToken, security tokens, private
# keys) goes always. (CloudTrail itself replaces passwords with HIDDEN_DUE_TO_SECURITY_REASONS.)
ACCESS_KEY_REMOVED = b"[access key ID removed]"
# Matched in serialised JSON: [0-9A-Z] holds no quote or backslash, so a match lies inside one
# string and its replacement keeps the JSON valid (also inside event.original's escaped JSON).
_ACCESS_KEY_VALUE = re.compile(rb"(?<![0-9A-Z])A(?:KIA|SIA|BIA|CCA)[0-9A-Z]{16}(?![0-9A-Z])")
_ACCESS_KEY_SHAPE = re.compile(rb"A[KSBC][IC]A[0-9A-Z]{16}")  # the quick look: led by a literal, 40x faster
_ACCESS_KEY_NAMES = ("accesskeyid",)
# Names ending so (after lower-casing, without separators) hold a secret. Not every "token":
# nextToken, clientToken and paginationToken are paging and idempotency handles.
# Credential material goes with its key; a password or token keeps its key (a generated
# script still knows the call takes one) and loses its value to "[secret removed]" (CloudTrail's
# own HIDDEN_DUE_TO_SECURITY_REASONS stays as sent).
_SECRET_NAMES = ("secretaccesskey", "secretkey", "sessiontoken", "securitytoken", "privatekey")
_MASKED_NAMES = ("password", "passwd", "passphrase", "authtoken", "accesstoken", "refreshtoken", "idtoken",
                 "bearertoken", "apitoken", "authorization", "clientsecret")
_MASKED_WHOLE_NAMES = frozenset({"token", "secret", "auth", "credential"})  # only when that is the whole name
CLOUDTRAIL_HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"
# One pass over the lower-cased serialised document finds every line that may hold such a
# name: each contains "key" or "ken", followed by the rest of a key (`":`, or `\":` inside
# event.original), so values such as "GenerateDataKey" are not walked; a second finds the
# password, secret, auth and credential names. Literal-led regexes: in `re`, alternatives
# without a common first letter cost 20x more.
_NAME_HINT = re.compile(rb'ke[yn][^"\\]{0,32}\\?":')
_MORE_NAME_HINTS = {word: re.compile(re.escape(word) + tail) for word, tail in (
    (b"pass", rb'[^"\\]{0,32}\\?":'), (b"secret", rb'[^"\\]{0,32}\\?":'), (b"authoriz", rb'[^"\\]{0,32}\\?":'),
    (b'"auth', rb'\\?":'), (b"credential", rb'\\?":'))}
# Secrets inside values, found in the serialised line (each class excludes `"` and `\`, so a
# match lies inside one JSON string and its replacement keeps the JSON valid):
# - the password of a URL's user info (https://user:PASS@host, postgres://admin:PASS@db);
# - a presigned URL's signature and session token, and token-like query parameters;
# - an HTTP Authorization value (Bearer / Basic / token / Digest ...).
SECRET_REMOVED = b"[secret removed]"
_SECRET_REMOVED_TEXT = SECRET_REMOVED.decode()
_URL_PASSWORD = re.compile(rb'(://[^\s"\\/@:]*):[^\s"\\@]+@')
_QUERY_SECRET = re.compile(rb'(?i)([?&](?:x-amz-security-token|x-amz-signature|signature|sig|token|access_token'
                           rb'|id_token|refresh_token|password|passwd|secret|client_secret|api_key|apikey)=)[^&\s"\\#]+')
# Literal substring tests (lower-cased line) decide whether a regex runs at all: a
# case-insensitive regex with alternatives costs 5-20 us per document, `in` well under one.
_QUERY_WORDS = (b"sig", b"token", b"pass", b"secret", b"api")
_AUTHORIZATION = re.compile(rb'(?i)(\bbearer\s+|authorization(?:\s*[:=]\s*(?:(?:basic|bearer|token|digest)\s+)?'
                            rb'|\s+(?:basic|bearer|token|digest)\s+))[^\s"\\,;]{6,}')
_SEPARATORS = re.compile(r"[\W_]+")


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


def _text(value: Any) -> str | None:
    """A keyword value: strings as they are, scalars as text, structures as JSON."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return orjson.dumps(value).decode()


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


# Valid timestamps in CloudTrail's own form, seen lately: events of a file share seconds,
# and sessions share a creationDate. A dict lookup is all most events then cost.
_GOOD_TIMES: dict[str, str] = {}
_GOOD_TIMES_SIZE = 16384


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
        if value in _GOOD_TIMES:
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
    """Note a valid timestamp in CloudTrail's own form in :data:`_GOOD_TIMES` (bounded)."""
    if len(_GOOD_TIMES) >= _GOOD_TIMES_SIZE:
        _GOOD_TIMES.clear()
    _GOOD_TIMES[value] = value
    return value


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


_KEEP, _DROP, _MASK = 0, 1, 2


class _DroppedKeys(dict):
    """Key name -> what becomes of it (_KEEP, _DROP, _MASK), worked out once per name (a
    trail repeats its few hundred key names): credential material goes always, access key
    IDs unless kept; passwords and tokens are masked."""

    def __init__(self, keep_access_keys: bool) -> None:
        super().__init__()
        self.names = _SECRET_NAMES if keep_access_keys else _SECRET_NAMES + _ACCESS_KEY_NAMES

    def __missing__(self, name: str) -> int:
        bare = _SEPARATORS.sub("", name).lower() if isinstance(name, str) else ""
        fate = (_DROP if bare.endswith(self.names)
                else _MASK if bare.endswith(_MASKED_NAMES) or bare in _MASKED_WHOLE_NAMES else _KEEP)
        if len(self) < 65536:
            self[name] = fate
        return fate


_DROPPED = {False: _DroppedKeys(False), True: _DroppedKeys(True)}
_CONTAINERS = (dict, list)


def scrub(value: Any, keep_access_keys: bool = False) -> Any:
    """A copy of ``value`` without keys named like credential material and, unless
    ``keep_access_keys``, like access key IDs, and with the values of keys named like a
    password or token replaced by ``[secret removed]``. Access-key-shaped text and secrets
    inside strings are removed from the serialised form: :func:`scrub_access_key_values`,
    :func:`scrub_secret_values`."""
    return _scrub(value, _DROPPED[bool(keep_access_keys)])


def _scrub(value: Any, dropped: _DroppedKeys) -> Any:
    if value.__class__ is dict:
        kept = {}
        for k, v in value.items():
            fate = dropped[k]
            if fate == _KEEP:
                kept[k] = _scrub(v, dropped) if v.__class__ in _CONTAINERS else v
            elif fate == _MASK:
                kept[k] = v if v in (None, "", CLOUDTRAIL_HIDDEN) else _SECRET_REMOVED_TEXT
        return kept
    if value.__class__ is list:
        return [_scrub(v, dropped) if v.__class__ in _CONTAINERS else v for v in value]
    return value


def scrub_access_key_values(line: bytes) -> bytes:
    """Serialised JSON with every access-key-shaped string part (AKIA..., ASIA..., in any
    string: errorMessage, ARNs, ...) replaced by ``[access key ID removed]``."""
    return _ACCESS_KEY_VALUE.sub(ACCESS_KEY_REMOVED, line)


def scrub_secret_values(line: bytes, lower: bytes | None = None) -> bytes:
    """Serialised JSON with secrets inside string values replaced by ``[secret removed]``:
    URL passwords, presigned URLs' signatures and session tokens, token-like query
    parameters, Authorization values. Each costs a substring test unless it may be there.
    Returns ``line`` itself when nothing was found. (``lower``: ``line.lower()``, if known.)"""
    if lower is None:
        lower = line.lower()
    if b"://" in line and b"@" in line and _URL_PASSWORD.search(line) is not None:
        line = _URL_PASSWORD.sub(rb"\1:" + SECRET_REMOVED + b"@", line)
    if (b"=" in line and (b"?" in line or b"&" in line) and any(word in lower for word in _QUERY_WORDS)
            and _QUERY_SECRET.search(line) is not None):
        line = _QUERY_SECRET.sub(rb"\1" + SECRET_REMOVED, line)
    if (b"bearer" in lower or b"authorization" in lower) and _AUTHORIZATION.search(line) is not None:
        line = _AUTHORIZATION.sub(rb"\1" + SECRET_REMOVED, line)
    return line


def _other_secret_name(lower: bytes) -> bool:
    """Whether a lower-cased line may hold a password, secret, authorization or credential key."""
    for word, hint in _MORE_NAME_HINTS.items():
        if word in lower and hint.search(lower) is not None:
            return True
    return False


def scrubbed_line(value: Any, keep_access_keys: bool = False, option: int = 0) -> bytes:
    """``value`` serialised with :func:`scrub` and :func:`scrub_secret_values` and, unless
    ``keep_access_keys``, :func:`scrub_access_key_values` applied: how an event is written
    anywhere else (the dead-letter file)."""
    line = scrub_secret_values(orjson.dumps(scrub(value, keep_access_keys), option=option))
    return line if keep_access_keys else scrub_access_key_values(line)


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


_USER_FIELDS_CACHE: dict[bytes, tuple] = {}
_USER_FIELDS_CACHE_SIZE = 4096


def _user(identity: dict, doc: dict) -> None:
    """The user fields of ``identity``. The same few identities make most of a trail, so the
    fields are kept per identity (keyed by its JSON) instead of worked out for every event."""
    if not identity:
        return
    try:
        key = orjson.dumps(identity)
    except TypeError:  # not JSON-serialisable (never from a file): work it out, uncached
        _user_fields(identity, doc)
        return
    fields = _USER_FIELDS_CACHE.get(key)
    if fields is None:
        if len(_USER_FIELDS_CACHE) >= _USER_FIELDS_CACHE_SIZE:
            _USER_FIELDS_CACHE.clear()
        computed: dict[str, Any] = {}
        _user_fields(identity, computed)
        fields = _USER_FIELDS_CACHE[key] = tuple(computed.items())
    doc.update(fields)


def _user_fields(identity: dict, doc: dict) -> None:
    kind = identity.get("type")
    arn = identity.get("arn") if isinstance(identity.get("arn"), str) else ""
    name = identity.get("userName")
    session = identity.get("sessionContext")
    issuer = session.get("sessionIssuer") if isinstance(session, dict) else None
    issuer = issuer if isinstance(issuer, dict) else {}
    role = None
    if kind == "AssumedRole" or ":assumed-role/" in arn:
        # arn:aws:sts::123:assumed-role/ROLE/SESSION -> user is SESSION, role is ROLE
        parts = arn.split(":assumed-role/", 1)[-1].split("/") if ":assumed-role/" in arn else []
        role = issuer.get("userName") or (parts[0] if parts else None)
        name = parts[1] if len(parts) > 1 else (
            str(identity.get("principalId", "")).split(":", 1)[-1] or None)
    elif kind == "FederatedUser" and ":federated-user/" in arn:
        name = arn.split(":federated-user/", 1)[1]
    elif kind == "Root" and not name:
        name = "root"
    elif kind == "AWSService" and not name:
        name = identity.get("invokedBy")
    elif not name and kind == "IdentityCenterUser":
        name = (identity.get("onBehalfOf") or {}).get("userId") if isinstance(identity.get("onBehalfOf"), dict) else None
    _put(doc, F.USER_NAME, _text(name))
    _put(doc, F.USER_ROLES, _text(role))
    _put(doc, F.USER_ID, _text(identity.get("principalId")))
    _put(doc, F.CT_UI_TYPE, _text(kind))
    _put(doc, F.CT_UI_ARN, _text(arn or None))
    _put(doc, F.CT_UI_PRINCIPAL_ID, _text(identity.get("principalId")))
    _put(doc, F.CT_UI_INVOKED_BY, _text(identity.get("invokedBy")))
    if issuer:
        _put(doc, F.CT_UI_SESSION_ISSUER_ARN, _text(issuer.get("arn")))
        _put(doc, F.CT_UI_SESSION_ISSUER_TYPE, _text(issuer.get("type")))
    attributes = session.get("attributes") if isinstance(session, dict) else None
    if isinstance(attributes, dict):
        _put(doc, F.CT_UI_MFA_AUTHENTICATED, _bool(attributes.get("mfaAuthenticated")))
        creation = attributes.get("creationDate")
        if isinstance(creation, str) and creation:
            try:
                doc[F.CT_UI_CREATION_DATE] = parse_time(creation)
            except ValueError:  # kept as sent: the mapping ignores what it cannot read
                doc[F.CT_UI_CREATION_DATE] = creation


def _put(doc: dict, key: str, value: Any) -> None:
    if value is not None:
        doc[key] = value


def _resources(resources: Any, doc: dict) -> None:
    if not isinstance(resources, list):
        return
    arns, types, accounts = [], [], []
    for res in resources:
        if isinstance(res, dict):
            if (v := _text(res.get("ARN") or res.get("arn"))) is not None:
                arns.append(v)
            if (v := _text(res.get("type"))) is not None:
                types.append(v)
            if (v := _text(res.get("accountId"))) is not None:
                accounts.append(v)
    _put(doc, F.CT_RESOURCES_ARN, arns or None)
    _put(doc, F.CT_RESOURCES_TYPE, sorted(set(types)) or None)
    _put(doc, F.CT_RESOURCES_ACCOUNT_ID, sorted(set(accounts)) or None)


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
        elif value is not None and (text := _text(value)) is not None:
            doc[field] = text


# Field names in a document's order -> a function that nests such documents. A few hundred
# orders occur (which optional fields an event has), so each is made once; bounded all the same.
_NESTERS: dict[tuple, Callable[..., dict]] = {}
_MAX_NESTERS = 4096


def _nester(names: tuple) -> Callable[..., dict]:
    """A function taking a document's values in ``names`` order and returning the nested
    document: one dict display, compiled once (a loop over the fields costs four times as much
    per document, and the conversion runs for every event). Only ctstack's own field names,
    written with repr(), go into the code."""
    tree: dict = {}
    for position, name in enumerate(names):
        node = tree
        *parents, leaf = name.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = position

    def display(node: dict) -> str:
        return "{" + ", ".join(f"{key!r}: " + (display(value) if isinstance(value, dict) else f"v{value}")
                               for key, value in node.items()) + "}"

    scope: dict = {}
    parameters = ", ".join(f"v{position}" for position in range(len(names)))
    exec(f"def nest({parameters}):\n    return {display(tree)}\n", scope)  # noqa: S102 - our field names only
    return scope["nest"]


def nested(doc: dict) -> dict:
    """A flat document as nested objects, as it is sent: {"a.b": 1, "a.c": 2} -> {"a": {"b": 1,
    "c": 2}}. Values are left whole (a request_parameters blob stays as it is)."""
    names = tuple(doc)
    nest = _NESTERS.get(names)
    if nest is None:
        nest = _nester(names)
        if len(_NESTERS) < _MAX_NESTERS:
            _NESTERS[names] = nest
    return nest(*doc.values())


def flat_source(source: dict) -> dict:
    """A document's ``_source`` with ctstack's flat field names, whatever its shape: nested
    (as documents are sent now), flat dotted keys (as earlier versions sent them), or mixed.
    The walk stops at each mapped field (:data:`provision.cloudtrail.template.FIELD_TYPES`), so a
    request_parameters blob stays whole."""
    flat: dict = {}
    stack = [("", source)]
    while stack:
        prefix, node = stack.pop()
        for key, value in node.items():
            name = prefix + key
            if value.__class__ is dict and name not in FIELD_TYPES:
                stack.append((name + ".", value))
            else:
                flat[name] = value
    return flat


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
        line = orjson.dumps(nested(doc), option=_APPEND_NEWLINE)
        lower = line.lower()
        if _NAME_HINT.search(lower) is not None or _other_secret_name(lower):
            _scrub_document(doc, event, keep_access_keys)
            line = orjson.dumps(nested(doc), option=_APPEND_NEWLINE)
            lower = line.lower()
        scrubbed = scrub_secret_values(line, lower)
        if not keep_access_keys and _ACCESS_KEY_SHAPE.search(scrubbed) is not None:
            scrubbed = scrub_access_key_values(scrubbed)
        if scrubbed is not line:
            line, doc = scrubbed, flat_source(orjson.loads(scrubbed))
    except (TypeError, RecursionError):  # orjson's depth limit: nothing else in a parsed event stops it
        raise DocumentError(TOO_DEEP) from None
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
    _put(doc, F.ACTOR_STACK, _text(stack))


def _build(event: Any, profile: str, keep_access_keys: bool) -> dict:
    """The document, with the parts copied from the event not yet scrubbed."""
    if event.__class__ is not dict:
        if isinstance(event, Unreadable):
            raise DocumentError(event.reason)
        if not isinstance(event, dict):
            raise DocumentError(f"not a CloudTrail event (a JSON {type(event).__name__}, not an object)")
    get = event.get
    timestamp = get("eventTime")
    if timestamp.__class__ is not str or timestamp not in _GOOD_TIMES:
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
        _put(doc, F.CLOUD_ACCOUNT_ID, _text(account))
    if profile == "minimal":
        _copy_text(event, doc, _TEXT_MINIMAL)
        return doc
    _copy_text(event, doc, _TEXT_ALL)
    for key, field in _BOOLEANS:
        value = get(key)
        if value is not None:
            if value.__class__ is bool:
                doc[field] = value
            elif (flag := _bool(value)) is not None:
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
        _put(doc, F.CT_CONSOLE_LOGIN, _text(console_login))
    address = doc.get(F.SOURCE_ADDRESS)
    if address and valid_ip(address):
        doc[F.SOURCE_IP] = address
    if identity:
        _user(identity, doc)
        if keep_access_keys:
            _put(doc, F.USER_ACCESS_KEY_ID, _text(identity.get("accessKeyId")))
    tls = get("tlsDetails")
    if tls.__class__ is dict:
        _put(doc, F.CT_TLS_VERSION, _text(tls.get("tlsVersion")))
        _put(doc, F.CT_TLS_CLIENT_HOST, _text(tls.get("clientProvidedHostHeader")))
    resources = get("resources")
    if resources is not None:
        _resources(resources, doc)
    value = get("requestParameters")
    if value is not None:
        _put(doc, F.CT_REQUEST_PARAMETERS, _blob(value))
    value = get("additionalEventData")
    if value is not None:
        _put(doc, F.CT_ADDITIONAL_EVENTDATA, _blob(value))
    if not _HANDLED.issuperset(event):
        unknown = {key: value for key, value in event.items() if key not in _HANDLED and value is not None}
        if unknown:
            doc[F.CT_UNMAPPED] = unknown  # kept in _source as sent, never mapped
    if not read_only:
        _changes(event, doc)
    if profile == "full":
        _put(doc, F.CT_RESPONSE_ELEMENTS, _blob(response))
        _put(doc, F.CT_SERVICE_EVENT_DETAILS, _blob(event.get("serviceEventDetails")))
        doc[F.CT_ORIGINAL] = orjson.dumps(event).decode()
    elif profile != "standard":
        raise ValueError(f"unknown fields profile {profile!r}; choose one of {', '.join(PROFILES)}")
    elif candidate and response is not None:
        # A console change's response holds the ids it created: workflows link steps by them
        # (provision.analysis.workflows), so hints from Elasticsearch equal hints from the files.
        _put(doc, F.CT_RESPONSE_ELEMENTS, _blob(response))
    return doc
