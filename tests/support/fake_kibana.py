"""A stand-in for Kibana's HTTP API, because a real Kibana cannot run on the machines these
tests run on (the GitHub Actions workflow imports the same objects into a real Kibana).

It is not a mock of ctstack's client: it is a small HTTP server on 127.0.0.1 that enforces
Kibana's documented contract and answers the way Kibana does:

- ``GET /api/status`` -> ``{"version": {"number"}, "status": {"overall": {"level"}, "core":
  {"savedObjects": {"level"}}}}``, 503 while starting (``unavailable_polls`` answers) or when
  the overall level is worse than degraded, 401 without the right credentials.
- ``POST [/s/<space>]/api/saved_objects/_import[?overwrite=true]``: requires the ``kbn-xsrf``
  header (400 otherwise, as Kibana does), credentials (401), an existing space (404), a
  multipart/form-data body whose ``file`` part has a ``.ndjson`` filename (400 otherwise),
  NDJSON objects with type, id and attributes. Like Kibana it reports per object in
  ``errors``: ``conflict`` when the object exists and overwrite is off,
  ``missing_references`` when a reference points at an object neither in the file nor in the
  space, ``unsupported_type`` for unknown types; ``fail_objects`` injects ``unknown`` errors.
  Imported objects are kept per space, so a second import can be checked to overwrite.
  Like Kibana 8+ (saved objects are isolated per space, ids unique across spaces), an object
  whose id already exists in *another* space is stored under a new id, reported as its
  ``destinationId`` in ``successResults``, with references within the file rewritten to the
  new ids; importing it again into that space finds the copy by its ``originId`` and
  overwrites it (same ``destinationId``).
- ``GET [/s/<space>]/api/saved_objects/<type>/<id>``: the stored object (``id``, ``type``,
  ``attributes``, ``references``), 404 as Kibana words it when absent.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import json
import socket
import threading
import urllib.parse
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


SUPPORTED_TYPES = {"index-pattern", "dashboard", "lens", "visualization", "search", "tag", "config"}


@dataclass
class FakeKibana:
    user: str = "elastic"
    password: str = "kibana-test-password"
    api_key: str | None = None
    version: str = "9.3.2"
    spaces: set[str] = field(default_factory=lambda: {"default"})
    unavailable_polls: int = 0                   # answer 503 "unavailable" this many times first
    level: str = "available"                     # overall level once started
    saved_objects_level: str = "available"       # status.core.savedObjects.level
    fail_objects: dict[str, str] = field(default_factory=dict)  # object id -> unknown-error message
    server_error: bool = False                   # answer every import with HTTP 500
    requests: list[dict] = field(default_factory=list)
    store: dict[str, dict[tuple[str, str], dict]] = field(default_factory=dict)  # space -> (type, id) -> object
    host: str = "127.0.0.1"                      # the image's stand-in listens on 0.0.0.0:5601
    port: int = 0

    def __post_init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        assert self._server, "FakeKibana is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeKibana":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                fake._handle(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                fake._handle(self, "POST")

            def do_PUT(self) -> None:  # noqa: N802
                fake._handle(self, "PUT")

            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-kibana", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def objects(self, space: str = "default") -> dict[tuple[str, str], dict]:
        return self.store.get(space, {})

    # --- request handling ---------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        url = urllib.parse.urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        with self._lock:
            self.requests.append({"method": method, "path": url.path, "query": url.query, "headers": dict(handler.headers), "body": body})
            status, answer = self._route(method, url, handler.headers, body)
        raw = json.dumps(answer).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(raw)))
        handler.end_headers()
        handler.wfile.write(raw)

    def _route(self, method: str, url: urllib.parse.SplitResult, headers, body: bytes) -> tuple[int, dict]:
        if not self._authorized(headers.get("Authorization")):
            return 401, {"statusCode": 401, "error": "Unauthorized", "message": "[security_exception]: unable to authenticate user"}
        path = url.path
        if path == "/api/status":
            if method != "GET":
                return 404, _not_found()
            if self.unavailable_polls > 0:
                self.unavailable_polls -= 1
                return 503, self._status("unavailable", "unavailable")
            # Like Kibana: 503 unless the overall level is available or degraded.
            return (200 if self.level in ("available", "degraded") else 503), self._status(self.level, self.saved_objects_level)
        space = "default"
        if path.startswith("/s/"):
            _, _, space, path = path.split("/", 3)
            path = "/" + path
        if method == "GET" and path.startswith("/api/saved_objects/") and path.count("/") == 4:
            return self._get(space, *path.split("/")[3:5])
        if path != "/api/saved_objects/_import":
            return 404, _not_found()
        if method != "POST":
            return 404, _not_found()
        if space not in self.spaces:
            return 404, {"statusCode": 404, "error": "Not Found", "message": f"Saved object [space/{space}] not found"}
        if "kbn-xsrf" not in {k.lower() for k in headers.keys()}:
            return 400, {"statusCode": 400, "error": "Bad Request", "message": "Request must contain a kbn-xsrf header."}
        if self.server_error:
            return 500, {"statusCode": 500, "error": "Internal Server Error", "message": "An internal server error occurred."}
        query = urllib.parse.parse_qs(url.query)
        overwrite = query.get("overwrite", ["false"])[-1] == "true"
        if overwrite and query.get("createNewCopies", ["false"])[-1] == "true":
            return 400, _bad_request("[request query]: createNewCopies and overwrite cannot be used together")
        ndjson, error = _file_part(headers.get("Content-Type", ""), body)
        if error:
            return 400, _bad_request(error)
        try:
            objects = [json.loads(line) for line in ndjson.splitlines() if line.strip()]
        except ValueError as err:
            return 400, _bad_request(f"Unexpected token in JSON: {err}")
        return 200, self._import(space, objects, overwrite)

    def _get(self, space: str, so_type: str, so_id: str) -> tuple[int, dict]:
        """``GET [/s/<space>]/api/saved_objects/<type>/<id>``: the object, or Kibana's 404."""
        if space not in self.spaces:
            return 404, {"statusCode": 404, "error": "Not Found", "message": f"Saved object [space/{space}] not found"}
        obj = self.store.get(space, {}).get((so_type, so_id))
        if obj is None:
            return 404, {"statusCode": 404, "error": "Not Found", "message": f"Saved object [{so_type}/{so_id}] not found"}
        return 200, {"id": so_id, "type": so_type, "namespaces": [space], "attributes": obj["attributes"],
                     "references": obj.get("references", [])}

    def _status(self, level: str, saved_objects: str) -> dict:
        return {
            "name": "kibana", "version": {"number": self.version},
            "status": {
                "overall": {"level": level, "summary": f"Kibana is {level}"},
                "core": {"elasticsearch": {"level": "available"}, "savedObjects": {"level": saved_objects}},
            },
        }

    def _authorized(self, header: str | None) -> bool:
        if not header:
            return False
        scheme, _, value = header.partition(" ")
        if scheme == "ApiKey":
            return self.api_key is not None and value == self.api_key
        if scheme == "Basic":
            return base64.b64decode(value).decode() == f"{self.user}:{self.password}"
        return False

    def _import(self, space: str, objects: list[dict], overwrite: bool) -> dict:
        store = self.store.setdefault(space, {})
        in_file = {(o.get("type"), o.get("id")) for o in objects}
        destinations = {key: self._destination(space, *key) for key in in_file if all(isinstance(k, str) for k in key)}
        errors, successes = [], []
        for obj in objects:
            so_type, so_id = obj.get("type"), obj.get("id")
            title = (obj.get("attributes") or {}).get("title")
            meta = {"title": title, "icon": "dashboardApp" if so_type == "dashboard" else "indexPatternApp"}
            if not (isinstance(so_type, str) and isinstance(so_id, str) and isinstance(obj.get("attributes"), dict)):
                errors.append({"type": so_type, "id": so_id, "meta": meta, "error": {"type": "unknown", "message": "object lacks type, id or attributes", "statusCode": 400}})
                continue
            if so_type not in SUPPORTED_TYPES:
                errors.append({"type": so_type, "id": so_id, "meta": meta, "error": {"type": "unsupported_type"}})
                continue
            missing = [
                {"type": ref["type"], "id": ref["id"]}
                for ref in obj.get("references", [])
                if (ref["type"], ref["id"]) not in in_file and self._in_space(space, ref["type"], ref["id"]) is None
            ]
            if missing:
                errors.append({"type": so_type, "id": so_id, "title": title, "meta": meta, "error": {"type": "missing_references", "references": missing}})
                continue
            destination, exists = destinations[(so_type, so_id)]
            if exists and not overwrite:
                errors.append({"type": so_type, "id": so_id, "title": title, "meta": meta, "error": {"type": "conflict"}})
                continue
            if so_id in self.fail_objects:
                errors.append({"type": so_type, "id": so_id, "title": title, "meta": meta, "error": {"type": "unknown", "message": self.fail_objects[so_id], "statusCode": 400}})
                continue
            stored = dict(obj, id=destination, references=[
                dict(ref, id=destinations.get((ref["type"], ref["id"]), (ref["id"], False))[0]) for ref in obj.get("references", [])
            ])
            if destination != so_id:
                stored["originId"] = so_id
            store[(so_type, destination)] = stored
            success = {"type": so_type, "id": so_id, "meta": meta, **({"overwrite": True} if overwrite and exists else {})}
            if destination != so_id:
                success["destinationId"] = destination
            successes.append(success)
        answer: dict = {"success": not errors, "successCount": len(successes)}
        if successes:
            answer["successResults"] = successes
        if errors:
            answer["errors"] = errors
        return answer

    def _in_space(self, space: str, so_type: str, so_id: str) -> str | None:
        """The id under which ``so_id`` lives in ``space``: itself, or a copy whose originId it is."""
        objects = self.store.get(space, {})
        if (so_type, so_id) in objects:
            return so_id
        return next((key[1] for key, obj in objects.items() if key[0] == so_type and obj.get("originId") == so_id), None)

    def _destination(self, space: str, so_type: str, so_id: str) -> tuple[str, bool]:
        """(the id the object gets in ``space``, whether it exists there already). As Kibana 8+
        does for space-isolated types: the same id in another space gets a new id here."""
        existing = self._in_space(space, so_type, so_id)
        if existing is not None:
            return existing, True
        if any((so_type, so_id) in objects for other, objects in self.store.items() if other != space):
            return str(uuid.uuid4()), False
        return so_id, False


