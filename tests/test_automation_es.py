"""Automation and workflows from Elasticsearch equal the offline answer on the demo set
(imported into the real test node with the importer)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Iterator

import pytest
from elasticsearch import Elasticsearch

from provision.core.connection import EsConfig, client
from provision.demo.demo_set import write_demo
from provision.demo.generate import DEFAULT_START
from provision.analysis.hints import hints_from_sources
from provision.analysis.hints_es import hints_from_es
from provision.ingest.importer import run_import
from provision.sources.local import source_files

pytestmark = pytest.mark.es


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("demo")
    write_demo(root, DEFAULT_START)
    return root


def _import(es_config: EsConfig, root: Path, profile: str, dead: Path) -> Iterator[str]:
    prefix = f"ctstack-test-{uuid.uuid4().hex[:10]}"
    es = client(es_config)
    try:
        summary = run_import(es, source_files([str(root)]), index_prefix=prefix, profile=profile, dead_letter_path=dead)
        assert summary.events_indexed > 20_000
        yield prefix
    finally:
        es.options(ignore_status=404).indices.delete(index=f"{prefix}*", expand_wildcards="all")
        es.close()


@pytest.fixture(scope="module")
def imported_full(es_config: EsConfig, demo_dir: Path, tmp_path_factory) -> Iterator[str]:
    yield from _import(es_config, demo_dir, "full", tmp_path_factory.mktemp("dead") / "dead.ndjson")


@pytest.fixture(scope="module")
def imported_standard(es_config: EsConfig, demo_dir: Path, tmp_path_factory) -> Iterator[str]:
    yield from _import(es_config, demo_dir, "standard", tmp_path_factory.mktemp("dead") / "dead.ndjson")


@pytest.fixture(scope="module")
def offline(demo_dir: Path):
    return hints_from_sources([str(demo_dir)], top=0)


def _automation(hints) -> dict:
    return {(c.provider, c.action): (c.automation, c.automation_note) for c in hints.candidates}


def test_full_profile_gives_the_same_automation_and_workflows(es: Elasticsearch, imported_full: str, offline) -> None:
    from_es = hints_from_es(es, top=0, index_prefix=imported_full)
    assert offline.workflows and any(w["links"] for w in offline.workflows), "the demo must hold linked workflows"
    assert _automation(from_es) == _automation(offline)
    assert from_es.workflows == offline.workflows


def test_standard_profile_gives_the_same_workflows_links_and_scripts(es: Elasticsearch, imported_standard: str, offline) -> None:
    """The standard profile keeps the response of console changes (what a step created), so
    the workflows, their links and their scripts equal the offline answer."""
    from_es = hints_from_es(es, top=0, index_prefix=imported_standard)
    assert _automation(from_es) == _automation(offline)
    assert any(w["links"] for w in offline.workflows)
    assert from_es.workflows == offline.workflows
    assert from_es.failed_changes == offline.failed_changes > 0
