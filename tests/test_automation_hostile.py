"""Logged text stays data: a hostile corpus (tests/support/hostile.py) through every output.

Every generated `cli` line and workflow script runs for real: the AWS CLI (test extras)
against moto's server on 127.0.0.1, in a sandbox folder holding a canary file, while a
listener of the test's own waits for any connection a URL value would make.
"""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import pytest
from rich.console import Console

from provision.report import hints_output
from provision.report.automation_output import print_automation, print_workflows, write_scripts
from provision.analysis.hints import hints_from_sources
from tests.support.hostile import CANARY_FILE, REGION, CANARY_TEXT, PWNED_FILE, CanaryListener, hostile_values, write_corpus
from tests.support.automation import MotoCli

FORBIDDEN = ("\x1b", "\x07", "\u202e", "\u200b", "\r")


@pytest.fixture(scope="module")
def listener():
    canary = CanaryListener()
    yield canary
    canary.stop()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, listener):
    root = tmp_path_factory.mktemp("hostile")
    info = write_corpus(root / "trail", listener.url)
    return root, info, hints_from_sources([str(root / "trail")], top=0)


@pytest.fixture
def sandbox(tmp_path, corpus):
    """(MotoCli in the corpus's account, a working folder holding only the canary file)."""
    work = tmp_path / "work"
    work.mkdir()
    (work / CANARY_FILE).write_text(CANARY_TEXT)
    cli = MotoCli(tmp_path, corpus[2].workflows[0]["account"])
    try:
        yield cli, work
    finally:
        cli.stop()


def _in(work: Path, command: list[str] | str, env: dict, expect: int = 0) -> subprocess.CompletedProcess:
    args = ["bash", "-c", command] if isinstance(command, str) else command
    done = subprocess.run(args, env=env, cwd=work, capture_output=True, text=True, timeout=180)
    assert done.returncode == expect, (command, done.returncode, done.stdout, done.stderr)
    return done


def _stored(account: str) -> dict:
    """What moto holds, read from its backends in this process: its XML answers break on the
    control characters the corpus stores (real AWS refuses them), boto3 cannot parse them."""
    from moto.ec2.models import ec2_backends
    from moto.iam.models import iam_backends

    groups = {g.name: {"id": g.id, "description": g.description, "tags": {t["key"]: t["value"] for t in g.get_tags()}}
              for g in ec2_backends[account][REGION].describe_security_groups()}
    iam = iam_backends[account]["aws"]
    users = {u.name: {t["Key"]: t["Value"] for t in iam.list_user_tags(u.name)} for u in iam.users.values()}
    return {"groups": groups, "users": users}


def _assert_nothing_escaped(account: str, work: Path, listener: CanaryListener) -> None:
    assert sorted(p.name for p in work.iterdir()) == [CANARY_FILE], "a logged value ran as a command"
    assert not Path(PWNED_FILE).exists()
    assert listener.connections == 0, "a logged value was fetched as a URL or became --endpoint-url"
    assert CANARY_TEXT not in json.dumps(_stored(account)), "a logged value was read as a file reference"


def test_failed_console_calls_are_counted_apart_and_never_automated(corpus):
    _, info, hints = corpus
    assert hints.failed_changes == info["denied"]
    assert "failed console changes (errorCode: denied or refused) not counted" in hints_output.summary_line(hints)
    assert {c.action: c.count for c in hints.candidates if c.automation} == {
        "CreateSecurityGroup": 4, "CreateTags": 4, "CreateUser": 4, "CreateLoginProfile": 4}
    # Only the denied calls logged a vpcId: nothing of theirs reaches a command or a workflow.
    assert all("VpcId" not in c.automation["parameters"] for c in hints.candidates if c.automation)
    assert all("VpcId" not in s["parameters"] for w in hints.workflows for s in w["steps"])


