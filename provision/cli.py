"""The `ctstack` command line: each command is a few lines over a library function."""

from __future__ import annotations

import functools
from typing import Annotated, Callable, Optional, TypeVar

import typer
from rich.console import Console

from provision import __version__
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


# --- ctstack provision (issue 6) ---------------------------------------------------------------

KibanaUrl = Annotated[Optional[str], typer.Option("--kibana-url", help="Kibana URL [env: CTSTACK_KIBANA_URL; default: the local stack].", show_default=False)]
KibanaApiKey = Annotated[Optional[str], typer.Option("--kibana-api-key", help="Kibana API key [env: CTSTACK_KIBANA_API_KEY; default: the Elasticsearch credentials].", show_default=False)]
KibanaUser = Annotated[Optional[str], typer.Option("--kibana-user", help="Kibana user [env: CTSTACK_KIBANA_USER; default: the Elasticsearch credentials].", show_default=False)]
KibanaPassword = Annotated[Optional[str], typer.Option("--kibana-password", help="Kibana password [env: CTSTACK_KIBANA_PASSWORD]; prefer the env var.", show_default=False)]


@app.command()
@user_errors
def provision(
    space: Annotated[Optional[str], typer.Option("--space", help="Kibana space to import into [default: the default space].", show_default=False)] = None,
    skip_kibana: Annotated[bool, typer.Option("--skip-kibana", help="Only install the index template.")] = False,
    index_prefix: Annotated[Optional[str], typer.Option("--index-prefix", help="Index name prefix the template and data view cover [default: ctstack-cloudtrail].", show_default=False)] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for Kibana to be available.")] = 180.0,
    es_url: EsUrl = None, api_key: ApiKey = None, user: EsUser = None, password: EsPassword = None, ca_certs: CaCerts = None,
    kibana_url: KibanaUrl = None, kibana_api_key: KibanaApiKey = None, kibana_user: KibanaUser = None, kibana_password: KibanaPassword = None,
) -> None:
    """Install the index template and the Kibana data view + dashboard (re-running overwrites)."""
    from provision import settings
    from provision.kibana import resolve_kibana_config
    from provision.provisioning import provision_all

    es_cfg = es_config(es_url, api_key, user, password, ca_certs)
    kibana_cfg = None if skip_kibana else resolve_kibana_config(kibana_url, kibana_api_key, kibana_user, kibana_password, es=es_cfg)
    result = provision_all(es_cfg, kibana_cfg, space, index_prefix=index_prefix or settings.INDEX_PREFIX, kibana_timeout=timeout)
    typer.echo(f"Index template for {result.index_prefix}-* installed in Elasticsearch {result.es_version} at {es_cfg.url}.")
    if result.kibana_version:
        names = ", ".join(f"{o['type']} {o['id']}" for o in result.imported)
        typer.echo(f"Kibana {result.kibana_version}: imported {len(result.imported)} saved objects into space {space or 'default'} ({names}).")
        typer.echo(f"Dashboard: {result.dashboard_url}")


def main() -> None:
    app()
