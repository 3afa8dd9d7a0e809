"""`ctstack import` against a real Elasticsearch node: idempotent, nothing lost, mapping-safe."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import orjson
import pytest

from provision.cloudtrail import fields as F
from provision.cloudtrail.classify import event_id
from provision.cloudtrail.nesting import flat_source
from provision.ingest.importer import bulk_bodies, run_import
from provision.cloudtrail.records import SkipFile
from provision.cloudtrail.decode import decode_events
from provision.sources.local import local_files
from provision.cloudtrail.template import install_template
from tests.support.events import api_call, many_events, write_trail_file
from tests.support.cli import CTSTACK, ctstack_script
from tests.conftest import running_node
from tests.support.accounting import assert_accounted


def distinct_events(folder: Path) -> set[str]:
    """The ids of every importable event under folder, computed independently of the importer."""
    ids = set()
    for f in local_files([folder]):
        if f.skip_reason:
            continue
        try:
            events = decode_events(f.name, f.read())
        except SkipFile:
            continue
        for ev in events:
            if isinstance(ev, dict) and isinstance(ev.get("eventTime"), str) and ev["eventTime"][:2] in ("19", "20"):
                ids.add(event_id(ev))
    return ids


def test_the_bundled_sample_imports_cleanly_every_distinct_event_once_and_reimport_adds_nothing(es, es_url, index_prefix, sample_data, tmp_path):
    """A user who imports tests/data/cloudtrail sees exit 0 and no dead-letter file: the edge
    cases that are meant to fail live apart, in tests/data/edge-cases."""
    expected = distinct_events(sample_data)
    first = ctstack_script("import", str(sample_data), "--es-url", es_url, "--index-prefix", index_prefix,
                           "--format", "json", "--dead-letter", str(tmp_path / "dead.ndjson"))
    summary = json.loads(first.stdout)
    assert summary["events_read"] == summary["events_indexed"] + summary["events_duplicate"] + summary["events_failed"]
    assert summary["events_indexed"] == len(expected)
    assert first.returncode == 0 and summary["events_failed"] == 0 and summary["files_failed"] == 0, first.stderr
    assert not (tmp_path / "dead.ndjson").exists()
    assert es.count(index=f"{index_prefix}-*")["count"] == len(expected)

    # --full: read every file again, although the state says each was imported unchanged
    second = ctstack_script("import", str(sample_data), "--es-url", es_url, "--index-prefix", index_prefix, "--full",
                            "--format", "json", "--dead-letter", str(tmp_path / "dead2.ndjson"))
    again = json.loads(second.stdout)
    assert again["events_indexed"] == 0
    assert again["events_duplicate"] == summary["events_indexed"] + summary["events_duplicate"]
    assert es.count(index=f"{index_prefix}-*")["count"] == len(expected)


def test_clean_data_exits_zero_and_prints_a_summary_table(es_url, index_prefix, sample_data):
    result = ctstack_script("import", str(sample_data / "cloud-snitch"), "--es-url", es_url, "--index-prefix", index_prefix)
    assert result.returncode == 0, result.stderr
    assert "events indexed" in result.stdout and "21" in result.stdout


def test_edge_case_events_without_a_usable_event_time_fail_alone_with_their_reason(es_url, index_prefix, edge_cases, tmp_path):
    result = ctstack_script("import", str(edge_cases), "--es-url", es_url, "--index-prefix", index_prefix,
                            "--format", "json", "--dead-letter", str(tmp_path / "dead.ndjson"))
    summary = json.loads(result.stdout)
    dead = [orjson.loads(line) for line in (tmp_path / "dead.ndjson").read_bytes().splitlines()]
    assert len(dead) == summary["events_failed"] > 0
    assert all("eventTime" in d["reason"] and "edge-cases" in d["source"] for d in dead)
    assert result.returncode == 1  # failed events make the exit code say so


def test_every_edge_case_file_is_imported_or_skipped_with_a_reason(es, index_prefix, edge_cases, tmp_path):
    folder = edge_cases
    summary = run_import(es, local_files([folder]), index_prefix=index_prefix, dead_letter_path=tmp_path / "d.ndjson")
    assert_accounted(summary)
    on_disk = sorted(str(p) for p in folder.iterdir())
    skipped = {s["path"]: s["reason"] for s in summary.skipped_files}
    assert summary.files_read == len(on_disk) and summary.files_failed == 0
    assert all(reason for reason in skipped.values())
    assert str(folder / "SerializerTestFileBadJsonFormat.json") in skipped
    assert summary.events_indexed > 0


def test_source_ip_is_an_ip_field_and_absent_for_non_ips(es, index_prefix, tmp_path):
    events = [
        api_call(eventID="ip-1", sourceIPAddress="198.51.100.7"),
        api_call(eventID="ip-2", sourceIPAddress="ec2.amazonaws.com"),
        api_call(eventID="ip-3", sourceIPAddress="251.234.045.249"),
        api_call(eventID="ip-4", sourceIPAddress="AWS Internal"),
    ]
    write_trail_file(tmp_path / "t.json.gz", events)
    summary = run_import(es, local_files([tmp_path]), index_prefix=index_prefix)
    assert summary.events_indexed == 4 and summary.ok
    index = f"{index_prefix}-2024.05"
    mapping = es.indices.get_field_mapping(index=index, fields=F.SOURCE_IP)[index]["mappings"]
    assert mapping[F.SOURCE_IP]["mapping"]["ip"]["type"] == "ip"
    hits = es.search(index=index, query={"exists": {"field": F.SOURCE_IP}})["hits"]["hits"]
    assert [h["_id"] for h in hits] == ["ip-1"]
    cidr = es.count(index=index, query={"term": {F.SOURCE_IP: "198.51.100.0/24"}})["count"]
    assert cidr == 1


def test_blobs_are_flattened_and_2000_keys_do_not_add_2000_fields(es, index_prefix, tmp_path):
    wide = api_call(eventID="wide", requestParameters={f"key{i}": f"value{i}" for i in range(2000)},
                 brandNewTopLevel={"nested": {f"k{i}": i for i in range(500)}})
    write_trail_file(tmp_path / "wide.json.gz", [wide])
    summary = run_import(es, local_files([tmp_path]), index_prefix=index_prefix, profile="full")
    assert summary.events_indexed == 1 and summary.ok
    index = f"{index_prefix}-2024.05"
    props = es.indices.get_mapping(index=index)[index]["mappings"]["properties"]
    rp = props["aws"]["properties"]["cloudtrail"]["properties"]["request_parameters"]
    assert rp["type"] == "flattened"

    def count_fields(node: dict) -> int:
        return sum(1 + count_fields(v.get("properties", {})) for v in node.values())

    assert count_fields(props) < 150
    # The flattened field is searchable by key.
    assert es.count(index=index, query={"term": {f"{F.CT_REQUEST_PARAMETERS}.key1999": "value1999"}})["count"] == 1


def test_console_flags_are_stored_and_aggregatable(es, index_prefix, tmp_path):
    events = [
        api_call(eventID="c1", userAgent="console.ec2.amazonaws.com", eventName="StopInstances"),
        api_call(eventID="c2", userAgent="Mozilla/5.0", eventName="DescribeInstances", readOnly=True),
        api_call(eventID="c3", eventName="StopInstances"),
    ]
    write_trail_file(tmp_path / "c.json.gz", events)
    run_import(es, local_files([tmp_path]), index_prefix=index_prefix)
    index = f"{index_prefix}-*"
    resp = es.search(index=index, size=0, query={"term": {F.AUTOMATION_CANDIDATE: True}},
                     aggs={"actions": {"terms": {"field": F.EVENT_ACTION}}})
    assert [(b["key"], b["doc_count"]) for b in resp["aggregations"]["actions"]["buckets"]] == [("StopInstances", 1)]
    assert es.count(index=index, query={"term": {F.CONSOLE: True}})["count"] == 2


def test_elasticsearch_rejections_go_to_the_dead_letter_file(es, index_prefix, tmp_path):
    """A document Elasticsearch refuses (here: an index that exists with a conflicting
    mapping) is failed with ES's reason and the original event, never dropped."""
    index = f"{index_prefix}-2024.05"
    es.indices.create(index=index, mappings={"properties": {"cloud": {"properties": {"region": {"type": "long"}}}}})
    write_trail_file(tmp_path / "r.json.gz", [api_call(eventID="r1"), api_call(eventID="r2", eventTime="2024-06-01T00:00:00Z")])
    summary = run_import(es, local_files([tmp_path]), index_prefix=index_prefix, dead_letter_path=tmp_path / "dead.ndjson")
    assert_accounted(summary)
    assert (summary.events_indexed, summary.events_failed) == (1, 1)
    [dead] = [orjson.loads(line) for line in (tmp_path / "dead.ndjson").read_bytes().splitlines()]
    assert dead["event"]["eventID"] == "r1"
    assert "rejected by Elasticsearch" in dead["reason"] and "parse" in dead["reason"]
    assert oct((tmp_path / "dead.ndjson").stat().st_mode & 0o777) == "0o600"


