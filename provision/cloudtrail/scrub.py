"""What never leaves ctstack: access key IDs (unless kept) and credential material, by key
name in a structure (:func:`scrub`) and by shape inside serialised JSON
(:func:`scrub_access_key_values`, :func:`scrub_secret_values`)."""

from __future__ import annotations

import re
from typing import Any

import orjson

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


def holds_secret_name(value: Any, keep_access_keys: bool = False) -> bool:
    """Whether :func:`scrub` would change ``value``: some key in it, at any depth, is one it
    drops or masks. Cheaper than scrubbing: nothing is copied, and it stops at the first."""
    return _holds_secret_name(value, _DROPPED[bool(keep_access_keys)])


def _holds_secret_name(value: Any, dropped: _DroppedKeys) -> bool:
    if value.__class__ is dict:
        for key, inner in value.items():
            if dropped[key] != _KEEP or (inner.__class__ in _CONTAINERS and _holds_secret_name(inner, dropped)):
                return True
    elif value.__class__ is list:
        for inner in value:
            if inner.__class__ in _CONTAINERS and _holds_secret_name(inner, dropped):
                return True
    return False


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
    # "@" first: one byte, found at memchr speed, and past a document's "@timestamp" key
    # (at 2) only where a URL's user info could be (the match needs "://" and ":" before it).
    if line.find(b"@", 5) != -1 and b"://" in line and _URL_PASSWORD.search(line) is not None:
        line = _URL_PASSWORD.sub(rb"\1:" + SECRET_REMOVED + b"@", line)
    if (b"=" in line and (b"?" in line or b"&" in line) and any(word in lower for word in _QUERY_WORDS)
            and _QUERY_SECRET.search(line) is not None):
        line = _QUERY_SECRET.sub(rb"\1" + SECRET_REMOVED, line)
    if (b"bearer" in lower or b"authorization" in lower) and _AUTHORIZATION.search(line) is not None:
        line = _AUTHORIZATION.sub(rb"\1" + SECRET_REMOVED, line)
    return line


def scrubbed_line(value: Any, keep_access_keys: bool = False, option: int = 0) -> bytes:
    """``value`` serialised with :func:`scrub` and :func:`scrub_secret_values` and, unless
    ``keep_access_keys``, :func:`scrub_access_key_values` applied: how an event is written
    anywhere else (the dead-letter file)."""
    line = scrub_secret_values(orjson.dumps(scrub(value, keep_access_keys), option=option))
    return line if keep_access_keys else scrub_access_key_values(line)


def may_hold_access_key(line: bytes) -> bool:
    """Whether serialised JSON may hold an access-key-shaped string (the quick look)."""
    return _ACCESS_KEY_SHAPE.search(line) is not None
