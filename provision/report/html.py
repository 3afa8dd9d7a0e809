"""The HTML report: one self-contained file (inline CSS and SVG, no script, no fetch) that shows
which console actions people repeat, how each could be automated, and activity over time."""

from __future__ import annotations

import itertools
import os
from html import escape
from pathlib import Path

from provision import __version__
from provision.report.automation_output import automation_html, workflows_html
from provision.report.charts import ACTIVITY_SERIES, GREYS, OTHER_COLOUR, PALETTE, activity_bars, donut, slices
from provision.core.errors import CtstackError
from provision.analysis.hints import ActionCount, Hints
from provision.report.hints_output import NO_CLI, drift_summary, managed_by_text, nothing_found
from provision.core.wording import plural

STYLE = """
:root { --ink:#1f2933; --muted:#616e7c; --line:#e4e7eb; --card:#ffffff; --bg:#f5f7fa; --accent:#f28e2b; }
* { box-sizing:border-box; }
body { margin:0; font:15px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; color:var(--ink); background:var(--bg); }
header { background:#1f2933; color:#fff; padding:28px 40px 24px; }
header h1 { margin:0 0 4px; font-size:26px; font-weight:650; letter-spacing:-0.01em; }
header p { margin:0; color:#cbd2d9; }
header .meta { margin-top:10px; font-size:13px; color:#9aa5b1; }
header .meta code { color:#e4e7eb; background:rgba(255,255,255,.08); }
main { max-width:1140px; margin:0 auto; padding:24px 40px 40px; }
.cards { display:grid; grid-template-columns:repeat(5, 1fr); gap:14px; margin:-44px 0 24px; }
.card { background:var(--card); border-radius:10px; padding:14px 16px; box-shadow:0 1px 3px rgba(31,41,51,.12); }
.card .value { font-size:26px; font-weight:650; }
.card .label { color:var(--muted); font-size:13px; }
.card.highlight .value { color:var(--accent); }
section { background:var(--card); border-radius:10px; padding:20px 24px; margin-bottom:22px; box-shadow:0 1px 3px rgba(31,41,51,.12); }
section h2 { margin:0 0 2px; font-size:18px; }
section .sub { margin:0 0 14px; color:var(--muted); font-size:13px; }
.pair { display:grid; grid-template-columns:1fr 1fr; gap:22px; margin-bottom:22px; }
.pair section { margin-bottom:0; }
.donut-chart { display:flex; gap:18px; align-items:center; }
.donut-chart svg { flex:none; }
.donut-total { font-size:30px; font-weight:650; fill:var(--ink); }
.donut-caption { font-size:12px; fill:var(--muted); }
.legend { list-style:none; margin:0; padding:0; flex:1; min-width:0; font-size:13px; }
.legend li { display:flex; align-items:center; gap:8px; padding:3px 0; border-bottom:1px solid var(--line); }
.legend li:last-child { border-bottom:none; }
.legend .swatch { width:11px; height:11px; border-radius:3px; flex:none; }
.legend-label { flex:1; min-width:0; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
.legend small { display:block; color:var(--muted); font-size:11px; }
.legend-value { text-align:right; font-variant-numeric:tabular-nums; }
.legend .empty { color:var(--muted); border:none; }
.key { display:flex; gap:18px; font-size:13px; color:var(--muted); margin-bottom:6px; }
.key span::before { content:""; display:inline-block; width:11px; height:11px; border-radius:3px; margin-right:6px; vertical-align:-1px; background:var(--c); }
.bars .grid { stroke:var(--line); }
.bars .axis { stroke:#9aa5b1; }
.axis-label { font-size:11px; fill:var(--muted); }
table { width:100%; border-collapse:collapse; font-size:13px; }
th { text-align:left; color:var(--muted); font-weight:600; border-bottom:2px solid var(--line); padding:6px 8px; white-space:nowrap; }
td { border-bottom:1px solid var(--line); padding:7px 8px; vertical-align:top; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
td.date { white-space:nowrap; }
td .service { display:block; color:var(--muted); font-size:11px; }
td .countbar { display:block; height:4px; border-radius:2px; background:var(--accent); margin-top:4px; }
code { font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; background:#f0f4f8; padding:2px 6px; border-radius:4px; white-space:nowrap; }
.badge { display:inline-block; font-size:11px; padding:2px 8px; border-radius:10px; background:#fff3c4; color:#8d6708; white-space:nowrap; }
.none { color:var(--muted); padding:12px 0; }
code.cmd { white-space:pre-wrap; word-break:break-all; display:block; }
td small { display:block; color:var(--muted); font-size:11px; margin-top:3px; }
td .user { white-space:nowrap; }
.muted { color:var(--muted); }
footer { color:var(--muted); font-size:12px; text-align:center; padding:0 40px 30px; }
"""

