"""The local stack on a real Docker engine with Compose v2: `ctstack` run as a user runs it
(a subprocess), one stack per test module, each module with its own CTSTACK_HOME and Compose
project (removed with its volumes at the end, whatever happened).

Images: CTSTACK_TEST_ES_IMAGE / CTSTACK_TEST_KIBANA_IMAGE when set (the GitHub workflow names
Elastic's official images), else the local ones scripts/local-images builds or reuses: an
Elasticsearch from the integ-test zip and a **Kibana stand-in** (tests/support/kibana_standin.py:
Kibana's HTTP API contract as ctstack uses it, not Kibana; no Kibana can be installed here).
An engine or image that is not there fails these tests with the reason; nothing skips.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

from provision.core import settings
from provision.stack import local_settings
from provision.core.connection import EsConfig, connect, read_env_file

REPO = Path(__file__).resolve().parents[2]
# Generous: other test runs share the machine's two cores, and an image build may come first.
CTSTACK_TIMEOUT = 900
UP_TIMEOUT = "600"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.containers)


@dataclass(frozen=True)
class Images:
    es: str
    kibana: str


@pytest.fixture(scope="session")
def images() -> Images:
    es, kibana = os.environ.get("CTSTACK_TEST_ES_IMAGE"), os.environ.get("CTSTACK_TEST_KIBANA_IMAGE")
    if es and kibana:
        return Images(es, kibana)
    built = subprocess.run(["bash", str(REPO / "scripts" / "local-images")], capture_output=True, text=True, timeout=3600)
    if built.returncode != 0:
        pytest.fail(f"scripts/local-images could not provide the images (exit {built.returncode}):\n{built.stderr[-3000:]}")
    names = dict(re.findall(r"^(ES_IMAGE|KIBANA_IMAGE)=(\S+)$", built.stdout, re.M))
    return Images(es or names["ES_IMAGE"], kibana or names["KIBANA_IMAGE"])


@dataclass
class Run:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass
class Stack:
    """One Compose project of the local stack, and `ctstack` pointed at it."""

    home: Path
    project: str
    env: dict[str, str]
    runs: list[Run] = field(default_factory=list)

    def ctstack(self, *args: str, env: dict[str, str] | None = None, timeout: float = CTSTACK_TIMEOUT) -> Run:
        done = subprocess.run([sys.executable, "-m", "provision", *args], env={**self.env, **(env or {})},
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, cwd=self.home)
        run = Run(args, done.returncode, done.stdout, done.stderr)
        self.runs.append(run)
        assert "Traceback" not in run.output, run.output
        return run

    def docker(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=300)
        if check:
            assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr}"
        return done.stdout

    def containers(self, all_states: bool = True) -> dict[str, str]:
        """service -> container id of this project, straight from the engine."""
        out = self.docker("ps", *(["--all"] if all_states else []), "--filter", f"label=com.docker.compose.project={self.project}",
                          "--format", '{{.Label "com.docker.compose.service"}} {{.ID}}')
        return dict(line.split() for line in out.splitlines() if line.strip())

    def volumes(self) -> list[str]:
        out = self.docker("volume", "ls", "--filter", f"label=com.docker.compose.project={self.project}", "--format", "{{.Name}}")
        return sorted(out.split())

    def inspect(self, service: str, template: str) -> str:
        return self.docker("inspect", "--format", template, self.containers()[service]).strip()

    @property
    def credentials_file(self) -> Path:
        return self.home / settings.credentials_file().name

    def secrets(self) -> dict[str, str]:
        return {name: value for name, value in read_env_file(self.credentials_file).items() if name in local_settings.SECRET_NAMES}

    def es(self) -> EsConfig:
        return EsConfig(url=settings.LOCAL_ES_URL, user=settings.LOCAL_ES_USER, password=self.secrets()["ELASTIC_PASSWORD"])

    def count(self) -> int:
        es, _ = connect(self.es(), request_timeout=30)
        try:
            es.indices.refresh(index=f"{settings.INDEX_PREFIX}-*", allow_no_indices=True, ignore_unavailable=True)
            return es.count(index=f"{settings.INDEX_PREFIX}-*", allow_no_indices=True, ignore_unavailable=True)["count"]
        finally:
            es.close()

    def remove(self) -> None:
        """Containers and volumes of this project, whatever state they are in."""
        ids = list(self.containers().values())
        if ids:
            self.docker("rm", "--force", "--volumes", *ids, check=False)
        if self.volumes():
            self.docker("volume", "rm", "--force", *self.volumes(), check=False)
        self.docker("network", "rm", f"{self.project}_default", check=False)


def require_free_port(port: int) -> None:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            pytest.fail(f"127.0.0.1:{port} is taken, but the local stack publishes there; stop what listens on it (`ss -ltnp`).")


def new_stack(tmp_path_factory: pytest.TempPathFactory, name: str, images: Images | None = None) -> Stack:
    for url in (settings.LOCAL_ES_URL, settings.LOCAL_KIBANA_URL):
        require_free_port(int(url.rsplit(":", 1)[1]))
    home = tmp_path_factory.mktemp(f"ctstack-home-{name}")
    project = f"ctstack-test-{name}-{uuid.uuid4().hex[:6]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTSTACK_") and k not in local_settings.SECRET_NAMES + local_settings.STACK_ENV_NAMES}
    env.update(CTSTACK_HOME=str(home), CTSTACK_COMPOSE_PROJECT=project, NO_COLOR="1", COLUMNS="200")
    if images:
        env.update({settings.ES_IMAGE_ENV: images.es, settings.KIBANA_IMAGE_ENV: images.kibana})
    return Stack(home=home, project=project, env=env)


@pytest.fixture(scope="module")
def local_stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, images: Images) -> Iterator[Stack]:
    """A Compose project of this module's own (not started): images come by env unless a test names them."""
    module = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_").replace("_", "-")
    local = new_stack(tmp_path_factory, module, images)
    try:
        yield local
    finally:
        local.remove()
