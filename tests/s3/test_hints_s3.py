"""`ctstack hints s3://...`: the same hints straight from a CloudTrail bucket (moto's server over
real HTTP, real boto3) as from the same files on disk."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from typer.testing import CliRunner

from provision.cli.commands import app
from provision.analysis.hints import Filters, hints_from_sources
from tests.support.s3 import BUCKET, MotoS3, upload_tree
from tests.support.trail import ACCOUNT, demo_events, role_event, write_trail


def compared(hints) -> dict:
    data = hints.to_json()
    return {key: data[key] for key in ("events_read", "distinct_events", "console_events", "automation_candidates", "candidates", "console_actions", "activity")}


def test_hints_from_a_bucket_equal_hints_from_the_same_files(trail_bucket: list[str], aws_env: MotoS3, tmp_path: Path, sample_data: Path) -> None:
    write_trail(tmp_path / "team", demo_events())
    upload_tree(aws_env.client(), BUCKET, tmp_path / "team")
    local = hints_from_sources([str(tmp_path / "team"), str(sample_data / "stratus-red-team"), str(sample_data / "cloud-snitch")], top=0)
    remote = hints_from_sources([f"s3://{BUCKET}/"], top=0)
    assert remote.candidates
    assert compared(remote) == compared(local)
    assert remote.skipped_files == [] and remote.failed_files == []  # the digest and Insights files are never listed


def test_filters_prune_the_listing_and_still_count_exactly(trail_bucket: list[str], aws_env: MotoS3, tmp_path: Path) -> None:
    # An event at 23:58 delivered after midnight lands in the next day's file: still counted.
    late = role_event("CreateUser", "iam.amazonaws.com", time="2024-08-01T23:58:00Z")
    path = tmp_path / "AWSLogs" / ACCOUNT / "CloudTrail" / "eu-west-1" / "2024" / "08" / "02" / f"{ACCOUNT}_CloudTrail_eu-west-1_20240802T0005Z_late.json.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress(json.dumps({"Records": [late]}).encode()))
    upload_tree(aws_env.client(), BUCKET, tmp_path)
    hints = hints_from_sources([f"s3://{BUCKET}/"], Filters.from_text(account=ACCOUNT, until="2024-08-01"), top=0)
    assert [(c.action, c.count) for c in hints.candidates] == [("CreateUser", 1)]
    assert hints.files_read == 1  # other accounts' files were not even listed


def test_the_command_mixes_folders_and_buckets(trail_bucket: list[str], aws_env: MotoS3, tmp_path: Path) -> None:
    write_trail(tmp_path / "local", [role_event("PutMetricAlarm", "monitoring.amazonaws.com")])
    result = CliRunner().invoke(app, ["hints", str(tmp_path / "local"), f"s3://{BUCKET}/AWSLogs/", "--format", "json", "--endpoint-url", aws_env.url])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [c["cli"] for c in data["candidates"]] == ["aws cloudwatch put-metric-alarm"]
    assert data["distinct_events"] > 300  # the bucket's sample data was read too


def test_a_missing_bucket_is_one_sentence(aws_env: MotoS3) -> None:
    result = CliRunner().invoke(app, ["hints", "s3://no-such-bucket/"])
    assert result.exit_code == 1
    assert "no-such-bucket" in result.output and "Traceback" not in result.output
