"""The local stack's Elasticsearch killed (`docker kill`) in the middle of `ctstack import`:
the import stops with its summary and a failing exit code, and once `ctstack up` has brought
Elasticsearch back the same import finishes with every distinct event indexed exactly once."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time

import pytest

from provision.cloudtrail import classify
from provision.demo.generate import write_sample
from tests.stack.conftest import CTSTACK_TIMEOUT, UP_TIMEOUT

EVENTS = 100_000


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    dest = tmp_path_factory.mktemp("kill-during-import")
    write_sample(dest, events=EVENTS, digests=False)
    return dest


def distinct_events(folder) -> int:
    ids = set()
    for path in folder.rglob("*.json.gz"):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            ids.update(classify.event_id(record) for record in json.load(f)["Records"])
    return len(ids)


def test_import_survives_elasticsearch_killed_midway_and_finishes_after_up(local_stack, logs):
    up = local_stack.ctstack("up", "--no-kibana", "--timeout", UP_TIMEOUT)
    assert up.returncode == 0, up.output
    login = {"CTSTACK_ES_PASSWORD": local_stack.secrets()["ELASTIC_PASSWORD"], "CTSTACK_ES_USER": "elastic"}
    importing = subprocess.Popen([sys.executable, "-m", "provision", "import", str(logs)], env={**local_stack.env, **login},
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL, cwd=local_stack.home)
    try:
        deadline = time.monotonic() + 600
        while importing.poll() is None and time.monotonic() < deadline:
            try:
                if local_stack.count() >= 5_000:
                    break
            except Exception:  # the first index may not exist yet
                pass
            time.sleep(0.5)
        assert importing.poll() is None, "the import ended before Elasticsearch could be killed; write more events"
        local_stack.docker("kill", local_stack.containers()["elasticsearch"])
        out, err = importing.communicate(timeout=CTSTACK_TIMEOUT)
    finally:
        if importing.poll() is None:
            importing.kill()
    assert importing.returncode != 0, out + err
    assert "Traceback" not in out + err
    # Its summary, every event read accounted for, and what to do. Whether the importer stops at
    # once ("Import stopped: Cannot reach Elasticsearch ...") or counts the rest as unknown
    # depends on where the kill lands (both seen), so the test holds to what both say.
    assert "events read" in out + err and "outcome unknown" in out + err, out + err
    assert "(Elasticsearch did not answer): re-run to settle" in out + err, out + err

    again_up = local_stack.ctstack("up", "--no-kibana", "--timeout", UP_TIMEOUT)
    assert again_up.returncode == 0, again_up.output
    again = local_stack.ctstack("import", str(logs), env=login)
    assert again.returncode == 0, again.output
    assert local_stack.count() == distinct_events(logs)
