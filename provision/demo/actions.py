"""The demo's catalogue of actions: ~40 builders, each returning one call's (requestParameters,
responseElements, resources, additionalEventData) in the shape real CloudTrail events have,
and the weighted lists :mod:`provision.demo.generate` picks from (programmatic reads and writes,
AWS services, console reads and the console writes people repeat by hand).

Over 400 lines on purpose: one table of builders and the lists that weigh them; splitting it
would scatter one model of what an organisation's trail holds.
"""

from __future__ import annotations

from bisect import bisect
import random
from dataclasses import dataclass
from typing import Any, Callable

import orjson

from provision.demo.organisation import ALNUM, B64, EMAIL_DOMAIN, PEOPLE, Account, random_chars, random_hex, random_uuid


Built = tuple[dict | None, dict | None, list | None, dict | None]


@dataclass(frozen=True)
class Action:
    source: str               # eventSource
    name: str                 # eventName
    read_only: bool
    build: Callable[[random.Random, Account, str], Built]
    global_service: bool = False   # logged in us-east-1 only (IAM, STS global endpoint, sign-in)
    version: str = "1.11"


def _res(account: Account, type_: str, arn: str) -> list:
    return [{"accountId": account.id, "type": type_, "ARN": arn}]


def _s3_extra(rng: random.Random) -> dict:
    return {
        "SignatureVersion": "SigV4",
        "CipherSuite": "TLS_AES_128_GCM_SHA256",
        "bytesTransferredIn": 0,
        "AuthenticationMethod": "AuthHeader",
        "x-amz-id-2": random_chars(rng, 76, B64) + "=",
        "bytesTransferredOut": rng.randrange(200, 4000),
    }


def _describe_instances(rng, a, region):
    if rng.random() < 0.5:
        params = {"instancesSet": {}, "filterSet": {"items": [{"name": "instance-state-name", "valueSet": {"items": [{"value": "running"}]}},
                                                             {"name": "tag:Environment", "valueSet": {"items": [{"value": a.name}]}}]}}
    else:
        params = {"instancesSet": {"items": [{"instanceId": i} for i in rng.sample(a.instances, rng.randrange(1, 4))]}, "filterSet": {}}
    return params, None, None, None


def _state_change(prev: tuple[int, str], cur: tuple[int, str]):
    def build(rng, a, region):
        instance = rng.choice(a.instances)
        params: dict[str, Any] = {"instancesSet": {"items": [{"instanceId": instance}]}}
        if prev[1] == "running" and cur[1] == "stopping":
            params["force"] = False
        response = {"requestId": random_uuid(rng), "instancesSet": {"items": [{
            "instanceId": instance,
            "currentState": {"code": cur[0], "name": cur[1]},
            "previousState": {"code": prev[0], "name": prev[1]},
        }]}}
        return params, response, None, None
    return build


def _reboot(rng, a, region):
    return {"instancesSet": {"items": [{"instanceId": rng.choice(a.instances)}]}}, {"requestId": random_uuid(rng), "_return": True}, None, None


