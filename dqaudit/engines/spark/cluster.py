"""Clustering on the executors: exact keys and MinHash signatures, LSH candidates, verification, components.

Every step calls the local engine's pure functions on partitions (:func:`~dqaudit.features.exact.exact_keys`,
:func:`~dqaudit.dedup.minhash.signatures`, ``band_keys``, :func:`~dqaudit.dedup.minhash.run_pairs` (the
compiled bucket pairing), ``kernels.pair_estimates`` (the compiled b-bit estimate),
``shingle_sets``/``exact_jaccard_pairs``, :func:`~dqaudit.dedup.minhash.estimate_floor`,
:func:`~dqaudit.dedup.minhash.verified`) and replays the local tie-breaking rules (representative = first
record of identical signatures, buckets in record order, linear pairing of buckets over
:data:`~dqaudit.dedup.minhash.MAX_BUCKET_PAIRS` members, a pair from several buckets counted once), so
clusters are the same partitions of records as on one machine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from ...dedup.minhash import MinHashParams
    from ...features.leakage import CopySearch, Edges
    from .session import Stages


def sign_and_key(records: DataFrame, params: MinHashParams) -> DataFrame:
    """Per record: exact-duplicate key (null for an empty text), has shingles, band keys, low bytes, label.

    ``keys`` packs the band keys (int64 each) and ``low`` each signature value's low byte
    (zero-padded to a multiple of eight, as the local compiled estimate pads them): all the b-bit
    estimate reads, a quarter of the bytes. Both are binary, built from the numpy blocks with no
    Python object per record: Spark moves a binary value in one copy, an array element by element.
    """
    import pyarrow as pa

    from ...dedup.minhash import EMPTY, _low_bytes, band_keys, signatures
    from ...features.exact import EMPTY_KEY, exact_keys

    def compute(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            texts = batch.column("text").to_pylist()
            sigs = signatures(texts, params)
            live = (sigs != EMPTY).any(axis=1)
            whole = band_keys(sigs, 1, params.num_perm)[:, 0]
            keys = band_keys(sigs, params.bands, params.rows).view(np.int64)
            exact = exact_keys(texts)
            yield pa.RecordBatch.from_arrays(
                [
                    batch.column("rid"),
                    # empty texts are no duplicate group (as exact_groups says)
                    pa.array(exact.view(np.int64), mask=exact == EMPTY_KEY),
                    pa.array(live),
                    pa.array(whole.view(np.int64)),
                    _as_binary(np.ascontiguousarray(keys).view(np.uint8)),
                    _as_binary(_low_bytes(sigs).view(np.uint8)),
                    batch.column("label"),  # carried along: the per-cluster label counts need no join
                ],
                ["rid", "nkey", "live", "whole", "keys", "low", "label"],
            )

    schema = "rid long, nkey long, live boolean, whole long, keys binary, low binary, label string"
    return records.select("rid", "text", "label").mapInArrow(compute, schema)


#: Records per chunk of the estimate pass (:class:`_Cells`): a cell task holds the low bytes of two chunks
#: (2 x 250,000 x 128 bytes, 64 MB at 128 permutations), and each record's low bytes travel to as many
#: cells as there are chunks.
CHUNK_ROWS = 250_000
#: Bytes of bucket members per task of the bucket pass (at least ``spark.sql.shuffle.partitions`` tasks): a
#: task sorts and pairs its members in numpy, so its memory stays near a few times this (2 million members
#: of 25 bytes; a fifth of that when each carries its 128 low bytes).
TASK_BYTES = 50_000_000


def candidate_pairs(signed: DataFrame,
                    params: MinHashParams) -> tuple[DataFrame, DataFrame, int, DataFrame]:
    """Identical-signature edges ``(a, b, sim)``, the LSH candidates passing the b-bit estimate ``(a, b)``,
    the number of distinct candidates before that estimate, and the persisted frame the candidates
    are read from: the caller unpersists it once it has verified them (unpersisting the candidates,
    a filtered view of it, frees nothing).

    Mirrors ``minhash.near_duplicate_pairs``. Each live record's (band, key) members go, packed in
    blocks, to the task of their bucket (:func:`_route_members`), which sorts them, keeps the first
    record of each identical signature (all copies of a signature share every bucket, so this is
    the local representative) and pairs each bucket by the local rule
    (:func:`~dqaudit.dedup.minhash.run_pairs`). Each pair must then meet its two records' low bytes for
    the local compiled estimate, and be counted once however many buckets found it. Up to about as many
    chunks of :data:`CHUNK_ROWS` records as bands, the pairs go, packed as ``(a, b)``, to the cell of
    their two records' chunks (:class:`_Cells`), where the low bytes of those chunks arrive too: each
    record's low bytes travel once per chunk. Past that (:func:`estimate_in_buckets`: about 5 million
    records) that volume would grow with the square of the records, so the members carry their low bytes
    instead (each record's travel once per band, a fixed number), the bucket pass estimates its pairs, and
    the pairs meet only each other, by record, to be counted once (:func:`_distinct_kept`). Either way the
    same pairs pass and the same count comes out; nothing is joined, and every shuffle moves a few large
    binary rows instead of millions of small ones.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from ...dedup.minhash import estimate_floor
    from .session import keep

    spark = signed.sparkSession
    live = signed.where("live")
    first = F.min("rid").over(Window.partitionBy("whole"))
    copies = (
        live.select("rid", first.alias("rep"))
        .where(F.col("rid") != F.col("rep"))
        .select(F.col("rep").alias("a"), F.col("rid").alias("b"), F.lit(1.0).alias("sim"))
    )
    records = live.count()
    in_buckets = estimate_in_buckets(records, params)
    estimate = (params.num_perm, estimate_floor(params.threshold))
    tasks = _bucket_tasks(records, params, in_buckets, int(spark.conf.get("spark.sql.shuffle.partitions")))
    buckets = _partition_tags(spark, tasks)
    members = live.select("rid", "whole", "keys", *(["low"] if in_buckets else [])).mapInArrow(
        lambda batches: _route_members(batches, buckets, params.bands), "part long, block binary"
    )
    schema = "cell long, kind int, block binary"
    bucketed = members.repartition(tasks, "part")
    if in_buckets:
        by_record = _ByRecord(buckets)
        pairs = bucketed.mapInArrow(lambda batches: _bucket_pairs(batches, by_record, estimate), schema)
        close = keep(pairs.repartition(tasks, "cell").mapInArrow(_distinct_kept, "a long, b long"))
    else:
        cells = _Cells.of(spark, records)
        pairs = bucketed.mapInArrow(lambda batches: _bucket_pairs(batches, cells), schema)
        lows = live.select("rid", "low").mapInArrow(lambda batches: _low_rows(batches, cells), schema)
        met = pairs.unionByName(lows).repartition(cells.count, "cell")
        close = keep(met.mapInArrow(_close_pairs(*estimate), "a long, b long"))
    counted = close.where("a < 0").agg(F.sum("b")).first()[0]  # computes and stores ``close``
    return copies, close.where("a >= 0"), int(counted or 0), close


def estimate_in_buckets(records: int, params: MinHashParams) -> bool:
    """Whether the pairs are estimated in the bucket pass: when each record's low bytes would move more bytes
    to the cells of its chunk (``chunks`` x (8 + low bytes), a count that grows with the records) than
    with its bucket members (``bands`` x low bytes, fixed). At 21 x 6 and 128 permutations that is from
    20 chunks, about 4.75 million records; measured at 1M with smaller chunks, the estimate in the buckets
    took less time than the cells from about 16 chunks on (docs/spark.md)."""
    width = _low_width(params.num_perm)
    return _Cells.chunks_for(records) * (8 + width) > params.bands * width


def _bucket_tasks(records: int, params: MinHashParams, in_buckets: bool, least: int) -> int:
    """Tasks of the bucket pass: about :data:`TASK_BYTES` of members each (with their low bytes when the pairs
    are estimated in the buckets), and at least ``least``."""
    member = _MEMBER_BYTES + (_low_width(params.num_perm) if in_buckets else 0)
    return max(least, -(-records * params.bands * member // TASK_BYTES))


def _partition_tags(spark: SparkSession, count: int) -> np.ndarray:
    """For each partition ``p < count``, a value that Spark's hash partitioning (``pmod(hash(v), count)``,
    which ``repartition(count, column)`` applies) sends to ``p``: a column of tags puts each block
    where it was meant to go (found by asking Spark, so any version agrees; a partition no probe
    reached keeps ``p`` itself, and some task then holds two parts, which is correct, only larger)."""
    from pyspark.sql import functions as F

    probe = spark.range(0, 64 * count).select("id", F.expr(f"pmod(hash(id), {count})").alias("p"))
    first = dict(probe.groupBy("p").agg(F.min("id")).collect())
    return np.array([first.get(p, p) for p in range(count)], np.int64)


def _mix(values: np.ndarray, salt: np.ndarray | int = 0) -> np.ndarray:
    """A multiplicative hash of int64 ``values`` (plus ``salt``), as uint64 with well-mixed high bits."""
    with np.errstate(over="ignore"):
        mixed = (values.astype(np.uint64) + np.asarray(salt, np.uint64)) * np.uint64(0x9E3779B97F4A7C15)
    return mixed >> np.uint64(32)


class _Cells:
    """Where a candidate pair meets its two records' low bytes.

    Records fall into ``chunks`` chunks by a hash of their ``rid`` (about :data:`CHUNK_ROWS` each);
    the cell of a pair is its unordered pair of chunks, one shuffle partition per cell. A record's
    low bytes go to the ``chunks`` cells that hold its chunk, so a cell task holds at most two
    chunks of low bytes and each candidate crosses the network once, as 16 bytes.
    """

    def __init__(self, chunks: int, tags: np.ndarray) -> None:
        self.chunks, self.tags = chunks, tags
        self.count = chunks * (chunks + 1) // 2

    @staticmethod
    def chunks_for(records: int) -> int:
        """How many chunks ``records`` records fall into."""
        return max(1, -(-records // CHUNK_ROWS))

    @classmethod
    def of(cls, spark: SparkSession, records: int) -> _Cells:
        """Cells for ``records`` records, each its own partition (:func:`_partition_tags`)."""
        chunks = cls.chunks_for(records)
        count = chunks * (chunks + 1) // 2
        partition = _partition_tags(spark, count)
        tags = np.empty((chunks, chunks), np.int64)
        pairs = [(i, j) for i in range(chunks) for j in range(i, chunks)]
        for p, (i, j) in enumerate(pairs):
            tags[i, j] = tags[j, i] = partition[p]
        return cls(chunks, tags)

    def chunk(self, rid: np.ndarray) -> np.ndarray:
        """Each record's chunk."""
        return (_mix(rid) % np.uint64(self.chunks)).astype(np.int64)

    def route(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tags and each pair's index into them, for :func:`_blocks`: the cell of its two records' chunks."""
        return self.tags.ravel(), self.chunk(a) * self.chunks + self.chunk(b)


class _ByRecord:
    """Where an estimated pair goes to be counted once: a partition chosen by its first record, so every
    copy of a pair (one per bucket that found it) meets the others there."""

    def __init__(self, tags: np.ndarray) -> None:
        self.tags = tags

    def route(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tags and each pair's index into them, for :func:`_blocks`."""
        return self.tags, (_mix(a) % np.uint64(len(self.tags))).astype(np.int64)


def _pack(*columns: np.ndarray) -> bytes:
    """Equal-length numpy columns as one block of bytes, column after column (:func:`_unpack` reads it)."""
    return b"".join(np.ascontiguousarray(c).tobytes() for c in columns)


def _unpack(blocks: list[bytes], *kinds: np.dtype | tuple[np.dtype, int]) -> list[np.ndarray]:
    """The columns of every block written by :func:`_pack` with these dtypes (a ``(dtype, width)`` kind is a
    ``(n, width)`` column), each concatenated over the blocks."""
    widths = [np.dtype(k[0]).itemsize * k[1] if isinstance(k, tuple) else np.dtype(k).itemsize for k in kinds]
    parts: list[list[np.ndarray]] = [[] for _ in kinds]
    for block in blocks:
        n, at = len(block) // sum(widths), 0
        for part, kind, width in zip(parts, kinds, widths, strict=True):
            raw = np.frombuffer(block, np.uint8, n * width, at)
            part.append(raw.view(kind[0]).reshape(n, kind[1]) if isinstance(kind, tuple) else raw.view(kind))
            at += n * width
    return [np.concatenate(part) for part in parts]


def _blocks(tags: np.ndarray, target: np.ndarray, *columns: np.ndarray) -> tuple[np.ndarray, list[bytes]]:
    """Rows grouped by ``target`` (an index into ``tags``): each group's tag and its rows packed."""
    # a stable sort of small unsigned integers is a radix sort in numpy: several times faster than on int64
    order = np.argsort(target.astype(np.min_scalar_type(max(len(tags) - 1, 0))), kind="stable")
    ordered = target[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if len(ordered) else ordered
    ends = np.r_[starts[1:], len(order)]
    blocks = [_pack(*(c[order[s:e]] for c in columns)) for s, e in zip(starts, ends, strict=True)]
    return tags[ordered[starts]], blocks


#: Bytes of one bucket member as routed: band (int8), key, record and whole-signature key (int64 each).
_MEMBER_BYTES = 25


def _low_width(num_perm: int) -> int:
    """Bytes of a record's low signature bytes as :func:`~dqaudit.dedup.minhash._low_bytes` pads them."""
    return -(-num_perm // 8) * 8


def _route_members(batches: Iterator[Any], tags: np.ndarray, bands: int) -> Iterator[Any]:
    """Each record's ``bands`` (band, key) members as ``(part, block)`` rows: ``block`` packs band (int8),
    key, rid and whole-signature key of the members whose bucket belongs to partition ``part``, and each
    member's record's low bytes when the batches have a ``low`` column."""
    import pyarrow as pa

    for batch in batches:
        rid, whole = batch.column("rid").to_numpy(), batch.column("whole").to_numpy()
        key = _rows_of(batch.column("keys")).view(np.int64).ravel()
        band = np.tile(np.arange(bands, dtype=np.int8), len(rid))
        target = (_mix(key, band) % np.uint64(len(tags))).astype(np.int64)
        columns = [band, key, np.repeat(rid, bands), np.repeat(whole, bands)]
        if "low" in batch.schema.names:
            columns.append(np.repeat(_rows_of(batch.column("low")), bands, axis=0))
        part, blocks = _blocks(tags, target, *columns)
        yield pa.RecordBatch.from_arrays([pa.array(part), pa.array(blocks, pa.binary())], ["part", "block"])


#: ``kind`` of the rows the cell pass receives: a block of low bytes, a block of candidate pairs.
_LOWS, _PAIRS = 0, 1
#: Pairs per emitted batch of the bucket pass (16 bytes each): its blocks, one per cell, stay at a few MB,
#: so no shuffle row holds tens of MB of the JVM's heap (no time difference measured at 1M).
_PAIRS_PER_BATCH = 250_000


def _bucket_pairs(batches: Iterator[Any], where: _Cells | _ByRecord,
                  estimate: tuple[int, float] | None = None) -> Iterator[Any]:
    """The candidate pairs ``a < b`` of every bucket whose members reached this task, packed by
    ``where.route``.

    The members are sorted by (band, key, rid); within a bucket, a record whose whole signature
    an earlier record has is dropped (its representative is that first record), and each bucket
    is paired by the local rule. Buckets of one member pair with nothing and are dropped first.
    With ``estimate`` (``num_perm``, floor), the members carry their low bytes and each pair is
    packed as ``(a, b, passes)``: whether its local b-bit estimate reaches the floor.
    """
    import pyarrow as pa

    from ...dedup import kernels
    from ...dedup.minhash import MAX_BUCKET_PAIRS, run_pairs

    kinds: list[Any] = [np.int8, np.int64, np.int64, np.int64]
    if estimate is not None:
        kinds.append((np.uint8, _low_width(estimate[0])))
    band, key, rid, whole, *low = _unpack([b.as_py() for batch in batches for b in batch.column("block")],
                                          *kinds)
    if len(rid) < 2:
        return
    order = _bucket_order(band, key, rid)
    band, key = band[order], key[order]
    new = np.r_[True, (band[1:] != band[:-1]) | (key[1:] != key[:-1])]
    run = np.cumsum(new)
    shared = np.r_[run[1:] == run[:-1], False] | ~new  # in a bucket of two or more
    at_member = order[shared]
    run, rid, whole = run[shared], rid[at_member], whole[at_member]
    copy = _later_copies(run, rid, whole)
    run, rid, at_member = run[~copy], rid[~copy], at_member[~copy]
    at = run_pairs(run, MAX_BUCKET_PAIRS)
    passes = None
    if estimate is not None:
        mine = np.ascontiguousarray(low[0][at_member]).view(np.uint64)  # only paired members' bytes
        passes = (kernels.pair_estimates(mine, at, estimate[0]) >= estimate[1]).astype(np.int8)
    for start in range(0, len(at), _PAIRS_PER_BATCH):
        a, b = rid[at[start:start + _PAIRS_PER_BATCH, 0]], rid[at[start:start + _PAIRS_PER_BATCH, 1]]
        extra = [] if passes is None else [passes[start:start + _PAIRS_PER_BATCH]]
        tag, blocks = _blocks(*where.route(a, b), a, b, *extra)
        yield pa.RecordBatch.from_arrays(
            [pa.array(tag), pa.array(np.full(len(tag), _PAIRS, np.int32)), pa.array(blocks, pa.binary())],
            ["cell", "kind", "block"],
        )


def _distinct_kept(batches: Iterator[Any]) -> Iterator[Any]:
    """A ``mapInArrow`` function over estimated pairs ``(a, b, passes)`` routed by :class:`_ByRecord`: the
    distinct pairs that pass, as ``(a, b)``, then one row ``(-1, count of distinct pairs)`` (as
    :func:`_close_pairs` gives them; copies of a pair carry the same verdict, so any one decides)."""
    import pyarrow as pa

    blocks = [b.as_py() for batch in batches for b in batch.column("block")]
    a, b, passes = _unpack(blocks, np.int64, np.int64, np.int8) if blocks else (np.empty(0, np.int64),) * 3
    order = np.lexsort((b, a))
    a, b, passes = a[order], b[order], passes[order]
    first = np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1])] if len(a) else np.empty(0, bool)
    kept = first & (passes == 1)
    yield pa.RecordBatch.from_arrays([pa.array(np.r_[a[kept], -1]), pa.array(np.r_[b[kept], first.sum()])],
                                     ["a", "b"])


def _bucket_order(band: np.ndarray, key: np.ndarray, rid: np.ndarray) -> np.ndarray:
    """The order of members by bucket ``(band, key)``, record order inside a bucket.

    Two stable sorts (by record, then by key) take half the time of a three-key ``lexsort``. A band's
    key hashes the band in, so one key in two bands is a 64-bit collision; then the buckets would
    interleave, and the exact three-key order is taken instead.
    """
    order = np.argsort(rid, kind="stable")
    order = order[np.argsort(key[order], kind="stable")]
    ordered_key, ordered_band = key[order], band[order]
    if np.any((ordered_key[1:] == ordered_key[:-1]) & (ordered_band[1:] != ordered_band[:-1])):
        return np.lexsort((rid, key, band))
    return order


def _later_copies(run: np.ndarray, rid: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """Which members have a whole signature that an earlier member of their bucket (``run``) has: that
    first member represents them.

    Only members whose (bucket, signature) hash repeats can be such copies; those few are sorted by
    (bucket, signature, record) to decide, instead of every member.
    """
    with np.errstate(over="ignore"):
        mixed = whole.view(np.uint64) ^ (run.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
    order = np.argsort(mixed)
    ordered = mixed[order]
    same = ordered[1:] == ordered[:-1]
    maybe = np.zeros(len(rid), bool)
    maybe[order[1:][same]] = maybe[order[:-1][same]] = True
    at = np.flatnonzero(maybe)
    at = at[np.lexsort((rid[at], whole[at], run[at]))]
    later = (run[at][1:] == run[at][:-1]) & (whole[at][1:] == whole[at][:-1])
    copy = np.zeros(len(rid), bool)
    copy[at[1:][later]] = True
    return copy


def _low_rows(batches: Iterator[Any], cells: _Cells) -> Iterator[Any]:
    """Each record's low bytes once per cell of its chunk, packed (rid, low) by cell."""
    import pyarrow as pa

    for batch in batches:
        rid, low = batch.column("rid").to_numpy(), _rows_of(batch.column("low"))
        mine = cells.chunk(rid)
        for other in range(cells.chunks):
            tag, blocks = _blocks(cells.tags.ravel(), mine * cells.chunks + other, rid, low)
            yield pa.RecordBatch.from_arrays(
                [pa.array(tag), pa.array(np.full(len(tag), _LOWS, np.int32)), pa.array(blocks, pa.binary())],
                ["cell", "kind", "block"],
            )


def _close_pairs(width: int, floor: float) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """A ``mapInArrow`` function over one cell's blocks: the distinct pairs whose local b-bit estimate
    (``kernels.pair_estimates``, the compiled function the local filter calls) reaches ``floor``, as
    ``(a, b)``, then one row ``(-1, count of distinct pairs)``.

    Blocks of low bytes and of pairs arrive in any order; the cell holds both until its input ends
    (a task may hold several cells if Spark placed them together).
    """
    import pandas as pd
    import pyarrow as pa

    from ...dedup import kernels

    def close(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        lows, pairs = [], []
        for batch in batches:
            kinds = batch.column("kind").to_numpy()
            for kind, block in zip(kinds, batch.column("block"), strict=True):
                (lows if kind == _LOWS else pairs).append(block.as_py())
        if not lows:
            return  # no record, so no pair either
        rid, low_bytes = _unpack(lows, np.int64, (np.uint8, _low_width(width)))
        # each pair end's row by hash lookup: a binary search per end cost three and a half times more
        index = pd.Index(rid)
        if not index.is_unique:  # cells Spark placed in one task share rows: each record once
            once = ~index.duplicated()
            rid, low_bytes = rid[once], low_bytes[once]
            index = pd.Index(rid)
        low = np.ascontiguousarray(low_bytes).view(np.uint64)
        a, b = _unpack(pairs, np.int64, np.int64) if pairs else (np.empty(0, np.int64),) * 2
        first, second = index.get_indexer(a), index.get_indexer(b)
        if (first < 0).any() or (second < 0).any():
            raise RuntimeError("a candidate pair reached an LSH cell without its records' low bytes")
        ordered = np.sort(first * len(rid) + second)
        distinct = ordered[np.r_[True, ordered[1:] != ordered[:-1]]] if len(ordered) else ordered
        pairs_at = np.stack([distinct // len(rid), distinct % len(rid)], axis=1)
        kept = pairs_at[kernels.pair_estimates(low, pairs_at, width) >= floor]
        a, b = np.r_[rid[kept[:, 0]], -1], np.r_[rid[kept[:, 1]], len(distinct)]
        yield pa.RecordBatch.from_arrays([pa.array(a), pa.array(b)], ["a", "b"])

    return close


def verify(candidates: DataFrame, records: DataFrame, params: MinHashParams) -> DataFrame:
    """Candidates (that passed the estimate) whose exact Jaccard reaches the threshold, as ``(a, b, sim)``.

    The second step of ``minhash.near_duplicate_pairs``, with its functions: the texts joined for
    the pairs, each distinct record of a batch shingled once (``shingle_table``; the join on ``b``
    delivers a record's pairs together) and ``exact_jaccard_table``, whose merge stops as soon as a
    pair cannot reach the threshold; :func:`~dqaudit.dedup.minhash.verified` decides.
    """
    import pyarrow as pa

    from ...dedup.minhash import exact_jaccard_table, verified, verified_floor

    def jaccard(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            a, b, flat, bounds, pairs = shingled_pairs(batch, params)
            sims = exact_jaccard_table(flat, bounds, pairs, at_least=verified_floor(params.threshold))
            ok = verified(sims, params.threshold)
            found = [pa.array(a[ok]), pa.array(b[ok]), pa.array(sims[ok])]
            yield pa.RecordBatch.from_arrays(found, ["a", "b", "sim"])

    return pair_texts(candidates, records).mapInArrow(jaccard, "a long, b long, sim double")


def pair_texts(candidates: DataFrame, records: DataFrame) -> DataFrame:
    """``(a, b, ta, tb)``: each candidate pair ``(a, b)`` with its two records' texts; the join on ``b`` comes
    last, so a record's pairs arrive together and :func:`shingled_pairs` shingles it once."""
    text = records.select("rid", "text")
    joined = candidates.join(text.toDF("a", "ta"), "a").join(text.toDF("b", "tb"), "b")
    return joined.select("a", "b", "ta", "tb")


def shingled_pairs(batch: Any, params: MinHashParams) -> tuple[np.ndarray, ...]:
    """A batch of :func:`pair_texts` as ``(a, b, flat, bounds, pairs)``: each distinct record shingled once
    (``shingle_table``) and each pair's two rows in that table."""
    import pyarrow as pa

    from ...dedup.minhash import shingle_table

    a, b = batch.column("a").to_numpy(), batch.column("b").to_numpy()
    _, once, at = np.unique(np.r_[a, b], return_index=True, return_inverse=True)
    texts = pa.concat_arrays([batch.column("ta"), batch.column("tb")]).take(pa.array(once))
    flat, bounds = shingle_table(texts.to_pylist(), params)
    return a, b, flat, bounds, at.reshape(2, -1).T


def copy_search(records: DataFrame, rid: np.ndarray, log: Stages) -> CopySearch:
    """:func:`~dqaudit.features.leakage.written_copies` on the executors, for the export's leakage re-check.

    The rows' texts are rendered where they are cached, masked by the export's own function where
    asked, and keyed by ``exact_keys``; the near-duplicate edges among them come from the jobs that
    cluster the audit (:func:`sign_and_key`, :func:`candidate_pairs`, :func:`verify`). Only each
    row's key and the verified edges reach the driver, never a text.
    """
    from pyspark.sql import functions as F

    from .read import located, wanted_rows
    from .session import collect_arrow, java_errors, keep

    def search(rows: np.ndarray, masked: np.ndarray, mask: Callable[[str], str],
               params: MinHashParams | None) -> tuple[np.ndarray, Edges]:
        pairs, sims = np.empty((0, 2), np.int64), np.empty(0)
        if not len(rows):  # every row quarantined
            return np.empty(0, np.int64), (pairs, sims)
        wanted = rid[rows]
        render = _written_texts(np.unique(wanted[masked]), mask)
        with log.stage("leakage re-check: keys and near-duplicate edges of the written texts", "spark"), \
                java_errors(f"checking {len(rows):,} written texts for copies across splits on Spark"):
            schema = "rid long, text string, key long"
            written = keep(wanted_rows(records, wanted, "text").mapInArrow(render, schema))
            written.count()  # rendered on every core here: the collect below fetches one partition per job
            found = collect_arrow(written.select("rid", "key"))
            keys = found.column("key").to_numpy()[located(found, wanted, "keying written texts")]
            if params is not None:
                signed = keep(sign_and_key(written.withColumn("label", F.lit(None).cast("string")), params))
                copies, candidates, _, estimated = candidate_pairs(signed, params)
                verified = keep(copies.union(verify(candidates, written, params)))
                verified.count()
                edges = collect_arrow(verified)
                for data in (signed, estimated, verified):
                    data.unpersist()
                order = np.argsort(wanted, kind="stable")
                ends = [order[np.searchsorted(wanted, edges.column(end).to_numpy(), sorter=order)]
                        for end in ("a", "b")]
                pairs, sims = np.stack(ends, axis=1).astype(np.int64), edges.column("sim").to_numpy()
            written.unpersist()
        return keys, (pairs, sims)

    return search


def _written_texts(masked: np.ndarray,
                   mask: Callable[[str], str]) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """A ``mapInArrow`` function: each ``(rid, text)`` row's text as written (``mask`` applied to the sorted
    record ids ``masked``) and its exact-duplicate key, as ``(rid, text, key)``."""
    import pyarrow as pa

    from ...features.exact import exact_keys

    def render(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            rids = batch.column("rid")
            flags = np.isin(rids.to_numpy(), masked).tolist()
            texts = batch.column("text").to_pylist()
            texts = [mask(t) if m else t for t, m in zip(texts, flags, strict=True)]
            keys = pa.array(exact_keys(texts).view(np.int64))
            columns = [rids, pa.array(texts, pa.string()), keys]
            yield pa.RecordBatch.from_arrays(columns, ["rid", "text", "key"])

    return render


def _as_binary(block: np.ndarray) -> Any:
    """The rows of a ``(n, width)`` uint8 block as an Arrow binary array, without copying them."""
    import pyarrow as pa

    n, width = block.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    data = pa.py_buffer(np.ascontiguousarray(block))
    return pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets), data])


def _rows_of(column: Any) -> np.ndarray:
    """An Arrow binary column of equal-length values as a ``(n, width)`` uint8 block (no copy)."""
    import pyarrow as pa

    kind = np.int64 if pa.types.is_large_binary(column.type) else np.int32
    offsets = np.frombuffer(column.buffers()[1], kind)[column.offset : column.offset + len(column) + 1]
    data = np.frombuffer(column.buffers()[2], np.uint8)[offsets[0] : offsets[-1]]
    return data.reshape(len(column), -1)
