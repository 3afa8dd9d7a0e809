"""A small HTTP proxy on 127.0.0.1 in front of a real Elasticsearch node that lies about
bulk requests (``POST .../_bulk``) the ways proxies, captive portals and broken gateways
do. Every other request goes through unchanged, so connecting, installing the template and
counting documents talk to the real node.

Modes (``LyingProxy.mode``) for the bulk answer:

- ``"pass"``: the node's answer, unchanged.
- ``"html_200"``: a captive portal's HTML page with 200 and no ``X-Elastic-Product``;
  the request never reaches the node.
- ``"fewer_items"`` / ``"no_items"`` / ``"empty_item"`` / ``"string_status"`` /
  ``"empty_body"``: the request is indexed by the node, the answer is then mangled (one
  item fewer, no ``items``, the first item ``{}``, every status a string, no body).
- ``"json_as_html"`` / ``"json_as_plain"``: the node's answer as ``text/html`` / ``text/plain``.
- ``"gateway_504_after"``: the node indexes, the gateway answers 504 with an HTML page.
- ``"gateway_502"`` / ``"too_large_413"``: an HTML error page; nothing reaches the node.
- ``"drip"``: the node indexes, its answer is sent one byte per ``drip_seconds``.
"""

from __future__ import annotations

import http.client
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import orjson

from tests.support.loopback import Loopback, forward, handler_class, reply, send_head

HTML_PAGE = b"<html><body><h1>Welcome to the hotel network</h1><p>Please log in.</p></body></html>"
FORWARDED = ("pass", "fewer_items", "no_items", "empty_item", "string_status", "empty_body",
             "json_as_html", "json_as_plain", "gateway_504_after", "drip")


class LyingProxy:
    def __init__(self, upstream: str, mode: str = "pass", drip_seconds: float = 1.0) -> None:
        self.upstream = urlsplit(upstream)
        self.mode = mode
        self.drip_seconds = drip_seconds
        self.bulk_requests = 0
        self.stopping = threading.Event()
        self._server = Loopback(handler_class(self._handle))

    @property
    def url(self) -> str:
        return self._server.url

    def __enter__(self) -> LyingProxy:
        self._server.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stopping.set()
        self._server.stop()

    # -- serving ---------------------------------------------------------------------------
    def _forward(self, handler: BaseHTTPRequestHandler, body: bytes) -> tuple[int, dict[str, str], bytes]:
        return forward(self.upstream, handler, body)

    def _reply(self, handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes) -> None:
        reply(handler, status, headers, body)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        mode = self.mode
        if not handler.path.split("?", 1)[0].endswith("/_bulk") or mode == "pass":
            self._reply(handler, *self._forward(handler, body))
            return
        self.bulk_requests += 1
        html = {"Content-Type": "text/html"}
        if mode == "html_200":
            return self._reply(handler, 200, html, HTML_PAGE)
        if mode == "gateway_502":
            return self._reply(handler, 502, html, b"<html><body>502 Bad Gateway</body></html>")
        if mode == "too_large_413":
            return self._reply(handler, 413, html, b"<html><body>413 Request Entity Too Large</body></html>")
        status, headers, data = self._forward(handler, body)
        if mode == "gateway_504_after":
            return self._reply(handler, 504, html, b"<html><body>504 Gateway Time-out</body></html>")
        if mode == "json_as_html":
            return self._reply(handler, status, {**headers, "Content-Type": "text/html"}, data)
        if mode == "json_as_plain":
            return self._reply(handler, status, {**headers, "Content-Type": "text/plain"}, data)
        if mode == "empty_body":
            return self._reply(handler, status, headers, b"")
        if mode == "drip":
            return self._drip(handler, status, headers, data)
        answer = orjson.loads(data)
        if mode == "fewer_items":
            answer["items"] = answer["items"][:-1]
        elif mode == "no_items":
            answer.pop("items", None)
        elif mode == "empty_item":
            answer["items"][0] = {}
        elif mode == "string_status":
            for item in answer["items"]:
                for info in item.values():
                    info["status"] = str(info["status"])
        self._reply(handler, status, headers, orjson.dumps(answer))

    def _drip(self, handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], data: bytes) -> None:
        send_head(handler, status, headers, len(data))
        try:
            for i in range(len(data)):
                if self.stopping.wait(self.drip_seconds):
                    return
                handler.wfile.write(data[i:i + 1])
                handler.wfile.flush()
        except OSError:
            pass  # the client gave up: what the test wants
        finally:
            handler.close_connection = True
