"""Sending one bulk request: 429s retried with exponential backoff, blocks and refusals
turned into per-document answers (status, error) in the order the documents were sent."""

from __future__ import annotations

import re
import time
from typing import Any, Protocol

from elasticsearch import ApiError, Elasticsearch

from provision.core.blocks import BLOCK_ERROR, block_sentence
from provision.ingest.bulkanswer import AllCreated, bulk_results, refused_answer

MAX_RETRIES = 6                     # 429 retries per chunk, with exponential backoff ...
MAX_BACKOFF = 60.0                  # ... of at most this many seconds
# Indexing pressure's 429: "... coordinating_operation_bytes=207, max_coordinating_bytes=1]"
_OVERSIZED = re.compile(r"(?:coordinating|primary|replica)_operation_bytes=(\d+).*?max_\w*?_bytes=(\d+)")


class BulkChunk(Protocol):
    """One bulk request's worth of documents, as the sender needs it."""

    count: int

    def body(self) -> bytes: ...

    def body_of(self, which: list[int]) -> bytes: ...


class WritesBlocked(Exception):
    """Elasticsearch answered, refusing writes with a block: ``results`` are the chunk's
    answers, ``sentence`` names the block and its fix. Nothing more can go in."""

    def __init__(self, sentence: str, results: list[tuple[int, Any]]) -> None:
        super().__init__(sentence)
        self.sentence = sentence
        self.results = results


def _oversized(err: ApiError) -> bool:
    """A 429 for indexing pressure where this request alone is over Elasticsearch's whole
    budget (indexing_pressure.memory.limit): waiting cannot help it."""
    found = _OVERSIZED.search(str(err))
    return found is not None and int(found[1]) > int(found[2])


_BULK_RESPONSE_FIELDS = "items.*.status,items.*.error"


def send_chunk(es: Elasticsearch, chunk: BulkChunk, max_retries: int,
                initial_backoff: float) -> list[tuple[int, Any]]:
    """One bulk request; documents Elasticsearch turns away with 429 (the whole request or
    single items) are sent again with exponential backoff. Returns (status, error) per
    document, in order. A whole request refused otherwise fails each of its documents with
    the reason; so does a single document too large for Elasticsearch's indexing-pressure
    budget, at once. A block (flood-stage, read-only) raises :class:`WritesBlocked` on the
    first answer that shows it; transport errors (Elasticsearch unreachable) propagate."""
    results: list = [None] * chunk.count
    todo: Any = range(chunk.count)
    for attempt in range(max_retries + 1):
        if attempt:
            time.sleep(min(MAX_BACKOFF, initial_backoff * 2 ** (attempt - 1)))
        last = attempt == max_retries
        body = chunk.body() if len(todo) == chunk.count else chunk.body_of(todo)
        try:
            # Only each item's status (and error) comes back: a tenth of the bytes for
            # Elasticsearch to write and for us to parse. An answer that does not say what
            # happened to each document raises BulkAnswerUnknown: they have an unknown outcome.
            answers = bulk_results(es.bulk(operations=body, filter_path=_BULK_RESPONSE_FIELDS).body,  # type: ignore[arg-type]  # bytes go as they are; the stubs name only mappings
                                   len(todo))
        except ApiError as err:
            refusal = refused_answer(err)
            blocked = block_sentence(err) if refusal is None else None
            retried = err.status_code == 429 or (err.status_code == 503 and refusal is None)
            if retried and not last and blocked is None and not (len(todo) == 1 and _oversized(err)):
                continue
            for i in todo:
                results[i] = (err.status_code, refusal or str(err))
            if blocked is not None:
                raise WritesBlocked(blocked, results) from None
            return results
        if answers.__class__ is AllCreated and len(todo) == chunk.count:  # nothing to retry or fail
            return answers
        retry = []
        blocked = None
        for i, (status, error) in zip(todo, answers):
            if status >= 300 and error.__class__ is dict and error.get("type") == BLOCK_ERROR:
                blocked = blocked or block_sentence(error)
                results[i] = (status, error)
            elif status == 429 and not last:
                retry.append(i)
            else:
                results[i] = (status, error)
        if blocked is not None:
            for i in retry:  # never sent again: the block refuses them as well
                results[i] = (429, "not sent again: writes are blocked")
            raise WritesBlocked(blocked, results)
        if not retry:
            return results
        todo = retry
    return results
