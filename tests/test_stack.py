"""`ctstack up / down / status / logs`. There is no Docker engine on the test machines, so the
Compose boundary is played by tests/support/fake_compose.py (which still has the real Compose v2
binary render the project with the env files ctstack wrote), the Docker engine by a loopback
server answering the engine's /_ping, and Elasticsearch/Kibana-while-starting by the scripted
servers of tests/support/fake_services.py. Document counts run against the real ES node."""

from __future__ import annotations

import base64
import json
import os
import shlex
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest
from elasticsearch import helpers
from typer.testing import CliRunner

from provision.cli import commands as cli
from provision.stack import health, lifecycle as stack
from provision.stack import local_settings
from provision.stack import compose as docker_compose
from provision.core import settings
from provision.core.connection import EsConfig, read_env_file
from provision.core.errors import CtstackError
from provision.cloudtrail.fields import AUTOMATION_CANDIDATE, TIMESTAMP
from tests.support import fake_compose
from tests.support.fake_compose import FakeCompose
from tests.support.fake_services import ScriptedServer, docker_engine_routes, es_health, es_starting, kibana_status
from tests.support.loopback import free_port


@pytest.fixture()
def home(tmp_path, monkeypatch) -> Path:
    # The scripted ES/Kibana only answer health probes, so the steps after the health waits
    # (provisioning, imports) are no-ops here unless a test passes its own; the real steps
    # run against the real ES node in test_up_against_an_existing_cluster_provisions_and_imports.
    monkeypatch.setattr(stack, "post_up_steps", stack.PostUpSteps)
    monkeypatch.setenv("CTSTACK_HOME", str(tmp_path / "ctstack-home"))
    for name in local_settings.SECRET_NAMES + local_settings.STACK_ENV_NAMES + ("CTSTACK_ES_URL", "CTSTACK_KIBANA_URL", settings.ES_IMAGE_ENV, settings.KIBANA_IMAGE_ENV):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "ctstack-home"


@pytest.fixture()
def es_server():
    with ScriptedServer({"/_cluster/health": [es_health("green")]}) as server:
        yield server


@pytest.fixture()
def kibana_server():
    with ScriptedServer({"/api/status": [kibana_status("available")]}) as server:
        yield server


@pytest.fixture()
def compose() -> FakeCompose:
    return FakeCompose()


def engine_running() -> None:
    pass


@pytest.fixture()
def local(compose, es_server, kibana_server) -> docker_compose.LocalStack:
    return docker_compose.LocalStack(runner=compose, check_engine=engine_running, es_url=es_server.url, kibana_url=kibana_server.url)


@dataclass
class RecordedSteps:
    """The post-up steps other modules own (provisioning, import, sample data), recorded."""

    events_failed: int = 0
    calls: list[tuple] = field(default_factory=list)

    def provision(self, es, kibana, index_prefix, timeout):
        self.calls.append(("provision", es.url, kibana.url if kibana else None, index_prefix))
        return f"{kibana.url}/app/dashboards#/view/ctstack-console-activity" if kibana else None

    def import_sources(self, es, sources, index_prefix):
        self.calls.append(("import", list(sources), index_prefix))
        return SimpleNamespace(files_read=3, events_indexed=40, events_duplicate=2, events_failed=self.events_failed)

    def write_sample(self, dest: Path):
        self.calls.append(("sample", dest))
        dest.mkdir(parents=True, exist_ok=True)
        (dest / "sample.json").write_text('{"Records": []}')

    def steps(self) -> stack.PostUpSteps:
        return stack.PostUpSteps(provision=self.provision, import_sources=self.import_sources, write_sample=self.write_sample)


def basic(password: str) -> str:
    return "Basic " + base64.b64encode(f"elastic:{password}".encode()).decode()


# --- secrets ---------------------------------------------------------------------------------


