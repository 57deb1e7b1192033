from dqaudit import AuditConfig, audit


def test_empty_fragment_overlong_and_outliers(write_jsonl):
    normal = [{"id": f"n{i}", "text": f"I need help with my card payment number {i} today", "label": "x"}
              for i in range(40)]
    odd = [
        {"id": "empty", "text": "   ", "label": "x"},
        {"id": "frag", "text": "?", "label": "x"},
        {"id": "long", "text": "log line " * 600, "label": "x"},
        {"id": "short", "text": "card blocked why", "label": "x"},
    ]
    result = audit(write_jsonl(normal + odd), AuditConfig(), checks=["text_quality"]).check("text_quality")
    kinds = {f.kind: set(f.record_ids) for f in result.findings}
    assert kinds["empty_text"] == {"empty"}
    assert kinds["fragment"] == {"frag"}
    assert kinds["overlong"] == {"long"}
    assert "short" in kinds.get("length_outlier", set())
    assert not any(i.startswith("n") for ids in kinds.values() for i in ids)
    assert result.metrics["empty_text"] == 1
