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
import pandas as pd

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from ...dedup.minhash import MinHashParams


def sign_and_key(records: DataFrame, params: MinHashParams) -> DataFrame:
    """Per record: exact-duplicate key (null for an empty text), has shingles, band keys, low bytes, label.

    ``low`` is each signature value's low byte (zero-padded to a multiple of eight, as the local
    compiled estimate pads them): all the b-bit estimate reads, a quarter of the bytes. Built as
    Arrow arrays from the numpy blocks, with no Python object per record.
    """
    import pyarrow as pa

    from ...dedup.minhash import EMPTY, _low_bytes, band_keys, signatures
    from ...features.exact import EMPTY_KEY, exact_keys

    def as_lists(block: np.ndarray) -> pa.ListArray:
        n, width = block.shape
        offsets = pa.array(np.arange(0, (n + 1) * width, width, dtype=np.int32))
        return pa.ListArray.from_arrays(offsets, pa.array(block.ravel()))

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
                    as_lists(np.ascontiguousarray(keys)),
                    _as_binary(_low_bytes(sigs).view(np.uint8)),
                    batch.column("label"),  # carried along: the per-cluster label counts need no join
                ],
                ["rid", "nkey", "live", "whole", "keys", "low", "label"],
            )

    schema = "rid long, nkey long, live boolean, whole long, keys array<long>, low binary, label string"
    return records.select("rid", "text", "label").mapInArrow(compute, schema)


#: Representatives per chunk of the estimate pass (:class:`_Cells`): a cell task holds the low bytes of
#: two chunks (2 x 250,000 x 128 bytes, 64 MB at 128 permutations), and each record's low bytes travel
#: to as many cells as there are chunks.
CHUNK_ROWS = 250_000


