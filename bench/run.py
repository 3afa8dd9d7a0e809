"""Prove the importer is never the bottleneck: its rates, CPU and memory measured in one run on the same files.

    python bench/run.py --events 1000000 [--seed 0] [--json] [--workdir bench/out] [--profile FILE]

1. parse_limit_eps  bare gunzip + orjson.loads of every log file: the floor any importer pays;
2. pipeline_eps     ctstack's own path from files to bulk request bodies (read, decode,
                    to_document, ids, chunking, serialisation: importer.bulk_bodies), with
                    the sending replaced by a null sink;
3. e2e_eps          `ctstack import --format json` (a separate process tree, measured on its own)
                    into a fresh Elasticsearch node the bench starts (tests/support/esnode.py):
                    importer_cpu_us_per_event (CPU seconds of the import's whole process tree
                    / events), peak_rss_mb (the tree's peak, sum of Pss), es_cpu_us_per_event
                    (the node's CPU during the import / events), then rerun_seconds and
                    rerun_ratio (a second import of the unchanged folder, against the first's
                    wall time) and disk_ratio (bytes on disk after a force merge / gzip bytes);
4. raw_eps          the same documents, pre-serialised NDJSON bodies with the same chunking,
                    POSTed to the same node with settings.BULK_REQUESTS in flight over as many
                    keep-alive connections, as the import sends: the ceiling ES sets;
plus pipeline_ratio = pipeline_eps / parse_limit_eps, e2e_ratio = e2e_eps / raw_eps,
peak_rss_mb_by_processes (the tree's peak with other --processes values: --memory-processes),
the machine, the date and the Elasticsearch version.

Generated data goes to --workdir (default bench/out/, gitignored) and is reused by later runs
with the same --events and --seed. Indices are deleted between the e2e and raw runs, so both
write the same documents into empty indices. The node is stopped at the end.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import gzip
import http.client
import json
import os
import platform
import resource
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Callable, Iterable

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run from a checkout: provision/ and tests/support/

import orjson  # noqa: E402

# Only light modules at the top: converting processes import this file again (as spawned
# workers import the main module), and the Elasticsearch client is imported where it is used.
from provision.core import settings  # noqa: E402
from provision.ingest.convert import default_processes  # noqa: E402
from provision.demo.generate import SAMPLE_SEED, write_sample  # noqa: E402
from provision.cloudtrail.records import SourceFile, is_digest_name  # noqa: E402
from provision.sources.local import local_files  # noqa: E402

INDEX_PREFIX = "ctstack-bench"
SEED_SCRIPT_EPS = 36      # the 2014 script: one `zcat | jq` and one curl per record


# --- the machine ---------------------------------------------------------------------------

def machine() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_mb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_mb = int(line.split()[1]) // 1024
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu_model": model or platform.processor() or platform.machine(),
            "memory_mb": mem_mb, "python": platform.python_version(), "load_avg_at_start": list(os.getloadavg())}


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- data ------------------------------------------------------------------------------------

def ensure_data(workdir: Path, events: int, seed: int) -> tuple[Path, dict]:
    """The generated files for (events, seed), made once and reused."""
    data = workdir / f"cloudtrail-{events}-seed{seed}"
    marker = workdir / f"cloudtrail-{events}-seed{seed}.json"   # beside the data, so the importer never sees it
    if marker.exists():
        return data, json.loads(marker.read_text())
    if data.exists():   # a run interrupted while generating
        shutil.rmtree(data)
    started = time.monotonic()
    stats = write_sample(data, events=events, seed=seed).as_dict()
    stats["seconds"] = round(time.monotonic() - started, 2)
    marker.write_text(json.dumps(stats))
    return data, stats


def log_files(data: Path) -> list[SourceFile]:
    return [f for f in local_files([data]) if not f.skip_reason]


# --- 1. the parse floor ------------------------------------------------------------------------

def parse_limit(files: list[SourceFile]) -> tuple[int, float, float]:
    """Bare gunzip + orjson.loads of every log file (digests skipped by name, as any reader
    would). Returns (events, wall seconds, CPU seconds)."""
    events = 0
    started, cpu = time.perf_counter(), _cpu_with_children()
    for f in files:
        if is_digest_name(f.name):
            continue
        events += len(orjson.loads(gzip.decompress(f.read()))["Records"])
    return events, time.perf_counter() - started, _cpu_with_children() - cpu


# --- 2. ctstack's pipeline into a null sink -------------------------------------------------------

def pipeline(files: Iterable[SourceFile], sink: Callable[[bytes], None], *, prefix: str = INDEX_PREFIX,
             profile: str = "standard", processes: int | None = None) -> tuple[int, int, float, float]:
    """ctstack's path from files to bulk request bodies (``importer.bulk_bodies``: read, decode,
    to_document, ids, chunking, serialisation); ``sink`` gets each body instead of Elasticsearch.
    ``processes`` convert, as in an import (None: the import's default). Returns (documents,
    bodies, wall seconds, CPU seconds of this process and its converting processes)."""
    from provision.ingest import importer

    docs = bodies = 0
    started, cpu = time.perf_counter(), _cpu_with_children()
    for count, body in importer.bulk_bodies(files, index_prefix=prefix, profile=profile, processes=processes):
        sink(body)
        docs += count
        bodies += 1
    return docs, bodies, time.perf_counter() - started, _cpu_with_children() - cpu


def _cpu_with_children() -> float:
    """CPU seconds of this process and of its ended children (the converting processes)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def null_sink(body: bytes) -> None:
    pass


