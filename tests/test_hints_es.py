"""Hints from Elasticsearch equal the offline hints: the same sources imported into the real
node with the importer give the same candidates, counts, users, days and times."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Iterator

import pytest
from elasticsearch import Elasticsearch
from typer.testing import CliRunner

from provision.cli.commands import app
from provision.core.connection import EsConfig
from provision.core.errors import CtstackError
from provision.analysis.hints import Filters, hints_from_sources
from provision.analysis.hints_es import hints_from_cluster, hints_from_es
from tests.support.trail import demo_events, role_event, once_misclassified_events, write_trail
from tests.support.fresh_import import fresh_import

pytestmark = pytest.mark.es

COMPARED = ("distinct_events", "console_events", "automation_candidates", "candidate_actions", "candidates", "console_actions", "activity")


@pytest.fixture(scope="module")
def sources(sample_data: Path, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The shared sample data plus a team's console activity, with an overlapping second trail
    (the same events delivered twice), events without an eventID and the once-misclassified lookalikes."""
    tmp_path = tmp_path_factory.mktemp("trails")
    demo = demo_events()
    write_trail(tmp_path / "team", demo)
    no_id = [role_event("DeleteEnvironment", "cloudshell.amazonaws.com", event_id=None, user="erin", time=f"2024-08-0{d}T12:00:00Z") for d in (1, 2)]
    write_trail(tmp_path / "overlap", demo[::7] + no_id + no_id + once_misclassified_events(), name="overlap", region="us-east-1")
    return [str(sample_data), str(tmp_path)]


@pytest.fixture(scope="module")
def imported(es_config: EsConfig, sources: list[str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The sources imported once for this module, with the importer, under a unique prefix."""
    with fresh_import(es_config, sources, tmp_path_factory.mktemp("dead") / "dead.ndjson") as (prefix, summary):
        assert summary.events_indexed > 0
        yield prefix


def compared(hints) -> dict:
    data = hints.to_json()
    return {key: data[key] for key in COMPARED}


@pytest.mark.parametrize(
    "filters",
    [
        Filters(),
        Filters(accounts=("111122223333",), regions=("us-east-1",)),
        Filters(users=("alice",)),
        Filters.from_text(since="2024-08-01", until="2024-08-09"),
        Filters.from_text(ignore_actions=["ec2.amazonaws.com:StopInstances", "iam.amazonaws.com:*"]),
    ],
    ids=["all", "account+region", "user", "since+until", "ignore-action"],
)
def test_offline_and_elasticsearch_hints_agree(es: Elasticsearch, imported: str, sources: list[str], filters: Filters) -> None:
    offline = hints_from_sources(sources, filters, top=0)
    from_es = hints_from_es(es, filters, top=0, index_prefix=imported)
    assert offline.candidates, "the data must hold candidates, or this test proves nothing"
    assert compared(from_es) == compared(offline)
    # Offline reads every copy; Elasticsearch holds each distinct event once.
    assert offline.events_read > offline.distinct_events == from_es.events_read


def test_candidates_count_each_event_once_and_name_the_cli(es: Elasticsearch, imported: str) -> None:
    hints = hints_from_es(es, top=0, index_prefix=imported)
    shell = next(c for c in hints.candidates if c.action == "DeleteEnvironment")
    alarm = next(c for c in hints.candidates if c.action == "PutMetricAlarm")
    demo = demo_events()
    # The overlapping trail's copies count once; the two identical events without an ID too.
    assert shell.count == sum(e["eventName"] == "DeleteEnvironment" for e in demo) + 2
    assert shell.users == len({e["userIdentity"]["arn"].rsplit("/", 1)[1] for e in demo if e["eventName"] == "DeleteEnvironment"} | {"erin"})
    assert alarm.count == sum(e["eventName"] == "PutMetricAlarm" for e in demo)
    assert shell.cli is None
    assert alarm.cli == "aws cloudwatch put-metric-alarm"
    assert hints.candidates == sorted(hints.candidates, key=lambda c: (-c.count, c.provider, c.action))


def test_the_command_reads_elasticsearch_when_given_no_source(es_config: EsConfig, imported: str, sources: list[str]) -> None:
    args = ["hints", "--es-url", es_config.url, "--index-prefix", imported, "--format", "json", "--top", "3"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    offline = hints_from_sources(sources, top=3).to_json()
    assert data["candidates"] == offline["candidates"]
    assert len(data["candidates"]) == 3


def test_console_look_alikes_are_not_candidates_in_elasticsearch_either(es: Elasticsearch, imported: str) -> None:
    hints = hints_from_es(es, top=0, index_prefix=imported)
    candidates = {c.action for c in hints.candidates}
    console = {a.action for a in hints.console_actions}
    assert "ChangePassword" in candidates
    assert {"EnableSerialConsoleAccess", "CreateRole", "UpdateBillingPreferences", "CreateEnvironment", "CreateSession",
            "PutCredentials", "CreateCase", "Federate", "StartQuery", "SwitchRole"}.isdisjoint(candidates)
    assert {"EnableSerialConsoleAccess", "PutObject"}.isdisjoint(console)
    assert {"CreateRole", "UpdateBillingPreferences", "CreateSession"} <= console


def test_ignore_action_from_elasticsearch_on_the_command_line(es_config: EsConfig, imported: str, sources: list[str]) -> None:
    ignore = ["--ignore-action", "ec2.amazonaws.com:StopInstances", "--ignore-action", "monitoring.amazonaws.com:*"]
    result = CliRunner().invoke(app, ["hints", "--es-url", es_config.url, "--index-prefix", imported, "--format", "json", "--top", "0", *ignore])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    actions = {c["action"] for c in data["candidates"]}
    assert "StartInstances" in actions and "StopInstances" not in actions and "PutMetricAlarm" not in actions
    offline = hints_from_sources(sources, Filters.from_text(ignore_actions=ignore[1::2]), top=0).to_json()
    assert data["candidates"] == offline["candidates"]


def test_no_index_yet_is_said_not_answered_with_zeros(es: Elasticsearch, index_prefix: str) -> None:
    with pytest.raises(CtstackError, match=f"No index matches {index_prefix}-\\* in Elasticsearch"):
        hints_from_es(es, index_prefix=index_prefix)


def test_the_report_can_come_from_elasticsearch(es_config: EsConfig, imported: str, tmp_path: Path) -> None:
    output = tmp_path / "report.html"
    args = ["report", "--from-es", "--es-url", es_config.url, "--index-prefix", imported, "-o", str(output)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    html = output.read_text()
    assert "aws cloudwatch put-metric-alarm" in html and 'id="candidates-donut"' in html
    assert es_config.url in html  # the source named in the header


def test_credentials_in_the_url_never_reach_the_output(es_config: EsConfig, imported: str) -> None:
    scheme, rest = es_config.url.split("://", 1)
    with_secret = dataclasses.replace(es_config, url=f"{scheme}://someone:s3cret-pw@{rest}")
    hints = hints_from_cluster(with_secret, index_prefix=imported)
    assert hints.candidates
    assert "s3cret-pw" not in hints.source and rest in hints.source
