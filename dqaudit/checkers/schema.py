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
from importlib.metadata import version
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from ..cache import Cache
from ..config import CheckParams
from ..context import AuditContext
from ..features.lengths import text_lengths
from ..findings import Action, CheckResult, Finding, Severity
from ..text import text_hash
from .base import Checker, Points


class SchemaParams(CheckParams):
    allowed_labels: list[str] | None = Field(None, description="The label set; other labels are findings.")
    min_chars: int = Field(1, ge=0, description="Shortest acceptable text (after stripping whitespace).")
    max_chars: int = Field(20000, ge=1, description="Longest acceptable text.")
    max_gated_share: float = Field(
        0.05, ge=0, le=1, description="Blocking gate: share of input rows that are unreadable or unlabelled."
    )


#: expectation -> (kind, severity, action, message)
_EXPECTATIONS = {
    "expect_column_values_to_be_unique": ("duplicate_ids", Severity.HIGH, Action.REVIEW,
                                          "{n} records share an id with another record"),
    "expect_column_values_to_not_be_null": ("missing_label", Severity.HIGH, Action.RELABEL,
                                            "{n} records have no label"),
    "expect_column_values_to_be_in_set": ("unknown_label", Severity.HIGH, Action.RELABEL,
                                          "{n} records have a label outside the allowed set"),
    "expect_column_values_to_be_between": ("text_length", Severity.MEDIUM, Action.REVIEW,
                                           "{n} texts are outside the length bounds"),
}


class SchemaChecker(Checker[SchemaParams]):
    name = "schema"
    description = "Well-formed records: readable lines, text present, unique ids, labels present and allowed."
    default_weight = 1.0
    order = 10
    reads_whole = frozenset()  # text lengths only (a per-record feature)
    cleaning = {"missing_label": "quarantine", "unknown_label": "quarantine"}
    #: unreadable: every kind of input row that could not be loaded (bad JSON, missing text...)
    points = {
        "unreadable": Points(2.0),
        "duplicate_ids": Points(2.0),
        "missing_label": Points(2.0),
        "unknown_label": Points(2.0),
        "text_length": Points(1.0),
    }
    requires = (("great_expectations", "great-expectations"),)

    def check(self, ctx: AuditContext) -> CheckResult:
        params = self.params
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
                f"{len(problems)} input rows could not be loaded ({kind}); "
                f"first at {path}:{first.line}{field}: "
                f"{first.message}", Action.DROP,
                lines=[p.line for p in problems], reasons=sorted({p.message for p in problems})[:5]))
            penalties.append(self.penalty("unreadable", len(problems), total))
        if len(frame):
            for finding in self._expectations(ctx, params):
                findings.append(finding)
                penalties.append(self.penalty(finding.kind, len(finding.record_ids), total))
        unusable = len(ctx.dataset.problems) + int(frame["label"].isna().sum()) \
            if ctx.dataset.has_labels else len(ctx.dataset.problems)
        share = unusable / total if total else 0.0
        gate = self.gate("unusable_rows", share > params.max_gated_share,
                         f"{share:.1%} of rows are unreadable or unlabelled "
                         f"(limit {params.max_gated_share:.0%})")
        metrics = {"rows": total, "loaded": len(frame), "quarantined": len(ctx.dataset.problems),
                   "unusable_share": round(share, 4)}
        return self.result(findings, penalties=penalties, metrics=metrics, gates=[gate])

    def _expectations(self, ctx: AuditContext, params: SchemaParams) -> list[Finding]:
        """Failed expectations of the suite as findings, in suite order.

        Unique ids is a property of the whole table (pandas, every run). The other expectations
        judge one value at a time, so Great Expectations validates each distinct label and text
        length once; its verdicts are cached per value, and a re-run imports GX (seconds) only
        when it meets a value GX has not judged.
        """
        frame = ctx.frame
        shared = np.zeros(len(frame), dtype=bool)  # the loader made ids unique; it kept which were shared
        shared[list(ctx.dataset.shared_ids)] = True
        shared |= frame["id"].astype(str).duplicated(keep=False).to_numpy()  # a frame built elsewhere
        failed = {"expect_column_values_to_be_unique": (shared, len(frame))}
        if frame["label"].notna().any():
            suite: list[tuple[str, dict[str, Any]]] = [("expect_column_values_to_not_be_null", {})]
            if params.allowed_labels:
                suite.append(("expect_column_values_to_be_in_set", {"value_set": params.allowed_labels}))
            verdicts = _verdicts(ctx, "label", frame["label"], suite)
            labelled = int(frame["label"].notna().sum())
            for k, (expectation, _) in enumerate(suite):
                # GX's unexpected_percent: of all rows for not-null, of the non-null values otherwise
                counted = len(frame) if expectation == "expect_column_values_to_not_be_null" else labelled
                failed[expectation] = (verdicts[:, k], counted)
        between = "expect_column_values_to_be_between"
        bounds = {"min_value": params.min_chars, "max_value": params.max_chars}
        chars = pd.Series(text_lengths(ctx)[:, 0])
        failed[between] = (_verdicts(ctx, "text_chars", chars, [(between, bounds)])[:, 0], len(frame))
        out = []
        for expectation, (mask, counted) in failed.items():
            if not mask.any():
                continue
            kind, severity, action, template = _EXPECTATIONS[expectation]
            rows = frame["id"][mask].tolist()
            finding = self.finding(kind, severity, template.format(n=len(rows)), action, rows,
                                   expectation=expectation, unexpected_percent=len(rows) / counted * 100)
            out.append(finding)
        return out


def _verdicts(ctx: AuditContext, column: str, values: pd.Series,
              suite: list[tuple[str, dict[str, Any]]]) -> np.ndarray:
    """Per row, whether its value fails each expectation of ``suite`` (rows x expectations, bool).

    Each distinct value is validated once by GX and its verdict cached under the suite's
    parameters and the GX version.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    distinct = [None if pd.isna(v) else v for v in uniques]
    namespace = Cache.namespace(f"schema.{column}", version=1, suite=suite, gx=version("great-expectations"))
    keys = [text_hash(repr(v)) for v in distinct]
    verdicts = ctx.cache.per_record(
        namespace, keys, lambda todo: _validate(column, [distinct[i] for i in todo], suite))
    return verdicts.reshape(len(distinct), len(suite))[codes]


def _validate(column: str, values: list[Any], suite: list[tuple[str, dict[str, Any]]]) -> np.ndarray:
    """Validate ``values`` as one column with a GX suite: (values x expectations) bool, True = unexpected."""
    out = np.zeros((len(values), len(suite)), dtype=bool)
    if not values:
        return out
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig
        from great_expectations.expectations.registry import get_expectation_impl

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    table = pd.DataFrame({column: pd.Series(values, dtype=object if column == "label" else "int64")})
    batch = (context.data_sources.add_pandas("dqaudit").add_dataframe_asset("records")
             .add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": table}))
    gx_suite = gx.ExpectationSuite(name="dqaudit_schema")
    for expectation, kwargs in suite:
        gx_suite.add_expectation(get_expectation_impl(expectation)(column=column, **kwargs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outcome = batch.validate(gx_suite, result_format={"result_format": "COMPLETE"})
    for k, item in enumerate(outcome.results):
        if item.exception_info and item.exception_info.get("raised_exception"):
            raise RuntimeError(f"{item.expectation_config.type}: {item.exception_info['exception_message']}")
        out[item.result.get("unexpected_index_list") or [], k] = True
    return out