def test_first_up_writes_every_secret_once_in_a_0600_file_in_a_0700_dir(home, local):
    stack.up(stack.UpOptions(), stack=local)
    path = settings.credentials_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    secrets = read_env_file(path)
    assert set(local_settings.SECRET_NAMES) <= secrets.keys()
    values = [secrets[name] for name in local_settings.SECRET_NAMES]
    assert len(set(values)) == len(values), "every secret is generated separately"
    assert all(len(v) >= 32 for v in values), "Kibana needs 32+ character encryption keys"

    before = path.read_bytes()
    stack.up(stack.UpOptions(), stack=local)
    assert path.read_bytes() == before, "re-running up never rewrites the secrets"


def test_an_existing_file_keeps_its_secrets_gets_missing_ones_appended_and_is_made_private(home):
    path = settings.credentials_file()
    path.parent.mkdir(parents=True)
    path.write_text("ELASTIC_PASSWORD=kept-from-an-older-ctstack\n")
    os.chmod(path, 0o644)
    assert local_settings.ensure_credentials() is False
    secrets = read_env_file(path)
    assert secrets["ELASTIC_PASSWORD"] == "kept-from-an-older-ctstack"
    assert set(local_settings.SECRET_NAMES) <= secrets.keys()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# --- up against the local stack --------------------------------------------------------------


def test_up_runs_compose_up_wait_with_the_packaged_file_and_both_env_files(home, local, compose):
    stack.up(stack.UpOptions(timeout=120), stack=local)
    (command,) = compose.calls  # FakeCompose had real Compose render the project first
    assert command[command.index("-f") + 1] == str(local_settings.compose_file())
    env_files = [command[i + 1] for i, arg in enumerate(command) if arg == "--env-file"]
    assert env_files == [str(settings.credentials_file()), str(settings.stack_env_file())]
    assert fake_compose.subcommand(command)[1] == ["up", "--detach", "--wait", "--wait-timeout", "120"]


def test_up_waits_with_the_generated_elastic_password_and_reports_where_things_are(home, local, es_server, kibana_server):
    result = stack.up(stack.UpOptions(), stack=local, steps=RecordedSteps().steps())
    expected = basic(read_env_file(settings.credentials_file())["ELASTIC_PASSWORD"])
    assert es_server.requests == [("/_cluster/health", expected)]
    assert kibana_server.requests == [("/api/status", expected)]
    assert result.local and result.credentials_created
    assert (result.es_url, result.kibana_url) == (es_server.url, kibana_server.url)
    assert result.credentials_file == settings.credentials_file()
    assert result.dashboard_url == f"{kibana_server.url}/app/dashboards#/view/ctstack-console-activity"


def test_rerunning_up_on_a_running_stack_is_harmless_and_fast(home, local, compose, es_server, kibana_server):
    recorded = RecordedSteps()
    first = stack.up(stack.UpOptions(), stack=local, steps=recorded.steps())
    secrets = settings.credentials_file().read_bytes()
    second = stack.up(stack.UpOptions(), stack=local, steps=recorded.steps())
    assert first.credentials_created and not second.credentials_created
    assert settings.credentials_file().read_bytes() == secrets
    # Compose's `up` leaves running containers alone; ctstack asks once per service and moves on.
    assert compose.subcommands()[1][:3] == ["up", "--detach", "--wait"]
    assert (es_server.hits("/_cluster/health"), kibana_server.hits("/api/status")) == (2, 2)
    assert [c[0] for c in recorded.calls] == ["provision", "provision"]


def test_shell_variables_named_like_the_stack_settings_do_not_reach_compose(home, local, compose, monkeypatch):
    # Compose prefers shell variables to env files: a stray one would replace a generated secret.
    monkeypatch.setenv("ELASTIC_PASSWORD", "changeme")
    monkeypatch.setenv("ES_HEAP", "64g")
    stack.up(stack.UpOptions(), stack=local)
    (env,) = compose.envs
    assert "ELASTIC_PASSWORD" not in env and "ES_HEAP" not in env


