"""Per-record checks one at a time, in-process: CPU seconds and rows/s, for quick before/after loops.

    python benchmarks/per_record.py                                   # 100k rows, the five checks below
    python benchmarks/per_record.py --size 20000 --checks language,pii
    python benchmarks/per_record.py --profile language                # cProfile, top 25 by own time

Loads the near-duplicate benchmark's corpus of short support requests (``benchmarks/near_dup.py``)
once, then runs each check on a fresh context with the cache off (nothing is read back, so
per-record caches cannot hide work) and prints wall and CPU seconds (this process's CPU time and
its worker processes': on a busy shared machine the CPU rate moves much less than the wall rate).
Loading is not timed; ``benchmarks/full_audit.py`` times the whole audit end to end.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

from near_dup import write_corpus

from dqaudit.api import open_context
from dqaudit.config import AuditConfig
from dqaudit.pipeline import run_checks

PER_RECORD = "schema,text_quality,duplicates,language,pii"


def cpu_seconds() -> float:
    """CPU time of this process and of its finished worker processes."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--checks", default=PER_RECORD)
    parser.add_argument("--profile", help="profile this one check instead of timing the list")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/dqaudit_full_audit_bench"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    path = write_corpus(args.size, args.workdir)
    config = AuditConfig.model_validate({"cache": {"enabled": False}})
    checks = [args.profile] if args.profile else args.checks.split(",")
    print(f"{args.size:,} rows of {path.name}\n")
    print("| check | wall s | CPU s | rows/s (wall) | rows/s (CPU) |\n|---|---|---|---|---|")
    for name in checks:
        ctx = open_context(path, config)
        profiler = cProfile.Profile() if args.profile else None
        wall, cpu = time.perf_counter(), cpu_seconds()
        if profiler:
            profiler.enable()
        result = run_checks(ctx, checks=[name]).check(name)
        if profiler:
            profiler.disable()
        wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
        status = f" error: {result.error} |" if result.error else ""
        rates = f"{args.size / wall:,.0f} | {args.size / max(cpu, 1e-9):,.0f}"
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {rates} |{status}")
        sys.stdout.flush()
        if profiler:
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
