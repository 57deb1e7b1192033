"""The Python work of the Spark engine's LSH passes, in one process, without Spark.

Feeds the functions the executors run (``dqaudit.engines.spark.cluster``: routing members,
the bucket pass, the low-byte blocks, the cell pass) the local signatures of the Spark benchmark's
corpus, hands their blocks from one to the next as Spark's shuffles would (every block of a
partition or cell together), and prints each pass's seconds. It checks the result against the
local engine: the same number of distinct candidates and the same pairs passing the b-bit
estimate, or it fails. Shuffle, Arrow conversion and worker costs are not in these figures; the
Spark stages are in ``benchmarks/spark.py --profile``.

    python benchmarks/spark_lsh_passes.py --size 1000000
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    import orjson
    import pyarrow as pa
    from spark import write_corpus

    from dqaudit.dedup import minhash as mh
    from dqaudit.engines.spark import cluster

    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/dqaudit-spark-bench"))
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
    tasks = max(16, -(-len(live) * params.bands // cluster.MEMBERS_PER_TASK))
    chunks = max(1, -(-len(live) // cluster.CHUNK_ROWS))
    order = np.arange(chunks)  # a cell's tag: its unordered pair of chunks, as _Cells.of numbers them
    cells = cluster._Cells(chunks, np.minimum.outer(order, order) * chunks + np.maximum.outer(order, order))
    seconds: dict[str, float] = {}

    def batches(*columns: tuple[str, object]) -> list[pa.RecordBatch]:
        return [pa.RecordBatch.from_arrays([make(live[s:s + 8192]) for _, make in columns],
                                           [name for name, _ in columns])
                for s in range(0, len(live), 8192)]

    def timed(name: str, blocks: object) -> list[pa.RecordBatch]:
        began = time.perf_counter()
        out = list(blocks)
        seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - began
        return out

    members = batches(("rid", lambda at: pa.array(rid[at])), ("whole", lambda at: pa.array(whole[at])),
                      ("keys", lambda at: cluster._as_binary(keys[at].view(np.uint8))))
    by_task: dict[int, list[bytes]] = defaultdict(list)
    routed = cluster._route_members(iter(members), np.arange(tasks), params.bands)
    for batch in timed("route members", routed):
        for part, block in zip(*(batch.column(c).to_pylist() for c in ("part", "block")), strict=True):
            by_task[part].append(block)
    by_cell: dict[int, list[tuple[int, bytes]]] = defaultdict(list)

    def to_cells(out: list[pa.RecordBatch]) -> None:
        for batch in out:
            for cell, kind, block in zip(*(batch.column(c).to_pylist() for c in ("cell", "kind", "block")),
                                         strict=True):
                by_cell[cell].append((kind, block))

    for blocks in by_task.values():
        given = pa.RecordBatch.from_arrays([pa.array([0] * len(blocks)), pa.array(blocks, pa.binary())],
                                           ["part", "block"])
        to_cells(timed("bucket pass", cluster._bucket_pairs(iter([given]), cells)))
    lows = batches(("rid", lambda at: pa.array(rid[at])), ("low", lambda at: cluster._as_binary(low[at])))
    to_cells(timed("low-byte blocks", cluster._low_rows(iter(lows), cells)))
    close = cluster._close_pairs(params.num_perm, mh.estimate_floor(params.threshold))
    found, distinct = [], 0
    for items in by_cell.values():
        given = pa.RecordBatch.from_arrays([pa.array([k for k, _ in items], pa.int32()),
                                            pa.array([b for _, b in items], pa.binary())], ["kind", "block"])
        for out in timed("cell pass", close(iter([given]))):
            a, b = out.column("a").to_numpy(), out.column("b").to_numpy()
            found.append(np.stack([a[:-1], b[:-1]], axis=1))
            distinct += int(b[-1])
    spark_pairs = mh._unique_pairs(np.concatenate(found), n)
    local_pairs, local_distinct = mh._live_lsh_pairs(sigs, params.bands, params.rows, reps,
                                                     mh.MAX_BUCKET_PAIRS, mh.estimate_floor(params.threshold))
    if distinct != local_distinct or not np.array_equal(spark_pairs, local_pairs):
        raise SystemExit(f"not the local engine's: {distinct:,} distinct candidates, {len(spark_pairs):,} "
                         f"close pairs; locally {local_distinct:,} and {len(local_pairs):,}")
    print(f"{n:,} records, {tasks} bucket tasks, {len(by_cell)} cells: {distinct:,} distinct candidates, "
          f"{len(spark_pairs):,} pass the estimate (the local engine's counts)")
    for name, took in seconds.items():
        print(f"  {name}: {took:.1f} s")


if __name__ == "__main__":
    main()
