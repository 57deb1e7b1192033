"""The readiness score, the verdict, and "what to fix first".

Readiness = sum(w_i * s_i) / sum(w_i) over the checks that produced a score
(s_i in 0-100; skipped and crashed checks are left out). The verdict follows the
bands (READY >= ``score.ready``, NEEDS WORK >= ``score.needs_work``, else NOT READY),
except that any triggered gate forces NOT READY whatever the mean.

A finding's gain is the rise in readiness if it alone were fixed:
``impact * w_check / sum(w)``, where ``impact`` is the rise in its check's score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .config import ScoreConfig
from .findings import CheckResult, Finding, Gate, Severity, Verdict


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


def readiness(results: Sequence[CheckResult], weights: Mapping[str, float]) -> float:
    """Weighted mean of the scored checks; 0 when nothing could be scored."""
    scored = [(r.score, weights[r.check]) for r in results if r.score is not None and weights[r.check] > 0]
    total = sum(w for _, w in scored)
    if total == 0:
        return 0.0
    return round(sum(s * w for s, w in scored) / total, 2)


def error_gates(results: Sequence[CheckResult]) -> list[Gate]:
    """A crashed check blocks READY: an unverified dataset is not a ready one."""
    return [Gate(r.check, "check_failed", True, f"the {r.check} check failed: {r.error}")
            for r in results if r.error]


def verdict(score: float, gates: Sequence[Gate], bands: ScoreConfig) -> Verdict:
    if any(g.triggered for g in gates):
        return Verdict.NOT_READY
    if score >= bands.ready:
        return Verdict.READY
    if score >= bands.needs_work:
        return Verdict.NEEDS_WORK
    return Verdict.NOT_READY


def fix_first(results: Sequence[CheckResult], weights: Mapping[str, float], limit: int = 10) -> list[FixItem]:
    """Findings ranked by readiness gain; high-severity findings of a gated check come first."""
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
    items.sort(key=lambda i: (-i.blocking, -i.gain, -i.finding.severity.rank, i.finding.check, i.finding.key))
    return items[:limit]
