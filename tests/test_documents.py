"""One CloudTrail event -> one ECS-aligned document."""

from __future__ import annotations

import orjson
import pytest

from provision.cloudtrail import fields as F
from provision.cloudtrail.documents import DocumentError, index_for, parse_event_time, to_document, valid_ip
from provision.cloudtrail.nesting import flat_source, nested
from provision.cloudtrail.template import FIELD_TYPES
from tests.support.events import api_call


def test_standard_document_for_an_iam_user_api_call():
    doc = to_document(api_call())
    assert doc[F.TIMESTAMP] == "2024-05-06T07:08:09Z"
    assert doc[F.EVENT_ID] == "7b4b2a1c-aaaa-bbbb-cccc-ddddeeeeffff"
    assert doc[F.EVENT_ACTION] == "StartInstances"
    assert doc[F.EVENT_PROVIDER] == "ec2.amazonaws.com"
    assert doc[F.EVENT_DATASET] == "aws.cloudtrail"
    assert doc[F.EVENT_OUTCOME] == "success"
    assert doc[F.CLOUD_PROVIDER] == "aws"
    assert doc[F.CLOUD_REGION] == "eu-west-1"
    assert doc[F.CLOUD_ACCOUNT_ID] == "111122223333"
    assert doc[F.SOURCE_ADDRESS] == doc[F.SOURCE_IP] == "203.0.113.10"
    assert doc[F.USER_NAME] == "alice"
    assert doc[F.USER_ID] == "AIDAEXAMPLEPRINCIPAL"
    assert doc[F.CT_UI_TYPE] == "IAMUser"
    assert doc[F.CT_READ_ONLY] is False
    assert doc[F.CT_REQUEST_PARAMETERS] == {"instancesSet": {"items": [{"instanceId": "i-0123456789abcdef0"}]}}
    assert (doc[F.CONSOLE], doc[F.READ_ONLY], doc[F.AUTOMATION_CANDIDATE]) == (False, False, False)
    assert F.CT_RESPONSE_ELEMENTS not in doc and F.CT_ORIGINAL not in doc


def test_every_field_written_is_mapped_by_the_template():
    full = to_document(api_call(), profile="full", keep_access_keys=True)
    assert set(full) - set(FIELD_TYPES) == set()


def test_assumed_role_user_is_the_session_name_and_role_is_the_role():
    identity = {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLE:bob@example.com",
        "arn": "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_abc/bob@example.com",
        "accountId": "111122223333",
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/AWSReservedSSO_Admin_abc", "userName": "AWSReservedSSO_Admin_abc"},
            "attributes": {"creationDate": "2024-05-06T07:00:00Z", "mfaAuthenticated": "true"},
        },
    }
    doc = to_document(api_call(userIdentity=identity))
    assert doc[F.USER_NAME] == "bob@example.com"
    assert doc[F.USER_ROLES] == "AWSReservedSSO_Admin_abc"
    assert doc[F.CT_UI_MFA_AUTHENTICATED] is True
    assert doc[F.CT_UI_SESSION_ISSUER_ARN].endswith("role/AWSReservedSSO_Admin_abc")


@pytest.mark.parametrize(
    "identity, name",
    [
        ({"type": "Root", "principalId": "111122223333", "arn": "arn:aws:iam::111122223333:root"}, "root"),
        ({"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"}, "cloudtrail.amazonaws.com"),
        ({"type": "FederatedUser", "arn": "arn:aws:sts::111122223333:federated-user/carol"}, "carol"),
    ],
)
def test_user_name_for_other_identities(identity, name):
    assert to_document(api_call(userIdentity=identity))[F.USER_NAME] == name


@pytest.mark.parametrize("address", ["ec2.amazonaws.com", "AWS Internal", "251.234.045.249", "not an ip"])
def test_source_ip_only_for_real_addresses(address):
    doc = to_document(api_call(sourceIPAddress=address))
    assert doc[F.SOURCE_ADDRESS] == address
    assert F.SOURCE_IP not in doc


def test_ipv6_is_an_ip():
    assert valid_ip("2001:db8::1") and not valid_ip("2001:db8::zz")


