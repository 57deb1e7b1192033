from dqaudit import AuditConfig, audit


def test_rare_classes_and_distribution(write_jsonl):
    records = [{"text": f"t{i} words here", "label": "big"} for i in range(60)]
    records += [{"text": f"s{i} words here", "label": "small"} for i in range(3)]
    records += [{"text": f"m{i} words here", "label": "mid"} for i in range(10)]
    result = audit(write_jsonl(records), AuditConfig(), checks=["balance"]).check("balance")
    rare = [f for f in result.findings if f.kind == "rare_class"]
    assert [f.details["label"] for f in rare] == ["small"]
    assert rare[0].details["missing"] == 7 and len(rare[0].record_ids) == 3
    assert "separate evaluation set" in rare[0].message
    assert result.metrics["distribution"] == {"big": 60, "mid": 10, "small": 3}
    assert result.charts[0].data["labels"] == ["big", "mid", "small"]
    assert 0 < result.score < 100


def test_imbalance_threshold(write_jsonl):
    records = [{"text": f"t{i}", "label": "big"} for i in range(40)] + [{"text": "x y", "label": "tiny"}]
    config = AuditConfig(checks={"balance": {"min_count": 1, "max_imbalance": 10}})
    result = audit(write_jsonl(records), config, checks=["balance"]).check("balance")
    assert [f.kind for f in result.findings] == ["imbalance"]


def test_unlabelled_dataset_is_skipped(write_jsonl):
    result = audit(write_jsonl([{"text": "no labels here"}]), AuditConfig(),
                   checks=["balance"]).check("balance")
    assert result.status == "skipped" and result.score is None
