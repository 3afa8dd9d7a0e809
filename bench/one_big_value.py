"""One huge JSON value: time and peak memory of reading it, as `import`, `hints` and `report` do.

    .venv/bin/python bench/one_big_value.py bomb --mb 1500 --max-file-bytes 1g
    .venv/bin/python bench/one_big_value.py event --mb 200 [--via import]

``bomb``: a small gzip file holding one string of ``--mb`` megabytes inside a Records array
(a gzip bomb); the reader must stop at ``--max-file-bytes`` in time proportional to the
bytes read. ``event``: a valid CloudTrail file whose single event holds a ``--mb`` megabyte
value; offline hints must read it in time and memory linear in its size. Each case runs in
a fresh process (ru_maxrss is per process); prints seconds and peak RSS in MB.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path


def write_bomb(path: Path, megabytes: int) -> None:
    """{"Records": [{"eventName": "x", "v": "aaaa...(megabytes)..."}]}, gzip-compressed as it streams."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"a" * (1 << 20)
    with open(path, "wb") as out:
        out.write(compressor.compress(b'{"Records": [{"eventName": "x", "v": "'))
        for _ in range(megabytes):
            out.write(compressor.compress(block))
        out.write(compressor.compress(b'"}]}'))
        out.write(compressor.flush())


def write_event(path: Path, megabytes: int) -> None:
    event = {"eventVersion": "1.09", "eventTime": "2024-05-06T07:08:09Z", "eventSource": "ec2.amazonaws.com",
             "eventName": "StartInstances", "awsRegion": "eu-west-1", "eventID": "big-1", "readOnly": False,
             "userIdentity": {"type": "IAMUser", "userName": "alice", "accountId": "111122223333"},
             "requestParameters": {"blob": "b" * (megabytes << 20)}}
    path.write_bytes(gzip.compress(json.dumps({"Records": [event]}).encode(), 1))


def measure(kind: str, path: str, max_file_bytes: int, via: str) -> None:
    started = time.monotonic()
    if via == "hints":  # hints and report read files this way
        from provision.analysis.hints import hints_from_sources

        hints = hints_from_sources([path], max_file_bytes=max_file_bytes)
        outcome = {"events_read": hints.events_read, "failed_files": hints.failed_files}
    else:  # the import's own path to bulk bodies, with nothing sent (no Elasticsearch needed)
        from provision.ingest.bulklines import ConvertOptions
        from provision.ingest.convert import Converter
        from provision.sources.local import local_files

        converter = Converter(ConvertOptions("bench", "standard", False, max_file_bytes=max_file_bytes), 0)
        try:
            outcome = {"files": [(c.failed, c.converted and (c.converted.events, c.converted.partly))
                                 for c in converter.convert(local_files([path]))]}
        finally:
            converter.close()
    seconds = time.monotonic() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"case": kind, "via": via, "seconds": round(seconds, 2), "peak_rss_mb": round(rss), **outcome})[:600])


def size(text: str) -> int:
    units = {"k": 10, "m": 20, "g": 30}
    return int(text[:-1]) << units[text[-1].lower()] if text[-1].lower() in units else int(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", choices=["bomb", "event", "_measure"])
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--max-file-bytes", default="1g")
    parser.add_argument("--path")
    parser.add_argument("--via", choices=["hints", "import"], default="hints")
    args = parser.parse_args()
    if args.case == "_measure":
        measure(args.path.rsplit("/", 1)[-1], args.path, size(args.max_file_bytes), args.via)
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{args.case}-{args.mb}mb.json.gz"
        (write_bomb if args.case == "bomb" else write_event)(path, args.mb)
        print(f"{path.name}: {path.stat().st_size / 1e6:.1f} MB on disk", file=sys.stderr)
        subprocess.run([sys.executable, __file__, "_measure", "--path", str(path), "--max-file-bytes", args.max_file_bytes,
                        "--via", args.via], check=True)


if __name__ == "__main__":
    main()
