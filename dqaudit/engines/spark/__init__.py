"""The Spark engine: loading, MinHash, LSH, verification, clusters and duplicate groups as Spark jobs.

A package by job (docs/spark.md): :mod:`.session` (session, stage log, Java errors, collects one
partition per job), :mod:`.read` (files, rows, the canonical table), :mod:`.cluster` (keys,
signatures, LSH, verification), :mod:`.containment` (partial copies), :mod:`.aggregates`
(counts on the executors), :mod:`.features` (per-record features on the executors) and
:mod:`.write` (rendering, part files, publishing). Every stage calls the local engine's own
functions on partitions, so the two engines cannot drift apart.

Records are identified by ``rid = file_index << 40 | line``. The driver receives the verified
edges (the findings report their similarities) and partial copies, and takes the clusters' connected
components from them as the local engine does; each record's cluster root goes back to the executors for the
label aggregates. The driver also receives one row per record (the canonical table every checker
reads, with its exact-duplicate roots) and runs the checkers on what the engine provides
(:meth:`~dqaudit.context.AuditContext.provide`): the clusters, the exact groups, each cluster's
label counts (``label_noise`` fits its model on one representative per cluster) and, when a
check first asks, the annotation count tables aggregated on the executors and the per-record
features (text lengths, the language table) computed there. For ``split``, it also provides the
leakage re-check's search (:func:`.cluster.copy_search`), so the export collects no text either.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import DqauditError
from .aggregates import agreement_tally, conflict_counts, representatives
from .cluster import candidate_pairs, copy_search, sign_and_key, verify
from .containment import contained_pairs
from .features import on_executors, per_record_features
from .read import collect_dataset, list_files, read_rows, text_fetcher, text_mapper
from .session import Stages, collect_arrow, java_errors, keep, refuse_semantic, spark_session
from .write import target, write_outputs

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from ...cache import Cache
    from ...config import AuditConfig
    from ...context import AuditContext
    from ...pipeline import AuditResult
    from ...progress import Progress


@dataclass(frozen=True)
class SparkSource:
    """What the Spark export needs from the audit: the cached source rows, their ``rid``, files, stage log,
    and the cached annotated rows (``None`` without inline annotations), which the export also releases."""

    rows: DataFrame
    rid: np.ndarray
    uris: list[str]
    log: Stages
    annotated: DataFrame | None


class SparkEngine:
    """Loads, signs, clusters and groups on Spark; the driver runs the checkers on what it provides."""

    def open(self, data: str | Path, config: AuditConfig, *, progress: Progress | None, cache: Cache,
             for_export: bool, texts: frozenset[str]) -> AuditContext:
        path = str(data)
        refuse_semantic(config)
        spark = spark_session(config.engine)
        files = None
        if for_export:
            with java_errors(f"reading {path}"):
                files = list_files(spark, path)
        with java_errors(f"auditing {path} on Spark"):
            ctx, log, rows, rid, annotated = _cluster(spark, path, config, progress=progress, cache=cache,
                                                      keep_source=for_export, files=files, texts=texts)
        if for_export:
            uris = [uri for uri, _, _ in files or []]
            ctx.provide(SparkSource, SparkSource(rows, rid, uris, log, annotated))
        # after an audit the rows (and annotated rows) stay cached until the session stops: the per-record
        # features and the agreement tally read them when a check asks.
        # Not released from a finalizer: garbage collection can run it inside another py4j call.
        return ctx

    def check_destination(self, data: str | Path, out: str | Path, config: AuditConfig) -> None:
        """Input is any path Spark reads (file, folder, glob; ``file:``, ``hdfs://``, ``s3a://``...);
        ``out`` a local folder or a Hadoop URI."""
        from ...export import owned_names

        spark = spark_session(config.engine)
        with java_errors(f"reading {data}"):
            files = list_files(spark, str(data))
        target(spark, str(out), owned_names(config.export.chat)).check([uri for uri, _, _ in files])

    def export(self, result: AuditResult, out: str | Path, *, by_time: str | None) -> dict[str, Any]:
        """The local engine's plan and assignment; Spark renders and writes the files."""
        from ...export import owned_names, prepare_export
        from ...masking import report_masker
        from ...records import parquet_bytes

        ctx = result.context
        source: SparkSource | None = ctx.provided(SparkSource) if ctx is not None else None
        if ctx is None or source is None:
            raise DqauditError("the Spark export needs an audit opened for export (dqaudit.split)")
        log = source.log
        try:
            log.ran("checkers (findings, scores, cleanlab, agreement)", "driver")
            with log.stage("cleaning plan, group-aware split assignment, leakage counts", "driver"):
                prepared = prepare_export(ctx, result, by_time=by_time)
            spark = spark_session(ctx.config.engine)
            where = target(spark, str(out), owned_names(ctx.config.export.chat))
            records = None if result.records is None else parquet_bytes(result.records,
                                                                        report_masker(ctx.config))
            with java_errors(f"writing {out}"):
                def write(folder: str) -> dict[str, dict[str, Any]]:
                    return write_outputs(source.rows, source.rid, source.uris, ctx, prepared, folder, log)

                return where.publish(write, prepared.manifest, log, records)
        finally:
            for data in (source.rows, source.annotated):
                if data is not None:
                    data.unpersist()


def _cluster(
    spark: SparkSession,
    path: str,
    config: AuditConfig,
    *,
    progress: Progress | None = None,
    cache: Cache | None = None,
    keep_source: bool = False,
    files: list[tuple[str, int, int]] | None,
    texts: frozenset[str],
) -> tuple[AuditContext, Stages, DataFrame, np.ndarray, DataFrame | None]:
    """The context, its stage log, the cached input rows (for the split writer), each record's ``rid`` and
    the cached annotated rows (``None`` without inline annotations).

    Only the ``texts`` columns are collected into the frame (the others stay in the cached rows and
    reach the driver through ``ctx.texts`` for the rows a check asks for)."""
    import pyarrow as pa
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from ...context import AuditContext
    from ...dedup.minhash import clusters
    from ...features.consensus import annotation_tally
    from ...features.exact import exact_groups, number_groups
    from ...features.leakage import written_copies
    from ...features.near_dups import (
        NearDupFeatureParams,
        NearDuplicates,
        Representatives,
        minhash_params,
        near_duplicates,
    )
    from ...progress import NullProgress

    log = Stages(spark, progress or NullProgress())
    with log.stage("read, parse and quarantine rows", "spark"):
        rows, files, fmt, fields = read_rows(spark, path, config, keep_source=keep_source, files=files)
    with log.stage("collect the canonical table", "driver"):
        dataset, rid = collect_dataset(rows, path, files, fmt, fields, texts)
    log.info["texts_collected"] = sorted(texts)
    record_rows = rows.where(F.col("problem").isNull())
    annotated = None
    if dataset.frame["annotations"].notna().any():  # kept on the executors for the agreement aggregates
        annotated = (
            rows.where(F.col("problem").isNull() & F.col("annotations").isNotNull())
            .select("rid", "id", "annotations")
        )
        annotated = keep(annotated)
        annotated.count()
    ctx = AuditContext(dataset, config, progress=progress, cache=cache, options={"engine": log.info})
    ctx.fetch_texts_with(text_fetcher(record_rows, rid))
    ctx.map_texts_with(text_mapper(record_rows, rid))
    ctx.provide(written_copies, copy_search(record_rows, rid, log))  # the export's leakage re-check
    records = record_rows.select("rid", "text", "label")
    params = minhash_params(ctx)  # ``auto`` shingles resolved on a sample of the texts, as locally
    with log.stage("normalise, MinHash signatures and band keys", "spark"):
        signed = keep(sign_and_key(records, params))
        signed.count()  # signed here, once: the two LSH jobs below would otherwise both compute it
    with log.stage("LSH candidates and exact-Jaccard verification", "spark"):
        copies, candidates, candidate_count, estimated = candidate_pairs(signed, params)
        edges = keep(copies.union(verify(candidates, records, params)))
        edges.count()  # verify here, so its time is not charged to the collect below
    with log.stage("collect the verified edges", "driver"):
        # the findings need every edge's similarity on the driver, so the components come from those edges
        # there (scipy, as locally): a distributed loop would be a dozen rounds of Spark stages for nothing
        verified = collect_arrow(edges)
        pairs = np.stack([np.searchsorted(rid, verified.column(end).to_numpy()) for end in ("a", "b")],
                         axis=1).astype(np.int64)
        similarity = verified.column("sim").to_numpy()
        for data in (estimated, edges):
            data.unpersist()
    contained, containment = np.empty((0, 2), np.int64), np.empty(0)
    settings = NearDupFeatureParams.of(config, "near_duplicates").containment_settings()
    if settings is not None:
        with log.stage("partial copies: word counts, signatures, LSH Ensemble, exact containment", "spark"):
            small, large, containment = contained_pairs(records, settings, params)
            contained = np.stack([np.searchsorted(rid, small), np.searchsorted(rid, large)], axis=1)
    with log.stage("connected components", "driver"):
        # the edges and the partial copies' links, numbered by first row, as locally
        groups = clusters(len(rid), np.concatenate([pairs, contained]))
        near_root = rid[np.unique(groups, return_index=True)[1]][groups]  # a cluster's root: its first rid
        moved = np.flatnonzero(near_root != rid)
        roots = spark.createDataFrame(pa.table({"rid": rid[moved], "root": near_root[moved]}))
    with log.stage("exact-duplicate groups and conflicting labels", "spark"):
        # a group's root is its first record: the lowest rid with the key (one shuffle, no join back)
        first_with_key = F.min("rid").over(Window.partitionBy("nkey"))
        per_row = keep(
            signed.select("rid", "nkey", "live", "label")
            .withColumn("exact_root", F.when(F.col("nkey").isNotNull(), first_with_key).otherwise(F.lit(-1)))
            # broadcast while small (Spark's autoBroadcastJoinThreshold), else shuffled: forced, the
            # broadcast of 2.7 million roots at 5M rows ran out of a 1 GiB heap
            .join(roots, "rid", "left")
            .withColumn("near_root", F.coalesce("root", "rid"))
            .select("rid", "nkey", "live", "label", "exact_root", "near_root")
        )
        log.info["aggregates"] = conflict_counts(per_row)
    with log.stage("label counts per cluster (its representative: the first record)", "spark"):
        labelled = per_row.where(F.col("label").isNotNull())
        label_counts = labelled.groupBy("near_root", "label").count().toArrow()
    with log.stage("collect exact-group roots and live flags", "driver"):
        found = collect_arrow(per_row.select("rid", "live", "exact_root"))
        at = np.searchsorted(rid, found.column("rid").to_numpy())
        live = np.zeros(len(rid), bool)
        live[at] = found.column("live").to_numpy()
        exact_root = np.empty(len(rid), np.int64)
        exact_root[at] = found.column("exact_root").to_numpy()
    ctx.provide(
        near_duplicates,
        NearDuplicates(
            params.shingle,
            params.ngram,
            params.bands,
            params.rows,
            ~live,
            pairs,
            similarity,
            np.empty((0, 2), np.int64),
            np.empty(0),
            groups,
            candidate_count,
            contained,
            containment,
        ),
    )
    # roots are first rows, so numbering the roots numbers the groups as exact_groups numbers its keys
    ctx.provide(exact_groups, number_groups(exact_root, exact_root < 0, dataset.frame.index))
    found_representatives = representatives(rid, near_root, label_counts)
    log.info["aggregates"]["label_noise_model_rows"] = int(found_representatives.counts["cluster"].nunique())
    ctx.provide(Representatives, found_representatives)
    ctx.provide_lazy(annotation_tally, lambda: agreement_tally(ctx, annotated, log))
    for feature in per_record_features():
        ctx.provide_lazy(feature, lambda f=feature: on_executors(f, record_rows, ctx, rid, log))
    log.ran("checkers (findings, scores, cleanlab, agreement)", "driver")
    log.ran("label_noise model on one representative per cluster", "driver")
    for data in (signed, per_row):
        data.unpersist()
    return ctx, log, rows, rid, annotated


__all__ = ["SparkEngine", "SparkSource"]
