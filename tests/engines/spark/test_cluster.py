"""Exact groups and LSH candidates on Spark are the local engine's, on texts chosen to tell them apart."""

from __future__ import annotations

import itertools
import json
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from dqaudit.config import TEXT_COLUMNS
from dqaudit.dedup.minhash import MAX_BUCKET_PAIRS, _estimate_low_bits, estimate_floor
from dqaudit.engines.spark import cluster
from dqaudit.engines.spark.cluster import (
    _as_binary,
    _bucket_order,
    _bucket_pairs,
    _ByRecord,
    _Cells,
    _close_pairs,
    _distinct_kept,
    _later_copies,
    _low_rows,
    _pack,
    _route_members,
    _unpack,
)
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
    not_collected = TEXT_COLUMNS - set(spark.options["engine"]["texts_collected"])  # no check reads whole
    assert spark.frame.equals(local.frame.drop(columns=sorted(not_collected)))
    mine, theirs = exact_groups(spark), exact_groups(local)
    assert mine.equals(theirs)  # the same groups, numbered the same way
    frame = local.frame.assign(group=theirs.to_numpy())
    by_text = dict(zip(frame["text"], frame["group"], strict=False))
    assert by_text["Hello world"] == by_text["HELLO   WORLD "] == by_text["hello world"]
    empty = frame.loc[frame["text"].str.strip() == "", "group"]
    assert empty.nunique() == len(empty) == 6  # each empty text alone, never one big group
    assert theirs.nunique() < len(theirs) - 6  # the copies really were grouped


@pytest.mark.parametrize("chunk_rows", [cluster.CHUNK_ROWS, 1])
def test_candidates_beyond_the_bucket_cap_are_the_local_ones(both_engines, tmp_path, monkeypatch, chunk_rows):
    """A bucket of more than MAX_BUCKET_PAIRS members is paired linearly on both engines, whether the pairs
    meet their low bytes in cells or carry them from the buckets (one record a chunk: more chunks than
    bands, as past 5 million records)."""
    monkeypatch.setattr(cluster, "CHUNK_ROWS", chunk_rows)
    cells_made = []
    make_cells = _Cells.of.__func__
    monkeypatch.setattr(_Cells, "of",
                        classmethod(lambda cls, *args: cells_made.append(args) or make_cells(cls, *args)))
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
    assert bool(cells_made) == (chunk_rows > 1)  # one record a chunk: the pairs were estimated in the buckets


def local_bucket_rule(rows: pd.DataFrame) -> Counter[tuple[int, int]]:
    """The pairs of every (band, key) bucket by the local rule, written out plainly (a pair found in
    several buckets counts once per bucket)."""
    expected: Counter[tuple[int, int]] = Counter()
    for _, bucket in rows.groupby(["band", "key"]):
        m = sorted(bucket["rid"].tolist())
        if len(m) <= MAX_BUCKET_PAIRS:
            expected.update(itertools.combinations(m, 2))
        else:
            expected.update([(m[0], x) for x in m[1:]] + list(itertools.pairwise(m[1:])))
    return expected


def blocks_of(batches, key: str = "part") -> dict[int, list]:
    """The packed rows of ``mapInArrow`` output batches, by partition tag, as batches again (one per tag)."""
    import pyarrow as pa

    table = pa.Table.from_batches(list(batches))
    return {tag: table.filter(pa.compute.equal(table.column(key), tag)).to_batches()
            for tag in set(table.column(key).to_pylist())}


