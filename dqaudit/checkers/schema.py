"""``schema``: is every record well-formed? Built on Great Expectations.

GX validates the canonical table (unique ids, labels present and in the allowed
set, text length bounds); each failed expectation becomes a finding with the ids
of the offending rows. Rows the loader could not read (malformed JSON, bad
encoding, missing text) are reported here too, with their file:line.
"""

from __future__ import annotations

import os
import warnings
from collections import defaultdict
from typing import Any

import pandas as pd
from pydantic import Field

from ..findings import Action, CheckResult, Severity
from ..pipeline import AuditContext
from ..registry import register
from ..text import normalize
from .base import Checker, CheckParams, share_penalty


class SchemaParams(CheckParams):
    allowed_labels: list[str] | None = Field(None, description="The label set; other labels are findings.")
    min_chars: int = Field(1, ge=0, description="Shortest acceptable text (after stripping whitespace).")
    max_chars: int = Field(20000, ge=1, description="Longest acceptable text.")
    max_gated_share: float = Field(
        0.05, ge=0, le=1, description="Blocking gate: share of input rows that are unreadable or unlabelled."
    )


#: (expectation, kind, severity, action, points per 1% of rows, message)
_EXPECTATIONS = {
    "expect_column_values_to_be_unique": ("duplicate_ids", Severity.HIGH, Action.REVIEW, 2.0,
                                          "{n} records share an id with another record"),
    "expect_column_values_to_not_be_null": ("missing_label", Severity.HIGH, Action.RELABEL, 2.0,
                                            "{n} records have no label"),
    "expect_column_values_to_be_in_set": ("unknown_label", Severity.HIGH, Action.RELABEL, 2.0,
                                          "{n} records have a label outside the allowed set"),
    "expect_column_values_to_be_between": ("text_length", Severity.MEDIUM, Action.REVIEW, 1.0,
                                           "{n} texts are outside the length bounds"),
}


@register
class SchemaChecker(Checker):
    name = "schema"
    description = "Well-formed records: readable lines, text present, unique ids, labels present and allowed."
    default_weight = 1.0
    Params = SchemaParams
    requires = (("great_expectations", "great-expectations"),)

    def check(self, ctx: AuditContext) -> CheckResult:
        params: SchemaParams = self.params  # type: ignore[assignment]
        frame = ctx.frame
        total = len(frame) + len(ctx.dataset.problems)
        findings, penalties = [], []
        by_kind: dict[str, list[Any]] = defaultdict(list)
        for problem in ctx.dataset.problems:
            by_kind[problem.kind].append(problem)
        path = ctx.dataset.source.path
        for kind, problems in sorted(by_kind.items()):
            first = problems[0]
            field = f" field '{first.field}'" if first.field else ""
            findings.append(self.finding(
                kind, Severity.HIGH,
                f"{len(problems)} input rows could not be loaded ({kind}); first at {path}:{first.line}{field}: "
                f"{first.message}", Action.DROP,
                lines=[p.line for p in problems], reasons=sorted({p.message for p in problems})[:5]))
            penalties.append(share_penalty(len(problems), total, 2.0))
        if len(frame):
            for finding, points in self._expectations(frame, params):
                findings.append(finding)
                penalties.append(share_penalty(len(finding.record_ids), total, points))
            variants = _label_variants(frame["label"])
            if variants:
                ids = frame.loc[frame["label"].isin({v for group in variants for v in group[1:]}), "id"]
                findings.append(self.finding(
                    "label_variants", Severity.MEDIUM,
                    f"{len(variants)} labels differ only by case or whitespace, e.g. "
                    f"{' / '.join(repr(v) for v in variants[0])}", Action.RELABEL, ids.tolist(),
                    variants=variants))
                penalties.append(share_penalty(len(ids), total, 1.0))
        unusable = len(ctx.dataset.problems) + int(frame["label"].isna().sum()) if ctx.dataset.has_labels else \
            len(ctx.dataset.problems)
        share = unusable / total if total else 0.0
        gate = self.gate("unusable_rows", share > params.max_gated_share,
                         f"{share:.1%} of rows are unreadable or unlabelled (limit {params.max_gated_share:.0%})")
        metrics = {"rows": total, "loaded": len(frame), "quarantined": len(ctx.dataset.problems),
                   "unusable_share": round(share, 4)}
        return self.result(findings, penalties=penalties, metrics=metrics, gates=[gate])

    def _expectations(self, frame: pd.DataFrame, params: SchemaParams) -> list[tuple[Any, float]]:
        """Validate the canonical table with a GX suite; failures become findings."""
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import great_expectations as gx
            import great_expectations.expectations as gxe
            from great_expectations.data_context.types.base import ProgressBarsConfig

        table = pd.DataFrame({
            "id": frame["id"].astype(str),
            "label": frame["label"],
            "text_chars": frame["text"].str.strip().str.len(),
        })
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        batch = (context.data_sources.add_pandas("dqaudit").add_dataframe_asset("records")
                 .add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": table}))
        suite = gx.ExpectationSuite(name="dqaudit_schema")
        suite.add_expectation(gxe.ExpectColumnValuesToBeUnique(column="id"))
        if frame["label"].notna().any():
            suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column="label"))
            if params.allowed_labels:
                suite.add_expectation(gxe.ExpectColumnValuesToBeInSet(column="label",
                                                                      value_set=params.allowed_labels))
        suite.add_expectation(gxe.ExpectColumnValuesToBeBetween(column="text_chars", min_value=params.min_chars,
                                                                max_value=params.max_chars))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            outcome = batch.validate(suite, result_format={"result_format": "COMPLETE"})
        out = []
        for item in outcome.results:
            kind, severity, action, points, template = _EXPECTATIONS[item.expectation_config.type]
            if item.exception_info and item.exception_info.get("raised_exception"):
                raise RuntimeError(f"{item.expectation_config.type}: {item.exception_info['exception_message']}")
            if item.success:
                continue
            rows = item.result.get("unexpected_index_list") or []
            ids = frame["id"].iloc[list(rows)].tolist()
            finding = self.finding(kind, severity, template.format(n=len(ids)), action, ids,
                                   expectation=item.expectation_config.type,
                                   unexpected_percent=item.result.get("unexpected_percent"))
            out.append((finding, points))
        return out


def _label_variants(labels: pd.Series) -> list[list[str]]:
    """Groups of distinct labels that are equal after case and whitespace normalisation."""
    groups: dict[str, set[str]] = defaultdict(set)
    for label in labels.dropna().unique():
        groups[normalize(str(label)).replace(" ", "_")].add(str(label))
    return [sorted(g, key=lambda v: (v != v.strip().lower(), v)) for g in groups.values() if len(g) > 1]
