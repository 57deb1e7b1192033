"""Personal-data matches per record, in the text and in the answer: the ``pii`` check's table.

One record's counts depend on that record alone, so an engine can compute the table batch by
batch where the texts are (Spark: on the executors) and hand it over under :func:`pii_counts`.
"""

from __future__ import annotations

import numpy as np

from ..context import AuditContext
from ..parallel import map_chunks
from ..pii import PII_TYPES, find_pii
from ..text import text_hash

#: The fields scanned, in the table's second axis.
FIELDS = ("text", "output")
#: Values per chunk of work, and the fewest values worth forking worker processes for.
_CHUNK, _PARALLEL_MIN = 5_000, 50_000


def pii_counts(ctx: AuditContext) -> np.ndarray:
    """``(rows, fields, types + 1)`` int32: matches per record, field (:data:`FIELDS`) and type
    (:data:`~dqaudit.pii.PII_TYPES` order), then 1 where the field has a value; cached by content
    hash and memoised for the run."""
    return ctx.memo(pii_counts, lambda: np.stack([_counts(ctx, name) for name in FIELDS], axis=1))


def _counts(ctx: AuditContext, name: str) -> np.ndarray:
    """One field's rows of the table. A row without a value matches nothing, so only the others are looked up
    (a dataset without answers costs nothing here), and only the texts the cache lacks are read."""
    column = ctx.frame[name]
    present = column.notna().to_numpy()
    out = np.zeros((len(column), len(PII_TYPES) + 1), dtype=np.int32)
    out[:, -1] = present
    rows = np.flatnonzero(present)
    if not len(rows):
        return out
    # the loader already hashed every text (the key of the other per-record caches); answers are hashed here
    keys = (ctx.frame["text_hash"].iloc[rows].tolist() if name == "text"
            else [text_hash(t) for t in column.iloc[rows].astype(str).tolist()])

    def compute(positions: np.ndarray) -> np.ndarray:
        """Pure Python, so large inputs are spread over forked workers, chunk by chunk in order."""
        values = column.iloc[rows[positions]].astype(str).tolist()
        parts = [np.zeros((0, len(PII_TYPES)), dtype=np.int32)]
        with ctx.progress.task("looking for personal data", total=len(values)) as advance:
            for part in map_chunks(_matches, values, _CHUNK, _PARALLEL_MIN):
                parts.append(part)
                advance(len(part))
        return np.concatenate(parts)

    counts = ctx.cache.per_record(ctx.cache.namespace("pii", v=1), keys, compute)
    out[rows, :-1] = np.asarray(counts, dtype=np.int32).reshape(len(rows), len(PII_TYPES))
    return out


def _matches(values: list[str]) -> np.ndarray:
    """Matches per value and type (:data:`~dqaudit.pii.PII_TYPES` order)."""
    found = np.zeros((len(values), len(PII_TYPES)), dtype=np.int32)
    for row, value in enumerate(values):
        for match in find_pii(value):
            found[row, PII_TYPES.index(match.type)] += 1
    return found
