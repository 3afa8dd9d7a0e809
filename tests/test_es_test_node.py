"""scripts/es-test-node, the by-hand way to run the test node: start, answer, stop, nothing left."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.es  # starts a node of its own, through the script, not a fixture


def test_start_prints_a_url_that_answers_and_stop_leaves_no_process(tmp_path):
    env = {**os.environ, "CTSTACK_CACHE_STATE": str(tmp_path)}
    script = [sys.executable, str(REPO / "scripts" / "es-test-node")]
    started = subprocess.run([*script, "start"], capture_output=True, text=True, timeout=300, env=env)
    assert started.returncode == 0, started.stderr
    url = started.stdout.strip().splitlines()[-1]
    assert url.startswith("http://127.0.0.1:")
    state = json.loads((tmp_path / "es-test-node.json").read_text())
    try:
        with urllib.request.urlopen(f"{url}/_nodes/_local?filter_path=nodes.*.version", timeout=10) as resp:
            versions = [n["version"] for n in json.loads(resp.read())["nodes"].values()]
        assert versions == [state["version"]] and versions[0].split(".")[0] in ("8", "9")
        status = subprocess.run([*script, "status"], capture_output=True, text=True, timeout=60, env=env)
        assert status.returncode == 0 and "running" in status.stdout
    finally:
        stopped = subprocess.run([*script, "stop"], capture_output=True, text=True, timeout=120, env=env)
    assert stopped.returncode == 0, stopped.stderr
    proc = Path(f"/proc/{state['pid']}")
    deadline = time.monotonic() + 15  # a stopped daemon lingers as a zombie until init reaps it
    while proc.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not proc.exists(), "the node's process is still there"
    assert not (tmp_path / "es-test-node.json").exists()


def test_two_checkouts_on_one_machine_each_have_their_own_node_and_stop_only_their_own(tmp_path):
    """The second checkout is a copy of the script beside the same tests (a symlink); the first
    checkout's recorded node is a process of ours standing in for it: the other checkout does
    not see it, and its `stop` leaves it alone."""
    other = tmp_path / "other-checkout"
    (other / "scripts").mkdir(parents=True)
    (other / "scripts" / "es-test-node").write_bytes((REPO / "scripts" / "es-test-node").read_bytes())
    (other / "tests").symlink_to(REPO / "tests")
    env = {k: v for k, v in os.environ.items() if k != "CTSTACK_CACHE_STATE"}
    env["CTSTACK_CACHE"] = str(tmp_path / "cache")
    standing_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        mine = [sys.executable, str(REPO / "scripts" / "es-test-node")]
        theirs = [sys.executable, str(other / "scripts" / "es-test-node")]
        status = subprocess.run([*mine, "status"], capture_output=True, text=True, timeout=60, env=env)
        record = Path(status.stdout.rsplit(" in ", 1)[1].rstrip(")\n")) / "es-test-node.json"
        assert record.parent.parent == tmp_path / "cache" / "es-test-node"
        record.parent.mkdir(parents=True)
        record.write_text(json.dumps({"pid": standing_in.pid, "port": 9, "workdir": str(tmp_path / "work"), "version": "9.3.2"}))

        assert f"pid {standing_in.pid}" in subprocess.run([*mine, "status"], capture_output=True, text=True, timeout=60, env=env).stdout
        theirs_status = subprocess.run([*theirs, "status"], capture_output=True, text=True, timeout=60, env=env)
        assert theirs_status.returncode == 1 and "not running (this checkout" in theirs_status.stdout
        stopped = subprocess.run([*theirs, "stop"], capture_output=True, text=True, timeout=60, env=env)
        assert stopped.returncode == 0 and "no test node recorded for this checkout" in stopped.stderr
        assert standing_in.poll() is None, "the other checkout's stop killed this checkout's node"
        assert record.exists()
    finally:
        standing_in.kill()
        standing_in.wait(10)
