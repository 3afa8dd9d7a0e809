"""`ctstack up --sample`, `up` again, `status`, `logs`, `down`, `up`, `down --volumes` on one
real stack (the tests run in this order and share it). With the local images, Kibana is the
stand-in (tests/support/kibana_standin.py: Kibana's API contract, not Kibana); its
`available` proves the `setup` service set kibana_system's password, since the stand-in reports
it only once that user can log in to Elasticsearch."""

from __future__ import annotations

import base64
import json
import os
import re
import stat
import urllib.error
import urllib.request

import pytest

from provision.core import settings
from tests.stack.conftest import UP_TIMEOUT, Images, Stack


@pytest.fixture(scope="module")
def first_up(local_stack: Stack, images: Images):
    # Images by option here (the environment's are dropped); test_up_options covers the env.
    env = {settings.ES_IMAGE_ENV: "", settings.KIBANA_IMAGE_ENV: ""}
    return local_stack.ctstack("up", "--sample", "--timeout", UP_TIMEOUT, "--es-image", images.es, "--kibana-image", images.kibana, env=env)


def kibana_get(local_stack: Stack, path: str) -> tuple[int, dict]:
    login = base64.b64encode(f"{settings.LOCAL_ES_USER}:{local_stack.secrets()['ELASTIC_PASSWORD']}".encode()).decode()
    request = urllib.request.Request(settings.LOCAL_KIBANA_URL + path, headers={"Authorization": f"Basic {login}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def test_up_sample_starts_a_healthy_stack_and_imports_the_sample(local_stack, first_up, images):
    assert first_up.returncode == 0, first_up.output
    assert local_stack.inspect("elasticsearch", "{{.State.Health.Status}}") == "healthy"
    assert local_stack.inspect("elasticsearch", "{{.Config.Image}}") == images.es
    assert local_stack.inspect("setup", "{{.State.Status}} {{.State.ExitCode}}") == "exited 0"
    assert local_stack.inspect("kibana", "{{.State.Health.Status}}") == "healthy"
    imported = re.search(r"Imported: +([\d,]+) events indexed, ([\d,]+) already present, 0 failed", first_up.stdout)
    assert imported, first_up.stdout
    assert local_stack.count() == int(imported.group(1).replace(",", "")) > 10_000


def test_up_installs_the_template_the_data_view_and_the_dashboard(local_stack, first_up):
    from provision.core.connection import connect

    es, _ = connect(local_stack.es())
    try:
        assert es.indices.exists_index_template(name=settings.INDEX_TEMPLATE_NAME)
    finally:
        es.close()
    for so_type, so_id in (("index-pattern", settings.DATA_VIEW_ID), ("dashboard", settings.DASHBOARD_ID)):
        status, body = kibana_get(local_stack, f"/api/saved_objects/{so_type}/{so_id}")
        assert status == 200, body
    assert kibana_get(local_stack, f"/api/saved_objects/dashboard/{settings.DASHBOARD_ID}")[1]["attributes"]["title"] == settings.DASHBOARD_TITLE


def test_up_prints_the_urls_and_where_the_credentials_are_in_a_0600_file(local_stack, first_up):
    assert f"Elasticsearch: {settings.LOCAL_ES_URL}" in first_up.stdout
    assert f"Kibana:        {settings.LOCAL_KIBANA_URL}  (user elastic)" in first_up.stdout
    assert f"Dashboard:     {settings.LOCAL_KIBANA_URL}/app/dashboards#/view/{settings.DASHBOARD_ID}" in first_up.stdout
    assert f"Credentials:   {local_stack.credentials_file}" in first_up.stdout
    assert stat.S_IMODE(os.stat(local_stack.credentials_file).st_mode) == 0o600


def test_every_published_port_is_bound_to_loopback_only(local_stack, first_up):
    published = {service: local_stack.docker("port", cid).split() for service, cid in local_stack.containers(all_states=False).items()}
    bindings = [b for lines in published.values() for b in lines if re.match(r"^[\d.]+:\d+$|^\[.*\]:\d+$", b)]
    assert sorted(published) == ["elasticsearch", "kibana"]
    assert bindings and all(b.startswith("127.0.0.1:") for b in bindings), published
    # And the engine answers there only: the kernel's listening sockets agree.
    listening = os.popen("ss -ltnH").read()
    for port in (9200, 5601):
        hosts = {line.split()[3].rsplit(":", 1)[0] for line in listening.splitlines() if line.split()[3].endswith(f":{port}")}
        assert hosts == {"127.0.0.1"}, (port, hosts)


def test_up_again_keeps_the_credentials_and_imports_nothing_new(local_stack, first_up):
    before = local_stack.credentials_file.read_text()
    count = local_stack.count()
    again = local_stack.ctstack("up", "--sample", "--timeout", UP_TIMEOUT)
    assert again.returncode == 0, again.output
    assert local_stack.credentials_file.read_text() == before
    assert re.search(r"Imported: +0 events indexed, [\d,]+ already present, 0 failed", again.stdout), again.stdout
    assert local_stack.count() == count


def test_status_reports_every_service_and_logs_show_the_last_lines(local_stack, first_up):
    status = local_stack.ctstack("status")
    assert status.returncode == 0, status.output
    assert re.search(r"elasticsearch +running +healthy", status.stdout) and re.search(r"kibana +running +healthy", status.stdout)
    assert re.search(r"setup +exited", status.stdout)
    assert f"CloudTrail events: {local_stack.count():,}" in status.stdout
    assert "Kibana at http://127.0.0.1:5601: available" in status.stdout
    logs = local_stack.ctstack("logs", "es", "--tail", "5")
    assert logs.returncode == 0, logs.output
    assert 1 <= len([line for line in logs.stdout.splitlines() if line.strip()]) <= 5


def test_no_generated_secret_appears_in_any_output_or_log_line(local_stack, first_up):
    every_log = local_stack.ctstack("logs")
    printed = "".join(run.output for run in local_stack.runs) + every_log.output
    for name, secret in local_stack.secrets().items():
        assert secret not in printed, f"{name} was printed"


def test_down_keeps_the_data_and_up_brings_it_back(local_stack, first_up):
    count = local_stack.count()
    down = local_stack.ctstack("down")
    assert down.returncode == 0, down.output
    assert local_stack.containers() == {}
    assert len(local_stack.volumes()) == 2
    up = local_stack.ctstack("up", "--timeout", UP_TIMEOUT)
    assert up.returncode == 0, up.output
    assert local_stack.count() == count


def test_down_volumes_yes_removes_containers_and_volumes(local_stack, first_up):
    down = local_stack.ctstack("down", "--volumes", "--yes")
    assert down.returncode == 0, down.output
    assert local_stack.containers() == {} and local_stack.volumes() == []
