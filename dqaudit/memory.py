"""The cyclic garbage collector during an audit, whose data lives in millions of long-lived objects.

Each full collection walks every tracked object. CPython starts one whenever the objects that survived
younger collections reach a quarter of the old generation, so building a million-row table's columns,
lists and dicts sets off one after another (18 in a nightly re-run at 1M rows: 2.4 s, where the young
collections took 1.2 s) while nearly everything they walk is still in use. Young collections still
run, and so still free the short-lived reference cycles pandas makes; reference counting frees the rest.
"""

from __future__ import annotations

import gc
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

