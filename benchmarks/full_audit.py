"""The whole default audit at scale: per-check seconds, rows/s and the run's peak RSS.

Runs ``dqaudit audit FILE --no-cache --json`` (every enabled check, nothing read from the
cache, so per-record caches cannot hide work) on the near-duplicate benchmark's corpus of
short support requests (``benchmarks/near_dup.py``: English and Russian, ~20% edited copies,
labelled with the request's action) at each size, and prints the per-check seconds from
report.json's ``run.durations_s``, rows/s per check, the wall time of the process and its
peak RSS, and, when two sizes are given, each check's growth factor.

    python benchmarks/full_audit.py                          # 100k
    python benchmarks/full_audit.py --sizes 100000 1000000   # and the growth to 1M
    python benchmarks/full_audit.py --skip label_noise       # everything but label_noise
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from near_dup import write_corpus


def run(path: Path, workdir: Path, skip: list[str]) -> tuple[dict[str, float], dict[str, str], float, float]:
    """One audit: per-check seconds, per-check status, wall seconds, peak RSS (MiB) of the audit process."""
    from dqaudit.registry import available_checkers

    command = [sys.executable, "-m", "dqaudit", "audit", str(path), "--no-cache", "--json", "-q",
               "--out", str(workdir / "reports")]
    if skip:
        command += ["--checks", ",".join(c for c in available_checkers() if c not in skip)]
    wrapper = ("import resource, subprocess, sys; done = subprocess.run(sys.argv[1:], capture_output=True, "
               "text=True); sys.stdout.write(done.stdout); sys.stderr.write(done.stderr); "
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)")
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", wrapper, *command], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "100"})
    wall = time.perf_counter() - began
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise SystemExit(f"audit failed: {done.stderr.strip()[-500:]}") from None
    peak = int(done.stderr.strip().splitlines()[-1]) / 1024
    status = {name: ("skipped" if check.get("skipped") else "error" if check.get("error") else "ok")
              for name, check in report["checks"].items()}
    return report["run"]["durations_s"], status, wall, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--skip", nargs="*", default=[], help="checks to leave out")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/dqaudit_full_audit_bench"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    results = {}
    for size in args.sizes:
        results[size] = run(write_corpus(size, args.workdir), args.workdir, args.skip)
        durations, status, wall, peak = results[size]
        print(f"\n## {size:,} rows: wall {wall:.1f} s, peak RSS {peak:,.0f} MiB"
              + (f" (left out: {', '.join(args.skip)})" if args.skip else "") + "\n")
        print("| check | seconds | rows/s | status |\n|---|---|---|---|")
        for name, seconds in sorted(durations.items(), key=lambda item: -item[1]):
            rate = f"{size / seconds:,.0f}" if seconds > 0 and status.get(name) == "ok" else "-"
            print(f"| {name} | {seconds:.1f} | {rate} | {status.get(name, '')} |")
        print(f"| **all checks** | {sum(durations.values()):.1f} | | |")
        sys.stdout.flush()
    if len(args.sizes) > 1:
        small, large = args.sizes[0], args.sizes[-1]
        print(f"\n## growth {small:,} -> {large:,} rows (x{large / small:.0f})\n")
        print("| check | factor |\n|---|---|")
        for name, seconds in results[large][0].items():
            before = results[small][0].get(name, 0.0)
            print(f"| {name} | {seconds / before:.1f} |" if before > 0 else f"| {name} | - |")
        print(f"| wall | {results[large][2] / results[small][2]:.1f} |")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n(peak RSS of this script: {own:,.0f} MiB)")


if __name__ == "__main__":
    main()
