"""A hostile CloudTrail corpus: console calls (successful and denied) whose logged values try
to become code, options, file or URL references, or terminal control in ctstack's outputs.

Every value class the automation must treat as data appears in request parameters, tag keys
and values, user names and event names. Values that would fetch a URL point at
``canary_url`` (a listener of the test's own on 127.0.0.1: any connection is a failure);
values that would read a file name ``CANARY_FILE`` in the working directory (its text must
never reach moto); values that would run a command create ``PWNED_FILE``.
"""

from __future__ import annotations

import json
import socket
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

ACCOUNT = "210987654321"
REGION = "eu-west-1"
CANARY_FILE = "canary-secret.txt"
CANARY_TEXT = "CANARY-FILE-CONTENTS-7f3a"
PWNED_FILE = "pwned"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
CONTROL = "\x1b]52;c;ZWNobyBwd25lZA==\x07\x1b[2J\x1b[8mhidden\x1b[0m\u202eevil\u200b\r"


def hostile_values(canary_url: str) -> list[str]:
    """One of each value class."""
    return [
        f"$(touch {PWNED_FILE})",
        f"`touch {PWNED_FILE}`",
        f"'; touch {PWNED_FILE}; '",
        f"x\ntouch {PWNED_FILE}\n",
        f"--endpoint-url={canary_url}",
        "--debug",
        "-x",
        f"file://{CANARY_FILE}",
        f"fileb://{CANARY_FILE}",
        f"FILE://{CANARY_FILE}",
        f"{canary_url}/url-param",
        canary_url.replace("http://", "https://") + "/url-param",
        "cost-center",
        "a,b c=d",
        "<img src=x onerror=alert(1)>",
        CONTROL,
    ]


class CanaryListener:
    """A TCP listener on 127.0.0.1 that counts connections (nothing may connect)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


def _event(when: datetime, user: str, source: str, name: str, params: dict | None, response: dict | None,
           error: str | None = None, session: str = "") -> dict:
    event = {
        "eventVersion": "1.10",
        "userIdentity": {
            "type": "AssumedRole", "principalId": f"AROAHOSTILE:{user}", "accountId": ACCOUNT,
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/{user}",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": f"arn:aws:iam::{ACCOUNT}:role/Admin", "userName": "Admin"},
                               "attributes": {"creationDate": session or when.strftime("%Y-%m-%dT%H:%M:%SZ"), "mfaAuthenticated": "true"}},
        },
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "eventSource": source, "eventName": name, "awsRegion": REGION,
        "sourceIPAddress": "198.51.100.7", "userAgent": BROWSER, "requestParameters": params, "responseElements": response,
        "eventID": f"hostile-{when.timestamp():.0f}-{name[:20]}-{abs(hash((user, name, json.dumps(params, sort_keys=True)))) % 10**8}",
        "readOnly": False, "eventType": "AwsApiCall", "managementEvent": True, "recipientAccountId": ACCOUNT,
    }
    if error:
        event["errorCode"] = error
        event["errorMessage"] = "User is not authorized to perform this operation"
    return event


def write_corpus(folder: Path, canary_url: str) -> dict:
    """The corpus as one CloudTrail file; returns what a test checks against."""
    values = hostile_values(canary_url)
    users = ["mallory", f"eve$(touch {PWNED_FILE})", "oscar\ntouch pwned<script>alert(1)</script>", "trent" + CONTROL]
    start = datetime(2025, 3, 3, 9, tzinfo=timezone.utc)
    events: list[dict] = []
    denied = 0
    for day in range(4):
        user = users[day % len(users)]
        base = start + timedelta(days=day)
        group_id = f"sg-0{day}a1b2c3d4e5f6789"
        tags = [{"key": v, "value": values[(k + day) % len(values)]} for k, v in enumerate(values)]
        steps = [
            ("ec2.amazonaws.com", "CreateSecurityGroup",
             {"groupName": f"{values[day % len(values)]}-{day}", "groupDescription": values[(day + 7) % len(values)]},
             {"_return": True, "groupId": group_id}),
            ("ec2.amazonaws.com", "CreateTags",
             {"resourcesSet": {"items": [{"resourceId": group_id}]}, "tagSet": {"items": tags}}, {"_return": True}),
            ("console.hostile.amazonaws.com", f"Do$(touch {PWNED_FILE})\nThing{CONTROL}", {"x": values[0]}, None),
            ("iam.amazonaws.com", "CreateUser", {"userName": f"u{day}", "tags": [{"key": v, "value": "x"} for v in values[:4]]}, None),
            ("iam.amazonaws.com", "CreateLoginProfile", {"userName": f"u{day}", "password": "HIDDEN_DUE_TO_SECURITY_REASONS"}, None),
        ]
        for n, (source, name, params, response) in enumerate(steps):
            events.append(_event(base + timedelta(minutes=n), user, source, name, params, response,
                                 session=base.strftime("%Y-%m-%dT%H:%M:%SZ")))
        # Denied calls with the same hostile values, in the same session: never candidates.
        for n, value in enumerate(values):
            events.append(_event(base + timedelta(minutes=10 + n), user, "ec2.amazonaws.com", "CreateSecurityGroup",
                                 {"groupName": value, "groupDescription": value, "vpcId": value}, None, error="Client.UnauthorizedOperation",
                                 session=(base).strftime("%Y-%m-%dT%H:%M:%SZ")))
            denied += 1
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hostile.json").write_text(json.dumps({"Records": events}))
    return {"denied": denied, "values": values, "users": users}
