"""``contamination``: exact and near copies across splits, and the nightly rule that watches them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from dqaudit import AuditConfig
from dqaudit.api import audit as run_audit
from dqaudit.cli import cli
from dqaudit.config import FieldsConfig
from dqaudit.data import Dataset, load_dataset

WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar".split()


def records(n: int = 30) -> list[dict[str, Any]]:
    """Distinct requests (no two share many words), 2/3 train, then val and test."""
    out = []
    for i in range(n):
        words = [f"{WORDS[(i + k) % len(WORDS)]}{i}" for k in range(8)]
        out.append({"id": f"r{i}", "text": "please help " + " ".join(words), "label": f"l{i % 2}",
                    "split": "train" if i < 20 else ("val" if i < 25 else "test")})
    return out


def audited(rows: list[dict[str, Any]], write_jsonl: Callable[..., Path]) -> Any:
    """The check on records whose split is set on the canonical table (as the loader will carry it)."""
    dataset = load_dataset(write_jsonl(rows))
    frame = dataset.frame.assign(split=[r.get("split") for r in rows])
    config = AuditConfig(fields=FieldsConfig(split="split"))
    dataset = Dataset(frame, dataset.problems, dataset.source, config.fields)
    return run_audit(dataset, config, checks=["contamination"]).check("contamination")


def test_exact_and_near_copies_across_splits_are_counted(write_jsonl) -> None:
    rows = records()
    rows.append({**rows[3], "id": "t-exact", "split": "test"})  # exact copy of a train row
    near = rows[4]["text"].split()
    near[-1] = "changed"
    rows.append({"id": "v-near", "text": " ".join(near), "label": "l0", "split": "VAL"})  # one word changed
    rows.append({**rows[0], "id": "t-none", "split": None})  # no split: not counted
    result = audited(rows, write_jsonl)
    assert result.metrics["exact_pairs"] == {"train~val": 0, "train~test": 1, "val~test": 0}
    assert result.metrics["near_pairs"] == {"train~val": 1, "train~test": 0, "val~test": 0}
    assert result.metrics["cross_split_pairs"] == 2 and result.metrics["unsplit_rows"] == 1
    assert [f.kind for f in result.findings] == ["cross_split_copies", "cross_split_copies"]
    assert result.score is not None and result.score < 100


def test_clean_splits_score_100_and_no_split_field_skips(write_jsonl) -> None:
    result = audited(records(), write_jsonl)
    assert result.score == 100.0 and result.metrics["cross_split_pairs"] == 0
    plain = run_audit(load_dataset(write_jsonl(records())), AuditConfig(), checks=["contamination"])
    assert plain.check("contamination").skipped.startswith("no split field")


def test_two_nights_new_contamination_exits_1_with_an_alert(write_jsonl, tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    (tmp_path / "dqaudit.yaml").write_text("fields:\n  split: split\n", encoding="utf-8")
    args = ["audit", "data.jsonl", "--checks", "contamination", "--history", "reports/history.sqlite",
            "--fail-on-regression", "-q"]
    rows = records()
    write_jsonl(rows, "data.jsonl")
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    near = rows[2]["text"].split()
    near[3] = "different"
    write_jsonl(rows + [{"id": "leak", "text": " ".join(near), "label": "l0", "split": "test"}], "data.jsonl")
    second = CliRunner().invoke(cli, args)
    assert second.exit_code == 1, second.output
    assert ("- contamination: exact/near-duplicate pairs across splits rose 0 -> 1 (+1, limit 0)"
            in second.stderr.splitlines())
