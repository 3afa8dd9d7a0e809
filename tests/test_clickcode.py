"""requestParameters -> API input: one test per wire-shape rule, with events as CloudTrail logs them."""

from __future__ import annotations

import json
import shlex

from provision.cloudtrail.boto3call import boto3_call
from provision.cloudtrail.clickcode import api_input, api_output
from provision.cloudtrail.commandline import cli_line


def test_lower_camel_member_names_map_case_insensitively():
    r = api_input("rds.amazonaws.com", "CreateDBSnapshot", {"dBInstanceIdentifier": "orders-db", "dBSnapshotIdentifier": "orders-db-2025-03-06"})
    assert (r.service, r.operation) == ("rds", "CreateDBSnapshot")
    assert r.parameters == {"DBInstanceIdentifier": "orders-db", "DBSnapshotIdentifier": "orders-db-2025-03-06"}
    assert r.valid and r.unmapped == []


def test_iam_saml_and_rds_ec2_security_group_names():
    saml = "<EntityDescriptor>" + "x" * 1000 + "</EntityDescriptor>"
    r = api_input("iam.amazonaws.com", "CreateSAMLProvider", {"sAMLMetadataDocument": saml, "name": "okta"})
    assert r.parameters == {"SAMLMetadataDocument": saml, "Name": "okta"} and r.valid
    r = api_input("rds.amazonaws.com", "AuthorizeDBSecurityGroupIngress", {"dBSecurityGroupName": "legacy", "eC2SecurityGroupName": "web"})
    assert r.parameters == {"DBSecurityGroupName": "legacy", "EC2SecurityGroupName": "web"} and r.valid


def test_ec2_items_sets_unwrap_to_lists():
    r = api_input("ec2.amazonaws.com", "StopInstances", {"instancesSet": {"items": [{"instanceId": "i-0a1b2c3d4e5f60718"}, {"instanceId": "i-0f9e8d7c6b5a40312"}]}, "force": False})
    assert r.parameters == {"InstanceIds": ["i-0a1b2c3d4e5f60718", "i-0f9e8d7c6b5a40312"], "Force": False} and r.valid
    r = api_input("ec2.amazonaws.com", "CreateTags", {"resourcesSet": {"items": [{"resourceId": "sg-0123456789abcdef0"}]},
                                                      "tagSet": {"items": [{"key": "team", "value": "web"}]}})
    assert r.parameters == {"Resources": ["sg-0123456789abcdef0"], "Tags": [{"Key": "team", "Value": "web"}]} and r.valid


def test_ec2_nested_ip_permissions():
    logged = {"groupId": "sg-0123456789abcdef0", "ipPermissions": {"items": [{
        "ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "groups": {},
        "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0", "description": "HTTPS from anywhere"}]},
        "ipv6Ranges": {}, "prefixListIds": {}}]}}
    r = api_input("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", logged)
    permission = r.parameters["IpPermissions"][0]
    assert permission["IpRanges"] == [{"CidrIp": "0.0.0.0/0", "Description": "HTTPS from anywhere"}]
    assert (permission["IpProtocol"], permission["FromPort"], permission["ToPort"]) == ("tcp", 443, 443)
    assert r.valid and r.unmapped == []


def test_ec2_filter_sets_and_value_sets():
    r = api_input("ec2.amazonaws.com", "DescribeInstances", {"filterSet": {"items": [{"name": "tag:Name", "valueSet": {"items": [{"value": "web"}]}}]}, "instancesSet": {}})
    assert r.parameters == {"Filters": [{"Name": "tag:Name", "Values": ["web"]}]} and r.valid and r.unmapped == []


def test_ec2_single_item_set_is_hoisted_when_the_api_is_flat():
    logged = {"instancesSet": {"items": [{"imageId": "ami-0abcdef1234567890", "minCount": 1, "maxCount": 1}]},
              "instanceType": "t3.micro", "groupSet": {"items": [{"groupId": "sg-0123456789abcdef0"}]}}
    r = api_input("ec2.amazonaws.com", "RunInstances", logged)
    assert r.parameters == {"ImageId": "ami-0abcdef1234567890", "MinCount": 1, "MaxCount": 1, "InstanceType": "t3.micro",
                            "SecurityGroupIds": ["sg-0123456789abcdef0"]}
    assert r.valid and r.unmapped == []


