"""A seeded generator of realistic CloudTrail logs in the layout CloudTrail writes to S3.

Used by ``ctstack up --sample`` (a small deterministic demo set) and by the benchmark
(``bench/generate.py``, a million events). Field shapes, sizes and value styles follow
real published events (../shared/data/cloudtrail: stratus-red-team, cloud-snitch) and
AWS's documentation of the log and digest files.

The mix is what a small AWS organisation produces: mostly programmatic, read-only calls
(SDKs, the CLI, Terraform, workload roles, AWS services), some console activity (sign-ins,
console reads, and a handful of console write actions several people repeat by hand: the
automation candidates ctstack exists to find), a few per cent of errors, four accounts
(one delivered through an organisation trail), several real regions, and CloudTrail
digest files that an importer must skip.

Files follow CloudTrail's delivery: one file per account, region and 5-minute window, so
quiet regions give many tiny files and busy ones bigger files; now and then a scanner
burst gives a file of thousands of events.

Deterministic: the same seed and arguments give byte-identical files (one
``random.Random(seed)``, compact orjson, gzip with ``mtime=0``). Streaming: at most one
file's records are in memory at a time.
"""

from __future__ import annotations

import gzip
from bisect import bisect
import hashlib
import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import orjson

# What `ctstack up --sample` loads: big enough for a lively dashboard, small enough to import in seconds.
SAMPLE_EVENTS = 20_000
SAMPLE_SEED = 0

DEFAULT_START = datetime(2025, 3, 3, 6, 0, tzinfo=timezone.utc)   # a Monday morning
WINDOW_SECONDS = 300          # CloudTrail delivers about every 5 minutes per account and region
DIGEST_EVERY_HOURS = 6        # real trails write one digest an hour; a few are enough to test skipping
ORG_ID = "o-7k2xq9w4bd"
TRAIL_NAME = "org-management-events"
TRAIL_BUCKET = "acme-cloudtrail-logs"

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_UPPER_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_B64 = _ALNUM + "+/"


@dataclass
class GenerateStats:
    """What :func:`write_sample` wrote."""

    events: int = 0
    files: int = 0                       # CloudTrail log files (each `{"Records": [...]}`)
    digest_files: int = 0                # CloudTrail-Digest files (no events; importers skip them)
    compressed_bytes: int = 0
    uncompressed_bytes: int = 0
    largest_file_events: int = 0
    accounts: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    first_event_time: str = ""
    last_event_time: str = ""

    def as_dict(self) -> dict:
        return dict(self.__dict__)


# --- small deterministic id makers ------------------------------------------------------

def _uuid4(rng: random.Random) -> str:
    h = "%032x" % rng.getrandbits(128)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def _chars(rng: random.Random, n: int, alphabet: str = _UPPER_ALNUM) -> str:
    return "".join(rng.choices(alphabet, k=n))


def _hex(rng: random.Random, n: int) -> str:
    return "%0*x" % (n, rng.getrandbits(4 * n))


def _ipv4(rng: random.Random, first_octets: tuple[int, ...]) -> str:
    return f"{rng.choice(first_octets)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


# --- the organisation: accounts, regions, people, workloads ---------------------------------

@dataclass
class Account:
    id: str
    name: str
    org_trail: bool                       # delivered under AWSLogs/<org-id>/<account>/...
    regions: dict[str, float]             # region -> mean events per 5-minute window
    instances: list[str] = field(default_factory=list)
    buckets: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    security_groups: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    kms_keys: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    log_groups: list[str] = field(default_factory=list)
    parameters: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)


_ACCOUNT_PLAN = (
    # id, name, org trail?, {region: mean events per window}
    ("480722931458", "prod", False, {"us-east-1": 150.0, "eu-west-1": 60.0, "us-west-2": 0.6, "ap-northeast-1": 0.4}),
    ("739512046281", "staging", False, {"eu-west-1": 40.0, "us-east-1": 15.0, "eu-central-1": 0.5}),
    ("215804667390", "dev", False, {"us-west-2": 30.0, "us-east-1": 10.0, "ap-southeast-2": 0.3}),
    ("902318475566", "security", True, {"ap-northeast-1": 20.0, "us-east-1": 25.0, "eu-west-1": 0.5, "sa-east-1": 0.3}),
)
# A security scanner sweeps the production account's busiest region every day at 07:00 UTC
# (and, now and then, any busy region): thousands of Describe/List/Get calls in one file.
_SCAN_HOUR = 7
_BURST_PROBABILITY = 0.0015      # per busy (account, region) window, besides the daily scan
_BURST_EVENTS = (1500, 6000)

_PEOPLE = ("alice", "bob", "carol", "dave", "erin", "frank")
_SSO_ROLE = "AWSReservedSSO_AdministratorAccess_3f2a1b9c8d7e6f50"
_SSO_READONLY_ROLE = "AWSReservedSSO_ReadOnlyAccess_a91c04be27d3f816"
_EMAIL_DOMAIN = "acme-corp.example"

_BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.3 Safari/605.1.15",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.2849.80",
)
_CONSOLE_AGENTS = ("console.amazonaws.com", "AWS Internal")
_S3_CONSOLE_AGENT = (
    "[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.750 Linux/5.10.228-198.884.amzn2int.x86_64 "
    "OpenJDK_64-Bit_Server_VM/25.432-b06 java/1.8.0_432 vendor/Oracle_Corporation cfg/retry-mode/standard]"
)
_AWS_NETS = (3, 18, 34, 35, 44, 52, 54, 98)


def _office_ip(rng: random.Random) -> str:
    # documentation ranges (RFC 5737): shaped like an office's public address, owned by no one
    return rng.choice(("198.51.100.", "203.0.113.", "192.0.2.")) + str(rng.randrange(2, 254))


def _cli_agent(rng: random.Random, service: str, name: str) -> str:
    version = rng.choice(("2.15.0", "2.17.44", "2.22.8"))
    os_ = rng.choice(("linux#6.5.0-1022-aws", "macos#23.6.0", "linux#5.15.0-126-generic"))
    command = f"{service}.{_kebab(name)}"
    return (f"aws-cli/{version} md/awscrt#0.22.0 ua/2.0 os/{os_} md/arch#x86_64 lang/python#3.11.6 "
            f"md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off md/command#{command}")


def _kebab(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i:
            out.append("-")
        out.append(ch.lower())
    return "".join(out)


_BOTO3 = ("Boto3/1.35.36 md/Botocore#1.35.36 ua/2.0 os/linux#5.10.227-219.884.amzn2.x86_64 md/arch#x86_64 "
          "lang/python#3.12.7 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.35.36")
_TERRAFORM = ("APN/1.0 HashiCorp/1.0 Terraform/1.9.8 (+https://www.terraform.io) terraform-provider-aws/5.82.2 "
              "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.32.6 ua/2.1 os/linux "
              "lang/go#1.23.3 md/GOOS#linux md/GOARCH#amd64")
_GO_AGENT = "aws-sdk-go/1.55.5 (go1.22.7; linux; amd64) amazon-ssm-agent/3.3.1611.0"
_JAVA_AGENT = ("aws-sdk-java/2.30.21 md/io#async md/http#NettyNio ua/2.1 os/Linux#5.10.234-225.895.amzn2.x86_64 "
               "lang/java#17.0.14 md/OpenJDK_64-Bit_Server_VM#17.0.14+7-LTS md/vendor#Amazon.com_Inc. md/en_US m/E")
_SCANNER_AGENT = "aws-sdk-go-v2/1.32.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.187.0 prowler/4.6.1"


@dataclass
class Actor:
    """Someone or something that calls AWS: builds its userIdentity, agent and source address."""

    kind: str                    # "cli" | "sdk" | "terraform" | "workload" | "scanner" | "console" | "root"
    account: Account
    identity: dict
    principal: str               # a short name (for session ids)
    person: str | None = None
    agent: str | None = None     # fixed user agent, if any
    ip: str | None = None        # fixed source address, if any
    mfa: bool = False


def _iam_user(rng: random.Random, account: Account, name: str, with_key: bool) -> dict:
    identity = {
        "type": "IAMUser",
        "principalId": "AIDA" + _chars(rng, 17),
        "arn": f"arn:aws:iam::{account.id}:user/{name}",
        "accountId": account.id,
    }
    if with_key:
        identity["accessKeyId"] = "AKIA" + _chars(rng, 16)
    identity["userName"] = name
    return identity


def _assumed_role(rng: random.Random, account: Account, role: str, session: str, *, invoked_by: str | None = None,
                  mfa: bool = False, created: str = "2025-03-03T00:00:00Z") -> dict:
    role_id = "AROA" + _chars(rng, 17)
    identity = {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session}",
        "arn": f"arn:aws:sts::{account.id}:assumed-role/{role}/{session}",
        "accountId": account.id,
        "accessKeyId": "ASIA" + _chars(rng, 16),
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": role_id,
                "arn": f"arn:aws:iam::{account.id}:role/{'aws-reserved/sso.amazonaws.com/' if role.startswith('AWSReservedSSO') else ''}{role}",
                "accountId": account.id,
                "userName": role,
            },
            "attributes": {"creationDate": created, "mfaAuthenticated": "true" if mfa else "false"},
        },
    }
    if invoked_by:
        identity["invokedBy"] = invoked_by
    return identity


