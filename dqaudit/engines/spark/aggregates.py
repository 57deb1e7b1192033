"""Aggregates computed on the executors: conflicting labels per group, label counts per cluster,
and the annotation count tables the agreement metrics read.

The driver-side assembly is the local code's: :meth:`~dqaudit.agreement.CountTable.from_counts`
builds the count tables, :func:`~dqaudit.features.consensus.inline_triples` reads inline
annotations on the executors and :func:`~dqaudit.features.consensus.label_folder` folds labels.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .session import keep

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

    from ...agreement import CountTable
    from ...context import AuditContext
    from ...features.near_dups import Representatives
    from .session import Stages


def conflict_counts(table: DataFrame) -> dict[str, int]:
    """Cluster and exact-group counts with conflicting labels (report.json ``run.engine.aggregates``)."""
    from pyspark.sql import functions as F

    # "more than one distinct value" as min < max (nulls ignored, as countDistinct ignores them): two
    # countDistinct in one aggregation made Spark expand every row into one copy per distinct column
    def several(column: str) -> Column:
        return F.min(column) < F.max(column)

    near = (
        table.groupBy("near_root")
        .agg(F.count("*").alias("size"), several("nkey").alias("texts"), several("label").alias("labels"))
        .where("size > 1 AND texts")
    )
    exact = (
        table.where("exact_root >= 0")
        .groupBy("exact_root")
        .agg(F.count("*").alias("size"), several("label").alias("labels"))
        .where("size > 1")
    )
    n = near.agg(
        F.count("*").alias("clusters"),
        F.sum(F.when(F.col("labels"), 1).otherwise(0)).alias("conflicting_clusters"),
        F.sum(F.when(F.col("labels"), F.col("size")).otherwise(0)).alias("conflicting_rows"),
        F.sum("size").alias("rows_in_clusters"),
    ).first()
    x = exact.agg(
        F.sum(F.when(F.col("labels"), 0).otherwise(1)).alias("duplicate_groups"),
        F.sum(F.when(F.col("labels"), 1).otherwise(0)).alias("conflicting_groups"),
        F.sum(F.when(F.col("labels"), F.col("size")).otherwise(0)).alias("conflicting_rows"),
    ).first()
    return {
        "near_duplicate_clusters": int(n["clusters"] or 0),
        "near_duplicate_rows_in_clusters": int(n["rows_in_clusters"] or 0),
        # clusters with several labels: the check tells real conflicts from content-different near-copies
        "near_duplicate_mixed_label_clusters": int(n["conflicting_clusters"] or 0),
        "near_duplicate_mixed_label_rows": int(n["conflicting_rows"] or 0),
        "exact_duplicate_groups": int(x["duplicate_groups"] or 0),
        "exact_conflicting_groups": int(x["conflicting_groups"] or 0),
        "exact_conflicting_rows": int(x["conflicting_rows"] or 0),
    }


def representatives(rid: np.ndarray, near_root: np.ndarray, label_counts: Any) -> Representatives:
    """The label-noise model's input: each cluster's root (its lowest ``rid``: the first record) and counts.

    ``label_counts`` are ``(near_root, label, count)`` rows from the executors; clusters are
    numbered by their first row, as ``near_duplicate_groups`` numbers them.
    """
    from ...features.near_dups import Representatives

    roots, cluster = np.unique(near_root, return_inverse=True)
    counts = pd.DataFrame(
        {
            "cluster": np.searchsorted(roots, label_counts.column("near_root").to_numpy()),
            "label": label_counts.column("label").to_pylist(),
            "count": label_counts.column("count").to_numpy().astype(np.int64),
        }
    )
    return Representatives(cluster.astype(np.int64), np.searchsorted(rid, roots), counts)


def agreement_tally(ctx: AuditContext, annotated: DataFrame | None, log: Stages) -> CountTable:
    """Per-item category counts and annotator-pair confusion tables, aggregated on the executors.

    Inline annotations are read from the cached Spark rows with the local rules
    (:func:`~dqaudit.features.consensus.inline_triples`); the long-format file, read and
    checked on the driver as locally (cleanlab's multi-annotator model needs its cells
    there anyway), is shipped to the executors as triples. A repeated (item, annotator)
    keeps its last label and items keep their first appearance, as :class:`Ratings` does,
    so the counts are the matrix's counts in the same order.
    """
    from pyspark.sql import SparkSession, Window
    from pyspark.sql import functions as F

    from ...agreement import CountTable
    from ...features.consensus import inline_triples, label_folder, long_triples
    from ...registry import check_params

    params = check_params(ctx.config, "agreement")  # the agreement check's whole block (min_shared_items too)
    fold = label_folder(params)
    schema = "item string, annotator string, label string, src int, k long, pos long"

    def explode(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            notes = [None if v is None else [tuple(p) for p in v] for v in batch["annotations"]]
            found, _ = inline_triples(batch["id"].tolist(), notes)
            yield pd.DataFrame(
                {
                    "item": [t[2] for t in found],
                    "annotator": [t[3] for t in found],
                    "label": [fold(t[4]) for t in found],
                    "src": np.zeros(len(found), np.int32),
                    "k": batch["rid"].to_numpy()[[t[0] for t in found]].astype(np.int64),
                    "pos": np.array([t[1] for t in found], np.int64),
                }
            )

    with log.stage("agreement aggregates (per-item category counts, annotator-pair tables)", "spark"):
        spark = SparkSession.getActiveSession()
        more = long_triples(ctx)[0]
        long_rows = pd.DataFrame(
            {
                "item": [t[0] for t in more],
                "annotator": [t[1] for t in more],
                "label": [fold(t[2]) for t in more],
                "src": np.ones(len(more), np.int32),
                "k": np.arange(len(more), dtype=np.int64),
                "pos": np.zeros(len(more), np.int64),
            }
        )
        triples = spark.createDataFrame(long_rows, schema)
        if annotated is not None:
            triples = annotated.mapInPandas(explode, schema).unionByName(triples)
        last = Window.partitionBy("item", "annotator").orderBy(F.desc("src"), F.desc("k"), F.desc("pos"))
        cells = (
            triples.withColumn("n", F.row_number().over(last))
            .where("n = 1")
            .select("item", "annotator", "label")
        )
        cells = keep(cells)
        first = triples.groupBy("item").agg(F.min(F.struct("src", "k", "pos")).alias("o"))
        per_item = (
            cells.groupBy("item", "label")
            .count()
            .join(first, "item")
            .select("item", "label", "count", "o.src", "o.k", "o.pos")
            .toArrow()
        )
        pairs = (
            cells.toDF("item", "a", "la")
            .join(cells.toDF("item", "b", "lb"), "item")
            .where(F.col("a") < F.col("b"))
            .groupBy("a", "b", "la", "lb")
            .count()
            .withColumn("shared", F.sum("count").over(Window.partitionBy("a", "b")))
            .where(F.col("shared") >= params.min_shared_items)
            .select("a", "b", "la", "lb", "count")
            .toArrow()
        )
        for data in (cells, annotated):
            if data is not None:
                data.unpersist()
    log.ran("agreement: cleanlab consensus, annotator quality, review file", "driver")
    order = pd.DataFrame(per_item.select(["item", "src", "k", "pos"]).to_pydict()).drop_duplicates("item")
    items = tuple(order.sort_values(["src", "k", "pos"], kind="stable")["item"])
    return CountTable.from_counts(
        items,
        per_item.column("item").to_pylist(),
        per_item.column("label").to_pylist(),
        per_item.column("count").to_numpy(),
        zip(*(pairs.column(c).to_pylist() for c in ("a", "b", "la", "lb", "count")), strict=True),
    )
