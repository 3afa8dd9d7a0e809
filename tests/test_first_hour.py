"""Issue 15: the first hour with ctstack, as a newcomer meets it (README, filters, quiet
results, output polish). Every test goes through the command line (typer's runner or a
subprocess); Elasticsearch is the real test node."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import textwrap
from io import StringIO
from pathlib import Path
from types import SimpleNamespace

from rich.console import Console
from typer.testing import CliRunner

from provision.cli import commands as cli
from provision.cloudtrail.documents import flat_source
from provision.cloudtrail.fields import EVENT_ACTION
from provision.analysis.hints import HintsCounter
from provision.cli.progress import ImportProgress
from provision.report.html import render_report
from tests.support.trail import ACCOUNT, CLI_AGENT, event, write_trail

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
OTHER_ACCOUNT = "444455556666"


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli.app, list(args), input=input)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def two_account_trail(folder: Path) -> Path:
    """Console changes in two accounts and two days, one file each (as CloudTrail delivers)."""
    events = [
        event("CreateUser", "iam.amazonaws.com", time="2024-08-01T10:00:00Z"),
        event("CreateRole", "iam.amazonaws.com", time="2024-08-03T10:00:00Z", region="us-east-1"),
    ]
    write_trail(folder, events, name="a")
    other = [event("PutMetricAlarm", "monitoring.amazonaws.com", account=OTHER_ACCOUNT, user="bob", time="2024-08-02T09:00:00Z")]
    path = folder / "other" / f"{OTHER_ACCOUNT}_CloudTrail_eu-west-1_20240802T0900Z_b.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"Records": other}))
    return folder


# -- item 2: README figures and names ---------------------------------------------------------

def test_readme_python_example_runs(tmp_path, es_url, index_prefix):
    """The README's Python line names where resolve_es_config lives, and works as written."""
    line = next(l for l in README.splitlines() if "import_sources(resolve_es_config()" in l)
    assert "from provision.core.connection import resolve_es_config" in line
    code = re.search(r"`(from provision\.connection import resolve_es_config[^`]*)`", line).group(1)
    logs = tmp_path / "logs"
    write_trail(logs, [event()])
    script = tmp_path / "example.py"
    script.write_text(textwrap.dedent(f"""
        import provision.ingest.importer
        {code.replace('; ', chr(10))}
        summary = provision.ingest.importer.import_sources(resolve_es_config(), ["logs/"], index_prefix={index_prefix!r}, processes=0)
        print(summary.events_indexed)
    """).replace("\n        ", "\n"))
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "CTSTACK_ES_URL": es_url}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"


def test_one_report_image_and_counts_agree_in_number():
    assert README.count("docs/report.png)") == 1
    counter = HintsCounter()
    counter.add(event("DeleteEnvironment", "cloudshell.amazonaws.com"))
    html = render_report(counter.result())
    assert "of the top 1 action has no public API" in html
    assert "have no public API" not in html


# -- item 3: an isolated install leads --------------------------------------------------------

def test_readme_install_is_isolated():
    first_block = README.split("```bash\n", 1)[1].split("```", 1)[0]
    first_line = first_block.splitlines()[0]
    assert "python3 -m venv" in first_line or "pipx install" in first_line
    assert first_line.index("venv" if "venv" in first_line else "pipx") < first_line.index("ctstack up")


# -- item 8: one meaning of the filters for local and S3 events ----------------------------------

def test_import_filters_local_events_too(tmp_path, es, es_url, index_prefix):
    logs = two_account_trail(tmp_path / "logs")
    result = run("import", str(logs), "--since", "2024-08-02", "--until", "2024-08-02", "--json",
                 "--es-url", es_url, "--index-prefix", index_prefix, "--processes", "0")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["events_read"], summary["events_indexed"], summary["events_filtered"]) == (3, 1, 2)
    assert summary["events_read"] == summary["events_indexed"] + summary["events_duplicate"] + summary["events_failed"] + summary["events_filtered"]
    names = [flat_source(hit["_source"])[EVENT_ACTION] for hit in es.search(index=f"{index_prefix}-*")["hits"]["hits"]]
    assert names == ["PutMetricAlarm"]


def test_import_and_hints_filter_alike(tmp_path, es_url, index_prefix):
    logs = two_account_trail(tmp_path / "logs")
    filters = ["--account", ACCOUNT, "--region", "us-east-1"]
    imported = run("import", str(logs), *filters, "--json", "--es-url", es_url, "--index-prefix", index_prefix, "--processes", "0")
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.stdout)["events_indexed"] == 1
    offline = json.loads(run("hints", str(logs), *filters, "--format", "json").stdout)
    from_es = json.loads(run("hints", *filters, "--format", "json", "--es-url", es_url, "--index-prefix", index_prefix).stdout)
    assert [c["action"] for c in offline["candidates"]] == [c["action"] for c in from_es["candidates"]] == ["CreateRole"]


# -- item 9: repeatable filters -------------------------------------------------------------------

