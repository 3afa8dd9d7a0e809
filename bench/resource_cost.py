"""What the drift fields cost: bytes per event and conversion events/s, before/after.

    python bench/resource_cost.py [DIR ...] [--rounds N] [--es-url URL]
    (default: the demo set and 100,000 sample events)

Every change event's standard document now carries `ctstack.resources`, `ctstack.resources_changed`,
`ctstack.resources_created`, `ctstack.actor` and `ctstack.actor_stack`
(provision.cloudtrail.resources, provision.cloudtrail.classify.actor). For each folder: the JSON bytes of the standard
documents with and without those fields (per event and per change), and events/s of turning
events into documents with the fields and without them (best of --rounds, one process). With
--es-url, also the import's events/s into that cluster, before and after (each into its own
fresh index prefix, deleted afterwards). Prints one JSON object with the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from provision.cloudtrail import documents  # noqa: E402
from provision.cloudtrail.decode import read_files  # noqa: E402
from provision.cloudtrail import fields as F  # noqa: E402
from provision.cloudtrail.documents import DocumentError, to_document  # noqa: E402
from bench.generate import folders_to_measure  # noqa: E402
from provision.sources.local import source_files  # noqa: E402

NEW_FIELDS = (F.RESOURCES, F.RESOURCES_CHANGED, F.RESOURCES_CREATED, F.ACTOR, F.ACTOR_STACK)


def _events(folder: Path) -> list:
    return [event for read in read_files(source_files([str(folder)])) for event in read.events or ()]


def _convert_rate(events: list, rounds: int) -> float:
    best = 0.0
    for _ in range(rounds):
        documents._CLASSES_CACHE.clear()
        start = time.perf_counter()
        for event in events:
            try:
                to_document(event, profile="standard")
            except DocumentError:
                pass
        best = max(best, len(events) / (time.perf_counter() - start))
    return round(best)


class _Without:
    """Conversion as before the drift fields (documents._changes does nothing)."""

    def __enter__(self) -> None:
        self.saved = documents._changes
        documents._changes = lambda event, doc: None

    def __exit__(self, *exc: object) -> None:
        documents._changes = self.saved


def measure(folder: Path, rounds: int, es_url: str | None) -> dict:
    events = _events(folder)
    changes = doc_bytes = added = 0
    for event in events:
        try:
            doc = to_document(event, profile="standard")
        except DocumentError:
            continue
        size = len(orjson.dumps(doc))
        doc_bytes += size
        if F.ACTOR in doc:
            changes += 1
            added += size - len(orjson.dumps({k: v for k, v in doc.items() if k not in NEW_FIELDS}))
    after = _convert_rate(events, rounds)
    with _Without():
        before = _convert_rate(events, rounds)
    result = {
        "folder": str(folder), "events": len(events), "change_events": changes,
        "standard_doc_bytes_per_event": round(doc_bytes / len(events), 1) if events else 0,
        "added_bytes_per_event": round(added / len(events), 2) if events else 0,
        "added_bytes_per_change": round(added / changes, 1) if changes else 0,
        "added_percent": round(100 * added / (doc_bytes - added), 2) if doc_bytes else 0,
        "convert_events_per_s_before": before, "convert_events_per_s_after": after,
    }
    if es_url:
        result["import_events_per_s_before"], result["import_events_per_s_after"] = _import_rates(folder, es_url)
    return result


def _import_rates(folder: Path, es_url: str) -> tuple[int, int]:
    from provision.core.connection import EsConfig, client
    from provision.ingest.importer import run_import

    es = client(EsConfig(url=es_url))
    rates: dict[bool, int] = {True: 0, False: 0}
    warm = False
    try:
        # A first import warms the node and the process up and is not counted; then before and
        # after alternate, best of two each.
        for without in (False, True, False, True, False):
            prefix = f"bench-drift-{uuid.uuid4().hex[:8]}"
            try:
                context = _Without() if without else _Nothing()
                with context, tempfile.TemporaryDirectory() as dead:
                    start = time.perf_counter()
                    summary = run_import(es, source_files([str(folder)]), index_prefix=prefix, dead_letter_path=Path(dead) / "dead.ndjson", processes=0)
                    rate = round(summary.events_read / (time.perf_counter() - start))
                    if warm:
                        rates[without] = max(rates[without], rate)
                    warm = True
            finally:
                es.options(ignore_status=404).indices.delete(index=f"{prefix}*", expand_wildcards="all")
                es.options(ignore_status=404).indices.delete_index_template(name=prefix)
    finally:
        es.close()
    return rates[True], rates[False]


class _Nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sample-events", type=int, default=100_000)
    parser.add_argument("--es-url", help="also measure the import into this cluster (converting in this process)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folders = folders_to_measure(args.folders, Path(tmp), args.sample_events)
        load = os.getloadavg()[0]
        result = {"load_before": round(load, 2), "results": [measure(f, args.rounds, args.es_url) for f in folders],
                  "load_after": round(os.getloadavg()[0], 2)}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
