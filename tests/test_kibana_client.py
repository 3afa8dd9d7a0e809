"""The Kibana client (provision.stack.kibana) against tests/support/fake_kibana.py.

A real Kibana cannot run here, so the client talks to a small HTTP server on 127.0.0.1 that
stands in for Kibana and enforces its documented API contract (method, path with and without
a space, overwrite query, kbn-xsrf header, credentials, multipart `file` part with an .ndjson
name) and answers with Kibana's response shapes, per-object `errors` included.
"""

from __future__ import annotations

import base64
import json

import pytest

from provision.stack import dashboard
from provision.core import settings
from provision.core.connection import EsConfig
from provision.core.errors import CtstackError
from provision.stack.kibana import (
    KibanaConfig,
    dashboard_url,
    import_saved_objects,
    resolve_kibana_config,
    wait_until_available,
)
from tests.support.fake_kibana import FakeKibana, refused_url


def config(fake: FakeKibana, **overrides) -> KibanaConfig:
    return KibanaConfig(**{"url": fake.url, "user": fake.user, "password": fake.password, **overrides})


# --- the request follows Kibana's contract ------------------------------------------------------

def test_import_posts_the_ndjson_as_a_multipart_file_with_overwrite_and_kbn_xsrf(kibana):
    result = import_saved_objects(config(kibana), dashboard.ndjson())

    (request,) = kibana.requests
    assert (request["method"], request["path"], request["query"]) == ("POST", "/api/saved_objects/_import", "overwrite=true")
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert "kbn-xsrf" in headers
    assert headers["authorization"] == "Basic " + base64.b64encode(f"{kibana.user}:{kibana.password}".encode()).decode()
    assert headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="file"; filename="ctstack.ndjson"' in request["body"]
    assert result.success_count == 2
    assert [(o["type"], o["id"]) for o in result.imported] == [("index-pattern", settings.DATA_VIEW_ID), ("dashboard", settings.DASHBOARD_ID)]
    assert set(kibana.objects()) == {("index-pattern", settings.DATA_VIEW_ID), ("dashboard", settings.DASHBOARD_ID)}


def test_import_into_a_space_uses_the_space_path(kibana):
    import_saved_objects(config(kibana), dashboard.ndjson(), space="security")
    assert kibana.requests[-1]["path"] == "/s/security/api/saved_objects/_import"
    assert set(kibana.objects("security")) == {("index-pattern", settings.DATA_VIEW_ID), ("dashboard", settings.DASHBOARD_ID)}
    assert kibana.objects("default") == {}


def test_importing_twice_overwrites_the_same_objects(kibana):
    import_saved_objects(config(kibana), dashboard.ndjson())
    second = import_saved_objects(config(kibana), dashboard.ndjson())
    assert second.success_count == 2
    assert len(kibana.objects()) == 2


def test_without_overwrite_kibana_reports_conflicts_and_ctstack_names_them(kibana):
    import_saved_objects(config(kibana), dashboard.ndjson())
    with pytest.raises(CtstackError) as err:
        import_saved_objects(config(kibana), dashboard.ndjson(), overwrite=False)
    assert kibana.requests[-1]["query"] == ""
    assert f'dashboard "CloudTrail console activity" ({settings.DASHBOARD_ID}): conflicts with an existing object' in str(err.value)


def test_an_api_key_is_sent_as_an_apikey_authorization(kibana):
    kibana.api_key = "a2V5OnNlY3JldA=="
    import_saved_objects(config(kibana, user=None, password=None, api_key=kibana.api_key), dashboard.ndjson())
    headers = {k.lower(): v for k, v in kibana.requests[-1]["headers"].items()}
    assert headers["authorization"] == f"ApiKey {kibana.api_key}"


# --- per-object errors ------------------------------------------------------------------------------