def _run_instances(rng, a, region):
    instance, eni = "i-" + random_hex(rng, 17), "eni-" + random_hex(rng, 17)
    subnet, vpc = "subnet-" + random_hex(rng, 17), "vpc-" + random_hex(rng, 17)
    ip = f"10.0.{rng.randrange(256)}.{rng.randrange(2, 254)}"
    sg = rng.choice(a.security_groups)
    params = {"instancesSet": {"items": [{"imageId": "ami-" + random_hex(rng, 17), "minCount": 1, "maxCount": 1}]},
              "instanceType": rng.choice(("t3.micro", "t3.medium", "m6i.large", "c7g.xlarge")),
              "blockDeviceMapping": {}, "subnetId": subnet, "monitoring": {"enabled": False},
              "disableApiTermination": False, "disableApiStop": False, "clientToken": random_uuid(rng),
              "tagSpecificationSet": {"items": [{"resourceType": "instance", "tags": [{"key": "Name", "value": f"{a.name}-worker"},
                                                                                     {"key": "Environment", "value": a.name}]}]}}
    response = {"requestId": random_uuid(rng), "reservationId": "r-" + random_hex(rng, 17), "ownerId": a.id, "groupSet": {},
                "instancesSet": {"items": [{
                    "instanceId": instance, "imageId": params["instancesSet"]["items"][0]["imageId"],
                    "currentInstanceBootMode": "uefi", "instanceState": {"code": 0, "name": "pending"},
                    "privateDnsName": f"ip-{ip.replace('.', '-')}.{region}.compute.internal", "amiLaunchIndex": 0,
                    "productCodes": {}, "instanceType": params["instanceType"],
                    "launchTime": 1741000000000 + rng.randrange(10**9), "placement": {"availabilityZone": region + "a", "tenancy": "default"},
                    "monitoring": {"state": "disabled"}, "subnetId": subnet, "vpcId": vpc, "privateIpAddress": ip,
                    "stateReason": {"code": "pending", "message": "pending"}, "architecture": "x86_64",
                    "rootDeviceType": "ebs", "rootDeviceName": "/dev/xvda", "blockDeviceMapping": {},
                    "virtualizationType": "hvm", "hypervisor": "xen", "clientToken": params["clientToken"],
                    "groupSet": {"items": [{"groupId": sg, "groupName": "default"}]}, "sourceDestCheck": True,
                    "networkInterfaceSet": {"items": [{"networkInterfaceId": eni, "subnetId": subnet, "vpcId": vpc,
                                                       "ownerId": a.id, "status": "in-use", "macAddress": "0a:%02x:%02x:%02x:%02x:%02x" % tuple(rng.randrange(256) for _ in range(5)),
                                                       "privateIpAddress": ip, "sourceDestCheck": True, "interfaceType": "interface",
                                                       "groupSet": {"items": [{"groupId": sg, "groupName": "default"}]},
                                                       "attachment": {"attachmentId": "eni-attach-" + random_hex(rng, 17), "deviceIndex": 0, "networkCardIndex": 0,
                                                                      "status": "attaching", "attachTime": 1741000000000, "deleteOnTermination": True},
                                                       "privateIpAddressesSet": {"item": [{"privateIpAddress": ip, "primary": True}]},
                                                       "ipv6AddressesSet": {}, "tagSet": {}}]},
                    "ebsOptimized": False, "enaSupport": True, "cpuOptions": {"coreCount": 1, "threadsPerCore": 2},
                    "capacityReservationSpecification": {"capacityReservationPreference": "open"},
                    "enclaveOptions": {"enabled": False}, "metadataOptions": {"state": "pending", "httpTokens": "required",
                                                                              "httpPutResponseHopLimit": 2, "httpEndpoint": "enabled"},
                    "maintenanceOptions": {"autoRecovery": "default"},
                    "privateDnsNameOptions": {"hostnameType": "ip-name", "enableResourceNameDnsARecord": False},
                }]}}
    return params, response, None, None


def _create_tags(rng, a, region):
    return ({"resourcesSet": {"items": [{"resourceId": rng.choice(a.instances)}, {"resourceId": rng.choice(a.volumes)}]},
             "tagSet": {"items": [{"key": "Owner", "value": rng.choice(PEOPLE)}, {"key": "CostCenter", "value": str(rng.randrange(1000, 9999))}]}},
            {"requestId": random_uuid(rng), "_return": True}, None, None)


def _describe_sgs(rng, a, region):
    return {"securityGroupSet": {}, "securityGroupIdSet": {"items": [{"groupId": g} for g in rng.sample(a.security_groups, 2)]}, "filterSet": {}}, None, None, None


def _describe_volumes(rng, a, region):
    return {"volumeSet": {}, "filterSet": {"items": [{"name": "attachment.instance-id", "valueSet": {"items": [{"value": rng.choice(a.instances)}]}}]}}, None, None, None


def _ec2_generic(rng, a, region):
    return {"maxResults": 1000, "filterSet": {}}, None, None, None