def test_bucket_pairs_follow_the_local_rule_on_representatives():
    """Members routed by bucket and paired per task: every bucket's pairs by the local rule, among the first
    record of each identical signature only, each pair with the cell of its two records' chunks."""
    import pyarrow as pa

    rng = np.random.default_rng(0)
    n, bands = 3_000, 3
    keys = rng.integers(0, 400, (n, bands))
    keys[: MAX_BUCKET_PAIRS + 20, 1] = 7  # one bucket over the cap: paired linearly
    whole = np.arange(n) + 10_000
    copied = rng.choice(n, 300, replace=False)
    keys[copied], whole[copied] = keys[copied[::-1]], whole[copied[::-1]]  # identical signatures, anywhere
    rid = rng.permutation(3 * n)[:n].astype(np.int64)
    first = pd.Series(rid).groupby(whole).transform("min").to_numpy()
    reps = rid == first
    rows = pd.DataFrame({"band": np.tile(np.arange(bands), n), "key": keys.ravel(),
                         "rid": np.repeat(rid, bands), "rep": np.repeat(reps, bands)})
    expected = local_bucket_rule(rows[rows["rep"]])
    assert len(expected) > n and max(expected.values()) > 1  # some pairs share two buckets
    tags = np.array([5, 9, 2, 7])
    cells = _Cells(3, np.array([[10, 11, 12], [11, 13, 14], [12, 14, 15]]))
    packed = _as_binary(np.ascontiguousarray(keys, np.int64).view(np.uint8))  # as sign_and_key packs them
    records = pa.Table.from_arrays([pa.array(rid), pa.array(whole), packed], ["rid", "whole", "keys"])
    for size in (1, 70, n):
        routed = blocks_of(_route_members(iter(records.to_batches(max_chunksize=size)), tags, bands))
        assert set(routed) <= set(tags.tolist())
        got = pa.Table.from_batches([b for part in routed.values() for b in _bucket_pairs(iter(part), cells)])
        assert set(got.column("kind").to_pylist()) == {1}
        a, b = [], []
        for tag, block in zip(got.column("cell").to_pylist(), got.column("block").to_pylist(), strict=True):
            x, y = _unpack([block], np.int64, np.int64)
            cell_tags, at = cells.route(x, y)
            assert (cell_tags[at] == tag).all()  # each pair in the cell of its two records' chunks
            a.append(x)
            b.append(y)
        a, b = np.concatenate(a), np.concatenate(b)
        assert Counter(zip(a.tolist(), b.tolist(), strict=True)) == expected
        assert (a < b).all()


@pytest.mark.parametrize("collide", [False, True])
def test_bucket_order_is_band_key_record_order(collide):
    """Members sorted into buckets with record order inside each; a key in two bands (a 64-bit collision,
    planted) must not merge or split their buckets."""
    rng = np.random.default_rng(4)
    band = rng.integers(0, 5, 5_000).astype(np.int8)
    key = rng.integers(0, 300, 5_000) * 7 + band  # a band's keys are its own, as band_keys hashes them
    rid = rng.permutation(5_000).astype(np.int64)
    if collide:
        key[band == 3] = key[band == 1][0]  # every member of band 3 lands in one of band 1's keys
    order = _bucket_order(band, key, rid)
    exact = np.lexsort((rid, key, band))
    buckets = pd.DataFrame({"band": band[order], "key": key[order], "rid": rid[order]})
    runs = (buckets[["band", "key"]] != buckets[["band", "key"]].shift()).any(axis=1).cumsum()
    assert runs.max() == len(set(zip(band.tolist(), key.tolist(), strict=True)))  # each bucket one run
    assert (buckets.groupby(runs)["rid"].diff().dropna() > 0).all()  # records in order inside a bucket
    assert sorted(map(tuple, buckets.groupby(runs)["rid"].apply(tuple))) == sorted(
        map(tuple, pd.Series(rid[exact]).groupby([band[exact], key[exact]]).apply(tuple)))


def test_later_copies_are_every_copy_after_the_first_of_its_bucket():
    """A member is a copy when an earlier member (lower record id) of its bucket has its whole signature; the
    same signature in another bucket, or another signature, does not count."""
    rng = np.random.default_rng(5)
    run = np.sort(rng.integers(0, 200, 4_000))
    whole = rng.integers(0, 30, 4_000)  # many repeats, inside buckets and across them
    rid = rng.permutation(4_000).astype(np.int64)
    frame = pd.DataFrame({"run": run, "whole": whole, "rid": rid})
    first = frame.groupby(["run", "whole"])["rid"].transform("min")
    expected = (frame["rid"] != first).to_numpy()
    assert 0 < expected.sum() < len(expected)
    assert (_later_copies(run, rid, whole) == expected).all()


