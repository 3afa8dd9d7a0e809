"""`ctstack demo DIR` writes the demo set, exactly what `ctstack up --sample` imports, and
`ctstack hints DIR --workflows` then shows its workflows with their links, offline. Run as a
user runs them: `ctstack` in a subprocess."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from provision.stack import lifecycle as stack
from provision.demo.console_work import DAYS
from provision.demo.generate import SAMPLE_EVENTS
from tests.support.cli import ctstack_alone


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow  # ctstack in a subprocess writing the demo set
def test_demo_writes_exactly_the_set_up_sample_imports(tmp_path: Path) -> None:
    result = ctstack_alone("demo", "demo-logs", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    written = tree(tmp_path / "demo-logs")
    stack._sample_writer()(tmp_path / "what-up-imports")  # the writer `up --sample` calls
    assert written == tree(tmp_path / "what-up-imports")
    assert all(name.startswith("AWSLogs/") and name.endswith(".json.gz") for name in written)
    events = int(re.search(r"Wrote ([\d,]+) events", result.stdout).group(1).replace(",", ""))
    assert events > SAMPLE_EVENTS and f"{DAYS} days of console work" in result.stdout
    assert "ctstack hints demo-logs --workflows" in result.stdout


@pytest.mark.slow  # ctstack in a subprocess writing the demo set
def test_demo_is_deterministic_and_events_sets_the_volume(tmp_path: Path) -> None:
    assert ctstack_alone("demo", "a", "--events", "500", cwd=tmp_path).returncode == 0
    assert ctstack_alone("demo", "b", "--events", "500", cwd=tmp_path).returncode == 0
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    bigger = ctstack_alone("demo", "c", "--events", "3000", cwd=tmp_path)
    small = int(re.search(r"Wrote ([\d,]+) events", ctstack_alone("demo", "d", "--events", "0", cwd=tmp_path).stdout).group(1).replace(",", ""))
    assert int(re.search(r"Wrote ([\d,]+) events", bigger.stdout).group(1).replace(",", "")) == small + 3000


def test_demo_refuses_a_folder_that_is_not_empty_in_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "mine.json").write_text("{}")
    result = ctstack_alone("demo", "logs", cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "logs is not empty; give a new or empty folder" in " ".join(result.stderr.split())
    assert (tmp_path / "logs" / "mine.json").read_text() == "{}"
    negative = ctstack_alone("demo", "new", "--events", "-1", cwd=tmp_path)
    assert negative.returncode == 2 and "0<=x<=10000000" in negative.stderr.replace(" ", "")


@pytest.mark.slow  # ctstack in a subprocess writing the demo set
def test_hints_on_the_demo_shows_its_workflows_with_links_offline(tmp_path: Path) -> None:
    assert ctstack_alone("demo", "demo-logs", cwd=tmp_path).returncode == 0
    result = ctstack_alone("hints", "demo-logs", "--workflows", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Console workflows repeated by hand" in out
    for steps in ("CreateSnapshot -> CreateTags", "CreateSecurityGroup ->", "AuthorizeSecurityGroupIngress -> CreateTags"):
        assert steps in out, out
    assert "1.SnapshotId -> 2.Resources[0]" in out and "1.GroupId -> 2.GroupId" in out


def test_the_demo_set_holds_no_event_twice_so_a_first_import_finds_nothing_already_present(tmp_path: Path, es_url: str, index_prefix: str) -> None:
    """Both parts of the demo set draw from one seed; their events' IDs must never meet (two
    different events with one ID: one of them lost as "already present")."""
    stack._sample_writer()(tmp_path / "demo")
    ids = [r["eventID"] for p in (tmp_path / "demo").rglob("*_CloudTrail_*.json.gz")
           for r in json.loads(gzip.decompress(p.read_bytes()))["Records"]]
    assert len(ids) == len(set(ids))
    up = ctstack_alone("up", "--sample", "--es-url", es_url, "--index-prefix", index_prefix, cwd=tmp_path)
    assert up.returncode == 0, up.stderr
    assert f"Imported:      {len(ids):,} events indexed, 0 already present, 0 failed" in up.stdout
