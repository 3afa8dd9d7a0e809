"""The one reading of an Elasticsearch or Kibana URL, and how a URL is shown to people.

Every command reads ``--es-url``/``--kibana-url`` (and their environment variables) with
:func:`parse_url`, and every message, log line and JSON value shows a URL through
:func:`display_url`, so user info never shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from provision.core import settings
from provision.core.errors import CtstackError


def display_url(url: str) -> str:
    """A URL as a person may see it (messages, logs, JSON): any user info is ``***@``. Read
    from the raw text, not a parse: everything between the scheme (if any) and the *last*
    ``@`` goes, so a password holding ``/``, ``#``, ``?``, ``@`` or ``:`` unencoded, or a
    URL without a scheme (``elastic:PASS@host:9200``), never shows."""
    text = url.strip()
    scheme, separator, rest = text.partition("://")
    if not separator:
        scheme, rest = "", text
    if "@" not in rest:
        return text
    return f"{scheme}{separator}***@{rest.rpartition('@')[2]}"


@dataclass(frozen=True)
class ParsedUrl:
    url: str                # scheme://host:port[/path]: no user info, no trailing slash
    user: str | None        # from user:password@ in the URL, percent-decoded
    password: str | None
    scheme_added: bool      # the URL had no scheme and is read as http://
    port_added: bool = False  # the URL had no port: the service's own is used


KIBANA_OPTION = "--kibana-url"


def default_port(option: str) -> int:
    """The port a URL given to ``option`` without one means (http): the local stack's."""
    return urlsplit(settings.LOCAL_KIBANA_URL if option == KIBANA_OPTION else settings.LOCAL_ES_URL).port or 80


def parse_url(raw: str, option: str = "--es-url") -> ParsedUrl:
    """The one rule every command reads an Elasticsearch or Kibana URL by. A URL without a
    scheme (``localhost:9200``) is read as ``http://``; an http URL without a port gets the
    service's (9200, Kibana 5601; https keeps its standard 443); user info (up to the last
    ``@``, so a password may hold ``/ # ? @ :`` unencoded) moves into user/password.
    Anything else that is not an http(s) URL with a host raises one sentence, in which the
    URL is shown without its user info."""
    text = raw.strip()
    shown = display_url(text)
    scheme, separator, rest = text.partition("://")
    scheme_added = not separator
    if scheme_added:
        scheme, rest = "http", text
    userinfo, at, location = rest.rpartition("@")
    if not at:
        userinfo, location = "", rest
    if scheme.lower() not in ("http", "https"):
        raise CtstackError(f"{option} {shown} is not an http:// or https:// URL.")
    try:
        parts = urlsplit(f"{scheme.lower()}://{location}")
        port = parts.port
    except ValueError:  # a bad port, or a bracketed IPv6 address left open
        raise CtstackError(f"{option} {shown} is not a valid URL; write it as http://HOST:PORT "
                           "(a port is a number from 1 to 65535, an IPv6 address goes in [ ]).") from None
    if not parts.hostname:
        raise CtstackError(f"{option} {shown} names no host; write it as http://HOST:PORT.")
    if parts.query or parts.fragment:
        raise CtstackError(f"{option} {shown} has a query or fragment; give only scheme, host, port (and a path prefix).")
    netloc = parts.netloc
    port_added = port is None and parts.scheme == "http"
    if port_added:
        netloc = f"{netloc}:{default_port(option)}"
    url = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
    user = password = None
    if at:
        name, colon, secret = userinfo.partition(":")
        user = unquote(name) or None
        password = unquote(secret) if colon else None
    return ParsedUrl(url, user, password, scheme_added, port_added)
