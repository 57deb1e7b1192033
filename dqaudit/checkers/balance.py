"""``balance``: the label distribution, rare classes and extreme imbalance.

A class with a handful of examples cannot be learned reliably and makes its test
figures noise; the advice is to collect more, or hold such cases in a separate
evaluation set rather than pretend the model covers them.
"""

from __future__ import annotations

import math

import pandas as pd
from pydantic import Field

from ..config import CheckParams
from ..context import AuditContext
from ..findings import Action, Chart, CheckResult, Severity
from .base import Checker, Points

#: Rare classes named one finding each; beyond these one summary finding counts the rest, and the
#: distribution and chart list the largest classes plus an "other" count, so report.json stays small
#: however many labels a file has (20,000 labels made a 12.9 MB report).
LISTED = 50


class BalanceParams(CheckParams):
    min_count: int = Field(10, ge=1, description="A class with fewer examples than this is rare.")
    max_imbalance: float = Field(50.0, ge=1, description="Largest/smallest class ratio above which to warn.")


class BalanceChecker(Checker[BalanceParams]):
    name = "balance"
    description = "Label distribution: rare classes and extreme imbalance."
    default_weight = 1.0
    order = 60
    reads_whole = frozenset()  # labels only
    points = {
        "rare_class": Points(5.0, per="class, times the share of min_count it lacks"),
        "imbalance": Points(1.0, per="multiple of max_imbalance", cap=10.0),
    }

    def check(self, ctx: AuditContext) -> CheckResult:
        params = self.params
        labels = ctx.frame["label"].dropna()
        if labels.empty:
            return self.skip("the dataset has no labels")
        counts = label_counts(labels)
        findings, penalties = [], []
        rare = counts[counts < params.min_count]
        # ids per label in one pass over the table, not one scan per rare label
        ids_of = ctx.frame.loc[labels.index, "id"].groupby(labels.astype(str), sort=False).agg(list) \
            if len(rare) else pd.Series(dtype=object)
        for label, count in rare.iloc[:LISTED].items():
            findings.append(self.finding(
                "rare_class", Severity.MEDIUM,
                f"class '{label}' has {count} examples (minimum {params.min_count}): collect "
                f"{params.min_count - count} more, or hold its cases in a separate evaluation set",
                Action.ADD_DATA, ids_of[label], label=label, count=int(count),
                missing=int(params.min_count - count)))
            penalties.append(self.points["rare_class"].times(1 - count / params.min_count))
        if len(rare) > LISTED:
            rest = rare.iloc[LISTED:]
            findings.append(self.finding(
                "rare_classes", Severity.MEDIUM,
                f"{len(rest)} more classes have fewer than {params.min_count} examples ({int(rest.sum())} "
                "records in all): too many classes for this much data; merge them or collect more",
                Action.ADD_DATA, (), classes=len(rest), records=int(rest.sum())))
            penalties.append(self.points["rare_class"].times(float((1 - rest / params.min_count).sum())))
        ratio = float(counts.iloc[0] / counts.iloc[-1])
        if ratio > params.max_imbalance:
            findings.append(self.finding(
                "imbalance", Severity.LOW,
                f"largest class '{counts.index[0]}' is {ratio:.0f}x the smallest '{counts.index[-1]}'",
                Action.ADD_DATA, (), ratio=round(ratio, 2)))
            penalties.append(self.points["imbalance"].times(ratio / params.max_imbalance))
        probs = counts / counts.sum()
        entropy = -sum(p * math.log(p) for p in probs)
        shown = counts.iloc[:LISTED]
        other = {f"(other {len(counts) - LISTED} classes)": int(counts.iloc[LISTED:].sum())} \
            if len(counts) > LISTED else {}
        metrics = {
            "classes": int(len(counts)),
            "labelled": int(counts.sum()),
            "distribution": {**{str(k): int(v) for k, v in shown.items()}, **other},
            "imbalance_ratio": round(ratio, 2),
            "normalized_entropy": round(entropy / math.log(len(counts)), 4) if len(counts) > 1 else 1.0,
            "rare_classes": [f.details["label"] for f in findings if f.kind == "rare_class"],
            "rare_class_count": int(len(rare)),
        }
        chart = Chart("bar", "Label distribution", {"labels": [*map(str, shown.index), *other],
                                                     "values": [*map(int, shown), *other.values()],
                                                     "value_title": "examples"})
        return self.result(findings, penalties=penalties, metrics=metrics, charts=[chart])


def label_counts(labels: pd.Series) -> pd.Series:
    """Counts per label, largest first, ties by label name (deterministic)."""
    counts = labels.astype(str).value_counts()
    order = sorted(counts.index, key=lambda label: (-counts[label], label))
    return counts[order]
