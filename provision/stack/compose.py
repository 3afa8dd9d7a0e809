"""The Docker / Compose boundary: the engine check (the docker SDK's ping), a :class:`Runner` that
runs ``docker compose ...`` as a subprocess, and :class:`LocalStack`, the Compose project
`ctstack up / down / logs` manage, with the diagnosis of a failed start.

Docker and Compose are reached through these two small seams so the logic can be tested
without an engine; everything else is plain Python.
"""

from __future__ import annotations

import collections
import importlib
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

from provision.core import settings
from provision.core.connection import read_env_file
from provision.core.errors import CtstackError
from provision.stack.local_settings import (SECRET_NAMES, STACK_ENV_NAMES, compose_file, local_kibana_enabled,
                                          resolve_stack_settings, write_stack_env)


# `up`'s failures: how a taken port reads in Compose's or the engine's words, and how many of
# an unhealthy container's log lines are shown.
_PORT_TAKEN = re.compile(r"(?:127\.0\.0\.1:(\d+)[^\n]*(?:address already in use|port is already allocated))|"
                         r"(?:address already in use|port is already allocated)")
FAILED_START_LOG_LINES = 10

# `ctstack logs es` -> the Compose service name.
SERVICES = {"es": "elasticsearch", "elasticsearch": "elasticsearch", "kibana": "kibana", "setup": "setup"}
# Only Elasticsearch's refusal to start counts. A node that starts anyway (single-node
# discovery skips the checks) still logs a WARN about a low setting: then something else failed.
_MAX_MAP_COUNT_REFUSED = re.compile(r"^.*bootstrap check failure.*max_map_count.*$", re.M)
_MAX_MAP_COUNT_HINT = (
    "Elasticsearch cannot start because the kernel setting vm.max_map_count is too low; run "
    "`sudo sysctl -w vm.max_map_count=1048576` on the Docker host (Docker Desktop: inside its VM, see docs/local-stack.md) and run `ctstack up` again."
)




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
    import requests

    # By name: a type checker run in a checkout takes the repo's docker/ folder for the SDK.
    docker = importlib.import_module("docker")

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
        if _MAX_MAP_COUNT_REFUSED.search(logs.stdout + logs.stderr):
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
