"""Import command-line sources: connect once, open the sources (local and ``s3://``), run
the import, then mark the console changes to managed resources."""

from __future__ import annotations

import itertools
from typing import Any, Callable, Iterable

from elasticsearch import ApiError, Elasticsearch, TransportError

from provision.cloudtrail.records import SourceFile
from provision.cloudtrail.template import check_index_prefix
from provision.core.connection import EsConfig, connected
from provision.ingest.importer import run_import
from provision.ingest.options import ImportOptions
from provision.ingest.summary import FileOutcome, ImportSummary
from provision.sources.localstate import LocalImport
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
    ``s3_options`` say (:class:`~provision.sources.s3options.S3Options`).

    Local files and S3 objects imported in full by an earlier run into the same index prefix
    are not read again (:mod:`provision.sources.localstate`, :mod:`provision.sources.s3state`)
    unless ``options.full`` (or ``s3_options.full`` for S3): the summary counts them in
    ``files_unchanged`` and ``objects_skipped_already_imported``."""
    o = ImportOptions.of(options, **changes)
    check_index_prefix(o.index_prefix)
    opened = open_sources(list(sources), "Nothing to import: give at least one folder or file.")
    s3 = None
    with connected(cfg) as es:  # a refusal (e.g. installing the template) is one sentence
        local = LocalImport(es, o.index_prefix, full=o.full)
        files: Iterable[SourceFile] = local.files(opened.local)
        remembering: list[Callable[[SourceFile, FileOutcome], None]] = [local.on_file_done]
        try:
            if opened.urls:
                from provision.sources.s3source import S3Import  # boto3 only when S3 is used

                s3_opts = S3Options.of(s3_options)
                s3 = S3Import.with_options(opened.urls, s3_opts.but(full=True) if o.full else s3_opts, es=es,
                                           index_prefix=o.index_prefix)
                s3.check()
                files = itertools.chain(files, s3.files())
                remembering.append(s3.on_file_done)
            summary = run_import(es, files, o.but(on_file_done=_each(remembering + ([o.on_file_done] if o.on_file_done else []))))
            # Marks follow the stored events: a run that indexed none (a re-run) leaves them
            # as the last one that did set them, and does not read every change again.
            if o.profile != "minimal" and summary.events_indexed:
                _mark_drift(es, summary, o.index_prefix)
        finally:
            local.close()  # remember what was imported, also when the run stopped early
            if s3 is not None:
                s3.close()
    summary.extra.update(local.stats)
    if s3 is not None:
        summary.extra.update(s3.stats)
    return summary


def _each(callbacks: list[Callable[[SourceFile, FileOutcome], None]]) -> Callable[[SourceFile, FileOutcome], None]:
    def on_file_done(file: SourceFile, outcome: FileOutcome) -> None:
        for callback in callbacks:
            callback(file, outcome)
    return on_file_done


def _mark_drift(es: Elasticsearch, summary: ImportSummary, index_prefix: str) -> None:
    """Mark the console changes to managed resources for the dashboard (:func:`provision.ingest.drift_marks.mark_drift`).
    The import is done by then: a refusal here is a note in the summary, not a failed import."""
    from elasticsearch.helpers import BulkIndexError

    from provision.ingest.drift_marks import mark_drift

    try:
        summary.extra["drift_marked"] = mark_drift(es, index_prefix)
    except (TransportError, ApiError, BulkIndexError) as err:
        summary.extra["drift_not_marked"] = str(getattr(err, "message", None) or err)[:300]
