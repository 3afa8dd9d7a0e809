"""Hand-written CloudTrail events for tests: `api_call()`, a realistic aws-cli call by an IAM
user (BASE_EVENT) changed per case, and the shapes console detection must tell apart. An
event made by a person in an assumed role, console by default, is `role_event()` in
tests/support/trail.py."""

from __future__ import annotations

import copy
import gzip
import uuid
from pathlib import Path
from typing import Any

import orjson

BASE_EVENT: dict[str, Any] = {
    "eventVersion": "1.09",
    "userIdentity": {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLEPRINCIPAL",
        "arn": "arn:aws:iam::111122223333:user/alice",
        "accountId": "111122223333",
        "accessKeyId": "AKIAEXAMPLEKEY000001",
        "userName": "alice",
    },
    "eventTime": "2024-05-06T07:08:09Z",
    "eventSource": "ec2.amazonaws.com",
    "eventName": "StartInstances",
    "awsRegion": "eu-west-1",
    "sourceIPAddress": "203.0.113.10",
    "userAgent": "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64",
    "requestParameters": {"instancesSet": {"items": [{"instanceId": "i-0123456789abcdef0"}]}},
    "responseElements": {"instancesSet": {"items": [{"instanceId": "i-0123456789abcdef0", "currentState": {"code": 0, "name": "pending"}}]}},
    "requestID": "5f1d6a8e-1111-2222-3333-444455556666",
    "eventID": "7b4b2a1c-aaaa-bbbb-cccc-ddddeeeeffff",
    "readOnly": False,
    "eventType": "AwsApiCall",
    "managementEvent": True,
    "recipientAccountId": "111122223333",
    "eventCategory": "Management",
}


def api_call(**changes: Any) -> dict:
    """An aws-cli call: a copy of BASE_EVENT with top-level changes; a value of None removes the key."""
    ev = copy.deepcopy(BASE_EVENT)
    for key, value in changes.items():
        if value is None:
            ev.pop(key, None)
        else:
            ev[key] = value
    return ev


def write_trail_file(path: Path, events: list, gz: bool = True) -> Path:
    """Write events as CloudTrail delivers them: {"Records": [...]}, gzipped."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = orjson.dumps({"Records": events})
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def many_events(count: int, seed: str = "x", month: str = "2024-05") -> list[dict]:
    """`count` distinct events (deterministic eventIDs) spread over one month."""
    out = []
    for i in range(count):
        out.append(api_call(
            eventID=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{seed}-{i}")),
            eventTime=f"{month}-{(i % 28) + 1:02d}T{(i // 28) % 24:02d}:{i % 60:02d}:00Z",
            eventName=("DescribeInstances", "StartInstances", "ListBuckets", "PutBucketPolicy")[i % 4],
        ))
    return out


# The shapes console detection must tell apart: what the console, aws-cli v2, S3 and CloudFormation really send.
BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15"
# aws-cli 2.x appends the command it ran as metadata: the word "console" in it is no console.
CLI_V2_SERIAL_CONSOLE = (
    "aws-cli/2.17.32 md/awscrt#0.20.11 ua/2.0 os/linux#6.1.102-108.177.amzn2023.x86_64 md/arch#x86_64 "
    "lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#amzn.2023 "
    "md/prompt#off md/command#ec2.enable-serial-console-access"
)
CLOUDSHELL_CLI = "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.79-99.164.amzn2023.x86_64 exec-env/CloudShell exe/x86_64.amzn.2023 prompt/off command/s3.ls"
CONSOLE_USER = {
    "type": "AssumedRole",
    "principalId": "AROAEXAMPLEROLEID0001:alice",
    "arn": "arn:aws:sts::111122223333:assumed-role/Admin/alice",
    "accountId": "111122223333",
    "accessKeyId": "ASIAEXAMPLEKEY000001",
    "sessionContext": {
        "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLEROLEID0001", "arn": "arn:aws:iam::111122223333:role/Admin",
                          "accountId": "111122223333", "userName": "Admin"},
        "attributes": {"creationDate": "2024-05-06T07:00:00Z", "mfaAuthenticated": "true"},
    },
}


def console_write(**changes) -> dict:
    """A change made by a console user in a browser: an automation candidate unless a rule says no."""
    return api_call(**{"userIdentity": CONSOLE_USER, "userAgent": BROWSER, "sessionCredentialFromConsole": "true",
                    "readOnly": False, **changes})


ANONYMOUS = {"type": "AWSAccount", "principalId": "", "accountId": "ANONYMOUS_PRINCIPAL"}


def s3_anonymous_read(**changes) -> dict:
    """A public website's object fetched by a browser: S3 brackets the agent, nobody is signed in."""
    return api_call(**{
        "eventVersion": "1.10", "userIdentity": ANONYMOUS, "eventSource": "s3.amazonaws.com", "eventName": "GetObject",
        "userAgent": "[Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36]",
        "requestParameters": {"bucketName": "www.example.com", "Host": "www.example.com.s3.amazonaws.com", "key": "index.html"},
        "readOnly": True, "eventCategory": "Data", "managementEvent": False, "recipientAccountId": "111122223333",
        "resources": [{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::www.example.com/index.html"}],
        **changes,
    })


def cloudformation_create_role() -> dict:
    """A stack a console user deployed creates a role: CloudFormation makes the call."""
    identity = {**CONSOLE_USER, "invokedBy": "cloudformation.amazonaws.com"}
    return console_write(eventSource="iam.amazonaws.com", eventName="CreateRole", userIdentity=identity,
                         sourceIPAddress="cloudformation.amazonaws.com", userAgent="cloudformation.amazonaws.com",
                         requestParameters={"roleName": "stack-LambdaRole-1ABC"})
