"""The local stack: its secrets, the Compose command line, and ``up / down / status / logs``.

Docker and Compose are reached through two small seams so the logic can be tested without an
engine: :func:`check_docker_engine` (the docker SDK's ping) and a :class:`Runner` that runs
``docker compose ...`` as a subprocess. Everything else here is plain Python.

compose.yaml ships inside the package (``provision/compose.yaml``, package data), so a
``pip install``-ed ctstack runs the same file as a checkout; ``ctstack status`` prints its path.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import re
import secrets
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence
from urllib.parse import urlsplit

from elasticsearch import ApiError, TransportError

from provision.stack import health
from provision.core import settings
from provision.core.connection import EsConfig, connect, describe_error, display_url, read_env_file
from provision.core.errors import CtstackError
from provision.cloudtrail.fields import TIMESTAMP

# Secrets in credentials.env: generated once, never rewritten (the data volume and Kibana's
# encrypted saved objects depend on them staying the same).
SECRET_NAMES = (
    "ELASTIC_PASSWORD",
    "KIBANA_SYSTEM_PASSWORD",
    "KIBANA_ENCRYPTED_SAVED_OBJECTS_KEY",
    "KIBANA_SECURITY_KEY",
    "KIBANA_REPORTING_KEY",
)
# Non-secret settings in stack.env, rewritten by every `up`. KIBANA_ENABLED is ctstack's own
# (false after `up --no-kibana`: status, provision and the next steps leave Kibana out).
STACK_ENV_NAMES = ("STACK_VERSION", "ES_IMAGE", "KIBANA_IMAGE", "ES_PORT", "KIBANA_PORT", "ES_HEAP", "KIBANA_LOCALE", "KIBANA_ENABLED")

# `up`'s failures: how a taken port reads in Compose's or the engine's words, and how many of
# an unhealthy container's log lines are shown.
_PORT_TAKEN = re.compile(r"(?:127\.0\.0\.1:(\d+)[^\n]*(?:address already in use|port is already allocated))|"
                         r"(?:address already in use|port is already allocated)")
FAILED_START_LOG_LINES = 10

# `ctstack logs es` -> the Compose service name.
SERVICES = {"es": "elasticsearch", "elasticsearch": "elasticsearch", "kibana": "kibana", "setup": "setup"}

_HEAP = re.compile(r"^[1-9][0-9]*[mMgG]$")
_LOCALE = re.compile(r"^[a-z]{2}(-[A-Z]{2})?$")
# An image reference as Docker spells one ([registry[:port]/]name[:tag][@digest]); nothing that
# could end a line of stack.env, start an option or be interpolated by Compose.
_IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@+-]{0,254}$")
NO_KIBANA_NOTE = ("Kibana skipped: the local stack runs without Kibana (`ctstack up --no-kibana`), so the data view and "
                  "dashboard are not installed; `ctstack up` without --no-kibana adds Kibana.")
_MAX_MAP_COUNT_HINT = (
    "Elasticsearch cannot start because the kernel setting vm.max_map_count is too low; run "
    "`sudo sysctl -w vm.max_map_count=1048576` on the Docker host (Docker Desktop: inside its VM, see the README) and run `ctstack up` again."
)


def compose_file() -> Path:
    """The compose.yaml shipped with the package."""
    return Path(str(resources.files("provision").joinpath("compose.yaml")))


def sample_dir() -> Path:
    """Where `ctstack up --sample` writes the generated demo data (re-importing it is a no-op)."""
    return settings.ctstack_home() / "sample"


# --- secrets and settings files ------------------------------------------------------------


def ensure_credentials(path: Path | None = None) -> bool:
    """Create the 0600 credentials file with fresh secrets unless it exists; True if created.

    An existing file is never rewritten: a secret it lacks (a file from an older ctstack) is
    appended, and its mode is tightened to 0600.
    """
    path = path or settings.credentials_file()
    _private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600)
        missing = [name for name in SECRET_NAMES if not read_env_file(path).get(name)]
        if missing:
            with open(path, "a", encoding="utf-8") as existing:
                existing.write("".join(f"{name}={_new_secret()}\n" for name in missing))
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as new:
        os.fchmod(new.fileno(), 0o600)  # whatever the umask
        new.write("# Written once by `ctstack up`; the local stack's secrets. Keep it private (mode 0600).\n")
        new.write(f"# Log in to Kibana as {settings.LOCAL_ES_USER} with ELASTIC_PASSWORD.\n")
        new.write("".join(f"{name}={_new_secret()}\n" for name in SECRET_NAMES))
    return True


def _new_secret() -> str:
    # 32 random bytes -> 43 URL-safe characters: no quoting needed in env files, shells or JSON,
    # and long enough for Kibana's 32-character minimum on encryption keys.
    return secrets.token_urlsafe(32)


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)


@dataclass(frozen=True)
class StackSettings:
    """The non-secret knobs of the local stack (stack.env)."""

    version: str = settings.STACK_VERSION
    es_image: str = settings.OFFICIAL_ES_IMAGE
    kibana_image: str = settings.OFFICIAL_KIBANA_IMAGE
    es_port: int = 9200
    kibana_port: int = 5601
    es_heap: str = settings.DEFAULT_ES_HEAP
    kibana_locale: str = settings.DEFAULT_KIBANA_LOCALE
    kibana: bool = True

    def as_env(self) -> dict[str, str]:
        return dict(zip(STACK_ENV_NAMES, (self.version, self.es_image, self.kibana_image, str(self.es_port), str(self.kibana_port),
                                          self.es_heap, self.kibana_locale, "true" if self.kibana else "false")))


def resolve_stack_settings(es_heap: str | None = None, kibana_locale: str | None = None, *, es_image: str | None = None,
                           kibana_image: str | None = None, kibana: bool = True) -> StackSettings:
    """This run's settings: options given now > env (images: CTSTACK_ES_IMAGE, CTSTACK_KIBANA_IMAGE)
    > what the last `up` used (stack.env) > defaults. The version and ports always come from
    :mod:`provision.core.settings`; ``kibana`` is this run's choice (``up --no-kibana``)."""
    previous = read_env_file(settings.stack_env_file())
    heap = es_heap or previous.get("ES_HEAP") or settings.DEFAULT_ES_HEAP
    locale = kibana_locale or previous.get("KIBANA_LOCALE") or settings.DEFAULT_KIBANA_LOCALE
    if not _HEAP.match(heap):
        raise CtstackError(f"--es-heap {heap!r} is not a heap size; use a number with m or g, e.g. 1g or 512m.")
    if not _LOCALE.match(locale):
        raise CtstackError(f"--kibana-locale {locale!r} is not a locale; use e.g. en, ja-JP, zh-CN or fr-FR.")
    images = {}
    for key, given, env, default in (("ES_IMAGE", es_image, settings.ES_IMAGE_ENV, settings.OFFICIAL_ES_IMAGE),
                                     ("KIBANA_IMAGE", kibana_image, settings.KIBANA_IMAGE_ENV, settings.OFFICIAL_KIBANA_IMAGE)):
        image = given or os.environ.get(env) or previous.get(key) or default
        if not _IMAGE.match(image):
            option = "--" + key.lower().replace("_", "-")
            raise CtstackError(f"{option} {image!r} is not an image name; use e.g. registry.example.com/elastic/elasticsearch:{settings.STACK_VERSION}.")
        images[key] = image
    return StackSettings(
        es_image=images["ES_IMAGE"], kibana_image=images["KIBANA_IMAGE"],
        es_port=_port(settings.LOCAL_ES_URL), kibana_port=_port(settings.LOCAL_KIBANA_URL),
        es_heap=heap.lower(), kibana_locale=locale, kibana=kibana,
    )


