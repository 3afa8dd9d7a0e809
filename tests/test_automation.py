"""Automation and workflows on the demo set and the public sample data.

The real-execution tests run the AWS CLI (installed from PyPI with the test extras) against
moto's server on 127.0.0.1 over HTTP: every `aws` the generated commands and scripts call goes
through a wrapper on PATH that adds `--endpoint-url` for that server.
"""

from __future__ import annotations

import json
import stat
import subprocess
from datetime import datetime, timezone

import pytest
from typer.testing import CliRunner

from provision.cloudtrail.decode import read_files
from provision.report.automation_output import write_scripts
from provision.cli.commands import app
from provision.cloudtrail.clickcode import api_input
from provision.demo.console_work import write_console_work
from provision.analysis.hints import hints_from_sources
from provision.sources.local import source_files
from tests.support.automation import MotoCli, run_checked, workflow_starting_with

# Events of the public sample data missing a required member CloudTrail does not log: the
# user gives it in an environment variable.
SAMPLE_UNLOGGED = {
    ("bedrock.amazonaws.com", "CreateFoundationModelAgreement"): ["OFFER_TOKEN"],  # CloudTrail does not log the offerToken
    ("ec2.amazonaws.com", "DeleteFlowLogs"): ["FLOW_LOG_IDS"],  # logged in an internal {content, tag} form
}


def test_every_demo_candidate_validates_with_botocore(demo):
    _, hints = demo
    checked = 0
    for c in hints.candidates:
        if c.automation is None:
            assert c.automation_note and "console only" in c.automation_note, c.action
            continue
        checked += 1
        assert c.automation["valid"], (c.action, c.automation["message"])
        assert c.automation["unmapped"] == [], (c.action, c.automation["unmapped"])
    assert checked >= 15


def test_every_sample_event_with_parameters_validates_with_unlogged_members_from_the_environment(sample_data):
    """All events of tests/data/cloudtrail (none of them is a console candidate, so all are used)."""
    unlogged, valid = {}, 0
    for read in read_files(source_files([str(sample_data)])):
        for event in read.events or ():
            if not isinstance(event, dict) or not event.get("requestParameters"):
                continue
            result = api_input(event.get("eventSource"), event.get("eventName"), event["requestParameters"])
            if result.service is None:
                continue
            assert result.valid, (event["eventSource"], event["eventName"], result.message)
            valid += 1
            missing = [p["env"] for p in result.placeholders if p["reason"] == "required, not logged by CloudTrail"]
            if missing:
                unlogged[(event["eventSource"], event["eventName"])] = missing
    assert valid >= 300
    assert unlogged == SAMPLE_UNLOGGED


def test_demo_candidates_span_the_dashboard_days(demo):
    _, hints = demo
    by_action = {c.action: c for c in hints.candidates}
    assert by_action["CreateSnapshot"].days_active >= 60
    assert by_action["CreateUser"].days_active >= 5
    assert len(hints.activity) >= 60  # console activity on most of the 90 days' working days, not one morning


def test_demo_workflows_links_and_arguments(demo):
    _, hints = demo
    sg = workflow_starting_with(hints, "CreateSecurityGroup")
    assert [s["action"] for s in sg["steps"]] == ["CreateSecurityGroup", "AuthorizeSecurityGroupIngress", "CreateTags"]
    assert {(l["from_step"], l["output"], l["to_step"], l["parameter"]) for l in sg["links"]} == {
        (1, "GroupId", 2, "GroupId"), (1, "GroupId", 3, "Resources[0]")}
    assert sg["occurrences"] >= 12 and sg["days"] >= 12
    snapshot = workflow_starting_with(hints, "CreateSnapshot")
    assert snapshot["links"] == [{"from_step": 1, "output": "SnapshotId", "to_step": 2, "parameter": "Resources[0]"}]
    developer = workflow_starting_with(hints, "CreateUser")
    assert [a["name"] for a in developer["varying"]] == ["user_name"]  # one name for all three steps
    assert developer["secrets"] == [{"env": "PASSWORD", "uses": ["3:Password"], "reason": "redacted by CloudTrail"}]
    costs = [w["cost"] for w in hints.workflows]
    assert costs == sorted(costs, reverse=True)


def test_look_alikes_are_not_candidates(tmp_path):
    """CLI automation, CloudFormation acting for a console user, anonymous principals and
    AwsConsoleAction events do the same actions, but are not hand work in the console.
    The rules are the console classification (provision/cloudtrail/classify.py, the `classify` branch)."""
    end = datetime(2025, 3, 3, 6, tzinfo=timezone.utc)
    work = write_console_work(tmp_path, end=end)
    hints = hints_from_sources([str(tmp_path)], top=0)
    counted = {c.action: c.count for c in hints.candidates}
    assert counted == work.console_changes
    assert work.look_alikes["aws-cli"] > 0 and work.look_alikes["cloudformation"] > 0


def test_hints_script_dir_writes_private_executable_scripts(demo, tmp_path):
    root, _ = demo
    out = tmp_path / "scripts"
    result = CliRunner().invoke(app, ["hints", str(root), "--workflows", "--script", str(out)])
    assert result.exit_code == 0, result.output
    assert "Console workflows repeated by hand" in result.output
    scripts = sorted(out.glob("*.sh"))
    assert scripts and stat.S_IMODE(out.stat().st_mode) == 0o700
    for path in out.glob("*.policy.json"):  # beside each script: the IAM policy it needs
        assert stat.S_IMODE(path.stat().st_mode) == 0o600 and json.loads(path.read_text())["Version"] == "2012-10-17"
    assert sorted(p.name.removesuffix(".policy.json") for p in out.glob("*.policy.json")) == sorted(p.name.removesuffix(".sh") for p in scripts)
    for path in scripts:
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
        text = path.read_text()
        assert text.startswith("#!/usr/bin/env bash\n# Written by ctstack hints at ")
        assert "set -euo pipefail" in text
        assert subprocess.run(["bash", "-n", str(path)]).returncode == 0
    as_json = json.loads(CliRunner().invoke(app, ["hints", str(root), "--format", "json"]).output)
    assert as_json["workflows"] and as_json["candidates"][0]["automation"]["cli"].startswith("aws ")
    assert all(w["policy"]["Statement"] for w in as_json["workflows"])
    assert all(c["automation"]["policy"]["Statement"] for c in as_json["candidates"] if c["automation"])


