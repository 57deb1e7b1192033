"""Memory ceiling on the million-row case: ``python benchmarks/resources.py [--rows N] [--max-mb MB]``.

Generates N tiny JSONL records in a temporary folder, runs ``dqaudit audit`` on them in a
child process, and reports the child's peak resident memory (``ru_maxrss``) and wall time.
Exits 1 when the peak exceeds the ceiling, so CI can hold the line. Kept out of the test
suite: on two shared cores it takes minutes, and a memory figure needs a process of its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FAST_CHECKS = "schema,duplicates,text_quality,balance"


def write_rows(path: Path, rows: int) -> None:
    """Tiny, distinct records in two classes: the cost measured is per row, not per byte."""
    with path.open("w", encoding="utf-8") as handle:
        handle.writelines(
            f'{{"id":"m{i}","text":"row {i} about card {i % 977}","label":"{"ab"[i % 2]}"}}\n'
            for i in range(rows)
        )


def measure(rows: int, checks: str) -> dict[str, float | int | str]:
    with tempfile.TemporaryDirectory(prefix="dqaudit-bench-") as tmp:
        data = Path(tmp) / "million.jsonl"
        write_rows(data, rows)
        command = [
            sys.executable,
            "-m",
            "dqaudit",
            "audit",
            str(data),
            "--out",
            str(Path(tmp) / "reports"),
            "--no-cache",
            "-q",
            "--checks",
            checks,
        ]
        began = time.perf_counter()
        done = subprocess.run(command, cwd=tmp, capture_output=True, text=True)
        seconds = time.perf_counter() - began
        if done.returncode not in (0, 1):
            raise SystemExit(f"dqaudit failed (exit {done.returncode}): {done.stderr[-2000:]}")
        (folder,) = (Path(tmp) / "reports").iterdir()
        report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
    return {
        "rows": rows,
        "checks": checks,
        "loaded": report["dataset"]["loaded"],
        "quarantined": report["dataset"]["quarantined"],
        "peak_rss_mb": round(peak_mb, 1),
        "seconds": round(seconds, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--max-mb", type=float, default=3072.0, help="Ceiling on the child's peak RSS.")
    parser.add_argument("--checks", default=FAST_CHECKS, help="Checks to run (default: the per-row ones).")
    args = parser.parse_args(argv)
    result = measure(args.rows, args.checks)
    result["ceiling_mb"] = args.max_mb
    result["within"] = (
        result["peak_rss_mb"] <= args.max_mb and result["loaded"] + result["quarantined"] == args.rows
    )
    print(json.dumps(result, indent=2))
    return 0 if result["within"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
