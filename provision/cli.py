"""The `ctstack` command line: each command is a few lines over a library function."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from pathlib import Path
from typing import Annotated, Callable, Optional, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from provision import __version__, health, settings, stack
from provision.documents import PROFILES
from provision.progress import ImportProgress
from provision.connection import EsConfig, resolve_es_config
from provision.errors import CtstackError

app = typer.Typer(
    name="ctstack",
    help="Turn AWS CloudTrail logs into answers: which console actions do people repeat by hand?",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable)


def user_errors(func: F) -> F:
    """Turn a CtstackError into one red sentence on stderr and its exit code, no traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except CtstackError as err:
            err_console.print(f"[bold red]Error:[/] {err}", highlight=False, soft_wrap=True)
            raise typer.Exit(err.exit_code) from None

    return wrapper  # type: ignore[return-value]


# Connection options shared by every command that talks to Elasticsearch.
EsUrl = Annotated[Optional[str], typer.Option("--es-url", help="Elasticsearch URL (env CTSTACK_ES_URL; default: the local stack).", show_default=False)]
ApiKey = Annotated[Optional[str], typer.Option("--api-key", help="Elasticsearch API key (env CTSTACK_ES_API_KEY).", show_default=False)]
EsUser = Annotated[Optional[str], typer.Option("--user", help="Elasticsearch user (env CTSTACK_ES_USER).", show_default=False)]
EsPassword = Annotated[Optional[str], typer.Option("--password", help="Elasticsearch password (env CTSTACK_ES_PASSWORD); prefer the env var.", show_default=False)]
CaCerts = Annotated[Optional[str], typer.Option("--ca-certs", help="CA bundle for a TLS Elasticsearch (env CTSTACK_ES_CA_CERTS).", show_default=False)]


def es_config(es_url: str | None, api_key: str | None, user: str | None, password: str | None, ca_certs: str | None) -> EsConfig:
    return resolve_es_config(url=es_url, api_key=api_key, user=user, password=password, ca_certs=ca_certs)


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

