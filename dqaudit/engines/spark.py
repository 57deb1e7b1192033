"""The Spark engine: loading, MinHash, LSH, verification, clusters and duplicate groups as Spark jobs.

Every stage calls the same pure functions as the local engine (``_Builder`` for the
record rules, :func:`~dqaudit.dedup.minhash.signatures`, ``band_keys``,
``shingle_sets``/``exact_jaccard_pairs``, :func:`~dqaudit.text.normalize`) on
partitions, and replays the local tie-breaking rules (representative = first row of
identical signatures, buckets in record order, linear pairing of buckets over 32
members, the b-bit estimate before exact Jaccard), so clusters are the same partitions
of records as on one machine.

Records are identified by ``rid = file_index << 40 | line``; clusters come out of a
large-star/small-star connected-components loop whose edges never leave the
executors. The driver then receives one row per record (the canonical table every
checker reads, with its cluster and exact-duplicate roots) and runs the checkers on
what the context memoises: the clusters, each cluster's label counts (``label_noise``
fits its model on one representative per cluster) and, when ``agreement`` first asks,
the annotation count tables aggregated on the executors.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np
import orjson
import pandas as pd

from ..data import COLUMNS, Dataset, LoadProblem, SourceInfo, _Builder, detect_format
from ..errors import ConfigError, DqauditError, InputError, MissingDependency
from ..features.near_dups import NearDupFeatureParams
from ..text import normalize

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from ..agreement import CountTable
    from ..cache import Cache
    from ..config import AuditConfig, EngineConfig, FieldsConfig
    from ..context import AuditContext
    from ..dedup.minhash import MinHashParams
    from ..export import PreparedExport
    from ..features.near_dups import Representatives
    from ..pipeline import AuditResult
    from ..progress import Progress

#: ``rid = file_index << FILE_SHIFT | line``: a record's identity on every executor.
FILE_SHIFT = 40
#: Buckets with more members are paired linearly, as ``minhash.candidate_pairs`` does.
MAX_BUCKET_PAIRS = 32
_ROW_SCHEMA = (
    "rid long, line long, problem string, message string, raw string, field string, id string, text string, "
    "label string, lang string, created_at string, policy_version string, `group` string, split string, "
    "output string, "
    "annotations array<array<string>>, text_hash string, source string"
)
_STRING_COLUMNS = (
    "id",
    "text",
    "label",
    "lang",
    "created_at",
    "policy_version",
    "group",
    "split",
    "output",
    "text_hash",
)


# --- session --------------------------------------------------------------------------------------------


def spark_session(engine: EngineConfig) -> SparkSession:
    """The active session (spark-submit, notebooks, tests) or a new one from ``engine``; clear errors."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise MissingDependency("pyspark", "spark", "--engine spark") from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise DqauditError(
            "--engine spark needs Java 17 or newer: install a JDK "
            "(e.g. apt install openjdk-17-jre-headless) or set JAVA_HOME"
        )
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # local executors run this interpreter
    builder = SparkSession.builder.appName(engine.app_name)
    if engine.master:
        builder = builder.master(engine.master)
    elif "PYSPARK_GATEWAY_PORT" not in os.environ:  # not under spark-submit, which sets the master itself
        builder = builder.master("local[*]")
    settings = {
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        **{k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in engine.conf.items()},
    }
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        return builder.getOrCreate()
    except Exception as exc:  # py4j and the launcher raise many types; the first line says what broke
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DqauditError(f"could not start Spark (master {engine.master or 'local[*]'}): {first}") from None


# --- loading --------------------------------------------------------------------------------------------


def list_files(spark: SparkSession, path: str) -> list[tuple[str, int, int]]:
    """``(uri, bytes, mtime)`` of the files ``path`` names (a file, a folder or a glob, on any Hadoop FS)."""
    jvm = spark.sparkContext._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    fs = hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    found = []
    for status in fs.globStatus(hpath) or []:
        children = fs.listStatus(status.getPath()) if status.isDirectory() else [status]
        for child in children:
            name = child.getPath().getName()
            if child.isFile() and not name.startswith(("_", ".")):
                found.append(
                    (child.getPath().toString(), int(child.getLen()), int(child.getModificationTime()))
                )
    if not found:
        raise InputError(path, "no such file, or the folder or pattern holds no data files")
    return sorted(found)


def _parse_partition(
    rows: Iterator[tuple[int, int, str, Any]], fields: FieldsConfig, fmt: str, keep_source: bool
) -> Iterator[tuple[Any, ...]]:
    """One output row per non-blank input row: a record, or a problem with the loader's reason.

    ``rows`` are ``(file_index, line, raw, parsed)``; for JSONL and CSV ``parsed`` is the
    raw text parsed here by the local loader's rules, for Parquet the record itself.
    ``keep_source`` keeps what the split writer copies: the JSON line as read (JSONL) or
    the parsed record as JSON (CSV, Parquet); None where the row did not parse.
    """
    builder = _Builder(Path("<spark>"), fields)
    for file_index, line, raw, parsed in rows:
        rid = (file_index << FILE_SHIFT) | line
        if fmt == "jsonl":
            if line == 1:
                raw = raw.removeprefix("\ufeff")
            raw = raw.rstrip("\r")
            if not raw.strip(" \t\n\r\x0b\x0c"):
                continue
            try:
                parsed = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                parsed = LoadProblem(line, "malformed_json", f"invalid JSON: {exc}", raw)
        source = None
        if keep_source and not isinstance(parsed, LoadProblem):
            source = raw if fmt == "jsonl" else orjson.dumps(parsed, default=str).decode()
        before = len(builder.problems)
        builder.add(line, raw, parsed)
        if len(builder.problems) > before:
            p = builder.problems.pop()
            yield (rid, line, p.kind, p.message, p.raw, p.field, *([None] * 11), source)
            continue
        record = {name: values.pop() for name, values in builder.columns.items()}
        notes = record["annotations"]
        yield (
            rid,
            line,
            None,
            None,
            None,
            None,
            *(record[c] for c in _STRING_COLUMNS[:-1]),
            None if notes is None else [list(pair) for pair in notes],
            record["text_hash"],
            source,
        )


