"""``dqaudit init`` writes a config that works: init, then audit, on CSV, JSONL, Parquet and chat files."""

import csv
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from dqaudit.cli import cli
from dqaudit.scaffold import guess_fields

WORDS = "card limit transfer loan deposit branch refund salary statement abroad cash pin fee app".split()


def records(n: int = 24) -> list[dict]:
    return [{"ticket_id": f"T-{1000 + i}", "customer_id": f"c{i % 3}", "text": " ".join(
        WORDS[(i * k + k) % len(WORDS)] for k in range(1, 9)) + f" request {i}", "intent": f"intent_{i % 3}"}
        for i in range(n)]


def write(path: Path, rows: list[dict]) -> Path:
    if path.suffix == ".csv":
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    elif path.suffix == ".parquet":
        pd.DataFrame(rows).to_parquet(path)
    else:
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def chat_rows() -> list[dict]:
    return [{"uuid": f"u{i}", "messages": [
        {"role": "system", "content": "You are a bank assistant."},
        {"role": "user", "content": r["text"]}, {"role": "assistant", "content": f"Answer number {i}."}]}
        for i, r in enumerate(records())]


@pytest.mark.parametrize(("name", "rows", "id_key"), [
    ("data.csv", records(), "ticket_id"), ("data.jsonl", records(), "ticket_id"),
    ("data.parquet", records(), "ticket_id"), ("chat.jsonl", chat_rows(), "uuid"),
])
def test_init_then_audit(tmp_path: Path, name: str, rows: list[dict], id_key: str) -> None:
    data = write(tmp_path / name, rows)
    runner = CliRunner()
    result = runner.invoke(cli, ["init", str(data)])
    assert result.exit_code == 0, result.output
    config = yaml.safe_load(Path("dqaudit.yaml").read_text(encoding="utf-8"))
    assert config["input"]["format"] == "auto"
    assert config["fields"]["id"] == id_key
    audited = runner.invoke(cli, ["audit", str(data), "--json", "--quiet"])
    assert audited.exit_code in (0, 1), audited.output
    report = json.loads(audited.stdout)
    assert report["dataset"]["loaded"] == len(rows)
    ids = {i for check in report["checks"].values() for f in check["findings"] for i in f["record_ids"]}
    assert all(not i.startswith("auto-") for i in ids)


def test_a_config_from_a_csv_reads_the_same_data_as_parquet(tmp_path: Path) -> None:
    """The format is not pinned, so a config written for a CSV file also reads its Parquet copy."""
    rows = records()
    runner = CliRunner()
    assert runner.invoke(cli, ["init", str(write(tmp_path / "d.csv", rows))]).exit_code == 0
    audited = runner.invoke(cli, ["audit", str(write(tmp_path / "d.parquet", rows)), "--json", "--quiet"])
    assert json.loads(audited.stdout)["dataset"]["format"] == "parquet"
    pinned = runner.invoke(cli, ["init", str(tmp_path / "d.csv"), "--format", "csv", "--force"])
    assert pinned.exit_code == 0
    assert yaml.safe_load(Path("dqaudit.yaml").read_text(encoding="utf-8"))["input"]["format"] == "csv"


def test_the_example_policies_are_wired_as_a_commented_line(tmp_path: Path) -> None:
    data = write(tmp_path / "data.jsonl", records())
    runner = CliRunner()
    assert runner.invoke(cli, ["init", str(data)]).exit_code == 0
    text = Path("dqaudit.yaml").read_text(encoding="utf-8")
    line = next(line for line in text.splitlines() if line.strip().startswith("# policies:"))
    assert line.strip().startswith("# policies: policies.yaml")
    Path("dqaudit.yaml").write_text(text.replace(line, line.replace("# policies", "policies", 1)),
                                    encoding="utf-8")
    audited = runner.invoke(cli, ["audit", str(data), "--json", "--quiet", "--checks", "stale_policy"])
    check = json.loads(audited.stdout)["checks"]["stale_policy"]
    assert check["skipped"] == "policies.yaml defines no policies"  # read: the example is all comments


def test_an_id_like_key_with_repeated_values_is_not_the_id(tmp_path: Path) -> None:
    rows = [{"order_id": "same", "text": f"hello {i}"} for i in range(5)]
    fields, fmt = guess_fields(write(tmp_path / "d.jsonl", rows))
    assert fields.id is None and fmt == "jsonl"