def test_a_per_object_error_names_the_object_and_the_reason(kibana):
    kibana.fail_objects = {settings.DASHBOARD_ID: "Unable to migrate the dashboard"}
    with pytest.raises(CtstackError) as err:
        import_saved_objects(config(kibana), dashboard.ndjson())
    message = str(err.value)
    assert "could not import 1 saved object(s) (1 imported)" in message
    assert f'dashboard "CloudTrail console activity" ({settings.DASHBOARD_ID}): Unable to migrate the dashboard (status 400)' in message


def test_missing_references_are_listed(kibana):
    only_dashboard = dashboard.ndjson().splitlines(keepends=True)[1]
    with pytest.raises(CtstackError) as err:
        import_saved_objects(config(kibana), only_dashboard)
    assert f"references objects that exist neither in the file nor in Kibana (index-pattern {settings.DATA_VIEW_ID}" in str(err.value)


def test_an_unsupported_type_is_reported(kibana):
    odd = json.dumps({"type": "canvas-workpad-9000", "id": "x", "attributes": {"title": "odd"}, "references": []}).encode() + b"\n"
    with pytest.raises(CtstackError, match="does not support the type canvas-workpad-9000"):
        import_saved_objects(config(kibana), odd)


# --- HTTP failures: one sentence each ------------------------------------------------------------

def test_wrong_credentials_are_one_sentence_about_401(kibana):
    with pytest.raises(CtstackError, match=r"refused the credentials \(HTTP 401\)"):
        import_saved_objects(config(kibana, password="wrong"), dashboard.ndjson())


def test_an_unknown_space_is_reported_as_such(kibana):
    with pytest.raises(CtstackError, match="has no space 'nope' \\(HTTP 404\\); create it first"):
        import_saved_objects(config(kibana), dashboard.ndjson(), space="nope")


def test_an_invalid_space_id_is_refused_before_any_request(kibana):
    with pytest.raises(CtstackError, match="not a Kibana space id"):
        import_saved_objects(config(kibana), dashboard.ndjson(), space="My Space")
    assert kibana.requests == []


def test_a_kibana_server_error_is_reported_with_its_status(kibana):
    kibana.server_error = True
    with pytest.raises(CtstackError, match=r"failed \(HTTP 500\) while importing saved objects: An internal server error occurred"):
        import_saved_objects(config(kibana), dashboard.ndjson())


def test_an_unreachable_kibana_is_one_sentence():
    url = refused_url()
    with pytest.raises(CtstackError, match=f"Cannot reach Kibana at {url}"):
        import_saved_objects(KibanaConfig(url=url), dashboard.ndjson())


def test_the_fake_enforces_kbn_xsrf_and_the_ndjson_filename(kibana):
    """The contract the client relies on, as the stand-in enforces it (so the tests above mean something)."""
    import urllib.error
    import urllib.request

    auth = "Basic " + base64.b64encode(f"{kibana.user}:{kibana.password}".encode()).decode()
    body = b'--b\r\nContent-Disposition: form-data; name="file"; filename="objects.json"\r\n\r\n{}\r\n--b--\r\n'
    for headers, expected in [
        ({"Authorization": auth, "Content-Type": "multipart/form-data; boundary=b"}, "kbn-xsrf"),
        ({"Authorization": auth, "Content-Type": "multipart/form-data; boundary=b", "kbn-xsrf": "x"}, "Invalid file extension .json"),
    ]:
        request = urllib.request.Request(kibana.url + "/api/saved_objects/_import", data=body, method="POST", headers=headers)
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(request, timeout=10)
        assert err.value.code == 400
        assert expected in json.loads(err.value.read())["message"]


# --- waiting for Kibana ---------------------------------------------------------------------------

def test_wait_until_available_polls_through_startup_and_returns_the_version(kibana):
    kibana.unavailable_polls = 2
    assert wait_until_available(config(kibana), timeout=30, interval=0.05) == "9.3.2"
    assert [r["path"] for r in kibana.requests] == ["/api/status"] * 3


def test_a_degraded_kibana_whose_saved_objects_work_is_ready(kibana):
    kibana.level = "degraded"
    assert wait_until_available(config(kibana), timeout=5, interval=0.05) == "9.3.2"


