"""Write seeded, realistic CloudTrail logs in the S3 layout (a thin CLI over provision.demo.generate).

    python bench/generate.py /tmp/ct-1m --events 1000000 --seed 0

Prints what it wrote as one JSON object. Never commit the output (bench/out/ is gitignored).
This is the benchmarks' plain traffic; the demo set (90 days of console work, what
`ctstack up --sample` imports) is `ctstack demo DIR`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from provision.demo.demo_set import write_demo  # noqa: E402
from provision.demo.generate import DEFAULT_START, SAMPLE_SEED, write_sample  # noqa: E402


def folders_to_measure(given: list[str], scratch: Path, sample_events: int) -> list[Path]:
    """The folders named, or else the demo set and a generated sample written under ``scratch``
    (the corpus the per-event cost benches share)."""
    if given:
        return [Path(f) for f in given]
    write_demo(scratch / "demo", DEFAULT_START)
    write_sample(scratch / "sample", events=sample_events, seed=7)
    return [scratch / "demo", scratch / "sample"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path, help="folder to write AWSLogs/... under")
    parser.add_argument("--events", type=int, required=True, help="how many events to write")
    parser.add_argument("--seed", type=int, default=SAMPLE_SEED, help="same seed, same bytes (default %(default)s)")
    parser.add_argument("--no-digests", action="store_true", help="leave out the CloudTrail-Digest files")
    args = parser.parse_args(argv)
    if args.dest.exists() and any(args.dest.iterdir()):
        parser.error(f"{args.dest} is not empty; give a new or empty folder")
    started = time.monotonic()
    stats = write_sample(args.dest, events=args.events, seed=args.seed, digests=not args.no_digests)
    print(json.dumps({**stats.as_dict(), "dest": str(args.dest), "seconds": round(time.monotonic() - started, 2)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
