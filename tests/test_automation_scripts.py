"""Workflow scripts are safe to run and to write: account and region, dry run, exit codes,
--script into existing folders, over symlinks, long workflows and stale scripts."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from provision.report.automation_output import write_scripts
from provision.analysis.hints import hints_from_sources
from provision.analysis.workflows import MAX_NAME
from tests.support.automation import MotoCli, run_checked, workflow_starting_with

TWELVE_ACTIONS = ["CreateKeyPair", "CreateVpc", "CreateSubnet", "CreateInternetGateway", "AllocateAddress", "CreateVolume",
                  "CreateSnapshot", "CreateRouteTable", "CreateNetworkAcl", "CreateDhcpOptions", "CreatePlacementGroup", "CreateCustomerGateway"]


def _script(hints, tmp_path, first_action: str):
    name = workflow_starting_with(hints, first_action)["name"]
    [path] = [p for p in write_scripts(hints, tmp_path / "s", top=0).written if p.name.endswith(f"-{name}.sh")]
    return path


def test_every_demo_script_is_shellcheck_clean(demo, tmp_path):
    from provision.report.hints_output import to_sh

    _, hints = demo
    scripts = write_scripts(hints, tmp_path / "s", top=0).written
    (tmp_path / "hints.sh").write_text(to_sh(hints))
    done = subprocess.run(["shellcheck", str(tmp_path / "hints.sh"), *map(str, scripts)], capture_output=True, text=True)
    assert scripts and done.returncode == 0, done.stdout


def test_every_demo_cli_line_carries_its_region(demo):
    _, hints = demo
    lines = [c.automation for c in hints.candidates if c.automation]
    assert lines and all(f"--region {a['region']}" in a["cli"] for a in lines)
    regions = {a["region"] for a in lines}
    assert len(regions) > 1  # the demo works in several regions


@pytest.mark.slow  # bash scripts against a moto server
def test_dry_run_prints_every_step_and_changes_nothing(demo, tmp_path):
    _, hints = demo
    cli = MotoCli(tmp_path, workflow_starting_with(hints, "CreateBucket")["account"])
    try:
        path = _script(hints, tmp_path, "CreateBucket")
        done = run_checked([str(path), "dry-run-bucket", "payments"], {**cli.env, "DRY_RUN": "1"})
        assert [line.split(":")[0] for line in done.stderr.splitlines() if line.startswith("step ")] == ["step 1", "step 2", "step 3"]
        assert cli.client("s3").list_buckets()["Buckets"] == []
    finally:
        cli.stop()


@pytest.mark.slow  # bash scripts against a moto server
def test_script_stops_before_any_change_in_another_account(demo, tmp_path):
    _, hints = demo
    cli = MotoCli(tmp_path, "999988887777")
    try:
        path = _script(hints, tmp_path, "CreateBucket")
        done = run_checked([str(path), "other-account-bucket", "payments"], cli.env, expect=3)
        assert "999988887777" in done.stderr and workflow_starting_with(hints, "CreateBucket")["account"] in done.stderr
        assert cli.client("s3").list_buckets()["Buckets"] == []
        run_checked([str(path), "--any-account", "other-account-bucket", "payments"], cli.env)  # the explicit override proceeds
        assert [b["Name"] for b in cli.client("s3").list_buckets()["Buckets"]] == ["other-account-bucket"]
    finally:
        cli.stop()


@pytest.mark.slow  # bash scripts against a moto server
def test_failing_step_stops_the_script_with_its_own_exit_code(demo, tmp_path):
    _, hints = demo
    cli = MotoCli(tmp_path, workflow_starting_with(hints, "CreateUser")["account"])
    try:
        path = _script(hints, tmp_path, "CreateUser")  # step 2 adds to "developers", which does not exist here
        done = run_checked([str(path), "lonely.user"], {**cli.env, "PASSWORD": "Initial-Passw0rd!"}, expect=12)
        assert "step 2 failed" in done.stderr
        assert [u["UserName"] for u in cli.client("iam").list_users()["Users"]] == ["lonely.user"]
    finally:
        cli.stop()


def test_secret_missing_from_the_environment_stops_before_anything_runs(demo, tmp_path):
    _, hints = demo
    path = _script(hints, tmp_path, "CreateUser")
    done = subprocess.run([str(path), "new.hire"], env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "PASSWORD" in done.stderr and "step 1" not in done.stderr


def test_region_is_the_logged_one_unless_overridden(demo, tmp_path):
    _, hints = demo
    workflow = workflow_starting_with(hints, "CreateSnapshot")
    logged = workflow["steps"][0]["region"]
    path = _script(hints, tmp_path, "CreateSnapshot")
    env = {"PATH": "/usr/bin:/bin", "DRY_RUN": "1"}
    default = run_checked([str(path), "vol-1", "before"], env).stderr
    assert f"--region {logged}" in default
    assert "--region ap-south-1" in run_checked([str(path), "--region", "ap-south-1", "vol-1", "before"], env).stderr
    assert "--region ap-south-1" in run_checked([str(path), "vol-1", "before"], {**env, "AWS_REGION": "ap-south-1"}).stderr


def test_script_into_an_existing_folder_keeps_its_mode(demo, tmp_path):
    _, hints = demo
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    written = write_scripts(hints, folder).written
    assert written and stat.S_IMODE(folder.stat().st_mode) == 0o755
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o700 for p in written)
    created = tmp_path / "new" / "scripts"
    write_scripts(hints, created)
    assert stat.S_IMODE(created.stat().st_mode) == 0o700


def test_a_symlink_at_a_scripts_path_is_replaced_never_followed(demo, tmp_path):
    _, hints = demo
    folder = tmp_path / "s"
    folder.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    victim.chmod(0o644)
    (folder / f"01-{hints.workflows[0]['name']}.sh").symlink_to(victim)
    [first, *_] = write_scripts(hints, folder).written
    assert not first.is_symlink() and first.read_text().startswith("#!/usr/bin/env bash")
    assert victim.read_text() == "keep me" and stat.S_IMODE(victim.stat().st_mode) == 0o644


def test_stale_scripts_of_an_earlier_run_are_removed_and_other_files_kept(demo, tmp_path):
    _, hints = demo
    folder = tmp_path / "s"
    first = write_scripts(hints, folder, top=0)
    assert len(first.written) == len(hints.workflows) > 2
    (folder / "99-mine.sh").write_text("#!/bin/sh\necho my own script\n")
    (folder / "notes.txt").write_text("mine")
    second = write_scripts(hints, folder, top=2)
    stale = [p.name.removesuffix(".sh") for p in first.written[2:]]
    assert sorted(p.name for p in second.removed) == sorted([*(f"{n}.policy.json" for n in stale), *(f"{n}.sh" for n in stale)])
    kept = [p.name.removesuffix(".sh") for p in second.written]
    assert sorted(p.name for p in folder.iterdir()) == sorted([*(f"{n}.sh" for n in kept), *(f"{n}.policy.json" for n in kept), "99-mine.sh", "notes.txt"])


def _twelve_step_sessions(folder) -> None:
    events = []
    for day in range(2):
        start = datetime(2025, 3, 3 + day, 9, tzinfo=timezone.utc)
        for n, action in enumerate(TWELVE_ACTIONS):
            events.append({
                "eventVersion": "1.10", "eventTime": (start + timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "eventSource": "ec2.amazonaws.com", "eventName": action, "awsRegion": "eu-central-1",
                "userIdentity": {"type": "IAMUser", "accountId": "111122223333", "arn": "arn:aws:iam::111122223333:user/zoe", "userName": "zoe",
                                 "principalId": "AIDAZOE", "sessionContext": {"attributes": {"creationDate": start.strftime("%Y-%m-%dT%H:%M:%SZ")}}},
                "userAgent": "Mozilla/5.0", "sourceIPAddress": "198.51.100.1", "requestParameters": {"dryRun": False},
                "responseElements": None, "eventID": f"twelve-{day}-{n}", "readOnly": False, "eventType": "AwsApiCall",
                "recipientAccountId": "111122223333",
            })
    folder.mkdir()
    (folder / "twelve.json").write_text(json.dumps({"Records": events}))


def test_a_twelve_step_workflow_gets_a_bounded_name_and_a_script(tmp_path):
    _twelve_step_sessions(tmp_path / "trail")
    hints = hints_from_sources([str(tmp_path / "trail")], top=0)
    [workflow] = hints.workflows
    assert len(workflow["steps"]) == 12 and len(workflow["name"]) <= MAX_NAME
    [path] = write_scripts(hints, tmp_path / "s").written
    assert len(path.name) <= MAX_NAME + 7
    assert subprocess.run(["shellcheck", str(path)], capture_output=True).returncode == 0
    unlogged = {e["env"]: "x" for e in workflow["secrets"]}
    assert "KEY_NAME" in unlogged  # CreateKeyPair's required KeyName was not logged: it comes from the environment
    done = run_checked([str(path)], {"PATH": "/usr/bin:/bin", "DRY_RUN": "1", **unlogged})
    assert done.stderr.count("\nstep ") + done.stderr.startswith("step ") == 12


def _user_with_policy(cli: MotoCli, name: str, policy: dict) -> dict[str, str]:
    iam = cli.client("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="ctstack-generated", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


def _without(policy: dict, action: str) -> dict:
    return {**policy, "Statement": [s for s in policy["Statement"] if s["Action"] != action]}


WORKFLOW_RUNS = {
    # first action: (arguments by name, what to create first as the admin, the step whose action is then removed)
    "CreateSecurityGroup": ({"group_name": "web-{n}", "description": "HTTPS in", "vpc_id": "{vpc}", "tags_value": "payments"}, 3),
    "CreateUser": ({"user_name": "hire-{n}"}, 2),
    # Step 3: moto does not check PutPublicAccessBlock (step 2) against any IAM action.
    "CreateBucket": ({"bucket": "acme-least-{n}", "tag_set_value": "payments"}, 3),
    "CreateSnapshot": ({"volume_id": "{volume}", "description": "before release"}, 2),
}


@pytest.mark.slow  # bash scripts against a moto server
def test_demo_scripts_run_with_only_their_policy_and_a_missing_action_is_denied(demo, tmp_path):
    """moto's IAM enforcement on (every request signed by the user's key and checked against
    its policies): each script runs as a user holding only its generated policy; with the
    action of one step removed, that step fails with AccessDenied and the script exits 10+N."""
    _, hints = demo
    account = hints.workflows[0]["account"]
    cli = MotoCli(tmp_path, account)
    try:
        cli.client("iam").create_group(GroupName="developers")
        ec2 = cli.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.3.0.0/16")["Vpc"]["VpcId"]
        volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=8)["VolumeId"]
        users = {}
        for first, (_, step) in WORKFLOW_RUNS.items():
            workflow = workflow_starting_with(hints, first)
            assert workflow["account"] == account
            action = workflow["policy"]["Statement"][0]["Action"]
            removed = next(s["Action"] for s in workflow["policy"]["Statement"] if s["Action"].split(":")[1] == workflow["steps"][step - 1]["operation"])
            users[first] = (_user_with_policy(cli, f"least-{len(users)}", workflow["policy"]),
                            _user_with_policy(cli, f"short-{len(users)}", _without(workflow["policy"], removed)), removed, action)
        cli.server.set_iam_auth(True)
        base = {k: v for k, v in cli.env.items() if not k.startswith("AWS_") or k in ("AWS_DEFAULT_REGION", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")}
        for n, (first, (arguments, step)) in enumerate(WORKFLOW_RUNS.items()):
            workflow = workflow_starting_with(hints, first)
            path = _script(hints, tmp_path / first, first)
            allowed, short, removed, _ = users[first]
            for attempt, keys in (("ok", allowed), ("short", short)):
                values = [arguments[a["name"]].format(n=f"{n}-{attempt}", vpc=vpc, volume=volume) for a in workflow["varying"]]
                env = {**base, **keys, "PASSWORD": "Initial-Passw0rd!", "AWS_REGION": "us-east-1"}
                if attempt == "ok":
                    run_checked([str(path), *values], env)
                else:
                    done = run_checked([str(path), *values], env, expect=10 + step)
                    assert "AccessDenied" in done.stderr or "UnauthorizedOperation" in done.stderr, (first, removed, done.stderr)
    finally:
        cli.stop()


def _timed_sessions(folder, steps: list[tuple[str, int]], days: list[int], regions: tuple[str, ...] = ("eu-central-1",)) -> None:
    """One console session per day of `days` (offsets from 2025-01-01): each (action, second of
    the session), step n in regions[n % len(regions)]."""
    events = []
    for day in days:
        start = datetime(2025, 1, 1, 9, tzinfo=timezone.utc) + timedelta(days=day)
        for n, (action, second) in enumerate(steps):
            events.append({
                "eventVersion": "1.10", "eventTime": (start + timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "eventSource": "ec2.amazonaws.com", "eventName": action, "awsRegion": regions[n % len(regions)],
                "userIdentity": {"type": "IAMUser", "accountId": "111122223333", "arn": "arn:aws:iam::111122223333:user/zoe", "userName": "zoe",
                                 "principalId": "AIDAZOE", "sessionContext": {"attributes": {"creationDate": start.strftime("%Y-%m-%dT%H:%M:%SZ")}}},
                "userAgent": "Mozilla/5.0", "sourceIPAddress": "198.51.100.1", "requestParameters": {"volumeId": "vol-1"},
                "responseElements": None, "eventID": f"timed-{day}-{n}", "readOnly": False, "eventType": "AwsApiCall",
                "recipientAccountId": "111122223333",
            })
    folder.mkdir()
    (folder / "timed.json").write_text(json.dumps({"Records": events}))


def test_console_time_per_month_follows_the_documented_rule(tmp_path):
    """First change of a session: 60 s; then the gap since the previous change, at most 600 s;
    an action's mean x its count, over the months from its first to its last day."""
    _timed_sessions(tmp_path / "trail", [("CreateVolume", 0), ("CreateSnapshot", 120), ("EnableVolumeIO", 120 + 28 * 60)], days=[0, 60])
    hints = hints_from_sources([str(tmp_path / "trail")], top=0)
    months = (60 * 86400 + 28 * 60 + 120) / 86400 / 30.44
    minutes = {c.action: c.console_minutes_per_month for c in hints.candidates}
    assert minutes == {"CreateVolume": round(2 * 1 / months, 1), "CreateSnapshot": round(2 * 2 / months, 1), "EnableVolumeIO": round(2 * 10 / months, 1)}
    [workflow] = hints.workflows
    assert workflow["console_minutes_per_month"] == round(2 * 13 / months, 1)


