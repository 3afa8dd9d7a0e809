"""ctstack against a real three-node cluster (tests/support/escluster.py: three integ-test
nodes on 127.0.0.1, heaps of 384 MB so it runs beside the rest of the suite on two cores).

60,000 events in 60 files over six months (six monthly indices, so primaries and replicas
sit on every node) are imported while one data node is killed and restarted: enough events
for the import to run well past the kill and the node's absence, few enough for CI. The
summary adds up, a re-run leaves exactly the distinct events, `status` says yellow (or red)
while the node is away and green once it is back, the template gives every index one
replica, and `hints` from Elasticsearch answers what the files say."""

from __future__ import annotations

import json
import threading
from typing import Iterator

import pytest

from provision.core.connection import EsConfig, client
from provision.analysis.hints import hints_from_sources
from provision.ingest.importer import run_import
from provision.ingest.summary import ImportSummary
from provision.sources.local import local_files
from tests.support.escluster import EsCluster
from tests.conftest import running
from tests.support.events import console_write, many_events, write_trail_file
from tests.support.cli import ctstack_script
from tests.support.accounting import assert_accounted

FILES, PER_FILE = 60, 1000
COMPARED = ("events_read", "distinct_events", "console_events", "candidates")
pytestmark = pytest.mark.es  # its cluster is its own three nodes, not the es fixtures


@pytest.fixture(scope="module")
def cluster() -> Iterator[EsCluster]:
    with running("the three-node test cluster", lambda: EsCluster().start()) as started:
        yield started


def test_an_import_survives_a_data_node_killed_and_restarted_and_a_rerun_leaves_the_distinct_events(cluster, tmp_path):
    logs = tmp_path / "logs"
    for i in range(FILES):
        events = many_events(PER_FILE, seed=f"cluster{i}", month=f"2024-{i % 6 + 1:02d}")
        events[0] = console_write(eventID=f"console-{i}", eventTime=events[0]["eventTime"])
        write_trail_file(logs / f"{i:03d}.json.gz", events)
    entry = cluster.nodes[0]
    victim = next(n for n in cluster.nodes[1:] if n is not cluster.master())
    seen: dict[str, object] = {}

    def away_and_back() -> None:
        victim.kill()
        seen["away"] = cluster.wait("wait_for_nodes=2", via=entry)["status"]
        status = ctstack_script("status", "--es-url", entry.url, "--json")
        seen["status_away"] = (status.returncode, json.loads(status.stdout)["elasticsearch"].get("cluster_health"))
        victim.restart()

    away = threading.Thread(target=away_and_back)

    def kill_once_under_way(summary: ImportSummary) -> None:
        if summary.events_indexed >= 10 * PER_FILE and not away.is_alive() and "started" not in seen:
            seen["started"] = summary.events_indexed
            away.start()

    es = client(EsConfig(url=entry.url))
    try:
        first = run_import(es, local_files([logs]), index_prefix="trail", processes=0, chunk_size=1000,
                           progress=kill_once_under_way, dead_letter_path=tmp_path / "dead1.ndjson")
        away.join(300)
        print(f"\n[cluster] first run: {first.events_indexed} indexed, {first.events_duplicate} already present, "
              f"{first.events_failed} failed {first.failure_reasons}, "
              f"{first.events_unknown} unknown, {first.seconds:.0f} s; node killed after {seen.get('started')}; seen {seen}")
        assert "started" in seen and not away.is_alive(), seen
        assert_accounted(first)
        assert first.events_read == FILES * PER_FILE
        assert first.files_failed == 0
        # Events of the file ctstack reads are new to the cluster: "already present" in this first run
        # can only be Elasticsearch itself retrying a write on the promoted copy of a shard whose
        # primary died after replicating it (op_type=create answers 409 then): present once.
        assert first.events_duplicate <= first.events_read - first.events_indexed

        assert seen["away"] in ("yellow", "red")
        assert seen["status_away"][1] in ("yellow", "red"), seen  # status says so, as the cluster does

        cluster.wait("wait_for_nodes=3&wait_for_status=green", via=entry)
        second = run_import(es, local_files([logs]), index_prefix="trail", processes=0,
                            dead_letter_path=tmp_path / "dead2.ndjson")
        assert_accounted(second)
        assert second.ok
        # Every event the first run counted indexed is there; the rest (failed, unknown) settle now.
        assert second.events_duplicate >= first.events_indexed + first.events_duplicate
        assert second.events_indexed <= first.events_failed + first.events_unknown
        assert second.events_indexed + second.events_duplicate == FILES * PER_FILE
        es.indices.refresh(index="trail-*")
        assert es.count(index="trail-*")["count"] == FILES * PER_FILE

        settings = es.indices.get_settings(index="trail-*", name="index.number_of_replicas")
        assert len(settings) == 6 and {s["settings"]["index"]["number_of_replicas"] for s in settings.values()} == {"1"}
        healthy = ctstack_script("status", "--es-url", entry.url, "--json")
        assert healthy.returncode == 0 and json.loads(healthy.stdout)["elasticsearch"]["cluster_health"] == "green"

        from_es = ctstack_script("hints", "--es-url", entry.url, "--index-prefix", "trail", "--format", "json", "--top", "0")
        assert from_es.returncode == 0, from_es.stderr
        offline = hints_from_sources([str(logs)], top=0).to_json()
        answer = json.loads(from_es.stdout)
        assert {k: answer[k] for k in COMPARED if k in answer} == {k: offline[k] for k in COMPARED if k in answer}
        assert answer["console_events"] == FILES
    finally:
        es.options(ignore_status=404).indices.delete(index="trail-*")
        es.close()
