"""Shared fixtures: tiny generated datasets, the committed sample, and ../shared data when present."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_data" / "bank_support.jsonl"
TRUTH = REPO / "sample_data" / "truth.json"
SHARED = REPO.parent / "shared" / "data"
# label_noise's `features: auto` would encode every audited dataset with the embedding model (subprocesses
# included); tests that use embeddings ask for them by name, with fake vectors unless they test the model
os.environ["DQAUDIT_EMBEDDINGS"] = "off"


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every test in its own folder so reports/ and the cache never leak between tests."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def write_jsonl(tmp_path: Path) -> Callable[..., Path]:
    """Write records (dicts, or raw strings written as-is) to a JSONL file."""

    def write(records: Iterable[Any], name: str = "data.jsonl") -> Path:
        path = tmp_path / name
        with path.open("w", encoding="utf-8") as handle:
            for record in records:
                handle.write(record if isinstance(record, str) else json.dumps(record, ensure_ascii=False))
                handle.write("\n")
        return path

    return write


@pytest.fixture(scope="session")
def sample_path() -> Path:
    if not SAMPLE.exists():
        pytest.fail("sample_data/bank_support.jsonl is missing: run python sample_data/generate.py")
    return SAMPLE


@pytest.fixture(scope="session")
def truth() -> dict[str, Any]:
    return json.loads(TRUTH.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, present in the developers' checkout and CI but not in users' clones."""
    if not SHARED.is_dir():
        pytest.skip("../shared/data is not present (users' clones lack it)")
    return SHARED


@pytest.fixture(scope="session")
def truth_chat() -> tuple[Path, dict[str, Any]]:
    """sample_data/support_chat.jsonl and its planted problems."""
    path = REPO / "sample_data" / "support_chat.jsonl"
    truth = REPO / "sample_data" / "support_chat_truth.json"
    if not path.exists():
        pytest.fail("sample_data/support_chat.jsonl is missing: run python sample_data/generate.py")
    return path, json.loads(truth.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def sample_with_splits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sample_data/bank_support.jsonl with a ``split`` field (train, train, train, val, test by line):
    its planted copies and near-copies then cross splits (the ``contamination`` check's input)."""
    path = tmp_path_factory.mktemp("splits") / "bank_support_split.jsonl"
    lines = (REPO / "sample_data" / "bank_support.jsonl").read_text(encoding="utf-8").splitlines()
    with path.open("w", encoding="utf-8") as out:
        for i, line in enumerate(lines):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # the sample's malformed lines stay as they are
                record = None
            if isinstance(record, dict):
                line = json.dumps({**record, "split": ("train", "train", "train", "val", "test")[i % 5]},
                                  ensure_ascii=False)
            out.write(line + "\n")
    return path


@pytest.fixture(scope="session")
def same_results() -> Callable[[Any, Any], None]:
    """``same_results(a, b)``: two audits (AuditResult) concluded the same, check by check: score,
    findings, metrics, gates, charts, files and per-record columns; and the same readiness and verdict."""

    def check(a: Any, b: Any) -> None:
        assert [r.check for r in b.results] == [r.check for r in a.results]
        for x, y in zip(a.results, b.results, strict=True):
            assert y.error is None and x.error is None, (x.error, y.error)
            assert (y.score, y.skipped) == (x.score, x.skipped), x.check
            assert [f.to_dict() for f in y.findings] == [f.to_dict() for f in x.findings], x.check
            assert dict(y.metrics) == dict(x.metrics), x.check
            assert [g.to_dict() for g in y.gates] == [g.to_dict() for g in x.gates], x.check
            assert [c.to_dict() for c in y.charts] == [c.to_dict() for c in x.charts], x.check
            assert dict(y.files) == dict(x.files), x.check
            assert set(y.records) == set(x.records), x.check
            for column, values in x.records.items():
                assert list(map(str, y.records[column])) == list(map(str, values)), (x.check, column)
        assert (b.readiness_score, b.verdict) == (a.readiness_score, a.verdict)

    return check


@pytest.fixture
def fork_runs(monkeypatch: pytest.MonkeyPatch) -> Callable[[Any], list[int]]:
    """``fork_runs(module)``: spies on the module's ``fork_map``; the list gets each call's item count."""

    def spy_on(module: Any) -> list[int]:
        calls: list[int] = []
        original = module.fork_map

        def spy(fn: Callable[[Any], Any], items: Any, workers: int) -> Any:
            calls.append(len(items))
            return original(fn, items, workers)

        monkeypatch.setattr(module, "fork_map", spy)
        return calls

    return spy_on
