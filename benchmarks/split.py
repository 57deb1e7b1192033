"""Split time and peak memory at 100k and 1M rows: ``python benchmarks/split.py [--rows N ...]``.

Each size runs in a fresh subprocess so its peak RSS is its own. Timed stages:
grouping (union-find over duplicate keys and conversation ids), stratified group
assignment, and the independent leakage check (exact + MinHash over every kept
text). The audit that precedes a real ``dqaudit split`` is benchmarked by its checkers.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
import pandas as pd

LABELS = [f"intent_{k}" for k in range(40)]
WORDS = ("card blocked transfer loan fee limit account deposit pin atm branch mortgage refund salary "
         "statement abroad cash exchange rate payment app login password balance overdraft").split()


def make_rows(n: int, seed: int = 0) -> tuple[list[str], np.ndarray, list[str], list[str]]:
    """Short support requests (9 random words + a serial number):
    5% exact copies, conversation groups of up to 4, skewed labels, 3 languages."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(WORDS), size=(n, 9))
    texts = [" ".join(WORDS[w] for w in row) + f" {i}" for i, row in enumerate(picks)]
    for i in np.flatnonzero(rng.random(n) < 0.05):
        texts[i] = texts[rng.integers(0, n)]
    labels = [LABELS[k] for k in np.minimum(rng.geometric(0.12, n) - 1, len(LABELS) - 1)]
    langs = rng.choice(["ru", "kk", "en"], size=n, p=[0.6, 0.3, 0.1]).tolist()
    conversation = np.where(rng.random(n) < 0.3, rng.integers(0, n // 4, n), -1)
    return texts, conversation, labels, langs


def run_one(n: int) -> dict[str, float]:
    from dqaudit.config import AuditConfig
    from dqaudit.features.leakage import SPLITS, cross_split_matches, minhash_settings
    from dqaudit.split import stratified_split, union_groups
    from dqaudit.text import normalize

    texts, conversation, labels, langs = make_rows(n)
    began = time.perf_counter()
    exact = pd.factorize(pd.Series(texts).map(normalize))[0]
    groups = union_groups(n, exact, conversation)
    grouped = time.perf_counter()
    outcome = stratified_split(groups, labels, langs, (0.8, 0.1, 0.1), seed=13)
    assigned = time.perf_counter()
    report = cross_split_matches(texts, [str(i) for i in range(n)], outcome.assignment, SPLITS,
                                 params=minhash_settings(AuditConfig(seed=13)))
    verified = time.perf_counter()
    crossing = sum(report.exact_pairs.values()) + sum(report.near_pairs.values())
    return {"rows": n, "groups": outcome.groups, "group_s": round(grouped - began, 2),
            "assign_s": round(assigned - grouped, 2), "verify_s": round(verified - assigned, 2),
            "total_s": round(verified - began, 2), "crossing_pairs": crossing,
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run_one(args.rows[0])))
        return
    print("| rows | groups | grouping s | assignment s | leakage check s | total s | crossing pairs "
          "| peak RSS MiB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.rows:
        done = subprocess.run([sys.executable, __file__, "--worker", "--rows", str(n)], check=True,
                              capture_output=True, text=True)
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"| {r['rows']:,} | {r['groups']:,} | {r['group_s']} | {r['assign_s']} | {r['verify_s']} | "
              f"{r['total_s']} | {r['crossing_pairs']} | {r['peak_rss_mib']} |", flush=True)


if __name__ == "__main__":
    main()
