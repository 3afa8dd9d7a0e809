"""Trails imported into the real test node for a module's tests, under a prefix of their own."""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path
from typing import Any, Iterator

from provision.core.connection import EsConfig, client
from provision.ingest.importer import ImportSummary, run_import
from provision.sources.local import source_files


@contextlib.contextmanager
def fresh_import(es_config: EsConfig, sources: list[str], dead_letter_path: Path, **options: Any) -> Iterator[tuple[str, ImportSummary]]:
    """``sources`` imported with the importer under a fresh prefix: (prefix, summary). The
    prefix's indices are deleted afterwards."""
    prefix = f"ctstack-test-{uuid.uuid4().hex[:10]}"
    es = client(es_config)
    try:
        yield prefix, run_import(es, source_files(sources), index_prefix=prefix, dead_letter_path=dead_letter_path, **options)
    finally:
        es.options(ignore_status=404).indices.delete(index=f"{prefix}*", expand_wildcards="all")
        es.close()
