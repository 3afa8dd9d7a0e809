"""The report at a glance: top users one short line each (an e-mail address never broken),
the activity chart over the span the data really has (stray far-off events said, not drawn),
and a workflow without links saying why. Rendered in headless Chromium where the look is the
point."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from provision.stack import lifecycle as stack
from provision.report.charts import dense_span
from provision.analysis.hints import HintsCounter
from provision.report.html import render_report
from tests.support.chromium import ChromiumMissing, file_url, run_chromium
from tests.support.trail import role_event

REPO = Path(__file__).resolve().parent.parent


def days_of(counts: dict[str, int]) -> list[tuple[str, int, int, int]]:
    return [(day, 0, 0, n) for day, n in sorted(counts.items())]


def test_a_few_stray_events_far_from_the_rest_are_said_not_drawn() -> None:
    bulk = {f"2026-{m:02d}-{d:02d}": 100 for m in (9, 10, 11) for d in range(1, 29)}
    shown, note = dense_span(days_of({"2024-08-01": 3, "2024-08-02": 2, **bulk}))
    assert shown[0][0] == "2026-09-01" and shown[-1][0] == "2026-11-28"
    assert note.startswith("5 console events from 2024-08-01 to 2024-08-02, far from the rest, are left off this chart")
    # Many old events are data, not strays: nothing is left off.
    kept, nothing = dense_span(days_of({"2024-08-01": 500, **bulk}))
    assert kept[0][0] == "2024-08-01" and nothing == ""
    # Stray events close to the rest change the span little: kept too.
    near, none_near = dense_span(days_of({"2026-08-20": 1, **bulk}))
    assert near[0][0] == "2026-08-20" and none_near == ""


def test_the_report_charts_the_dense_span_by_day_and_says_what_it_left_off() -> None:
    counter = HintsCounter()
    counter.add(role_event("RunInstances", time="2024-08-01T10:00:00Z", event_id="old-one"))
    for day in range(1, 29):
        for n in range(40):
            counter.add(role_event("RunInstances", time=f"2026-11-{day:02d}T10:{n:02d}:00Z", event_id=f"e-{day}-{n}"))
    html = render_report(counter.result())
    assert "Console events per day (UTC)" in html
    assert "1 console event from 2024-08-01 to 2024-08-01, far from the rest, is left off this chart" in html
    assert "2024-08" not in re.search(r'<svg id="activity-chart".*?</svg>', html, re.S).group(0)


@pytest.mark.slow  # headless Chromium
def test_top_users_are_one_short_line_each_in_the_browser(tmp_path: Path) -> None:
    """Three long e-mail addresses used to wrap mid-domain into rows five lines tall."""
    counter = HintsCounter()
    users = ("alice.longname@acme-corporation.example", "bob.longname@acme-corporation.example", "carol.longname@acme-corporation.example")
    for i, user in enumerate(users):
        for n in range(3 - i):
            counter.add(role_event("StartInstances", user=user, event_id=f"{user}-{n}"))
    html = render_report(counter.result())
    cell = re.search(r'<span class="user" title="([^"]*)">([^<]*)</span><small>([^<]*)</small>', html)
    assert cell.group(2) == "alice.longname@acme-corporation.example (3)" and cell.group(3) == "+2 more"
    assert "bob.longname@acme-corporation.example (2)" in cell.group(1)
    page = tmp_path / "report.html"
    page.write_text(html.replace("</body>", '<p id="probe"></p></body>'), encoding="utf-8")
    try:
        dom = run_chromium(file_url(page), "--dump-dom").stdout
    except ChromiumMissing as err:
        pytest.fail(str(err), pytrace=False)
    assert 'class="user"' in dom and "white-space:nowrap" in re.sub(r"\s", "", dom)


@pytest.mark.slow  # ctstack in subprocesses on the demo set
def test_a_workflow_without_links_says_why(tmp_path: Path) -> None:
    stack._sample_writer()(tmp_path / "demo")
    env = {"PYTHONPATH": str(REPO), "PATH": "", "COLUMNS": "250"}
    hints = subprocess.run([sys.executable, "-m", "provision", "hints", "demo", "--workflows"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=300, env=env)
    assert "none: no ID passed between steps" in hints.stdout
    assert not re.search(r"│ -\s+│ user_name", hints.stdout)
    subprocess.run([sys.executable, "-m", "provision", "report", "demo", "-o", "r.html"], cwd=tmp_path, check=True, env=env,
                   capture_output=True, timeout=300)
    section = re.search(r'<section id="workflows">.*?</section>', (tmp_path / "r.html").read_text(), re.S).group(0)
    assert '<span class="muted">none: no ID passed between steps</span>' in section
    assert "<td>-</td>" not in section


def test_after_an_import_the_dashboard_link_opens_on_the_data_time_range(es_url: str, index_prefix: str, kibana, tmp_path: Path) -> None:
    """Uses the Kibana stand-in (tests/support/fake_kibana.py: Kibana's documented status and
    saved-objects import API; Kibana cannot run here). The saved range is the last 90 days;
    the link printed after `up --sample` carries the imported events' own range instead."""
    login = kibana.url.replace("http://", f"http://{kibana.user}:{kibana.password}@")
    env = {"PYTHONPATH": str(REPO), "PATH": "", "COLUMNS": "250", "CTSTACK_HOME": str(tmp_path / "home")}
    up = subprocess.run([sys.executable, "-m", "provision", "up", "--sample", "--es-url", es_url, "--kibana-url", login,
                         "--index-prefix", index_prefix], cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert up.returncode == 0, up.stderr
    link = re.search(r"Dashboard:\s+(\S+)", up.stdout).group(1)
    found = re.search(r"\?_g=\(time:\(from:'(\d{4}-\d\d-\d\d)T[^']*',to:'(\d{4}-\d\d-\d\d)T[^']*'\)\)$", link)
    assert found, link
    assert found.group(1) < found.group(2)
    assert kibana.password not in up.stdout
