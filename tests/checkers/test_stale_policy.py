"""stale_policy: every rule on tiny generated data, bad input, the CLI flag, and the planted sample."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import regex
from click.testing import CliRunner
from hypothesis import example, given, settings
from hypothesis import strategies as st

import dqaudit
from dqaudit.checkers.stale_policy import parse_dates
from dqaudit.cli import cli
from dqaudit.config import AuditConfig, FieldsConfig
from dqaudit.errors import ConfigError
from dqaudit.features import policy_matches
from dqaudit.features.policy_matches import Column
from dqaudit.findings import Action, CheckResult, Severity
from dqaudit.policies import FLAGS, Term

POLICIES = """\
policies:
  - id: refund-window-2025
    effective_from: 2025-03-01
    superseded:
      phrases: ["refund within 14 days"]
      patterns: ['\\b14[- ]day refund']
      numbers: [{value: 14, near: [day, дн, күн], window: 2}]
      templates:
        - >-
          Thank you for contacting us. You can request a refund of the purchase in the mobile app
          by pressing the Dispute button, and we answer in a week.
    current: ["refund within 30 days"]
    min_policy_version: 3
    labels: [request_refund]
  - id: fee-2025
    effective_from: 2025-06-01
    superseded:
      phrases: ["комиссия 1%"]
    current: ["без комиссии"]
