"""How ctstack decides console vs programmatic, read-only vs changing, and what to automate.

Each rule of the importer and of console detection (without its known false positives) has a hand-written case here, in the shapes CloudTrail delivers."""

from __future__ import annotations

import pytest

from provision.cloudtrail import classify
from provision.cloudtrail.classify import event_id, is_automation_candidate, is_console, is_read_only
from provision.core.errors import CtstackError
from tests.support.events import (
    CLI_V2_SERIAL_CONSOLE, CLOUDSHELL_CLI, CONSOLE_USER, cloudformation_create_role, console_write, api_call, s3_anonymous_read,
)

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
        {"userAgent": "[S3Console/0.4]"},
        {"userAgent": "[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.488 Linux/5.10 OpenJDK_64-Bit_Server_VM/25.372-b08 java/1.8.0_372]"},
        {"userAgent": "AWSLambdaConsole/1.0"},
        {"userAgent": "s3console"},                           # case-insensitive
        {"eventVersion": "1.05", "userAgent": "console.amazonaws.com", "sessionCredentialFromConsole": None},  # pre-1.08
        {"sessionCredentialFromConsole": "true", "userAgent": "AWS Internal"},
        {"sessionCredentialFromConsole": True, "userAgent": CLOUDSHELL_CLI},
        {"eventType": "AwsConsoleAction", "userAgent": "AWS Internal"},
        {"userAgent": None, "sessionCredentialFromConsole": True},
        {"userIdentity": None, "userAgent": "console.amazonaws.com"},
        {"userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15"},
        {"userAgent": "[Mozilla/5.0 (Windows NT 10.0; Win64; x64)]"},
        {"userAgent": "signin.amazonaws.com"},
        {"userAgent": "Signin.amazonaws.com/extra"},
    ],
)
def test_console_events(changes):
    assert is_console(api_call(**changes))


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
        {"userAgent": "AWS Internal Console"},                 # the word alone is no console product token
        {"userAgent": CLI_V2_SERIAL_CONSOLE},
        {"userAgent": "aws-cli/2.17.32 md/command#s3console.ls"},
        {"userAgent": "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 cfg/console.amazonaws.com app/S3Console exec-env/EC2ConsoleFrontend"},
        {"userAgent": "aws-sdk-java/1.12 Mozilla/5.0"},       # a browser only as the first token
        {"userAgent": "myconsole.amazonaws.com"},
        {"userAgent": "console.amazonaws.com.evil.example"},
        {"userAgent": ""},
        {"userAgent": "[ ]"},
        {"userIdentity": None, "userAgent": None},
    ],
)
def test_programmatic_events(changes):
    assert not is_console(api_call(**changes))


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
    assert is_read_only(api_call(readOnly=read_only, eventName=name)) is expected


def test_automation_candidate_is_a_changing_console_action():
    console_write = api_call(userAgent="console.ec2.amazonaws.com", eventName="StopInstances", readOnly=False)
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
    assert not is_automation_candidate(api_call(**changes))


def test_event_id_is_the_event_id_when_present():
    assert event_id(api_call(eventID="abc")) == "abc"


def test_event_without_id_gets_a_stable_hash_independent_of_key_order():
    a = api_call(eventID=None)
    b = dict(reversed(list(a.items())))
    assert event_id(a) == event_id(b)
    assert len(event_id(a)) == 64
    assert event_id(a) != event_id(api_call(eventID=None, eventName="Other"))


# -- The known false positives ---------------------------------------------------------------------

def test_aws_cli_v2_command_metadata_is_not_console():
    cli_call = api_call(eventName="EnableSerialConsoleAccess", userAgent=CLI_V2_SERIAL_CONSOLE, readOnly=False)
    assert not is_console(cli_call)
    assert not is_automation_candidate(cli_call)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"eventName": "PutObject", "readOnly": False},                                       # a public-write bucket
        {"userIdentity": {"type": "AWSAccount", "principalId": "", "accountId": "123456789012"}},  # empty principalId
        {"userIdentity": {"accountId": "ANONYMOUS_PRINCIPAL"}},
        {"sessionCredentialFromConsole": "true", "eventType": "AwsConsoleSignIn"},          # no signal beats anonymity
    ],
)
def test_anonymous_principals_are_never_console(changes):
    anonymous = s3_anonymous_read(**changes)
    assert not is_console(anonymous)
    assert not is_automation_candidate(anonymous)


def test_another_account_with_a_principal_is_not_anonymous():
    cross_account = console_write(userIdentity={"type": "AWSAccount", "principalId": "AIDAEXAMPLE", "accountId": "444455556666"})
    assert is_console(cross_account) and is_automation_candidate(cross_account)


