"""Waiting for Elasticsearch and Kibana to be ready. Kibana cannot run on the test machines, so
both are played by loopback HTTP servers (tests/support/fake_services.py) that answer the way
the real services do while they start, following Elasticsearch's cluster health API and
Kibana's documented /api/status contract (full body when authenticated, redacted when not,
503 while unavailable)."""

from __future__ import annotations

import base64

import pytest

from provision.stack import health
from provision.core.connection import EsConfig
from provision.core.errors import CtstackError
from tests.support.fake_services import Reply, ScriptedServer, es_health, es_starting, kibana_not_ready, kibana_status
from tests.support.loopback import free_port

PASSWORD = "s3cret-Pa55word-for-tests"
BASIC = "Basic " + base64.b64encode(f"elastic:{PASSWORD}".encode()).decode()


def target(url: str, password: str = PASSWORD) -> EsConfig:
    return EsConfig(url=url, user="elastic", password=password)


def test_elasticsearch_wait_rides_out_503_and_red_until_yellow():
    script = {"/_cluster/health": [es_starting(), es_starting(), es_health("red"), es_health("yellow")]}
    seen: list[health.Probe] = []
    with ScriptedServer(script, expected_auth=BASIC) as es:
        ready = health.wait_for_elasticsearch(target(es.url), timeout=30, interval=0.01, on_progress=seen.append)
    assert ready.ready and ready.state == "yellow"
    assert [p.state for p in seen] == ["HTTP 503 (master_not_discovered_exception)"] * 2 + ["red", "yellow"]
    assert [p.ready for p in seen] == [False, False, False, True]
    assert all(auth == BASIC for _, auth in es.requests)


def test_green_is_ready_at_once():
    with ScriptedServer({"/_cluster/health": [es_health("green")]}) as es:
        assert health.wait_for_elasticsearch(target(es.url), timeout=5, interval=0.01).state == "green"
        assert es.hits("/_cluster/health") == 1


def test_nothing_listening_times_out_with_one_sentence_naming_the_last_state():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(health.HealthTimeout) as caught:
        health.wait_for_elasticsearch(target(url), timeout=0.3, interval=0.05)
    message = str(caught.value)
    assert message.startswith(f"Elasticsearch at {url} was not ready after 0.3 s (last state: not answering")
    assert "ctstack logs es" in message


def test_a_cluster_that_stays_red_times_out():
    with ScriptedServer({"/_cluster/health": [es_health("red")]}) as es:
        with pytest.raises(health.HealthTimeout, match=r"last state: red"):
            health.wait_for_elasticsearch(target(es.url), timeout=0.2, interval=0.05)
        assert es.hits("/_cluster/health") >= 2


def test_wrong_credentials_fail_at_once_without_echoing_the_password():
    with ScriptedServer({"/_cluster/health": [es_health("green")]}, expected_auth=BASIC) as es:
        with pytest.raises(CtstackError) as caught:
            health.wait_for_elasticsearch(target(es.url, password="wrong-one"), timeout=60, interval=5)
        assert es.hits("/_cluster/health") == 1
    assert "refused the credentials (HTTP 401)" in str(caught.value)
    assert "wrong-one" not in str(caught.value)


def test_api_key_is_sent_as_kibana_and_elasticsearch_expect_it():
    with ScriptedServer({"/_cluster/health": [es_health("green")]}, expected_auth="ApiKey a2V5OnNlY3JldA==") as es:
        health.wait_for_elasticsearch(EsConfig(url=es.url, api_key="a2V5OnNlY3JldA=="), timeout=5, interval=0.01)


def test_kibana_wait_goes_through_not_ready_unavailable_and_degraded_to_available():
    script = {"/api/status": [kibana_not_ready(), kibana_status("unavailable"), kibana_status("degraded"), kibana_status("available")]}
    seen: list[health.Probe] = []
    with ScriptedServer(script, expected_auth=BASIC) as kibana:
        ready = health.wait_for_kibana(target(kibana.url), timeout=30, interval=0.01, on_progress=seen.append)
    assert ready.service == "Kibana" and ready.state == "available"
    assert [p.state for p in seen] == ["HTTP 503", "unavailable", "degraded", "available"]
    assert [p.ready for p in seen] == [False, False, False, True]


def test_kibana_not_ready_json_message_is_shown_while_waiting():
    body = {"statusCode": 503, "error": "Service Unavailable", "message": "Kibana server is not ready yet"}
    with ScriptedServer({"/api/status": [Reply(503, body)]}) as kibana:
        probe = health.probe_kibana(EsConfig(url=kibana.url))
    assert probe == health.Probe("Kibana", False, "HTTP 503 (Kibana server is not ready yet)")


def test_degraded_kibana_is_not_ready_and_times_out_with_its_level():
    with ScriptedServer({"/api/status": [kibana_status("degraded")]}, expected_auth=BASIC) as kibana:
        with pytest.raises(health.HealthTimeout, match=r"Kibana at .* \(last state: degraded\); `ctstack logs kibana`"):
            health.wait_for_kibana(target(kibana.url), timeout=0.2, interval=0.05)


def test_anonymous_callers_read_kibanas_redacted_status_the_same_way():
    with ScriptedServer({"/api/status": [kibana_status("available")]}, expected_auth=BASIC) as kibana:
        probe = health.probe_kibana(EsConfig(url=kibana.url))
        assert kibana.requests == [("/api/status", None)]
    assert probe.ready and probe.state == "available"


def test_kibana_wrong_credentials_fail_at_once():
    with ScriptedServer({"/api/status": [kibana_status("available")]}, expected_auth=BASIC) as kibana:
        with pytest.raises(CtstackError, match=r"Kibana at .* refused the credentials \(HTTP 401\)"):
            health.wait_for_kibana(target(kibana.url, password="nope"), timeout=60, interval=5)