def local_kibana_enabled() -> bool:
    """Whether the local stack runs Kibana (false after `ctstack up --no-kibana`)."""
    return read_env_file(settings.stack_env_file()).get("KIBANA_ENABLED", "true") != "false"


def write_stack_env(stack_settings: StackSettings, path: Path | None = None) -> Path:
    path = path or settings.stack_env_file()
    _private_dir(path.parent)
    text = "# Rewritten by every `ctstack up`; not secret.\n" + "".join(f"{k}={v}\n" for k, v in stack_settings.as_env().items())
    path.write_text(text, encoding="utf-8")
    return path


def _port(url: str) -> int:
    return urlsplit(url).port or 80


# --- the Docker / Compose boundary ---------------------------------------------------------


@dataclass(frozen=True)
class RunResult:
    returncode: int
    stdout: str = ""
    stderr: str = ""


class Runner(Protocol):
    def __call__(self, args: Sequence[str], *, env: dict[str, str], capture: bool = False) -> RunResult: ...


def run_subprocess(args: Sequence[str], *, env: dict[str, str], capture: bool = False) -> RunResult:
    """The real runner: Compose's own output goes to the terminal unless captured; its last
    stderr lines are kept either way, so a failure can be explained."""
    try:
        if capture:
            done = subprocess.run(list(args), env=env, capture_output=True, text=True, check=False)
            return RunResult(done.returncode, done.stdout or "", done.stderr or "")
        with subprocess.Popen(list(args), env=env, stderr=subprocess.PIPE, text=True, errors="replace") as proc:
            assert proc.stderr is not None
            tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
            for line in proc.stderr:
                sys.stderr.write(line)
                tail.append(line)
            return RunResult(proc.wait(), "", "".join(tail))
    except FileNotFoundError:
        raise DockerUnavailable(f"`{args[0]}` was not found; install Docker with Compose v2 (https://docs.docker.com/compose/install/).") from None


