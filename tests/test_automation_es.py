"""Automation and workflows from Elasticsearch equal the offline answer on the demo set
(imported into the real test node with the importer)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from elasticsearch import Elasticsearch

from provision.core.connection import EsConfig
from provision.analysis.hints_es import hints_from_es
from tests.support.fresh_import import fresh_import

pytestmark = pytest.mark.es


def _import(es_config: EsConfig, root: Path, profile: str, dead: Path) -> Iterator[str]:
    with fresh_import(es_config, [str(root)], dead, profile=profile) as (prefix, summary):
        assert summary.events_indexed > 20_000
        yield prefix


@pytest.fixture(scope="module")
def imported_full(es_config: EsConfig, demo, tmp_path_factory) -> Iterator[str]:
    yield from _import(es_config, demo[0], "full", tmp_path_factory.mktemp("dead") / "dead.ndjson")


@pytest.fixture(scope="module")
def imported_standard(es_config: EsConfig, demo, tmp_path_factory) -> Iterator[str]:
    yield from _import(es_config, demo[0], "standard", tmp_path_factory.mktemp("dead") / "dead.ndjson")


@pytest.fixture(scope="module")
def offline(demo):
    """The demo set's hints offline (conftest's session-wide demo, top=0)."""
    return demo[1]


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
