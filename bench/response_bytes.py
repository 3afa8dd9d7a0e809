"""What keeping console changes' responses costs the standard profile, per event.

    python bench/response_bytes.py [DIR ...]     (default: the demo set and 100,000 sample events)

For each folder: the events read, the share that are console changes (the only documents that
now carry `aws.cloudtrail.response_elements` in the standard profile), and the JSON bytes of
the standard documents with and without those responses: total, per event and per console
change. The store compresses these bytes (best_compression), so on disk the cost is lower;
these figures are what the bulk requests and `_source` carry. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from provision.cloudtrail import fields as F  # noqa: E402
from provision.cloudtrail.decode import read_files  # noqa: E402
from provision.cloudtrail.documents import DocumentError, to_document  # noqa: E402
from bench.generate import folders_to_measure  # noqa: E402
from provision.sources.local import source_files  # noqa: E402


def measure(folder: Path) -> dict:
    events = changes = doc_bytes = response_bytes = 0
    for read in read_files(source_files([str(folder)])):
        for event in read.events or ():
            try:
                doc = to_document(event, profile="standard")
            except DocumentError:
                continue
            events += 1
            size = len(orjson.dumps(doc))
            doc_bytes += size
            if F.CT_RESPONSE_ELEMENTS in doc:
                changes += 1
                response_bytes += size - len(orjson.dumps({k: v for k, v in doc.items() if k != F.CT_RESPONSE_ELEMENTS}))
    return {
        "folder": str(folder), "events": events, "console_changes_with_response": changes,
        "share_with_response": round(changes / events, 4) if events else 0,
        "standard_doc_bytes_per_event": round(doc_bytes / events, 1) if events else 0,
        "response_bytes_per_event": round(response_bytes / events, 2) if events else 0,
        "response_bytes_per_change": round(response_bytes / changes, 1) if changes else 0,
        "added_percent": round(100 * response_bytes / (doc_bytes - response_bytes), 2) if doc_bytes else 0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folders = folders_to_measure(args.folders, Path(tmp), 100_000)
        result = {"load": os.getloadavg()[0], "results": [measure(f) for f in folders]}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