class BodyFile:
    """Bulk bodies on disk, length-prefixed, for the raw replay."""

    def __init__(self, path: Path):
        self.path = path

    def writer(self):
        fh = open(self.path, "wb")

        def sink(body: bytes) -> None:
            fh.write(struct.pack("<I", len(body)))
            fh.write(body)
        return fh, sink

    def bodies(self) -> Iterable[bytes]:
        with open(self.path, "rb") as fh:
            while head := fh.read(4):
                yield fh.read(struct.unpack("<I", head)[0])


# --- 3. end to end ------------------------------------------------------------------------------

class Measured:
    """What running one command cost: its exit code and output, wall seconds, the CPU seconds
    of its whole process tree, and the peak memory of that tree."""

    def __init__(self, code: int, out: bytes, err: bytes, wall: float, cpu: float, tree_pss_mb: float, own_hwm_mb: float):
        self.code, self.out, self.err, self.wall = code, out, err, wall
        self.cpu_seconds, self.tree_peak_pss_mb, self.own_peak_rss_mb = cpu, tree_pss_mb, own_hwm_mb


POLL_SECONDS = 0.05


def run_measured(cmd: list[str], env: dict, cwd: Path) -> Measured:
    """Run ``cmd`` and measure its whole process tree (the import and its converting processes).

    Memory: the largest sum, over the polls (every POLL_SECONDS), of Pss from
    /proc/<pid>/smaps_rollup of every process in the tree. Pss, not RSS: forked converting
    processes share pages with the importing process (copy-on-write, the interpreter, shared
    libraries), and a sum of RSS counts those pages once per process; Pss splits each shared
    page among its sharers, so the sum is what the tree really holds. Not a cgroup's peak: this
    machine has cgroup v1, whose memory counter also charges the page cache of every log file
    read, which is the kernel's, not the import's. The process's own VmHWM is kept as well (a
    short peak between two polls still shows there).

    CPU: user + system seconds of the tree, from wait4's rusage of the command (itself and every
    descendant it waited for), and at least the sum of what the polls saw of each process (a
    descendant nobody waited for is missing from rusage)."""
    hwm_kb = tree_pss_kb = 0
    seen_cpu: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=cwd)
        status = Path(f"/proc/{proc.pid}/status")
        while True:
            # wait4, not Popen.poll: the rusage of the ended process is only handed out once.
            pid, wait_status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        hwm_kb = max(hwm_kb, int(line.split()[1]))
            except (OSError, ValueError):
                pass
            tree = process_tree(proc.pid)
            tree_pss_kb = max(tree_pss_kb, sum(_pss_kb(member) for member in tree))
            for member in tree:
                with contextlib.suppress(OSError, ValueError, IndexError):
                    fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
                    seen_cpu[member] = (int(fields[11]) + int(fields[12])) / tick
            time.sleep(POLL_SECONDS)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(wait_status)
        cpu = max(usage.ru_utime + usage.ru_stime, sum(seen_cpu.values()))
        out.seek(0)
        err.seek(0)
        return Measured(proc.returncode, out.read(), err.read(), wall, cpu, tree_pss_kb / 1024, hwm_kb / 1024)


def process_tree(pid: int) -> set[int]:
    """``pid`` and its descendants now running."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
        except (OSError, ValueError, IndexError):
            continue
    tree, grew = {pid}, True
    while grew:
        grew = False
        for child, parent in parents.items():
            if parent in tree and child not in tree:
                tree.add(child)
                grew = True
    return tree


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def compile_like_installed() -> None:
    """Bytecode for the repository's packages, as `pip install` writes it: a measured import
    then starts as a user's does, also where PYTHONDONTWRITEBYTECODE is set (every run would
    compile ctstack's modules again, in the importing and in each converting process)."""
    for package in ("provision", "bench"):
        compileall.compile_dir(REPO / package, quiet=1)


