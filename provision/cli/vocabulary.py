"""The command line's vocabulary: option spellings (old ones read as new), sizes, and the
Annotated options the commands share, so one option reads the same in every command."""

from __future__ import annotations

import os
from typing import Annotated, Literal, Optional, get_args

import typer
import typer.core
from rich.markup import escape

from provision.cli.render import err_console
from provision.cloudtrail.records import MAX_FILE_BYTES
from provision.core import settings
from provision.core.connection import EsConfig, resolve_es_config
from provision.core.urls import display_url, parse_url

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


class Vocabulary(typer.core.TyperGroup):
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


ImportFormat = Literal["table", "json"]
TextFormat = Literal["text", "json"]
IMPORT_FORMATS = get_args(ImportFormat)
TEXT_FORMATS = get_args(TextFormat)


MAX_FILE_SIZE = size_text(MAX_FILE_BYTES)  # "1g": the default as --help shows it

# Connection options shared by every command that talks to Elasticsearch.
EsUrl = Annotated[Optional[str], typer.Option("--es-url", help="Elasticsearch URL (env CTSTACK_ES_URL; default: the local stack).", show_default=False)]
ApiKey = Annotated[Optional[str], typer.Option("--es-api-key", help="Elasticsearch API key (env CTSTACK_ES_API_KEY; was --api-key).", show_default=False)]
EsUser = Annotated[Optional[str], typer.Option("--es-user", help="Elasticsearch user (env CTSTACK_ES_USER; was --user).", show_default=False)]
EsPassword = Annotated[Optional[str], typer.Option("--es-password", help="Elasticsearch password (env CTSTACK_ES_PASSWORD, which keeps it out of the process list; was --password).", show_default=False)]
CaCerts = Annotated[Optional[str], typer.Option("--es-ca-certs", help="CA bundle for a TLS Elasticsearch (env CTSTACK_ES_CA_CERTS; was --ca-certs).", show_default=False)]
MaxFileBytes = Annotated[int, typer.Option("--max-file-bytes", parser=parse_size, metavar="SIZE",
                                           help="A file that expands to more than this (after gunzip) fails unread, so a gzip bomb cannot take the memory: 1g, 512m or bytes.")]
BulkRequests = Annotated[int, typer.Option("--bulk-requests", min=1, max=64, help="Bulk requests kept in flight at once; more can help a cluster of several nodes (docs/performance.md).")]
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
    port got the service's (urls.parse_url's rule)."""
    parsed = parse_url(raw, option) if raw else None
    if raw and parsed and (parsed.scheme_added or parsed.port_added):
        missing = " or ".join(word for word, added in (("scheme", parsed.scheme_added), ("port", parsed.port_added)) if added)
        err_console.print(f"Note: {option} {escape(display_url(raw))} has no {missing}; using {escape(display_url(url))}.", highlight=False)


# Which events count, in import, hints and report alike (provision/sources/filters.py); for s3://
# sources the listing skips what they leave out.
Accounts = Annotated[Optional[list[str]], typer.Option("--account", help="Only events of this AWS account ID (repeatable).", show_default=False)]
Regions = Annotated[Optional[list[str]], typer.Option("--region", help="Only events in this region (repeatable).", show_default=False)]
Since = Annotated[Optional[str], typer.Option("--since", help="From this date or time (2024-08-01, 2024-08-01T12:00Z; UTC) or relative: 12h, 7d, 2w.", show_default=False)]
Until = Annotated[Optional[str], typer.Option("--until", help="Up to this date (the whole day) or time, same forms as --since.", show_default=False)]
S3Insights = Annotated[bool, typer.Option("--insights", help="s3:// only: also import CloudTrail Insights files.")]
S3Profile = Annotated[Optional[str], typer.Option("--profile", help="AWS profile (named or SSO); default: the AWS credential chain (env, config, instance role).", show_default=False)]
S3Workers = Annotated[int, typer.Option("--workers", min=1, max=64, help="Parallel S3 downloads.")]
S3Full = Annotated[bool, typer.Option("--full", help="Read every file and s3:// object again, also those earlier runs imported unchanged.")]
S3EndpointUrl = Annotated[Optional[str], typer.Option("--endpoint-url", help="S3-compatible endpoint (env CTSTACK_S3_ENDPOINT_URL).", show_default=False)]


Follow = Annotated[bool, typer.Option("--follow", help="s3:// only: keep importing new objects every --interval (today's and yesterday's prefixes) until SIGINT/SIGTERM.")]
Interval = Annotated[str, typer.Option("--interval", metavar="DURATION", help="With --follow: time between rounds (30s, 5m, 1h).")]
SqsQueue = Annotated[Optional[str], typer.Option("--sqs-queue", help="Import the objects named by S3/SNS/CloudTrail notifications on this SQS queue URL, until SIGINT/SIGTERM.", show_default=False)]
ExitWhenEmpty = Annotated[bool, typer.Option("--exit-when-empty", help="With --sqs-queue: stop when the queue holds no message (visible or in flight).")]
PollSeconds = Annotated[int, typer.Option("--poll-seconds", min=0, max=20, help="With --sqs-queue: long-poll wait of each receive.")]


def existing_es(es_url: str | None, api_key: str | None, user: str | None, password: str | None, ca_certs: str | None) -> EsConfig | None:
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


KibanaUrl = Annotated[Optional[str], typer.Option("--kibana-url", help="Kibana URL (env CTSTACK_KIBANA_URL; default: the local stack).", show_default=False)]
KibanaApiKey = Annotated[Optional[str], typer.Option("--kibana-api-key", help="Kibana API key (env CTSTACK_KIBANA_API_KEY; default: the Elasticsearch credentials).", show_default=False)]
KibanaUser = Annotated[Optional[str], typer.Option("--kibana-user", help="Kibana user (env CTSTACK_KIBANA_USER; default: the Elasticsearch credentials).", show_default=False)]
KibanaPassword = Annotated[Optional[str], typer.Option("--kibana-password", help="Kibana password (env CTSTACK_KIBANA_PASSWORD); prefer the env var.", show_default=False)]



HintSources = Annotated[Optional[list[str]], typer.Argument(help="Folders, files or s3://BUCKET/PREFIX URLs of CloudTrail logs; none: ask Elasticsearch.", show_default=False)]
Users = Annotated[Optional[list[str]], typer.Option("--user", help="Only this user (IAM user name or role session name; repeatable).", show_default=False)]
IgnoreAction = Annotated[Optional[list[str]], typer.Option(
    "--ignore-action", help="Never a candidate: SOURCE:NAME or SOURCE:* (repeatable), besides the console's own plumbing (sign-ins, CloudShell, support cases), which ctstack always leaves out.",
    metavar="SOURCE:NAME", show_default=False)]
Top = Annotated[int, typer.Option("--top", help="Show the N most frequent actions; 0 shows all.", min=0)]
Rank = Annotated[Literal["count", "time"], typer.Option("--rank", help="count: most frequent first; time: most console minutes per month first.")]


IndexPrefix = Annotated[str, typer.Option("--index-prefix", help="Read the indices <prefix>-* (with Elasticsearch).")]
