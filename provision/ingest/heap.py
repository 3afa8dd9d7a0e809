"""How the C heap of an import's processes grows (glibc only; elsewhere nothing changes).

An import allocates and frees many buffers of 1-8 MB: converted files' bulk lines, 8 MB
request bodies joined by the sender threads, results unpickled from the converting
processes. glibc serves a large block by mmap and gives it back when freed, but after the
first such free it raises its threshold to that block's size, so later blocks come from the
heap, where freed space is kept and fragments; each sender thread also gets a heap (an arena)
of its own. Measured on the bench's 200k events with 2 converting processes, the tree's peak
(sum of Pss) went from 471 to 371 MB with a fixed 1 MB threshold and 2 arenas, documents
unchanged (docs/performance.md).
"""

from __future__ import annotations

import ctypes
import functools

# mallopt parameters, from glibc's <malloc.h>.
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 1024 * 1024   # blocks from here up are mmapped, and unmapped when freed
ARENA_MAX = 2                        # the main heap and one shared by the sender threads


@functools.lru_cache(maxsize=1)
def limit_heap_growth() -> bool:
    """Large blocks always mmapped (given back when freed), at most ARENA_MAX arenas, for the
    rest of this process. Once per process; True where glibc took the settings."""
    try:
        libc = ctypes.CDLL(None)   # the C library already loaded (no ldconfig run to find it)
        mallopt = libc.mallopt
        gnu_get_libc_version = libc.gnu_get_libc_version   # glibc's own: musl's mallopt differs
    except (OSError, AttributeError, TypeError):   # not glibc, or no C library to name (Windows)
        return False
    del gnu_get_libc_version
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(mallopt(_M_ARENA_MAX, ARENA_MAX))
