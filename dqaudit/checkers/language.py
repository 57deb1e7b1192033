"""``language``: label x language coverage, code-switched records, and wrong ``lang`` tags.

An overall accuracy hides a request type that the Kazakh-speaking half of the
traffic barely taught the model; the coverage matrix shows it cell by cell,
and each cell below the configured minimum is a finding that says how many
examples are missing. Detection lives in :mod:`dqaudit.features.language`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pandas as pd
from pydantic import Field, model_validator

from ..context import AuditContext
from ..features.language import (
    EMPTY,
    FAST,
    LINGUA,
    MIXED,
    MODEL,
    NO_LETTERS,
    OTHER_SCRIPT,
    UNDETERMINED,
    LanguageDetectionParams,
    language_table,
    normalize_tag,
    record_columns,
)
from ..findings import Action, Chart, CheckResult, Finding, RegressionRule, Severity
from .base import Checker, Points

UNLABELLED = "(unlabelled)"
_UND_REASONS = {
    EMPTY: "are empty",
    NO_LETTERS: "have no letters (emoji, digits or punctuation only)",
    OTHER_SCRIPT: "are written in a script none of the configured languages uses",
}


class LanguageParams(LanguageDetectionParams):
    expected_shares: dict[str, float] = Field(
        default_factory=dict,
        description="Expected share per language "
        "(e.g. production traffic {ru: 0.6, kk: 0.4}); empty: expected languages come from the data.",
    )
    expected_min_share: float = Field(
        0.05,
        gt=0,
        le=1,
        description="Without expected_shares, a language is expected (each label needs min_per_cell "
        "examples of it) when it holds at least this share of the records whose language was detected.",
    )
    min_per_cell: int = Field(
        20,
        ge=1,
        description="Minimum examples per label x language cell, for expected languages only.",
    )
    max_share_deviation: float = Field(
        0.15,
        gt=0,
        le=1,
        description="A label whose share of some language "
        "differs from the expected share by more than this is a finding.",
    )
    @model_validator(mode="after")
    def _shares(self) -> LanguageParams:
        unknown = [c for c in self.expected_shares if c not in self.languages]
        if unknown:
            raise ValueError(
                f"expected_shares: '{unknown[0]}' is not one of languages {list(self.languages)}"
            )
        if any(not 0 <= v <= 1 for v in self.expected_shares.values()):
            raise ValueError("expected_shares: each share must be between 0 and 1")
        if sum(self.expected_shares.values()) > 1.0001:
            raise ValueError("expected_shares: the shares add up to more than 1")
        return self


class LanguageChecker(Checker[LanguageParams]):
    name = "language"
    description = "Label x language coverage (ru/kk/en, mixed), under-covered cells and wrong lang tags."
    default_weight = 1.5
    order = 90
    reads_whole = frozenset()  # the language table only (a per-record feature)
    points = {
        "under_covered": Points(1.5, per="label-language cell, times the share of min_per_cell missing"),
        "language_mix": Points(0.1, per="percentage point beyond max_share_deviation"),
        "undetermined": Points(0.5),
        "lang_tag_mismatch": Points(1.0),
    }
    regression_rules = (
        RegressionRule(
            "language_cells",
            ("coverage",),
            "cells_below",
            "label x language cells newly under the minimum",
            "under_covered_cells",
        ),
    )

    def check(self, ctx: AuditContext) -> CheckResult:
        params = self.params
        frame = ctx.frame
        n = len(frame)
        if n == 0:
            return self.skip("no records")
        table = language_table(ctx)
        labels = frame["label"].fillna(UNLABELLED).astype(str)
        columns = [*params.languages, MIXED, UNDETERMINED]
        crosstab = pd.crosstab(labels, table["lang"]).reindex(columns=columns, fill_value=0).sort_index()
        coverage = {str(label): {c: int(crosstab.at[label, c]) for c in columns} for label in crosstab.index}
        findings: list[Finding] = []
        penalties: list[float] = []

        expected, reasons = self._expected(table, params)
        required = list(expected)
        flags = [[False] * len(columns) for _ in crosstab.index]
        if frame["label"].notna().any():
            for i, label in enumerate(crosstab.index):
                for lang in required:
                    count = int(crosstab.at[label, lang])
                    if count >= params.min_per_cell:
                        continue
                    missing = params.min_per_cell - count
                    flags[i][columns.index(lang)] = True
                    ids = frame.loc[(labels == label) & (table["lang"] == lang), "id"].tolist()
                    findings.append(
                        self.finding(
                            "under_covered",
                            Severity.MEDIUM if count else Severity.HIGH,
                            f"label '{label}' has {count} '{lang}' examples (minimum {params.min_per_cell}): "
                            f"{missing} missing",
                            Action.ADD_DATA,
                            ids,
                            label=label,
                            language=lang,
                            count=count,
                            missing=missing,
                        )
                    )
                    penalties.append(self.points["under_covered"].times(missing / params.min_per_cell))
        findings.append(
            self.finding(
                "expected_languages",
                Severity.INFO,
                "expected languages: " + ("; ".join(f"{c} ({r})" for c, r in reasons.items()) or "none"),
                Action.NONE,
                [],
                expected=list(expected),
                reasons=reasons,
            )
        )
        penalties.append(0.0)
        if params.expected_shares:
            self._mix(crosstab, params, labels, frame, findings, penalties)
        self._tags(frame, table, findings, penalties, n)
        for path, reason in _UND_REASONS.items():
            ids = frame.loc[table["path"] == path, "id"].tolist()
            if ids:
                findings.append(
                    self.finding(
                        f"undetermined_{path.replace('-', '_')}",
                        Severity.LOW,
                        f"{len(ids)} records {reason}: their language is 'und'",
                        Action.REVIEW,
                        ids,
                        count=len(ids),
                    )
                )
                penalties.append(self.penalty("undetermined", len(ids), n))
        mixed = table["lang"] == MIXED
        pairs = Counter(
            "+".join(sorted(p))
            for p in zip(table.loc[mixed, "primary"], table.loc[mixed, "secondary"], strict=True)
        )
        if mixed.any():
            findings.append(
                self.finding(
                    "mixed_language",
                    Severity.INFO,
                    f"{int(mixed.sum())} records mix languages ("
                    + ", ".join(f"{k} ×{v}" for k, v in sorted(pairs.items()))
                    + "): counted as their own 'mixed' slice",
                    Action.NONE,
                    frame.loc[mixed, "id"].tolist(),
                    pairs=dict(pairs),
                )
            )
            penalties.append(0.0)
        counts = table["lang"].value_counts()
        metrics = {
            "languages": list(params.languages),
            "coverage": coverage,
            "totals": {c: int(counts.get(c, 0)) for c in columns},
            "shares": {c: round(int(counts.get(c, 0)) / n, 4) for c in columns},
            "expected_shares": dict(params.expected_shares),
            "min_per_cell": params.min_per_cell,
            "under_covered_cells": sum(f.kind == "under_covered" for f in findings),
            "mixed_pairs": dict(sorted(pairs.items())),
            "expected_languages": list(expected),
            "expected_because": reasons,
            "expected_min_share": params.expected_min_share,
            "orthography": {
                str(lang): {str(k): int(v) for k, v in group.value_counts().items()}
                for lang, group in table.loc[table["orthography"] != "", "orthography"].groupby(
                    table["primary"], sort=True
                )
            },
            "scripts": {
                str(k): int(v) for k, v in table.loc[table["script"] != "", "script"].value_counts().items()
            },
            "decided_by": {p: int((table["path"] == p).sum()) for p in (FAST, MODEL, LINGUA)},
            "undetermined": {p: int((table["path"] == p).sum()) for p in _UND_REASONS},
        }
        chart = Chart(
            "heatmap",
            "Examples per label and language (red: under-covered)",
            {
                "rows": [str(x) for x in crosstab.index],
                "columns": columns,
                "values": crosstab.to_numpy().tolist(),
                "flags": flags,
                "row_title": "label",
                "column_title": "detected language",
            },
        )
        result = self.result(findings, penalties=penalties, metrics=metrics, charts=[chart])
        # language, primary/secondary, script and orthography per record, for the per-record table
        return replace(result, records={k: v.to_numpy() for k, v in record_columns(ctx).items()})

    @staticmethod
    def _expected(table: pd.DataFrame, params: LanguageParams) -> tuple[tuple[str, ...], dict[str, str]]:
        """Languages every label should cover, and why each one is expected.

        From ``expected_shares`` when configured (share > 0); otherwise from the data: a language
        holding at least ``expected_min_share`` of the records whose language was detected (a mixed
        record counts for its primary language), so an English-only set is not asked for Kazakh.
        """
        if params.expected_shares:
            chosen = tuple(c for c in params.languages if params.expected_shares.get(c, 0) > 0)
            return chosen, {c: f"expected_shares {params.expected_shares[c]:.0%}" for c in chosen}
        detected = table.loc[table["primary"] != UNDETERMINED, "primary"]
        counts = detected.value_counts()
        total = max(1, len(detected))
        shares = {c: int(counts.get(c, 0)) / total for c in params.languages}
        chosen = tuple(
            c for c in params.languages if counts.get(c, 0) and shares[c] >= params.expected_min_share
        )
        return chosen, {
            c: f"{shares[c]:.1%} of records, at least {params.expected_min_share:.0%}" for c in chosen
        }

    def _mix(
        self,
        crosstab: pd.DataFrame,
        params: LanguageParams,
        labels: pd.Series,
        frame: pd.DataFrame,
        findings: list[Finding],
        penalties: list[float],
    ) -> None:
        """Labels (and the whole set) whose language mix departs from the expected shares."""
        detected = crosstab.drop(columns=[UNDETERMINED])
        rows = [(str(label), detected.loc[label]) for label in detected.index]
        if len(rows) > 1:
            rows.append(("(all records)", detected.sum()))
        for label, row in rows:
            total = int(row.sum())
            if total < params.min_per_cell:
                continue
            gaps = {lang: row[lang] / total - share for lang, share in params.expected_shares.items()}
            lang, gap = max(gaps.items(), key=lambda kv: (abs(kv[1]), kv[0]))
            if abs(gap) <= params.max_share_deviation:
                continue
            mix = ", ".join(
                f"{c} {row[c] / total:.0%} (expected {s:.0%})" for c, s in params.expected_shares.items()
            )
            ids = frame.loc[labels == label, "id"].tolist() if label in crosstab.index else []
            findings.append(
                self.finding(
                    "language_mix",
                    Severity.MEDIUM,
                    f"label '{label}' departs from the expected language mix: {mix}",
                    Action.ADD_DATA,
                    ids,
                    label=label,
                    language=lang,
                    gap=round(float(gap), 4),
                    total=total,
                )
            )
            penalties.append(self.points["language_mix"].times(100 * (abs(gap) - params.max_share_deviation)))

    def _tags(
        self,
        frame: pd.DataFrame,
        table: pd.DataFrame,
        findings: list[Finding],
        penalties: list[float],
        n: int,
    ) -> None:
        """Given ``lang`` tags that disagree with detection, one finding per (given, detected) pair.

        A record tagged with a language agrees when that is its primary or secondary language.
        """
        given = frame["lang"].map(normalize_tag)
        known = given.notna() & (table["path"].isin([FAST, MODEL, LINGUA]))
        # A 'mixed' tag is not checked: people tag a Russian request with "Visa Gold" or one borrowed
        # word as mixed, which detection deliberately does not count as a second language.
        agrees = (given == table["primary"]) | (given == table["secondary"]) | (given == MIXED)
        wrong = known & ~agrees
        detected = table["lang"].where(table["lang"] != MIXED, table["primary"] + "+" + table["secondary"])
        for (tag, found), group in frame[wrong].groupby([given[wrong], detected[wrong]], sort=True):
            ids = group["id"].tolist()
            findings.append(
                self.finding(
                    "lang_tag_mismatch",
                    Severity.MEDIUM,
                    f"{len(ids)} records tagged '{tag}' are detected as '{found}'",
                    Action.RELABEL,
                    ids,
                    given=tag,
                    detected=found,
                    count=len(ids),
                )
            )
            penalties.append(self.penalty("lang_tag_mismatch", len(ids), n))
