"""``duplicates``: exact copies after Unicode/whitespace/case normalisation, and conflicting labels.

The same text with different labels is the clearest sign of an inconsistent
labelling guide, so it is its own high-severity finding (``conflicting_labels``)
and can block the verdict.
"""

from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np
import pandas as pd
from pydantic import Field

from ..cache import Cache
from ..findings import Action, CheckResult, Severity
from ..pipeline import AuditContext
from ..registry import register
from ..text import normalize, preview
from .base import Checker, CheckParams, share_penalty


class DuplicatesParams(CheckParams):
    max_conflicting_share: float = Field(
        0.05, ge=0, le=1, description="Blocking gate: share of rows in conflicting-label groups."
    )


def exact_groups(ctx: AuditContext) -> pd.Series:
    """Group number per row (rows with the same non-empty normalised text share it); memoised for the run.

    The key is a 64-bit hash of the normalised text, cached per record by content hash, so a nightly
    re-run normalises only the new rows. Groups are numbered by their first row.
    """

    def compute() -> pd.Series:
        texts = ctx.frame["text"].to_numpy()
        keys = ctx.cache.per_record(
            Cache.namespace("normalized_key", version=1), ctx.frame["text_hash"].tolist(),
            lambda rows: np.array([_key(normalize(texts[i])) for i in rows], dtype=np.uint64))
        codes = pd.factorize(keys)[0]
        empty = keys == _EMPTY
        # empty texts are text_quality's finding, not one giant duplicate group: each stands alone
        codes[empty] = codes.max(initial=-1) + 1 + np.arange(int(empty.sum()))
        return pd.Series(codes, index=ctx.frame.index, name="exact_group")

    return ctx.memo("duplicates.exact_groups", compute)


def _key(normalized: str) -> int:
    digest = hashlib.blake2b(normalized.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


_EMPTY = np.uint64(_key(""))
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


@register
class DuplicatesChecker(Checker):
    name = "duplicates"
    description = "Exact duplicates after normalisation, and identical texts with different labels."
    default_weight = 2.0
    Params = DuplicatesParams

    def check(self, ctx: AuditContext) -> CheckResult:
        params: DuplicatesParams = self.params  # type: ignore[assignment]
        frame = ctx.frame
        n = len(frame)
        if n == 0:
            return self.skip("no records")
        codes = exact_groups(ctx).to_numpy()
        copied = np.bincount(codes)[codes] > 1
        # rows of groups with copies, grouped by group number (groups in order, rows in file order)
        dup = frame[copied].assign(_g=codes[copied]).sort_values("_g", kind="stable")
        g = dup["_g"].to_numpy()
        bounds = np.flatnonzero(np.diff(g, prepend=-1, append=-1))  # where the (sorted, >= 0) group changes
        starts, ends = bounds[:-1], bounds[1:]
        ids, texts, lines = dup["id"].tolist(), dup["text"].to_numpy(), dup["line"].tolist()
        labels, times = dup["label"].tolist(), dup["created_at"].fillna("~").tolist()
        findings, penalties = [], []
        conflicting_rows = redundant = 0
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            members, size, group_labels = ids[start:end], end - start, labels[start:end]
            split = dict(sorted(Counter(label for label in group_labels if label is not None).items()))
            text = preview(texts[start])
            if len(split) > 1:
                conflicting_rows += size
                findings.append(self.finding(
                    "conflicting_labels", Severity.HIGH,
                    f"{size} copies of “{text}” carry {len(split)} different labels: "
                    + ", ".join(f"{k} ×{v}" for k, v in split.items()),
                    Action.REVIEW, members, label_split=split, size=size))
                penalties.append(share_penalty(size, n, 3.0))
            else:
                redundant += size - 1
                kept = keep(["" if label is None else label for label in group_labels], times[start:end],
                            lines[start:end], members)
                findings.append(self.finding(
                    "exact_duplicates", Severity.MEDIUM,
                    f"{size} identical copies of “{text}”; keep {kept}", Action.DROP, members,
                    representative=kept, rule=RULE, size=size))
                penalties.append(share_penalty(size - 1, n, 1.0))
        share = conflicting_rows / n
        gate = self.gate("conflicting_labels", share > params.max_conflicting_share,
                         f"{share:.1%} of rows are identical texts with conflicting labels "
                         f"(limit {params.max_conflicting_share:.0%})")
        metrics = {
            "duplicate_groups": sum(f.kind == "exact_duplicates" for f in findings),
            "redundant_rows": redundant,
            "conflicting_groups": sum(f.kind == "conflicting_labels" for f in findings),
            "conflicting_rows": conflicting_rows,
            "duplicate_share": round((redundant + conflicting_rows) / n, 4),
        }
        return self.result(findings, penalties=penalties, metrics=metrics, gates=[gate])
