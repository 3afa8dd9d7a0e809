"""The seeded sample generator (provision/demo/generate.py): what `ctstack up --sample` loads and
what the benchmark imports. Its files must look like CloudTrail's own S3 delivery, read
back through the importer's own reader, and be the same bytes for the same seed."""

from __future__ import annotations

import collections
import gzip
import hashlib
import json
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest

from provision.cloudtrail import classify
from provision.demo.generate import SAMPLE_EVENTS, SAMPLE_SEED, write_sample
from provision.ingest.importer import run_import
from provision.cloudtrail.records import SkipFile, is_digest_name
from provision.cloudtrail.decode import decode_events
from provision.sources.local import local_files

REPO = Path(__file__).resolve().parent.parent

LOG_KEY = re.compile(
    r"^AWSLogs/(?:(?P<org>o-[a-z0-9]{10,32})/)?(?P<account>\d{12})/CloudTrail/(?P<region>[a-z]{2}(?:-gov)?-[a-z]+-\d)/"
    r"(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/"
    r"(?P=account)_CloudTrail_(?P=region)_(?P<stamp>\d{8}T\d{4}Z)_[A-Za-z0-9]{16}\.json\.gz$"
)
DIGEST_KEY = re.compile(
    r"^AWSLogs/(?:o-[a-z0-9]{10,32}/)?(?P<account>\d{12})/CloudTrail-Digest/(?P<region>[a-z]{2}-[a-z]+-\d)/\d{4}/\d{2}/\d{2}/"
    r"(?P=account)_CloudTrail-Digest_(?P=region)_[A-Za-z0-9_.-]+_(?P=region)_\d{8}T\d{6}Z\.json\.gz$"
)
REAL_REGIONS = {
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1", "eu-west-1", "eu-west-2",
    "eu-west-3", "eu-central-1", "eu-north-1", "ap-northeast-1", "ap-northeast-2", "ap-southeast-1",
    "ap-southeast-2", "ap-south-1",
}


