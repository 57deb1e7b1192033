"""Reading: the input files, every row parsed by the local loader's own functions, the canonical table.

JSONL lines are split on ``\\n`` alone and parsed as the local loader parses them, in batches
(``_Builder.add_lines``: whole columns at once, the per-line rules of :func:`~dqaudit.data._parse_lines`
for a chunk with a blank, malformed or unusual line); CSV files are parsed whole by
:func:`~dqaudit.data.csv_rows` (quoted newlines, BOMs, UTF-16, the delimiter guess), one task per
file, as the local loader reads a CSV whole too, and every row goes through ``_Builder.add``, the
local record rules. The tasks hand their rows to Spark as Arrow batches. The one difference left
is documented in docs/spark.md ("Reader differences"): Hadoop decodes JSONL text itself, so an
invalid UTF-8 byte reaches the parser as U+FFFD (the local reader quarantines such a line as
``bad_encoding``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pandas as pd

from ...config import TEXT_COLUMNS
from ...data import (
    _SAMPLES,
    COLUMNS,
    Dataset,
    LoadProblem,
    SourceInfo,
    _Builder,
    _parse_lines,
    chat_fields,
    csv_rows,
    detect_format,
)
from ...errors import DqauditError, InputError
from .session import collect_arrow, java_errors, keep

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

    from ...config import AuditConfig, FieldsConfig, InputConfig
    from ...context import TextFetcher, TextFunction, TextMapper

#: ``rid = file_index << FILE_SHIFT | line``: a record's identity on every executor.
FILE_SHIFT = 40
#: Input bytes per partition of a JSONL file. Every partition is collected whole by one job (in
#: local mode through the one JVM's heap, several copies at a time), so it is kept small:
#: 8 MiB of short records is about 43,000 rows, an Arrow table of about 10 MiB.
SPLIT_BYTES = 8 << 20
#: A whole-file problem found on an executor (a CSV that cannot be decoded): raised on the driver.
_FILE_ERROR = "file_error"
STRING_COLUMNS = (
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


#: Rows per Arrow batch a parsing task hands to Spark (and lines per batch the JSONL parser reads at once).
_BATCH_ROWS = 8192


def _arrow_schema() -> pa.Schema:
    """The parsed rows' columns: the batches the parsing tasks build, and the Spark frame they become."""
    import pyarrow as pa

    text = pa.string()
    return pa.schema(
        [("rid", pa.int64()), ("line", pa.int64()),
         *((name, text) for name in ("problem", "message", "raw", "field", *STRING_COLUMNS[:-1])),
         ("annotations", pa.list_(pa.list_(text))), ("text_hash", text), ("source", text)]
    )


def _ipc_batch(builder: _Builder, file_index: int, sources: dict[int, str] | None) -> bytes:
    """What ``builder`` holds (records, then problems) as one Arrow IPC stream of :func:`_arrow_schema`.

    ``sources`` maps a row's line to what the split writer copies (``None``: not kept); a row that did
    not parse has no entry."""
    import pyarrow as pa

    schema = _arrow_schema()
    columns, problems = builder.columns, builder.problems
    lines = [*columns["line"], *(p.line for p in problems)]
    records, nothing = [None] * len(columns["line"]), [None] * len(problems)
    values: dict[str, list[Any]] = {
        "rid": [(file_index << FILE_SHIFT) | line for line in lines],
        "line": lines,
        **{name: records + [getattr(p, attr) for p in problems]
           for name, attr in (("problem", "kind"), ("message", "message"), ("raw", "raw"),
                              ("field", "field"))},
        **{name: [*columns[name], *nothing] for name in (*STRING_COLUMNS[:-1], "annotations", "text_hash")},
        "source": [sources.get(line) for line in lines] if sources is not None else [None] * len(lines),
    }
    batch = pa.RecordBatch.from_arrays([pa.array(values[f.name], f.type) for f in schema], schema=schema)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


