"""What the command line prints: error sentences and exit codes, import and status summaries,
progress lines; terminal text only (the commands in provision.cli.commands call these)."""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from provision.cli.progress import stderr_console
from provision.core import interrupt, settings
from provision.core.urls import display_url
from provision.core.errors import CtstackError
from provision.core.wording import number, plural, skipped_notes
from provision.demo.console_work import DAYS
from provision.demo.demo_set import DemoWritten
from provision.sources.filters import Filters
from provision.stack import lifecycle as stack
from provision.stack.provisioning import ProvisionResult
err_console = stderr_console()

F = TypeVar("F", bound=Callable)


# What a command interrupted by a signal (outside a clean stop of its own) leaves undone.
UNDONE_ON_INTERRUPT = {
    "hints": "nothing was printed; run the same command again.",
    "report": "no report was written; run the same command again.",
    "up": "what was started keeps running; run the same command again to finish (it picks up where this one stopped).",
    "import": "nothing was imported; run the same command again.",
    "reflag": "nothing was re-flagged; run the same command again.",
}


def user_errors(func: F) -> F:
    """Turn a CtstackError into one red sentence on stderr and its exit code, no traceback;
    a signal (Ctrl-C, SIGTERM, SIGHUP) into one sentence and 128 + its number."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            with interrupt.handled():
                return func(*args, **kwargs)
        except CtstackError as err:
            tell(f"[bold red]Error:[/] {escape(str(err))}")
            raise typer.Exit(err.exit_code) from None
        except interrupt.Interrupted as stopped:
            undone = UNDONE_ON_INTERRUPT.get(func.__name__.rstrip("_"), "run the same command again.")
            tell(f"[bold yellow]Interrupted[/] by {escape(interrupt.signal_words(stopped.signum))}: {undone}")
            raise typer.Exit(interrupt.exit_code(stopped.signum)) from None

    return wrapper  # type: ignore[return-value]


def exit_after_signal() -> typer.Exit:
    """The exit of a run a signal stopped: 128 + the signal's number (1 if none was recorded)."""
    signum = interrupt.received()
    return typer.Exit(interrupt.exit_code(signum) if signum is not None else 1)


def tell(markup: str) -> None:
    """One sentence on stderr; after SIGHUP there may be no terminal to write to."""
    try:
        err_console.print(markup, highlight=False, soft_wrap=True)
    except OSError:
        pass



