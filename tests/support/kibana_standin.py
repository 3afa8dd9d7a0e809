"""The Kibana STAND-IN of the local test image ``ctstack-local/kibana-standin`` (built by
scripts/local-images): no Kibana can be installed on the machines ctstack is tested on (no
registry we reach has one, and its source is 15 GB), so the container tests run this instead.

It serves what ctstack calls (``/api/status``, saved objects import into spaces) by the contract
:class:`tests.support.fake_kibana.FakeKibana` enforces (this is that code, run in a container),
and behaves like Kibana where the stack's wiring is concerned:

- at start it logs in to Elasticsearch as ``ELASTICSEARCH_USERNAME``/``ELASTICSEARCH_PASSWORD``
  (``ELASTICSEARCH_HOSTS``) and retries until that works; until then every request answers 503
  "Kibana server is not ready yet" and ``/api/status`` says ``unavailable``, so the compose
  healthcheck (and ``ctstack up``) only pass once compose.yaml's ``setup`` service has set the
  ``kibana_system`` password;
- a request's credentials (Basic or ApiKey) are checked by Elasticsearch
  (``_security/_authenticate``), as Kibana delegates them;
- an anonymous ``GET /api/status`` gets Kibana's redacted answer (the overall level only).

What it does not prove: anything Kibana does beyond this contract (rendering the dashboard,
Lens, saved objects kept in Elasticsearch; its objects live in memory and are gone on restart).
The GitHub workflow runs the same container tests against the official Kibana image.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

try:
    from tests.support.fake_kibana import FakeKibana
except ImportError:  # inside the image the two files sit side by side
    from fake_kibana import FakeKibana  # type: ignore[no-redef]

NOT_READY = {"statusCode": 503, "error": "Service Unavailable", "message": "Kibana server is not ready yet"}
CREDENTIALS_CACHE_SECONDS = 30.0


@dataclass
class KibanaStandin(FakeKibana):
    es_url: str = "http://elasticsearch:9200"
    es_user: str = "kibana_system"
    es_password: str = ""
    level: str = "unavailable"          # until the login to Elasticsearch works
    _checked: dict[str, float] = field(default_factory=dict)  # Authorization header -> valid until

    def connect_to_elasticsearch(self, retry_seconds: float = 2.0) -> None:
        """Log in as the Kibana system user until it works, then report available (a thread)."""
        login = "Basic " + base64.b64encode(f"{self.es_user}:{self.es_password}".encode()).decode()
        while True:
            status, body = self._es("GET", "/_security/_authenticate", login)
            if status == 200:
                nodes = self._es("GET", "/_nodes/_local?filter_path=nodes.*.version", login)[1]
                self.version = next(iter((nodes or {}).get("nodes", {}).values()), {}).get("version", self.version)
                self.level = "available"
                _say(f"logged in to Elasticsearch at {self.es_url} as {self.es_user}; Kibana stand-in {self.version} available")
                return
            reason = (body or {}).get("error", {}).get("type") if isinstance((body or {}).get("error"), dict) else status
            _say(f"waiting for Elasticsearch at {self.es_url} as {self.es_user}: {reason or 'no answer'}; retrying")
            time.sleep(retry_seconds)

    def _route(self, method: str, url: urllib.parse.SplitResult, headers, body: bytes) -> tuple[int, dict]:
        ready = self.level in ("available", "degraded")
        if url.path == "/api/status" and method == "GET" and not headers.get("Authorization"):
            return (200 if ready else 503), {"status": {"overall": {"level": self.level}}}
        if not ready:
            return 503, NOT_READY
        return super()._route(method, url, headers, body)

    def _authorized(self, header: str | None) -> bool:
        if not header or not header.startswith(("Basic ", "ApiKey ")):
            return False
        now = time.monotonic()
        if self._checked.get(header, 0.0) > now:
            return True
        if self._es("GET", "/_security/_authenticate", header)[0] != 200:
            return False
        self._checked[header] = now + CREDENTIALS_CACHE_SECONDS
        return True

    def _es(self, method: str, path: str, authorization: str) -> tuple[int, dict | None]:
        request = urllib.request.Request(self.es_url.rstrip("/") + path, method=method, headers={"Authorization": authorization})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as err:
            try:
                return err.code, json.loads(err.read() or b"null")
            except ValueError:
                return err.code, None
        except (OSError, ValueError) as err:
            return 0, {"error": {"type": type(err).__name__}}


def _say(line: str) -> None:
    print(f"[kibana-standin] {line}", flush=True)


def main() -> None:
    standin = KibanaStandin(
        host="0.0.0.0", port=int(os.environ.get("SERVER_PORT", "5601")),
        es_url=os.environ.get("ELASTICSEARCH_HOSTS", "http://elasticsearch:9200").split(",")[0].strip(),
        es_user=os.environ.get("ELASTICSEARCH_USERNAME", "kibana_system"),
        es_password=os.environ.get("ELASTICSEARCH_PASSWORD", ""),
        user="", password="",  # every request's credentials are checked by Elasticsearch instead
    )
    # PID 1 in the container: without a handler SIGTERM would be ignored and `docker stop` waits 10 s.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    standin.start()
    _say(f"listening on {standin.url} (a stand-in for Kibana's HTTP API, not Kibana)")
    threading.Thread(target=standin.connect_to_elasticsearch, daemon=True).start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        standin.stop()


if __name__ == "__main__":
    main()