def test_template_is_installed_before_import_and_matches_only_its_prefix(es, index_prefix):
    name = install_template(es, index_prefix)
    body = es.indices.get_index_template(name=name)["index_templates"][0]["index_template"]
    assert body["index_patterns"] == [f"{index_prefix}-*"]
    assert body["template"]["mappings"]["dynamic"] in (False, "false")
    es.indices.delete_index_template(name=name)


@pytest.mark.slow  # the ctstack script in a subprocess per case
def test_unreachable_elasticsearch_is_one_sentence_and_non_zero(sample_data):
    result = ctstack_script("import", str(sample_data / "cloud-snitch"), "--es-url", "http://127.0.0.1:9")
    assert result.returncode == 1
    assert "Cannot reach Elasticsearch at http://127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) <= 2


@pytest.mark.slow  # the ctstack script in a subprocess per case
def test_bad_fields_profile_is_a_clear_error(sample_data):
    result = ctstack_script("import", str(sample_data), "--fields", "everything")
    assert result.returncode == 2 and "'everything' is not one of" in result.stderr and "minimal" in result.stderr


@pytest.mark.parametrize(("processes", "bulk_requests"), [(0, 1), (2, 1), (2, 4)])
def test_elasticsearch_killed_mid_import_counts_add_up_and_a_rerun_completes(private_es_node, tmp_path, processes, bulk_requests, monkeypatch):
    """Kill the node after the first files are in: the run stops with every event read
    accounted for and a non-zero verdict; after a restart the same import completes and the
    index holds each event exactly once. With files converted here, and in worker processes,
    and with several bulk requests in flight when the node dies."""
    from provision.ingest import convert
    from provision.core.connection import EsConfig, client

    monkeypatch.setattr(convert, "POOL_AFTER_BYTES", 0)
    for i in range(40):
        write_trail_file(tmp_path / "logs" / f"{i:03d}.json.gz", many_events(500, seed=f"f{i}"))
    es = client(EsConfig(url=private_es_node.url), request_timeout=10)
    es = es.options(max_retries=0)
    killed = []

    def kill_after_some(summary):
        if summary.events_indexed >= 3000 and not killed:
            private_es_node.kill()
            killed.append(summary.events_indexed)

    # Requests of 500 events: many of them in 20,000, so the kill lands with some in flight and more unsent.
    first = run_import(es, local_files([tmp_path / "logs"]), index_prefix="kill", progress=kill_after_some, chunk_size=500,
                       dead_letter_path=tmp_path / "dead1.ndjson", processes=processes, bulk_requests=bulk_requests)
    assert killed, "the node was never killed"
    assert first.aborted and "Cannot reach Elasticsearch" in first.aborted
    assert not first.ok
    assert_accounted(first)
    assert first.events_failed > 0
    assert first.events_read < 40 * 500  # it stopped instead of failing every remaining file

    private_es_node.restart()
    es = client(EsConfig(url=private_es_node.url))
    second = run_import(es, local_files([tmp_path / "logs"]), index_prefix="kill",
                        dead_letter_path=tmp_path / "dead2.ndjson", processes=processes, bulk_requests=bulk_requests)
    assert second.ok and second.events_failed == 0
    assert second.events_read == 40 * 500
    assert second.events_indexed + second.events_duplicate == 40 * 500
    assert es.count(index="kill-*")["count"] == 40 * 500


