"""Connecting to an existing Elasticsearch and Kibana: one URL
rule for every command, `up` failing at once with advice about the URL, Kibana skipped with a
line when none is named, S3 reached within a bound, the test node's temp files, and the Kibana
objects. Elasticsearch is the real test node; Kibana cannot run here, so
tests/support/fake_kibana.py stands in: a local HTTP server enforcing the documented saved
objects import contract, including ``destinationId`` when ids exist in another space."""

from __future__ import annotations

import json
import os
import pty
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from provision.stack import dashboard
from provision.core import settings
from provision.cloudtrail.template import template_name
from tests.support.events import api_call, write_trail_file
from tests.support.fake_kibana import FakeKibana
from tests.support.cli import CONNECTION_VARIABLES, invoke, no_traceback
from tests.support.loopback import free_port

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture()
def prefix(es, index_prefix):
    yield index_prefix
    es.options(ignore_status=404).indices.delete_index_template(name=template_name(index_prefix))


@pytest.fixture()
def trail(tmp_path) -> Path:
    return write_trail_file(tmp_path / "trail.json.gz", [api_call(eventID=f"c-{i}", eventName="PutMetricAlarm") for i in range(3)])


# --- One parsing rule; a URL without a scheme is read as http:// ----------------------------------

def test_schemeless_url_is_read_as_http_and_said_once_in_every_command(es_url, prefix, trail, tmp_path):
    bare = es_url.removeprefix("http://")
    commands = {
        "import": ["import", str(trail), "--index-prefix", prefix],
        "hints": ["hints", "--index-prefix", prefix],
        "report": ["report", "--from-es", "--index-prefix", prefix, "-o", str(tmp_path / "r.html")],
        "status": ["status"],
        "provision": ["provision", "--skip-kibana", "--index-prefix", prefix],
    }
    for name, args in commands.items():
        result = invoke(*args, "--es-url", bare, home=tmp_path / "home")
        assert result.exit_code == 0, (name, result.output)
        assert result.stderr.count(f"--es-url {bare} has no scheme; using http://{bare}.") == 1, (name, result.stderr)
        no_traceback(result)


def test_a_url_that_cannot_be_parsed_is_one_sentence_in_every_command(tmp_path, trail):
    for bad in ("http://127.0.0.1:99999", "127.0.0.1:port", "ftp://127.0.0.1:9200", "http://:9200"):
        for args in (["import", str(trail)], ["hints"], ["report", "--from-es"], ["status"], ["provision", "--skip-kibana"], ["up"]):
            result = invoke(*args, "--es-url", bad, home=tmp_path / "home")
            assert result.exit_code == 1, (bad, args, result.output)
            assert result.stderr.startswith("Error: --es-url ") and result.stderr.strip().count("\n") == 0, (bad, args, result.stderr)
            no_traceback(result)


def test_hints_with_a_source_refuses_es_options_instead_of_ignoring_them(es_url, trail, tmp_path):
    for args in (["hints", str(trail), "--es-url", es_url], ["report", str(trail), "--es-url", es_url, "-o", str(tmp_path / "r.html")]):
        result = invoke(*args, home=tmp_path)
        assert result.exit_code == 1, result.output
        assert "reads them directly and does not use Elasticsearch" in result.stderr, result.stderr
    assert invoke("hints", str(trail), home=tmp_path).exit_code == 0


# --- `up` with an existing cluster ----------------------------------------------------------------

def test_up_with_an_unresolvable_host_fails_at_once_naming_the_url(tmp_path):
    started = time.monotonic()
    result = invoke("up", "--es-url", "http://no-such-host.invalid:9200", "--timeout", "60", home=tmp_path)
    assert time.monotonic() - started < 15, "must not wait for the timeout"
    assert result.exit_code == 1, result.output
    assert "http://no-such-host.invalid:9200" in result.stderr and "cannot be resolved" in result.stderr, result.stderr
    assert "ctstack logs" not in result.output
    no_traceback(result)


