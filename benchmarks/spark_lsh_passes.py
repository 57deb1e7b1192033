"""The Python work of the Spark engine's LSH passes, in one process, without Spark.

Feeds the functions the executors run (``dqaudit.engines.spark.cluster``: routing members,
the bucket pass, then either the low-byte blocks and the cell pass or, past ``bands`` chunks, the
pass that counts the estimated pairs once) the local signatures of the Spark benchmark's corpus,
hands their blocks from one to the next as Spark's shuffles would (every block of a partition or
cell together), and prints each pass's seconds and the bytes each shuffle would move. It checks the
result against the local engine: the same number of distinct candidates and the same pairs passing
the b-bit estimate, or it fails. Shuffle, Arrow conversion and worker costs are not in these
figures; the Spark stages are in ``benchmarks/spark.py --profile``.

    python benchmarks/spark_lsh_passes.py --size 1000000
    python benchmarks/spark_lsh_passes.py --size 1000000 --chunk-rows 20000 --mode cells buckets

``--chunk-rows`` stands in for a larger corpus: at 20,000 records a chunk, 1M records make the 50
chunks of 12.5M records at the default 250,000, where the cells' low-byte volume is past the bands'
(``auto`` then estimates in the buckets, as the engine would).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

    from dqaudit.dedup.minhash import MinHashParams

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    import orjson
    from spark import write_corpus

    from dqaudit.dedup import minhash as mh
    from dqaudit.engines.spark import cluster

    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/dqaudit-spark-bench"))
    parser.add_argument("--chunk-rows", type=int, default=cluster.CHUNK_ROWS, help="records per cell chunk")
    parser.add_argument("--mode", nargs="+", choices=["auto", "cells", "buckets"], default=["auto"],
                        help="where pairs meet their low bytes (auto: the engine's choice by chunk count)")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    with write_corpus(args.size, args.workdir).open("rb") as lines:
        texts = [orjson.loads(line)["text"] for line in lines]
    params = mh.MinHashParams().resolve([texts[i] for i in mh.auto_sample(len(texts))])
    sigs = mh.signatures(texts, params)
    n = len(texts)
    rid = np.arange(n, dtype=np.int64)
    whole = mh.band_keys(sigs, 1, params.num_perm)[:, 0].view(np.int64)
    keys = np.ascontiguousarray(mh.band_keys(sigs, params.bands, params.rows).view(np.int64))
    low = mh._low_bytes(sigs).view(np.uint8)
    live = np.flatnonzero((sigs != mh.EMPTY).any(axis=1))
    reps = np.sort(mh.distinct_signatures(sigs, live)[0])
    chunks = max(1, -(-len(live) // args.chunk_rows))
    local_pairs, local_distinct = mh._live_lsh_pairs(sigs, params.bands, params.rows, reps,
                                                     mh.MAX_BUCKET_PAIRS, mh.estimate_floor(params.threshold))
    cluster.CHUNK_ROWS = args.chunk_rows
    for mode in args.mode:
        in_buckets = cluster.estimate_in_buckets(len(live), params) if mode == "auto" else mode == "buckets"
        run = Passes(params, chunks, in_buckets, len(live))
        found, distinct = run.pairs(rid[live], whole[live], keys[live], low[live])
        spark_pairs = mh._unique_pairs(found, n)
        if distinct != local_distinct or not np.array_equal(spark_pairs, local_pairs):
            raise SystemExit(f"not the local engine's: {distinct:,} distinct candidates, "
                             f"{len(spark_pairs):,} close pairs; locally {local_distinct:,} and "
                             f"{len(local_pairs):,}")
        print(f"{n:,} records, {chunks} chunks, {'buckets' if in_buckets else 'cells'}: {run.tasks} bucket "
              f"tasks; {distinct:,} distinct candidates, {len(spark_pairs):,} pass the estimate (the local "
              f"engine's counts)")
        for name, took in run.seconds.items():
            print(f"  {name}: {took:.1f} s, {run.shuffled.get(name, 0) / 2**20:,.0f} MiB out")


class Passes:
    """The LSH passes of one mode, their seconds and the packed bytes each one hands to the next shuffle."""

    def __init__(self, params: MinHashParams, chunks: int, in_buckets: bool, records: int) -> None:
        from dqaudit.engines.spark import cluster

        self.params, self.in_buckets = params, in_buckets
        self.tasks = cluster._bucket_tasks(records, params, in_buckets, 16)
        order = np.arange(chunks)  # a cell's tag: its unordered pair of chunks, as _Cells.of numbers them
        self.cells = cluster._Cells(chunks, np.minimum.outer(order, order) * chunks
                                    + np.maximum.outer(order, order))
        self.seconds: dict[str, float] = {}
        self.shuffled: dict[str, int] = {}

    def timed(self, name: str, out: Iterable[pa.RecordBatch], key: str) -> dict[int, list[tuple[int, bytes]]]:
        """Run a pass to its end; its blocks grouped by ``key`` (the next shuffle's partition)."""
        began = time.perf_counter()
        batches = list(out)
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - began
        grouped: dict[int, list[tuple[int, bytes]]] = defaultdict(list)
        for batch in batches:
            kinds = batch.column("kind").to_pylist() if "kind" in batch.schema.names else [0] * len(batch)
            blocks = batch.column("block").to_pylist()
            for part, kind, block in zip(batch.column(key).to_pylist(), kinds, blocks, strict=True):
                grouped[part].append((kind, block))
                self.shuffled[name] = self.shuffled.get(name, 0) + len(block)
        return grouped

    def pairs(self, rid: np.ndarray, whole: np.ndarray, keys: np.ndarray,
              low: np.ndarray) -> tuple[np.ndarray, int]:
        """The pairs passing the estimate and the distinct candidate count, as the engine's jobs give them."""
        import pyarrow as pa

        from dqaudit.dedup import minhash as mh
        from dqaudit.engines.spark import cluster

        params = self.params
        estimate = (params.num_perm, mh.estimate_floor(params.threshold))

        def batches(**columns: np.ndarray) -> list[pa.RecordBatch]:
            return [pa.RecordBatch.from_arrays(
                [cluster._as_binary(c[s:s + 8192]) if c.ndim == 2 else pa.array(c[s:s + 8192])
                 for c in columns.values()], list(columns)) for s in range(0, len(rid), 8192)]

        def given(items: list[tuple[int, bytes]]) -> pa.RecordBatch:
            kinds, blocks = zip(*items, strict=True)
            columns = [pa.array(kinds, pa.int32()), pa.array(blocks, pa.binary())]
            return pa.RecordBatch.from_arrays(columns, ["kind", "block"])

        members = batches(rid=rid, whole=whole, keys=keys.view(np.uint8),
                          **({"low": low} if self.in_buckets else {}))
        routed = cluster._route_members(iter(members), np.arange(self.tasks), params.bands)
        by_task = self.timed("route members", routed, "part")
        by_cell: dict[int, list[tuple[int, bytes]]] = defaultdict(list)
        where = cluster._ByRecord(np.arange(self.tasks)) if self.in_buckets else self.cells
        for items in by_task.values():
            out = cluster._bucket_pairs(iter([given(items)]), where, estimate if self.in_buckets else None)
            for cell, got in self.timed("bucket pass", out, "cell").items():
                by_cell[cell] += got
        if self.in_buckets:
            last = cluster._distinct_kept
        else:
            lows = batches(rid=rid, low=low)
            sent = cluster._low_rows(iter(lows), self.cells)
            for cell, got in self.timed("low-byte blocks", sent, "cell").items():
                by_cell[cell] += got
            last = cluster._close_pairs(*estimate)
        found, distinct = [], 0
        for items in by_cell.values():
            began = time.perf_counter()
            for out in last(iter([given(items)])):
                a, b = out.column("a").to_numpy(), out.column("b").to_numpy()
                found.append(np.stack([a[:-1], b[:-1]], axis=1))
                distinct += int(b[-1])
            name = "count pass" if self.in_buckets else "cell pass"
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - began
        return np.concatenate(found), distinct


if __name__ == "__main__":
    main()