def test_report_shows_commands_and_workflows(demo):
    from html import escape

    from provision.report.html import render_report

    _, hints = demo
    html = render_report(hints)
    snapshot = next(c for c in hints.candidates if c.action == "CreateSnapshot")
    assert 'id="automation"' in html and escape(snapshot.automation["cli"]) in html
    assert 'id="workflows"' in html and "CreateSnapshot -&gt; CreateTags" in html
    assert escape("1.SnapshotId -> 2.Resources[0]") in html
    assert html.count('class="policy"') == len([c for c in hints.candidates if c.automation]) + len(hints.workflows)
    assert escape('"s3:PutBucketPublicAccessBlock"') in html


# -- real execution against moto's server ------------------------------------------------------


@pytest.fixture
def moto_cli(demo, tmp_path):
    """(MotoCli in the demo's account, its environment)."""
    cli = MotoCli(tmp_path, demo[1].workflows[0]["account"])
    try:
        yield cli, cli.env
    finally:
        cli.stop()


def test_security_group_script_runs_and_creates_what_it_says(demo, moto_cli, tmp_path):
    _, hints = demo
    server, env = moto_cli
    ec2 = server.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    [path] = [p for p in write_scripts(hints, tmp_path / "s", top=0).written if "create-security-group" in p.name]
    names = [a["name"] for a in workflow_starting_with(hints, "CreateSecurityGroup")["varying"]]
    values = {"group_name": "web-payments", "description": "HTTPS in for payments", "vpc_id": vpc, "tags_value": "payments"}
    run_checked([str(path), *(values[n] for n in names)], env)
    [group] = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["web-payments"]}])["SecurityGroups"]
    assert group["VpcId"] == vpc
    assert any(p["FromPort"] == 443 and p["ToPort"] == 443 and {"CidrIp": "0.0.0.0/0", "Description": "HTTPS from anywhere"} in p["IpRanges"]
               for p in group["IpPermissions"])
    assert {"Key": "service", "Value": "payments"} in group["Tags"]


def test_developer_script_runs_and_the_user_is_in_the_group(demo, moto_cli, tmp_path):
    _, hints = demo
    server, env = moto_cli
    iam = server.client("iam")
    iam.create_group(GroupName="developers")
    [path] = [p for p in write_scripts(hints, tmp_path / "s", top=0).written if p.name.endswith("create-user-then-add-user-to-group-then-create-login-profile.sh")]
    run_checked([str(path), "new.hire"], {**env, "PASSWORD": "Initial-Passw0rd!"})
    assert [u["UserName"] for u in iam.get_group(GroupName="developers")["Users"]] == ["new.hire"]
    assert iam.get_login_profile(UserName="new.hire")["LoginProfile"]["UserName"] == "new.hire"  # moto keeps no reset flag


def test_bucket_script_runs_and_the_bucket_is_tagged_and_private(demo, moto_cli, tmp_path):
    _, hints = demo
    server, env = moto_cli
    [path] = [p for p in write_scripts(hints, tmp_path / "s", top=0).written if "create-bucket" in p.name]
    names = [a["name"] for a in workflow_starting_with(hints, "CreateBucket")["varying"]]
    values = {"bucket": "acme-payments-1a2b3c", "tag_set_value": "payments"}
    run_checked([str(path), *(values[n] for n in names)], env)
    s3 = server.client("s3")
    assert s3.get_bucket_tagging(Bucket="acme-payments-1a2b3c")["TagSet"] == [{"Key": "team", "Value": "payments"}]
    assert s3.get_public_access_block(Bucket="acme-payments-1a2b3c")["PublicAccessBlockConfiguration"]["BlockPublicAcls"] is True


def test_candidate_cli_commands_run(demo, moto_cli):
    """The `cli` lines themselves, as printed, for EC2, IAM and S3 candidates that create things."""
    _, hints = demo
    server, env = moto_cli
    server.client("iam").create_group(GroupName="developers")
    vpc = server.client("ec2").create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]
    by_action = {c.action: c.automation for c in hints.candidates if c.automation}
    order = ["CreateUser", "AddUserToGroup", "CreateBucket", "PutBucketTagging", "PutPublicAccessBlock", "CreateSecurityGroup"]
    for action in order:
        line = by_action[action]["cli"]
        if action == "CreateSecurityGroup":  # the demo's VPC does not exist in moto: use one that does
            line = line.replace(by_action[action]["parameters"]["VpcId"], vpc)
        run_checked(line, env)
    user = by_action["CreateUser"]["parameters"]["UserName"]
    assert user in [u["UserName"] for u in server.client("iam").get_group(GroupName="developers")["Users"]]
    bucket = by_action["CreateBucket"]["parameters"]["Bucket"]
    assert server.client("s3").get_bucket_tagging(Bucket=bucket)["TagSet"] == by_action["PutBucketTagging"]["parameters"]["Tagging"]["TagSet"]
