"""The ``pii`` checker: findings per type, the gate, export setting, reports never show raw values."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

import dqaudit
from dqaudit.config import AuditConfig
from dqaudit.errors import ConfigError
from dqaudit.pii import find_pii, iin_check_digit, luhn_ok
from dqaudit.registry import check_params
from dqaudit.reports import write_reports

CARD = next(p + d for p in ["552233445566778"] for d in "0123456789" if luhn_ok(p + d))
IIN = next(
    f"900215300{i:02d}" + str(iin_check_digit(f"900215300{i:02d}"))
    for i in range(100)
    if iin_check_digit(f"900215300{i:02d}") is not None
)
RAW = {
    "email": "dauren1987@mail.kz",
    "phone": "+7 701 555 12 34",
    "card": f"{CARD[:4]} {CARD[4:8]} {CARD[8:12]} {CARD[12:]}",
    "iin": IIN,
    "person": "Ержан Ахметов",
}


@pytest.fixture
def planted(write_jsonl: Callable[..., Path]) -> Path:
    records = [
        {"id": f"ok{i}", "text": f"Как заблокировать карту? Заказ №{45678900 + i}", "label": "card"}
        for i in range(20)
    ]
    records += [
        {"id": "p-email", "text": f"Моя почта {RAW['email']}, напишите туда.", "label": "card"},
        {"id": "p-phone", "text": f"Мой номер {RAW['phone']}, перезвоните, пожалуйста.", "label": "card"},
        # the same card twice, so the duplicates checker quotes it in its own messages
        {"id": "p-card", "text": f"Номер карты {RAW['card']}.", "label": "card"},
        {"id": "p-card2", "text": f"Номер карты {RAW['card']}.", "label": "transfer"},
        {"id": "p-iin", "text": f"ИИН владельца: {RAW['iin']}.", "label": "card"},
        {
            "id": "p-person",
            "text": f"Меня зовут {RAW['person']}.",
            "label": "card",
            "answer": f"Здравствуйте, {RAW['person']}! Перезвоним на {RAW['phone']}.",
        },
    ]
    return write_jsonl(records)


def _config(**settings: Any) -> AuditConfig:
    return AuditConfig(checks={"pii": settings}, fields={"output": "answer"}, cache={"enabled": False})


def test_findings_per_type_and_gate(planted: Path) -> None:
    check = dqaudit.audit(planted, _config(), checks=["pii"]).check("pii")
    by_kind = {f.kind: f for f in check.findings}
    assert set(by_kind) == {"email", "phone", "card", "iin", "person"}
    assert set(by_kind["card"].record_ids) == {"p-card", "p-card2"}
    assert by_kind["phone"].details["fields"] == {"text": 1, "output": 1}
    assert by_kind["card"].severity.value == "high" and by_kind["card"].action.value == "mask"
    assert check.metrics["records_with_pii"] == 6
    assert check.gates[0].triggered  # 3 of 26 records carry card/IIN numbers, above 1%
    assert not any(rid.startswith("ok") for f in check.findings for rid in f.record_ids)


def test_export_and_types_settings(planted: Path) -> None:
    check = dqaudit.audit(planted, _config(export="drop", types=["card"]), checks=["pii"]).check("pii")
    assert [f.kind for f in check.findings] == ["card"]
    assert check.findings[0].action.value == "drop"
    with pytest.raises(ConfigError, match="unknown type 'passport'"):
        check_params(AuditConfig(checks={"pii": {"types": ["passport"]}}), "pii")


@pytest.mark.slow
def test_reports_never_show_raw_values(planted: Path, tmp_path: Path) -> None:
    """Every enabled checker runs: values quoted by others (duplicates, text quality) are masked too."""
    result = dqaudit.audit(planted, _config())
    written = write_reports(result, tmp_path / "out", ["json", "md", "html"])
    assert json.loads(written["json"].read_text(encoding="utf-8"))["checks"]["pii"]["status"] == "ok"
    for path in written.values():
        body = (json.dumps(pq.read_table(path).to_pylist(), ensure_ascii=False) if path.suffix == ".parquet"
                else path.read_text(encoding="utf-8"))
        for value in [*RAW.values(), CARD]:
            assert value not in body, f"{value!r} leaked into {path.name}"
    examples = [e for f in result.check("pii").findings for e in f.details["examples"]]
    assert examples and all("<" in e for e in examples)


def test_bad_input_gives_no_findings(write_jsonl: Callable[..., Path]) -> None:
    path = write_jsonl(
        [{"id": "a", "text": ""}, {"id": "b", "text": "🙂🙂"}, {"id": "c", "text": "12.03.2025"}]
    )
    no_answers = AuditConfig(cache={"enabled": False})  # mapping fields.output that no record has is exit 2
    check = dqaudit.audit(path, no_answers, checks=["pii"]).check("pii")
    assert check.error is None and check.findings == () and check.score == 100.0


def test_only_values_are_scanned_and_a_night_scans_only_new_ones(
    planted: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows without an answer are not scanned (nor hashed) for one, and a re-run with the cache scans only
    the values it has not seen; the findings are those of a run without the cache."""
    from dqaudit.features import pii_counts

    scanned: list[str] = []

    def counting(text: str) -> Any:
        scanned.append(text)
        return find_pii(text)

    monkeypatch.setattr(pii_counts, "find_pii", counting)
    lines = planted.read_text(encoding="utf-8").splitlines()
    config = _config().model_copy(update={"cache": AuditConfig().cache.model_copy(
        update={"dir": str(tmp_path / "cache")})})
    first = dqaudit.audit(planted, config, checks=["pii"]).check("pii")
    assert len(scanned) == len(lines)  # the distinct texts (two cards alike: one fewer) and the one answer
    assert "" not in scanned
    grown = tmp_path / "grown.jsonl"
    grown.write_text("\n".join([*lines, json.dumps({"id": "new", "text": f"Пишите {RAW['email']}",
                                                     "label": "card"})]) + "\n", encoding="utf-8")
    scanned.clear()
    again = dqaudit.audit(grown, config, checks=["pii"]).check("pii")
    assert scanned == [f"Пишите {RAW['email']}"]
    cold = dqaudit.audit(grown, _config(), checks=["pii"]).check("pii")
    assert again.findings == cold.findings and again.metrics == cold.metrics
    assert [f.record_ids for f in again.findings if f.kind == "email"] == [("p-email", "new")]
    assert first.metrics["fields_scanned"] == ["text", "output"]


def test_sample_planted_pii(sample_path: Path, truth: dict[str, Any]) -> None:
    check = dqaudit.audit(sample_path, AuditConfig(cache={"enabled": False}), checks=["pii"]).check("pii")
    found = {(rid, f.kind) for f in check.findings for rid in f.record_ids}
    planted = {(rid, kind) for rid, kinds in truth["pii"].items() for kind in kinds}
    assert len(found & planted) >= 0.95 * len(planted)
    flagged = {rid for rid, _ in found}
    assert not flagged & set(truth["pii_lookalikes"])
    assert find_pii("") == []
