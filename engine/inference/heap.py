"""The worker's C heap (glibc malloc): fewer arenas, and what a round freed given back to the system.

A worker makes its rounds on threads of the event loop's default executor. glibc gives each new thread
its own malloc arena (up to eight per core), and memory freed in one arena is neither reused by the others
nor returned while a few of its pages are live, so the resident size of a long-running worker creeps up
with every thread that ever made a round. Two arenas and a ``malloc_trim`` after each batch keep it near
what the models need. Elsewhere than glibc (macOS, musl) both are no-ops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os

ARENAS = 2  # malloc arenas of a worker process unless MALLOC_ARENA_MAX says otherwise
_M_ARENA_MAX = -8  # mallopt parameter (malloc.h)


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def limit_arenas(n: int = ARENAS) -> bool:
    """At most ``n`` malloc arenas from now on (call before the worker starts threads). An operator's own
    ``MALLOC_ARENA_MAX`` wins. True when the limit was set."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    libc = _libc()
    if libc is None:
        return False
    return bool(libc.mallopt(_M_ARENA_MAX, max(1, int(n))))


def trim() -> bool:
    """Give the heap's free pages back to the system (after a batch: the next one allocates them anew
    in a few milliseconds). True when some memory was released."""
    libc = _libc()
    return bool(libc.malloc_trim(0)) if libc is not None else False
