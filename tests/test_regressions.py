"""Regression rules: each one fires beyond its threshold, stays quiet within it, and "new" means new."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from dqaudit.api import audit as run_audit
from dqaudit.config import AuditConfig, RegressionConfig
from dqaudit.data import load_dataset
from dqaudit.errors import ConfigError
from dqaudit.history import CheckSummary, Run, StoredFinding, snapshot
from dqaudit.registry import parse_config
from dqaudit.regressions import compare, html_section, rules, tracked_kinds


def run(run_id: int, readiness: float = 90.0, findings: tuple[StoredFinding, ...] = (),
        **metrics: dict[str, Any]) -> Run:
    checks = {name: CheckSummary("ok", 90.0, m) for name, m in metrics.items()}
    checks.setdefault("duplicates", CheckSummary("ok", 95.0, {}))
    checks.setdefault("stale_policy", CheckSummary("ok", 95.0, {}))
    return Run(run_id, f"2026-01-0{run_id}T02:00:00Z", "/data/bank.jsonl", "f", 100 + run_id, 100, "c",
               "0.1.0", readiness, "READY", 0, checks, findings)


def group(key: str, *hashes: str, kind: str = "conflicting_labels",
          check: str = "duplicates") -> StoredFinding:
    return StoredFinding(check, kind, key, "content-" + key, "high", len(hashes), f"group {key}",
                         frozenset(hashes))


def outcome(diff: Any, rule: str) -> Any:
    return next(o for o in diff.outcomes if o.rule == rule)


def test_every_rule_has_a_threshold_and_every_threshold_a_rule() -> None:
    names = [r.name for r in rules()]
    assert sorted(names) == sorted(RegressionConfig.model_fields) and len(set(names)) == len(names)
    assert ("duplicates", "conflicting_labels") in tracked_kinds()
    assert all(r.check for r in rules() if r.name != "score_drop")  # each declared by its checker


def test_regression_section_is_validated() -> None:
    assert parse_config({"regression": {"score_drop": 5, "alpha_drop": None}}).regression.alpha_drop is None
    with pytest.raises(ConfigError, match="regression.score_dorp: unknown key"):
        parse_config({"regression": {"score_dorp": 5}})
    with pytest.raises(ConfigError, match="regression.new_stale_records: Input should be greater than"):
        parse_config({"regression": {"new_stale_records": -1}})


@pytest.mark.parametrize(("after", "regressed"), [(87.9, True), (88.0, False), (95.0, False)])
def test_score_drop_beyond_threshold(after: float, regressed: bool) -> None:
    diff = compare(run(1, 90.0), run(2, after))
    assert outcome(diff, "score_drop").regressed is regressed
    assert bool(diff.regressions) is regressed


def test_a_null_threshold_turns_the_rule_off() -> None:
    diff = compare(run(1, 90.0), run(2, 10.0), RegressionConfig(score_drop=None))
    assert "score_drop" not in [o.rule for o in diff.outcomes]


def test_alpha_drop_reads_the_agreement_metric() -> None:
    diff = compare(run(1, agreement={"krippendorff_alpha": 0.82}),
                   run(2, agreement={"krippendorff_alpha": 0.70}))
    alpha = outcome(diff, "alpha_drop")
    assert alpha.regressed and (alpha.before, alpha.after) == (0.82, 0.70)
    assert "fell 0.82 -> 0.7" in alpha.describe()
    quiet = compare(run(1, agreement={"krippendorff_alpha": 0.82}),
                    run(2, agreement={"krippendorff_alpha": 0.80}))
    assert not outcome(quiet, "alpha_drop").regressed


def test_a_check_that_did_not_run_on_both_sides_is_not_compared() -> None:
    diff = compare(run(1), run(2, agreement={"krippendorff_alpha": 0.1}))
    assert "alpha_drop" not in [o.rule for o in diff.outcomes]


def test_conflicting_groups_matched_by_key_content_or_shared_records() -> None:
    before = run(1, findings=(group("a", "h1", "h2"), group("b", "h3", "h4")))
    grown = replace(group("a2", "h1", "h2", "h9"), content_key="other")  # group a gained a copy
    renamed = replace(group("b-new-ids", "h3", "h4"), content_key="content-b")  # same texts, new ids
    fresh = group("c", "h7", "h8")
    diff = compare(before, run(2, findings=(grown, renamed, fresh)))
    conflicts = outcome(diff, "new_conflicting_groups")
    assert conflicts.change == 1 and conflicts.examples == ("group c",)
    assert conflicts.regressed
    kinds = {(k.check, k.kind): k for k in diff.kinds}
    assert kinds["duplicates", "conflicting_labels"].new == 1
    assert kinds["duplicates", "conflicting_labels"].resolved == 0


def test_new_stale_records_are_counted_per_record_not_per_finding() -> None:
    before = run(1, findings=(group("p", "h1", "h2", kind="superseded_phrase", check="stale_policy"),))
    after = run(2, findings=(group("p2", "h1", "h2", "h3", kind="superseded_phrase", check="stale_policy"),
                             group("v", "h2", kind="below_min_policy_version", check="stale_policy")))
    stale = outcome(compare(before, after), "new_stale_records")
    assert (stale.before, stale.after, stale.change) == (2, 3, 1)
    assert stale.regressed
    assert not outcome(compare(before, before), "new_stale_records").regressed


def test_language_cell_falling_under_its_minimum() -> None:
    def lang(coverage: dict[str, dict[str, int]]) -> dict[str, Any]:
        return {"coverage": coverage, "languages": ["en", "kk"], "expected_shares": {}, "min_per_cell": 5}

    before = run(1, language=lang({"card_lost": {"en": 9, "kk": 5}, "refund": {"en": 7, "kk": 2}}))
    after = run(2, language=lang({"card_lost": {"en": 9, "kk": 4}, "refund": {"en": 7, "kk": 1}}))
    cells = outcome(compare(before, after), "language_cells")
    assert cells.change == 1 and cells.regressed  # refund/kk was already under the minimum
    assert cells.examples == ("label 'card_lost' kk: 5 -> 4 (minimum 5)",)


def test_language_cells_count_only_expected_languages() -> None:
    def lang(coverage: dict[str, dict[str, int]]) -> dict[str, Any]:
        return {"coverage": coverage, "languages": ["en", "kk"], "expected_languages": ["en"],
                "expected_shares": {}, "min_per_cell": 5}

    before = run(1, language=lang({"card_lost": {"en": 9, "kk": 5}}))
    after = run(2, language=lang({"card_lost": {"en": 9, "kk": 0}}))
    assert not outcome(compare(before, after), "language_cells").regressed  # kk is not expected in this data


def test_alert_is_short_plain_text_naming_each_regression() -> None:
    diff = compare(run(1, 90.0), run(2, 80.0, findings=(group("c", "h7"),)))
    alert = diff.alert("reports/bank-20260102T020000Z/")
    lines = alert.splitlines()
    assert lines[0] == "dqaudit: 2 regression(s) in bank since run 1 (2026-01-01T02:00:00Z)"
    assert "- readiness fell 90 -> 80 (-10, limit 2)" in lines
    assert "- duplicates: 1 new conflicting-label groups (limit 0), e.g. group c" in lines
    assert lines[-1] == "report: reports/bank-20260102T020000Z/"
    assert "\x1b" not in alert and len(lines) <= 6


def test_html_section_draws_the_trend_and_escapes_text() -> None:
    evil = replace(group("x", "h1"), message="<script>alert(1)</script>")
    runs = [run(1, 90.0, duplicates={"conflicting_groups": 0}),
            run(2, 80.0, (evil,), duplicates={"conflicting_groups": 1})]
    section = html_section(runs, compare(runs[0], runs[1]))
    html = str(section.html)
    assert section.title == "Run history"
    assert html.count("<svg") == 2  # scores, and duplicates.conflicting_groups
    assert "<script>" not in html and "readiness fell 90 -&gt; 80" in html


def test_reordered_rows_give_no_new_findings(write_jsonl) -> None:
    rows = [{"text": f"please help with request number {i % 7}", "label": f"l{i % 3}"} for i in range(40)]
    rows += [{"text": "where is my card", "label": label} for label in ("card_lost", "card_blocked")]
    config = AuditConfig()
    runs = []
    for i, records in enumerate((rows, rows[::-1]), start=1):
        dataset = load_dataset(write_jsonl(records, f"{i}.jsonl"), config.fields)
        runs.append(replace(snapshot(run_audit(dataset, config, checks=["duplicates"]), dataset), id=i))
    diff = compare(*runs)
    assert runs[0].findings and not diff.regressions
    assert all(k.new == 0 and k.resolved == 0 for k in diff.kinds)


@pytest.mark.parametrize(("pairs", "regressed"), [(0, False), (1, True), (3, True)])
def test_new_contamination_is_a_rise_in_cross_split_pairs(pairs: int, regressed: bool) -> None:
    before = run(1, contamination={"cross_split_pairs": 2})
    after = run(2, contamination={"cross_split_pairs": 2 + pairs})
    result = outcome(compare(before, after), "new_contamination")
    assert result.regressed is regressed and result.change == pairs
    lenient = compare(before, after, RegressionConfig(new_contamination=1))
    assert outcome(lenient, "new_contamination").regressed is (pairs > 1)
    if regressed:
        assert result.describe() == (f"exact/near-duplicate pairs across splits rose 2 -> {2 + pairs:g} "
                                     f"(+{pairs}, limit 0)")


def test_fewer_cross_split_pairs_is_no_regression() -> None:
    before, after = (run(i, contamination={"cross_split_pairs": n}) for i, n in ((1, 5), (2, 1)))
    diff = compare(before, after)
    assert not outcome(diff, "new_contamination").regressed
