"""A trail with known drift: what CloudFormation, Terraform and Pulumi created, people's
console edits of it, and look-alikes that are not drift. :data:`EXPECTED` is the answer."""

from __future__ import annotations

from typing import Any

from tests.support.trail import ACCOUNT, CLI_AGENT, role_event

CFN = "cloudformation.amazonaws.com"
TERRAFORM_AGENT = ("APN/1.0 HashiCorp/1.0 Terraform/1.9.5 (+https://www.terraform.io) terraform-provider-aws/5.64.0 "
                   "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.30.4 os/linux lang/go#1.22.6 md/GOOS#linux")
PULUMI_AGENT = "APN/1.0 HashiCorp/1.0 Terraform/1.0 pulumi-aws/6.50.0 Pulumi/3.130.0 aws-sdk-go-v2/1.30.4 os/linux lang/go#1.22.6"

SG_WEB = "sg-0a1b2c3d4e5f60718"       # CloudFormation stack web-prod
SG_TF = "sg-0f9e8d7c6b5a49382"        # Terraform; deleted in the console
SG_CONSOLE = "sg-01234567890abcdef"   # created in the console: edits are not drift
VPC = "vpc-0123456789abcdef0"
BUCKET_CFN = "web-prod-assets-1a2b3c"
BUCKET_OLD = "legacy-reports-2019"    # older than the trail; Terraform changes it
ROLE_TF = "app-runtime"
FUNCTION_PULUMI = "thumbnailer"


def _cfn(name: str, source: str, time: str, params: dict, response: Any = None) -> dict:
    return role_event(name, source, user="AWSCloudFormation", time=time, agent=CFN, sourceIPAddress=CFN,
                 requestParameters=params, responseElements=response,
                 userIdentity={"type": "AssumedRole", "principalId": "AROAEXAMPLECFN:AWSCloudFormation",
                               "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/cfn-exec/AWSCloudFormation", "accountId": ACCOUNT,
                               "invokedBy": CFN})


def _stack_tags(stack: str) -> list[dict]:
    return [{"key": "aws:cloudformation:stack-name", "value": stack},
            {"key": "aws:cloudformation:stack-id", "value": f"arn:aws:cloudformation:eu-west-1:{ACCOUNT}:stack/{stack}/0f1e2d3c-aaaa-bbbb-cccc-000000000001"},
            {"key": "aws:cloudformation:logical-id", "value": "WebSecurityGroup"}]


