"""``duplicates``: exact copies after Unicode/whitespace/case normalisation, and conflicting labels.

The same text with different labels is the clearest sign of an inconsistent
labelling guide, so it is its own high-severity finding (``conflicting_labels``)
and can block the verdict.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field

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
    """Group number per row (rows with the same non-empty normalised text share it); memoised for the run."""

    def compute() -> pd.Series:
        keys = ctx.frame["text"].map(normalize)
        codes = pd.factorize(keys)[0]
        empty = (keys == "").to_numpy()
        # empty texts are text_quality's finding, not one giant duplicate group: each stands alone
        codes[empty] = codes.max(initial=-1) + 1 + np.arange(int(empty.sum()))
        return pd.Series(codes, index=ctx.frame.index, name="exact_group")

    return ctx.memo("duplicates.exact_groups", compute)


def representative(group: pd.DataFrame) -> str:
    """The record kept from a duplicate group: the most common label's earliest record, then the first line.

    The rule is documented in the README and used by the exporter, so report and export agree.
    """
    labels = group["label"].fillna("")
    top = labels.value_counts().sort_index().idxmax() if labels.any() else ""
    pool = group[labels == top]
    order = pool.assign(_t=pool["created_at"].fillna("~")).sort_values(["_t", "line"])
    return str(order["id"].iloc[0])


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
        groups = exact_groups(ctx)
        sizes = groups.map(groups.value_counts())
        dup = frame[sizes > 1].assign(_g=groups[sizes > 1])
        findings, penalties = [], []
        conflicting_rows = redundant = 0
        for _, group in dup.groupby("_g", sort=True):
            ids = group["id"].tolist()
            labels = group["label"].dropna()
            split = labels.value_counts().sort_index().to_dict()
            keep = representative(group)
            text = preview(group["text"].iloc[0])
            if len(split) > 1:
                conflicting_rows += len(ids)
                findings.append(self.finding(
                    "conflicting_labels", Severity.HIGH,
                    f"{len(ids)} copies of “{text}” carry {len(split)} different labels: "
                    + ", ".join(f"{k} ×{v}" for k, v in split.items()),
                    Action.REVIEW, ids, label_split=split, size=len(ids)))
                penalties.append(share_penalty(len(ids), n, 3.0))
            else:
                redundant += len(ids) - 1
                findings.append(self.finding(
                    "exact_duplicates", Severity.MEDIUM, f"{len(ids)} identical copies of “{text}”; keep {keep}",
                    Action.DROP, ids, representative=keep,
                    rule="most common label, then earliest created_at, then first line", size=len(ids)))
                penalties.append(share_penalty(len(ids) - 1, n, 1.0))
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
