"""scripts/es-test-node, the by-hand way to run the test node: start, answer, stop, nothing left."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


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