def _s3_bucket(op_params: dict | None = None):
    def build(rng, a, region):
        bucket = rng.choice(a.buckets)
        params = {"bucketName": bucket, "Host": f"{bucket}.s3.{region}.amazonaws.com"}
        if op_params:
            params.update(op_params)
        return params, None, _res(a, "AWS::S3::Bucket", f"arn:aws:s3:::{bucket}"), _s3_extra(rng)
    return build


def _list_buckets(rng, a, region):
    return {"Host": f"s3.{region}.amazonaws.com"}, None, None, _s3_extra(rng)


def _put_bucket_policy(rng, a, region):
    bucket = rng.choice(a.buckets)
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "AllowCloudFrontRead", "Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"},
         "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*",
         "Condition": {"StringEquals": {"AWS:SourceArn": f"arn:aws:cloudfront::{a.id}:distribution/E{random_chars(rng, 13)}"}}},
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    ]}
    params = {"bucketPolicy": policy, "bucketName": bucket, "Host": f"{bucket}.s3.{region}.amazonaws.com", "policy": ""}
    return params, None, _res(a, "AWS::S3::Bucket", f"arn:aws:s3:::{bucket}"), _s3_extra(rng)


_MANAGED_POLICIES = ("ReadOnlyAccess", "AmazonS3ReadOnlyAccess", "CloudWatchAgentServerPolicy", "AmazonSSMManagedInstanceCore", "AWSLambdaBasicExecutionRole")


def _attach_role_policy(rng, a, region):
    policy = rng.choice(_MANAGED_POLICIES)
    path = "service-role/" if policy == "AWSLambdaBasicExecutionRole" else ""
    return {"roleName": rng.choice(a.roles), "policyArn": f"arn:aws:iam::aws:policy/{path}{policy}"}, None, None, None


def _iam_role(rng, a, region):
    return {"roleName": rng.choice(a.roles)}, None, None, None


def _iam_list(rng, a, region):
    return ({"maxItems": 100} if rng.random() < 0.5 else None), None, None, None


def _no_parameters(rng, a, region):
    return None, None, None, None


def _assume_role(rng, a, region):
    role = rng.choice(a.roles)
    session = f"{role}-{rng.randrange(10**12, 10**13)}"
    arn = f"arn:aws:iam::{a.id}:role/{role}"
    role_id = "AROA" + random_chars(rng, 17)
    return ({"roleArn": arn, "roleSessionName": session, "durationSeconds": 3600},
            {"credentials": {"accessKeyId": "ASIA" + random_chars(rng, 16), "sessionToken": "", "expiration": "Mar 3, 2025, 1:00:00 PM"},
             "assumedRoleUser": {"assumedRoleId": f"{role_id}:{session}", "arn": f"arn:aws:sts::{a.id}:assumed-role/{role}/{session}"}},
            _res(a, "AWS::IAM::Role", arn), None)


