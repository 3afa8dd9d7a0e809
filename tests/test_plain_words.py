"""Messages in plain words: no exception class names, the cause named (a host that does not
resolve is not asked whether it runs), no sentence nested in another, the source of a URL
named as the user gave it, random bytes called what they are, a folder of unreadable files
is a failure, and a --since in the future is refused. `ctstack` runs in a subprocess."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.support.trail import role_event, write_trail
from tests.support.loopback import free_port
from tests.support.cli import ctstack_alone

pytestmark = pytest.mark.slow  # ctstack in a subprocess per case
# The commands here may look for programs (docker) as a user's would: PATH is kept.
WITH_PATH = {"PATH": os.environ.get("PATH", "")}
CLASS_NAME = re.compile(r"\((?:[A-Z][a-z]+)+(?:Error|Exception)\)|[A-Z][a-z]+(?:Error|Exception):")


def one_line(result: subprocess.CompletedProcess) -> str:
    return " ".join((result.stdout + result.stderr).split())


def test_a_host_name_that_does_not_resolve_is_named_as_such(tmp_path: Path) -> None:
    write_trail(tmp_path, [role_event("RunInstances")])
    result = ctstack_alone("import", str(tmp_path), "--es-url", "http://no-such-host.invalid:9200", cwd=tmp_path, env=WITH_PATH)
    text = one_line(result)
    assert result.returncode == 1
    assert "the host name no-such-host.invalid does not resolve; check the URL." in text
    assert "is it running" not in text.lower() and not CLASS_NAME.search(text), text


def test_nothing_listening_says_so_without_exception_names_and_status_nests_nothing(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    status = ctstack_alone("status", "--es-url", url, cwd=tmp_path, env=WITH_PATH)
    line = next(line for line in status.stdout.splitlines() if url in line)
    assert status.returncode == 1
    assert line.startswith(f"Cannot reach Elasticsearch at {url}: nothing answers there (connection refused).")
    assert line.count("(") <= 1 and not CLASS_NAME.search(line), line


def test_an_unreachable_docker_engine_is_described_in_plain_words(tmp_path: Path) -> None:
    host = f"tcp://127.0.0.1:{free_port()}"
    result = ctstack_alone("up", cwd=tmp_path, env={**WITH_PATH, "DOCKER_HOST": host})
    text = one_line(result)
    assert result.returncode == 1
    assert f"The Docker engine is not reachable: nothing answers at {host};" in text
    assert not CLASS_NAME.search(text) and "DockerException" not in text, text


def test_the_scheme_note_names_the_environment_variable_the_url_came_from(es_url: str, tmp_path: Path) -> None:
    bare = es_url.removeprefix("http://")
    result = ctstack_alone("status", cwd=tmp_path, env={**WITH_PATH, "CTSTACK_ES_URL": bare})
    text = one_line(result)
    assert f"Note: CTSTACK_ES_URL {bare} has no scheme; using {es_url}." in text
    assert "--es-url" not in text


@pytest.fixture()
def unreadable_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "bad"
    folder.mkdir()
    stem = "111122223333_CloudTrail_us-east-1_20240801T10{:02d}Z_x.json"
    (folder / (stem.format(0) + ".gz")).write_bytes(os.urandom(3000).replace(b"\x1f\x8b", b"xx"))
    (folder / (stem.format(5) + ".gz")).write_bytes(b"")
    (folder / stem.format(10)).write_bytes(b"\xff\xfe not json at all\n")
    return folder


def test_random_bytes_are_called_not_gzip_and_no_reason_repeats_itself(unreadable_folder: Path, tmp_path: Path) -> None:
    result = ctstack_alone("hints", str(unreadable_folder), "--format", "json", cwd=tmp_path, env=WITH_PATH)
    reasons = sorted(re.findall(r'"reason": "([^"]*)"', result.stdout))
    assert reasons[0] == "empty file"
    assert reasons[1].startswith("invalid JSON (") and "invalid JSON: invalid JSON" not in result.stdout
    assert reasons[2] == "not gzip: the name ends in .gz but the bytes are neither gzip nor JSON"


def test_a_folder_where_every_file_is_corrupt_or_empty_exits_1(unreadable_folder: Path, tmp_path: Path, es_url: str, index_prefix: str) -> None:
    hints = ctstack_alone("hints", str(unreadable_folder), cwd=tmp_path, env=WITH_PATH)
    assert hints.returncode == 1 and "No events: every file was skipped or could not be read" in one_line(hints)
    imported = ctstack_alone("import", str(unreadable_folder), "--es-url", es_url, "--index-prefix", index_prefix, cwd=tmp_path, env=WITH_PATH)
    assert imported.returncode == 1 and "No events: every file was skipped or could not be read" in one_line(imported)
    assert "Traceback" not in hints.stderr + imported.stderr


def test_a_since_in_the_future_is_refused_and_an_empty_filter_says_within_the_filters(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    write_trail(logs, [role_event("RunInstances", time="2024-08-01T10:00:00Z")])
    future = ctstack_alone("hints", str(logs), "--since", "2099-01-01", cwd=tmp_path, env=WITH_PATH)
    assert future.returncode == 1
    assert "--since 2099-01-01 is in the future (2099-01-01T00:00:00Z): no event can be that recent." in one_line(future)
    past = ctstack_alone("hints", str(logs), "--since", "2025-01-01", cwd=tmp_path, env=WITH_PATH)
    assert "1 event read, 0 distinct within the filters" in one_line(past)