def _csv_rows(spark: SparkSession, files: list[str], delimiter: str) -> Any:
    """``(file_index, line, raw, parsed)`` for CSV files, line by line (quoted newlines are not joined)."""
    sc = spark.sparkContext
    parts = []
    for k, uri in enumerate(files):
        lines = sc.textFile(uri)
        header_line = lines.first().removeprefix("\ufeff")
        header = next(csv.reader([header_line], delimiter=delimiter))

        def parse(item: tuple[str, int], k: int = k, header: list[str] = header) -> list[tuple[Any, ...]]:
            text, index = item
            if index == 0:
                return []
            row = next(csv.reader([text], delimiter=delimiter), [])
            if not any(cell.strip() for cell in row):
                return []
            raw = delimiter.join(row)
            if len(row) != len(header):
                problem = LoadProblem(
                    index + 1, "bad_row", f"{len(row)} fields where the header has {len(header)}", raw
                )
                return [(k, index + 1, raw, problem)]
            return [(k, index + 1, raw, dict(zip(header, row, strict=True)))]

        parts.append(lines.zipWithIndex().flatMap(parse))
    return sc.union(parts)


def _raw_rows(spark: SparkSession, files: list[str], fmt: str, config: AuditConfig) -> Any:
    """An RDD of ``(file_index, line, raw, parsed)`` with the same line numbers as the local loader."""
    sc = spark.sparkContext
    if fmt == "jsonl":
        return sc.union(
            [
                sc.textFile(uri).zipWithIndex().map(lambda t, k=k: (k, t[1] + 1, t[0], None))
                for k, uri in enumerate(files)
            ]
        )
    if fmt == "csv":
        tsv = files[0].lower().endswith(".tsv")
        return _csv_rows(spark, files, config.input.delimiter or ("\t" if tsv else ","))
    from pyspark.sql import functions as F

    index = {uri: k for k, uri in enumerate(files)}
    frame = spark.read.parquet(*files)
    frame = frame.select(
        "*", F.col("_metadata.file_path").alias("__file"), F.col("_metadata.row_index").alias("__row")
    )

    def to_row(row: Any) -> tuple[Any, ...]:
        record = row.asDict(recursive=True)
        uri, number = record.pop("__file"), record.pop("__row")
        return index.get(uri, index.get(uri.replace("file:///", "file:/"), 0)), number + 1, "", record

    return frame.rdd.map(to_row)


def read_rows(
    spark: SparkSession,
    path: str,
    config: AuditConfig,
    *,
    keep_source: bool = False,
    files: list[tuple[str, int, int]] | None = None,
) -> tuple[DataFrame, list[tuple[str, int, int]], str]:
    """Every non-blank input row as a record or a quarantined problem (cached), the files, and the format."""
    files = files or list_files(spark, path)
    fmt = detect_format(Path(files[0][0].rsplit("/", 1)[-1]), config.input)
    fields = config.fields
    rows = _raw_rows(spark, [f[0] for f in files], fmt, config)
    parsed = rows.mapPartitions(lambda part: _parse_partition(part, fields, fmt, keep_source))
    return spark.createDataFrame(parsed, _ROW_SCHEMA).cache(), files, fmt


def collect_dataset(
    rows: DataFrame, path: str, files: list[tuple[str, int, int]], fmt: str, fields: FieldsConfig
) -> tuple[Dataset, np.ndarray]:
    """The canonical table (row order = ``rid`` order, as the local loader's) and its ``rid`` per row."""
    import pyarrow.compute as pc

    everything = rows.select(
        "rid", "line", "problem", "message", "raw", "field", *_STRING_COLUMNS, "annotations"
    ).toArrow()  # one job: records and problems together
    is_record = pc.is_null(everything.column("problem"))
    problems = sorted(
        everything.filter(pc.invert(is_record))
        .select(["rid", "line", "problem", "message", "raw", "field"])
        .to_pylist(),
        key=lambda p: p["rid"],
    )
    table = everything.filter(is_record)
    rid = table.column("rid").to_numpy()
    order = np.argsort(rid, kind="stable")
    columns: dict[str, pd.Series] = {}
    for name in COLUMNS:
        values = table.column(name).to_pylist()
        if name == "annotations":
            values = [None if v is None else tuple(tuple(p) for p in v) for v in values]
        series = pd.Series(values, dtype="int64" if name == "line" else object)
        columns[name] = series.iloc[order].reset_index(drop=True)
    frame = pd.DataFrame(columns)
    quarantined = tuple(
        LoadProblem(p["line"], p["problem"], p["message"], p["raw"], p["field"]) for p in problems
    )
    if len(frame) == 0 and quarantined:
        kinds = {p.kind for p in quarantined}
        if kinds <= {"missing_text", "not_an_object", "bad_text"} and "missing_text" in kinds:
            raise InputError(
                path, "no record has this field; map it with fields.text in dqaudit.yaml", field=fields.text
            )
    digest = hashlib.sha256("\n".join(f"{uri}\t{size}\t{mtime}" for uri, size, mtime in files).encode())
    source = SourceInfo(path, fmt, "files:" + digest.hexdigest(), len(frame) + len(quarantined))
    return Dataset(frame, quarantined, source, fields), rid[order]


