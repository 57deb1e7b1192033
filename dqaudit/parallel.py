"""Using every core: how many there are, and an ordered map over forked worker processes.

Pure-Python passes (language detection, the label-conflict rule) hold the GIL, so threads do not
spread them; forked processes do, and start in milliseconds with everything the parent has loaded.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from itertools import count, repeat
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """Cores this process may use (its CPU affinity, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def can_fork() -> bool:
    """Whether worker processes are forked here: not on Windows (no fork), nor on macOS, where a fork after
    the system frameworks have started threads can crash the child (CPython spawns there by default)."""
    return sys.platform != "darwin" and "fork" in mp.get_all_start_methods()


def fork_map(fn: Callable[[T], R], items: Sequence[T], workers: int) -> Iterator[R]:
    """``map(fn, items)`` in order, over ``workers`` forked processes; in this process when fewer than two
    workers or items, or where processes cannot be forked.

    The workers inherit ``fn`` and ``items`` with the rest of this process's memory (models, memos,
    texts), so nothing is pickled on the way out or imported again; only the results are pickled
    back, so items should be chunks of work whose results are small. The results come back in
    order, so they are the same as in one process. A fork copies only the calling thread, so ``fn``
    must be pure Python and numpy allocation: never the thread pools (numba, BLAS, Arrow) this process
    may have started, whose locks a worker could inherit held.
    """
    workers = min(workers, len(items))
    if workers < 2 or not can_fork():
        yield from map(fn, items)
        return
    token = next(_TOKENS)
    _INHERITED[token] = (fn, items)  # before the pool forks its workers (all at the first submit)
    try:
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
            yield from pool.map(_call_inherited, repeat(token), range(len(items)))
    finally:
        del _INHERITED[token]


def map_chunks(fn: Callable[[Sequence[T]], R], values: Sequence[T], size: int,
               parallel_min: float) -> Iterator[R]:
    """``fn`` over consecutive ``size``-long slices of ``values``, in order: over every usable core
    (:func:`fork_map`) from ``parallel_min`` values on, in this process below (forking costs more there)."""
    chunks = [values[i:i + size] for i in range(0, len(values), size)]
    return fork_map(fn, chunks, default_workers() if len(values) >= parallel_min else 1)


#: What each running :func:`fork_map` hands its workers, by token: its function and items.
_INHERITED: dict[int, tuple[Callable[[Any], Any], Sequence[Any]]] = {}
_TOKENS = count()


def _call_inherited(token: int, k: int) -> Any:
    """In a worker: the inherited function on the inherited item ``k``."""
    fn, items = _INHERITED[token]
    return fn(items[k])
