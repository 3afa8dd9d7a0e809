"""The `ctstack` command line: each command is a few lines over a library function."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from provision import __version__
from provision.cli.keeping_up import consume_queue, follow_rounds
from provision.cli.progress import ImportProgress
from provision.cli.render import (WITHOUT_DOCKER, RichReporter, err_console, exit_after_signal, exit_if_files_failed,
                                  no_terminal_is_fine, print_automation, print_demo_written, print_import_summary, print_provisioned, print_status,
                                  print_up_result, tell, user_errors, write_workflow_scripts)
from provision.cli.vocabulary import (ImportFormat, MAX_FILE_SIZE, Accounts, ApiKey, BulkRequests, BulkSize, CaCerts,
                                      EsPassword, EsUrl, EsUser, ExitWhenEmpty, Follow, HintSources, IgnoreAction, IndexPrefix,
                                      Interval, KibanaApiKey, KibanaPassword, KibanaUrl, KibanaUser, MaxFileBytes, NoKibana,
                                      PollSeconds, Rank, Regions, S3EndpointUrl, S3Full, S3Insights, S3Profile, S3Workers, Since,
                                      SqsQueue, StackEsImage, StackKibanaImage, StackKibanaUrl, StatusKibanaUrl, TextFormat,
                                      Timeout, Top, Until, Users, Vocabulary, es_config, existing_es, say_if_scheme_added,
                                      where_from)
from provision.cloudtrail.documents import Profile
from provision.core import settings
from provision.core.urls import parse_url
from provision.core.errors import CtstackError
from provision.core.wording import nothing_readable, plural
from provision.analysis.hints import Hints
from provision.analysis.hints_request import HintsRequest, ranked_hints
from provision.demo.generate import SAMPLE_EVENTS
from provision.report.hints_output import HintsFormat
from provision.ingest.options import ImportOptions
from provision.sources.filters import Filters
from provision.sources.s3options import S3Options
from provision.stack import health, lifecycle as stack
from provision.stack import local_settings
from provision.stack import compose as docker_compose


app = typer.Typer(
    cls=Vocabulary,
    name="ctstack",
    help="Turn AWS CloudTrail logs into answers: which console actions do people repeat by hand?",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


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


def s3_options(sources: list[str], filters: Filters, insights: bool, profile: str | None, workers: int, full: bool,
               endpoint_url: str | None) -> S3Options:
    """How S3 is read, validated: its listing skips what ``filters`` leave out."""
    from provision.sources.s3layout import is_s3_url

    if insights and not any(is_s3_url(s) for s in sources):
        raise CtstackError("--insights applies to s3:// sources only.")
    return S3Options(filters=filters.s3_filters(insights), profile=profile, workers=workers, full=full, endpoint_url=endpoint_url)


@app.command("import")
@user_errors
def import_(
    sources: Annotated[Optional[list[str]], typer.Argument(help="Folders (walked recursively), files, or s3://BUCKET/PREFIX URLs of CloudTrail logs.", show_default=False)] = None,
    output_format: Annotated[ImportFormat, typer.Option("--format",
                                               help="table, or json: one JSON summary on stdout (with --follow/--sqs-queue one line per round or batch).")] = "table",
    fields_profile: Annotated[Profile, typer.Option("--fields", help="What each document keeps (docs/importing.md, fields profiles).")] = "standard",
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
    s3 = s3_options(sources, filters, insights, profile, workers, full, endpoint_url)
    cfg = es_config(es_url, api_key, user, password, ca_certs)
    # One-shot, rounds and batches alike filter events exactly (the listing is pruned too).
    options = ImportOptions(index_prefix=index_prefix, profile=fields_profile, keep_access_keys=keep_access_keys,
                            dead_letter_path=dead_letter, processes=processes, max_file_bytes=max_file_bytes,
                            bulk_requests=bulk_requests, chunk_size=bulk_size, filters=filters or None, full=full)
    if sqs_queue:
        if sources or follow:
            raise CtstackError("--sqs-queue takes no sources and no --follow: the queue names the objects.")
        raise typer.Exit(consume_queue(cfg, sqs_queue, s3, options, exit_when_empty, poll_seconds, json_output))
    if follow:
        raise typer.Exit(follow_rounds(cfg, sources, s3, options, interval, json_output))
    try:
        with ImportProgress(enabled=err_console.is_terminal) as progress:
            summary = import_sources(cfg, sources, options.but(progress=progress.update), s3)
    except CtstackError as err:
        if json_output:  # whoever reads stdout gets an answer too (the sentence also goes to stderr)
            typer.echo(json.dumps({"ok": False, "error": str(err)}))
        raise
    with no_terminal_is_fine():
        if json_output:
            typer.echo(json.dumps(summary.to_dict()))
        else:
            print_import_summary(summary, Console(), filters or None)
    if summary.interrupted:
        raise exit_after_signal()
    if not summary.ok or nothing_readable(summary.events_read, summary.skipped_files):
        raise typer.Exit(1)


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
        es=existing_es(es_url, api_key, user, password, ca_certs),
        kibana_url=kibana_url or os.environ.get("CTSTACK_KIBANA_URL"),
        es_heap=es_heap, kibana_locale=kibana_locale, imports=tuple(imports or ()), sample=sample, timeout=timeout,
        index_prefix=index_prefix, es_image=es_image, kibana_image=kibana_image, no_kibana=no_kibana,
    )
    if options.kibana_url:
        say_if_scheme_added(options.kibana_url, where_from(kibana_url, "--kibana-url", "CTSTACK_KIBANA_URL"),
                            parse_url(options.kibana_url, "--kibana-url").url)
    try:
        with err_console.status("Starting…") as live:
            result = stack.up(options, reporter=RichReporter(live))
    except docker_compose.DockerUnavailable as err:
        raise CtstackError(f"{err} {WITHOUT_DOCKER}") from None
    dashboard = result.dashboard_url
    if dashboard and result.imported:  # it opens on the imported events' time range
        dashboard = stack.dashboard_on_the_data(dashboard, options.es or es_config(None, api_key, user, password, ca_certs), index_prefix)
    print_up_result(result, dashboard)
    if result.imported and result.imported.interrupted:
        raise exit_after_signal()
    if not result.ok:
        raise typer.Exit(1)
    if follow:
        cfg = options.es or es_config(None, api_key, user, password, ca_certs)
        s3 = S3Options(filters=Filters().s3_filters(), workers=settings.S3_WORKERS)
        raise typer.Exit(follow_rounds(cfg, followed, s3, ImportOptions(index_prefix=index_prefix), interval, json_output=False))


@app.command()
@user_errors
def down(
    volumes: Annotated[bool, typer.Option("--volumes", help="Also delete the data volumes: every imported event and Kibana object.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before deleting the volumes.")] = False,
) -> None:
    """Stop the local stack; its data stays unless --volumes."""
    local = docker_compose.LocalStack()
    if volumes and not yes:
        local.check_engine()  # ask only when there is something to delete
        local.require_setup()
        typer.confirm("Delete the local stack's data volumes (all imported events and Kibana objects)?", abort=True)
    local.stop(volumes=volumes)
    typer.echo("Local stack stopped" + (" and its data volumes deleted." if volumes else "; its data is kept (`ctstack up` resumes)."))


@app.command()
@user_errors
def status(
    output_format: Annotated[TextFormat, typer.Option("--format", help="text, or json.")] = "text",
    kibana_url: StatusKibanaUrl = None,
    es_url: EsUrl = None, api_key: ApiKey = None, user: EsUser = None, password: EsPassword = None, ca_certs: CaCerts = None,
) -> None:
    """Containers, health, CloudTrail event count and newest event; exit 1 if Elasticsearch is unreachable."""
    existing = existing_es(es_url, api_key, user, password, ca_certs)
    es_cfg = existing or es_config(None, api_key, user, password, ca_certs)
    local_kibana = not existing and local_settings.local_kibana_enabled()
    kibana_source = where_from(kibana_url, "--kibana-url", "CTSTACK_KIBANA_URL")
    kibana_url = kibana_url or os.environ.get("CTSTACK_KIBANA_URL") or (settings.LOCAL_KIBANA_URL if local_kibana else None)
    kibana = None
    if kibana_url:
        from provision.stack.kibana import resolve_kibana_config

        kibana = resolve_kibana_config(kibana_url, es=es_cfg)
        say_if_scheme_added(kibana_url, kibana_source, kibana.url)
    report = stack.status(es_cfg, kibana, stack=None if existing else docker_compose.LocalStack())
    if output_format == "json":
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        print_status(report)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
@user_errors
def logs(
    service: Annotated[Optional[str], typer.Argument(help="es, kibana or setup (default: all).", show_default=False, metavar="[SERVICE]")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False,
    tail: Annotated[Optional[int], typer.Option("--tail", min=0, help="Only the last N lines per container.", show_default=False)] = None,
) -> None:
    """Show the local stack's container logs."""
    raise typer.Exit(docker_compose.LocalStack().logs(service, follow=follow, tail=tail))


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
    from provision.stack.provisioning import provision_all

    es_cfg = es_config(es_url, api_key, user, password, ca_certs)
    kibana_named = kibana_url or os.environ.get("CTSTACK_KIBANA_URL")
    skipped_note = None if skip_kibana else stack.kibana_left_out(es_cfg.url, kibana_named=bool(kibana_named))
    kibana_cfg = None
    if not (skip_kibana or skipped_note):
        kibana_cfg = resolve_kibana_config(kibana_url, kibana_api_key, kibana_user, kibana_password, es=es_cfg)
        say_if_scheme_added(kibana_named, where_from(kibana_url, "--kibana-url", "CTSTACK_KIBANA_URL"), kibana_cfg.url)
    result = provision_all(es_cfg, kibana_cfg, space, index_prefix=index_prefix, kibana_timeout=timeout)
    print_provisioned(result, es_cfg.url, skipped_note,
                      stack.dashboard_on_the_data(result.dashboard_url, es_cfg, index_prefix) if result.dashboard_url else None)



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
    from provision.demo.demo_set import write_demo_folder

    with err_console.status(f"Writing the demo logs to {escape(str(folder))}…"):
        written = write_demo_folder(folder, events=events)
    print_demo_written(folder, written, events)