STDERR_TAIL_LINES = 50


class DockerUnavailable(CtstackError):
    """Docker (the engine or the compose command) is not there."""


def check_docker_engine() -> None:
    """Ping the Docker engine through the docker SDK; raise one sentence if it is not there."""
    import docker
    import requests

    try:
        docker.from_env(timeout=5).ping()
    except (docker.errors.DockerException, requests.RequestException, OSError) as err:
        raise DockerUnavailable(
            f"The Docker engine is not reachable: {_docker_reason(err)}; start Docker Desktop, or on Linux "
            "`sudo systemctl start docker`, then run this again."
        ) from None


def _docker_reason(err: BaseException) -> str:
    """Why the engine did not answer, in plain words (the SDK's text nests three exceptions)."""
    text = str(err).lower()
    where = os.environ.get("DOCKER_HOST") or "/var/run/docker.sock"
    if "permission denied" in text:
        return f"permission denied on {where} (add your user to the docker group, then log in again)"
    if "no such file" in text:
        return f"there is no Docker socket at {where} (is Docker installed and started?)"
    if "connection refused" in text:
        return f"nothing answers at {where}"
    if "timed out" in text or "timeout" in text:
        return f"no answer from {where} in time"
    return f"no answer from {where}"


def compose_base_command() -> list[str]:
    """`docker compose` (Compose v2), or CTSTACK_COMPOSE_COMMAND (e.g. a standalone `docker-compose` v2)."""
    return shlex.split(os.environ.get("CTSTACK_COMPOSE_COMMAND") or "docker compose")