def tree_digest(root: Path) -> str:
    """SHA-256 over every file's relative path and bytes."""
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def keys(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[Path, object]:
    """The demo set `ctstack up --sample` loads: write_sample(dir) with its defaults."""
    root = tmp_path_factory.mktemp("sample")
    return root, write_sample(root)


@pytest.fixture(scope="module")
def sample_events(sample) -> list[tuple[str, dict]]:
    """(S3 key, event) for every event of the sample, read with the importer's reader."""
    root, _ = sample
    out = []
    for source in local_files([root]):
        key = str(Path(source.name).relative_to(root))
        try:
            events = decode_events(source.name, source.read())
        except SkipFile:
            continue
        out.extend((key, e) for e in events)
    return out


def test_same_seed_gives_the_same_bytes_and_another_seed_different_ones(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    stats_a = write_sample(a, events=3000, seed=7)
    stats_b = write_sample(b, events=3000, seed=7)
    write_sample(c, events=3000, seed=8)
    assert tree_digest(a) == tree_digest(b)
    assert stats_a == stats_b
    assert tree_digest(a) != tree_digest(c)


def test_the_demo_set_is_sample_events_from_sample_seed(sample, tmp_path):
    root, stats = sample
    assert stats.events == SAMPLE_EVENTS
    write_sample(tmp_path, events=SAMPLE_EVENTS, seed=SAMPLE_SEED)
    assert tree_digest(root) == tree_digest(tmp_path)


def test_writes_exactly_the_events_asked_for(tmp_path):
    for n in (0, 1, 999):
        stats = write_sample(tmp_path / str(n), events=n)
        found = sum(len(decode_events(f.name, f.read())) for f in local_files([tmp_path / str(n)]) if not is_digest_name(f.name))
        assert stats.events == found == n


def test_every_file_has_the_key_cloudtrail_gives_it(sample):
    root, stats = sample
    names = keys(root)
    logs = [k for k in names if LOG_KEY.match(k)]
    digests = [k for k in names if DIGEST_KEY.match(k)]
    assert sorted(logs + digests) == names, [k for k in names if k not in logs + digests][:5]
    assert len(logs) == stats.files and len(digests) == stats.digest_files > 0
    assert all(is_digest_name(k) for k in digests) and not any(is_digest_name(k) for k in logs)
    # one account is delivered by an organisation trail, the others by their own trails
    org_accounts = {LOG_KEY.match(k)["account"] for k in logs if LOG_KEY.match(k)["org"]}
    own_accounts = {LOG_KEY.match(k)["account"] for k in logs if not LOG_KEY.match(k)["org"]}
    assert len(org_accounts) == 1 and len(own_accounts) >= 2 and not org_accounts & own_accounts


def test_files_are_gzipped_records_objects_and_digests_are_skipped_by_the_reader(sample):
    root, _ = sample
    for key in keys(root):
        raw = (root / key).read_bytes()
        assert raw[:2] == b"\x1f\x8b"
        body = orjson.loads(gzip.decompress(raw))
        if is_digest_name(key):
            assert body["digestS3Object"] == key and body["logFiles"] is not None
            with pytest.raises(SkipFile, match="digest"):
                decode_events(key, raw)
        else:
            assert list(body) == ["Records"] and body["Records"]


def test_events_agree_with_the_file_they_are_in(sample_events):
    for key, event in sample_events:
        m = LOG_KEY.match(key)
        assert event["recipientAccountId"] == m["account"]
        assert event["awsRegion"] == m["region"]
        delivered = datetime.strptime(m["stamp"], "%Y%m%dT%H%MZ").replace(tzinfo=timezone.utc)
        when = datetime.strptime(event["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        assert delivered - timedelta(minutes=11) <= when <= delivered, (key, event["eventTime"])
        assert (m["y"], m["m"], m["d"]) == (f"{delivered:%Y}", f"{delivered:%m}", f"{delivered:%d}")


def test_events_have_cloudtrail_shapes(sample_events):
    uuid = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
    ids = set()
    for _, e in sample_events:
        for k in ("eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion",
                  "eventID", "readOnly", "eventType", "managementEvent", "recipientAccountId", "eventCategory"):
            assert k in e, (k, e)
        assert uuid.match(e["eventID"]) and e["eventSource"].endswith(".amazonaws.com")
        ids.add(e["eventID"])
        identity = e["userIdentity"]
        if identity.get("type") == "AssumedRole":
            issuer = identity["sessionContext"]["sessionIssuer"]
            assert identity["arn"].endswith("/" + identity["principalId"].split(":", 1)[1])
            assert f":assumed-role/{issuer['userName']}/" in identity["arn"]
        elif identity.get("type") == "IAMUser":
            assert identity["arn"].endswith(":user/" + identity["userName"])
        elif identity.get("type") == "AWSService":
            assert identity["invokedBy"].endswith(".amazonaws.com") and e["sourceIPAddress"] == identity["invokedBy"]
        if e.get("sessionCredentialFromConsole") is not None:
            assert e["sessionCredentialFromConsole"] == "true"
    assert len(ids) == len(sample_events), "eventIDs are unique"
    types = collections.Counter(e["userIdentity"].get("type") for _, e in sample_events)
    assert {"IAMUser", "AssumedRole", "AWSService", "Root"} <= set(types)
    sizes = sorted(len(orjson.dumps(e)) for _, e in sample_events)
    # real events (tests/data/cloudtrail) have a median around 1 kB and reach several kB
    assert 700 <= sizes[len(sizes) // 2] <= 2000 and sizes[-1] >= 3000


def test_the_mix_is_mostly_programmatic_reads_with_some_console_work_and_errors(sample, sample_events):
    _, stats = sample
    events = [e for _, e in sample_events]
    n = len(events)
    read_only = sum(classify.is_read_only(e) for e in events)
    console = [e for e in events if classify.is_console(e)]
    candidates = [e for e in events if classify.is_automation_candidate(e)]
    assert read_only / n > 0.7
    assert 0.03 < len(console) / n < 0.3
    assert 0.005 < len(candidates) / n < 0.1
    # the hand work worth automating, each done by several people
    people_by_action = collections.defaultdict(set)
    for e in candidates:
        people_by_action[(e["eventSource"], e["eventName"])].add(e["userIdentity"]["arn"])
    for action in [("ec2.amazonaws.com", "StartInstances"), ("ec2.amazonaws.com", "StopInstances"),
                   ("ec2.amazonaws.com", "RebootInstances"), ("s3.amazonaws.com", "PutBucketPolicy"),
                   ("iam.amazonaws.com", "AttachRolePolicy"), ("ssm.amazonaws.com", "StartSession"),
                   ("monitoring.amazonaws.com", "PutMetricAlarm")]:
        assert len(people_by_action[action]) >= 2, action
    sign_ins = collections.Counter(e["eventName"] for e in events if e["eventType"] == "AwsConsoleSignIn")
    assert sign_ins["ConsoleLogin"] > 0 and sign_ins["SwitchRole"] > 0
    assert not any(classify.is_automation_candidate(e) for e in events if e["eventType"] == "AwsConsoleSignIn")
    assert any(e["responseElements"] == {"ConsoleLogin": "Failure"} for e in events)
    assert any(e["eventType"] == "AwsServiceEvent" for e in events)
    errors = collections.Counter(e.get("errorCode") for e in events)
    assert errors["AccessDenied"] > 0 and errors["ThrottlingException"] > 0
    assert 0.005 < sum(v for k, v in errors.items() if k) / n < 0.1
    agents = " ".join({e["userAgent"] for e in events})
    for agent in ("aws-cli/2.", "Boto3/", "Terraform/", "console.ec2.amazonaws.com", "AWS Internal", "Mozilla/5.0", "S3Console"):
        assert agent in agents, agent
    assert 3 <= len(stats.accounts) <= 5
    assert len(stats.regions) >= 3 and set(stats.regions) <= REAL_REGIONS


def test_many_small_files_and_some_large_ones(sample):
    root, stats = sample
    sizes = [len(decode_events(f.name, f.read())) for f in local_files([root]) if not is_digest_name(f.name)]
    assert sum(s <= 5 for s in sizes) / len(sizes) > 0.2
    assert max(sizes) == stats.largest_file_events >= 1000


def test_bench_cli_writes_a_sample_and_reports_it(tmp_path):
    out = subprocess.run([sys.executable, str(REPO / "bench" / "generate.py"), str(tmp_path / "ct"), "--events", "500", "--seed", "3"],
                         capture_output=True, text=True, check=True)
    report = json.loads(out.stdout)
    assert report["events"] == 500 and report["files"] == len(list((tmp_path / "ct").rglob("*_CloudTrail_*.json.gz")))
    again = subprocess.run([sys.executable, str(REPO / "bench" / "generate.py"), str(tmp_path / "ct"), "--events", "5"],
                           capture_output=True, text=True)
    assert again.returncode == 2 and "not empty" in again.stderr


@pytest.mark.es
def test_the_importer_indexes_every_generated_event_and_skips_the_digests(tmp_path, es, index_prefix):
    stats = write_sample(tmp_path / "ct", events=3000, seed=11)
    summary = run_import(es, local_files([tmp_path / "ct"]), index_prefix=index_prefix, dead_letter_path=tmp_path / "dead.ndjson")
    assert summary.ok, summary.to_dict()
    assert summary.events_read == summary.events_indexed == stats.events == 3000
    assert summary.files_skipped == stats.digest_files
    assert {entry["reason"] for entry in summary.skipped_files} == {"CloudTrail digest file (no events)"}
    assert es.count(index=f"{index_prefix}-*")["count"] == 3000


def test_the_demo_set_starts_on_the_last_monday_so_the_dashboard_shows_it():
    from datetime import datetime, timezone

    from provision.demo.generate import demo_start

    wednesday = datetime(2026, 11, 25, 15, 0, tzinfo=timezone.utc)
    assert demo_start(wednesday) == datetime(2026, 11, 23, 6, 0, tzinfo=timezone.utc)
    monday = datetime(2026, 11, 23, 1, 0, tzinfo=timezone.utc)
    assert demo_start(monday) == datetime(2026, 11, 16, 6, 0, tzinfo=timezone.utc)  # a whole day behind
