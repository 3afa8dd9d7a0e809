"""How ctstack finds and connects to Elasticsearch.

Precedence for each setting: explicit argument (CLI option) > environment variable >
the local stack (``ctstack up`` writes its URL and the ``elastic`` password to
:func:`provision.core.settings.credentials_file`).
"""

from __future__ import annotations

import os
import re
import socket
import ssl
import threading
import weakref
from dataclasses import dataclass
from contextlib import contextmanager
from typing import Any, ClassVar, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import urllib3
from elastic_transport import ConnectionTimeout, Urllib3HttpNode
from elastic_transport.client_utils import DEFAULT
from elasticsearch import ApiError, AuthenticationException, AuthorizationException, Elasticsearch
from elasticsearch import ConnectionError as EsConnectionError
from elasticsearch import SSLError as EsTlsError
from elasticsearch import TransportError
from elasticsearch.serializer import NdjsonSerializer, OrjsonSerializer
from urllib3.connection import HTTPConnection, HTTPSConnection

from provision.core import settings
from provision.core.blocks import block_sentence
from provision.core.errors import CtstackError
from provision.core.urls import KIBANA_OPTION, display_url, parse_url


@dataclass(frozen=True)
class EsConfig:
    url: str
    api_key: str | None = None
    user: str | None = None
    password: str | None = None
    ca_certs: str | None = None
    url_option: ClassVar[str] = "--es-url"   # whose URL: names the option in messages, picks the default port

    def __post_init__(self) -> None:
        # Every config, however built, holds a URL without user info: what `url` says may be
        # printed, and every client (elasticsearch-py, urllib) then sees the same login.
        # (Options are checked with their name by resolve_endpoint; here a text that is not a
        # URL, such as a placeholder in a message, is left as it is.)
        try:
            parsed = parse_url(self.url, self.url_option)
        except CtstackError:
            return
        object.__setattr__(self, "url", parsed.url)
        if parsed.user and not (self.api_key or self.user):
            object.__setattr__(self, "user", parsed.user)
            object.__setattr__(self, "password", parsed.password)

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
    if url:
        # A login in the URL counts as given: explicit --es-api-key/--es-user win over it.
        parsed = parse_url(url, KIBANA_OPTION if env_prefix == "CTSTACK_KIBANA" else "--es-url")
        url = parsed.url
        if parsed.user and not (api_key or user):
            user, password = parsed.user, parsed.password
    else:
        url = local_url
        # Only the local stack's own URL gets the local stack's credentials.
        if not (api_key or user):
            user, password = local_stack_login()
    if user and password is None:
        raise CtstackError(f"A user ({user}) was given for {service} but no password ({password_option} or {env_prefix}_PASSWORD).")
    return {"url": url, "api_key": api_key, "user": user, "password": password, "ca_certs": ca_certs}


def resolve_es_config(
    url: str | None = None,
    api_key: str | None = None,
    user: str | None = None,
    password: str | None = None,
    ca_certs: str | None = None,
) -> EsConfig:
    """Fill in what the caller did not give from the environment, then the local stack."""
    return EsConfig(**resolve_endpoint("Elasticsearch", "CTSTACK_ES", settings.LOCAL_ES_URL, "--es-password",
                                       url, api_key, user, password, ca_certs))


# The connection each thread is sending a request on (urllib3 picks it inside the pool): the
# watchdog of DeadlineNode cuts that one when the request's whole time is up.
_SENDING_ON: dict[int, HTTPConnection] = {}