def _kms(op: str):
    def build(rng, a, region):
        key = rng.choice(a.kms_keys)
        arn = f"arn:aws:kms:{region}:{a.id}:key/{key}"
        params: dict[str, Any] = {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
        if op == "GenerateDataKey":
            params = {"keyId": f"alias/{a.name}-data", "keySpec": "AES_256"}
        params["encryptionContext"] = {"aws:lambda:FunctionArn": f"arn:aws:lambda:{region}:{a.id}:function:{rng.choice(a.functions)}"}
        return params, None, _res(a, "AWS::KMS::Key", arn), None
    return build


def _get_parameter(rng, a, region):
    return {"name": rng.choice(a.parameters), "withDecryption": rng.random() < 0.6}, None, None, None


def _get_secret(rng, a, region):
    return {"secretId": f"arn:aws:secretsmanager:{region}:{a.id}:secret:{rng.choice(a.secrets)}-{random_chars(rng, 6, ALNUM)}"}, None, None, None


def _update_instance_information(rng, a, region):
    instance = rng.choice(a.instances)
    return ({"instanceId": instance, "agentVersion": "3.3.1611.0", "agentStatus": "Active", "platformType": "Linux",
             "platformName": "Amazon Linux", "platformVersion": "2023", "iPAddress": "HIDDEN_DUE_TO_SECURITY_REASONS",
             "computerName": f"ip-10-0-{rng.randrange(256)}-{rng.randrange(2, 254)}.{region}.compute.internal",
             "agentName": "amazon-ssm-agent", "availabilityZone": region + "a", "availabilityZoneId": "use1-az4",
             "sSMConnectionChannel": "ssmmessages"}, None, None, None)


def _start_session(rng, a, region):
    target = rng.choice(a.instances)
    session = f"{rng.choice(PEOPLE)}@{EMAIL_DOMAIN}-{random_hex(rng, 17)}"
    return ({"target": target},
            {"sessionId": session, "tokenValue": "Value hidden due to security reasons.",
             "streamUrl": f"wss://ssmmessages.{region}.amazonaws.com/v1/data-channel/{session}?role=publish_subscribe&cell-number=AAEAAQAAAAEAAAAAAAAAAAAAAAAAAAA="},
            None, None)


def _put_metric_alarm(rng, a, region):
    instance = rng.choice(a.instances)
    return ({"alarmName": f"{a.name}-{instance}-cpu-high", "alarmDescription": "CPU above 80% for 10 minutes",
             "actionsEnabled": True, "alarmActions": [f"arn:aws:sns:{region}:{a.id}:ops-alerts"],
             "metricName": "CPUUtilization", "namespace": "AWS/EC2", "statistic": "Average",
             "dimensions": [{"name": "InstanceId", "value": instance}], "period": 300, "evaluationPeriods": 2,
             "threshold": float(rng.choice((70, 80, 90))), "comparisonOperator": "GreaterThanThreshold", "treatMissingData": "missing"},
            None, None, None)


def _describe_alarms(rng, a, region):
    return {"alarmNamePrefix": f"{a.name}-", "maxRecords": 100}, None, None, None


def _get_metric_data(rng, a, region):
    return ({"metricDataQueries": [{"id": f"m{i}", "metricStat": {"metric": {"namespace": "AWS/EC2", "metricName": "CPUUtilization",
                                                                            "dimensions": [{"name": "InstanceId", "value": rng.choice(a.instances)}]},
                                                                 "period": 60, "stat": "Average"}, "returnData": True} for i in range(3)],
             "startTime": "Mar 3, 2025, 12:00:00 AM", "endTime": "Mar 3, 2025, 1:00:00 AM"}, None, None, None)


def _logs(op: str):
    def build(rng, a, region):
        group = rng.choice(a.log_groups)
        if op == "CreateLogStream":
            return {"logGroupName": group, "logStreamName": f"2025/03/03/[$LATEST]{random_hex(rng, 32)}"}, None, None, None
        if op == "FilterLogEvents":
            return {"logGroupName": group, "filterPattern": "ERROR", "startTime": 1740960000000, "interleaved": True}, None, None, None
        return {"logGroupNamePrefix": group.rsplit("/", 1)[0], "limit": 50}, None, None, None
    return build


def _lambda(op: str):
    def build(rng, a, region):
        if op == "ListFunctions20150331":
            return {"maxItems": 50}, None, None, None
        return {"functionName": rng.choice(a.functions)}, None, None, None
    return build


def _dynamodb(rng, a, region):
    return {"tableName": rng.choice(a.tables)}, None, _res(a, "AWS::DynamoDB::Table", f"arn:aws:dynamodb:{region}:{a.id}:table/{rng.choice(a.tables)}"), None


def _get_authorization_token(rng, a, region):
    return {"registryIds": [a.id]}, None, None, None


def _cfn(rng, a, region):
    return {"stackName": f"{a.name}-{rng.choice(('network', 'app', 'data', 'monitoring'))}"}, None, None, None


def _rds(rng, a, region):
    return {"dBInstanceIdentifier": f"{a.name}-postgres-{rng.randrange(1, 3)}"}, None, None, None


def _elb(rng, a, region):
    return {"pageSize": 400}, None, None, None


def _authorize_ingress(rng, a, region):
    sg = rng.choice(a.security_groups)
    port = rng.choice((22, 443, 5432, 8080))
    return ({"groupId": sg, "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": port, "toPort": port, "groups": {},
                                                        "ipRanges": {"items": [{"cidrIp": "10.0.0.0/16", "description": "internal"}]},
                                                        "ipv6Ranges": {}, "prefixListIds": {}}]}},
            {"requestId": random_uuid(rng), "_return": True, "securityGroupRuleSet": {"items": [{"groupOwnerId": a.id, "groupId": sg,
             "securityGroupRuleId": "sgr-" + random_hex(rng, 17), "isEgress": False, "ipProtocol": "tcp", "fromPort": port, "toPort": port,
             "cidrIpv4": "10.0.0.0/16", "description": "internal"}]}}, None, None)