def render_report(hints: Hints) -> str:
    """The report as one HTML document."""
    console_only = sum(1 for c in hints.candidates if not c.cli)
    share = f"{100 * hints.console_events / hints.distinct_events:.1f}% of distinct events" if hints.distinct_events else "no events"
    cards = [
        (hints.distinct_events, "distinct events", ""),
        (hints.console_events, f"console events ({share})", ""),
        (hints.automation_candidates, "console changes (automation candidates)", "highlight"),
        (hints.candidate_actions, "different actions to automate", "highlight"),
        (console_only, f"of the top {plural(len(hints.candidates), 'action')} {'has' if console_only == 1 else 'have'} no public API", ""),
    ]
    cards_html = "".join(
        f'<div class="card {cls}"><div class="value">{value:,}</div><div class="label">{escape(label)}</div></div>'
        for value, label, cls in cards
    )
    # The top candidates keep one colour in both donuts; everything else is grey, so the
    # changes worth automating stand out among the reads (the seed's pie had only reads).
    colours = {(c.provider, c.action): PALETTE[i] for i, c in enumerate(hints.candidates[: len(PALETTE) - 1])}
    console_chart = donut("console-donut", "Console events by action", _action_slices(hints.console_actions, colours), "console events")
    candidate_chart = donut(
        "candidates-donut",
        "Automation candidates by action",
        _action_slices([ActionCount(c.provider, c.action, c.count) for c in hints.candidates], colours, hints.automation_candidates),
        "console changes",
    )
    days = [(d.day, d.read_only, d.not_candidates, d.changing) for d in hints.activity]
    activity_chart, unit, left_off = activity_bars("activity-chart", "Console events over time", days)
    # The key names the series drawn; the non-candidates only when there are some.
    key = "".join(
        f'<span style="--c:{colour}">{label}</span>'
        for name, label, colour in ACTIVITY_SERIES if name != "not_candidates" or any(day[2] for day in days)
    )
    meta = [f"source <code>{escape(hints.source or '-')}</code>", f"generated {escape(hints.generated_at)}", f"ctstack {escape(__version__)}"]
    if hints.filters:
        meta.insert(1, f"filters {escape(hints.filters)}")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>ctstack: console actions worth automating</title>
<style>{STYLE}</style>
</head>
<body>
<header>
<h1>Console actions worth automating</h1>
<p>Changes people make by hand in the AWS Management Console, ranked, with the AWS CLI command that does the same.</p>
<div class="meta">{" &middot; ".join(meta)}</div>
</header>
<main>
<div class="cards">{cards_html}</div>
<div class="pair">
<section><h2>Console events by action</h2><p class="sub">Everything done in the console. In colour: the changes charted beside; in grey: reads, sign-ins, the rest.</p>{console_chart}</section>
<section><h2>Automation candidates by action</h2><p class="sub">Console actions that change something (sign-ins excluded).</p>{candidate_chart}</section>
</div>
<section>
<h2>Automation candidates</h2>
<p class="sub">{_table_caption(hints)}</p>
{_candidates_table(hints)}
</section>
{automation_html(hints)}
{workflows_html(hints)}
{drift_html(hints)}
<section>
<h2>Console activity over time</h2>
<p class="sub">Console events per {unit} (UTC){" from Monday" if unit == "week" else ""}; gaps are periods without console activity.{f" {escape(left_off)}" if left_off else ""}</p>
<div class="key">{key}</div>
{activity_chart}
</section>
</main>
<footer>Counts are over distinct events (an event delivered twice counts once). {_files_note(hints)}This file is self-contained: it loads nothing from the network.</footer>
</body>
</html>
"""


REPORT_DRIFT = 25  # drifted resources in the report's table


def drift_html(hints: Hints) -> str:
    """Console changes to resources automation manages: a table of the drifted resources and
    their count over time. Values from the logs are escaped."""
    if not hints.drift:
        return ('<section id="drift"><h2>Console changes to managed resources (drift)</h2><p class="none">No console change '
                "touched a resource that CloudFormation, Terraform, Pulumi or other automation created or manages.</p></section>")
    rows = []
    for item in hints.drift[:REPORT_DRIFT]:
        created = item["created"]
        made = f"{escape(created['at'][:10])} by {escape(created['by'] or created['tool'])}" if created else "before the trail"
        who = ", ".join(f"{escape(u['user'])} ({u['count']:,})" for u in item["console_users"]) or "-"
        actions = ", ".join(dict.fromkeys(escape(a["action"]) for a in item["console_actions"]))
        after = item["automation_after"]
        next_deploy = f'<span class="badge">overwritten {escape(after["at"][:10])}</span>' if after else "not since"
        rows.append(
            "<tr>"
            f"<td><code>{escape(item['resource'])}</code></td><td>{escape(managed_by_text(item))}<small>created {made}</small></td>"
            f'<td class="num">{item["console_changes"]:,}</td><td>{who}</td><td>{actions}</td>'
            f'<td class="date">{escape(item["last_console_change"][:16].replace("T", " "))}</td>'
            f"<td>{next_deploy}</td>"
            "</tr>"
        )
    head = ('<tr><th>resource</th><th>managed by</th><th class="num">console changes</th><th>who</th><th>actions</th>'
            "<th>last</th><th>next deploy</th></tr>")
    chart, unit, left_off = activity_bars("drift-chart", "Console changes to managed resources over time",
                                [(d["day"], 0, 0, d["changes"]) for d in hints.drift_activity])
    shown = min(len(hints.drift), REPORT_DRIFT)
    return f"""<section id="drift">
