"""Hand-written CloudTrail events and files, shaped like the real ones in ../shared/data.

`event()` makes one event; by default a console action by alice that changes something.
`write_trail()` writes events the way CloudTrail delivers them to S3.
"""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path
from typing import Any

ACCOUNT = "111122223333"
CONSOLE_AGENT = "AWS Internal"  # what some console calls carry; console-ness then comes from the session
BROWSER_AGENT = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.3 Safari/605.1.15"
CLI_AGENT = "aws-cli/2.17.0 md/awscrt#0.20.11 ua/2.0 os/linux#6.8 md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe"

_ids = itertools.count(1)


def event(
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
