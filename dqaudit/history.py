"""Run history: one SQLite file that records every audit run, so a nightly job can say what got worse.

Why SQLite: one file that cron jobs and CI artifacts can carry, with real transactions.
Each run is written in one ``BEGIN IMMEDIATE`` transaction, so a run killed midway
leaves no half-written row; WAL lets readers work while a run writes, and a busy
timeout makes a second concurrent writer wait, then fail with a clear message.
The schema is versioned through ``PRAGMA user_version`` and upgraded in place by
:data:`MIGRATIONS`; a file written by a newer dqaudit is refused, never rewritten.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .config import default_name
from .errors import DqauditError
from .findings import Finding, jsonable
from .text import displayable

if TYPE_CHECKING:
    import pandas as pd

    from .data import Dataset
    from .pipeline import AuditResult

#: 'dqAu': marks the file as ours, so an unrelated SQLite database is refused rather than altered.
APPLICATION_ID = 0x64714175
BUSY_TIMEOUT_S = 30.0
#: Content hashes kept per finding of an untracked kind: the smallest ones, a bottom-k sample, so two
#: versions of a large finding (an annotator's 600 items) still share some and match across runs.
HASH_SAMPLE = 32

#: One tuple of statements per schema version; version N is reached by running MIGRATIONS[N-1].
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            dataset TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            rows INTEGER NOT NULL,
            loaded INTEGER NOT NULL,
            config_hash TEXT NOT NULL,
            dqaudit_version TEXT NOT NULL,
            readiness REAL NOT NULL,
            verdict TEXT NOT NULL,
            gates INTEGER NOT NULL)""",
        "CREATE INDEX runs_by_dataset ON runs (dataset, id)",
        """CREATE TABLE checks (
            run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            status TEXT NOT NULL,
            score REAL,
            metrics TEXT NOT NULL,
            PRIMARY KEY (run_id, name))""",
        """CREATE TABLE findings (
            run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            check_name TEXT NOT NULL,
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            content_key TEXT NOT NULL,
            severity TEXT NOT NULL,
            records INTEGER NOT NULL,
            message TEXT NOT NULL,
            PRIMARY KEY (run_id, position))""",
        """CREATE TABLE finding_records (
            run_id INTEGER NOT NULL,
            position INTEGER NOT NULL,
            content_hash TEXT NOT NULL,
            PRIMARY KEY (run_id, position, content_hash),
            FOREIGN KEY (run_id, position) REFERENCES findings (run_id, position) ON DELETE CASCADE)""",
    ),
    (  # v2: runs are grouped by the dataset's name (nightly files written under a new path each day)
        "ALTER TABLE runs ADD COLUMN name TEXT NOT NULL DEFAULT ''",
        "UPDATE runs SET name = dqaudit_default_name(dataset)",
        "CREATE INDEX runs_by_name ON runs (name, id)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


_RUN_COLUMNS = ("id", "started_at", "dataset", "fingerprint", "rows", "loaded", "config_hash",
                "dqaudit_version", "readiness", "verdict", "gates", "name")
_COLUMNS = ", ".join(_RUN_COLUMNS)


class HistoryError(DqauditError):
    """The history database cannot be used: missing, locked, damaged, or from a newer dqaudit."""


@dataclass(frozen=True, slots=True)
class CheckSummary:
    status: str
    score: float | None
    metrics: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class StoredFinding:
    """A finding as the history keeps it.

    ``key`` is :attr:`Finding.key` (record ids); ``content_key`` hashes the records' text
    instead, so it survives reordered rows and regenerated ids. ``hashes`` holds the
    records' content hashes: all of them for the kinds a regression rule counts, the
    :data:`HASH_SAMPLE` smallest for the others.
    """

    check: str
    kind: str
    key: str
    content_key: str
    severity: str
    records: int
    message: str
    hashes: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Run:
    """One recorded audit run; ``findings`` is filled only by :meth:`HistoryStore.run`.

    ``dataset`` is where the data came from (an absolute path); ``name`` groups the runs
    that are compared with each other (empty: the file's stem).
    """

    id: int | None
    started_at: str
    dataset: str
    fingerprint: str
    rows: int
    loaded: int
    config_hash: str
    dqaudit_version: str
    readiness: float
    verdict: str
    gates: int
    checks: Mapping[str, CheckSummary]
    findings: tuple[StoredFinding, ...] = field(default=())
    name: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", default_name(self.dataset))

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "started_at": self.started_at, "name": self.name, "dataset": self.dataset,
                "rows": self.rows,
                "fingerprint": self.fingerprint, "config_hash": self.config_hash,
                "dqaudit_version": self.dqaudit_version, "readiness_score": round(self.readiness, 2),
                "verdict": self.verdict, "check_scores": {n: c.score for n, c in self.checks.items()}}


def dataset_key(path: str, fmt: str) -> str:
    """Runs of one dataset are compared with each other; a file is identified by its absolute path
    (personal data in it masked, the same way whoever asks)."""
    from .masking import masker_for

    return masker_for()(path if fmt == "dataframe" else str(Path(path).resolve()))


