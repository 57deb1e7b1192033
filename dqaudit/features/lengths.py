"""Text lengths per record: (characters after stripping, words), shared by ``text_quality`` and ``schema``;
the answer's length (which rows have one: ``conflicting_outputs``);
and the robust z-score that ``text_quality`` and ``output_style`` use for length outliers."""

from __future__ import annotations

import numpy as np

from ..cache import Cache
from ..context import AuditContext


def text_lengths(ctx: AuditContext) -> np.ndarray:
    """(characters after stripping, words) per row; cached per record, so a re-run measures only new texts.

    Memoised for the run: ``schema`` checks the same character counts against its bounds.
    """

    def compute() -> np.ndarray:
        texts = ctx.frame["text"].to_numpy()
        return ctx.cache.per_record(
            Cache.namespace("text_lengths", version=1), ctx.frame["text_hash"].tolist(),
            lambda rows: np.array([(len(texts[i].strip()), len(texts[i].split())) for i in rows],
                                  dtype=np.int64).reshape(-1, 2))

    return ctx.memo(text_lengths, compute)


def output_lengths(ctx: AuditContext) -> np.ndarray:
    """Per row: the answer's length after stripping, -1 for a value that is not a string, -2 for none.

    Which rows have an answer, without holding the answers: an engine that keeps the texts
    elsewhere computes it there (Spark: on the executors). Memoised for the run.
    """

    def compute() -> np.ndarray:
        column = ctx.frame["output"]
        return np.where(column.notna().to_numpy(), [len(v.strip()) if isinstance(v, str) else -1
                                                     for v in column.tolist()], -2).astype(np.int64)

    return ctx.memo(output_lengths, compute)


def robust_z(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """|x - median| / (1.4826 MAD) over the masked values; falls back to the mean absolute deviation
    (x 1.2533) when more than half the values are identical and the MAD is zero."""
    if not mask.any():
        return np.zeros_like(values)
    centre = np.median(values[mask])
    deviation = np.abs(values - centre)
    spread = 1.4826 * np.median(deviation[mask]) or 1.2533 * np.mean(deviation[mask])
    return deviation / spread if spread > 0 else np.zeros_like(values)
