"""Benchmark of the S3 source against moto's server (127.0.0.1, real boto3 over HTTP).

What it shows: how many ListObjectsV2 requests a filtered import needs compared with the
whole bucket, download throughput by --workers, and that memory does not grow with the
number of objects. moto is a local Python server, so absolute rates say little about AWS
(where each GetObject has ~20-50 ms latency and more workers help more); the request counts
and the memory bound carry over as they are.

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

from provision.s3layout import make_filters  # noqa: E402
from provision.s3source import S3Import  # noqa: E402
from tests.support.s3 import MotoS3  # noqa: E402

BUCKET = "bench-trails"
ORG = "o-abcdefghij"


def delivery_file(account: str, region: str, when: str, n: int) -> bytes:
    records = [{"eventVersion": "1.08", "eventTime": when, "eventName": f"Describe{i}", "eventSource": "ec2.amazonaws.com",
                "awsRegion": region, "recipientAccountId": account, "eventID": f"{account}-{region}-{when}-{i}",
                "userIdentity": {"type": "AssumedRole", "arn": f"arn:aws:sts::{account}:assumed-role/r/s"}} for i in range(n)]
    return gzip.compress(json.dumps({"Records": records}).encode())


def populate(moto: MotoS3, accounts: int, regions: int, days: int, per_day: int) -> int:
    s3 = moto.client()
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
    args = parser.parse_args()
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1",
                      AWS_EC2_METADATA_DISABLED="true")
    moto = MotoS3()
    try:
        os.environ["CTSTACK_S3_ENDPOINT_URL"] = moto.url
        t = time.perf_counter()
        total = populate(moto, args.accounts, args.regions, args.days, args.per_day)
        print(f"bucket: {total} objects ({args.accounts} accounts x {args.regions} regions x {args.days} days x {args.per_day}), uploaded in {time.perf_counter() - t:.0f} s")

        for label, filters in [
            ("whole bucket", make_filters()),
            ("1 account", make_filters(accounts=["100000000000"])),
            ("1 account, 1 region, 1 day", make_filters(accounts=["100000000000"], regions=["eu-bench-0"], since="2024-07-15", until="2024-07-15")),
            ("--since/--until 7 days", make_filters(since="2024-07-10", until="2024-07-16")),
        ]:
            source = S3Import([f"s3://{BUCKET}"], filters)
            listed = sum(1 for _ in source.listed_objects())
            print(f"listing {label:32s} {listed:6d} objects, {source.stats['s3_list_requests']:4d} ListObjectsV2 requests")

        for workers in (1, 4, 8, 16):
            files, seconds, peak = drain(S3Import([f"s3://{BUCKET}"], workers=workers))
            print(f"download workers={workers:2d}: {files} objects in {seconds:.1f} s = {files / seconds:,.0f} objects/s, peak Python memory {peak / 1e6:.1f} MB")
        few, _, few_peak = drain(S3Import([f"s3://{BUCKET}"], make_filters(accounts=["100000000000"]), workers=8))
        print(f"memory bound: {few} objects peak {few_peak / 1e6:.1f} MB vs {total} objects (above, workers=8)")
    finally:
        moto.stop()


if __name__ == "__main__":
    main()