def test_heap_and_locale_are_remembered_and_validated(home, local):
    stack.up(stack.UpOptions(es_heap="2g", kibana_locale="ja-JP"), stack=local)
    stack.up(stack.UpOptions(), stack=local)
    written = read_env_file(settings.stack_env_file())
    assert (written["ES_HEAP"], written["KIBANA_LOCALE"], written["STACK_VERSION"]) == ("2g", "ja-JP", settings.STACK_VERSION)
    with pytest.raises(CtstackError, match="--es-heap '2 GB' is not a heap size"):
        stack.up(stack.UpOptions(es_heap="2 GB"), stack=local)
    with pytest.raises(CtstackError, match="--kibana-locale 'japanese' is not a locale"):
        stack.up(stack.UpOptions(kibana_locale="japanese"), stack=local)


def test_no_docker_engine_means_one_sentence_and_nothing_started_or_written(home, compose, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{free_port()}")  # nothing listens there
    with pytest.raises(CtstackError) as caught:
        stack.up(stack.UpOptions(), stack=docker_compose.LocalStack(runner=compose))
    assert str(caught.value).startswith("The Docker engine is not reachable")
    assert "start Docker Desktop" in str(caught.value)
    assert compose.calls == [] and not settings.credentials_file().exists()


def test_the_engine_check_pings_the_engine_api(monkeypatch):
    with ScriptedServer(docker_engine_routes()) as engine:
        monkeypatch.setenv("DOCKER_HOST", engine.url.replace("http://", "tcp://"))
        docker_compose.check_docker_engine()
    assert ("/v1.45/_ping", None) in engine.requests


def test_a_stack_that_never_gets_healthy_times_out_with_a_pointer_to_the_logs(home, compose, kibana_server):
    with ScriptedServer({"/_cluster/health": [es_starting()]}) as es:
        local = docker_compose.LocalStack(runner=compose, check_engine=engine_running, es_url=es.url, kibana_url=kibana_server.url)
        with pytest.raises(health.HealthTimeout, match=r"Elasticsearch at .* not ready after 1 s .*HTTP 503.*`ctstack logs es`"):
            stack.up(stack.UpOptions(timeout=1), stack=local)


def test_failed_compose_up_with_low_vm_max_map_count_says_how_to_fix_it(home, es_server, kibana_server):
    compose = FakeCompose(up_returncode=1, logs_text=(
        "elasticsearch-1  | bootstrap check failure [1] of [1]: max virtual memory areas vm.max_map_count [65530] "
        "is too low, increase to at least [262144]\n"))
    local = docker_compose.LocalStack(runner=compose, check_engine=engine_running, es_url=es_server.url, kibana_url=kibana_server.url)
    with pytest.raises(CtstackError, match=r"vm.max_map_count is too low; run `sudo sysctl -w vm.max_map_count=1048576`"):
        stack.up(stack.UpOptions(), stack=local)
    assert [c[0] for c in compose.subcommands()] == ["up", "logs"]


def test_a_low_vm_max_map_count_warning_from_a_node_that_started_is_not_blamed(home, es_server, kibana_server):
    # Single-node discovery starts Elasticsearch anyway and only warns; the failure is elsewhere.
    compose = FakeCompose(up_returncode=1, logs_text=(
        "elasticsearch-1  | [WARN ][o.e.b.BootstrapChecks] max virtual memory areas vm.max_map_count [65530] "
        "is too low, increase to at least [262144]\n"))
    local = docker_compose.LocalStack(runner=compose, check_engine=engine_running, es_url=es_server.url, kibana_url=kibana_server.url)
    with pytest.raises(CtstackError) as failed:
        stack.up(stack.UpOptions(), stack=local)
    assert "max_map_count" not in str(failed.value) and "`docker compose up` failed (exit 1)" in str(failed.value)


def test_other_compose_up_failures_point_to_the_logs(home, es_server, kibana_server):
    local = docker_compose.LocalStack(runner=FakeCompose(up_returncode=17), check_engine=engine_running, es_url=es_server.url, kibana_url=kibana_server.url)
    with pytest.raises(CtstackError, match=r"`docker compose up` failed \(exit 17\); `ctstack logs es`"):
        stack.up(stack.UpOptions(), stack=local)


# --- post-up steps ---------------------------------------------------------------------------


def test_sample_and_imports_run_after_provisioning_in_order(home, local, kibana_server):
    recorded = RecordedSteps()
    result = stack.up(stack.UpOptions(imports=("/data/trail", "s3://bucket/AWSLogs/"), sample=True, index_prefix="demo"),
                      stack=local, steps=recorded.steps())
    sample = local_settings.sample_dir()
    assert recorded.calls == [
        ("provision", result.es_url, kibana_server.url, "demo"),
        ("sample", sample),
        ("import", ["/data/trail", "s3://bucket/AWSLogs/", str(sample)], "demo"),
    ]
    assert sample.is_relative_to(settings.ctstack_home())
    assert result.imported.events_indexed == 40 and result.ok


def test_an_import_with_failed_events_makes_up_report_failure(home, local):
    result = stack.up(stack.UpOptions(sample=True), stack=local, steps=RecordedSteps(events_failed=1).steps())
    assert not result.ok


def test_import_options_without_an_importer_fail_before_anything_starts(home, local, compose):
    with pytest.raises(CtstackError, match="--import/--sample need the importer"):
        stack.up(stack.UpOptions(imports=("/data",)), stack=local, steps=stack.PostUpSteps())
    assert compose.calls == []


# --- an existing cluster ---------------------------------------------------------------------


def test_an_existing_cluster_skips_docker_and_compose_entirely(home, compose, es_server, kibana_server):
    def no_engine() -> None:
        raise AssertionError("the Docker engine must not be consulted")

    recorded = RecordedSteps()
    options = stack.UpOptions(es=EsConfig(url=es_server.url, api_key="a2V5OnNlY3JldA=="), kibana_url=kibana_server.url + "/")
    result = stack.up(options, stack=docker_compose.LocalStack(runner=compose, check_engine=no_engine), steps=recorded.steps())
    assert compose.calls == [] and not settings.credentials_file().exists()
    assert not result.local and result.credentials_file is None
    assert kibana_server.requests == [("/api/status", "ApiKey a2V5OnNlY3JldA==")]
    assert recorded.calls == [("provision", es_server.url, kibana_server.url, settings.INDEX_PREFIX)]


def test_an_existing_cluster_without_kibana_is_provisioned_without_it(home, es_server):
    recorded = RecordedSteps()
    result = stack.up(stack.UpOptions(es=EsConfig(url=es_server.url)), steps=recorded.steps())
    assert result.kibana_url is None
    assert recorded.calls == [("provision", es_server.url, None, settings.INDEX_PREFIX)]


def test_kibana_url_alone_is_refused(home):
    with pytest.raises(CtstackError, match="--kibana-url needs --es-url too"):
        stack.up(stack.UpOptions(kibana_url="http://127.0.0.1:5601"))


# --- down / logs / status --------------------------------------------------------------------


def test_down_keeps_data_and_down_volumes_deletes_it(home, local, compose):
    stack.up(stack.UpOptions(), stack=local)
    local.stop(volumes=False)
    local.stop(volumes=True)
    assert compose.subcommands()[1:] == [["down"], ["down", "--volumes"]]


def test_down_before_any_up_says_there_is_nothing_to_stop(home, local, compose):
    with pytest.raises(CtstackError, match=r"No local stack has been set up .*credentials.env does not exist"):
        local.stop(volumes=False)
    assert compose.calls == []


def test_logs_maps_short_service_names(home, local, compose):
    local_settings.ensure_credentials()
    assert local.logs("es", tail=10) == 0
    assert local.logs(None, follow=True) == 0
    assert compose.subcommands() == [["logs", "--tail", "10", "elasticsearch"], ["logs", "--follow"]]
    with pytest.raises(CtstackError, match="Unknown service 'postgres'; the local stack's services are: es \\(or elasticsearch\\), kibana, setup"):
        local.logs("postgres")


def test_ps_output_of_old_and_new_compose_versions_is_understood():
    rows = [{"Service": "elasticsearch", "State": "running", "Health": "healthy"}]
    assert docker_compose.parse_ps_json(json.dumps(rows)) == rows                       # Compose < 2.21
    assert docker_compose.parse_ps_json("".join(json.dumps(r) + "\n" for r in rows)) == rows  # one per line
    assert docker_compose.parse_ps_json("") == []


def test_elasticsearch_status_counts_events_and_finds_the_newest(es, es_config, index_prefix):
    docs = [
        {"_index": f"{index_prefix}-2024.01", TIMESTAMP: "2024-01-05T10:00:00Z"},
        {"_index": f"{index_prefix}-2024.02", TIMESTAMP: "2024-02-20T08:30:00Z"},
        {"_index": f"{index_prefix}-2024.02", TIMESTAMP: "2024-02-01T00:00:00Z"},
    ]
    helpers.bulk(es, docs, refresh="wait_for")
    info = stack.elasticsearch_status(es_config, index_prefix)
    assert info["reachable"] and info["cluster_health"] in ("green", "yellow")
    assert info["documents"] == 3
    assert info["newest_event"].startswith("2024-02-20T08:30:00")


def test_elasticsearch_status_of_an_empty_cluster_and_of_an_unreachable_one(es_config, index_prefix):
    empty = stack.elasticsearch_status(es_config, index_prefix)
    assert (empty["documents"], empty["newest_event"]) == (0, None)
    gone = stack.elasticsearch_status(EsConfig(url=f"http://127.0.0.1:{free_port()}"), index_prefix)
    assert gone["reachable"] is False and "Cannot reach Elasticsearch" in gone["error"]


def test_status_lists_containers_and_kibana_level(home, local, kibana_server, es_config):
    local_settings.ensure_credentials()
    report = stack.status(es_config, EsConfig(url=kibana_server.url), stack=local)
    assert report.engine == "running"
    assert [(c["service"], c["state"], c["health"]) for c in report.containers] == [
        ("elasticsearch", "running", "healthy"), ("setup", "exited", ""), ("kibana", "running", "healthy")]
    assert report.kibana == {"url": kibana_server.url, "level": "available", "available": True}
    assert report.ok


# --- the command line, end to end ------------------------------------------------------------


@pytest.fixture()
def cli_env(home, monkeypatch, tmp_path, es_server, kibana_server):
    """`ctstack` as a user runs it, with the Docker engine, Compose, ES and Kibana played locally."""
    log = tmp_path / "compose-calls.jsonl"
    monkeypatch.setenv("CTSTACK_COMPOSE_COMMAND", f"{shlex.quote(sys.executable)} {shlex.quote(fake_compose.__file__)}")
    monkeypatch.setenv("FAKE_COMPOSE_LOG", str(log))
    monkeypatch.setattr(settings, "LOCAL_ES_URL", es_server.url)
    monkeypatch.setattr(settings, "LOCAL_KIBANA_URL", kibana_server.url)
    with ScriptedServer(docker_engine_routes()) as engine:
        monkeypatch.setenv("DOCKER_HOST", engine.url.replace("http://", "tcp://"))
        yield SimpleNamespace(log=log, es=es_server, kibana=kibana_server)


def compose_calls(log: Path) -> list[list[str]]:
    return [fake_compose.subcommand(["docker-compose", *json.loads(line)])[1] for line in log.read_text().splitlines()]


def test_cli_up_prints_urls_and_the_credentials_path_but_never_a_secret(cli_env):
    result = CliRunner().invoke(cli.app, ["up", "--kibana-locale", "ja-JP"])
    assert result.exit_code == 0, result.output
    secrets = read_env_file(settings.credentials_file())
    output = result.stdout + result.stderr
    for name in local_settings.SECRET_NAMES:
        assert secrets[name] not in output, f"{name} was printed"
    assert f"Kibana:        {cli_env.kibana.url}  (user elastic)" in result.stdout
    assert f"Credentials:   {settings.credentials_file()}" in result.stdout
    assert "Elasticsearch is ready" in result.stderr and "Kibana is ready" in result.stderr
    assert compose_calls(cli_env.log) == [["up", "--detach", "--wait", "--wait-timeout", "300"]]


def test_cli_down_volumes_asks_first_and_yes_skips_the_question(cli_env):
    assert CliRunner().invoke(cli.app, ["up"]).exit_code == 0
    refused = CliRunner().invoke(cli.app, ["down", "--volumes"], input="n\n")
    assert refused.exit_code == 1 and "Delete the local stack's data volumes" in refused.output
    assert compose_calls(cli_env.log) == [["up", "--detach", "--wait", "--wait-timeout", "300"]]
    done = CliRunner().invoke(cli.app, ["down", "--volumes", "--yes"])
    assert done.exit_code == 0, done.output
    assert compose_calls(cli_env.log)[-1] == ["down", "--volumes"]


def test_cli_status_json_without_elasticsearch_exits_1(cli_env, monkeypatch):
    assert CliRunner().invoke(cli.app, ["up"]).exit_code == 0
    monkeypatch.setattr(settings, "LOCAL_ES_URL", f"http://127.0.0.1:{free_port()}")
    result = CliRunner().invoke(cli.app, ["status", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["engine"] == "running" and len(report["containers"]) == 3
    assert report["elasticsearch"]["reachable"] is False
    assert report["kibana"]["level"] == "available"
    assert report["compose_file"] == str(local_settings.compose_file())


def test_cli_without_docker_prints_one_sentence_and_exits_non_zero(home, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{free_port()}")
    result = CliRunner().invoke(cli.app, ["up"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: The Docker engine is not reachable")
    assert "Traceback" not in result.output


def test_up_against_an_existing_cluster_provisions_and_imports(es_config, es, index_prefix, sample_data, tmp_path, monkeypatch):
    """The real post-up steps, end to end against the real Elasticsearch node: no Compose, the
    index template installed, the folder imported (no Kibana named, so none is provisioned)."""
    monkeypatch.setenv("CTSTACK_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli.app, ["up", "--es-url", es_config.url, "--index-prefix", index_prefix,
                                          "--import", str(sample_data / "cloud-snitch")])
    assert result.exit_code == 0, result.output
    assert es.indices.get_index_template(name=index_prefix)["index_templates"]
    assert es.count(index=f"{index_prefix}-*")["count"] == 21


def test_the_real_post_up_steps_are_all_wired():
    steps = stack.post_up_steps()
    assert callable(steps.provision) and callable(steps.import_sources) and callable(steps.write_sample)


def test_up_sample_on_an_existing_cluster_imports_the_demo_set_with_work_to_automate(es_config, es, index_prefix, tmp_path, monkeypatch):
    """`ctstack up --sample` writes the generator's demo set and imports it: the dashboard
    then has console changes to show (automation candidates), and a second run adds nothing."""
    monkeypatch.setenv("CTSTACK_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    args = ["up", "--es-url", es_config.url, "--index-prefix", index_prefix, "--sample"]
    first = CliRunner().invoke(cli.app, args)
    assert first.exit_code == 0, first.output
    count = es.count(index=f"{index_prefix}-*")["count"]
    assert count > 15_000
    candidates = es.count(index=f"{index_prefix}-*", query={"term": {AUTOMATION_CANDIDATE: True}})["count"]
    assert candidates > 0
    second = CliRunner().invoke(cli.app, args)
    assert second.exit_code == 0, second.output
    assert "0 events indexed" in second.output
    assert es.count(index=f"{index_prefix}-*")["count"] == count
