"""Wait until Elasticsearch and Kibana can do work, with a timeout and progress reports.

Elasticsearch is ready when ``GET /_cluster/health`` says yellow or green; while it starts it
refuses connections, answers 503 (e.g. ``master_not_discovered_exception``) or reports red.
Kibana is ready when ``GET /api/status`` reports ``status.overall.level == "available"`` (or
"degraded" while ``status.core.savedObjects`` is available: see :func:`kibana_ready`);
while it starts it refuses connections or answers 503 ("Kibana server is not ready yet", or a
status body whose level is "unavailable"/"critical"), and it may report "degraded" with 200.
Authenticated callers get the full status body; anonymous ones a redacted
``{"status": {"overall": {"level": ...}}}``, which this module reads the same way.

Wrong credentials (401/403), a host name that does not resolve and a TLS certificate that
cannot be verified fail at once: waiting would not fix them. Standard library only,
so the waits work the same against the local stack and any existing cluster.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from provision.core.connection import tls_reason
from provision.core.urls import display_url
from provision.core.errors import CtstackError

DEFAULT_TIMEOUT = 300.0   # a first Kibana start on a laptop takes one to three minutes
POLL_INTERVAL = 2.0
LOCAL_ES_HINT = "`ctstack logs es` shows why"
LOCAL_KIBANA_HINT = "`ctstack logs kibana` shows why"


class Target(Protocol):
    """Where to connect and how to authenticate (EsConfig and Kibana configs have these)."""

    # Read-only: the configs are frozen dataclasses.
    @property
    def url(self) -> str: ...
    @property
    def api_key(self) -> str | None: ...
    @property
    def user(self) -> str | None: ...
    @property
    def password(self) -> str | None: ...
    @property
    def ca_certs(self) -> str | None: ...


@dataclass(frozen=True)
class Probe:
    """One look at a service: is it ready, and what did it say (never a secret)."""

    service: str
    ready: bool
    state: str
    elapsed: float = 0.0


ProgressCallback = Callable[[Probe], None]


class HealthTimeout(CtstackError):
    """The service did not become ready in time."""


def probe_elasticsearch(target: Target, request_timeout: float = 10.0) -> Probe:
    """Ask Elasticsearch for its cluster health once."""
    status, body = _get_json(target, "/_cluster/health", "Elasticsearch", request_timeout)
    if status is None:
        return Probe("Elasticsearch", False, body)
    if status == 200 and isinstance(body, dict):
        health = str(body.get("status", "unknown"))
        return Probe("Elasticsearch", health in ("yellow", "green"), health)
    return Probe("Elasticsearch", False, f"HTTP {status}{_es_error_type(body)}")


def probe_kibana(target: Target, request_timeout: float = 10.0) -> Probe:
    """Ask Kibana for its status once."""
    status, body = _get_json(target, "/api/status", "Kibana", request_timeout)
    if status is None:
        return Probe("Kibana", False, body)
    level = kibana_level(body)
    if level is None:
        message = body.get("message") if isinstance(body, dict) else None
        return Probe("Kibana", False, f"HTTP {status}" + (f" ({message})" if message else ""))
    return Probe("Kibana", status == 200 and kibana_ready(body), level)


def kibana_ready(body: Any) -> bool:
    """Kibana can take work: overall "available", or "degraded" (some plugin, e.g. reporting,
    is unwell; common) while its saved objects service is available."""
    level = kibana_level(body)
    if level == "available":
        return True
    try:
        saved_objects = body["status"]["core"]["savedObjects"]["level"]
    except (KeyError, TypeError):
        return False
    return level == "degraded" and saved_objects == "available"


def kibana_level(body: Any) -> str | None:
    """``status.overall.level`` of an /api/status body (full or redacted), else None."""
    try:
        level = body["status"]["overall"]["level"]
    except (KeyError, TypeError):
        return None
    return level if isinstance(level, str) else None


def wait_for_elasticsearch(target: Target, *, timeout: float = DEFAULT_TIMEOUT, interval: float = POLL_INTERVAL,
                           on_progress: ProgressCallback | None = None, hint: str = LOCAL_ES_HINT) -> Probe:
    """Poll until the cluster is yellow or green; raise :class:`HealthTimeout` after ``timeout`` s
    (its sentence ends with ``hint``: where to look)."""
    return wait_until_ready(lambda: probe_elasticsearch(target), target.url, timeout=timeout, interval=interval,
                            on_progress=on_progress, hint=hint)


def wait_for_kibana(target: Target, *, timeout: float = DEFAULT_TIMEOUT, interval: float = POLL_INTERVAL,
                    on_progress: ProgressCallback | None = None, hint: str = LOCAL_KIBANA_HINT) -> Probe:
    """Poll until Kibana's overall status is "available"; raise :class:`HealthTimeout` after ``timeout`` s."""
    return wait_until_ready(lambda: probe_kibana(target), target.url, timeout=timeout, interval=interval,
                            on_progress=on_progress, hint=hint)


def wait_until_ready(probe: Callable[[], Probe], url: str, *, timeout: float, interval: float,
                     on_progress: ProgressCallback | None, hint: str) -> Probe:
    started = time.monotonic()
    while True:
        elapsed = time.monotonic() - started
        result = probe()
        result = Probe(result.service, result.ready, result.state, elapsed)
        if on_progress:
            on_progress(result)
        if result.ready:
            return result
        if elapsed + interval > timeout:
            raise HealthTimeout(f"{result.service} at {display_url(url)} was not ready after {timeout:g} s "
                                f"(last state: {result.state}); {hint}.")
        time.sleep(interval)


def _get_json(target: Target, path: str, service: str, request_timeout: float) -> tuple[int | None, Any]:
    """(HTTP status, parsed body) or (None, why it could not be reached). 401/403 raise."""
    request = urllib.request.Request(target.url.rstrip("/") + path, headers={"Accept": "application/json", **_auth_header(target)})
    context = ssl.create_default_context(cafile=target.ca_certs) if target.ca_certs else None
    try:
        with urllib.request.urlopen(request, timeout=request_timeout, context=context) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        shown = display_url(target.url)
        if isinstance(reason, socket.gaierror):
            raise CtstackError(f"The host of {service}'s URL {shown} cannot be resolved ({reason.strerror or reason}); check the URL.") from None
        if isinstance(reason, ssl.SSLError):
            raise CtstackError(f"The TLS connection to {service} at {shown} failed ({tls_reason(reason)}); "
                               "if its certificate is signed by its own CA, pass that CA with --es-ca-certs.") from None
        return None, f"not answering ({type(reason).__name__ if not isinstance(reason, str) else reason})"
    if status in (401, 403):
        what = "refused the credentials" if status == 401 else "denied access to the status API"
        raise CtstackError(f"{service} at {display_url(target.url)} {what} (HTTP {status}); check the user/password or API key.")
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None


def _auth_header(target: Target) -> dict[str, str]:
    if target.api_key:
        return {"Authorization": f"ApiKey {target.api_key}"}
    if target.user:
        token = base64.b64encode(f"{target.user}:{target.password or ''}".encode()).decode()
        return {"Authorization": f"Basic {token}"}
    return {}


def _es_error_type(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return f" ({body['error'].get('type', 'error')})"
    return ""
