"""From one CloudTrail event to one Elasticsearch document (ECS-aligned, flat dotted keys).

Field names come from :mod:`provision.fields`. Values that Elasticsearch maps as keyword
are always strings here, so odd input (numbers, objects where a name belongs) never makes
a document fail on its mapping; request/response blobs go to ``flattened`` fields.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

import orjson

from provision import classify
from provision import fields as F

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
_ACCESS_KEY = b"ccessKeyId"  # matches accessKeyId and AccessKeyId


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


def parse_event_time(value: Any) -> str:
    """eventTime as an ISO-8601 UTC string Elasticsearch accepts; DocumentError if unusable."""
    if not isinstance(value, str) or not value:
        raise DocumentError("no usable eventTime (missing or not a string)")
    # Fast path: CloudTrail's own form, 2024-08-01T13:30:05Z.
    if len(value) == 20 and value[10] == "T" and value[19] == "Z":
        try:
            datetime(int(value[0:4]), int(value[5:7]), int(value[8:10]), int(value[11:13]), int(value[14:16]), int(value[17:19]))
        except ValueError:
            raise DocumentError(f"no usable eventTime ({value!r} is not a valid timestamp)") from None
        return value
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        raise DocumentError(f"no usable eventTime ({value!r} is not a valid timestamp)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def index_for(prefix: str, doc: dict) -> str:
    """The monthly index of a document: ``<prefix>-YYYY.MM`` from its @timestamp."""
    ts = doc[F.TIMESTAMP]
    return f"{prefix}-{ts[0:4]}.{ts[5:7]}"


def _scrub_access_keys(value: Any) -> Any:
    """A copy without any *accessKeyId* keys (only walked when the text mentions one)."""
    if isinstance(value, dict):
        return {k: _scrub_access_keys(v) for k, v in value.items() if not k.endswith("ccessKeyId")}
    if isinstance(value, list):
        return [_scrub_access_keys(v) for v in value]
    return value


def _blob(value: Any, keep_access_keys: bool) -> Any:
    """A request/response blob for a flattened field (objects only; others wrapped)."""
    if value is None or value == {} or value == []:
        return None
    if not keep_access_keys and _ACCESS_KEY in orjson.dumps(value):
        value = _scrub_access_keys(value)
    if not isinstance(value, dict):
        value = {"value": value}
    return value


def _user(identity: dict, doc: dict) -> None:
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
        if isinstance(creation, str):
            try:
                _put(doc, F.CT_UI_CREATION_DATE, parse_event_time(creation))
            except DocumentError:
                pass


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


def to_document(event: Any, profile: str = "standard", keep_access_keys: bool = False) -> dict:
    """The Elasticsearch document for one event. Raises DocumentError with the reason when
    the event cannot be one (not an object, no usable eventTime)."""
    if not isinstance(event, dict):
        raise DocumentError(f"not a CloudTrail event (a JSON {type(event).__name__}, not an object)")
    timestamp = parse_event_time(event.get("eventTime"))
    console = classify.is_console(event)
    read_only = classify.is_read_only(event)
    identity = event.get("userIdentity")
    identity = identity if isinstance(identity, dict) else {}
    account = event.get("recipientAccountId") or identity.get("accountId")

    doc: dict[str, Any] = {
        F.TIMESTAMP: timestamp,
        F.EVENT_DATASET: F.DATASET,
        F.EVENT_KIND: "event",
        F.CLOUD_PROVIDER: "aws",
        F.CONSOLE: console,
        F.READ_ONLY: read_only,
        F.AUTOMATION_CANDIDATE: classify.is_automation_candidate(event, console, read_only),
    }
    _copy_text(event, doc, _TEXT_MINIMAL)
    _put(doc, F.CLOUD_ACCOUNT_ID, _text(account))
    if profile == "minimal":
        return doc

    _copy_text(event, doc, _TEXT_STANDARD)
    for key, field in _BOOLEANS:
        value = event.get(key)
        if value is not None and (flag := _bool(value)) is not None:
            doc[field] = flag
    response = event.get("responseElements")
    console_login = response.get("ConsoleLogin") if isinstance(response, dict) else None
    if event.get("errorCode") or event.get("errorMessage"):
        outcome = "failure"
    elif isinstance(console_login, str):
        outcome = "failure" if console_login.lower() == "failure" else "success"
    else:
        outcome = "success"
    doc[F.EVENT_OUTCOME] = outcome
    _put(doc, F.CT_CONSOLE_LOGIN, _text(console_login))
    address = doc.get(F.SOURCE_ADDRESS)
    if address and valid_ip(address):
        doc[F.SOURCE_IP] = address
    _user(identity, doc)
    if keep_access_keys:
        _put(doc, F.USER_ACCESS_KEY_ID, _text(identity.get("accessKeyId")))
    tls = event.get("tlsDetails")
    if isinstance(tls, dict):
        _put(doc, F.CT_TLS_VERSION, _text(tls.get("tlsVersion")))
        _put(doc, F.CT_TLS_CLIENT_HOST, _text(tls.get("clientProvidedHostHeader")))
    if "resources" in event:
        _resources(event["resources"], doc)
    _put(doc, F.CT_REQUEST_PARAMETERS, _blob(event.get("requestParameters"), keep_access_keys))
    _put(doc, F.CT_ADDITIONAL_EVENTDATA, _blob(event.get("additionalEventData"), keep_access_keys))
    unknown_keys = event.keys() - _HANDLED
    if unknown_keys:
        unknown = {key: event[key] for key in unknown_keys if event[key] is not None}
        if unknown:
            doc[F.CT_UNMAPPED] = unknown  # kept in _source as sent, never mapped
    if profile == "full":
        _put(doc, F.CT_RESPONSE_ELEMENTS, _blob(response, keep_access_keys))
        _put(doc, F.CT_SERVICE_EVENT_DETAILS, _blob(event.get("serviceEventDetails"), keep_access_keys))
        original = event if keep_access_keys else _scrub_access_keys(event)
        doc[F.CT_ORIGINAL] = orjson.dumps(original).decode()
    elif profile != "standard":
        raise ValueError(f"unknown fields profile {profile!r}; choose one of {', '.join(PROFILES)}")
    return doc