def _ingress(group: str) -> dict:
    return {"groupId": group, "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
                                                          "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}


def drift_events() -> list[dict]:
    cfn_sg = _cfn("CreateSecurityGroup", "ec2.amazonaws.com", "2024-08-01T09:00:00Z",
                  {"groupName": "web-prod-sg", "groupDescription": "web", "vpcId": VPC,
                   "tagSpecificationSet": {"items": [{"resourceType": "security-group", "tags": _stack_tags("web-prod")}]}},
                  {"requestId": "r1", "_return": True, "groupId": SG_WEB})
    events = [
        cfn_sg,
        _cfn("CreateBucket", "s3.amazonaws.com", "2024-08-01T09:01:00Z", {"bucketName": BUCKET_CFN, "Host": f"{BUCKET_CFN}.s3.amazonaws.com"}),
        _cfn("PutBucketTagging", "s3.amazonaws.com", "2024-08-01T09:01:30Z",
             {"bucketName": BUCKET_CFN, "tagging": "", "Tagging": {"TagSet": {"Tag": [{"Key": "aws:cloudformation:stack-name", "Value": "web-prod"}]}}}),
        # Terraform: a security group and a role
        role_event("CreateSecurityGroup", user="ci-deploy", time="2024-08-01T10:00:00Z", agent=TERRAFORM_AGENT,
              requestParameters={"groupName": "tf-db-sg", "groupDescription": "db", "vpcId": VPC}, responseElements={"_return": True, "groupId": SG_TF}),
        role_event("CreateRole", "iam.amazonaws.com", user="ci-deploy", time="2024-08-01T10:01:00Z", agent=TERRAFORM_AGENT, region="us-east-1",
              requestParameters={"roleName": ROLE_TF, "assumeRolePolicyDocument": "{}"},
              responseElements={"role": {"roleName": ROLE_TF, "arn": f"arn:aws:iam::{ACCOUNT}:role/{ROLE_TF}", "path": "/"}}),
        # Terraform changes a bucket that is older than the trail
        role_event("PutBucketVersioning", "s3.amazonaws.com", user="ci-deploy", time="2024-08-01T10:02:00Z", agent=TERRAFORM_AGENT,
              requestParameters={"bucketName": BUCKET_OLD, "versioning": "", "VersioningConfiguration": {"Status": "Enabled"}}),
        # Pulumi: a function
        role_event("CreateFunction20150331", "lambda.amazonaws.com", user="ci-deploy", time="2024-08-01T10:03:00Z", agent=PULUMI_AGENT,
              requestParameters={"functionName": FUNCTION_PULUMI, "runtime": "python3.12", "role": f"arn:aws:iam::{ACCOUNT}:role/{ROLE_TF}", "handler": "app.handler"},
              responseElements={"functionName": FUNCTION_PULUMI, "functionArn": f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:{FUNCTION_PULUMI}"}),
        # The console creates its own group
        role_event("CreateSecurityGroup", user="dave", time="2024-08-02T08:00:00Z",
              requestParameters={"groupName": "dave-test", "groupDescription": "t", "vpcId": VPC}, responseElements={"_return": True, "groupId": SG_CONSOLE}),
        # --- drift: console changes to managed resources
        role_event("AuthorizeSecurityGroupIngress", user="alice", time="2024-08-03T11:00:00Z", requestParameters=_ingress(SG_WEB), responseElements={"_return": True}),
        role_event("AuthorizeSecurityGroupIngress", user="bob", time="2024-08-04T11:00:00Z", requestParameters=_ingress(SG_WEB), responseElements={"_return": True}),
        role_event("PutBucketPolicy", "s3.amazonaws.com", user="bob", time="2024-08-03T12:00:00Z",
              requestParameters={"bucketName": BUCKET_CFN, "policy": "", "bucketPolicy": {"Version": "2012-10-17", "Statement": []}}),
        role_event("AttachRolePolicy", "iam.amazonaws.com", user="alice", time="2024-08-03T13:00:00Z", region="us-east-1",
              requestParameters={"roleName": ROLE_TF, "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
        role_event("DeleteSecurityGroup", user="carol", time="2024-08-05T09:00:00Z", requestParameters={"groupId": SG_TF}, responseElements={"_return": True}),
        role_event("PutBucketPolicy", "s3.amazonaws.com", user="carol", time="2024-08-05T10:00:00Z",
              requestParameters={"bucketName": BUCKET_OLD, "policy": "", "bucketPolicy": {"Version": "2012-10-17", "Statement": []}}),
        role_event("UpdateFunctionConfiguration20150331v2", "lambda.amazonaws.com", user="alice", time="2024-08-05T11:00:00Z",
              requestParameters={"functionName": f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:{FUNCTION_PULUMI}", "timeout": 60}),
        # CloudFormation's next deploy overwrites the hand-opened port
        _cfn("RevokeSecurityGroupIngress", "ec2.amazonaws.com", "2024-08-06T09:00:00Z", _ingress(SG_WEB), {"_return": True}),
        # --- look-alikes that are not drift
        role_event("AuthorizeSecurityGroupIngress", user="dave", time="2024-08-03T15:00:00Z", requestParameters=_ingress(SG_CONSOLE), responseElements={"_return": True}),
        role_event("DescribeSecurityGroups", user="alice", time="2024-08-03T10:59:00Z", read_only=True,
              requestParameters={"securityGroupIdSet": {"items": [{"groupId": SG_WEB}]}}),
        role_event("GetBucketPolicy", "s3.amazonaws.com", user="bob", time="2024-08-03T11:59:00Z", read_only=True, requestParameters={"bucketName": BUCKET_CFN, "policy": ""}),
        role_event("AuthorizeSecurityGroupIngress", user="ci-deploy", time="2024-08-03T16:00:00Z", agent=CLI_AGENT, requestParameters=_ingress(SG_WEB), responseElements={"_return": True}),
        role_event("PutBucketPolicy", "s3.amazonaws.com", user="erin", time="2024-08-03T17:00:00Z", errorCode="AccessDenied", errorMessage="Access Denied",
              requestParameters={"bucketName": BUCKET_CFN, "policy": "", "bucketPolicy": {"Statement": []}}),
        role_event("CreateSession", "cloudshell.amazonaws.com", user="alice", time="2024-08-03T18:00:00Z"),
    ]
    return events


# resource -> (tool, stack, console changes, console users, overwritten by the next deploy, created by)
EXPECTED: dict[str, tuple[str, str | None, int, list[str], bool, str | None]] = {
    SG_WEB: ("cloudformation", "web-prod", 2, ["alice", "bob"], True, "cloudformation"),
    f"arn:aws:s3:::{BUCKET_CFN}": ("cloudformation", "web-prod", 1, ["bob"], False, "cloudformation"),
    f"arn:aws:iam::{ACCOUNT}:role/{ROLE_TF}": ("terraform", None, 1, ["alice"], False, "terraform"),
    SG_TF: ("terraform", None, 1, ["carol"], False, "terraform"),
    f"arn:aws:s3:::{BUCKET_OLD}": ("terraform", None, 1, ["carol"], False, None),
    f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:{FUNCTION_PULUMI}": ("pulumi", None, 1, ["alice"], False, "pulumi"),
}