class _DeadlineHttpConnection(HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _SENDING_ON[threading.get_ident()] = self
        super().request(*args, **kwargs)


class _DeadlineHttpsConnection(HTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _SENDING_ON[threading.get_ident()] = self
        super().request(*args, **kwargs)


class DeadlineNode(Urllib3HttpNode):
    """urllib3's timeout bounds each socket read, so an answer that drips a byte a second
    never times out. This node bounds the *whole* request (sending, waiting, reading the
    answer) by its request timeout: when it is up, the connection is shut down and the
    request raises ConnectionTimeout, as a silent server's would."""

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        https = isinstance(self.pool, urllib3.HTTPSConnectionPool)
        self.pool.ConnectionCls = _DeadlineHttpsConnection if https else _DeadlineHttpConnection

    def perform_request(self, method: str, target: str, body: bytes | None = None, headers: Any = None,
                        request_timeout: Any = DEFAULT) -> Any:
        timeout = self.config.request_timeout if request_timeout is DEFAULT else request_timeout
        if timeout is None:
            return super().perform_request(method, target, body, headers, request_timeout)
        owner = threading.get_ident()
        expired = threading.Event()

        def cut() -> None:
            expired.set()
            connection = _SENDING_ON.get(owner)
            sock = getattr(connection, "sock", None)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # already closed: the request is ending anyway

        watchdog = threading.Timer(timeout, cut)
        watchdog.daemon = True
        watchdog.start()
        try:
            return super().perform_request(method, target, body, headers, request_timeout)
        except (EsConnectionError, ConnectionTimeout) as err:
            if expired.is_set():
                raise ConnectionTimeout(f"no complete answer within {timeout:g} s", errors=(err,)) from None
            raise
        finally:
            watchdog.cancel()
            _SENDING_ON.pop(owner, None)


def check_ca_file(path: str, option: str = "--es-ca-certs") -> None:
    """Raise one sentence naming the cause when ``path`` cannot serve as a CA bundle (missing,
    unreadable, or holding no PEM certificate), instead of a bare TLS error on connecting."""
    try:
        ssl.create_default_context(cafile=path)
    except FileNotFoundError:
        raise CtstackError(f"The CA file {path} ({option}) does not exist.") from None
    except IsADirectoryError:
        raise CtstackError(f"The CA file {path} ({option}) is a folder; give the PEM file of the CA.") from None
    except PermissionError:
        raise CtstackError(f"The CA file {path} ({option}) cannot be read (permission denied).") from None
    except (ssl.SSLError, ValueError, UnicodeDecodeError):
        raise CtstackError(f"The CA file {path} ({option}) holds no PEM certificate (-----BEGIN CERTIFICATE-----).") from None
    except OSError as err:
        raise CtstackError(f"The CA file {path} ({option}) cannot be read ({err.strerror or err}).") from None


class BulkBodySerializer(NdjsonSerializer):
    """NDJSON request bodies: one already built (bytes ending in a newline, as the importer
    builds bulk bodies) goes as it is; the stock serializer copies it into a new buffer
    (8 MB per bulk request, ~0.6 µs of CPU per event)."""

    def dumps(self, data: Any) -> bytes:
        if data.__class__ is bytes and data.endswith(b"\n"):
            return data
        return super().dumps(data)


_ITEMS_HEAD = b'{"items":['
_CREATED_ITEM = b'{"create":{"status":201}}'


class AllCreatedAnswer(bytes):
    """A JSON answer that is, byte for byte, a bulk answer (filtered to items.*.status) in
    which every document was created: its raw bytes, left unparsed. ``documents``: how many."""

    @property
    def documents(self) -> int:
        return (len(self) - len(_ITEMS_HEAD) - 1) // (len(_CREATED_ITEM) + 1)


class AnswerSerializer(OrjsonSerializer):
    """JSON answers, parsed with orjson; the commonest bulk answer (every item created) is
    recognised on its bytes instead: parsing its thousands of items was ~1.4 µs per event."""

    def loads(self, data: bytes) -> Any:
        if data.startswith(_ITEMS_HEAD + _CREATED_ITEM) and data.endswith(b"]}"):
            documents, rest = divmod(len(data) - len(_ITEMS_HEAD) - 1, len(_CREATED_ITEM) + 1)
            # Built and compared in C; only these exact bytes pass, anything else is parsed.
            if not rest and data == _ITEMS_HEAD + b",".join([_CREATED_ITEM] * documents) + b"]}":
                return AllCreatedAnswer(data)
        return super().loads(data)


def client(cfg: EsConfig, request_timeout: float = 60.0) -> Elasticsearch:
    """An Elasticsearch client for ``cfg``; no request is made yet (a CA file that cannot
    serve is one sentence now)."""
    # orjson: the bulk bodies are most of the bytes we send, and it is several times faster.
    # 429 is not retried here: the importer retries rejected bulk work itself, with backoff
    # (immediate transport retries would only hammer a node that asked us to slow down).
    kwargs: dict = {"request_timeout": request_timeout, "retry_on_timeout": True, "max_retries": 3,
                    "retry_on_status": (502, 503, 504),
                    "serializers": {"application/json": AnswerSerializer(), "application/x-ndjson": BulkBodySerializer()},
                    "node_class": DeadlineNode}
    if cfg.api_key:
        kwargs["api_key"] = cfg.api_key
    elif cfg.user:
        kwargs["basic_auth"] = (cfg.user, cfg.password or "")
    if cfg.ca_certs:
        check_ca_file(cfg.ca_certs)
        kwargs["ca_certs"] = cfg.ca_certs
    return Elasticsearch(cfg.url, **kwargs)


def describe_error(err: Exception, cfg: EsConfig) -> str:
    """One sentence for an Elasticsearch failure, without secrets. A write block is named
    with what lifts it (it answers 403 or 429 and is no missing privilege)."""
    url = display_url(cfg.url)
    blocked = block_sentence(err) if isinstance(err, ApiError) else None
    if blocked:
        return blocked
    if isinstance(err, AuthenticationException):
        return f"Elasticsearch at {url} refused the credentials (HTTP 401); check --es-api-key or --es-user/--es-password."
    if isinstance(err, AuthorizationException):
        return f"Elasticsearch at {url} denied the request (HTTP 403): the user or API key lacks a privilege ({_reason(err)})."
    if isinstance(err, EsTlsError):
        reason = tls_reason(err)
        advice = ("connect by a name the certificate holds (the host in --es-url)" if reason.startswith("hostname")
                  else "if the cluster's certificate is signed by its own CA, pass that CA with --es-ca-certs")
        return f"The TLS connection to Elasticsearch at {url} failed ({reason}); {advice}."
    if isinstance(err, EsConnectionError):
        return f"Cannot reach Elasticsearch at {url}: {unreachable_reason(err, cfg.url)}"
    if isinstance(err, ApiError):
        return f"Elasticsearch at {url} answered HTTP {err.meta.status}: {_reason(err)}."
    if isinstance(err, TransportError):
        return f"Talking to Elasticsearch at {url} failed: {err}."
    return f"Elasticsearch at {url}: {err}"


# What a failed connection's text says, and how a person reads it (first match wins).
_NOT_RESOLVED = ("name or service not known", "nodename nor servname", "temporary failure in name resolution",
                 "getaddrinfo failed", "no address associated", "name does not resolve", "failed to resolve")
_REFUSED = ("connection refused", "errno 111", "actively refused")
_TIMED_OUT = ("timed out", "timeout")


def unreachable_reason(err: BaseException, url: str) -> str:
    """Why a connection failed, in plain words: a host name that does not resolve (no use
    asking whether it runs), nothing listening, no answer in time, or the system's own words."""
    text = f"{err} {getattr(err, 'errors', '')} {err.__cause__ or ''}".lower()
    if any(marker in text for marker in _NOT_RESOLVED):
        host = urlsplit(url).hostname or url
        return f"the host name {host} does not resolve; check the URL."
    if any(marker in text for marker in _REFUSED):
        return "nothing answers there (connection refused). Is it running? `ctstack up` starts a local one."
    if any(marker in text for marker in _TIMED_OUT):
        return "no answer in time. Check the address, and that the cluster is up and reachable from here."
    found = re.search(r"\[errno -?\d+\] ([^'\")\]]+)", text)
    return f"the connection failed: {found.group(1).strip()}." if found else "the connection failed. Is it running? `ctstack up` starts a local one."


def tls_reason(err: BaseException) -> str:
    """The short reason of a TLS failure, e.g. "certificate verify failed: self-signed certificate in certificate chain"."""
    text = str(err)
    match = (re.search(r"certificate verify failed: [^(\]'\")]*", text) or re.search(r"\[SSL[^\]]*\] [^(\]'\")]*", text)
             or re.search(r"hostname '[^']*' doesn't match [^)\]\"]*", text))
    return (match.group(0) if match else type(err).__name__).strip(" ,.")


def _reason(err: ApiError) -> str:
    body = err.body
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("reason") or error.get("type") or error)
        if error:
            return str(error)
    return str(err.message)


# The version each client's server answered with: connect() asks once, and the commands that
# report it (status, provision) read it back instead of asking again.
_VERSIONS: "weakref.WeakKeyDictionary[Elasticsearch, str]" = weakref.WeakKeyDictionary()


def server_version(es: Elasticsearch) -> str:
    """The server's version number, asked once per client. Falls back to the nodes API where
    ``GET /`` is absent (the integ-test distribution ships without the rest-root module)."""
    known = _VERSIONS.get(es)
    if known is not None:
        return known
    try:
        version = es.info()["version"]["number"]
    except ApiError as err:
        if err.meta.status not in (404, 405):
            raise
        nodes = es.nodes.info(node_id="_local", metric="_none")["nodes"]
        version = next(iter(nodes.values()))["version"]
    _VERSIONS[es] = version
    return version


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
        raise CtstackError(f"Elasticsearch at {display_url(cfg.url)} is version {version}; ctstack needs 8.x or 9.x.")
    return es, version


def es_url(es: Elasticsearch) -> str:
    """The URL of a client's first node, for messages ("the cluster" when it has none)."""
    try:
        return str(es.transport.node_pool.all()[0].base_url)
    except (AttributeError, IndexError):
        return "the cluster"


@contextmanager
def connected(cfg: EsConfig, request_timeout: float = 60.0) -> Iterator[Elasticsearch]:
    """A client that has answered, closed on the way out; a refusal or a lost connection while
    in use becomes one :class:`CtstackError` sentence (what failed and what to check).

        with connected(resolve_es_config()) as es:
            es.count(index="cloudtrail-*")
    """
    es, _version = connect(cfg, request_timeout)
    try:
        yield es
    except (TransportError, ApiError) as err:
        raise CtstackError(describe_error(err, cfg)) from None
    finally:
        es.close()
