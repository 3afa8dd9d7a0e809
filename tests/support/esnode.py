"""A real Elasticsearch node for tests, from Maven Central's integ-test distribution.

No Docker here, so the node is the ``org.elasticsearch.distribution.integ-test-zip``
artifact (the server and its open modules, security off, no bundled JDK), fetched with
``mvn dependency:get``, unpacked once into a cache outside the repo, and run with a JDK
that is new enough (9.x needs Java 21+; with none, the newest 8.x zip runs on Java 17).

Elasticsearch refuses to run as root; CI runs as root, so then the node runs as a system
user ``ctstack-es`` (created on first use) and its cache lives where that user can read it.

Used three ways: the pytest fixtures in ``tests/conftest.py``, ``scripts/es-test-node``
for people, and ``bench/run.py``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from provision.core import settings
from tests.support.loopback import free_port

ARTIFACT = "org.elasticsearch.distribution.integ-test-zip:elasticsearch:{version}:zip"
RUN_AS_USER = "ctstack-es"


class NodeError(RuntimeError):
    """The node could not be fetched or started; the message carries the log tail."""


def cache_dir() -> Path:
    if os.environ.get("CTSTACK_CACHE"):
        return Path(os.environ["CTSTACK_CACHE"])
    if os.geteuid() == 0:
        # root's home is 0700: the unprivileged node user could not read the distribution there.
        return Path("/var/cache/ctstack")
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ctstack"


def _java_major(java_home: Path) -> int | None:
    release = java_home / "release"
    if release.is_file():
        m = re.search(r'^JAVA_VERSION="(\d+)', release.read_text(errors="replace"), re.M)
        if m:
            return int(m.group(1))
    java = java_home / "bin" / "java"
    if not java.exists():
        return None
    out = subprocess.run([str(java), "-version"], capture_output=True, text=True).stderr
    m = re.search(r'version "(\d+)', out)
    return int(m.group(1)) if m else None


def find_jdks() -> list[tuple[int, Path]]:
    """Every JDK we can see, newest first: $CTSTACK_TEST_JAVA_HOME, $JAVA_HOME, /usr/lib/jvm/*, /opt/*."""
    candidates: list[Path] = []
    for var in ("CTSTACK_TEST_JAVA_HOME", "JAVA_HOME"):
        if os.environ.get(var):
            candidates.append(Path(os.environ[var]))
    for root in (Path("/usr/lib/jvm"), Path("/opt")):
        if root.is_dir():
            candidates.extend(sorted(p for p in root.iterdir() if (p / "bin" / "java").exists()))
    found: dict[Path, int] = {}
    for home in candidates:
        home = home.resolve()
        if home not in found and (major := _java_major(home)):
            found[home] = major
    return sorted(((major, home) for home, major in found.items()), key=lambda t: -t[0])


def choose_version_and_jdk() -> tuple[str, Path]:
    """The ES version to run and a JDK for it (override with CTSTACK_TEST_ES_VERSION)."""
    jdks = find_jdks()
    if not jdks:
        raise NodeError("No JDK found (looked at $CTSTACK_TEST_JAVA_HOME, $JAVA_HOME, /usr/lib/jvm, /opt); install one (Java 21+ for Elasticsearch 9).")
    wanted = os.environ.get("CTSTACK_TEST_ES_VERSION")
    newest_major, newest_home = jdks[0]
    if wanted:
        need = 21 if int(wanted.split(".")[0]) >= 9 else 17
        for major, home in jdks:
            if major >= need:
                return wanted, home
        raise NodeError(f"Elasticsearch {wanted} needs Java {need}+; the newest JDK here is {newest_major} ({newest_home}).")
    if newest_major >= 21:
        return settings.TEST_ES_VERSION, newest_home
    if newest_major >= 17:
        return settings.TEST_ES_FALLBACK_VERSION, newest_home
    raise NodeError(f"The newest JDK here is Java {newest_major} ({newest_home}); Elasticsearch needs 17+ (21+ for 9.x).")


def _node_user() -> pwd.struct_passwd | None:
    """None when we are not root; else the unprivileged user the node runs as."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(RUN_AS_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", RUN_AS_USER],
            check=True, capture_output=True,
        )
        return pwd.getpwnam(RUN_AS_USER)


def ensure_distribution(version: str) -> Path:
    """Fetch (Maven) and unpack the integ-test zip once; return the ES home directory."""
    base = cache_dir()
    home = base / f"elasticsearch-{version}"
    if (home / "bin" / "elasticsearch").exists():
        return home
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o755)
    m2 = base / "m2"
    if not shutil.which("mvn"):
        raise NodeError("Maven (mvn) is not installed; scripts/test installs it on Debian (apt-get install maven).")
    proc = subprocess.run(
        ["mvn", "-q", "-B", f"-Dmaven.repo.local={m2}", "dependency:get", "-Dtransitive=false",
         f"-Dartifact={ARTIFACT.format(version=version)}"],
        capture_output=True, text=True,
    )
    zip_path = m2 / "org/elasticsearch/distribution/integ-test-zip/elasticsearch" / version / f"elasticsearch-{version}.zip"
    if proc.returncode != 0 or not zip_path.exists():
        raise NodeError(f"mvn could not fetch Elasticsearch {version}:\n{(proc.stdout + proc.stderr)[-3000:]}")
    staging = Path(tempfile.mkdtemp(prefix=f".unpack-{version}-", dir=base))
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            extracted = Path(zf.extract(info, staging))
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(extracted, mode | 0o444 | (0o111 if extracted.is_dir() else 0))
    inner = staging / f"elasticsearch-{version}"
    for path in [inner, *inner.rglob("*")]:  # readable (and traversable) by the node user
        if path.is_dir():
            os.chmod(path, 0o755)
    try:
        inner.rename(home)  # atomic: a half-unpacked tree is never mistaken for a good one
    except OSError:
        if not (home / "bin" / "elasticsearch").exists():
            raise
    shutil.rmtree(staging, ignore_errors=True)
    return home


ANALYSIS_PLUGIN = Path(__file__).resolve().parents[2] / "docker" / "elasticsearch" / "analysis-plugin"


def analysis_plugin(version: str, java_home: Path) -> Path:
    """The analysis plugin the .security index needs (docker/elasticsearch/analysis-plugin:
    Lucene's pattern_capture, lowercase, unique, uax_url_email), compiled once per version and
    source against the distribution's lib/* with the JDK's javac; returns the plugin folder."""
    source = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(ANALYSIS_PLUGIN.rglob("*")) if p.is_file())).hexdigest()[:12]
    built = cache_dir() / "plugins" / f"{version}-{source}"
    plugin = built / "ctstack-security-analysis"
    if (plugin / "plugin-descriptor.properties").exists():
        return plugin
    staging = Path(tempfile.mkdtemp(prefix=".plugin-", dir=cache_dir()))
    done = subprocess.run(["bash", str(ANALYSIS_PLUGIN / "build"), str(ensure_distribution(version)), str(java_home), str(staging)],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise NodeError(f"the analysis plugin did not compile (exit {done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}")
    for path in [staging, *staging.rglob("*")]:  # readable by the node user
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    built.parent.mkdir(parents=True, exist_ok=True)
    try:
        staging.rename(built)  # atomic: another session may build the same one at once
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
    return plugin


def _http_json(url: str, timeout: float = 5.0, ca_certs: str | None = None, login: tuple[str, str | None] | None = None) -> dict:
    request = urllib.request.Request(url)
    if login:
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{login[0]}:{login[1]}".encode()).decode())
    context = ssl.create_default_context(cafile=ca_certs) if ca_certs and os.path.exists(ca_certs) else None
    with urllib.request.urlopen(request, timeout=timeout, context=context) as resp:
        return json.loads(resp.read())


@dataclass
class EsNode:
    """One throw-away single-node cluster on 127.0.0.1. ``start()`` then ``stop()``."""

    heap: str = field(default_factory=lambda: os.environ.get("CTSTACK_TEST_ES_HEAP", "1g"))
    version: str = ""
    java_home: Path | None = None
    workdir: Path | None = None
    port: int = 0
    pid: int | None = None
    settings: dict[str, str] = field(default_factory=dict)  # extra node settings (-E key=value)
    # Security on: the `elastic` user's password goes into the keystore as bootstrap.password,
    # and the first start auto-configures TLS for HTTP (its CA: config/certs/http_ca.crt). The
    # node also loads the analysis plugin the .security index needs (API keys, native users).
    secured: bool = False
    password: str | None = None
    # One node of a cluster instead of a single-node one: its transport port is fixed (the
    # others' seed hosts name it), `settings` carry discovery.seed_hosts and
    # cluster.initial_master_nodes, and start() does not wait for health (no node of a new
    # cluster is healthy alone): see tests/support/escluster.py.
    cluster_name: str = "ctstack-test"
    node_name: str = ""
    transport_port: int = 0
    in_cluster: bool = False

    @property
    def url(self) -> str:
        return f"{'https' if self.secured else 'http'}://127.0.0.1:{self.port}"

    @property
    def ca_certs(self) -> str | None:
        """The CA of the node's auto-configured HTTP TLS certificate (secured nodes only)."""
        return str(self.workdir / "config" / "certs" / "http_ca.crt") if self.secured and self.workdir else None

    def start(self, timeout: float = 180.0) -> "EsNode":
        if not self.version or not self.java_home:
            version, jdk = choose_version_and_jdk()
            self.version = self.version or version
            self.java_home = self.java_home or jdk
        es_home = ensure_distribution(self.version)
        user = _node_user()
        self.workdir = Path(tempfile.mkdtemp(prefix="ctstack-es-"))
        os.chmod(self.workdir, 0o755)
        conf = self.workdir / "config"
        shutil.copytree(es_home / "config", conf)
        for sub in ("data", "logs", "tmp"):
            (self.workdir / sub).mkdir()
        if user:
            for path in [self.workdir, *self.workdir.rglob("*")]:
                os.chown(path, user.pw_uid, user.pw_gid)
        if self.secured:
            self._home_with_plugins(es_home, [analysis_plugin(self.version, self.java_home)])
            self.password = self.password or secrets.token_urlsafe(16)
            self._keystore_add("bootstrap.password", self.password)
        if not self.port:
            self.port = free_port()
        if not self.transport_port:
            self.transport_port = free_port()
        return self._launch(timeout)

    def _home_with_plugins(self, es_home: Path, plugins: list[Path]) -> None:
        """An Elasticsearch home of this node's own (the shared distribution's folders linked,
        plugins/ its own), since Elasticsearch loads plugins from its home only."""
        assert self.workdir is not None
        home = self.workdir / "home"
        home.mkdir()
        for entry in es_home.iterdir():
            if entry.name != "plugins":
                (home / entry.name).symlink_to(entry)
        (home / "plugins").mkdir()
        for plugin in plugins:
            (home / "plugins" / plugin.name).symlink_to(plugin)

    @property
    def es_home(self) -> Path:
        """The home this node runs from: its own when it loads plugins, else the distribution."""
        if self.workdir is not None and (self.workdir / "home").is_dir():
            return self.workdir / "home"
        return ensure_distribution(self.version)

    def _env(self) -> dict[str, str]:
        """The environment of every Elasticsearch program run on this node's work dir. Both the
        launcher JVM (CLI_JAVA_OPTS) and the server (ES_TMPDIR) keep their temp files there."""
        assert self.workdir is not None and self.java_home is not None
        tmp = self.workdir / "tmp"
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "ES_JAVA_HOME": str(self.java_home),
            "ES_PATH_CONF": str(self.workdir / "config"),
            "ES_TMPDIR": str(tmp),
            "CLI_JAVA_OPTS": f"-Djava.io.tmpdir={tmp}",
            "ES_JAVA_OPTS": f"-Xms{self.heap} -Xmx{self.heap}",
            "HOME": str(self.workdir),
        }

    def _as_node_user(self, cmd: list[str]) -> list[str]:
        user = _node_user()
        if user:
            return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups", "--", *cmd]
        return cmd

    def _keystore_add(self, name: str, value: str) -> None:
        """Put a secure setting into the node's keystore (created on first use), as the node user."""
        assert self.workdir is not None
        tool = str(ensure_distribution(self.version) / "bin" / "elasticsearch-keystore")
        if not (self.workdir / "config" / "elasticsearch.keystore").exists():
            self._run_tool([tool, "create"])
        self._run_tool([tool, "add", "--stdin", "--force", name], stdin=value)

    def _run_tool(self, cmd: list[str], stdin: str | None = None) -> None:
        done = subprocess.run(self._as_node_user(cmd), env=self._env(), input=stdin, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise NodeError(f"{' '.join(cmd[:2])} failed (exit {done.returncode}):\n{(done.stdout + done.stderr)[-2000:]}")

    def _launch(self, timeout: float, wait_healthy: bool = False) -> "EsNode":
        """Run the server on ``self.workdir`` and wait until the cluster is yellow or green
        (a node of a cluster: only with ``wait_healthy``, as when it rejoins one)."""
        assert self.workdir is not None and self.java_home is not None
        es_home = self.es_home
        workdir = self.workdir
        pid_file = workdir / "es.pid"
        pid_file.unlink(missing_ok=True)
        env = self._env()
        # A secured node leaves xpack.security.enabled unset: security is on by default, and
        # setting it explicitly would stop the first start from auto-configuring TLS.
        security = [] if self.secured else ["-E", "xpack.security.enabled=false"]
        cmd = [
            str(es_home / "bin" / "elasticsearch"), "-d", "-p", str(pid_file),
            *([] if self.in_cluster else ["-E", "discovery.type=single-node"]),
            "-E", f"cluster.name={self.cluster_name}",
            *(["-E", f"node.name={self.node_name}"] if self.node_name else []),
            *security,
            "-E", "http.host=127.0.0.1", "-E", f"http.port={self.port}",
            "-E", "transport.host=127.0.0.1", "-E", f"transport.port={self.transport_port or free_port()}",
            "-E", f"path.data={workdir / 'data'}", "-E", f"path.logs={workdir / 'logs'}",
            # CI disks can be nearly full; the watermarks would block writes on a test node.
            "-E", "cluster.routing.allocation.disk.threshold_enabled=false",
            "-E", "action.destructive_requires_name=false",
            *[arg for key, value in self.settings.items() for arg in ("-E", f"{key}={value}")],
        ]
        cmd = self._as_node_user(cmd)
        # With -d the launcher returns once the server is up (or has failed) and writes its PID.
        launch = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        if pid_file.exists():
            self.pid = int(pid_file.read_text().strip())
        if launch.returncode != 0 or self.pid is None:
            tail = (launch.stdout + launch.stderr)[-4000:]
            log = self.log_tail()
            self.stop(remove_data=False)
            raise NodeError(f"Elasticsearch {self.version} did not start (exit {launch.returncode}):\n{tail}\n{log}")
        deadline = time.monotonic() + timeout
        if self.in_cluster and not wait_healthy:
            return self
        while True:
            try:
                health = _http_json(f"{self.url}/_cluster/health?wait_for_status=yellow&timeout=5s", timeout=10,
                                    ca_certs=self.ca_certs, login=("elastic", self.password) if self.secured else None)
                if health.get("status") in ("yellow", "green"):
                    return self
            except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
                pass
            if time.monotonic() > deadline or not self.alive():
                log = self.log_tail()
                self.stop(remove_data=False)
                raise NodeError(f"Elasticsearch {self.version} at {self.url} never became healthy.\n{log}")
            time.sleep(0.5)

    def alive(self) -> bool:
        if self.pid is None:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        # A zombie is not alive; /proc tells.
        try:
            return Path(f"/proc/{self.pid}/stat").read_text().split()[2] != "Z"
        except (FileNotFoundError, IndexError):
            return False

    def log_tail(self, lines: int = 40) -> str:
        if not self.workdir:
            return ""
        logs = sorted((self.workdir / "logs").glob("*.log"))
        main = [p for p in logs if p.name == f"{self.cluster_name}.log"] or logs
        if not main:
            return "(no Elasticsearch log written)"
        text = main[0].read_text(errors="replace").splitlines()
        return "--- Elasticsearch log tail ---\n" + "\n".join(text[-lines:])

    def kill(self) -> None:
        """Stop the server abruptly (SIGKILL), keeping its data dir: for failure tests."""
        if self.pid and self.alive():
            os.kill(self.pid, signal.SIGKILL)
            self._wait_gone(30)
        self._remove_jvm_files()

    def stop(self, remove_data: bool = True) -> None:
        if self.pid and self.alive():
            os.kill(self.pid, signal.SIGTERM)
            if not self._wait_gone(60):
                os.kill(self.pid, signal.SIGKILL)
                self._wait_gone(30)
        self._remove_jvm_files()
        self.pid = None
        if remove_data and self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def _remove_jvm_files(self) -> None:
        """HotSpot puts the attach socket (/tmp/.java_pid<pid>, made when Elasticsearch attaches
        its entitlement agent to itself) and perf data in /tmp whatever java.io.tmpdir says,
        and leaves them behind when killed; remove this node's once it is gone."""
        if self.pid and not self.alive():
            Path(f"/tmp/.java_pid{self.pid}").unlink(missing_ok=True)
            user = _node_user()
            name = user.pw_name if user else pwd.getpwuid(os.geteuid()).pw_name
            Path(f"/tmp/hsperfdata_{name}/{self.pid}").unlink(missing_ok=True)

    def _wait_gone(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not self.alive():
                return True
            time.sleep(0.2)
        return not self.alive()

    def restart(self, timeout: float = 180.0) -> "EsNode":
        """Start again on the same port and data, after :meth:`kill`."""
        if not self.workdir:
            raise NodeError("restart() needs a node that was started and killed, not stopped")
        return self._launch(timeout, wait_healthy=True)