# --- near duplicates ------------------------------------------------------------------------------------


def sign_and_key(records: DataFrame, params: MinHashParams) -> DataFrame:
    """Per record: exact-duplicate key (hash of the normalised text), has shingles, signature, band keys."""
    from ..dedup.minhash import EMPTY, band_keys, signatures

    def compute(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            texts = batch["text"].tolist()
            sigs = signatures(texts, params)
            live = (sigs != EMPTY).any(axis=1)
            whole = band_keys(sigs, 1, params.num_perm)[:, 0]
            keys = band_keys(sigs, params.bands, params.rows).view(np.int64)
            nkey = [_exact_key(t) for t in texts]
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

    schema = "rid long, nkey string, live boolean, whole long, keys array<long>, low binary"
    return records.select("rid", "text").mapInPandas(compute, schema)


def _exact_key(text: str) -> str | None:
    """Hash of the normalised text; None for an empty one (``exact_groups`` leaves those alone)."""
    key = normalize(text)
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest() if key else None


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
        .select("rid", F.posexplode("keys").alias("band", "key"))
        .groupBy("band", "key")
        .agg(F.sort_array(F.collect_list("rid")).alias("m"))
        .where(F.size("m") > 1)
    )
    every = F.expr(
        "flatten(transform(sequence(0, size(m) - 2), "
        "i -> transform(sequence(i + 1, size(m) - 1), j -> array(m[i], m[j]))))"
    )
    linear = F.expr(
        "concat(transform(sequence(1, size(m) - 1), k -> array(m[0], m[k])), "
        "transform(sequence(1, size(m) - 2), k -> array(m[k], m[k + 1])))"
    )
    pairs = members.select(
        F.explode(F.when(F.size("m") <= MAX_BUCKET_PAIRS, every).otherwise(linear)).alias("p")
    )
    candidates = pairs.select(
        F.least(F.col("p")[0], F.col("p")[1]).alias("a"), F.greatest(F.col("p")[0], F.col("p")[1]).alias("b")
    ).distinct()
    return copies, candidates


