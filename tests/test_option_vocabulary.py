"""One option vocabulary: each option means one thing and has one name in every command, shows
its choices and ranges, sizes read like 1g; the old spellings still work for one release, with
a note. Read from the typer app itself, and run as a user runs `ctstack` (a subprocess)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import typer

import pytest

from provision.cli import commands as cli
from provision.cli.vocabulary import new_spelling, parse_size
from tests.support.trail import role_event, write_trail
from tests.support.cli import ctstack_alone

ES_OPTIONS = {"--es-url", "--es-api-key", "--es-user", "--es-password", "--es-ca-certs"}


def commands() -> dict:
    return typer.main.get_command(cli.app).commands


def option_names(command) -> set[str]:
    return {name for p in command.params if p.param_type_name == "option" for name in p.opts}


def test_every_command_that_talks_to_elasticsearch_names_its_connection_options_alike() -> None:
    talking = {name: c for name, c in commands().items() if "--es-url" in option_names(c)}
    assert set(talking) == {"hints", "import", "provision", "reflag", "report", "status", "up"}
    for name, command in talking.items():
        names = option_names(command)
        assert ES_OPTIONS <= names, name
        assert not {"--api-key", "--password", "--ca-certs"} & names, name
        if "--user" in names:  # only where it filters AWS users
            user = next(p for p in command.params if "--user" in p.opts)
            assert "IAM user" in user.help, name


@pytest.mark.slow  # ctstack in a subprocess per command
def test_output_formats_are_one_option_showing_its_choices(tmp_path: Path) -> None:
    for name, choices in (("import", "[table|json]"), ("status", "[text|json]"), ("reflag", "[text|json]"), ("hints", "[table|json|csv|markdown|sh]")):
        assert "--json" not in option_names(commands()[name])
        assert choices in ctstack_alone(name, "--help", cwd=tmp_path).stdout, name
    assert "[minimal|standard|full]" in ctstack_alone("import", "--help", cwd=tmp_path).stdout
    wrong = ctstack_alone("import", "logs", "--fields", "everything", cwd=tmp_path)
    assert wrong.returncode == 2 and "'everything' is not one of 'minimal', 'standard', 'full'" in " ".join(wrong.stderr.split())


@pytest.mark.slow  # ctstack in a subprocess per command
def test_ranges_are_shown_and_the_same_option_has_the_same_default_everywhere(tmp_path: Path) -> None:
    hints_help = " ".join(ctstack_alone("hints", "--help", cwd=tmp_path).stdout.split())
    assert "--workers INTEGER RANGE [1<=x<=64]" in hints_help
    assert "[default: 1g]" in hints_help
    defaults: dict[str, set] = {}
    for command in commands().values():
        for p in command.params:
            if p.param_type_name == "option" and not p.is_flag:
                defaults.setdefault(p.opts[0], set()).add(repr(p.default))
    same_everywhere = ("--timeout", "--index-prefix", "--workers", "--max-file-bytes", "--top", "--interval")
    assert all(len(defaults[name]) == 1 for name in same_everywhere), {n: defaults[n] for n in same_everywhere}


def test_help_texts_speak_to_users_not_to_the_source_tree(tmp_path: Path) -> None:
    for name, command in commands().items():
        texts = [command.help or ""] + [p.help or "" for p in command.params if hasattr(p, "help")]
        for text in texts:
            assert "provision/" not in text and ".py" not in text and " ours" not in text, (name, text)


@pytest.mark.slow  # ctstack in a subprocess per command
def test_sizes_read_like_1g_and_bytes_alike(tmp_path: Path) -> None:
    assert parse_size("1g") == parse_size("1G") == parse_size("1073741824") == parse_size("1GiB") == 1 << 30
    assert parse_size("512m") == 512 << 20 and parse_size("1.5k") == 1536
    logs = tmp_path / "logs"
    logs.mkdir()
    write_trail(logs, [role_event("RunInstances")] * 40)
    (logs / "big.json.gz").write_bytes(gzip.compress(json.dumps({"Records": [role_event("RunInstances")] * 40}).encode()))
    result = ctstack_alone("hints", "logs", "--max-file-bytes", "1k", "--format", "json", cwd=tmp_path)
    assert "larger than 1 KB uncompressed" in result.stdout + result.stderr
    bad = ctstack_alone("hints", "logs", "--max-file-bytes", "lots", cwd=tmp_path)
    assert bad.returncode == 2 and "'lots' is not a size" in bad.stderr


def test_old_spellings_still_work_for_one_release_with_a_note(es_url: str, tmp_path: Path) -> None:
    status = ctstack_alone("status", "--json", "--es-url", es_url, cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["elasticsearch"]["reachable"] is True
    assert "Note: --json is now --format json; the old spelling works until the next release." in " ".join(status.stderr.split())
    no_password = ctstack_alone("import", "logs", "--es-url", es_url, "--user=elastic", cwd=tmp_path)
    text = " ".join(no_password.stderr.split())
    assert no_password.returncode == 1 and "Note: --user is now --es-user" in text
    assert "A user (elastic) was given for Elasticsearch but no password (--es-password or CTSTACK_ES_PASSWORD)" in text
    # In hints and report --user is the AWS user filter, as before: never rewritten.
    assert new_spelling("hints", ["--user", "alice", "--password", "p"]) == (
        ["--user", "alice", "--es-password", "p"], ["Note: --password is now --es-password; the old spelling works until the next release."])
    assert new_spelling("import", ["--", "--json"])[0] == ["--", "--json"]


@pytest.mark.slow  # ctstack in a subprocess per command
def test_hints_reads_elasticsearch_with_from_es_as_report_does(tmp_path: Path) -> None:
    for name in ("hints", "report"):
        assert "--from-es" in option_names(commands()[name])
    both = ctstack_alone("hints", "logs", "--from-es", cwd=tmp_path)
    assert both.returncode == 1 and "not both" in both.stderr