def test_bulk_bodies_are_what_an_import_sends(tmp_path):
    """The null-sink path (used by the benchmark) produces valid bulk NDJSON, chunked by count."""
    write_trail_file(tmp_path / "a.json.gz", many_events(2500))
    chunks = list(bulk_bodies(local_files([tmp_path]), chunk_size=1000))
    assert [n for n, _ in chunks] == [1000, 1000, 500]
    lines = chunks[0][1].splitlines()
    assert len(lines) == 2000
    header, doc = orjson.loads(lines[0]), flat_source(orjson.loads(lines[1]))
    assert header["create"]["_index"] == "ctstack-cloudtrail-2024.05"
    assert doc[F.EVENT_ACTION] in ("DescribeInstances", "StartInstances", "ListBuckets", "PutBucketPolicy")


@pytest.fixture(scope="module")
def starved_node():
    """A node whose indexing-pressure budget (1 byte) is too small for any bulk request:
    it answers 429 (es_rejected_execution_exception) every time. Its tests carry the `es`
    marker by hand: the node is their own, not one of conftest's Elasticsearch fixtures."""
    with running_node("the starved Elasticsearch test node", settings={"indexing_pressure.memory.limit": "1b"}) as node:
        yield node


def starved_import(node, tmp_path: Path, events: int, **options):
    """Import ``events`` events into the starved node: (summary, bulk requests it rejected)."""
    from provision.core.connection import EsConfig, client

    es = client(EsConfig(url=node.url))

    def rejections() -> int:
        stats = es.nodes.stats(metric="indexing_pressure")["nodes"]
        return sum(n["indexing_pressure"]["memory"]["total"]["coordinating_rejections"] for n in stats.values())

    before = rejections()
    write_trail_file(tmp_path / "logs" / "a.json.gz", many_events(events))
    summary = run_import(es, local_files([tmp_path / "logs"]), index_prefix="pressure", initial_backoff=0.01,
                         dead_letter_path=tmp_path / "dead.ndjson", **options)
    assert_accounted(summary)
    return summary, rejections() - before


