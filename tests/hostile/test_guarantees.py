"""The guarantees that span a whole run: conservation, crash safety, history consistency, no personal data.

Conservation and PII run in-process on a mixed hostile dataset; crash safety and the
history database are tested by SIGKILLing real ``dqaudit`` subprocesses at seeded
random points (slow: each start pays the imports).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dqaudit.cli import cli
from dqaudit.registry import available_checkers

from .cases import filler, jsonl
from .runner import SLOW_CHECKS

FAST_CHECKS = ",".join(c for c in available_checkers() if c not in SLOW_CHECKS)
PII = ["ivan.petrov@example.com", "4539 1488 0343 6467", "+7 701 234 5678", "KZ86125KZT5004100100"]


def mixed_records() -> list[Any]:
    """Clean rows plus one of each row-level problem, each with a unique id where it has one at all."""
    return [
        *filler(60),
        '{"id":"cut","text":"truncated rec',
        "[1, 2]",
        "null",
        '{"id":"nan","text":"x","label":NaN}',
        {"id": "nested", "text": {"a": 1}, "label": "billing"},
        {"id": "badlabel", "text": "label is a list", "label": ["a"]},
        {"id": "dup1", "text": "duplicate text of a refund request", "label": "billing"},
        {"id": "dup2", "text": "duplicate text of a refund request", "label": "billing"},
        {"id": "conf1", "text": "conflicting labels on this login text", "label": "billing"},
        {"id": "conf2", "text": "conflicting labels on this login text", "label": "access"},
        {
            "id": "pii",
            "text": f"write to {PII[0]}, call {PII[2]}, card {PII[1]}, iban {PII[3]}",
            "label": "billing",
        },
        {"id": "=formula", "text": '=HYPERLINK("http://evil") refund', "label": "billing"},
        "",
        "   ",
    ]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _outputs_match_manifest(out: Path) -> dict[str, Any]:
    """The folder is complete: a manifest, and every file it lists with its row count and hash."""
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    for name, meta in manifest["outputs"].items():
        path = out / name
        assert path.is_file(), name
        assert sum(1 for _ in path.open("rb")) == meta["rows"] and _sha(path) == meta["sha256"], name
    return manifest


def test_export_puts_every_input_row_in_exactly_one_output(tmp_path: Path) -> None:
    setup = jsonl(tmp_path, mixed_records())
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["split", str(setup.data), "--out", str(out), "--no-cache", "-q", "--checks", FAST_CHECKS]
    )
    assert result.exit_code == 0, result.output + result.stderr
    manifest = _outputs_match_manifest(out)
    assert sum(manifest["rows"].values()) == setup.rows == manifest["input"]["rows"]
    lines = setup.data.read_text(encoding="utf-8").split("\n")
    line_of_id = {}
    for number, text in enumerate(lines, 1):
        try:
            line_of_id[json.loads(text)["id"]] = number
        except (ValueError, TypeError, KeyError):
            continue
    seen = [
        line_of_id[json.loads(row)["id"]]
        for name in ("train.jsonl", "val.jsonl", "test.jsonl")
        for row in (out / name).read_text(encoding="utf-8").splitlines()
    ]
    for row in (out / "quarantine.jsonl").read_text(encoding="utf-8").splitlines():
        entry = json.loads(row)
        seen.append(entry["line"])
        if "raw" in entry:
            assert entry["raw"] == lines[entry["line"] - 1]  # quarantined verbatim
    assert sorted(seen) == [
        n for n, text in enumerate(lines, 1) if text.strip()
    ]  # each row once, none invented
    exported = "".join((out / f"{s}.jsonl").read_text(encoding="utf-8") for s in ("train", "val", "test"))
    assert not [p for p in PII if p in exported]


def test_reports_and_terminal_never_show_personal_data(tmp_path: Path) -> None:
    setup = jsonl(tmp_path, mixed_records())
    result = CliRunner().invoke(
        cli, ["audit", str(setup.data), "--out", str(tmp_path / "r"), "--no-cache", "--checks", FAST_CHECKS]
    )
    assert result.exit_code in (0, 1), result.output
    (folder,) = (tmp_path / "r").iterdir()
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert "pii" in report["checks"] and report["checks"]["pii"]["findings"], "the PII was not even found"
    for text in [result.output, result.stderr, *(_readable(p) for p in folder.iterdir())]:
        leaked = [p for p in PII if p in text or p.replace(" ", "") in text]
        assert leaked == []


def _readable(path: Path) -> str:
    """A report file as text: records.parquet's rows as JSON (ids and labels are data too)."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return json.dumps(pq.read_table(path).to_pylist(), ensure_ascii=False)
    return path.read_text(encoding="utf-8")


# --- SIGKILL -------------------------------------------------------------------------------------------


def _start(args: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen(
        [sys.executable, "-m", "dqaudit", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _timed_run(args: list[str], cwd: Path) -> float:
    began = time.monotonic()
    process = _start(args, cwd)
    _, err = process.communicate(timeout=300)
    assert process.returncode in (0, 1), err.decode()[-2000:]
    return time.monotonic() - began


def _kill_at(args: list[str], cwd: Path, delay: float) -> None:
    process = _start(args, cwd)
    try:
        process.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait()


@pytest.mark.slow
def test_split_killed_anywhere_leaves_previous_outputs_or_none(tmp_path: Path) -> None:
    setup = jsonl(tmp_path, [*mixed_records(), *filler(3000, start=1000)])
    out = tmp_path / "out"
    args = ["split", str(setup.data), "--out", str(out), "--no-cache", "-q", "--checks", FAST_CHECKS]
    full = _timed_run(args, tmp_path)
    baseline = {name: meta["sha256"] for name, meta in _outputs_match_manifest(out)["outputs"].items()}
    rng = random.Random(9)
    for fraction in sorted(rng.uniform(0.4, 1.1) for _ in range(3)):
        _kill_at(args, tmp_path, full * fraction)
        visible = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))
        assert visible in (["data.jsonl"], ["data.jsonl", "out"]), visible
        if out.exists():  # never a half-written folder that looks complete
            outputs = _outputs_match_manifest(out)["outputs"]
            assert {name: meta["sha256"] for name, meta in outputs.items()} == baseline


@pytest.mark.slow
def test_history_stays_consistent_when_audits_are_killed(tmp_path: Path) -> None:
    setup = jsonl(tmp_path, [*mixed_records(), *filler(2000, start=1000)])
    db = tmp_path / "history.sqlite"
    args = [
        "audit",
        str(setup.data),
        "--history",
        str(db),
        "--no-cache",
        "-q",
        "--checks",
        FAST_CHECKS,
        "--out",
        str(tmp_path / "reports"),
    ]
    full = _timed_run(args, tmp_path)
    rng = random.Random(4)
    for fraction in sorted(rng.uniform(0.5, 1.1) for _ in range(3)):
        _kill_at(args, tmp_path, full * fraction)
    _timed_run(args, tmp_path)
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
        runs = connection.execute("SELECT id FROM runs").fetchall()
        per_run = connection.execute("SELECT run_id, COUNT(*) FROM checks GROUP BY run_id").fetchall()
    assert 2 <= len(runs) <= 5
    assert sorted(per_run) == [(run_id, len(FAST_CHECKS.split(","))) for (run_id,) in sorted(runs)]
    listing = CliRunner().invoke(cli, ["history", str(db), "--json"])
    assert listing.exit_code == 0 and len(json.loads(listing.stdout)) == len(runs)
