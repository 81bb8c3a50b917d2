"""Best-effort memory hygiene: `mlock(2)` of frame buffers, so the kernel never writes them
to swap, and no core dumps, so a crash cannot write them into a core file.

The device image also disables swap (firmware), so this is a second line. Where the
process may not lock memory (RLIMIT_MEMLOCK too low, not Linux) it reports False and the
capture goes on: docs/privacy.md says so.
"""

from __future__ import annotations

import ctypes
import resource
import sys

import numpy as np

_libc: ctypes.CDLL | None = None


def _lib() -> ctypes.CDLL | None:
    global _libc
    if _libc is None and sys.platform.startswith("linux"):
        # The process's own symbols include libc's; find_library("c") would run ldconfig.
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def lock(arr: np.ndarray) -> bool:
    """Pin `arr`'s pages in RAM; True if the kernel agreed."""
    libc = _lib()
    if libc is None or arr.nbytes == 0:
        return False
    rc = libc.mlock(ctypes.c_void_p(arr.ctypes.data), ctypes.c_size_t(arr.nbytes))
    return bool(rc == 0)


def unlock(arr: np.ndarray) -> None:
    libc = _lib()
    if libc is not None and arr.nbytes:
        libc.munlock(ctypes.c_void_p(arr.ctypes.data), ctypes.c_size_t(arr.nbytes))


def disable_core_dumps() -> bool:
    """Set this process's core-dump size limit to zero, so a crash mid-capture cannot write
    frames to disk in a core file. The device image also disables core dumps system-wide
    (firmware); this covers a process started by hand. True if the limit is now zero."""
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        return False
    return resource.getrlimit(resource.RLIMIT_CORE) == (0, 0)
