"""``output_style``: answers unlike the rest."""

from collections.abc import Callable
from pathlib import Path

from dqaudit import AuditConfig, audit

CHAT = {"text": "messages[user]", "output": "messages[assistant]", "label": "intent"}
TOPICS = ["refund", "limit", "fee", "loan", "card"]


def chat(rid: str, question: str, answer: str, intent: str) -> dict:
    return {"id": rid, "intent": intent, "messages": [{"role": "user", "content": question},
                                                      {"role": "assistant", "content": answer}]}


def run(path: Path) -> object:
    return audit(path, AuditConfig(fields=CHAT, cache={"enabled": False}), checks=["output_style"]).check(
        "output_style")


def test_planted_chat_sample(truth_chat) -> None:
    path, truth = truth_chat
    result = run(path)
    found: dict[str, set[str]] = {}
    for finding in result.findings:
        found.setdefault(finding.kind, set()).update(finding.record_ids)
        assert finding.details["dominant_style"] == "prose"
    planted = {"auto_replies": "auto_replies", "mixed_styles": "structured_answers",
               "empty_outputs": "empty_answers", "truncated_outputs": "truncated_answers",
               "language_mismatch": "language_mismatch",
               "length_outliers": "long_answers", "template_fragments": "template_fragments"}
    for kind, key in planted.items():
        assert found.get(kind, set()) == set(truth[key]), kind


def test_boilerplate_across_topics_but_not_one_topics_faq_answer(write_jsonl: Callable[..., Path]) -> None:
    rows = []
    for i in range(15):
        topic = TOPICS[i % 5]
        rows.append(chat(f"b{i}", f"question {i} about the {topic} of my account number {i}",
                         f"Your {topic} question {i} is answered in the app. "
                         "Thank you for choosing our bank for your everyday banking.", topic))
    for i in range(6):  # one topic's FAQ answer to six rewordings: fine
        rows.append(chat(f"f{i}", f"how long does a refund take, variant {i}", "A refund takes 14 days.",
                         "refund"))
    result = run(write_jsonl(rows))
    kinds = {f.kind: f for f in result.findings}
    assert set(kinds["boilerplate"].record_ids) == {f"b{i}" for i in range(15)}
    assert kinds["boilerplate"].details["position"] == "closing"
    assert "auto_replies" not in kinds


def test_skipped_without_outputs(write_jsonl: Callable[..., Path]) -> None:
    result = audit(write_jsonl([{"text": "hello there"}]), AuditConfig(), checks=["output_style"])
    assert result.check("output_style").status == "skipped"