def test_failure_outcome_from_error_code_or_message():
    assert to_document(api_call(errorCode="AccessDenied"))[F.EVENT_OUTCOME] == "failure"
    doc = to_document(api_call(errorMessage="You are not authorized"))
    assert doc[F.EVENT_OUTCOME] == "failure" and doc[F.CT_ERROR_MESSAGE] == "You are not authorized"


@pytest.mark.parametrize("result, outcome", [("Success", "success"), ("Failure", "failure")])
def test_console_login_outcome_from_response_elements(result, outcome):
    login = api_call(eventType="AwsConsoleSignIn", eventName="ConsoleLogin", eventSource="signin.amazonaws.com",
                  responseElements={"ConsoleLogin": result})
    doc = to_document(login)
    assert doc[F.EVENT_OUTCOME] == outcome
    assert doc[F.CONSOLE] is True and doc[F.AUTOMATION_CANDIDATE] is False


def test_minimal_profile_keeps_only_time_action_provider_region_account_and_flags():
    doc = to_document(api_call(), profile="minimal")
    assert set(doc) == {
        F.TIMESTAMP, F.EVENT_ACTION, F.EVENT_PROVIDER, F.CLOUD_REGION, F.CLOUD_ACCOUNT_ID,
        F.CONSOLE, F.READ_ONLY, F.AUTOMATION_CANDIDATE,
        F.EVENT_DATASET, F.EVENT_KIND, F.CLOUD_PROVIDER,  # constants, not data
    }


def test_full_profile_adds_response_elements_and_the_original_event():
    doc = to_document(api_call(), profile="full")
    assert doc[F.CT_RESPONSE_ELEMENTS]["instancesSet"]["items"][0]["currentState"]["name"] == "pending"
    original = orjson.loads(doc[F.CT_ORIGINAL])
    assert original["eventID"] == api_call()["eventID"]


def test_access_key_ids_are_never_stored_unless_asked():
    sts = api_call(eventName="GetSessionToken", responseElements={"credentials": {"accessKeyId": "ASIAEXAMPLE", "expiration": "x"}},
                requestParameters={"nested": [{"AccessKeyId": "AKIAINPARAMS"}]})
    text = orjson.dumps(to_document(sts, profile="full")).decode()
    assert "AKIA" not in text and "ASIA" not in text
    kept = to_document(sts, profile="full", keep_access_keys=True)
    assert kept[F.USER_ACCESS_KEY_ID] == "AKIAEXAMPLEKEY000001"
    assert "ASIAEXAMPLE" in kept[F.CT_ORIGINAL]


def test_access_key_ids_are_removed_from_unknown_fields_and_the_bulk_line_too():
    from provision.cloudtrail.documents import document_and_line

    odd = api_call(brandNewField={"session": {"accessKeyId": "ASIAINUNKNOWN"}, "keep": 1})
    doc, line = document_and_line(odd, "standard", False, "s3://b/k.json.gz")
    assert doc[F.CT_UNMAPPED] == {"brandNewField": {"session": {}, "keep": 1}}
    assert b"ASIA" not in line and flat_source(orjson.loads(line)) == doc and orjson.loads(line) == nested(doc)
    kept, kept_line = document_and_line(odd, "standard", True)
    assert b"ASIAINUNKNOWN" in kept_line


def test_unknown_top_level_fields_are_kept_unmapped():
    doc = to_document(api_call(brandNewField={"a": 1}, anotherOne="x"))
    assert doc[F.CT_UNMAPPED] == {"brandNewField": {"a": 1}, "anotherOne": "x"}


def test_odd_value_types_become_keyword_text():
    doc = to_document(api_call(eventName=12, awsRegion={"weird": True}, userAgent=["a"]))
    assert doc[F.EVENT_ACTION] == "12"
    assert doc[F.CLOUD_REGION] == '{"weird":true}'
    assert doc[F.USER_AGENT] == '["a"]'


def test_non_object_blobs_are_wrapped_for_the_flattened_field():
    doc = to_document(api_call(requestParameters="a string", additionalEventData=[1, 2]))
    assert doc[F.CT_REQUEST_PARAMETERS] == {"value": "a string"}
    assert doc[F.CT_ADDITIONAL_EVENTDATA] == {"value": [1, 2]}


@pytest.mark.parametrize("value", [None, "", "ThisIsAWrongEventTime", "2024-13-01T00:00:00Z", 1700000000])
def test_events_without_a_usable_event_time_fail_with_that_reason(value):
    with pytest.raises(DocumentError, match="eventTime"):
        to_document(api_call(eventTime=value))


