"""A loopback HTTP proxy in front of a real Elasticsearch that forwards everything, and holds
each request whose path matches ``hold`` (after the first ``pass_count`` of them) until
released: a test can then act (send a signal) while a command certainly has a request in
flight, whatever the machine's speed."""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from tests.support.loopback import Loopback, forward, handler_class, reply


class HoldingProxy:
    def __init__(self, upstream: str, pass_count: int, hold: str = r"/_bulk") -> None:
        self.upstream = urlsplit(upstream)
        self.pass_count = pass_count
        self.hold = re.compile(hold)
        self.matched = 0
        self.holding = threading.Event()    # a request is being held
        self.released = threading.Event()
        self._lock = threading.Lock()
        self._server = Loopback(handler_class(self._forward))

    def _forward(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        if self.hold.search(handler.path):
            with self._lock:
                self.matched += 1
                hold = self.matched > self.pass_count
            if hold:
                self.holding.set()
                self.released.wait(300)
        reply(handler, *forward(self.upstream, handler, body))

    @property
    def url(self) -> str:
        return self._server.url

    def __enter__(self) -> "HoldingProxy":
        self._server.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.released.set()
        self._server.stop()
