"""Hand-written CloudTrail events and files, shaped like the real ones in tests/data/cloudtrail.

`role_event()` makes one event; by default a console action by alice that changes something.
`write_trail()` writes events the way CloudTrail delivers them to S3.
"""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path
from typing import Any

from tests.support.events import ANONYMOUS

ACCOUNT = "111122223333"
CONSOLE_AGENT = "AWS Internal"  # what some console calls carry; console-ness then comes from the session
BROWSER_AGENT = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.3 Safari/605.1.15"
CLI_AGENT = "aws-cli/2.17.0 md/awscrt#0.20.11 ua/2.0 os/linux#6.8 md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe"

_ids = itertools.count(1)


def role_event(
    name: str = "RunInstances",
    source: str = "ec2.amazonaws.com",
    *,
    user: str = "alice",
    time: str = "2024-08-01T10:00:00Z",
    agent: str = BROWSER_AGENT,
    read_only: Any = False,
    account: str = ACCOUNT,
    region: str = "eu-west-1",
    event_id: str | None = "auto",
    **extra: Any,
) -> dict:
    """One event; `read_only=None` leaves readOnly out, `event_id=None` leaves eventID out."""
    record: dict[str, Any] = {
        "eventVersion": "1.10",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": f"AROAEXAMPLEROLEID:{user}",
            "arn": f"arn:aws:sts::{account}:assumed-role/Admin/{user}",
            "accountId": account,
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLEROLEID", "arn": f"arn:aws:iam::{account}:role/Admin", "accountId": account, "userName": "Admin"},
                "attributes": {"creationDate": time, "mfaAuthenticated": "true"},
            },
        },
        "eventTime": time,
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": "203.0.113.10",
        "userAgent": agent,
        "requestParameters": {},
        "responseElements": None,
        "requestID": f"req-{next(_ids)}",
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }
    if read_only is not None:
        record["readOnly"] = read_only
    if event_id == "auto":
        record["eventID"] = f"00000000-0000-4000-8000-{next(_ids):012d}"
    elif event_id is not None:
        record["eventID"] = event_id
    record.update(extra)
    return record


def write_trail(folder: Path, events: list[dict], name: str = "trail", region: str = "eu-west-1") -> Path:
    """Write events as one gzipped CloudTrail delivery file in the S3 layout; returns its path."""
    path = folder / "AWSLogs" / ACCOUNT / "CloudTrail" / region / "2024" / "08" / "01" / f"{ACCOUNT}_CloudTrail_{region}_20240801T1000Z_{name}.json.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(json.dumps({"Records": events}).encode()))
    return path


# A team's console habits over four weeks: (source, name, weight, read-only). Realistic names;
# the weights make a few changes dominate, as in real trails.
_CONSOLE_HABITS = [
    ("ec2.amazonaws.com", "DescribeInstances", 40, True),
    ("ec2.amazonaws.com", "DescribeSecurityGroups", 18, True),
    ("s3.amazonaws.com", "ListBuckets", 14, True),
    ("monitoring.amazonaws.com", "DescribeAlarms", 10, True),
    ("iam.amazonaws.com", "ListRoles", 8, True),
    ("ec2.amazonaws.com", "StopInstances", 9, False),
    ("ec2.amazonaws.com", "StartInstances", 8, False),
    ("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", 6, False),
    ("monitoring.amazonaws.com", "PutMetricAlarm", 5, False),
    ("s3.amazonaws.com", "PutBucketPolicy", 4, False),
    ("iam.amazonaws.com", "AttachRolePolicy", 3, False),
    ("lambda.amazonaws.com", "UpdateFunctionCode20150331v2", 3, False),
    ("ec2.amazonaws.com", "CreateTags", 3, False),
    ("cloudshell.amazonaws.com", "DeleteEnvironment", 2, False),  # no public API (CreateEnvironment is plumbing)
    ("iam.amazonaws.com", "CreateUser", 1, False),
    ("ec2.amazonaws.com", "RunInstances", 1, False),
]
_TEAM = ["alice", "bob", "carol", "dave", "erin"]


