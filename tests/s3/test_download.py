"""Downloading from S3: parallel but bounded, in listing order, and an object that cannot
be read fails alone with its reason (moto's server over HTTP, real boto3, IAM enforced by
moto where permissions matter)."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import boto3
import pytest

from provision.core.errors import CtstackError
from provision.sources.s3access import ObjectUnreadable
from provision.sources.s3source import S3Import
from tests.support.s3 import BUCKET, ORG_KEY

ALLOW_ALL = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}


def policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": [ALLOW_ALL, *statements]}


def test_files_come_in_listing_order_with_their_bytes_and_etag(trail_bucket, sample_data: Path):
    source = S3Import([f"s3://{BUCKET}"], workers=4)

    files = list(source.files())

    keys = [f.meta["key"] for f in files]
    assert keys == [o.key for o in S3Import([f"s3://{BUCKET}"]).listed_objects()]
    assert sorted(keys) == trail_bucket
    assert source.stats["objects_listed"] == source.stats["objects_downloaded"] == len(trail_bucket)
    assert source.stats["bytes_downloaded"] == sum(file.size for file in files)
    org_file = next(f for f in files if f.meta["key"] == ORG_KEY)
    assert org_file.name == f"s3://{BUCKET}/{ORG_KEY}"
    assert org_file.meta["etag"] and org_file.meta["size"] == org_file.size
    assert org_file.read() == (sample_data / "cloud-snitch" / ORG_KEY).read_bytes()
    # The bytes are handed over once; asking again downloads the object again.
    assert org_file.read() == (sample_data / "cloud-snitch" / ORG_KEY).read_bytes()
    assert source.stats["objects_downloaded"] == len(trail_bucket) + 1


def test_downloads_run_ahead_by_at_most_two_objects_per_worker(trail_bucket):
    session = boto3.Session()
    requests: list[str] = []
    session.events.register("before-call.s3.GetObject", lambda params, **_: requests.append(params["url_path"]))
    files = S3Import([f"s3://{BUCKET}"], workers=2, session=session).files()

    first = next(files)
    time.sleep(0.5)  # let any download that was started finish

    assert len(requests) <= 2 * 2
    assert len(list(files)) + 1 == len(trail_bucket) > 4
    assert gzip.decompress(first.read())


def test_an_object_denied_by_iam_fails_alone_and_names_the_permission(trail_bucket, as_iam_user):
    as_iam_user("no-org-logs", policy({"Effect": "Deny", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/AWSLogs/o-*"}))
    source = S3Import([f"s3://{BUCKET}"])

    outcomes = {}
    for file in source.files():
        try:
            outcomes[file.meta["key"]] = len(file.read())
        except ObjectUnreadable as err:
            outcomes[file.meta["key"]] = str(err)

    assert outcomes[ORG_KEY] == f"access denied (AccessDenied): the AWS identity lacks s3:GetObject on s3://{BUCKET}/{ORG_KEY}"
    assert all(isinstance(v, int) for k, v in outcomes.items() if k != ORG_KEY)
    assert len(outcomes) == len(trail_bucket)


def test_listing_denied_by_iam_is_one_sentence_naming_the_permission(trail_bucket, as_iam_user):
    as_iam_user("no-list", policy({"Effect": "Deny", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}"}))

    with pytest.raises(CtstackError) as err:
        list(S3Import([f"s3://{BUCKET}/AWSLogs/"]).files())

    assert str(err.value) == f"Access denied (AccessDenied): the AWS identity lacks s3:ListBucket on s3://{BUCKET}/AWSLogs/."


def test_unknown_access_keys_stop_the_run_with_one_sentence(trail_bucket, aws_env, monkeypatch):
    aws_env.set_iam_auth(True)
    try:
        with pytest.raises(CtstackError) as err:
            list(S3Import([f"s3://{BUCKET}"]).files())
    finally:
        aws_env.set_iam_auth(False)
    assert str(err.value).startswith("AWS rejected the credentials (")


def test_a_named_profile_supplies_the_credentials(trail_bucket, aws_env, monkeypatch, tmp_path):
    keys = aws_env.iam_user("auditor", policy())
    credentials = tmp_path / "credentials"
    credentials.write_text(f"[audit]\naws_access_key_id = {keys['AWS_ACCESS_KEY_ID']}\naws_secret_access_key = {keys['AWS_SECRET_ACCESS_KEY']}\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    aws_env.set_iam_auth(True)  # only the IAM user's key is accepted now
    try:
        listed = list(S3Import([f"s3://{BUCKET}"], profile="audit").listed_objects())
        with pytest.raises(CtstackError, match="^No AWS credentials found"):
            S3Import([f"s3://{BUCKET}"]).check()
    finally:
        aws_env.set_iam_auth(False)
    assert len(listed) == len(trail_bucket)


def test_headbucket_denied_but_listing_allowed_proceeds(trail_bucket, as_iam_user):
    """On real AWS a ListBucket grant limited by s3:prefix answers HeadBucket with 403 while
    listing that prefix works; moto names HeadBucket's permission s3:HeadBucket, so denying
    it gives the same answers. The import goes on when the listing probe succeeds."""
    as_iam_user("no-head", policy({"Effect": "Deny", "Action": "s3:HeadBucket", "Resource": f"arn:aws:s3:::{BUCKET}"}))
    source = S3Import([f"s3://{BUCKET}/AWSLogs/"])

    files = list(source.files())

    assert sorted(f.meta["key"] for f in files) == trail_bucket
    assert all(gzip.decompress(f.read()) for f in files[:3])


def test_headbucket_and_listing_denied_is_still_one_sentence(trail_bucket, as_iam_user):
    as_iam_user("no-head-no-list", policy({"Effect": "Deny", "Action": ["s3:HeadBucket", "s3:ListBucket"], "Resource": f"arn:aws:s3:::{BUCKET}"}))

    with pytest.raises(CtstackError) as err:
        S3Import([f"s3://{BUCKET}/AWSLogs/"]).check()

    assert str(err.value) == f"Access denied (AccessDenied): the AWS identity lacks s3:ListBucket on s3://{BUCKET}/AWSLogs/."