@dataclass
class LocalStack:
    """The Compose project `ctstack up` manages, reached through ``runner`` and ``check_engine``."""

    runner: Runner = run_subprocess
    check_engine: Callable[[], None] = check_docker_engine
    es_url: str = field(default_factory=lambda: settings.LOCAL_ES_URL)
    kibana_url: str = field(default_factory=lambda: settings.LOCAL_KIBANA_URL)

    def command(self, *args: str) -> list[str]:
        return [
            *compose_base_command(), "-p", settings.compose_project(), "-f", str(compose_file()),
            "--env-file", str(settings.credentials_file()), "--env-file", str(settings.stack_env_file()), *args,
        ]

    def compose(self, *args: str, capture: bool = False) -> RunResult:
        return self.runner(self.command(*args), env=compose_environment(), capture=capture)

    def check_compose(self) -> None:
        """The engine answers; make sure Compose v2 does too (else Docker prints its usage text)."""
        result = self.compose("version", capture=True)
        if result.returncode != 0:
            raise DockerUnavailable(
                f"The Docker engine answers but `{' '.join(compose_base_command())} version` failed, so Compose v2 is missing; install "
                "Docker's compose plugin (https://docs.docker.com/compose/install/linux/) or set CTSTACK_COMPOSE_COMMAND to a Compose v2 command.")

    def check_ready(self) -> None:
        """The engine and Compose v2, or one sentence saying which is missing."""
        self.check_engine()
        self.check_compose()

    def require_setup(self) -> None:
        """The env files down/status/logs need; a stack never set up has nothing to show."""
        if not settings.credentials_file().exists():
            raise CtstackError(f"No local stack has been set up ({settings.credentials_file()} does not exist); `ctstack up` creates one.")
        if not settings.stack_env_file().exists():
            write_stack_env(resolve_stack_settings())
        missing = [name for name in STACK_ENV_NAMES if name not in read_env_file(settings.stack_env_file())]
        if missing:  # written by an older ctstack: fill in what it lacks, keep the rest
            write_stack_env(resolve_stack_settings(kibana=local_kibana_enabled()))

    def start(self, timeout: float, kibana: bool = True) -> None:
        if not kibana:  # a Kibana from an earlier `up` must not keep running beside an ES-only stack
            self.compose("rm", "--stop", "--force", "kibana", "setup", capture=True)
        services = () if kibana else ("elasticsearch",)
        result = self.compose("up", "--detach", "--wait", "--wait-timeout", str(int(timeout)), *services)
        if result.returncode != 0:
            raise CtstackError(self._diagnose_failed_start(result, timeout))

    def explain_not_ready(self, timeout: float) -> str | None:
        """Compose said the stack was up but a service did not answer in time (Compose's
        --wait has been seen to let a starting container pass): the diagnosis of a failed `up`
        when it finds a cause (None when every container looks fine)."""
        return self._specific_cause(RunResult(0), timeout)

    def _diagnose_failed_start(self, result: RunResult, timeout: float) -> str:
        return self._specific_cause(result, timeout) or (
            f"`docker compose up` failed (exit {result.returncode}); `ctstack logs es` and `ctstack logs kibana` show why."
            f"{self._left_over()}")

    def _specific_cause(self, result: RunResult, timeout: float) -> str | None:
        try:
            self.check_engine()
        except CtstackError:
            return ("The Docker engine stopped answering while `ctstack up` was starting the stack; start it again and run "
                    "`ctstack up` (its data volumes are kept).")
        taken = _PORT_TAKEN.search(result.stderr)
        if taken:
            port = taken.group(1) or "?"
            return (f"Port {port} on 127.0.0.1 is already taken by another program, so the stack could not publish it there; "
                    f"stop that program (`ss -ltnp 'sport = :{port}'` shows which) and run `ctstack up` again.{self._left_over()}")
        logs = self.compose("logs", "--no-color", "--tail", "300", "elasticsearch", capture=True)
        if "max_map_count" in logs.stdout + logs.stderr:
            return _MAX_MAP_COUNT_HINT
        failed = next((c for c in self._containers_or_none() if _failed_to_start(c)), None)
        if failed:
            service = failed["service"]
            tail = self.compose("logs", "--no-color", "--no-log-prefix", "--tail", str(FAILED_START_LOG_LINES), service, capture=True)
            lines = "\n".join("  " + line for line in tail.stdout.strip().splitlines()[-FAILED_START_LOG_LINES:]) or "  (none yet)"
            what = (f"exited with code {failed['exit_code']} while starting" if failed["state"] == "exited"
                    else f"did not become healthy within {int(timeout)} s")
            return (f"{service} {what} (`docker compose up` exit {result.returncode}); its last log lines:\n{lines}\n"
                    f"{self._left_over().strip()}").rstrip()
        return None

    def _containers_or_none(self) -> list[dict[str, str]]:
        try:
            return self.containers()
        except CtstackError:
            return []

    def _left_over(self) -> str:
        """What a failed `up` left behind, said in one sentence (nothing is half-started silently)."""
        left = [f"{c['service']} ({c['state']}{', ' + c['health'] if c['health'] else ''})" for c in self._containers_or_none()
                if c["state"] in ("running", "restarting", "created")]
        if not left:
            return ""
        return f" Left as they are: {', '.join(left)}; `ctstack down` stops them (data is kept)."

    def stop(self, volumes: bool) -> None:
        self.check_ready()
        self.require_setup()
        result = self.compose("down", *(["--volumes"] if volumes else []))
        if result.returncode != 0:
            raise CtstackError(f"`docker compose down` failed (exit {result.returncode}).")

    def containers(self) -> list[dict[str, str]]:
        """One dict per container of the project: service, name, state, health."""
        result = self.compose("ps", "--all", "--format", "json", capture=True)
        if result.returncode != 0:
            raise CtstackError(f"`docker compose ps` failed (exit {result.returncode}): {result.stderr.strip()[:200]}")
        return [
            {"service": c.get("Service", ""), "name": c.get("Name", ""), "state": c.get("State", ""), "health": c.get("Health", ""),
             "exit_code": str(c.get("ExitCode", ""))}
            for c in parse_ps_json(result.stdout)
        ]

    def logs(self, service: str | None, follow: bool = False, tail: int | None = None) -> int:
        if service and service not in SERVICES:  # a typo is answered before Docker is asked
            raise CtstackError(f"Unknown service {service!r}; the local stack's services are: es (or elasticsearch), kibana, setup.")
        self.check_ready()
        self.require_setup()
        args = ["logs"]
        if follow:
            args.append("--follow")
        if tail is not None:
            args += ["--tail", str(tail)]
        if service:
            args.append(SERVICES[service])
        return self.compose(*args).returncode