def test_rank_time_puts_the_most_console_minutes_first(tmp_path):
    from typer.testing import CliRunner

    from provision.cli.commands import app

    _timed_sessions(tmp_path / "trail", [("CreateVolume", 0), ("CreateSnapshot", 120), ("EnableVolumeIO", 120 + 28 * 60)], days=[0, 60])
    by_count = json.loads(CliRunner().invoke(app, ["hints", str(tmp_path / "trail"), "--format", "json"]).output)
    by_time = json.loads(CliRunner().invoke(app, ["hints", str(tmp_path / "trail"), "--format", "json", "--rank", "time", "--top", "2"]).output)
    assert [c["action"] for c in by_count["candidates"]] == ["CreateSnapshot", "CreateVolume", "EnableVolumeIO"]  # ties: by name
    assert [c["action"] for c in by_time["candidates"]] == ["EnableVolumeIO", "CreateSnapshot"]
    table = CliRunner().invoke(app, ["hints", str(tmp_path / "trail"), "--rank", "time"], env={"COLUMNS": "200"}).output
    assert "min/month" in table
    refused = CliRunner().invoke(app, ["hints", str(tmp_path / "trail"), "--rank", "speed"])
    assert refused.exit_code == 2 and "'count', 'time'" in refused.output


def test_a_multi_region_workflow_keeps_each_steps_region(tmp_path):
    _timed_sessions(tmp_path / "trail", [("CreateSnapshot", 0), ("CreateSnapshot", 60)], days=[0, 7], regions=("eu-west-1", "us-west-2"))
    hints = hints_from_sources([str(tmp_path / "trail")], top=0)
    [workflow] = hints.workflows
    assert [s["region"] for s in workflow["steps"]] == ["eu-west-1", "us-west-2"]
    [path] = write_scripts(hints, tmp_path / "s").written
    env = {"PATH": "/usr/bin:/bin", "DRY_RUN": "1", "AWS_REGION": "ap-south-1"}  # AWS_REGION does not flatten the regions
    steps = [line for line in run_checked([str(path)], env).stderr.splitlines() if line.startswith("step ")]
    assert ["--region eu-west-1" in steps[0], "--region us-west-2" in steps[1]] == [True, True]
    steps = [line for line in run_checked([str(path), "--region", "ap-south-1"], env).stderr.splitlines() if line.startswith("step ")]
    assert all("--region ap-south-1" in line for line in steps) and len(steps) == 2
