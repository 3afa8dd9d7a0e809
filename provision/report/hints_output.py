"""Hints as text: a rich table for people, JSON / CSV / Markdown for pipelines and pull requests."""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Literal, get_args

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from provision.cloudtrail.commandline import printable
from provision.analysis.hints import Candidate, Hints
from provision.core.wording import plural, skipped_notes

HintsFormat = Literal["table", "json", "csv", "markdown", "sh"]
FORMATS = get_args(HintsFormat)
NO_CLI = "no public API (console only)"
CSV_COLUMNS = ("provider", "action", "count", "users", "days_active", "first_seen", "last_seen", "top_users", "cli", "console_minutes_per_month")


def summary_line(hints: Hints) -> str:
    line = (
        f"{plural(hints.events_read, 'event')} read, {hints.distinct_events:,} distinct{' within the filters' if hints.filters else ''}, "
        f"{hints.console_events:,} from the console, {plural(hints.automation_candidates, 'console change')} "
        f"in {plural(hints.candidate_actions, 'action')}"
    )
    if hints.failed_changes:
        line += f"; {plural(hints.failed_changes, 'failed console change')} (errorCode: denied or refused) not counted"
    return line + (f" ({hints.filters})" if hints.filters else "")


def nothing_found(hints: Hints) -> str:
    """Why there is no candidate, in one sentence: nothing read, everything filtered out, no
    console events, or no console change among them."""
    if not hints.events_read:
        if hints.files_read is None:
            return f"Elasticsearch holds no CloudTrail events in {hints.source}: nothing to automate here."
        if not hints.files_read:
            return "No CloudTrail files were found in the sources: nothing to automate here."
        return "No events: every file was skipped or could not be read (see below)."
    if not hints.distinct_events:
        if hints.filters:
            return f"None of the {plural(hints.events_read, 'event')} read passes the filters ({hints.filters}): nothing to automate here."
        return "No event could be counted (see below): nothing to automate here."
    if not hints.console_events:
        return f"None of the {plural(hints.distinct_events, 'distinct event')} was made from the console: nothing to automate here."
    return "No console action that changes something was found: nothing to automate here."


def top_users_text(candidate: Candidate) -> str:
    return ", ".join(f"{printable(u['user'])} ({u['count']:,})" for u in candidate.top_users)


def print_table(hints: Hints, console: Console) -> None:
    if hints.candidates:
        _print_candidates(hints, console)
    else:  # a sentence, not an empty table
        console.print(summary_line(hints) + ".", markup=False, highlight=False)
        console.print(nothing_found(hints), markup=False, highlight=False)
    # Problems by kind, not file by file: folders often hold READMEs and licences too.
    notes = skipped_notes(hints.skipped_files)
    notes += [f"[red]could not read[/] {escape(entry['path'])}: {escape(entry['reason'])}" for entry in hints.failed_files]
    notes += [f"[yellow]{plural(n, 'event')} not counted:[/] {escape(reason)}" for reason, n in hints.unusable_reasons.items()]
    for note in notes:
        console.print(note, highlight=False)
    if hints.skipped_files:
        console.print("(--format json lists every skipped file with its reason)", style="dim")