def _put_role_policy(rng, a, region):
    return ({"roleName": rng.choice(a.roles), "policyName": "inline-s3-access",
             "policyDocument": orjson.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
                                                                                    "Resource": f"arn:aws:s3:::{rng.choice(a.buckets)}/*"}]}).decode()},
            None, None, None)


def _update_function_code(rng, a, region):
    fn = rng.choice(a.functions)
    return ({"functionName": fn, "s3Bucket": a.buckets[3], "s3Key": f"lambda/{fn}-{random_hex(rng, 8)}.zip", "publish": True},
            {"functionName": fn, "functionArn": f"arn:aws:lambda:{region}:{a.id}:function:{fn}", "runtime": "python3.12",
             "role": f"arn:aws:iam::{a.id}:role/{a.roles[3]}", "handler": "app.handler", "codeSize": rng.randrange(10**4, 10**7),
             "description": "", "timeout": 30, "memorySize": 256, "lastModified": "2025-03-03T10:00:00.000+0000",
             "codeSha256": random_chars(rng, 43, B64) + "=", "version": str(rng.randrange(1, 300)), "tracingConfig": {"mode": "PassThrough"},
             "revisionId": random_uuid(rng), "state": "Active", "lastUpdateStatus": "InProgress", "packageType": "Zip",
             "architectures": ["arm64"], "ephemeralStorage": {"size": 512}}, None, None)


def _console_login(rng, a, region):
    return None, {"ConsoleLogin": "Success"}, None, {
        "LoginTo": "https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_us-east-1_" + random_hex(rng, 16),
        "MobileVersion": "No", "MFAUsed": "Yes"}


def _switch_role(rng, a, region):
    return None, {"SwitchRole": "Success"}, None, {
        "SwitchFrom": f"arn:aws:iam::{a.id}:user/ops-admin",
        "RedirectTo": "https://console.aws.amazon.com/ec2/home?region=us-east-1#Instances:"}


def _rotate_key(rng, a, region):
    return None, None, _res(a, "AWS::KMS::Key", f"arn:aws:kms:{region}:{a.id}:key/{rng.choice(a.kms_keys)}"), None


def _a(source, name, read_only, build, global_service=False, version="1.11") -> Action:
    return Action(source + ".amazonaws.com", name, read_only, build, global_service, version)