@pytest.mark.es
@pytest.mark.parametrize("bulk_requests", [1, 3])
def test_429_rejections_are_retried_with_backoff_then_dead_lettered(tmp_path, starved_node, bulk_requests):
    """Each chunk is sent 1 + max_retries times, then its events fail with Elasticsearch's
    reason; nothing is dropped. Also with several chunks retried at once."""
    summary, rejections = starved_import(starved_node, tmp_path, 30, chunk_size=10, max_retries=2, bulk_requests=bulk_requests)
    assert (summary.events_indexed, summary.events_failed) == (0, 30) and not summary.ok
    dead = [orjson.loads(line) for line in (tmp_path / "dead.ndjson").read_bytes().splitlines()]
    assert len(dead) == 30 and all("rejected" in d["reason"] for d in dead)
    assert rejections == 3 * 3  # 3 chunks, each tried 1 + 2 times


def _http_connections_opened(es) -> int:
    return sum(n["http"]["total_opened"] for n in es.nodes.stats(metric="http")["nodes"].values())


@pytest.mark.parametrize("bulk_requests", [1, 4])
def test_bulk_requests_keeps_that_many_requests_in_flight_and_accounts_for_every_event(es_config, tmp_path, bulk_requests):
    """``bulk_requests=N`` sends up to N bulk requests at once: Elasticsearch sees N HTTP
    connections from a fresh client (one per request in flight; one when N is 1). Every
    event is indexed once, and a re-run finds each already present."""
    from provision.core.connection import client

    write_trail_file(tmp_path / "logs" / "big.json.gz", many_events(6000, seed="inflight"))
    prefix = f"inflight{bulk_requests}"
    admin = client(es_config)
    try:
        before = _http_connections_opened(admin)
        fresh = client(es_config)
        summary = run_import(fresh, local_files([tmp_path / "logs"]), index_prefix=prefix, chunk_size=100, processes=0,
                             bulk_requests=bulk_requests, dead_letter_path=tmp_path / "dead.ndjson")
        fresh.close()
        opened = _http_connections_opened(admin) - before
        assert summary.ok and summary.events_indexed == 6000
        assert admin.count(index=f"{prefix}-*")["count"] == 6000
        assert opened == 1 if bulk_requests == 1 else opened == bulk_requests, opened
        again = run_import(admin, local_files([tmp_path / "logs"]), index_prefix=prefix, chunk_size=100, processes=0,
                           bulk_requests=bulk_requests, dead_letter_path=tmp_path / "dead2.ndjson")
        assert again.ok and (again.events_indexed, again.events_duplicate) == (0, 6000)
    finally:
        admin.options(ignore_status=404).indices.delete(index=f"{prefix}-*")
        admin.options(ignore_status=404).indices.delete_index_template(name=prefix)
        admin.close()


