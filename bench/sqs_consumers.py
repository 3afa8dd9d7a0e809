"""Benchmark of `ctstack import --sqs-queue`: events/s with 1, 2 and 4 consumer processes on
one queue, and the lag from an object written (and notified) to its events searchable.

moto's server (S3 and SQS) runs as its own process on 127.0.0.1, Elasticsearch is a fresh
test node the bench starts (or --es-url). Each consumer is a real `ctstack import
--sqs-queue URL --exit-when-empty` process; the clock runs from starting them to the last
one's exit, with the notifications already queued. The lag is measured with one consumer
long-polling: write an object, send its S3 event, poll `_count` (no forced refresh: what a
user searching would see) until its events are there. Real S3 adds its own delivery delay
to SQS (seconds), which this does not include.

    .venv/bin/python bench/sqs_consumers.py [--objects 400 --events-per-object 100 --json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3  # noqa: E402
from elasticsearch import ApiError  # noqa: E402

from bench.run import machine  # noqa: E402
from bench.s3_source import start_moto  # noqa: E402
from provision.core.connection import EsConfig, client  # noqa: E402
from tests.support.s3 import make_queue, put_trail_objects, s3_event  # noqa: E402

BUCKET = "bench-trails"
CTSTACK = str(Path(sys.executable).parent / "ctstack")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def consumers(n: int, queue_url: str, es_url: str, prefix: str, env: dict, *extra: str) -> list[subprocess.Popen]:
    return [subprocess.Popen([CTSTACK, "import", "--sqs-queue", queue_url, "--es-url", es_url, "--index-prefix", prefix,
                              "--json", "--poll-seconds", "1", "--processes", "0", "--dead-letter", os.devnull, *extra],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for _ in range(n)]


def throughput(n: int, keys: list[str], events: int, sqs, es, es_url: str, env: dict) -> dict:
    queue_url, _ = make_queue(sqs, f"bench-{n}-{uuid.uuid4().hex[:6]}", visibility=60)
    for start in range(0, len(keys), 10):
        sqs.send_message_batch(QueueUrl=queue_url, Entries=[{"Id": str(i), "MessageBody": json.dumps(s3_event(BUCKET, k))}
                                                            for i, k in enumerate(keys[start:start + 10])])
    prefix = f"bench-sqs-{n}"
    load = list(os.getloadavg())
    started = time.monotonic()
    procs = consumers(n, queue_url, es_url, prefix, env, "--exit-when-empty")
    summaries = []
    for proc in procs:
        out, err = proc.communicate(timeout=3600)
        if proc.returncode != 0:
            raise SystemExit(f"a consumer failed ({proc.returncode}): {err[-2000:]}")
        summaries.append(json.loads(out.splitlines()[-1])["summary"]["totals"])
    seconds = time.monotonic() - started
    es.indices.refresh(index=f"{prefix}-*")
    stored = es.count(index=f"{prefix}-*")["count"]
    es.indices.delete(index=f"{prefix}-*")
    if stored != events:
        raise SystemExit(f"{stored} documents stored for {events} events")
    return {"consumers": n, "events": events, "objects": len(keys), "seconds": round(seconds, 2),
            "events_per_s": round(events / seconds), "messages_per_consumer": [s["messages"] for s in summaries],
            "load_avg_before": load}


def searchable(es, prefix: str) -> int:
    try:
        return es.count(index=f"{prefix}-*", ignore_unavailable=True, allow_no_indices=True)["count"]
    except ApiError:  # the index was just created and its shard is not searchable yet
        return 0


def lag(samples: int, s3, sqs, es, es_url: str, env: dict) -> dict:
    queue_url, _ = make_queue(sqs, f"bench-lag-{uuid.uuid4().hex[:6]}", visibility=60)
    prefix = "bench-sqs-lag"
    proc = consumers(1, queue_url, es_url, prefix, env)[0]
    lags = []
    try:
        expected = 0
        for i in range(samples):
            keys, ids = put_trail_objects(s3, BUCKET, datetime.now(timezone.utc), 1, 100, tag=f"lag{i}")
            written = time.monotonic()
            sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(s3_event(BUCKET, keys[0])))
            expected += len(ids)
            while searchable(es, prefix) < expected:
                time.sleep(0.02)
            lags.append(time.monotonic() - written)
            time.sleep(1)
    finally:
        proc.terminate()
        proc.wait(60)
        es.options(ignore_status=404).indices.delete(index=f"{prefix}-*")
    return {"samples": samples, "median_s": round(statistics.median(lags), 2), "max_s": round(max(lags), 2),
            "min_s": round(min(lags), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=400)
    parser.add_argument("--events-per-object", type=int, default=100)
    parser.add_argument("--consumers", default="1,2,4")
    parser.add_argument("--lag-samples", type=int, default=10)
    parser.add_argument("--es-url", help="an Elasticsearch to use (default: start a test node)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    result = {"machine": machine()}
    moto, moto_url = start_moto()
    node = None
    try:
        es_url = args.es_url
        if not es_url:
            from tests.support.esnode import EsNode

            node = EsNode(heap="1g").start()
            es_url = node.url
        es = client(EsConfig(url=es_url))
        env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
               "CTSTACK_S3_ENDPOINT_URL": moto_url, "AWS_EC2_METADATA_DISABLED": "true"}
        os.environ.update({k: v for k, v in env.items() if k.startswith(("AWS_", "CTSTACK_S3"))})
        s3 = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1")
        sqs = boto3.client("sqs", endpoint_url=moto_url, region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        _log(f"writing {args.objects} objects of {args.events_per_object} events ...")
        keys, ids = put_trail_objects(s3, BUCKET, datetime.now(timezone.utc), args.objects, args.events_per_object)
        result["throughput"] = []
        for n in [int(c) for c in args.consumers.split(",")]:
            _log(f"{n} consumer(s) ...")
            result["throughput"].append(throughput(n, keys, len(ids), sqs, es, es_url, env))
            _log(f"  {result['throughput'][-1]['events_per_s']:,} events/s")
        _log("lag ...")
        result["lag"] = lag(args.lag_samples, s3, sqs, es, es_url, env)
        result["load_avg_at_end"] = list(os.getloadavg())
        es.close()
    finally:
        moto.terminate()
        moto.wait(30)
        if node:
            node.stop()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"machine: {result['machine']}")
        for row in result["throughput"]:
            print(f"{row['consumers']} consumer(s): {row['events_per_s']:,} events/s ({row['events']:,} events, {row['objects']} objects, "
                  f"{row['seconds']} s; messages per consumer {row['messages_per_consumer']}; load before {row['load_avg_before'][0]:.1f})")
        lag_row = result["lag"]
        print(f"lag, object written to searchable (1 consumer, {lag_row['samples']} samples): median {lag_row['median_s']} s, "
              f"min {lag_row['min_s']} s, max {lag_row['max_s']} s")


if __name__ == "__main__":
    main()
