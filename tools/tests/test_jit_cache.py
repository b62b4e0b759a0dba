"""tmrvc.jit_cache: first calls of numba-compiled code in different processes never overlap."""

from __future__ import annotations

import subprocess
import sys

CHILD = """
import time
from tmrvc.jit_cache import first_call_locked

def work():
    t0 = time.monotonic()
    time.sleep(0.4)
    return t0, time.monotonic()

a = first_call_locked(work)
b = first_call_locked(work)          # the second call takes no lock
print(a[0], a[1], b[0], b[1])
"""


def test_first_calls_of_two_processes_do_not_overlap():
    procs = [subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    spans = []
    for p in procs:
        out, _ = p.communicate(timeout=60)
        assert p.returncode == 0
        spans.append([float(v) for v in out.split()])
    (a0, a1, _, _), (b0, b1, _, _) = sorted(spans)
    assert a1 - a0 >= 0.4 and b1 - b0 >= 0.4
    assert b0 >= a1, f"the first calls overlapped: {spans}"
