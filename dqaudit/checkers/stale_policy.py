"""``stale_policy``: records that teach a superseded policy or answer template.

A model fine-tuned on answers written under last year's rules repeats last year's
rules, and these records look perfectly healthy to every other check. The rules
come from ``policies.yaml`` (see :mod:`dqaudit.policies`); a record is stale for a
policy when it

* quotes superseded content (phrase, pattern, number in context) in its text or answer,
* is a near-copy of a deprecated answer template (MinHash, then exact shingle containment)
  and does not quote ``current`` (that would be the updated template itself),
* carries a ``policy_version`` below the policy's ``min_policy_version``, or
* was created before ``effective_from`` with a label the policy governs and does not quote ``current``.

An answer (``output``) that teaches superseded content is dropped; everything else
(a customer quoting the old rule, an old version number, an old date) is reviewed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from ..context import AuditContext
from ..features.policy_matches import FIELDS, PolicyMatchSettings, policy_matches, read_matches
from ..findings import Action, Chart, CheckResult, Finding, RegressionRule, Severity
from ..policies import CompiledPolicy, Term, load_policies, parse_version
from ..text import preview
from .base import Checker, Points

_DOTTED = r"^(\d{1,2})\.(\d{1,2})\.(\d{4})"
_OFFSET = r"(\d:\d\d(?::\d\d(?:\.\d+)?)?)\s*(?:Z|UTC|GMT|[+-]\d\d:?\d\d)$"
#: reason -> (finding kind, what the records do, for messages); request-text hits get ``_in_text``.
_KINDS = {
    "phrase": ("superseded_phrase", "quote a superseded phrase"),
    "pattern": ("superseded_pattern", "match a superseded pattern"),
    "number": ("superseded_number", "quote a superseded number"),
    "template": ("deprecated_template", "are near-copies of a deprecated template"),
    "policy_version": ("below_min_policy_version", "have policy_version"),
    "before_effective": ("before_effective", "have a governed label, were created"),
}
#: (action, field) -> (severity, charge in ``points``); findings are charged in this order.
_WEIGHT = {
    (Action.DROP, "output"): (Severity.HIGH, "stale_answer"),
    (Action.REVIEW, "output"): (Severity.MEDIUM, "answer_to_review"),
    (Action.REVIEW, "record"): (Severity.MEDIUM, "record_metadata"),
    (Action.REVIEW, "text"): (Severity.LOW, "request_text"),
}


class StalePolicyParams(PolicyMatchSettings):
    max_drop_share: float = Field(
        0.1, ge=0, le=1,
        description="Blocking gate: share of records whose answer teaches superseded content.")


@dataclass(frozen=True, slots=True)
class Hit:
    """One record matching one rule of one policy; ``field`` is text, output or record (metadata)."""

    policy: str
    reason: str
    field: str
    term: str
    row: int
    span: str
    action: Action
    similarity: float | None = None


class StalePolicyChecker(Checker[StalePolicyParams]):
    name = "stale_policy"
    description = "Records that quote superseded policies or templates, or predate the policy they depend on."
    default_weight = 1.5
    order = 100
    #: each row is charged once, by its first finding in ``_WEIGHT`` order
    points = {
        "stale_answer": Points(2.0),
        "answer_to_review": Points(1.0),
        "record_metadata": Points(1.0),
        "request_text": Points(0.5),
        "unreadable_metadata": Points(0.1),
    }
    regression_rules = (RegressionRule("new_stale_records", tuple(kind for kind, _ in _KINDS.values()),
                                       "new_records", "new stale-policy records", "stale_records"),)

    reads_whole = frozenset()  # the rules' per-record matches (a feature) with their quoted spans

    def check(self, ctx: AuditContext) -> CheckResult:
        p = self.params
        if p.policies is None:
            return self.skip("no policies file: set checks.stale_policy.policies in dqaudit.yaml "
                             "or pass --policies FILE")
        policies = load_policies(Path(p.policies))
        if not policies:
            return self.skip(f"{p.policies} defines no policies")
        frame = ctx.frame
        if frame.empty:
            return self.skip("no records")
        matches = read_matches(policy_matches(ctx), len(policies))
        dates_raw = frame["created_at"]
        dates = parse_dates(dates_raw)
        bad_dates = _present(dates_raw) & dates.isna()
        versions = [parse_version(v) if isinstance(v, str) else None for v in frame["policy_version"]]
        hits: list[Hit] = []
        extra: list[Finding] = []
        for index, policy in enumerate(policies):
            quotes_current = matches.quotes_current[index]
            for t, term in enumerate(policy.terms):
                if term.unsafe is not None:
                    extra.append(self._unsafe_finding(policy, term))
                    continue
                for field in FIELDS:
                    hits += [_content_hit(policy, term.reason, field, term.source, row, span, quotes_current)
                             for row, span in matches.found.get((index, t, field), [])]
                    stop = matches.stops.get((index, t, field))
                    if stop is not None:
                        extra.append(self._timeout_finding(policy, term, field, frame, stop.row, p,
                                                           stop.budget_spent))
                        if stop.budget_spent:
                            break
            for k, template in enumerate(policy.policy.superseded.templates):
                name = f"#{k + 1} “{preview(template, 40)}”"
                for field in FIELDS:
                    # a near-copy that quotes the current wording is the updated template itself
                    hits += [_content_hit(policy, "template", field, name, row, span, quotes_current, share)
                             for row, share, span in matches.copies.get((index, k, field), [])
                             if not quotes_current[row]]
            hits += _version_hits(policy, versions, frame)
            hits += _date_hits(policy, frame["label"], dates, dates_raw, quotes_current)
        n = len(frame)
        findings, penalties = self._findings(hits, {c.id: c for c in policies}, frame)
        extra += self._date_problems(policies, frame, bad_dates)
        extra += self._version_problems(frame, versions)
        findings += extra
        # unreadable metadata costs little; a slow pattern is the policy file's fault, not the data's
        penalties += [0.0 if f.kind == "pattern_timeout"
                      else self.penalty("unreadable_metadata", len(f.record_ids), n) for f in extra]
        stale_rows = {h.row for h in hits}
        drop_rows = {h.row for h in hits if h.action is Action.DROP}
        drop_share = len(drop_rows) / n
        gate = self.gate("stale_answers", drop_share > p.max_drop_share,
                         f"{drop_share:.1%} of records answer with superseded policy content "
                         f"(limit {p.max_drop_share:.0%})")
        metrics, chart = _metrics(policies, hits, frame, dates, stale_rows, drop_rows)
        metrics["unparseable_dates"] = int(bad_dates.sum())
        policies_of: list[list[str]] = [[] for _ in range(n)]
        for hit in sorted(hits, key=lambda h: (h.row, h.policy)):
            if hit.policy not in policies_of[hit.row]:
                policies_of[hit.row].append(hit.policy)
        return self.result(findings, penalties=penalties, metrics=metrics, gates=[gate], charts=[chart],
                           records={"stale_policies": policies_of})

    def _findings(self, hits: list[Hit], policies: dict[str, CompiledPolicy],
                  frame: pd.DataFrame) -> tuple[list[Finding], list[float]]:
        """One finding per (policy, rule, field, action), listing the terms that matched.

        Each record is charged once, to its worst finding, so a record that breaks
        three rules of one policy does not cost three times.
        """
        groups: dict[tuple[str, str, str, Action], dict[int, Hit]] = defaultdict(dict)
        terms: dict[tuple[str, str, str, Action], Counter[str]] = defaultdict(Counter)
        for hit in hits:
            key = (hit.policy, hit.reason, hit.field, hit.action)
            if hit.row not in groups[key]:
                groups[key][hit.row] = hit
                terms[key][hit.term] += 1
        order = list(_WEIGHT)
        keys = sorted(groups, key=lambda k: (order.index((k[3], k[2])), k[0], list(_KINDS).index(k[1])))
        ids = frame["id"].astype(str).tolist()
        charged: set[int] = set()
        findings, penalties = [], []
        for key in keys:
            policy, reason, field, action = key
            rows = sorted(groups[key])
            severity, charge = _WEIGHT[(action, field)]
            group = [groups[key][r] for r in rows]
            counts = terms[key].most_common()
            current = list(policies[policy].policy.current)
            details: dict[str, Any] = {"policy": policy, "reason": reason, "field": field,
                                       "terms": dict(counts), "current": current,
                                       "spans": {ids[h.row]: h.span for h in group}}
            if reason == "template":
                details["similarity"] = {ids[h.row]: h.similarity for h in group}
            kind = _KINDS[reason][0] + ("_in_text" if field == "text" else "")
            findings.append(self.finding(kind, severity, _message(group, counts, current), action,
                                         [ids[r] for r in rows], **details))
            fresh = [r for r in rows if r not in charged]
            charged.update(fresh)
            penalties.append(self.penalty(charge, len(fresh), len(frame)))
        return findings, penalties

    def _timeout_finding(self, policy: CompiledPolicy, term: Term, field: str, frame: pd.DataFrame,
                         row: int, p: StalePolicyParams, budget_spent: bool) -> Finding:
        skipped = len(frame) - row - 1
        if budget_spent:
            kind, why = "pattern_budget", (f"used up its {p.pattern_budget:g}s budget for this run at the "
                                           f"{field} of this record")
        else:
            kind, why = "pattern_timeout", f"took over {p.pattern_timeout:g}s on the {field} of this record"
        return self.finding(
            kind, Severity.MEDIUM,
            f"[{policy.id}] pattern “{preview(term.source, 60)}” {why} and was not applied to the {skipped} "
            "records after it; simplify the pattern (nested quantifiers and overlapping alternatives "
            "backtrack catastrophically)",
            Action.REVIEW, [str(frame["id"].iloc[row])], policy=policy.id, pattern=term.source, field=field)

    def _unsafe_finding(self, policy: CompiledPolicy, term: Term) -> Finding:
        return self.finding(
            "pattern_unsafe", Severity.MEDIUM,
            f"[{policy.id}] pattern “{preview(term.source, 60)}” was not run: {term.unsafe}, which can take "
            "time exponential in the text's length; rewrite it without the nested repetition",
            Action.REVIEW, [], policy=policy.id, pattern=term.source)

    def _date_problems(self, policies: list[CompiledPolicy], frame: pd.DataFrame,
                       bad: pd.Series) -> list[Finding]:
        raw = frame["created_at"]
        out = []
        if bad.any():
            examples = sorted({preview(str(v), 30) for v in raw[bad]})[:5]
            out.append(self.finding(
                "unparseable_created_at", Severity.LOW,
                f"{int(bad.sum())} records have a created_at that is not a date "
                f"(e.g. {', '.join(examples)}); the effective-date rule cannot judge them",
                Action.REVIEW, frame["id"][bad].astype(str), examples=examples))
        governed = {label for c in policies for label in c.policy.labels}
        missing = ~_present(raw) & frame["label"].isin(governed)
        if governed and missing.any():
            out.append(self.finding(
                "missing_created_at", Severity.INFO,
                f"{int(missing.sum())} records with a policy-governed label have no created_at; "
                "the effective-date rule cannot judge them", Action.NONE, frame["id"][missing].astype(str)))
        return out

    def _version_problems(self, frame: pd.DataFrame, versions: list[tuple[int, ...] | None]) -> list[Finding]:
        raw = frame["policy_version"]
        bad = raw.notna().to_numpy() & np.array([v is None for v in versions], dtype=bool)
        if not bad.any():
            return []
        examples = sorted({preview(str(v), 20) for v in raw[bad]})[:5]
        return [self.finding(
            "unparseable_policy_version", Severity.LOW,
            f"{int(bad.sum())} records have a policy_version that is not a version number "
            f"(e.g. {', '.join(examples)})", Action.REVIEW, frame["id"][bad].astype(str), examples=examples)]


def _message(group: list[Hit], counts: list[tuple[str, int]], current: list[str]) -> str:
    """``[policy] 28 answers quote a superseded phrase, e.g. “…”; current: “…”; matched “…” ×15, …``."""
    first = group[0]
    where = {"text": "request texts", "output": "answers", "record": "records"}[first.field]
    head = f"[{first.policy}] {len(group)} {where} {_KINDS[first.reason][1]}"
    if first.field == "record":
        tail = " and do not quote the current policy" if first.reason == "before_effective" else ""
        return f"{head} {counts[0][0]}{tail}; e.g. {first.span}"
    example = f"“{first.span}”"
    if first.similarity is not None:
        example += f" (containment {first.similarity:.2f})"
    message = f"{head}, e.g. {example}"
    if current:
        message += f"; current: “{preview(current[0], 60)}”"
    if first.action is Action.REVIEW and first.field == "output":
        message += "; they also quote the current policy: review, not drop"
    listed = ", ".join(f"{_quoted(t)} ×{n}" for t, n in counts[:3]) + (", …" if len(counts) > 3 else "")
    return f"{message}; matched {listed}"


def _quoted(term: str) -> str:
    """Terms in messages: user-written ones in quotes, generated names (templates, numbers) as they are."""
    return term if term.startswith(("#", "“")) else f"“{preview(term, 50)}”"


def _present(column: pd.Series) -> pd.Series:
    return (column.astype("string").str.strip().fillna("") != "").astype(bool)


def _content_hit(policy: CompiledPolicy, reason: str, field: str, term: str, row: int, span: str,
                 quotes_current: np.ndarray, similarity: float | None = None) -> Hit:
    """Superseded content in an answer is dropped unless the answer also quotes the current rule."""
    drop = field == "output" and not quotes_current[row]
    return Hit(policy.id, reason, field, term, row, span, Action.DROP if drop else Action.REVIEW, similarity)


def _version_hits(policy: CompiledPolicy, versions: list[tuple[int, ...] | None],
                  frame: pd.DataFrame) -> list[Hit]:
    """``policy_version`` below the minimum, on the policy's labels (every record when it names none).

    A handbook version is usually global: without the label scope a fee-policy bump
    would make every older record about anything stale.
    """
    if policy.min_version is None:
        return []
    scoped = frame["label"].isin(policy.policy.labels).to_numpy() if policy.policy.labels else None
    floor = policy.policy.min_policy_version
    raw = frame["policy_version"]
    return [Hit(policy.id, "policy_version", "record", f"< {floor}", row,
                f"policy_version {raw.iloc[row]} < {floor}", Action.REVIEW)
            for row, version in enumerate(versions)
            if version is not None and version < policy.min_version and (scoped is None or scoped[row])]


def _date_hits(policy: CompiledPolicy, labels: pd.Series, dates: pd.Series, raw: pd.Series,
               quotes_current: np.ndarray) -> list[Hit]:
    if not policy.policy.labels:
        return []
    effective = pd.Timestamp(policy.policy.effective_from)
    mask = (labels.isin(policy.policy.labels) & (dates < effective)).to_numpy() & ~quotes_current
    start = policy.policy.effective_from.isoformat()
    return [Hit(policy.id, "before_effective", "record", f"before {start}", int(row),
                f"created_at {preview(str(raw.iloc[row]), 30)} < effective_from {start}", Action.REVIEW)
            for row in np.flatnonzero(mask)]


def parse_dates(values: pd.Series) -> pd.Series:
    """Wall-clock datetimes (naive) from mixed formats; NaT where missing or unparseable.

    ``dd.mm.yyyy`` is day-first (the convention wherever dots are used); 10- and 13-digit
    numbers are Unix seconds and milliseconds; a time-zone offset is dropped so a record
    is dated by the local day it was written, which is how effective dates are announced.
    """
    text = values.astype("string").str.strip()
    text = text.str.replace(_DOTTED, r"\3-\2-\1", regex=True).str.replace(_OFFSET, r"\1", regex=True)
    epoch_s = text.str.fullmatch(r"\d{10}").fillna(False)
    epoch_ms = text.str.fullmatch(r"\d{13}").fillna(False)
    parsed = pd.to_datetime(text.where(~(epoch_s | epoch_ms)), format="mixed", errors="coerce", utc=True)
    parsed = parsed.dt.tz_localize(None).astype("datetime64[ns]")
    for mask, unit in ((epoch_s, "s"), (epoch_ms, "ms")):
        if mask.any():
            parsed[mask] = pd.to_datetime(text[mask].astype("int64"), unit=unit).astype("datetime64[ns]")
    return parsed


def _months(dates: pd.Series) -> pd.Series:
    return dates.dt.strftime("%Y-%m").fillna("unknown")


def _metrics(policies: list[CompiledPolicy], hits: list[Hit], frame: pd.DataFrame, dates: pd.Series,
             stale_rows: set[int], drop_rows: set[int]) -> tuple[dict[str, Any], Chart]:
    """Counts per policy, per reason and per created_at month, and the monthly line chart."""
    months = _months(dates)
    per_policy: dict[str, set[int]] = {c.id: set() for c in policies}
    per_reason: dict[str, set[int]] = defaultdict(set)
    for hit in hits:
        per_policy[hit.policy].add(hit.row)
        per_reason[hit.reason].add(hit.row)
    by_month = months.iloc[sorted(stale_rows)].value_counts().sort_index().to_dict()
    by_policy_month = {pid: months.iloc[sorted(rows)].value_counts().sort_index().to_dict()
                       for pid, rows in per_policy.items()}
    dated = sorted(m for m in set(months) if m != "unknown")
    axis = [p.strftime("%Y-%m") for p in pd.period_range(dated[0], dated[-1], freq="M")] if dated else []
    series = {pid: [counts.get(m, 0) for m in axis] for pid, counts in by_policy_month.items()}
    chart = Chart("line", "Stale records per created_at month", {"x": axis, "series": series,
                                                                  "x_title": "created_at month",
                                                                  "y_title": "stale records"})
    last_seen = {pid: max((m for m in counts if m != "unknown"), default=None)
                 for pid, counts in by_policy_month.items()}
    metrics = {
        "policies": len(policies),
        "stale_records": len(stale_rows),
        "stale_share": round(len(stale_rows) / len(frame), 4),
        "drop_records": len(drop_rows),
        "by_policy": {pid: len(rows) for pid, rows in per_policy.items()},
        "by_reason": {reason: len(per_reason[reason]) for reason in _KINDS if per_reason[reason]},
        "by_month": by_month,
        "by_policy_month": by_policy_month,
        "last_stale_month": last_seen,
    }
    return metrics, chart
