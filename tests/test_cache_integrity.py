"""A cache that cannot lie: damaged, forged-by-accident or hostile shards are never trusted (issue 20)."""

from __future__ import annotations

import json
import os
import struct
import threading
import warnings
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from dqaudit.api import audit
from dqaudit.api import split as split_dataset
from dqaudit.cache import Cache, CacheWarning
from dqaudit.cli import cli
from dqaudit.config import AuditConfig
from dqaudit.text import text_hash


def _compute(texts: list[str], calls: list[int]):  # type: ignore[no-untyped-def]
    def compute(positions: np.ndarray) -> np.ndarray:
        calls.append(len(positions))
        return np.array([[len(texts[i]), 7] for i in positions], dtype=np.int32).reshape(-1, 2)
    return compute


def _run(root: Path, texts: list[str]) -> tuple[np.ndarray, int]:
    calls: list[int] = []
    cache = Cache(root)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values = cache.per_record("ns-1", [text_hash(t) for t in texts], _compute(texts, calls))
        cache.flush()
    assert sum(issubclass(w.category, CacheWarning) for w in caught) <= 1  # one warning at most
    return values, sum(calls)


def _shard(root: Path) -> Path:
    (shard,) = (root / "ns-1").glob("*.shard")
    return shard


def test_zeroed_values_under_a_valid_header_are_recomputed(tmp_path: Path) -> None:
    texts = ["alpha", "be"]
    _run(tmp_path, texts)
    shard = _shard(tmp_path)
    data = bytearray(shard.read_bytes())
    data[-16:] = bytes(16)  # the values, header and keys intact
    shard.write_bytes(bytes(data))
    values, computed = _run(tmp_path, texts)
    assert computed == 2 and values[:, 0].tolist() == [5, 2]


