"""Reading a bulk request's answer without believing more than it says.

Between ctstack and Elasticsearch there may be a proxy, a captive portal or a gateway. Only
an answer that comes from Elasticsearch (its ``X-Elastic-Product`` header) and lists one
well-formed item per document says what happened to the documents; anything else leaves
their outcome unknown (:class:`BulkAnswerUnknown`: the import counts them as such and a
re-run settles them), or, for a page that refused the request before it reached
Elasticsearch, failed with that page's status (:class:`Refusal`).
"""

from __future__ import annotations

from typing import Any

import orjson
from elasticsearch import ApiError, TransportError

from provision.core.connection import AllCreatedAnswer

# A gateway answering these may have passed the request on: the node may have indexed it.
GATEWAY_STATUSES = (502, 503, 504)


class BulkAnswerUnknown(TransportError):
    """A bulk request got an answer that does not say what happened to its documents."""


class Refusal(str):
    """The reason for a document's failure when something in front of Elasticsearch refused
    the request (its error page, not Elasticsearch's error)."""


def from_elasticsearch(headers: Any, body: Any = None) -> bool:
    """Whether an answer is Elasticsearch's: it carries the product header (7.14 and later
    send it on answers and most errors; a proxy's own page does not), or it is an error in
    Elasticsearch's own JSON shape (some refusals, a cluster block's 403 among them, come
    without the header)."""
    headers = headers or {}
    if headers.get("x-elastic-product") == "Elasticsearch":
        return True
    error = body.get("error") if isinstance(body, dict) else None
    return "json" in str(headers.get("content-type", "")) and isinstance(error, dict) and isinstance(error.get("type"), str)


_CREATED_ITEM = {"create": {"status": 201}}
CREATED = (201, None)


class AllCreated(list):
    """bulk_results' answer when Elasticsearch created every document: (201, None) each,
    known as such without looking at each (callers may count them at once)."""

    def __init__(self, documents: int) -> None:
        super().__init__([CREATED] * documents)


def bulk_results(body: Any, documents: int) -> list[tuple[int, Any]]:
    """(status, error) for each of ``documents`` documents from a bulk answer's body (already
    decoded, or text: a JSON answer sent as text/plain or text/html is read as JSON). Raises
    :class:`BulkAnswerUnknown` unless the body lists exactly one item per document, each
    with a whole-number status."""
    if body.__class__ is AllCreatedAnswer:  # recognised on its bytes by the client's serializer
        if body.documents != documents:
            raise BulkAnswerUnknown(f"the answer to a bulk request of {documents} documents lists {body.documents} items")
        return AllCreated(documents)
    if isinstance(body, (str, bytes)):
        try:
            body = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            body = None
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise BulkAnswerUnknown(f"the answer to a bulk request of {documents} documents lists no items ({_shape(body)})")
    if len(items) != documents:
        raise BulkAnswerUnknown(f"the answer to a bulk request of {documents} documents lists {len(items)} items")
    if items == [_CREATED_ITEM] * documents:  # the common answer, compared in C: every document created
        return AllCreated(documents)
    results = []
    for number, item in enumerate(items):
        info = next(iter(item.values()), None) if isinstance(item, dict) and len(item) == 1 else None
        status = info.get("status") if isinstance(info, dict) else None
        if status.__class__ is not int:
            raise BulkAnswerUnknown(f"item {number} of the answer to a bulk request has no status: {str(item)[:100]}")
        results.append((status, info.get("error") if info is not None else None))
    return results


def refused_answer(err: ApiError) -> Refusal | None:
    """For an error answer to a bulk request: None when Elasticsearch itself answered (its
    error is the documents' reason); raises :class:`BulkAnswerUnknown` for a success
    without Elasticsearch's header (a captive portal's page) or a gateway's error (the node
    may have indexed); else the :class:`Refusal` of the page that turned the request away."""
    status = err.status_code
    if from_elasticsearch(err.meta.headers, err.body):
        return None
    if 200 <= status < 300:
        raise BulkAnswerUnknown(f"HTTP {status} came without Elasticsearch's product header: "
                                f"not Elasticsearch's answer (a proxy or captive portal?): {_text(err.body)}")
    if status in GATEWAY_STATUSES:
        raise BulkAnswerUnknown(f"a gateway answered HTTP {status} (not Elasticsearch): "
                                f"the node may or may not have indexed the request: {_text(err.body)}")
    return Refusal(f"refused before Elasticsearch by a server in front of it (HTTP {status}, "
                   f"not Elasticsearch's answer): {_text(err.body)}")


def _shape(body: Any) -> str:
    return "an empty answer" if body in (None, "", b"") else f"{type(body).__name__}: {str(body)[:100]}"


def _text(body: Any) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body if body is not None else "")
    # A page's text reaches terminals: whitespace runs become one space, control characters go.
    return "".join(ch for ch in " ".join(text.split())[:120] if ch.isprintable()) or "(no text)"