def test_s3_bucket_name_host_noise_sub_resource_markers_and_policy_object():
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::logs/*",
                                                       "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}
    r = api_input("s3.amazonaws.com", "PutBucketPolicy", {"bucketName": "logs", "Host": "logs.s3.amazonaws.com", "policy": "", "bucketPolicy": policy})
    assert r.service == "s3" and r.parameters["Bucket"] == "logs"
    assert set(r.parameters) == {"Bucket", "Policy"} and r.unmapped == [] and r.valid
    assert isinstance(r.parameters["Policy"], str) and '"aws:SecureTransport"' in r.parameters["Policy"]  # object -> JSON text


def test_json_documents_logged_as_text_stay_text_where_the_api_wants_a_string():
    document = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}'
    r = api_input("iam.amazonaws.com", "PutRolePolicy", {"roleName": "app", "policyName": "read", "policyDocument": document})
    assert r.parameters["PolicyDocument"] == document and r.valid


def test_coercions_booleans_integers_timestamps():
    r = api_input("ec2.amazonaws.com", "StopInstances", {"instancesSet": {"items": [{"instanceId": "i-1"}]}, "force": "true"})
    assert r.parameters["Force"] is True
    r = api_input("monitoring.amazonaws.com", "PutMetricAlarm", {"alarmName": "cpu", "evaluationPeriods": "3", "threshold": "80",
                                                                  "comparisonOperator": "GreaterThanThreshold"})
    assert r.parameters["EvaluationPeriods"] == 3 and r.parameters["Threshold"] == 80.0 and r.valid
    out = api_output("iam", "CreateUser", {"user": {"userName": "bob", "createDate": "Mar 6, 2025 2:30:00 PM", "arn": "arn:aws:iam::111122223333:user/bob", "userId": "AIDAEXAMPLE", "path": "/"}})
    assert out["User"]["CreateDate"] == "2025-03-06T14:30:00Z"


def test_scalar_becomes_a_one_item_list():
    r = api_input("ec2.amazonaws.com", "DeleteSnapshot", {"snapshotId": "snap-0123456789abcdef0"})
    assert r.parameters == {"SnapshotId": "snap-0123456789abcdef0"}
    r = api_input("ssm.amazonaws.com", "SendCommand", {"documentName": "AWS-RunShellScript", "instanceIds": "i-1"})
    assert r.parameters["InstanceIds"] == ["i-1"] and r.valid


def test_redacted_values_and_secrets_become_placeholders():
    r = api_input("iam.amazonaws.com", "CreateLoginProfile", {"userName": "bob", "password": "HIDDEN_DUE_TO_SECURITY_REASONS", "passwordResetRequired": True})
    assert r.parameters["Password"] == "<Password>"
    assert r.placeholders == [{"path": "Password", "reason": "redacted by CloudTrail", "env": "PASSWORD", "parts": ["Password"]}] and r.valid
    # A secret CloudTrail did log is still never copied: the model marks it sensitive.
    r = api_input("secretsmanager.amazonaws.com", "PutSecretValue", {"secretId": "db", "secretString": "hunter2-real-secret"})
    assert "hunter2-real-secret" not in repr(r.to_json()) and r.parameters["SecretString"] == "<SecretString>"


def test_unknown_keys_are_reported_and_botocore_validates():
    r = api_input("ec2.amazonaws.com", "DeleteSnapshot", {"snapshotId": "snap-1", "mysteryField": 1})
    assert r.unmapped == ["mysteryField"] and r.valid
    r = api_input("ec2.amazonaws.com", "CreateSnapshot", {"volumeId": "vol-1", "dryRun": "maybe"})
    assert not r.valid and "DryRun" in r.message


def test_required_members_cloudtrail_never_logs_come_from_the_environment():
    r = api_input("iam.amazonaws.com", "ChangePassword", {})
    assert r.valid and [p["env"] for p in r.placeholders] == ["OLD_PASSWORD", "NEW_PASSWORD"]
    assert shlex.split(cli_line(r.service, r.operation, r.parameters, "us-east-1", r.placeholders), posix=False)[3:5] == [
        '--old-password="$OLD_PASSWORD"', '--new-password="$NEW_PASSWORD"']


def test_console_only_actions_have_no_api():
    r = api_input("signin.amazonaws.com", "ConsoleLogin", None)
    assert r.service is None and not r.valid and "console" in r.message


def test_cli_line_and_boto3_call_quote_properly():
    r = api_input("ec2.amazonaws.com", "CreateSecurityGroup", {"groupName": "web's sg", "groupDescription": "HTTPS in", "vpcId": "vpc-1"})
    line = cli_line(r.service, r.operation, r.parameters, "eu-west-1")
    assert shlex.split(line) == ["aws", "ec2", "create-security-group", "--group-name", "web's sg", "--description", "HTTPS in", "--vpc-id", "vpc-1",
                                 "--region", "eu-west-1"]
    tags = api_input("ec2.amazonaws.com", "CreateTags", {"resourcesSet": {"items": [{"resourceId": "sg-1"}]}, "tagSet": {"items": [{"key": "k", "value": "v"}]}})
    words = shlex.split(cli_line(tags.service, tags.operation, tags.parameters))
    assert words[:6] == ["aws", "ec2", "create-tags", "--resources", "sg-1", "--cli-input-json"] and words[6] == '{"Tags":[{"Key":"k","Value":"v"}]}'
    assert cli_line("s3", "PutBucketPolicy", {"Bucket": "b"}).startswith("aws s3api put-bucket-policy")
    assert boto3_call(r.service, r.operation, r.parameters, "eu-west-1").startswith(
        'boto3.client("ec2", region_name=\'eu-west-1\').create_security_group(GroupName="web\'s sg"')


def test_odd_values_never_raise():
    odd = {"instancesSet": {"items": [None, 7, {"instanceId": {"nested": [1, 2]}}]}, "force": {"x": 1}, "dryRun": [True]}
    r = api_input("ec2.amazonaws.com", "StopInstances", odd)
    assert r.service == "ec2" and isinstance(r.valid, bool)
    assert api_input("ec2.amazonaws.com", "StopInstances", "not json") .unmapped == ["(requestParameters is not an object)"]
    assert api_output("iam", "CreateUser", {"user": {"createDate": 10**30}}) == {"User": {"CreateDate": 10**30}}


def test_values_the_aws_cli_would_not_take_as_plain_values_go_through_cli_input_json():
    for value in ("--endpoint-url=http://127.0.0.1:1", "-x", "file://secret", "FILEB://secret", "https://example.invalid/x", "", "a\x1b[2Jb"):
        r = api_input("ec2.amazonaws.com", "CreateSecurityGroup", {"groupName": "web", "groupDescription": value})
        words = shlex.split(cli_line(r.service, r.operation, r.parameters, "eu-west-1"))
        assert words[words.index("--cli-input-json") + 1] == json.dumps({"Description": value}, separators=(",", ":"))
        assert value not in words[:words.index("--cli-input-json")] or value == "web"
    listed = api_input("ec2.amazonaws.com", "StopInstances", {"instancesSet": {"items": [{"instanceId": '["i-1","i-2"]'}]}})
    assert "--cli-input-json" in cli_line(listed.service, listed.operation, listed.parameters)  # the CLI would parse it as a JSON list


def test_secrets_are_read_from_the_environment_in_every_form():
    import subprocess

    from provision.cloudtrail.commandline import Ref, json_word

    r = api_input("iam.amazonaws.com", "CreateLoginProfile", {"userName": "bob", "password": "HIDDEN_DUE_TO_SECURITY_REASONS"})
    assert '--password="$PASSWORD"' in cli_line(r.service, r.operation, r.parameters, "us-east-1", r.placeholders)
    assert "Password=os.environ[\"PASSWORD\"]" in boto3_call(r.service, r.operation, r.parameters, "us-east-1", r.placeholders)
    word = json_word({"Outer": {"Secret": Ref("NESTED_SECRET"), "Port": Ref("PORT", number=True)}})  # a secret inside a structure
    shown = subprocess.run(["bash", "-c", f"printf %s {word}"], env={"NESTED_SECRET": "s3cr3t $(no)", "PORT": "443"},
                           capture_output=True, text=True).stdout
    assert json.loads(shown) == {"Outer": {"Secret": "s3cr3t $(no)", "Port": 443}}
