"""What `ctstack hints` and `ctstack report` ask for, as one value, and the one call that answers
it: hints from the sources given (folders, files, s3:// URLs), else from Elasticsearch, ranked
by count or by console time.

    request = HintsRequest("hints", sources=("./logs",), top=10)
    hints = ranked_hints(request)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from provision.analysis.hints import DEFAULT_TOP, RANKS, Hints, hints_from_sources, rank_by_time
from provision.analysis.hints_es import hints_from_cluster
from provision.cloudtrail.records import MAX_FILE_BYTES
from provision.core import settings
from provision.core.connection import EsConfig
from provision.core.errors import CtstackError
from provision.sources.filters import Filters


@dataclass(frozen=True)
class HintsRequest:
    """Which events to read and how to rank what they show."""

    command: str                        # "hints" or "report": named in the advice when Elasticsearch is unreachable
    sources: tuple[str, ...] = ()       # none: ask Elasticsearch
    from_es: bool = False               # --from-es: Elasticsearch asked for by name (no advice to read files)
    filters: Filters = field(default_factory=Filters)
    top: int = DEFAULT_TOP              # 0: all
    rank: str = "count"                 # one of RANKS
    index_prefix: str = settings.INDEX_PREFIX
    # The cluster to ask when no source is given, or a function making it when needed (the CLI's
    # reads options and environment, and a bad URL then gets the advice to read files instead).
    es: EsConfig | Callable[[], EsConfig] | None = None
    es_options_given: bool = False      # an --es-* option was given: refused beside sources
    s3_options: dict[str, Any] = field(default_factory=dict)  # profile, workers, endpoint_url
    max_file_bytes: int = MAX_FILE_BYTES


def ranked_hints(request: HintsRequest) -> Hints:
    """count: hints as computed (most frequent first, cut at top); time: all, by console minutes, then cut."""
    if request.rank not in RANKS:
        raise CtstackError(f"--rank must be one of {', '.join(RANKS)}, not {request.rank!r}.")
    if request.rank == "count":
        return compute_hints(request, request.top)
    return rank_by_time(compute_hints(request, 0), request.top)


def compute_hints(request: HintsRequest, top: int) -> Hints:
    """Hints from the sources given, else from Elasticsearch (hints and report alike)."""
    if request.sources and request.from_es:
        raise CtstackError("Give either folders/files/s3:// URLs or --from-es, not both.")
    if request.sources and request.es_options_given:
        # Reading files and asking Elasticsearch are two different answers: never pick one silently.
        raise CtstackError("With folders, files or s3:// sources ctstack reads them directly and does not use Elasticsearch; "
                           "leave out --es-url/--es-api-key/--es-user/--es-password/--es-ca-certs, or leave out the sources to ask Elasticsearch.")
    if request.sources:
        return hints_from_sources(list(request.sources), request.filters, top, request.s3_options, request.max_file_bytes)
    if request.es is None:
        raise CtstackError("No sources and no Elasticsearch to ask: give folders, files or s3:// URLs, or --es-url.")
    try:
        cluster = request.es() if callable(request.es) else request.es
        return hints_from_cluster(cluster, request.filters, top, request.index_prefix)
    except CtstackError as err:
        if request.from_es:
            raise
        raise CtstackError(f"{err} Or read CloudTrail logs directly, no Elasticsearch needed: "
                           f"ctstack {request.command} ./logs/ (or s3://BUCKET/PREFIX).") from None
