"""``duplicates``: exact copies after Unicode/whitespace/case normalisation, and conflicting labels.

The same text with different labels is the clearest sign of an inconsistent
labelling guide, so it is its own high-severity finding (``conflicting_labels``)
and can block the verdict.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
from pydantic import Field

from ..config import CheckParams
from ..context import AuditContext
from ..features.exact import exact_groups
from ..features.representatives import RULE, kept_entries
from ..findings import Action, CheckResult, RegressionRule, Severity
from ..text import preview
from .base import Checker, Points


class DuplicatesParams(CheckParams):
    max_conflicting_share: float = Field(
        0.05, ge=0, le=1, description="Blocking gate: share of rows in conflicting-label groups."
    )


class DuplicatesChecker(Checker[DuplicatesParams]):
    name = "duplicates"
    description = "Exact duplicates after normalisation, and identical texts with different labels."
    default_weight = 2.0
    order = 20
    cleaning = {"exact_duplicates": "dedupe", "conflicting_labels": "quarantine"}
    #: conflicting_labels: every copy; exact_duplicates: the redundant copies (all but one)
    points = {"conflicting_labels": Points(3.0), "exact_duplicates": Points(1.0)}
    regression_rules = (RegressionRule("new_conflicting_groups", ("conflicting_labels",), "new_findings",
                                       "new conflicting-label groups", "conflicting_groups"),)
    reads_whole = frozenset()  # each group's first text only, through ctx.texts

    def check(self, ctx: AuditContext) -> CheckResult:
        params = self.params
        frame = ctx.frame
        n = len(frame)
        if n == 0:
            return self.skip("no records")
        codes = exact_groups(ctx).to_numpy()
        copied = np.bincount(codes)[codes] > 1
        exact_group = pd.array(np.where(copied, codes, 0), dtype="Int64")
        exact_group[~copied] = pd.NA
        # rows of groups with copies, grouped by group number (groups in order, rows in file order)
        dup = frame[copied].assign(_g=codes[copied], _row=np.flatnonzero(copied))
        dup = dup.sort_values("_g", kind="stable")
        g = dup["_g"].to_numpy()
        bounds = np.flatnonzero(np.diff(g, prepend=-1, append=-1))  # where the (sorted, >= 0) group changes
        starts, ends = bounds[:-1], bounds[1:]
        ids, lines = dup["id"].tolist(), dup["line"].tolist()
        texts = ctx.texts(dup["_row"].to_numpy()[starts])  # each group's first text, for its message
        labels = dup["label"].tolist()
        times = [None if t is None or t != t else str(t) for t in dup["created_at"].tolist()]
        kept = np.asarray(ids, dtype=object)[kept_entries(g, [label or None for label in labels], times,
                                                          np.asarray(lines, np.int64), [""] * len(ids))]
        findings, penalties = [], []
        conflicting_rows = redundant = 0
        for k, (start, end) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
            members, size, group_labels = ids[start:end], end - start, labels[start:end]
            split = dict(sorted(Counter(label for label in group_labels if label is not None).items()))
            text = preview(texts[k])
            if len(split) > 1:
                conflicting_rows += size
                findings.append(self.finding(
                    "conflicting_labels", Severity.HIGH,
                    f"{size} copies of “{text}” carry {len(split)} different labels: "
                    + ", ".join(f"{k} ×{v}" for k, v in split.items()),
                    Action.REVIEW, members, label_split=split, size=size))
                penalties.append(self.penalty("conflicting_labels", size, n))
            else:
                redundant += size - 1
                findings.append(self.finding(
                    "exact_duplicates", Severity.MEDIUM,
                    f"{size} identical copies of “{text}”; keep {kept[k]}", Action.DROP, members,
                    representative=kept[k], rule=RULE, size=size))
                penalties.append(self.penalty("exact_duplicates", size - 1, n))
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
        return self.result(findings, penalties=penalties, metrics=metrics, gates=[gate],
                           records={"exact_group": exact_group})