@pytest.mark.parametrize("option", ["bulk_requests", "chunk_size"])
@pytest.mark.parametrize("bad", [0, -1, 2.5, "4"])
def test_bulk_options_must_be_whole_numbers_of_at_least_one(es, tmp_path, option, bad):
    with pytest.raises(ValueError, match=f"{option} must be a whole number of at least 1"):
        run_import(es, local_files([tmp_path]), **{option: bad}, dead_letter_path=tmp_path / "dead.ndjson")
    assert not (tmp_path / "dead.ndjson").exists(), "nothing is created before the options are checked"


def test_bulk_requests_from_the_command_line(es, es_url, index_prefix, tmp_path):
    write_trail_file(tmp_path / "logs" / "a.json.gz", many_events(1200, seed="cli-inflight"))
    result = ctstack_script("import", str(tmp_path / "logs"), "--bulk-requests", "3", "--bulk-size", "100", "--es-url", es_url,
                            "--index-prefix", index_prefix, "--format", "json", "--dead-letter", str(tmp_path / "dead.ndjson"))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["events_read"], summary["events_indexed"]) == (1200, 1200)
    assert es.count(index=f"{index_prefix}-*")["count"] == 1200


@pytest.mark.parametrize(("option", "bad"), [("--bulk-requests", "0"), ("--bulk-requests", "65"), ("--bulk-requests", "two"),
                                           ("--bulk-size", "0"), ("--bulk-size", "100001")])
@pytest.mark.slow  # the ctstack script in a subprocess per case
def test_bulk_options_out_of_range_on_the_command_line_are_one_clear_error(tmp_path, option, bad):
    result = ctstack_script("import", str(tmp_path), option, bad)
    assert result.returncode == 2
    assert option in result.stderr and "Traceback" not in result.stderr


def test_an_event_id_over_512_bytes_fails_nothing_and_reimports_idempotently(es, index_prefix, tmp_path):
    """Elasticsearch refuses an _id over 512 bytes, and with it the whole bulk request: such
    an event gets a fixed-length _id (sha256: of its eventID), keeps its eventID as logged in
    event.id, and a re-import finds it already present."""
    long_id = "x" * 600
    wide_id = "é" * 300  # 300 characters, 600 bytes in UTF-8
    events = [api_call(eventID=long_id), api_call(eventID=wide_id), *many_events(20, seed="ok")]
    write_trail_file(tmp_path / "logs" / "a.json.gz", events)

    first = run_import(es, local_files([tmp_path / "logs"]), index_prefix=index_prefix, dead_letter_path=tmp_path / "dead1.ndjson")
    assert (first.events_indexed, first.events_failed) == (22, 0), first.failure_reasons
    hits = es.search(index=f"{index_prefix}-*", query={"terms": {F.EVENT_ID: [long_id, wide_id]}}, size=5)["hits"]["hits"]
    assert sorted(flat_source(hit["_source"])[F.EVENT_ID] for hit in hits) == sorted([long_id, wide_id])
    assert all(hit["_id"].startswith("sha256:") and len(hit["_id"]) == 71 for hit in hits)

    second = run_import(es, local_files([tmp_path / "logs"]), index_prefix=index_prefix, dead_letter_path=tmp_path / "dead2.ndjson")
    assert (second.events_indexed, second.events_duplicate, second.events_failed) == (0, 22, 0)
    assert es.count(index=f"{index_prefix}-*")["count"] == 22


