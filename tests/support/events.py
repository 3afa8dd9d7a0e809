"""Hand-written CloudTrail events for tests: a realistic base event, changed per case."""

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


def event(**changes: Any) -> dict:
    """A copy of BASE_EVENT with top-level changes; a value of None removes the key."""
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
        out.append(event(
            eventID=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{seed}-{i}")),
            eventTime=f"{month}-{(i % 28) + 1:02d}T{(i // 28) % 24:02d}:{i % 60:02d}:00Z",
            eventName=("DescribeInstances", "StartInstances", "ListBuckets", "PutBucketPolicy")[i % 4],
        ))
    return out