def _failed_to_start(container: dict[str, str]) -> bool:
    """Exited with an error, or running but not (yet) healthy (the one-shot setup exits 0)."""
    if container["state"] == "exited":
        return container.get("exit_code", "0") not in ("0", "")
    return container["state"] in ("running", "restarting") and container["health"] not in ("", "healthy")


def compose_environment() -> dict[str, str]:
    """This process's environment minus the stack's variable names: Compose prefers shell
    variables to env files, so a stray ELASTIC_PASSWORD or ES_HEAP must not leak in."""
    ours = set(SECRET_NAMES) | set(STACK_ENV_NAMES)
    return {k: v for k, v in os.environ.items() if k not in ours}


def parse_ps_json(text: str) -> list[dict[str, Any]]:
    """`docker compose ps --format json`: a JSON array (Compose < 2.21) or one object per line."""
    text = text.strip()
    if not text:
        return []
    if text.startswith("["):
        return list(json.loads(text))
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# --- ctstack up --------------------------------------------------------------------------------


class ImportReport(Protocol):
    """What `up` reads from an import summary (provision.ingest.summary.ImportSummary has these)."""

    files_read: int
    events_indexed: int
    events_duplicate: int
    events_failed: int


@dataclass(frozen=True)
class PostUpSteps:
    """What `up` does once Elasticsearch and Kibana are ready. Each step belongs to another
    module; None means this build does not have it.

    - ``provision(es, kibana, index_prefix, timeout) -> dashboard URL``: index template +
      Kibana data view and dashboard (``kibana`` is None without a Kibana to provision).
    - ``import_sources(es, sources, index_prefix) -> ImportReport``: what `ctstack import` does.
    - ``write_sample(dest_dir)``: writes the deterministic demo CloudTrail files.
    """

    provision: Callable[[EsConfig, health.Target | None, str, float], str | None] | None = None
    import_sources: Callable[[EsConfig, Sequence[str], str], ImportReport] | None = None
    write_sample: Callable[[Path], Any] | None = None