def _print_summary(summary, console: Console) -> None:
    from rich.table import Table

    table = Table(title="ctstack import", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    rows = [
        ("files read", summary.files_read), ("files skipped", summary.files_skipped),
        ("files failed", summary.files_failed), ("events read", summary.events_read),
        ("events indexed", summary.events_indexed), ("already present", summary.events_duplicate),
        ("events failed", summary.events_failed),
        ("events/s", f"{summary.events_read / summary.seconds:,.0f}" if summary.seconds else "-"),
        ("seconds", f"{summary.seconds:.1f}"),
    ]
    rows += [(key.replace("_", " "), value) for key, value in summary.extra.items()]
    for name, value in rows:
        table.add_row(name, f"{value:,}" if isinstance(value, int) else str(value))
    console.print(table)
    for entry in summary.skipped_files[:20]:
        console.print(f"[yellow]skipped[/] {entry['path']}: {entry['reason']}", highlight=False)
    if len(summary.skipped_files) > 20:
        console.print(f"[yellow]... and {len(summary.skipped_files) - 20} more skipped files (see --json)[/]")
    for entry in summary.failed_files:
        console.print(f"[red]failed[/] {entry['path']}: {entry['reason']}", highlight=False)
    for reason, count in summary.failure_reasons.items():
        console.print(f"[red]{count:,} events failed:[/] {reason}", highlight=False)
    if summary.dead_letter:
        console.print(f"Failed events and their reasons: {summary.dead_letter}", highlight=False)
    if summary.aborted:
        console.print(f"[bold red]Import stopped:[/] {summary.aborted}", highlight=False)


# Options of `ctstack import` for s3:// sources (provision/s3source.py).
S3Accounts = Annotated[Optional[list[str]], typer.Option("--account", help="s3:// only: import this AWS account (repeatable).", show_default=False)]
S3Regions = Annotated[Optional[list[str]], typer.Option("--region", help="s3:// only: import this region (repeatable).", show_default=False)]
S3Since = Annotated[Optional[str], typer.Option("--since", help="s3:// only: from this UTC day on: 2024-08-01, or relative: 12h, 7d, 2w.", show_default=False)]
S3Until = Annotated[Optional[str], typer.Option("--until", help="s3:// only: up to this UTC day (inclusive), same forms as --since.", show_default=False)]
S3Insights = Annotated[bool, typer.Option("--insights", help="s3:// only: also import CloudTrail Insights files.")]
S3Profile = Annotated[Optional[str], typer.Option("--profile", help="AWS profile (named or SSO); default: the AWS credential chain (env, config, instance role).", show_default=False)]
S3Workers = Annotated[int, typer.Option("--workers", help="Parallel S3 downloads.")]
S3Full = Annotated[bool, typer.Option("--full", help="s3:// only: download every object again, ignoring what earlier runs imported.")]
S3EndpointUrl = Annotated[Optional[str], typer.Option("--endpoint-url", help="S3-compatible endpoint (env CTSTACK_S3_ENDPOINT_URL).", show_default=False)]


def s3_options(sources: list[str], accounts: list[str] | None, regions: list[str] | None, since: str | None, until: str | None,
               insights: bool, profile: str | None, workers: int, full: bool, endpoint_url: str | None) -> dict:
    """Keyword arguments for provision.s3source.S3Import, validated."""
    from provision.s3layout import is_s3_url, make_filters

    if (accounts or regions or since or until or insights or full) and not any(is_s3_url(s) for s in sources):
        raise CtstackError("--account, --region, --since, --until, --insights and --full apply to s3:// sources only.")
    filters = make_filters(accounts or (), regions or (), since, until, insights)
    return {"filters": filters, "profile": profile, "workers": workers, "full": full, "endpoint_url": endpoint_url}


Follow = Annotated[bool, typer.Option("--follow", help="s3:// only: keep importing new objects every --interval (today's and yesterday's prefixes) until SIGINT/SIGTERM.")]
Interval = Annotated[str, typer.Option("--interval", help="With --follow: time between rounds (30s, 5m, 1h).")]
SqsQueue = Annotated[Optional[str], typer.Option("--sqs-queue", help="Import the objects named by S3/SNS/CloudTrail notifications on this SQS queue URL, until SIGINT/SIGTERM.", show_default=False)]
ExitWhenEmpty = Annotated[bool, typer.Option("--exit-when-empty", help="With --sqs-queue: stop when the queue holds no message (visible or in flight).")]
PollSeconds = Annotated[int, typer.Option("--poll-seconds", min=0, max=20, help="With --sqs-queue: long-poll wait of each receive.")]


def make_s3_filters(accounts, regions, since, until, insights):
    from provision.s3layout import make_filters

    return make_filters(accounts or (), regions or (), since, until, insights)


def _follow(cfg: EsConfig, sources: list[str], s3: dict, import_options: dict, interval: str, json_output: bool) -> int:
    """`ctstack import s3://... --follow`: rounds until a signal; a live line or NDJSON per round."""
    from provision.continuous import StopSwitch, parse_interval
    from provision.follow import follow
    from provision.progress import LiveLine

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
    from provision.continuous import OK, StopSwitch, format_lag
    from provision.progress import LiveLine
    from provision.sqsqueue import consume

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
    from provision.continuous import OK, format_lag

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
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON summary on stdout instead of the table.")] = False,
    fields_profile: Annotated[str, typer.Option("--fields", help="What to keep: minimal | standard | full.")] = "standard",
    keep_access_keys: Annotated[bool, typer.Option("--keep-access-keys", help="Store access key IDs (never stored otherwise).")] = False,
    index_prefix: Annotated[str, typer.Option("--index-prefix", help="Indices are named <prefix>-YYYY.MM.")] = settings.INDEX_PREFIX,
    dead_letter: Annotated[Optional[Path], typer.Option("--dead-letter", help="Where failed events go (NDJSON); default ./ctstack-dead-letter-<time>.ndjson, created only on failure.", show_default=False)] = None,
    processes: Annotated[Optional[int], typer.Option("--processes", min=0, help="Processes converting events to documents; default one per core, up to 4; 0 converts in the importing process.", show_default=False)] = None,
    es_url: EsUrl = None, api_key: ApiKey = None, user: EsUser = None, password: EsPassword = None, ca_certs: CaCerts = None,
    account: S3Accounts = None, region: S3Regions = None, since: S3Since = None, until: S3Until = None, insights: S3Insights = False,
    profile: S3Profile = None, workers: S3Workers = settings.S3_WORKERS, full: S3Full = False, endpoint_url: S3EndpointUrl = None,
    follow: Follow = False, interval: Interval = "5m", sqs_queue: SqsQueue = None, exit_when_empty: ExitWhenEmpty = False,
    poll_seconds: PollSeconds = 20,
) -> None:
    """Import CloudTrail logs into Elasticsearch. Safe to repeat: events already present are counted, not duplicated."""
    from provision.importer import import_sources

    if fields_profile not in PROFILES:
        raise CtstackError(f"--fields must be one of {', '.join(PROFILES)}, not {fields_profile!r}.")
    cfg = es_config(es_url, api_key, user, password, ca_certs)
    sources = sources or []
    import_options = {"index_prefix": index_prefix, "profile": fields_profile, "keep_access_keys": keep_access_keys,
                      "dead_letter_path": dead_letter, "processes": processes}
    if sqs_queue:
        if sources or follow:
            raise CtstackError("--sqs-queue takes no sources and no --follow: the queue names the objects.")
        filters = make_s3_filters(account, region, since, until, insights)
        raise typer.Exit(_consume_queue(cfg, sqs_queue, filters, {"profile": profile, "workers": workers, "endpoint_url": endpoint_url},
                                        import_options, exit_when_empty, poll_seconds, json_output))
    if follow:
        options = s3_options(sources, account, region, since, until, insights, profile, workers, full, endpoint_url)
        raise typer.Exit(_follow(cfg, sources, options, import_options, interval, json_output))
    with ImportProgress(enabled=err_console.is_terminal) as progress:
        summary = import_sources(
            cfg, sources, index_prefix=index_prefix, profile=fields_profile,
            keep_access_keys=keep_access_keys, dead_letter_path=dead_letter, progress=progress.update,
            processes=processes, s3_options=s3_options(sources, account, region, since, until, insights, profile, workers, full, endpoint_url),
        )
    if json_output:
        typer.echo(json.dumps(summary.to_dict()))
    else:
        _print_summary(summary, Console())
    if not summary.ok:
        raise typer.Exit(1)


