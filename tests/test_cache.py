"""The per-record cache: only missing keys are computed, values come back in key order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dqaudit.cache import Cache
from dqaudit.text import text_hash


def _square(texts: list[str], calls: list[list[str]]):  # type: ignore[no-untyped-def]
    def compute(positions: np.ndarray) -> np.ndarray:
        calls.append([texts[i] for i in positions])
        rows = [[len(texts[i]), len(texts[i]) ** 2] for i in positions]
        return np.array(rows, dtype=np.int64).reshape(-1, 2)
    return compute


def _values(root: Path | None, texts: list[str], calls: list[list[str]]) -> np.ndarray:
    """One run's lookup: a fresh Cache, flushed at the end as the pipeline does."""
    cache = Cache(root)
    values = cache.per_record("ns", [text_hash(t) for t in texts], _square(texts, calls))
    cache.flush()
    return values


def test_computes_each_distinct_key_once_and_returns_rows_in_key_order(tmp_path: Path) -> None:
    texts = ["bb", "a", "bb", "cccc", "a"]
    calls: list[list[str]] = []
    values = _values(tmp_path, texts, calls)
    assert values[:, 0].tolist() == [2, 1, 2, 4, 1]
    assert calls == [["bb", "a", "cccc"]]


def test_a_second_run_computes_only_new_keys_and_reads_the_rest_back(tmp_path: Path) -> None:
    first = ["one", "two", "three"]
    _values(tmp_path, first, [])
    grown = ["three", "four", "one", "four"]
    calls: list[list[str]] = []
    values = _values(tmp_path, grown, calls)
    assert calls == [["four"]]
    assert values[:, 0].tolist() == [5, 4, 3, 4]
    assert len(list((tmp_path / "ns").glob("*.shard"))) == 2
    again: list[list[str]] = []
    _values(tmp_path, grown, again)
    assert again == []


def test_a_damaged_shard_is_recomputed_not_trusted(tmp_path: Path) -> None:
    texts = ["x", "yy"]
    _values(tmp_path, texts, [])
    for shard in (tmp_path / "ns").glob("*.shard"):
        shard.write_bytes(b"not an array")
    calls: list[list[str]] = []
    values = _values(tmp_path, texts, calls)
    assert calls == [["x", "yy"]] and values[:, 0].tolist() == [1, 2]


def test_a_truncated_or_foreign_shard_is_recomputed(tmp_path: Path) -> None:
    texts = ["x", "yy", "zzz"]
    _values(tmp_path, texts, [])
    (shard,) = (tmp_path / "ns").glob("*.shard")
    shard.write_bytes(shard.read_bytes()[:-8])  # a crash mid-write cannot look complete
    np.save(tmp_path / "ns" / "foreign.shard", np.arange(3))  # not (key, value) records
    (tmp_path / "ns" / "foreign.shard.npy").rename(tmp_path / "ns" / "foreign.shard")
    calls: list[list[str]] = []
    values = _values(tmp_path, texts, calls)
    assert calls == [texts] and values[:, 1].tolist() == [1, 4, 9]


def test_values_are_gathered_across_shards_in_key_order(tmp_path: Path) -> None:
    for batch in (["a", "bb"], ["ccc"], ["dddd", "a"]):
        _values(tmp_path, batch, [])
    assert len(list((tmp_path / "ns").glob("*.shard"))) == 3
    texts = ["dddd", "a", "ccc", "bb", "ccc"]
    calls: list[list[str]] = []
    values = _values(tmp_path, texts, calls)
    assert calls == [] and values.dtype == np.int64
    assert values.tolist() == [[4, 16], [1, 1], [3, 9], [2, 4], [3, 9]]


def test_without_a_root_nothing_is_stored(tmp_path: Path) -> None:
    texts = ["x"]
    calls: list[list[str]] = []
    for _ in range(2):
        _values(None, texts, calls)
    assert len(calls) == 2 and not any(tmp_path.iterdir())


def test_no_keys_gives_an_empty_result(tmp_path: Path) -> None:
    values = Cache(tmp_path).per_record("ns", [], _square([], []))
    assert len(values) == 0