def snapshot(result: AuditResult, dataset: Dataset) -> Run:
    """What the history keeps of an audit: scores, metrics, and findings keyed by record content."""
    from .masking import mask_deep, mask_known, report_masker
    from .regressions import tracked_kinds

    mask = report_masker(result.config)
    cache = result.context.cache if result.context is not None else None
    # a 1M-row audit's ten thousand messages in one pass, each verdict kept for the next night
    mask = displayable if mask is None else mask_known([f.message for f in result.findings], mask, cache)
    tracked = tracked_kinds()
    findings = []
    for f, hashes in zip(result.findings, content_hashes(dataset.frame, result.findings), strict=True):
        material = "\x1f".join([f.check, f.kind, *hashes]) if hashes else f.key
        findings.append(StoredFinding(
            f.check, f.kind, f.key, hashlib.blake2b(material.encode(), digest_size=8).hexdigest(),
            f.severity.value, len(f.record_ids), mask(f.message),
            frozenset(hashes if (f.check, f.kind) in tracked else hashes[:HASH_SAMPLE])))
    checks = {r.check: CheckSummary(r.status, None if r.score is None else round(r.score, 4),
                                    mask_deep(jsonable(r.metrics), mask)) for r in result.results}
    source = result.source
    return Run(None, result.started_at, dataset_key(source.path, source.format), source.fingerprint,
               source.rows, result.rows_loaded, result.config.fingerprint(), __version__,
               round(result.readiness_score or 0.0, 4), result.verdict.value, len(result.gates), checks,
               tuple(findings), mask(result.name))


def content_hashes(frame: pd.DataFrame, findings: Sequence[Finding]) -> list[list[str]]:
    """Per finding, its records' text hashes sorted (``id:<id>`` for an id the frame lacks).

    One lookup of every finding's ids in one index of the frame's ids: a dict of a million ids and a
    lookup per named id cost a second of a 1M-row nightly run. Where ids repeat (the Spark engine's
    frame may), the largest hash wins.
    """
    import numpy as np  # not at module level: ``dqaudit --help`` imports this module and no heavy library
    import pandas as pd

    ids = pd.Index(frame["id"].to_numpy(object), dtype=object)
    hashes = frame["text_hash"].to_numpy(object)
    if not ids.is_unique:
        order = np.argsort(hashes.astype(str), kind="stable")
        last = ~ids[order].duplicated(keep="last")
        ids, hashes = ids[order][last], hashes[order][last]
    named = [rid for f in findings for rid in f.record_ids]
    at = ids.get_indexer(pd.Index(named, dtype=object)) if named else np.empty(0, np.int64)
    table = hashes.tolist()
    values = [table[p] if p >= 0 else "id:" + rid for p, rid in zip(at.tolist(), named, strict=True)]
    out, start = [], 0
    for f in findings:
        end = start + len(f.record_ids)
        out.append(sorted(values[start:end]))
        start = end
    return out


