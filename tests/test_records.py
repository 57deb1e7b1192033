"""records.parquet: one row per input row, a fixed schema, and every finding reflected in the columns."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

import dqaudit
from dqaudit.api import split
from dqaudit.config import AuditConfig
from dqaudit.records import COLUMNS, FILENAME, schema
from dqaudit.reports import write_reports

REPO = Path(__file__).resolve().parents[1]
FAST = ["schema", "duplicates", "near_duplicates", "text_quality", "language", "pii"]
WORDS = ("card blocked cash machine savings interest deposit transfer abroad fee limit statement loan "
         "repayment mortgage branch phone app login password pin code refund merchant salary account "
         "overdraft currency exchange cheque").split()
STALE_KINDS = ("superseded_phrase", "superseded_pattern", "superseded_number", "deprecated_template",
               "below_min_policy_version", "before_effective")


def planted() -> list[Any]:
    """Two labelled classes, exact and near copies, a conflict, an e-mail, Russian rows and broken lines."""
    rows: list[Any] = []
    for i in range(40):
        words = " ".join(random.Random(i).sample(WORDS, 6))
        rows.append({"id": f"r{i}", "text": f"question about {words}", "label": ("card", "savings")[i % 2]})
    rows += [{"id": f"dup{k}", "text": "Please close my account today", "label": "card"} for k in range(3)]
    rows += [{"id": "c1", "text": "Где мой перевод? Он не пришёл вчера", "label": "card"},
             {"id": "c2", "text": "Где мой перевод? Он не пришёл вчера", "label": "savings"}]
    base = "the mobile app crashes every time i open the statement page on my phone after the update"
    rows += [{"id": "n1", "text": base, "label": "card"},
             {"id": "n2", "text": base + " yesterday", "label": "card"}]
    rows += [{"id": "mail", "text": "write to ivan.petrov@example.com about my card limit", "label": "card"},
             '{"id": "broken", "text": ', {"id": "notext", "label": "card"}]
    return rows


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dqaudit.AuditResult]:
    folder = tmp_path_factory.mktemp("records")
    path = folder / "data.jsonl"
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n"
                            for r in planted()), encoding="utf-8")
    return path, dqaudit.audit(path, AuditConfig(cache={"enabled": False}), checks=FAST)


def test_one_row_per_physical_input_row_in_input_order(audited: tuple[Path, Any]) -> None:
    path, result = audited
    records = result.records
    assert list(records.columns) == list(COLUMNS)
    assert len(records) == result.source.rows == len(planted())
    assert records["line"].tolist() == list(range(1, len(planted()) + 1))
    unloaded = records[~records["loaded"]]
    assert unloaded["line"].tolist() == [49, 50] and unloaded["id"].isna().all()
    assert unloaded["decision"].tolist() == ["quarantine"] * 2
    assert unloaded["reasons"].tolist() == [["load.malformed_json"], ["load.missing_text"]]


def test_columns_carry_what_the_checks_found(audited: tuple[Path, Any]) -> None:
    _, result = audited
    rec = result.records.set_index("id")
    dups = rec.loc[["dup0", "dup1", "dup2"]]
    assert dups["exact_group"].nunique() == 1 and dups["exact_group"].notna().all()
    assert sorted(dups["decision"]) == ["drop", "drop", "keep"]  # one copy stays, as split keeps it
    assert pd.isna(rec.loc["r0", "exact_group"]) and pd.isna(rec.loc["r0", "near_duplicate_cluster"])
    assert rec.loc["n1", "near_duplicate_cluster"] == rec.loc["n2", "near_duplicate_cluster"]
    assert rec.loc["c1", "decision"] == rec.loc["c2", "decision"] == "quarantine"
    assert "duplicates.conflicting_labels" in rec.loc["c1", "reasons"]
    assert rec.loc["c1", "language"] == "ru" and rec.loc["r0", "language"] == "en"
    assert rec.loc["c1", "script"] == "cyrillic" and rec.loc["r0", "orthography"] == "standard"
    assert list(rec.loc["mail", "pii"]) == ["email"] and list(rec.loc["r0", "pii"]) == []
    assert rec.loc["mail", "decision"] == "mask"
    # label_noise and stale_policy did not run: their columns are there, all null
    assert rec[["label_issue", "label_quality", "suggested_label", "stale_policies"]].isna().all().all()


def test_every_finding_has_its_columns_set(audited: tuple[Path, Any]) -> None:
    consistent(audited[1])


@pytest.mark.slow
def test_every_finding_on_the_sample_has_its_columns_set(sample_path: Path) -> None:
    config = AuditConfig(cache={"enabled": False}, checks={"stale_policy": {
        "policies": str(REPO / "examples" / "policies.yaml")}})
    result = dqaudit.audit(sample_path, config)
    assert result.check("stale_policy").status == "ok"
    consistent(result)
    rec = result.records
    assert len(rec) == result.source.rows and (~rec["loaded"]).sum() == result.rows_quarantined
    assert rec["stale_policies"].map(lambda v: v is not None and len(v) > 0).any()
    assert rec["label_issue"].fillna(False).any() and rec["label_quality"].dropna().between(0, 1).all()


def consistent(result: Any) -> None:
    """Every id a finding names has the finding's ``check.kind`` among its reasons
    and the check's column set."""
    rec = result.records
    rows_of = rec[rec["loaded"]].groupby("id").groups  # index labels: positions in the whole table
    listed: set[int] = set()
    for f in result.findings:
        rows = [int(i) for rid in f.record_ids for i in rows_of.get(rid, [])]
        assert len(rows) >= len(set(f.record_ids)), f"{f.check}.{f.kind}: ids missing from records"
        key = f"{f.check}.{f.kind}"
        assert all(key in rec.at[i, "reasons"] for i in rows), key
        if f.check == "duplicates":
            assert rec.loc[rows, "exact_group"].notna().all() and rec.loc[rows, "exact_group"].nunique() == 1
        if f.check == "near_duplicates" and "cluster" in f.details:
            assert set(rec.loc[rows, "near_duplicate_cluster"]) == {f.details["cluster"]}, key
            listed.update(rows)
        if f.check == "pii":
            assert all(f.kind in rec.at[i, "pii"] for i in rows)
        if key == "label_noise.suspected_mislabel":
            assert rec.loc[rows, "label_issue"].all()
            assert set(rec.loc[rows, "suggested_label"]) == {f.details["suggested"]}
        if f.check == "stale_policy" and f.kind in STALE_KINDS:
            assert all(len(rec.at[i, "stale_policies"]) > 0 for i in rows)
        if f.check == "language" and f.kind == "mixed_language":
            assert set(rec.loc[rows, "language"]) == {"mixed"}
    rolled = [i for i, reasons in enumerate(rec["reasons"])
              if any(r.startswith("near_duplicates.") and r != "near_duplicates.too_short_to_compare"
                     for r in reasons)]
    assert rec.loc[rolled, "near_duplicate_cluster"].notna().all()
    assert (rec.loc[rec["label_issue"].fillna(False).astype(bool), "reasons"]
            .map(lambda r: "label_noise.suspected_mislabel" in r).all())


