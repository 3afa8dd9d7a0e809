"""Every way of logging in to Elasticsearch, against a real node with security on (TLS on
HTTP, the `elastic` user from the keystore's bootstrap.password: the `secured_es_node`
fixture), and that a password never appears in any command's output, whether
the command succeeds or fails. Kibana cannot run here: where a command also talks to Kibana,
tests/support/fake_kibana.py stands in, a local HTTP server enforcing Kibana's documented
saved objects import and status API contract."""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from provision.core.connection import EsConfig, client
from provision.cloudtrail.template import template_name
from tests.support.events import api_call, write_trail_file
from tests.support.fake_kibana import FakeKibana
from tests.support.cli import invoke, no_traceback


def with_login(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{quote(user)}:{quote(password, safe='')}@{parts.netloc}"


@pytest.fixture()
def prefix(secured_es_node) -> str:
    prefix = f"ctstack-sec-{uuid.uuid4().hex[:8]}"
    yield prefix
    es = client(EsConfig(secured_es_node.url, user="elastic", password=secured_es_node.password, ca_certs=secured_es_node.ca_certs))
    es.options(ignore_status=404).indices.delete(index=f"{prefix}*", expand_wildcards="all")
    es.options(ignore_status=404).indices.delete_index_template(name=template_name(prefix))
    es.close()


@pytest.fixture()
def trail(tmp_path) -> Path:
    return write_trail_file(tmp_path / "trail.json.gz", [api_call(eventID=f"sec-{i}", eventName="PutMetricAlarm") for i in range(5)])


def every_command(url: str, node, prefix: str, trail: Path, tmp_path: Path, kibana: FakeKibana, *, ca: bool = True) -> dict[str, list[str]]:
    """Each command that talks to Elasticsearch, with ``url`` (its login inside)."""
    tls = ["--es-ca-certs", node.ca_certs] if ca else []
    return {
        "import": ["import", str(trail), "--es-url", url, "--index-prefix", prefix, *tls, "--dead-letter", str(tmp_path / "dl.ndjson")],
        "import --json": ["import", str(trail), "--es-url", url, "--index-prefix", prefix, *tls, "--format", "json", "--dead-letter", str(tmp_path / "dl2.ndjson")],
        "hints": ["hints", "--es-url", url, "--index-prefix", prefix, *tls],
        "hints --format json": ["hints", "--es-url", url, "--index-prefix", prefix, *tls, "--format", "json"],
        "report": ["report", "--from-es", "--es-url", url, "--index-prefix", prefix, *tls, "-o", str(tmp_path / "r.html")],
        "status": ["status", "--es-url", url, *tls],
        "status --json": ["status", "--es-url", url, *tls, "--format", "json"],
        "provision": ["provision", "--es-url", url, "--index-prefix", prefix, *tls, "--kibana-url", kibana.url, "--timeout", "5"],
        "provision (no Kibana)": ["provision", "--es-url", url, "--index-prefix", prefix, *tls],
        "up": ["up", "--es-url", url, "--index-prefix", prefix, *tls, "--timeout", "10"],
    }


@pytest.fixture()
def kibana(secured_es_node):
    """The fake Kibana accepts the same `elastic` login as the node (Kibana accepts Elasticsearch's users)."""
    fake = FakeKibana(password=secured_es_node.password).start()
    yield fake
    fake.stop()


def test_a_password_in_the_url_is_printed_by_no_command_on_success(secured_es_node, prefix, trail, tmp_path, kibana):
    """Success: the login in the URL works for every command, and the password appears
    nowhere in stdout, stderr, the JSON outputs or the report."""
    node = secured_es_node
    url = with_login(node.url, "elastic", node.password)
    for name, args in every_command(url, node, prefix, trail, tmp_path, kibana).items():
        result = invoke(*args, home=tmp_path / "home")
        assert result.exit_code == 0, (name, result.output)
        assert node.password not in result.output and quote(node.password, safe="") not in result.output, name
        assert "***@" in result.output or url not in result.output, name
    assert node.password not in (tmp_path / "r.html").read_text()
    assert "Dashboard:" in invoke(*every_command(url, node, prefix, trail, tmp_path, kibana)["provision"], home=tmp_path / "home").stdout


def test_a_password_in_the_url_is_printed_by_no_command_on_failure(secured_es_node, prefix, trail, tmp_path, kibana):
    """Failure: a wrong password (401) and a missing CA (TLS) make every command fail with one
    sentence, and neither the wrong nor the right password is printed."""
    node = secured_es_node
    wrong = "wrong-" + uuid.uuid4().hex
    for password, ca, expected in ((wrong, True, "401"), (node.password, False, "--es-ca-certs")):
        url = with_login(node.url, "elastic", password)
        for name, args in every_command(url, node, prefix, trail, tmp_path, kibana, ca=ca).items():
            result = invoke(*args, home=tmp_path / "home")
            assert result.exit_code == 1, (name, result.output)
            assert password not in result.output and quote(password, safe="") not in result.output, (name, result.output)
            assert expected in result.output, (name, result.output)
            no_traceback(result)


def test_security_basic_auth_over_tls_with_ca_certs_imports(secured_es_node, prefix, trail, tmp_path):
    node = secured_es_node
    result = invoke("import", str(trail), "--es-url", node.url, "--es-user", "elastic", "--es-password", node.password,
                    "--es-ca-certs", node.ca_certs, "--index-prefix", prefix, "--format", "json", home=tmp_path)
    assert result.exit_code == 0, result.output
    assert '"events_indexed": 5' in result.stdout


def test_security_a_wrong_password_is_one_sentence_with_401(secured_es_node, prefix, trail, tmp_path):
    node = secured_es_node
    for args in (["import", str(trail), "--index-prefix", prefix], ["status"], ["hints", "--index-prefix", prefix]):
        result = invoke(*args, "--es-url", node.url, "--es-user", "elastic", "--es-password", "not-the-password",
                        "--es-ca-certs", node.ca_certs, home=tmp_path)
        assert result.exit_code == 1, result.output
        assert "401" in result.output and "not-the-password" not in result.output, result.output
        if args[0] != "status":  # status reports on several parts; the others end in one sentence
            assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith("Error:"), result.stderr
        no_traceback(result)


def test_security_tls_without_the_ca_is_one_sentence(secured_es_node, prefix, trail, tmp_path):
    node = secured_es_node
    for args in (["import", str(trail), "--index-prefix", prefix], ["hints", "--index-prefix", prefix],
                 ["up", "--index-prefix", prefix, "--timeout", "60"]):
        result = invoke(*args, "--es-url", node.url, "--es-user", "elastic", "--es-password", node.password, home=tmp_path)
        assert result.exit_code == 1, result.output
        assert "TLS" in result.stderr and "--es-ca-certs" in result.stderr, result.output
        assert result.stderr.strip().splitlines()[-1].startswith("Error:"), result.stderr
        no_traceback(result)


def test_security_userinfo_in_the_url_logs_in_and_is_not_printed(secured_es_node, prefix, trail, tmp_path):
    node = secured_es_node
    url = with_login(node.url, "elastic", node.password)
    result = invoke("import", str(trail), "--es-url", url, "--es-ca-certs", node.ca_certs, "--index-prefix", prefix, "--format", "json", home=tmp_path)
    assert result.exit_code == 0, result.output
    assert '"events_indexed": 5' in result.stdout
    status = invoke("status", "--es-url", url, "--es-ca-certs", node.ca_certs, home=tmp_path)
    assert status.exit_code == 0 and "https://***@127.0.0.1" not in status.stdout and f"{node.url}" in status.stdout, status.output
    assert node.password not in status.output


@pytest.fixture()
def api_key(secured_es_node) -> str:
    """A real API key, created through `_security/api_key` as `elastic` (the node loads the
    analysis plugin the .security index needs), invalidated afterwards."""
    node = secured_es_node
    es = client(EsConfig(node.url, user="elastic", password=node.password, ca_certs=node.ca_certs))
    created = es.security.create_api_key(name=f"ctstack-test-{uuid.uuid4().hex[:8]}", expiration="1h")
    yield created["encoded"]
    es.security.invalidate_api_key(ids=[created["id"]])
    es.close()


def test_an_api_key_imports_and_serves_hints_and_status_and_is_never_printed(secured_es_node, prefix, trail, tmp_path, api_key):
    node = secured_es_node
    login = ["--es-url", node.url, "--es-api-key", api_key, "--es-ca-certs", node.ca_certs]
    imported = invoke("import", str(trail), *login, "--index-prefix", prefix, "--json", home=tmp_path)
    assert imported.exit_code == 0, imported.output
    assert '"events_indexed": 5' in imported.stdout
    hints = invoke("hints", *login, "--index-prefix", prefix, "--format", "json", home=tmp_path)
    assert hints.exit_code == 0, hints.output
    status = invoke("status", *login, "--json", home=tmp_path)
    assert status.exit_code == 0, status.output
    assert '"reachable": true' in status.stdout
    for result in (imported, hints, status):
        assert api_key not in result.output
        no_traceback(result)


def test_an_invalidated_api_key_is_one_sentence_with_401(secured_es_node, prefix, trail, tmp_path):
    node = secured_es_node
    es = client(EsConfig(node.url, user="elastic", password=node.password, ca_certs=node.ca_certs))
    created = es.security.create_api_key(name=f"ctstack-test-{uuid.uuid4().hex[:8]}")
    es.security.invalidate_api_key(ids=[created["id"]])
    es.close()
    result = invoke("import", str(trail), "--es-url", node.url, "--es-api-key", created["encoded"], "--es-ca-certs", node.ca_certs,
                    "--index-prefix", prefix, home=tmp_path)
    assert result.exit_code == 1, result.output
    assert "401" in result.output and created["encoded"] not in result.output, result.output
    assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith("Error:"), result.stderr
    no_traceback(result)


def test_an_api_key_without_the_import_state_index_imports_then_points_at_full(secured_es_node, prefix, trail, tmp_path):
    """A key allowed its own indices only: the first import goes in and says the files were not
    remembered; the re-run, which must look them up, stops with one sentence pointing at
    --full; with --full it reads everything again (already present)."""
    node = secured_es_node
    es = client(EsConfig(node.url, user="elastic", password=node.password, ca_certs=node.ca_certs))
    created = es.security.create_api_key(name=f"ctstack-test-{uuid.uuid4().hex[:8]}", expiration="1h", role_descriptors={
        "own-indices-only": {"cluster": ["monitor", "manage_index_templates"],
                             "indices": [{"names": [f"{prefix}-*"], "privileges": ["all"]}]}})
    try:
        login = ["--es-url", node.url, "--es-api-key", created["encoded"], "--es-ca-certs", node.ca_certs, "--index-prefix", prefix]
        first = invoke("import", str(trail), *login, "--json", home=tmp_path)
        assert first.exit_code == 0, first.output
        assert '"events_indexed": 5' in first.stdout and '"files_not_remembered": 1' in first.stdout, first.stdout
        again = invoke("import", str(trail), *login, home=tmp_path)
        assert again.exit_code == 1, again.output
        assert again.stderr.startswith("Error: Cannot ") and "the import state in Elasticsearch index ctstack-state" in again.stderr
        assert again.stderr.rstrip().endswith("--full imports without it."), again.stderr
        no_traceback(again)
        full = invoke("import", str(trail), *login, "--full", "--json", home=tmp_path)
        assert full.exit_code == 0 and '"events_duplicate": 5' in full.stdout, full.output
    finally:
        es.security.invalidate_api_key(ids=[created["id"]])
        es.close()
