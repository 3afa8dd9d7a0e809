"""`ctstack import s3://... --follow`: the follower run as users run it (a subprocess with
NDJSON rounds on stdout, stopped with SIGTERM), against moto's S3 server over HTTP and a
real Elasticsearch node (the session's, or a private one that the outage test stops)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from provision.core.connection import EsConfig, client
from provision.ingest.continuous import ES_UNAVAILABLE, OK, StopSwitch
from provision.ingest.follow import Follower, round_filters
from provision.sources.s3layout import make_filters
from tests.support.s3 import BUCKET, put_trail_objects, stored, wait_stored
from tests.support.cli import CTSTACK


pytestmark = pytest.mark.usefixtures("forget_state")


class FollowerProcess:
    """`ctstack import --follow --json` in a subprocess; ``rounds`` collects its NDJSON lines."""

    def __init__(self, es_url: str, prefix: str, tmp_path: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [CTSTACK, "import", f"s3://{BUCKET}", "--follow", "--json", "--es-url", es_url, "--index-prefix", prefix,
             # Each process its own dead-letter file: ctstack never appends to an existing one.
             "--processes", "0", "--dead-letter", str(tmp_path / f"dead-{uuid.uuid4().hex[:8]}.ndjson"), *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
        )
        self.lines: queue.Queue = queue.Queue()
        self.rounds: list[dict] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))

    def next_round(self, timeout: float = 120) -> dict:
        report = self.lines.get(timeout=timeout)
        self.rounds.append(report)
        return report

    def round_where(self, condition, timeout: float = 180) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            report = self.next_round(max(1, deadline - time.monotonic()))
            if condition(report):
                return report

    def stop(self, timeout: float = 120) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self.reader.join(10)
        while not self.lines.empty():
            self.rounds.append(self.lines.get())
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)


def follower_mid_round(aws_env, es, es_url: str, prefix: str, tmp_path: Path) -> tuple[set[str], FollowerProcess]:
    """A follower whose first round (100 objects of 100 events, one download at a time, bulk
    requests of 500 events) has sent its first bulk requests; returns the events' IDs and the
    follower."""
    s3 = aws_env.client()
    s3.create_bucket(Bucket=BUCKET)
    _, ids = put_trail_objects(s3, BUCKET, datetime.now(timezone.utc), 100, 100)
    follower = FollowerProcess(es_url, prefix, tmp_path, "--interval", "60s", "--workers", "1", "--bulk-size", "500")
    try:
        wait_stored(es, prefix, follower.proc)
    except BaseException:
        follower.kill()
        raise
    return ids, follower


def one_round(es_url: str, prefix: str, tmp_path: Path) -> dict:
    """Start a follower again, let it do one round, stop it with SIGTERM (exit 0); the round's report."""
    again = FollowerProcess(es_url, prefix, tmp_path, "--interval", "60s")
    try:
        resumed = again.next_round()
        assert again.stop() == 0
    finally:
        again.kill()
    return resumed


def test_rounds_list_today_and_yesterday_and_the_first_may_backfill():
    now = datetime(2025, 3, 6, 0, 5, tzinfo=timezone.utc)
    assert round_filters(make_filters(), now, first=True).since.isoformat() == "2025-03-05"
    backfill = make_filters(since="2025-02-01")
    assert round_filters(backfill, now, first=True).since.isoformat() == "2025-02-01"
    assert round_filters(backfill, now, first=False).since.isoformat() == "2025-03-05"


