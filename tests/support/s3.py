"""S3 for tests: moto's server on 127.0.0.1 over real HTTP, driven with real boto3.

Bucket policies are not enforced by moto; IAM identity policies are, once IAM
authentication is switched on (``/moto-api/reset-auth``), so AccessDenied tests use an
IAM user whose policy denies the permission.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer
from tests.support.loopback import free_port

REGION = "us-east-1"
BUCKET = "trails"
ORG_KEY = "AWSLogs/o-1234abcde/222222222222/CloudTrail/us-east-1/2025/03/06/222222222222_CloudTrail_us-east-1_20250306T0230Z_QF6qcgyiaVnSueXa.json.gz"
DIGEST_KEY = "AWSLogs/333333333333/CloudTrail-Digest/us-east-1/2025/03/06/333333333333_CloudTrail-Digest_us-east-1_trail_us-east-1_20250306T0330Z.json.gz"
INSIGHT_KEY = "AWSLogs/333333333333/CloudTrail-Insight/us-east-1/2025/03/06/333333333333_CloudTrail-Insight_us-east-1_20250306T0330Z_x.json.gz"


class MotoS3:
    """A moto server of the test's own; ``stop()`` ends it."""

    def __init__(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.url = f"http://{host}:{port}"

    def stop(self) -> None:
        self.set_iam_auth(False)
        self.server.stop()

    def client(self, service: str = "s3", **credentials: str):
        return boto3.client(service, endpoint_url=self.url, region_name=REGION, **credentials)

    def reset(self) -> None:
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")).read()

    def set_iam_auth(self, enabled: bool) -> None:
        """Switch moto's IAM enforcement on (every request must be signed by an IAM user's
        key and be permitted by its policies) or off (anything goes)."""
        body = b"0" if enabled else b"inf"
        request = urllib.request.Request(f"{self.url}/moto-api/reset-auth", data=body, method="POST", headers={"Content-Type": "text/plain"})
        urllib.request.urlopen(request).read()

    def iam_user(self, name: str, policy: dict) -> dict[str, str]:
        """An IAM user with an inline policy; returns its key for boto3 (env names)."""
        iam = self.client("iam")
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName=f"{name}-policy", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


def upload_tree(s3, bucket: str, folder: Path, key_prefix: str = "") -> list[str]:
    """Upload every file under ``folder`` (except LICENSE files) with keys relative to it."""
    keys = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != "LICENSE":
            key = key_prefix + path.relative_to(folder).as_posix()
            s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
            keys.append(key)
    return keys


class Listings:
    """Every ListObjectsV2 call made through a boto3 session: (Prefix, Delimiter)."""

    def __init__(self) -> None:
        self.session = boto3.Session()
        self.calls: list[tuple[str, str | None]] = []
        self.session.events.register("before-parameter-build.s3.ListObjectsV2", self._record)

    def _record(self, params: dict, **_: object) -> None:
        self.calls.append((params.get("Prefix", ""), params.get("Delimiter")))

    @property
    def recursive(self) -> list[str]:
        """Prefixes listed object by object (no delimiter): where the objects came from."""
        return [prefix for prefix, delimiter in self.calls if delimiter is None]

    @property
    def discovery(self) -> list[str]:
        """Prefixes listed folder by folder (Delimiter="/") to learn the layout."""
        return [prefix for prefix, delimiter in self.calls if delimiter == "/"]


def trail_key(when, account: str = "111122223333", region: str = "eu-west-1", name: str = "x") -> str:
    """The key CloudTrail gives a delivery file written at ``when`` (a UTC datetime)."""
    return (f"AWSLogs/{account}/CloudTrail/{region}/{when:%Y/%m/%d}/"
            f"{account}_CloudTrail_{region}_{when:%Y%m%dT%H%MZ}_{name}.json.gz")


def put_trail_objects(s3, bucket: str, when, objects: int, events_per_object: int = 5, *,
                      account: str = "111122223333", region: str = "eu-west-1", tag: str = "o") -> tuple[list[str], set[str]]:
    """Write ``objects`` gzipped CloudTrail files of fresh events (eventTime ``when``) in the
    real layout; returns their keys and the events' IDs."""
    import gzip
    import uuid

    from tests.support.trail import role_event

    keys, ids = [], set()
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    for n in range(objects):
        events = [role_event(time=stamp, account=account, region=region, event_id=str(uuid.uuid4())) for _ in range(events_per_object)]
        ids.update(e["eventID"] for e in events)
        key = trail_key(when, account, region, f"{tag}{n:05d}")
        s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(json.dumps({"Records": events}).encode()))
        keys.append(key)
    return keys, ids


def make_queue(sqs, name: str, visibility: int = 30, max_receive: int | None = None) -> tuple[str, str | None]:
    """An SQS queue on moto's server (and, with ``max_receive``, its dead-letter queue
    through a redrive policy); returns (queue URL, dead-letter queue URL)."""
    attributes = {"VisibilityTimeout": str(visibility)}
    dlq_url = None
    if max_receive:
        dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive)})
    return sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"], dlq_url


def s3_event(bucket: str, key: str, size: int = 0) -> dict:
    """S3's ObjectCreated:Put event notification (keys URL-encoded, as S3 sends them)."""
    from urllib.parse import quote_plus

    return {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION, "eventName": "ObjectCreated:Put",
                         "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                                "object": {"key": quote_plus(key, safe="/"), "size": size}}}]}


def sns_envelope(message: dict) -> dict:
    """An SNS notification as SQS receives it from a topic (without raw message delivery)."""
    return {"Type": "Notification", "MessageId": "00000000-0000-0000-0000-000000000000", "TopicArn": f"arn:aws:sns:{REGION}:123456789012:trail",
            "Message": json.dumps(message), "Timestamp": "2025-03-06T00:00:00.000Z", "SignatureVersion": "1"}


def cloudtrail_notification(bucket: str, keys: list[str]) -> dict:
    """CloudTrail's own SNS notification of delivered log files."""
    return {"s3Bucket": bucket, "s3ObjectKey": keys}


S3_TEST_EVENT = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2025-03-06T00:00:00.000Z", "Bucket": BUCKET, "RequestId": "x", "HostId": "y"}


def stored(es, prefix: str) -> int:
    """Documents searchable in ``<prefix>-*`` now (refreshed first). An index the importer has
    just created answers 503 until its shard has started: nothing searchable there yet."""
    from elasticsearch import ApiError

    try:
        es.indices.refresh(index=f"{prefix}-*", ignore_unavailable=True, allow_no_indices=True)
        return es.count(index=f"{prefix}-*", ignore_unavailable=True, allow_no_indices=True)["count"]
    except ApiError as err:
        if err.status_code == 503:
            return 0
        raise


def wait_stored(es, prefix: str, proc, at_least: int = 1, timeout: float = 120) -> None:
    """Wait until ``at_least`` documents are stored while ``proc`` (an importer) still runs."""
    import time

    deadline = time.monotonic() + timeout
    while stored(es, prefix) < at_least:
        assert time.monotonic() < deadline, f"fewer than {at_least} documents in {prefix}-* after {timeout} s"
        assert proc.poll() is None, f"the importer exited ({proc.returncode})"
        time.sleep(0.05)
