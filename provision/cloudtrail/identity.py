"""Who made a call: the user fields of a CloudTrail ``userIdentity``."""

from __future__ import annotations

from typing import Any

import orjson

from provision.cloudtrail import fields as F
from provision.cloudtrail.timestamps import parse_time
from provision.cloudtrail.values import boolean, keyword_text, put


_USER_FIELDS_CACHE: dict[bytes, tuple] = {}
_USER_FIELDS_CACHE_SIZE = 4096


def user_fields(identity: dict, doc: dict) -> None:
    """The user fields of ``identity``. The same few identities make most of a trail, so the
    fields are kept per identity (keyed by its JSON) instead of worked out for every event."""
    if not identity:
        return
    try:
        key = orjson.dumps(identity)
    except TypeError:  # not JSON-serialisable (never from a file): work it out, uncached
        _worked_out_fields(identity, doc)
        return
    fields = _USER_FIELDS_CACHE.get(key)
    if fields is None:
        if len(_USER_FIELDS_CACHE) >= _USER_FIELDS_CACHE_SIZE:
            _USER_FIELDS_CACHE.clear()
        computed: dict[str, Any] = {}
        _worked_out_fields(identity, computed)
        fields = _USER_FIELDS_CACHE[key] = tuple(computed.items())
    doc.update(fields)


def _worked_out_fields(identity: dict, doc: dict) -> None:
    kind = identity.get("type")
    given_arn = identity.get("arn")
    arn = given_arn if isinstance(given_arn, str) else ""
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
    put(doc, F.USER_NAME, keyword_text(name))
    put(doc, F.USER_ROLES, keyword_text(role))
    put(doc, F.USER_ID, keyword_text(identity.get("principalId")))
    put(doc, F.CT_UI_TYPE, keyword_text(kind))
    put(doc, F.CT_UI_ARN, keyword_text(arn or None))
    put(doc, F.CT_UI_PRINCIPAL_ID, keyword_text(identity.get("principalId")))
    put(doc, F.CT_UI_INVOKED_BY, keyword_text(identity.get("invokedBy")))
    if issuer:
        put(doc, F.CT_UI_SESSION_ISSUER_ARN, keyword_text(issuer.get("arn")))
        put(doc, F.CT_UI_SESSION_ISSUER_TYPE, keyword_text(issuer.get("type")))
    attributes = session.get("attributes") if isinstance(session, dict) else None
    if isinstance(attributes, dict):
        put(doc, F.CT_UI_MFA_AUTHENTICATED, boolean(attributes.get("mfaAuthenticated")))
        creation = attributes.get("creationDate")
        if isinstance(creation, str) and creation:
            try:
                doc[F.CT_UI_CREATION_DATE] = parse_time(creation)
            except ValueError:  # kept as sent: the mapping ignores what it cannot read
                doc[F.CT_UI_CREATION_DATE] = creation
