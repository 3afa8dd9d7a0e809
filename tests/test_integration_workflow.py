"""The GitHub Actions workflow users run with real containers (.github/workflows/integration.yml)
cannot run here; these tests keep it in step with the CLI it drives."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import typer.main
import yaml

from provision.cli.commands import app

WORKFLOW = Path(__file__).resolve().parent.parent / ".github" / "workflows" / "integration.yml"


def steps() -> list[dict]:
    return yaml.safe_load(WORKFLOW.read_text())["jobs"]["stack"]["steps"]


def ctstack_invocations() -> list[list[str]]:
    runs = "\n".join(step.get("run", "") for step in steps())
    return [shlex.split(m.group(0))[1:] for m in re.finditer(r"\bctstack [^|;&\n]*", runs)]


def test_every_ctstack_command_and_option_the_workflow_uses_exists():
    commands = typer.main.get_command(app).commands
    invocations = ctstack_invocations()
    assert {args[0] for args in invocations} >= {"up", "down", "status", "logs"}
    for args in invocations:
        command = commands[args[0]]
        known = {opt for param in command.params for opt in param.opts}
        for arg in args[1:]:
            if arg.startswith("-"):
                assert arg in known, f"`ctstack {args[0]}` has no option {arg}"


def test_the_workflow_starts_with_sample_data_tests_checks_the_dashboard_and_always_cleans_up():
    by_name = {step.get("name"): step for step in steps()}
    runs = [step.get("run", "") for step in steps()]
    assert any("ctstack up --sample" in run for run in runs)
    assert any("python -m pytest" in run for run in runs)
    assert any("/api/saved_objects/dashboard/" in run and "settings.DASHBOARD_ID" in run for run in runs)
    cleanup = by_name["Remove the stack and its volumes"]
    assert cleanup["if"] == "always()" and cleanup["run"].strip() == "ctstack down --volumes --yes"
    assert steps()[-1] == cleanup
    secrets_step = by_name["Point the test suite at the stack (password masked in the log)"]
    assert "::add-mask::" in secrets_step["run"]
