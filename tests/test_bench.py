"""bench/run.py, the benchmark behind the README's Performance table, on a small sample
against the session's real Elasticsearch: it measures every figure it promises, checks that
each stage saw every event, and cleans up its indices. (The figures themselves are not
asserted: speed is proven by running the benchmark, not by timed tests.)"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

from tests.support.bench import bench_script

import pytest

from provision.core import settings

REPO = Path(__file__).resolve().parent.parent
PROMISED = {"importer_cpu_us_per_event", "e2e_eps", "raw_eps", "e2e_ratio", "rerun_seconds", "rerun_ratio",
            "peak_rss_mb", "es_cpu_us_per_event", "disk_ratio", "machine", "date", "es_version",
            "parse_limit_eps", "pipeline_eps", "pipeline_ratio",
            # how the pipeline ran, and what it costs in one process; the tree's memory per --processes
            "convert_processes", "pipeline_one_process_eps", "pipeline_ratio_one_process", "peak_rss_mb_by_processes"}


@pytest.mark.es
def test_bench_json_has_every_promised_figure_and_leaves_no_index(es, es_url, index_prefix, tmp_path):
    """One run on a small sample against the session's node (its pid given, as for a node the
    bench starts): every figure of the issue's list is there and consistent, and nothing is left."""
    pid = es.nodes.info(node_id="_local", metric="process")["nodes"].popitem()[1]["process"]["id"]
    out = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--events", "3000", "--seed", "5", "--json", "--rounds", "1",
         "--workdir", str(tmp_path), "--es-url", es_url, "--es-pid", str(pid), "--index-prefix", index_prefix,
         "--processes", "1", "--memory-processes", "0"],
        capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)
    assert PROMISED <= set(result)
    for key in ("parse_limit_eps", "pipeline_eps", "e2e_eps", "raw_eps", "peak_rss_mb", "importer_cpu_us_per_event",
                "es_cpu_us_per_event", "rerun_seconds", "disk_ratio"):
        assert result[key] > 0, key
    assert result["pipeline_ratio"] == round(result["pipeline_eps"] / result["parse_limit_eps"], 3)
    assert result["e2e_ratio"] == round(result["e2e_eps"] / result["raw_eps"], 3)
    assert result["rerun_ratio"] == pytest.approx(result["rerun_seconds"] / result["e2e_wall_seconds"], abs=0.01)
    # The import's CPU is its whole tree's: a Python process alone costs more than 0.05 s.
    assert result["importer_cpu_seconds"] > 0.05
    assert result["importer_cpu_us_per_event"] == pytest.approx(result["importer_cpu_seconds"] / 3000 * 1e6, abs=2)
    # The tree (the import and its converting process) holds more than a bare interpreter.
    assert result["peak_rss_mb"] > 10 and set(result["peak_rss_mb_by_processes"]) == {"1", "0"}
    assert result["peak_rss_mb_by_processes"]["1"] == result["peak_rss_mb"]
    assert result["raw_in_flight"] == settings.BULK_REQUESTS and len(result["raw_runs"]) == 2
    assert result["machine"]["cores"] >= 1 and result["machine"]["cpu_model"]
    assert result["events"] == 3000 and result["date"].startswith("20")
    assert not es.indices.get(index=f"{index_prefix}-*", expand_wildcards="all")
    assert not list(tmp_path.glob("bodies-*")), "the pre-serialised bodies are removed after the run"


def test_raw_bulk_keeps_the_imports_number_of_requests_in_flight(tmp_path):
    """The ceiling is sent as the import sends: with two requests in flight, a server that
    answers only once two are waiting still gets every body (one at a time would hang)."""
    import http.server
    import threading

    barrier = threading.Barrier(2, timeout=20)
    seen: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path == "/_bulk":
                seen.append(body)
                barrier.wait()   # both senders must be on the wire at once
            payload = b'{"took":1,"errors":false,"items":[]}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        bodies = [b'{"index":{}}\n{"n":%d}\n' % n for n in range(4)]
        docs, seconds = bench_script("run").raw_bulk(f"http://127.0.0.1:{server.server_port}", iter(bodies), "x", in_flight=2)
    finally:
        server.shutdown()
        server.server_close()
    assert docs == 4 and sorted(seen) == sorted(bodies)


