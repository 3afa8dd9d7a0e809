"""The bulk bodies the importer builds stay byte-for-byte as recorded: bench/bodies_digest.py
over tests/data and its secrets corpus (secret names and values in every part copied into a
document) against tests/data/bodies-digest.json, for every profile. A change to conversion,
scrubbing, action lines or chunking that alters one byte fails here; a change meant to alter
documents rewrites the file (the command is in bench/bodies_digest.py's docstring)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tests.support.bench import bench_script

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"


def test_bulk_bodies_are_byte_for_byte_the_recorded_ones(tmp_path):
    bench = bench_script("bodies_digest")
    recorded = json.loads((DATA / "bodies-digest.json").read_text())
    assert bench.small_corpora_digests() == recorded


def test_secret_corpus_digest_changes_when_a_secret_is_kept(tmp_path):
    """The check can fail: the same corpus imported with access keys kept digests differently."""
    bench = bench_script("bodies_digest")
    folder = bench.write_secret_corpus(tmp_path / "secrets")
    sha_scrubbed = bench.digest(folder, "standard")["sha256"]
    keeping = [body for _count, body in bench.importer.bulk_bodies(
        bench.local_files([folder]), index_prefix="ctstack-check", profile="standard", processes=0,
        keep_access_keys=True)]
    assert hashlib.sha256(b"".join(keeping)).hexdigest() != sha_scrubbed
