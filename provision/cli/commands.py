"""The `ctstack` command line: each command is a few lines over a library function."""

from __future__ import annotations

import contextlib
import functools
import json
import os
from pathlib import Path
from typing import Annotated, Callable, Iterator, Literal, Optional, TypeVar

import typer
import typer.core
from rich.console import Console
from rich.markup import escape

from provision import __version__
from provision.stack import health, lifecycle as stack
from provision.core import interrupt, settings
from provision.cloudtrail.documents import PROFILES
from provision.cli.progress import ImportProgress, stderr_console
from provision.cloudtrail.records import MAX_FILE_BYTES
from provision.core.connection import EsConfig, display_url, parse_url, resolve_es_config
from provision.core.errors import CtstackError
from provision.sources.filters import Filters
from provision.demo.generate import SAMPLE_EVENTS
from provision.report.hints_output import FORMATS as HINTS_FORMATS
from provision.core.wording import nothing_readable, number, plural, skipped_notes

# -- one option vocabulary -----------------------------------------------------------------------
# Old spellings, accepted for one more release (then removed) with a note on stderr: the
# Elasticsearch connection options all start with --es- (as their CTSTACK_ES_* variables do;
# --user alone filters AWS users in hints and report), and output formats are --format.
_ES_CONNECTION_ALIASES = {"--api-key": ["--es-api-key"], "--password": ["--es-password"], "--ca-certs": ["--es-ca-certs"]}
_JSON_ALIAS = {"--json": ["--format", "json"]}
OLD_SPELLINGS: dict[str, dict[str, list[str]]] = {
    **{command: {**_ES_CONNECTION_ALIASES, "--user": ["--es-user"]} for command in ("up", "provision")},
    **{command: {**_ES_CONNECTION_ALIASES, "--user": ["--es-user"], **_JSON_ALIAS} for command in ("import", "status", "reflag")},
    **{command: dict(_ES_CONNECTION_ALIASES) for command in ("hints", "report")},
}


def new_spelling(command: str, args: list[str]) -> tuple[list[str], list[str]]:
    """``args`` with old option spellings replaced (``--user x`` and ``--user=x`` alike),
    and a note for each old spelling used. Stops at ``--`` (what follows is not options)."""
    aliases = OLD_SPELLINGS.get(command, {})
    out: list[str] = []
    notes: list[str] = []
    for position, arg in enumerate(args):
        if arg == "--":
            out += args[position:]
            break
        name, equals, value = arg.partition("=")
        new = aliases.get(name)
        if new is None:
            out.append(arg)
            continue
        out += new[:-1] + [f"{new[-1]}={value}"] if equals else new
        note = f"Note: {name} is now {' '.join(new)}; the old spelling works until the next release."
        if note not in notes:
            notes.append(note)
    return out, notes


class _Vocabulary(typer.core.TyperGroup):
    """Reads the old option spellings as the new ones (see OLD_SPELLINGS), from the command
    line and from Python (CliRunner) alike."""

    def resolve_command(self, ctx, args):
        name, command, rest = super().resolve_command(ctx, args)
        rest, notes = new_spelling(name or "", rest)
        for note in notes:
            err_console.print(note, style="yellow", markup=False, highlight=False)
        return name, command, rest


SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(value: str | int) -> int:
    """A size in bytes: 1073741824, or with a binary unit: 64k, 512m, 1g, 1.5g (any case, optional b)."""
    if isinstance(value, int):
        return value
    text = str(value).strip().lower().removesuffix("b").removesuffix("i")
    number_part, unit = (text[:-1], text[-1]) if text and text[-1] in SIZE_UNITS else (text, "")
    try:
        size = int(float(number_part) * SIZE_UNITS[unit]) if number_part else 0
    except ValueError:
        size = 0
    if size < 1:
        raise typer.BadParameter(f"{value!r} is not a size: use a number of bytes, or one with k, m or g (512m, 1g).")
    return size


def size_text(size: int) -> str:
    """1073741824 -> "1g": how a size default reads in --help."""
    for unit in ("t", "g", "m", "k"):
        if size % SIZE_UNITS[unit] == 0:
            return f"{size // SIZE_UNITS[unit]}{unit}"
    return str(size)