def verify(candidates: DataFrame, records: DataFrame, signed: DataFrame, params: MinHashParams) -> DataFrame:
    """Candidates whose signatures estimate Jaccard near the threshold and whose exact Jaccard reaches it.

    The same two steps as ``minhash.near_duplicate_pairs``: the b-bit estimate drops pairs
    below ``threshold - ESTIMATE_MARGIN``, the shingle sets decide the rest. ``(a, b, sim)``.
    The estimate runs first on the signatures' low bytes alone, so only the candidates that
    pass it (about a tenth) are joined with their texts.
    """
    from pyspark.sql import functions as F

    from ..dedup.minhash import ESTIMATE_MARGIN, _estimate_low_bits, exact_jaccard_pairs, shingle_sets

    low = signed.select("rid", "low")
    with_low = candidates.join(low.toDF("a", "la"), "a").join(low.toDF("b", "lb"), "b")

    def estimate(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            m = len(batch)
            bytes_ = np.frombuffer(b"".join([*batch["la"], *batch["lb"]]), np.uint8).reshape(
                2 * m, params.num_perm
            )
            index = np.arange(m)
            close = (
                _estimate_low_bits(bytes_.astype("<u4"), np.stack([index, index + m], axis=1))
                >= params.threshold - ESTIMATE_MARGIN
            )
            yield pd.DataFrame({"a": batch["a"].to_numpy()[close], "b": batch["b"].to_numpy()[close]})

    close = with_low.select("a", "b", "la", "lb").mapInPandas(estimate, "a long, b long")
    text = records.select("rid", "text")
    joined = close.join(text.toDF("a", "ta"), "a").join(text.toDF("b", "tb"), "b")

    def jaccard(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            k = len(batch)
            sets = shingle_sets(batch["ta"].tolist() + batch["tb"].tolist(), params)
            sims = exact_jaccard_pairs(sets, np.stack([np.arange(k), np.arange(k) + k], axis=1))
            yield pd.DataFrame({"a": batch["a"].to_numpy(), "b": batch["b"].to_numpy(), "sim": sims})

    verified = joined.select("a", "b", "ta", "tb").mapInPandas(jaccard, "a long, b long, sim double")
    return verified.where(F.col("sim") >= params.threshold - 1e-9)


def connected_components(edges: DataFrame) -> DataFrame:
    """``(node, root)`` for every node on an edge, root = the component's smallest id (large-star/small-star).

    Kiveris et al., "Connected Components in MapReduce and Beyond" (2014): alternate the two
    star operations until the edges form stars around each component's minimum. Each
    round is checkpointed (reliably when a checkpoint dir is set, else locally) so the plan
    stays small; no edge is ever brought to the driver.
    """
    from pyspark.sql import functions as F

    def pin(
        frame: DataFrame,
    ) -> DataFrame:  # eager: a lazy checkpoint of a shuffled frame can be recomputed apart
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


# --- the context the checkers run on --------------------------------------------------------------------


class _Stages:
    """Where each stage ran and how long it took: report.json's ``run.engine``."""

    def __init__(self, spark: SparkSession, progress: Progress) -> None:
        self.info: dict[str, Any] = {
            "name": "spark",
            "master": spark.sparkContext.master,
            "spark_version": spark.version,
            "stages": {},
            "seconds": {},
        }
        self.progress = progress

    @contextmanager
    def stage(self, name: str, where: str) -> Iterator[None]:
        began = time.perf_counter()
        with self.progress.task(f"{where}: {name}"):
            yield
        self.info["stages"][name] = where
        self.info["seconds"][name] = round(time.perf_counter() - began, 3)


@dataclass(frozen=True)
class SparkSource:
    """What the Spark export needs from the audit: the cached source rows, their ``rid``, files, stage log."""

    rows: DataFrame
    rid: np.ndarray
    uris: list[str]
    log: _Stages


class SparkEngine:
    """Loads, signs, clusters and groups on Spark; the driver runs the checkers on what the context provides."""

    def open(self, data: str | Path, config: AuditConfig, *, progress: Progress | None, cache: Cache,
             for_export: bool) -> AuditContext:
        path = str(data)
        _refuse_semantic(config)
        spark = spark_session(config.engine)
        files = None
        if for_export:
            with _java_errors(f"reading {path}"):
                files = list_files(spark, path)
        with _java_errors(f"auditing {path} on Spark"):
            ctx, log, rows, rid = _cluster(spark, path, config, progress=progress, cache=cache,
                                           keep_source=for_export, files=files)
        if for_export:
            ctx.provide(SparkSource, SparkSource(rows, rid, [uri for uri, _, _ in files or []], log))
        else:
            rows.unpersist()
        return ctx

    def check_destination(self, data: str | Path, out: str | Path, config: AuditConfig) -> None:
        """Input is any path Spark reads (file, folder, glob; ``file:``, ``hdfs://``, ``s3a://``...);
        ``out`` a local folder or a Hadoop URI."""
        spark = spark_session(config.engine)
        with _java_errors(f"reading {data}"):
            files = list_files(spark, str(data))
        _target(spark, str(out)).check([uri for uri, _, _ in files])

    def export(self, result: AuditResult, out: str | Path, *, by_time: str | None) -> dict[str, Any]:
        """The local engine's plan and assignment; Spark renders and writes the files."""
        from ..export import prepare_export

        ctx = result.context
        source: SparkSource | None = ctx.provided(SparkSource) if ctx is not None else None
        if ctx is None or source is None:
            raise DqauditError("the Spark export needs an audit opened for export (dqaudit.split)")
        log = source.log
        try:
            log.info["stages"]["checkers (findings, scores, cleanlab, agreement)"] = "driver"
            with log.stage("cleaning plan, group-aware split assignment, leakage re-check", "driver"):
                prepared = prepare_export(ctx, result, by_time=by_time)
            target = _target(spark_session(ctx.config.engine), str(out))
            with _java_errors(f"writing {out}"):
                return target.publish(
                    lambda folder: write_outputs(source.rows, source.rid, source.uris, ctx, prepared, folder, log),
                    prepared.manifest,
                    log,
                )
        finally:
            source.rows.unpersist()


def _refuse_semantic(config: AuditConfig) -> None:
    if NearDupFeatureParams.of(config, "near_duplicates").semantic:
        raise ConfigError(
            "checks.near_duplicates.semantic: embedding search runs on one machine; "
            "turn it off or use --engine local"
        )


def _cluster(
    spark: SparkSession,
    path: str,
    config: AuditConfig,
    *,
    progress: Progress | None = None,
    cache: Cache | None = None,
    options: dict[str, Any] | None = None,
    keep_source: bool = False,
    files: list[tuple[str, int, int]] | None = None,
) -> tuple[AuditContext, _Stages, DataFrame, np.ndarray]:
    """The context, its stage log, the cached input rows (for the split writer) and each record's ``rid``."""
    from pyspark.sql import functions as F

    from ..context import AuditContext
    from ..features.consensus import annotation_tally
    from ..features.exact import exact_groups
    from ..features.near_dups import NearDuplicates, Representatives, minhash_params, near_duplicates
    from ..progress import NullProgress

    log = _Stages(spark, progress or NullProgress())
    with log.stage("read, parse and quarantine rows", "spark"):
        rows, files, fmt = read_rows(spark, path, config, keep_source=keep_source, files=files)
    with log.stage("collect the canonical table", "driver"):
        dataset, rid = collect_dataset(rows, path, files, fmt, config.fields)
    annotated = None
    if dataset.frame["annotations"].notna().any():  # kept on the executors for the agreement aggregates
        annotated = (
            rows.where(F.col("problem").isNull() & F.col("annotations").isNotNull())
            .select("rid", "id", "annotations")
            .cache()
        )
        annotated.count()
    ctx = AuditContext(
        dataset, config, progress=progress, cache=cache, options={**(options or {}), "engine": log.info}
    )
    records = rows.where(F.col("problem").isNull()).select("rid", "text", "label")
    params = minhash_params(ctx)  # ``auto`` shingles resolved on the collected texts, as locally
    with log.stage("normalise, MinHash signatures and band keys", "spark"):
        signed = sign_and_key(records, params).cache()
    with log.stage("LSH candidates and exact-Jaccard verification", "spark"):
        copies, candidates = candidate_pairs(signed)
        candidates = candidates.cache()
        candidate_count = candidates.count()
        edges = copies.union(verify(candidates, records, signed, params)).cache()
        edges.count()  # verify here, so its time is not charged to the connected components below
    with log.stage("connected components (large-star/small-star)", "spark"):
        roots = connected_components(edges.select("a", "b"))
    with log.stage("exact-duplicate groups and conflicting labels", "spark"):
        exact = signed.where(F.col("nkey").isNotNull()).groupBy("nkey").agg(F.min("rid").alias("exact_root"))
        per_row = (
            signed.join(exact, "nkey", "left")
            .join(roots.withColumnRenamed("node", "rid"), "rid", "left")
            .select(
                "rid",
                "nkey",
                "live",
                F.coalesce("exact_root", F.lit(-1)).alias("exact_root"),
                F.coalesce("root", "rid").alias("near_root"),
            )
            .cache()
        )
        log.info["aggregates"] = _aggregates(per_row.join(records.select("rid", "label"), "rid"))
    with log.stage("label counts per cluster (its representative: the first record)", "spark"):
        label_counts = (
            per_row.select("rid", "near_root")
            .join(records.where(F.col("label").isNotNull()).select("rid", "label"), "rid")
            .groupBy("near_root", "label")
            .count()
            .toArrow()
        )
    with log.stage("collect cluster ids and verified edges", "driver"):
        found = per_row.select("rid", "live", "exact_root", "near_root").toArrow()
        at = np.searchsorted(rid, found.column("rid").to_numpy())
        live = np.zeros(len(rid), bool)
        live[at] = found.column("live").to_numpy()
        near_root, exact_root = np.empty(len(rid), np.int64), np.empty(len(rid), np.int64)
        near_root[at], exact_root[at] = (
            found.column("near_root").to_numpy(),
            found.column("exact_root").to_numpy(),
        )
        verified = edges.toArrow()
        pairs = np.stack(
            [
                np.searchsorted(rid, verified.column("a").to_numpy()),
                np.searchsorted(rid, verified.column("b").to_numpy()),
            ],
            axis=1,
        ).astype(np.int64)
        similarity = verified.column("sim").to_numpy()
    groups = np.unique(near_root, return_inverse=True)[1].astype(
        np.int64
    )  # numbered by first row, as locally
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
        ),
    )
    ctx.provide(exact_groups, _exact_codes(exact_root, dataset.frame.index))
    representatives = _representatives(rid, near_root, label_counts)
    log.info["aggregates"]["label_noise_model_rows"] = int(representatives.counts["cluster"].nunique())
    ctx.provide(Representatives, representatives)
    ctx.provide_lazy(annotation_tally, lambda: agreement_tally(ctx, annotated, log))
    log.info["stages"]["checkers (findings, scores, cleanlab, agreement)"] = "driver"
    log.info["stages"]["label_noise model on one representative per cluster"] = "driver"
    for data in (signed, candidates, edges, per_row):
        data.unpersist()
    return ctx, log, rows, rid