def _parsed_rows(rows: Iterator[tuple[int, int, str, Any]], fields: FieldsConfig,
                 keep_source: bool) -> Iterator[tuple[bytes]]:
    """CSV and Parquet rows ``(file_index, line, raw, parsed)`` through the local record rules
    (``_Builder.add``), as Arrow IPC batches; ``keep_source`` keeps each record as JSON for the split
    writer."""
    builder, file_index, sources = _Builder(Path("<spark>"), fields), 0, {}
    for k, line, raw, parsed in rows:
        if k != file_index or builder.rows == _BATCH_ROWS:
            if builder.rows:
                yield (_ipc_batch(builder, file_index, sources if keep_source else None),)
            builder, file_index, sources = _Builder(Path("<spark>"), fields), k, {}
        if keep_source and not isinstance(parsed, LoadProblem):
            sources[line] = orjson.dumps(parsed, default=str).decode()
        builder.add(line, raw, parsed)
    if builder.rows:
        yield (_ipc_batch(builder, file_index, sources if keep_source else None),)


def _jsonl_batches(lines: Iterator[tuple[int, int, bytes]], fields: FieldsConfig,
                   keep_source: bool) -> Iterator[tuple[bytes]]:
    """JSONL lines ``(file_index, index, data)`` of one partition through the local loader's batch rules
    (``_Builder.add_lines``: whole columns at once, the per-line rules for a chunk with an unusual row),
    :data:`_BATCH_ROWS` consecutive lines at a time, as Arrow IPC batches. A file's leading BOM is dropped
    and each kept line is its own source, as locally."""
    def flush(k: int, first: int, chunk: list[bytes]) -> tuple[bytes]:
        builder = _Builder(Path("<spark>"), fields)
        builder.add_lines(first + 1, chunk)
        sources = None
        if keep_source:  # each line that parsed, records and the rows the record rules refused
            kept = builder.columns["line"]
            sources = {line: chunk[line - first - 1].rstrip(b"\r\n").decode() for line in kept}
            for problem in builder.problems:
                for line, raw, parsed in _parse_lines(problem.line, [chunk[problem.line - first - 1]]):
                    if not isinstance(parsed, LoadProblem):
                        sources[line] = raw
        return (_ipc_batch(builder, k, sources),)

    chunk: list[bytes] = []
    file_index = first = 0
    for k, index, data in lines:
        if chunk and (k != file_index or index != first + len(chunk) or len(chunk) == _BATCH_ROWS):
            yield flush(file_index, first, chunk)
            chunk = []
        if not chunk:
            file_index, first = k, index
        chunk.append(_as_read(index, data))
    if chunk:
        yield flush(file_index, first, chunk)


def _as_read(index: int, data: bytes) -> bytes:
    """Line ``index`` (from 0) of a file as the local reader reads it: the file's leading BOM dropped."""
    return data.removeprefix(b"\xef\xbb\xbf") if index == 0 else data