# --- the local stack: ctstack up / down / status / logs (issue 5) ------------------------------


class _RichReporter:
    """`ctstack up`'s progress: steps as lines, health waits on one live status line (stderr)."""

    def __init__(self, status) -> None:
        self.status = status

    def step(self, message: str) -> None:
        err_console.print(message, highlight=False)
        self.status.update(message)

    def progress(self, probe) -> None:
        mark = "[green]ready[/]" if probe.ready else escape(probe.state)
        self.status.update(f"Waiting for {probe.service}: {mark} ({probe.elapsed:.0f} s)")
        if probe.ready:
            err_console.print(f"{probe.service} is ready ({escape(probe.state)}, {probe.elapsed:.0f} s).", highlight=False)


def _existing_es(es_url: str | None, api_key: str | None, user: str | None, password: str | None, ca_certs: str | None) -> EsConfig | None:
    """An existing cluster's config when one was named (--es-url or CTSTACK_ES_URL), else None."""
    if es_url or os.environ.get("CTSTACK_ES_URL"):
        return es_config(es_url, api_key, user, password, ca_certs)
    return None


StackKibanaUrl = Annotated[Optional[str], typer.Option("--kibana-url", help="An existing Kibana to provision, with --es-url (env: CTSTACK_KIBANA_URL).", show_default=False)]

# --- ctstack provision (issue 6) ---------------------------------------------------------------

KibanaUrl = Annotated[Optional[str], typer.Option("--kibana-url", help="Kibana URL (env CTSTACK_KIBANA_URL; default: the local stack).", show_default=False)]
KibanaApiKey = Annotated[Optional[str], typer.Option("--kibana-api-key", help="Kibana API key (env CTSTACK_KIBANA_API_KEY; default: the Elasticsearch credentials).", show_default=False)]
KibanaUser = Annotated[Optional[str], typer.Option("--kibana-user", help="Kibana user (env CTSTACK_KIBANA_USER; default: the Elasticsearch credentials).", show_default=False)]
KibanaPassword = Annotated[Optional[str], typer.Option("--kibana-password", help="Kibana password (env CTSTACK_KIBANA_PASSWORD); prefer the env var.", show_default=False)]


