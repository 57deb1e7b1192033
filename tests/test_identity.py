"""Record ids are labels the data gives, not identity: shared ids are reported, never a reason to drop a row
(issue 20)."""

from __future__ import annotations

import json

from dqaudit.api import audit
from dqaudit.api import split as split_dataset
from dqaudit.config import AuditConfig
from dqaudit.data import load_dataset

WORDS = "card loan fee limit deposit pin atm branch refund salary cash rate payment login balance".split()


def source(i: int, part: str) -> dict:
    words = " ".join(WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(6))
    return {"id": i, "text": f"{part} question {i}: {words}", "label": "ab"[i % 2]}


def test_two_sources_numbered_alike_lose_no_row(tmp_path):
    """The probe: two exports numbered 0..n concatenated; the second half was quarantined as duplicates."""
    rows = [source(i, "first") for i in range(40)] + [source(i, "second") for i in range(40)]
    rows.append(dict(rows[3]))   # one true copy (same id, same text): the only duplicate
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    manifest = split_dataset(path, tmp_path / "out", AuditConfig(cache={"enabled": False}),
                             checks=["duplicates", "schema"])
    assert manifest["quarantine_reasons"] == {"duplicates.exact_duplicates": 1}
    kept = [json.loads(x) for s in ("train", "val", "test") for x in (tmp_path / "out" / f"{s}.jsonl").open()]
    assert len(kept) == 80 and len({r["text"] for r in kept}) == 80


def test_shared_ids_are_reported_and_made_unique_for_processing(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in [source(0, "a"), source(1, "a"), source(0, "b")]))
    dataset = load_dataset(path)
    assert dataset.frame["id"].tolist() == ["0", "1", "0#3"]
    schema = audit(dataset, AuditConfig(cache={"enabled": False}), checks=["schema"]).check("schema")
    shared = next(f for f in schema.findings if f.kind == "duplicate_ids")
    assert sorted(shared.record_ids) == ["0", "0#3"]