"""
TEMPLATE = ("Thank you for contacting us. You can request a refund of the purchase in the mobile app "
            "by pressing the Dispute button, and we answer in a week.")
STALE_DROP_KINDS = {"superseded_phrase", "superseded_pattern", "superseded_number", "deprecated_template"}


def rec(rid: str, text: str = "hello, a question about my card", answer: str | None = "Sure, let me check.",
        label: str = "other", created_at: Any = "2025-08-01", policy_version: Any = 4) -> dict[str, Any]:
    return {"id": rid, "text": text, "answer": answer, "label": label, "created_at": created_at,
            "policy_version": policy_version}


@pytest.fixture
def run(write_jsonl: Callable[..., Path]) -> Callable[..., CheckResult]:
    def go(records: list[dict[str, Any]], policy_text: str | None = POLICIES, **params: Any) -> CheckResult:
        """Audit ``records`` with ``policy_text`` written to ./policies.yaml (None: no policies key)."""
        data = write_jsonl(records)
        settings = dict(params)
        if policy_text is not None:
            Path("policies.yaml").write_text(policy_text, encoding="utf-8")
            settings.setdefault("policies", "policies.yaml")
        config = AuditConfig(fields=FieldsConfig(output="answer"), checks={"stale_policy": settings})
        return dqaudit.audit(data, config, checks=["stale_policy"]).check("stale_policy")

    return go


def by_kind(result: CheckResult, kind: str) -> list[Any]:
    return [f for f in result.findings if f.kind == kind]


def flagged(result: CheckResult) -> set[str]:
    return {i for f in result.findings if "policy" in f.details for i in f.record_ids}


def test_skips_without_a_policies_file(run: Callable[..., CheckResult]) -> None:
    result = run([rec("a")], policy_text=None)
    assert result.status == "skipped" and "--policies" in (result.skipped or "")
    assert run([rec("a")], policy_text="policies: []\n").skipped == "policies.yaml defines no policies"


def test_missing_or_malformed_policies_stop_the_run(run: Callable[..., CheckResult]) -> None:
    with pytest.raises(ConfigError, match="nope.yaml: no such file"):
        run([rec("a")], policy_text=None, policies="nope.yaml")
    with pytest.raises(ConfigError, match=r"policies.yaml:6: policy 'refund-window-2025': pattern"):
        run([rec("a")], policy_text=POLICIES.replace(r"\b14[- ]day refund", "(?<"))


def test_clean_data_scores_100(run: Callable[..., CheckResult]) -> None:
    result = run([rec("a"), rec("b", label="request_refund", answer="A refund within 30 days is fine.")])
    assert result.score == 100.0 and result.findings == () and result.metrics["stale_records"] == 0
    assert not any(g.triggered for g in result.gates)


def test_superseded_phrase_in_answer_is_dropped_and_in_text_reviewed(run: Callable[..., CheckResult]) -> None:
    result = run([
        rec("ans", answer="OK. Refund  within 14 DAYS, sorry."),
        rec("txt", text="you said refund within 14 days!"),
        rec("both", answer="Refund within 14 days was the old rule; now it is refund within 30 days."),
        rec("clean"),
    ])
    answers = {f.action: f for f in by_kind(result, "superseded_phrase")}
    drop = answers[Action.DROP]
    assert drop.record_ids == ("ans",) and drop.severity is Severity.HIGH
    assert "[refund-window-2025]" in drop.message
    assert drop.details["spans"] == {"ans": "Refund within 14 DAYS"}
    assert "“refund within 14 days” ×1" in drop.message and "current: “refund within 30 days”" in drop.message
    assert answers[Action.REVIEW].record_ids == ("both",)
    [text] = by_kind(result, "superseded_phrase_in_text")
    assert text.record_ids == ("txt",) and text.action is Action.REVIEW and text.severity is Severity.LOW
    assert "clean" not in flagged(result)
    assert result.metrics["drop_records"] == 1 and result.metrics["by_policy"]["refund-window-2025"] == 3


def test_pattern_and_number_in_context(run: Callable[..., CheckResult]) -> None:
    result = run([
        rec("pat", answer="We offer a 14-day refund."),
        rec("ru", answer="Возврат в течение 14 календарных дней."),
        rec("kk", answer="Ақша 14 күн ішінде қайтарылады."),
        rec("far", answer="14 is our branch number; business days are Mon-Fri."),
        rec("big", answer="Refund in 114 days."),
    ])
    assert by_kind(result, "superseded_pattern")[0].record_ids == ("pat",)
    number = by_kind(result, "superseded_number")[0]
    assert set(number.record_ids) == {"pat", "ru", "kk"}
    assert number.details["spans"]["ru"] == "14 календарных дней"


def test_template_near_copies_by_minhash(run: Callable[..., CheckResult]) -> None:
    wrapped = f"Hello Aigerim! {TEMPLATE.replace('a week', 'a few days')} Have a nice day."
    result = run([
        rec("exact", answer=TEMPLATE),
        rec("wrapped", answer=wrapped),
        rec("current", answer=TEMPLATE + " A refund within 30 days is guaranteed."),
        rec("other", answer="Thank you for contacting us. Your card will be delivered to the branch soon."),
        rec("in_text", text=TEMPLATE),
    ])
    drop = [f for f in by_kind(result, "deprecated_template") if f.action is Action.DROP]
    assert [set(f.record_ids) for f in drop] == [{"exact", "wrapped"}]
    assert len(by_kind(result, "deprecated_template")) == 1  # "current" is the updated template: not stale
    assert by_kind(result, "deprecated_template_in_text")[0].record_ids == ("in_text",)
    assert not {"other", "current"} & flagged(result)
    similarity = drop[0].details["similarity"]
    assert similarity["exact"] == 1.0 and 0.7 <= similarity["wrapped"] < 1
    assert "(containment 1.00)" in drop[0].message


def test_template_threshold_is_configurable(run: Callable[..., CheckResult]) -> None:
    half = " ".join(TEMPLATE.split()[:13]) + " and then something completely different happens here today."
    assert "half" in flagged(run([rec("half", answer=half)], template_similarity=0.4))
    assert "half" not in flagged(run([rec("half", answer=half)], template_similarity=0.9))


def test_policy_version_below_minimum_on_governed_labels(run: Callable[..., CheckResult]) -> None:
    result = run([
        rec("old", label="request_refund", policy_version="v2"),
        rec("ok", label="request_refund", policy_version="3.0"),
        rec("other_label", label="card", policy_version=1),
        rec("bad", label="request_refund", policy_version="beta"),
    ])
    [finding] = by_kind(result, "below_min_policy_version")
    assert finding.record_ids == ("old",) and finding.action is Action.REVIEW
    assert finding.details["spans"] == {"old": "policy_version v2 < 3"}
    assert by_kind(result, "unparseable_policy_version")[0].record_ids == ("bad",)


def test_before_effective_unless_quoting_current(run: Callable[..., CheckResult]) -> None:
    result = run([
        rec("before", label="request_refund", created_at="2025-02-28"),
        rec("dotted", label="request_refund", created_at="28.02.2025"),
        rec("local_time", label="request_refund", created_at="2025-02-28T23:30:00+05:00"),
        rec("quotes_current", label="request_refund", created_at="2025-01-05",
            answer="A refund within 30 days applies."),
        rec("after", label="request_refund", created_at="01.03.2025"),
        rec("after_utc", label="request_refund", created_at="2025-03-01T01:00:00+05:00"),
        rec("ungoverned", label="card", created_at="2024-01-01"),
        rec("garbage", label="request_refund", created_at="last Tuesday"),
        rec("missing", label="request_refund", created_at=None),
    ])
    [finding] = by_kind(result, "before_effective")
    assert set(finding.record_ids) == {"before", "dotted", "local_time"}
    assert finding.details["spans"]["dotted"] == "created_at 28.02.2025 < effective_from 2025-03-01"
    assert by_kind(result, "unparseable_created_at")[0].record_ids == ("garbage",)
    assert by_kind(result, "missing_created_at")[0].record_ids == ("missing",)
    assert result.metrics["unparseable_dates"] == 1


def test_parse_dates_formats() -> None:
    raw = pd.Series(["2025-03-01", "01.03.2025", "2025-03-01T10:00:00Z", "2025/03/01", "March 1, 2025",
                     "1740787200", "1740787200000", "2025-02-28 23:00:00+05:00", "", None, "31.02.2025",
                     "soon"], dtype=object)
    got = [None if pd.isna(d) else d.strftime("%Y-%m-%d %H:%M") for d in parse_dates(raw)]
    assert got == ["2025-03-01 00:00", "2025-03-01 00:00", "2025-03-01 10:00", "2025-03-01 00:00",
                   "2025-03-01 00:00", "2025-03-01 00:00", "2025-03-01 00:00", "2025-02-28 23:00",
                   None, None, None, None]


def test_metrics_per_policy_and_month_with_chart(run: Callable[..., CheckResult]) -> None:
    result = run([
        rec("jan", answer="refund within 14 days", created_at="2025-01-10"),
        rec("jan2", answer="комиссия 1% за перевод", created_at="2025-01-20"),
        rec("apr", answer="refund within 14 days", created_at="2025-04-02"),
        rec("undated", answer="refund within 14 days", created_at=None),
        rec("clean", created_at="2025-05-05"),
    ])
    m = result.metrics
    assert m["by_policy"] == {"refund-window-2025": 3, "fee-2025": 1}
    assert m["by_month"] == {"2025-01": 2, "2025-04": 1, "unknown": 1}
    assert m["by_policy_month"]["refund-window-2025"] == {"2025-01": 1, "2025-04": 1, "unknown": 1}
    assert m["last_stale_month"] == {"refund-window-2025": "2025-04", "fee-2025": "2025-01"}
    [chart] = result.charts
    assert chart.kind == "line" and chart.data["x"] == ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05"]
    assert chart.data["series"]["refund-window-2025"] == [1, 0, 0, 1, 0]


def test_scoring_charges_each_record_once_and_gates_on_drops(run: Callable[..., CheckResult]) -> None:
    clean = [rec(f"c{i}") for i in range(18)]
    one_rule = run([rec("x", answer="refund within 14 days"), *clean, rec("y")])
    # the same record also breaks the pattern, number, version and date rules: still one record's worth
    many_rules = run([rec("x", answer="refund within 14 days, a 14-day refund", label="request_refund",
                          created_at="2024-01-01", policy_version=1), *clean, rec("y")])
    assert many_rules.score == pytest.approx(one_rule.score)
    assert 0 < one_rule.score < 100
    [gate] = one_rule.gates
    assert gate.triggered is False  # 1 of 20 = 5% <= 10%
    assert run([rec("x", answer="refund within 14 days"), rec("y")]).gates[0].triggered


def test_catastrophic_pattern_times_out_into_a_finding(run: Callable[..., CheckResult]) -> None:
    policies = POLICIES.replace(r"'\b14[- ]day refund'", "'(a|aa)+$'")
    result = run([rec("evil", text="a" * 40 + "!"), rec("next", answer="refund within 14 days")],
                 policy_text=policies, pattern_timeout=0.01)
    [timeout] = by_kind(result, "pattern_timeout")
    assert timeout.record_ids == ("evil",) and "[refund-window-2025]" in timeout.message
    assert "next" in flagged(result)  # the other rules still ran


def test_matches_found_batch_by_batch_read_as_one_pass(write_jsonl: Callable[..., Path]) -> None:
    """What an engine computes per batch (Spark: on the executors) decodes to the whole table's matches:
    the first stop in record order wins and what later batches found after it is dropped."""
    from dataclasses import replace

    from dqaudit.api import open_context
    from dqaudit.context import AuditContext
    from dqaudit.features.policy_matches import policy_matches as matches_of
    from dqaudit.features.policy_matches import read_matches

    policies = POLICIES.replace(r"'\b14[- ]day refund'", "'(a|aa)+$'")
    Path("policies.yaml").write_text(policies, encoding="utf-8")
    records = [rec("r0", answer="refund within 14 days"), rec("t0", answer=TEMPLATE),
               rec("q0", answer=f"{TEMPLATE} refund within 30 days"), rec("aa0", text="aa"),
               rec("evil", text="a" * 40 + "!"), rec("aa1", text="aaaa", answer="комиссия 1%"),
               rec("evil2", text="a" * 40 + "!"), rec("aa2", text="aa", answer="refund within 14 days"),
               rec("n0", answer="a 14-day refund, 14 days")]
    config = AuditConfig(fields=FieldsConfig(output="answer"), cache={"enabled": False},
                         checks={"stale_policy": {"policies": "policies.yaml", "pattern_timeout": 0.01}})
    ctx = open_context(write_jsonl(records), config)
    whole = read_matches(matches_of(ctx), 2)
    parts = [matches_of(AuditContext(replace(ctx.dataset, frame=ctx.frame.iloc[a:b].reset_index(drop=True)),
                                     config)) for a, b in ((0, 3), (3, 5), (5, 9))]
    batched = read_matches(pd.concat(parts, ignore_index=True), 2)
    assert batched.found == whole.found and batched.stops == whole.stops and batched.copies == whole.copies
    assert (batched.quotes_current == whole.quotes_current).all()
    evil = (0, 1, "text")  # the pattern is policy 0's second term; it stopped at "evil", not again at "evil2"
    assert whole.stops[evil].row == 4 and not whole.stops[evil].budget_spent
    assert [row for row, _ in whole.found[evil]] == [3]  # "aa1" and "aa2" come after the stop
    assert whole.copies[(0, 0, "output")][0][0] == 1 and whole.quotes_current[0].tolist()[2]


def test_a_timeout_given_the_budgets_remainder_counts_as_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    # the regex engine's timer may fire before time.monotonic() reaches the deadline (CI saw it)
    now = [100.0]
    monkeypatch.setattr(policy_matches.time, "monotonic", lambda: now[0])
    budget = policy_matches._Budget(1.0)
    now[0] = 100.2
    assert budget.timeout(0.5) == 0.5 and not budget.expired()  # a per-match timeout, budget left
    now[0] = 100.7
    assert budget.timeout(0.5) == pytest.approx(0.3)
    now[0] = 100.999  # the engine gave up a millisecond early
    assert budget.expired() and budget.spent


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet="14 days\nд", max_size=12)), max_size=12),
       st.sampled_from([r"14\W+days", r"^days", r"s$", r"\bd", r"4(?=\s*d)", r"[^a]+", r"[\d\s]+", r"4.*s",
                        r"x*"]),
       st.integers(1, 8))
@example(["4", "4s"], r"4.*s", 8)  # the crossing match "4\x004s" hides row 2's own "4s"
@example(["14", "days", "x 14 days"], r"14\W+days", 64)
def test_chunked_scan_equals_one_search_per_row(values: list[str | None], pattern: str, chunk: int) -> None:
    term = Term("pattern", pattern, regex.compile(pattern, FLAGS))
    original = policy_matches._CHUNK_CHARS
    policy_matches._CHUNK_CHARS = chunk  # tiny chunks: many boundaries and crossing matches
    try:
        found, stopped = policy_matches._scan(term, Column.of(pd.Series(values, dtype=object)), 1.0)
    finally:
        policy_matches._CHUNK_CHARS = original
    expected = {i for i, v in enumerate(values) if v and term.regex.search(v)}
    assert stopped is None and set(found) == expected


def test_cli_policies_flag_overrides_config(write_jsonl: Callable[..., Path]) -> None:
    data = write_jsonl([rec("a", answer="refund within 14 days"), rec("b")])
    Path("policies.yaml").write_text(POLICIES, encoding="utf-8")
    Path("dqaudit.yaml").write_text("fields: {output: answer}\n"
                                    "checks: {stale_policy: {policies: missing.yaml}}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["audit", str(data), "--checks", "stale_policy", "--json", "-q",
                                      "--policies", "policies.yaml"])
    report = json.loads(result.stdout)
    check = report["checks"]["stale_policy"]
    assert check["findings"][0]["record_ids"] == ["a"]
    assert check["metrics"]["by_policy"]["refund-window-2025"] == 1
    bad = CliRunner().invoke(cli, ["audit", str(data), "--checks", "stale_policy", "-q"])
    assert bad.exit_code == 2 and "Error: missing.yaml: no such file" in bad.output
    assert "Traceback" not in bad.output


@pytest.mark.parametrize("policies_file", ["sample_data/policies.yaml", "examples/policies.yaml"])
def test_sample_dataset_recall_and_precision(sample_path: Path, truth: dict[str, Any],
                                             policies_file: str) -> None:
    """The planted stale records, by record and policy; examples/ adds number and template rules."""
    policies = sample_path.parents[1] / policies_file
    config = AuditConfig(fields=FieldsConfig(output="answer"),
                         checks={"stale_policy": {"policies": str(policies)}})
    result = dqaudit.audit(sample_path, config, checks=["stale_policy"]).check("stale_policy")
    expected = truth["stale_policy"]
    found: dict[str, set[str]] = {}
    for f in result.findings:
        if "policy" in f.details:
            for rid in f.record_ids:
                found.setdefault(rid, set()).add(f.details["policy"])
    hits = set(found) & set(expected)
    assert len(hits) / len(expected) >= 0.98, sorted(set(expected) - set(found))[:10]
    assert len(hits) / len(found) >= 0.98, sorted(set(found) - set(expected))[:10]
    assert all(found[i] == set(expected[i]["policies"]) for i in hits)
