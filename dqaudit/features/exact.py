"""Exact copies: one group per normalised text, and the record a group keeps.

The key is a 64-bit blake2b of the Unicode/whitespace/case-normalised text (:func:`exact_key`);
both engines use it, so their groups agree.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from ..cache import Cache
from ..context import AuditContext
from ..text import normalize
from .representatives import RULE, Member, keepers


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


def keep(labels: list[str], times: list[str], lines: list[int], ids: list[str]) -> str:
    """The copy kept from a group of identical texts (missing labels as "", missing times as "~").

    The rule of :mod:`dqaudit.features.representatives` (most common label, ties to the first
    in label order; then earliest time, then first line), on plain lists: groups are small,
    and pandas costs milliseconds per call.
    """
    members = [Member(k, i, label or None, None if t == "~" else t, line, "")
               for k, (label, t, line, i) in enumerate(zip(labels, times, lines, ids, strict=True))]
    return keepers(members)[0].id