def print_import_summary(summary, console: Console, filters: Filters | None = None) -> None:
    from rich.table import Table

    table = Table(title="ctstack import", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    rows = [
        ("files read", summary.files_read), ("files skipped", summary.files_skipped),
        ("files failed", summary.files_failed), ("events read", summary.events_read),
        ("events indexed", summary.events_indexed), ("already present", summary.events_duplicate),
        ("events failed", summary.events_failed),
        *([("events filtered out", summary.events_filtered)] if filters else []),
        *([("outcome unknown", summary.events_unknown)] if summary.events_unknown else []),
        ("events/s", f"{summary.events_read / summary.seconds:,.0f}" if summary.seconds else "-"),
        ("seconds", f"{summary.seconds:.1f}"),
    ]
    rows += [(key.replace("_", " "), value) for key, value in summary.extra.items()]
    for name, value in rows:
        table.add_row(name, number(value) if isinstance(value, int) and not isinstance(value, bool) else escape(str(value)))
    console.print(table)
    for note in skipped_notes(summary.skipped_files):
        console.print(note, highlight=False)
    if summary.skipped_files:
        console.print("(--format json lists every skipped file with its reason)", style="dim")
    for entry in summary.failed_files:
        console.print(f"[red]failed[/] {escape(entry['path'])}: {escape(entry['reason'])}", highlight=False)
    for reason, count in summary.failure_reasons.items():
        console.print(f"[red]{plural(count, 'event')} failed:[/] {escape(reason)}", highlight=False)
    why = _why_nothing_imported(summary, filters)
    if why:
        console.print(why, style="yellow", markup=False, highlight=False)
    if summary.events_unknown:
        from provision.ingest.summary import UNKNOWN

        console.print(f"[yellow]{plural(summary.events_unknown, 'event')}:[/] {UNKNOWN}", highlight=False)
    if summary.dead_letter:
        console.print(f"Failed events and their reasons: {summary.dead_letter}", markup=False, highlight=False)
    if summary.interrupted:
        console.print(f"[bold yellow]{escape(summary.aborted[:1].upper() + summary.aborted[1:])}:[/] {escape(interrupted_counts(summary))}; "
                      "files not yet read were left alone. Run the same command to finish (events already present are counted, not doubled).",
                      highlight=False)
    elif summary.aborted:
        console.print(f"[bold red]Import stopped:[/] {escape(summary.aborted)}", highlight=False)


def interrupted_counts(summary) -> str:
    """ "46,447 events indexed, 0 already present, 0 failed of 60,463 read" """
    return (f"{number(summary.events_indexed)} events indexed, {number(summary.events_duplicate)} already present, "
            f"{number(summary.events_failed)} failed of {number(summary.events_read)} read")


@contextlib.contextmanager
def no_terminal_is_fine() -> Iterator[None]:
    """After SIGHUP the terminal may be gone: writing to it fails, and that must not turn
    into a traceback (the dead-letter file and the exit code still say what happened)."""
    try:
        yield
    except OSError:
        if interrupt.received() is None:
            raise


def _why_nothing_imported(summary, filters: Filters | None) -> str | None:
    """One plain sentence when an import brought in nothing new, saying why."""
    if summary.events_indexed or summary.events_duplicate or summary.events_failed:
        return None
    unchanged = summary.extra.get("files_unchanged")
    if unchanged and not summary.events_read and not summary.files_failed:  # other files found were skipped by name (above)
        found = "the log file found was imported by an earlier run and has" if unchanged == 1 else \
            f"the {unchanged:,} log files found were imported by earlier runs and have"
        return f"Nothing new: {found} not changed since (--full reads them again)."
    if not summary.files_read:
        earlier = summary.extra.get("objects_skipped_already_imported")
        if earlier:
            listed = "the object listed was" if earlier == 1 else f"the {earlier:,} objects listed were"
            return f"Nothing new: {listed} imported by earlier runs (--full imports them again)."
        return "No CloudTrail files were found in the sources: nothing was imported."
    if not summary.events_read:
        return f"No events: {'the file was' if summary.files_read == 1 else 'every file was'} skipped or could not be read (above)."
    if summary.events_filtered == summary.events_read:
        return f"None of the {plural(summary.events_read, 'event')} read passes the filters ({filters.describe() if filters else 'none'}): nothing was imported."
    return None


def round_line(report: dict) -> str:
    from provision.ingest.continuous import OK, format_lag

    text = (f"round {report['round']} at {report['at'][11:19]}Z: {report.get('objects_downloaded', 0):,} objects, "
            f"{report.get('events_read', 0):,} events ({report.get('events_indexed', 0):,} new, {report.get('events_failed', 0):,} failed), "
            f"lag {format_lag(report.get('lag_seconds'))}")
    if report["state"] != OK:
        text += f"  [{report['state']}: {report.get('error')}]"
    if report.get("next_round_in"):
        text += f"; next round in {report['next_round_in']:.0f} s"
    return text




class RichReporter:
    """`ctstack up`'s progress: steps as lines, health waits on one live status line (stderr)."""

    def __init__(self, status) -> None:
        self.status = status

    def step(self, message: str) -> None:
        err_console.print(message, markup=False, highlight=False)
        self.status.update(escape(message))

    def progress(self, probe) -> None:
        mark = "[green]ready[/]" if probe.ready else escape(probe.state)
        self.status.update(f"Waiting for {probe.service}: {mark} ({probe.elapsed:.0f} s)")
        if probe.ready:
            err_console.print(f"{probe.service} is ready ({escape(probe.state)}, {probe.elapsed:.0f} s).", highlight=False)

# What `up` points to when Docker is missing: everything that works without it.
WITHOUT_DOCKER = (
    "Without Docker: `ctstack hints ./logs/` and `ctstack report ./logs/` read CloudTrail files (or s3:// URLs) "
    "directly, and `ctstack up --es-url URL --sample` uses an Elasticsearch you already run. "
    "No logs at hand? `ctstack demo ./demo-logs` writes the demo set (then `ctstack hints ./demo-logs --workflows`)."
)


def print_status(report: "stack.StackStatus") -> None:
    if report.engine != "not checked":
        typer.echo(f"Docker engine: {report.engine}")
        for c in report.containers:
            typer.echo(f"  {c['error']}" if "error" in c else f"  {c['service']:<14} {c['state']:<10} {c['health']}")
    es = report.elasticsearch
    if es.get("reachable"):
        typer.echo(f"Elasticsearch {es['version']} at {es['url']}: {es['cluster_health']}")
        documents = es.get("documents")
        typer.echo(f"  CloudTrail events: {number(documents) if isinstance(documents, int) else '?'}   newest event: {es.get('newest_event') or '-'}")
    else:
        # The error is a sentence naming the URL already: printed as it is, not nested in another.
        typer.echo(es.get("error") or f"Elasticsearch at {es['url']}: not reachable.")
    if report.kibana:
        kb = report.kibana
        typer.echo(f"Kibana at {kb['url']}: {kb.get('level') or kb.get('error')}")
    if report.credentials_file:
        typer.echo(f"Credentials file: {report.credentials_file}")
    typer.echo(f"Compose file: {report.compose_file}")


def exit_if_files_failed(result) -> None:
    """Exit 1, as `import` does, when a file could not be read or was read only in part (or a
    folder could not be listed): the hints are then of fewer events than the sources hold."""
    failed = result.failed_files or ()
    if failed:
        first = failed[0]
        more = f" and {len(failed) - 1:,} more" if len(failed) > 1 else ""
        err_console.print(f"{plural(len(failed), 'file')} could not be read in full ({first['path']}: {first['reason']}{more}); "
                          "the results leave their events out.", markup=False, highlight=False)
        raise typer.Exit(1)


def print_automation(result, workflows: bool) -> None:
    from provision.report import automation_output

    automation_output.print_automation(result, Console())
    if workflows:
        automation_output.print_workflows(result, Console())


def write_workflow_scripts(result, script_dir: Path | None) -> None:
    if script_dir is None:
        return
    from provision.report.automation_output import write_scripts

    done = write_scripts(result, script_dir)
    paths = done.written
    stale = f"; {len(done.removed):,} stale from an earlier run removed" if done.removed else ""
    err_console.print(f"{len(paths):,} workflow script{'' if len(paths) == 1 else 's'} written to {script_dir}{stale}.", markup=False, highlight=False)


def print_up_result(result: stack.UpResult, dashboard_url: str | None) -> None:
    """Where the stack is, its dashboard (on the imported events' time range when there are
    some), the credentials file and what was imported; an interrupted import says so."""
    typer.echo(f"Elasticsearch: {display_url(result.es_url)}")
    if result.kibana_url:
        typer.echo(f"Kibana:        {display_url(result.kibana_url)}" + (f"  (user {settings.LOCAL_ES_USER})" if result.local else ""))
    if result.kibana_skipped:
        typer.echo(result.kibana_skipped)
    if dashboard_url:
        # Until events are imported its panels have nothing to show.
        typer.echo(f"Dashboard:     {display_url(dashboard_url)}" + ("" if result.imported else "  (its panels fill after the first `ctstack import`)"))
    if result.credentials_file:
        typer.echo(f"Credentials:   {result.credentials_file}  (ELASTIC_PASSWORD; mode 0600)")
    if result.imported:
        i = result.imported
        unchanged = (getattr(i, "extra", None) or {}).get("files_unchanged")
        typer.echo(f"Imported:      {i.events_indexed:,} events indexed, {i.events_duplicate:,} already present, {i.events_failed:,} failed, from {plural(i.files_read, 'file')}"
                   + (f" ({plural(unchanged, 'file')} unchanged since an earlier import, not read again)" if unchanged else ""))
        if getattr(i, "dead_letter", None):
            typer.echo(f"Failed events: {i.dead_letter}")
        if i.interrupted:
            tell(f"[bold yellow]{escape((i.aborted or '')[:1].upper() + (i.aborted or '')[1:])}:[/] {escape(interrupted_counts(i))}; "
                 "run the same command to finish (events already present are counted, not doubled).")


def print_demo_written(folder: Path, written: DemoWritten, events: int) -> None:
    """What `ctstack demo` wrote, and the next commands to run on it."""
    typer.echo(f"Wrote {plural(written.stats.events, 'event')} in {plural(written.stats.files, 'file')} to {folder}: {DAYS} days of console work "
               f"up to {written.start:%Y-%m-%d}, then {number(events)} events of everyday traffic.")
    typer.echo(f"Next: ctstack hints {folder} --workflows   (no Elasticsearch needed)")
    typer.echo(f"      ctstack report {folder}             (an HTML page)")
    typer.echo(f"      ctstack import {folder}             (into Elasticsearch; `ctstack up --sample` does this for the local stack)")


def print_provisioned(result: ProvisionResult, es_url: str, skipped_note: str | None, dashboard_url: str | None) -> None:
    """What `ctstack provision` installed where, why Kibana was left out if it was, and the dashboard."""
    typer.echo(f"Index template for {result.index_prefix}-* installed in Elasticsearch {result.es_version} at {display_url(es_url)}.")
    if skipped_note:
        typer.echo(skipped_note)
    if result.kibana_version:
        names = ", ".join(f"{o['type']} {o['destination_id']}" for o in result.imported)
        typer.echo(f"Kibana {result.kibana_version}: imported {len(result.imported)} saved objects into space {result.space or 'default'} ({names}).")
        typer.echo(f"Dashboard: {display_url(dashboard_url or '')}")
