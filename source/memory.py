"""Giving freed memory back to the system between tasks.

A task that decodes, morphs and encodes a video allocates and frees gigabytes in blocks of a few
megabytes. Python frees the arrays when the task ends, but glibc's allocator keeps the pages for its own
reuse, so a worker that rendered one large segment goes on holding gigabytes of resident memory while it
waits for the next task (memory a model offload or the next task needs). `release_memory` asks glibc to
return its free pages (`malloc_trim(0)`).

Where the C library is not glibc (macOS, Windows, musl-based images) there is no such call: the function
does nothing and returns False; those allocators return large blocks to the system on their own, more
or less promptly.
"""
from __future__ import annotations

import ctypes
import ctypes.util
from typing import Callable, Optional

_trim: Optional[Callable[[int], int]] = None
_looked_up = False


def _malloc_trim() -> Optional[Callable[[int], int]]:
    global _trim, _looked_up
    if not _looked_up:
        _looked_up = True
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _trim = libc.malloc_trim
            _trim.argtypes = [ctypes.c_size_t]
            _trim.restype = ctypes.c_int
        except (OSError, AttributeError):  # not glibc: no malloc_trim
            _trim = None
    return _trim


def release_memory() -> bool:
    """Return the allocator's free pages to the system. True when glibc's `malloc_trim` ran (whether
    or not it found pages to give back).

    No garbage collection here: frames are freed by reference counting as the task's objects go, and a
    full collection in a worker that imported torch walks hundreds of thousands of objects (seconds on
    a loaded machine) between every two tasks."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


def resident_bytes() -> Optional[int]:
    """This process's resident set size (Linux: /proc/self/statm), None where it cannot be read."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    import os

    return pages * os.sysconf("SC_PAGE_SIZE")
