"""The foundation: the CLI starts, and the real Elasticsearch test node takes documents."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from elasticsearch import helpers
from typer.testing import CliRunner

from provision import __version__
from provision.cli.commands import app

REPO = Path(__file__).resolve().parent.parent


def test_version_option_prints_the_package_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"ctstack {__version__}"


def test_help_lists_the_tool_purpose():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "CloudTrail" in result.stdout


def test_console_script_is_installed_and_runs():
    """The `ctstack` entry point exists in the environment running the tests."""
    exe = Path(sys.executable).parent / "ctstack"
    assert exe.exists(), f"console script missing at {exe}: was the package installed?"
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert __version__ in out.stdout


def test_bulk_documents_into_the_real_node_and_count_them(es, index_prefix):
    index = f"{index_prefix}-smoke"
    docs = ({"_index": index, "_id": str(i), "n": i} for i in range(25))
    ok, errors = helpers.bulk(es, docs, refresh="wait_for")
    assert (ok, errors) == (25, [])
    assert es.count(index=index)["count"] == 25
