"""The import's processes keep their C heap from growing: blocks of a megabyte and more (bulk
lines, request bodies) are mmapped and given back when freed, instead of being kept in a heap
that fragments (glibc raises its mmap threshold after the first such block is freed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Frees an 8 MB block, then prints how many MB of the 6 MB block allocated next are mmapped.
PROBE = """
import ctypes, sys
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
if sys.argv[1] == "limited":
    from provision.ingest.heap import limit_heap_growth
    assert limit_heap_growth()
elif sys.argv[1] == "converting process":   # what each converting process runs as it starts
    from provision.ingest import convert
    getattr(convert, "_worker_start")()
first = bytearray(8 << 20)
del first
second = bytearray(6 << 20)
print(libc.mallinfo2().hblkhd >> 20)
"""


def _mmapped_mb_after_a_large_free(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert out.returncode == 0, out.stderr
    return int(out.stdout)


def test_a_large_block_freed_does_not_move_the_next_ones_into_the_heap():
    # Without the limit, glibc's threshold rose to 8 MB: the 6 MB block came from the heap.
    assert _mmapped_mb_after_a_large_free("default") == 0
    assert _mmapped_mb_after_a_large_free("limited") >= 6


def test_a_converting_process_limits_its_heap_as_it_starts():
    assert _mmapped_mb_after_a_large_free("converting process") >= 6   # (and what its imports hold)
