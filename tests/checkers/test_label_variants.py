"""``label_variants``: one class spelled several ways, and ``split`` relabelling it."""

import json
from pathlib import Path

from dqaudit import AuditConfig, audit


def test_variants_are_one_finding_per_class(write_jsonl) -> None:
    rows = [{"id": f"r{i}", "text": f"request number {i}", "label": "card_blocked"} for i in range(6)]
    rows += [{"id": "v1", "text": "blocked card one", "label": "Card-Blocked"},
             {"id": "v2", "text": "blocked card two", "label": "сard_blocked"},  # Cyrillic "с"
             {"id": "v3", "text": "blocked card three", "label": "cards blocked "},
             {"id": "l1", "text": "a loan please", "label": "loan"}]
    result = audit(write_jsonl(rows), AuditConfig(), checks=["label_variants"]).check("label_variants")
    assert len(result.findings) == 1
    finding = result.findings[0]
    assert set(finding.record_ids) == {"v1", "v2", "v3"} and finding.action.value == "relabel"
    assert finding.details["canonical"] == "card_blocked" and finding.details["counts"]["card_blocked"] == 6
    assert result.metrics["classes"] == 2 and result.score < 100


def test_no_labels_is_a_skip(write_jsonl) -> None:
    result = audit(write_jsonl([{"text": "hello there"}]), AuditConfig(), checks=["label_variants"])
    assert result.check("label_variants").status == "skipped"


def test_split_relabels_variants_to_the_canonical_name(write_jsonl, tmp_path: Path) -> None:
    from dqaudit.api import split as split_dataset

    rows = [{"id": f"r{i}", "text": f"my card number {i} was blocked at the atm on day {i * 7}",
             "label": "card_blocked" if i % 5 else "Card Blocked"} for i in range(40)]
    out = tmp_path / "out"
    manifest = split_dataset(write_jsonl(rows), out, AuditConfig(cache={"enabled": False}),
                             checks=["label_variants"])
    assert manifest["cleaning"]["relabelled"] == 8
    labels = {json.loads(line)["label"] for name in ("train", "val", "test")
              for line in (out / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()}
    assert labels == {"card_blocked"}


def test_chat_sample_variants_are_found(truth_chat) -> None:
    path, truth = truth_chat
    fields = {"text": "messages[user]", "output": "messages[assistant]", "label": "intent"}
    config = AuditConfig(fields=fields, cache={"enabled": False})
    result = audit(path, config, checks=["label_variants"]).check("label_variants")
    found = {f.details["canonical"]: set(f.record_ids) for f in result.findings}
    planted = {canonical: {i for ids in spellings.values() for i in ids}
               for canonical, spellings in truth["label_variants"].items()}
    assert found == planted
