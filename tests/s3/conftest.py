"""Fixtures for the S3 tests: moto's server (real HTTP, real boto3) with the sample data
uploaded in CloudTrail's real layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.s3 import BUCKET, DIGEST_KEY, INSIGHT_KEY, REGION, MotoS3, upload_tree


@pytest.fixture(scope="module")
def moto() -> MotoS3:
    server = MotoS3()
    yield server
    server.stop()


@pytest.fixture()
def aws_env(monkeypatch: pytest.MonkeyPatch, moto: MotoS3, tmp_path: Path) -> MotoS3:
    """Fake credentials in this test process only, no ~/.aws, no instance metadata."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("CTSTACK_S3_ENDPOINT_URL", moto.url)
    moto.reset()
    return moto


@pytest.fixture()
def trail_bucket(aws_env: MotoS3, sample_data: Path) -> list[str]:
    """The sample data in CloudTrail's real layout, with an organisation trail, a digest
    file and an Insights file beside the logs. Returns the log keys."""
    s3 = aws_env.client()
    s3.create_bucket(Bucket=BUCKET)
    keys = upload_tree(s3, BUCKET, sample_data / "stratus-red-team")
    keys += upload_tree(s3, BUCKET, sample_data / "cloud-snitch")
    s3.put_object(Bucket=BUCKET, Key=DIGEST_KEY, Body=b'{"digestEndTime": "2025-03-06T03:30:00Z"}')
    s3.put_object(Bucket=BUCKET, Key=INSIGHT_KEY, Body=b'{"Records": []}')
    return sorted(keys)


@pytest.fixture()
def as_iam_user(aws_env: MotoS3, monkeypatch: pytest.MonkeyPatch):
    """Switch to an IAM user with the given policy, with moto enforcing IAM until the end
    of the test (moto does not enforce bucket policies, it does enforce IAM policies)."""

    def switch(name: str, policy: dict) -> None:
        for variable, value in aws_env.iam_user(name, policy).items():
            monkeypatch.setenv(variable, value)
        aws_env.set_iam_auth(True)

    yield switch
    aws_env.set_iam_auth(False)
