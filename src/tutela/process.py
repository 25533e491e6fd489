"""Tuning of a long-running process (the API, a detection worker), done once it has started."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def startup_heap_frozen() -> Iterator[None]:
    """While the block runs, every object alive at its start (modules, the app, the loaded
    Matcher's bookkeeping) is out of the garbage collector's reach: it lives as long as the
    process, and each full collection would walk it all again. On the upload path those walks
    stalled the API often enough to leave the hashing processes waiting: the machine was 9-11%
    idle under load, 3-8% with the heap frozen (bench/pipeline.py, 2 cores). Leaving the block
    gives them back (a test process starts many apps)."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