def _representatives(rid: np.ndarray, near_root: np.ndarray, label_counts: Any) -> Representatives:
    """The label-noise model's input: each cluster's root (its lowest ``rid``: the first record) and counts.

    ``label_counts`` are ``(near_root, label, count)`` rows from the executors; clusters are
    numbered by their first row, as ``near_duplicate_groups`` numbers them.
    """
    from ..features.near_dups import Representatives

    roots, cluster = np.unique(near_root, return_inverse=True)
    counts = pd.DataFrame(
        {
            "cluster": np.searchsorted(roots, label_counts.column("near_root").to_numpy()),
            "label": label_counts.column("label").to_pylist(),
            "count": label_counts.column("count").to_numpy().astype(np.int64),
        }
    )
    return Representatives(cluster.astype(np.int64), np.searchsorted(rid, roots), counts)


def agreement_tally(ctx: AuditContext, annotated: DataFrame | None, log: _Stages) -> CountTable:
    """Per-item category counts and annotator-pair confusion tables, aggregated on the executors.

    Inline annotations are read from the cached Spark rows with the local rules
    (:func:`~dqaudit.checkers.agreement.inline_triples`); the long-format file, read and
    checked on the driver as locally (cleanlab's multi-annotator model needs its cells
    there anyway), is shipped to the executors as triples. A repeated (item, annotator)
    keeps its last label and items keep their first appearance, as :class:`Ratings` does,
    so the counts are the matrix's counts in the same order.
    """
    from pyspark.sql import SparkSession, Window
    from pyspark.sql import functions as F

    from ..agreement import CountTable, normalized_label
    from ..features.consensus import inline_triples, long_triples
    from ..registry import check_params

    params = check_params(ctx.config, "agreement")  # the agreement check's whole block (min_shared_items too)
    fold = normalized_label if params.normalize_labels else str
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
            .cache()
        )
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
            .to_pylist()
        )
        for data in (cells, annotated):
            if data is not None:
                data.unpersist()
    log.info["stages"]["agreement: cleanlab consensus, annotator quality, review file"] = "driver"
    order = pd.DataFrame(per_item.select(["item", "src", "k", "pos"]).to_pydict()).drop_duplicates("item")
    items = tuple(order.sort_values(["src", "k", "pos"], kind="stable")["item"])
    labels = per_item.column("label").to_pylist()
    categories = tuple(sorted(set(labels)))
    row, cat = {v: n for n, v in enumerate(items)}, {v: n for n, v in enumerate(categories)}
    table = np.zeros((len(items), len(categories)), np.int64)
    table[[row[i] for i in per_item.column("item").to_pylist()], [cat[c] for c in labels]] = per_item.column(
        "count"
    ).to_numpy()
    tables: dict[tuple[str, str], np.ndarray] = {}
    for p in pairs:
        key = (p["a"], p["b"])
        if key not in tables:
            tables[key] = np.zeros((len(categories), len(categories)), np.int64)
        tables[key][cat[p["la"]], cat[p["lb"]]] = p["count"]
    return CountTable(items, categories, table, tuple((a, b, tables[a, b]) for a, b in sorted(tables)))