def test_the_decision_is_what_split_does(audited: tuple[Path, Any], tmp_path: Path) -> None:
    path, result = audited
    split(path, tmp_path / "out", AuditConfig(cache={"enabled": False}), checks=FAST)
    quarantined = {json.loads(line)["line"] for line
                   in (tmp_path / "out" / "quarantine.jsonl").read_text(encoding="utf-8").splitlines()}
    rec = result.records
    assert set(rec.loc[rec["decision"].isin(["drop", "quarantine"]), "line"]) == quarantined


def test_records_parquet_has_the_documented_schema_and_masks_ids(write_jsonl: Callable[..., Path],
                                                                  tmp_path: Path) -> None:
    rows = [{"id": "ivan.petrov@example.com", "text": "my card is blocked", "label": "card"},
            {"id": "b", "text": "how do i open a deposit", "label": "savings"},
            {"id": "ivan.petrov@example.com-7", "text": "my pin code is blocked", "label": "card"}]
    result = dqaudit.audit(write_jsonl(rows), AuditConfig(cache={"enabled": False}),
                           checks=["duplicates", "pii"])
    written = write_reports(result, tmp_path / "out", ["json"])
    table = pq.read_table(written["records"])
    assert written["records"].name == FILENAME
    assert table.schema.equals(schema(), check_metadata=False)
    assert all(field.metadata[b"description"] for field in table.schema)
    ids = table.column("id").to_pylist()
    assert not any("ivan.petrov" in i for i in ids) and ids[1] == "b" and ids[2] == "<EMAIL>-7"
    # in memory: raw, as the export needs
    assert result.records["id"].tolist()[0] == "ivan.petrov@example.com"


def test_every_column_is_documented() -> None:
    docs = (REPO / "docs" / "reports.md").read_text(encoding="utf-8")
    for name, (kind, check, _) in COLUMNS.items():
        assert f"| `{name}` | {kind} | {check or '—'} |" in docs, name


def test_ids_are_masked_as_one_call_per_value_would_mask_them() -> None:
    """The vectorised pre-filter sends every id a masker could change to it,
    and leaves the rest as they are."""
    from dqaudit.masking import masker_for
    from dqaudit.records import _GLUED_EMAIL, _masked

    mask = masker_for()

    def strict(value: str) -> str:
        return _GLUED_EMAIL.sub("<EMAIL>", mask(value))

    rng = random.Random(7)
    pieces = ["d", "1", "23", "4567", "-", "_", " ", "@", "ab", "KZ", "86", "Ivan Petrov", "a.b@x.io", "…",
              "\u00e9", "\x0b", "\x1c", "\t", "+7 701 555 12 34", "4111 1111 1111 1111", "#12",
              "Мария Иванова"]
    values = [None, "", "d1", "ivan.petrov@example.com-7", "KZ86125KZT5004100100", "x\u2028y"]
    values += ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 6))) for _ in range(3000)]
    got = _masked(pd.Series(values, dtype="string"), mask).tolist()
    want = [None if v is None else strict(v) for v in values]
    assert [None if pd.isna(v) else v for v in got] == want
    assert got[3] == "<EMAIL>-7" and got[2] == "d1"


def test_id_index_finds_what_the_ids_name_whatever_their_type() -> None:
    """Integer ids are looked up by their string, as findings name them; a repeated id finds all its rows."""
    from dqaudit.records import id_index, id_rows

    index = id_index(pd.DataFrame({"id": [7, 8, 9, 10]}))
    assert index.dtype == object and index.tolist() == ["7", "8", "9", "10"]
    found = id_rows(index, [["9", "7"], ["11"], ["10", "x", "8"]])
    assert [r.tolist() for r in found] == [[2, 0], [], [3, 1]]
    repeated = id_index(pd.DataFrame({"id": pd.array(["a", "b", "a"], dtype="string")}))
    assert [r.tolist() for r in id_rows(repeated, [["a"], ["b", "c"]])] == [[0, 2], [1]]
