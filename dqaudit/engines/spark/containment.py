"""Partial copies on the executors: the local LSH Ensemble search (:mod:`dqaudit.dedup.containment`), by job.

1. Each record's words are counted where it is cached (``_word_counts``, the same pre-filter); only
   texts of ``min_words`` words get word n-gram signatures, a size class and a whole-signature key.
2. The first record of each identical signature represents it (the local ``distinct_signatures``).
3. The driver pairs the size classes present (``class_pairs``, a handful of numbers); each
   representative goes to the group of every class pair it belongs to, and each group runs the
   local search for its pair (``class_pair_candidates``: the same bands, bucket cap and estimate, on
   its records in record order), so the candidates are the local ones.
4. The distinct candidates are joined with their two texts and verified by the local arithmetic
   (``shingle_table``, ``exact_containment``).

The driver receives the class numbers and the verified pairs, never a signature or a text. One
group holds the signatures of two size classes (512 bytes per text at 128 permutations): a class of
millions of long texts needs an executor with that much memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from .cluster import _as_binary, _rows_of, pair_texts, shingled_pairs

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from ...dedup.containment import ContainmentParams
    from ...dedup.minhash import MinHashParams


def contained_pairs(records: DataFrame, settings: ContainmentParams,
                    base: MinHashParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Verified partial copies among ``records`` (``rid``, ``text``): ``(contained, container)`` rids,
    their containments, in the local order (by the undirected pair's rids)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from ...dedup.containment import class_pairs
    from .session import collect_arrow, keep

    minhash = settings.minhash(base)
    signed = keep(records.select("rid", "text").mapInArrow(
        lambda batches: _sign(batches, settings, minhash), "rid long, cls long, whole long, sig binary"))
    none = np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    if signed.count() < 2:  # counted on every core: short requests end the search here
        signed.unpersist()
        return none
    first = F.min("rid").over(Window.partitionBy("whole"))
    reps = keep(signed.withColumn("first", first).where(F.col("rid") == F.col("first")).drop("first"))
    try:
        present = np.array(sorted(row[0] for row in reps.select("cls").distinct().collect()), np.int64)
        pairs = class_pairs(present, settings)
        if not pairs:
            return none
        grouped = reps.mapInArrow(lambda batches: _to_class_pairs(batches, pairs), "p int, rid long, "
                                  "cls long, sig binary")
        candidates = grouped.groupBy("p").applyInArrow(
            lambda key, table: _search(key, table, pairs, settings, minhash.num_perm), "a long, b long"
        ).distinct()
        found = collect_arrow(pair_texts(candidates, records).mapInArrow(
            lambda batches: _verify(batches, settings.threshold, minhash),
            "a long, b long, first_contained boolean, value double"))
    finally:
        for data in (signed, reps):
            data.unpersist()
    a, b = found.column("a").to_numpy(), found.column("b").to_numpy()
    order = np.lexsort((b, a))
    a, b = a[order], b[order]
    first_contained = found.column("first_contained").to_numpy(zero_copy_only=False)[order]
    value = found.column("value").to_numpy()[order]
    return np.where(first_contained, a, b), np.where(first_contained, b, a), value


def _sign(batches: Iterator[Any], settings: ContainmentParams, minhash: MinHashParams) -> Iterator[Any]:
    """Per record of ``min_words`` words or more: its size class, whole-signature key and signature.

    The local pre-filter (``_word_counts``: an ASCII text shorter than ``2 * min_words - 1`` characters
    cannot have the words) runs in Arrow, so short requests never become Python strings; the texts it
    keeps are counted.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from ...dedup.containment import size_classes
    from ...dedup.minhash import band_keys, signatures, word_counts

    shortest = 2 * settings.min_words - 1
    for batch in batches:
        column = batch.column("text")
        maybe = pc.or_(pc.greater_equal(pc.utf8_length(column), shortest),
                       pc.invert(pc.string_is_ascii(column))).fill_null(False)
        texts = column.filter(maybe).to_pylist()
        if not texts:
            continue
        words = word_counts(texts, minhash)
        eligible = np.flatnonzero(words >= settings.min_words)
        if not len(eligible):
            continue
        rid = batch.column("rid").filter(maybe).take(pa.array(eligible))
        sigs = signatures([texts[i] for i in eligible], minhash)
        classes = size_classes(words[eligible] - settings.ngram + 1, settings)
        whole = band_keys(sigs, 1, minhash.num_perm)[:, 0]
        yield pa.RecordBatch.from_arrays(
            [rid, pa.array(classes), pa.array(whole.view(np.int64)),
             _as_binary(np.ascontiguousarray(sigs).view(np.uint8))],
            ["rid", "cls", "whole", "sig"],
        )


def _to_class_pairs(batches: Iterator[Any], pairs: list[tuple[int, int, float]]) -> Iterator[Any]:
    """Each representative once per class pair (its index ``p`` in ``pairs``) that holds its class."""
    import pyarrow as pa

    for batch in batches:
        classes = batch.column("cls").to_numpy()
        for p, (i, j, _) in enumerate(pairs):
            mine = np.flatnonzero((classes == i) | (classes == j))
            if len(mine):
                picked = batch.take(pa.array(mine))
                yield pa.RecordBatch.from_arrays(
                    [pa.array(np.full(len(mine), p, np.int32)), picked.column("rid"), picked.column("cls"),
                     picked.column("sig")],
                    ["p", "rid", "cls", "sig"],
                )


def _search(key: tuple[Any, ...], table: Any, pairs: list[tuple[int, int, float]],
            settings: ContainmentParams, num_perm: int) -> Any:
    """One class pair's candidates, as ``(a, b)`` rids with ``a < b``: the local search on its records."""
    import pyarrow as pa

    from ...dedup.containment import class_pair_candidates

    table = table.sort_by("rid")
    rid, classes = table.column("rid").to_numpy(), table.column("cls").to_numpy()
    sigs = np.ascontiguousarray(_rows_of(table.column("sig").combine_chunks())).view(np.uint32)
    sigs = sigs.reshape(len(rid), num_perm)
    found, _ = class_pair_candidates(sigs, classes, np.arange(len(rid), dtype=np.int64),
                                     pairs[key[0].as_py()], settings, num_perm)
    return pa.table({"a": rid[found[:, 0]], "b": rid[found[:, 1]]})


def _verify(batches: Iterator[Any], threshold: float, minhash: MinHashParams) -> Iterator[Any]:
    """The candidates whose containment is verified: ``(a, b, first_contained, value)``."""
    import pyarrow as pa

    from ...dedup.containment import exact_containment

    for batch in batches:
        a, b, flat, bounds, pairs = shingled_pairs(batch, minhash)
        ok, first_contained, value = exact_containment(flat, bounds, pairs, threshold)
        yield pa.RecordBatch.from_arrays(
            [pa.array(a[ok]), pa.array(b[ok]), pa.array(first_contained[ok]), pa.array(value[ok])],
            ["a", "b", "first_contained", "value"],
        )
