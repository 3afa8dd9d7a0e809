"""A loopback HTTP proxy in front of a real Elasticsearch that forwards everything, and holds
each request whose path matches ``hold`` (after the first ``pass_count`` of them) until
released: a test can then act (send a signal) while a command certainly has a request in
flight, whatever the machine's speed."""

from __future__ import annotations

import http.client
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


class HoldingProxy:
    def __init__(self, upstream: str, pass_count: int, hold: str = r"/_bulk") -> None:
        self.upstream = urlsplit(upstream)
        self.pass_count = pass_count
        self.hold = re.compile(hold)
        self.matched = 0
        self.holding = threading.Event()    # a request is being held
        self.released = threading.Event()
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if proxy.hold.search(self.path):
                    with proxy._lock:
                        proxy.matched += 1
                        hold = proxy.matched > proxy.pass_count
                    if hold:
                        proxy.holding.set()
                        proxy.released.wait(300)
                upstream = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=300)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                    upstream.request(self.command, self.path, body=body or None, headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                finally:
                    upstream.close()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in _HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> "HoldingProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.released.set()
        self._httpd.shutdown()
        self._httpd.server_close()
