"""Ctrl-C, SIGTERM and a closed terminal (SIGHUP) stop a command with its summary so far and
128 + the signal's number; a second signal stops at once and leaves no empty dead-letter file.
ctstack runs as a user runs it: in a subprocess, on a pseudo-terminal for Ctrl-C and SIGHUP.
A proxy of our own in front of the real node holds bulk requests from the third on, so the
signal lands while the import certainly has work in flight, whatever the machine's speed."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest

from provision.demo.generate import write_sample
from tests.support.holding_proxy import HoldingProxy
from tests.support.terminal import REPO, Terminal

EVENTS = 6_000


@pytest.fixture(scope="module")
def trail(tmp_path_factory) -> tuple[Path, int]:
    folder = tmp_path_factory.mktemp("trail")
    stats = write_sample(folder, events=EVENTS, digests=False)
    return folder, stats.files


def import_args(folder: Path, url: str, prefix: str, *more: str) -> list[str]:
    # Small requests, one at a time: the files in hand when the signal lands are few.
    return ["import", str(folder), "--es-url", url, "--index-prefix", prefix, "--bulk-size", "100", "--bulk-requests", "1", *more]


def dead_letters(folder: Path) -> list[Path]:
    return list(folder.glob("ctstack-dead-letter-*.ndjson"))


@contextlib.contextmanager
def held_on_a_terminal(es_url: str, args_for: Callable[[str], list[str]], cwd: Path, *, pass_count: int = 2, hold: str = r"/_bulk",
                       env: dict[str, str] | None = None) -> Iterator[tuple[HoldingProxy, Terminal]]:
    """`ctstack ARGS` (``args_for(the proxy's URL)``) on a terminal, once a request of it is held."""
    with HoldingProxy(es_url, pass_count=pass_count, hold=hold) as proxy:
        term = Terminal(*args_for(proxy.url), cwd=cwd, env=env)
        assert proxy.holding.wait(180), term.text
        yield proxy, term


def import_with_a_request_held(folder: Path, es_url: str, prefix: str, cwd: Path):
    """`ctstack import` on a terminal, once its third bulk request is being held."""
    return held_on_a_terminal(es_url, lambda url: import_args(folder, url, prefix), cwd)


def ctrl_c_then_release(proxy: HoldingProxy, term: Terminal, notice: str) -> int:
    """Ctrl-C while the request is held; once ctstack says it is stopping, let the request go."""
    term.press_ctrl_c()
    term.wait_for(notice)
    proxy.released.set()
    return term.finish()


def rerun_completes(folder: Path, es_url: str, prefix: str, es, cwd: Path) -> None:
    again = subprocess.run([sys.executable, "-m", "provision", *import_args(folder, es_url, prefix, "--format", "json")],
                           cwd=cwd, capture_output=True, text=True, timeout=300, env={"PYTHONPATH": str(REPO), "PATH": ""})
    summary = json.loads(again.stdout)
    assert again.returncode == 0, again.stderr
    # Files the interrupted run finished are not read again; the rest are, and then all is in.
    files = sum(1 for path in folder.rglob("*") if path.is_file())
    assert summary["files_read"] + summary["files_unchanged"] == files
    assert summary["events_read"] == summary["events_indexed"] + summary["events_duplicate"] <= EVENTS
    assert es.count(index=f"{prefix}-*")["count"] == EVENTS


def test_ctrl_c_during_an_import_prints_the_summary_so_far_and_exits_130(trail, es, es_url, index_prefix, tmp_path):
    folder, _files = trail
    with import_with_a_request_held(folder, es_url, index_prefix, tmp_path) as (proxy, term):
        code = ctrl_c_then_release(proxy, term, "stopping after the files in hand")
    text = " ".join(term.text.split())
    assert code == 130, text
    assert "Traceback" not in text
    found = term.wait_for(r"Interrupted by Ctrl-C \(SIGINT\): ([\d,]+) events indexed, ([\d,]+) already present, ([\d,]+) failed of ([\d,]+) read")
    indexed, present, failed, read = (int(g.replace(",", "")) for g in found.groups())
    assert read == indexed + present + failed and 0 < read < EVENTS, text
    assert "Run the same command to finish" in text
    assert not dead_letters(tmp_path)
    rerun_completes(folder, es_url, index_prefix, es, tmp_path)


def test_sigterm_during_an_import_with_json_prints_the_summary_with_aborted_and_exits_143(trail, es, es_url, index_prefix, tmp_path):
    folder, _files = trail
    with HoldingProxy(es_url, pass_count=2) as proxy:
        proc = subprocess.Popen([sys.executable, "-m", "provision", *import_args(folder, proxy.url, index_prefix, "--format", "json")],
                                cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={"PYTHONPATH": str(REPO), "PATH": ""})
        assert proxy.holding.wait(120)
        proc.send_signal(signal.SIGTERM)
        proxy.released.set()
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    summary = json.loads(out)
    assert summary["aborted"] == "interrupted by SIGTERM"
    assert summary["events_read"] == (summary["events_indexed"] + summary["events_duplicate"] + summary["events_failed"]
                                      + summary["events_unknown"] + summary["events_filtered"])
    assert 0 < summary["events_read"] < EVENTS
    assert "Traceback" not in err and not dead_letters(tmp_path)
    rerun_completes(folder, es_url, index_prefix, es, tmp_path)


def test_a_closed_terminal_stops_an_import_cleanly_without_an_empty_dead_letter_file(trail, es, es_url, index_prefix, tmp_path):
    folder, _files = trail
    with import_with_a_request_held(folder, es_url, index_prefix, tmp_path) as (proxy, term):
        term.close()
        proxy.released.set()
        code = term.finish()
    assert code == 128 + signal.SIGHUP
    assert not dead_letters(tmp_path)
    rerun_completes(folder, es_url, index_prefix, es, tmp_path)


def test_a_second_signal_stops_at_once_without_an_empty_dead_letter_file(trail, es, es_url, index_prefix, tmp_path):
    folder, _files = trail
    with import_with_a_request_held(folder, es_url, index_prefix, tmp_path) as (proxy, term):
        term.proc.send_signal(signal.SIGTERM)
        term.wait_for("stopping after the files in hand")
        term.proc.send_signal(signal.SIGTERM)  # the request in flight is still held: only the second signal ends it
        code = term.finish(timeout=30)
    assert code == 143, term.text
    assert "SIGTERM again: stopped at once" in term.text
    assert not dead_letters(tmp_path)
    rerun_completes(folder, es_url, index_prefix, es, tmp_path)


@pytest.mark.parametrize("command", [["hints"], ["report", "-o", "report.html"]])
def test_ctrl_c_in_hints_or_report_from_elasticsearch_says_what_was_not_done_and_exits_130(command, es_url, index_prefix, tmp_path):
    """No clean stop of their own: the signal ends them with one sentence, never a traceback."""
    with held_on_a_terminal(es_url, lambda url: [*command, "--es-url", url, "--index-prefix", index_prefix], tmp_path,
                            pass_count=0, hold=r"/_search") as (_proxy, term):
        term.press_ctrl_c()
        code = term.finish()
    text = " ".join(term.text.split())
    assert code == 130, text
    undone = "nothing was printed" if command[0] == "hints" else "no report was written"
    assert f"Interrupted by Ctrl-C (SIGINT): {undone}" in text and "Traceback" not in text
    assert not (tmp_path / "report.html").exists()


def test_ctrl_c_in_reflag_finishes_the_page_in_hand_and_reports_it(trail, es, es_url, index_prefix, tmp_path):
    folder, _files = trail
    rerun_completes(folder, es_url, index_prefix, es, tmp_path)
    with held_on_a_terminal(es_url, lambda url: ["reflag", "--format", "json", "--es-url", url, "--index-prefix", index_prefix], tmp_path,
                            hold=r"/_search") as (proxy, term):
        code = ctrl_c_then_release(proxy, term, "stopping after this page")
    assert code == 130, term.text
    summary = json.loads(term.wait_for(r"\{.*\}").group(0))
    assert summary["aborted"] == "interrupted by Ctrl-C (SIGINT)"
    assert 0 < summary["documents_read"] < EVENTS and summary["documents_read"] % 1000 == 0


def test_ctrl_c_during_up_sample_says_what_was_imported_and_exits_130(es, es_url, index_prefix, tmp_path):
    # The first bulk request held: with two in flight the import waits on it while 15,000 of the
    # demo set's 20,572 events at most are in chunks, so files are certainly left unread.
    with held_on_a_terminal(es_url, lambda url: ["up", "--sample", "--es-url", url, "--index-prefix", index_prefix], tmp_path,
                            pass_count=0, env={"CTSTACK_HOME": str(tmp_path / "home")}) as (proxy, term):
        code = ctrl_c_then_release(proxy, term, "stopping after the files in hand")
    text = " ".join(term.text.split())
    assert code == 130, text
    assert "Interrupted by Ctrl-C (SIGINT): " in text and "run the same command to finish" in text and "Traceback" not in text
