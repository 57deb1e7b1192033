"""Exact copies: one group per normalised text (the copy a group keeps: :mod:`.representatives`).

The key is a 64-bit blake2b of the Unicode/whitespace/case-normalised text (:func:`exact_key`);
both engines use it, so their groups agree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..cache import Cache
from ..context import AuditContext
from ..parallel import map_chunks
from ..text import normalize

#: Texts per chunk of work, and the fewest texts worth forking worker processes for.
_CHUNK, _PARALLEL_MIN = 20_000, 100_000


def exact_groups(ctx: AuditContext) -> pd.Series:
    """Group number per row (rows with the same non-empty normalised text share it); memoised for the run.

    The key is a 64-bit hash of the normalised text, cached per record by content hash, so a nightly
    re-run normalises only the new rows. Groups are numbered by their first row.
    """

    def compute() -> pd.Series:
        keys = normalized_keys(ctx)
        return number_groups(keys, keys == EMPTY_KEY.view(np.int64), ctx.frame.index)

    return ctx.memo(exact_groups, compute)


def normalized_keys(ctx: AuditContext) -> np.ndarray:
    """Each row's :func:`exact_keys` as int64 (empty texts included), cached per record; memoised for the run.

    One record's key depends on its text alone, so an engine computes it where the texts are
    (Spark: on the executors) for a check that compares rows by normalised text without them.
    """

    def compute() -> np.ndarray:
        texts = ctx.frame["text"].to_numpy()

        def keys_of(rows: np.ndarray) -> np.ndarray:
            """Pure Python per text, so many texts are keyed in chunks over forked workers, in order."""
            todo = [texts[i] for i in rows.tolist()]
            parts = map_chunks(exact_keys, todo, _CHUNK, _PARALLEL_MIN)
            return np.concatenate([np.empty(0, np.uint64), *parts])

        namespace = Cache.namespace("normalized_key", version=1)
        keys = ctx.cache.per_record(namespace, ctx.frame["text_hash"].tolist(), keys_of)
        return np.asarray(keys, dtype=np.uint64).view(np.int64)

    return ctx.memo(normalized_keys, compute)


def exact_key(normalized: str) -> int:
    """64-bit blake2b of an already normalised text."""
    digest = hashlib.blake2b(normalized.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def exact_keys(texts: Sequence[str]) -> np.ndarray:
    """The exact-duplicate key of each text (uint64): equal for texts equal after :func:`normalize`,
    :data:`EMPTY_KEY` for one that normalises to nothing. The Spark engine computes it per partition."""
    return np.array([exact_key(normalize(text)) for text in texts], dtype=np.uint64)


EMPTY_KEY = np.uint64(exact_key(""))


def number_groups(values: np.ndarray, empty: np.ndarray, index: pd.Index) -> pd.Series:
    """Group numbers for per-row group ``values`` (keys, or each group's first row), by first appearance;
    each ``empty`` row then gets a number of its own after them.

    Empty texts are text_quality's finding, not one giant duplicate group. Both engines number their
    groups with it (locally the keys, on Spark each group's first record), so the numbers agree.
    """
    codes = pd.factorize(values)[0]
    codes[empty] = codes.max(initial=-1) + 1 + np.arange(int(empty.sum()))
    return pd.Series(codes, index=index, name="exact_group")
