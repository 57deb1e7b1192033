"""Writing the export: every row rendered on the executors by the local writer's functions, part files
renamed into a local export's layout, published by the same steps as a local export.

Each row goes through :func:`~dqaudit.export.row_lines` (routing, rendering and chat examples: the
local writer's code); the folder is published by :func:`~dqaudit.publish.staged_folder` over a
:class:`~dqaudit.publish.LocalStore` (a ``file:`` or plain path) or a :class:`HadoopStore`
(``hdfs://``, ``s3a://``...), so the ownership marker, the hidden sibling, the swap and the error
messages are the local export's.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np
import orjson
import pandas as pd

from ...data import LoadProblem
from ...errors import DqauditError
from .read import FILE_SHIFT
from .session import java_errors, keep

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from ...context import AuditContext
    from ...export import PreparedExport
    from .session import Stages

#: Spark's own output folder inside the hidden sibling; removed once its part files are renamed.
_PARTS = "_spark"


def write_outputs(
    rows: DataFrame,
    rid: np.ndarray,
    uris: list[str],
    ctx: AuditContext,
    prepared: PreparedExport,
    folder: str,
    log: Stages,
) -> dict[str, dict[str, Any]]:
    """Render every input row on the executors and write one part file per output under ``folder``.

    The driver ships one small decision row per record (split, and for the rare quarantined,
    masked or relabelled rows their reasons or new label); the executors join it with the
    cached input rows and call :func:`~dqaudit.export.row_lines`, as the local writer does.
    Rows are hash-partitioned by output file and sorted by ``rid`` (= input order), so each
    output is one ordered part file in ``folder/f=<index>/``. Returns rows and sha256 per
    output name, hashed on the executors from the same cached, ordered frame that was written.
    """
    from ...export import output_names, row_lines

    spark = rows.sparkSession
    names = output_names(ctx.config.export.chat)
    slot = {name: k for k, name in enumerate(names)}
    plan = prepared.plan
    quarantined = prepared.split_of < 0
    decisions = pd.DataFrame(
        {
            "rid": rid,
            "assigned": prepared.split_of.astype(np.int32),  # not "split": the rows have that field
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
    schema = "rid long, assigned int, record_id string, reasons string, masked boolean, relabel string"
    columns = ["rid", "line", "problem", "message", "raw", "source", "text", "output", "label"]
    joined = rows.join(spark.createDataFrame(decisions, schema), "rid", "left").select(
        *columns, "assigned", "record_id", "reasons", "masked", "relabel"
    )
    render, chat = prepared.rendering, ctx.config.export.chat

    def string(value: Any) -> str | None:
        return value if isinstance(value, str) else None  # pandas reads a null string as None or NaN

    def lines(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            out_f: list[int] = []
            out_rid: list[int] = []
            out_value: list[str] = []
            for r in batch.itertuples(index=False):
                line = int(r.line)
                where = {"line": line}
                if len(uris) > 1:
                    where = {"file": uris[int(r.rid) >> FILE_SHIFT], "line": line}
                source = string(r.source)
                problem = None
                if isinstance(r.problem, str):
                    problem = LoadProblem(line, r.problem, r.message, r.raw)

                def record(source: str | None = source, problem: LoadProblem | None = problem) -> Any:
                    return problem if source is None else orjson.loads(source)

                if problem is not None:
                    routed = row_lines(render, where, r.raw, record, problem=problem)
                else:
                    reasons = string(r.reasons)
                    routed = row_lines(
                        render, where, source or "", record, split=int(r.assigned),
                        record_id=string(r.record_id) or "",
                        reasons=orjson.loads(reasons) if reasons else None, masked=bool(r.masked),
                        relabel=string(r.relabel), text=r.text, output=string(r.output),
                        label=string(r.label), chat=chat)
                for name, value in routed:
                    out_f.append(slot[name])
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
        )
        ordered = keep(ordered)
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


def local_path(uri: str) -> str | None:
    """The local path a plain path or ``file:`` URI names; None for other filesystems (``s3a://``...)."""
    if uri.startswith("file:"):
        return urlparse(uri).path
    return None if re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:", uri) else uri


class HadoopStore:
    """A :class:`~dqaudit.publish.Store` on a Hadoop filesystem (``hdfs://``, ``s3a://``, ``gs://``...).

    Renames are atomic on HDFS; on object stores they are copies, so a crash mid-swap there can
    leave a partial folder, but never one with a manifest that does not describe it (the manifest
    is written last inside the sibling). There is no lock and no process to ask, so only a
    previous export stranded mid-swap (``.<out>.old-*``) counts as abandoned: another driver's
    hidden folder may belong to a run that is still writing.
    """

    def __init__(self, spark: SparkSession, uri: str) -> None:
        self.jvm = spark.sparkContext._jvm
        path = self.jvm.org.apache.hadoop.fs.Path(uri)
        with java_errors(f"opening {uri}"):
            self.fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
            self.root = self.fs.makeQualified(path)

    def path(self, uri: str) -> Any:
        """A path as given (input URIs are already qualified, maybe on another filesystem)."""
        return self.jvm.org.apache.hadoop.fs.Path(uri)

    def join(self, folder: Any, name: str) -> Any:
        return self.jvm.org.apache.hadoop.fs.Path(folder, name)

    def parent(self, path: Any) -> Any:
        return path.getParent()

    def name(self, path: Any) -> str:
        return str(path.getName())

    def show(self, path: Any) -> str:
        return str(path.toString()).rstrip("/")

    def kind(self, path: Any) -> str | None:
        if not self.fs.exists(path):
            return None
        status = self.fs.getFileStatus(path)
        return "dir" if status.isDirectory() else "file" if status.isFile() else "other"

    def holds(self, folder: Any, path: Any) -> bool:
        inside, top = self.show(path), self.show(folder)
        return inside == top or inside.startswith(top + "/")

    def names(self, folder: Any) -> list[str]:
        return sorted(str(status.getPath().getName()) for status in self.fs.listStatus(folder))

    def glob(self, folder: Any, pattern: str) -> list[Any]:
        found = self.fs.globStatus(self.join(folder, pattern)) or []
        return sorted((status.getPath() for status in found), key=self.show)

    def mtime(self, path: Any) -> float:
        return float(self.fs.getFileStatus(path).getModificationTime()) / 1000

    def read(self, path: Any, limit: int | None = None) -> bytes | None:
        if self.kind(path) != "file" or (limit is not None and self.fs.getFileStatus(path).getLen() > limit):
            return None
        stream = self.fs.open(path)
        try:
            return bytes(self.jvm.org.apache.commons.io.IOUtils.toByteArray(stream))
        finally:
            stream.close()

    def write(self, path: Any, data: bytes) -> None:
        """A file is complete once its stream is closed (object stores do not support ``hsync``)."""
        stream = self.fs.create(path, True)
        try:
            stream.write(bytearray(data))
        finally:
            stream.close()

    def rename(self, source: Any, target: Any) -> None:
        if not self.fs.rename(source, target):
            raise DqauditError(f"could not rename {self.show(source)} to {self.show(target)}")

    def settle(self, path: Any) -> None:
        """Renames on a Hadoop filesystem are durable once they return."""

    def remove(self, path: Any) -> None:
        self.fs.delete(path, True)

    def make_hidden(self, parent: Any, prefix: str) -> Any:
        path = self.join(parent, prefix + uuid.uuid4().hex[:12])
        if not self.fs.mkdirs(path):
            raise DqauditError(f"could not create {self.show(path)}")
        return path

    def locked(self, folder: Any) -> AbstractContextManager[None]:
        return nullcontext()

    def abandoned(self, name: str) -> bool:
        return ".old-" in name


class Target:
    """Where ``dqaudit split --engine spark`` writes: a folder on a :class:`~dqaudit.publish.Store`."""

    def __init__(self, store: Any, out: Any, names: list[str] | None, shown: str) -> None:
        self.store, self.out, self.names, self.shown = store, out, names, shown

    def check(self, inputs: list[str]) -> None:
        """Refuse a folder that holds an input file, or an existing folder dqaudit did not write."""
        from ...publish import check_folder

        store = self.store
        if isinstance(store, HadoopStore):
            with java_errors(f"checking {self.shown}"):
                check_folder(store, self.out, [store.path(u) for u in inputs], self.names, shown=self.shown)
        else:
            local = [Path(p) for uri in inputs if (p := local_path(uri)) is not None]
            check_folder(store, self.out, local, self.names, shown=self.shown)

    def publish(
        self, write: Callable[[str], dict[str, dict[str, Any]]], manifest: dict[str, Any], log: Stages,
        records: bytes | None = None,
    ) -> dict[str, Any]:
        """Spark writes part files into a marked hidden sibling; they are renamed to the output names,
        records.parquet (built on the driver, where the checks ran) is written beside them, the manifest
        last, and the sibling is swapped into place."""
        from ...export import RECORDS, records_entry
        from ...publish import MANIFEST, staged_folder, write_manifest

        store = self.store
        with staged_folder(self.out, self.names, store) as tmp:
            parts_dir = store.join(tmp, _PARTS)
            outputs = write(store.show(parts_dir) if isinstance(store, HadoopStore) else f"file://{parts_dir}")
            with log.stage("rename part files into place", "driver"):
                for k, (name, written) in enumerate(outputs.items()):
                    parts = store.glob(store.join(parts_dir, f"f={k}"), "part-*")
                    _check_parts(name, written, parts)
                    if parts:
                        store.rename(parts[0], store.join(tmp, name))
                        store.settle(store.join(tmp, name))
                    else:
                        store.write(store.join(tmp, name), b"")
                store.remove(parts_dir)
            if records is not None:
                store.write(store.join(tmp, RECORDS), records)
                manifest["records"] = records_entry(records, manifest)
            manifest["outputs"], manifest["engine"] = outputs, log.info
            write_manifest(store.join(tmp, MANIFEST), manifest, store)
        return manifest


def target(spark: SparkSession, out: str, names: list[str] | None) -> Target:
    """A local folder (plain path or ``file:``; a symlink written through) or a Hadoop URI."""
    from ...publish import LOCAL, destination

    local = local_path(out)
    if local is not None:
        return Target(LOCAL, destination(Path(local)), names, out)
    return hadoop_target(spark, out, names)


def hadoop_target(spark: SparkSession, out: str, names: list[str] | None) -> Target:
    """A folder on a Hadoop filesystem (``file:`` URIs too, which :func:`target` sends to the local store)."""
    store = HadoopStore(spark, out)
    return Target(store, store.root, names, store.show(store.root))


def _check_parts(name: str, written: dict[str, Any], parts: list[Any]) -> None:
    """One part file per non-empty output, or the layout cannot be trusted."""
    if len(parts) > 1 or (written["rows"] and not parts):
        raise DqauditError(
            f"Spark wrote {len(parts)} part files for {name} ({written['rows']} rows); with a cluster, write "
            "the splits to a filesystem every executor shares (hdfs://, s3a://...), not a local folder"
        )