@app.command()
@user_errors
def up(
    imports: Annotated[Optional[list[str]], typer.Option("--import", help="After start, import this CloudTrail source (folder, file or s3://bucket/prefix); repeatable.", show_default=False)] = None,
    sample: Annotated[bool, typer.Option("--sample", help="After start, import ctstack's deterministic demo data set.")] = False,
    es_heap: Annotated[Optional[str], typer.Option("--es-heap", help=f"Elasticsearch heap, e.g. 1g or 2g (default: {settings.DEFAULT_ES_HEAP}, or what the last up used).", show_default=False)] = None,
    kibana_locale: Annotated[Optional[str], typer.Option("--kibana-locale", help=f"Kibana's UI language: en, ja-JP, zh-CN, fr-FR, ... (default: {settings.DEFAULT_KIBANA_LOCALE}, or what the last up used).", show_default=False)] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for Elasticsearch and for Kibana to be ready.")] = health.DEFAULT_TIMEOUT,
    index_prefix: Annotated[str, typer.Option("--index-prefix", help="Indices are named <prefix>-YYYY.MM.")] = settings.INDEX_PREFIX,
    kibana_url: StackKibanaUrl = None,
    es_url: EsUrl = None, api_key: ApiKey = None, user: EsUser = None, password: EsPassword = None, ca_certs: CaCerts = None,
    follow: Annotated[bool, typer.Option("--follow", help="After the imports, keep following the --import s3:// sources (see `ctstack import --follow`).")] = False,
    interval: Interval = "5m",
) -> None:
    """Start Elasticsearch + Kibana (Docker Compose), wait until ready, provision, optionally import.

    With --es-url (and --kibana-url) Compose is skipped: the existing cluster is provisioned."""
    from provision.s3layout import is_s3_url

    followed = [s for s in imports or () if is_s3_url(s)]
    if follow and not followed:
        raise CtstackError("--follow needs at least one --import s3://BUCKET (or s3://BUCKET/PREFIX) to follow.")
    options = stack.UpOptions(
        es=_existing_es(es_url, api_key, user, password, ca_certs),
        kibana_url=kibana_url or os.environ.get("CTSTACK_KIBANA_URL"),
        es_heap=es_heap, kibana_locale=kibana_locale, imports=tuple(imports or ()), sample=sample, timeout=timeout,
        index_prefix=index_prefix,
    )
    with err_console.status("Starting…") as live:
        result = stack.up(options, reporter=_RichReporter(live))
    typer.echo(f"Elasticsearch: {result.es_url}")
    if result.kibana_url:
        typer.echo(f"Kibana:        {result.kibana_url}" + (f"  (user {settings.LOCAL_ES_USER})" if result.local else ""))
    if result.dashboard_url:
        typer.echo(f"Dashboard:     {result.dashboard_url}")
    if result.credentials_file:
        typer.echo(f"Credentials:   {result.credentials_file}  (ELASTIC_PASSWORD; mode 0600)")
    if result.imported:
        i = result.imported
        typer.echo(f"Imported:      {i.events_indexed} events indexed, {i.events_duplicate} already present, {i.events_failed} failed, from {i.files_read} files")
        if getattr(i, "dead_letter", None):
            typer.echo(f"Failed events: {i.dead_letter}")
    if not result.ok:
        raise typer.Exit(1)
    if follow:
        cfg = options.es or es_config(None, api_key, user, password, ca_certs)
        s3 = {"filters": make_s3_filters(None, None, None, None, False), "workers": settings.S3_WORKERS}
        raise typer.Exit(_follow(cfg, followed, s3, {"index_prefix": index_prefix}, interval, json_output=False))


@app.command()
@user_errors
def down(
    volumes: Annotated[bool, typer.Option("--volumes", help="Also delete the data volumes: every imported event and Kibana object.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before deleting the volumes.")] = False,
) -> None:
    """Stop the local stack; its data stays unless --volumes."""
    if volumes and not yes:
        typer.confirm("Delete the local stack's data volumes (all imported events and Kibana objects)?", abort=True)
    stack.LocalStack().stop(volumes=volumes)
    typer.echo("Local stack stopped" + (" and its data volumes deleted." if volumes else "; its data is kept (`ctstack up` resumes)."))


