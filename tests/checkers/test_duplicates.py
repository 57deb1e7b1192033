import numpy as np

from dqaudit import AuditConfig, Severity, audit


def test_exact_duplicates_and_conflicts(write_jsonl):
    path = write_jsonl([
        {"id": "a1", "text": "Block my card please", "label": "card_blocked", "created_at": "2025-02-01"},
        {"id": "a2", "text": "  block MY card   please ", "label": "card_blocked",
         "created_at": "2025-01-01"},
        {"id": "b1", "text": "Where is my transfer?", "label": "transfer_failed"},
        {"id": "b2", "text": "where is my transfer?", "label": "transaction_dispute"},
        {"id": "c1", "text": "unrelated request about loans", "label": "loan"},
        {"id": "k1", "text": "Ｃａｒｄ ｌｏｓｔ", "label": "card_lost"},
        {"id": "k2", "text": "card lost", "label": "card_lost"},
    ])
    result = audit(path, AuditConfig(), checks=["duplicates"]).check("duplicates")
    by_kind = {}
    for f in result.findings:
        by_kind.setdefault(f.kind, []).append(f)
    dups = sorted(by_kind["exact_duplicates"], key=lambda f: f.record_ids)
    assert [set(f.record_ids) for f in dups] == [{"a1", "a2"}, {"k1", "k2"}]
    assert dups[0].details["representative"] == "a2"  # same label, earliest created_at
    (conflict,) = by_kind["conflicting_labels"]
    assert set(conflict.record_ids) == {"b1", "b2"} and conflict.severity is Severity.HIGH
    assert conflict.details["label_split"] == {"transaction_dispute": 1, "transfer_failed": 1}
    assert result.metrics["conflicting_rows"] == 2 and result.metrics["redundant_rows"] == 2
    gate = result.gates[0]
    assert gate.triggered  # 2/7 rows conflicting is above the 5% default


def test_clean_data_scores_100(write_jsonl):
    path = write_jsonl([{"text": f"request number {i}", "label": "x"} for i in range(20)])
    result = audit(path, AuditConfig(), checks=["duplicates"]).check("duplicates")
    assert result.score == 100.0 and not result.findings and not result.gates[0].triggered


def night(n: int = 40) -> list[dict]:
    rows = [{"id": f"r{i}", "text": f"Request {i}: please check my card", "label": f"l{i % 3}",
             "created_at": f"2025-01-{1 + i % 28:02d}"} for i in range(n)]
    return rows + [{**rows[3], "id": "r3-copy"}, {**rows[5], "id": "r5-conflict", "label": "other"}]


def test_warm_rerun_equals_cold_run_and_links_new_rows_to_old(write_jsonl, computed):
    first = night()
    audit(write_jsonl(first, "night1.jsonl"), AuditConfig(), checks=["duplicates"])
    assert computed["normalized_key"] == 40  # every distinct text, once
    new = [{"id": "n1", "text": "  REQUEST 7: please check my card ", "label": "l1"},  # copy of an old row
           {"id": "n2", "text": "Request 9: please check my card", "label": "l1"},  # old text, another label
           {"id": "n3", "text": "a brand new request", "label": "l0"}]
    path = write_jsonl(first + new, "night2.jsonl")
    computed.clear()
    warm = audit(path, AuditConfig(), checks=["duplicates"]).check("duplicates")
    assert computed == {"normalized_key": 2}  # only the new texts are normalised (n2's text is an old one)
    cold = audit(path, AuditConfig(cache={"enabled": False}), checks=["duplicates"]).check("duplicates")
    assert warm == cold
    groups = {f.record_ids: f for f in warm.findings}
    assert groups[("r7", "n1")].kind == "exact_duplicates"
    assert groups[("r9", "n2")].kind == "conflicting_labels"
    assert groups[("r5", "r5-conflict")].details["label_split"] == {"l2": 1, "other": 1}
    assert warm.metrics["conflicting_groups"] == 2 and warm.metrics["redundant_rows"] == 2


def test_representative_rule():
    """Most common label wins; ties go to the first label in order; then earliest time, then first line."""
    from dqaudit.features.representatives import kept_entries

    group = np.array([0, 0, 0, 1, 1, 2, 2, 3, 3])
    labels = ["b", "a", "b", "b", "a", "a", "a", "a", "a"]
    times = ["2", "1", "3", "1", "2", None, "2025", "2025", "2025"]
    lines = np.array([1, 2, 3, 1, 2, 1, 2, 7, 3])
    assert np.flatnonzero(kept_entries(group, labels, times, lines, [""] * 9)).tolist() == [0, 4, 6, 8]