def test_the_same_cache_sees_its_own_shards_before_flush(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    texts = ["one", "two"]
    cache.per_record("ns", [text_hash(t) for t in texts], _square(texts, []))
    calls: list[list[str]] = []
    values = cache.per_record("ns", [text_hash(t) for t in texts], _square(texts, calls))
    assert calls == [] and values[:, 0].tolist() == [3, 3]


def test_a_shard_that_cannot_be_published_fails_at_flush_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(source: str, target: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("dqaudit.cache.os.replace", refuse)
    cache = Cache(tmp_path)
    values = cache.per_record("ns", [text_hash("x")], _square(["x"], []))
    assert values[:, 0].tolist() == [1]  # the run itself has its values
    with pytest.raises(OSError, match="No space left"):
        cache.flush()
    assert list((tmp_path / "ns").iterdir()) == []


def test_a_second_cache_on_the_folder_waits_for_shards_in_flight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow disk: the first run's shard is still being fsynced when a second run reads the folder."""
    import os
    import time

    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        time.sleep(0.5)
        real_fsync(fd)

    monkeypatch.setattr("dqaudit.cache.os.fsync", slow_fsync)
    texts = ["a", "bb"]
    Cache(tmp_path).per_record("ns", [text_hash(t) for t in texts], _square(texts, []))
    calls: list[list[str]] = []
    values = Cache(tmp_path).per_record("ns", [text_hash(t) for t in texts], _square(texts, calls))
    assert calls == [] and values[:, 0].tolist() == [1, 2]


def test_saved_arrays_come_back_and_a_new_set_replaces_the_old(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    assert cache.load_arrays("model") is None
    cache.save_arrays("model", {"coef": np.arange(6, dtype=np.float32).reshape(2, 3), "rows": np.int64(7)})
    back = cache.load_arrays("model")
    assert back is not None and back["coef"].tolist() == [[0, 1, 2], [3, 4, 5]] and int(back["rows"]) == 7
    cache.save_arrays("model", {"rows": np.int64(8)})
    assert set(Cache(tmp_path).load_arrays("model") or {}) == {"rows"}
    assert [p.name for p in (tmp_path / "model").iterdir()] == ["arrays.npz"]  # no temporary left behind
    assert Cache(None).load_arrays("model") is None


def test_damaged_or_pickled_or_linked_arrays_are_ignored_with_a_warning(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    cache.save_arrays("model", {"rows": np.int64(1)})
    path = tmp_path / "model" / "arrays.npz"
    path.write_bytes(b"not a zip")
    with pytest.warns(UserWarning, match="unusable"):
        assert Cache(tmp_path).load_arrays("model") is None
    np.savez(path, rows=np.array([{"a": 1}], dtype=object))  # unpickling is refused
    with pytest.warns(UserWarning, match="unusable"):
        assert Cache(tmp_path).load_arrays("model") is None
    path.unlink()
    target = tmp_path / "elsewhere.npz"
    np.savez(target, rows=np.int64(1))
    path.symlink_to(target)
    with pytest.warns(UserWarning, match="not a regular file"):
        assert Cache(tmp_path).load_arrays("model") is None


def test_a_shard_that_could_not_be_written_is_a_warning_when_the_same_run_reads_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shards are written on a background thread; a failed one costs a warning and a recompute."""
    from dqaudit.cache import CacheWarning

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("dqaudit.cache._write_shard", full)
    cache = Cache(tmp_path)
    texts = ["one", "two"]
    cache.per_record("ns", [text_hash(t) for t in texts], _square(texts, []))
    calls: list[list[str]] = []
    with pytest.warns(CacheWarning, match="No space left"):
        values = cache.per_record("ns", [text_hash(t) for t in texts], _square(texts, calls))
    assert calls == [texts] and values[:, 0].tolist() == [3, 3]
    with pytest.raises(OSError, match="No space left"):  # the recomputed rows' shard: the pipeline warns
        cache.flush()
    assert not list((tmp_path / "ns").glob("*.tmp")) and not list((tmp_path / "ns").glob("*.shard"))


def test_gathering_from_parts_of_any_size_gives_the_rows_asked_for() -> None:
    """Rows of several parts (the largest first, last or between; empty parts too)
    come back in the order asked."""
    from dqaudit.cache import _gather

    rng = np.random.default_rng(3)
    for sizes in ([5, 900, 0, 40], [900, 3], [1, 2, 3], [0, 7]):
        parts = [rng.integers(0, 1000, (size, 4)).astype("<u4") for size in sizes]
        whole = np.concatenate(parts)
        found = rng.integers(0, len(whole), 2000)
        assert np.array_equal(_gather(parts, found), whole[found])
        assert _gather(parts, found[:0]).shape == (0, 4)


def test_a_remembered_sort_is_used_only_for_the_same_keys() -> None:
    """Sort orders are reused for arrays with the same content, never for other keys of the same length."""
    from dqaudit.cache import _stable_order

    rng = np.random.default_rng(4)
    keys = rng.integers(0, 2**63, 5000, dtype=np.uint64)
    other = keys.copy()
    other[17] += 1
    for array in (keys, keys.copy(), other, keys, other[::-1].copy()):
        assert np.array_equal(_stable_order(array), np.argsort(array, kind="stable"))
    assert _stable_order(keys.copy()) is _stable_order(keys)


def test_the_sorts_used_last_are_kept() -> None:
    """An order found again moves to the front, so arrays asked for in turn stay remembered (a FIFO would
    drop the first array asked for however often it is used)."""
    from dqaudit.cache import _ORDERS_KEPT, _stable_order

    rng = np.random.default_rng(5)
    arrays = [rng.integers(0, 2**63, 100, dtype=np.uint64) for _ in range(_ORDERS_KEPT + 1)]
    first = _stable_order(arrays[0])
    for array in arrays[1:_ORDERS_KEPT]:
        _stable_order(array)
        assert _stable_order(arrays[0]) is first  # used again: kept at the front
    _stable_order(arrays[_ORDERS_KEPT])  # evicts the one used longest ago, not the first
    assert _stable_order(arrays[0].copy()) is first
    assert _stable_order(arrays[1]) is not None