def _exact_codes(exact_root: np.ndarray, index: pd.Index) -> pd.Series:
    """``exact_groups``' numbering from the roots: by first row, then each empty text (root -1) alone."""
    codes = pd.factorize(exact_root)[0]
    empty = exact_root < 0
    codes[empty] = codes.max(initial=-1) + 1 + np.arange(int(empty.sum()))
    return pd.Series(codes, index=index, name="exact_group")


def _aggregates(table: DataFrame) -> dict[str, int]:
    """Cluster and exact-group counts with conflicting labels, computed on the executors."""
    from pyspark.sql import functions as F

    near = (
        table.groupBy("near_root")
        .agg(
            F.count("*").alias("size"),
            F.countDistinct("nkey").alias("texts"),
            F.countDistinct("label").alias("labels"),
        )
        .where("size > 1 AND texts > 1")
    )
    exact = (
        table.where("exact_root >= 0")
        .groupBy("exact_root")
        .agg(F.count("*").alias("size"), F.countDistinct("label").alias("labels"))
        .where("size > 1")
    )
    n = near.agg(
        F.count("*").alias("clusters"),
        F.sum(F.when(F.col("labels") > 1, 1).otherwise(0)).alias("conflicting_clusters"),
        F.sum(F.when(F.col("labels") > 1, F.col("size")).otherwise(0)).alias("conflicting_rows"),
        F.sum("size").alias("rows_in_clusters"),
    ).first()
    x = exact.agg(
        F.sum(F.when(F.col("labels") <= 1, 1).otherwise(0)).alias("duplicate_groups"),
        F.sum(F.when(F.col("labels") > 1, 1).otherwise(0)).alias("conflicting_groups"),
        F.sum(F.when(F.col("labels") > 1, F.col("size")).otherwise(0)).alias("conflicting_rows"),
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


@contextmanager
def _java_errors(what: str) -> Iterator[None]:
    """Spark and Hadoop failures (no such bucket, permissions, credentials) as one-line errors."""
    from py4j.protocol import Py4JJavaError
    from pyspark.errors.exceptions.captured import CapturedException, PythonException

    try:
        yield
    except (Py4JJavaError, CapturedException) as exc:
        if isinstance(exc, PythonException):  # our own code failed on an executor: a bug, keep the traceback
            raise
        text = exc.java_exception.toString() if isinstance(exc, Py4JJavaError) else str(exc)
        first = (text.strip().splitlines() or [type(exc).__name__])[0]
        if "maxResultSize" in first:
            first += (
                "; the driver collects one row per record: raise spark.driver.maxResultSize "
                "(engine.conf, or --conf under spark-submit; 0 = no limit) and spark.driver.memory"
            )
        raise DqauditError(f"{what}: {first}") from exc


def write_outputs(
    rows: DataFrame,
    rid: np.ndarray,
    uris: list[str],
    ctx: AuditContext,
    prepared: PreparedExport,
    folder: str,
    log: _Stages,
) -> dict[str, dict[str, Any]]:
    """Render every input row on the executors and write one part file per output under ``folder``.

    The driver ships one small decision row per record (split, and for the rare quarantined,
    masked or relabelled rows their reasons or new label); the executors join it with the
    cached input rows and call the local writer's :class:`~dqaudit.export.Rendering`.
    Rows are hash-partitioned by output file and sorted by ``rid`` (= input order), so each
    output is one ordered part file in ``folder/f=<index>/``. Returns rows and sha256 per
    output name, hashed on the executors from the same cached, ordered frame that was written.
    """
    from pyspark.sql import functions as F

    from ..export import QUARANTINE, output_names
    from ..features.leakage import SPLITS

    spark = rows.sparkSession
    names = output_names(ctx.config.export.chat)
    plan = prepared.plan
    quarantined = prepared.split_of < 0
    decisions = pd.DataFrame(
        {
            "rid": rid,
            "dest": np.where(quarantined, names.index(QUARANTINE), prepared.split_of).astype(np.int32),
            "record_id": np.where(quarantined, ctx.frame["id"].astype(str).to_numpy(object), None),
            "reasons": [
                orjson.dumps(plan.reasons[r]).decode() if r in plan.reasons else None for r in range(len(rid))
            ]
            if plan.reasons
            else None,
            "masked": np.isin(np.arange(len(rid)), list(plan.mask)),
            "relabel": [plan.relabel.get(r) for r in range(len(rid))] if plan.relabel else None,
        }
    )
    schema = "rid long, dest int, record_id string, reasons string, masked boolean, relabel string"
    joined = rows.join(spark.createDataFrame(decisions, schema), "rid", "left").select(
        "rid",
        "line",
        "problem",
        "message",
        "raw",
        "source",
        "text",
        "output",
        "label",
        F.coalesce("dest", F.lit(names.index(QUARANTINE))).alias("dest"),
        "record_id",
        "reasons",
        F.coalesce("masked", F.lit(False)).alias("masked"),
        "relabel",
    )
    render = prepared.rendering
    chat_of = (
        {j: names.index(f"{s}.chat.jsonl") for j, s in enumerate(SPLITS)} if ctx.config.export.chat else {}
    )
    removed = names.index(QUARANTINE)

    def lines(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            out_f: list[int] = []
            out_rid: list[int] = []
            out_value: list[str] = []
            for r in batch.itertuples(index=False):
                line, dest = int(r.line), int(r.dest)
                where = (
                    {"file": uris[int(r.rid) >> FILE_SHIFT], "line": line}
                    if len(uris) > 1
                    else {"line": line}
                )
                source = r.source if isinstance(r.source, str) else None
                if isinstance(r.problem, str):
                    obj = (
                        LoadProblem(line, r.problem, r.message, r.raw)
                        if source is None
                        else orjson.loads(source)
                    )
                    value = render.unloaded(where, r.problem, r.message, r.raw, obj)
                elif dest == removed:
                    value = render.quarantined(
                        where, r.record_id, orjson.loads(r.reasons), orjson.loads(source)
                    )
                else:
                    relabel = r.relabel if isinstance(r.relabel, str) else None
                    masked = bool(r.masked)
                    changed = masked or relabel is not None or render.fmt != "jsonl"
                    value = render.kept(source, orjson.loads(source) if changed else None, masked, relabel)
                    if dest in chat_of:
                        output = r.output if isinstance(r.output, str) else None
                        label = relabel or (r.label if isinstance(r.label, str) else None)
                        example = render.chat(r.text, label if output is None else output, masked)
                        if example is not None:
                            out_f.append(chat_of[dest])
                            out_rid.append(int(r.rid))
                            out_value.append(example.decode())
                out_f.append(dest)
                out_rid.append(int(r.rid))
                out_value.append(value.decode())
            yield pd.DataFrame(
                {
                    "f": np.array(out_f, np.int32),
                    "rid": np.array(out_rid, np.int64),
                    "value": pd.Series(out_value, dtype=object),
                }
            )

    with log.stage("render and write train/val/test/quarantine files", "spark"):
        ordered = (
            joined.mapInPandas(lines, "f int, rid long, value string")
            .repartition(len(names), "f")
            .sortWithinPartitions("f", "rid")
            .cache()
        )
        # sorted by (f, rid), the writer's required ordering (f) already holds: it adds no sort of its own
        ordered.select("f", "value").write.partitionBy("f").option("compression", "none").mode("error").text(
            folder
        )
        digests = {
            row["f"]: {"rows": int(row["rows"]), "sha256": row["sha256"]}
            for row in ordered.mapInPandas(_digest, "f int, rows long, sha256 string").collect()
        }
        ordered.unpersist()
    outputs = {
        name: digests.get(k, {"rows": 0, "sha256": hashlib.sha256().hexdigest()})
        for k, name in enumerate(names)
    }
    planned = prepared.manifest["rows"]
    if any(outputs[f"{name}.jsonl"]["rows"] != planned[name] for name in planned):
        # every input row goes to exactly one output; a gap is a bug worth a loud failure, as locally
        raise RuntimeError(f"Spark wrote {outputs} where the split planned {planned}")
    return outputs


def _digest(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """Rows and sha256 of each output file's lines, in the partition's (written) order."""
    hashes: dict[int, Any] = {}
    counts: dict[int, int] = {}
    for batch in batches:
        for f, value in zip(batch["f"].tolist(), batch["value"].tolist(), strict=True):
            if f not in hashes:
                hashes[f], counts[f] = hashlib.sha256(), 0
            hashes[f].update(value.encode("utf-8") + b"\n")
            counts[f] += 1
    yield pd.DataFrame(
        {
            "f": np.array(list(hashes), np.int32),
            "rows": np.array([counts[f] for f in hashes], np.int64),
            "sha256": pd.Series([h.hexdigest() for h in hashes.values()], dtype=object),
        }
    )


# --- publishing: part files renamed into the layout of a local export, then swapped into place ----------


def _local_path(uri: str) -> str | None:
    """The local path a plain path or ``file:`` URI names; None for other filesystems (``s3a://``...)."""
    if uri.startswith("file:"):
        return urlparse(uri).path
    return None if re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:", uri) else uri


def _target(spark: SparkSession, out: str) -> _LocalTarget | _HadoopTarget:
    local = _local_path(out)
    return _LocalTarget(Path(local)) if local is not None else _HadoopTarget(spark, out)


class _LocalTarget:
    """A folder on the driver's disk: the local export's guarantees (hidden sibling, fsync, swap, recovery).

    Spark writes ``file:`` paths from wherever its tasks run, so this needs ``local[*]`` or a
    folder every executor shares; otherwise the missing part files stop the export.
    """

    def __init__(self, out: Path) -> None:
        self.out = out

    def check(self, inputs: list[str]) -> None:
        """Refuse a folder that holds an input file, or a non-empty folder that is not a previous export."""
        from ..publish import check_destination

        local = [Path(p) for uri in inputs if (p := _local_path(uri)) is not None]
        for source in list({f.parent: f for f in local}.values()) or [None]:
            self.out = check_destination(source, self.out)

    def publish(
        self, write: Callable[[str], dict[str, dict[str, Any]]], manifest: dict[str, Any], log: _Stages
    ) -> dict[str, Any]:
        from ..publish import MANIFEST, staged_folder, write_manifest

        with staged_folder(self.out.absolute()) as tmp:
            outputs = write(f"file://{tmp / _PARTS}")
            with log.stage("rename part files into place", "driver"):
                for k, (name, written) in enumerate(outputs.items()):
                    parts = sorted(str(p) for p in (tmp / _PARTS / f"f={k}").glob("part-*"))
                    _check_parts(name, written, parts)
                    if parts:
                        os.replace(parts[0], tmp / name)
                        with (tmp / name).open("rb") as handle:
                            os.fsync(handle.fileno())
                    else:
                        (tmp / name).touch()
                shutil.rmtree(tmp / _PARTS)
            manifest["outputs"], manifest["engine"] = outputs, log.info
            write_manifest(tmp / MANIFEST, manifest)
        return manifest


class _HadoopTarget:
    """A folder on a Hadoop filesystem (``hdfs://``, ``s3a://``, ``gs://``...), through the FileSystem API.

    Same steps as :class:`_LocalTarget`: a hidden sibling, part files renamed to their names,
    the manifest last, then the swap. Renames are atomic on HDFS; on object stores they are
    copies, so a crash mid-swap there can leave a partial folder, but never one with a manifest
    that does not describe it (the manifest is written last inside the sibling).
    """

    def __init__(self, spark: SparkSession, out: str) -> None:
        self.jvm = spark.sparkContext._jvm
        path = self.jvm.org.apache.hadoop.fs.Path(out)
        with _java_errors(f"opening {out}"):
            self.fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
            self.out = self.fs.makeQualified(path)

    def _path(self, parent: Any, name: str) -> Any:
        return self.jvm.org.apache.hadoop.fs.Path(parent, name)

    def _rename(self, source: Any, target: Any) -> None:
        if not self.fs.rename(source, target):
            raise DqauditError(f"could not rename {source.toString()} to {target.toString()}")

    def check(self, inputs: list[str]) -> None:
        """Refuse a folder that holds an input file, or a non-empty folder that is not a previous export."""
        from ..publish import MARKER

        out = self.out.toString().rstrip("/")
        with _java_errors(f"checking {out}"):
            for uri in inputs:
                folder = self.jvm.org.apache.hadoop.fs.Path(uri).getParent().toString()
                if folder == out or folder.startswith(out + "/"):
                    raise InputError(
                        out, f"the output folder would hold the input {uri}; choose a folder elsewhere"
                    )
            if self.fs.exists(self.out):
                if not self.fs.getFileStatus(self.out).isDirectory():
                    raise InputError(out, "exists and is not a folder")
                if len(self.fs.listStatus(self.out)) and not self.fs.exists(self._path(self.out, MARKER)):
                    raise InputError(
                        out,
                        f"is not empty and was not written by dqaudit (no {MARKER}), so it is not "
                        "replaced; choose an empty or new folder",
                    )

    def publish(
        self, write: Callable[[str], dict[str, dict[str, Any]]], manifest: dict[str, Any], log: _Stages
    ) -> dict[str, Any]:
        import secrets

        from ..export import manifest_text
        from ..publish import MANIFEST, MARKER

        fs, parent, name = self.fs, self.out.getParent(), self.out.getName()
        self._recover()
        tmp = self._path(parent, f".{name}.tmp-{uuid.uuid4().hex[:12]}")
        parts_dir = self._path(tmp, _PARTS)
        try:
            outputs = write(parts_dir.toString())
            with log.stage("rename part files into place", "driver"):
                for k, (file_name, written) in enumerate(outputs.items()):
                    found = fs.globStatus(self._path(parts_dir, f"f={k}/part-*"))
                    parts = sorted(status.getPath().toString() for status in (found or []))
                    _check_parts(file_name, written, parts)
                    if parts:
                        self._rename(self.jvm.org.apache.hadoop.fs.Path(parts[0]), self._path(tmp, file_name))
                    else:
                        fs.create(self._path(tmp, file_name), False).close()
                fs.delete(parts_dir, True)
            manifest["outputs"], manifest["engine"] = outputs, log.info
            manifest["export_token"] = secrets.token_hex(16)
            stream = fs.create(self._path(tmp, MARKER), True)
            marker = {"written_by": "dqaudit", "token": manifest["export_token"]}
            stream.write(bytearray(orjson.dumps(marker)))
            stream.close()
            stream = fs.create(self._path(tmp, MANIFEST), True)
            stream.write(bytearray(manifest_text(manifest).encode("utf-8")))
            stream.close()
            self._swap(tmp)
        except BaseException:
            fs.delete(tmp, True)
            raise
        return manifest

    def _recover(self) -> None:
        """As the local export does: a previous export stranded by a kill mid-swap is put back first."""
        if self.fs.exists(self.out):
            return
        stranded = self.fs.globStatus(self._path(self.out.getParent(), f".{self.out.getName()}.old-*")) or []
        if len(stranded):
            newest = max(stranded, key=lambda status: status.getModificationTime())
            self._rename(newest.getPath(), self.out)

    def _swap(self, tmp: Any) -> None:
        """Replace the export by ``tmp``; if the final rename fails the previous export is put back."""
        old = None
        if self.fs.exists(self.out):
            old = self._path(self.out.getParent(), f".{self.out.getName()}.old-{uuid.uuid4().hex[:12]}")
            self._rename(self.out, old)
        try:
            self._rename(tmp, self.out)
        except BaseException:
            if old is not None:
                self._rename(old, self.out)
            raise
        if old is not None:
            self.fs.delete(old, True)


#: Spark's own output folder inside the hidden sibling; removed once its part files are renamed.
_PARTS = "_spark"


def _check_parts(name: str, written: dict[str, Any], parts: list[str]) -> None:
    """One part file per non-empty output, or the layout cannot be trusted."""
    if len(parts) > 1 or (written["rows"] and not parts):
        raise DqauditError(
            f"Spark wrote {len(parts)} part files for {name} ({written['rows']} rows); with a cluster, write "
            "the splits to a filesystem every executor shares (hdfs://, s3a://...), not a local folder"
        )
