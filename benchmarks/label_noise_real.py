"""Label errors and label conflicts on real data: banking77 train against records judged by hand.

    python benchmarks/label_noise_real.py                # everything below, one run
    python benchmarks/label_noise_real.py --no-planted   # skip the planted-flip F1 (the slow half)
    python benchmarks/label_noise_real.py --no-planted --no-conflicts --judged \
        benchmarks/judged/banking77_train_judged.jsonl benchmarks/judged/banking77_train_random_judged.jsonl

Label noise, per method, in one run on the same embeddings:

* share of the 24 records judged **wrong** it flags, and of the 89 judged **right**
  (``benchmarks/judged/banking77_train_judged.jsonl``; 37 ambiguous are counted apart); with
  ``--judged`` several judged files, one line per file and method (the 240 uniform rows of
  ``banking77_train_random_judged.jsonl`` were drawn with no tool's verdict, so favour no method);
* for dqaudit: the estimated share of wrong labels (with its interval) and the label_noise score;
* F1 on 10 % planted uniform flips (flip seed 1, as in ``benchmarks/label_noise.py``), scored
  against the planted flips only, so real errors a method finds count against it there.

Methods: dqaudit ``label_noise`` with ``features: auto`` (the default: embeddings here, since the
extra is installed), ``tfidf`` and ``ensemble``; plain cleanlab ``find_label_issues`` defaults on
5-fold ``LogisticRegression()`` probabilities of ``TfidfVectorizer()`` features or MiniLM vectors.

Label conflicts: the ``near_duplicates`` check on banking77 train; each cluster it reports as
``conflicting_labels`` is matched to the hand-judged clusters
(``benchmarks/judged/banking77_train_conflicts_judged.jsonl``); and the share of the planted
relabelled near-copies of ``sample_data/bank_support.jsonl`` still reported.

The judged records were drawn from the rows flagged by the old dqaudit and by plain cleanlab
(90) plus a uniform draw (60), so methods like plain cleanlab on MiniLM, whose flags seeded
the draw, are favoured on this sample; the README in ``benchmarks/judged`` says how.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from label_noise import inject, run_plain, score  # noqa: E402  (the flip benchmark's helpers)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "banking77" / "train.csv"
JUDGED = ROOT / "benchmarks" / "judged" / "banking77_train_judged.jsonl"
CONFLICTS = ROOT / "benchmarks" / "judged" / "banking77_train_conflicts_judged.jsonl"


def run_dqaudit(frame: pd.DataFrame, features: str, cache: str) -> tuple[set[int], dict, float]:
    """Flagged rows, metrics and score of the label_noise check with ``features``."""
    from dqaudit.api import audit
    from dqaudit.config import parse_config

    config = parse_config({"cache": {"dir": cache}, "checks": {"label_noise": {"features": features}}})
    result = audit(frame, config, checks=["label_noise"]).check("label_noise")
    if result.error:
        raise RuntimeError(result.error)
    rows = {int(i) for f in result.findings if f.kind == "suspected_mislabel" for i in f.record_ids}
    return rows, dict(result.metrics), float(result.score)


def label_noise_table(
    base: pd.DataFrame, cache: str, planted: bool, judged: list[Path], only: list[str]
) -> None:
    from dqaudit.cache import Cache
    from dqaudit.config import AuditConfig
    from dqaudit.context import AuditContext
    from dqaudit.data import dataset_from_frame
    from dqaudit.features.embeddings import embed_texts

    verdicts = {
        path.stem: {r["row"]: r["judgement"] for r in map(json.loads, path.read_text("utf-8").splitlines())}
        for path in judged
    }
    tallies = {
        stem: {v: sum(1 for x in verdict.values() if x == v) for v in ("wrong", "ambiguous", "right")}
        for stem, verdict in verdicts.items()
    }
    classes = sorted(base["category"].unique())
    clean = base["category"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    texts = base["text"].tolist()
    frame = pd.DataFrame({"id": [str(i) for i in range(len(base))], "text": texts, "label": base["category"]})
    began = time.perf_counter()
    vectors = embed_texts(AuditContext(dataset_from_frame(frame), AuditConfig(), cache=Cache(cache)))
    print(f"banking77 train: {len(base)} rows; encoding (once, cached) {time.perf_counter() - began:.0f} s")
    noisy = inject(clean, 0.10, "uniform", np.zeros((len(classes), 1), int), 1)
    flips = set(np.flatnonzero(noisy != clean).tolist())

    def dq(features: str) -> Callable[[np.ndarray], tuple[set[int], dict | None, float | None]]:
        return lambda lab: run_dqaudit(frame.assign(label=[classes[i] for i in lab]), features, cache)

    methods: dict[str, Callable[[np.ndarray], tuple[set[int], dict | None, float | None]]] = {
        "dqaudit auto (default)": dq("auto"),
        "dqaudit tfidf": dq("tfidf"),
        "dqaudit ensemble": dq("ensemble"),
        "cleanlab tfidf (plain)": lambda lab: (run_plain(texts, lab, None), None, None),
        "cleanlab minilm (plain)": lambda lab: (run_plain(texts, lab, vectors), None, None),
    }
    methods = {name: method for name, method in methods.items() if not only or name.split(" (")[0] in only}
    for stem, counts in tallies.items():
        print(f"judged sample {stem}: " + ", ".join(f"{n} {v}" for v, n in counts.items()))
    print(
        f"{'method':<24} | {'flagged':>7} | {'wrong':>11} | {'ambiguous':>11} | {'right':>10} | "
        f"{'est. noise (interval)':>22} | {'score':>5} | {'F1 10% flips':>12} | {'time s':>6}"
    )
    for name, method in methods.items():
        began = time.perf_counter()
        flagged, metrics, check_score = method(clean)
        took = time.perf_counter() - began
        est = (
            f"{metrics['estimated_noise_rate']:.1%} ({metrics['estimated_noise_interval'][0]:.1%}–"
            f"{metrics['estimated_noise_interval'][1]:.1%})"
            if metrics
            else "-"
        )
        f1 = f"{score(method(noisy)[0], flips)[2]:.3f}" if planted else "-"
        shown = f"{check_score:>5.1f}" if check_score is not None else "    -"
        for stem, verdict in verdicts.items():
            counts = tallies[stem]
            hit = {v: sum(1 for r, x in verdict.items() if x == v and r in flagged) for v in counts}
            cells = " | ".join(f"{hit[v]:>2}/{counts[v]} {hit[v] / max(counts[v], 1):>5.1%}" for v in counts)
            label = name if len(verdicts) == 1 else f"{name} on {stem.removeprefix('banking77_train_')}"
            timing = f"{est:>22} | {shown} | {f1:>12} | {took:>6.0f}"
            print(f"{label:<24} | {len(flagged):>7} | {cells} | {timing}")
        sys.stdout.flush()
        if metrics and name.startswith("dqaudit auto"):
            pairs = ", ".join(f"{p['given']}→{p['likely']}" for p in metrics["noise_pairs"][:4])
            print(f"  features that ran: {metrics['features']}; worst pairs: {pairs}")


def conflict_table(base: pd.DataFrame, cache: str) -> None:
    from dqaudit.api import audit
    from dqaudit.config import AuditConfig, parse_config

    frame = pd.DataFrame({"id": [str(i) for i in range(len(base))], "text": base["text"]})
    frame["label"] = base["category"]
    config = parse_config({"cache": {"dir": cache}})
    result = audit(frame, config, checks=["near_duplicates"]).check("near_duplicates")
    reported = [{int(i) for i in f.record_ids} for f in result.findings if f.kind == "conflicting_labels"]
    judged = [json.loads(line) for line in CONFLICTS.open(encoding="utf-8")]
    tally = {"real": 0, "ambiguous": 0, "not_a_conflict": 0, "not judged": 0}
    for rows in reported:
        match = [j for j in judged if rows & {m["row"] for m in j["members"]}]
        tally[match[0]["judgement"] if match else "not judged"] += 1
    real = sum(j["judgement"] == "real" for j in judged)
    print(
        f"\nbanking77 train near-duplicate conflicts: {len(reported)} reported "
        f"(before the conflict rule: {len(judged)}, of which {real} judged real); of those reported: "
        + ", ".join(f"{k} {v}" for k, v in tally.items())
    )
    sample = ROOT / "sample_data" / "bank_support.jsonl"
    truth = json.loads((ROOT / "sample_data" / "truth.json").read_text(encoding="utf-8"))
    found = audit(sample, AuditConfig(), checks=["near_duplicates"]).check("near_duplicates")
    flagged = {rid for f in found.findings if f.kind == "conflicting_labels" for rid in f.record_ids}
    planted = truth["conflicting_near_clusters"]
    kept = sum(set(c) <= flagged for c in planted)
    print(f"planted relabelled near-copies (sample_data): {kept}/{len(planted)} still reported as conflicts")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--no-planted", action="store_true", help="skip F1 on planted flips")
    parser.add_argument("--judged", type=Path, nargs="+", default=[JUDGED], help="judged JSON Lines files")
    parser.add_argument("--methods", nargs="+", default=[], help="e.g. 'dqaudit auto' 'cleanlab tfidf'")
    parser.add_argument("--no-conflicts", action="store_true", help="skip the near-duplicate conflict table")
    parser.add_argument("--cache", help="dqaudit cache folder to reuse (default: a new temporary one)")
    args = parser.parse_args()
    if not args.data.is_file():
        sys.exit(f"{args.data} not found (banking77 lives in ../shared/data, outside users' clones)")
    warnings.simplefilter("ignore")
    base = pd.read_csv(args.data)
    cache = args.cache or tempfile.mkdtemp(prefix="dqaudit-bench-")
    label_noise_table(base, cache, not args.no_planted, args.judged, args.methods)
    if not args.no_conflicts:
        conflict_table(base, cache)


if __name__ == "__main__":
    main()