def _bad_time_trail(folder: Path) -> Path:
    """One good event and one without a usable time (it fails, so it goes to the dead-letter file)."""
    return write_trail_file(folder / "a.json.gz", [api_call(eventID="good"), api_call(eventID="bad", eventTime="yesterday")])


@pytest.mark.parametrize("where", ["missing folder", "under a file"])
def test_an_unusable_dead_letter_path_stops_before_anything_is_read(es_url, index_prefix, tmp_path, where):
    _bad_time_trail(tmp_path / "logs")
    (tmp_path / "plain.txt").write_text("a file, not a folder")
    path = tmp_path / "no-such-folder" / "dead.ndjson" if where == "missing folder" else tmp_path / "plain.txt" / "dead.ndjson"
    result = ctstack_script("import", str(tmp_path / "logs"), "--es-url", es_url, "--index-prefix", index_prefix,
                            "--dead-letter", str(path), "--format", "json")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert f"Cannot create the dead-letter file {path}" in result.stderr
    assert json.loads(result.stdout) == {"ok": False, "error": result.stderr.strip().removeprefix("Error: ")}  # no summary: nothing was read
    from provision.core.connection import EsConfig, client

    es = client(EsConfig(url=es_url))
    assert es.indices.get(index=f"{index_prefix}-*") == {}  # not one event went in


def test_the_dead_letter_file_is_scrubbed_like_documents(es, index_prefix, tmp_path):
    """Failed events are written back without access key IDs (by name or shape) and without
    credential material; with --keep-access-keys the IDs stay, the secrets still go."""
    leaky = api_call(eventID="bad", eventTime="yesterday", errorMessage="denied for AKIAIOSFODNN7EXAMPLE",
                  requestParameters={"accessKeyId": "AKIAQYLPMN5HHHFPZAM2"},
                  responseElements={"credentials": {"sessionToken": "IQoJb3JpZ2luX2VjEXAMPLE", "secretAccessKey": "wJalrXUtnFEMI"}})
    write_trail_file(tmp_path / "logs" / "a.json.gz", [leaky])
    for keep in (False, True):
        dead = tmp_path / f"dead-{keep}.ndjson"
        summary = run_import(es, local_files([tmp_path / "logs"]), index_prefix=index_prefix, dead_letter_path=dead,
                             keep_access_keys=keep, profile="standard")
        assert summary.events_failed == 1
        text = dead.read_text()
        assert "IQoJb3JpZ2lu" not in text and "wJalrXUtnFEMI" not in text
        [line] = [orjson.loads(row) for row in text.splitlines()]
        assert line["event"]["eventID"] == "bad" and "eventTime" in line["reason"]
        if keep:
            assert "AKIAIOSFODNN7EXAMPLE" in text and "AKIAQYLPMN5HHHFPZAM2" in text and "AKIAEXAMPLEKEY000001" in text
        else:
            assert "AKIA" not in text and "ASIA" not in text
            assert line["event"]["errorMessage"] == "denied for [access key ID removed]"
            assert "accessKeyId" not in line["event"]["userIdentity"]