def test_bench_table_names_the_targets():
    bench_run = bench_script("run")
    result = {"events": 10, "files": 1, "digest_files": 0, "seed": 0, "es_version": "9.3.2",
              "machine": {"cores": 2, "cpu_model": "x"}, "parse_limit_eps": 100, "pipeline_eps": 50,
              "pipeline_ratio": 0.5, "pipeline_ratio_cpu": 0.5, "e2e_eps": 8, "raw_eps": 10, "raw_in_flight": 2,
              "e2e_ratio": 0.8, "peak_rss_mb": 100.0, "seed_script_eps": 36, "convert_processes": 2,
              "pipeline_one_process_eps": 30, "pipeline_ratio_one_process": 0.3,
              "peak_rss_mb_by_processes": {"2": 100.0, "0": 80.0}, "importer_cpu_us_per_event": 14.0,
              "rerun_seconds": 0.4, "rerun_ratio": 0.04, "rerun_events_sent": 0, "es_cpu_us_per_event": 40.0,
              "disk_ratio": 1.5, "disk_bytes_per_event": 280.0}
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        bench_run.print_table(result)
    text = buf.getvalue()
    assert "target >= 0.5" in text and "target >= 0.8" in text and "target < 250" in text and "target <= 15" in text
    assert "2 in flight" in text and "whole process tree" in text and "2: 100, 0: 80" in text
    assert "2 converting processes" in text and "one process" in text


@pytest.mark.es
def test_bench_cost_measures_store_cpu_and_queries_per_profile_before_and_after(es, es_url, index_prefix, tmp_path):
    """--cost-only: per profile and template, the store after a force merge, the node's CPU
    (its pid given, as for a node the bench starts) and the product's query times; the old
    template is installed under its own name and removed again."""
    pid = es.nodes.info(node_id="_local", metric="process")["nodes"].popitem()[1]["process"]["id"]
    out = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--events", "2000", "--seed", "5", "--json", "--cost-only",
         "--cost-fields", "minimal,standard", "--workdir", str(tmp_path), "--es-url", es_url, "--es-pid", str(pid),
         "--index-prefix", index_prefix],
        capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)
    assert set(result["cost"]) == {"minimal", "standard"}
    for by_template in result["cost"].values():
        assert set(by_template) == {"before", "after"}
        for row in by_template.values():
            assert row["store_bytes_per_event"] > 0 and row["es_cpu_s"] > 0
            assert abs(row["disk_ratio"] - row["store_bytes_per_event"] / row["input_gz_bytes_per_event"]) < 0.01
            assert row["hints_query_ms"] > 0 and row["dashboard_query_ms"] > 0
    # "before" sends documents the old way (flat dotted keys), "after" as now (nested).
    assert {w: row["source_shape"] for w, row in result["cost"]["standard"].items()} == {"before": "flat", "after": "nested"}
    # The old template keeps every field the new one drops from the index: it costs more.
    assert result["cost"]["standard"]["before"]["store_bytes_per_event"] > result["cost"]["standard"]["after"]["store_bytes_per_event"]
    assert not es.indices.get(index=f"{index_prefix}-*", expand_wildcards="all")
    assert not es.indices.exists_index_template(name=f"{index_prefix}-before-issue-17")


@pytest.mark.es
def test_bench_concurrency_measures_e2e_at_each_bulk_requests_value(es, es_url, index_prefix, tmp_path):
    """--concurrency-only: the README's 1/2/4 table, an e2e import per --bulk-requests value
    and round, every event indexed each time, and no index left behind."""
    pid = es.nodes.info(node_id="_local", metric="process")["nodes"].popitem()[1]["process"]["id"]
    out = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--events", "2000", "--seed", "5", "--json", "--concurrency-only",
         "--concurrency", "1,2", "--rounds", "2", "--workdir", str(tmp_path), "--es-url", es_url, "--es-pid", str(pid),
         "--index-prefix", index_prefix],
        capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)
    assert "e2e_eps" not in result and "cost" not in result  # the four rates and the cost were skipped
    assert set(result["concurrency"]) == {"1", "2"}
    for row in result["concurrency"].values():
        assert len(row["e2e_eps_rounds"]) == 2 and row["e2e_eps"] == max(row["e2e_eps_rounds"]) > 0
        assert row["es_cpu_us_per_event"] > 0 and row["peak_rss_mb"] > 0
    assert not es.indices.get(index=f"{index_prefix}-*", expand_wildcards="all")