def test_a_degraded_kibana_without_saved_objects_is_not_ready(kibana):
    kibana.level, kibana.saved_objects_level = "degraded", "unavailable"
    with pytest.raises(CtstackError, match=r"within 0.2 s \(HTTP 200, status degraded\)"):
        wait_until_available(config(kibana), timeout=0.2, interval=0.05)


def test_wait_until_available_gives_up_with_the_last_state(kibana):
    kibana.unavailable_polls = 10_000
    with pytest.raises(CtstackError, match=r"did not become available within 0.3 s \(HTTP 503, status unavailable\)"):
        wait_until_available(config(kibana), timeout=0.3, interval=0.05)


def test_wait_until_available_fails_at_once_on_wrong_credentials(kibana):
    with pytest.raises(CtstackError, match="HTTP 401"):
        wait_until_available(config(kibana, password="wrong"), timeout=60, interval=0.05)
    assert len(kibana.requests) == 1


def test_wait_until_available_on_a_closed_port_names_the_url():
    url = refused_url()
    with pytest.raises(CtstackError, match=f"Kibana at {url} did not become available within 0.2 s \\(unreachable: "):
        wait_until_available(KibanaConfig(url=url), timeout=0.2, interval=0.05)


# --- configuration ----------------------------------------------------------------------------------

def test_config_defaults_to_the_local_stack_with_its_elastic_password(tmp_path, monkeypatch):
    for var in ("CTSTACK_KIBANA_URL", "CTSTACK_KIBANA_API_KEY", "CTSTACK_KIBANA_USER", "CTSTACK_KIBANA_PASSWORD", "CTSTACK_KIBANA_CA_CERTS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CTSTACK_HOME", str(tmp_path))
    (tmp_path / "credentials.env").write_text("ELASTIC_PASSWORD=s3cret\n")
    cfg = resolve_kibana_config()
    assert (cfg.url, cfg.user, cfg.password) == (settings.LOCAL_KIBANA_URL, "elastic", "s3cret")
    assert "s3cret" not in repr(cfg)


def test_config_reuses_the_elasticsearch_credentials_for_a_remote_kibana(monkeypatch):
    for var in ("CTSTACK_KIBANA_URL", "CTSTACK_KIBANA_API_KEY", "CTSTACK_KIBANA_USER", "CTSTACK_KIBANA_PASSWORD", "CTSTACK_KIBANA_CA_CERTS"):
        monkeypatch.delenv(var, raising=False)
    es = EsConfig(url="https://es.example:9243", api_key="es-key", ca_certs="/ca.pem")
    cfg = resolve_kibana_config(url="https://kb.example:9243/", es=es)
    assert (cfg.url, cfg.api_key, cfg.ca_certs) == ("https://kb.example:9243", "es-key", "/ca.pem")
    own = resolve_kibana_config(url="https://kb.example", user="kb", password="pw", es=es)
    assert (own.user, own.api_key) == ("kb", None)


def test_dashboard_url_includes_the_space():
    assert dashboard_url("http://127.0.0.1:5601") == f"http://127.0.0.1:5601/app/dashboards#/view/{settings.DASHBOARD_ID}"
    assert dashboard_url("http://kb/", "security") == f"http://kb/s/security/app/dashboards#/view/{settings.DASHBOARD_ID}"


def test_the_kibana_stand_in_runs_alone_on_the_standard_library(tmp_path):
    """The stand-in image (docker/kibana-standin) holds fake_kibana.py and kibana_standin.py and
    nothing else of the repository: both must import with only the standard library beside them."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    support = Path(__file__).resolve().parent / "support"
    for name in ("fake_kibana.py", "kibana_standin.py"):
        shutil.copy(support / name, tmp_path / name)
    # -I -S: no current folder, no site-packages; the image runs the script from its own folder.
    code = f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import kibana_standin, fake_kibana; fake_kibana.refused_url()"
    done = subprocess.run([sys.executable, "-I", "-S", "-c", code],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
