"""Import command-line sources: connect once, open the sources (local and ``s3://``), run
the import, then mark the console changes to managed resources."""

from __future__ import annotations

import itertools
from typing import Any, Iterable

from elasticsearch import ApiError, Elasticsearch, TransportError

from provision.cloudtrail.records import SourceFile
from provision.cloudtrail.template import check_index_prefix
from provision.core.connection import EsConfig, connected
from provision.ingest.importer import run_import
from provision.ingest.options import ImportOptions
from provision.ingest.summary import ImportSummary
from provision.sources.opening import open_sources
from provision.sources.s3options import S3Options


def import_sources(
    cfg: EsConfig,
    sources: Iterable[str],
    options: ImportOptions | None = None,
    s3_options: S3Options | dict[str, Any] | None = None,
    **changes: Any,
) -> ImportSummary:
    """Connect (one clear error if Elasticsearch is unreachable or refuses us), then
    :func:`run_import` the sources with ``options`` (keyword ``changes`` to them are accepted
    too). ``s3://`` sources go through :class:`provision.sources.s3source.S3Import`, read as
    ``s3_options`` say (:class:`~provision.sources.s3options.S3Options`)."""
    o = ImportOptions.of(options, **changes)
    check_index_prefix(o.index_prefix)
    opened = open_sources(list(sources), "Nothing to import: give at least one folder or file.")
    files: Iterable[SourceFile] = opened.local
    s3 = None
    with connected(cfg) as es:  # a refusal (e.g. installing the template) is one sentence
        try:
            if opened.urls:
                from provision.sources.s3source import S3Import  # boto3 only when S3 is used

                s3 = S3Import.with_options(opened.urls, S3Options.of(s3_options), es=es, index_prefix=o.index_prefix)
                s3.check()
                files = itertools.chain(files, s3.files())
                o = o.but(on_file_done=s3.on_file_done)
            summary = run_import(es, files, o)
            if o.profile != "minimal":
                _mark_drift(es, summary, o.index_prefix)
        finally:
            if s3 is not None:
                s3.close()  # remember what was imported, also when the run stopped early
    if s3 is not None:
        summary.extra.update(s3.stats)
    return summary


def _mark_drift(es: Elasticsearch, summary: ImportSummary, index_prefix: str) -> None:
    """Mark the console changes to managed resources for the dashboard (:func:`provision.ingest.drift_marks.mark_drift`).
    The import is done by then: a refusal here is a note in the summary, not a failed import."""
    from elasticsearch.helpers import BulkIndexError

    from provision.ingest.drift_marks import mark_drift

    try:
        summary.extra["drift_marked"] = mark_drift(es, index_prefix)
    except (TransportError, ApiError, BulkIndexError) as err:
        summary.extra["drift_not_marked"] = str(getattr(err, "message", None) or err)[:300]