@app.command()
@user_errors
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
    kibana_url: StackKibanaUrl = None,
    es_url: EsUrl = None, api_key: ApiKey = None, user: EsUser = None, password: EsPassword = None, ca_certs: CaCerts = None,
) -> None:
    """Containers, health, CloudTrail event count and newest event; exit 1 if Elasticsearch is unreachable."""
    existing = _existing_es(es_url, api_key, user, password, ca_certs)
    es_cfg = existing or es_config(None, api_key, user, password, ca_certs)
    kibana_url = kibana_url or os.environ.get("CTSTACK_KIBANA_URL") or (None if existing else settings.LOCAL_KIBANA_URL)
    kibana = dataclasses.replace(es_cfg, url=kibana_url.rstrip("/")) if kibana_url else None
    report = stack.status(es_cfg, kibana, stack=None if existing else stack.LocalStack())
    if as_json:
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
        typer.echo(f"  CloudTrail events: {es.get('documents', '?')}   newest event: {es.get('newest_event') or '-'}")
    else:
        typer.echo(f"Elasticsearch at {es['url']}: not reachable ({es.get('error', 'unknown error')})")
    if report.kibana:
        kb = report.kibana
        typer.echo(f"Kibana at {kb['url']}: {kb.get('level') or kb.get('error')}")
    if report.credentials_file:
        typer.echo(f"Credentials file: {report.credentials_file}")
    typer.echo(f"Compose file: {report.compose_file}")


@app.command()
@user_errors
def logs(
    service: Annotated[Optional[str], typer.Argument(help="es, kibana or setup (default: all).", show_default=False)] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False,
    tail: Annotated[Optional[int], typer.Option("--tail", help="Only the last N lines per container.", show_default=False)] = None,
) -> None:
    """Show the local stack's container logs."""
    raise typer.Exit(stack.LocalStack().logs(service, follow=follow, tail=tail))


@app.command()
@user_errors
def provision(
    space: Annotated[Optional[str], typer.Option("--space", help="Kibana space to import into (default: the default space).", show_default=False)] = None,
    skip_kibana: Annotated[bool, typer.Option("--skip-kibana", help="Only install the index template.")] = False,
    index_prefix: Annotated[str, typer.Option("--index-prefix", help="Index name prefix the template and data view cover.")] = settings.INDEX_PREFIX,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for Kibana to be available.")] = 180.0,
    es_url: EsUrl = None, api_key: ApiKey = None, user: EsUser = None, password: EsPassword = None, ca_certs: CaCerts = None,
    kibana_url: KibanaUrl = None, kibana_api_key: KibanaApiKey = None, kibana_user: KibanaUser = None, kibana_password: KibanaPassword = None,
) -> None:
    """Install the index template and the Kibana data view + dashboard (re-running overwrites)."""
    from provision.kibana import resolve_kibana_config
    from provision.provisioning import provision_all

    es_cfg = es_config(es_url, api_key, user, password, ca_certs)
    kibana_cfg = None if skip_kibana else resolve_kibana_config(kibana_url, kibana_api_key, kibana_user, kibana_password, es=es_cfg)
    result = provision_all(es_cfg, kibana_cfg, space, index_prefix=index_prefix, kibana_timeout=timeout)
    typer.echo(f"Index template for {result.index_prefix}-* installed in Elasticsearch {result.es_version} at {es_cfg.url}.")
    if result.kibana_version:
        names = ", ".join(f"{o['type']} {o['id']}" for o in result.imported)
        typer.echo(f"Kibana {result.kibana_version}: imported {len(result.imported)} saved objects into space {space or 'default'} ({names}).")
        typer.echo(f"Dashboard: {result.dashboard_url}")


# -- hints and report ------------------------------------------------------------------------

HintSources = Annotated[Optional[list[str]], typer.Argument(help="Folders, files or s3://BUCKET/PREFIX URLs of CloudTrail logs; none: ask Elasticsearch.", show_default=False)]
Account = Annotated[Optional[str], typer.Option("--account", help="Only this AWS account ID.", show_default=False)]
Region = Annotated[Optional[str], typer.Option("--region", help="Only this region.", show_default=False)]
Since = Annotated[Optional[str], typer.Option("--since", help="From this date or time (2024-08-01, 2024-08-01T12:00:00Z; UTC) or relative: 12h, 7d, 2w.", show_default=False)]
Until = Annotated[Optional[str], typer.Option("--until", help="Up to this date (the whole day) or time.", show_default=False)]
UserFilter = Annotated[Optional[str], typer.Option("--user", help="Only this user (IAM user name or role session name).", show_default=False)]
Top = Annotated[int, typer.Option("--top", help="Show the N most frequent actions; 0 shows all.", min=0)]
IndexPrefix = Annotated[str, typer.Option("--index-prefix", help="Read the indices <prefix>-* (with Elasticsearch).")]
# --user filters by AWS user here, so the Elasticsearch user is --es-user.
EsUserForHints = Annotated[Optional[str], typer.Option("--es-user", help="Elasticsearch user (env CTSTACK_ES_USER).", show_default=False)]


