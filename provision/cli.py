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


@app.command("import")
@user_errors
def import_(
    sources: Annotated[list[str], typer.Argument(help="Folders (walked recursively), files, or s3://BUCKET/PREFIX URLs of CloudTrail logs.", show_default=False)],
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON summary on stdout instead of the table.")] = False,
    fields_profile: Annotated[str, typer.Option("--fields", help="What to keep: minimal | standard | full.")] = "standard",
    keep_access_keys: Annotated[bool, typer.Option("--keep-access-keys", help="Store access key IDs (never stored otherwise).")] = False,
    index_prefix: Annotated[str, typer.Option("--index-prefix", help="Indices are named <prefix>-YYYY.MM.")] = settings.INDEX_PREFIX,
    dead_letter: Annotated[Optional[Path], typer.Option("--dead-letter", help="Where failed events go (NDJSON); default ./ctstack-dead-letter-<time>.ndjson, created only on failure.", show_default=False)] = None,
    es_url: EsUrl = None, api_key: ApiKey = None, user: EsUser = None, password: EsPassword = None, ca_certs: CaCerts = None,
    account: S3Accounts = None, region: S3Regions = None, since: S3Since = None, until: S3Until = None, insights: S3Insights = False,
    profile: S3Profile = None, workers: S3Workers = settings.S3_WORKERS, full: S3Full = False, endpoint_url: S3EndpointUrl = None,
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
            s3_options=s3_options(sources, account, region, since, until, insights, profile, workers, full, endpoint_url),
        )
    if json_output:
        typer.echo(json.dumps(summary.to_dict()))
    else:
        _print_summary(summary, Console())
    if not summary.ok:
        raise typer.Exit(1)


def main() -> None:
    app()
