"""Writing a file whole or not at all: write a temporary sibling, then rename it over the target
(``os.replace`` is atomic on one file system), so an interrupted run never leaves a truncated file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """Yields a temporary path next to ``path`` (its folder created); when the block ends without
    an exception the temporary file replaces ``path``, otherwise it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