class HistoryStore:
    """The history database at ``path``; ``create=True`` makes a new file (its folder must exist)."""

    def __init__(self, path: str | Path, *, create: bool = False, timeout: float = BUSY_TIMEOUT_S) -> None:
        self.path, self.timeout = Path(path), timeout
        if self.path.is_dir():
            raise HistoryError(f"{self.path}: is a folder; give the history database file, e.g. "
                               f"{self.path / 'history.sqlite'}")
        if not self.path.parent.is_dir():
            raise HistoryError(f"{self.path}: folder '{self.path.parent}' does not exist; create it first "
                               f"(mkdir -p {self.path.parent})")
        if not create and not self.path.exists():
            raise HistoryError(f"{self.path}: no history database here; record runs with "
                               f"'dqaudit audit DATA --history {self.path}'")
        with self._errors():
            self._conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
            self._conn.create_function("dqaudit_default_name", 1, default_name, deterministic=True)
        try:
            self._prepare()
        except BaseException:
            self._conn.close()
            raise

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    # --- schema -----------------------------------------------------------------
    def _prepare(self) -> None:
        with self._errors():
            version = self._pragma("user_version")
            self._check_compatible(version, self._pragma("application_id"))
            self._conn.execute("PRAGMA foreign_keys = ON")
            if self._conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                self._conn.execute("PRAGMA journal_mode = WAL")
            if version < SCHEMA_VERSION:
                self._migrate()

    def _pragma(self, name: str) -> int:
        return int(self._conn.execute(f"PRAGMA {name}").fetchone()[0])

    def _check_compatible(self, version: int, app_id: int) -> None:
        if app_id not in (0, APPLICATION_ID) or (app_id == 0 and self._has_tables()):
            raise HistoryError(f"{self.path}: is an SQLite database but not a dqaudit history; "
                               "choose another --history path")
        if version > SCHEMA_VERSION:
            raise HistoryError(f"{self.path}: written by a newer dqaudit (history schema v{version}; "
                               f"dqaudit {__version__} reads up to v{SCHEMA_VERSION}); upgrade dqaudit "
                               "to use it")

    def _has_tables(self) -> bool:
        return self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0

    def _migrate(self) -> None:
        """Apply the pending migrations in one transaction; a concurrent run may have done it already."""
        with self._transaction():
            version = self._pragma("user_version")
            self._check_compatible(version, self._pragma("application_id"))
            for statements in MIGRATIONS[version:]:
                for statement in statements:
                    self._conn.execute(statement)
            self._conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn SQLite's exceptions into one-line messages that name the file."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise HistoryError(f"{self.path}: locked by another dqaudit run (waited {self.timeout:g}s); "
                                   "try again when it has finished") from None
            raise HistoryError(f"{self.path}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise HistoryError(f"{self.path}: not a usable history database ({exc})") from None

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """``BEGIN IMMEDIATE`` takes the write lock up front (waiting up to the busy timeout)."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # --- writing ----------------------------------------------------------------
    def record(self, run: Run) -> int:
        """Store ``run`` in one transaction and return its id."""
        with self._errors(), self._transaction():
            run_id = self._conn.execute(
                f"INSERT INTO runs ({', '.join(_RUN_COLUMNS[1:])}) VALUES ({', '.join('?' * 11)})",
                (run.started_at, run.dataset, run.fingerprint, run.rows, run.loaded, run.config_hash,
                 run.dqaudit_version, run.readiness, run.verdict, run.gates, run.name)).lastrowid
            assert run_id is not None
            self._conn.executemany(
                "INSERT INTO checks (run_id, name, status, score, metrics) VALUES (?, ?, ?, ?, ?)",
                [(run_id, name, c.status, c.score, json.dumps(c.metrics, ensure_ascii=False, sort_keys=True))
                 for name, c in run.checks.items()])
            self._insert_findings(run_id, run.findings)
        return run_id

    def _insert_findings(self, run_id: int, findings: tuple[StoredFinding, ...]) -> None:
        self._conn.executemany(
            "INSERT INTO findings (run_id, position, check_name, kind, key, content_key, severity, records,"
            " message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(run_id, i, f.check, f.kind, f.key, f.content_key, f.severity, f.records, f.message)
             for i, f in enumerate(findings)])
        self._conn.executemany(
            "INSERT OR IGNORE INTO finding_records (run_id, position, content_hash) VALUES (?, ?, ?)",
            [(run_id, i, h) for i, f in enumerate(findings) for h in sorted(f.hashes)])

    # --- reading ----------------------------------------------------------------
    def runs(self, dataset: str | None = None, limit: int | None = None, *,
             name: str | None = None) -> list[Run]:
        """Runs oldest first (the last ``limit`` of them): of one dataset path, of one name, or all;
        without findings."""
        with self._errors():
            where, args = [], []
            for column, value in (("dataset", dataset), ("name", name)):
                if value:
                    where.append(f"{column} = ?")
                    args.append(value)
            clause = f"WHERE {' AND '.join(where)}" if where else ""
            rows = self._conn.execute(
                f"SELECT * FROM (SELECT {_COLUMNS} FROM runs {clause} ORDER BY id DESC LIMIT ?) ORDER BY id",
                [*args, -1 if limit is None else limit]).fetchall()
            return [self._run(row) for row in rows]

    def run(self, run_id: int) -> Run:
        """One run with its findings."""
        with self._errors():
            row = self._conn.execute(f"SELECT {_COLUMNS} FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise HistoryError(f"{self.path}: no run {run_id} (see 'dqaudit history {self.path}')")
            hashes: dict[int, set[str]] = {}
            for position, content_hash in self._conn.execute(
                    "SELECT position, content_hash FROM finding_records WHERE run_id = ?", (run_id,)):
                hashes.setdefault(position, set()).add(content_hash)
            findings = tuple(
                StoredFinding(check, kind, key, content_key, severity, records, message,
                              frozenset(hashes.get(position, ())))
                for position, check, kind, key, content_key, severity, records, message in self._conn.execute(
                    "SELECT position, check_name, kind, key, content_key, severity, records, message "
                    "FROM findings WHERE run_id = ? ORDER BY position", (run_id,)))
            return self._run(row, findings)

    def previous(self, run: int) -> Run | None:
        """The run of the same name just before ``run``, with its findings."""
        with self._errors():
            row = self._conn.execute(
                "SELECT id FROM runs WHERE name = (SELECT name FROM runs WHERE id = ?) AND id < ? "
                "ORDER BY id DESC LIMIT 1", (run, run)).fetchone()
        return None if row is None else self.run(row[0])

    def _run(self, row: tuple[Any, ...], findings: tuple[StoredFinding, ...] = ()) -> Run:
        run_id = row[0]
        checks = {name: CheckSummary(status, score, json.loads(metrics)) for name, status, score, metrics in
                  self._conn.execute("SELECT name, status, score, metrics FROM checks WHERE run_id = ? "
                                     "ORDER BY rowid", (run_id,))}
        *fields, name = row
        return Run(*fields, checks=checks, findings=findings, name=name)