def test_objects_written_while_following_are_searchable_within_one_interval_and_sigterm_exits_0(aws_env, es, es_url, index_prefix, tmp_path):
    s3 = aws_env.client()
    s3.create_bucket(Bucket=BUCKET)
    now = datetime.now(timezone.utc)
    old_keys, _ = put_trail_objects(s3, BUCKET, now - timedelta(days=5), 2, tag="old")  # outside today/yesterday
    _, first_ids = put_trail_objects(s3, BUCKET, now, 3, tag="a")
    interval = 3.0
    follower = FollowerProcess(es_url, index_prefix, tmp_path, "--interval", f"{interval:.0f}s")
    try:
        first = follower.round_where(lambda r: r["events_read"] > 0)
        assert first["state"] == OK and first["events_indexed"] == len(first_ids)
        assert first["objects_listed"] == 3  # the old day's prefix was never listed
        assert first["lag_seconds"] is not None and first["lag_seconds"] < 600

        written = time.monotonic()
        _, later_ids = put_trail_objects(s3, BUCKET, now - timedelta(days=1), 2, tag="b")  # yesterday: still followed
        deadline = written + interval + 60  # one interval, plus a round's own time on a busy machine
        while stored(es, index_prefix) < len(first_ids | later_ids):
            assert time.monotonic() < deadline, "new objects were not searchable within one interval"
            time.sleep(0.2)
        searchable_after = time.monotonic() - written
        quiet = follower.next_round()
        assert quiet["objects_downloaded"] == 0 or quiet["events_indexed"] == len(later_ids)
        assert follower.stop() == 0
    finally:
        follower.kill()
    assert stored(es, index_prefix) == len(first_ids | later_ids)
    assert sum(r.get("events_duplicate", 0) for r in follower.rounds) == 0
    print(f"searchable {searchable_after:.1f} s after the write (interval {interval} s)")


def test_sigterm_mid_round_then_restart_loses_and_duplicates_nothing(aws_env, es, es_url, index_prefix, tmp_path):
    ids, follower = follower_mid_round(aws_env, es, es_url, index_prefix, tmp_path)
    try:
        assert follower.stop() == 0
    finally:
        follower.kill()
    interrupted = follower.rounds[-1]
    assert interrupted["state"] == "stopping" and interrupted["ok"]
    assert 0 < interrupted["files_read"] < 100, "the signal did not land mid-round"
    assert interrupted["events_read"] == interrupted["events_indexed"] == stored(es, index_prefix)

    resumed = one_round(es_url, index_prefix, tmp_path)
    assert resumed["state"] == OK and resumed["ok"]
    # Objects downloaded ahead but not handed to the import were not remembered: fetched again.
    assert resumed["objects_skipped_already_imported"] == interrupted["files_read"]
    assert resumed["objects_downloaded"] == 100 - interrupted["files_read"]
    assert resumed["events_duplicate"] == 0
    assert stored(es, index_prefix) == len(ids) == interrupted["events_indexed"] + resumed["events_indexed"]


def test_an_elasticsearch_outage_of_30_s_mid_round_is_ridden_out(aws_env, private_es_node, tmp_path):
    """The follower against a private node that is killed while a round is importing and
    started again 30 s later: rounds meanwhile say "elasticsearch unavailable", the follower
    catches up, every event is indexed once, and it exits 0 after the catch-up."""
    s3 = aws_env.client()
    s3.create_bucket(Bucket=BUCKET)
    _, ids = put_trail_objects(s3, BUCKET, datetime.now(timezone.utc), 100, 100)
    prefix = "ctstack-outage"
    es = client(EsConfig(url=private_es_node.url), request_timeout=10)
    follower = FollowerProcess(private_es_node.url, prefix, tmp_path, "--interval", "5s", "--workers", "1", "--bulk-size", "500")
    try:
        wait_stored(es, prefix, follower.proc)  # its first bulk requests are in: mid-import
        private_es_node.kill()
        killed = time.monotonic()
        outage = follower.next_round()  # the round the outage cut short says so, with honest counts
        assert outage["round"] == 1 and outage["state"] == ES_UNAVAILABLE and not outage["ok"] and outage["error"]
        assert outage["events_read"] == (outage["events_indexed"] + outage["events_duplicate"] + outage["events_failed"]
                                         + outage["events_unknown"] + outage["events_filtered"])
        assert outage["events_failed"] + outage["events_unknown"] > 0 and outage["events_indexed"] < len(ids)
        time.sleep(max(0.0, 30 - (time.monotonic() - killed)))
        assert follower.proc.poll() is None, "the follower gave up during the outage"
        private_es_node.restart()
        caught_up = follower.round_where(lambda r: r["state"] == OK and r["ok"] and r["objects_downloaded"] == 0, timeout=300)
        assert follower.stop() == 0
    finally:
        follower.kill()
    assert stored(es, prefix) == len(ids)
    after = [r for r in follower.rounds if r["round"] > outage["round"]]
    assert sum(r.get("events_indexed", 0) for r in follower.rounds) + sum(r.get("events_duplicate", 0) for r in after) >= len(ids)
    assert caught_up["newest_event"] is not None
    es.close()


