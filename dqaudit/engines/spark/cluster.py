"""Clustering on the executors: exact keys and MinHash signatures, LSH candidates, verification, components.

Every step calls the local engine's pure functions on partitions (:func:`~dqaudit.features.exact.exact_keys`,
:func:`~dqaudit.dedup.minhash.signatures`, ``band_keys``, ``shingle_sets``/``exact_jaccard_pairs``,
:func:`~dqaudit.dedup.minhash.estimate_floor`, :func:`~dqaudit.dedup.minhash.verified`) and replays the
local tie-breaking rules (representative = first record of identical signatures, buckets in record
order, linear pairing of buckets over :data:`~dqaudit.dedup.minhash.MAX_BUCKET_PAIRS` members), so
clusters are the same partitions of records as on one machine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

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


def candidate_pairs(signed: DataFrame) -> tuple[DataFrame, DataFrame]:
    """Identical-signature edges (representative, copy) and LSH candidate pairs of representatives.

    Mirrors ``minhash.near_duplicate_pairs``: the representative of identical signatures
    is their first record; bucket members are in record order.
    """
    from pyspark.sql import functions as F

    live = signed.where("live")
    reps = live.groupBy("whole").agg(F.min("rid").alias("rep"))
    linked = live.join(reps, "whole")
    copies = linked.where(F.col("rid") != F.col("rep")).select(
        F.col("rep").alias("a"), F.col("rid").alias("b"), F.lit(1.0).alias("sim")
    )
    members = (
        linked.where(F.col("rid") == F.col("rep"))
        .select(F.posexplode("keys").alias("band", "key"), "rid")
        .repartition("band", "key")
        .sortWithinPartitions("band", "key", "rid")
    )
    pairs = members.mapInPandas(_bucket_pairs, "a long, b long")
    return copies, pairs.distinct()


def _bucket_pairs(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """The candidate pairs of each bucket in a partition sorted by (band, key, rid), as ``(a, b)``, ``a < b``.

    A bucket of up to :data:`~dqaudit.dedup.minhash.MAX_BUCKET_PAIRS` members yields all its
    pairs, a larger one each member with the first and from the third on with the previous
    (the local rule). A bucket may span two batches: the last bucket of a batch waits for the
    next one. Sorting and pairing here instead of collecting each bucket's members into a list
    (an object aggregate) keeps the JVM's memory to Spark's external sort, which spills.
    """
    from ...dedup.minhash import MAX_BUCKET_PAIRS

    columns = ("band", "key", "rid")
    held = [np.empty(0, np.int64)] * 3  # band, key, rid of the bucket still open
    for batch in batches:
        band, key, rid = (
            np.concatenate([h, batch[c].to_numpy(np.int64)]) for h, c in zip(held, columns, strict=True)
        )
        if not len(rid):
            continue
        starts = np.flatnonzero(np.r_[True, (band[1:] != band[:-1]) | (key[1:] != key[:-1])])
        held = [band[starts[-1]:], key[starts[-1]:], rid[starts[-1]:]]
        yield _pairs_of_runs(rid[: starts[-1]], starts[:-1], MAX_BUCKET_PAIRS)
    yield _pairs_of_runs(held[2], np.zeros(1, np.int64), MAX_BUCKET_PAIRS)


def _pairs_of_runs(rid: np.ndarray, starts: np.ndarray, cap: int) -> pd.DataFrame:
    """Pairs within each run ``rid[starts[k]:starts[k + 1]]`` (the last ends at ``len(rid)``), ascending."""
    starts = starts[: len(rid)]  # no run in an empty ``rid``
    sizes = np.diff(np.r_[starts, len(rid)])
    a_parts, b_parts = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
    for size in np.unique(sizes[(sizes > 1) & (sizes <= cap)]):
        first = starts[sizes == size]
        i, j = np.triu_indices(size, 1)
        a_parts.append(rid[(first[:, None] + i).ravel()])
        b_parts.append(rid[(first[:, None] + j).ravel()])
    for start, size in zip(starts[sizes > cap], sizes[sizes > cap], strict=True):
        members = rid[start:start + size]
        a_parts += [np.full(size - 1, members[0]), members[1:-1]]
        b_parts += [members[1:], members[2:]]
    return pd.DataFrame({"a": np.concatenate(a_parts), "b": np.concatenate(b_parts)})


def verify(candidates: DataFrame, records: DataFrame, signed: DataFrame, params: MinHashParams) -> DataFrame:
    """Candidates whose signatures estimate Jaccard near the threshold and whose exact Jaccard reaches it.

    The same two steps as ``minhash.near_duplicate_pairs``: the b-bit estimate drops pairs
    below :func:`~dqaudit.dedup.minhash.estimate_floor`, the shingle sets decide the rest
    (:func:`~dqaudit.dedup.minhash.verified`). ``(a, b, sim)``. The estimate runs first, on the
    signatures' low bytes alone (read as one numpy block per Arrow batch, see
    :func:`_estimate_filter`), so only the candidates that pass it (about a tenth) are joined
    with their texts.
    """
    from ...dedup.minhash import exact_jaccard_pairs, shingle_sets, verified

    low = signed.select("rid", "low")
    with_low = candidates.join(low.toDF("a", "la"), "a").join(low.toDF("b", "lb"), "b")
    keep_close = _estimate_filter(_most_differing(params))
    close = with_low.select("a", "b", "la", "lb").mapInArrow(keep_close, "a long, b long")
    text = records.select("rid", "text")
    joined = close.join(text.toDF("a", "ta"), "a").join(text.toDF("b", "tb"), "b")

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
    offsets = np.frombuffer(column.buffers()[1], np.int32)[column.offset : column.offset + len(column) + 1]
    data = np.frombuffer(column.buffers()[2], np.uint8)[offsets[0] : offsets[-1]]
    return data.reshape(len(column), -1)


def _estimate_filter(most_differing: int) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """A ``mapInArrow`` function keeping the ``(a, b)`` whose low bytes ``la``, ``lb`` differ in at most
    ``most_differing`` places (:func:`_most_differing`): the local estimate filter, exactly."""
    import pyarrow as pa

    def keep_close(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            differ = (_rows_of(batch.column("la")) != _rows_of(batch.column("lb"))).sum(axis=1)
            yield batch.select(["a", "b"]).filter(pa.array(differ <= most_differing))

    return keep_close


def _most_differing(params: MinHashParams) -> int:
    """The most differing low bytes a pair may have and still reach the estimate floor.

    The local filter keeps a pair when ``kernels._low_bits_estimate >= estimate_floor``; the
    estimate falls as the count of differing bytes grows, so the same float expression is
    evaluated here for every count and the filter becomes an exact integer comparison.
    """
    from ...dedup.minhash import estimate_floor

    width, floor = params.num_perm, estimate_floor(params.threshold)
    passing = [d for d in range(width + 1) if ((width - d) / width - 1 / 256) / (1 - 1 / 256) >= floor]
    return max(passing, default=-1)


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
