"""Running ctstack as the tests run it, and checks on the result, shared by the CLI tests.

Three ways, each named for what the command sees:
- :func:`invoke`: typer's runner in this process, with a home of its own and none of the
  connection variables of the person running the tests;
- :func:`ctstack_alone`: ``python -m provision`` in a subprocess whose environment holds
  nothing else (no PATH, no Elasticsearch, no AWS), as a newcomer's first run;
- :func:`ctstack_script`: the installed ``ctstack`` console script in a subprocess, as a user
  runs it from a shell, from a folder outside the checkout.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Mapping

from click.testing import Result
from typer.testing import CliRunner

from provision.cli.commands import app

REPO = Path(__file__).resolve().parents[2]
CTSTACK = str(Path(sys.executable).parent / "ctstack")
# Where a test's Elasticsearch and Kibana would otherwise come from: none is inherited.
CONNECTION_VARIABLES = (
    "CTSTACK_ES_URL", "CTSTACK_ES_USER", "CTSTACK_ES_PASSWORD", "CTSTACK_ES_API_KEY", "CTSTACK_ES_CA_CERTS",
    "CTSTACK_KIBANA_URL", "CTSTACK_KIBANA_USER", "CTSTACK_KIBANA_PASSWORD", "CTSTACK_KIBANA_API_KEY")


def invoke(*args: str, home: Path, env: Mapping[str, str | None] | None = None) -> Result:
    """``ctstack ARGS`` through typer's runner: ``home`` as CTSTACK_HOME, no connection variable
    but those in ``env``."""
    unset: dict[str, str | None] = {name: None for name in CONNECTION_VARIABLES}
    return CliRunner().invoke(app, list(args), env={**unset, "CTSTACK_HOME": str(home), **(env or {})})


def ctstack_alone(*args: str, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m provision ARGS`` in ``cwd`` with nothing else in its environment (no PATH, no
    Elasticsearch, no AWS; a home of its own, ``cwd/home``) but ``env``."""
    alone = {"PYTHONPATH": str(REPO), "PATH": "", "COLUMNS": "200", "CTSTACK_HOME": str(cwd / "home")}
    return subprocess.run([sys.executable, "-m", "provision", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**alone, **(env or {})})


def ctstack_script(*args: str, env: Mapping[str, str] | None = None, inherit_ctstack_variables: bool = False,
                   timeout: float = 300) -> subprocess.CompletedProcess:
    """The installed ``ctstack ARGS`` with this process's environment plus ``env``, run from the
    temporary folder; the CTSTACK_* variables are left out unless ``inherit_ctstack_variables``
    (a test that set them for the command, such as the S3 endpoint)."""
    inherited = {k: v for k, v in os.environ.items() if inherit_ctstack_variables or not k.startswith("CTSTACK_")}
    return subprocess.run([CTSTACK, *args], capture_output=True, text=True, timeout=timeout, env={**inherited, **(env or {})},
                          cwd=os.environ.get("TMPDIR", "/tmp"))


def no_traceback(result: Result) -> None:
    """The command ended with its own words: no traceback printed, no exception but its exit."""
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
