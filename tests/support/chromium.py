"""Headless Chromium (Debian's `chromium` package) for tests of the HTML report, and a proxy that
records every request Chromium tries to make, so "makes no network request" can be checked."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlsplit

# Quiet flags: no background traffic of Chromium's own, so the proxy sees only the page's.
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
    "--disable-extensions", "--metrics-recording-only", "--no-default-browser-check",
    "--disable-client-side-phishing-detection", "--disable-domain-reliability", "--no-pings",
    "--disable-breakpad", "--disable-field-trial-config", "--safebrowsing-disable-auto-update",
    "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,AutofillServerCommunication,Translate",
]

# What Chromium 156 still fetches for itself with the flags above, on a blank page: its
# component updater and account check. Nothing a page asks for looks like these.
BROWSER_OWN_REQUESTS = (
    ("CONNECT", "update.googleapis.com", ""),
    ("POST", "update.googleapis.com", "/service/update2/"),
    ("CONNECT", "accounts.google.com", ""),
    ("GET", "clients2.google.com", "/time/"),
)


class ChromiumMissing(RuntimeError):
    pass


def chromium_binary() -> str:
    """CTSTACK_CHROMIUM if set, else Debian's `chromium`, else Ubuntu's / Google's builds."""
    override = os.environ.get("CTSTACK_CHROMIUM")
    if override:
        return override
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise ChromiumMissing("chromium is not installed; scripts/test installs it (apt-get install chromium)")


def run_chromium(url: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run headless Chromium on `url` with extra args (--dump-dom, --screenshot=...)."""
    with tempfile.TemporaryDirectory(prefix="ctstack-chromium-") as profile:
        return subprocess.run(
            [chromium_binary(), *FLAGS, f"--user-data-dir={profile}", *args, url],
            capture_output=True, text=True, timeout=timeout, check=False,
        )


class RecordingProxy:
    """An HTTP proxy on 127.0.0.1 that answers every request with 502 and remembers its first
    line ("GET http://host/path HTTP/1.1", "CONNECT host:443 HTTP/1.1"). Pointing Chromium at
    it (`--proxy-server`) turns any network fetch of a page into a recorded request."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(16)
        self.port = self._server.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> "RecordingProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.close()
        self._thread.join(timeout=5)

    @property
    def page_requests(self) -> list[str]:
        """The requests a page made: all of them but Chromium's own background ones."""
        return [line for line in self.requests if not _browser_own(line)]

    @property
    def flags(self) -> list[str]:
        # Chromium bypasses proxies for loopback by default; "<-loopback>" removes that rule,
        # so even a fetch from 127.0.0.1 is seen.
        return [f"--proxy-server=http://127.0.0.1:{self.port}", "--proxy-bypass-list=<-loopback>"]

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    head = conn.recv(4096)
                except OSError:
                    head = b""
                self.requests.append(head.split(b"\r\n", 1)[0].decode(errors="replace") or "(connection without a request)")
                try:
                    conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                except OSError:
                    pass


def _browser_own(request_line: str) -> bool:
    method, _, rest = request_line.partition(" ")
    target = rest.split(" ", 1)[0]
    if method == "CONNECT":
        host, path = target.rsplit(":", 1)[0], ""
    else:
        parts = urlsplit(target)
        host, path = parts.hostname or "", parts.path
    return any(method == m and host == h and path.startswith(p) for m, h, p in BROWSER_OWN_REQUESTS)


def file_url(path: Path) -> str:
    return path.resolve().as_uri()
