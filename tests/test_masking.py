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
    pieces = ["d", "1", "23", "4567", "-", " ", "@", "ab", "KZ", "86", "Ivan Petrov", "a.b@x.io", "…", "é",
              "\x0b", "\x1f", "\t", "\n", "+7 701 555 12 34", "4111 1111 1111 1111", "Мария Иванова",
              "x\u2028y"]
    values = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 6))) for _ in range(3000)]
    assert mask_many(values, mask) == [mask(v) for v in values]
    assert mask_many(["\udcff" * 70] * 70, mask) == [mask("\udcff" * 70)] * 70  # not UTF-8: each value masked


def _mask_text_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every string the masking rules are run on, from now on."""
    import dqaudit.masking as masking

    calls: list[str] = []
    real = masking.mask_text

    def counted(text: str, types: tuple[str, ...]) -> str:
        calls.append(text)
        return real(text, types)

    monkeypatch.setattr(masking, "mask_text", counted)
    return calls


def _fresh_masker():  # type: ignore[no-untyped-def]
    """A masker as :func:`masker_for` makes it, without the memo another run in this process filled."""
    from dqaudit.masking import masker_for

    return masker_for.__wrapped__()


def test_the_next_run_masks_only_ids_it_has_not_seen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Verdicts kept in the cache give what one masker call per value gives;
    a re-run calls it for new ids only."""
    import random

    from dqaudit.cache import Cache
    from dqaudit.masking import changed_by, mask_many

    rng = random.Random(5)
    pieces = ["b", "0", "1", "23", "4567", "-", " ", "@", "KZ", "86", "+7 701 555 12 34",
              "4111 1111 1111 1111", "Ivan Petrov", "a.b@x.io", "é", "…"]
    values = ([f"b{i:07d}" for i in range(3000)]
              + ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 6))) for _ in range(2000)]
              + [None])
    want = [v is not None and _fresh_masker()(v) != v for v in values]
    calls = _mask_text_calls(monkeypatch)
    got = changed_by(values, _fresh_masker(), Cache(tmp_path))
    assert got.tolist() == want and len(calls) > 3000  # the ids with seven digits reach the rules
    Cache(tmp_path).flush()
    calls.clear()
    grown = values + [f"b{i:07d}" for i in range(3000, 3100)]
    assert changed_by(grown, _fresh_masker(), Cache(tmp_path)).tolist() == want + [False] * 100
    assert sorted(calls) == sorted(f"b{i:07d}" for i in range(3000, 3100))
    strings = [v for v in grown if v is not None]
    mask = _fresh_masker()
    assert mask_many(strings, mask, Cache(tmp_path)) == [_fresh_masker()(v) for v in strings]


def test_a_verdict_is_used_only_for_the_string_it_was_computed_for(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A stored verdict whose second hash does not match (another string under the key) is recomputed,
    and a damaged shard is ignored: neither leaves a value unmasked."""
    import pandas as pd

    import dqaudit.masking as masking
    from dqaudit.cache import Cache

    values = [f"+7 701 555 {i // 100:02d} {i % 100:02d}" for i in range(1500)]  # all phone numbers
    mask = _fresh_masker()
    assert masking.changed_by(values, mask, Cache(tmp_path)).all()
    Cache(tmp_path).flush()
    (folder,) = tmp_path.iterdir()
    keys = pd.util.hash_array(np.array(values, dtype=object), hash_key=masking._HASH_KEYS[0],
                              categorize=False)
    lies = np.zeros((len(values), 2), dtype="<u8")  # "unchanged", under the right keys, with the wrong check
    for shard in folder.iterdir():
        shard.unlink()
    Cache(tmp_path).per_key(folder.name, keys, lambda positions: lies[positions])
    Cache(tmp_path).flush()
    assert masking.changed_by(values, _fresh_masker(), Cache(tmp_path)).all()
    for shard in folder.iterdir():  # damage: the checksum no longer holds
        data = bytearray(shard.read_bytes())
        data[-1] ^= 1
        shard.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="unusable shard"):
        assert masking.changed_by(values, _fresh_masker(), Cache(tmp_path)).all()


def test_the_verdicts_change_namespace_with_the_types(tmp_path: Path) -> None:
    """A masker for other types keeps its verdicts apart
    (an id a phone-only masker leaves may be an e-mail)."""
    from dqaudit.cache import Cache
    from dqaudit.masking import changed_by, masker_for

    values = [f"user{i}@example.com" for i in range(1100)]
    assert changed_by(values, masker_for(("phone",)), Cache(tmp_path)).sum() == 0
    Cache(tmp_path).flush()
    assert changed_by(values, masker_for(("email",)), Cache(tmp_path)).all()
    assert len(list(tmp_path.iterdir())) == 2


def test_the_pipeline_masks_messages_and_details_once_per_new_string(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Findings' messages and detail strings come out as the masking rules make them (keys and ids untouched),
    and a re-run with the cache runs the rules only on the strings it has not seen and those they change."""
    from dqaudit.cache import Cache
    from dqaudit.findings import Action, CheckResult, Finding, Severity
    from dqaudit.pii import mask_text
    from dqaudit.pipeline import _mask_results

    def results(n: int) -> list[CheckResult]:
        ids = [f"b{i:07d}" for i in range(n)]
        details = {"groups": [{"ids": ids, "a.b@x.io": "4111 1111 1111 1111"}]}
        finding = Finding("duplicates", "copies", Severity.LOW, "call +7 701 555 12 34", Action.REVIEW,
                          ("a.b@x.io",), details=details)
        return [CheckResult("duplicates", 90.0, findings=(finding,)), CheckResult("balance", 100.0)]

    def expected(result: list[CheckResult]) -> list[CheckResult]:
        from dataclasses import replace

        from dqaudit.masking import mask_deep

        def strings(value: object) -> object:  # values, not keys (the report masker masks keys later)
            if isinstance(value, dict):
                return {k: strings(v) for k, v in value.items()}
            if isinstance(value, list):
                return [strings(v) for v in value]
            return mask_deep(value, mask_text)

        return [replace(r, findings=tuple(replace(f, message=mask_text(f.message), details=strings(f.details))
                                          for f in r.findings)) for r in result]

    calls = _mask_text_calls(monkeypatch)
    first = _mask_results(results(1500), [_fresh_masker()], Cache(tmp_path))
    assert len(calls) >= 1500
    assert first == expected(results(1500))
    assert first[0].findings[0].message == "call <PHONE>" and first[0].findings[0].record_ids == ("a.b@x.io",)
    Cache(tmp_path).flush()
    calls.clear()
    again = _mask_results(results(1600), [_fresh_masker()], Cache(tmp_path))
    personal = ["4111 1111 1111 1111", "call +7 701 555 12 34"]
    assert sorted(calls) == sorted([f"b{i:07d}" for i in range(1500, 1600)] + personal)
    assert again == expected(results(1600))