def test_cells_meet_every_pair_with_both_records_low_bytes():
    """Every record's low bytes reach each cell its chunk is part of, and every pair's cell is one of them."""
    import pyarrow as pa

    cells = _Cells(4, np.arange(16).reshape(4, 4))
    cells.tags = np.minimum(cells.tags, cells.tags.T)  # symmetric, as _Cells.of builds them
    rid = np.random.default_rng(3).integers(0, 2**45, 2_000)
    batch = pa.RecordBatch.from_arrays([pa.array(rid), _as_binary(np.zeros((len(rid), 8), np.uint8))],
                                       ["rid", "low"])
    sent = pa.Table.from_batches(list(_low_rows(iter([batch]), cells)))
    assert set(sent.column("kind").to_pylist()) == {0}
    reached = set()
    for tag, block in zip(sent.column("cell").to_pylist(), sent.column("block").to_pylist(), strict=True):
        got, low = _unpack([block], np.int64, (np.uint8, 8))
        assert low.shape == (len(got), 8)
        reached |= {(tag, r) for r in got.tolist()}
    assert len(reached) == len(rid) * cells.chunks  # each record once per chunk
    assert 0 not in np.bincount(cells.chunk(rid), minlength=4)
    a, b = rid[:1000], rid[1000:]
    cell_tags, at = cells.route(a, b)
    for tag, x, y in zip(cell_tags[at].tolist(), a.tolist(), b.tolist(), strict=True):
        assert (tag, x) in reached and (tag, y) in reached


@pytest.mark.parametrize(("threshold", "num_perm"), [(0.5, 64), (0.7, 128), (0.9, 100)])
def test_cell_pass_keeps_and_counts_what_the_local_filter_does(threshold, num_perm):
    """Blocks of pairs and low bytes arriving in any order: the distinct pairs whose local b-bit estimate
    reaches the floor, each once, and the count of distinct pairs (the local candidate count)."""
    import pyarrow as pa

    from dqaudit.dedup.minhash import _low_bytes

    rng = np.random.default_rng(2)
    sigs = rng.integers(0, 2**32, (400, num_perm), dtype=np.uint64).astype(np.uint32)
    sigs[200:] = sigs[:200]
    noise = rng.random((200, num_perm)) < np.linspace(0, 1, 200)[:, None]
    sigs[200:][noise] ^= np.uint32(1)  # pair k with 200 + k: from identical to every low byte different
    rid = np.sort(rng.choice(2**41, 400, replace=False)).astype(np.int64)
    pairs = np.concatenate([np.stack([np.arange(200), np.arange(200, 400)], axis=1),
                            rng.integers(0, 200, (300, 2)) * [1, 0] + [0, 200]])  # more, some repeated
    distinct = np.unique(pairs, axis=0)
    low = _low_bytes(sigs).view(np.uint8)  # 100 permutations: padded to 104 bytes, as locally
    # low bytes of some records twice: two cells that Spark placed in one task
    blocks = [(0, _pack(rid[s:s + 77], low[s:s + 77])) for s in [*range(0, 400, 77), 154]]
    blocks += [(1, _pack(*rid[pairs[s:s + 150]].T)) for s in range(0, len(pairs), 150)]
    blocks = [blocks[i] for i in rng.permutation(len(blocks))]
    kinds, data = pa.array([k for k, _ in blocks], pa.int32()), pa.array([d for _, d in blocks], pa.binary())
    whole = pa.RecordBatch.from_arrays([kinds, data], ["kind", "block"])
    batches = [whole.slice(0, 3), whole.slice(3)]
    got = pa.Table.from_batches(list(_close_pairs(num_perm, estimate_floor(threshold))(iter(batches))))
    a, b = got.column("a").to_numpy(), got.column("b").to_numpy()
    assert a[-1] == -1 and b[-1] == len(distinct)  # the count row: distinct candidates
    local = distinct[_estimate_low_bits(sigs, distinct) >= estimate_floor(threshold)]
    assert sorted(zip(a[:-1].tolist(), b[:-1].tolist(), strict=True)) == sorted(
        zip(rid[local[:, 0]].tolist(), rid[local[:, 1]].tolist(), strict=True))
    assert 0 < len(local) < len(distinct)


