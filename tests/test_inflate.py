"""Gunzip with ISA-L (the optional `fast` extra) and with the stdlib's zlib (the fallback
where no wheel installs) reads every file the same: the same bytes, the same verdict on a
truncated or corrupt end (a damaged file is read again with zlib, so its kept bytes and
its reason are zlib's to the byte), the same limits."""

from __future__ import annotations

import gzip
import subprocess
import sys

import pytest

from provision.cloudtrail import decode
from provision.cloudtrail.decode import gunzip
from provision.cloudtrail.records import MAX_FILE_BYTES, FileFailed, SkipFile, StreamIt


def _member(text: bytes) -> bytes:
    return gzip.compress(text, mtime=0)


BODY = b'{"Records":[' + b",".join(b'{"eventID":"%d","eventName":"Get"}' % i for i in range(2000)) + b"]}"
WHOLE = ("one member", "two members (zcat *.gz)", "padding after the last member")
CASES = {
    "one member": _member(BODY),
    "two members (zcat *.gz)": _member(BODY[:100]) + _member(BODY[100:]),
    "padding after the last member": _member(BODY) + b"\0" * 512,
    "truncated": _member(BODY)[:-2000],
    "corrupt in the middle": _member(BODY)[:200] + b"\xff" * 64 + _member(BODY)[264:],
    "corrupt second member": _member(BODY[:100]) + b"\x1f\x8b\x08\x00garbage-garbage",
    "nothing readable": b"\x1f\x8b\x08\x00garbage-garbage",
}


def _isal():
    from isal import isal_zlib  # the test extra installs it: a missing wheel fails here, loudly

    return isal_zlib


def _read(fast, raw: bytes, max_bytes: int = MAX_FILE_BYTES, stream_after: int | None = None) -> tuple:
    try:
        out, partly = gunzip(raw, max_bytes, stream_after, fast=fast)
    except (FileFailed, StreamIt, SkipFile) as err:
        return type(err).__name__, str(err)
    return bytes(out), partly


def test_isal_is_the_default_where_installed():
    assert decode.FAST_INFLATE is _isal()


@pytest.mark.parametrize("case", CASES)
def test_isal_and_zlib_read_every_file_alike(case):
    fast, plain = _read(_isal(), CASES[case]), _read(None, CASES[case])
    assert fast == plain
    if case in WHOLE:
        assert fast == (BODY, None)
    else:
        assert fast[1]  # the end could not be read, and that is said


@pytest.mark.parametrize("limits", [{"max_bytes": 1000}, {"stream_after": 1000}])
def test_isal_and_zlib_stop_at_the_same_limits(limits):
    raw = CASES["one member"]
    assert _read(_isal(), raw, **limits) == _read(None, raw, **limits) != (BODY, None)


def test_without_isal_installed_files_are_read_with_zlib():
    """Where no isal wheel installs, importing the reader still works and gunzips with zlib."""
    script = ("import sys; sys.modules['isal'] = None\n"  # makes 'from isal import ...' fail as if not installed
              "import gzip\n"
              "from provision.cloudtrail import decode\n"
              "assert decode.FAST_INFLATE is None\n"
              "raw = gzip.compress(b'{\"Records\":[{\"eventID\":\"1\",\"eventTime\":\"2025-01-01T00:00:00Z\"}]}')\n"
              "print(decode.decode_events('a.json.gz', raw)[0]['eventID'])\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, "1"), done.stderr
