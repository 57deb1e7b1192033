"""The foundation checkers find what sample_data/generate.py planted (sample_data/truth.json)."""

import pytest

from dqaudit import AuditConfig, audit


@pytest.fixture(scope="module")
def result(sample_path):
    return audit(sample_path, AuditConfig(), checks=["schema", "duplicates", "text_quality", "balance"])


def groups(findings, kind):
    return {frozenset(f.record_ids) for f in findings if f.kind == kind}


def test_schema_quarantines_the_planted_malformed_lines(result, truth, sample_path):
    schema = result.check("schema")
    lines = {f.kind: f.details["lines"] for f in schema.findings if "lines" in f.details}
    assert lines["malformed_json"] == [truth["malformed_lines"]["truncated"]]
    assert lines["not_an_object"] == [truth["malformed_lines"]["not_object"]]
    assert lines["missing_text"] == [truth["malformed_lines"]["missing_text"]]
    assert result.rows_loaded + result.rows_quarantined == truth["rows"]


def test_duplicates_finds_every_planted_group(result, truth):
    findings = result.check("duplicates").findings
    assert groups(findings, "exact_duplicates") == {frozenset(g) for g in truth["exact_duplicate_groups"]}
    assert groups(findings, "conflicting_labels") == {frozenset(g) for g in truth["conflicting_exact_groups"]}


def test_text_quality_finds_planted_texts(result, truth):
    found = {f.kind: set(f.record_ids) for f in result.check("text_quality").findings}
    assert found["empty_text"] == set(truth["text_quality"]["empty"])
    assert set(truth["text_quality"]["fragment"]) <= found["fragment"] | found.get("length_outlier", set())
    assert found["overlong"] == set(truth["text_quality"]["overlong"])


def test_balance_flags_the_rare_class(result, truth):
    rare = [f.details["label"] for f in result.check("balance").findings if f.kind == "rare_class"]
    assert rare == truth["rare_labels"]


def test_fix_first_is_ranked_by_harm_then_gain(result):
    from dqaudit.scoring import rows_in_error

    assert result.check("duplicates").score < 100
    keys = [(item.finding.severity.rank, rows_in_error(item.finding), item.gain)
            for item in result.fix_first if not item.blocking]
    assert keys == sorted(keys, reverse=True) and all(gain > 0 for *_, gain in keys)
