"""``conflicting_outputs``: the same question with answers that disagree."""

import json
from pathlib import Path

from dqaudit import AuditConfig, audit

CHAT = {"text": "messages[user]", "output": "messages[assistant]", "label": "intent"}
Q1 = "How long does a refund to my card take? I returned a jacket to the shop yesterday."
Q2 = "Can I cancel a transfer after sending it? I sent money to my brother this morning."
Q3 = "What is the interest on the savings deposit that I opened in the mobile app last month?"


def chat(rid: str, question: str, answer: str, when: str = "2025-01-01", intent: str = "refund") -> dict:
    return {"id": rid, "intent": intent, "created_at": when, "messages": [
        {"role": "system", "content": "You are a bank assistant."},
        {"role": "user", "content": question}, {"role": "assistant", "content": answer}]}


def run(path: Path, **checks: dict) -> object:
    config = AuditConfig(fields=CHAT, checks=checks, cache={"enabled": False})
    return audit(path, config, checks=["conflicting_outputs"])


def test_contradictions_are_found_and_greetings_are_not(write_jsonl) -> None:
    path = write_jsonl([
        chat("a1", Q1, "A refund takes up to 14 days."),
        chat("a2", "Hello! " + Q1, "A refund takes up to 30 days."),
        chat("a3", Q1, "Hello! A refund takes up to 14 days. Best regards, support team."),
        chat("b1", Q2, "Yes, you can cancel it in the app within 30 minutes."),
        chat("b2", Q2, "Hi there! Yes, you can cancel it in the app within 30 minutes. Have a nice day!"),
        chat("c1", Q3, "The savings deposit pays 14% a year."),
        chat("c2", Q3 + "!", "The savings deposit pays 14% a year"),
    ])
    result = run(path).check("conflicting_outputs")
    assert len(result.findings) == 1
    finding = result.findings[0]
    assert finding.kind == "conflicting_outputs" and finding.severity.value == "high"
    assert finding.action.value == "review"
    assert set(finding.record_ids) == {"a1", "a2", "a3"}
    kept, other = finding.details["answers"]
    assert kept["keep"] and set(kept["record_ids"]) == {"a1", "a3"}
    assert finding.details["keep_rule"] == "majority"
    assert other["record_ids"] == ["a2"] and other["reason"] == "facts"
    assert other["differing_spans"] == [["14", "30"]]
    assert finding.details["representative"] == "a1"
    assert result.metrics["conflicting_rows"] == 3
    assert result.gates[0].triggered  # 3 of 7 rows


def test_another_answer_is_reviewed_but_only_contradictions_block(write_jsonl) -> None:
    path = write_jsonl([
        chat("a1", Q1, "A refund takes up to 14 days."),
        chat("a2", Q1, "Please contact your branch manager about refunds."),
        chat("b1", Q2, "Yes, you can cancel it in the app within 30 minutes."),
    ])
    result = run(path).check("conflicting_outputs")
    (finding,) = result.findings
    assert finding.severity.value == "medium" and finding.details["answers"][1]["reason"] == "dissimilar"
    assert result.metrics["conflicting_rows"] == 2 and result.metrics["contradicting_rows"] == 0
    assert not result.gates[0].triggered  # 2 of 3 rows differ, but nothing contradicts


def test_split_keeps_one_record_with_the_kept_answer(write_jsonl, tmp_path: Path) -> None:
    from dqaudit.api import split

    path = write_jsonl([
        chat("a1", Q1, "A refund takes up to 14 days."),
        chat("a2", "Hello! " + Q1, "A refund takes up to 30 days."),
        chat("a3", Q1 + " Thanks", "Hello! A refund takes up to 14 days. Best regards, support team."),
        chat("b1", Q2, "Yes, you can cancel it in the app within 30 minutes."),
        chat("c1", Q3, "The savings deposit pays 14% a year."),
    ])
    out = tmp_path / "out"
    split(path, out, AuditConfig(fields=CHAT, cache={"enabled": False}),
          checks=["duplicates", "near_duplicates", "conflicting_outputs"])
    kept = {json.loads(line)["id"] for name in ("train", "val", "test")
            for line in (out / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()}
    assert kept & {"a1", "a2", "a3"} in ({"a1"}, {"a3"}) and {"b1", "c1"} <= kept


def test_questions_stating_other_facts_are_other_questions(write_jsonl) -> None:
    path = write_jsonl([
        chat("x1", "Refund 5 000 tenge for the jacket I returned to the shop yesterday", "Sent 5 000."),
        chat("x2", "Refund 7 000 tenge for the jacket I returned to the shop yesterday", "Sent 7 000."),
    ])
    assert run(path).check("conflicting_outputs").findings == ()


def test_newest_answer_is_kept_on_a_tie_and_personal_data_is_masked(write_jsonl) -> None:
    path = write_jsonl([
        chat("old", Q1, "Write to refunds@bank.kz, a refund takes 14 days.", when="2024-01-01"),
        chat("new", Q1, "Write to refunds@bank.kz, a refund takes 30 days.", when="2025-06-01"),
    ])
    finding = run(path).check("conflicting_outputs").findings[0]
    assert finding.details["keep_rule"] == "newest" and finding.details["representative"] == "new"
    assert "refunds@bank.kz" not in json.dumps(finding.details) + finding.message
    assert "<EMAIL>" in json.dumps(finding.details, ensure_ascii=False)


def test_current_policy_beats_majority(write_jsonl, tmp_path: Path) -> None:
    policies = tmp_path / "policies.yaml"
    policies.write_text("policies:\n  - id: refund\n    effective_from: 2025-01-01\n    superseded:\n"
                        "      phrases: ['14 days']\n    current: ['30 days']\n", encoding="utf-8")
    path = write_jsonl([chat("s1", Q1, "A refund takes 14 days."), chat("s2", Q1, "A refund takes 14 days."),
                        chat("c1", Q1, "A refund takes 30 days.")])
    finding = run(path, stale_policy={"policies": str(policies)}).check("conflicting_outputs").findings[0]
    assert finding.details["keep_rule"] == "current policy" and finding.details["representative"] == "c1"


def test_skipped_without_outputs(write_jsonl) -> None:
    path = write_jsonl([{"id": "1", "text": "hello there", "label": "x"}])
    result = audit(path, AuditConfig(), checks=["conflicting_outputs"]).check("conflicting_outputs")
    assert result.status == "skipped" and "fields.output" in result.skipped


def test_planted_chat_sample(truth_chat) -> None:
    """The committed chat sample: >= 90% of contradictory pairs found, <= 10% of consistent ones."""
    path, truth = truth_chat
    result = run(path).check("conflicting_outputs")
    group_of = {rid: (f.key, k) for f in result.findings for k, g in enumerate(f.details["answers"])
                for rid in g["record_ids"]}

    def reported(a: str, b: str) -> bool:
        ga, gb = group_of.get(a), group_of.get(b)
        return ga is not None and gb is not None and ga[0] == gb[0] and ga[1] != gb[1]

    contradictory = [reported(a, b) for a, b, _ in truth["contradictory_pairs"]]
    consistent = [reported(a, b) for a, b, _ in truth["consistent_pairs"]]
    assert sum(contradictory) / len(contradictory) >= 0.9
    assert sum(consistent) / len(consistent) <= 0.1
