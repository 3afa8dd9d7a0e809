"""The first hour with ctstack, as a newcomer meets it (README, filters, quiet
results, output polish). Every test goes through the command line (typer's runner or a
subprocess); Elasticsearch is the real test node."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from provision.cli import commands as cli
from tests.support.trail import role_event, write_trail

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
OTHER_ACCOUNT = "444455556666"


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli.app, list(args), input=input)


def two_account_trail(folder: Path) -> Path:
    """Console changes in two accounts and two days, one file each (as CloudTrail delivers)."""
    events = [
        role_event("CreateUser", "iam.amazonaws.com", time="2024-08-01T10:00:00Z"),
        role_event("CreateRole", "iam.amazonaws.com", time="2024-08-03T10:00:00Z", region="us-east-1"),
    ]
    write_trail(folder, events, name="a")
    other = [role_event("PutMetricAlarm", "monitoring.amazonaws.com", account=OTHER_ACCOUNT, user="bob", time="2024-08-02T09:00:00Z")]
    path = folder / "other" / f"{OTHER_ACCOUNT}_CloudTrail_eu-west-1_20240802T0900Z_b.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"Records": other}))
    return folder


# -- README figures and names ----------------------------------------------------------------------

def test_readme_python_example_runs(tmp_path, es_url, index_prefix):
    """The README's Python example imports from `provision` only, and works as written."""
    code = README.split("```python\n", 1)[1].split("```", 1)[0]
    imports = [line for line in code.splitlines() if line.startswith(("import ", "from "))]
    assert imports and all(line.startswith("from provision import ") for line in imports)
    logs = tmp_path / "logs"
    write_trail(logs, [role_event()])
    script = tmp_path / "example.py"
    # The example as written, with the test's index prefix and no worker processes.
    script.write_text(code.replace('["logs/"])', f'["logs/"], index_prefix={index_prefix!r}, processes=0)', 1)
                      + "print(summary.events_indexed)\n")
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "CTSTACK_ES_URL": es_url}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"