def _jsonl_lines(spark: SparkSession, files: list[tuple[str, int, int]]) -> Any:
    """``(file_index, index, data)`` for every line of the JSONL files, in splits of at most
    :data:`SPLIT_BYTES`; called inside :func:`_lines_end_at_newline`, so lines split on ``\n`` only (as
    locally)."""
    sc = spark.sparkContext
    parts = [
        sc.textFile(uri, minPartitions=max(1, -(-size // SPLIT_BYTES)), use_unicode=False)
        .zipWithIndex()
        .map(lambda t, k=k: (k, t[1], t[0]))
        for k, (uri, size, _) in enumerate(files)
    ]
    return sc.union(parts)


@contextmanager
def _lines_end_at_newline(spark: SparkSession) -> Iterator[None]:
    """Hadoop's record delimiter set to ``\n`` on the context's configuration, then put back.

    Hadoop's default line reader also ends a line at a bare ``\r``. The setting must hold until the rows
    are parsed and cached: in local mode a text RDD reads the context's configuration object itself, and
    the job configuration it makes from it when listing its splits is only softly cached (a task may
    rebuild it under memory pressure). On a cluster each RDD ships a copy taken when it is created.
    """
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    key = "textinputformat.record.delimiter"
    before = conf.get(key)
    conf.set(key, "\n")
    try:
        yield
    finally:
        if before is None:
            conf.unset(key)
        else:
            conf.set(key, before)


def _csv_rows(spark: SparkSession, files: list[str], input_config: InputConfig) -> Any:
    """``(file_index, line, raw, parsed)`` for CSV files, each parsed whole by the local reader."""
    sc = spark.sparkContext
    index = {uri: k for k, uri in enumerate(files)}

    def parse(item: tuple[str, bytes]) -> Iterator[tuple[int, int, str, Any]]:
        uri, data = item
        k = index.get(uri, index.get(uri.replace("file:/", "file:///"), 0))
        try:
            for line, raw, parsed in csv_rows(data, uri, input_config):
                yield k, line, raw, parsed
        except InputError as exc:  # carried to the driver as data: an executor cannot raise it there
            yield k, exc.line or 0, "", LoadProblem(exc.line or 0, _FILE_ERROR, str(exc), "")

    return sc.union([sc.binaryFiles(uri) for uri in files]).flatMap(parse)


def _parquet_rows(spark: SparkSession, files: list[str]) -> Any:
    """``(file_index, row, "", record)`` for Parquet files, rows numbered from 1 per file (as locally)."""
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
) -> tuple[DataFrame, list[tuple[str, int, int]], str, FieldsConfig]:
    """Every non-blank input row as a record or a quarantined problem (parsed on every core and cached
    here: the canonical table is then collected one partition per job), the files, the format, and the
    fields read (a chat file's mapping found on its first rows, as the local loader finds it)."""
    files = files or list_files(spark, path)
    fmt = detect_format(Path(files[0][0].rsplit("/", 1)[-1]), config.input)
    uris = [f[0] for f in files]
    with _lines_end_at_newline(spark):  # only JSONL is read as text lines; CSV and Parquet ignore it
        if fmt == "jsonl":
            lines = _jsonl_lines(spark, files)

            def sample() -> list[Any]:
                first = lines.take(_SAMPLES)
                return [obj for k, index, data in first
                        for _, _, obj in _parse_lines(index + 1, [_as_read(index, data)])]

            fields = chat_fields(config.fields, sample)
            blobs = lines.mapPartitions(lambda part: _jsonl_batches(part, fields, keep_source))
        else:
            rows = _csv_rows(spark, uris, config.input) if fmt == "csv" else _parquet_rows(spark, uris)
            fields = chat_fields(config.fields, lambda: [row[3] for row in rows.take(_SAMPLES)])
            blobs = rows.mapPartitions(lambda part: _parsed_rows(part, fields, keep_source))
        parsed = keep(_from_ipc(spark.createDataFrame(blobs, "ipc binary")))
        parsed.count()
    return parsed, files, fmt, fields


def _from_ipc(blobs: DataFrame) -> DataFrame:
    """The rows the parsing tasks packed as Arrow IPC streams, unpacked on the executors.

    A Python RDD becomes a DataFrame by pickling each row; for a few large binary rows per partition that
    is a copy, where one tuple per record of eighteen fields cost a Python and a JVM conversion per value."""
    import pyarrow as pa
    from pyspark.sql.pandas.types import from_arrow_schema

    def unpack(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for blob in batch.column("ipc").to_pylist():
                yield from pa.ipc.open_stream(blob)

    return blobs.mapInArrow(unpack, from_arrow_schema(_arrow_schema()))


def collect_dataset(
    rows: DataFrame,
    path: str,
    files: list[tuple[str, int, int]],
    fmt: str,
    fields: FieldsConfig,
    texts: frozenset[str],
) -> tuple[Dataset, np.ndarray]:
    """The canonical table (row order = ``rid`` order, as the local loader's) and its ``rid`` per row.

    Of the text columns only ``texts`` (those some check reads whole) are collected; the frame
    has no column for the others, whose rows :func:`text_fetcher` fetches when asked.
    """
    import pyarrow.compute as pc

    left_out = TEXT_COLUMNS - texts
    strings = [c for c in STRING_COLUMNS if c not in left_out]
    everything = collect_arrow(
        rows.select("rid", "line", "problem", "message", "raw", "field", *strings, "annotations")
    )  # records and problems together
    is_record = pc.is_null(everything.column("problem"))
    problems = sorted(
        everything.filter(pc.invert(is_record))
        .select(["rid", "line", "problem", "message", "raw", "field"])
        .to_pylist(),
        key=lambda p: p["rid"],
    )
    failed = next((p for p in problems if p["problem"] == _FILE_ERROR), None)
    if failed is not None:
        raise DqauditError(failed["message"])
    table = everything.filter(is_record)
    rid = table.column("rid").to_numpy()
    order = np.argsort(rid, kind="stable")
    columns: dict[str, pd.Series] = {}
    for name in (c for c in COLUMNS if c not in left_out):
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


def text_fetcher(records: DataFrame, rid: np.ndarray) -> TextFetcher:
    """``fetch(rows, column)`` for :meth:`AuditContext.texts`: the cached ``records`` (``rid`` and the
    string columns) joined with the ``rid`` of the rows asked for, collected one partition per job.

    The ``rid`` list is broadcast (8 bytes a row), so the job reads each cached partition once and
    the driver receives only the rows asked for.
    """

    def fetch(positions: np.ndarray, column: str) -> np.ndarray:
        found, at = _joined_rows(records, rid[positions], column, "fetching")
        return np.array(found.column(column).to_pylist(), dtype=object)[at]

    return fetch


def text_mapper(records: DataFrame, rid: np.ndarray) -> TextMapper:
    """``apply(rows, column, fn)`` for :meth:`AuditContext.map_texts`: the rows asked for joined with the
    cached ``records`` as in :func:`text_fetcher`, ``fn`` run on each batch of their texts on the executors,
    and only its numbers collected (as doubles, then cast back to the dtype ``fn`` returns)."""

    def apply(positions: np.ndarray, column: str, fn: TextFunction) -> np.ndarray:
        sample = np.asarray(fn([""]))  # the output's width and dtype, from one empty text on the driver
        names = [f"c{k}" for k in range(sample.shape[1])]

        def compute(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
            for batch in batches:
                out = np.asarray(fn(batch[column].tolist()), dtype=np.float64).reshape(len(batch), len(names))
                columns = {c: out[:, k] for k, c in enumerate(names)}
                yield pd.DataFrame({"rid": batch["rid"].to_numpy(), **columns})

        schema = ", ".join(["rid long", *(f"{c} double" for c in names)])
        found, at = _joined_rows(records, rid[positions], column, "running a function on",
                                 lambda joined: joined.mapInPandas(compute, schema))
        values = np.stack([found.column(c).to_numpy() for c in names], axis=1)
        return values[at].astype(sample.dtype)

    return apply


def _joined_rows(records: DataFrame, wanted: np.ndarray, column: str, action: str,
                 then: Callable[[DataFrame], DataFrame] | None = None) -> tuple[pa.Table, np.ndarray]:
    """The cached ``records`` rows (``rid`` and ``column``) of the record ids ``wanted``
    (:func:`wanted_rows`), passed through ``then`` and collected; and the row of each wanted id in it."""
    with java_errors(f"{action} {len(wanted):,} {column} values on Spark"):
        joined = wanted_rows(records, wanted, column)
        found = collect_arrow(joined if then is None else then(joined))
    return found, located(found, wanted, f"{action} {column}")


def wanted_rows(records: DataFrame, wanted: np.ndarray, column: str) -> DataFrame:
    """The ``records`` rows (``rid`` and ``column``) of the record ids ``wanted``, joined with their distinct
    ids: broadcast while they are few (Spark's ``autoBroadcastJoinThreshold``), so the job reads each cached
    partition once, and shuffled when they are many (a split's re-check asks for every kept row), where a
    forced broadcast would have to fit the heap."""
    keys = records.sparkSession.createDataFrame(pd.DataFrame({"rid": np.unique(wanted)}))
    return records.select("rid", column).join(keys, "rid")


def located(found: pa.Table, wanted: np.ndarray, what: str) -> np.ndarray:
    """The row of ``found`` (one per distinct record id, any order) holding each id of ``wanted``."""
    distinct = len(np.unique(wanted))
    if found.num_rows != distinct:  # the cached rows are the ones collected: never expected
        raise DqauditError(f"{what} on Spark: {found.num_rows:,} of {distinct:,} records found")
    ids = found.column("rid").to_numpy()
    order = np.argsort(ids, kind="stable")
    return order[np.searchsorted(ids, wanted, sorter=order)]
