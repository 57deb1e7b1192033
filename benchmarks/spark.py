"""Local engine vs Spark ``local[2]``: load + normalise + MinHash + LSH + verify + clusters + exact groups.

Per size, the same JSONL file (the near-duplicate benchmark's corpus: ~20% edited
copies, ~3% exact copies) is loaded and clustered by each engine in a fresh process,
which reports wall time, its peak RSS (the Python driver) and the peak RSS of Spark's
JVM (which in local mode also runs the executors; Python workers are not counted).
Both print the same cluster counts, or the run fails: the engines must agree.
``--checks`` runs some checks afterwards and times them apart (on Spark, text lengths,
the language table and the PII counts are computed on the executors). The context is opened
for those checks, so on Spark the texts stay on the executors when none of them reads a text
column whole; ``--keep-texts`` opens it as a default audit would (texts collected) to compare.
``--policies FILE`` gives ``stale_policy`` its policies file (else it skips); ``checks_sha`` in the
worker's line is a hash of the checks' findings, metrics and scores, to compare runs.
``--split`` times ``dqaudit.split`` instead (audit with ``--checks``, clean, split, leakage re-check, write
the files under the work folder): wall time, peak RSS, the text columns the driver collected, and a hash of
the manifest's rows, counts, leakage and output hashes (equal between engines, or the run fails).

    python benchmarks/spark.py                      # 100k and 1M
    python benchmarks/spark.py --sizes 100000 --master local[2]
    python benchmarks/spark.py --sizes 5000000 --driver-memory 1g   # Spark's default maxResultSize
    python benchmarks/spark.py --sizes 100000 --checks stale_policy --policies sample_data/policies.yaml
    python benchmarks/spark.py --sizes 100000 --engines spark --split --checks duplicates,near_duplicates,pii
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def write_corpus(size: int, workdir: Path) -> Path:
    from near_dup import write_corpus as near_dup_corpus

    return near_dup_corpus(size, workdir, prefix="spark_bench")


def watch(profile: Path) -> None:
    """Log Spark's active stages and the JVM's storage memory every 2 s to ``profile`` (a thread).

    A run that dies (say, of a full heap) still leaves what it was doing; a finished one
    appends :func:`stage_totals`. Reads the Spark UI's REST API, so needs ``spark.ui.enabled``.
    """
    import threading
    import urllib.request

    from pyspark.sql import SparkSession

    sc = SparkSession.getActiveSession().sparkContext
    base = f"{sc.uiWebUrl}/api/v1/applications/{sc.applicationId}"
    began = time.perf_counter()

    def get(what: str) -> list[dict]:
        with urllib.request.urlopen(f"{base}/{what}", timeout=5) as answer:
            return json.load(answer)

    def loop() -> None:
        with profile.open("a") as out:
            while True:
                try:
                    memory = [(e["memoryUsed"], e["maxMemory"]) for e in get("executors")]
                    active = [
                        f"{s['stageId']} {s.get('description', s['name'])[:70]!r} "
                        f"tasks {s['numCompleteTasks']}/{s['numTasks']} "
                        f"spill {s['memoryBytesSpilled'] >> 20} MiB"
                        for s in get("stages?status=active")
                    ]
                    out.write(f"{time.perf_counter() - began:7.1f}s storage {memory} | {'; '.join(active)}\n")
                    out.flush()
                except OSError as exc:  # the UI not up yet, or the JVM gone: say so and keep trying
                    out.write(f"{time.perf_counter() - began:7.1f}s {exc}\n")
                time.sleep(2)

    threading.Thread(target=loop, daemon=True).start()


def stage_totals() -> dict[str, dict[str, Any]]:
    """Per dqaudit stage (job description): task seconds, shuffle written and read, spill (MiB), and its
    Spark stages of 2 task-seconds or more (records in and out, shuffle, spill)."""
    import urllib.request

    from pyspark.sql import SparkSession

    sc = SparkSession.getActiveSession().sparkContext
    url = f"{sc.uiWebUrl}/api/v1/applications/{sc.applicationId}/stages"
    with urllib.request.urlopen(url, timeout=30) as answer:
        stages = json.load(answer)
    totals: dict[str, dict[str, Any]] = {}
    for s in stages:
        t = totals.setdefault(s.get("description", "?").removeprefix("dqaudit: "), dict.fromkeys(
            ("spark_stages", "task_s", "shuffle_write_mib", "shuffle_read_mib", "spill_disk_mib"), 0.0))
        t["spark_stages"] += 1
        t["task_s"] += s["executorRunTime"] / 1000
        t["shuffle_write_mib"] += s["shuffleWriteBytes"] / 2**20
        t["shuffle_read_mib"] += s["shuffleReadBytes"] / 2**20
        t["spill_disk_mib"] += s["diskBytesSpilled"] / 2**20
        if s["executorRunTime"] >= 2000:  # the Spark stages that cost something, to tell them apart
            t.setdefault("largest", []).append(
                f"stage {s['stageId']}: {s['executorRunTime'] / 1000:.1f} task-s, {s['numTasks']} tasks, "
                f"records in {s['inputRecords'] + s['shuffleReadRecords']:,} out "
                f"{s['outputRecords'] + s['shuffleWriteRecords']:,}, shuffle written "
                f"{s['shuffleWriteBytes'] >> 20} MiB, spilled {s['diskBytesSpilled'] >> 20} MiB")
    return {k: {m: v if isinstance(v, list) else round(v, 1) for m, v in t.items()}
            for k, t in totals.items()}


def bench_config(engine: str, master: str, driver_memory: str, policies: Path | None) -> Any:
    """The benchmark's config: no cache (every run computes), Spark's heap and shuffle partitions set."""
    from dqaudit.registry import parse_config

    return parse_config(
        {
            "cache": {"enabled": False},
            "engine": {
                "name": engine,
                "master": master,
                "conf": {
                    "spark.driver.memory": driver_memory,  # in local mode also the executors' heap
                    "spark.sql.shuffle.partitions": "16",
                },
            },
            "checks": {"stale_policy": {"policies": str(policies) if policies else None}},
        }
    )


def worker(engine: str, path: Path, master: str, driver_memory: str, checks: list[str],
           profile: Path | None = None, keep_texts: bool = False, policies: Path | None = None,
           chunk_rows: int | None = None) -> None:
    """Load and cluster ``path`` on ``engine``; print one JSON line of results."""
    from dqaudit.api import open_context
    from dqaudit.engines.spark import cluster
    from dqaudit.features.exact import exact_groups
    from dqaudit.features.near_dups import near_duplicates

    if chunk_rows:  # stands in for a larger corpus: more chunks (past ``bands``: estimated in the buckets)
        cluster.CHUNK_ROWS = chunk_rows

    config = bench_config(engine, master, driver_memory, policies)
    if engine == "spark" and profile:
        from dqaudit.engines.spark.session import spark_session

        spark_session(config.engine)
        watch(profile)
    began = time.perf_counter()
    ctx = open_context(path, config, checks=None if keep_texts else checks or None)
    groups = near_duplicates(ctx).groups
    exact = exact_groups(ctx).to_numpy()
    wall = time.perf_counter() - began
    checks_s, checks_sha = 0.0, ""
    if checks:
        from dqaudit.pipeline import run_checks

        began = time.perf_counter()
        result = run_checks(ctx, checks=checks)
        checks_s = time.perf_counter() - began
        summary = [(r.check, r.score, r.error, r.metrics, [f.to_dict() for f in r.findings])
                   for r in result.results]
        checks_sha = hashlib.sha256(json.dumps(summary, sort_keys=True, default=str).encode()).hexdigest()
        checks_sha = checks_sha[:16]
    sizes = np.bincount(groups)
    jvm_peak = 0
    if engine == "spark":
        from pyspark import SparkContext
        from pyspark.sql import SparkSession

        jvm_peak = _peak_mib(SparkContext._gateway.proc.pid)
        if profile:
            with profile.open("a") as out:
                out.write(json.dumps(stage_totals(), indent=1) + "\n")
        SparkSession.getActiveSession().stop()
    print(
        json.dumps(
            {
                "wall_s": round(wall, 1),
                "checks_s": round(checks_s, 1),
                "checks_sha": checks_sha,
                "rows": len(ctx.frame),
                "clusters": int((sizes > 1).sum()),
                "rows_in_clusters": int(sizes[sizes > 1].sum()),
                "exact_groups": int((np.bincount(exact) > 1).sum()),
                "groups_sha": hashlib.sha256(groups.tobytes()).hexdigest()[:16],
                "driver_peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "jvm_peak_mib": jvm_peak,
                "stages_s": ctx.options.get("engine", {}).get("seconds", {}),
                "texts_collected": ctx.options.get("engine", {}).get("texts_collected"),
            }
        )
    )


def split_worker(engine: str, path: Path, master: str, driver_memory: str, checks: list[str],
                 policies: Path | None = None) -> None:
    """``dqaudit.split`` of ``path`` on ``engine`` into ``<path>.<engine>.split/``; print one JSON line."""
    from dqaudit.api import split

    config = bench_config(engine, master, driver_memory, policies)
    began = time.perf_counter()
    manifest = split(path, path.with_suffix(f".{engine}.split"), config, checks=checks or None)
    wall = time.perf_counter() - began
    same = {k: manifest[k] for k in ("rows", "counts", "quarantine_reasons", "leakage", "outputs", "records")}
    jvm_peak = 0
    if engine == "spark":
        from pyspark import SparkContext
        from pyspark.sql import SparkSession

        jvm_peak = _peak_mib(SparkContext._gateway.proc.pid)
        SparkSession.getActiveSession().stop()
    engine_info = manifest.get("engine", {})
    print(json.dumps({
        "wall_s": round(wall, 1),
        "rows": manifest["input"]["rows"],
        "manifest_sha": hashlib.sha256(json.dumps(same, sort_keys=True).encode()).hexdigest()[:16],
        "leaks": sum(sum(manifest["leakage"][kind].values()) for kind in ("exact_pairs", "near_pairs")),
        "driver_peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "jvm_peak_mib": jvm_peak,
        "stages_s": engine_info.get("seconds", {}),
        "texts_collected": engine_info.get("texts_collected"),
    }))


def _peak_mib(pid: int) -> int:
    """Peak resident memory (VmHWM) of a running process, e.g. Spark's JVM (driver + local executors)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/dqaudit-spark-bench"))
    parser.add_argument("--driver-memory", default="6g", help="spark.driver.memory (maxResultSize: default)")
    parser.add_argument("--checks", default="", help="checks run after clustering, timed apart")
    parser.add_argument("--engines", default="local,spark", help="which engines to run (both to compare)")
    parser.add_argument("--profile", type=Path, help="Spark: log active stages and per-stage totals here")
    parser.add_argument("--keep-texts", action="store_true",
                        help="open as a default audit does (texts collected), whatever --checks reads")
    parser.add_argument("--policies", type=Path, help="stale_policy's policies file (else it skips)")
    parser.add_argument("--split", action="store_true", help="time dqaudit.split (with --checks) instead")
    parser.add_argument("--chunk-rows", type=int,
                        help="Spark: records per LSH cell chunk (default 250,000); fewer make more chunks, "
                             "as a larger corpus would (past the bands' count: estimated in the buckets)")
    parser.add_argument("--worker", choices=["local", "spark"])
    parser.add_argument("--file", type=Path)
    args = parser.parse_args()
    if args.worker:
        checks = [c for c in args.checks.split(",") if c]
        if args.split:
            split_worker(args.worker, args.file, args.master, args.driver_memory, checks, args.policies)
            return
        worker(args.worker, args.file, args.master, args.driver_memory, checks, args.profile, args.keep_texts,
               args.policies, args.chunk_rows)
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.split:
        print("| rows | engine | split wall | driver peak RSS | JVM peak RSS | texts collected "
              "| cross-split pairs |")
        print("|---:|---|---:|---:|---:|---|---:|")
    else:
        print(
            "| rows | engine | wall | checks | driver peak RSS | JVM peak RSS | clusters | rows in clusters "
            "| exact groups |"
        )
        print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for size in (int(s) for s in args.sizes.split(",")):
        path = write_corpus(size, args.workdir)
        found = {}
        engines = args.engines.split(",")
        for engine in engines:
            done = subprocess.run(
                [sys.executable, __file__, "--worker", engine, "--file", str(path), "--master", args.master,
                 "--driver-memory", args.driver_memory, "--checks", args.checks,
                 *(["--profile", str(args.profile)] if args.profile else []),
                 *(["--keep-texts"] if args.keep_texts else []), *(["--split"] if args.split else []),
                 *(["--chunk-rows", str(args.chunk_rows)] if args.chunk_rows else []),
                 *(["--policies", str(args.policies.resolve())] if args.policies else [])],
                capture_output=True,
                text=True,
            )
            if done.returncode:
                log = args.workdir / f"{engine}_{size}.stderr"
                log.write_text(done.stderr)
                causes = [line for line in done.stderr.splitlines() if "Caused by" in line or "Error" in line]
                sys.exit(f"{engine} at {size:,} rows failed (whole log: {log}):\n"
                         + "\n".join(causes[:8]) + f"\n{done.stderr[-3000:]}")
            r = json.loads(done.stdout.strip().splitlines()[-1])
            found[engine] = r
            jvm = f"{r['jvm_peak_mib']:,} MiB" if engine == "spark" else "-"
            label = "local (2 processes)" if engine == "local" else f"spark {args.master}"
            if args.split:
                print(f"| {size:,} | {label} | {r['wall_s']:,.1f} s | {r['driver_peak_mib']:,} MiB | {jvm} | "
                      f"{r['texts_collected']} | {r['leaks']:,} |", flush=True)
                print(f"<!-- {engine} split at {size:,}: manifest sha {r['manifest_sha']}; "
                      f"stages: {json.dumps(r['stages_s'])} -->", flush=True)
                continue
            print(
                f"| {size:,} | {label} | {r['wall_s']:,.1f} s | {r['checks_s']:,.1f} s | "
                f"{r['driver_peak_mib']:,} MiB | {jvm} | "
                f"{r['clusters']:,} | {r['rows_in_clusters']:,} | {r['exact_groups']:,} |",
                flush=True,
            )
            if r["stages_s"]:
                print(f"<!-- spark stages at {size:,}: {json.dumps(r['stages_s'])}; "
                      f"texts collected: {r['texts_collected']} -->", flush=True)
            if r["checks_sha"]:
                print(f"<!-- {engine} checks at {size:,}: sha {r['checks_sha']} -->", flush=True)
        compared = ["manifest_sha"] if args.split else ["clusters", "rows_in_clusters", "exact_groups",
                                                        "groups_sha"]
        same = len(found) < 2 or all(found["local"][k] == found["spark"][k] for k in compared)
        if not same:
            sys.exit(f"engines disagree at {size:,} rows: {found}")


if __name__ == "__main__":
    main()
