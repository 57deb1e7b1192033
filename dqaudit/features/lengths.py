"""Text lengths per record: (characters after stripping, words), shared by ``text_quality`` and ``schema``."""

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