@pytest.mark.slow  # waits out a 3 s timeout
def test_up_timeout_with_an_existing_cluster_names_the_url_not_docker_logs(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"  # a port nothing answers on
    result = invoke("up", "--es-url", url, "--timeout", "3", home=tmp_path)
    assert result.exit_code == 1, result.output
    assert f"check that {url} is the right address" in result.stderr, result.stderr
    assert "ctstack logs" not in result.output


def test_up_accepts_a_login_in_the_url_like_every_other_command(es, es_url, prefix, tmp_path):
    """The same resolver as import/status: user info in --es-url becomes the login (the
    unsecured node ignores it; tests/test_secured_es.py checks it against a secured one)."""
    parts = urlsplit(es_url)
    url = f"http://elastic:pw-{uuid.uuid4().hex}@{parts.netloc}"
    result = invoke("up", "--es-url", url, "--index-prefix", prefix, "--timeout", "20", home=tmp_path)
    assert result.exit_code == 0, result.output
    assert f"Elasticsearch: {es_url}" in result.stdout
    assert "pw-" not in result.output
    assert es.indices.exists_index_template(name=template_name(prefix))


# --- No Kibana named for an existing cluster ------------------------------------------------------

def test_provision_and_up_skip_kibana_with_one_line_for_an_existing_cluster(es_url, prefix, tmp_path):
    for args in (["provision", "--timeout", "5"], ["up", "--timeout", "20"]):
        started = time.monotonic()
        result = invoke(*args, "--es-url", es_url, "--index-prefix", prefix, home=tmp_path)
        assert result.exit_code == 0, result.output
        assert time.monotonic() - started < 15
        lines = [line for line in result.stdout.splitlines() if line.startswith("Kibana skipped:")]
        assert len(lines) == 1 and "--kibana-url" in lines[0] and es_url in lines[0], result.stdout
        assert "Dashboard" not in result.stdout


# --- S3 that cannot be reached --------------------------------------------------------------------

def test_unreachable_s3_fails_within_15_s_with_a_spinner_on_a_terminal(es_url, tmp_path):
    """An endpoint that accepts connections and never answers (the worst case: every attempt
    waits for its timeout). Run on a pseudo-terminal, so the spinner line is drawn."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
               "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
               "CTSTACK_HOME": str(tmp_path / "home"), "COLUMNS": "200", "PYTHONPATH": str(REPO)}
        for name in CONNECTION_VARIABLES:
            env.pop(name, None)
        for command in (["hints", "s3://trail-bucket/AWSLogs/"], ["import", "s3://trail-bucket/AWSLogs/", "--es-url", es_url]):
            primary, secondary = pty.openpty()
            started = time.monotonic()
            proc = subprocess.Popen([sys.executable, "-m", "provision", *command, "--endpoint-url", endpoint],
                                    stdin=subprocess.DEVNULL, stdout=secondary, stderr=secondary, env=env, cwd=tmp_path)
            os.close(secondary)
            output = b""
            while True:
                try:
                    chunk = os.read(primary, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                output += chunk
            proc.wait(timeout=60)
            os.close(primary)
            elapsed = time.monotonic() - started
            text = output.decode("utf-8", "replace")
            assert proc.returncode == 1, text
            assert elapsed < 16, f"{command[0]} took {elapsed:.1f} s"
            assert "S3 did not answer" in text or "Cannot reach S3" in text, text
            assert "reaching" in text, text
            assert "Traceback" not in text, text


# --- The test node's temp files -------------------------------------------------------------------

def test_the_test_node_keeps_its_jvm_temp_files_in_its_work_dir(private_es_node):
    node = private_es_node
    pid, workdir = node.pid, node.workdir
    assert list((workdir / "tmp").glob("final-flags*")), "the launcher's temp dir belongs in the work dir"
    node.stop()
    assert not Path(f"/tmp/.java_pid{pid}").exists()
    assert not any(Path("/tmp").glob(f"hsperfdata_*/{pid}"))
    assert not workdir.exists()


# --- The Kibana objects ---------------------------------------------------------------------------

def test_the_dashboard_link_uses_the_id_kibana_gave_when_the_id_exists_in_another_space(es_url, prefix, tmp_path):
    kibana = FakeKibana(spaces={"default", "security"}).start()
    try:
        login = ["--kibana-url", kibana.url, "--kibana-user", kibana.user, "--kibana-password", kibana.password]
        assert invoke("provision", "--es-url", es_url, "--index-prefix", prefix, "--space", "security", *login, home=tmp_path).exit_code == 0
        links = []
        for _ in range(2):  # the second import finds the copy and overwrites it under the same id
            result = invoke("provision", "--es-url", es_url, "--index-prefix", prefix, *login, home=tmp_path)
            assert result.exit_code == 0, result.output
            links += [line.removeprefix("Dashboard: ") for line in result.stdout.splitlines() if line.startswith("Dashboard: ")]
        dashboards = [key[1] for key in kibana.objects("default") if key[0] == "dashboard"]
        assert len(dashboards) == 1 and dashboards[0] != settings.DASHBOARD_ID
        assert links == [f"{kibana.url}/app/dashboards#/view/{dashboards[0]}"] * 2
        stored = kibana.objects("default")[("dashboard", dashboards[0])]
        data_view_id = next(key[1] for key in kibana.objects("default") if key[0] == "index-pattern")
        assert {ref["id"] for ref in stored["references"]} == {data_view_id}
    finally:
        kibana.stop()


def test_the_data_view_allows_no_index_and_up_says_panels_fill_after_the_first_import(es_url, prefix, tmp_path):
    assert dashboard.data_view()["attributes"]["allowNoIndex"] is True
    committed = [json.loads(line) for line in (REPO / "kibana" / "ctstack-dashboard.ndjson").read_text().splitlines()]
    assert next(o for o in committed if o["type"] == "index-pattern")["attributes"]["allowNoIndex"] is True
    kibana = FakeKibana(user="elastic", password="pw").start()
    try:
        result = invoke("up", "--es-url", es_url, "--user", "elastic", "--password", "pw", "--kibana-url", kibana.url,
                        "--index-prefix", prefix, "--timeout", "20", home=tmp_path)
    finally:
        kibana.stop()
    assert result.exit_code == 0, result.output
    line = next(line for line in result.stdout.splitlines() if line.startswith("Dashboard:"))
    assert "panels fill after the first `ctstack import`" in line, result.stdout


def test_lens_panels_carry_no_empty_indexpattern_state():
    board = next(o for o in dashboard.saved_objects() if o["type"] == "dashboard")
    for panel in json.loads(board["attributes"]["panelsJSON"]):
        states = panel["embeddableConfig"]["attributes"]["state"]["datasourceStates"]
        assert "indexpattern" not in states and states["formBased"]["layers"], panel["panelIndex"]
    assert b'"indexpattern":' not in (REPO / "kibana" / "ctstack-dashboard.ndjson").read_bytes()
    assert (REPO / "kibana" / "ctstack-dashboard.ndjson").read_bytes() == dashboard.ndjson()
