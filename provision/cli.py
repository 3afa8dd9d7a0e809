"""The `ctstack` command line: each command is a few lines over a library function."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Annotated, Callable, Optional, TypeVar

import typer
from rich.console import Console

from provision import __version__, settings
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
EsUrl = Annotated[Optional[str], typer.Option("--es-url", help="Elasticsearch URL [env: CTSTACK_ES_URL; default: the local stack].", show_default=False)]
ApiKey = Annotated[Optional[str], typer.Option("--api-key", help="Elasticsearch API key [env: CTSTACK_ES_API_KEY].", show_default=False)]
EsUser = Annotated[Optional[str], typer.Option("--user", help="Elasticsearch user [env: CTSTACK_ES_USER].", show_default=False)]
EsPassword = Annotated[Optional[str], typer.Option("--password", help="Elasticsearch password [env: CTSTACK_ES_PASSWORD]; prefer the env var.", show_default=False)]
CaCerts = Annotated[Optional[str], typer.Option("--ca-certs", help="CA bundle for a TLS Elasticsearch [env: CTSTACK_ES_CA_CERTS].", show_default=False)]


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


@app.command("import")
@user_errors
def import_(
    sources: Annotated[list[str], typer.Argument(help="Folders (walked recursively) or files of CloudTrail logs (.json.gz, .json).", show_default=False)],
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON summary on stdout instead of the table.")] = False,
    fields_profile: Annotated[str, typer.Option("--fields", help="What to keep: minimal | standard | full.")] = "standard",
    keep_access_keys: Annotated[bool, typer.Option("--keep-access-keys", help="Store access key IDs (never stored otherwise).")] = False,
    index_prefix: Annotated[str, typer.Option("--index-prefix", help="Indices are named <prefix>-YYYY.MM.")] = settings.INDEX_PREFIX,
    dead_letter: Annotated[Optional[Path], typer.Option("--dead-letter", help="Where failed events go (NDJSON); default ./ctstack-dead-letter-<time>.ndjson, created only on failure.", show_default=False)] = None,
    es_url: EsUrl = None, api_key: ApiKey = None, user: EsUser = None, password: EsPassword = None, ca_certs: CaCerts = None,
) -> None:
    """Import CloudTrail logs into Elasticsearch. Safe to repeat: events already present are counted, not duplicated."""
    from provision.importer import import_sources

    if fields_profile not in PROFILES:
        raise CtstackError(f"--fields must be one of {', '.join(PROFILES)}, not {fields_profile!r}.")
    cfg = es_config(es_url, api_key, user, password, ca_certs)
    with ImportProgress(enabled=err_console.is_terminal) as progress:
        summary = import_sources(
            cfg, sources, index_prefix=index_prefix, profile=fields_profile,
            keep_access_keys=keep_access_keys, dead_letter_path=dead_letter, progress=progress.update,
        )
    if json_output:
        typer.echo(json.dumps(summary.to_dict()))
    else:
        _print_summary(summary, Console())
    if not summary.ok:
        raise typer.Exit(1)


# -- hints and report ------------------------------------------------------------------------

HintSources = Annotated[Optional[list[str]], typer.Argument(help="Folders, files of CloudTrail logs (.json.gz, .json); none: ask Elasticsearch.", show_default=False)]
Account = Annotated[Optional[str], typer.Option("--account", help="Only this AWS account ID.", show_default=False)]
Region = Annotated[Optional[str], typer.Option("--region", help="Only this region.", show_default=False)]
Since = Annotated[Optional[str], typer.Option("--since", help="From this date or time (2024-08-01, 2024-08-01T12:00:00Z; UTC).", show_default=False)]
Until = Annotated[Optional[str], typer.Option("--until", help="Up to this date (the whole day) or time.", show_default=False)]
UserFilter = Annotated[Optional[str], typer.Option("--user", help="Only this user (IAM user name or role session name).", show_default=False)]
Top = Annotated[int, typer.Option("--top", help="Show the N most frequent actions; 0 shows all.", min=0)]
IndexPrefix = Annotated[str, typer.Option("--index-prefix", help="Read the indices <prefix>-* (with Elasticsearch).")]
# --user filters by AWS user here, so the Elasticsearch user is --es-user.
EsUserForHints = Annotated[Optional[str], typer.Option("--es-user", help="Elasticsearch user [env: CTSTACK_ES_USER].", show_default=False)]


def _compute_hints(sources, from_es, filters, top, index_prefix, es_url, api_key, es_user, password, ca_certs):
    from provision.hints import hints_from_sources
    from provision.hints_es import hints_from_cluster

    if sources and from_es:
        raise CtstackError("Give either folders/files or --from-es, not both.")
    if sources:
        return hints_from_sources(sources, filters, top)
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
) -> None:
    """Which console actions that change things people repeat, and the AWS CLI command for each.

    With folders or files: reads them directly (no Elasticsearch needed). Without: asks Elasticsearch.
    """
    from provision import hints_output
    from provision.hints import Filters

    if output_format not in hints_output.FORMATS:
        raise CtstackError(f"--format must be one of {', '.join(hints_output.FORMATS)}, not {output_format!r}.")
    filters = Filters.from_text(account, region, user, since, until)
    result = _compute_hints(sources, False, filters, top, index_prefix, es_url, api_key, es_user, password, ca_certs)
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
) -> None:
    """Write a self-contained HTML report: charts of console activity and the actions to automate."""
    from provision.hints import Filters
    from provision.report import write_report

    if not sources and not from_es:
        raise CtstackError("Give folders/files of CloudTrail logs, or --from-es to read from Elasticsearch.")
    filters = Filters.from_text(account, region, user, since, until)
    result = _compute_hints(sources, from_es, filters, top, index_prefix, es_url, api_key, es_user, password, ca_certs)
    path = write_report(result, output)
    err_console.print(f"Report written to {path} ({result.candidate_actions:,} actions to automate).", highlight=False)


def main() -> None:
    app()