def test_a_fifo_in_the_cache_does_not_hang(tmp_path: Path) -> None:
    texts = ["a", "bb"]
    _run(tmp_path, texts)
    os.mkfifo(tmp_path / "ns-1" / "trap.shard")
    done: list[np.ndarray] = []
    worker = threading.Thread(target=lambda: done.append(_run(tmp_path, texts)[0]), daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert done and done[0][:, 0].tolist() == [1, 2]


def test_a_symlink_out_of_the_folder_is_not_followed(tmp_path: Path) -> None:
    texts = ["a", "bb"]
    _run(tmp_path / "one", texts)
    (tmp_path / "two" / "ns-1").mkdir(parents=True)
    (tmp_path / "two" / "ns-1" / "link.shard").symlink_to(_shard(tmp_path / "one"))
    _, computed = _run(tmp_path / "two", texts)
    assert computed == 2


def test_a_header_claiming_huge_sizes_is_refused_without_allocating(tmp_path: Path) -> None:
    texts = ["a", "bb"]
    _run(tmp_path, texts)
    shard = _shard(tmp_path)
    raw = shard.read_bytes()
    magic_end = raw.index(b"\n") + 1
    (length,) = struct.unpack_from("<I", raw, magic_end)
    header = json.loads(raw[magic_end + 4: magic_end + 4 + length])
    header["rows"], header["shape"] = 10**15, [10**15, 2]
    body = json.dumps(header).encode()
    shard.write_bytes(raw[:magic_end] + struct.pack("<I", len(body)) + body + raw[magic_end + 4 + length:])
    values, computed = _run(tmp_path, texts)
    assert computed == 2 and values[:, 0].tolist() == [1, 2]


def test_a_shard_from_another_namespace_is_not_used(tmp_path: Path) -> None:
    texts = ["a", "bb"]
    _run(tmp_path, texts)
    other = tmp_path / "ns-2"
    other.mkdir()
    os.replace(_shard(tmp_path), other / "moved.shard")
    calls: list[int] = []
    Cache(tmp_path).per_record("ns-2", [text_hash(t) for t in texts], _compute(texts, calls))
    assert sum(calls) == 2


def test_a_cache_path_that_is_a_file_is_one_line_exit_2(write_jsonl, tmp_path: Path) -> None:
    source = write_jsonl([{"id": str(i), "text": f"text number {i}", "label": "a"} for i in range(5)])
    (tmp_path / "dqaudit.yaml").write_text("cache:\n  dir: cachefile\n")
    (tmp_path / "cachefile").write_text("not a folder")
    result = CliRunner().invoke(cli, ["audit", str(source), "--config", str(tmp_path / "dqaudit.yaml"),
                                      "--out", str(tmp_path / "r")])
    assert result.exit_code == 2, result.output
    assert "cachefile" in result.stderr and "not a folder" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_zeroed_pii_shard_cannot_make_split_export_raw_emails(write_jsonl, tmp_path: Path) -> None:
    """The probe's attack: PII counts zeroed in the cache suppressed detection and masking."""
    rows = [{"id": f"r{i}", "text": f"reach me at anna.k{i}@example.com about loan {i}", "label": "a"}
            for i in range(12)]
    source = write_jsonl(rows)
    config = AuditConfig(cache={"dir": str(tmp_path / "c")})
    split_dataset(source, tmp_path / "out1", config, checks=["pii"])
    for shard in (tmp_path / "c").glob("pii-*/*.shard"):
        data = bytearray(shard.read_bytes())
        values = 12 * 6 * 4  # int32 counts per record and type, at the end of the file
        data[-values:] = bytes(values)
        shard.write_bytes(bytes(data))
    split_dataset(source, tmp_path / "out2", config, checks=["pii"])
    written = "".join((tmp_path / "out2" / f"{s}.jsonl").read_text() for s in ("train", "val", "test"))
    assert "@example.com" not in written and written.count("<EMAIL>") == 12


FUZZ_ROWS = [
    *({"id": f"r{i}", "text": f"Hello, I need help with my {w} number {i}, it was blocked", "label": lab}
      for i, (w, lab) in enumerate([("card", "card"), ("loan", "loan")] * 10)),
    {"id": "d1", "text": "Hello, I need help with my card number 0, it was blocked", "label": "card"},
    {"id": "p1", "text": "mail anna.k@example.com or call +7 701 555 12 34", "label": "card"},
    {"id": "e1", "text": "", "label": "loan"},
    {"id": "l1", "text": "Guten Tag, meine Karte wurde gesperrt, bitte helfen Sie mir", "label": "card"},
]
FUZZ_CHECKS = ["duplicates", "near_duplicates", "pii", "schema", "text_quality", "language", "balance"]


def _findings(source: Path, cache_dir: Path, quiet: bool = True) -> list[tuple]:
    config = AuditConfig(cache={"dir": str(cache_dir)})
    with warnings.catch_warnings():
        if quiet:
            warnings.simplefilter("ignore", CacheWarning)
        result = audit(source, config, checks=FUZZ_CHECKS)
    assert all(r.error is None for r in result.results), [r.error for r in result.results]
    return sorted((f.check, f.kind, f.message, tuple(f.record_ids)) for f in result.findings) + [
        ("score", round(result.readiness_score, 6))]


def test_flipped_bytes_in_every_shard_kind_give_the_clean_result(write_jsonl, tmp_path: Path) -> None:
    source = write_jsonl(FUZZ_ROWS)
    clean = _findings(source, tmp_path / "fresh")
    cache = tmp_path / "cache"
    assert _findings(source, cache) == clean
    shards = sorted(cache.glob("*/*.shard"))
    kinds = {p.parent.name.rsplit("-", 1)[0] for p in shards}
    assert {"pii", "normalized_key", "text_lengths", "minhash", "schema.label", "schema.text_chars"} <= kinds
    rng = np.random.default_rng(0)
    for shard in shards:
        original = shard.read_bytes()
        size = len(original)
        # in the magic, the header length, the header, the keys, the values (the last byte)
        for at in sorted({0, 14, 24, size // 2, int(rng.integers(0, size)), size - 1}):
            broken = bytearray(original)
            broken[at] ^= 0xFF
            shard.write_bytes(bytes(broken))
            assert _findings(source, cache) == clean, (shard.parent.name, at)
            shard.write_bytes(original)


def test_a_cache_that_cannot_be_written_costs_a_warning_not_the_check(write_jsonl, tmp_path, monkeypatch):
    """A full or read-only cache disk: the audit's results are those of a run without a cache."""
    import dqaudit.cache as cache_module

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    source = write_jsonl(FUZZ_ROWS)
    clean = _findings(source, tmp_path / "fresh")
    monkeypatch.setattr(cache_module, "_write_shard", full)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert _findings(source, tmp_path / "full", quiet=False) == clean
    assert any("No space left" in str(w.message) for w in caught)
    assert not list((tmp_path / "full").rglob("*.tmp")) and not list((tmp_path / "full").rglob("*.shard"))


def test_a_shard_that_cannot_be_published_is_a_warning_in_an_audit(write_jsonl, tmp_path, monkeypatch):
    def refuse(source, target):
        raise OSError(28, "No space left on device")

    source = write_jsonl(FUZZ_ROWS)
    clean = _findings(source, tmp_path / "fresh")
    monkeypatch.setattr("dqaudit.cache.os.replace", refuse)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert _findings(source, tmp_path / "full", quiet=False) == clean
    assert any("could not be written" in str(w.message) for w in caught)
