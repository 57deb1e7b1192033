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


def test_warm_rerun_equals_cold_run_and_measures_only_new_texts(write_jsonl, computed):
    rows = [{"id": f"n{i}", "text": f"I need help with my card payment number {i} today", "label": "x"}
            for i in range(40)] + [{"id": "frag", "text": "?", "label": "x"}]
    audit(write_jsonl(rows, "night1.jsonl"), AuditConfig(), checks=["text_quality"])
    assert computed["text_lengths"] == 41
    path = write_jsonl(rows + [{"id": "long", "text": "log line " * 600, "label": "x"},
                               {"id": "empty", "text": "  ", "label": "x"}], "night2.jsonl")
    computed.clear()
    warm = audit(path, AuditConfig(), checks=["text_quality"]).check("text_quality")
    assert computed == {"text_lengths": 2}
    cold = audit(path, AuditConfig(cache={"enabled": False}), checks=["text_quality"]).check("text_quality")
    assert warm == cold
    assert {f.kind: f.record_ids for f in warm.findings} == {
        "empty_text": ("empty",), "fragment": ("frag",), "overlong": ("long",)}