def test_event_times_are_normalised_to_utc():
    assert parse_event_time("2024-05-06T09:08:09+02:00") == "2024-05-06T07:08:09Z"
    assert parse_event_time("2024-05-06T07:08:09.123Z") == "2024-05-06T07:08:09.123000Z"


def test_not_an_object_fails():
    with pytest.raises(DocumentError, match="not a CloudTrail event"):
        to_document(["x"])


def test_monthly_index_name():
    assert index_for("ctstack-cloudtrail", to_document(api_call())) == "ctstack-cloudtrail-2024.05"


def test_cached_classification_tells_apart_every_input_of_the_rules():
    """Flags are cached per combination of the fields the rules read: events that differ only
    in invokedBy, anonymity or eventSource must not share an answer."""
    browser = "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/126.0"
    base = api_call(userAgent=browser, eventName="CreateSession", eventSource="ec2.amazonaws.com")

    def flags(**identity_changes):
        changed = dict(base, userIdentity={**base["userIdentity"], **identity_changes})
        doc = to_document(changed)
        return doc[F.CONSOLE], doc[F.AUTOMATION_CANDIDATE]

    assert flags() == (True, True)
    assert flags(invokedBy="cloudformation.amazonaws.com") == (True, False)
    assert flags(invokedBy="signin.amazonaws.com") == (True, True)
    assert flags(type="AWSAccount", principalId="", accountId="ANONYMOUS_PRINCIPAL") == (False, False)
    assert flags(principalId="AIDAOTHERPRINCIPAL") == (True, True)
    doc = to_document(dict(base, eventSource="cloudshell.amazonaws.com"))
    assert (doc[F.CONSOLE], doc[F.AUTOMATION_CANDIDATE]) == (True, False)
    assert to_document(base)[F.AUTOMATION_CANDIDATE] is True


def _leaky_event() -> dict:
    """Access keys under names of every case and separator, inside free text and ARNs, and
    credential material in responseElements (as AssumeRole and GetSessionToken return it)."""
    return api_call(
        eventName="AssumeRole",
        errorMessage="User: arn:aws:sts::111122223333:assumed-role/R/AKIAIOSFODNN7EXAMPLE is not authorized",
        userIdentity={**api_call()["userIdentity"], "arn": "arn:aws:sts::111122223333:assumed-role/R/ASIAY34FZKBOKMUTVV7A"},
        requestParameters={"AccessKeyID": "AKIAQYLPMN5HHHFPZAM2", "nested": [{"access_key_id": "AKIAQYLPMN5HHHFPZAM3"}],
                           "deeper": {"accesskeyid": "opaque-non-key-shaped", "ACCESS-KEY-ID": "x"}, "roleSessionName": "ok"},
        responseElements={"credentials": {"accessKeyId": "ASIAY34FZKBOKMUTVV7B", "secretAccessKey": "wJalrXUtnFEMI/K7MDENG",
                                          "sessionToken": "IQoJb3JpZ2luX2VjEXAMPLETOKEN", "expiration": "Jan 1, 2030"},
                          "SecurityToken": "FwoGZXIvYXdzEXAMPLE", "private_key": "-----BEGIN RSA PRIVATE KEY-----"},
    )


SECRETS = ("wJalrXUtnFEMI", "IQoJb3JpZ2lu", "FwoGZXIvYXdz", "BEGIN RSA PRIVATE KEY")
ACCESS_KEYS = ("AKIAIOSFODNN7EXAMPLE", "ASIAY34FZKBOKMUTVV7A", "AKIAQYLPMN5HHHFPZAM2", "AKIAQYLPMN5HHHFPZAM3",
               "ASIAY34FZKBOKMUTVV7B", "opaque-non-key-shaped", "AKIAEXAMPLEKEY000001")


