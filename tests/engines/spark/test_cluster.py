"""Exact groups and LSH candidates on Spark are the local engine's, on texts chosen to tell them apart."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest

from dqaudit.dedup.minhash import MAX_BUCKET_PAIRS, MinHashParams, _estimate_low_bits, estimate_floor
from dqaudit.engines.spark.cluster import _as_binary, _bucket_pairs, _Cells, _close_pairs, _low_rows
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


def local_bucket_rule(rows: pd.DataFrame) -> set[tuple[int, int]]:
    """The pairs of every (band, key) bucket by the local rule, written out plainly."""
    expected = set()
    for _, bucket in rows.groupby(["band", "key"]):
        m = sorted(bucket["rid"].tolist())
        if len(m) <= MAX_BUCKET_PAIRS:
            expected |= set(itertools.combinations(m, 2))
        else:
            expected |= {(m[0], x) for x in m[1:]} | set(itertools.pairwise(m[1:]))
    return expected


def test_bucket_pairs_follow_the_local_rule_whatever_the_batches():
    """Buckets read from a sorted partition in batches of any size give each bucket's pairs once, each with
    the cell of its two records' chunks."""
    import pyarrow as pa

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
    expected = local_bucket_rule(rows)
    assert len(expected) > n
    cells = _Cells(3, np.array([[10, 11, 12], [11, 13, 14], [12, 14, 15]]))
    table = pa.Table.from_pandas(rows, preserve_index=False)
    for size in (1, 7, 1_000, n):
        got = pa.Table.from_batches(list(_bucket_pairs(iter(table.to_batches(max_chunksize=size)), cells)))
        a, b, cell = (got.column(c).to_numpy() for c in ("a", "b", "cell"))
        assert len(a) == len(expected)  # within one band no pair repeats
        assert set(zip(a.tolist(), b.tolist(), strict=True)) == expected
        assert (a < b).all()
        assert np.array_equal(cell, cells.tags[cells.chunk(a), cells.chunk(b)])
        assert got.column("low").null_count == len(a)


def test_cells_meet_every_pair_with_both_records_low_bytes():
    """Every record's low bytes reach each cell its chunk is part of, and every pair's cell is one of them."""
    import pyarrow as pa

    cells = _Cells(4, np.arange(16).reshape(4, 4))
    cells.tags = np.minimum(cells.tags, cells.tags.T)  # symmetric, as _Cells.of builds them
    rid = np.random.default_rng(3).integers(0, 2**45, 2_000)
    batch = pa.RecordBatch.from_arrays([pa.array(rid), _as_binary(np.zeros((len(rid), 8), np.uint8))],
                                       ["rid", "low"])
    sent = pa.Table.from_batches(list(_low_rows(iter([batch]), cells)))
    reached = set(zip(sent.column("cell").to_pylist(), sent.column("b").to_pylist(), strict=True))
    assert len(reached) == len(rid) * cells.chunks  # each record once per chunk
    assert set(np.bincount(cells.chunk(rid), minlength=4).tolist()) != {0}
    a, b = rid[:1000], rid[1000:]
    for tag, x, y in zip(cells.of_pairs(a, b).tolist(), a.tolist(), b.tolist(), strict=True):
        assert (tag, x) in reached and (tag, y) in reached


@pytest.mark.parametrize(("threshold", "num_perm"), [(0.5, 64), (0.7, 128), (0.9, 100)])
def test_cell_pass_keeps_and_counts_what_the_local_filter_does(threshold, num_perm):
    """Pairs and low bytes arriving in any order and batching: the distinct pairs whose local b-bit estimate
    reaches the floor, each once, and the count of distinct pairs (the local candidate count)."""
    import pyarrow as pa

    from dqaudit.dedup.minhash import _low_bytes

    params = MinHashParams("char", threshold=threshold, num_perm=num_perm)  # 100: padded to 104 bytes
    rng = np.random.default_rng(2)
    sigs = rng.integers(0, 2**32, (400, num_perm), dtype=np.uint64).astype(np.uint32)
    sigs[200:] = sigs[:200]
    noise = rng.random((200, num_perm)) < np.linspace(0, 1, 200)[:, None]
    sigs[200:][noise] ^= np.uint32(1)  # pair k with 200 + k: from identical to every low byte different
    rid = np.sort(rng.choice(2**41, 400, replace=False)).astype(np.int64)
    pairs = np.concatenate([np.stack([np.arange(200), np.arange(200, 400)], axis=1),
                            rng.integers(0, 200, (300, 2)) * [1, 0] + [0, 200]])  # more, some repeated
    distinct = np.unique(pairs, axis=0)
    low_rows = pa.RecordBatch.from_arrays(
        [pa.array(np.zeros(400, np.int64)), pa.array(np.full(400, -1, np.int64)), pa.array(rid),
         _as_binary(_low_bytes(sigs).view(np.uint8))], ["cell", "a", "b", "low"])
    pair_rows = pa.RecordBatch.from_arrays(
        [pa.array(np.zeros(len(pairs), np.int64)), pa.array(rid[pairs[:, 0]]), pa.array(rid[pairs[:, 1]]),
         pa.nulls(len(pairs), pa.binary())], ["cell", "a", "b", "low"])
    mixed = pa.Table.from_batches([pair_rows.slice(0, 150), low_rows.slice(0, 123), pair_rows.slice(150),
                                   low_rows.slice(123)]).combine_chunks()
    order = rng.permutation(mixed.num_rows)
    batches = mixed.take(order).to_batches(max_chunksize=97)
    got = pa.Table.from_batches(list(_close_pairs(num_perm, estimate_floor(threshold))(iter(batches))))
    a, b = got.column("a").to_numpy(), got.column("b").to_numpy()
    assert a[-1] == -1 and b[-1] == len(distinct)  # the count row: distinct candidates
    local = distinct[_estimate_low_bits(sigs, distinct) >= estimate_floor(threshold)]
    assert sorted(zip(a[:-1].tolist(), b[:-1].tolist(), strict=True)) == sorted(
        zip(rid[local[:, 0]].tolist(), rid[local[:, 1]].tolist(), strict=True))
    assert 0 < len(local) < len(distinct)


def test_run_pairs_is_the_local_bucket_rule():
    """The shared pairing of sorted runs: all pairs up to the cap, star and chain above it."""
    from dqaudit.dedup.minhash import run_pairs

    runs = np.repeat(np.arange(4), [1, 5, MAX_BUCKET_PAIRS, MAX_BUCKET_PAIRS + 3])
    rows = pd.DataFrame({"band": 0, "key": runs, "rid": np.arange(len(runs))})
    got = {tuple(p) for p in run_pairs(runs).tolist()}
    assert got == local_bucket_rule(rows)
    assert len(run_pairs(runs)) == len(got)  # no pair twice within a band
