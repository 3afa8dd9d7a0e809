"""ctstack: AWS CloudTrail logs into Elasticsearch and Kibana, to find console work worth automating.

The public API: everything the docs' Python examples use, importable from ``provision``::

    from provision import resolve_es_config, import_sources
    summary = import_sources(resolve_es_config(), ["logs/"])

Names load on first use: importing ``provision`` alone stays cheap (worker processes that
convert files import it and need none of this).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> the module that defines it (the layers below; see docs/development.md)
_EXPORTS = {
    "CtstackError": "provision.core.errors",
    "EsConfig": "provision.core.connection",
    "resolve_es_config": "provision.core.connection",
    "connected": "provision.core.connection",
    "Filters": "provision.sources.filters",
    "S3Filters": "provision.sources.s3layout",
    "S3Options": "provision.sources.s3options",
    "S3Import": "provision.sources.s3source",
    "import_sources": "provision.ingest.import_sources",
    "run_import": "provision.ingest.importer",
    "ImportOptions": "provision.ingest.options",
    "ImportSummary": "provision.ingest.summary",
    "follow": "provision.ingest.follow",
    "consume": "provision.ingest.sqsqueue",
    "StopSwitch": "provision.ingest.continuous",
    "reflag": "provision.ingest.reflag",
    "reflag_cluster": "provision.ingest.reflag",
    "Hints": "provision.analysis.hints",
    "hints_from_sources": "provision.analysis.hints",
    "hints_from_files": "provision.analysis.hints",
    "hints_from_es": "provision.analysis.hints_es",
    "hints_from_cluster": "provision.analysis.hints_es",
    "HintsRequest": "provision.analysis.hints_request",
    "ranked_hints": "provision.analysis.hints_request",
    "render_report": "provision.report.html",
    "write_report": "provision.report.html",
    "write_demo": "provision.demo.demo_set",
    "write_sample": "provision.demo.generate",
    "provision_all": "provision.stack.provisioning",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'provision' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # what type checkers and editors see; at run time the names load lazily
    from provision.analysis.hints import Hints, hints_from_files, hints_from_sources
    from provision.analysis.hints_es import hints_from_cluster, hints_from_es
    from provision.analysis.hints_request import HintsRequest, ranked_hints
    from provision.core.connection import EsConfig, connected, resolve_es_config
    from provision.core.errors import CtstackError
    from provision.demo.demo_set import write_demo
    from provision.demo.generate import write_sample
    from provision.ingest.continuous import StopSwitch
    from provision.ingest.follow import follow
    from provision.ingest.import_sources import import_sources
    from provision.ingest.importer import run_import
    from provision.ingest.options import ImportOptions
    from provision.ingest.summary import ImportSummary
    from provision.ingest.reflag import reflag, reflag_cluster
    from provision.ingest.sqsqueue import consume
    from provision.report.html import render_report, write_report
    from provision.sources.filters import Filters
    from provision.sources.s3layout import S3Filters
    from provision.sources.s3options import S3Options
    from provision.sources.s3source import S3Import
    from provision.stack.provisioning import provision_all