@pytest.mark.parametrize("profile", ["minimal", "standard", "full"])
def test_access_keys_by_any_name_or_shape_and_credentials_are_never_stored(profile):
    from provision.cloudtrail.documents import document_and_line

    doc, line = document_and_line(_leaky_event(), profile, False, "f.json")
    text = line.decode() + orjson.dumps(doc).decode()
    assert [k for k in ACCESS_KEYS if k in text] == []
    assert [s for s in SECRETS if s in text] == []
    assert flat_source(orjson.loads(line)) == doc and orjson.loads(line) == nested(doc)
    if profile != "minimal":
        assert doc[F.CT_ERROR_MESSAGE] == "User: arn:aws:sts::111122223333:assumed-role/R/[access key ID removed] is not authorized"
        assert doc[F.CT_UI_ARN].endswith("/R/[access key ID removed]")
        assert doc[F.CT_REQUEST_PARAMETERS] == {"nested": [{}], "deeper": {}, "roleSessionName": "ok"}
    if profile == "full":
        assert doc[F.CT_RESPONSE_ELEMENTS] == {"credentials": {"expiration": "Jan 1, 2030"}}
        assert orjson.loads(doc[F.CT_ORIGINAL])["responseElements"] == {"credentials": {"expiration": "Jan 1, 2030"}}

    kept_doc, kept_line = document_and_line(_leaky_event(), profile, True)
    assert [s for s in SECRETS if s.encode() in kept_line] == []  # credential material goes even then
    if profile == "full":
        assert all(k.encode() in kept_line for k in ACCESS_KEYS)
        assert kept_doc[F.CT_RESPONSE_ELEMENTS]["credentials"] == {"accessKeyId": "ASIAY34FZKBOKMUTVV7B", "expiration": "Jan 1, 2030"}


def test_values_that_merely_mention_keys_are_kept():
    """Names and shapes, not words: a KMS key id, an S3 object key, GenerateDataKey stay."""
    from provision.cloudtrail.documents import document_and_line

    kms = api_call(eventName="GenerateDataKey", requestParameters={"keyId": "alias/app", "key": "logs/AKIA-not-a-key.txt"})
    doc, _line = document_and_line(kms, "standard", False)
    assert doc[F.CT_REQUEST_PARAMETERS] == {"keyId": "alias/app", "key": "logs/AKIA-not-a-key.txt"}
    assert doc[F.EVENT_ACTION] == "GenerateDataKey"


def test_documents_are_sent_nested_and_read_back_flat_whatever_their_shape():
    """The bulk line holds nested objects (a third less for Elasticsearch to parse than dotted
    keys); flat_source gives ctstack's dotted names back from that, from the flat documents
    earlier versions sent, and from a mix, and leaves request/response blobs whole."""
    from provision.cloudtrail.documents import document_and_line

    doc, line = document_and_line(api_call(requestParameters={"a.b": {"c": 1}, "groupName": "web"}), "full", False, "f.json")
    sent = orjson.loads(line)
    assert not [name for name in sent if "." in name]
    assert sent["event"]["action"] == doc[F.EVENT_ACTION]
    assert sent["aws"]["cloudtrail"]["request_parameters"] == {"a.b": {"c": 1}, "groupName": "web"}
    assert flat_source(sent) == doc                                       # nested, as sent now
    assert flat_source(doc) == doc                                        # flat, as sent before
    half = {**{k: v for k, v in doc.items() if not k.startswith("event.")}, "event": sent["event"]}
    assert flat_source(half) == doc                                       # a mix of both
    assert flat_source({}) == {}


@pytest.mark.parametrize(("value", "verdict"), [
    ("2024-08-01T13:30:05Z", "2024-08-01T13:30:05Z"), ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z"),
    ("2024-02-30T00:00:00Z", "not a valid timestamp"), ("2024-08-01T13:30:60Z", "not a valid timestamp"),
    ("2024-08-01 13:30:05Z", "not a valid timestamp"), ("２０24-08-01T13:30:05Z", "not a valid timestamp"),
    ("0000-01-01T00:00:00Z", "outside years 1-9999"),
])
def test_cloudtrail_form_timestamps_are_as_strict_on_the_fast_path(value, verdict):
    """CloudTrail's own form (20 characters, ...Z) takes a shorter path when not seen lately:
    it accepts and refuses exactly what the general path does, with the same reasons."""
    from provision.cloudtrail import timestamps

    timestamps.GOOD_TIMES.clear()
    if verdict == value:  # valid: returned as it is, and remembered
        assert parse_event_time(value) == value and value in timestamps.GOOD_TIMES
    else:
        with pytest.raises(DocumentError, match=verdict):
            parse_event_time(value)
        assert value not in timestamps.GOOD_TIMES
