"""How ctstack decides console vs programmatic, read-only vs changing, and what to automate.

Each rule from the importer issue has a hand-written case here."""

from __future__ import annotations

import pytest

from provision.classify import event_id, is_automation_candidate, is_console, is_read_only
from tests.support.events import event


@pytest.mark.parametrize(
    "changes",
    [
        {"eventType": "AwsConsoleSignIn", "userAgent": "aws-cli/2"},
        {"sessionCredentialFromConsole": True},
        {"sessionCredentialFromConsole": "true"},
        {"sessionCredentialFromConsole": "TRUE"},
        {"userAgent": "console.amazonaws.com"},
        {"userAgent": "console.ec2.amazonaws.com"},
        {"userAgent": "[console.ec2.amazonaws.com]"},
        {"userAgent": "EC2ConsoleFrontend, aws-internal/3 aws-sdk-java/1.12"},
        {"userAgent": "AWS Internal Console"},
        {"userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15"},
        {"userAgent": "[Mozilla/5.0 (Windows NT 10.0; Win64; x64)]"},
        {"userAgent": "signin.amazonaws.com"},
        {"userAgent": "Signin.amazonaws.com/extra"},
    ],
)
def test_console_events(changes):
    assert is_console(event(**changes))


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"userAgent": "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux"},
        {"userAgent": "AWS Internal"},
        {"userAgent": "ec2.amazonaws.com"},
        {"sessionCredentialFromConsole": "false"},
        {"sessionCredentialFromConsole": False},
        {"userAgent": None},
        {"userAgent": 12},
        {"userAgent": "xmozilla/5.0"},
    ],
)
def test_programmatic_events(changes):
    assert not is_console(event(**changes))


@pytest.mark.parametrize(
    "read_only, name, expected",
    [
        (True, "StartInstances", True),        # the event's own flag wins
        (False, "DescribeInstances", False),
        ("true", "StartInstances", True),
        ("FALSE", "DescribeInstances", False),
        (None, "DescribeInstances", True),     # no flag: by name
        (None, "GetObject", True),
        (None, "ListBuckets", True),
        (None, "HeadObject", True),
        (None, "LookupEvents", True),
        (None, "SearchResources", True),
        (None, "BatchGetItem", True),
        (None, "List", True),                  # the verb alone
        (None, "Getaway", False),              # verb followed by lower case
        (None, "Listen", False),
        (None, "StartInstances", False),
        (None, "BatchWriteItem", False),
        ("maybe", "PutObject", False),         # not a boolean: by name
        ("maybe", "GetObject", True),
    ],
)
def test_read_only(read_only, name, expected):
    assert is_read_only(event(readOnly=read_only, eventName=name)) is expected


def test_automation_candidate_is_a_changing_console_action():
    console_write = event(userAgent="console.ec2.amazonaws.com", eventName="StopInstances", readOnly=False)
    assert is_automation_candidate(console_write)


@pytest.mark.parametrize(
    "changes",
    [
        {"userAgent": "console.ec2.amazonaws.com", "readOnly": True, "eventName": "DescribeInstances"},
        {"userAgent": "aws-cli/2", "readOnly": False},
        {"eventType": "AwsConsoleSignIn", "eventName": "ConsoleLogin", "readOnly": False, "userAgent": "Mozilla/5.0"},
    ],
)
def test_not_automation_candidates(changes):
    assert not is_automation_candidate(event(**changes))


def test_event_id_is_the_event_id_when_present():
    assert event_id(event(eventID="abc")) == "abc"


def test_event_without_id_gets_a_stable_hash_independent_of_key_order():
    a = event(eventID=None)
    b = dict(reversed(list(a.items())))
    assert event_id(a) == event_id(b)
    assert len(event_id(a)) == 64
    assert event_id(a) != event_id(event(eventID=None, eventName="Other"))
