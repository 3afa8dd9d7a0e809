"""Automation and workflows as text: terminal sections, HTML sections, and script files."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import stat
from dataclasses import dataclass
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape as markup_escape  # terminal text; html.escape is for the report
from rich.table import Table

from provision.cloudtrail.commandline import printable
from provision.core.errors import CtstackError
from provision.analysis.hints import Hints, iso
from provision.report.hints_output import minutes_text

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
    rows = [(rank, c, c.automation) for rank, c in enumerate(hints.candidates, 1) if c.automation]
    if not rows:
        return
    table = Table(title="The same change as a command (latest arguments; checked against botocore's model)", title_justify="left")
    table.add_column("#", justify="right", style="dim")
    table.add_column("action", style="bold")
    table.add_column("command", overflow="fold")
    table.add_column("notes", overflow="fold", style="dim")
    for rank, c, automation in rows:
        cli = automation["cli"]
        table.add_row(str(rank), markup_escape(printable(c.action)), markup_escape(cli if len(cli) <= TABLE_COMMAND else cli[: TABLE_COMMAND - 1] + "…"),
                      markup_escape(printable(_status(automation))))
    console.print(table)
    if any(len(automation["cli"]) > TABLE_COMMAND for _, _, automation in rows):
        console.print("(long commands are cut here; --format json has them whole)", style="dim")


def print_workflows(hints: Hints, console: Console) -> None:
    """The repeated console workflows, most costly first."""
    if not hints.workflows:
        console.print("No repeated multi-step console workflow was found.")
        return
    table = Table(title="Console workflows repeated by hand (steps in one console session)", title_justify="left")
    columns: tuple[tuple[str, dict[str, Any]], ...] = (
        ("#", {"justify": "right", "style": "dim"}), ("steps", {"style": "bold", "overflow": "fold"}),
        ("times", {"justify": "right"}), ("days", {"justify": "right"}), ("min/month", {"justify": "right"}), ("users", {}),
        ("links", {"overflow": "fold"}), ("arguments", {"overflow": "fold"}))
    for header, options in columns:
        table.add_column(header, **options)
    for rank, w in enumerate(hints.workflows, 1):
        table.add_row(
            str(rank), markup_escape(printable(" -> ".join(s["action"] for s in w["steps"]))), f"{w['occurrences']:,}", f"{w['days']:,}",
            minutes_text(w["console_minutes_per_month"]),
            markup_escape(printable(", ".join(w["users"]))),
            markup_escape(printable("; ".join(f"{l['from_step']}.{l['output']} -> {l['to_step']}.{l['parameter']}" for l in w["links"])) or NO_LINKS),
            markup_escape(", ".join(a["name"] for a in w["varying"]) or "-"),
        )
    console.print(table)
    console.print("(ctstack hints --script DIR writes each as a bash script)", style="dim")


SCRIPT_MARK = "# Written by ctstack hints at "  # the second line of every script: how stale ones are known
_OWN_FILE = re.compile(r"^\d{2,}-[a-z0-9-]+\.(sh|policy\.json)$")


@dataclass
class WrittenScripts:
    written: list[Path]
    removed: list[Path]  # ctstack's own scripts (and policies) from earlier runs not written again


def write_scripts(hints: Hints, directory: str | os.PathLike, top: int = DEFAULT_SCRIPTS) -> WrittenScripts:
    """One bash script per top workflow in ``directory``, named by rank and a bounded slug.

    The folder is created 0700 when it does not exist; an existing one keeps its mode. Each
    file is written 0700 (policies 0600) under a fresh name with O_CREAT|O_EXCL|O_NOFOLLOW and
    renamed into place, so a symlink at a script's path is replaced, never followed. Scripts
    from earlier runs (ctstack's names and header) that this run does not write are removed."""
    target = Path(directory)
    try:
        try:
            target.mkdir(mode=0o700, parents=True)
        except FileExistsError:
            if not target.is_dir():
                raise CtstackError(f"Cannot write scripts to {target}: it exists and is not a folder.") from None
        folder = os.open(target, os.O_RDONLY | os.O_DIRECTORY)
        try:
            return _write_into(hints, target, folder, top)
        finally:
            os.close(folder)
    except OSError as err:
        raise CtstackError(f"Cannot write scripts to {target}: {err.strerror or err}.") from None


def _write_into(hints: Hints, target: Path, folder: int, top: int) -> WrittenScripts:
    stamp = iso(datetime.now(timezone.utc))
    written: list[str] = []
    for rank, workflow in enumerate(hints.workflows[:top] if top > 0 else hints.workflows, 1):
        name = f"{rank:02d}-{workflow['name']}.sh"
        shebang, rest = workflow["script"].split("\n", 1)
        header = f"{SCRIPT_MARK}{stamp} from {printable(hints.source or 'CloudTrail')}."
        _write_file(folder, name, f"{shebang}\n{header}\n{rest}", 0o700)
        written.append(name)
        if (workflow.get("policy") or {}).get("Statement"):  # a workflow done in the console only needs none
            policy_name = name.removesuffix(".sh") + ".policy.json"
            _write_file(folder, policy_name, json.dumps(workflow["policy"], indent=2) + "\n", 0o600)
            written.append(policy_name)
    removed = []
    for entry in sorted(os.listdir(folder)):
        if entry in written or not _OWN_FILE.match(entry) or not _is_ours(folder, entry):
            continue
        os.unlink(entry, dir_fd=folder)
        removed.append(target / entry)
    return WrittenScripts([target / n for n in written if n.endswith(".sh")], removed)


def _write_file(folder: int, name: str, text: str, mode: int) -> None:
    temporary = f".{name}.{secrets.token_hex(8)}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode, dir_fd=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            os.fchmod(out.fileno(), mode)  # whatever the umask
            out.write(text)
        os.rename(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=folder)
        raise


def _is_ours(folder: int, name: str) -> bool:
    """A regular file ctstack wrote: a script with its header, or a policy beside one."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder)
    except OSError:
        return False
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return False
        head = f.read(4096)
    if name.endswith(".sh"):
        return head.split(b"\n")[1:2] != [] and head.split(b"\n")[1].startswith(SCRIPT_MARK.encode())
    return head.lstrip().startswith(b'{\n  "Version": "2012-10-17"')


def automation_html(hints: Hints) -> str:
    """The report's section of ready commands."""
    rows = []
    for rank, c in enumerate(hints.candidates, 1):
        if c.automation:
            body = (f"<code class=\"cmd\">{escape(c.automation['cli'])}</code><small>{escape(_status(c.automation))}</small>"
                    f"{_policy_html(c.automation)}")
        else:
            body = f'<span class="badge">{escape(c.automation_note or "")}</span>'
        rows.append(f'<tr class="automation"><td class="num">{rank}</td><td><b>{escape(c.action)}</b></td>'
                    f'<td class="num">{minutes_text(c.console_minutes_per_month)}</td><td>{body}</td></tr>')
    if not rows:
        return ""
    return (
        '<section id="automation"><h2>The same changes as commands</h2>'
        f'<p class="sub">The latest arguments of each action, checked against botocore\'s model; from the {hints.sample_per_user} most recent events per action and user.'
        f'{_failed_sentence(hints)}</p>'
        '<table><thead><tr><th class="num">#</th><th>action</th><th class="num">console min/month</th><th>AWS CLI with arguments</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )


def _failed_sentence(hints: Hints) -> str:
    if not hints.failed_changes:
        return ""
    return (f" {hints.failed_changes:,} console change{'' if hints.failed_changes == 1 else 's'} failed (errorCode: denied or refused): "
            "not counted, never a command.")


def _policy_html(item: dict) -> str:
    """The IAM policy a command or a script needs, folded, with what is not precise."""
    notes = "".join(f"<li>{escape(n)}</li>" for n in item.get("policy_notes") or [])
    return (f'<details class="policy"><summary>IAM policy it needs</summary><pre>{escape(json.dumps(item["policy"], indent=2))}</pre>'
            f'{f"<ul>{notes}</ul>" if notes else ""}</details>')


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
            f'<td class="num">{w["occurrences"]:,}</td><td class="num">{w["days"]:,}</td>'
            f'<td class="num">{minutes_text(w["console_minutes_per_month"])}</td><td>{escape(", ".join(w["users"]))}</td>'
            f"<td>{links}{_policy_html(w)}</td></tr>"
        )
    return (
        '<section id="workflows"><h2>Repeated console workflows</h2>'
        '<p class="sub">The same steps in one console session, again and again; links are ids a step created and a later step used. '
        "<code>ctstack hints --script DIR</code> writes each as a bash script.</p>"
        '<table><thead><tr><th class="num">#</th><th>steps</th><th class="num">times</th><th class="num">days</th><th class="num">console min/month</th><th>users</th><th>links</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )
