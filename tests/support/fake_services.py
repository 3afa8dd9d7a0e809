"""Small loopback HTTP servers that answer like Elasticsearch, Kibana and the Docker engine do
while they start. Kibana and the Docker engine cannot run on the test machines; these follow
their documented contracts:

- Elasticsearch ``GET /_cluster/health``: connection refused, then 503 with an ES error body
  (e.g. ``master_not_discovered_exception``), then 200 with ``status`` red / yellow / green.
  With security on, a request without valid credentials gets 401.
- Kibana ``GET /api/status``: 503 "Kibana server is not ready yet" while it starts, then a
  status body whose ``status.overall.level`` is unavailable / degraded / available (HTTP 503
  when the core level is unavailable or worse, else 200). Anonymous callers get the redacted
  body ``{"status": {"overall": {"level": ...}}}``; wrong credentials get 401.
- Docker engine: ``GET /version`` (API version negotiation) and ``GET /v<api>/_ping`` -> "OK".

Each server replays a script of responses per path; the last response repeats.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.loopback import Loopback


@dataclass
class Reply:
    status: int
    body: Any = None                 # dict/list -> JSON, str -> text/plain
    anonymous_body: Any = None       # what an unauthenticated caller gets (Kibana's redacted status)


@dataclass
class ScriptedServer:
    """``routes`` maps a path (without query) to the replies it gives, in order."""

    routes: dict[str, list[Reply]]
    expected_auth: str | None = None          # the Authorization header value that is valid
    requests: list[tuple[str, str | None]] = field(default_factory=list)   # (path, Authorization)
    bodies: list[bytes] = field(default_factory=list)                      # request bodies, in order

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._served: dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                server._answer(self)

            def do_POST(self) -> None:  # noqa: N802
                server.bodies.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                server._answer(self)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = Loopback(Handler)

    @property
    def url(self) -> str:
        return self._server.url

    def __enter__(self) -> "ScriptedServer":
        self._server.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.stop()

    def hits(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p == path)

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path.split("?", 1)[0]
        auth = handler.headers.get("Authorization")
        with self._lock:
            self.requests.append((path, auth))
            script = self.routes.get(path)
            if script is None:
                return self._send(handler, 404, {"error": f"no route {path}"})
            n = self._served.get(path, 0)
            self._served[path] = n + 1
            reply = script[min(n, len(script) - 1)]
        if self.expected_auth is not None:
            if auth is None and reply.anonymous_body is not None:
                return self._send(handler, reply.status, reply.anonymous_body)
            if auth != self.expected_auth:
                return self._send(handler, 401, {"statusCode": 401, "error": "Unauthorized", "message": "missing or wrong credentials"})
        self._send(handler, reply.status, reply.body)

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        if isinstance(body, (dict, list)):
            raw, ctype = json.dumps(body, separators=(",", ":")).encode(), "application/json"  # like Node's JSON.stringify
        else:
            raw, ctype = str(body or "").encode(), "text/plain; charset=utf-8"
        handler.send_response(status)
        handler.send_header("Content-Type", ctype)
        handler.send_header("Content-Length", str(len(raw)))
        handler.end_headers()
        handler.wfile.write(raw)


# --- replies as the real services give them --------------------------------------------------


def es_starting() -> Reply:
    return Reply(503, {"error": {"root_cause": [], "type": "master_not_discovered_exception", "reason": None}, "status": 503})


def es_health(color: str) -> Reply:
    return Reply(200, {"cluster_name": "docker-cluster", "status": color, "timed_out": False, "number_of_nodes": 1})


def kibana_not_ready() -> Reply:
    return Reply(503, "Kibana server is not ready yet")


def kibana_status(level: str, http_status: int | None = None) -> Reply:
    """A full /api/status body (8.x/9.x shape) and the redacted one anonymous callers get."""
    code = http_status or (503 if level in ("unavailable", "critical") else 200)
    full = {
        "name": "kibana",
        "uuid": "5b2de169-2785-441b-ae8c-186a1936b17d",
        "version": {"number": "9.3.2", "build_hash": "x", "build_number": 1, "build_snapshot": False},
        "status": {
            "overall": {"level": level, "summary": f"Kibana is {level}"},
            "core": {"elasticsearch": {"level": level, "summary": "-"}, "savedObjects": {"level": level, "summary": "-"}},
            "plugins": {},
        },
        "metrics": {},
    }
    return Reply(code, full, anonymous_body={"status": {"overall": {"level": level}}})


def docker_engine_routes(api_version: str = "1.45") -> dict[str, list[Reply]]:
    return {
        "/version": [Reply(200, {"Version": "27.3.1", "ApiVersion": api_version, "MinAPIVersion": "1.24", "Os": "linux"})],
        f"/v{api_version}/_ping": [Reply(200, "OK")],
    }