def post_up_steps() -> PostUpSteps:
    """The steps `ctstack up` runs after the stack is healthy: provisioning (template, data
    view, dashboard), the importer, and the sample-data generator."""
    from provision.ingest import import_sources as importing
    from provision.stack.kibana import KibanaConfig, resolve_kibana_config
    from provision.stack.provisioning import provision_all

    def provision(es_cfg: EsConfig, kibana: health.Target | None, index_prefix: str, timeout: float) -> str | None:
        kibana_cfg = None
        if isinstance(kibana, KibanaConfig):
            kibana_cfg = kibana
        elif kibana is not None:
            kibana_cfg = resolve_kibana_config(kibana.url, es=es_cfg)
        return provision_all(es_cfg, kibana_cfg, index_prefix=index_prefix, kibana_timeout=timeout).dashboard_url

    def import_sources(es_cfg: EsConfig, sources: Sequence[str], index_prefix: str) -> ImportReport:
        return importing.import_sources(es_cfg, sources, index_prefix=index_prefix)

    return PostUpSteps(provision=provision, import_sources=import_sources, write_sample=_sample_writer())


def _sample_writer() -> Callable[[Path], Any]:
    from provision.demo.demo_set import write_demo

    return write_demo  # what `ctstack demo DIR` writes, too


class Reporter(Protocol):
    def step(self, message: str) -> None: ...
    def progress(self, probe: health.Probe) -> None: ...


@dataclass(frozen=True)
class UpOptions:
    es: EsConfig | None = None         # an existing cluster: Compose is skipped entirely
    kibana_url: str | None = None      # an existing Kibana (needs `es`)
    es_heap: str | None = None
    kibana_locale: str | None = None
    es_image: str | None = None        # the local stack's images (default: env, then the last up, then official)
    kibana_image: str | None = None
    no_kibana: bool = False            # the local stack without Kibana (and its setup)
    imports: tuple[str, ...] = ()
    sample: bool = False
    timeout: float = health.DEFAULT_TIMEOUT
    index_prefix: str = settings.INDEX_PREFIX


@dataclass
class UpResult:
    local: bool
    es_url: str
    kibana_url: str | None
    dashboard_url: str | None = None
    credentials_file: Path | None = None
    credentials_created: bool = False
    imported: ImportReport | None = None
    kibana_skipped: str | None = None   # why no dashboard was installed (an existing cluster without Kibana)

    @property
    def ok(self) -> bool:
        """False when an import step could not index every event (the exit code says so)."""
        if self.imported is None:
            return True
        return bool(getattr(self.imported, "ok", not self.imported.events_failed))