app = typer.Typer(
    cls=_Vocabulary,
    name="ctstack",
    help="Turn AWS CloudTrail logs into answers: which console actions do people repeat by hand?",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
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
            _tell(f"[bold red]Error:[/] {escape(str(err))}")
            raise typer.Exit(err.exit_code) from None
        except interrupt.Interrupted as stopped:
            undone = UNDONE_ON_INTERRUPT.get(func.__name__.rstrip("_"), "run the same command again.")
            _tell(f"[bold yellow]Interrupted[/] by {escape(interrupt.signal_words(stopped.signum))}: {undone}")
            raise typer.Exit(interrupt.exit_code(stopped.signum)) from None

    return wrapper  # type: ignore[return-value]


def _tell(markup: str) -> None:
    """One sentence on stderr; after SIGHUP there may be no terminal to write to."""
    try:
        err_console.print(markup, highlight=False, soft_wrap=True)
    except OSError:
        pass


IMPORT_FORMATS = ("table", "json")
TEXT_FORMATS = ("text", "json")


MAX_FILE_SIZE = size_text(MAX_FILE_BYTES)  # "1g": the default as --help shows it

# Connection options shared by every command that talks to Elasticsearch.
EsUrl = Annotated[Optional[str], typer.Option("--es-url", help="Elasticsearch URL (env CTSTACK_ES_URL; default: the local stack).", show_default=False)]
ApiKey = Annotated[Optional[str], typer.Option("--es-api-key", help="Elasticsearch API key (env CTSTACK_ES_API_KEY; was --api-key).", show_default=False)]
EsUser = Annotated[Optional[str], typer.Option("--es-user", help="Elasticsearch user (env CTSTACK_ES_USER; was --user).", show_default=False)]
EsPassword = Annotated[Optional[str], typer.Option("--es-password", help="Elasticsearch password (env CTSTACK_ES_PASSWORD, which keeps it out of the process list; was --password).", show_default=False)]
CaCerts = Annotated[Optional[str], typer.Option("--es-ca-certs", help="CA bundle for a TLS Elasticsearch (env CTSTACK_ES_CA_CERTS; was --ca-certs).", show_default=False)]
MaxFileBytes = Annotated[int, typer.Option("--max-file-bytes", parser=parse_size, metavar="SIZE",
                                           help="A file that expands to more than this (after gunzip) fails unread, so a gzip bomb cannot take the memory: 1g, 512m or bytes.")]
BulkRequests = Annotated[int, typer.Option("--bulk-requests", min=1, max=64, help="Bulk requests kept in flight at once; more can help a cluster of several nodes (README: Performance).")]
BulkSize = Annotated[int, typer.Option("--bulk-size", min=1, max=100_000, help="Documents per bulk request, at most (and at most 8 MB); smaller suits a small cluster.")]


def es_config(es_url: str | None, api_key: str | None, user: str | None, password: str | None, ca_certs: str | None) -> EsConfig:
    cfg = resolve_es_config(url=es_url, api_key=api_key, user=user, password=password, ca_certs=ca_certs)
    say_if_scheme_added(es_url or os.environ.get("CTSTACK_ES_URL"), where_from(es_url, "--es-url", "CTSTACK_ES_URL"), cfg.url)
    return cfg


def where_from(given: str | None, option: str, env_name: str) -> str:
    """Where a URL came from, for a note about it: the option, or else the environment variable."""
    return option if given else env_name


def say_if_scheme_added(raw: str | None, option: str, url: str) -> None:
    """One line on stderr when a URL without a scheme was read as http://, or one without a
    port got the service's (connection.parse_url's rule)."""
    parsed = parse_url(raw, option) if raw else None
    if parsed and (parsed.scheme_added or parsed.port_added):
        missing = " or ".join(word for word, added in (("scheme", parsed.scheme_added), ("port", parsed.port_added)) if added)
        err_console.print(f"Note: {option} {escape(display_url(raw))} has no {missing}; using {escape(display_url(url))}.", highlight=False)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"ctstack {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Turn AWS CloudTrail logs into answers: which console actions do people repeat by hand?"""


# -- import -------------------------------------------------------------------------------

def _print_summary(summary, console: Console, filters: Filters | None = None) -> None:
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
def _no_terminal_is_fine() -> Iterator[None]:
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
    if not summary.files_read:
        earlier = summary.extra.get("objects_skipped_already_imported")
        if earlier:
            listed = "the object listed was" if earlier == 1 else f"the {earlier:,} objects listed were"
            return f"Nothing new: {listed} imported by earlier runs (--full imports them again)."
        return "No CloudTrail files were found in the sources: nothing was imported."
    if not summary.events_read:
        return f"No events: {'the file was' if summary.files_read == 1 else 'every file was'} skipped or could not be read (above)."
    if summary.events_filtered == summary.events_read:
        return f"None of the {plural(summary.events_read, 'event')} read passes the filters ({filters.describe()}): nothing was imported."
    return None


# Which events count, in import, hints and report alike (provision/sources/filters.py); for s3://
# sources the listing skips what they leave out.
Accounts = Annotated[Optional[list[str]], typer.Option("--account", help="Only events of this AWS account ID (repeatable).", show_default=False)]
Regions = Annotated[Optional[list[str]], typer.Option("--region", help="Only events in this region (repeatable).", show_default=False)]
Since = Annotated[Optional[str], typer.Option("--since", help="From this date or time (2024-08-01, 2024-08-01T12:00Z; UTC) or relative: 12h, 7d, 2w.", show_default=False)]
Until = Annotated[Optional[str], typer.Option("--until", help="Up to this date (the whole day) or time, same forms as --since.", show_default=False)]
S3Insights = Annotated[bool, typer.Option("--insights", help="s3:// only: also import CloudTrail Insights files.")]
S3Profile = Annotated[Optional[str], typer.Option("--profile", help="AWS profile (named or SSO); default: the AWS credential chain (env, config, instance role).", show_default=False)]
S3Workers = Annotated[int, typer.Option("--workers", min=1, max=64, help="Parallel S3 downloads.")]
S3Full = Annotated[bool, typer.Option("--full", help="s3:// only: download every object again, ignoring what earlier runs imported.")]
S3EndpointUrl = Annotated[Optional[str], typer.Option("--endpoint-url", help="S3-compatible endpoint (env CTSTACK_S3_ENDPOINT_URL).", show_default=False)]


def s3_options(sources: list[str], filters: Filters, insights: bool, profile: str | None, workers: int, full: bool,
               endpoint_url: str | None) -> dict:
    """Keyword arguments for provision.sources.s3source.S3Import, validated: its listing skips
    what ``filters`` leave out."""
    from provision.sources.s3layout import is_s3_url

    if (insights or full) and not any(is_s3_url(s) for s in sources):
        raise CtstackError("--insights and --full apply to s3:// sources only.")
    return {"filters": filters.s3_filters(insights), "profile": profile, "workers": workers, "full": full, "endpoint_url": endpoint_url}


Follow = Annotated[bool, typer.Option("--follow", help="s3:// only: keep importing new objects every --interval (today's and yesterday's prefixes) until SIGINT/SIGTERM.")]
Interval = Annotated[str, typer.Option("--interval", metavar="DURATION", help="With --follow: time between rounds (30s, 5m, 1h).")]
SqsQueue = Annotated[Optional[str], typer.Option("--sqs-queue", help="Import the objects named by S3/SNS/CloudTrail notifications on this SQS queue URL, until SIGINT/SIGTERM.", show_default=False)]
ExitWhenEmpty = Annotated[bool, typer.Option("--exit-when-empty", help="With --sqs-queue: stop when the queue holds no message (visible or in flight).")]
PollSeconds = Annotated[int, typer.Option("--poll-seconds", min=0, max=20, help="With --sqs-queue: long-poll wait of each receive.")]


def _follow(cfg: EsConfig, sources: list[str], s3: dict, import_options: dict, interval: str, json_output: bool) -> int:
    """`ctstack import s3://... --follow`: rounds until a signal; a live line or NDJSON per round."""
    from provision.ingest.continuous import StopSwitch, parse_interval
    from provision.ingest.follow import follow
    from provision.cli.progress import LiveLine

    seconds = parse_interval(interval)
    filters = s3.pop("filters")
    stop = StopSwitch()
    with stop.on_signals(), LiveLine(enabled=err_console.is_terminal and not json_output) as line:
        rounds = [0]

        def in_round(summary) -> None:
            line.update(f"round {rounds[0] + 1}: files {summary.files_read:,}  events {summary.events_read:,}  "
                        f"indexed {summary.events_indexed:,}  failed {summary.events_failed:,}")

        def on_round(report: dict) -> None:
            rounds[0] = report["round"]
            if json_output:
                typer.echo(json.dumps(report))
            elif not line.enabled:  # a service's log: one line per round
                err_console.print(_round_line(report), highlight=False, soft_wrap=True, markup=False)
            line.update(_round_line(report))

        result = follow(cfg, sources, filters, interval=seconds, s3_options=s3, stop=stop, on_round=on_round,
                        progress=in_round, **import_options)
    if not json_output:
        err_console.print(_round_line(result.last_round) if result.last_round else "stopped before the first round", highlight=False, markup=False)
        if result.dead_letter:
            err_console.print(f"Failed events and their reasons: {result.dead_letter}", highlight=False, markup=False)
    return 0 if result.ok else 1


def _consume_queue(cfg: EsConfig, queue_url: str, filters, s3: dict, import_options: dict, exit_when_empty: bool,
                   poll_seconds: int, json_output: bool) -> int:
    """`ctstack import --sqs-queue URL`: batches until a signal (or an empty queue); NDJSON per batch."""
    from provision.ingest.continuous import OK, StopSwitch, format_lag
    from provision.cli.progress import LiveLine
    from provision.ingest.sqsqueue import consume

    stop = StopSwitch()
    with stop.on_signals(), LiveLine(enabled=err_console.is_terminal and not json_output) as line:
        def on_batch(report: dict) -> None:
            state = "" if report["state"] == OK else f"  [{report['state']}: {report.get('error')}]"
            text = (f"batch {report['batch']} at {report['at'][11:19]}Z: {report['messages']} messages "
                    f"({report['messages_deleted']} deleted, {report['messages_not_deleted']} kept), "
                    f"{report.get('events_read', 0):,} events, lag {format_lag(report.get('lag_seconds'))}{state}")
            if json_output:
                typer.echo(json.dumps(report))
                return
            line.update(text)
            if not line.enabled:  # a service's log: one line per batch
                err_console.print(text, highlight=False, soft_wrap=True, markup=False)
            for failed in report["failed_messages"]:
                err_console.print(f"message {failed['message_id']} kept (received {failed['receive_count']}x): {failed['reason']}",
                                  highlight=False, soft_wrap=True, markup=False)

        result = consume(cfg, queue_url, filters, s3_options=s3, stop=stop, on_batch=on_batch,
                         exit_when_empty=exit_when_empty, wait_seconds=poll_seconds, **import_options)
    if json_output:
        typer.echo(json.dumps({"summary": result.to_dict()}))
    else:
        totals = result.totals
        err_console.print(f"{totals.get('messages', 0):,} messages: {totals.get('messages_deleted', 0):,} deleted, "
                          f"{totals.get('messages_not_deleted', 0):,} kept on the queue; {totals.get('events_indexed', 0):,} events indexed, "
                          f"{totals.get('events_duplicate', 0):,} already present, {totals.get('events_failed', 0):,} failed",
                          highlight=False, markup=False)
    return 0 if result.ok else 1


def _round_line(report: dict) -> str:
    from provision.ingest.continuous import OK, format_lag

    text = (f"round {report['round']} at {report['at'][11:19]}Z: {report.get('objects_downloaded', 0):,} objects, "
            f"{report.get('events_read', 0):,} events ({report.get('events_indexed', 0):,} new, {report.get('events_failed', 0):,} failed), "
            f"lag {format_lag(report.get('lag_seconds'))}")
    if report["state"] != OK:
        text += f"  [{report['state']}: {report.get('error')}]"
    if report.get("next_round_in"):
        text += f"; next round in {report['next_round_in']:.0f} s"
    return text


@app.command("import")
@user_errors
def import_(
    sources: Annotated[Optional[list[str]], typer.Argument(help="Folders (walked recursively), files, or s3://BUCKET/PREFIX URLs of CloudTrail logs.", show_default=False)] = None,
    output_format: Annotated[Literal[IMPORT_FORMATS], typer.Option("--format",
                                               help="table, or json: one JSON summary on stdout (with --follow/--sqs-queue one line per round or batch).")] = "table",
    fields_profile: Annotated[Literal[PROFILES], typer.Option("--fields", help="What each document keeps (README: fields).")] = "standard",
    keep_access_keys: Annotated[bool, typer.Option("--keep-access-keys", help="Store access key IDs (never stored otherwise).")] = False,
    index_prefix: Annotated[str, typer.Option("--index-prefix", help="Indices are named <prefix>-YYYY.MM.")] = settings.INDEX_PREFIX,
    dead_letter: Annotated[Optional[Path], typer.Option("--dead-letter", help="Where failed events go (NDJSON, 0600; an existing file is refused); default ./ctstack-dead-letter-<time>-<random>.ndjson, kept only when an event failed.", show_default=False)] = None,
    processes: Annotated[Optional[int], typer.Option("--processes", min=0, help="Processes converting events to documents; default one per core, up to 4; 0 converts in the importing process.", show_default=False)] = None,
    max_file_bytes: MaxFileBytes = MAX_FILE_SIZE,  # type: ignore[assignment]  # parse_size reads it
    bulk_requests: BulkRequests = settings.BULK_REQUESTS,
    bulk_size: BulkSize = settings.BULK_SIZE,
    es_url: EsUrl = None, api_key: ApiKey = None, user: EsUser = None, password: EsPassword = None, ca_certs: CaCerts = None,
    account: Accounts = None, region: Regions = None, since: Since = None, until: Until = None, insights: S3Insights = False,
    profile: S3Profile = None, workers: S3Workers = settings.S3_WORKERS, full: S3Full = False, endpoint_url: S3EndpointUrl = None,
    follow: Follow = False, interval: Interval = "5m", sqs_queue: SqsQueue = None, exit_when_empty: ExitWhenEmpty = False,
    poll_seconds: PollSeconds = 20,
) -> None:
    """Import CloudTrail logs into Elasticsearch. Safe to repeat: events already present are counted, not duplicated."""
    from provision.ingest.import_sources import import_sources

    json_output = output_format == "json"
    sources = sources or []
    filters = Filters.from_text(account, region, (), since, until)
    options = s3_options(sources, filters, insights, profile, workers, full, endpoint_url)
    cfg = es_config(es_url, api_key, user, password, ca_certs)
    # Rounds and batches filter events exactly, as a one-shot import does (the listing is pruned too).
    import_options = {"index_prefix": index_prefix, "profile": fields_profile, "keep_access_keys": keep_access_keys,
                      "dead_letter_path": dead_letter, "processes": processes, "max_file_bytes": max_file_bytes,
                      "bulk_requests": bulk_requests, "chunk_size": bulk_size, "event_filters": filters or None}
    if sqs_queue:
        if sources or follow:
            raise CtstackError("--sqs-queue takes no sources and no --follow: the queue names the objects.")
        raise typer.Exit(_consume_queue(cfg, sqs_queue, filters.s3_filters(insights), {"profile": profile, "workers": workers, "endpoint_url": endpoint_url},
                                        import_options, exit_when_empty, poll_seconds, json_output))
    if follow:
        raise typer.Exit(_follow(cfg, sources, options, import_options, interval, json_output))
    try:
        with ImportProgress(enabled=err_console.is_terminal) as progress:
            summary = import_sources(
                cfg, sources, index_prefix=index_prefix, profile=fields_profile,
                keep_access_keys=keep_access_keys, dead_letter_path=dead_letter, progress=progress.update,
                processes=processes, max_file_bytes=max_file_bytes, bulk_requests=bulk_requests, chunk_size=bulk_size,
                s3_options=options, filters=filters or None,
            )
    except CtstackError as err:
        if json_output:  # whoever reads stdout gets an answer too (the sentence also goes to stderr)
            typer.echo(json.dumps({"ok": False, "error": str(err)}))
        raise
    with _no_terminal_is_fine():
        if json_output:
            typer.echo(json.dumps(summary.to_dict()))
        else:
            _print_summary(summary, Console(), filters or None)
    if summary.interrupted:
        raise typer.Exit(interrupt.exit_code(interrupt.received()))
    if not summary.ok or nothing_readable(summary.events_read, summary.skipped_files):
        raise typer.Exit(1)


# --- the local stack: ctstack up / down / status / logs (issue 5) ------------------------------


class _RichReporter:
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


def _on_the_data(url: str, es_cfg: EsConfig, index_prefix: str) -> str:
    """The dashboard URL on the imported events' time range (the saved range, the last 90
    days, may miss them or show them as a sliver); as it was when the range cannot be read."""
    from provision.stack.kibana import with_time_range

    span = stack.elasticsearch_status(es_cfg, index_prefix)
    return with_time_range(url, span.get("oldest_event"), span.get("newest_event"))


def _existing_es(es_url: str | None, api_key: str | None, user: str | None, password: str | None, ca_certs: str | None) -> EsConfig | None:
    """An existing cluster's config when one was named (--es-url or CTSTACK_ES_URL), else None."""
    if es_url or os.environ.get("CTSTACK_ES_URL"):
        return es_config(es_url, api_key, user, password, ca_certs)
    return None


Timeout = Annotated[float, typer.Option("--timeout", min=0, help="Seconds to wait for Elasticsearch and for Kibana to be ready.")]
StackKibanaUrl = Annotated[Optional[str], typer.Option("--kibana-url", help="An existing Kibana to provision, with --es-url (env: CTSTACK_KIBANA_URL).", show_default=False)]
StatusKibanaUrl = Annotated[Optional[str], typer.Option("--kibana-url", help="The Kibana to check (env: CTSTACK_KIBANA_URL; default: the local stack's, none with --es-url).", show_default=False)]
# The local stack's containers (`up`): images by name (a registry mirror's, or scripts/local-images'), and Kibana or not.
StackEsImage = Annotated[Optional[str], typer.Option("--es-image", help=f"Elasticsearch image of the local stack (env {settings.ES_IMAGE_ENV}; default: the last up's, else {settings.OFFICIAL_ES_IMAGE}).", show_default=False)]
StackKibanaImage = Annotated[Optional[str], typer.Option("--kibana-image", help=f"Kibana image of the local stack (env {settings.KIBANA_IMAGE_ENV}; default: the last up's, else {settings.OFFICIAL_KIBANA_IMAGE}).", show_default=False)]
NoKibana = Annotated[bool, typer.Option("--no-kibana", help="Run the local stack's Elasticsearch alone (no Kibana, no dashboard); status and provision follow.")]

# What `up` points to when Docker is missing: everything that works without it.
WITHOUT_DOCKER = (
    "Without Docker: `ctstack hints ./logs/` and `ctstack report ./logs/` read CloudTrail files (or s3:// URLs) "
    "directly, and `ctstack up --es-url URL --sample` uses an Elasticsearch you already run. "
    "No logs at hand? `ctstack demo ./demo-logs` writes the demo set (then `ctstack hints ./demo-logs --workflows`)."
)

# --- ctstack provision (issue 6) ---------------------------------------------------------------

KibanaUrl = Annotated[Optional[str], typer.Option("--kibana-url", help="Kibana URL (env CTSTACK_KIBANA_URL; default: the local stack).", show_default=False)]
KibanaApiKey = Annotated[Optional[str], typer.Option("--kibana-api-key", help="Kibana API key (env CTSTACK_KIBANA_API_KEY; default: the Elasticsearch credentials).", show_default=False)]
KibanaUser = Annotated[Optional[str], typer.Option("--kibana-user", help="Kibana user (env CTSTACK_KIBANA_USER; default: the Elasticsearch credentials).", show_default=False)]
KibanaPassword = Annotated[Optional[str], typer.Option("--kibana-password", help="Kibana password (env CTSTACK_KIBANA_PASSWORD); prefer the env var.", show_default=False)]


@app.command()
@user_errors
def up(
    imports: Annotated[Optional[list[str]], typer.Option("--import", help="After start, import this CloudTrail source (folder, file or s3://bucket/prefix); repeatable.", show_default=False)] = None,
    sample: Annotated[bool, typer.Option("--sample", help="After start, import the demo set (what `ctstack demo DIR` writes: 90 days of console work, the same all week).")] = False,
    es_heap: Annotated[Optional[str], typer.Option("--es-heap", metavar="SIZE", help=f"Elasticsearch heap, e.g. 1g or 2g (default: {settings.DEFAULT_ES_HEAP}, or what the last up used).", show_default=False)] = None,
    kibana_locale: Annotated[Optional[str], typer.Option("--kibana-locale", help=f"Kibana's UI language: en, ja-JP, zh-CN, fr-FR, ... (default: {settings.DEFAULT_KIBANA_LOCALE}, or what the last up used).", show_default=False)] = None,
    timeout: Timeout = health.DEFAULT_TIMEOUT,
    index_prefix: Annotated[str, typer.Option("--index-prefix", help="Indices are named <prefix>-YYYY.MM.")] = settings.INDEX_PREFIX,
    kibana_url: StackKibanaUrl = None,
    es_url: EsUrl = None, api_key: ApiKey = None, user: EsUser = None, password: EsPassword = None, ca_certs: CaCerts = None,
    follow: Annotated[bool, typer.Option("--follow", help="After the imports, keep following the --import s3:// sources (see `ctstack import --follow`).")] = False,
    interval: Interval = "5m",
    es_image: StackEsImage = None, kibana_image: StackKibanaImage = None, no_kibana: NoKibana = False,
) -> None:
    """Start Elasticsearch + Kibana (Docker Compose), wait until ready, provision, optionally import.

    With --es-url (and --kibana-url) Compose is skipped: the existing cluster is provisioned."""
    from provision.sources.s3layout import is_s3_url

    followed = [s for s in imports or () if is_s3_url(s)]
    if follow and not followed:
        raise CtstackError("--follow needs at least one --import s3://BUCKET (or s3://BUCKET/PREFIX) to follow.")
    options = stack.UpOptions(
        es=_existing_es(es_url, api_key, user, password, ca_certs),
        kibana_url=kibana_url or os.environ.get("CTSTACK_KIBANA_URL"),
        es_heap=es_heap, kibana_locale=kibana_locale, imports=tuple(imports or ()), sample=sample, timeout=timeout,
        index_prefix=index_prefix, es_image=es_image, kibana_image=kibana_image, no_kibana=no_kibana,
    )
    if options.kibana_url:
        say_if_scheme_added(options.kibana_url, where_from(kibana_url, "--kibana-url", "CTSTACK_KIBANA_URL"),
                            parse_url(options.kibana_url, "--kibana-url").url)
    try:
        with err_console.status("Starting…") as live:
            result = stack.up(options, reporter=_RichReporter(live))
    except stack.DockerUnavailable as err:
        raise CtstackError(f"{err} {WITHOUT_DOCKER}") from None
    typer.echo(f"Elasticsearch: {display_url(result.es_url)}")
    if result.kibana_url:
        typer.echo(f"Kibana:        {display_url(result.kibana_url)}" + (f"  (user {settings.LOCAL_ES_USER})" if result.local else ""))
    if result.kibana_skipped:
        typer.echo(result.kibana_skipped)
    if result.dashboard_url:
        # Until events are imported its panels have nothing to show; after, it opens on their time range.
        url = _on_the_data(result.dashboard_url, options.es or es_config(None, api_key, user, password, ca_certs), index_prefix) \
            if result.imported else result.dashboard_url
        typer.echo(f"Dashboard:     {display_url(url)}" + ("" if result.imported else "  (its panels fill after the first `ctstack import`)"))
    if result.credentials_file:
        typer.echo(f"Credentials:   {result.credentials_file}  (ELASTIC_PASSWORD; mode 0600)")
    if result.imported:
        i = result.imported
        typer.echo(f"Imported:      {i.events_indexed:,} events indexed, {i.events_duplicate:,} already present, {i.events_failed:,} failed, from {plural(i.files_read, 'file')}")
        if getattr(i, "dead_letter", None):
            typer.echo(f"Failed events: {i.dead_letter}")
        if i.interrupted:
            _tell(f"[bold yellow]{escape(i.aborted[:1].upper() + i.aborted[1:])}:[/] {escape(interrupted_counts(i))}; "
                  "run the same command to finish (events already present are counted, not doubled).")
            raise typer.Exit(interrupt.exit_code(interrupt.received()))
    if not result.ok:
        raise typer.Exit(1)
    if follow:
        cfg = options.es or es_config(None, api_key, user, password, ca_certs)
        s3 = {"filters": Filters().s3_filters(), "workers": settings.S3_WORKERS}
        raise typer.Exit(_follow(cfg, followed, s3, {"index_prefix": index_prefix}, interval, json_output=False))


@app.command()
@user_errors
def down(
    volumes: Annotated[bool, typer.Option("--volumes", help="Also delete the data volumes: every imported event and Kibana object.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before deleting the volumes.")] = False,
) -> None:
    """Stop the local stack; its data stays unless --volumes."""
    local = stack.LocalStack()
    if volumes and not yes:
        local.check_engine()  # ask only when there is something to delete
        local.require_setup()
        typer.confirm("Delete the local stack's data volumes (all imported events and Kibana objects)?", abort=True)
    local.stop(volumes=volumes)
    typer.echo("Local stack stopped" + (" and its data volumes deleted." if volumes else "; its data is kept (`ctstack up` resumes)."))


@app.command()
@user_errors
def status(
    output_format: Annotated[Literal[TEXT_FORMATS], typer.Option("--format", help="text, or json.")] = "text",
    kibana_url: StatusKibanaUrl = None,
    es_url: EsUrl = None, api_key: ApiKey = None, user: EsUser = None, password: EsPassword = None, ca_certs: CaCerts = None,
) -> None:
    """Containers, health, CloudTrail event count and newest event; exit 1 if Elasticsearch is unreachable."""
    existing = _existing_es(es_url, api_key, user, password, ca_certs)
    es_cfg = existing or es_config(None, api_key, user, password, ca_certs)
    local_kibana = not existing and stack.local_kibana_enabled()
    kibana_source = where_from(kibana_url, "--kibana-url", "CTSTACK_KIBANA_URL")
    kibana_url = kibana_url or os.environ.get("CTSTACK_KIBANA_URL") or (settings.LOCAL_KIBANA_URL if local_kibana else None)
    kibana = None
    if kibana_url:
        from provision.stack.kibana import resolve_kibana_config

        kibana = resolve_kibana_config(kibana_url, es=es_cfg)
        say_if_scheme_added(kibana_url, kibana_source, kibana.url)
    report = stack.status(es_cfg, kibana, stack=None if existing else stack.LocalStack())
    if output_format == "json":
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        _print_status(report)
    if not report.ok:
        raise typer.Exit(1)


def _print_status(report: "stack.StackStatus") -> None:
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


@app.command()
@user_errors
def logs(
    service: Annotated[Optional[str], typer.Argument(help="es, kibana or setup (default: all).", show_default=False, metavar="[SERVICE]")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False,
    tail: Annotated[Optional[int], typer.Option("--tail", min=0, help="Only the last N lines per container.", show_default=False)] = None,
) -> None:
    """Show the local stack's container logs."""
    raise typer.Exit(stack.LocalStack().logs(service, follow=follow, tail=tail))


@app.command()
@user_errors
def provision(
    space: Annotated[Optional[str], typer.Option("--space", help="Kibana space to import into (default: the default space).", show_default=False)] = None,
    skip_kibana: Annotated[bool, typer.Option("--skip-kibana", help="Only install the index template.")] = False,
    index_prefix: Annotated[str, typer.Option("--index-prefix", help="Index name prefix the template and data view cover.")] = settings.INDEX_PREFIX,
    timeout: Timeout = health.DEFAULT_TIMEOUT,
    es_url: EsUrl = None, api_key: ApiKey = None, user: EsUser = None, password: EsPassword = None, ca_certs: CaCerts = None,
    kibana_url: KibanaUrl = None, kibana_api_key: KibanaApiKey = None, kibana_user: KibanaUser = None, kibana_password: KibanaPassword = None,
) -> None:
    """Install the index template and the Kibana data view + dashboard (re-running overwrites)."""
    from provision.stack.kibana import resolve_kibana_config
    from provision.stack.provisioning import is_local_stack, provision_all

    es_cfg = es_config(es_url, api_key, user, password, ca_certs)
    kibana_named = kibana_url or os.environ.get("CTSTACK_KIBANA_URL")
    # The local Kibana belongs to the local Elasticsearch only: another cluster's Kibana must be named.
    skipped_note = None
    if not (skip_kibana or kibana_named):
        if not is_local_stack(es_cfg.url):
            skipped_note = stack.kibana_skipped_note(es_cfg.url)
        elif not stack.local_kibana_enabled():
            skipped_note = stack.NO_KIBANA_NOTE
    kibana_cfg = None
    if not (skip_kibana or skipped_note):
        kibana_cfg = resolve_kibana_config(kibana_url, kibana_api_key, kibana_user, kibana_password, es=es_cfg)
        say_if_scheme_added(kibana_named, where_from(kibana_url, "--kibana-url", "CTSTACK_KIBANA_URL"), kibana_cfg.url)
    result = provision_all(es_cfg, kibana_cfg, space, index_prefix=index_prefix, kibana_timeout=timeout)
    typer.echo(f"Index template for {result.index_prefix}-* installed in Elasticsearch {result.es_version} at {display_url(es_cfg.url)}.")
    if skipped_note:
        typer.echo(skipped_note)
    if result.kibana_version:
        names = ", ".join(f"{o['type']} {o['destination_id']}" for o in result.imported)
        typer.echo(f"Kibana {result.kibana_version}: imported {len(result.imported)} saved objects into space {space or 'default'} ({names}).")
        typer.echo(f"Dashboard: {display_url(_on_the_data(result.dashboard_url, es_cfg, index_prefix) if result.dashboard_url else '')}")


# -- demo --------------------------------------------------------------------------------------

@app.command()
@user_errors
def demo(
    folder: Annotated[Path, typer.Argument(help="A new or empty folder to write the demo logs into.", show_default=False)],
    events: Annotated[int, typer.Option("--events", min=0, max=10_000_000,
                                        help="Events of everyday traffic besides the 90 days of console work; more for volume.")] = SAMPLE_EVENTS,
) -> None:
    """Write the demo CloudTrail logs: the set `ctstack up --sample` imports (the same all week).

    90 days of people repeating console work (17 actions, linked workflows) plus everyday
    traffic, gzipped in CloudTrail's S3 layout. No Docker, no AWS account needed."""
    from provision.demo.console_work import DAYS
    from provision.demo.demo_set import write_demo
    from provision.demo.generate import demo_start

    if folder.exists() and not folder.is_dir():
        raise CtstackError(f"{folder} is a file; give a new or empty folder.")
    if folder.is_dir() and any(folder.iterdir()):
        raise CtstackError(f"{folder} is not empty; give a new or empty folder (the demo set is written whole).")
    start = demo_start()
    with err_console.status(f"Writing the demo logs to {escape(str(folder))}…"):
        try:
            stats = write_demo(folder, start=start, events=events)
        except OSError as err:
            raise CtstackError(f"Cannot write the demo logs to {folder}: {err.strerror or err}.") from None
    typer.echo(f"Wrote {plural(stats.events, 'event')} in {plural(stats.files, 'file')} to {folder}: {DAYS} days of console work "
               f"up to {start:%Y-%m-%d}, then {number(events)} events of everyday traffic.")
    typer.echo(f"Next: ctstack hints {folder} --workflows   (no Elasticsearch needed)")
    typer.echo(f"      ctstack report {folder}             (an HTML page)")
    typer.echo(f"      ctstack import {folder}             (into Elasticsearch; `ctstack up --sample` does this for the local stack)")


# -- hints and report ------------------------------------------------------------------------

HintSources = Annotated[Optional[list[str]], typer.Argument(help="Folders, files or s3://BUCKET/PREFIX URLs of CloudTrail logs; none: ask Elasticsearch.", show_default=False)]
Users = Annotated[Optional[list[str]], typer.Option("--user", help="Only this user (IAM user name or role session name; repeatable).", show_default=False)]
IgnoreAction = Annotated[Optional[list[str]], typer.Option(
    "--ignore-action", help="Never a candidate: SOURCE:NAME or SOURCE:* (repeatable), besides the console's own plumbing (sign-ins, CloudShell, support cases), which ctstack always leaves out.",
    metavar="SOURCE:NAME", show_default=False)]
Top = Annotated[int, typer.Option("--top", help="Show the N most frequent actions; 0 shows all.", min=0)]
Rank = Annotated[Literal["count", "time"], typer.Option("--rank", help="count: most frequent first; time: most console minutes per month first.")]


def _ranked_hints(rank: str, top: int, compute):
    """count: hints as computed (most frequent first, cut at top); time: all, by console minutes, then cut."""
    from provision.analysis.hints import RANKS, rank_by_time

    if rank not in RANKS:
        raise CtstackError(f"--rank must be one of {', '.join(RANKS)}, not {rank!r}.")
    return compute(top) if rank == "count" else rank_by_time(compute(0), top)


IndexPrefix = Annotated[str, typer.Option("--index-prefix", help="Read the indices <prefix>-* (with Elasticsearch).")]


def _compute_hints(command, sources, from_es, filters, top, index_prefix, es_url, api_key, es_user, password, ca_certs, s3_settings,
                   max_file_bytes=MAX_FILE_BYTES):
    """Hints from the sources given, else from Elasticsearch (hints and report alike)."""
    from provision.analysis.hints import hints_from_sources
    from provision.analysis.hints_es import hints_from_cluster

    if sources and from_es:
        raise CtstackError("Give either folders/files/s3:// URLs or --from-es, not both.")
    if sources and (es_url or api_key or es_user or password or ca_certs):
        # Reading files and asking Elasticsearch are two different answers: never pick one silently.
        raise CtstackError("With folders, files or s3:// sources ctstack reads them directly and does not use Elasticsearch; "
                           "leave out --es-url/--es-api-key/--es-user/--es-password/--es-ca-certs, or leave out the sources to ask Elasticsearch.")
    if sources:
        from provision.sources.s3layout import is_s3_url

        if err_console.is_terminal and any(is_s3_url(s) for s in sources):
            with err_console.status("Reading the sources (reaching S3)…"):
                return hints_from_sources(sources, filters, top, s3_settings, max_file_bytes)
        return hints_from_sources(sources, filters, top, s3_settings, max_file_bytes)
    try:
        return hints_from_cluster(es_config(es_url, api_key, es_user, password, ca_certs), filters, top, index_prefix)
    except CtstackError as err:
        if from_es:
            raise
        raise CtstackError(f"{err} Or read CloudTrail logs directly, no Elasticsearch needed: ctstack {command} ./logs/ (or s3://BUCKET/PREFIX).") from None


@app.command("hints")
@user_errors
def hints_(
    sources: HintSources = None,
    account: Accounts = None, region: Regions = None, since: Since = None, until: Until = None, user: Users = None,
    ignore_action: IgnoreAction = None,
    top: Top = 20, rank: Rank = "count",
    output_format: Annotated[Literal[HINTS_FORMATS], typer.Option("--format", help="How to print the hints (sh: commands and workflow scripts).")] = "table",
    from_es: Annotated[bool, typer.Option("--from-es", help="Read from Elasticsearch (what no source means too).")] = False,
    index_prefix: IndexPrefix = settings.INDEX_PREFIX,
    es_url: EsUrl = None, api_key: ApiKey = None, es_user: EsUser = None, password: EsPassword = None, ca_certs: CaCerts = None,
    profile: S3Profile = None, workers: S3Workers = settings.S3_WORKERS, endpoint_url: S3EndpointUrl = None,
    workflows: Annotated[bool, typer.Option("--workflows", help="Also show repeated multi-step console workflows.")] = False,
    script_dir: Annotated[Optional[Path], typer.Option("--script", help="Write a bash script per top workflow into this folder (0700).", show_default=False)] = None,
    max_file_bytes: MaxFileBytes = MAX_FILE_SIZE,  # type: ignore[assignment]  # parse_size reads it
) -> None:
    """Which console actions that change things people repeat, and the AWS CLI command for each.

    With folders or files: reads them directly (no Elasticsearch needed). Without: asks Elasticsearch.
    """
    from provision.report import hints_output

    filters = Filters.from_text(account, region, user, since, until, ignore_action or ())
    s3_settings = {"profile": profile, "workers": workers, "endpoint_url": endpoint_url}
    result = _ranked_hints(rank, top, lambda n: _compute_hints("hints", sources, from_es, filters, n, index_prefix, es_url, api_key, es_user,
                                                               password, ca_certs, s3_settings, max_file_bytes))
    if output_format == "table":
        hints_output.print_table(result, Console())
        _print_automation(result, workflows)
        hints_output.print_drift(result, Console())
    else:
        typer.echo(hints_output.RENDERERS[output_format](result), nl=False)
    _write_scripts(result, script_dir)
    _exit_if_files_failed(result)
    if nothing_readable(result.events_read, result.skipped_files):
        raise typer.Exit(1)


def _exit_if_files_failed(result) -> None:
    """Exit 1, as `import` does, when a file could not be read or was read only in part (or a
    folder could not be listed): the hints are then of fewer events than the sources hold."""
    failed = result.failed_files or ()
    if failed:
        first = failed[0]
        more = f" and {len(failed) - 1:,} more" if len(failed) > 1 else ""
        err_console.print(f"{plural(len(failed), 'file')} could not be read in full ({first['path']}: {first['reason']}{more}); "
                          "the results leave their events out.", markup=False, highlight=False)
        raise typer.Exit(1)


def _print_automation(result, workflows: bool) -> None:
    from provision.report import automation_output

    automation_output.print_automation(result, Console())
    if workflows:
        automation_output.print_workflows(result, Console())


def _write_scripts(result, script_dir: Path | None) -> None:
    if script_dir is None:
        return
    from provision.report.automation_output import write_scripts

    done = write_scripts(result, script_dir)
    paths = done.written
    stale = f"; {len(done.removed):,} stale from an earlier run removed" if done.removed else ""
    err_console.print(f"{len(paths):,} workflow script{'' if len(paths) == 1 else 's'} written to {script_dir}{stale}.", markup=False, highlight=False)


@app.command("report")
@user_errors
def report(
    sources: HintSources = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="The HTML file to write.")] = Path("ctstack-report.html"),
    from_es: Annotated[bool, typer.Option("--from-es", help="Read from Elasticsearch (what no source means too).")] = False,
    account: Accounts = None, region: Regions = None, since: Since = None, until: Until = None, user: Users = None,
    ignore_action: IgnoreAction = None,
    top: Top = 20, rank: Rank = "count",
    index_prefix: IndexPrefix = settings.INDEX_PREFIX,
    es_url: EsUrl = None, api_key: ApiKey = None, es_user: EsUser = None, password: EsPassword = None, ca_certs: CaCerts = None,
    profile: S3Profile = None, workers: S3Workers = settings.S3_WORKERS, endpoint_url: S3EndpointUrl = None,
    max_file_bytes: MaxFileBytes = MAX_FILE_SIZE,  # type: ignore[assignment]  # parse_size reads it
) -> None:
    """Write a self-contained HTML report: charts of console activity and the actions to automate.

    With folders, files or s3:// URLs: reads them directly (no Elasticsearch needed). Without: asks Elasticsearch.
    """
    from provision.report.html import write_report

    filters = Filters.from_text(account, region, user, since, until, ignore_action or ())
    s3_settings = {"profile": profile, "workers": workers, "endpoint_url": endpoint_url}
    result = _ranked_hints(rank, top, lambda n: _compute_hints("report", sources, from_es, filters, n, index_prefix, es_url, api_key, es_user,
                                                               password, ca_certs, s3_settings, max_file_bytes))
    path = write_report(result, output)
    err_console.print(f"Report written to {path} ({plural(result.candidate_actions, 'action')} to automate).", markup=False, highlight=False)
    _exit_if_files_failed(result)