def test_repeated_account_keeps_both(tmp_path):
    logs = two_account_trail(tmp_path / "logs")
    both = json.loads(run("hints", str(logs), "--account", ACCOUNT, "--account", OTHER_ACCOUNT, "--format", "json").stdout)
    assert sorted(c["action"] for c in both["candidates"]) == ["CreateRole", "CreateUser", "PutMetricAlarm"]
    users = json.loads(run("hints", str(logs), "--user", "alice", "--user", "bob", "--format", "json").stdout)
    assert users["automation_candidates"] == 3
    regions = json.loads(run("hints", str(logs), "--region", "eu-west-1", "--region", "us-east-1", "--format", "json").stdout)
    assert regions["automation_candidates"] == 3


def test_a_malformed_account_is_refused_in_hints(tmp_path):
    result = run("hints", str(two_account_trail(tmp_path / "logs")), "--account", "alice")
    assert result.exit_code == 1 and "--account 'alice' is not an AWS account ID" in result.output


# -- item 10: report without sources reads Elasticsearch -----------------------------------------

def test_report_without_sources_reads_elasticsearch(tmp_path, es_url, index_prefix):
    logs = two_account_trail(tmp_path / "logs")
    assert run("import", str(logs), "--es-url", es_url, "--index-prefix", index_prefix, "--processes", "0").exit_code == 0
    out = tmp_path / "r.html"
    result = run("report", "-o", str(out), "--es-url", es_url, "--index-prefix", index_prefix)
    assert result.exit_code == 0, result.output
    assert "PutMetricAlarm" in out.read_text()
    gone = run("report", "-o", str(out), "--es-url", f"http://127.0.0.1:{free_port()}")
    assert gone.exit_code == 1
    assert "ctstack report ./logs/ (or s3://BUCKET/PREFIX)" in " ".join(gone.output.split())


# -- item 11: quiet results speak ---------------------------------------------------------------

def test_an_empty_folder_named_is_refused(tmp_path, es_url):
    empty = tmp_path / "empty"
    empty.mkdir()
    for args in (["import", str(empty), "--es-url", es_url], ["hints", str(empty)]):
        result = run(*args)
        assert result.exit_code == 1, result.output
        assert f"{empty} holds no files" in " ".join(result.output.split())


def test_no_index_with_that_prefix_is_an_error(es_url):
    result = run("hints", "--es-url", es_url, "--index-prefix", "ctstack-nosuch-prefix")
    assert result.exit_code == 1
    assert "No index matches ctstack-nosuch-prefix-*" in " ".join(result.output.split())


def test_everything_filtered_out_says_so(tmp_path, es_url, index_prefix):
    logs = two_account_trail(tmp_path / "logs")
    hints = run("hints", str(logs), "--until", "2020-01-01")  # (a --since in the future is refused outright)
    assert hints.exit_code == 0
    assert "None of the 3 events read passes the filters (until 2020-01-01T23:59:59" in " ".join(hints.output.split())
    imported = run("import", str(logs), "--until", "2020-01-01", "--es-url", es_url, "--index-prefix", index_prefix)
    assert imported.exit_code == 0
    assert "None of the 3 events read passes the filters" in " ".join(imported.output.split())


# -- item 12: zero candidates, and the activity chart's classes -----------------------------------

def test_zero_candidates_prints_a_sentence_not_a_box(tmp_path):
    logs = tmp_path / "logs"
    write_trail(logs, [event("DescribeInstances", agent=CLI_AGENT, read_only=True)])
    result = run("hints", str(logs))
    assert result.exit_code == 0
    assert "┏" not in result.output and "┃" not in result.output and "│" not in result.output
    assert "None of the 1 distinct event was made from the console" in " ".join(result.output.split())


def test_activity_series_are_the_summary_classes():
    counter = HintsCounter()
    counter.add(event("ConsoleLogin", "signin.amazonaws.com", eventType="AwsConsoleSignIn"))
    counter.add(event("DescribeInstances", read_only=True))
    counter.add(event("RunInstances"))
    hints = counter.result()
    day = hints.activity[0]
    assert (day.read_only, day.not_candidates, day.changing) == (1, 1, 1)
    assert day.changing == hints.automation_candidates
    html = render_report(hints)
    key = re.search(r'<div class="key">(.*?)</div>', html).group(1)
    assert re.findall(r">([^<]+)</span>", key) == ["read-only", "sign-ins and other", "console changes"]
    assert html.count('<rect class="bar changing"') == html.count('<rect class="bar not-candidates"') == 1
    without_sign_ins = HintsCounter()
    without_sign_ins.add(event("RunInstances"))
    assert "sign-ins and other" not in re.search(r'<div class="key">(.*?)</div>', render_report(without_sign_ins.result())).group(1)


# -- item 13: without Docker, what works --------------------------------------------------------

def test_up_without_docker_points_to_what_works(tmp_path, monkeypatch):
    monkeypatch.setenv("CTSTACK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CTSTACK_ES_URL", raising=False)
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{free_port()}")
    result = run("up")
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    for pointer in ("ctstack hints ./logs/", "ctstack report", "ctstack up --es-url URL --sample", "ctstack demo ./demo-logs"):
        assert pointer in text
    assert "bench/generate.py" not in text  # not installed with ctstack, and not the demo set
    quick_start = README.split("## Importing CloudTrail logs", 1)[0]
    assert "ctstack demo ./demo-logs" in quick_start and "bench/generate.py" not in quick_start


