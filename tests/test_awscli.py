"""The AWS CLI equivalent of a CloudTrail event, derived from botocore's service models."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from provision.cloudtrail.awscli import cli_command, services


@pytest.mark.parametrize(
    ("event_source", "event_name", "command"),
    [
        # The plain case: the eventSource prefix is the CLI's service name.
        ("ec2.amazonaws.com", "RunInstances", "aws ec2 run-instances"),
        ("iam.amazonaws.com", "CreateUser", "aws iam create-user"),
        ("sts.amazonaws.com", "AssumeRole", "aws sts assume-role"),
        # CloudWatch logs as monitoring.amazonaws.com (its endpoint prefix).
        ("monitoring.amazonaws.com", "PutMetricAlarm", "aws cloudwatch put-metric-alarm"),
        # The AWS CLI keeps `aws s3` for its high-level commands; the API is `aws s3api`.
        ("s3.amazonaws.com", "PutBucketPolicy", "aws s3api put-bucket-policy"),
        # S3 Control operations log as s3.amazonaws.com too (s3control signs as "s3").
        ("s3.amazonaws.com", "CreateAccessPoint", "aws s3control create-access-point"),
        # Classic and v2 load balancers share elasticloadbalancing: the one with the operation wins.
        ("elasticloadbalancing.amazonaws.com", "CreateTargetGroup", "aws elbv2 create-target-group"),
        ("elasticloadbalancing.amazonaws.com", "CreateLoadBalancerListeners", "aws elb create-load-balancer-listeners"),
        # bedrock-runtime's operations log under its signing name, bedrock.amazonaws.com.
        ("bedrock.amazonaws.com", "InvokeModel", "aws bedrock-runtime invoke-model"),
        # Commands the AWS CLI renames.
        ("config.amazonaws.com", "PutConfigRule", "aws configservice put-config-rule"),
        ("codedeploy.amazonaws.com", "CreateDeployment", "aws deploy create-deployment"),
        # Versioned event names (Lambda, CloudFront) map to the unversioned operation.
        ("lambda.amazonaws.com", "UpdateFunctionCode20150331v2", "aws lambda update-function-code"),
        ("cloudfront.amazonaws.com", "CreateDistribution2020_05_31", "aws cloudfront create-distribution"),
        # Acronyms are kebab-cased the way the AWS CLI does it.
        ("rds.amazonaws.com", "CreateDBInstance", "aws rds create-db-instance"),
    ],
)
def test_event_maps_to_the_aws_cli_command(event_source: str, event_name: str, command: str) -> None:
    assert cli_command(event_source, event_name) == command


@pytest.mark.parametrize(
    ("event_source", "event_name"),
    [
        ("signin.amazonaws.com", "ConsoleLogin"),
        ("signin.amazonaws.com", "SwitchRole"),
        ("sts.amazonaws.com", "GetSigninToken"),
        ("ec2.amazonaws.com", "NoSuchOperation"),
        ("nosuchservice.amazonaws.com", "RunInstances"),
        ("", "RunInstances"),
        ("ec2.amazonaws.com", None),
    ],
)
def test_console_only_actions_have_no_cli_command(event_source: str, event_name: str | None) -> None:
    assert cli_command(event_source, event_name) is None


def test_every_service_botocore_ships_is_indexed_with_its_endpoint_prefix() -> None:
    by_name = {s.name: s for s in services()}
    assert len(by_name) > 300
    assert by_name["cloudwatch"].endpoint_prefix == "monitoring"
    assert by_name["bedrock-runtime"].signing_name == "bedrock"
    assert all(s.endpoint_prefix and s.api_version for s in by_name.values())


def _without_text_documentation(value):
    if isinstance(value, dict):
        return {k: _without_text_documentation(v) for k, v in value.items() if not (k == "documentation" and isinstance(v, str))}
    if isinstance(value, list):
        return [_without_text_documentation(v) for v in value]
    return value


def test_service_models_are_botocores_own_without_their_documentation_text() -> None:
    """Every process that converts files loads the models its events name: EC2's costs half
    the memory without the documentation, which nothing here reads."""
    from botocore.loaders import Loader

    from provision.cloudtrail import awscli

    ours = awscli._loader().load_service_model("ec2", "service-2")
    botocores = Loader().load_service_model("ec2", "service-2")
    assert "documentation" in str(botocores["shapes"]["RunInstancesRequest"])
    assert ours == _without_text_documentation(botocores)
    assert "documentation" not in str(ours)


def test_a_model_member_named_documentation_is_kept(tmp_path) -> None:
    from provision.cloudtrail import awscli

    (tmp_path / "service-2.json").write_text(json.dumps({"shapes": {"Api": {
        "type": "structure", "documentation": "<p>text</p>",
        "members": {"documentation": {"shape": "String", "documentation": "<p>a member</p>"}}}}}))
    file_loader = awscli._loader().file_loader
    loaded = file_loader.load_file(str(tmp_path / "service-2"))
    assert loaded == {"shapes": {"Api": {"type": "structure", "members": {"documentation": {"shape": "String"}}}}}
    assert file_loader.load_file(str(tmp_path / "absent")) is None


def _loaded_by(imports: str, modules: tuple[str, ...]) -> list[str]:
    """Which of ``modules`` a fresh Python process holds after ``import <imports>``."""
    code = f"import json, sys, {imports}\nprint(json.dumps(sorted(m for m in {modules!r} if m in sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_converting_process_imports_neither_the_elasticsearch_client_nor_a_botocore_session() -> None:
    """What a spawned converting process imports is memory it holds for the whole import."""
    assert _loaded_by("provision.ingest.convert", ("elasticsearch", "botocore.session", "botocore.client", "typer")) == []


def test_the_cli_starts_an_import_without_loading_botocores_model_machinery() -> None:
    """botocore.model and botocore.loaders bring botocore's HTTP stack (~30 ms of every
    command's start, a third of a re-run that finds nothing to read); they load with the
    first service model a conversion needs."""
    assert _loaded_by("provision.cli.commands, provision.ingest.import_sources",
                      ("botocore.model", "botocore.loaders", "botocore.validate")) == []