def test_the_dead_letter_file_is_new_0600_and_never_a_symlink_or_shared(es_url, index_prefix, tmp_path):
    """An existing file (kept as it was) and a symlink (its target untouched) are refused
    with one sentence before anything is read; the default name is unique per run and
    created 0600; a run in which nothing failed leaves no file behind."""
    _bad_time_trail(tmp_path / "logs")
    existing = tmp_path / "existing.ndjson"
    existing.write_text("earlier run\n")
    existing.chmod(0o644)
    target = tmp_path / "target.txt"
    target.write_text("not yours\n")
    link = tmp_path / "link.ndjson"
    link.symlink_to(target)
    for path in (existing, link):
        result = ctstack_script("import", str(tmp_path / "logs"), "--es-url", es_url, "--index-prefix", index_prefix, "--dead-letter", str(path))
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert f"The dead-letter file {path} already exists" in result.stderr
    assert existing.read_text() == "earlier run\n" and oct(existing.stat().st_mode & 0o777) == "0o644"
    assert target.read_text() == "not yours\n"

    workdir = tmp_path / "work"
    workdir.mkdir()
    runs = [subprocess.Popen([CTSTACK, "import", str(tmp_path / "logs"), "--es-url", es_url, "--index-prefix", index_prefix, "--format", "json"],
                             cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    summaries = [json.loads(run.communicate(timeout=300)[0]) for run in runs]
    names = [summary["dead_letter"] for summary in summaries]
    assert all(names) and names[0] != names[1]
    for name in names:
        path = workdir / name
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        assert [orjson.loads(line)["event"]["eventID"] for line in path.read_bytes().splitlines()] == ["bad"]

    clean = tmp_path / "clean"
    write_trail_file(clean / "a.json.gz", [api_call(eventID="fine")])
    result = ctstack_script("import", str(clean), "--es-url", es_url, "--index-prefix", index_prefix, "--dead-letter", str(tmp_path / "unused.ndjson"))
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "unused.ndjson").exists()


def test_flood_stage_block_stops_at_once(es, index_prefix, tmp_path):
    """The flood-stage watermark puts a read-only-allow-delete block on indices, answered
    429 per item: the first answer stops the run with one sentence naming the block and its
    fix, instead of each chunk being retried with backoff. Set here on the test's own index
    (index.blocks.read_only_allow_delete is the very block the disk allocator sets)."""
    index = f"{index_prefix}-2024.05"
    install_template(es, index_prefix)
    es.indices.create(index=index)
    es.indices.put_settings(index=index, settings={"index.blocks.read_only_allow_delete": True})
    try:
        for i in range(10):
            write_trail_file(tmp_path / "logs" / f"{i}.json.gz", many_events(1000, seed=f"flood{i}"))
        summary = run_import(es, local_files([tmp_path / "logs"]), index_prefix=index_prefix, processes=0, chunk_size=1000,
                             max_retries=2, initial_backoff=0.01, dead_letter_path=tmp_path / "dead.ndjson")
    finally:
        es.indices.put_settings(index=index, settings={"index.blocks.read_only_allow_delete": None})
    assert_accounted(summary)
    assert summary.aborted and "flood-stage watermark" in summary.aborted
    assert f'PUT {index}/_settings {{"index.blocks.read_only_allow_delete": null}}' in summary.aborted
    assert summary.events_indexed == 0 and summary.events_failed == summary.events_read > 0
    assert summary.events_read < 10 * 1000  # it stopped at the first answers instead of trying every file
    assert set(summary.failure_reasons) == {"rejected by Elasticsearch", "not imported"}
    reasons = {orjson.loads(line)["reason"].split(" (", 1)[0] for line in (tmp_path / "dead.ndjson").read_bytes().splitlines()}
    assert any("cluster_block_exception" in reason for reason in reasons)


@pytest.mark.es
def test_a_single_document_over_the_indexing_pressure_budget_is_not_retried(tmp_path, starved_node):
    """A request over the node's whole indexing-pressure budget can never be taken: a chunk
    of one such document fails at once with Elasticsearch's reason, while a larger chunk is
    still retried with backoff (test above: another document may be what is too big)."""
    summary, rejections = starved_import(starved_node, tmp_path, 3, chunk_size=1, max_retries=6)
    assert (summary.events_indexed, summary.events_failed) == (0, 3)
    assert rejections == 3  # each document sent once, not 1 + 6 times


def test_a_cluster_read_only_block_is_named_not_called_a_missing_privilege(private_es_node, tmp_path):
    """cluster.blocks.read_only answers 403: before the run (installing the template) and
    during it (the bulk request), the sentence names the block and how to lift it."""
    from provision.core.connection import EsConfig, client

    es = client(EsConfig(url=private_es_node.url))
    write_trail_file(tmp_path / "logs" / "a.json.gz", many_events(50))
    install_template(es, "ro")
    es.cluster.put_settings(persistent={"cluster.blocks.read_only": True})
    try:
        result = ctstack_script("import", str(tmp_path / "logs"), "--es-url", private_es_node.url, "--index-prefix", "ro")
        provisioned = ctstack_script("provision", "--es-url", private_es_node.url, "--index-prefix", "ro", "--skip-kibana")
        during = run_import(es, local_files([tmp_path / "logs"]), index_prefix="ro", install=False,
                            dead_letter_path=tmp_path / "dead.ndjson")
    finally:
        es.cluster.put_settings(persistent={"cluster.blocks.read_only": None})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "lacks a privilege" not in result.stderr
    assert "the cluster: it has a read-only block (cluster.blocks.read_only)" in result.stderr
    assert 'PUT _cluster/settings {"persistent": {"cluster.blocks.read_only": null}}' in result.stderr.replace("\n", " ")
    # ctstack provision (and up) install the same template: the same sentence.
    assert provisioned.returncode == 1 and "Traceback" not in provisioned.stderr and "lacks a privilege" not in provisioned.stderr
    assert "the cluster: it has a read-only block (cluster.blocks.read_only)" in provisioned.stderr
    assert_accounted(during)
    assert during.aborted and "the cluster: it has a read-only block (cluster.blocks.read_only)" in during.aborted
    assert (during.events_indexed, during.events_failed) == (0, 50)


def test_events_of_a_request_elasticsearch_never_answered_are_outcome_unknown(private_es_node, tmp_path):
    """Stop the node (SIGSTOP) while the import runs: the bulk request on the wire times out.
    It is not sent again (a repeat would call its events "already present"), its events are
    counted as of unknown outcome, not failed, and the summary says to re-run; after the node
    resumes, a re-run settles them: every event once in the index."""
    import signal
    import threading

    from provision.core.connection import EsConfig, client

    for i in range(6):
        write_trail_file(tmp_path / "logs" / f"{i}.json.gz", many_events(500, seed=f"stall{i}"))
    es = client(EsConfig(url=private_es_node.url), request_timeout=3)
    stopped: list[threading.Timer] = []

    def stall_after_the_first_file(summary):
        if summary.events_indexed >= 500 and not stopped:
            os.kill(private_es_node.pid, signal.SIGSTOP)
            resume = threading.Timer(8, os.kill, (private_es_node.pid, signal.SIGCONT))
            resume.start()
            stopped.append(resume)

    try:
        first = run_import(es, local_files([tmp_path / "logs"]), index_prefix="stall", chunk_size=500, processes=0,
                           progress=stall_after_the_first_file, dead_letter_path=tmp_path / "dead1.ndjson")
    finally:
        for resume in stopped:
            resume.join()
        os.kill(private_es_node.pid, signal.SIGCONT)
    assert stopped, "the node was never stopped"
    assert_accounted(first)
    assert first.events_unknown >= 500 and first.events_unknown % 500 == 0
    assert first.events_duplicate == 0
    assert first.aborted and not first.ok
    dead = [orjson.loads(line) for line in (tmp_path / "dead1.ndjson").read_bytes().splitlines()]
    assert sum(d["reason"] == "outcome unknown (Elasticsearch did not answer): re-run to settle" for d in dead) == first.events_unknown

    es = client(EsConfig(url=private_es_node.url))
    es.cluster.health(wait_for_status="yellow", timeout="60s")
    second = run_import(es, local_files([tmp_path / "logs"]), index_prefix="stall", dead_letter_path=tmp_path / "dead2.ndjson")
    assert second.ok and second.events_indexed + second.events_duplicate == 3000
    assert es.count(index="stall-*")["count"] == 3000