def candidate_pairs(signed: DataFrame, params: MinHashParams) -> tuple[DataFrame, DataFrame, int]:
    """Identical-signature edges ``(a, b, sim)``, the LSH candidates passing the b-bit estimate ``(a, b)``
    (persisted) and the number of distinct candidates before that estimate.

    Mirrors ``minhash.near_duplicate_pairs``: the representative of identical signatures is their first
    record; bucket members are in record order and paired by the local rule
    (:func:`~dqaudit.dedup.minhash.run_pairs`). The candidates are then sent, as bare ``(a, b)``, to
    the cell of their two records' chunks (:class:`_Cells`), where the low bytes of those chunks
    arrive too: there each pair is kept once, counted, and estimated by the local compiled estimate.
    No candidate is joined with anything, and each record's low bytes travel once per chunk.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from ...dedup.minhash import estimate_floor
    from .session import keep

    live = signed.where("live")
    first = F.min("rid").over(Window.partitionBy("whole"))
    copies = (
        live.select("rid", first.alias("rep"))
        .where(F.col("rid") != F.col("rep"))
        .select(F.col("rep").alias("a"), F.col("rid").alias("b"), F.lit(1.0).alias("sim"))
    )
    reps = keep(
        live.select("rid", "keys", "low", first.alias("rep")).where(F.col("rid") == F.col("rep")).drop("rep")
    )
    cells = _Cells.of(signed.sparkSession, reps.count())
    members = (
        reps.select(F.posexplode("keys").alias("band", "key"), "rid")
        .repartition("band", "key")
        .sortWithinPartitions("band", "key", "rid")
    )
    schema = "cell long, a long, b long, low binary"
    pairs = members.mapInArrow(lambda batches: _bucket_pairs(batches, cells), schema)
    lows = reps.select("rid", "low").mapInArrow(lambda batches: _low_rows(batches, cells), schema)
    estimate = _close_pairs(params.num_perm, estimate_floor(params.threshold))
    met = pairs.unionByName(lows).repartition(cells.count, "cell")
    close = keep(met.mapInArrow(estimate, "a long, b long"))
    counted = close.where("a < 0").agg(F.sum("b")).first()[0]  # computes and stores ``close``
    reps.unpersist()
    return copies, close.where("a >= 0"), int(counted or 0)


class _Cells:
    """Where a candidate pair meets its two records' low bytes.

    Representatives fall into ``chunks`` chunks by a hash of their ``rid`` (about :data:`CHUNK_ROWS`
    each); the cell of a pair is its unordered pair of chunks, one shuffle partition per cell. A
    record's low bytes go to the ``chunks`` cells that hold its chunk, so a cell task holds at most
    two chunks of low bytes and each candidate crosses the network once, as 24 bytes.
    """

    def __init__(self, chunks: int, tags: np.ndarray) -> None:
        self.chunks, self.tags = chunks, tags
        self.count = chunks * (chunks + 1) // 2

    @classmethod
    def of(cls, spark: SparkSession, representatives: int) -> _Cells:
        """Cells for ``representatives`` records; each cell's tag is a value that Spark's hash partitioning
        (``pmod(hash(tag), cells)``, which ``repartition(cells, "cell")`` applies) sends to a partition of
        its own, so no task holds two cells (found by asking Spark, so any version agrees)."""
        from pyspark.sql import functions as F

        chunks = max(1, -(-representatives // CHUNK_ROWS))
        count = chunks * (chunks + 1) // 2
        probe = spark.range(0, 64 * count).select("id", F.expr(f"pmod(hash(id), {count})").alias("p"))
        first = dict(probe.groupBy("p").agg(F.min("id")).collect())
        tags = np.empty((chunks, chunks), np.int64)
        pairs = [(i, j) for i in range(chunks) for j in range(i, chunks)]
        for p, (i, j) in enumerate(pairs):
            tags[i, j] = tags[j, i] = first.get(p, p)  # a partition no probe reached: cells may share one
        return cls(chunks, tags)

    def chunk(self, rid: np.ndarray) -> np.ndarray:
        """Each record's chunk (a multiplicative hash of its ``rid``)."""
        mixed = rid.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        return ((mixed >> np.uint64(32)) % np.uint64(self.chunks)).astype(np.int64)

    def of_pairs(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The cell tag of each pair ``(a[k], b[k])``."""
        return self.tags[self.chunk(a), self.chunk(b)]


def _bucket_pairs(batches: Iterator[Any], cells: _Cells) -> Iterator[Any]:
    """The candidate pairs of each bucket in a partition sorted by (band, key, rid), as ``(cell, a, b)``,
    ``a < b``, each with its cell (:class:`_Cells`) and no low bytes.

    A bucket may span two batches: the last bucket of a batch waits for the next one. Sorting
    and pairing here instead of collecting each bucket's members into a list (an object
    aggregate) keeps the JVM's memory to Spark's external sort, which spills.
    """
    columns = ("band", "key", "rid")
    held = [np.empty(0, np.int64)] * 3  # band, key, rid of the bucket still open
    for batch in batches:
        band, key, rid = (
            np.concatenate([h, batch.column(c).to_numpy().astype(np.int64, copy=False)])
            for h, c in zip(held, columns, strict=True)
        )
        if not len(rid):
            continue
        new = np.r_[True, (band[1:] != band[:-1]) | (key[1:] != key[:-1])]
        last = np.flatnonzero(new)[-1]
        held = [band[last:], key[last:], rid[last:]]
        yield _cell_rows(cells, rid[:last], new[:last])
    tail = np.zeros(len(held[2]), bool)
    tail[:1] = True  # the last bucket, whole
    yield _cell_rows(cells, held[2], tail)


def _cell_rows(cells: _Cells, rid: np.ndarray, new: np.ndarray) -> Any:
    """Pair rows ``(cell, a, b, null)`` of the buckets of ``rid`` (each bucket begins where ``new``)."""
    import pyarrow as pa

    from ...dedup.minhash import MAX_BUCKET_PAIRS, run_pairs

    at = run_pairs(np.cumsum(new), MAX_BUCKET_PAIRS)
    a, b = rid[at[:, 0]], rid[at[:, 1]]
    return pa.RecordBatch.from_arrays(
        [pa.array(cells.of_pairs(a, b)), pa.array(a), pa.array(b), pa.nulls(len(a), pa.binary())],
        ["cell", "a", "b", "low"],
    )


def _low_rows(batches: Iterator[Any], cells: _Cells) -> Iterator[Any]:
    """Each representative's low bytes once per cell of its chunk, as ``(cell, -1, rid, low)``."""
    import pyarrow as pa

    for batch in batches:
        rid = batch.column("rid").to_numpy()
        mine = cells.chunk(rid)
        for other in range(cells.chunks):
            yield pa.RecordBatch.from_arrays(
                [pa.array(cells.tags[mine, other]), pa.array(np.full(len(rid), -1, np.int64)), pa.array(rid),
                 batch.column("low")],
                ["cell", "a", "b", "low"],
            )


