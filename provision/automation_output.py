"""Automation and workflows as text: terminal sections, HTML sections, and script files."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from html import escape
from pathlib import Path

from rich.console import Console
from rich.markup import escape as markup_escape  # terminal text; html.escape is for the report
from rich.table import Table

from provision.errors import CtstackError
from provision.hints import Hints, iso

DEFAULT_SCRIPTS = 5
TABLE_COMMAND = 200  # characters of a command the table shows


def _status(automation: dict) -> str:
    if automation["valid"]:
        note = "valid for botocore"
    else:
        note = f"not valid: {automation['message'].splitlines()[-1].strip()}"
    if automation["placeholders"]:
        note += "; fill in " + ", ".join(p["path"] for p in automation["placeholders"])
    if automation["varying"]:
        note += "; varies: " + ", ".join(automation["varying"][:6]) + (" ..." if len(automation["varying"]) > 6 else "")
    return note


def print_automation(hints: Hints, console: Console) -> None:
    """Each candidate's ready command line with its latest real arguments."""
    rows = [(rank, c) for rank, c in enumerate(hints.candidates, 1) if c.automation]
    if not rows:
        return
    table = Table(title="The same change as a command (latest arguments; checked against botocore's model)", title_justify="left")
    table.add_column("#", justify="right", style="dim")
    table.add_column("action", style="bold")
    table.add_column("command", overflow="fold")
    table.add_column("notes", overflow="fold", style="dim")
    for rank, c in rows:
        cli = c.automation["cli"]
        table.add_row(str(rank), markup_escape(c.action), markup_escape(cli if len(cli) <= TABLE_COMMAND else cli[: TABLE_COMMAND - 1] + "…"), markup_escape(_status(c.automation)))
    console.print(table)
    if any(len(c.automation["cli"]) > TABLE_COMMAND for _, c in rows):
        console.print("(long commands are cut here; --format json has them whole)", style="dim")


def print_workflows(hints: Hints, console: Console) -> None:
    """The repeated console workflows, most costly first."""
    if not hints.workflows:
        console.print("No repeated multi-step console workflow was found.")
        return
    table = Table(title="Console workflows repeated by hand (steps in one console session)", title_justify="left")
    for header, options in (("#", {"justify": "right", "style": "dim"}), ("steps", {"style": "bold", "overflow": "fold"}),
                            ("times", {"justify": "right"}), ("days", {"justify": "right"}), ("users", {}),
                            ("links", {"overflow": "fold"}), ("arguments", {"overflow": "fold"})):
        table.add_column(header, **options)
    for rank, w in enumerate(hints.workflows, 1):
        table.add_row(
            str(rank), markup_escape(" -> ".join(s["action"] for s in w["steps"])), f"{w['occurrences']:,}", f"{w['days']:,}", markup_escape(", ".join(w["users"])),
            markup_escape("; ".join(f"{l['from_step']}.{l['output']} -> {l['to_step']}.{l['parameter']}" for l in w["links"]) or NO_LINKS),
            markup_escape(", ".join(a["name"] for a in w["varying"]) or "-"),
        )
    console.print(table)
    console.print("(ctstack hints --script DIR writes each as a bash script)", style="dim")


def write_scripts(hints: Hints, directory: str | os.PathLike, top: int = DEFAULT_SCRIPTS) -> list[Path]:
    """One bash script per top workflow in ``directory`` (created 0700; scripts 0700)."""
    target = Path(directory)
    try:
        target.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(target, 0o700)
        written = []
        stamp = iso(datetime.now(timezone.utc))
        for rank, workflow in enumerate(hints.workflows[:top] if top > 0 else hints.workflows, 1):
            path = target / f"{rank:02d}-{workflow['name']}.sh"
            shebang, rest = workflow["script"].split("\n", 1)
            header = f"# Written by ctstack hints at {stamp} from {hints.source or 'CloudTrail'}."
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o700)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(f"{shebang}\n{header}\n{rest}")
            os.chmod(path, 0o700)
            written.append(path)
    except OSError as err:
        raise CtstackError(f"Cannot write scripts to {target}: {err.strerror or err}.") from None
    return written


def automation_html(hints: Hints) -> str:
    """The report's section of ready commands."""
    rows = []
    for rank, c in enumerate(hints.candidates, 1):
        if c.automation:
            body = f"<code class=\"cmd\">{escape(c.automation['cli'])}</code><small>{escape(_status(c.automation))}</small>"
        else:
            body = f'<span class="badge">{escape(c.automation_note or "")}</span>'
        rows.append(f'<tr class="automation"><td class="num">{rank}</td><td><b>{escape(c.action)}</b></td><td>{body}</td></tr>')
    if not rows:
        return ""
    return (
        '<section id="automation"><h2>The same changes as commands</h2>'
        f'<p class="sub">The latest arguments of each action, checked against botocore\'s model; from the {hints.sample_per_user} most recent events per action and user.</p>'
        '<table><thead><tr><th class="num">#</th><th>action</th><th>AWS CLI with arguments</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )


# A workflow without links is not a gap in the table: its steps simply share no ID.
NO_LINKS = "none: no ID passed between steps"


def workflows_html(hints: Hints) -> str:
    """The report's section of repeated workflows."""
    if not hints.workflows:
        return ('<section id="workflows"><h2>Repeated console workflows</h2>'
                '<p class="none">No repeated multi-step console workflow was found.</p></section>')
    rows = []
    for rank, w in enumerate(hints.workflows, 1):
        links = "<br>".join(escape(f"{l['from_step']}.{l['output']} -> {l['to_step']}.{l['parameter']}") for l in w["links"]) \
            or f'<span class="muted">{NO_LINKS}</span>'
        rows.append(
            f'<tr class="workflow"><td class="num">{rank}</td><td>{escape(" -> ".join(s["action"] for s in w["steps"]))}</td>'
            f'<td class="num">{w["occurrences"]:,}</td><td class="num">{w["days"]:,}</td><td>{escape(", ".join(w["users"]))}</td>'
            f"<td>{links}</td></tr>"
        )
    return (
        '<section id="workflows"><h2>Repeated console workflows</h2>'
        '<p class="sub">The same steps in one console session, again and again; links are ids a step created and a later step used. '
        "<code>ctstack hints --script DIR</code> writes each as a bash script.</p>"
        '<table><thead><tr><th class="num">#</th><th>steps</th><th class="num">times</th><th class="num">days</th><th>users</th><th>links</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )
