"""Drift: console changes to resources that CloudFormation, Terraform, Pulumi or other
automation manages, offline and from the real Elasticsearch node, on a trail with known answers
(tests/support/drift_trail.py); the resources an event touches; who made a change."""

from __future__ import annotations

import gzip
import json
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from typer.testing import CliRunner

from provision.cloudtrail import classify, resources
from provision.cli.commands import app
from provision.core.connection import EsConfig, client
from provision.cloudtrail.documents import to_document
from provision.sources.filters import Filters
from provision.demo.generate import write_sample
from provision.analysis.hints import hints_from_sources
from provision.analysis.hints_es import hints_from_es
from provision.cloudtrail import fields as F
from tests.support.drift_trail import CFN, EXPECTED, PULUMI_AGENT, SG_WEB, TERRAFORM_AGENT, drift_events
from tests.support.trail import BROWSER_AGENT, CLI_AGENT, role_event, write_trail
from tests.support.fresh_import import fresh_import

DRIFT_KEYS = ("drift", "drift_resources", "drift_changes", "drift_activity")


@pytest.fixture(scope="module")
def trail(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("drift")
    write_trail(folder, drift_events())
    return str(folder)


def _answer(drift: list[dict]) -> dict:
    return {d["resource"]: (d["managed_by"]["tool"], d["managed_by"]["stack"], d["console_changes"],
                            sorted(u["user"] for u in d["console_users"]), d["overwritten"], d["created"] and d["created"]["tool"])
            for d in drift}


def test_offline_drift_lists_exactly_the_console_edits_of_managed_resources(trail: str) -> None:
    """Console edits of CloudFormation-, Terraform- and Pulumi-managed resources (a deletion
    and a resource older than the trail included), with tool and stack; not the console's own
    group, console reads, CLI edits, a denied console change or session plumbing."""
    hints = hints_from_sources([trail])
    assert _answer(hints.drift) == EXPECTED
    assert hints.drift_resources == len(EXPECTED)
    assert hints.drift_changes == sum(e[2] for e in EXPECTED.values())
    assert sum(d["changes"] for d in hints.drift_activity) == hints.drift_changes
    web = next(d for d in hints.drift if d["resource"] == SG_WEB)
    assert web["created"]["action"] == "CreateSecurityGroup"
    assert [a["by"] for a in web["console_actions"]] == ["alice", "bob"]
    assert web["automation_before"]["action"] == "CreateSecurityGroup"
    assert web["automation_after"]["action"] == "RevokeSecurityGroupIngress"
    assert hints.drift[0]["resource"] == SG_WEB  # most console changes first


def test_ignored_action_is_not_drift(trail: str) -> None:
    hints = hints_from_sources([trail], Filters.from_text(ignore_actions=["ec2.amazonaws.com:AuthorizeSecurityGroupIngress"]))
    assert SG_WEB not in _answer(hints.drift)
    assert len(hints.drift) == len(EXPECTED) - 1


def test_console_recreation_makes_the_console_the_owner(tmp_path: Path) -> None:
    """A console change after the console re-created a name automation once created is not drift."""
    role = {"roleName": "batch"}
    events = [
        role_event("CreateRole", "iam.amazonaws.com", user="ci", agent=TERRAFORM_AGENT, time="2024-08-01T09:00:00Z", requestParameters=role),
        role_event("DeleteRole", "iam.amazonaws.com", user="alice", time="2024-08-02T09:00:00Z", requestParameters=role),
        role_event("CreateRole", "iam.amazonaws.com", user="alice", time="2024-08-02T09:05:00Z", requestParameters=role),
        role_event("PutRolePolicy", "iam.amazonaws.com", user="alice", time="2024-08-02T09:10:00Z", requestParameters={**role, "policyName": "p", "policyDocument": "{}"}),
    ]
    write_trail(tmp_path, events)
    drift = hints_from_sources([str(tmp_path)]).drift
    assert [(d["resource"], d["console_changes"], [a["action"] for a in d["console_actions"]]) for d in drift] == [
        ("arn:aws:iam::111122223333:role/batch", 1, ["DeleteRole"])]


def test_hints_json_has_a_drift_key_from_the_cli(trail: str) -> None:
    result = CliRunner().invoke(app, ["hints", trail, "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert _answer(data["drift"]) == EXPECTED


def test_terminal_shows_the_top_drifted_resources(trail: str) -> None:
    result = CliRunner().invoke(app, ["hints", trail], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "automation manages" in result.stdout
    assert SG_WEB in result.stdout and "web-prod" in result.stdout


@pytest.fixture(scope="module")
def imported(es_config: EsConfig, trail: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_import(es_config, [trail], tmp_path_factory.mktemp("dead") / "dead.ndjson") as (prefix, summary):
        assert summary.events_indexed == len(drift_events())
        yield prefix


@pytest.mark.es
@pytest.mark.parametrize("filters", [Filters(), Filters.from_text(ignore_actions=["s3.amazonaws.com:PutBucketPolicy"]),
                                     Filters.from_text(since="2024-08-04")], ids=["all", "ignored", "since"])
def test_drift_from_elasticsearch_equals_offline(es_config: EsConfig, imported: str, trail: str, filters: Filters) -> None:
    es = client(es_config)
    try:
        from_es = hints_from_es(es, filters, index_prefix=imported).to_json()
    finally:
        es.close()
    offline = hints_from_sources([trail], filters).to_json()
    assert {k: from_es[k] for k in DRIFT_KEYS} == {k: offline[k] for k in DRIFT_KEYS}
    if filters == Filters():
        assert _answer(from_es["drift"]) == EXPECTED


@pytest.mark.es
def test_everything_that_happened_to_a_group_is_one_search(es_config: EsConfig, imported: str) -> None:
    es = client(es_config)
    try:
        es.indices.refresh(index=f"{imported}-*")
        hits = es.search(index=f"{imported}-*", query={"term": {F.RESOURCES: SG_WEB}}, size=50)["hits"]["hits"]
    finally:
        es.close()
    # the CloudFormation creation and revocation, two console edits, the CLI edit (reads carry no resources)
    assert sorted(h["_source"]["event"]["action"] for h in hits) == [
        "AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupIngress",
        "CreateSecurityGroup", "RevokeSecurityGroupIngress"]


# --- who made a change


@pytest.mark.parametrize("agent,extra,expected", [
    (BROWSER_AGENT, {}, ("console", None)),
    (CFN, {"sourceIPAddress": CFN}, ("cloudformation", None)),
    (TERRAFORM_AGENT, {}, ("terraform", None)),
    (PULUMI_AGENT, {}, ("pulumi", None)),
    (CLI_AGENT, {}, ("automation", None)),
    ("Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux lang/python#3.12 Ansible/2.17.1 amazon.aws/8.1.0", {}, ("automation", None)),
    ("autoscaling.amazonaws.com", {"userIdentity": {"type": "AssumedRole", "invokedBy": "autoscaling.amazonaws.com"}}, ("aws-service", None)),
    ("", {}, ("unknown", None)),
    ("aws-cli/2.17.0 md/command#terraform.plan", {}, ("automation", None)),  # a token must match whole
], ids=["console", "cloudformation", "terraform", "pulumi", "cli", "ansible", "aws-service", "unknown", "lookalike"])
def test_actor_of_a_change(agent: str, extra: dict, expected: tuple) -> None:
    assert classify.actor(role_event("StopInstances", agent=agent, **extra)) == expected


def test_cloudformation_stack_name_from_tags() -> None:
    assert classify.actor(drift_events()[0]) == ("cloudformation", "web-prod")
    by_id = {"Tags": [{"Key": "aws:cloudformation:stack-id", "Value": "arn:aws:cloudformation:eu-west-1:111122223333:stack/net/0f1e"}]}
    assert classify.stack_name(by_id) == "net"
    assert classify.stack_name({"tags": {"aws:cloudformation:stack-name": "api"}}) == "api"
    assert classify.stack_name({"tags": [{"key": "team", "value": "aws:cloudformation:stack-name"}]}) is None


# --- the resources an event touches


def _sample_events(folder: Path) -> Iterator[dict]:
    for path in sorted(folder.rglob("*.json.gz")):
        if "Digest" not in str(path):
            yield from json.loads(gzip.decompress(path.read_bytes()))["Records"]


@pytest.fixture(scope="module")
def sample_events(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    folder = tmp_path_factory.mktemp("sample")
    write_sample(folder, events=3000)
    return list(_sample_events(folder))


def test_resources_agree_with_cloudtrails_own_resources(sample_events: list[dict]) -> None:
    """Where CloudTrail logs resources[], every ARN in it is among the touched resources, normalised."""
    checked = 0
    for record in sample_events:
        for item in record.get("resources") or ():
            assert resources.normalise_arn(item["ARN"]) in resources.touched(record).named, record["eventName"]
            checked += 1
    assert checked > 100


@pytest.mark.parametrize("source,name,expected_kind", [
    ("ec2.amazonaws.com", "RunInstances", "i-"), ("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", "sg-"),
    ("ec2.amazonaws.com", "CreateTags", "i-"), ("ec2.amazonaws.com", "StopInstances", "i-"),
    ("s3.amazonaws.com", "GetBucketPolicy", "arn:aws:s3:::"), ("iam.amazonaws.com", "PutRolePolicy", "arn:aws:iam::"),
    ("lambda.amazonaws.com", "UpdateFunctionCode20150331v2", "arn:aws:lambda:"), ("rds.amazonaws.com", "DescribeDBInstances", "arn:aws:rds:"),
    ("kms.amazonaws.com", "RotateKey", "arn:aws:kms:"),
])
def test_resources_of_the_sample_events(sample_events: list[dict], source: str, name: str, expected_kind: str) -> None:
    found = [r for r in sample_events if r["eventSource"] == source and r["eventName"] == name]
    assert found, f"no {name} in the sample"
    for record in found:
        touched = resources.touched(record)
        assert any(r.startswith(expected_kind) for r in touched.changed), (name, touched)


def test_run_instances_creates_the_instance_and_only_names_what_it_uses() -> None:
    record = role_event("RunInstances", requestParameters={"instancesSet": {"items": [{"imageId": "ami-0123456789abcdef0", "minCount": 1, "maxCount": 1}]},
                                                     "subnetId": "subnet-0123456789abcdef0"},
                   responseElements={"instancesSet": {"items": [{"instanceId": "i-0123456789abcdef1", "imageId": "ami-0123456789abcdef0",
                                                                 "vpcId": "vpc-0123456789abcdef0"}]}})
    touched = resources.touched(record)
    assert set(touched.named) == {"ami-0123456789abcdef0", "subnet-0123456789abcdef0", "i-0123456789abcdef1", "vpc-0123456789abcdef0"}
    assert touched.changed == touched.created == ("i-0123456789abcdef1",)


@pytest.mark.parametrize("arn,normalised", [
    ("arn:aws:ec2:eu-west-1:111122223333:security-group/sg-0a1b2c3d4e5f60718", "sg-0a1b2c3d4e5f60718"),
    ("arn:aws:iam::111122223333:role/service-role/app", "arn:aws:iam::111122223333:role/app"),
    ("arn:aws:s3:::bucket/key/in/it", "arn:aws:s3:::bucket"),
    ("arn:aws:lambda:eu-west-1:111122223333:function:fn:live", "arn:aws:lambda:eu-west-1:111122223333:function:fn"),
    ("arn:aws:kms:eu-west-1:111122223333:alias/data", "arn:aws:kms:eu-west-1:111122223333:alias/data"),  # never the key
    ("arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::aws:policy/ReadOnlyAccess"),
])
def test_an_arn_and_a_bare_id_meet(arn: str, normalised: str) -> None:
    assert resources.normalise_arn(arn) == normalised


def test_names_inside_json_documents_are_not_resources() -> None:
    record = role_event("PutRolePolicy", "iam.amazonaws.com", requestParameters={
        "roleName": "app", "policyName": "p", "policyDocument": json.dumps({"Statement": [{"Resource": "arn:aws:s3:::other-bucket"}]})})
    assert resources.touched(record).named == ("arn:aws:iam::111122223333:role/app",)


def test_hostile_request_parameters_name_nothing_and_fail_nothing() -> None:
    record = role_event("AuthorizeSecurityGroupIngress", requestParameters={"groupId": {"$(id)": ["x" * 10]}, "ipPermissions": "--help"})
    doc = to_document(record)
    assert doc[F.ACTOR] == "console"
    assert F.RESOURCES_CHANGED not in doc


def test_resources_are_stored_on_changes_only(sample_events: list[dict]) -> None:
    for record in sample_events[:500]:
        doc = to_document(record)
        if doc[F.READ_ONLY]:
            assert F.RESOURCES not in doc and F.ACTOR not in doc
        else:
            assert doc[F.ACTOR] in (*classify.MANAGING_ACTORS, "console", "aws-service", "unknown")
        assert F.RESOURCES not in to_document(record, profile="minimal")


def test_demo_shows_the_stack_and_workspace_drift_and_no_look_alike(tmp_path: Path) -> None:
    """The 90-day demo work: exactly the console edits of the CloudFormation stack's and the
    Terraform workspace's resources; the pipeline's CLI edit of the stack's bucket, console reads
    of managed resources and console edits of console-made groups are not drift."""
    from provision.demo.console_work import write_console_work
    from provision.demo.generate import DEFAULT_START

    work = write_console_work(tmp_path, end=DEFAULT_START)
    drift = hints_from_sources([str(tmp_path)], top=0).drift
    assert {d["resource"]: (d["managed_by"]["tool"], d["managed_by"]["stack"], d["console_changes"]) for d in drift} == work.drift
    assert work.look_alikes["automation-edit"] > 0
    assert {d["managed_by"]["tool"] for d in drift} == {"cloudformation", "terraform"}
    stack_group = next(d for d in drift if d["managed_by"]["tool"] == "cloudformation")
    assert stack_group["overwritten"] and stack_group["automation_after"]["action"] == "RevokeSecurityGroupIngress"


def test_report_has_a_drift_table_and_chart(trail: str) -> None:
    from provision.report.html import render_report

    html = render_report(hints_from_sources([trail]))
    section = html[html.index('<section id="drift">'):]
    section = section[:section.index("</section>")]
    assert 'id="drift-table"' in section and 'id="drift-chart"' in section
    assert section.count("<tr>") == len(EXPECTED) + 1  # and the header
    assert "cloudformation web-prod" in section and "overwritten 2024-08-06" in section


def _drift_by(folder: Path, user: str):
    """Hints on a trail where ``user`` changes a Terraform-made role in the console: one drift."""
    events = [role_event("CreateRole", "iam.amazonaws.com", user="ci", agent=TERRAFORM_AGENT, requestParameters={"roleName": "r"}),
              role_event("PutRolePolicy", "iam.amazonaws.com", user=user, time="2024-08-02T10:00:00Z",
                    requestParameters={"roleName": "r", "policyName": "p", "policyDocument": "{}"})]
    write_trail(folder, events)
    return hints_from_sources([str(folder)])


def test_report_escapes_values_in_the_drift_table(tmp_path: Path) -> None:
    from provision.report.html import render_report

    hostile = "<img src=x onerror=alert(1)>"
    html = render_report(_drift_by(tmp_path, hostile))
    assert hostile not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


@pytest.mark.es
def test_import_marks_the_drifting_console_changes_for_the_dashboard(es_config: EsConfig, trail: str) -> None:
    """After `import`, exactly the console changes to managed resources carry ctstack.drift
    (the dashboard's drift panels filter on it); a stale mark is cleared by the next run."""
    from provision.ingest.drift_marks import mark_drift
    from provision.ingest.import_sources import import_sources

    prefix = f"ctstack-test-{uuid.uuid4().hex[:10]}"
    es = client(es_config)
    try:
        summary = import_sources(es_config, [trail], index_prefix=prefix)
        expected = sum(e[2] for e in EXPECTED.values())
        assert summary.extra["drift_marked"] == expected

        def marked() -> list[str]:
            es.indices.refresh(index=f"{prefix}-*")
            hits = es.search(index=f"{prefix}-*", query={"term": {F.DRIFT: True}}, size=100)["hits"]["hits"]
            return sorted(f"{h['_source']['user']['name']} {h['_source']['event']['action']}" for h in hits)

        assert marked() == ["alice AttachRolePolicy", "alice AuthorizeSecurityGroupIngress", "alice UpdateFunctionConfiguration20150331v2",
                            "bob AuthorizeSecurityGroupIngress", "bob PutBucketPolicy", "carol DeleteSecurityGroup", "carol PutBucketPolicy"]
        again = import_sources(es_config, [trail], index_prefix=prefix, full=True)  # every event already present
        assert again.events_indexed == 0 and "drift_marked" not in again.extra
        assert len(marked()) == expected
        stale = es.search(index=f"{prefix}-*", query={"term": {F.EVENT_ACTION: "CreateSession"}}, size=1)["hits"]["hits"][0]
        es.update(index=stale["_index"], id=stale["_id"], doc={"ctstack": {"drift": True}}, refresh=True)
        assert mark_drift(es, prefix) == expected
        assert len(marked()) == expected
    finally:
        es.options(ignore_status=404).indices.delete(index=f"{prefix}*", expand_wildcards="all")
        es.close()


def test_markdown_has_the_drift_table_as_text(tmp_path: Path) -> None:
    from provision.report.hints_output import to_markdown

    hostile = "x|<b>y</b>\n| z"
    text = to_markdown(_drift_by(tmp_path, hostile))
    drift_lines = text[text.index("**Drift:**"):].splitlines()
    row = drift_lines[-1]
    assert row.startswith("| `arn:aws:iam::111122223333:role/r` | terraform | 1 |")
    assert row.count(" | ") == 6 and "<b>" not in row  # the user name stays inside its cell, as text