def refused_url() -> str:
    """An http://127.0.0.1 URL on a port nothing listens on (connections are refused)."""
    # Not tests.support.loopback.free_port: this module runs alone inside the Kibana stand-in
    # image (docker/kibana-standin copies it and kibana_standin.py only), so it imports the
    # standard library and nothing else.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _file_part(content_type: str, body: bytes) -> tuple[str, str | None]:
    """The text of the multipart ``file`` part, or an error message as Kibana words it."""
    if not content_type.startswith("multipart/form-data") or "boundary=" not in content_type:
        return "", "Unsupported Media Type: expected multipart/form-data"
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    if not message.is_multipart():
        return "", "[request body]: expected a multipart body"
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") != "file":
            continue
        filename = part.get_filename() or ""
        if not filename.endswith(".ndjson"):
            extension = "." + filename.rsplit(".", 1)[-1] if "." in filename else "(none)"
            return "", f"Invalid file extension {extension}"
        return part.get_payload(decode=True).decode("utf-8"), None
    return "", "[request body.file]: expected value of type [Stream] but got [undefined]"


def _not_found() -> dict:
    return {"statusCode": 404, "error": "Not Found", "message": "Not Found"}


def _bad_request(message: str) -> dict:
    return {"statusCode": 400, "error": "Bad Request", "message": message}
