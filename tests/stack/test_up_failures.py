"""`ctstack up` failing on a real engine: one sentence naming the cause, a true exit code, no
traceback, and whatever was left running said so. Elasticsearch alone (--no-kibana) where
Kibana adds nothing to the case."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from typing import Iterator

import pytest

from provision.core import settings
from tests.stack.conftest import CTSTACK_TIMEOUT, UP_TIMEOUT, Images, Stack
from tests.support.engine_proxy import EngineProxy


@pytest.fixture(autouse=True)
def clean_project(local_stack: Stack):
    yield
    local_stack.remove()


def test_es_port_taken_on_loopback_names_the_port_and_fails(local_stack):
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", 9200))
        squatter.listen(1)
        up = local_stack.ctstack("up", "--no-kibana", "--timeout", UP_TIMEOUT)
    assert up.returncode == 1
    assert "Error: Port 9200 on 127.0.0.1 is already taken by another program" in up.stderr, up.stderr
    assert "Elasticsearch: " not in up.stdout


STUCK_LINE = "stuck before opening port 9200 (a test image that never answers)"


@pytest.fixture
def es_that_never_answers(local_stack: Stack, images: Images) -> Iterator[str]:
    """The test's Elasticsearch image with its entrypoint replaced by one that logs a line and
    waits forever: a container that runs but never becomes healthy, whatever the machine's
    speed (the real image on an idle machine is green within 5 s, which made this case a race).
    Built from the local image alone, so no registry is needed."""
    tag = f"ctstack-test/never-answers:{uuid.uuid4().hex[:8]}"
    dockerfile = f'FROM {images.es}\nENTRYPOINT ["/bin/sh", "-c", "echo \'{STUCK_LINE}\'; exec sleep 86400"]\n'
    built = subprocess.run(["docker", "build", "-q", "-t", tag, "-"], input=dockerfile, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    try:
        yield tag
    finally:
        local_stack.remove()
        local_stack.docker("rmi", "--force", tag, check=False)


def test_es_that_never_gets_healthy_stops_at_the_timeout_with_its_last_log_lines(local_stack, es_that_never_answers):
    up = local_stack.ctstack("up", "--no-kibana", "--timeout", "5", env={settings.ES_IMAGE_ENV: es_that_never_answers})
    assert up.returncode == 1, up.output
    assert "Error: elasticsearch did not become healthy within 5 s" in up.stderr, up.stderr
    assert "its last log lines:" in up.stderr and STUCK_LINE in up.stderr, up.stderr
    assert "Left as they are: elasticsearch (running" in up.stderr and "`ctstack down` stops them" in up.stderr


def test_es_with_a_heap_it_cannot_have_fails_with_its_last_log_lines(local_stack):
    up = local_stack.ctstack("up", "--no-kibana", "--es-heap", "4000g", "--timeout", "120")
    assert up.returncode == 1
    assert "Error: elasticsearch " in up.stderr and "its last log lines:" in up.stderr, up.stderr
    assert "heap" in up.stderr.lower()


def test_an_engine_without_compose_v2_says_so_for_up_and_logs(local_stack):
    """The real docker CLI, asked for a subcommand it has no plugin for, answers exactly as it
    answers `docker compose` on an engine without the Compose plugin (we cannot uninstall the
    machine's plugin under other tests)."""
    missing = {"CTSTACK_COMPOSE_COMMAND": "docker compose-plugin-not-installed"}
    up = local_stack.ctstack("up", "--timeout", UP_TIMEOUT, env=missing)
    assert up.returncode == 1
    assert "The Docker engine answers but `docker compose-plugin-not-installed version` failed, so Compose v2 is missing" in up.stderr, up.stderr
    assert "Usage" not in up.output and "unknown command" not in up.output
    logs = local_stack.ctstack("logs", "es", env=missing)
    assert logs.returncode == 1 and "Compose v2 is missing" in logs.stderr, logs.output


def test_the_engine_stopping_during_up_is_said_in_one_sentence(local_stack, tmp_path):
    proxy = EngineProxy(tmp_path / "docker.sock")
    env = {**local_stack.env, "DOCKER_HOST": proxy.docker_host}
    up = subprocess.Popen([sys.executable, "-m", "provision", "up", "--no-kibana", "--timeout", UP_TIMEOUT], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL, cwd=local_stack.home)
    try:
        deadline = time.monotonic() + 300
        while "elasticsearch" not in local_stack.containers() and up.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        proxy.stop()
        out, err = up.communicate(timeout=CTSTACK_TIMEOUT)
    finally:
        proxy.stop()
        if up.poll() is None:
            up.kill()
    assert up.returncode == 1, out + err
    assert "Traceback" not in out + err
    assert "Error: The Docker engine stopped answering while `ctstack up` was starting the stack" in err, err
