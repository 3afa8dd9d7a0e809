"""`ctstack import` as it sent documents before the cheaper documents: flat dotted keys ("event.action"),
1,000 documents per bulk request, one request in flight. For bench/run.py's before/after cost
comparison (with bench/template_before.json); everything else is today's code.

    python bench/import_before.py import DIR --es-url URL ...
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from provision.cloudtrail import documents
from provision.ingest import import_sources, importer  # noqa: E402
from provision.cli.commands import app  # noqa: E402

CHUNK_SIZE_BEFORE = 1000
BULK_REQUESTS_BEFORE = 1

# import_sources calls run_import by its module-level name there, so these defaults change (the
# command line passes bulk_requests explicitly: its default is today's, so it is set here).
_run_import = importer.run_import


def _run_import_before(*args, **kwargs):
    kwargs["chunk_size"] = CHUNK_SIZE_BEFORE
    kwargs["bulk_requests"] = BULK_REQUESTS_BEFORE
    return _run_import(*args, **kwargs)


import_sources.run_import = _run_import_before
# Documents as they were: flat. Converting processes are spawned and import this module again
# (as __mp_main__), so they send them flat too.
documents.nested = lambda doc: doc

if __name__ == "__main__":
    app(prog_name="ctstack")
