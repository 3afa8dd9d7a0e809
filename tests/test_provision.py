"""`ctstack provision`: the index template in the real Elasticsearch test node, the saved
objects in Kibana.

Kibana cannot run here: tests/support/fake_kibana.py stands in for it, a small HTTP server on
127.0.0.1 that enforces the saved objects import API's documented contract (see its docstring).
"""

from __future__ import annotations

from typing import Iterator

import pytest
from elasticsearch import helpers
from typer.testing import CliRunner

from provision.cloudtrail import fields as F
from provision.core import settings
from provision.cli.commands import app
from provision.core.connection import EsConfig
from provision.stack.kibana import KibanaConfig
from provision.stack.provisioning import provision_all
from provision.cloudtrail.template import template_name
from tests.support.fake_kibana import FakeKibana, refused_url
from tests.test_dashboard import fields_used

OBJECTS = {("index-pattern", settings.DATA_VIEW_ID), ("dashboard", settings.DASHBOARD_ID)}


@pytest.fixture()
def prefix(es, index_prefix) -> Iterator[str]:
    """A unique index prefix whose index template is removed afterwards."""
    yield index_prefix
    es.options(ignore_status=404).indices.delete_index_template(name=template_name(index_prefix))


def provision(es_url: str, prefix: str, kibana: FakeKibana | None, *extra: str):
    args = ["provision", "--es-url", es_url, "--index-prefix", prefix, *extra]
    if kibana:
        args += ["--kibana-url", kibana.url, "--kibana-user", kibana.user, "--kibana-password", kibana.password]
    return CliRunner().invoke(app, args, env={"CTSTACK_KIBANA_URL": None, "CTSTACK_KIBANA_API_KEY": None})


def test_provision_installs_the_template_and_imports_the_dashboard(es, es_url, prefix, kibana):
    result = provision(es_url, prefix, kibana)

    assert result.exit_code == 0, result.output
    template = es.indices.get_index_template(name=template_name(prefix))["index_templates"][0]["index_template"]
    assert template["index_patterns"] == [f"{prefix}-*"]
    assert set(kibana.objects()) == OBJECTS
    assert kibana.objects()[("index-pattern", settings.DATA_VIEW_ID)]["attributes"]["title"] == f"{prefix}-*"
    assert "imported 2 saved objects into space default" in result.stdout
    assert f"Dashboard: {kibana.url}/app/dashboards#/view/{settings.DASHBOARD_ID}" in result.stdout


def test_every_field_the_dashboard_reads_aggregates_in_a_real_index(es, es_url, prefix, kibana):
    """What Lens will ask for, asked of the real node: a terms (or max) aggregation on every
    field the dashboard uses, in an index created by the installed template."""
    assert provision(es_url, prefix, kibana).exit_code == 0
    doc = {
        F.TIMESTAMP: "2024-05-01T10:00:00Z", F.EVENT_ACTION: "RunInstances", F.EVENT_PROVIDER: "ec2.amazonaws.com",
        F.EVENT_OUTCOME: "failure", F.CT_ERROR_CODE: "AccessDenied", F.USER_NAME: "alice",
        F.CONSOLE: True, F.READ_ONLY: False, F.AUTOMATION_CANDIDATE: True,
        F.RESOURCES_CHANGED: ["sg-0a1b2c3d4e5f60718"], F.DRIFT: True,
    }
    nested: dict = {}
    for dotted, value in doc.items():
        node = nested
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    helpers.bulk(es, [{"_index": f"{prefix}-2024.05", "_source": nested}], refresh=True)

    used = fields_used()
    assert used <= set(doc)
    aggs = {name: ({"max": {"field": name}} if name == F.TIMESTAMP else {"terms": {"field": name}}) for name in used}
    answer = es.search(index=f"{prefix}-*", size=0, aggs=aggs, query={"query_string": {"query": f"{F.CONSOLE}:true AND {F.AUTOMATION_CANDIDATE}:true"}})
    assert answer["hits"]["total"]["value"] == 1
    for name in used - {F.TIMESTAMP}:
        assert len(answer["aggregations"][name]["buckets"]) == 1, name
    assert answer["aggregations"][F.TIMESTAMP]["value_as_string"].startswith("2024-05-01T10:00:00")


