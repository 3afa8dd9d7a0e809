"""A small Kibana client: wait for Kibana, import saved objects. Standard library only.

Kibana's saved objects import API (``POST [/s/<space>]/api/saved_objects/_import``) takes a
multipart/form-data upload whose ``file`` part is an ``.ndjson`` file, needs the ``kbn-xsrf``
header, and answers ``{"success", "successCount", "successResults", "errors"}`` where each
error names the object (type, id, title) and why it failed (conflict, missing_references,
unsupported_type, unknown). Every failure here becomes one :class:`CtstackError` sentence.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

from provision.core import settings
from provision.core.connection import EsConfig, resolve_endpoint
from provision.core.urls import KIBANA_OPTION, display_url
from provision.core.errors import CtstackError
from provision.stack.health import kibana_level, kibana_ready

# Kibana space ids: lowercase letters, digits, "_" and "-".
_SPACE_ID = re.compile(r"^[a-z0-9_\-]+$")


@dataclass(frozen=True, repr=False)
class KibanaConfig(EsConfig):
    """Where Kibana is and how to log in: the same settings as for Elasticsearch."""

    url_option: ClassVar[str] = KIBANA_OPTION


@dataclass(frozen=True)
class ImportResult:
    success_count: int
    imported: list[dict]  # [{type, id, title, destination_id}]

    def destination_id(self, so_type: str, so_id: str) -> str:
        """The id Kibana stored the object under in the target space (its own id, unless Kibana
        gave it a new one because the id is taken in another space)."""
        return next((o["destination_id"] for o in self.imported if o["type"] == so_type and o["id"] == so_id), so_id)


def resolve_kibana_config(
    url: str | None = None,
    api_key: str | None = None,
    user: str | None = None,
    password: str | None = None,
    ca_certs: str | None = None,
    es: EsConfig | None = None,
) -> KibanaConfig:
    """Arguments > env CTSTACK_KIBANA_* > the Elasticsearch credentials (Kibana accepts the
    same users and API keys) > the local stack's ``elastic`` user for the local Kibana."""
    return KibanaConfig(**resolve_endpoint("Kibana", "CTSTACK_KIBANA", settings.LOCAL_KIBANA_URL, "--kibana-password",
                                           url, api_key, user, password, ca_certs, inherit=es))


def space_path(space: str | None) -> str:
    """The URL path prefix of a Kibana space ("" for the default space)."""
    if not space or space == "default":
        return ""
    if not _SPACE_ID.match(space):
        raise CtstackError(f"{space!r} is not a Kibana space id (lowercase letters, digits, '_' and '-').")
    return f"/s/{space}"


def dashboard_url(cfg: KibanaConfig | str, space: str | None = None, dashboard_id: str = settings.DASHBOARD_ID) -> str:
    """Where the ctstack dashboard opens in a browser."""
    base = cfg.rstrip("/") if isinstance(cfg, str) else cfg.url
    return f"{base}{space_path(space)}/app/dashboards#/view/{urllib.parse.quote(dashboard_id)}"


def with_time_range(url: str, oldest: str | None, newest: str | None) -> str:
    """The dashboard URL opening on the data's own time range (Kibana's global state ``_g``
    in the URL), instead of the saved "last 90 days" that may show nothing, or only a sliver."""
    if not (oldest and newest):
        return url
    return f"{url}?_g=(time:(from:'{oldest}',to:'{newest}'))"


def wait_until_available(cfg: KibanaConfig, timeout: float = 180.0, interval: float = 2.0) -> str:
    """Poll ``GET /api/status`` until Kibana's overall level is "available"; return its version.

    A "degraded" Kibana whose saved objects service is available also counts: some plugin being
    degraded (reporting, task manager) is common and does not stop an import. Kibana answers
    503 (or refuses connections) while it starts; wrong credentials fail at once.
    """
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while True:
        try:
            status, body = _request(cfg, "GET", "/api/status", timeout=min(10.0, max(timeout, 1.0)))
        except _Unreachable as err:
            status, body, last = None, None, f"unreachable: {err.reason}"
        if status in (401, 403):
            raise CtstackError(_http_error(cfg, status, body, "checking Kibana's status"))
        if status is not None:
            level = kibana_level(body)
            if status == 200 and kibana_ready(body):
                return str((body or {}).get("version", {}).get("number", "unknown"))
            last = f"HTTP {status}, status {level or 'unknown'}"
        if time.monotonic() >= deadline:
            raise CtstackError(f"Kibana at {display_url(cfg.url)} did not become available within {timeout:g} s ({last}); is it running? (`ctstack up` starts a local one).")
        time.sleep(interval)


