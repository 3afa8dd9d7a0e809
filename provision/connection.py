"""How ctstack finds and connects to Elasticsearch.

Precedence for each setting: explicit argument (CLI option) > environment variable >
the local stack (``ctstack up`` writes its URL and the ``elastic`` password to
:func:`provision.settings.credentials_file`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from elasticsearch import ApiError, AuthenticationException, AuthorizationException, Elasticsearch
from elasticsearch import ConnectionError as EsConnectionError
from elasticsearch import TransportError
from elasticsearch.serializer import OrjsonSerializer

from provision import settings
from provision.errors import CtstackError


@dataclass(frozen=True)
class EsConfig:
    url: str
    api_key: str | None = None
    user: str | None = None
    password: str | None = None
    ca_certs: str | None = None

    def __repr__(self) -> str:  # never print secrets, even in a traceback
        auth = "api_key" if self.api_key else ("basic" if self.user else "none")
        return f"{type(self).__name__}(url={self.url!r}, auth={auth}, ca_certs={self.ca_certs!r})"


def read_env_file(path: Path) -> dict[str, str]:
    """Parse KEY=VALUE lines (the format of the stack's credentials file)."""
    values: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return values
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def local_stack_login() -> tuple[str | None, str | None]:
    """The local stack's ``elastic`` user and password (from the credentials file), if any."""
    password = read_env_file(settings.credentials_file()).get("ELASTIC_PASSWORD")
    return (settings.LOCAL_ES_USER, password) if password else (None, None)


def resolve_endpoint(
    service: str,
    env_prefix: str,
    local_url: str,
    password_option: str,
    url: str | None = None,
    api_key: str | None = None,
    user: str | None = None,
    password: str | None = None,
    ca_certs: str | None = None,
    inherit: EsConfig | None = None,
) -> dict:
    """Settings for a service (Elasticsearch, Kibana): arguments > ``<env_prefix>_*`` env vars >
    ``inherit``'s credentials and CA (Kibana accepts Elasticsearch's users and API keys) > the
    local stack's URL with its ``elastic`` login. Returns EsConfig's fields."""
    env = os.environ
    url = url or env.get(f"{env_prefix}_URL")
    api_key = api_key or env.get(f"{env_prefix}_API_KEY")
    user = user or env.get(f"{env_prefix}_USER")
    password = password or env.get(f"{env_prefix}_PASSWORD")
    ca_certs = ca_certs or env.get(f"{env_prefix}_CA_CERTS") or (inherit.ca_certs if inherit else None)
    if not (api_key or user) and inherit and (inherit.api_key or inherit.user):
        api_key, user, password = inherit.api_key, inherit.user, inherit.password
    if not url:
        url = local_url
        # Only the local stack's own URL gets the local stack's credentials.
        if not (api_key or user):
            user, password = local_stack_login()
    if user and password is None:
        raise CtstackError(f"A user ({user}) was given for {service} but no password ({password_option} or {env_prefix}_PASSWORD).")
    return {"url": url.rstrip("/"), "api_key": api_key, "user": user, "password": password, "ca_certs": ca_certs}


def resolve_es_config(
    url: str | None = None,
    api_key: str | None = None,
    user: str | None = None,
    password: str | None = None,
    ca_certs: str | None = None,
) -> EsConfig:
    """Fill in what the caller did not give from the environment, then the local stack."""
    return EsConfig(**resolve_endpoint("Elasticsearch", "CTSTACK_ES", settings.LOCAL_ES_URL, "--password",
                                       url, api_key, user, password, ca_certs))


def client(cfg: EsConfig, request_timeout: float = 60.0) -> Elasticsearch:
    """An Elasticsearch client for ``cfg``; no request is made yet."""
    # orjson: the bulk bodies are most of the bytes we send, and it is several times faster.
    # 429 is not retried here: the importer retries rejected bulk work itself, with backoff
    # (immediate transport retries would only hammer a node that asked us to slow down).
    kwargs: dict = {"request_timeout": request_timeout, "retry_on_timeout": True, "max_retries": 3,
                    "retry_on_status": (502, 503, 504),
                    "serializer": OrjsonSerializer()}
    if cfg.api_key:
        kwargs["api_key"] = cfg.api_key
    elif cfg.user:
        kwargs["basic_auth"] = (cfg.user, cfg.password or "")
    if cfg.ca_certs:
        kwargs["ca_certs"] = cfg.ca_certs
    return Elasticsearch(cfg.url, **kwargs)


def describe_error(err: Exception, cfg: EsConfig) -> str:
    """One sentence for an Elasticsearch failure, without secrets."""
    if isinstance(err, AuthenticationException):
        return f"Elasticsearch at {cfg.url} refused the credentials (HTTP 401); check --api-key or --user/--password."
    if isinstance(err, AuthorizationException):
        return f"Elasticsearch at {cfg.url} denied the request (HTTP 403): the user or API key lacks a privilege ({_reason(err)})."
    if isinstance(err, EsConnectionError):
        return f"Cannot reach Elasticsearch at {cfg.url} ({type(err).__name__}); is it running? (`ctstack up` starts a local one)."
    if isinstance(err, ApiError):
        return f"Elasticsearch at {cfg.url} answered HTTP {err.meta.status}: {_reason(err)}."
    if isinstance(err, TransportError):
        return f"Talking to Elasticsearch at {cfg.url} failed: {err}."
    return f"Elasticsearch at {cfg.url}: {err}"


def _reason(err: ApiError) -> str:
    body = err.body
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("reason") or error.get("type") or error)
        if error:
            return str(error)
    return str(err.message)


def server_version(es: Elasticsearch) -> str:
    """The server's version number. Falls back to the nodes API where ``GET /`` is absent
    (the integ-test distribution ships without the rest-root module)."""
    try:
        return es.info()["version"]["number"]
    except ApiError as err:
        if err.meta.status not in (404, 405):
            raise
    nodes = es.nodes.info(node_id="_local", metric="_none")["nodes"]
    return next(iter(nodes.values()))["version"]


def connect(cfg: EsConfig, request_timeout: float = 60.0) -> tuple[Elasticsearch, str]:
    """Connect and prove it works: returns the client and the server version, or raises
    :class:`CtstackError` with one sentence (unreachable, auth refused, ...)."""
    es = client(cfg, request_timeout=request_timeout)
    try:
        version = server_version(es)
    except (ApiError, TransportError) as err:
        raise CtstackError(describe_error(err, cfg)) from err
    major = int(version.split(".")[0])
    if major < 8:
        raise CtstackError(f"Elasticsearch at {cfg.url} is version {version}; ctstack needs 8.x or 9.x.")
    return es, version
