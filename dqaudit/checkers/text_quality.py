"""``text_quality``: empty, fragmentary, overlong and length-outlier texts.

Outliers are judged on log length with a robust z-score (median and MAD), so a
few huge pasted logs do not hide each other.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from ..config import CheckParams
from ..context import AuditContext
from ..features.lengths import robust_z, text_lengths
from ..findings import Action, CheckResult, Severity
from .base import Checker, Points


class TextQualityParams(CheckParams):
    min_words: int = Field(2, ge=1, description="Fewer words than this (and under min_chars) is a fragment.")
    min_chars: int = Field(
        8, ge=1, description="Texts shorter than this (and under min_words) are fragments.")
    max_chars: int = Field(
        2000, ge=1, description="Texts longer than this are overlong (support requests rarely pass 1,000).")
    outlier_z: float = Field(
        3.5, gt=0, description="Robust z-score of log length beyond which a text is an outlier.")


#: kind -> (severity, action, message)
_KINDS = {
    "empty_text": (Severity.HIGH, Action.DROP, "{n} texts are empty or whitespace only"),
    "fragment": (Severity.MEDIUM, Action.REVIEW,
                 "{n} texts are fragments (under {w} words and {c} characters)"),
    "overlong": (Severity.MEDIUM, Action.REVIEW, "{n} texts are longer than {m} characters"),
    "length_outlier": (Severity.LOW, Action.REVIEW, "{n} texts have an unusual length (robust z > {z})"),
}


class TextQualityChecker(Checker[TextQualityParams]):
    name = "text_quality"
    description = "Empty, fragmentary, overlong and unusually long or short texts."
    default_weight = 1.0
    order = 50
    reads_whole = frozenset()  # text lengths only (a per-record feature)
    points = {
        "empty_text": Points(2.0),
        "fragment": Points(1.0),
        "overlong": Points(1.0),
        "length_outlier": Points(0.5),
    }

    def check(self, ctx: AuditContext) -> CheckResult:
        p = self.params
        frame = ctx.frame
        if frame.empty:
            return self.skip("no records")
        lengths = text_lengths(ctx)
        chars, words = lengths[:, 0], lengths[:, 1]
        empty = chars == 0
        fragment = ~empty & (words < p.min_words) & (chars < p.min_chars)
        overlong = chars > p.max_chars
        z = robust_z(np.log1p(chars), ~empty)
        outlier = (z > p.outlier_z) & ~(empty | fragment | overlong)
        masks = {"empty_text": empty, "fragment": fragment, "overlong": overlong, "length_outlier": outlier}
        findings, penalties = [], []
        for kind, mask in masks.items():
            if not mask.any():
                continue
            severity, action, template = _KINDS[kind]
            ids = frame["id"][mask].tolist()
            message = template.format(n=len(ids), w=p.min_words, c=p.min_chars, m=p.max_chars, z=p.outlier_z)
            findings.append(self.finding(kind, severity, message, action, ids))
            penalties.append(self.penalty(kind, len(ids), len(frame)))
        metrics = {
            "chars_median": float(np.median(chars)),
            "chars_p95": float(np.percentile(chars, 95)),
            "words_median": float(np.median(words)),
            **{kind: int(mask.sum()) for kind, mask in masks.items()},
        }
        return self.result(findings, penalties=penalties, metrics=metrics)