def test_follower_from_python_stops_when_asked(aws_env, es, index_prefix):
    s3 = aws_env.client()
    s3.create_bucket(Bucket=BUCKET)
    _, ids = put_trail_objects(s3, BUCKET, datetime.now(timezone.utc), 2)
    stop = StopSwitch()
    reports = []

    def on_round(report):
        reports.append(report)
        stop.set()

    summary = Follower(es, [f"s3://{BUCKET}"], interval=1, index_prefix=index_prefix, stop=stop, on_round=on_round, processes=0).run()
    assert summary.rounds == 1 and summary.ok and summary.totals["events_indexed"] == len(ids)
    assert reports[0]["state"] == OK and reports[0]["objects_downloaded"] == 2


def test_a_follower_filters_events_exactly_and_keeps_one_dead_letter_file(aws_env, es, index_prefix, tmp_path):
    """With --follow, events outside the filters are counted, not imported,
    round after round; and one dead-letter file serves every round (removed when unused)."""
    from provision.ingest.options import ImportOptions
    from provision.sources.filters import Filters

    s3 = aws_env.client()
    s3.create_bucket(Bucket=BUCKET)
    _, ids = put_trail_objects(s3, BUCKET, datetime.now(timezone.utc), 2)
    reports: list[dict] = []
    dead = tmp_path / "dead.ndjson"
    follower = Follower(es, [f"s3://{BUCKET}"], interval=1, index_prefix=index_prefix, on_round=reports.append, processes=0,
                        options=ImportOptions(filters=Filters.from_text(account="999999999999")), dead_letter_path=dead)
    assert dead.exists()  # created at the start, before any round
    summary = follower.run(max_rounds=2)
    assert summary.rounds == 2 and reports[0]["ok"] and reports[1]["ok"]
    assert reports[0]["events_read"] == reports[0]["events_filtered"] == len(ids) and reports[0]["events_indexed"] == 0
    assert not dead.exists()  # nothing failed in any round
    assert es.options(ignore_status=404).count(index=f"{index_prefix}-*", allow_no_indices=True).get("count", 0) == 0


def test_up_with_import_follow_keeps_following_after_the_stack_is_up(aws_env, es, es_url, index_prefix):
    """`ctstack up --es-url ... --import s3://... --follow` on an existing cluster (no Kibana
    here): the import, then rounds logged one line each on stderr (not a terminal)."""
    s3 = aws_env.client()
    s3.create_bucket(Bucket=BUCKET)
    _, first_ids = put_trail_objects(s3, BUCKET, datetime.now(timezone.utc), 2, tag="a")
    proc = subprocess.Popen([CTSTACK, "up", "--es-url", es_url, "--import", f"s3://{BUCKET}", "--follow", "--interval", "2s",
                             "--index-prefix", index_prefix], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stderr], daemon=True).start()
    try:
        while "round 1 at" not in (line := lines.get(timeout=120)):
            pass
        assert "0 objects" in line  # the up's own import had taken them all
        _, later_ids = put_trail_objects(s3, BUCKET, datetime.now(timezone.utc), 2, tag="b")
        wait_stored(es, index_prefix, proc, len(first_ids | later_ids), timeout=60)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
        assert "Elasticsearch:" in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_second_signal_exits_at_once_leaves_no_empty_dead_letter_file_and_a_rerun_loses_nothing(aws_env, es, es_url, index_prefix, tmp_path):
    ids, follower = follower_mid_round(aws_env, es, es_url, index_prefix, tmp_path)
    try:
        follower.proc.send_signal(signal.SIGTERM)
        time.sleep(0.05)
        follower.proc.send_signal(signal.SIGTERM)
        assert follower.proc.wait(10) == 128 + signal.SIGTERM
    finally:
        follower.kill()
    assert stored(es, index_prefix) < len(ids)  # it did not finish the round first
    assert not list(tmp_path.glob("dead-*.ndjson")), "nothing failed: no dead-letter file may be left behind"

    resumed = one_round(es_url, index_prefix, tmp_path)
    assert resumed["ok"] and resumed["events_failed"] == 0
    assert stored(es, index_prefix) == len(ids)
