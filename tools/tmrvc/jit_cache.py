"""Serialised first calls of numba-compiled library code.

librosa compiles its numba kernels with ``cache=True`` into its own package folder on first use.
Two processes compiling the same kernel at once can leave a mismatched pair of cache files (a
``guvectorize`` wrapper written by one process, the function by the other: numba/numba#10128), and
every later process that loads the pair crashes with SIGSEGV. That happened here when the
evaluation's two worker processes started pYIN together on a fresh virtual environment.
:func:`first_call_locked` runs the first call per key in each process under an inter-process file
lock, so compilations (and cache writes) happen one process at a time; later calls run unlocked.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from typing import Any, Callable

# per user: another user's lock file in a shared /tmp would not open for writing
LOCK_PATH = os.path.join(tempfile.gettempdir(), f"tmrvc-numba-compile-{os.getuid()}.lock")
_done: set[tuple] = set()


def first_call_locked(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``; the first call per function and argument dtypes in this process holds
    an exclusive lock on :data:`LOCK_PATH` (another process's first call waits for it)."""
    key = (getattr(fn, "__module__", ""), getattr(fn, "__qualname__", repr(fn)),
           tuple(str(getattr(a, "dtype", type(a).__name__)) for a in (*args, *kwargs.values())))
    if key in _done:
        return fn(*args, **kwargs)
    with open(LOCK_PATH, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            out = fn(*args, **kwargs)
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
    _done.add(key)
    return out
