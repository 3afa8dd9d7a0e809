"""Hints with automation and workflows vs the hints of a baseline commit, on the same files, in one run.

    python bench/hints_speed.py DIR [--base REV] [--rounds 2]

The baseline is the given commit's `provision/` (git archive into a temporary folder); both run
as `python -m provision hints DIR --format json --top 0` in their own process, alternately, for
--rounds rounds. Prints one JSON object: the best wall time of each, their ratio, the load.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _time(tree: Path, folder: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "provision", "hints", folder, "--format", "json", "--top", "0"],
                   env=env, check=True, stdout=subprocess.DEVNULL, cwd=tree)
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--base", default="main", help="the commit to compare with (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    folder = str(Path(args.folder).resolve())
    with tempfile.TemporaryDirectory() as base:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", args.base, "provision"], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", base], input=archive, check=True)
        times: dict[str, list[float]] = {"base": [], "current": []}
        for _ in range(args.rounds):
            times["base"].append(_time(Path(base), folder))
            times["current"].append(_time(REPO, folder))
    best = {k: min(v) for k, v in times.items()}
    print(json.dumps({"base": args.base, "seconds": times, "best_base_s": round(best["base"], 1), "best_current_s": round(best["current"], 1),
                      "ratio": round(best["current"] / best["base"], 2), "load_average": os.getloadavg(), "cpus": os.cpu_count()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