def _read_hints(request: HintsRequest) -> Hints:
    """ranked_hints, with a spinner on a terminal while S3 is reached."""
    from provision.sources.s3layout import is_s3_url

    if err_console.is_terminal and any(is_s3_url(s) for s in request.sources):
        with err_console.status("Reading the sources (reaching S3)…"):
            return ranked_hints(request)
    return ranked_hints(request)


@app.command("hints")
@user_errors
def hints_(
    sources: HintSources = None,
    account: Accounts = None, region: Regions = None, since: Since = None, until: Until = None, user: Users = None,
    ignore_action: IgnoreAction = None,
    top: Top = 20, rank: Rank = "count",
    output_format: Annotated[HintsFormat, typer.Option("--format", help="How to print the hints (sh: commands and workflow scripts).")] = "table",
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

    result = _read_hints(HintsRequest(
        "hints", tuple(sources or ()), from_es, Filters.from_text(account, region, user, since, until, ignore_action or ()), top, rank,
        index_prefix, es=functools.partial(es_config, es_url, api_key, es_user, password, ca_certs),
        es_options_given=any((es_url, api_key, es_user, password, ca_certs)),
        s3_options={"profile": profile, "workers": workers, "endpoint_url": endpoint_url}, max_file_bytes=max_file_bytes))
    if output_format == "table":
        hints_output.print_table(result, Console())
        print_automation(result, workflows)
        hints_output.print_drift(result, Console())
    else:
        typer.echo(hints_output.RENDERERS[output_format](result), nl=False)
    write_workflow_scripts(result, script_dir)
    exit_if_files_failed(result)
    if nothing_readable(result.events_read, result.skipped_files):
        raise typer.Exit(1)


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

    result = _read_hints(HintsRequest(
        "report", tuple(sources or ()), from_es, Filters.from_text(account, region, user, since, until, ignore_action or ()), top, rank,
        index_prefix, es=functools.partial(es_config, es_url, api_key, es_user, password, ca_certs),
        es_options_given=any((es_url, api_key, es_user, password, ca_certs)),
        s3_options={"profile": profile, "workers": workers, "endpoint_url": endpoint_url}, max_file_bytes=max_file_bytes))
    path = write_report(result, output)
    err_console.print(f"Report written to {path} ({plural(result.candidate_actions, 'action')} to automate).", markup=False, highlight=False)
    exit_if_files_failed(result)


@app.command("reflag")
@user_errors
def reflag(
    index_prefix: Annotated[str, typer.Option("--index-prefix", help="Re-flag the indices <prefix>-*.")] = settings.INDEX_PREFIX,
    output_format: Annotated[TextFormat, typer.Option("--format", help="text, or json: one JSON summary on stdout.")] = "text",
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
            tell(f"[bold yellow]{escape(summary.aborted[:1].upper() + summary.aborted[1:])}[/] after {summary.documents_read:,} documents: "
                  "run the same command to re-flag the rest (documents already right are left as they are).")
    if summary.aborted:
        raise exit_after_signal()
    if not summary.ok:
        raise typer.Exit(1)


def main() -> None:
    app()
