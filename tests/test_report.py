"""`ctstack report`: one self-contained HTML file that renders in a real browser (headless
Chromium) with its charts, and fetches nothing from the network."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from provision.cli.commands import app
from provision.analysis.hints import HintsCounter
from provision.report.html import render_report
from tests.support.chromium import ChromiumMissing, RecordingProxy, file_url, run_chromium
from tests.support.trail import demo_events, role_event, write_trail


@pytest.fixture()
def report_file(tmp_path: Path) -> Path:
    write_trail(tmp_path / "logs", demo_events())
    output = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", str(tmp_path / "logs"), "-o", str(output)])
    assert result.exit_code == 0, result.output
    return output


def rendered_dom(page: Path, proxy: RecordingProxy) -> str:
    try:
        result = run_chromium(file_url(page), "--dump-dom", *proxy.flags)
    except ChromiumMissing as err:
        pytest.fail(str(err), pytrace=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.slow  # headless Chromium
def test_the_report_renders_with_both_charts_and_the_activity_in_chromium(report_file: Path) -> None:
    with RecordingProxy() as proxy:
        dom = rendered_dom(report_file, proxy)
    for chart in ("console-donut", "candidates-donut"):
        svg = re.search(rf'<svg id="{chart}".*?</svg>', dom, re.S)
        assert svg, f"{chart} missing from the rendered DOM"
        assert len(re.findall(r'<circle class="slice"', svg.group(0))) >= 5
    activity = re.search(r'<svg id="activity-chart".*?</svg>', dom, re.S)
    assert activity and len(re.findall(r'<rect class="bar', activity.group(0))) >= 28
    assert "aws cloudwatch put-metric-alarm" in dom
    assert "no public API (console only)" in dom  # CloudShell's DeleteEnvironment
    assert proxy.page_requests == []


@pytest.mark.slow  # headless Chromium
def test_the_report_makes_no_network_request(report_file: Path) -> None:
    html = report_file.read_text(encoding="utf-8")
    assert not re.search(r'''(src|href)\s*=\s*["']?\s*(https?:)?//''', html, re.I)
    assert not re.search(r"url\(\s*['\"]?\s*(https?:)?//", html, re.I)
    assert "<script" not in html
    with RecordingProxy() as proxy:
        rendered_dom(report_file, proxy)
    assert proxy.page_requests == []


@pytest.mark.slow  # headless Chromium
def test_the_network_check_catches_a_page_that_fetches(tmp_path: Path) -> None:
    """The control: the same check on a page with one remote image sees the request."""
    page = tmp_path / "fetches.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://ctstack-probe.invalid/pixel.png"></body></html>')
    with RecordingProxy() as proxy:
        rendered_dom(page, proxy)
    assert [line.split(" ")[1] for line in proxy.page_requests] == ["http://ctstack-probe.invalid/pixel.png"]


def test_text_from_the_logs_is_escaped() -> None:
    counter = HintsCounter()
    counter.add(role_event("<script>alert(1)</script>", "evil.amazonaws.com", user="<img src=x onerror=alert(2)>"))
    html = render_report(counter.result())
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_an_empty_report_still_renders(tmp_path: Path) -> None:
    write_trail(tmp_path / "logs", [role_event("DescribeInstances", read_only=True)])
    output = tmp_path / "empty.html"
    result = CliRunner().invoke(app, ["report", str(tmp_path / "logs"), "-o", str(output)])
    assert result.exit_code == 0, result.output
    html = output.read_text()
    assert 'id="candidates-donut"' in html and "nothing to automate here" in html


def test_an_unwritable_output_is_one_clear_error(tmp_path: Path) -> None:
    write_trail(tmp_path / "logs", [role_event()])
    result = CliRunner().invoke(app, ["report", str(tmp_path / "logs"), "-o", str(tmp_path / "no-such-folder" / "r.html")])
    assert result.exit_code == 1 and "Cannot write the report" in result.output


def test_the_candidates_donut_keeps_the_whole_when_top_cuts_the_table() -> None:
    counter = HintsCounter()
    for e in demo_events():
        counter.add(e)
    hints = counter.result(top=3)
    html = render_report(hints)
    assert html.count('<tr><td class="num">') == 3
    assert "more actions" in html  # the rest of the candidates, so shares still add up
    assert f">{hints.automation_candidates:,}</text>" in html  # the donut's total is all candidates


def test_long_ranges_are_shown_per_week_and_per_month() -> None:
    counter = HintsCounter()
    for day in ("2024-01-01", "2024-03-15", "2024-06-30"):
        counter.add(role_event(time=f"{day}T10:00:00Z"))
    assert "Console events per week (UTC)" in render_report(counter.result())
    counter.add(role_event(time="2026-06-30T10:00:00Z"))
    html = render_report(counter.result())
    assert "Console events per month (UTC)" in html
    assert html.count('<rect class="bar changing"') == 4


def test_the_report_is_written_0600_and_never_through_a_symlink(tmp_path: Path) -> None:
    """The report names users: it is written 0600, also over an existing 0644 file, and a
    symlink at the output path is refused rather than followed."""
    write_trail(tmp_path / "logs", demo_events())
    fresh, existing = tmp_path / "fresh.html", tmp_path / "existing.html"
    existing.write_text("old")
    existing.chmod(0o644)
    for output in (fresh, existing):
        result = CliRunner().invoke(app, ["report", str(tmp_path / "logs"), "-o", str(output)])
        assert result.exit_code == 0, result.output
        assert oct(output.stat().st_mode & 0o777) == "0o600"
        assert "<html" in output.read_text()

    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    link = tmp_path / "link.html"
    link.symlink_to(victim)
    result = CliRunner().invoke(app, ["report", str(tmp_path / "logs"), "-o", str(link)])
    assert result.exit_code == 1 and "Cannot write the report" in result.output and "Traceback" not in result.output
    assert victim.read_text() == "keep me"