# Programmatic reads: the bulk of every real trail.
PROGRAMMATIC_READS: list[tuple[Action, float]] = [
    (_a("ec2", "DescribeInstances", True, _describe_instances, version="1.10"), 14),
    (_a("ec2", "DescribeSecurityGroups", True, _describe_sgs, version="1.10"), 5),
    (_a("ec2", "DescribeVolumes", True, _describe_volumes, version="1.10"), 4),
    (_a("ec2", "DescribeSubnets", True, _ec2_generic, version="1.10"), 3),
    (_a("ec2", "DescribeVpcs", True, _ec2_generic, version="1.10"), 2),
    (_a("ec2", "DescribeNetworkInterfaces", True, _ec2_generic, version="1.10"), 3),
    (_a("s3", "GetBucketAcl", True, _s3_bucket({"acl": ""}), version="1.10"), 4),
    (_a("s3", "GetBucketLocation", True, _s3_bucket({"location": ""}), version="1.10"), 3),
    (_a("s3", "GetBucketPolicy", True, _s3_bucket({"policy": ""}), version="1.10"), 2),
    (_a("s3", "ListBuckets", True, _list_buckets, version="1.10"), 2),
    (_a("iam", "GetRole", True, _iam_role, global_service=True, version="1.09"), 3),
    (_a("iam", "ListRoles", True, _iam_list, global_service=True, version="1.09"), 2),
    (_a("iam", "ListPolicies", True, _iam_list, global_service=True, version="1.09"), 1),
    (_a("sts", "GetCallerIdentity", True, _no_parameters, version="1.08"), 5),
    (_a("sts", "AssumeRole", True, _assume_role, version="1.08"), 6),
    (_a("kms", "Decrypt", True, _kms("Decrypt")), 8),
    (_a("kms", "GenerateDataKey", True, _kms("GenerateDataKey")), 3),
    (_a("ssm", "GetParameter", True, _get_parameter), 5),
    (_a("ssm", "DescribeInstanceInformation", True, _ec2_generic), 2),
    (_a("secretsmanager", "GetSecretValue", True, _get_secret), 3),
    (_a("logs", "DescribeLogGroups", True, _logs("DescribeLogGroups")), 3),
    (_a("logs", "FilterLogEvents", True, _logs("FilterLogEvents")), 1),
    (_a("monitoring", "GetMetricData", True, _get_metric_data), 4),
    (_a("monitoring", "DescribeAlarms", True, _describe_alarms), 2),
    (_a("lambda", "ListFunctions20150331", True, _lambda("ListFunctions20150331")), 1),
    (_a("lambda", "GetFunction20150331v2", True, _lambda("GetFunction20150331v2")), 1),
    (_a("dynamodb", "DescribeTable", True, _dynamodb, version="1.09"), 2),
    (_a("ecr", "GetAuthorizationToken", True, _get_authorization_token, version="1.10"), 2),
    (_a("cloudformation", "DescribeStacks", True, _cfn), 2),
    (_a("rds", "DescribeDBInstances", True, _rds), 1),
    (_a("elasticloadbalancing", "DescribeLoadBalancers", True, _elb), 1),
]

PROGRAMMATIC_WRITES: list[tuple[Action, float]] = [
    (_a("ssm", "UpdateInstanceInformation", False, _update_instance_information), 8),
    (_a("logs", "CreateLogStream", False, _logs("CreateLogStream")), 4),
    (_a("ec2", "CreateTags", False, _create_tags, version="1.10"), 2),
    (_a("ec2", "RunInstances", False, _run_instances, version="1.10"), 1),
    (_a("ec2", "AuthorizeSecurityGroupIngress", False, _authorize_ingress, version="1.10"), 1),
    (_a("iam", "PutRolePolicy", False, _put_role_policy, global_service=True, version="1.09"), 1),
    (_a("lambda", "UpdateFunctionCode20150331v2", False, _update_function_code), 1),
]

# AWS services acting on the account's behalf (userIdentity type AWSService).
SERVICE_CALLS: list[tuple[Action, str, float]] = [
    (_a("s3", "GetBucketAcl", True, _s3_bucket({"acl": ""}), version="1.10"), "cloudtrail.amazonaws.com", 5),
    (_a("sts", "AssumeRole", True, _assume_role, version="1.08"), "lambda.amazonaws.com", 3),
    (_a("sts", "AssumeRole", True, _assume_role, version="1.08"), "ec2.amazonaws.com", 2),
    (_a("sts", "AssumeRole", True, _assume_role, version="1.08"), "config.amazonaws.com", 1),
    (_a("kms", "Decrypt", True, _kms("Decrypt")), "cloudfront.amazonaws.com", 1),
    (_a("kms", "GenerateDataKey", True, _kms("GenerateDataKey")), "s3.amazonaws.com", 1),
]