def _build_accounts(rng: random.Random) -> list[Account]:
    accounts = []
    for account_id, name, org, regions in _ACCOUNT_PLAN:
        a = Account(account_id, name, org, dict(regions))
        a.instances = ["i-" + _hex(rng, 17) for _ in range(24)]
        a.buckets = [f"acme-{name}-{suffix}" for suffix in ("assets", "backups", "logs", "artifacts", "data-lake", "static-site")]
        a.roles = [f"{name}-{r}" for r in ("web-app", "batch-jobs", "eks-node", "lambda-exec", "ci-deploy", "readonly-audit")]
        a.security_groups = ["sg-" + _hex(rng, 17) for _ in range(8)]
        a.volumes = ["vol-" + _hex(rng, 17) for _ in range(16)]
        a.kms_keys = [_uuid4(rng) for _ in range(4)]
        a.functions = [f"{name}-{f}" for f in ("thumbnailer", "order-events", "nightly-report", "slack-notifier")]
        a.log_groups = [f"/aws/lambda/{f}" for f in a.functions] + [f"/ecs/{name}-api", f"/{name}/app"]
        a.parameters = [f"/{name}/{p}" for p in ("db/host", "db/password", "api/token", "feature-flags", "app/config")]
        a.secrets = [f"{name}/{s}" for s in ("rds-master", "stripe-key", "github-token")]
        a.tables = [f"{name}-{t}" for t in ("orders", "sessions", "users")]
        accounts.append(a)
    return accounts


def _build_actors(rng: random.Random, accounts: list[Account]) -> dict[str, list[Actor]]:
    """Actors by kind, across all accounts (each actor belongs to one account)."""
    by_kind: dict[str, list[Actor]] = {}

    def add(actor: Actor) -> None:
        by_kind.setdefault(actor.kind, []).append(actor)

    for a in accounts:
        ci_ip = _ipv4(rng, _AWS_NETS)
        add(Actor("terraform", a, _assumed_role(rng, a, a.roles[4], f"terraform-{_hex(rng, 8)}"), "terraform", agent=_TERRAFORM, ip=ci_ip))
        add(Actor("sdk", a, _iam_user(rng, a, "backup-bot", True), "backup-bot", agent=_BOTO3, ip=_ipv4(rng, _AWS_NETS)))
        add(Actor("sdk", a, _iam_user(rng, a, "metrics-exporter", True), "metrics-exporter", agent=_JAVA_AGENT, ip=_ipv4(rng, _AWS_NETS)))
        for person in _PEOPLE[:3]:
            add(Actor("cli", a, _assumed_role(rng, a, _SSO_ROLE, f"{person}@{_EMAIL_DOMAIN}"), person, person=person))
        for instance in a.instances[:4]:
            add(Actor("workload", a, _assumed_role(rng, a, a.roles[2], instance, invoked_by=None), instance, agent=_GO_AGENT, ip=_ipv4(rng, _AWS_NETS)))
        add(Actor("workload", a, _assumed_role(rng, a, a.roles[3], a.functions[0]), a.functions[0], agent=_BOTO3, ip=_ipv4(rng, _AWS_NETS)))
        add(Actor("workload", a, _assumed_role(rng, a, a.roles[0], "botocore-session-" + str(rng.randrange(10**9, 10**10))), "web-app", agent=_JAVA_AGENT, ip=_ipv4(rng, _AWS_NETS)))
        add(Actor("scanner", a, _assumed_role(rng, a, a.roles[5], "prowler-" + _hex(rng, 12)), "scanner", agent=_SCANNER_AGENT, ip=_ipv4(rng, _AWS_NETS)))
        for person in _PEOPLE:
            role = _SSO_ROLE if person in _PEOPLE[:4] else _SSO_READONLY_ROLE
            add(Actor("console", a, _assumed_role(rng, a, role, f"{person}@{_EMAIL_DOMAIN}", mfa=True), person, person=person, mfa=True))
        ops = _iam_user(rng, a, "ops-admin", False)
        add(Actor("console", a, ops, "ops-admin", person="ops-admin", mfa=True))
        add(Actor("root", a, {"type": "Root", "principalId": a.id, "arn": f"arn:aws:iam::{a.id}:root", "accountId": a.id}, "root", person="root"))
    return by_kind


# --- the catalogue of actions -------------------------------------------------------------
# Each builder returns (requestParameters, responseElements, resources, additionalEventData).

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
        "x-amz-id-2": _chars(rng, 76, _B64) + "=",
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
        params = {"instancesSet": {"items": [{"instanceId": instance}]}}
        if prev[1] == "running" and cur[1] == "stopping":
            params["force"] = False
        response = {"requestId": _uuid4(rng), "instancesSet": {"items": [{
            "instanceId": instance,
            "currentState": {"code": cur[0], "name": cur[1]},
            "previousState": {"code": prev[0], "name": prev[1]},
        }]}}
        return params, response, None, None
    return build


def _reboot(rng, a, region):
    return {"instancesSet": {"items": [{"instanceId": rng.choice(a.instances)}]}}, {"requestId": _uuid4(rng), "_return": True}, None, None