@pytest.mark.slow  # the AWS CLI and scripts against a moto server
def test_every_cli_line_runs_with_its_values_as_data(corpus, sandbox, listener):
    _, info, hints = corpus
    cli, work = sandbox
    env = {**cli.env, "PASSWORD": "Hostile-Passw0rd!"}
    by_action = {c.action: c.automation for c in hints.candidates if c.automation}
    lines = [by_action[a]["cli"] for a in ("CreateUser", "CreateLoginProfile", "CreateSecurityGroup")]
    for line in lines:
        assert "--region eu-west-1" in line
        _in(work, line, env)
    account = hints.workflows[0]["account"]
    created = by_action["CreateSecurityGroup"]["parameters"]
    group = _stored(account)["groups"][created["GroupName"]]
    assert group["description"] == created["Description"]  # a URL, kept as text
    tags = by_action["CreateTags"]
    _in(work, tags["cli"].replace(tags["parameters"]["Resources"][0], group["id"]), env)
    stored = _stored(account)
    # `$(...)`, --endpoint-url=, file://, control characters: stored as they were logged.
    assert stored["groups"][created["GroupName"]]["tags"] == {t["Key"]: t["Value"] for t in tags["parameters"]["Tags"]}
    user = by_action["CreateUser"]["parameters"]
    assert stored["users"][user["UserName"]] == {t["Key"]: t["Value"] for t in user["Tags"]}
    _assert_nothing_escaped(account, work, listener)


@pytest.mark.slow  # the AWS CLI and scripts against a moto server
def test_workflow_script_runs_with_hostile_arguments_as_data(corpus, sandbox, listener, tmp_path):
    _, info, hints = corpus
    cli, work = sandbox
    [script] = write_scripts(hints, tmp_path / "scripts", top=0).written
    workflow = hints.workflows[0]
    values = hostile_values(listener.url)
    arguments = [f"user-{n}" if a["name"] == "user_name" else values[n % len(values)] for n, a in enumerate(workflow["varying"])]
    env = {**cli.env, "PASSWORD": "Hostile-Passw0rd!"}
    done = _in(work, [str(script), "--", *arguments], env, expect=0)
    assert "is done in the console (no public API)" in done.stderr  # the console-only step is said, not run
    stored = _stored(workflow["account"])
    group = stored["groups"][arguments[0]]
    assert group["description"] == arguments[1]
    assert set(arguments[2:-1]) <= set(group["tags"].values())  # every hostile argument reached AWS as a value
    assert set(stored["users"]) == {arguments[-1]}
    _assert_nothing_escaped(workflow["account"], work, listener)


def test_outputs_for_people_carry_no_control_or_bidirectional_characters(corpus):
    _, _, hints = corpus
    terminal = io.StringIO()
    console = Console(file=terminal, width=200, force_terminal=False, color_system=None)
    hints_output.print_table(hints, console)
    print_automation(hints, console)
    print_workflows(hints, console)
    for name, text in {"table": terminal.getvalue(), "csv": hints_output.to_csv(hints), "markdown": hints_output.to_markdown(hints),
                       "sh": hints_output.to_sh(hints)}.items():
        assert not [c for c in FORBIDDEN if c in text], name
    for workflow in hints.workflows:
        assert not [c for c in FORBIDDEN if c in workflow["script"]]


def test_hostile_and_sample_data_scripts_and_commands_are_shellcheck_clean(corpus, sample_data, tmp_path):
    _, _, hints = corpus
    sample = hints_from_sources([str(sample_data)], top=0)
    files = []
    for name, answer in (("hostile", hints), ("sample", sample)):
        files.append(tmp_path / f"{name}.sh")
        files[-1].write_text(hints_output.to_sh(answer))
        files += write_scripts(answer, tmp_path / name, top=0).written
    done = subprocess.run(["shellcheck", *map(str, files)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
    assert all("--region " in c.automation["cli"] for answer in (hints, sample) for c in answer.candidates if c.automation)


def test_report_of_the_hostile_corpus_escapes_every_value(corpus):
    """A workflow with a console-only step renders (it used to crash); logged text is escaped."""
    from provision.report.html import render_report

    _, _, hints = corpus
    html = render_report(hints)
    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert 'id="workflows"' in html and "Do$(touch pwned)" in html
    assert f"{hints.failed_changes} console changes failed (errorCode: denied or refused)" in html
