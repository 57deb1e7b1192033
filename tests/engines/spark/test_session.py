"""The session: its settings, and collecting one partition per job (what a single collect gives)."""

from __future__ import annotations

import os

import pytest

from dqaudit.config import EngineConfig
from dqaudit.engines.spark.session import _local_cores, collect_arrow, session_settings, storage_level
from dqaudit.errors import ConfigError


def test_collect_arrow_is_the_whole_frame_in_partition_order(spark):
    frame = spark.range(0, 25_003, numPartitions=7).selectExpr(
        "id AS rid",
        "IF(id % 5 = 0, NULL, repeat('x', CAST(id % 13 AS INT))) AS text",
        "array(array('a', 'b')) AS notes",
    )
    got = collect_arrow(frame)
    assert got.equals(frame.toArrow())
    assert got.column("rid").to_pylist() == list(range(25_003))
    assert got.column("text").null_count == 5_001


def test_collect_arrow_of_an_empty_frame_keeps_the_schema(spark):
    frame = spark.range(0, 10, numPartitions=3).where("id < 0").selectExpr("id AS rid", "'t' AS text")
    got = collect_arrow(frame)
    assert got.num_rows == 0
    assert got.schema.names == ["rid", "text"]


def test_intermediates_stay_off_the_heap_in_local_mode_unless_told(spark):
    """In local mode the one JVM is driver and executors: the engine's frames go to disk by default."""
    from pyspark import StorageLevel

    assert spark.sparkContext.master.startswith("local")
    assert storage_level(spark) == StorageLevel.DISK_ONLY
    spark.conf.set("spark.dqaudit.storageLevel", "memory_and_disk")
    try:
        assert storage_level(spark) == StorageLevel.MEMORY_AND_DISK
        spark.conf.set("spark.dqaudit.storageLevel", "ON_THE_MOON")
        with pytest.raises(ConfigError, match="spark.dqaudit.storageLevel"):
            storage_level(spark)
    finally:
        spark.conf.unset("spark.dqaudit.storageLevel")


@pytest.mark.parametrize(("master", "cores"), [
    ("local", 1), ("local[2]", 2), ("local[ 8 ]", 8), ("local[3,2]", 3), ("local[*]", os.cpu_count() or 1),
    ("spark://host:7077", None), ("yarn", None), ("local-cluster[2,1,1024]", None), ("", None),
])
def test_local_cores_of_a_master(master, cores):
    assert _local_cores(master) == cores


def test_a_local_session_gets_few_shuffle_partitions_unless_the_config_says():
    """Spark's 200 cost a 100-text audit most of a minute on 2 cores; a cluster keeps its own setting."""
    key = "spark.sql.shuffle.partitions"
    assert session_settings(EngineConfig(), "local[2]")[key] == "16"
    assert session_settings(EngineConfig(), "local[8]")[key] == "32"
    assert key not in session_settings(EngineConfig(), "spark://host:7077")
    assert key not in session_settings(EngineConfig(), None)  # under spark-submit
    assert session_settings(EngineConfig(conf={key: 400}), "local[2]")[key] == "400"