def _run_instances(rng, a, region):
    instance, eni = "i-" + _hex(rng, 17), "eni-" + _hex(rng, 17)
    subnet, vpc = "subnet-" + _hex(rng, 17), "vpc-" + _hex(rng, 17)
    ip = f"10.0.{rng.randrange(256)}.{rng.randrange(2, 254)}"
    sg = rng.choice(a.security_groups)
    params = {"instancesSet": {"items": [{"imageId": "ami-" + _hex(rng, 17), "minCount": 1, "maxCount": 1}]},
              "instanceType": rng.choice(("t3.micro", "t3.medium", "m6i.large", "c7g.xlarge")),
              "blockDeviceMapping": {}, "subnetId": subnet, "monitoring": {"enabled": False},
              "disableApiTermination": False, "disableApiStop": False, "clientToken": _uuid4(rng),
              "tagSpecificationSet": {"items": [{"resourceType": "instance", "tags": [{"key": "Name", "value": f"{a.name}-worker"},
                                                                                     {"key": "Environment", "value": a.name}]}]}}
    response = {"requestId": _uuid4(rng), "reservationId": "r-" + _hex(rng, 17), "ownerId": a.id, "groupSet": {},
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
                                                       "attachment": {"attachmentId": "eni-attach-" + _hex(rng, 17), "deviceIndex": 0, "networkCardIndex": 0,
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
             "tagSet": {"items": [{"key": "Owner", "value": rng.choice(_PEOPLE)}, {"key": "CostCenter", "value": str(rng.randrange(1000, 9999))}]}},
            {"requestId": _uuid4(rng), "_return": True}, None, None)


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
         "Condition": {"StringEquals": {"AWS:SourceArn": f"arn:aws:cloudfront::{a.id}:distribution/E{_chars(rng, 13)}"}}},
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
    role_id = "AROA" + _chars(rng, 17)
    return ({"roleArn": arn, "roleSessionName": session, "durationSeconds": 3600},
            {"credentials": {"accessKeyId": "ASIA" + _chars(rng, 16), "sessionToken": "", "expiration": "Mar 3, 2025, 1:00:00 PM"},
             "assumedRoleUser": {"assumedRoleId": f"{role_id}:{session}", "arn": f"arn:aws:sts::{a.id}:assumed-role/{role}/{session}"}},
            _res(a, "AWS::IAM::Role", arn), None)


def _kms(op: str):
    def build(rng, a, region):
        key = rng.choice(a.kms_keys)
        arn = f"arn:aws:kms:{region}:{a.id}:key/{key}"
        params = {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
        if op == "GenerateDataKey":
            params = {"keyId": f"alias/{a.name}-data", "keySpec": "AES_256"}
        params["encryptionContext"] = {"aws:lambda:FunctionArn": f"arn:aws:lambda:{region}:{a.id}:function:{rng.choice(a.functions)}"}
        return params, None, _res(a, "AWS::KMS::Key", arn), None
    return build


def _get_parameter(rng, a, region):
    return {"name": rng.choice(a.parameters), "withDecryption": rng.random() < 0.6}, None, None, None


def _get_secret(rng, a, region):
    return {"secretId": f"arn:aws:secretsmanager:{region}:{a.id}:secret:{rng.choice(a.secrets)}-{_chars(rng, 6, _ALNUM)}"}, None, None, None


def _update_instance_information(rng, a, region):
    instance = rng.choice(a.instances)
    return ({"instanceId": instance, "agentVersion": "3.3.1611.0", "agentStatus": "Active", "platformType": "Linux",
             "platformName": "Amazon Linux", "platformVersion": "2023", "iPAddress": "HIDDEN_DUE_TO_SECURITY_REASONS",
             "computerName": f"ip-10-0-{rng.randrange(256)}-{rng.randrange(2, 254)}.{region}.compute.internal",
             "agentName": "amazon-ssm-agent", "availabilityZone": region + "a", "availabilityZoneId": "use1-az4",
             "sSMConnectionChannel": "ssmmessages"}, None, None, None)


def _start_session(rng, a, region):
    target = rng.choice(a.instances)
    session = f"{rng.choice(_PEOPLE)}@{_EMAIL_DOMAIN}-{_hex(rng, 17)}"
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
            return {"logGroupName": group, "logStreamName": f"2025/03/03/[$LATEST]{_hex(rng, 32)}"}, None, None, None
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
            {"requestId": _uuid4(rng), "_return": True, "securityGroupRuleSet": {"items": [{"groupOwnerId": a.id, "groupId": sg,
             "securityGroupRuleId": "sgr-" + _hex(rng, 17), "isEgress": False, "ipProtocol": "tcp", "fromPort": port, "toPort": port,
             "cidrIpv4": "10.0.0.0/16", "description": "internal"}]}}, None, None)