def e2e(url: str, data: Path, workdir: Path, prefix: str = INDEX_PREFIX, processes: int | None = None,
        fields: str = "standard", bulk_requests: int | None = None, before: bool = False) -> dict:
    """`python -m provision import DATA --format json` in its own process: its summary, wall time, the CPU
    seconds and peak memory (Pss) of its whole process tree, and the import process's own peak RSS.
    ``before``: documents and bulk requests as they were before the cheaper documents (bench/import_before.py)."""
    dead = workdir / "e2e-dead-letter.ndjson"
    dead.unlink(missing_ok=True)
    program = [str(IMPORT_BEFORE)] if before else ["-m", "provision"]
    cmd = [sys.executable, *program, "import", str(data), "--format", "json", "--fields", fields,
           "--es-url", url, "--index-prefix", prefix, "--dead-letter", str(dead)]
    if processes is not None:
        cmd += ["--processes", str(processes)]
    if bulk_requests is not None:
        cmd += ["--bulk-requests", str(bulk_requests)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTSTACK_ES_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    run = run_measured(cmd, env, workdir)
    if run.code != 0:
        raise SystemExit(f"ctstack import failed (exit {run.code}):\n{run.err.decode()[-3000:]}\n{run.out.decode()[-2000:]}")
    return {"summary": json.loads(run.out), "wall_seconds": run.wall, "cpu_seconds": run.cpu_seconds,
            "peak_rss_mb": run.tree_peak_pss_mb, "import_process_peak_rss_mb": run.own_peak_rss_mb}


def import_and_rerun(es, url: str, data: Path, workdir: Path, prefix: str, processes: int | None,
                     es_pid: int | None, events: int, load: list[float]) -> dict:
    """`ctstack import` of ``data`` into empty indices, then again over the unchanged folder
    (the re-run), then the store at rest. What each cost: the import's wall time and events/s,
    the CPU of its whole process tree per event, its tree's peak memory, the node's CPU per
    event (``es_pid`` given), the re-run's wall time against the first's, and bytes on disk
    against the gzip bytes read."""
    cpu0 = process_cpu_seconds(es_pid) if es_pid else None
    run = e2e(url, data, workdir, prefix, processes)
    es_cpu = process_cpu_seconds(es_pid) - cpu0 if es_pid else None
    summary = run["summary"]
    counted = count_docs(es, prefix)
    if not summary["events_indexed"] == counted == events:
        raise SystemExit(f"e2e: {counted} documents in the index, summary {summary}")
    out = {"e2e_eps": round(summary["events_indexed"] / summary["seconds"]),
           "e2e_seconds": summary["seconds"],
           "e2e_wall_seconds": round(run["wall_seconds"], 2),
           "importer_cpu_seconds": round(run["cpu_seconds"], 2),
           "importer_cpu_us_per_event": round(run["cpu_seconds"] / events * 1e6, 1),
           "peak_rss_mb": round(run["peak_rss_mb"], 1),
           "import_process_peak_rss_mb": round(run["import_process_peak_rss_mb"], 1),
           "es_cpu_us_per_event": round(es_cpu / events * 1e6, 1) if es_cpu is not None else None,
           "load_avg_before_e2e": load}
    _log(f"3/4 re-run of the unchanged folder (load {os.getloadavg()[0]:.2f}) ...")
    rerun = e2e(url, data, workdir, prefix, processes)
    if count_docs(es, prefix) != events:
        raise SystemExit(f"re-run: the index no longer holds {events} documents: {rerun['summary']}")
    out["rerun_seconds"] = round(rerun["wall_seconds"], 2)
    out["rerun_ratio"] = round(rerun["wall_seconds"] / run["wall_seconds"], 3)
    out["rerun_events_sent"] = rerun["summary"].get("events_indexed", 0) + rerun["summary"].get("events_duplicate", 0)
    out["rerun_peak_rss_mb"] = round(rerun["peak_rss_mb"], 1)
    stored, _ = store_bytes(es, prefix)
    gz = input_gz_bytes(data)
    out["disk_bytes_per_event"] = round(stored / events, 1)
    out["disk_ratio"] = round(stored / gz, 2)
    return out


# --- 4. the ceiling: raw bulk ------------------------------------------------------------------------

def raw_bulk(url: str, bodies: Iterable[bytes], prefix: str = INDEX_PREFIX,
             in_flight: int = settings.BULK_REQUESTS) -> tuple[int, float]:
    """POST each pre-serialised body to /_bulk with ``in_flight`` requests on the wire at once,
    each over its own keep-alive connection (as the import keeps settings.BULK_REQUESTS in
    flight over as many connections), then refresh. Returns (documents acknowledged, seconds)."""
    parts = urllib.parse.urlsplit(url)
    headers = {"Content-Type": "application/x-ndjson"}
    next_body = iter(bodies)
    take = threading.Lock()
    acknowledged: list[int] = []
    failures: list[str] = []

    def send() -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=300)
        conn.connect()
        # http.client sends headers and body in separate writes; without TCP_NODELAY, Nagle's
        # algorithm and delayed ACKs stall each request (urllib3, under the ES client, sets it too).
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        docs = 0
        try:
            while not failures:
                with take:
                    body = next(next_body, None)
                if body is None:
                    break
                conn.request("POST", "/_bulk", body=body, headers=headers)
                resp = conn.getresponse()
                payload = resp.read()
                if resp.status != 200 or b'"errors":false' not in payload[:200]:
                    failures.append(f"HTTP {resp.status} {payload[:500]!r}")
                    break
                docs += body.count(b"\n") // 2
        except (OSError, http.client.HTTPException) as exc:
            failures.append(repr(exc))
        finally:
            conn.close()
            acknowledged.append(docs)

    started = time.perf_counter()
    senders = [threading.Thread(target=send, name=f"raw-bulk-{n}") for n in range(max(1, in_flight))]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    if failures:
        raise SystemExit(f"raw bulk failed: {failures[0]}")
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=300)
    conn.request("POST", f"/{prefix}-*/_refresh")
    conn.getresponse().read()
    conn.close()
    return sum(acknowledged), time.perf_counter() - started