def _print_candidates(hints: Hints, console: Console) -> None:
    # Narrower terminals drop the service, first seen and time of day, then last seen and users.
    wide, medium = console.width >= 150, console.width >= 110
    table = Table(title="Console actions that change things: automate these first", title_justify="left", caption=summary_line(hints), caption_justify="left")
    columns: list[tuple[str, dict[str, Any]]] = [
        ("#", {"justify": "right", "style": "dim"}),
        ("action", {"style": "bold", "overflow": "fold", "min_width": 14}),
        *([("service", {"style": "dim"})] if wide else []),
        ("count", {"justify": "right"}),
        ("users", {"justify": "right"}),
        ("days", {"justify": "right"}),
        ("min/month", {"justify": "right"}),
        *([("first seen", {"no_wrap": True})] if wide else []),
        *([("last seen", {"no_wrap": True}), ("top users", {})] if medium else []),
        ("AWS CLI", {"overflow": "fold", "min_width": 20}),
    ]
    for header, options in columns:
        table.add_column(header, **options)
    for rank, c in enumerate(hints.candidates, 1):
        when = _minute if wide else (lambda iso_time: iso_time[:10])
        cells = [
            str(rank), escape(printable(c.action)), *([escape(printable(c.provider.removesuffix(".amazonaws.com")))] if wide else []),
            f"{c.count:,}", f"{c.users:,}", f"{c.days_active:,}", minutes_text(c.console_minutes_per_month),
            *([when(c.first_seen)] if wide else []), *([when(c.last_seen), escape(top_users_text(c))] if medium else []),
            f"[green]{escape(printable(c.cli))}[/]" if c.cli else f"[yellow]{NO_CLI}[/]",
        ]
        table.add_row(*cells)
    console.print(table)


TERMINAL_DRIFT = 10  # drifted resources the terminal shows (JSON has them all, up to --top)


def managed_by_text(item: dict) -> str:
    """`cloudformation web-prod`, `terraform`: the tool and, when known, the stack."""
    managed = item["managed_by"]
    return printable(managed["tool"] + (f" {managed['stack']}" if managed.get("stack") else ""))


def drift_summary(hints: Hints) -> str:
    return (f"{plural(hints.drift_changes, 'console change')} to {plural(hints.drift_resources, 'resource')} "
            "that automation manages (CloudFormation, Terraform, Pulumi, other automation)")


def print_drift(hints: Hints, console: Console) -> None:
    """The top drifted resources: console changes automation will overwrite or no longer knows about
    (nothing when there are none: the JSON says 0)."""
    if not hints.drift:
        return
    table = Table(title="Console changes to resources automation manages (drift)", title_justify="left",
                  caption=drift_summary(hints), caption_justify="left")
    for header, options in (("resource", {"overflow": "fold", "min_width": 20}), ("managed by", {}), ("console changes", {"justify": "right"}),
                            ("who", {"overflow": "fold"}), ("last", {"no_wrap": True}), ("actions", {"overflow": "fold"}),
                            ("next deploy", {})):
        table.add_column(header, **options)
    for item in hints.drift[:TERMINAL_DRIFT]:
        users = ", ".join(f"{printable(u['user'])} ({u['count']})" for u in item["console_users"])
        actions = ", ".join(dict.fromkeys(printable(a["action"]) for a in item["console_actions"]))
        after = item["automation_after"]
        table.add_row(escape(printable(item["resource"])), escape(managed_by_text(item)), f"{item['console_changes']:,}", escape(users),
                      _minute(item["last_console_change"]), escape(actions),
                      f"[yellow]overwrote it {_minute(after['at'])}[/]" if after else "none since")
    console.print(table)


def minutes_text(minutes: float | None) -> str:
    """Estimated console minutes per month: `~42`, `-` when there is no estimate."""
    return "-" if minutes is None else f"~{minutes:,.0f}"


def _minute(iso_time: str) -> str:
    return iso_time[:16].replace("T", " ")  # 2024-08-01T10:00:00Z -> 2024-08-01 10:00 (UTC)


