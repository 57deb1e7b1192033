"""Nightly re-run cost: a full audit vs a re-audit after the dataset grew by 1%.

    python benchmarks/incremental.py [--rows 100000] [--grow 0.01] [--data FILE] [--checks a,b]

Night 1 audits the first ``rows`` records with an empty cache; night 2 audits the same
file with ``grow`` more records appended, with night 1's per-record cache and
``--history``, as the nightly job does. Each night runs in a fresh subprocess, so its
peak RSS is its own. Records come from ``--data`` (a JSONL file with at least
``rows * (1 + grow)`` records) or are composed from the words of
sample_data/bank_support.jsonl, per label and language, with exact copies, conflicting
copies and one-word edits planted (the appended rows copy older rows too, so the
re-run must still find duplicates between new and old rows). The table shows seconds
per check, so a checker that recomputes everything on a re-run stands out, and each night's CPU
seconds (the process and its worker processes), which a busy machine inflates far
less than wall seconds.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_data" / "bank_support.jsonl"


def make_records(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` support requests built from the sample's words for their label and language.

    Planted: 2% exact copies of earlier rows, 0.3% copies with another label, 1% one-word edits;
    10% carry two or three annotations.
    """
    rng = random.Random(seed)
    pools: dict[tuple[str, str], list[str]] = {}
    for line in SAMPLE.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
            pools.setdefault((record["label"], record["lang"]), []).extend(record["text"].split())
        except (ValueError, KeyError, TypeError, AttributeError):
            continue  # the sample plants malformed lines on purpose
    keys = sorted(k for k, words in pools.items() if len(words) >= 20)
    labels = sorted({label for label, _ in keys})
    out: list[dict[str, Any]] = []
    for i in range(n):
        roll = rng.random()
        if out and roll < 0.023:
            base = dict(out[rng.randrange(len(out))])
            if roll < 0.003:
                base["label"] = rng.choice([x for x in labels if x != base["label"]])
            elif roll < 0.013:
                words = base["text"].split()
                # a copy relabelled earlier may carry a label never seen in its language:
                # edit with its own words
                pool = pools.get((base["label"], base["lang"])) or words
                words[rng.randrange(len(words))] = rng.choice(pool)
                base["text"] = " ".join(words)
            record = base
        else:
            label, lang = rng.choice(keys)
            words = rng.choices(pools[(label, lang)], k=rng.randint(6, 18))
            record = {"text": " ".join(words), "label": label, "lang": lang}
        month = 1 + i * 12 // n
        record = {**record, "id": f"b{i:07d}", "created_at": f"2025-{month:02d}-{1 + i % 28:02d}",
                  "policy_version": 1 + i * 4 // n, "group": f"cust-{rng.randrange(n // 3 + 1):06d}"}
        if rng.random() < 0.1:
            record["annotations"] = [
                {"annotator": f"a{k}",
                 "label": record["label"] if rng.random() < 0.85 else rng.choice(labels)}
                for k in rng.sample(range(8), rng.randint(2, 3))
            ]
        out.append(record)
    return out


def night(data: Path, workdir: Path, checks: str | None) -> dict[str, object]:
    """One audit in this process (called in a subprocess): wall seconds, peak RSS and per-check seconds."""
    import dqaudit.__main__  # noqa: F401  # the command's process settings (numpy's pages), as ``dqaudit`` has them
    from dqaudit.cli import cli

    args = ["audit", str(data), "--history", "history.sqlite", "--out", "reports", "-q"]
    args += ["--checks", checks] if checks else []
    cpu_before = sum(getattr(resource.getrusage(resource.RUSAGE_SELF), part)
                     for part in ("ru_utime", "ru_stime"))
    began = time.perf_counter()
    try:
        cli.main(args, prog_name="dqaudit", standalone_mode=False)
    except SystemExit as exc:  # the audit exits 1 on a gate or regression, which is fine here
        if exc.code not in (0, 1):
            raise
    wall = time.perf_counter() - began
    cpu = sum(getattr(resource.getrusage(who), part)
              for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
              for part in ("ru_utime", "ru_stime"))
    report = sorted((workdir / "reports").glob("*/report.json"))[-1]
    body = json.loads(report.read_text(encoding="utf-8"))
    run = body["run"]
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu - cpu_before, 2), "rows": body["dataset"]["rows"],
            "checks_s": run["durations_s"],
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def write_nights(source: Path, workdir: Path, rows: int, grow: float) -> tuple[Path, Path]:
    """Night 1: the first ``rows`` lines; night 2: those plus ``rows * grow`` more, appended."""
    lines = [line for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    extra = int(rows * grow)
    if len(lines) < rows + extra:
        sys.exit(f"{source} has {len(lines)} records; {rows + extra} needed")
    first, second = workdir / "night1.jsonl", workdir / "night2.jsonl"
    first.write_text("\n".join(lines[:rows]) + "\n", encoding="utf-8")
    second.write_text("\n".join(lines[: rows + extra]) + "\n", encoding="utf-8")
    return first, second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--grow", type=float, default=0.01)
    parser.add_argument("--data", type=Path, help="JSONL with at least rows*(1+grow) records.")
    parser.add_argument("--checks", help="Comma-separated checks (default: all enabled).")
    parser.add_argument("--workdir", type=Path, help="Keep the data, cache, history and reports here.")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(night(args.worker, Path.cwd(), args.checks)))
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="dqaudit-incremental-"))
    workdir.mkdir(parents=True, exist_ok=True)
    source = args.data
    if source is None:
        source = workdir / "records.jsonl"
        records = make_records(args.rows + int(args.rows * args.grow))
        source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                          encoding="utf-8")
    first, second = write_nights(source, workdir, args.rows, args.grow)
    results = []
    for data in (first, second):
        command = [sys.executable, __file__, "--worker", str(data)]
        command += ["--checks", args.checks] if args.checks else []
        done = subprocess.run(command, cwd=workdir, check=True, capture_output=True, text=True)
        results.append(json.loads(done.stdout.splitlines()[-1]))
    full, rerun = results
    print(f"dqaudit incremental benchmark: {args.rows:,} rows, then +{args.grow:.0%} appended "
          f"(work folder {workdir})")
    print(f"{'':24}{'full audit':>14}{'re-audit':>14}{'ratio':>8}")
    print(f"{'rows':24}{full['rows']:>14,}{rerun['rows']:>14,}")
    ratio = rerun["wall_s"] / full["wall_s"]
    print(f"{'wall seconds':24}{full['wall_s']:>14.1f}{rerun['wall_s']:>14.1f}{ratio:>8.0%}")
    cpu = rerun["cpu_s"] / full["cpu_s"]
    print(f"{'CPU seconds':24}{full['cpu_s']:>14.1f}{rerun['cpu_s']:>14.1f}{cpu:>8.0%}")
    print(f"{'peak RSS (MiB)':24}{full['peak_rss_mib']:>14,}{rerun['peak_rss_mib']:>14,}")
    for name, seconds in full["checks_s"].items():
        again = rerun["checks_s"].get(name, 0.0)
        print(f"{'  ' + name:24}{seconds:>14.1f}{again:>14.1f}{again / seconds if seconds else 0:>8.0%}")
    # reading, the cleaning plan, records.parquet, reports and history: what no check's timer covers
    outside = [night["wall_s"] - sum(night["checks_s"].values()) for night in (full, rerun)]
    print(f"{'outside the checks':24}{outside[0]:>14.1f}{outside[1]:>14.1f}"
          f"{outside[1] / outside[0] if outside[0] else 0:>8.0%}")


if __name__ == "__main__":
    main()