def delete_indices(es, prefix: str) -> None:
    es.options(ignore_status=404).indices.delete(index=f"{prefix}-*", expand_wildcards="all")


def count_docs(es, prefix: str) -> int:
    es.indices.refresh(index=f"{prefix}-*")
    return es.count(index=f"{prefix}-*")["count"]


# --- 5. what a document costs Elasticsearch ----------------------------------------------------------

PROFILES = ("minimal", "standard", "full")
# The template as it was before the cheaper documents (settings and mappings), installed by --cost under
# its own name at a higher priority than ctstack's, so the import's own template is outranked.
TEMPLATE_BEFORE = Path(__file__).resolve().parent / "template_before.json"
# ... and the import as it sent documents then: flat dotted keys, 1,000 per request, one in flight.
IMPORT_BEFORE = Path(__file__).resolve().parent / "import_before.py"


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (and its waited-for children) from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def input_gz_bytes(data: Path) -> int:
    """Bytes of the gzip log files (digests left out): what CloudTrail delivers."""
    return sum(p.stat().st_size for p in data.rglob("*.json.gz") if not is_digest_name(p.name))


def install_before_template(es, prefix: str, path: Path = TEMPLATE_BEFORE) -> str:
    name = f"{prefix}-before-issue-17"
    es.indices.put_index_template(name=name, index_patterns=[f"{prefix}-*"], priority=900 + len(prefix),
                                  template=json.loads(path.read_text()))
    return name


def store_bytes(es, prefix: str) -> tuple[int, int]:
    """(primary store bytes, documents) of ``<prefix>-*`` after refresh, flush and a force
    merge to one segment: what the data costs at rest, not while segments are merging."""
    index = f"{prefix}-*"
    es.indices.refresh(index=index)
    es.indices.flush(index=index)
    es.options(request_timeout=600).indices.forcemerge(index=index, max_num_segments=1)
    es.indices.refresh(index=index)
    rows = es.cat.indices(index=index, bytes="b", h="pri.store.size,docs.count", format="json")
    return sum(int(r["pri.store.size"]) for r in rows), sum(int(r["docs.count"]) for r in rows)


def source_shape(es, prefix: str) -> str:
    """How the imported documents' _source is shaped: "flat" (dotted keys, as before the cheaper documents)
    or "nested" (objects, as sent now)."""
    source = es.search(index=f"{prefix}-*", size=1)["hits"]["hits"][0]["_source"]
    return "flat" if any("." in name for name in source) else "nested"