def test_console_action_that_is_not_an_api_call_is_console_but_never_a_candidate():
    action = api_call(eventType="AwsConsoleAction", eventSource="billingconsole.amazonaws.com", eventName="UpdateBillingPreferences",
                   userAgent="AWS Internal", sessionCredentialFromConsole=None, readOnly=False, userIdentity=CONSOLE_USER)
    assert is_console(action)
    assert not is_automation_candidate(action)


def test_call_a_service_made_on_a_users_behalf_is_never_a_candidate():
    created = cloudformation_create_role()
    assert is_console(created)  # the session is a console one: the flag stays honest
    assert not is_automation_candidate(created)
    by_browser = console_write(userIdentity={**CONSOLE_USER, "invokedBy": "AWS Internal"})
    assert is_console(by_browser) and not is_automation_candidate(by_browser)


def test_signin_invoked_change_password_stays_a_candidate():
    change_password = api_call(
        eventSource="iam.amazonaws.com", eventName="ChangePassword", eventVersion="1.05",
        userIdentity={"type": "IAMUser", "principalId": "AIDAEXAMPLEPRINCIPAL", "arn": "arn:aws:iam::111122223333:user/alice",
                      "accountId": "111122223333", "userName": "alice", "invokedBy": "signin.amazonaws.com"},
        sourceIPAddress="203.0.113.10", userAgent="signin.amazonaws.com", readOnly=None, sessionCredentialFromConsole=None,
        requestParameters=None, responseElements=None,
    )
    assert is_console(change_password)
    assert is_automation_candidate(change_password)


# The plumbing list, written out here so a change to PLUMBING_ACTIONS is a decision.
PLUMBING = [
    *(("cloudshell.amazonaws.com", name) for name in
      ("CreateSession", "PutCredentials", "SendHeartBeat", "CreateEnvironment", "StartEnvironment", "StopEnvironment", "DeleteSession")),
    ("support.amazonaws.com", "*"),
    ("signin.amazonaws.com", "*"),
    ("sso.amazonaws.com", "Federate"), ("sso.amazonaws.com", "Authenticate"), ("sso.amazonaws.com", "Logout"),
    ("logs.amazonaws.com", "StartQuery"), ("logs.amazonaws.com", "StopQuery"),
    ("logs.amazonaws.com", "StartLiveTail"), ("logs.amazonaws.com", "StopLiveTail"),
    ("cloudtrail.amazonaws.com", "StartQuery"), ("cloudtrail.amazonaws.com", "LookupEvents"),
]


def test_the_plumbing_list_is_the_one_written_out_here():
    assert sorted(classify.PLUMBING_ACTIONS) == sorted(PLUMBING)


def _named(source: str, name: str) -> list[str]:
    examples = {"support.amazonaws.com": ["CreateCase", "AddCommunicationToCase"],
                "signin.amazonaws.com": ["SwitchRole", "UserAuthentication"]}
    return examples[source] if name == "*" else [name]


@pytest.mark.parametrize(("source", "name"), [(s, n) for s, pattern in PLUMBING for n in _named(s, pattern)])
def test_session_plumbing_is_console_but_never_a_candidate(source, name):
    plumbing = console_write(eventSource=source, eventName=name)
    assert is_console(plumbing)
    assert not is_automation_candidate(plumbing)


@pytest.mark.parametrize(("source", "name"), [("cloudshell.amazonaws.com", "PutFile"), ("logs.amazonaws.com", "PutRetentionPolicy"),
                                              ("sso.amazonaws.com", "CreatePermissionSet"), ("cloudtrail.amazonaws.com", "StartLogging")])
def test_other_actions_of_the_same_services_stay_candidates(source, name):
    assert is_automation_candidate(console_write(eventSource=source, eventName=name))


def test_ignored_actions_by_name_and_by_source():
    ignored = frozenset({classify.parse_ignored_action("ec2.amazonaws.com:RunInstances"), classify.parse_ignored_action("kms.amazonaws.com:*")})
    assert classify.is_ignored_action("ec2.amazonaws.com", "RunInstances", ignored)
    assert not classify.is_ignored_action("ec2.amazonaws.com", "StopInstances", ignored)
    assert classify.is_ignored_action("kms.amazonaws.com", "CreateKey", ignored)
    assert classify.is_ignored_action("kms.amazonaws.com", None, ignored)
    assert not classify.is_ignored_action(None, "RunInstances", ignored)
    assert classify.is_ignored_action("signin.amazonaws.com", "SwitchRole")  # default: the plumbing list


@pytest.mark.parametrize("text", ["RunInstances", ":RunInstances", "ec2.amazonaws.com:", "ec2 .amazonaws.com:Run", "a:b:c"])
def test_bad_ignored_actions_are_refused_clearly(text):
    with pytest.raises(CtstackError, match="SOURCE:NAME"):
        classify.parse_ignored_action(text)
