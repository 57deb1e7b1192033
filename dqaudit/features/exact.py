"""Exact copies: one group per normalised text, and the record a group keeps.

The key is a 64-bit blake2b of the Unicode/whitespace/case-normalised text (:func:`exact_key`);
both engines use it, so their groups agree.
"""

from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np
import pandas as pd

from ..cache import Cache
from ..context import AuditContext
from ..text import normalize


def exact_groups(ctx: AuditContext) -> pd.Series:
    """Group number per row (rows with the same non-empty normalised text share it); memoised for the run.

    The key is a 64-bit hash of the normalised text, cached per record by content hash, so a nightly
    re-run normalises only the new rows. Groups are numbered by their first row.
    """

    def compute() -> pd.Series:
        texts = ctx.frame["text"].to_numpy()
        keys = ctx.cache.per_record(
            Cache.namespace("normalized_key", version=1), ctx.frame["text_hash"].tolist(),
            lambda rows: np.array([exact_key(normalize(texts[i])) for i in rows], dtype=np.uint64))
        codes = pd.factorize(keys)[0]
        empty = keys == EMPTY_KEY
        # empty texts are text_quality's finding, not one giant duplicate group: each stands alone
        codes[empty] = codes.max(initial=-1) + 1 + np.arange(int(empty.sum()))
        return pd.Series(codes, index=ctx.frame.index, name="exact_group")

    return ctx.memo(exact_groups, compute)


def exact_key(normalized: str) -> int:
    digest = hashlib.blake2b(normalized.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


EMPTY_KEY = np.uint64(exact_key(""))


RULE = "most common label, then earliest created_at, then first line"


def representative(group: pd.DataFrame) -> str:
    """The record kept from a duplicate group: the most common label's earliest record, then the first line.

    The rule is documented in the README and used by the exporter, so report and export agree.
    """
    return keep(group["label"].fillna("").tolist(), group["created_at"].fillna("~").tolist(),
                group["line"].tolist(), group["id"].tolist())


def keep(labels: list[str], times: list[str], lines: list[int], ids: list[str]) -> str:
    """:func:`representative` on plain lists (missing labels as "", missing times as "~").

    Most common label, ties to the first in label order; then earliest time, then first line.
    Plain Python: groups are small, and pandas costs milliseconds per call.
    """
    counts = Counter(labels)
    top = min(counts, key=lambda label: (-counts[label], label))
    return str(min((t, line, i) for label, t, line, i in zip(labels, times, lines, ids, strict=True)
                   if label == top)[2])


