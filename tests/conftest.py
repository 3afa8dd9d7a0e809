"""Shared fixtures. Elasticsearch is always real: the integ-test node from
tests/support/esnode.py, or the cluster named by CTSTACK_TEST_ES_URL (how users' CI
with real containers runs this same suite). A node that cannot start fails the tests
with its log tail; nothing here skips."""

from __future__ import annotations

import contextlib
import functools
import re
import os
import uuid
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import pytest
from elasticsearch import Elasticsearch
from elasticsearch.helpers import bulk

from provision.analysis.hints import Hints, hints_from_sources
from provision.core import settings
from provision.core.connection import EsConfig, client, server_version
from provision.demo.demo_set import write_demo
from provision.demo.generate import DEFAULT_START
from provision.sources import s3state
from tests.support.esnode import EsNode, NodeError
from tests.support.fake_kibana import FakeKibana

REPO = Path(__file__).resolve().parent.parent
SAMPLE_DATA = REPO / "tests" / "data" / "cloudtrail"
EDGE_CASES = REPO / "tests" / "data" / "edge-cases"

_ES_VERSION_KEY = pytest.StashKey[str]()
T = TypeVar("T")
# The fixtures that start or reach a real Elasticsearch: a test that uses one, directly or
# through another fixture, is marked `es` (see pytest_collection_modifyitems).
ES_FIXTURES = frozenset({"es_config", "es_url", "es", "index_prefix", "private_es_node", "secured_es_node"})
# Fixtures that start a moto server: their tests are marked `slow`.
MOTO_FIXTURES = frozenset({"moto", "aws_env", "moto_cli"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark `es` every test whose fixture closure reaches Elasticsearch, and `slow` every test
    that starts a moto server (tests that start nodes or other heavy things themselves carry
    the marker by hand); then leave the `slow` tests out of a fast lane (see fast_lane_drops)."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & ES_FIXTURES:
            item.add_marker(pytest.mark.es)
        if fixtures & MOTO_FIXTURES:
            item.add_marker(pytest.mark.slow)
    kept, dropped = [], []
    for item in items:
        (dropped if fast_lane_drops(config.option.markexpr, item) else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def fast_lane_drops(markexpr: str, item: pytest.Item) -> bool:
    """True for a `slow` test under a marker expression that leaves Elasticsearch out without
    naming `slow`: `-m "not es"` is the fast lane, so it leaves the slow tests out too; `-m
    slow`, `-m "slow and not es"` or no `-m` at all select them as usual."""
    if not markexpr or "slow" in markexpr or item.get_closest_marker("slow") is None:
        return False
    markers = {mark.name for mark in item.iter_markers()} | {"es"}
    return not selects(markexpr, markers)


_MARK_TOKEN = re.compile(r"\s*(\(|\)|[^\s()]+)")


@functools.lru_cache(maxsize=None)
def _mark_tokens(markexpr: str) -> tuple[str, ...]:
    return tuple(_MARK_TOKEN.findall(markexpr))


def selects(markexpr: str, markers: set[str]) -> bool:
    """Whether ``-m markexpr`` selects a test with these markers: pytest's grammar (names,
    `and`, `or`, `not`, parentheses) evaluated with Python's own precedence, which is the same."""
    words = [w if w in ("and", "or", "not", "(", ")") else str(w in markers) for w in _mark_tokens(markexpr)]
    return bool(eval(" ".join(words), {"__builtins__": {}}, {}))  # only True/False/and/or/not/() reach eval


@pytest.fixture(scope="session")
def sample_data() -> Path:
    """Public sample CloudTrail data shipped with the tests (tests/data/cloudtrail; sources,
    licences and attribution in its README.md and NOTICE)."""
    if not SAMPLE_DATA.is_dir():
        pytest.fail(f"sample data not found at {SAMPLE_DATA}: the checkout is incomplete")
    return SAMPLE_DATA


@pytest.fixture(scope="session")
def edge_cases() -> Path:
    """Hand-made files that are meant to fail or be skipped (broken JSON, all-null fields, a
    wrong eventTime; tests/data/edge-cases, licence and source in its README.md): kept apart
    from the sample data, which imports cleanly."""
    if not EDGE_CASES.is_dir():
        pytest.fail(f"edge-case data not found at {EDGE_CASES}: the checkout is incomplete")
    return EDGE_CASES


@pytest.fixture(scope="session")
def es_config(request: pytest.FixtureRequest) -> Iterator[EsConfig]:
    """Connection settings for the session's real Elasticsearch."""
    url = os.environ.get("CTSTACK_TEST_ES_URL")
    node: EsNode | None = None
    if url:
        cfg = EsConfig(
            url=url.rstrip("/"),
            api_key=os.environ.get("CTSTACK_TEST_ES_API_KEY"),
            user=os.environ.get("CTSTACK_TEST_ES_USER"),
            password=os.environ.get("CTSTACK_TEST_ES_PASSWORD"),
            ca_certs=os.environ.get("CTSTACK_TEST_ES_CA_CERTS"),
        )
    else:
        try:
            node = EsNode().start()
        except NodeError as err:
            pytest.fail(f"the Elasticsearch test node could not start:\n{err}", pytrace=False)
        cfg = EsConfig(url=node.url)
    version = server_version(client(cfg))
    request.config.stash[_ES_VERSION_KEY] = f"Elasticsearch {version} at {cfg.url}" + (" (test node)" if node else " (CTSTACK_TEST_ES_URL)")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter:
        reporter.write_line(f"\n[ctstack] testing against {request.config.stash[_ES_VERSION_KEY]}")
    try:
        yield cfg
    finally:
        if node:
            node.stop()


@pytest.fixture(scope="session")
def es_url(es_config: EsConfig) -> str:
    return es_config.url


@pytest.fixture()
def es(es_config: EsConfig) -> Iterator[Elasticsearch]:
    es = client(es_config)
    yield es
    es.close()


@pytest.fixture()
def index_prefix(es: Elasticsearch) -> Iterator[str]:
    """A unique index prefix for one test; its indices are deleted afterwards."""
    prefix = f"ctstack-test-{uuid.uuid4().hex[:10]}"
    yield prefix
    es.options(ignore_status=404).indices.delete(index=f"{prefix}*", expand_wildcards="all")


@contextlib.contextmanager
def running(what: str, start: Callable[[], T]) -> Iterator[T]:
    """What ``start()`` starts (a node, a cluster; one that cannot start fails the test loudly), stopped after."""
    try:
        started = start()
    except NodeError as err:
        pytest.fail(f"{what} could not start:\n{err}", pytrace=False)
    try:
        yield started
    finally:
        started.stop()


def running_node(what: str, **options) -> contextlib.AbstractContextManager[EsNode]:
    """An EsNode started with ``options``, stopped after (see :func:`running`)."""
    return running(what, lambda: EsNode(heap="512m", **options).start())


@pytest.fixture()
def private_es_node() -> Iterator[EsNode]:
    """A node of this test's own, for tests that kill and restart Elasticsearch."""
    with running_node("a private Elasticsearch test node") as node:
        yield node


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Hints]:
    """The demo set (written once for the session, read only) and its hints offline, top=0."""
    root = tmp_path_factory.mktemp("demo")
    write_demo(root, DEFAULT_START)
    return root, hints_from_sources([str(root)], top=0)


@pytest.fixture()
def kibana() -> Iterator[FakeKibana]:
    """A stand-in for Kibana on 127.0.0.1 (Kibana cannot run here; see tests/support/fake_kibana.py),
    with the spaces "default" and "security"."""
    fake = FakeKibana(spaces={"default", "security"}).start()
    try:
        yield fake
    finally:
        fake.stop()


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if _ES_VERSION_KEY in config.stash:
        terminalreporter.write_line(f"[ctstack] tested against {config.stash[_ES_VERSION_KEY]}")


@pytest.fixture(scope="session")
def secured_es_node() -> Iterator[EsNode]:
    """A second node with security on, for the auth paths: the `elastic` user's password is the
    keystore's bootstrap.password (``node.password``), HTTP is TLS auto-configured on first
    start (CA: ``node.ca_certs``). It loads the analysis plugin the .security index needs (the
    integ-test distribution lacks analysis-common), so API keys and native users are real.
    Started only by the tests that ask for it; the unsecured node stays the default."""
    with running_node("the secured Elasticsearch test node", secured=True) as node:
        yield node


@pytest.fixture()
def forget_state(es, index_prefix):
    """Delete the import state (S3 objects and local files) of this test's index prefixes
    afterwards (their indices go with the index_prefix fixture)."""
    yield
    # (the integ-test node has no _delete_by_query: find the documents, then delete them;
    # state writes do not wait for a refresh, so one comes first)
    es.options(ignore_status=404).indices.refresh(index=settings.STATE_INDEX)
    found = es.options(ignore_status=404).search(
        index=settings.STATE_INDEX, query={"prefix": {s3state.INDEX_PREFIX: index_prefix}}, size=10_000, source=False,
    )
    ids = [hit["_id"] for hit in found.get("hits", {}).get("hits", [])]
    if ids:
        bulk(es, ({"_op_type": "delete", "_index": settings.STATE_INDEX, "_id": i} for i in ids), refresh=True)