def demo_events(seed: int = 7, days: int = 28, per_day: int = 24) -> list[dict]:
    """Console activity of a small team (plus sign-ins and programmatic calls), deterministic."""
    import random

    rng = random.Random(seed)
    # Each change is done by a few people (2 to 5 of the team), reads by anyone.
    habits = [(s, n, ro, 2 + i % 4) for i, (s, n, w, ro) in enumerate(_CONSOLE_HABITS) for _ in range(w)]
    events = []
    for day in range(days):
        weekend = day % 7 in (5, 6)
        for _ in range(per_day // 6 if weekend else per_day + rng.randint(-6, 6)):
            source, name, read_only, people = rng.choice(habits)
            user = rng.choice(_TEAM if read_only else _TEAM[:people])
            region = rng.choice(["eu-west-1", "eu-west-1", "us-east-1"])
            events.append(role_event(name, source, user=user, time=_day(day, rng), read_only=read_only, region=region))
        for user in rng.sample(_TEAM, 3):
            events.append(role_event("ConsoleLogin", "signin.amazonaws.com", user=user, time=_day(day, rng), eventType="AwsConsoleSignIn", read_only=False))
        for _ in range(10):
            events.append(role_event("PutObject", "s3.amazonaws.com", user="ci-deploy", time=_day(day, rng), agent=CLI_AGENT))
    return events


def _day(day: int, rng) -> str:
    from datetime import datetime, timedelta

    moment = datetime(2024, 7, 22, 7) + timedelta(days=day, seconds=rng.randint(0, 11 * 3600))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


CLI_V2_COMMAND_AGENT = CLI_AGENT + " md/prompt#off md/command#ec2.enable-serial-console-access"


def once_misclassified_events(time: str = "2024-08-03T09:00:00Z") -> list[dict]:
    """One event of each kind once misclassified as console work, in CloudTrail's shapes: none is a
    candidate except the signin-invoked ChangePassword."""
    signin_user = {"type": "IAMUser", "principalId": "AIDAEXAMPLEPRINCIPAL", "arn": f"arn:aws:iam::{ACCOUNT}:user/frank",
                   "accountId": ACCOUNT, "userName": "frank", "invokedBy": "signin.amazonaws.com"}
    stack_role = role_event("CreateRole", "iam.amazonaws.com", user="grace", time=time, agent="cloudformation.amazonaws.com",
                       sourceIPAddress="cloudformation.amazonaws.com", sessionCredentialFromConsole="true")
    stack_role["userIdentity"]["invokedBy"] = "cloudformation.amazonaws.com"
    return [
        role_event("EnableSerialConsoleAccess", user="heidi", time=time, agent=CLI_V2_COMMAND_AGENT),
        role_event("GetObject", "s3.amazonaws.com", time=time, read_only=True, userIdentity=dict(ANONYMOUS), eventCategory="Data",
              agent="[Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36]"),
        role_event("PutObject", "s3.amazonaws.com", time=time, userIdentity=dict(ANONYMOUS), eventCategory="Data",
              agent="[Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0]"),
        stack_role,
        role_event("ChangePassword", "iam.amazonaws.com", time=time, agent="signin.amazonaws.com", userIdentity=signin_user),
        role_event("UpdateBillingPreferences", "billingconsole.amazonaws.com", user="grace", time=time, agent=CONSOLE_AGENT,
              eventType="AwsConsoleAction"),
        *(role_event(name, source, user="grace", time=time) for source, name in (
            ("cloudshell.amazonaws.com", "CreateEnvironment"), ("cloudshell.amazonaws.com", "CreateSession"),
            ("cloudshell.amazonaws.com", "PutCredentials"), ("support.amazonaws.com", "CreateCase"),
            ("sso.amazonaws.com", "Federate"), ("logs.amazonaws.com", "StartQuery"), ("signin.amazonaws.com", "SwitchRole"),
        )),
    ]
