"""``agreement``: can several annotators' labels be trusted, and where exactly do they split?

Annotations come inline (``annotations: [{annotator, label}]``) or from a long-format
file (``item_id, annotator, label``; CSV or JSONL) named by ``annotations_file`` or
``dqaudit audit --annotations FILE``. The score follows Krippendorff's guidance on
nominal alpha: at or above ``good_alpha`` (0.8) the labels are reliable; below
``min_alpha`` (0.667) conclusions drawn from them are not, which blocks the verdict.

What a labelling lead can act on: the class pairs annotators split on (a guide
fix, not a model fix), the most disputed items (``review_disputed.jsonl``), and
annotators far below the others.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import orjson
import pandas as pd
from pydantic import Field, model_validator

from .. import agreement as agr
from ..context import AuditContext
from ..features.consensus import (
    AnnotationParams,
    Annotations,
    annotation_ratings,
    annotation_tally,
    collect_annotations,
    crowdlab,
)
from ..findings import Action, Chart, CheckResult, Finding, RegressionRule, Severity
from .base import Checker, Points


class AgreementParams(AnnotationParams):
    good_alpha: float = Field(
        0.8, ge=0, le=1, description="Krippendorff's alpha at or above this scores 100."
    )
    min_alpha: float = Field(
        0.667,
        ge=0,
        le=1,
        description="Blocking gate: alpha below this (Krippendorff's "
        "lowest limit for tentative conclusions).",
    )
    top_pairs: int = Field(5, ge=0, description="Most-split class pairs reported as findings.")
    min_pair_items: int = Field(
        3, ge=1, description="A class pair needs this many split items to be reported."
    )
    review_max: int = Field(200, ge=0, description="Most disputed items written to review_disputed.jsonl.")
    annotator_gap: float = Field(
        0.15,
        ge=0,
        le=1,
        description="Flag an annotator whose agreement with the "
        "consensus is this far below the others' median.",
    )
    min_annotator_items: int = Field(
        20, ge=1, description="Only judge annotators with at least this many items."
    )
    min_shared_items: int = Field(
        10, ge=2, description="Cohen's kappa only for annotator pairs sharing this many."
    )

    @model_validator(mode="after")
    def _bands(self) -> AgreementParams:
        if self.min_alpha > self.good_alpha:
            raise ValueError("min_alpha must not exceed good_alpha")
        return self


def alpha_score(alpha: float, good: float, minimum: float) -> float:
    """100 at ``good`` or above, 60 at ``minimum``, linear between, falling linearly to 0 at alpha 0."""
    if alpha >= good:
        return 100.0
    if alpha >= minimum:
        return 60.0 + 40.0 * (alpha - minimum) / max(good - minimum, 1e-9)
    return max(0.0, 60.0 * alpha / minimum) if minimum > 0 else 0.0


class AgreementChecker(Checker[AgreementParams]):
    name = "agreement"
    description = (
        "Inter-annotator agreement (Krippendorff, Fleiss, Cohen), split class pairs, disputed items."
    )
    default_weight = 2.0
    order = 70
    #: Input problems only; the score itself comes from Krippendorff's alpha (``alpha_score``).
    points = {
        "unknown_items": Points(1.0, cap=10.0),
        "empty_labels": Points(1.0, cap=10.0),
        "label_variants": Points(2.0, per="group of spellings"),
    }
    regression_rules = (RegressionRule("alpha_drop", ("krippendorff_alpha",), "drop", "Krippendorff's alpha",
                                       "krippendorff_alpha"),)
    reads_whole = frozenset()  # the disputed items' texts only, through ctx.texts

    def check(self, ctx: AuditContext) -> CheckResult:
        params = self.params
        ann = collect_annotations(ctx)
        input_findings, input_penalties = self._input_findings(ctx, ann, params)
        ratings = annotation_ratings(ctx)
        base = {
            "items": len(ratings.items),
            "annotators": len(ratings.annotators),
            "ratings": len(ann.triples),
            "sources": list(ann.sources),
        }
        if not ann.triples:
            if input_findings:
                return self.result(input_findings, penalties=input_penalties, metrics=base)
            return self.skip(
                "no annotations: add per-annotator labels inline or with --annotations FILE", metrics=base
            )
        if len(ratings.annotators) < 2 or not ratings.pairable().any():
            return self.skip(
                f"not enough annotators: {len(ratings.annotators)} annotator(s) and no item rated "
                "twice; agreement needs at least two ratings of the same item",
                metrics=base,
            )
        tally = annotation_tally(ctx)
        alpha = agr.krippendorff_alpha(tally)
        if alpha is None:
            return self.skip(
                f"every rating is '{ratings.categories[0]}': with a single class, chance-corrected "
                "agreement is undefined",
                metrics={**base, "percent_agreement": 1.0},
            )
        items, annotators = crowdlab(ctx)
        pairs = agr.cohen_pairwise(tally, params.min_shared_items)
        classes = agr.per_class(tally)
        score = alpha_score(alpha, params.good_alpha, params.min_alpha)

        findings = list(input_findings)
        findings += self._pair_findings(tally, params)
        disputed = items[items["agreement"] < 1].sort_values(
            ["consensus_quality", "agreement"], kind="stable"
        )
        review = disputed.head(params.review_max)
        files = {}
        if len(review):
            files["review_disputed.jsonl"] = self._review_file(ctx, ratings, review)
            findings.append(
                self.finding(
                    "disputed_items",
                    Severity.MEDIUM if len(disputed) / len(items) > 0.1 else Severity.LOW,
                    f"{len(disputed)} of {len(items)} annotated items are disputed; the {len(review)} "
                    "most disputed "
                    "are in review_disputed.jsonl for adjudication",
                    Action.REVIEW,
                    review.index.tolist(),
                    disputed=len(disputed),
                    file="review_disputed.jsonl",
                )
            )
        findings += self._annotator_findings(ratings, annotators, params, score)
        penalties_total = sum(input_penalties)
        score = max(0.0, score - penalties_total)
        gate = self.gate(
            "low_agreement",
            alpha < params.min_alpha,
            f"Krippendorff's alpha {alpha:.3f} is below {params.min_alpha} "
            "(too unreliable to train on without adjudication)",
        )
        metrics = {
            **base,
            "krippendorff_alpha": round(alpha, 4),
            "fleiss_kappa": _round(agr.fleiss_kappa(tally)),
            "mean_cohen_kappa": _round(agr.mean_cohen(pairs)),
            "percent_agreement": _round(agr.percent_agreement(tally)),
            "disputed_items": len(disputed),
            "cohen_pairwise": [
                {**p, "kappa": _round(p["kappa"]), "agreement": _round(p["agreement"])} for p in pairs
            ],
            "per_class": {k: {**v, "alpha": _round(v["alpha"])} for k, v in classes.items()},
            "per_annotator": {
                a: {k: _round(v) if isinstance(v, float) else v for k, v in row.items()}
                for a, row in annotators.to_dict(orient="index").items()
            },
        }
        return self.result(
            findings,
            score=round(score, 4),
            metrics=metrics,
            gates=[gate],
            charts=self._charts(classes, pairs),
            files=files,
        )

    def _input_findings(
        self, ctx: AuditContext, ann: Annotations, params: AgreementParams
    ) -> tuple[list[Finding], list[float]]:
        """Bad annotation input: unknown item ids, empty labels, case/whitespace label variants."""
        n = max(len(ctx.frame), 1)
        findings, penalties = [], []
        if ann.unknown_items:
            findings.append(
                self.finding(
                    "unknown_items",
                    Severity.MEDIUM,
                    f"{len(ann.unknown_items)} annotated item id(s) are not in the dataset "
                    f"(e.g. {', '.join(ann.unknown_items[:3])}); their annotations were ignored",
                    Action.REVIEW,
                    (),
                    item_ids=list(ann.unknown_items[:200]),
                    count=len(ann.unknown_items),
                )
            )
            penalties.append(self.penalty("unknown_items", len(ann.unknown_items), n))
        if ann.empty_labels:
            findings.append(
                self.finding(
                    "empty_labels",
                    Severity.LOW,
                    f"{len(ann.empty_labels)} record(s) have an annotation with an "
                    "empty label; those annotations were ignored",
                    Action.RELABEL,
                    ann.empty_labels,
                )
            )
            penalties.append(self.penalty("empty_labels", len(ann.empty_labels), n))
        for norm, forms in ann.variants.items():
            done = (
                "merged (normalize_labels)"
                if params.normalize_labels
                else "counted as different labels; set normalize_labels to merge them"
            )
            findings.append(
                self.finding(
                    "label_variants",
                    Severity.MEDIUM,
                    f"annotation labels {', '.join(repr(f) for f in forms)} differ only by case "
                    f"or whitespace: {done}",
                    Action.RELABEL,
                    (),
                    normalized=norm,
                    variants=forms,
                )
            )
            penalties.append(self.points["label_variants"].times(1))
        return findings, penalties

    def _pair_findings(self, tally: agr.Tally, params: AgreementParams) -> list[Finding]:
        out = []
        for pair in agr.confused_pairs(tally, limit_examples=10**9)[: params.top_pairs]:
            if pair["items"] < params.min_pair_items:
                break
            a, b = pair["labels"]
            out.append(
                self.finding(
                    "split_class_pair",
                    Severity.MEDIUM,
                    f"annotators split between '{a}' and '{b}' on {pair['items']} items "
                    f"({pair['rating_pairs']} "
                    "disagreeing rating pairs): clarify the labelling guide for these two classes",
                    Action.REVIEW,
                    pair["examples"],
                    labels=[a, b],
                    items=pair["items"],
                    rating_pairs=pair["rating_pairs"],
                    examples=pair["examples"][:10],
                )
            )
        return out

    def _annotator_findings(
        self, ratings: agr.Ratings, annotators: pd.DataFrame, params: AgreementParams, score: float
    ) -> list[Finding]:
        """Annotators far below the median of the others; impact = score regained without their ratings."""
        judged = annotators[annotators["n_items"] >= params.min_annotator_items]
        out = []
        for name, row in judged.iterrows():
            others = judged.drop(index=name)["agreement_with_consensus"]
            if others.empty or row["agreement_with_consensus"] > others.median() - params.annotator_gap:
                continue
            col = ratings.annotators.index(str(name))
            alpha_without = agr.krippendorff_alpha(ratings, without=str(name))
            gain = (
                0.0
                if alpha_without is None
                else alpha_score(alpha_without, params.good_alpha, params.min_alpha) - score
            )
            ids = [ratings.items[i] for i in np.flatnonzero(ratings.codes[:, col] != agr.MISSING)]
            finding = self.finding(
                "poor_annotator",
                Severity.HIGH,
                f"annotator '{name}' agrees with the consensus on {row['agreement_with_consensus']:.0%} of "
                f"{row['n_items']} items (others' median {others.median():.0%}; cleanlab quality "
                f"{row['quality']:.2f}, worst class '{row['worst_class']}'): "
                "retrain or re-check their labels",
                Action.REVIEW,
                ids,
                annotator=str(name),
                agreement=round(row["agreement_with_consensus"], 4),
                quality=round(row["quality"], 4),
                others_median=round(float(others.median()), 4),
                alpha_without=_round(alpha_without),
            )
            out.append(replace(finding, impact=round(max(gain, 0.0), 4)))
        return out

    @staticmethod
    def _review_file(ctx: AuditContext, ratings: agr.Ratings, review: pd.DataFrame) -> str:
        ids = ctx.frame["id"].astype(str)
        first = np.flatnonzero(~ids.duplicated().to_numpy())  # an id's first record stands for the item
        # looked up for the reviewed items only, in one pass: a dict over every id cost a Python step per row
        at = pd.Index(ids.to_numpy()[first]).get_indexer(review.index)
        record_of = {item: int(first[k]) for item, k in zip(review.index, at.tolist(), strict=True) if k >= 0}
        rows = np.array(list(record_of.values()), dtype=np.int64)
        text_of = dict(zip(rows.tolist(), ctx.texts(rows).tolist(), strict=True))
        label_of = dict(zip(rows.tolist(), ctx.frame["label"].iloc[rows].to_numpy(), strict=True))
        row_of = {item: n for n, item in enumerate(ratings.items)}
        lines = []
        for item, info in review.iterrows():
            codes = ratings.codes[row_of[item]]
            labels = {
                a: ratings.categories[c]
                for a, c in zip(ratings.annotators, codes, strict=True)
                if c != agr.MISSING
            }
            record = record_of.get(item)
            lines.append(
                orjson.dumps(
                    {
                        "id": item,
                        "text": None if record is None else text_of[record],
                        "label": None if record is None else label_of[record],
                        "annotations": labels,
                        "consensus": info["consensus"],
                        "consensus_quality": round(float(info["consensus_quality"]), 4),
                        "agreement": round(float(info["agreement"]), 4),
                    }
                ).decode()
            )
        return "\n".join(lines) + "\n"

    @staticmethod
    def _charts(classes: dict[str, dict[str, Any]], pairs: list[dict[str, Any]]) -> list[Chart]:
        defined = {k: v["alpha"] for k, v in classes.items() if v["alpha"] is not None}
        order = sorted(defined, key=lambda k: (defined[k], k))[:30]
        charts = [
            Chart(
                "bar",
                "Agreement per class (alpha, one class vs the rest; lowest 30)",
                {"labels": order, "values": [round(defined[k], 3) for k in order],
                 "value_title": "Krippendorff's alpha"},
            )
        ]
        names = sorted({p["a"] for p in pairs} | {p["b"] for p in pairs})
        if 2 <= len(names) <= 30:
            grid = {(p["a"], p["b"]): p["kappa"] for p in pairs} | {
                (p["b"], p["a"]): p["kappa"] for p in pairs
            }
            values = [
                [1.0 if a == b else round(max(grid.get((a, b)) or 0.0, 0.0), 2) for b in names] for a in names
            ]
            charts.append(
                Chart(
                    "heatmap",
                    "Cohen's kappa between annotators (0: undefined or below chance)",
                    {"rows": names, "columns": names, "values": values, "row_title": "annotator",
                     "column_title": "annotator"},
                )
            )
        return charts


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), digits)
