from dqaudit import AuditConfig, Severity, audit


def test_exact_duplicates_and_conflicts(write_jsonl):
    path = write_jsonl([
        {"id": "a1", "text": "Block my card please", "label": "card_blocked", "created_at": "2025-02-01"},
        {"id": "a2", "text": "  block MY card   please ", "label": "card_blocked", "created_at": "2025-01-01"},
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