<h2>Console changes to managed resources (drift)</h2>
<p class="sub">{escape(drift_summary(hints))}. Most changed first{f"; the top {shown}" if shown < hints.drift_resources else ""}. The next deploy may revert them, or the stack no longer matches its code.</p>
<table id="drift-table"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>
<p class="sub">Console changes to managed resources per {unit} (UTC).{f" {escape(left_off)}" if left_off else ""}</p>
{chart}
</section>"""


def _action_slices(actions: list[ActionCount], colours: dict[tuple[str, str], str], total: int | None = None):
    greys = itertools.cycle(GREYS)
    items = [
        (a.action or "(no action)", a.provider.removesuffix(".amazonaws.com"), a.count, colours.get((a.provider, a.action)) or next(greys))
        for a in actions
    ]
    shown = sum(item[2] for item in items)
    if total is not None and total > shown:  # --top cut the list: the rest is still part of the whole
        items.append(("more actions", "", total - shown, OTHER_COLOUR))
    return slices(items)


def _candidates_table(hints: Hints) -> str:
    if not hints.candidates:
        return f'<p class="none">{escape(nothing_found(hints))}</p>'
    peak = max(c.count for c in hints.candidates)
    rows = []
    for rank, c in enumerate(hints.candidates, 1):
        cli = f"<code>{escape(c.cli)}</code>" if c.cli else f'<span class="badge">{escape(NO_CLI)}</span>'
        users = _top_users_cell(c.top_users)
        rows.append(
            "<tr>"
            f'<td class="num">{rank}</td>'
            f'<td><b>{escape(c.action)}</b><span class="service">{escape(c.provider)}</span></td>'
            f'<td class="num">{c.count:,}<span class="countbar" style="width:{max(100 * c.count / peak, 2):.0f}%"></span></td>'
            f'<td class="num">{c.users:,}</td><td class="num">{c.days_active:,}</td>'
            f'<td class="date">{escape(c.first_seen[:10])}</td><td class="date">{escape(c.last_seen[:10])}</td>'
            f"<td>{users}</td><td>{cli}</td>"
            "</tr>"
        )
    head = (
        '<tr><th class="num">#</th><th>action</th><th class="num">count</th><th class="num">users</th>'
        '<th class="num">days</th><th>first seen</th><th>last seen</th><th>top users</th><th>AWS CLI</th></tr>'
    )
    return f'<table id="candidates-table"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


def _top_users_cell(top_users: list[dict]) -> str:
    """The top user whole (an e-mail address is never broken mid-domain), the others as
    "+2 more", all of them in the tooltip: one short line per row."""
    if not top_users:
        return '<span class="muted">-</span>'
    everyone = ", ".join(f"{u['user']} ({u['count']:,})" for u in top_users)
    first = top_users[0]
    more = f'<small>+{len(top_users) - 1} more</small>' if len(top_users) > 1 else ""
    return f'<span class="user" title="{escape(everyone)}">{escape(first["user"])} ({first["count"]:,})</span>{more}'


def _table_caption(hints: Hints) -> str:
    shown = len(hints.candidates)
    if shown < hints.candidate_actions:
        return f"The top {shown} of {hints.candidate_actions:,} actions, most frequent first."
    return "Most frequent first. Days = days on which the action was done at least once."


def _files_note(hints: Hints) -> str:
    if hints.files_read is None:
        return ""
    note = f"{plural(hints.files_read, 'file')} read, {hints.files_skipped or 0:,} skipped"
    if hints.files_failed:
        note += f", {hints.files_failed:,} failed"
    if hints.events_unusable:
        note += f"; {plural(hints.events_unusable, 'event')} without a usable time not counted"
    return escape(note) + ". "


def write_report(hints: Hints, path: str | os.PathLike) -> Path:
    """Write the report (UTF-8, mode 0600: it names users; a symlink is not followed);
    returns the path written."""
    target = Path(path)
    html = render_report(hints).encode("utf-8")
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as out:
            os.fchmod(fd, 0o600)  # an existing file keeps its mode otherwise
            out.write(html)
    except OSError as err:
        raise CtstackError(f"Cannot write the report to {target}: {err.strerror or err}.") from None
    return target
