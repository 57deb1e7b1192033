"""The readiness score, the verdict, and "what to fix first".

Readiness = sum(w_i * s_i) / sum(w_i) over the checks that produced a score
(s_i in 0-100; skipped and crashed checks are left out). The verdict follows the
bands (READY >= ``score.ready``, NEEDS WORK >= ``score.needs_work``, else NOT READY),
except that any triggered gate forces NOT READY whatever the mean.

A finding's gain is the rise in readiness if it alone were fixed:
``impact * w_check / sum(w)``, where ``impact`` is the rise in its check's score.
"What to fix first" ranks by harm before gain: findings of a blocking gate first,
then severity, then the rows in error, then the gain; the add-data findings of one
label (one per language) are one entry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .config import ScoreConfig
from .findings import Action, CheckResult, Finding, Gate, Severity, Verdict


def not_run(results: Sequence[CheckResult]) -> list[tuple[str, list[str]]]:
    """Skipped checks grouped by reason, in pipeline order: what every report says at the top.

    A reader of "READY" must know what was not looked at (no labels: no balance, no label noise).
    """
    groups: dict[str, list[str]] = {}
    for result in results:
        if result.skipped:
            groups.setdefault(result.skipped, []).append(result.check)
    return [(reason, checks) for reason, checks in groups.items()]


@dataclass(frozen=True, slots=True)
class FixItem:
    """One entry of "what to fix first"."""

    finding: Finding
    gain: float
    blocking: bool

    def to_dict(self, max_ids: int | None = None) -> dict[str, Any]:
        ids = self.finding.record_ids if max_ids is None else self.finding.record_ids[:max_ids]
        return {
            "check": self.finding.check,
            "kind": self.finding.kind,
            "severity": self.finding.severity.value,
            "message": self.finding.message,
            "action": self.finding.action.value,
            "record_ids": list(ids),
            "count": len(self.finding.record_ids),
            "gain": round(self.gain, 3),
            "blocking": self.blocking,
            "key": self.finding.key,
        }


def readiness(results: Sequence[CheckResult], weights: Mapping[str, float]) -> float | None:
    """Weighted mean of the scored checks; None (shown as "—") when nothing could be scored."""
    scored = [(r.score, weights[r.check]) for r in results if r.score is not None and weights[r.check] > 0]
    total = sum(w for _, w in scored)
    if total == 0:
        return None
    return round(sum(s * w for s, w in scored) / total, 2)


def shown(score: float | None) -> str:
    """A readiness score as reports print it: one decimal, or "—" when there is none."""
    return "—" if score is None else f"{score:.1f}"


def error_gates(results: Sequence[CheckResult]) -> list[Gate]:
    """A crashed check blocks READY: an unverified dataset is not a ready one."""
    return [Gate(r.check, "check_failed", True, f"the {r.check} check failed: {r.error}")
            for r in results if r.error]


def verdict(score: float | None, gates: Sequence[Gate], bands: ScoreConfig) -> Verdict:
    if score is None or any(g.triggered for g in gates):
        return Verdict.NOT_READY
    if score >= bands.ready:
        return Verdict.READY
    if score >= bands.needs_work:
        return Verdict.NEEDS_WORK
    return Verdict.NOT_READY


def fix_first(results: Sequence[CheckResult], weights: Mapping[str, float], limit: int = 10) -> list[FixItem]:
    """Findings ranked by harm: blocking first, then severity, rows in error, then readiness gain."""
    total = sum(weights[r.check] for r in results if r.score is not None)
    gated = {g.check for r in results for g in r.gates if g.triggered}
    items = []
    for result in results:
        if result.score is None:
            continue
        share = weights[result.check] / total if total else 0.0
        for finding in result.findings:
            blocking = finding.check in gated and finding.severity is Severity.HIGH
            gain = finding.impact * share
            if gain > 0 or blocking:
                items.append(FixItem(finding, gain, blocking))
    items = _group_add_data(items)
    items.sort(key=lambda i: (-i.blocking, -i.finding.severity.rank, -rows_in_error(i.finding),
                              -i.gain, i.finding.check, i.finding.key))
    return items[:limit]


def rows_in_error(finding: Finding) -> int:
    """Rows a finding says are wrong: none for add-data findings (what is missing is not in the data)."""
    return 0 if finding.action is Action.ADD_DATA else len(finding.record_ids)


def _group_add_data(items: list[FixItem]) -> list[FixItem]:
    """One entry per (check, label) for add-data findings about one label in several languages."""
    groups: dict[tuple[str, str], list[FixItem]] = {}
    out = []
    for item in items:
        label = item.finding.details.get("label")
        details = item.finding.details
        if item.finding.action is Action.ADD_DATA and label is not None and "language" in details:
            groups.setdefault((item.finding.check, str(label)), []).append(item)
        else:
            out.append(item)
    for (check, label), group in groups.items():
        if len(group) == 1:
            out.append(group[0])
            continue
        findings = [i.finding for i in group]
        languages = sorted({str(f.details["language"]) for f in findings})
        ids = tuple(dict.fromkeys(rid for f in findings for rid in f.record_ids))
        worst = max(findings, key=lambda f: f.severity.rank)
        message = f"label '{label}': add examples in {', '.join(languages)} ({len(findings)} findings)"
        kinds = sorted({f.kind for f in findings})
        details = {"label": label, "languages": languages, "kinds": kinds}
        merged = Finding(check, worst.kind, worst.severity, message, Action.ADD_DATA, ids,
                         sum(f.impact for f in findings), details)
        out.append(FixItem(merged, sum(i.gain for i in group), any(i.blocking for i in group)))
    return out
