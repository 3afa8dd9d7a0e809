"""Benchmark of the S3 source against moto's server (127.0.0.1, real boto3 over HTTP).

What it shows: how many ListObjectsV2 requests a filtered import needs compared with the
whole bucket, download throughput by --workers, and that memory does not grow with the
number of objects. moto runs as its own process (`moto_server`), so it does not share the
GIL with the client. It is a local Python server, so absolute rates say little about AWS
(where each request waits ~20-50 ms and more workers help more); the request counts and the
memory bound carry over as they are.

    .venv/bin/python bench/s3_source.py [--accounts 8 --regions 2 --days 30 --per-day 12]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import subprocess  # noqa: E402
import urllib.request  # noqa: E402

import boto3  # noqa: E402

from provision.sources.s3layout import make_filters  # noqa: E402
from provision.sources.s3source import S3Import  # noqa: E402
from tests.support.loopback import free_port  # noqa: E402

BUCKET = "bench-trails"
LATENCY = 0.05   # simulated round trip to S3, seconds
ORG = "o-abcdefghij"


def delivery_file(account: str, region: str, when: str, n: int) -> bytes:
    records = [{"eventVersion": "1.08", "eventTime": when, "eventName": f"Describe{i}", "eventSource": "ec2.amazonaws.com",
                "awsRegion": region, "recipientAccountId": account, "eventID": f"{account}-{region}-{when}-{i}",
                "userIdentity": {"type": "AssumedRole", "arn": f"arn:aws:sts::{account}:assumed-role/r/s"}} for i in range(n)]
    return gzip.compress(json.dumps({"Records": records}).encode())


def start_moto() -> tuple[subprocess.Popen, str]:
    """moto's server in a process of its own on 127.0.0.1 (stopped by main, by its PID)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1)
            return server, url
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("moto_server did not start")


def populate(url: str, accounts: int, regions: int, days: int, per_day: int) -> int:
    s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    start, count = date(2024, 7, 1), 0
    for a in range(accounts):
        account = f"{100000000000 + a}"
        for r in range(regions):
            region = f"eu-bench-{r}"
            for d in range(days):
                day = start + timedelta(days=d)
                for f in range(per_day):
                    stamp = f"{day:%Y%m%d}T{f * 2 % 24:02d}{f % 2 * 30:02d}Z"
                    key = f"AWSLogs/{ORG}/{account}/CloudTrail/{region}/{day:%Y/%m/%d}/{account}_CloudTrail_{region}_{stamp}_{f:04d}.json.gz"
                    s3.put_object(Bucket=BUCKET, Key=key, Body=delivery_file(account, region, f"{day}T00:00:00Z", 20))
                    count += 1
    return count


def session_with_latency(seconds: float) -> boto3.Session:
    """A boto3 session whose every request waits ``seconds`` first, like a round trip to AWS
    would (moto on loopback answers in well under a millisecond)."""
    session = boto3.Session()
    if seconds:
        session.events.register("before-send.s3", lambda **_: time.sleep(seconds))
    return session


def drain(source: S3Import) -> tuple[int, float, int]:
    """Read every file like the importer does; returns (files, seconds, peak traced bytes)."""
    tracemalloc.start()
    started, files = time.perf_counter(), 0
    for file in source.files():
        file.read()
        files += 1
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return files, seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=8)
    parser.add_argument("--regions", type=int, default=2)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--per-day", type=int, default=12)
    parser.add_argument("--listing-only", action="store_true", help="skip the download runs")
    parser.add_argument("--workers", type=lambda v: [int(w) for w in v.split(",")], default=[1, 4, 8, 16], help="e.g. 1,4,8,16")
    args = parser.parse_args()
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1",
                      AWS_EC2_METADATA_DISABLED="true")
    server, url = start_moto()
    try:
        os.environ["CTSTACK_S3_ENDPOINT_URL"] = url
        t = time.perf_counter()
        total = populate(url, args.accounts, args.regions, args.days, args.per_day)
        print(f"bucket: {total} objects ({args.accounts} accounts x {args.regions} regions x {args.days} days x {args.per_day}), uploaded in {time.perf_counter() - t:.0f} s")

        one_account = make_filters(accounts=["100000000000"])
        for label, filters in [
            ("whole bucket", make_filters()),
            ("1 account", one_account),
            ("1 account, 1 region, 1 day", make_filters(accounts=["100000000000"], regions=["eu-bench-0"], since="2024-07-15", until="2024-07-15")),
            ("--since/--until 7 days", make_filters(since="2024-07-10", until="2024-07-16")),
        ]:
            timings = []
            for latency in (0, LATENCY):
                for list_ahead in (1, 8):  # prefixes listed one at a time, then 8 at a time (the default)
                    source = S3Import([f"s3://{BUCKET}"], filters, session=session_with_latency(latency))
                    source.list_ahead = list_ahead
                    t = time.perf_counter()
                    listed = sum(1 for _ in source.listed_objects())
                    timings.append(time.perf_counter() - t)
            print(f"listing {label:28s} {listed:5d} objects {source.stats['s3_list_requests']:4d} requests | "
                  f"1 / 8 at a time: {timings[0]:.2f} / {timings[1]:.2f} s, with {LATENCY * 1000:.0f} ms latency {timings[2]:.2f} / {timings[3]:.2f} s")

        if args.listing_only:
            return
        for workers in args.workers:
            files, seconds, peak = drain(S3Import([f"s3://{BUCKET}"], workers=workers))
            print(f"download workers={workers:2d}: {files} objects in {seconds:.1f} s = {files / seconds:,.0f} objects/s, peak Python memory {peak / 1e6:.1f} MB")
        for workers in args.workers:
            files, seconds, _ = drain(S3Import([f"s3://{BUCKET}"], one_account, workers=workers, session=session_with_latency(LATENCY)))
            print(f"download with {LATENCY * 1000:.0f} ms latency, workers={workers:2d}: {files} objects in {seconds:.1f} s = {files / seconds:,.0f} objects/s")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