SERVICE_EVENTS: list[tuple[Action, float]] = [
    (_a("kms", "RotateKey", False, _rotate_key), 1),
    (_a("secretsmanager", "RotationSucceeded", False, _no_parameters), 1),
]

# People in the console, reading.
CONSOLE_READS: list[tuple[Action, float]] = [
    (_a("ec2", "DescribeInstances", True, _describe_instances, version="1.10"), 10),
    (_a("ec2", "DescribeInstanceStatus", True, _ec2_generic, version="1.10"), 4),
    (_a("ec2", "DescribeSecurityGroups", True, _describe_sgs, version="1.10"), 3),
    (_a("s3", "ListBuckets", True, _list_buckets, version="1.10"), 3),
    (_a("s3", "GetBucketPolicy", True, _s3_bucket({"policy": ""}), version="1.10"), 2),
    (_a("iam", "ListRoles", True, _iam_list, global_service=True, version="1.09"), 2),
    (_a("iam", "GetRole", True, _iam_role, global_service=True, version="1.09"), 2),
    (_a("monitoring", "DescribeAlarms", True, _describe_alarms), 3),
    (_a("monitoring", "GetMetricData", True, _get_metric_data), 4),
    (_a("logs", "FilterLogEvents", True, _logs("FilterLogEvents")), 2),
    (_a("ssm", "DescribeInstanceInformation", True, _ec2_generic), 1),
    (_a("cloudformation", "DescribeStacks", True, _cfn), 2),
]

# People in the console, changing things: the repeated hand work worth automating.
CONSOLE_WRITES: list[tuple[Action, float]] = [
    (_a("ec2", "StartInstances", False, _state_change((80, "stopped"), (0, "pending")), version="1.10"), 6),
    (_a("ec2", "StopInstances", False, _state_change((16, "running"), (64, "stopping")), version="1.10"), 6),
    (_a("ec2", "RebootInstances", False, _reboot, version="1.10"), 3),
    (_a("s3", "PutBucketPolicy", False, _put_bucket_policy, version="1.10"), 2),
    (_a("iam", "AttachRolePolicy", False, _attach_role_policy, global_service=True, version="1.09"), 2),
    (_a("ssm", "StartSession", False, _start_session), 4),
    (_a("monitoring", "PutMetricAlarm", False, _put_metric_alarm), 3),
    (_a("ec2", "CreateTags", False, _create_tags, version="1.10"), 1),
]

SIGN_IN = {
    "ConsoleLogin": _a("signin", "ConsoleLogin", False, _console_login, global_service=True, version="1.08"),
    "SwitchRole": _a("signin", "SwitchRole", False, _switch_role, global_service=True, version="1.08"),
}

# Share of events by kind during working hours (console activity fades at night).
KIND_WEIGHTS_DAY = {"programmatic_read": 56, "programmatic_write": 10, "service_call": 12, "service_event": 0.3,
                     "console_read": 14, "console_write": 5, "sign_in": 1.2, "cli_read": 1.5}
KIND_WEIGHTS_NIGHT = {"programmatic_read": 70, "programmatic_write": 12, "service_call": 15, "service_event": 0.3,
                       "console_read": 1.0, "console_write": 0.3, "sign_in": 0.1, "cli_read": 0.3}


class Picker:
    """Weighted choice with precomputed cumulative weights (random.choices recomputes them)."""

    def __init__(self, items: list, weights: list[float]):
        self.items = items
        total, cum = 0.0, []
        for w in weights:
            total += w
            cum.append(total)
        self.cum, self.total = cum, total

    def __call__(self, rng: random.Random):
        return self.items[bisect(self.cum, rng.random() * self.total)]


def regional(pairs: list) -> Picker:
    kept = [p for p in pairs if not p[0].global_service]
    return Picker([p[0] for p in kept], [p[-1] for p in kept])


def everywhere(pairs: list) -> Picker:
    return Picker([p[0] for p in pairs], [p[-1] for p in pairs])
