"""The fast lane (`pytest -m "not es"`, docs/development.md) selects exactly the tests that
need no Elasticsearch node and start nothing heavy: tests/conftest.py marks them from the
fixtures they use, directly or through other fixtures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def collected(markexpr: str) -> set[str]:
    """The tests pytest selects under ``-m markexpr``, from a run of its own (collection only),
    without their parameters (some parameter IDs hold gzip bytes, stamped with the time)."""
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-m", markexpr, "tests"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return {line.split("[", 1)[0] for line in done.stdout.splitlines() if "::" in line}


@pytest.mark.slow  # pytest collects the suite twice, in subprocesses
def test_the_fast_lane_leaves_out_exactly_the_node_the_heavy_and_the_container_tests():
    fast, rest = collected("not es and not containers"), collected("es or slow or containers")
    assert fast and rest and not fast & rest
    assert "tests/test_fast_lane.py::test_the_fast_lane_leaves_out_exactly_the_node_the_heavy_and_the_container_tests" in rest
    # es_url directly; the S3 bucket through aws_env and moto: marked without a word in their files
    assert "tests/test_connect.py::test_schemeless_url_is_read_as_http_and_said_once_in_every_command" in rest
    assert "tests/s3/test_listing.py::test_whole_bucket_finds_account_and_organisation_trails_but_never_lists_digests" in rest
    assert "tests/test_connect.py::test_a_url_that_cannot_be_parsed_is_one_sentence_in_every_command" in fast