def up(options: UpOptions, *, stack: LocalStack | None = None, steps: PostUpSteps | None = None,
       reporter: Reporter | None = None) -> UpResult:
    """Bring up the local stack (or use an existing cluster), wait until it is ready, provision
    it, and import what was asked. Safe to re-run: secrets stay, Compose leaves running
    containers alone, provisioning overwrites, re-imported events are recognised."""
    steps = steps or post_up_steps()
    reporter = reporter or _SilentReporter()
    if options.es is not None and (options.es_image or options.kibana_image or options.no_kibana):
        raise CtstackError("--es-image, --kibana-image and --no-kibana choose the local stack's containers; with --es-url no container is started.")
    if options.es is None and options.kibana_url:
        raise CtstackError("--kibana-url needs --es-url too (an existing cluster has both); without them `ctstack up` runs the local stack.")
    if options.sample and steps.write_sample is None:
        raise CtstackError("--sample needs the sample-data generator, which this build of ctstack does not have.")
    if (options.imports or options.sample) and steps.import_sources is None:
        raise CtstackError("--import/--sample need the importer, which this build of ctstack does not have.")

    if options.es is not None:
        result, es_cfg, kibana = _use_existing_cluster(options, reporter)
    else:
        stack = stack or LocalStack()
        result, es_cfg, kibana = _start_local_stack(stack, options, reporter)

    if result.local:
        es_hint, kibana_hint = health.LOCAL_ES_HINT, health.LOCAL_KIBANA_HINT
    else:
        es_hint = f"check that {display_url(es_cfg.url)} is the right address and that the cluster is running"
        kibana_hint = f"check that {display_url(kibana.url)} is the right address and that Kibana is running" if kibana else ""
    try:
        health.wait_for_elasticsearch(es_cfg, timeout=options.timeout, on_progress=reporter.progress, hint=es_hint)
        if kibana:
            health.wait_for_kibana(kibana, timeout=options.timeout, on_progress=reporter.progress, hint=kibana_hint)
    except CtstackError:
        explained = stack.explain_not_ready(options.timeout) if stack is not None and result.local else None
        if explained is None:
            raise
        raise CtstackError(explained) from None

    if steps.provision:
        reporter.step("Installing the index template" + (" and the Kibana dashboard…" if kibana else "…"))
        result.dashboard_url = steps.provision(es_cfg, kibana, options.index_prefix, options.timeout)
    else:
        reporter.step("Provisioning is not part of this build; skipped.")

    sources = list(options.imports)
    if options.sample:
        assert steps.write_sample is not None
        reporter.step(f"Writing the sample CloudTrail data to {sample_dir()}…")
        steps.write_sample(sample_dir())
        sources.append(str(sample_dir()))
    if sources:
        assert steps.import_sources is not None
        reporter.step(f"Importing {', '.join(sources)}…")
        result.imported = steps.import_sources(es_cfg, sources, options.index_prefix)
    return result


def _use_existing_cluster(options: UpOptions, reporter: Reporter) -> tuple[UpResult, EsConfig, health.Target | None]:
    assert options.es is not None
    from provision.stack.kibana import resolve_kibana_config

    es_cfg = options.es
    # Kibana accepts the same users and API keys as Elasticsearch.
    kibana = resolve_kibana_config(options.kibana_url, es=es_cfg) if options.kibana_url else None
    reporter.step(f"Using the existing cluster at {display_url(es_cfg.url)} (Compose is not used).")
    result = UpResult(local=False, es_url=es_cfg.url, kibana_url=kibana.url if kibana else None)
    if kibana is None:
        result.kibana_skipped = kibana_skipped_note(es_cfg.url)
    return result, es_cfg, kibana


def kibana_skipped_note(es_url: str) -> str:
    """The one line `up` and `provision` print when an existing cluster has no Kibana named."""
    return (f"Kibana skipped: no --kibana-url was given for the Elasticsearch at {display_url(es_url)}, so the data view "
            "and dashboard are not installed; add --kibana-url https://YOUR-KIBANA:5601 (or CTSTACK_KIBANA_URL) to install them.")


