"""Collecting to the driver one partition per job gives what a single collect gives."""

from __future__ import annotations

from dqaudit.engines.spark.session import collect_arrow


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
