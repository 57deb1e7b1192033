"""Exact groups and LSH candidates on Spark are the local engine's, on texts chosen to tell them apart."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest

from dqaudit.dedup.minhash import MAX_BUCKET_PAIRS, MinHashParams, _estimate_low_bits, estimate_floor
from dqaudit.engines.spark.cluster import _as_binary, _bucket_pairs, _estimate_filter, _most_differing
from dqaudit.features.exact import exact_groups
from dqaudit.features.near_dups import near_duplicates

TRICKY = [
    "", "   ", "\t\n ", "Hello world", "hello world", "HELLO   WORLD ", "hello\u00a0world",
    "Ｈｅｌｌｏ ｗｏｒｌｄ", "caf\u00e9 au lait", "cafe\u0301 au lait", "Straße", "STRASSE", "strasse",
    "\ufb01le name", "file name", "İstanbul", "istanbul", "\u200bzero width", "zero width",
    "a" * 3, "\u00c5ngstr\u00f6m", "A\u030angstro\u0308m",
]


def test_exact_groups_are_the_local_ones_on_tricky_texts(both_engines, tmp_path):
    path = tmp_path / "tricky.jsonl"
    rows = [{"id": f"r{i}", "text": text, "label": "ab"[i % 2]} for i, text in enumerate(TRICKY * 2)]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    local, spark = both_engines(path)
    assert spark.frame.equals(local.frame)
    mine, theirs = exact_groups(spark), exact_groups(local)
    assert mine.equals(theirs)  # the same groups, numbered the same way
    frame = local.frame.assign(group=theirs.to_numpy())
    by_text = dict(zip(frame["text"], frame["group"], strict=False))
    assert by_text["Hello world"] == by_text["HELLO   WORLD "] == by_text["hello world"]
    empty = frame.loc[frame["text"].str.strip() == "", "group"]
    assert empty.nunique() == len(empty) == 6  # each empty text alone, never one big group
    assert theirs.nunique() < len(theirs) - 6  # the copies really were grouped


def test_candidates_beyond_the_bucket_cap_are_the_local_ones(both_engines, tmp_path):
    """A bucket of more than MAX_BUCKET_PAIRS members is paired linearly on both engines."""
    path = tmp_path / "bucket.jsonl"
    base = "the card was declined at the terminal although the balance covers the payment"
    texts = [f"{base} {i}" for i in range(MAX_BUCKET_PAIRS + 9)]
    texts += [f"unrelated text number {i}" for i in range(20)]
    path.write_text("\n".join(json.dumps({"id": f"r{i}", "text": t}) for i, t in enumerate(texts)) + "\n")
    local, spark = both_engines(path)
    near_l, near_s = near_duplicates(local), near_duplicates(spark)
    assert near_s.candidates == near_l.candidates
    assert near_l.candidates < (MAX_BUCKET_PAIRS + 9) * (MAX_BUCKET_PAIRS + 8) // 2  # linear, not all pairs
    assert set(map(tuple, near_s.pairs.tolist())) == set(map(tuple, near_l.pairs.tolist()))
    assert np.array_equal(near_s.groups, near_l.groups)
    assert len(set(near_l.groups[: MAX_BUCKET_PAIRS + 9].tolist())) == 1


def test_bucket_pairs_follow_the_local_rule_whatever_the_batches():
    """Buckets read from a sorted partition in batches of any size give each bucket's pairs once."""
    rng = np.random.default_rng(0)
    n = 5_000
    rows = pd.DataFrame(
        {
            "band": rng.integers(0, 3, n).astype("int32"),
            "key": rng.integers(0, 800, n).astype("int64"),
            "rid": rng.permutation(3 * n)[:n].astype("int64"),
        }
    )
    rows.loc[: MAX_BUCKET_PAIRS + 20, ["band", "key"]] = [1, 7]  # one bucket over the cap: paired linearly
    rows = rows.sort_values(["band", "key", "rid"], ignore_index=True)
    expected = set()
    for _, bucket in rows.groupby(["band", "key"]):
        m = sorted(bucket["rid"].tolist())
        if len(m) <= MAX_BUCKET_PAIRS:
            expected |= set(itertools.combinations(m, 2))
        else:
            expected |= {(m[0], x) for x in m[1:]} | set(itertools.pairwise(m[1:]))
    assert len(expected) > n
    for size in (1, 7, 1_000, n):
        got = pd.concat(_bucket_pairs(iter([rows.iloc[i : i + size] for i in range(0, n, size)])))
        assert set(zip(got["a"], got["b"], strict=True)) == expected
        assert (got["a"] < got["b"]).all()


@pytest.mark.parametrize(("threshold", "num_perm"), [(0.5, 64), (0.7, 128), (0.9, 100)])
def test_the_estimate_bound_is_the_local_float_filter(threshold, num_perm):
    """Spark keeps a candidate when at most ``_most_differing`` low bytes differ: the local filter exactly."""
    bound = _most_differing(MinHashParams("char", threshold=threshold, num_perm=num_perm))
    base = np.random.default_rng(1).integers(0, 2**32, num_perm, dtype=np.uint64).astype(np.uint32)
    for differ in range(num_perm + 1):
        other = base.copy()
        other[:differ] ^= np.uint32(1)  # the low byte of the first ``differ`` values differs
        estimate = _estimate_low_bits(np.stack([base, other]), np.array([[0, 1]]))[0]
        assert (estimate >= estimate_floor(threshold)) == (differ <= bound)


def test_estimate_filter_keeps_what_the_local_estimate_keeps():
    """Low bytes shipped as Arrow binary and compared as numpy blocks: the local b-bit filter's pairs."""
    import pyarrow as pa

    from dqaudit.dedup.minhash import _low_bytes

    params = MinHashParams("char", threshold=0.7, num_perm=100)  # padded to 104 bytes, as locally
    rng = np.random.default_rng(2)
    sigs = rng.integers(0, 2**32, (400, params.num_perm), dtype=np.uint64).astype(np.uint32)
    sigs[200:] = sigs[:200]
    noise = rng.random((200, params.num_perm)) < np.linspace(0, 1, 200)[:, None]
    sigs[200:][noise] ^= np.uint32(1)  # pair k with 200 + k: from identical to every low byte different
    pairs = np.stack([np.arange(200), np.arange(200, 400)], axis=1)
    low = _as_binary(_low_bytes(sigs).view(np.uint8))
    batch = pa.RecordBatch.from_arrays(
        [pa.array(pairs[:, 0]), pa.array(pairs[:, 1]), low.take(pairs[:, 0]), low.take(pairs[:, 1])],
        ["a", "b", "la", "lb"],
    )
    keep_close = _estimate_filter(_most_differing(params))
    kept = pa.Table.from_batches(list(keep_close(iter([batch.slice(0, 77), batch.slice(77)]))))
    local = _estimate_low_bits(sigs, pairs) >= estimate_floor(params.threshold)
    assert kept.column("a").to_pylist() == pairs[local, 0].tolist()
    assert 0 < local.sum() < 200
