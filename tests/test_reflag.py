"""`ctstack reflag`: documents imported before a rule change get the current flags, on the real
Elasticsearch test node (which has no painless: the updates are partial documents)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from typer.testing import CliRunner

from provision.cloudtrail import fields as F
from provision.cloudtrail.classify import event_id
from provision.cli.commands import app
from provision.core.connection import EsConfig
from provision.cloudtrail.documents import index_for, to_document
from provision.cloudtrail.nesting import flat_source, nested
from provision.analysis.hints import hints_from_sources
from provision.analysis.hints_es import hints_from_es
from provision.ingest.importer import run_import
from provision.sources.local import source_files
from provision.ingest.reflag import event_from_document, flags_of, reflag
from tests.support.events import api_call, cloudformation_create_role, console_write, s3_anonymous_read
from tests.support.trail import demo_events, role_event, once_misclassified_events, write_trail

COMPARED = ("distinct_events", "console_events", "automation_candidates", "candidate_actions", "candidates", "console_actions", "activity")


def old_flags(e: dict) -> dict[str, bool]:
    """How ctstack flagged events before the identity rules: a substring test on the agent, no identity rules."""
    agent = e.get("userAgent")
    agent = agent.strip().strip("[]").strip().lower() if isinstance(agent, str) else ""
    from_console = e.get("sessionCredentialFromConsole") in (True, "true")
    console = e.get("eventType") == "AwsConsoleSignIn" or from_console or "console" in agent or agent.startswith(("mozilla/", "signin.amazonaws.com"))
    read_only = to_document(e)[F.READ_ONLY]
    return {F.CONSOLE: console, F.READ_ONLY: read_only,
            F.AUTOMATION_CANDIDATE: console and not read_only and e.get("eventType") != "AwsConsoleSignIn"}


@pytest.mark.parametrize("profile", ["standard", "full"])
def test_flags_from_a_document_equal_the_importers(profile: str) -> None:
    odd = [api_call(userAgent=12), api_call(userAgent={"ua": "console.amazonaws.com"}),
           api_call(readOnly="maybe", eventName="GetObject"), api_call(eventName=7, eventSource=None),
           api_call(userIdentity={"accountId": "ANONYMOUS_PRINCIPAL"}, recipientAccountId=None, userAgent="Mozilla/5.0"),
           api_call(userIdentity={"type": "AssumedRole", "invokedBy": {"odd": 1}}, userAgent="Mozilla/5.0"),
           api_call(userIdentity={"type": "AssumedRole", "invokedBy": ""}, userAgent="Mozilla/5.0"),
           console_write(), s3_anonymous_read(), cloudformation_create_role()]
    checked = 0
    for e in [*once_misclassified_events(), *demo_events(days=3), *odd]:
        doc = to_document(e, profile=profile)
        assert flags_of(event_from_document(doc)) == {k: doc[k] for k in (F.CONSOLE, F.READ_ONLY, F.AUTOMATION_CANDIDATE)}, e
        checked += 1
    assert checked > 50


def test_a_minimal_document_cannot_be_reflagged() -> None:
    assert event_from_document(to_document(role_event(), profile="minimal")) is None


@pytest.mark.es
def test_reflag_gives_old_documents_the_current_flags(es: Elasticsearch, es_config: EsConfig, index_prefix: str, tmp_path: Path) -> None:
    trail = [*demo_events(days=7), *once_misclassified_events()]
    write_trail(tmp_path / "logs", trail)
    # (a read: a minimal document has no user.name, which candidates count)
    write_trail(tmp_path / "minimal", [role_event("DescribeInstances", read_only=True, time="2024-08-02T10:00:00Z")], name="minimal")
    run_import(es, source_files([str(tmp_path / "logs")]), index_prefix=index_prefix, dead_letter_path=tmp_path / "dead.ndjson")
    run_import(es, source_files([str(tmp_path / "minimal")]), index_prefix=index_prefix, profile="minimal", dead_letter_path=tmp_path / "dead.ndjson")
    # What an older ctstack wrote: the same documents with the old flags.
    stale = [e for e in trail if old_flags(e) != flags_of(e)]
    assert len(stale) >= 8, "the once-misclassified events must be flagged differently by the old rules"
    body = []
    for e in stale:
        body += [{"update": {"_index": f"{index_prefix}-{e['eventTime'][:4]}.{e['eventTime'][5:7]}", "_id": event_id(e)}}, {"doc": nested(old_flags(e))}]
    assert not es.bulk(operations=body, refresh=True)["errors"]

    offline = hints_from_sources([str(tmp_path / "logs"), str(tmp_path / "minimal")], top=0).to_json()
    assert hints_from_es(es, top=0, index_prefix=index_prefix).to_json()["console_actions"] != offline["console_actions"]

    summary = reflag(es, index_prefix, page_size=50)  # several pages
    es.indices.refresh(index=f"{index_prefix}-*")
    assert summary.ok and summary.failed == 0
    assert summary.changed == len(stale)
    assert summary.not_reflaggable == 1
    assert summary.documents_read == len(trail) + 1 == summary.changed + summary.unchanged + summary.not_reflaggable
    # Elasticsearch now answers what the files say.
    from_es = hints_from_es(es, top=0, index_prefix=index_prefix).to_json()
    assert {k: from_es[k] for k in COMPARED} == {k: offline[k] for k in COMPARED}
    again = reflag(es, index_prefix)
    assert (again.changed, again.unchanged) == (0, len(trail))


@pytest.mark.es
def test_reflag_keeps_each_document_in_its_own_shape(es: Elasticsearch, index_prefix: str, tmp_path: Path) -> None:
    """Documents sent by earlier versions have flat dotted keys in _source ("ctstack.console"),
    today's nested objects. A partial update merges objects into objects and dotted keys into
    dotted keys, so each is updated in its own shape: the flag ends with one value, the new one,
    and both shapes are read alike."""
    new_shape, old_shape = (role_event("EnableSerialConsoleAccess", agent=once_misclassified_events()[0]["userAgent"], time=f"2024-08-0{d}T10:00:00Z")
                            for d in (1, 2))
    write_trail(tmp_path, [new_shape])
    run_import(es, source_files([str(tmp_path)]), index_prefix=index_prefix, dead_letter_path=tmp_path / "dead.ndjson")
    index = f"{index_prefix}-2024.08"
    stale = {F.CONSOLE: True, F.AUTOMATION_CANDIDATE: True}
    es.update(index=index, id=event_id(new_shape), doc=nested(stale))
    old_doc = {**to_document(old_shape), **stale}                    # as an earlier ctstack sent it
    es.index(index=index_for(index_prefix, old_doc), id=event_id(old_shape), document=old_doc, refresh=True)
    assert es.count(index=index, query={"term": {F.CONSOLE: True}})["count"] == 2

    summary = reflag(es, index_prefix)
    es.indices.refresh(index=index)
    assert (summary.changed, summary.failed) == (2, 0)
    new_source = es.get(index=index, id=event_id(new_shape))["_source"]
    old_source = es.get(index=index, id=event_id(old_shape))["_source"]
    assert F.CONSOLE not in new_source and new_source["ctstack"]["console"] is False
    assert "ctstack" not in old_source and old_source[F.CONSOLE] is False
    assert flat_source(new_source)[F.AUTOMATION_CANDIDATE] is flat_source(old_source)[F.AUTOMATION_CANDIDATE] is False
    assert es.count(index=index, query={"term": {F.CONSOLE: True}})["count"] == 0


@pytest.mark.es
def test_plumbing_is_no_candidate_from_elasticsearch_even_before_reflag(es: Elasticsearch, index_prefix: str, tmp_path: Path) -> None:
    shell = [role_event("CreateSession", "cloudshell.amazonaws.com"), role_event("StartInstances")]
    write_trail(tmp_path, shell)
    run_import(es, source_files([str(tmp_path)]), index_prefix=index_prefix, dead_letter_path=tmp_path / "dead.ndjson")
    es.update(index=f"{index_prefix}-2024.08", id=event_id(shell[0]), doc=nested({F.AUTOMATION_CANDIDATE: True}), refresh=True)
    assert [c.action for c in hints_from_es(es, index_prefix=index_prefix).candidates] == ["StartInstances"]


@pytest.mark.es
def test_the_command_reports_and_fails_honestly(es: Elasticsearch, es_config: EsConfig, index_prefix: str, tmp_path: Path) -> None:
    cli_call = role_event("EnableSerialConsoleAccess", agent=once_misclassified_events()[0]["userAgent"])
    write_trail(tmp_path, [cli_call, role_event("StartInstances")])
    run_import(es, source_files([str(tmp_path)]), index_prefix=index_prefix, dead_letter_path=tmp_path / "dead.ndjson")
    index = f"{index_prefix}-2024.08"
    es.update(index=index, id=event_id(cli_call), doc=nested({F.CONSOLE: True, F.AUTOMATION_CANDIDATE: True}), refresh=True)
    args = ["reflag", "--es-url", es_config.url, "--index-prefix", index_prefix]

    es.indices.put_settings(index=index, settings={"index.blocks.write": True})
    try:
        blocked = CliRunner().invoke(app, args)
    finally:
        es.indices.put_settings(index=index, settings={"index.blocks.write": False})
    assert blocked.exit_code == 1, blocked.output
    assert "0 re-flagged" in blocked.output and "1 failed" in blocked.output and "Traceback" not in blocked.output

    done = CliRunner().invoke(app, [*args, "--format", "json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.output)
    assert (summary["documents_read"], summary["changed"], summary["unchanged"], summary["failed"]) == (2, 1, 1, 0)
    assert flat_source(es.get(index=index, id=event_id(cli_call))["_source"])[F.CONSOLE] is False

    missing = CliRunner().invoke(app, ["reflag", "--es-url", es_config.url, "--index-prefix", index_prefix + "-none", "--format", "json"])
    assert missing.exit_code == 0 and json.loads(missing.output)["documents_read"] == 0