def _close_pairs(width: int, floor: float) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """A ``mapInArrow`` function over one cell's rows: the distinct pairs whose local b-bit estimate
    (``kernels.pair_estimates``, the compiled function the local filter calls) reaches ``floor``, as
    ``(a, b)``, then one row ``(-1, count of distinct pairs)``.

    Low-byte rows (``a == -1``, ``b`` the record) and pair rows arrive in any order; the cell holds
    both until its input ends (a task may hold several cells if Spark placed them together).
    """
    import pyarrow as pa

    from ...dedup import kernels

    def close(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        rids, lows, firsts, seconds = [], [], [], []
        for batch in batches:
            a, b = batch.column("a").to_numpy(), batch.column("b").to_numpy()
            low_row = a < 0
            if low_row.any():
                rids.append(b[low_row])
                lows.append(_rows_of(batch.column("low").filter(pa.array(low_row))))
            firsts.append(a[~low_row])
            seconds.append(b[~low_row])
        if not rids:
            return  # no record, so no pair either
        # each record once: cells that Spark placed in one task share rows
        rid, once = np.unique(np.concatenate(rids), return_index=True)
        low = np.ascontiguousarray(np.concatenate(lows)[once]).view(np.uint64)
        a, b = np.concatenate(firsts), np.concatenate(seconds)
        first, second = np.searchsorted(rid, a), np.searchsorted(rid, b)
        if len(a) and not (np.array_equal(rid[np.minimum(first, len(rid) - 1)], a)
                           and np.array_equal(rid[np.minimum(second, len(rid) - 1)], b)):
            raise RuntimeError("a candidate pair reached an LSH cell without its records' low bytes")
        ordered = np.sort(first * len(rid) + second)
        distinct = ordered[np.r_[True, ordered[1:] != ordered[:-1]]] if len(ordered) else ordered
        pairs = np.stack([distinct // len(rid), distinct % len(rid)], axis=1)
        kept = pairs[kernels.pair_estimates(low, pairs, width) >= floor]
        a, b = np.r_[rid[kept[:, 0]], -1], np.r_[rid[kept[:, 1]], len(distinct)]
        yield pa.RecordBatch.from_arrays([pa.array(a), pa.array(b)], ["a", "b"])

    return close


def verify(candidates: DataFrame, records: DataFrame, params: MinHashParams) -> DataFrame:
    """Candidates (that passed the estimate) whose exact Jaccard reaches the threshold, as ``(a, b, sim)``.

    The second step of ``minhash.near_duplicate_pairs``: the shingle sets decide
    (:func:`~dqaudit.dedup.minhash.verified`), on the texts joined for the pairs.
    """
    from ...dedup.minhash import exact_jaccard_pairs, shingle_sets, verified

    text = records.select("rid", "text")
    joined = candidates.join(text.toDF("a", "ta"), "a").join(text.toDF("b", "tb"), "b")

    def jaccard(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            k = len(batch)
            sets = shingle_sets(batch["ta"].tolist() + batch["tb"].tolist(), params)
            sims = exact_jaccard_pairs(sets, np.stack([np.arange(k), np.arange(k) + k], axis=1))
            ok = verified(sims, params.threshold)
            a, b = batch["a"].to_numpy(), batch["b"].to_numpy()
            yield pd.DataFrame({"a": a[ok], "b": b[ok], "sim": sims[ok]})

    return joined.select("a", "b", "ta", "tb").mapInPandas(jaccard, "a long, b long, sim double")


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


def connected_components(edges: DataFrame) -> DataFrame:
    """``(node, root)`` for every node on an edge, root = the component's smallest id (large-star/small-star).

    Kiveris et al., "Connected Components in MapReduce and Beyond" (2014): alternate the two
    star operations until the edges form stars around each component's minimum. Each
    round is checkpointed (reliably when a checkpoint dir is set, else locally) so the plan
    stays small; no edge is ever brought to the driver.
    """
    from pyspark.sql import functions as F

    def pin(frame: DataFrame) -> DataFrame:
        """Eager: a lazy checkpoint of a shuffled frame can be recomputed apart."""
        sc = frame.sparkSession.sparkContext
        return frame.checkpoint() if sc.getCheckpointDir() else frame.localCheckpoint()

    e = pin(edges.select(F.col("b").alias("child"), F.col("a").alias("parent")).distinct())
    while True:
        both = e.union(e.select(F.col("parent").alias("child"), F.col("child").alias("parent")))
        least = both.groupBy("child").agg(F.least(F.min("parent"), F.col("child")).alias("m"))
        large = (
            both.join(least, "child")
            .where(F.col("parent") > F.col("child"))
            .select(F.col("parent").alias("child"), F.col("m").alias("parent"))
            .distinct()
        )
        lowest = large.groupBy("child").agg(F.min("parent").alias("m"))
        small = (
            large.join(lowest, "child")
            .where(F.col("parent") != F.col("m"))
            .select(F.col("parent").alias("child"), F.col("m").alias("parent"))
            .union(lowest.select("child", F.col("m").alias("parent")))
            .distinct()
        )
        e = pin(small)
        ends = e.select(F.col("child").alias("n"), F.lit(1).alias("up"), F.lit(0).alias("down")).union(
            e.select(F.col("parent").alias("n"), F.lit(0).alias("up"), F.lit(1).alias("down"))
        )
        nodes = ends.groupBy("n").agg(F.sum("up").alias("parents"), F.max("down").alias("children"))
        if nodes.where("parents > 1 OR (parents > 0 AND children > 0)").limit(1).count() == 0:
            # a forest of stars: every child hangs off its component's minimum
            return e.select(F.col("child").alias("node"), F.col("parent").alias("root")).union(
                e.select(F.col("parent").alias("node"), F.col("parent").alias("root")).distinct()
            )
