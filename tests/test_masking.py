"""Personal data planted in every field never reaches an output raw (issue 20).

Ids, labels, annotator names, the file name and the texts all carry e-mail addresses,
phone and card numbers; every file dqaudit writes (reports, attachments, the history
database, the split folder and its manifest) and everything it prints is searched for them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dqaudit.cli import cli

CLASSES = ["card", "loan", "complaint", "dispute"]
RAW = ("@example.com", "4111 1111 1111 1111", "701 555", "boss@", "olga.petrova")


def planted(n: int = 120) -> list[dict]:
    rng = np.random.default_rng(0)
    records = []
    for i in range(n):
        truth = CLASSES[i % 4]
        label = CLASSES[(i + 1) % 4] if i % 17 == 0 else truth   # some wrong labels for label_noise
        if i in (5, 9):
            label = "vip boss@example.com"   # a rare label that is an e-mail address
        text = f"request {i} about my {truth} {truth} {truth}, write to client{i}@example.com"
        if i % 10 == 0:
            text += " or call +7 701 555 12 34, card 4111 1111 1111 1111"
        a3 = str(rng.choice(CLASSES)) if rng.random() < 0.5 else truth
        records.append({
            "id": f"client{i}@example.com" if i % 3 == 0 else f"r{i}",
            "text": text,
            "label": label,
            "annotations": [{"annotator": "a1", "label": truth}, {"annotator": "a2", "label": truth},
                            {"annotator": "olga.petrova@example.com", "label": a3}],
        })
    return records


def _leaks(blob: bytes) -> list[str]:
    return [value for value in RAW if value.encode() in blob]


@pytest.mark.slow
def test_no_output_carries_planted_personal_data(tmp_path: Path) -> None:
    folder = tmp_path / "boss@example.com"
    folder.mkdir()
    source = folder / "data.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in planted()))
    (tmp_path / "dqaudit.yaml").write_text("output:\n  formats: [json, md, html]\n")
    runner = CliRunner()
    audit = runner.invoke(cli, ["audit", str(source), "--out", str(tmp_path / "reports"), "--no-cache",
                                "--history", str(tmp_path / "history.db"), "--config",
                                str(tmp_path / "dqaudit.yaml")])
    assert audit.exit_code in (0, 1), audit.output
    again = runner.invoke(cli, ["audit", str(source), "--out", str(tmp_path / "reports"), "--no-cache",
                                "--history", str(tmp_path / "history.db"), "--json"])
    assert again.exit_code in (0, 1), again.output
    split = runner.invoke(cli, ["split", str(source), "--out", str(tmp_path / "clean"), "--no-cache"])
    assert split.exit_code == 0, split.output
    history = runner.invoke(cli, ["history", str(tmp_path / "history.db"), "--dataset", str(source)])
    assert history.exit_code == 0, history.output
    written = sorted(p for p in tmp_path.rglob("*") if p.is_file() and folder not in p.parents
                     and p.name != "dqaudit.yaml")
    names = {p.name for p in written}
    assert {"report.json", "report.md", "report.html", "label_issues.jsonl", "review_disputed.jsonl",
            "history.db", "manifest.json", "quarantine.jsonl"} <= names, names
    leaks = {str(p.relative_to(tmp_path)): _leaks(p.read_bytes()) for p in written}
    leaks.update({f"terminal:{name}": _leaks((r.stdout + r.stderr).encode())
                  for name, r in [("audit", audit), ("audit --json", again), ("split", split),
                                  ("history", history)]})
    assert {k: v for k, v in leaks.items() if v} == {}


def test_mask_many_masks_what_one_call_per_value_masks() -> None:
    """The vectorised pre-filter of ``mask_many`` never lets a value through that the masker would change."""
    import random

    from dqaudit.masking import mask_many, masker_for

    mask = masker_for()
    rng = random.Random(3)
    pieces = ["d", "1", "23", "4567", "-", " ", "@", "ab", "KZ", "86", "Ivan Petrov", "a.b@x.io", "…", "é", "\x0b",
              "\x1f", "\t", "\n", "+7 701 555 12 34", "4111 1111 1111 1111", "Мария Иванова", "x\u2028y"]
    values = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 6))) for _ in range(3000)]
    assert mask_many(values, mask) == [mask(v) for v in values]
    assert mask_many(["\udcff" * 70] * 70, mask) == [mask("\udcff" * 70)] * 70  # not UTF-8: each value masked
