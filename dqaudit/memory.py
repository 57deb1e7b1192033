"""Memory policies for an audit, whose data lives in millions of long-lived objects and in arrays of
hundreds of megabytes.

The cyclic garbage collector: each full collection walks every tracked object. CPython starts one whenever
the objects that survived younger collections reach a quarter of the old generation, so building a
million-row table's columns, lists and dicts sets off one after another (18 in a nightly re-run at 1M
rows: 2.4 s, where the young collections took 1.2 s) while nearly everything they walk is still in use.
Young collections still run, and so still free the short-lived reference cycles pandas makes; reference
counting frees the rest.

Huge pages: numpy asks the kernel for transparent huge pages on each array of 4 MB or more
(``madvise``). Where the kernel's ``defrag`` setting is ``madvise`` (a common default), a fault in such an
array that finds no free 2 MB page compacts memory first, in the faulting thread. On a machine whose memory
is full of page cache (a nightly job's, reading the day's exports) that made a 512 MB array of 1M
signatures cost 1.0-1.2 s to first touch, against 0.17 s in ordinary 4 KB pages, and 0.03 s when 2 MB
pages happened to be free; the audit's user time was the same either way (docs/nightly.md).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager

#: Young-generation collections between two full ones while deferred (CPython's default is 10): about
#: seven million container allocations, more than a 1M-row nightly re-run makes in all.
DEFERRED_FULL_EVERY = 1000


@contextmanager
def full_collections_deferred() -> Iterator[None]:
    """Full collections only every :data:`DEFERRED_FULL_EVERY` middle-generation ones; the thresholds before
    are restored after (so nesting and library callers are safe)."""
    young, middle, full = gc.get_threshold()
    gc.set_threshold(young, middle, max(full, DEFERRED_FULL_EVERY))
    try:
        yield
    finally:
        gc.set_threshold(young, middle, full)



def numpy_without_huge_pages() -> None:
    """Ordinary pages for numpy in this process, unless ``NUMPY_MADVISE_HUGEPAGE`` is set already: numpy
    reads it once, on import, so the command calls this before anything imports numpy."""
    os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")
