import math

import pytest

from dqaudit.checkers.base import penalty_score
from dqaudit.config import ScoreConfig
from dqaudit.findings import Action, CheckResult, Finding, Gate, Severity, Verdict
from dqaudit.scoring import error_gates, fix_first, readiness, verdict


def finding(check, kind, impact=0.0, severity=Severity.MEDIUM):
    return Finding(check, kind, severity, kind, Action.REVIEW, ("r1",), impact)


def test_readiness_is_weighted_mean_of_scored_checks():
    results = [CheckResult("a", 90.0), CheckResult("b", 60.0), CheckResult("c", None, skipped="no labels")]
    assert readiness(results, {"a": 1.0, "b": 2.0, "c": 5.0}) == pytest.approx(70.0)
    assert readiness([CheckResult("c", None, skipped="x")], {"c": 1.0}) is None  # nothing scored: no score


def test_verdict_bands_and_gates():
    bands = ScoreConfig()
    assert verdict(85.0, [], bands) is Verdict.READY
    assert verdict(84.99, [], bands) is Verdict.NEEDS_WORK
    assert verdict(60.0, [], bands) is Verdict.NEEDS_WORK
    assert verdict(59.9, [], bands) is Verdict.NOT_READY
    assert verdict(99.0, [Gate("a", "g", True, "blocked")], bands) is Verdict.NOT_READY
    assert verdict(None, [], bands) is Verdict.NOT_READY


def test_penalty_score_and_impacts():
    findings = [finding("a", "x"), finding("a", "y")]
    score, scored = penalty_score(findings, [10.0, 30.0])
    assert score == pytest.approx(100 * math.exp(-0.4), abs=1e-3)
    assert scored[0].impact == pytest.approx(100 * math.exp(-0.3) - score, abs=1e-3)
    assert scored[1].impact > scored[0].impact > 0
    with pytest.raises(ValueError):
        penalty_score(findings, [1.0])


def test_score_out_of_range_is_rejected():
    with pytest.raises(ValueError, match="outside 0-100"):
        CheckResult("a", 101.0)


def test_fix_first_ranks_by_gain_and_puts_blocking_first():
    a = CheckResult("a", 80.0, (finding("a", "small", 1.0), finding("a", "big", 5.0)))
    b = CheckResult("b", 50.0, (finding("b", "gated", 0.5, Severity.HIGH),),
                    gates=(Gate("b", "g", True, "blocked"),))
    items = fix_first([a, b], {"a": 1.0, "b": 1.0})
    assert [i.finding.kind for i in items] == ["gated", "big", "small"]
    assert items[0].blocking and items[1].gain == pytest.approx(2.5)


def rows_finding(check, kind, rows, impact, severity, action=Action.REVIEW, **details):
    ids = tuple(f"{kind}{i}" for i in range(rows))
    return Finding(check, kind, severity, kind, action, ids, impact, details)


def test_fix_first_ranks_by_harm_before_gain():
    """Severity and rows in error come before the gain; add-data rows for one label are one entry."""
    language = CheckResult("language", 80.0, tuple(
        rows_finding("language", "coverage_gap", 40, 1.0, Severity.HIGH, Action.ADD_DATA, label="card_lost",
                     language=lang) for lang in ("kk", "ru", "en")) + (
        rows_finding("language", "coverage_gap", 30, 0.9, Severity.MEDIUM, Action.ADD_DATA, label="fees",
                     language="kk"),))
    near = CheckResult("near_duplicates", 90.0, (
        rows_finding("near_duplicates", "conflicting_labels", 3, 0.2, Severity.HIGH),
        rows_finding("near_duplicates", "near_duplicates", 9, 0.3, Severity.MEDIUM),
        rows_finding("near_duplicates", "near_duplicates", 2, 0.5, Severity.MEDIUM)))
    items = fix_first([language, near], {"language": 1.0, "near_duplicates": 1.0})
    kinds = [(i.finding.kind, len(i.finding.record_ids)) for i in items]
    # the high-severity conflict (3 rows in error) before the high-severity add-data entry (no rows in error)
    assert kinds == [("conflicting_labels", 3), ("coverage_gap", 40), ("near_duplicates", 9),
                     ("near_duplicates", 2), ("coverage_gap", 30)]
    grouped = items[1]
    assert grouped.finding.details["languages"] == ["en", "kk", "ru"] and grouped.gain == pytest.approx(1.5)
    assert "card_lost" in grouped.finding.message


def test_crashed_check_raises_a_gate():
    gates = error_gates([CheckResult("a", None, error="boom"), CheckResult("b", 50.0)])
    assert [(g.check, g.triggered) for g in gates] == [("a", True)]