def test_provisioning_twice_overwrites_instead_of_duplicating(es_url, prefix, kibana):
    assert provision(es_url, prefix, kibana).exit_code == 0
    again = provision(es_url, prefix, kibana)
    assert again.exit_code == 0, again.output
    assert set(kibana.objects()) == OBJECTS
    imports = [r for r in kibana.requests if r["path"].endswith("/_import")]
    assert [r["query"] for r in imports] == ["overwrite=true", "overwrite=true"]


def test_provision_into_a_space(es_url, prefix, kibana):
    result = provision(es_url, prefix, kibana, "--space", "security")
    assert result.exit_code == 0, result.output
    assert set(kibana.objects("security")) == OBJECTS
    assert f"{kibana.url}/s/security/app/dashboards#/view/{settings.DASHBOARD_ID}" in result.stdout


def test_skip_kibana_installs_only_the_template(es, es_url, prefix, kibana):
    result = provision(es_url, prefix, None, "--skip-kibana", "--kibana-url", kibana.url)
    assert result.exit_code == 0, result.output
    assert es.indices.exists_index_template(name=template_name(prefix))
    assert kibana.requests == []
    assert "Dashboard" not in result.stdout


def test_an_unreachable_kibana_fails_with_one_sentence_after_the_template(es, es_url, prefix):
    url = refused_url()
    result = CliRunner().invoke(app, ["provision", "--es-url", es_url, "--index-prefix", prefix, "--kibana-url", url, "--timeout", "0.5"])
    assert result.exit_code == 1
    assert f"Kibana at {url} did not become available within 0.5 s" in result.stderr
    assert "Traceback" not in result.output
    assert es.indices.exists_index_template(name=template_name(prefix)), "the template goes in first"


def test_a_per_object_import_error_exits_non_zero_naming_the_object(es_url, prefix, kibana):
    kibana.fail_objects = {settings.DASHBOARD_ID: "Document has a newer typeMigrationVersion than this Kibana"}
    result = provision(es_url, prefix, kibana)
    assert result.exit_code == 1
    assert f'dashboard "CloudTrail console activity" ({settings.DASHBOARD_ID}): Document has a newer typeMigrationVersion' in result.stderr


def test_an_unknown_space_exits_non_zero(es_url, prefix, kibana):
    result = provision(es_url, prefix, kibana, "--space", "marketing")
    assert result.exit_code == 1
    assert "has no space 'marketing' (HTTP 404)" in result.stderr


def test_wrong_kibana_credentials_exit_non_zero(es_url, prefix, kibana):
    result = CliRunner().invoke(app, ["provision", "--es-url", es_url, "--index-prefix", prefix, "--kibana-url", kibana.url, "--kibana-user", "elastic", "--kibana-password", "nope"])
    assert result.exit_code == 1
    assert "refused the credentials (HTTP 401)" in result.stderr


def test_an_unreachable_elasticsearch_stops_before_kibana(kibana):
    url = refused_url()
    result = CliRunner().invoke(app, ["provision", "--es-url", url, "--kibana-url", kibana.url])
    assert result.exit_code == 1
    assert f"Cannot reach Elasticsearch at {url}" in result.stderr
    assert kibana.requests == []


def test_provision_all_is_callable_from_python(es_config: EsConfig, prefix, kibana):
    """What `ctstack up` calls once the stack runs."""
    result = provision_all(es_config, KibanaConfig(url=kibana.url, user=kibana.user, password=kibana.password), index_prefix=prefix)
    assert result.kibana_version == kibana.version
    assert result.dashboard_url == f"{kibana.url}/app/dashboards#/view/{settings.DASHBOARD_ID}"
    assert {(o["type"], o["id"]) for o in result.imported} == OBJECTS
