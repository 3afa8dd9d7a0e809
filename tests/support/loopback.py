"""What the tests' own servers on 127.0.0.1 share: a free port, a threaded server for a
proxy's handler, and passing one request on to the real server behind it."""

from __future__ import annotations

import http.client
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import SplitResult


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now (the OS's pick; free until someone binds it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


class Loopback:
    """``handler`` served on 127.0.0.1 (a free port) by a daemon thread: ``start()``, ``stop()``."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def forward(upstream: SplitResult, handler: BaseHTTPRequestHandler, body: bytes) -> tuple[int, dict[str, str], bytes]:
    """The upstream's answer to ``handler``'s request: (status, headers less hop-by-hop ones, body)."""
    connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=300)
    try:
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP and k.lower() != "host"}
        connection.request(handler.command, handler.path, body=body or None, headers=headers)
        answer = connection.getresponse()
        data = answer.read()
        return answer.status, {k: v for k, v in answer.getheaders() if k.lower() not in HOP_BY_HOP}, data
    finally:
        connection.close()


def handler_class(serve: Callable[[BaseHTTPRequestHandler], None]) -> type[BaseHTTPRequestHandler]:
    """A request handler (HTTP/1.1, quiet) that gives every request, whatever its method, to ``serve``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            serve(self)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve  # noqa: N815 (http.server's naming)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


def send_head(handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], length: int) -> None:
    """The status line and headers of an answer of ``length`` bytes."""
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(length))
    handler.end_headers()


def reply(handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes) -> None:
    send_head(handler, status, headers, len(body))
    if handler.command != "HEAD":
        handler.wfile.write(body)
