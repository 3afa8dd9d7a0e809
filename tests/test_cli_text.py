"""Text from outside (paths, bucket prefixes, reasons Elasticsearch or S3 give, names in the
logs) is printed as text: square brackets in it are never read as rich markup, so they can
neither vanish nor crash the command with a traceback."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tests.support.trail import role_event, write_trail
from tests.support.cli import ctstack_alone


def test_an_error_holding_a_closing_tag_is_one_sentence_not_a_traceback(tmp_path: Path) -> None:
    result = ctstack_alone("hints", "nosuch[/PREFIX]", cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "MarkupError" not in result.stderr
    assert "nosuch[/PREFIX]" in result.stderr and "Error:" in result.stderr


@pytest.mark.slow  # ctstack in a subprocess per case
def test_bracketed_names_in_paths_and_actions_are_printed_literally(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    trail = write_trail(logs, [role_event("Create[/x]Thing")])
    whole = json.dumps({"Records": [role_event("Create[/x]Thing", time="2024-08-01T11:00:00Z")] * 50}).encode()
    cut = trail.with_name(trail.name.replace("_trail.", "_cut[bold]off."))
    cut.write_bytes(gzip.compress(whole)[:-200])  # partly read: listed by its path
    result = ctstack_alone("hints", str(logs), cwd=tmp_path)
    assert "Traceback" not in result.stderr + result.stdout
    out = " ".join((result.stdout + result.stderr).split())
    assert "_cut[bold]off.json.gz" in out
    assert "Create[/x]Thing" in out
    data = json.loads(ctstack_alone("hints", str(logs), "--format", "json", cwd=tmp_path).stdout)
    assert [c["action"] for c in data["candidates"]] == ["Create[/x]Thing"]


def test_names_from_the_logs_are_html_escaped_in_every_report_section() -> None:
    """The report's automation section uses HTML escaping, not the terminal's markup escaping."""
    from provision.analysis.hints import HintsCounter
    from provision.report.html import render_report

    counter = HintsCounter()
    counter.add(role_event("Run<b>bold</b>Instances"))
    html = render_report(counter.result())
    assert "<b>bold</b>" not in html
    assert html.count("Run&lt;b&gt;bold&lt;/b&gt;Instances") >= 2  # the ranking and the commands section