def _put_role_policy(rng, a, region):
    return ({"roleName": rng.choice(a.roles), "policyName": "inline-s3-access",
             "policyDocument": orjson.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
                                                                                    "Resource": f"arn:aws:s3:::{rng.choice(a.buckets)}/*"}]}).decode()},
            None, None, None)


def _update_function_code(rng, a, region):
    fn = rng.choice(a.functions)
    return ({"functionName": fn, "s3Bucket": a.buckets[3], "s3Key": f"lambda/{fn}-{_hex(rng, 8)}.zip", "publish": True},
            {"functionName": fn, "functionArn": f"arn:aws:lambda:{region}:{a.id}:function:{fn}", "runtime": "python3.12",
             "role": f"arn:aws:iam::{a.id}:role/{a.roles[3]}", "handler": "app.handler", "codeSize": rng.randrange(10**4, 10**7),
             "description": "", "timeout": 30, "memorySize": 256, "lastModified": "2025-03-03T10:00:00.000+0000",
             "codeSha256": _chars(rng, 43, _B64) + "=", "version": str(rng.randrange(1, 300)), "tracingConfig": {"mode": "PassThrough"},
             "revisionId": _uuid4(rng), "state": "Active", "lastUpdateStatus": "InProgress", "packageType": "Zip",
             "architectures": ["arm64"], "ephemeralStorage": {"size": 512}}, None, None)