def _start_local_stack(stack: LocalStack, options: UpOptions, reporter: Reporter) -> tuple[UpResult, EsConfig, health.Target | None]:
    stack.check_ready()
    stack_settings = resolve_stack_settings(options.es_heap, options.kibana_locale, es_image=options.es_image,
                                            kibana_image=options.kibana_image, kibana=not options.no_kibana)
    created = ensure_credentials()
    write_stack_env(stack_settings)
    reporter.step("Starting Elasticsearch" + (" and Kibana" if stack_settings.kibana else "") + " (docker compose up)…")
    stack.start(options.timeout, kibana=stack_settings.kibana)
    password = read_env_file(settings.credentials_file())["ELASTIC_PASSWORD"]
    es_cfg = EsConfig(url=stack.es_url, user=settings.LOCAL_ES_USER, password=password)
    kibana = dataclasses.replace(es_cfg, url=stack.kibana_url) if stack_settings.kibana else None
    result = UpResult(local=True, es_url=es_cfg.url, kibana_url=kibana.url if kibana else None,
                      credentials_file=settings.credentials_file(), credentials_created=created,
                      kibana_skipped=None if kibana else NO_KIBANA_NOTE)
    return result, es_cfg, kibana


class _SilentReporter:
    def step(self, message: str) -> None:
        pass

    def progress(self, probe: health.Probe) -> None:
        pass


# --- ctstack status ----------------------------------------------------------------------------


@dataclass
class StackStatus:
    compose_file: str
    credentials_file: str | None
    engine: str = "not checked"
    containers: list[dict[str, str]] = field(default_factory=list)
    elasticsearch: dict[str, Any] = field(default_factory=dict)
    kibana: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.elasticsearch.get("reachable"))

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def status(es_cfg: EsConfig, kibana: health.Target | None, *, stack: LocalStack | None = None,
           index_prefix: str = settings.INDEX_PREFIX) -> StackStatus:
    """Containers (when ``stack`` is given), Elasticsearch health and documents, Kibana's level.
    Never raises for an unreachable part: it is reported."""
    report = StackStatus(compose_file=str(compose_file()),
                         credentials_file=str(settings.credentials_file()) if settings.credentials_file().exists() else None)
    if stack is not None:
        try:
            stack.check_engine()
        except CtstackError as err:
            report.engine = f"not reachable: {err}"
        else:
            report.engine = "running"
            if report.credentials_file:
                try:
                    stack.check_compose()
                    stack.require_setup()
                    report.containers = stack.containers()
                except CtstackError as err:
                    report.containers = [{"error": str(err)}]
    report.elasticsearch = elasticsearch_status(es_cfg, index_prefix)
    if kibana is not None:
        report.kibana = {"url": display_url(kibana.url)}
        try:
            probe = health.probe_kibana(kibana)
            report.kibana.update(level=probe.state, available=probe.ready)
        except CtstackError as err:
            report.kibana.update(available=False, error=str(err))
    return report


def elasticsearch_status(es_cfg: EsConfig, index_prefix: str = settings.INDEX_PREFIX) -> dict[str, Any]:
    """Reachability, version, cluster health, the number of CloudTrail events and the newest
    event's time (max @timestamp) across ``<index_prefix>-*``."""
    info: dict[str, Any] = {"url": display_url(es_cfg.url), "reachable": False}
    try:
        es, version = connect(es_cfg, request_timeout=10)
    except CtstackError as err:
        info["error"] = str(err)
        return info
    try:
        pattern = f"{index_prefix}-*"
        info.update(reachable=True, version=version, cluster_health=es.cluster.health()["status"])
        info["documents"] = es.count(index=pattern, allow_no_indices=True, ignore_unavailable=True)["count"]
        span = es.search(index=pattern, size=0, allow_no_indices=True, ignore_unavailable=True,
                         aggs={"newest": {"max": {"field": TIMESTAMP}}, "oldest": {"min": {"field": TIMESTAMP}}})
        found = span.get("aggregations") or {}
        info["newest_event"] = (found.get("newest") or {}).get("value_as_string")
        info["oldest_event"] = (found.get("oldest") or {}).get("value_as_string")
    except (ApiError, TransportError) as err:
        info["error"] = describe_error(err, es_cfg)
    finally:
        es.close()
    return info
