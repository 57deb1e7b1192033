"""Clustering on the executors: exact keys and MinHash signatures, LSH candidates, verification, components.

Every step calls the local engine's pure functions on partitions (:func:`~dqaudit.features.exact.exact_keys`,
:func:`~dqaudit.dedup.minhash.signatures`, ``band_keys``, ``shingle_sets``/``exact_jaccard_pairs``,
:func:`~dqaudit.dedup.minhash.estimate_floor`, :func:`~dqaudit.dedup.minhash.verified`) and replays the
local tie-breaking rules (representative = first record of identical signatures, buckets in record
order, linear pairing of buckets over :data:`~dqaudit.dedup.minhash.MAX_BUCKET_PAIRS` members), so
clusters are the same partitions of records as on one machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from ...dedup.minhash import MinHashParams


def sign_and_key(records: DataFrame, params: MinHashParams) -> DataFrame:
    """Per record: exact-duplicate key (null for an empty text), has shingles, band keys, low bytes."""
    from ...dedup.minhash import EMPTY, band_keys, signatures
    from ...features.exact import EMPTY_KEY, exact_keys

    def compute(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            texts = batch["text"].tolist()
            sigs = signatures(texts, params)
            live = (sigs != EMPTY).any(axis=1)
            whole = band_keys(sigs, 1, params.num_perm)[:, 0]
            keys = band_keys(sigs, params.bands, params.rows).view(np.int64)
            exact = exact_keys(texts)
            nkey = pd.array(exact.view(np.int64), dtype="Int64")
            nkey[exact == EMPTY_KEY] = pd.NA  # empty texts are no duplicate group (as exact_groups says)
            yield pd.DataFrame(
                {
                    "rid": batch["rid"].to_numpy(),
                    "nkey": nkey,
                    "live": live,
                    "whole": whole.view(np.int64),
                    "keys": list(keys),
                    # only the low byte of each value: all the b-bit estimate reads, a quarter of the bytes
                    "low": [row.tobytes() for row in sigs.astype("<u4").view(np.uint8)[:, ::4]],
                }
            )

    schema = "rid long, nkey long, live boolean, whole long, keys array<long>, low binary"
    return records.select("rid", "text").mapInPandas(compute, schema)


def candidate_pairs(signed: DataFrame) -> tuple[DataFrame, DataFrame]:
    """Identical-signature edges ``(representative, copy, 1.0)`` and the representatives' rows.

    Mirrors ``minhash.near_duplicate_pairs``: the representative of identical signatures
    is their first record; only representatives take part in LSH.
    """
    from pyspark.sql import functions as F

    live = signed.where("live")
    reps = live.groupBy("whole").agg(F.min("rid").alias("rep"))
    linked = live.join(reps, "whole")
    copies = linked.where(F.col("rid") != F.col("rep")).select(
        F.col("rep").alias("a"), F.col("rid").alias("b"), F.lit(1.0).alias("sim")
    )
    return copies, linked.where(F.col("rid") == F.col("rep")).select("rid", "keys", "low")


def bucket_edges(
    representatives: DataFrame, records: DataFrame, params: MinHashParams
) -> tuple[DataFrame, int]:
    """Verified edges ``(a, b, sim)`` (cached) between representatives, found inside the LSH buckets, and the
    number of distinct LSH candidates (as ``minhash.near_duplicate_pairs`` counts them).

    Each bucket of two or more members is gathered in one partition with its members'
    band keys, signature low bytes and texts, and run through the local engine's compiled
    loop (:func:`~dqaudit.dedup.kernels.band_candidates`): a pair is generated only in the
    first band where the two share a bucket of at most
    :data:`~dqaudit.dedup.minhash.MAX_BUCKET_PAIRS` members, estimated there, and the pairs
    that pass are verified on exact shingle sets in the same task. So no candidate pair is
    ever materialised, de-duplicated or joined with texts; only the rare pairs of larger
    (linearly paired) buckets, which may repeat across bands, are de-duplicated afterwards.
    """
    from pyspark.sql import functions as F

    from ...dedup.minhash import MAX_BUCKET_PAIRS

    exploded = representatives.select("rid", F.posexplode("keys").alias("band", "key"))
    buckets = (
        exploded.groupBy("band", "key")
        .agg(F.collect_list("rid").alias("m"))
        .where(F.size("m") > 1)
        .select("band", "key", F.size("m").alias("size"), F.explode("m").alias("rid"))
        .cache()
    )
    large = [
        (int(r["band"]), int(r["key"]))
        for r in buckets.where(F.col("size") > MAX_BUCKET_PAIRS).select("band", "key").distinct().collect()
    ]
    members = (
        buckets.select("band", "key", "rid")
        .join(representatives, "rid")
        .join(records.select("rid", "text"), "rid")
    )
    found = (
        members.repartition("band", "key")
        .sortWithinPartitions("band", "key", "rid")
        .mapInPandas(_bucket_pairs(params, large), "a long, b long, sim double, kind int")
        .cache()
    )
    seen = found.where("kind = 2").agg(F.sum("a")).first()[0] or 0
    wide = found.where("kind = 1").select("a", "b", "sim").distinct().cache()
    candidates = int(seen) + wide.count()
    edges = found.where("kind = 0").select("a", "b", "sim").union(wide.where("sim >= 0")).cache()
    edges.count()
    for data in (buckets, found, wide):
        data.unpersist()
    return edges, candidates


#: Output kinds of :func:`_bucket_pairs`: a verified small-bucket edge, a large-bucket pair
#: (``sim`` its exact Jaccard when it is an edge, else -1), the count of small-bucket candidates.
_EDGE, _WIDE, _SEEN = 0, 1, 2


def _bucket_pairs(params: MinHashParams, large: list[tuple[int, int]]) -> Any:
    """The ``mapInPandas`` function of :func:`bucket_edges` (rows sorted by band, key, rid)."""
    from ...dedup import kernels
    from ...dedup.minhash import (
        MAX_BUCKET_PAIRS,
        _low_bytes,
        estimate_floor,
        exact_jaccard_table,
        shingle_table,
        verified,
    )

    bands = params.bands
    large_keys = [np.sort(np.array([k for b, k in large if b == s], np.int64)) for s in range(bands)]
    floor = estimate_floor(params.threshold)

    def pairs_of(rows: pd.DataFrame) -> list[pd.DataFrame]:
        """Complete buckets in; verified edges, large-bucket pairs and the candidate count out."""
        m = len(rows)
        keys = np.stack(rows["keys"].to_numpy()).astype(np.int64)
        ids = np.empty((m, bands), np.int32)
        for s in range(bands):  # equal for two rows exactly when they share a small bucket in band s
            code = np.unique(keys[:, s], return_inverse=True)[1].astype(np.int32)
            ids[:, s] = np.where(np.isin(keys[:, s], large_keys[s]), -1 - np.arange(m, dtype=np.int32), code)
        low = _low_bytes(
            np.frombuffer(b"".join(rows["low"]), np.uint8).reshape(m, params.num_perm).astype("<u4")
        )
        band = rows["band"].to_numpy()
        rid = rows["rid"].to_numpy()
        everything = np.arange(m, dtype=np.int64)
        kept, wide, seen = [], [], 0
        for t in np.unique(band):
            lo, hi = np.searchsorted(band, [t, t + 1])
            sorted_keys = np.zeros((bands, hi - lo), np.uint64)
            sorted_keys[t] = keys[lo:hi, t].view(np.uint64)
            orders = np.zeros((bands, hi - lo), np.int64)
            orders[t] = np.arange(hi - lo)
            small, count, big = kernels.band_candidates(
                ids[lo:hi],
                sorted_keys,
                orders,
                everything[lo:hi],
                low,
                params.num_perm,
                MAX_BUCKET_PAIRS,
                int(t),
                int(t) + 1,
                floor,
            )
            kept.append(small)
            wide.append(big)
            seen += count
        kept_pairs, wide_pairs = np.concatenate(kept), np.concatenate(wide)
        wide_close = np.flatnonzero(kernels.pair_estimates(low, wide_pairs, params.num_perm) >= floor)
        check = np.concatenate([kept_pairs, wide_pairs[wide_close]])
        sims = np.zeros(0)
        if len(check):
            involved, local = np.unique(check, return_inverse=True)
            flat, bounds = shingle_table(rows["text"].to_numpy()[involved].tolist(), params)
            sims = exact_jaccard_table(flat, bounds, local.reshape(-1, 2))
        ok = verified(sims, params.threshold)
        n = len(kept_pairs)
        wide_sim = np.full(len(wide_pairs), -1.0)
        wide_sim[wide_close] = np.where(ok[n:], sims[n:], -1.0)
        return [
            _frame(rid[kept_pairs[ok[:n], 0]], rid[kept_pairs[ok[:n], 1]], sims[:n][ok[:n]], _EDGE),
            _frame(rid[wide_pairs[:, 0]], rid[wide_pairs[:, 1]], wide_sim, _WIDE),
            _frame(np.array([seen]), np.zeros(1, np.int64), np.zeros(1), _SEEN),
        ]

    def compute(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        pending: pd.DataFrame | None = None
        for batch in batches:
            rows = batch if pending is None else pd.concat([pending, batch], ignore_index=True)
            band, key = rows["band"].to_numpy(), rows["key"].to_numpy()
            last = (band == band[-1]) & (key == key[-1])
            cut = int(np.argmax(last))  # the last bucket may continue in the next batch
            pending = rows.iloc[cut:].reset_index(drop=True)
            if cut:
                yield from pairs_of(rows.iloc[:cut].reset_index(drop=True))
        if pending is not None and len(pending):
            yield from pairs_of(pending)

    return compute


def _frame(a: np.ndarray, b: np.ndarray, sim: np.ndarray, kind: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "a": a.astype(np.int64),
            "b": b.astype(np.int64),
            "sim": sim.astype(np.float64),
            "kind": np.full(len(a), kind, np.int32),
        }
    )


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