@app.command("reflag")
@user_errors
def reflag(
    index_prefix: Annotated[str, typer.Option("--index-prefix", help="Re-flag the indices <prefix>-*.")] = settings.INDEX_PREFIX,
    output_format: Annotated[Literal[TEXT_FORMATS], typer.Option("--format", help="text, or json: one JSON summary on stdout.")] = "text",
    es_url: EsUrl = None, api_key: ApiKey = None, user: EsUser = None, password: EsPassword = None, ca_certs: CaCerts = None,
) -> None:
    """Work out the ctstack.* flags of imported documents again with the current rules, and update those that changed."""
    from provision.ingest.reflag import reflag_cluster

    summary = reflag_cluster(es_config(es_url, api_key, user, password, ca_certs), index_prefix)
    if output_format == "json":
        typer.echo(json.dumps(summary.to_dict()))
    else:
        typer.echo(f"{summary.index}: {summary.documents_read:,} documents read, {summary.changed:,} re-flagged, "
                   f"{summary.unchanged:,} unchanged, {summary.failed:,} failed ({summary.seconds:.1f} s).")
        if summary.not_reflaggable:
            typer.echo(f"{summary.not_reflaggable:,} documents imported with --fields minimal keep too little to re-flag: "
                       f"re-import their logs under a new --index-prefix.")
        for reason, count in summary.failure_reasons.items():
            err_console.print(f"[red]{count:,} documents failed:[/] {escape(reason)}", highlight=False)
        if summary.aborted:
            _tell(f"[bold yellow]{escape(summary.aborted[:1].upper() + summary.aborted[1:])}[/] after {summary.documents_read:,} documents: "
                  "run the same command to re-flag the rest (documents already right are left as they are).")
    if summary.aborted:
        raise typer.Exit(interrupt.exit_code(interrupt.received()))
    if not summary.ok:
        raise typer.Exit(1)


def main() -> None:
    app()
