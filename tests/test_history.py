"""The history store: round trip, schema versioning, and the faults a nightly job meets."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from dqaudit.api import audit as run_audit
from dqaudit.config import AuditConfig
from dqaudit.data import load_dataset
from dqaudit.history import (
    APPLICATION_ID,
    MIGRATIONS,
    SCHEMA_VERSION,
    CheckSummary,
    HistoryError,
    HistoryStore,
    Run,
    StoredFinding,
    snapshot,
)


def make_run(readiness: float = 90.0, findings: tuple[StoredFinding, ...] = (),
             dataset: str = "/d/data.jsonl", rows: int = 100) -> Run:
    return Run(None, "2026-01-01T02:00:00Z", dataset, "f" * 64, rows, rows, "c" * 16, "0.1.0", readiness,
               "READY", 0, {"duplicates": CheckSummary("ok", 97.5, {"conflicting_groups": len(findings)})},
               findings)


def conflict(key: str, *hashes: str) -> StoredFinding:
    return StoredFinding("duplicates", "conflicting_labels", key, "ck-" + key, "high", len(hashes),
                         f"group {key}", frozenset(hashes))


def test_round_trip_keeps_scores_metrics_and_tracked_hashes(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.sqlite", create=True) as store:
        first = store.record(make_run(88.0))
        second = store.record(make_run(91.5, (conflict("k1", "aa", "bb"),)))
        assert [r.id for r in store.runs()] == [first, second]
        run = store.run(second)
        previous = store.previous(second)
    assert run.readiness == 91.5
    assert run.checks["duplicates"] == CheckSummary("ok", 97.5, {"conflicting_groups": 1})
    assert run.findings == (conflict("k1", "aa", "bb"),)
    assert previous is not None and previous.id == first and previous.readiness == 88.0


def test_runs_filters_by_dataset_and_keeps_the_last_n_oldest_first(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.sqlite", create=True) as store:
        ids = [store.record(make_run(float(i), dataset="/a.jsonl")) for i in range(4)]
        store.record(make_run(50.0, dataset="/b.jsonl"))
        assert [r.id for r in store.runs("/a.jsonl", limit=2)] == ids[2:]
        assert store.previous(ids[0]) is None
        assert len(store.runs()) == 5


def test_new_database_is_versioned_and_marked(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    HistoryStore(path, create=True).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match=r"folder '.*nightly' does not exist; create it first \(mkdir -p"):
        HistoryStore(tmp_path / "nightly" / "h.sqlite", create=True)
    assert not (tmp_path / "nightly").exists()


def test_reading_a_missing_database_does_not_create_it(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    with pytest.raises(HistoryError, match="no history database here; record runs with 'dqaudit audit DATA"):
        HistoryStore(path)
    assert not path.exists()


def test_database_from_a_newer_dqaudit_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    HistoryStore(path, create=True).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    before = path.read_bytes()
    newer = rf"newer dqaudit \(history schema v{SCHEMA_VERSION + 1}; .*upgrade"
    with pytest.raises(HistoryError, match=newer):
        HistoryStore(path, create=True)
    assert path.read_bytes() == before


@pytest.mark.parametrize("content", ["foreign_sqlite", "text"])
def test_other_files_are_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "h.sqlite"
    if content == "text":
        path.write_text("not a database at all, just some text that is long enough\n" * 20)
        expected = "not a usable history database"
    else:
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE customers (id INTEGER)")
        expected = "is an SQLite database but not a dqaudit history"
    with pytest.raises(HistoryError, match=expected):
        HistoryStore(path, create=True)


def test_locked_database_fails_cleanly_after_the_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    HistoryStore(path, create=True).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        store = HistoryStore(path, timeout=0.3)
        began = time.monotonic()
        with pytest.raises(HistoryError, match=r"locked by another dqaudit run \(waited 0.3s\)"):
            store.record(make_run())
        assert time.monotonic() - began >= 0.25
        store.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with HistoryStore(path) as store:
        assert store.runs() == []


def test_second_writer_waits_for_the_first(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    HistoryStore(path, create=True).close()
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO runs (started_at, dataset, fingerprint, rows, loaded, config_hash, "
                   "dqaudit_version, readiness, verdict, gates) "
                   "VALUES ('t', 'd', 'f', 1, 1, 'c', 'v', 1, 'R', 0)")
    release = threading.Timer(0.4, lambda: holder.execute("COMMIT"))
    release.start()
    try:
        with HistoryStore(path, timeout=10) as store:
            run_id = store.record(make_run())
            assert [r.id for r in store.runs()] == [1, run_id]
    finally:
        release.join()
        holder.close()


KILLED_WRITER = textwrap.dedent("""
    import sys, time
    from dqaudit import history

    original = history.HistoryStore._insert_findings

    def stall(self, run_id, findings):
        original(self, run_id, findings)
        print("midway", flush=True)
        time.sleep(60)

    history.HistoryStore._insert_findings = stall
    findings = tuple(history.StoredFinding("duplicates", "conflicting_labels", f"k{i}", f"c{i}", "high", 1,
                                           "m", frozenset({f"h{i}"})) for i in range(500))
    run = history.Run(None, "t", "/d", "f", 1, 1, "c", "v", 10.0, "READY", 0,
                      {"duplicates": history.CheckSummary("ok", 90.0, {})}, findings)
    with history.HistoryStore(sys.argv[1]) as store:
        store.record(run)
