"""The Spark reader gives the local reader's rows: quoted newlines, bare carriage returns, and the one
documented exception (invalid UTF-8 in JSONL)."""

from __future__ import annotations

import json

import pytest

from dqaudit.api import open_context
from dqaudit.errors import DqauditError
from dqaudit.registry import parse_config


def test_csv_with_quoted_newlines_reads_as_locally(both_engines, tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text(
        'id,text,label\n'
        'a,"first line\nsecond line of the same record",x\n'
        'b,plain record,y\n'
        'c,"a quote left open,y\n'
        'd,after it,y\n'
        '\n'
        'e,"three\r\nphysical\r\nlines",z\n',
        encoding="utf-8", newline="")
    local, spark = both_engines(path)
    assert spark.frame.equals(local.frame)
    assert spark.dataset.problems == local.dataset.problems
    assert local.frame["text"].iloc[0] == "first line\nsecond line of the same record"  # joined, not split
    assert spark.dataset.source.rows == local.dataset.source.rows


def test_an_undecodable_csv_is_the_local_one_line_error(spark, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"id,text\na,caf\xe9\n")
    with pytest.raises(DqauditError) as local_error:
        open_context(path, parse_config({}))
    with pytest.raises(DqauditError) as spark_error:
        open_context(str(path), parse_config({"engine": "spark"}))
    assert "invalid UTF-8 at byte 13; re-encode the file as UTF-8" in str(local_error.value)
    reason = str(local_error.value).split(str(path), 1)[1]  # ":2: invalid UTF-8 ...": line and reason
    assert str(spark_error.value).endswith(reason) and "\n" not in str(spark_error.value)


def test_a_bare_carriage_return_does_not_end_a_jsonl_line(both_engines, tmp_path):
    path = tmp_path / "rows.jsonl"
    rows = [json.dumps({"id": f"r{i}", "text": f"text number {i}", "label": "ab"[i % 2]}) for i in range(6)]
    rows[2] = '{"id": "r2",\r"text": "a JSON line with a carriage return between its tokens"}'
    rows[4] = rows[4] + "\r"  # CRLF
    path.write_bytes(("\n".join(rows) + "\n").encode())
    local, spark = both_engines(path)
    assert len(local.frame) == 6 and not local.dataset.problems
    assert spark.frame.equals(local.frame) and spark.dataset.problems == local.dataset.problems


def test_lines_end_at_newline_in_every_task_even_when_tasks_rebuild_their_job_configuration(
        spark, both_engines, tmp_path):
    """With ``spark.hadoop.cloneConf`` each task makes its job configuration afresh from the context's
    (what a cleared soft cache makes a task do): the delimiter must still be set while the rows are parsed,
    and put back afterwards."""
    path = tmp_path / "rows.jsonl"
    rows = [json.dumps({"id": f"r{i}", "text": f"text number {i}"}) for i in range(4)]
    rows[1] = '{"id": "r1",\r"text": "a carriage return between its tokens"}'
    path.write_bytes(("\n".join(rows) + "\n").encode())
    conf = spark.sparkContext._jsc.sc().conf()  # the live SparkConf, read when each RDD is made
    conf.set("spark.hadoop.cloneConf", "true")
    try:
        local, on_spark = both_engines(path)
    finally:
        conf.remove("spark.hadoop.cloneConf")
    assert len(local.frame) == 4 and on_spark.frame.equals(local.frame)
    assert spark.sparkContext._jsc.hadoopConfiguration().get("textinputformat.record.delimiter") is None


def test_invalid_utf8_in_jsonl_is_the_documented_exception(both_engines, tmp_path):
    """Hadoop decodes text itself (a bad byte is U+FFFD): Spark keeps what the local reader quarantines."""
    path = tmp_path / "rows.jsonl"
    good = [json.dumps({"id": f"r{i}", "text": f"text number {i}"}).encode() for i in range(3)]
    path.write_bytes(b"\n".join([good[0], b'{"id": "bad", "text": "caf\xe9"}', *good[1:]]) + b"\n")
    local, spark = both_engines(path)
    assert [p.kind for p in local.dataset.problems] == ["bad_encoding"]
    assert "bad" not in set(local.frame["id"])
    assert not spark.dataset.problems
    assert spark.frame.set_index("id").loc["bad", "text"] == "caf\ufffd"
    assert spark.frame[spark.frame["id"] != "bad"].reset_index(drop=True).equals(local.frame)