def import_saved_objects(cfg: KibanaConfig, ndjson_bytes: bytes, space: str | None = None, overwrite: bool = True, filename: str = "ctstack.ndjson") -> ImportResult:
    """Import an NDJSON export through the saved objects import API; raise on any failure,
    naming every object Kibana could not import and why."""
    if not filename.endswith(".ndjson"):
        raise ValueError("Kibana only imports files named *.ndjson")
    path = f"{space_path(space)}/api/saved_objects/_import"
    if overwrite:
        path += "?overwrite=true"
    boundary = f"ctstack-{uuid.uuid4().hex}"
    body = b"".join([
        f"--{boundary}\r\n".encode(),
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'.encode(),
        b"Content-Type: application/ndjson\r\n\r\n",
        ndjson_bytes,
        f"\r\n--{boundary}--\r\n".encode(),
    ])
    where = f"importing saved objects into space {space!r}" if space and space != "default" else "importing saved objects"
    try:
        status, answer = _request(cfg, "POST", path, body=body, content_type=f"multipart/form-data; boundary={boundary}", timeout=120.0)
    except _Unreachable as err:
        raise CtstackError(f"Cannot reach Kibana at {display_url(cfg.url)} ({err.reason}); is it running? (`ctstack up` starts a local one).") from None
    if status == 404 and space_path(space):
        raise CtstackError(f"Kibana at {display_url(cfg.url)} has no space {space!r} (HTTP 404); create it first or leave out --space.")
    if status != 200:
        raise CtstackError(_http_error(cfg, status, answer, where))
    if not isinstance(answer, dict) or "success" not in answer:
        raise CtstackError(f"Kibana at {display_url(cfg.url)} answered the import with something that is not an import result: {str(answer)[:200]}.")
    errors = answer.get("errors") or []
    if errors or not answer.get("success"):
        failed = "; ".join(_describe_import_error(e) for e in errors) or "no per-object errors given"
        raise CtstackError(f"Kibana could not import {len(errors)} saved object(s) ({answer.get('successCount', 0)} imported): {failed}.")
    # When an object with the same id exists in another space, Kibana stores this space's copy
    # under a new id and says so in ``destinationId``: links must use that id.
    imported = [
        {"type": r.get("type"), "id": r.get("id"), "title": (r.get("meta") or {}).get("title"),
         "destination_id": r.get("destinationId") or r.get("id")}
        for r in answer.get("successResults") or []
    ]
    return ImportResult(success_count=int(answer.get("successCount", len(imported))), imported=imported)


# --- internals ------------------------------------------------------------------------------

class _Unreachable(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _request(cfg: KibanaConfig, method: str, path: str, *, body: bytes | None = None, content_type: str | None = None, timeout: float = 30.0) -> tuple[int, Any]:
    """One HTTP request; returns (status, parsed JSON or text). Raises _Unreachable when no
    HTTP answer came back (refused, DNS, TLS, timeout)."""
    headers = {"kbn-xsrf": "ctstack", "Accept": "application/json", "User-Agent": "ctstack"}
    if cfg.api_key:
        headers["Authorization"] = f"ApiKey {cfg.api_key}"
    elif cfg.user:
        token = base64.b64encode(f"{cfg.user}:{cfg.password or ''}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    if content_type:
        headers["Content-Type"] = content_type
    request = urllib.request.Request(cfg.url + path, data=body, method=method, headers=headers)
    context = ssl.create_default_context(cafile=cfg.ca_certs) if cfg.url.startswith("https") else None
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return response.status, _parse(response.read())
    except urllib.error.HTTPError as err:
        return err.code, _parse(err.read())
    except urllib.error.URLError as err:
        raise _Unreachable(str(err.reason)) from None
    except (OSError, ValueError) as err:  # timeouts, resets, malformed URLs
        raise _Unreachable(f"{type(err).__name__}: {err}") from None


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace").strip()


def _message(body: Any) -> str:
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or body)[:300]
    return str(body)[:300] or "no details"


def _http_error(cfg: KibanaConfig, status: int | None, body: Any, doing: str) -> str:
    if status == 401:
        return f"Kibana at {display_url(cfg.url)} refused the credentials (HTTP 401) while {doing}; check --kibana-user/--kibana-password or --kibana-api-key."
    if status == 403:
        return f"Kibana at {display_url(cfg.url)} denied {doing} (HTTP 403): the user or API key lacks a Kibana privilege ({_message(body)})."
    if status == 404:
        return f"Kibana at {display_url(cfg.url)} has no saved objects API (HTTP 404) while {doing}; is --kibana-url a Kibana?"
    if status == 413:
        return f"Kibana at {display_url(cfg.url)} refused the upload as too large (HTTP 413) while {doing}; raise savedObjects.maxImportPayloadBytes."
    if status is not None and status >= 500:
        return f"Kibana at {display_url(cfg.url)} failed (HTTP {status}) while {doing}: {_message(body)}."
    return f"Kibana at {display_url(cfg.url)} answered HTTP {status} while {doing}: {_message(body)}."


def _describe_import_error(error: dict) -> str:
    """``dashboard "Title" (id): why`` for one entry of the import response's ``errors``."""
    title = (error.get("meta") or {}).get("title") or error.get("title")
    name = f'{error.get("type")} "{title}" ({error.get("id")})' if title else f'{error.get("type")} {error.get("id")}'
    detail = error.get("error") or {}
    kind = detail.get("type")
    if kind == "missing_references":
        refs = ", ".join(f"{r.get('type')} {r.get('id')}" for r in detail.get("references") or [])
        return f"{name}: references objects that exist neither in the file nor in Kibana ({refs})"
    if kind in ("conflict", "ambiguous_conflict"):
        return f"{name}: conflicts with an existing object ({kind})"
    if kind == "unsupported_type":
        return f"{name}: this Kibana does not support the type {error.get('type')}"
    if kind == "unknown":
        return f"{name}: {detail.get('message') or 'unknown error'} (status {detail.get('statusCode') or detail.get('status_code')})"
    return f"{name}: {detail.get('message') or kind or detail}"
