"""Bulk answers that lie: a proxy of our own on 127.0.0.1 (tests/support/lying_proxy.py) in
front of the real test node mangles the answers to bulk requests as captive portals, broken
proxies and gateways do. Nothing Elasticsearch did not acknowledge may count as indexed;
every event read is accounted for; no traceback; a re-run settles what was left unknown."""

from __future__ import annotations

import json
import time
from pathlib import Path

import orjson
import pytest
from elasticsearch import Elasticsearch

from provision.core.connection import EsConfig, client
from provision.ingest.importer import run_import
from provision.ingest.summary import UNKNOWN, ImportSummary
from provision.sources.local import local_files
from tests.support.events import many_events, write_trail_file
from tests.support.lying_proxy import LyingProxy
from tests.support.cli import ctstack_script
from tests.support.accounting import assert_accounted

EVENTS = 40


def trail(tmp_path: Path, seed: str) -> Path:
    folder = tmp_path / "logs"
    write_trail_file(folder / "one.json.gz", many_events(EVENTS, seed=seed))
    return folder


def stored(es: Elasticsearch, index_prefix: str) -> int:
    es.indices.refresh(index=f"{index_prefix}-*", ignore_unavailable=True, allow_no_indices=True)
    return es.count(index=f"{index_prefix}-*", ignore_unavailable=True, allow_no_indices=True)["count"]


def import_through(proxy: LyingProxy, folder: Path, index_prefix: str, dead: Path, **options) -> ImportSummary:
    lied_to = client(EsConfig(url=proxy.url), request_timeout=options.pop("request_timeout", 60))
    try:
        return run_import(lied_to, local_files([folder]), index_prefix=index_prefix, processes=0,
                          dead_letter_path=dead, **options)
    finally:
        lied_to.close()


def dead_letter_reasons(path: Path) -> list[str]:
    return [orjson.loads(line)["reason"] for line in path.read_bytes().splitlines()] if path.exists() else []


@pytest.mark.parametrize("mode", ["html_200", "fewer_items", "no_items", "empty_item", "string_status", "empty_body",
                                  "gateway_504_after", "gateway_502"])
def test_an_answer_that_does_not_say_what_elasticsearch_did_leaves_the_events_unknown_never_indexed(
        es, es_config, index_prefix, tmp_path, mode):
    """A captive portal's 200 page, a bulk answer with too few / no / empty items or string
    statuses, an empty body, a gateway's 504 after the node indexed, a gateway's 502: none
    says what happened to the documents. They are of unknown outcome (in the dead-letter file
    with that reason), none counted as indexed or failed, the run stops saying why, and a
    re-run straight to the node settles every event exactly once."""
    folder = trail(tmp_path, mode)
    with LyingProxy(es_config.url, mode) as proxy:
        summary = import_through(proxy, folder, index_prefix, tmp_path / "dead.ndjson")
    assert proxy.bulk_requests == 1
    assert_accounted(summary)
    assert summary.events_read == EVENTS
    assert (summary.events_indexed, summary.events_failed, summary.events_unknown) == (0, 0, EVENTS)
    assert summary.aborted and not summary.ok
    assert dead_letter_reasons(tmp_path / "dead.ndjson") == [UNKNOWN] * EVENTS
    actually_indexed = mode not in ("html_200", "gateway_502")
    assert stored(es, index_prefix) == (EVENTS if actually_indexed else 0)

    settled = run_import(es, local_files([folder]), index_prefix=index_prefix, dead_letter_path=tmp_path / "dead2.ndjson")
    assert_accounted(settled)
    assert settled.ok and settled.events_indexed + settled.events_duplicate == EVENTS
    assert settled.events_duplicate == (EVENTS if actually_indexed else 0)
    assert stored(es, index_prefix) == EVENTS


@pytest.mark.parametrize("mode", ["json_as_plain", "json_as_html"])
def test_elasticsearchs_answer_labelled_as_text_or_html_is_still_read(es, es_config, index_prefix, tmp_path, mode):
    """A proxy that relabels the JSON answer text/plain or text/html: the answer is still
    Elasticsearch's (its header is there), so it is read and the events count as indexed."""
    folder = trail(tmp_path, mode)
    with LyingProxy(es_config.url, mode) as proxy:
        summary = import_through(proxy, folder, index_prefix, tmp_path / "dead.ndjson")
    assert_accounted(summary)
    assert summary.ok and summary.events_indexed == EVENTS
    assert stored(es, index_prefix) == EVENTS


