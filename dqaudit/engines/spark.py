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
checker reads, with its cluster and exact-duplicate roots) and runs the checkers
unchanged: they find the clusters already memoised in the context.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pandas as pd

from ..data import COLUMNS, Dataset, LoadProblem, SourceInfo, _Builder, detect_format
from ..errors import ConfigError, DqauditError, InputError, MissingDependency
from ..text import normalize

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from ..cache import Cache
    from ..config import AuditConfig, FieldsConfig
    from ..dedup.minhash import MinHashParams
    from ..pipeline import AuditContext
    from ..progress import Progress
    from . import EngineConfig

#: ``rid = file_index << FILE_SHIFT | line``: a record's identity on every executor.
FILE_SHIFT = 40
#: Buckets with more members are paired linearly, as ``minhash.candidate_pairs`` does.
MAX_BUCKET_PAIRS = 32
_ROW_SCHEMA = (
    "rid long, line long, problem string, message string, raw string, field string, id string, text string, "
    "label string, lang string, created_at string, policy_version string, `group` string, output string, "
    "annotations array<array<string>>, text_hash string"
)
_STRING_COLUMNS = (
    "id",
    "text",
    "label",
    "lang",
    "created_at",
    "policy_version",
    "group",
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
    rows: Iterator[tuple[int, int, str, Any]], fields: FieldsConfig, fmt: str
) -> Iterator[tuple[Any, ...]]:
    """One output row per non-blank input row: a record, or a problem with the loader's reason.

    ``rows`` are ``(file_index, line, raw, parsed)``; for JSONL and CSV ``parsed`` is the
    raw text parsed here by the local loader's rules, for Parquet the record itself.
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
        before = len(builder.problems)
        builder.add(line, raw, parsed)
        if len(builder.problems) > before:
            p = builder.problems.pop()
            yield (rid, line, p.kind, p.message, p.raw, p.field, *([None] * 10))
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
    spark: SparkSession, path: str, config: AuditConfig
) -> tuple[DataFrame, list[tuple[str, int, int]], str]:
    """Every non-blank input row as a record or a quarantined problem (cached), the files, and the format."""
    files = list_files(spark, path)
    fmt = detect_format(Path(files[0][0].rsplit("/", 1)[-1]), config.input)
    fields = config.fields
    rows = _raw_rows(spark, [f[0] for f in files], fmt, config)
    parsed = rows.mapPartitions(lambda part: _parse_partition(part, fields, fmt))
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
                    "sig": [row.tobytes() for row in sigs.astype("<u4")],
                }
            )

    schema = "rid long, nkey string, live boolean, whole long, keys array<long>, sig binary"
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
    """
    from pyspark.sql import functions as F

    from ..dedup.minhash import ESTIMATE_MARGIN, _estimate_low_bits, exact_jaccard_pairs, shingle_sets

    side = records.select("rid", "text").join(signed.select("rid", "sig"), "rid")
    joined = candidates.join(side.toDF("a", "ta", "sa"), "a").join(side.toDF("b", "tb", "sb"), "b")

    def jaccard(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            m = len(batch)
            sigs = np.frombuffer(b"".join([*batch["sa"], *batch["sb"]]), "<u4").reshape(
                2 * m, params.num_perm
            )
            index = np.arange(m)
            close = (
                _estimate_low_bits(sigs, np.stack([index, index + m], axis=1))
                >= params.threshold - ESTIMATE_MARGIN
            )
            batch = batch[close]
            k = len(batch)
            sets = shingle_sets(batch["ta"].tolist() + batch["tb"].tolist(), params)
            sims = exact_jaccard_pairs(sets, np.stack([np.arange(k), np.arange(k) + k], axis=1))
            yield pd.DataFrame({"a": batch["a"].to_numpy(), "b": batch["b"].to_numpy(), "sim": sims})

    verified = joined.select("a", "b", "ta", "tb", "sa", "sb").mapInPandas(
        jaccard, "a long, b long, sim double"
    )
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


def spark_context(
    path: str,
    config: AuditConfig,
    *,
    progress: Progress | None = None,
    cache: Cache | None = None,
    options: dict[str, Any] | None = None,
) -> AuditContext:
    """Load and cluster ``path`` on Spark; the context holds the results the checkers would compute."""
    from ..checkers.near_duplicates import NearDuplicates, minhash_params
    from ..pipeline import AuditContext
    from ..progress import NullProgress

    if config.params("near_duplicates").semantic:
        raise ConfigError(
            "checks.near_duplicates.semantic: embedding search runs on one machine; "
            "turn it off or use --engine local"
        )
    spark = spark_session(config.engine)
    from pyspark.sql import functions as F

    log = _Stages(spark, progress or NullProgress())
    with log.stage("read, parse and quarantine rows", "spark"):
        rows, files, fmt = read_rows(spark, path, config)
    with log.stage("collect the canonical table", "driver"):
        dataset, rid = collect_dataset(rows, path, files, fmt, config.fields)
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
    ctx.memo(
        "near_duplicates.analysis",
        lambda: NearDuplicates(
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
    ctx.memo("duplicates.exact_groups", lambda: _exact_codes(exact_root, dataset.frame.index))
    log.info["stages"]["checkers (findings, scores, cleanlab, agreement)"] = "driver"
    for data in (signed, candidates, edges, per_row, rows):
        data.unpersist()
    return ctx


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
        "near_duplicate_conflicting_clusters": int(n["conflicting_clusters"] or 0),
        "near_duplicate_conflicting_rows": int(n["conflicting_rows"] or 0),
        "exact_duplicate_groups": int(x["duplicate_groups"] or 0),
        "exact_conflicting_groups": int(x["conflicting_groups"] or 0),
        "exact_conflicting_rows": int(x["conflicting_rows"] or 0),
    }


def spark_split(
    data: str,
    out: str,
    config: AuditConfig,
    *,
    by_time: str | None = None,
    checks: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """``dqaudit split --engine spark``: clusters and groups from Spark, the same assignment and writer."""
    from ..export import MANIFEST, export_splits
    from ..pipeline import run_audit
    from . import with_engine_report

    source = Path(data.removeprefix("file:"))
    if not source.is_file():
        raise InputError(
            data,
            "split --engine spark writes the splits from a local input file; copy the "
            "data locally (audits read any path Spark understands)",
        )
    ctx = spark_context(str(source), config, progress=progress)
    result = with_engine_report(
        run_audit(ctx.dataset, config, checks=checks, progress=progress, context=ctx), ctx
    )
    stages = ctx.options["engine"]["stages"]
    stages["group-aware split assignment (seeded, same function as local)"] = "driver"
    stages["write train/val/test/quarantine files"] = "driver"
    manifest = export_splits(ctx, result, out, by_time=by_time)
    manifest["engine"] = ctx.options["engine"]
    target = Path(out) / MANIFEST
    tmp = target.with_name(f".{MANIFEST}.tmp")
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, target)
    return manifest