""")


def test_a_run_killed_midway_leaves_no_half_written_run(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    with HistoryStore(path, create=True) as store:
        store.record(make_run(80.0))
    (tmp_path / "writer.py").write_text(KILLED_WRITER, encoding="utf-8")
    child = subprocess.Popen([sys.executable, "writer.py", str(path)], cwd=tmp_path, stdout=subprocess.PIPE,
                             text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "midway"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    with HistoryStore(path, timeout=2) as store:
        assert [r.readiness for r in store.runs()] == [80.0]
        store.record(make_run(81.0))
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM findings").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM finding_records").fetchone()[0] == 0


def test_snapshot_keys_findings_by_record_content(write_jsonl) -> None:
    rows = [{"text": "card blocked", "label": "card_blocked"}, {"text": "card blocked", "label": "card_lost"},
            {"text": "what is my balance", "label": "account_balance"}]
    config = AuditConfig()
    snaps = []
    for name, records in (("a.jsonl", rows), ("b.jsonl", rows[::-1])):
        dataset = load_dataset(write_jsonl(records, name), config.fields)
        snaps.append(snapshot(run_audit(dataset, config, checks=["duplicates"]), dataset))
    a, b = ([f for f in s.findings if f.kind == "conflicting_labels"] for s in snaps)
    assert len(a) == len(b) == 1
    assert a[0].key != b[0].key  # ids are generated from line numbers, so they change with the order
    assert a[0].content_key == b[0].content_key and a[0].hashes == b[0].hashes and len(a[0].hashes) == 1
    assert snaps[0].checks["duplicates"].metrics["conflicting_groups"] == 1


def test_runs_are_grouped_by_name_so_dated_files_compare(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.sqlite", create=True) as store:
        first = store.record(replace(make_run(90.0, dataset="/n/requests-2026-12-01.jsonl"), name="requests"))
        store.record(make_run(50.0, dataset="/n/other.jsonl"))
        second = store.record(replace(make_run(80.0, dataset="/n/requests-2026-12-02.jsonl"),
                                      name="requests"))
        previous = store.previous(second)
        assert [r.id for r in store.runs(name="requests")] == [first, second]
        assert [r.name for r in store.runs()] == ["requests", "other", "requests"]  # default: the stem
    assert previous is not None and previous.id == first


def test_a_v1_history_gains_names_from_the_file_stems(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:
        for statement in MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute("PRAGMA user_version = 1")
        conn.execute("INSERT INTO runs (started_at, dataset, fingerprint, rows, loaded, config_hash,"
                     " dqaudit_version, readiness, verdict, gates)"
                     " VALUES ('t', '/d/bank.v2.jsonl', 'f', 1, 1, 'c', '0.1.0', 90, "
                     "'READY', 0)")
    conn.close()
    with HistoryStore(path) as store:
        (run,) = store.runs(name="bank")
    assert run.dataset == "/d/bank.v2.jsonl" and run.readiness == 90.0
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    conn.close()


def test_content_hashes_are_a_dict_lookup_per_id() -> None:
    """The one-index lookup gives what a dict of ids gave: sorted hashes, ``id:`` for ids the frame lacks,
    and where ids repeat the largest hash (a frame sorted by hash, the last holder winning)."""
    import random

    import pandas as pd

    from dqaudit.findings import Action, Finding, Severity
    from dqaudit.history import content_hashes

    rng = random.Random(7)
    for repeated in (False, True):
        ids = [f"r{i}" for i in range(300)]
        if repeated:
            ids = [rng.choice(ids[:40]) if rng.random() < 0.3 else rid for rid in ids]
        frame = pd.DataFrame({"id": ids, "text_hash": [f"{rng.getrandbits(64):016x}" for _ in ids]})
        findings = [Finding("c", "k", Severity.LOW, "m", Action.REVIEW,
                            tuple(rng.sample([*ids, "gone", "r999"], rng.randint(0, 12))))
                    for _ in range(40)]
        ordered = frame.sort_values("text_hash", kind="stable")
        content = dict(zip(ordered["id"], ordered["text_hash"], strict=True))
        expected = [sorted(content.get(rid, "id:" + rid) for rid in f.record_ids) for f in findings]
        assert content_hashes(frame, findings) == expected
    assert content_hashes(frame.iloc[:0], findings[:2]) == [sorted("id:" + r for r in f.record_ids)
                                                            for f in findings[:2]]