def to_json(hints: Hints) -> str:
    return json.dumps(hints.to_json(), indent=2)


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A cell a spreadsheet shows as text: control and bidirectional characters removed, and
    one starting like a formula (= + - @, tab, CR) gets a leading ' (OWASP's advice against
    CSV injection). Numbers pass as they are."""
    if isinstance(value, str):
        value = printable(value)
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(hints: Hints) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for c in hints.candidates:
        row = [c.provider, c.action, c.count, c.users, c.days_active, c.first_seen, c.last_seen, top_users_text(c), c.cli or "",
               "" if c.console_minutes_per_month is None else c.console_minutes_per_month]
        writer.writerow([csv_cell(cell) for cell in row])
    return out.getvalue()


_MARKDOWN_CELL = str.maketrans({"|": "\\|", "<": "&lt;", ">": "&gt;", "&": "&amp;", "\r": " ", "\n": " ", "`": "\\`"})


def markdown_cell(text: str) -> str:
    """Text that stays inside one table cell as text: no | ending the cell, no raw HTML, no
    newline ending the row, no backtick opening code, no control or bidirectional character."""
    return printable(text.translate(_MARKDOWN_CELL))


def _markdown_code(text: str) -> str:
    """A code span in a table cell: inside one, HTML is shown as text already, but | still
    ends the cell and a newline the row; a backtick in the text needs a longer fence."""
    text = printable(text.replace("|", "\\|").replace("\r", " ").replace("\n", " "))
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def to_markdown(hints: Hints) -> str:
    lines = [
        "| # | action | service | count | users | days | min/month | first seen | last seen | top users | AWS CLI |",
        "|--:|---|---|--:|--:|--:|--:|---|---|---|---|",
    ]
    for rank, c in enumerate(hints.candidates, 1):
        cli = _markdown_code(c.cli) if c.cli else f"_{NO_CLI}_"
        cells = [markdown_cell(cell) for cell in (str(rank), c.action, c.provider, f"{c.count:,}", f"{c.users:,}", f"{c.days_active:,}",
                                                  minutes_text(c.console_minutes_per_month), c.first_seen, c.last_seen, top_users_text(c))]
        lines.append("| " + " | ".join([*cells, cli]) + " |")
    return "\n".join([markdown_cell(summary_line(hints)) + ".", "", *lines, *_markdown_drift(hints)]) + "\n"


def _markdown_drift(hints: Hints) -> list[str]:
    """The drifted resources as a second table (none: no lines)."""
    if not hints.drift:
        return []
    lines = ["", f"**Drift:** {markdown_cell(drift_summary(hints))}.", "",
             "| resource | managed by | console changes | who | last | actions | next deploy |", "|---|---|--:|---|---|---|---|"]
    for item in hints.drift:
        after = item["automation_after"]
        cells = [managed_by_text(item), f"{item['console_changes']:,}",
                 ", ".join(f"{u['user']} ({u['count']})" for u in item["console_users"]), item["last_console_change"],
                 ", ".join(dict.fromkeys(a["action"] for a in item["console_actions"])), f"overwritten {after['at']}" if after else "not since"]
        lines.append("| " + " | ".join([_markdown_code(item["resource"]), *(markdown_cell(c) for c in cells)]) + " |")
    return lines


def to_sh(hints: Hints) -> str:
    """Every candidate's command and every workflow's script as plain shell lines with #
    comments: a command per candidate to copy, and each workflow as a function
    (`workflow_1 ARGS...`, run in a subshell so its `exit` ends only itself)."""
    lines = ["#!/usr/bin/env bash", "# shellcheck disable=SC2016  # logged text stays in single quotes, as text",
             f"# ctstack hints: {printable(summary_line(hints))}.",
             "# Each command below repeats the latest console call of its action: copy the ones you need.", ""]
    for rank, c in enumerate(hints.candidates, 1):
        lines.append(f"# {rank}. {printable(c.action)} ({c.count:,} times, {plural(c.users, 'user')})"
                     + ("" if c.automation else f": {printable(c.automation_note or NO_CLI)}"))
        if c.automation:
            lines.append(c.automation["cli"])
    for rank, w in enumerate(hints.workflows, 1):
        body = w["script"].split("\n", 1)[1].rstrip("\n")
        lines += ["", f"# Workflow {rank}: {w['name']} (run: workflow_{rank} ARGUMENTS; DRY_RUN=1 workflow_{rank} ... prints only)",
                  f"workflow_{rank}() (", body, ")"]
    return "\n".join(lines) + "\n"


RENDERERS = {"json": to_json, "csv": to_csv, "markdown": to_markdown, "sh": to_sh}