# -- item 15: one format for counts ---------------------------------------------------------------

def test_up_and_status_print_thousands_separators(monkeypatch, capsys):
    report = SimpleNamespace(engine="not checked", containers=[], kibana=None, credentials_file=None, compose_file="c.yaml",
                             elasticsearch={"reachable": True, "version": "9.3.2", "url": "http://x", "cluster_health": "green",
                                            "documents": 40349, "newest_event": None})
    cli._print_status(report)
    assert "CloudTrail events: 40,349" in capsys.readouterr().out
    imported = SimpleNamespace(events_indexed=20000, events_duplicate=0, events_failed=0, files_read=1234, dead_letter=None)
    result = cli.stack.UpResult(local=False, es_url="http://x", kibana_url=None, imported=imported)
    monkeypatch.setattr(cli.stack, "up", lambda options, reporter: result)
    out = run("up", "--es-url", "http://127.0.0.1:9")
    assert "Imported:      20,000 events indexed, 0 already present, 0 failed, from 1,234 files" in out.stdout


# -- item 16: help, down --volumes, logs -------------------------------------------------------

def test_help_has_no_type_tags_and_status_kibana_reads_right():
    for command in ("import", "hints", "report", "up", "status", "down", "logs", "provision"):
        text = run(command, "--help").output
        assert not re.search(r"<(bool|str|int|float|list\[str\]|int range|path)>", text), command
    status = " ".join(run("status", "--help").output.split())
    assert "The Kibana to check" in status and "to provision" not in status


def test_down_volumes_finds_docker_missing_before_asking(tmp_path, monkeypatch):
    monkeypatch.setenv("CTSTACK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{free_port()}")
    result = run("down", "--volumes", input="y\n")
    assert result.exit_code == 1
    assert "Docker engine is not reachable" in result.output and "Delete the local stack" not in result.output


def test_logs_names_the_services(tmp_path, monkeypatch):
    monkeypatch.setenv("CTSTACK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{free_port()}")
    result = run("logs", "foo")
    assert result.exit_code == 1
    assert "Unknown service 'foo'; the local stack's services are: es (or elasticsearch), kibana, setup." in " ".join(result.output.split())


# -- item 17: skipped files grouped; the final progress frame -------------------------------------

def test_import_groups_skipped_files_and_json_keeps_them(tmp_path, es_url, index_prefix):
    logs = tmp_path / "logs"
    write_trail(logs, [event()])
    for i in range(25):
        (logs / f"README-{i}.txt").write_text("not a log")
    digest = logs / "AWSLogs" / ACCOUNT / "CloudTrail-Digest"
    digest.mkdir(parents=True)
    for i in range(3):
        (digest / f"{ACCOUNT}_CloudTrail-Digest_eu-west-1_x_{i}.json.gz").write_bytes(b"")
    table = run("import", str(logs), "--es-url", es_url, "--index-prefix", index_prefix, "--processes", "0")
    assert table.exit_code == 0, table.output
    lines = [l for l in table.output.splitlines() if l.startswith("skipped")]
    assert lines[0] == "skipped 25 files: not a CloudTrail log file name"
    assert len(lines) == 2 and lines[1].startswith("skipped 3 files: ")
    assert "README-3.txt" not in table.output
    as_json = json.loads(run("import", str(logs), "--json", "--es-url", es_url, "--index-prefix", index_prefix).stdout)
    assert len(as_json["skipped_files"]) == 28


def test_the_last_progress_frame_shows_the_final_counts():
    out = StringIO()
    summary = SimpleNamespace(files_read=0, files_skipped=0, events_read=0, events_indexed=0, events_duplicate=0, events_failed=0)
    with ImportProgress(enabled=True, console=Console(file=out, force_terminal=True, width=200), min_interval=3600) as progress:
        progress.update(summary)      # the first frame is drawn ...
        summary.files_read, summary.events_read, summary.events_indexed = 7, 20000, 20000
        progress.update(summary)      # ... this one is throttled away
    assert "events 20,000  indexed 20,000" in out.getvalue()


def test_filters_reach_converting_processes(tmp_path):
    """The filter travels to spawned converting workers (it is part of ConvertOptions)."""
    from provision.ingest.convert import ConvertOptions, Converter
    from provision.sources.filters import Filters
    from provision.sources.local import local_files

    logs = two_account_trail(tmp_path / "logs")
    options = ConvertOptions("x", filters=Filters.from_text(account=OTHER_ACCOUNT))
    with Converter(options, processes=1, pool_after_bytes=0) as converter:
        done = list(converter.convert(local_files([logs])))
        assert converter.workers_started == 1
    assert sorted((c.converted.events, c.converted.documents, len(c.converted.filtered)) for c in done) == [(1, 1, 0), (2, 0, 2)]