@pytest.mark.parametrize(("threshold", "num_perm"), [(0.5, 64), (0.7, 128), (0.9, 100)])
def test_estimating_in_the_buckets_keeps_and_counts_what_the_local_filter_does(threshold, num_perm):
    """Members carrying their low bytes: the bucket pass estimates each pair, the count pass keeps each
    distinct pair once, and together they give the local LSH candidates and their count."""
    import pyarrow as pa

    from dqaudit.dedup import minhash as mh

    rng = np.random.default_rng(6)
    params = mh.MinHashParams(shingle="char", num_perm=num_perm, threshold=threshold)
    sigs = rng.integers(0, 2**32, (600, num_perm), dtype=np.uint64).astype(np.uint32)
    sigs[300:] = sigs[:300]
    noise = rng.random((300, num_perm)) < np.linspace(0, 0.8, 300)[:, None]
    sigs[300:][noise] = rng.integers(0, 2**32, noise.sum(), dtype=np.uint64).astype(np.uint32)
    sigs[550:] = sigs[:50]  # identical signatures: only the first of each is paired
    sigs[:40] = sigs[0]  # a bucket over the cap in every band
    sigs[:40, :8] = rng.integers(0, 2**32, (40, 8), dtype=np.uint64).astype(np.uint32)
    rid = np.sort(rng.choice(2**41, len(sigs), replace=False)).astype(np.int64)
    live = np.arange(len(sigs))
    floor = mh.estimate_floor(threshold)
    reps = np.sort(mh.distinct_signatures(sigs, live)[0])
    expected, count = mh._live_lsh_pairs(sigs, params.bands, params.rows, reps, MAX_BUCKET_PAIRS, floor)
    assert 0 < len(expected) < count
    keys = mh.band_keys(sigs, params.bands, params.rows).view(np.int64)
    whole = mh.band_keys(sigs, 1, num_perm)[:, 0].view(np.int64)
    low = mh._low_bytes(sigs).view(np.uint8)
    packed = _as_binary(np.ascontiguousarray(keys).view(np.uint8))
    records = pa.Table.from_arrays([pa.array(rid), pa.array(whole), packed, _as_binary(low)],
                                   ["rid", "whole", "keys", "low"])
    tags = np.array([3, 8, 1])
    routed = blocks_of(_route_members(iter(records.to_batches(max_chunksize=97)), tags, params.bands))
    estimated = [b for part in routed.values()
                 for b in _bucket_pairs(iter(part), _ByRecord(tags), (num_perm, floor))]
    by_tag = blocks_of(estimated, "cell")
    assert set(by_tag) <= set(tags.tolist())
    got = pa.Table.from_batches([b for part in by_tag.values() for b in _distinct_kept(iter(part))])
    a, b = got.column("a").to_numpy(), got.column("b").to_numpy()
    assert b[a < 0].sum() == count  # each task's count row: distinct candidates, the local count
    kept = sorted(zip(a[a >= 0].tolist(), b[a >= 0].tolist(), strict=True))
    assert kept == sorted(zip(rid[expected[:, 0]].tolist(), rid[expected[:, 1]].tolist(), strict=True))


def test_the_estimate_moves_to_the_buckets_where_the_cells_would_move_more_bytes():
    """Cells send each record's low bytes once per chunk, buckets once per band: the switch comes where
    chunks x (8 + 128) passes 21 x 128 bytes, at 20 chunks of 250,000 records."""
    from dqaudit.dedup.minhash import MinHashParams

    params = MinHashParams()
    assert (params.bands, params.num_perm) == (21, 128)
    assert not cluster.estimate_in_buckets(19 * cluster.CHUNK_ROWS, params)
    assert cluster.estimate_in_buckets(19 * cluster.CHUNK_ROWS + 1, params)  # 20 chunks
    assert not cluster.estimate_in_buckets(5 * 10**6, MinHashParams(num_perm=256))  # 36 bands: later


def test_run_pairs_is_the_local_bucket_rule():
    """The shared pairing of sorted runs: all pairs up to the cap, star and chain above it."""
    from dqaudit.dedup.minhash import run_pairs

    runs = np.repeat(np.arange(4), [1, 5, MAX_BUCKET_PAIRS, MAX_BUCKET_PAIRS + 3])
    rows = pd.DataFrame({"band": 0, "key": runs, "rid": np.arange(len(runs))})
    assert Counter(map(tuple, run_pairs(runs).tolist())) == local_bucket_rule(rows)
