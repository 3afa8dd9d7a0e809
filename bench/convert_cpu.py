"""The importer's conversion CPU per event: files to bulk request bodies in this process
(importer.bulk_bodies, processes=0: read, gunzip, parse, documents, scrubbing, action lines,
chunking), nothing sent.

    python bench/convert_cpu.py FOLDER [--rounds 5] [--profile standard]

CPU seconds (time.process_time: this process only, so other load on the machine counts
little) per event, each round and their median. To compare two versions, run it from each
checkout in turn, a few times interleaved, on the same folder.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from provision.ingest.importer import bulk_bodies  # noqa: E402
from provision.sources.local import local_files  # noqa: E402


def cpu_per_event(folder: Path, profile: str) -> tuple[int, float]:
    """(events, CPU µs per event) for one conversion of ``folder``."""
    started, events = time.process_time(), 0
    for count, _body in bulk_bodies(local_files([folder]), profile=profile, processes=0):
        events += count
    return events, (time.process_time() - started) / max(events, 1) * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", default="standard")
    args = parser.parse_args(argv)
    rounds = [cpu_per_event(args.folder, args.profile) for _ in range(args.rounds)]
    figures = [per_event for _events, per_event in rounds]
    print(f"{rounds[0][0]} events, CPU µs/event: {' '.join(f'{x:.1f}' for x in figures)}; "
          f"median {statistics.median(figures):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
