"""`ctstack import --sqs-queue URL`: consumers run as users run them (subprocesses, AWS
credentials only in their environment), against moto's server over HTTP for S3 and SQS
(real boto3, real redrive policy) and the real Elasticsearch node."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from provision.sources.s3layout import make_filters
from provision.ingest.notifications import NotANotification, parse_notification
from tests.support.s3 import (
    BUCKET, DIGEST_KEY, INSIGHT_KEY, S3_TEST_EVENT, cloudtrail_notification, make_queue, put_trail_objects, s3_event, sns_envelope,
    stored, wait_stored,
)
from tests.support.trail import role_event
from tests.support.cli import CTSTACK


def consumer(queue_url: str, es_url: str, prefix: str, tmp_path: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [CTSTACK, "import", "--sqs-queue", queue_url, "--json", "--es-url", es_url, "--index-prefix", prefix,
         "--processes", "0", "--poll-seconds", "1", "--dead-letter", str(tmp_path / f"dead-{time.monotonic_ns()}.ndjson"), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )


def finish(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, list[dict], dict]:
    """Exit code, batch reports and final summary of a consumer that ends by itself."""
    out, err = proc.communicate(timeout=timeout)
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert lines and "summary" in lines[-1], err
    return proc.returncode, lines[:-1], lines[-1]["summary"]


def send(sqs, queue_url: str, bodies: list[dict]) -> None:
    for start in range(0, len(bodies), 10):
        entries = [{"Id": str(i), "MessageBody": json.dumps(b)} for i, b in enumerate(bodies[start:start + 10])]
        assert not sqs.send_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed")


def queue_counts(sqs, queue_url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_every_notification_shape_names_its_objects():
    key = "AWSLogs/111122223333/CloudTrail/eu-west-1/2025/03/06/a b.json.gz"
    assert [o.key for o in parse_notification(json.dumps(s3_event(BUCKET, key)))[0]] == [key]  # "+" decoded
    assert [o.key for o in parse_notification(json.dumps(sns_envelope(s3_event(BUCKET, key))))[0]] == [key]
    second = key.replace(".json.gz", "2.json.gz")
    both = parse_notification(json.dumps(sns_envelope(cloudtrail_notification(BUCKET, [key, second]))))[0]
    assert [(o.bucket, o.key) for o in both] == [(BUCKET, key), (BUCKET, second)]
    assert parse_notification(json.dumps(S3_TEST_EVENT)) == ([], ["s3:TestEvent"])
    objects, skipped = parse_notification(json.dumps(cloudtrail_notification(BUCKET, [DIGEST_KEY, INSIGHT_KEY])))
    assert objects == [] and len(skipped) == 2
    assert len(parse_notification(json.dumps(s3_event(BUCKET, INSIGHT_KEY)), make_filters(insights=True))[0]) == 1
    for body in ("not json", "[1]", json.dumps({"Records": [role_event()]})):
        with pytest.raises(NotANotification):
            parse_notification(body)


def test_three_consumers_share_one_queue_every_event_once_every_message_deleted(aws_env, es, es_url, index_prefix, tmp_path):
    s3, sqs = aws_env.client(), aws_env.client("sqs")
    s3.create_bucket(Bucket=BUCKET)
    queue_url, _ = make_queue(sqs, "trail-all", visibility=30)
    objects = 500
    keys, ids = put_trail_objects(s3, BUCKET, datetime.now(timezone.utc), objects, 3)
    bodies = [s3_event(BUCKET, k) for k in keys[0::3]]
    bodies += [sns_envelope(s3_event(BUCKET, k)) for k in keys[1::3]]
    third = keys[2::3]
    bodies += [sns_envelope(cloudtrail_notification(BUCKET, third[i:i + 2])) for i in range(0, len(third), 2)]
    skipping = [S3_TEST_EVENT] * 5 + [s3_event(BUCKET, DIGEST_KEY)] * 5 + [sns_envelope(cloudtrail_notification(BUCKET, [INSIGHT_KEY]))] * 5
    repeats = [s3_event(BUCKET, k) for k in keys[:10]]  # at-least-once delivery: the same object notified again
    send(sqs, queue_url, bodies + skipping + repeats)
    sent = len(bodies) + len(skipping) + len(repeats)

    started = time.monotonic()
    procs = [consumer(queue_url, es_url, index_prefix, tmp_path, "--exit-when-empty") for _ in range(3)]
    results = [finish(p) for p in procs]
    seconds = time.monotonic() - started

    assert [code for code, _, _ in results] == [0, 0, 0]
    totals = [summary["totals"] for _, _, summary in results]
    assert all(t.get("messages", 0) > 0 for t in totals), "a consumer got no work: the queue was not shared"
    assert sum(t["messages_deleted"] for t in totals) >= sent  # (a redelivery, at least once, is deleted again)
    assert sum(t.get("messages_not_deleted", 0) for t in totals) == 0
    assert sum(t["messages_skipped"] for t in totals) == len(skipping)
    assert sum(t["objects_skipped"] for t in totals) == len(skipping)
    assert sum(t.get("events_failed", 0) for t in totals) == 0
    assert sum(t.get("events_indexed", 0) for t in totals) == len(ids)
    assert sum(t.get("events_read", 0) for t in totals) == len(ids) + sum(t.get("events_duplicate", 0) for t in totals)
    assert stored(es, index_prefix) == len(ids)
    assert queue_counts(sqs, queue_url) == (0, 0)
    print(f"{len(ids)} events from {sent} messages with 3 consumers in {seconds:.1f} s")


def test_a_consumer_killed_mid_object_leaves_its_message_for_another(aws_env, es, es_url, index_prefix, tmp_path):
    s3, sqs = aws_env.client(), aws_env.client("sqs")
    s3.create_bucket(Bucket=BUCKET)
    queue_url, _ = make_queue(sqs, "trail-kill", visibility=5)
    keys, ids = put_trail_objects(s3, BUCKET, datetime.now(timezone.utc), 1, 20_000, tag="big")
    send(sqs, queue_url, [s3_event(BUCKET, keys[0])])

    first = consumer(queue_url, es_url, index_prefix, tmp_path)
    try:
        wait_stored(es, index_prefix, first)  # its first bulk requests are in: mid-import
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    finally:
        if first.poll() is None:
            first.kill()
    partial = stored(es, index_prefix)
    assert 0 < partial < len(ids), "the kill did not land mid-object"
    assert sum(queue_counts(sqs, queue_url)) == 1  # in flight, not deleted

    second = consumer(queue_url, es_url, index_prefix, tmp_path, "--exit-when-empty")
    code, batches, summary = finish(second)
    assert code == 0
    assert summary["totals"]["messages_deleted"] == 1
    assert summary["totals"]["events_duplicate"] >= partial  # what the killed consumer had stored
    assert summary["totals"]["events_indexed"] + summary["totals"]["events_duplicate"] == len(ids)
    assert stored(es, index_prefix) == len(ids)
    assert queue_counts(sqs, queue_url) == (0, 0)


def test_a_poison_message_is_reported_and_left_to_the_redrive_policy(aws_env, es, es_url, index_prefix, tmp_path):
    s3, sqs = aws_env.client(), aws_env.client("sqs")
    s3.create_bucket(Bucket=BUCKET)
    queue_url, dlq_url = make_queue(sqs, "trail-poison", visibility=2, max_receive=2)
    keys, ids = put_trail_objects(s3, BUCKET, datetime.now(timezone.utc), 1, 3)
    garbage = keys[0].replace(".json.gz", "-garbage.json.gz")
    s3.put_object(Bucket=BUCKET, Key=garbage, Body=b"this is not gzip, nor JSON")
    gone = keys[0].replace(".json.gz", "-gone.json.gz")
    send(sqs, queue_url, [s3_event(BUCKET, keys[0]), s3_event(BUCKET, garbage), s3_event(BUCKET, gone), {"hello": "world"}])

    code, batches, summary = finish(consumer(queue_url, es_url, index_prefix, tmp_path, "--exit-when-empty"))

    assert code == 1  # messages were left undeleted: the exit code says so
    assert stored(es, index_prefix) == len(ids)
    totals = summary["totals"]
    assert totals["messages_deleted"] == 1
    assert totals["messages_not_deleted"] == totals["messages_poison"] == 3 * 2  # each received maxReceiveCount times
    reasons = [f["reason"] for b in batches for f in b["failed_messages"]]
    assert any("not gzip: the name ends in .gz but the bytes are neither gzip nor JSON" in r for r in reasons)
    assert any("deleted" in r and gone in r for r in reasons)
    assert any("not an S3, SNS or CloudTrail notification" in r for r in reasons)
    assert queue_counts(sqs, queue_url) == (0, 0)
    assert queue_counts(sqs, dlq_url)[0] == 3  # the redrive policy moved them, ctstack did not delete them


def test_visibility_is_extended_while_a_big_object_imports(aws_env, es, index_prefix, tmp_path):
    """The queue's visibility timeout (1 s) is much shorter than the import of the object; no
    other receiver may see the batch's messages meanwhile (also the one with nothing to import,
    an S3 test event, which is deleted with the batch), and they are deleted once done."""
    import threading

    from provision.ingest.sqsqueue import QueueConsumer

    s3, sqs = aws_env.client(), aws_env.client("sqs")
    s3.create_bucket(Bucket=BUCKET)
    queue_url, _ = make_queue(sqs, "trail-slow", visibility=1)
    keys, ids = put_trail_objects(s3, BUCKET, datetime.now(timezone.utc), 1, 80_000, tag="big")
    send(sqs, queue_url, [s3_event(BUCKET, keys[0]), S3_TEST_EVENT])
    queue_consumer = QueueConsumer(es, queue_url, index_prefix=index_prefix, wait_seconds=1, processes=0,
                                   dead_letter_path=tmp_path / "dead.ndjson")
    notices = queue_consumer.receive()
    for _ in range(5):  # SQS may hand the two out in separate answers
        if len(notices) == 2:
            break
        notices += queue_consumer.receive()
    assert len(notices) == 2
    reports = []
    batch = threading.Thread(target=lambda: reports.append(queue_consumer.run_batch(notices)))
    batch.start()
    seen_by_others = 0
    while batch.is_alive():
        seen_by_others += len(sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0, VisibilityTimeout=0).get("Messages", []))
        time.sleep(0.3)
    batch.join()
    queue_consumer.objects.close()
    assert reports[0]["seconds"] > 3 * 1, "the import was too quick to prove anything"
    assert seen_by_others == 0
    assert reports[0]["messages_deleted"] == 2 and reports[0]["messages_skipped"] == 1
    assert reports[0]["events_indexed"] == len(ids)
    assert queue_counts(sqs, queue_url) == (0, 0)


def test_an_elasticsearch_outage_mid_batch_deletes_nothing_unfinished_and_is_caught_up(aws_env, private_es_node, tmp_path):
    """A consumer against a private node killed mid-batch and started again 20 s later: the
    batch's unfinished messages stay on the queue, come back after the visibility timeout,
    and end up imported and deleted; every event once; exit code 0 after the catch-up."""
    from provision.core.connection import EsConfig, client

    s3, sqs = aws_env.client(), aws_env.client("sqs")
    s3.create_bucket(Bucket=BUCKET)
    queue_url, _ = make_queue(sqs, "trail-outage", visibility=5)
    keys, ids = put_trail_objects(s3, BUCKET, datetime.now(timezone.utc), 60, 200)
    send(sqs, queue_url, [s3_event(BUCKET, k) for k in keys])
    prefix = "ctstack-queue-outage"
    es = client(EsConfig(url=private_es_node.url), request_timeout=10)
    proc = consumer(queue_url, private_es_node.url, prefix, tmp_path, "--exit-when-empty", "--bulk-size", "1000")
    try:
        wait_stored(es, prefix, proc)  # its first bulk requests are in: mid-import
        private_es_node.kill()
        time.sleep(20)
        assert proc.poll() is None, "the consumer gave up during the outage"
        private_es_node.restart()
        code, batches, summary = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0
    assert any(b["state"] == "elasticsearch unavailable" and b["messages_not_deleted"] > 0 for b in batches)
    assert summary["totals"]["messages_poison"] == 0
    assert summary["totals"]["messages_deleted"] == len(keys)
    assert stored(es, prefix) == len(ids)
    assert queue_counts(sqs, queue_url) == (0, 0)
    es.close()


def test_queue_errors_are_one_sentence(aws_env, es_url, index_prefix, tmp_path):
    missing = f"{aws_env.url}/123456789012/no-such-queue"
    for args, expected in [
        (["--sqs-queue", missing], "Cannot use the SQS queue"),
        (["--sqs-queue", "not-a-url"], "is not an SQS queue URL"),
        (["--sqs-queue", missing, f"s3://{BUCKET}"], "--sqs-queue takes no sources"),
        (["--follow", str(tmp_path)], "--follow needs s3://"),
        (["--follow", f"s3://{BUCKET}", "--interval", "soon"], "Cannot read the interval"),
    ]:
        result = subprocess.run([CTSTACK, "import", *args, "--es-url", es_url, "--index-prefix", index_prefix],
                                capture_output=True, text=True, timeout=120, env=dict(os.environ))
        assert result.returncode == 1, (args, result.stderr)
        assert expected in result.stderr and "Traceback" not in result.stderr, (args, result.stderr)


def wrong_shapes(key: str) -> list[dict]:
    """Notifications whose fields have the wrong type: each must be poison, never a crash."""
    good = s3_event(BUCKET, key)
    record = good["Records"][0]
    shapes = [
        {"Records": [{**record, "s3": "x"}]},
        {"Records": [{**record, "s3": {**record["s3"], "object": "x"}}]},
        {"Records": [{**record, "s3": {**record["s3"], "bucket": [BUCKET]}}]},
        {"Records": [{**record, "s3": {**record["s3"], "bucket": {"name": ["x"]}}}]},
        {"Records": [{**record, "s3": {**record["s3"], "object": {"key": 7}}}]},
        {"Records": [{**record, "eventName": ["ObjectCreated:Put"]}]},
        {"s3Bucket": [BUCKET], "s3ObjectKey": [key]},
        {"s3Bucket": BUCKET, "s3ObjectKey": [{"key": key}]},
        {"detail-type": "Object Created", "detail": "x"},
        {"detail-type": "Object Created", "detail": {"bucket": "x", "object": {"key": key}}},
        {"detail-type": "Object Created", "detail": {"bucket": {"name": BUCKET}, "object": [key]}},
        {"detail-type": "Object Created", "detail": {"bucket": {"name": BUCKET}, "object": {"key": None}}},
    ]
    return shapes


def test_a_notification_of_the_wrong_shape_is_not_a_notification_never_another_error():
    key = "AWSLogs/111122223333/CloudTrail/eu-west-1/2025/03/06/111122223333_CloudTrail_eu-west-1_20250306T0000Z_x.json.gz"
    for body in wrong_shapes(key):
        with pytest.raises(NotANotification):
            parse_notification(json.dumps(body))
    # Elsewhere in a record, a wrong type is ignored as it would be if absent (the size, the ETag).
    sized = s3_event(BUCKET, key)
    sized["Records"][0]["s3"]["object"].update(size="big", eTag=["x"])
    assert [(o.size, o.etag) for o in parse_notification(json.dumps(sized))[0]] == [(None, "")]


def test_a_key_that_is_no_log_file_name_is_skipped_and_counted_like_a_folder_import_does():
    objects, skipped = parse_notification(json.dumps(cloudtrail_notification(BUCKET, ["AWSLogs/SOURCES.txt"])))
    assert objects == [] and skipped == ["not a CloudTrail log file name (.json, .json.gz, .jsonl): AWSLogs/SOURCES.txt"]


def test_a_message_naming_thousands_of_objects_is_refused_before_any_download():
    keys = [f"AWSLogs/111122223333/CloudTrail/eu-west-1/2025/03/06/111122223333_CloudTrail_eu-west-1_20250306T0000Z_{n}.json.gz"
            for n in range(15_474)]
    with pytest.raises(NotANotification, match="more than 100 objects"):
        parse_notification(json.dumps(cloudtrail_notification(BUCKET, keys)))
    assert len(parse_notification(json.dumps(cloudtrail_notification(BUCKET, keys[:100])))[0]) == 100


def test_wrong_shapes_a_missing_bucket_and_a_huge_message_are_poison_and_the_batch_imports(aws_env, es, es_url, index_prefix, tmp_path):
    """One batch holds a good message, notifications of every wrong shape, one naming a bucket
    that does not exist, one naming 15,474 keys and one naming SOURCES.txt. The consumer
    imports the good object, deletes the good and the SOURCES.txt messages (skipped, counted),
    keeps the others as poison for the redrive policy, downloads nothing it was not asked to,
    and exits 1 with its summary."""
    s3, sqs = aws_env.client(), aws_env.client("sqs")
    s3.create_bucket(Bucket=BUCKET)
    queue_url, dlq_url = make_queue(sqs, "trail-shapes", visibility=5, max_receive=1)
    keys, ids = put_trail_objects(s3, BUCKET, datetime.now(timezone.utc), 1, 3)
    s3.put_object(Bucket=BUCKET, Key="AWSLogs/SOURCES.txt", Body=b"where the logs come from")
    many = [f"{n}.json.gz" for n in range(10_000)]  # short keys: an SQS message holds 256 KiB
    bad = [*wrong_shapes(keys[0]), s3_event("no-such-bucket", keys[0]), cloudtrail_notification(BUCKET, many)]
    send(sqs, queue_url, [s3_event(BUCKET, keys[0]), cloudtrail_notification(BUCKET, ["AWSLogs/SOURCES.txt"]), *bad])

    code, batches, summary = finish(consumer(queue_url, es_url, index_prefix, tmp_path, "--exit-when-empty"))

    assert code == 1
    assert stored(es, index_prefix) == len(ids)
    totals = summary["totals"]
    assert totals["messages_deleted"] == 2 and totals["messages_skipped"] == 1 and totals["objects_skipped"] == 1
    assert totals["messages_poison"] == totals["messages_not_deleted"] == len(bad)
    assert totals["objects_downloaded"] == 1
    reasons = [f["reason"] for b in batches for f in b["failed_messages"]]
    assert any("no-such-bucket does not exist" in r for r in reasons), reasons
    assert any("more than 100 objects" in r for r in reasons), reasons
    assert queue_counts(sqs, queue_url) == (0, 0)
    assert queue_counts(sqs, dlq_url)[0] == len(bad)