def _console_login(rng, a, region):
    return None, {"ConsoleLogin": "Success"}, None, {
        "LoginTo": "https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_us-east-1_" + _hex(rng, 16),
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
_KIND_WEIGHTS_DAY = {"programmatic_read": 56, "programmatic_write": 10, "service_call": 12, "service_event": 0.3,
                     "console_read": 14, "console_write": 5, "sign_in": 1.2, "cli_read": 1.5}
_KIND_WEIGHTS_NIGHT = {"programmatic_read": 70, "programmatic_write": 12, "service_call": 15, "service_event": 0.3,
                       "console_read": 1.0, "console_write": 0.3, "sign_in": 0.1, "cli_read": 0.3}


class _Picker:
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


def _regional(pairs: list) -> _Picker:
    kept = [p for p in pairs if not p[0].global_service]
    return _Picker([p[0] for p in kept], [p[-1] for p in kept])


def _everywhere(pairs: list) -> _Picker:
    return _Picker([p[0] for p in pairs], [p[-1] for p in pairs])


# --- the event -----------------------------------------------------------------------------

_THROTTLE = ("ThrottlingException", "Rate exceeded")
_CONSOLE_HOST = {"ec2": "ec2.{r}.amazonaws.com", "iam": "iam.amazonaws.com", "sts": "sts.{r}.amazonaws.com",
                 "signin": "signin.aws.amazon.com", "s3": "s3.{r}.amazonaws.com", "monitoring": "monitoring.{r}.amazonaws.com"}


class _Generator:
    def __init__(self, seed: int, start: datetime):
        self.rng = random.Random(seed)
        rng = self.rng
        self.accounts = _build_accounts(rng)
        self.actors = _build_actors(rng, self.accounts)
        self.actors_by_account: dict[tuple[str, str], list[Actor]] = {}
        for kind, actors in self.actors.items():
            for actor in actors:
                self.actors_by_account.setdefault((actor.account.id, kind), []).append(actor)
        self.start = start
        self.picks = {
            ("programmatic_read", False): _regional(PROGRAMMATIC_READS), ("programmatic_read", True): _everywhere(PROGRAMMATIC_READS),
            ("programmatic_write", False): _regional(PROGRAMMATIC_WRITES), ("programmatic_write", True): _everywhere(PROGRAMMATIC_WRITES),
            ("console_read", False): _regional(CONSOLE_READS), ("console_read", True): _everywhere(CONSOLE_READS),
            ("console_write", False): _regional(CONSOLE_WRITES), ("console_write", True): _everywhere(CONSOLE_WRITES),
        }
        self.service_calls = _Picker([(a, by) for a, by, _ in SERVICE_CALLS], [w for *_, w in SERVICE_CALLS])
        self.service_events = _everywhere(SERVICE_EVENTS)
        kinds = list(_KIND_WEIGHTS_DAY)
        self.kind_day = _Picker(kinds, [_KIND_WEIGHTS_DAY[k] for k in kinds])
        self.kind_night = _Picker(kinds, [_KIND_WEIGHTS_NIGHT[k] for k in kinds])
        self.vpc_endpoints = {a.id: "vpce-" + _hex(rng, 17) for a in self.accounts}
        self._time_cache: tuple[int, list[str]] = (-1, [])

    # times -----------------------------------------------------------------------------
    def window_times(self, window: int) -> list[str]:
        """eventTime strings for each second of a window (cached: formatting is the slow part)."""
        if self._time_cache[0] != window:
            base = self.start + timedelta(seconds=window * WINDOW_SECONDS)
            self._time_cache = (window, [(base + timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%SZ") for s in range(WINDOW_SECONDS)])
        return self._time_cache[1]

    # one event -------------------------------------------------------------------------
    def event(self, account: Account, region: str, when: str, kind: str) -> dict:
        rng = self.rng
        us_east_1 = region == "us-east-1"
        invoked_by = None
        event_type = "AwsApiCall"
        console = False
        if kind == "service_call":
            action, invoked_by = self.service_calls(rng)
            actor = None
        elif kind == "service_event":
            action = self.service_events(rng)
            event_type = "AwsServiceEvent"
            actor = None
        elif kind == "sign_in":
            if not us_east_1:
                return self.event(account, region, when, "console_read")
            action = SIGN_IN["SwitchRole" if rng.random() < 0.25 else "ConsoleLogin"]
            event_type = "AwsConsoleSignIn"
            people = self.actors_by_account[(account.id, "console")]
            actor = people[-1] if action.name == "SwitchRole" else (
                self.actors_by_account[(account.id, "root")][0] if rng.random() < 0.03 else rng.choice(people))
        elif kind in ("console_read", "console_write"):
            action = self.picks[(kind, us_east_1)](rng)
            actor = rng.choice(self.actors_by_account[(account.id, "console")])
            if kind == "console_write" and actor.identity.get("sessionContext", {}).get("sessionIssuer", {}).get("userName") == _SSO_READONLY_ROLE:
                actor = self.actors_by_account[(account.id, "console")][0]
            console = True
        elif kind == "cli_read":
            action = self.picks[("programmatic_read", us_east_1)](rng)
            actor = rng.choice(self.actors_by_account[(account.id, "cli")])
        else:
            action = self.picks[(kind, us_east_1)](rng)
            pool = ("sdk", "workload", "terraform") if kind == "programmatic_read" else ("workload", "workload", "terraform", "sdk")
            actor = rng.choice(self.actors_by_account[(account.id, rng.choice(pool))])
        return self._assemble(account, region, when, action, actor, invoked_by, event_type, console)

    def scanner_event(self, account: Account, region: str, when: str) -> dict:
        action = self.picks[("programmatic_read", region == "us-east-1")](self.rng)
        actor = self.actors_by_account[(account.id, "scanner")][0]
        return self._assemble(account, region, when, action, actor, None, "AwsApiCall", False)

    def _assemble(self, account: Account, region: str, when: str, action: Action, actor: Actor | None,
                  invoked_by: str | None, event_type: str, console: bool) -> dict:
        rng = self.rng
        service = action.source.split(".", 1)[0]
        params, response, resources, extra = action.build(rng, account, region)
        if actor is None:   # an AWS service
            identity = {"type": "AWSService", "invokedBy": invoked_by} if invoked_by else {"accountId": account.id, "invokedBy": action.source}
            source_ip = agent = invoked_by or action.source
        else:
            identity = actor.identity
            if event_type == "AwsConsoleSignIn" or console:
                source_ip = _office_ip(rng) if rng.random() < 0.9 else "AWS Internal"
                if event_type == "AwsConsoleSignIn" or service in ("ssm", "monitoring"):
                    agent = rng.choice(_BROWSERS)
                elif service == "s3":
                    agent = _S3_CONSOLE_AGENT
                elif service == "ec2" and rng.random() < 0.4:
                    agent = "console.ec2.amazonaws.com"
                elif rng.random() < 0.3:
                    agent = rng.choice(_CONSOLE_AGENTS)
                else:
                    agent = rng.choice(_BROWSERS)
            elif actor.kind == "cli":
                source_ip = _office_ip(rng)
                agent = _cli_agent(rng, service, action.name)
            else:
                source_ip = actor.ip or _ipv4(rng, _AWS_NETS)
                agent = actor.agent or _BOTO3
        error = None
        roll = rng.random()
        if event_type == "AwsApiCall":
            if actor is not None and actor.kind in ("console", "root") and not action.read_only and roll < 0.04:
                error = ("Client.UnauthorizedOperation", "You are not authorized to perform this operation. User: "
                         f"{identity.get('arn')} is not authorized to perform: {service}:{action.name} because no "
                         "identity-based policy allows the action.") if service == "ec2" else (
                    "AccessDenied", f"User: {identity.get('arn')} is not authorized to perform: {service}:{action.name} "
                    "with an explicit deny in a service control policy")
            elif actor is not None and action.read_only and roll < 0.02:
                error = _THROTTLE
            elif actor is not None and roll < 0.025:
                error = ("AccessDenied", f"User: {identity.get('arn')} is not authorized to perform: {service}:{action.name} "
                         "because no identity-based policy allows the action")
        elif action.name == "ConsoleLogin" and roll < 0.05:
            error = (None, "Failed authentication")
            response = {"ConsoleLogin": "Failure"}

        event: dict = {
            "eventVersion": action.version,
            "userIdentity": identity,
            "eventTime": when,
            "eventSource": action.source,
            "eventName": action.name,
            "awsRegion": region,
            "sourceIPAddress": source_ip,
            "userAgent": agent,
        }
        if error:
            if error[0]:
                event["errorCode"] = error[0]
            event["errorMessage"] = error[1]
            if error[0]:
                response = None
        event["requestParameters"] = params
        event["responseElements"] = response
        if extra is not None:
            event["additionalEventData"] = extra
        if event_type != "AwsConsoleSignIn":
            event["requestID"] = _chars(rng, 16) if service == "s3" else _uuid4(rng)
        event["eventID"] = _uuid4(rng)
        event["readOnly"] = action.read_only
        if resources is not None:
            event["resources"] = resources
        event["eventType"] = event_type
        event["managementEvent"] = True
        event["recipientAccountId"] = account.id
        if actor is None:
            event["sharedEventID"] = _uuid4(rng)
        elif actor.kind == "workload" and rng.random() < 0.1:
            event["vpcEndpointId"] = self.vpc_endpoints[account.id]
            event["vpcEndpointAccountId"] = account.id
        event["eventCategory"] = "Management"
        if actor is not None:
            host = _CONSOLE_HOST.get(service, "{s}.{r}.amazonaws.com").format(s=service, r=region)
            event["tlsDetails"] = {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": host}
        if event_type == "AwsServiceEvent":
            event["serviceEventDetails"] = ({"keyId": resources[0]["ARN"].rsplit("/", 1)[1]} if action.name == "RotateKey"
                                            else {"secretId": f"arn:aws:secretsmanager:{region}:{account.id}:secret:{account.secrets[0]}"})
        if console and event_type == "AwsApiCall":
            event["sessionCredentialFromConsole"] = "true"
        return event


# --- files ---------------------------------------------------------------------------------

def _account_prefix(account: Account) -> str:
    return f"AWSLogs/{ORG_ID}/{account.id}" if account.org_trail else f"AWSLogs/{account.id}"


def log_file_key(account: Account, region: str, delivered: datetime, suffix: str) -> str:
    """The S3 key CloudTrail gives a log file."""
    return (f"{_account_prefix(account)}/CloudTrail/{region}/{delivered:%Y/%m/%d}/"
            f"{account.id}_CloudTrail_{region}_{delivered:%Y%m%dT%H%MZ}_{suffix}.json.gz")


def digest_file_key(account: Account, region: str, end: datetime) -> str:
    """The S3 key CloudTrail gives a digest file (AWS docs: CloudTrail digest file structure)."""
    return (f"{_account_prefix(account)}/CloudTrail-Digest/{region}/{end:%Y/%m/%d}/"
            f"{account.id}_CloudTrail-Digest_{region}_{TRAIL_NAME}_{region}_{end:%Y%m%dT%H%M%SZ}.json.gz")


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


class _DigestLog:
    """The log files one (account, region) delivered in the current hour, for its digest file."""

    def __init__(self):
        self.files: list[dict] = []
        self.previous: tuple[str, str] | None = None


def demo_start(now: datetime | None = None) -> datetime:
    """Where `ctstack up --sample` starts its demo data: 06:00 UTC on the last Monday before
    today. Recent enough for the dashboard's default time range, and the same all week, so
    re-running `up` rewrites identical files (whose events are then already present)."""
    now = now or datetime.now(timezone.utc)
    today = now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    monday = today - timedelta(days=today.weekday() or 7)
    return monday.replace(hour=6)


def write_sample(dest_dir: str | Path, *, events: int = SAMPLE_EVENTS, seed: int = SAMPLE_SEED, start: datetime = DEFAULT_START,
                 digests: bool = True) -> GenerateStats:
    """Write ``events`` CloudTrail events under ``dest_dir`` in CloudTrail's S3 layout.

    ``dest_dir/AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<random16>.json.gz``
    (one account under ``AWSLogs/<org-id>/`` as an organisation trail writes it), plus, with
    ``digests``, a few ``CloudTrail-Digest`` files. The same arguments give the same bytes,
    so writing the demo set again (``write_sample(dir)``) rewrites identical files.
    """
    if events < 0:
        raise ValueError("events must be >= 0")
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    gen = _Generator(seed, start)
    rng = gen.rng
    stats = GenerateStats(accounts=[a.id for a in gen.accounts],
                          regions=sorted({r for a in gen.accounts for r in a.regions}))
    made_dirs: set[Path] = set()
    digest_logs: dict[tuple[str, str], _DigestLog] = {}
    busiest = {(a.id, max(a.regions, key=a.regions.get)) for a in gen.accounts}   # where digest files are written

    def write(key: str, payload: bytes) -> int:
        path = dest / key
        if path.parent not in made_dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            made_dirs.add(path.parent)
        data = _gzip(payload)
        path.write_bytes(data)
        return len(data)

    def write_digests(end: datetime, hour_start: datetime) -> None:
        for account in gen.accounts:
            for region in account.regions:
                if (account.id, region) not in busiest:
                    continue
                log = digest_logs.setdefault((account.id, region), _DigestLog())
                key = digest_file_key(account, region, end)
                previous = log.previous
                body = {
                    "awsAccountId": account.id,
                    "digestStartTime": hour_start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "digestEndTime": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "digestS3Bucket": TRAIL_BUCKET,
                    "digestS3Object": key,
                    "digestPublicKeyFingerprint": _hex(rng, 32),
                    "digestSignatureAlgorithm": "SHA256withRSA",
                    "newestEventTime": log.files[-1]["newestEventTime"] if log.files else None,
                    "oldestEventTime": log.files[0]["oldestEventTime"] if log.files else None,
                    "previousDigestS3Bucket": TRAIL_BUCKET if previous else None,
                    "previousDigestS3Object": previous[0] if previous else None,
                    "previousDigestHashValue": previous[1] if previous else None,
                    "previousDigestHashAlgorithm": "SHA-256" if previous else None,
                    "previousDigestSignature": _hex(rng, 512) if previous else None,
                    "logFiles": log.files,
                }
                payload = orjson.dumps(body)
                stats.compressed_bytes += write(key, payload)
                stats.digest_files += 1
                log.previous = (key, hashlib.sha256(payload).hexdigest())
                log.files = []

    remaining = events
    window = 0
    while remaining > 0:
        window_start = start + timedelta(seconds=window * WINDOW_SECONDS)
        delivered = window_start + timedelta(seconds=WINDOW_SECONDS + rng.randrange(0, 60))
        hour = window_start.hour
        day_time = 7 <= hour < 19 and window_start.weekday() < 5
        kind_pick = gen.kind_day if day_time else gen.kind_night
        times = gen.window_times(window)
        for account in gen.accounts:
            for region, mean in account.regions.items():
                if remaining <= 0:
                    break
                burst = 0
                if mean < 1:
                    count = rng.randrange(1, 5) if rng.random() < mean else 0
                else:
                    scale = 1.0 if day_time else 0.45
                    count = int(rng.lognormvariate(math.log(mean * scale) - 0.32, 0.8))
                    daily_scan = hour == _SCAN_HOUR and window_start.minute == 0 and account is gen.accounts[0] and (account.id, region) in busiest
                    if daily_scan or rng.random() < _BURST_PROBABILITY:
                        burst = rng.randrange(*_BURST_EVENTS)
                count = min(count + burst, remaining)
                if count <= 0:
                    continue
                seconds = sorted(rng.randrange(WINDOW_SECONDS) for _ in range(count))
                records = []
                for i, second in enumerate(seconds):
                    when = times[second]
                    # a burst's events interleave with the ordinary traffic of the window
                    if burst and rng.random() < burst / count:
                        records.append(gen.scanner_event(account, region, when))
                    else:
                        records.append(gen.event(account, region, when, kind_pick(rng)))
                payload = orjson.dumps({"Records": records})
                key = log_file_key(account, region, delivered, _chars(rng, 16, _ALNUM))
                stats.compressed_bytes += write(key, payload)
                stats.uncompressed_bytes += len(payload)
                stats.files += 1
                stats.events += count
                stats.largest_file_events = max(stats.largest_file_events, count)
                if not stats.first_event_time:
                    stats.first_event_time = records[0]["eventTime"]
                stats.last_event_time = max(stats.last_event_time, records[-1]["eventTime"])
                remaining -= count
                if digests and (account.id, region) in busiest:
                    digest_logs.setdefault((account.id, region), _DigestLog()).files.append({
                        "s3Bucket": TRAIL_BUCKET, "s3Object": key, "hashValue": hashlib.sha256(payload).hexdigest(),
                        "hashAlgorithm": "SHA-256", "newestEventTime": records[-1]["eventTime"],
                        "oldestEventTime": records[0]["eventTime"]})
        window += 1
        window_end = start + timedelta(seconds=window * WINDOW_SECONDS)
        if digests and window_end.minute == 0:
            hours_in = int((window_end - start).total_seconds()) // 3600
            if hours_in % DIGEST_EVERY_HOURS == 1 % DIGEST_EVERY_HOURS:
                write_digests(window_end, window_end - timedelta(hours=1))
            else:
                for log in digest_logs.values():
                    log.files = []
    if digests and stats.digest_files == 0 and events > 0:
        end = start + timedelta(seconds=window * WINDOW_SECONDS)
        write_digests(end, end - timedelta(hours=1))
    return stats
