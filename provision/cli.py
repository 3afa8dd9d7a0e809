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


def main() -> None:
    app()
