"""``label_variants``: one class written several ways (case, separators, plurals, look-alike letters).

A model trained on ``card_blocked`` and ``Card-Blocked`` learns two classes that split one
intent's examples between them. Each class spelled more than one way is one finding naming
the records of the minority spellings, the count of every spelling and the suggested
canonical name; ``dqaudit split`` relabels those records to it by default
(``label_variants.label_variants: relabel`` in the cleaning table). The rule is in
:mod:`dqaudit.features.label_names`.
"""

from __future__ import annotations

from ..config import CheckParams
from ..context import AuditContext
from ..features.label_names import label_variants
from ..findings import Action, CheckResult, Severity
from .base import Checker, Points


class LabelVariantsChecker(Checker[CheckParams]):
    name = "label_variants"
    description = ("Labels spelled several ways (case, _ - or space, plural, surrounding space, "
                   "Cyrillic/Latin look-alike letters), with the canonical name to relabel them to.")
    default_weight = 1.0
    order = 130
    reads_whole = frozenset()  # labels only
    cleaning = {"label_variants": "relabel"}  # to the canonical spelling the finding suggests
    points = {"label_variants": Points(1.0)}

    def check(self, ctx: AuditContext) -> CheckResult:
        frame = ctx.frame
        if not ctx.dataset.has_labels:
            return self.skip("the dataset has no labels")
        labels = frame["label"]
        groups = label_variants(labels.dropna())
        findings, penalties = [], []
        for group in groups:
            minority = [s for s in group.counts if s != group.canonical]
            ids = frame.loc[labels.isin(minority), "id"].astype(str).tolist()
            spelled = ", ".join(f"{s!r} ×{n}" for s, n in group.counts.items())
            findings.append(self.finding(
                "label_variants", Severity.MEDIUM,
                f"label {group.canonical!r} is spelled {len(group.counts)} ways ({spelled}): relabel "
                f"{len(ids)} records to {group.canonical!r}", Action.RELABEL, ids,
                counts=group.counts, canonical=group.canonical, suggested=group.canonical, key=group.key))
            penalties.append(self.penalty("label_variants", len(ids), len(frame)))
        metrics = {"labels": int(labels.nunique()), "classes": int(labels.nunique()) - sum(
            len(g.counts) - 1 for g in groups), "variant_groups": len(groups),
            "records_to_relabel": sum(len(f.record_ids) for f in findings)}
        return self.result(findings, penalties=penalties, metrics=metrics)