def time_queries(es, prefix: str, rounds: int = 3) -> dict:
    """Best of ``rounds`` wall milliseconds of the product's queries on the merged index:
    `hints` from Elasticsearch (its aggregations and samples) and the dashboard's biggest
    panel (actions by events with provider, distinct users and last seen), request cache off."""
    from provision.cloudtrail import fields as F
    from provision.analysis.hints_es import hints_from_es

    index = f"{prefix}-*"
    dashboard = {"actions": {"terms": {"field": F.EVENT_ACTION, "size": 50}, "aggs": {
        "provider": {"terms": {"field": F.EVENT_PROVIDER, "size": 3}},
        "users": {"cardinality": {"field": F.USER_NAME}}, "last": {"max": {"field": F.TIMESTAMP}}}},
        "days": {"date_histogram": {"field": F.TIMESTAMP, "calendar_interval": "day"},
                 "aggs": {"console": {"filter": {"term": {F.CONSOLE: True}}}}},
        "errors": {"filter": {"term": {F.EVENT_OUTCOME: "failure"}},
                   "aggs": {"codes": {"terms": {"field": F.CT_ERROR_CODE}}}}}
    best = {"hints_query_ms": float("inf"), "dashboard_query_ms": float("inf")}
    for _ in range(rounds):
        started = time.perf_counter()
        hints_from_es(es, index_prefix=prefix)
        best["hints_query_ms"] = min(best["hints_query_ms"], (time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        es.search(index=index, size=0, aggs=dashboard, request_cache=False)
        best["dashboard_query_ms"] = min(best["dashboard_query_ms"], (time.perf_counter() - started) * 1000)
    return {k: round(v, 1) for k, v in best.items()}


def cost(es, url: str, data: Path, workdir: Path, prefix: str, processes: int | None, es_pid: int | None,
         events: int, gz_bytes: int, templates: tuple[str, ...], profiles: Iterable[str] = PROFILES,
         before_path: Path = TEMPLATE_BEFORE, rounds: int = 1) -> dict:
    """Per profile and template ("before": bench/template_before.json and the bulk requests of
    bench/import_before.py; "after": ctstack's): an e2e import into empty indices, the node's
    CPU during it, and the store after a force merge. Before and after alternate within each
    round, so drift weighs on both alike; the CPU is the median of the rounds (each in
    ``es_cpu_us_rounds``), e2e and query times the best."""
    runs: dict = {}
    for fields in profiles:
        for round_ in range(rounds):
            for which in templates:
                delete_indices(es, prefix)
                before = install_before_template(es, prefix, before_path) if which == "before" else None
                try:
                    _log(f"5/5 cost: --fields {fields}, {which}, round {round_ + 1} (load {os.getloadavg()[0]:.2f}) ...")
                    cpu0 = process_cpu_seconds(es_pid) if es_pid else None
                    run = e2e(url, data, workdir, prefix, processes, fields, before=which == "before")
                    cpu = process_cpu_seconds(es_pid) - cpu0 if es_pid else None
                    stored, docs = store_bytes(es, prefix)
                    query_ms = time_queries(es, prefix)
                    shape = source_shape(es, prefix)
                finally:
                    if before:
                        es.indices.delete_index_template(name=before)
                if docs != events:
                    raise SystemExit(f"cost: {docs} documents in the index, {events} expected")
                summary = run["summary"]
                runs.setdefault(fields, {}).setdefault(which, []).append(
                    {"eps": summary["events_indexed"] / summary["seconds"], "stored": stored, "cpu": cpu,
                     "shape": shape, **query_ms})
    delete_indices(es, prefix)
    out: dict = {}
    for fields, by_template in runs.items():
        for which, rows in by_template.items():
            stored = statistics.median(r["stored"] for r in rows)
            row = {"e2e_eps": round(max(r["eps"] for r in rows)),
                   "store_bytes_per_event": round(stored / events, 1),
                   "input_gz_bytes_per_event": round(gz_bytes / events, 1),
                   "disk_ratio": round(stored / gz_bytes, 2),
                   "hints_query_ms": min(r["hints_query_ms"] for r in rows),
                   "dashboard_query_ms": min(r["dashboard_query_ms"] for r in rows),
                   "source_shape": rows[0]["shape"]}
            if rows[0]["cpu"] is not None:
                row["es_cpu_s"] = round(statistics.median(r["cpu"] for r in rows), 2)
                row["es_cpu_us_per_event"] = round(row["es_cpu_s"] / events * 1e6, 1)
                row["es_cpu_us_rounds"] = [round(r["cpu"] / events * 1e6, 1) for r in rows]
            out.setdefault(fields, {})[which] = row
    return out


# --- 6. bulk requests in flight ----------------------------------------------------------------------

def concurrency(es, url: str, data: Path, workdir: Path, prefix: str, processes: int | None, es_pid: int | None,
                events: int, values: list[int], rounds: int) -> dict:
    """e2e events/s (best of ``rounds``) and the node's CPU per event at each --bulk-requests
    value; the values alternate within each round, so drift weighs on all alike."""
    runs: dict[int, list[dict]] = {n: [] for n in values}
    for round_ in range(rounds):
        for n in values:
            delete_indices(es, prefix)
            _log(f"6/6 --bulk-requests {n}, round {round_ + 1} (load {os.getloadavg()[0]:.2f}) ...")
            cpu0 = process_cpu_seconds(es_pid) if es_pid else None
            run = e2e(url, data, workdir, prefix, processes, bulk_requests=n)
            cpu = process_cpu_seconds(es_pid) - cpu0 if es_pid else None
            summary = run["summary"]
            if summary["events_indexed"] != events:
                raise SystemExit(f"--bulk-requests {n}: {summary['events_indexed']} events indexed, {events} expected")
            row = {"e2e_eps": round(events / summary["seconds"]), "peak_rss_mb": round(run["peak_rss_mb"], 1)}
            if cpu is not None:
                row["es_cpu_us_per_event"] = round(cpu / events * 1e6, 1)
            runs[n].append(row)
    delete_indices(es, prefix)
    return {str(n): {**max(rows, key=lambda r: r["e2e_eps"]), "e2e_eps_rounds": [r["e2e_eps"] for r in rows]}
            for n, rows in runs.items()}


# --- the run ----------------------------------------------------------------------------------------

def profile_pipeline(files: list[SourceFile], out: Path, prefix: str) -> str:
    """Run the pipeline once under pyinstrument; write HTML to ``out`` and return the text report."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.001)
    profiler.start()
    pipeline(files, null_sink, prefix=prefix)
    profiler.stop()
    out.write_text(profiler.output_html())
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    out.with_suffix(".txt").write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--seed", type=int, default=SAMPLE_SEED)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--workdir", type=Path, default=REPO / "bench" / "out", help="generated data and scratch files (default %(default)s)")
    parser.add_argument("--profile", type=Path, help="also profile the pipeline with pyinstrument: write HTML here (and .txt beside it)")
    parser.add_argument("--heap", default="1g", help="heap of the Elasticsearch node the bench starts (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=2, help="parse floor / pipeline rounds, best of each (default %(default)s)")
    parser.add_argument("--es-url", help="measure against this cluster instead of starting a node (its figures are then its own)")
    parser.add_argument("--index-prefix", default=INDEX_PREFIX, help="indices the bench writes and deletes (default %(default)s)")
    parser.add_argument("--processes", type=int, help="converting processes for the pipeline and the import (default: the import's own default)")
    parser.add_argument("--memory-processes", default="0", help="also import with each of these --processes values, for the tree's peak memory only (default %(default)s: converting in the importing process; empty: none)")
    parser.add_argument("--cost", action="store_true", help="also measure what a document costs Elasticsearch (CPU, store) per profile, before/after the cheaper documents' template")
    parser.add_argument("--cost-only", action="store_true", help="measure only that (skip the four rates)")
    parser.add_argument("--cost-fields", default=",".join(PROFILES), help="the profiles --cost measures (default %(default)s)")
    parser.add_argument("--template-before", type=Path, default=TEMPLATE_BEFORE, help="settings+mappings JSON compared against ctstack's template (default: the one before the cheaper documents)")
    parser.add_argument("--es-pid", type=int, help="with --es-url: the node's process id, for its CPU time")
    parser.add_argument("--cost-rounds", type=int, default=1, help="rounds of the --cost imports (before and after alternate; CPU: the median) (default %(default)s)")
    parser.add_argument("--concurrency", help="also measure e2e events/s at each of these --bulk-requests values (e.g. 1,2,4)")
    parser.add_argument("--concurrency-only", action="store_true", help="measure only that (skip the four rates)")
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    compile_like_installed()

    result: dict = {"events": args.events, "seed": args.seed, "machine": machine(),
                    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    _log(f"load average {os.getloadavg()}; generating {args.events:,} events (seed {args.seed}) ...")
    data, gen_stats = ensure_data(args.workdir, args.events, args.seed)
    files = log_files(data)
    result["files"] = gen_stats["files"]
    result["digest_files"] = gen_stats["digest_files"]
    result["compressed_mb"] = round(gen_stats["compressed_bytes"] / 2**20, 1)
    result["uncompressed_mb"] = round(gen_stats["uncompressed_bytes"] / 2**20, 1)

    processes = default_processes() if args.processes is None else args.processes
    body_file = None
    values = [int(v) for v in (args.concurrency or ("1,2,4" if args.concurrency_only else "")).split(",") if v]
    rates = not (args.cost_only or args.concurrency_only)
    memory_processes = [int(v) for v in args.memory_processes.split(",") if v.strip()]
    if rates:
        parse_limit(files)   # warm the page cache so every stage reads from memory
        # The floor and the pipeline alternate, best of --rounds each, so a burst of load from
        # elsewhere on the machine cannot land on one of them only. CPU time is reported too.
        best: dict[str, tuple[float, float]] = {}
        for round_ in range(args.rounds):
            _log(f"1/4 parse floor, round {round_ + 1} ...")
            events, wall, cpu = parse_limit(files)
            assert events == args.events, (events, args.events)
            best["parse"] = min(best.get("parse", (wall, cpu)), (wall, cpu))
            _log(f"2/4 pipeline into a null sink ({processes} converting processes), round {round_ + 1} ...")
            docs, bodies, wall, cpu = pipeline(files, null_sink, prefix=args.index_prefix, processes=processes)
            assert docs == args.events, (docs, args.events)
            best["pipeline"] = min(best.get("pipeline", (wall, cpu)), (wall, cpu))
            if processes:
                _log(f"2/4 pipeline into a null sink, converting in one process, round {round_ + 1} ...")
                docs, _, wall, cpu = pipeline(files, null_sink, prefix=args.index_prefix, processes=0)
                assert docs == args.events, (docs, args.events)
                best["pipeline_one"] = min(best.get("pipeline_one", (wall, cpu)), (wall, cpu))
        result["parse_limit_eps"] = round(args.events / best["parse"][0])
        result["pipeline_eps"] = round(args.events / best["pipeline"][0])
        result["pipeline_ratio"] = round(result["pipeline_eps"] / result["parse_limit_eps"], 3)
        result["pipeline_ratio_cpu"] = round(best["parse"][1] / best["pipeline"][1], 3)
        result["convert_processes"] = processes
        one = best.get("pipeline_one", best["pipeline"])
        result["pipeline_one_process_eps"] = round(args.events / one[0])
        result["pipeline_ratio_one_process"] = round(result["pipeline_one_process_eps"] / result["parse_limit_eps"], 3)
        result["parse_limit_seconds"] = round(best["parse"][0], 2)
        result["pipeline_seconds"] = round(best["pipeline"][0], 2)
        result["bulk_requests"] = bodies

        body_file = BodyFile(args.workdir / f"bodies-{args.events}-seed{args.seed}.bin")
        fh, sink = body_file.writer()
        with fh:
            pipeline(files, sink, prefix=args.index_prefix, processes=processes)   # untimed: the same bodies, kept for the raw replay

        if args.profile:
            _log(f"profiling the pipeline -> {args.profile}")
            result["profile"] = str(args.profile)
            profile_pipeline(files, args.profile, args.index_prefix)

    from provision.core.connection import EsConfig, client, server_version
    from provision.cloudtrail.template import install_template

    node = None
    url = args.es_url
    if not url:
        from tests.support.esnode import EsNode

        _log("starting a fresh Elasticsearch node ...")
        node = EsNode(heap=args.heap).start()
        url = node.url
    prefix = args.index_prefix
    try:
        es = client(EsConfig(url=url), request_timeout=300)
        result["es_version"] = server_version(es)
        result["es_node"] = "started by the bench" if node else url
        if rates:
            delete_indices(es, prefix)
            install_template(es, prefix)
            # Warm the JVM up with one untimed pass of every body, so no measured run pays for its JIT.
            _log("warming Elasticsearch up (one untimed raw pass) ...")
            raw_bulk(url, body_file.bodies(), prefix)
            delete_indices(es, prefix)

            # raw, e2e, raw: the ceiling is the mean of the runs either side of the import, so
            # a drift in what else the machine does weighs on both sides alike.
            es_pid = node.pid if node else args.es_pid
            raw_runs = []
            for step in ("raw", "e2e", "raw"):
                load = list(os.getloadavg())
                if step == "raw":
                    _log(f"4/4 raw bulk of the same bodies, {settings.BULK_REQUESTS} in flight (load {load[0]:.2f}) ...")
                    docs, seconds = raw_bulk(url, body_file.bodies(), prefix)
                    counted = count_docs(es, prefix)
                    if not docs == counted == args.events:
                        raise SystemExit(f"raw bulk: {counted} documents in the index, {docs} acknowledged, {args.events} expected")
                    raw_runs.append({"eps": round(docs / seconds), "seconds": round(seconds, 2), "load_avg_before": load})
                else:
                    _log(f"3/4 ctstack import into {url} (load {load[0]:.2f}) ...")
                    result.update(import_and_rerun(es, url, data, args.workdir, prefix, processes, es_pid, args.events, load))
                delete_indices(es, prefix)
            result["raw_runs"] = raw_runs
            result["raw_eps"] = round(sum(r["eps"] for r in raw_runs) / len(raw_runs))
            result["raw_in_flight"] = settings.BULK_REQUESTS
            result["e2e_ratio"] = round(result["e2e_eps"] / result["raw_eps"], 3)
            # The tree's memory with other numbers of converting processes (e.g. one: --processes 0).
            by_processes = {str(processes): result["peak_rss_mb"]}
            for other in memory_processes:
                if str(other) in by_processes:
                    continue
                _log(f"memory: ctstack import with --processes {other} (load {os.getloadavg()[0]:.2f}) ...")
                run = e2e(url, data, args.workdir, prefix, other)
                if run["summary"]["events_indexed"] != args.events:
                    raise SystemExit(f"--processes {other}: {run['summary']}")
                by_processes[str(other)] = round(run["peak_rss_mb"], 1)
                delete_indices(es, prefix)
            result["peak_rss_mb_by_processes"] = by_processes
        if args.cost or args.cost_only:
            es_pid = node.pid if node else args.es_pid
            gz = input_gz_bytes(data)
            result["input_gz_bytes_per_event"] = round(gz / args.events, 1)
            if args.cost_only:   # warm the JVM up with one untimed import
                _log("warming Elasticsearch up (one untimed import) ...")
                e2e(url, data, args.workdir, prefix, processes)
            result["cost"] = cost(es, url, data, args.workdir, prefix, processes, es_pid, args.events, gz,
                                  ("before", "after"), args.cost_fields.split(","), args.template_before,
                                  args.cost_rounds)
        if values:
            if not rates and not (args.cost or args.cost_only):   # warm the JVM up with one untimed import
                _log("warming Elasticsearch up (one untimed import) ...")
                e2e(url, data, args.workdir, prefix, processes)
                delete_indices(es, prefix)
            result["concurrency"] = concurrency(es, url, data, args.workdir, prefix, processes,
                                                node.pid if node else args.es_pid, args.events, values, args.rounds)
        es.close()
    finally:
        if node:
            node.stop()
        if body_file:
            body_file.path.unlink(missing_ok=True)
    result["load_avg_at_end"] = list(os.getloadavg())
    result["seed_script_eps"] = SEED_SCRIPT_EPS

    if args.json:
        print(json.dumps(result))
    else:
        print_table(result)
    return 0


def print_table(r: dict) -> None:
    m = r["machine"]
    print(f"{r['events']:,} events in {r['files']:,} files (+{r['digest_files']} digests), seed {r['seed']}; "
          f"{m['cores']} cores, {m['cpu_model']}; Elasticsearch {r['es_version']}; {r.get('date', '')}")
    rows = [] if "parse_limit_eps" not in r else [
        ("parse_limit_eps", f"{r['parse_limit_eps']:,}", "gunzip + orjson.loads, the floor"),
        ("pipeline_eps", f"{r['pipeline_eps']:,}", "ctstack files -> bulk bodies, null sink"),
        ("pipeline_ratio", f"{r['pipeline_ratio']:.2f}", f"target >= 0.5 ({r['convert_processes']} converting processes)"),
        ("  (one process)", f"{r['pipeline_ratio_one_process']:.2f}", f"{r['pipeline_one_process_eps']:,} events/s converting in the importing process"),
        ("  (CPU time)", f"{r['pipeline_ratio_cpu']:.2f}", "the same ratio in CPU seconds"),
        ("importer_cpu_us_per_event", f"{r['importer_cpu_us_per_event']:.1f}", "CPU of the import's process tree / events, target <= 15"),
        ("e2e_eps", f"{r['e2e_eps']:,}", "ctstack import into the node"),
        ("raw_eps", f"{r['raw_eps']:,}", f"same bodies POSTed raw, {r['raw_in_flight']} in flight (mean of the runs before and after)"),
        ("e2e_ratio", f"{r['e2e_ratio']:.2f}", "target >= 0.8"),
        ("rerun_seconds", f"{r['rerun_seconds']:.1f}", f"a second import of the unchanged folder ({r['rerun_events_sent']:,} events sent)"),
        ("rerun_ratio", f"{r['rerun_ratio']:.2f}", "of the first import's wall time, target <= 0.05"),
        ("peak_rss_mb", f"{r['peak_rss_mb']:.0f}", "the import's whole process tree (sum of Pss), target < 250"),
        ("  (by processes)", ", ".join(f"{n}: {mb:.0f}" for n, mb in r["peak_rss_mb_by_processes"].items()), "MB with each --processes value"),
        ("es_cpu_us_per_event", "-" if r["es_cpu_us_per_event"] is None else f"{r['es_cpu_us_per_event']:.1f}", "the node's CPU during the import / events"),
        ("disk_ratio", f"{r['disk_ratio']:.2f}", f"bytes on disk after a force merge / gzip bytes ({r['disk_bytes_per_event']} B/event)"),
        ("seed_script_eps", f"{r['seed_script_eps']}", "zcat | jq + one curl per record"),
    ]
    if "parse_limit_eps" in r:
        for name, value, note in rows:
            print(f"  {name:<26} {value:>10}   {note}")
    if "cost" in r:
        print(f"what a document costs Elasticsearch (input: {r['input_gz_bytes_per_event']} gzip bytes per event; "
              "target: standard store <= 1.5x input, ES CPU per event halved)")
        print(f"  {'fields':<9} {'template':<8} {'es_cpu_s':>9} {'us/event':>9} {'store B/ev':>11} {'disk_ratio':>10} {'e2e_eps':>8} {'hints ms':>9} {'dash ms':>8}")
        for fields, by_template in r["cost"].items():
            for which, c in by_template.items():
                print(f"  {fields:<9} {which:<8} {c.get('es_cpu_s', '-'):>9} {c.get('es_cpu_us_per_event', '-'):>9} "
                      f"{c['store_bytes_per_event']:>11} {c['disk_ratio']:>10} {c['e2e_eps']:>8,} "
                      f"{c['hints_query_ms']:>9} {c['dashboard_query_ms']:>8}")
    if "concurrency" in r:
        print("bulk requests in flight (--bulk-requests), e2e best of the rounds")
        print(f"  {'requests':>8} {'e2e_eps':>8} {'us/event':>9} {'rss MB':>7}   rounds")
        for n, c in r["concurrency"].items():
            print(f"  {n:>8} {c['e2e_eps']:>8,} {c.get('es_cpu_us_per_event', '-'):>9} {c['peak_rss_mb']:>7}   "
                  f"{', '.join(f'{v:,}' for v in c['e2e_eps_rounds'])}")


if __name__ == "__main__":
    sys.exit(main())
