"""`ctstack import s3://...` end to end: moto's server over HTTP with real boto3, the real
Elasticsearch node, and the CLI run as users run it (a subprocess; AWS credentials only in
its environment, never on its command line)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest

from provision.sources import s3state
from provision.core import settings
from provision.analysis.hints import hints_from_sources
from provision.ingest.importer import run_import
from provision.cloudtrail.decode import decode_events
from provision.sources.local import local_files
from provision.sources.s3source import S3Import
from tests.support.s3 import BUCKET, ORG_KEY
from tests.support.cli import ctstack_script

CTSTACK = str(Path(sys.executable).parent / "ctstack")
NEW_KEY = "AWSLogs/111111111111/CloudTrail/eu-central-1/2017/12/11/111111111111_CloudTrail_eu-central-1_20171211T1505Z_A6kvhMoVeCsc7v8U.json.gz"

pytestmark = pytest.mark.usefixtures("forget_state")
# aws_env sets the S3 endpoint for the command (CTSTACK_S3_ENDPOINT_URL): it is passed on.
ctstack = partial(ctstack_script, inherit_ctstack_variables=True)


def import_json(es_url: str, prefix: str, *args: str) -> dict:
    result = ctstack("import", *args, "--es-url", es_url, "--index-prefix", prefix, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_bucket_import_equals_a_folder_import_of_the_same_files(trail_bucket, es, es_url, index_prefix, sample_data):
    from_s3, from_folder = f"{index_prefix}-s3", f"{index_prefix}-folder"

    summary = import_json(es_url, from_s3, f"s3://{BUCKET}")
    folder = run_import(es, local_files([sample_data / "stratus-red-team", sample_data / "cloud-snitch"]), index_prefix=from_folder)

    assert es.count(index=f"{from_s3}-*")["count"] == es.count(index=f"{from_folder}-*")["count"] == folder.events_indexed > 300
    assert summary["events_indexed"] == folder.events_indexed
    assert summary["files_read"] == summary["objects_listed"] == summary["objects_downloaded"] == len(trail_bucket)
    assert summary["objects_skipped_already_imported"] == 0
    assert summary["bytes_downloaded"] == sum(p.stat().st_size for d in ("stratus-red-team", "cloud-snitch")
                                              for p in (sample_data / d).rglob("*.json.gz"))
    assert summary["files_skipped"] == 0  # the digest and Insights objects were never listed


def test_second_run_downloads_nothing_and_a_new_object_alone_is_downloaded(trail_bucket, aws_env, es, es_url, index_prefix, sample_data):
    first = import_json(es_url, index_prefix, f"s3://{BUCKET}")
    second = import_json(es_url, index_prefix, f"s3://{BUCKET}")

    assert first["objects_downloaded"] == len(trail_bucket)
    assert second["objects_downloaded"] == second["bytes_downloaded"] == second["events_read"] == 0
    assert second["objects_skipped_already_imported"] == len(trail_bucket)

    new_file = sample_data / "trailscraper" / NEW_KEY.rsplit("/", 1)[1]
    aws_env.client().put_object(Bucket=BUCKET, Key=NEW_KEY, Body=new_file.read_bytes())
    third = import_json(es_url, index_prefix, f"s3://{BUCKET}")

    assert third["objects_downloaded"] == 1
    assert third["objects_skipped_already_imported"] == len(trail_bucket)
    assert third["events_indexed"] > 0 and third["events_duplicate"] == 0
    state = es.get(index=settings.STATE_INDEX, id=s3state.state_id(index_prefix, BUCKET, NEW_KEY))["_source"]
    assert state[s3state.KEY] == NEW_KEY and state[s3state.EVENTS] == third["events_read"]


def test_full_downloads_everything_again_without_duplicating_events(trail_bucket, es, es_url, index_prefix):
    first = import_json(es_url, index_prefix, f"s3://{BUCKET}")
    again = import_json(es_url, index_prefix, f"s3://{BUCKET}", "--full")

    assert again["objects_downloaded"] == len(trail_bucket)
    assert again["events_indexed"] == 0 and again["events_duplicate"] == first["events_indexed"]
    assert es.count(index=f"{index_prefix}-*")["count"] == first["events_indexed"]


def test_a_changed_object_is_downloaded_again(trail_bucket, aws_env, es_url, index_prefix, sample_data):
    import_json(es_url, index_prefix, f"s3://{BUCKET}")
    # Uploaded again with the same bytes: same ETag, nothing to do.
    aws_env.client().put_object(Bucket=BUCKET, Key=ORG_KEY, Body=(sample_data / "cloud-snitch" / ORG_KEY).read_bytes())
    same = import_json(es_url, index_prefix, f"s3://{BUCKET}")
    assert same["objects_downloaded"] == 0

    aws_env.client().put_object(Bucket=BUCKET, Key=ORG_KEY, Body=json.dumps({"Records": []}).encode())
    changed = import_json(es_url, index_prefix, f"s3://{BUCKET}")

    assert changed["objects_downloaded"] == 1
    assert changed["skipped_files"] == [{"path": f"s3://{BUCKET}/{ORG_KEY}", "reason": "no CloudTrail events (empty Records)"}]


def test_filters_list_only_the_wanted_day_through_the_cli(trail_bucket, es_url, index_prefix):
    summary = import_json(es_url, index_prefix, f"s3://{BUCKET}", "--account", "307578594326", "--region", "euiso-south-3r",
                          "--since", "2024-08-02", "--until", "2024-08-02")

    assert summary["objects_listed"] == summary["objects_downloaded"] == 2
    # AWSLogs/ and the organisation's accounts to discover, then the day's prefix and the
    # next day's (files are named by delivery time, up to ~15 minutes after their events).
    assert summary["s3_list_requests"] == 4


def test_folders_and_buckets_mix_in_one_import(trail_bucket, es, es_url, index_prefix, sample_data):
    summary = import_json(es_url, index_prefix, str(sample_data / "trailscraper"), f"s3://{BUCKET}/AWSLogs/o-1234abcde/")

    assert summary["objects_downloaded"] == 1
    assert summary["files_read"] == 3 + 1  # the folder's .json, .json.gz and LICENSE, the bucket's object
    assert summary["files_skipped"] == 1  # LICENSE
    assert es.count(index=f"{index_prefix}-*")["count"] == summary["events_indexed"] > 0


def test_an_object_denied_by_iam_fails_alone_exits_1_and_is_retried_next_time(trail_bucket, aws_env, as_iam_user, es_url, index_prefix, sample_data):
    as_iam_user("no-org-logs", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/AWSLogs/o-*"},
    ]})
    denied = ctstack("import", f"s3://{BUCKET}", "--es-url", es_url, "--index-prefix", index_prefix, "--json")
    aws_env.set_iam_auth(False)
    retried = import_json(es_url, index_prefix, f"s3://{BUCKET}")

    summary = json.loads(denied.stdout)
    assert denied.returncode == 1
    assert summary["failed_files"] == [{
        "path": f"s3://{BUCKET}/{ORG_KEY}",
        "reason": f"could not read: access denied (AccessDenied): the AWS identity lacks s3:GetObject on s3://{BUCKET}/{ORG_KEY}",
    }]
    assert summary["objects_listed"] == len(trail_bucket) and summary["objects_downloaded"] == len(trail_bucket) - 1
    org_events = decode_events(ORG_KEY, (sample_data / "cloud-snitch" / ORG_KEY).read_bytes())
    assert retried["objects_downloaded"] == 1 and retried["events_read"] == len(org_events) and retried["events_failed"] == 0


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_missing_bucket_is_one_line(aws_env, es_url, index_prefix):
    line = one_line_error(ctstack("import", "s3://no-such-bucket", "--es-url", es_url, "--index-prefix", index_prefix))
    assert line == "Error: The S3 bucket no-such-bucket does not exist (or is not visible to these credentials)."


def test_missing_credentials_are_one_line(trail_bucket, es_url, index_prefix, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    line = one_line_error(ctstack("import", f"s3://{BUCKET}", "--es-url", es_url, "--index-prefix", index_prefix))
    assert line.startswith("Error: No AWS credentials found: use --profile")


def test_listing_denied_is_one_line_naming_the_permission_and_prefix(trail_bucket, as_iam_user, es_url, index_prefix):
    as_iam_user("no-list", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}"},
    ]})
    line = one_line_error(ctstack("import", f"s3://{BUCKET}/AWSLogs/o-1234abcde/", "--es-url", es_url, "--index-prefix", index_prefix))
    assert line == f"Error: Access denied (AccessDenied): the AWS identity lacks s3:ListBucket on s3://{BUCKET}/AWSLogs/o-1234abcde/."


def test_s3_only_options_without_an_s3_source_are_refused(es_url, sample_data):
    line = one_line_error(ctstack("import", str(sample_data / "cloud-snitch"), "--insights", "--es-url", es_url))
    assert line == "Error: --insights applies to s3:// sources only."


def test_a_state_that_cannot_be_written_costs_a_redownload_not_the_import(trail_bucket, es, index_prefix):
    state_index = f"{index_prefix}-state"
    es.indices.create(index=state_index, mappings=s3state.MAPPINGS, settings={"index": {"blocks": {"write": True}}})
    source = S3Import([f"s3://{BUCKET}"], es=es, index_prefix=index_prefix, state_index=state_index)

    summary = run_import(es, source.files(), index_prefix=index_prefix, on_file_done=source.on_file_done)
    source.close()

    assert summary.ok and summary.events_indexed > 300
    assert source.stats["objects_not_remembered"] == len(trail_bucket)
    assert source.stats["state_error"].startswith(f"Elasticsearch refused the import state in {state_index} (cluster_block_exception: ")


def test_a_second_run_says_nothing_new_and_filters_apply_to_s3_events(trail_bucket, es, es_url, index_prefix):
    """S3 events are filtered exactly like local ones (the listing
    takes whole days, the events the bound), and a run that finds everything imported says so."""
    first = import_json(es_url, index_prefix, f"s3://{BUCKET}", "--since", "2024-08-01T13:00:00Z", "--until", "2024-08-01")
    assert first["events_filtered"] > 0 and first["events_indexed"] > 0
    assert first["events_read"] == first["events_indexed"] + first["events_duplicate"] + first["events_failed"] + first["events_filtered"]
    # Objects with events left out were not remembered: an unfiltered run still imports them.
    import_json(es_url, index_prefix, f"s3://{BUCKET}")
    assert es.count(index=f"{index_prefix}-*")["count"] == hints_from_sources([f"s3://{BUCKET}"]).distinct_events
    again = ctstack("import", f"s3://{BUCKET}", "--es-url", es_url, "--index-prefix", index_prefix)
    assert again.returncode == 0, again.stderr
    assert re.search(r"Nothing new: the [\d,]+ objects listed were imported by earlier runs", " ".join(again.stdout.split())), again.stdout


def test_elasticsearch_dying_during_an_s3_import_stops_it_like_a_local_import(trail_bucket, private_es_node, monkeypatch, tmp_path):
    """Kill the node while objects are being looked up in the import state (one lookup per
    object here, so the next lookup meets the dead node): the import stops with its summary,
    every event read is accounted for, the verdict is not ok, and the reason is that
    Elasticsearch is unreachable, with no --full advice (--full could not help)."""
    from provision.sources import s3source
    from provision.core.connection import EsConfig
    from provision.ingest.import_sources import import_sources

    monkeypatch.setattr(s3source, "BATCH_SIZE", 1)
    listed = S3Import.listed_objects

    def kill_after_eight(self):
        for n, obj in enumerate(listed(self)):
            if n == 8:
                private_es_node.kill()
            yield obj

    monkeypatch.setattr(S3Import, "listed_objects", kill_after_eight)
    summary = import_sources(EsConfig(url=private_es_node.url), [f"s3://{BUCKET}"], processes=0,
                             s3_options={"workers": 1}, dead_letter_path=tmp_path / "dead.ndjson")

    assert summary.aborted and "Cannot reach Elasticsearch" in summary.aborted and "--full" not in summary.aborted
    assert not summary.ok
    assert summary.events_read == summary.events_indexed + summary.events_duplicate + summary.events_failed + summary.events_unknown
    assert summary.events_read > 0 and summary.files_read >= 1  # objects looked up before the node died were read
    assert summary.events_failed + summary.events_unknown == summary.events_read - summary.events_indexed > 0
