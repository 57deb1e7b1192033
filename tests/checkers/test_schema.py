from dqaudit import AuditConfig, audit


def test_schema_findings_from_great_expectations_and_loader(write_jsonl):
    path = write_jsonl([
        {"id": "a", "text": "first request", "label": "card_lost"},
        {"id": "a", "text": "second request", "label": "card_lost"},
        {"id": "b", "text": "third request", "label": None},
        {"id": "c", "text": "fourth request", "label": "weird"},
        {"id": "d", "text": "fifth request", "label": "Card_Lost "},
        '{"id": "e", "text": "broken',
        {"id": "f", "label": "card_lost"},
    ])
    config = AuditConfig(checks={"schema": {"allowed_labels": ["card_lost", "Card_Lost "]}})
    result = audit(path, config, checks=["schema"]).check("schema")
    kinds = {f.kind: f for f in result.findings}
    assert set(kinds["duplicate_ids"].record_ids) == {"a"}
    assert kinds["missing_label"].record_ids == ("b",)
    assert set(kinds["unknown_label"].record_ids) == {"b", "c"} or kinds["unknown_label"].record_ids == ("c",)
    assert kinds["label_variants"].record_ids == ("d",)
    assert kinds["malformed_json"].details["lines"] == [6]
    assert f"{path}:6" in kinds["malformed_json"].message
    assert kinds["missing_text"].details["lines"] == [7]
    assert result.metrics["quarantined"] == 2
    assert result.gates[0].triggered  # 3 of 7 rows unusable


def test_clean_schema(write_jsonl):
    path = write_jsonl([{"id": str(i), "text": f"request {i}", "label": "x"} for i in range(10)])
    result = audit(path, AuditConfig(), checks=["schema"]).check("schema")
    assert result.score == 100.0 and result.findings == ()
