"""The Spark session, the stage log of report.json's ``run.engine``, and Java failures as one-line errors."""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ...errors import ConfigError, DqauditError, MissingDependency
from ...features.near_dups import NearDupFeatureParams

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark import StorageLevel
    from pyspark.sql import DataFrame, SparkSession

    from ...config import AuditConfig, EngineConfig
    from ...progress import Progress


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
    master = engine.master or None
    if master is None and "PYSPARK_GATEWAY_PORT" not in os.environ:  # spark-submit sets the master itself
        master = "local[*]"
    if master:
        builder = builder.master(master)
    for key, value in session_settings(engine, master).items():
        builder = builder.config(key, value)
    try:
        return builder.getOrCreate()
    except Exception as exc:  # py4j and the launcher raise many types; the first line says what broke
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DqauditError(f"could not start Spark (master {engine.master or 'local[*]'}): {first}") from None


def session_settings(engine: EngineConfig, master: str | None) -> dict[str, str]:
    """What a new session is built with: the engine's defaults, then ``engine.conf`` (which wins).

    Under a local master, ``spark.sql.shuffle.partitions`` defaults to ``max(16, 4 x cores)`` instead of
    Spark's 200: every shuffle, and every collect of one partition per job, pays per partition, so 200 made
    a 100-text audit open in 58 s against 15 s with 16 (docs/spark.md). A cluster keeps its own setting.
    """
    settings = {
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # a partition's collected rows come back with the task's status, not stored in the block manager
        # and fetched again (two more copies of tens of MiB: in local mode in the one JVM's heap)
        "spark.task.maxDirectResultSize": "64m",
    }
    cores = _local_cores(master or "")
    if cores is not None:
        settings["spark.sql.shuffle.partitions"] = str(max(16, 4 * cores))
    settings.update({k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in engine.conf.items()})
    return settings


def _local_cores(master: str) -> int | None:
    """The cores of a ``local``, ``local[N]``, ``local[*]`` or ``local[N, F]`` master; None for any other."""
    found = re.fullmatch(r"local(?:\[\s*(\*|\d+)\s*(?:,\s*\d+\s*)?\])?", master)
    if found is None:
        return None
    cores = found.group(1)
    if cores is None:
        return 1
    return (os.cpu_count() or 1) if cores == "*" else int(cores)


def keep(frame: DataFrame) -> DataFrame:
    """``frame`` persisted where it cannot fill the heap Spark works in (see :func:`storage_level`)."""
    return frame.persist(storage_level(frame.sparkSession))


def storage_level(spark: SparkSession) -> StorageLevel:
    """Where the engine keeps its intermediate frames: ``spark.dqaudit.storageLevel`` when set (a
    ``StorageLevel`` name), else ``DISK_ONLY`` under a ``local`` master and ``MEMORY_AND_DISK`` on a cluster.

    In local mode one JVM is driver and executors: cached blocks, shuffle buffers and the task
    results of every collect share ``spark.driver.memory``, and Spark's storage accounting
    undercounts what its columnar cache holds while it is built (measured at 1M rows with a 1 GiB
    heap: 792 MiB of live byte arrays while the UI's storage memory said 396 MiB), so the heap
    filled and the context was lost. On disk the blocks cost one write and the OS page cache
    still serves the re-reads. On a cluster the executors' memory is apart from the driver's.
    """
    from pyspark import StorageLevel

    chosen = spark.conf.get("spark.dqaudit.storageLevel", None)
    if not chosen:
        chosen = "DISK_ONLY" if spark.sparkContext.master.startswith("local") else "MEMORY_AND_DISK"
    level = getattr(StorageLevel, chosen.upper(), None)
    if not isinstance(level, StorageLevel):
        raise ConfigError(
            f"engine.conf: spark.dqaudit.storageLevel {chosen!r} is no storage level "
            "(e.g. MEMORY_AND_DISK, DISK_ONLY)"
        )
    return level


def refuse_semantic(config: AuditConfig) -> None:
    """Embedding search needs every vector in one process: not a Spark stage."""
    if NearDupFeatureParams.of(config, "near_duplicates").semantic:
        raise ConfigError(
            "checks.near_duplicates.semantic: embedding search runs on one machine; "
            "turn it off or use --engine local"
        )


@contextmanager
def java_errors(what: str) -> Iterator[None]:
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
                "; the driver collects the canonical table one partition at a time and one partition was "
                "larger: raise spark.driver.maxResultSize (engine.conf, or --conf under spark-submit; "
                "0 = no limit) and spark.driver.memory, or read the input in smaller splits"
            )
        raise DqauditError(f"{what}: {first}") from exc


def collect_arrow(frame: DataFrame) -> pa.Table:
    """``frame`` on the driver as one Arrow table, fetched one partition per job.

    ``DataFrame.toArrow`` gathers every partition in one job, so the whole result counts
    against ``spark.driver.maxResultSize`` (1 GiB by default: about 5 million short records
    with their texts) and passes through the driver JVM at once. Here the JVM turns each
    partition into Arrow record batches (``Dataset.toArrowBatchRdd``, the conversion
    ``toArrow`` uses) and a job of its own fetches each partition (``PythonRDD.runJob``, which
    ``SparkContext.runJob`` calls): the limit applies per partition and the JVM holds one
    partition at a time. Both are PySpark's internal paths, covered by
    tests/engines/spark/test_session.py. (``toLocalIterator`` also runs one job per partition, but
    its JVM side kept every partition it had served until the iterator ended: at 5M records a 1
    GiB heap filled. Serialising each partition in a Python ``mapInArrow`` task instead took 28 s
    for the 1M-record canonical table where this takes 3-4 s: no Python worker, no second copy.)
    The jobs run one after another, so ``frame`` should already be computed (cached and counted)
    where computing it is the real work. Row order is the partitions' order.
    """
    import pyarrow as pa
    from pyspark.serializers import NoOpSerializer
    from pyspark.util import _load_from_socket

    schema = frame.limit(0).toArrow().schema  # the JVM's own Arrow types for this frame
    sc = frame.sparkSession.sparkContext
    batches = frame._jdf.toArrowBatchRdd()
    partitions = batches.toJavaRDD()
    found: list[pa.RecordBatch] = []
    for part in range(batches.getNumPartitions()):
        served = sc._jvm.PythonRDD.runJob(sc._jsc.sc(), partitions, [part])
        with _load_from_socket(served, NoOpSerializer()) as messages:
            found.extend(pa.ipc.read_record_batch(pa.py_buffer(message), schema) for message in messages)
    return pa.Table.from_batches(found, schema)


class Stages:
    """Where each stage ran and how long it took: report.json's ``run.engine``."""

    def __init__(self, spark: SparkSession, progress: Progress) -> None:
        self.spark = spark
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
        sc = self.spark.sparkContext
        sc.setJobDescription(f"dqaudit: {name}")  # names the stage's jobs in the Spark UI and its REST API
        try:
            with self.progress.task(f"{where}: {name}"):
                yield
        finally:
            sc.setJobDescription(None)  # type: ignore[arg-type]
        self.info["stages"][name] = where
        self.info["seconds"][name] = round(time.perf_counter() - began, 3)

    def ran(self, name: str, where: str) -> None:
        """Record a stage that ran elsewhere (the checkers on the driver) without timing it here."""
        self.info["stages"][name] = where