def _compute_hints(sources, from_es, filters, top, index_prefix, es_url, api_key, es_user, password, ca_certs, s3_settings):
    from provision.hints import hints_from_sources
    from provision.hints_es import hints_from_cluster

    if sources and from_es:
        raise CtstackError("Give either folders/files or --from-es, not both.")
    if sources:
        return hints_from_sources(sources, filters, top, s3_settings)
    try:
        return hints_from_cluster(es_config(es_url, api_key, es_user, password, ca_certs), filters, top, index_prefix)
    except CtstackError as err:
        if from_es:
            raise
        raise CtstackError(f"{err} Or read CloudTrail files directly, no Elasticsearch needed: ctstack hints ./logs/") from None


@app.command("hints")
@user_errors
def hints_(
    sources: HintSources = None,
    account: Account = None, region: Region = None, since: Since = None, until: Until = None, user: UserFilter = None,
    top: Top = 20,
    output_format: Annotated[str, typer.Option("--format", help="table | json | csv | markdown.")] = "table",
    index_prefix: IndexPrefix = settings.INDEX_PREFIX,
    es_url: EsUrl = None, api_key: ApiKey = None, es_user: EsUserForHints = None, password: EsPassword = None, ca_certs: CaCerts = None,
    profile: S3Profile = None, workers: S3Workers = settings.S3_WORKERS, endpoint_url: S3EndpointUrl = None,
) -> None:
    """Which console actions that change things people repeat, and the AWS CLI command for each.

    With folders or files: reads them directly (no Elasticsearch needed). Without: asks Elasticsearch.
    """
    from provision import hints_output
    from provision.hints import Filters

    if output_format not in hints_output.FORMATS:
        raise CtstackError(f"--format must be one of {', '.join(hints_output.FORMATS)}, not {output_format!r}.")
    filters = Filters.from_text(account, region, user, since, until)
    s3_settings = {"profile": profile, "workers": workers, "endpoint_url": endpoint_url}
    result = _compute_hints(sources, False, filters, top, index_prefix, es_url, api_key, es_user, password, ca_certs, s3_settings)
    if output_format == "table":
        hints_output.print_table(result, Console())
    else:
        render = {"json": hints_output.to_json, "csv": hints_output.to_csv, "markdown": hints_output.to_markdown}[output_format]
        typer.echo(render(result), nl=False)


@app.command("report")
@user_errors
def report(
    sources: HintSources = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="The HTML file to write.")] = Path("ctstack-report.html"),
    from_es: Annotated[bool, typer.Option("--from-es", help="Read from Elasticsearch instead of files.")] = False,
    account: Account = None, region: Region = None, since: Since = None, until: Until = None, user: UserFilter = None,
    top: Top = 20,
    index_prefix: IndexPrefix = settings.INDEX_PREFIX,
    es_url: EsUrl = None, api_key: ApiKey = None, es_user: EsUserForHints = None, password: EsPassword = None, ca_certs: CaCerts = None,
    profile: S3Profile = None, workers: S3Workers = settings.S3_WORKERS, endpoint_url: S3EndpointUrl = None,
) -> None:
    """Write a self-contained HTML report: charts of console activity and the actions to automate."""
    from provision.hints import Filters
    from provision.report import write_report

    if not sources and not from_es:
        raise CtstackError("Give folders/files of CloudTrail logs, or --from-es to read from Elasticsearch.")
    filters = Filters.from_text(account, region, user, since, until)
    s3_settings = {"profile": profile, "workers": workers, "endpoint_url": endpoint_url}
    result = _compute_hints(sources, from_es, filters, top, index_prefix, es_url, api_key, es_user, password, ca_certs, s3_settings)
    path = write_report(result, output)
    err_console.print(f"Report written to {path} ({result.candidate_actions:,} actions to automate).", highlight=False)


def main() -> None:
    app()
