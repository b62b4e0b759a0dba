"""Process-parallel, order-preserving map for the data stage (corpus synthesis and the feature
cache): every clip is independent, and the per-clip random streams are seeded by the clip's name
(:func:`tmrvc.data.features._clip_seed`), so ``jobs=2`` writes the same files as ``jobs=1``.

Workers are forked, so they see module-level state the caller set before :func:`pool_map`
(large arrays are shared copy-on-write, not pickled). Each worker runs one BLAS/torch thread:
the jobs are the parallelism.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterator, Sequence


def _single_threaded(initializer: Callable[[], None] | None) -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    if initializer is not None:
        initializer()


def pool_map(fn: Callable, items: Sequence, jobs: int = 1,
             initializer: Callable[[], None] | None = None, chunksize: int = 4) -> Iterator:
    """``map(fn, items)`` in ``jobs`` forked worker processes, results in input order as they
    complete. ``initializer`` runs once per worker (in this process when ``jobs`` is 1 or there
    is at most one item, where the map runs serially). ``fn`` must be a module-level function."""
    items = list(items)
    if jobs <= 1 or len(items) <= 1:
        if initializer is not None:
            initializer()
        yield from map(fn, items)
        return
    ctx = mp.get_context("fork")
    with ctx.Pool(jobs, initializer=_single_threaded, initargs=(initializer,)) as pool:
        yield from pool.imap(fn, items, chunksize)