def test_a_proxys_413_page_fails_the_events_as_refused_before_elasticsearch(es, es_config, index_prefix, tmp_path):
    """An HTML 413 from a proxy turned the request away before Elasticsearch saw it: the
    events fail (nothing was stored) with a reason naming the proxy's page, not Elasticsearch."""
    folder = trail(tmp_path, "413")
    with LyingProxy(es_config.url, "too_large_413") as proxy:
        summary = import_through(proxy, folder, index_prefix, tmp_path / "dead.ndjson")
    assert_accounted(summary)
    assert (summary.events_indexed, summary.events_failed, summary.events_unknown) == (0, EVENTS, 0)
    reasons = set(dead_letter_reasons(tmp_path / "dead.ndjson"))
    assert len(reasons) == 1
    reason = reasons.pop()
    assert "HTTP 413" in reason and "not Elasticsearch's answer" in reason and "rejected by Elasticsearch" not in reason
    assert stored(es, index_prefix) == 0


def test_an_answer_that_drips_is_cut_at_the_request_timeout(es, es_config, index_prefix, tmp_path):
    """The node indexes, then its answer comes one byte every half second (each read is
    quick, so a per-read timeout never fires). The whole request is bounded by the request
    timeout (3 s here): the events are of unknown outcome long before the answer could
    have dripped through, and a re-run finds them all present."""
    folder = trail(tmp_path, "drip")
    started = time.monotonic()
    with LyingProxy(es_config.url, "drip", drip_seconds=0.5) as proxy:
        summary = import_through(proxy, folder, index_prefix, tmp_path / "dead.ndjson", request_timeout=3)
    elapsed = time.monotonic() - started
    answer_bytes = len(orjson.dumps({"items": [{"create": {"status": 201}}] * EVENTS}))
    assert elapsed < answer_bytes * 0.5 / 4, f"{elapsed:.0f} s: the answer was waited for byte by byte"
    assert_accounted(summary)
    assert (summary.events_indexed, summary.events_unknown) == (0, EVENTS)
    assert summary.aborted and "timed out" in summary.aborted
    settled = run_import(es, local_files([folder]), index_prefix=index_prefix, dead_letter_path=tmp_path / "dead2.ndjson")
    assert settled.ok and settled.events_duplicate == EVENTS


def test_the_import_command_through_a_captive_portal_reports_unknown_and_exits_1(es_config, index_prefix, tmp_path):
    folder = trail(tmp_path, "cli")
    with LyingProxy(es_config.url, "html_200") as proxy:
        done = ctstack_script("import", str(folder), "--es-url", proxy.url, "--index-prefix", index_prefix, "--json",
                              "--dead-letter", str(tmp_path / "dead.ndjson"))
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    summary = json.loads(done.stdout)
    assert (summary["events_read"], summary["events_indexed"], summary["events_unknown"]) == (EVENTS, 0, EVENTS)
    assert "product header" in summary["aborted"]


def test_reflag_through_a_mangling_proxy_is_one_sentence_not_a_traceback(es, es_config, index_prefix, tmp_path):
    """reflag sends bulk updates the same way: an answer it cannot read is one sentence, exit 1."""
    from provision.cloudtrail import fields as F
    from provision.cloudtrail.nesting import nested

    folder = trail(tmp_path, "reflag")
    run_import(es, local_files([folder]), index_prefix=index_prefix, dead_letter_path=tmp_path / "dead.ndjson")
    hit = es.search(index=f"{index_prefix}-*", size=1)["hits"]["hits"][0]
    es.update(index=hit["_index"], id=hit["_id"], doc=nested({F.CONSOLE: True, F.AUTOMATION_CANDIDATE: True}), refresh=True)
    for mode in ("no_items", "html_200"):
        with LyingProxy(es_config.url, mode) as proxy:
            done = ctstack_script("reflag", "--es-url", proxy.url, "--index-prefix", index_prefix)
        assert done.returncode == 1, (mode, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr and "Error:" in done.stderr
