"""label_noise at scale: seconds, F1 on planted flips and the nightly re-run after the data grew.

    python benchmarks/label_noise_scale.py                          # 100k
    python benchmarks/label_noise_scale.py --sizes 100000 1000000   # and 1M
    python benchmarks/label_noise_scale.py --features tfidf         # any features setting
    python benchmarks/label_noise_scale.py --banking77 10003 5000 2500   # the sample's cost in quality

The corpus is the near-duplicate benchmark's short support requests (``benchmarks/near_dup.py``:
English and Russian, ~20 % edited copies, ~3 % exact copies, labelled with the request's action),
with ``--rate`` of the rows relabelled uniformly to another class (flip seed 1). Night 1 audits
the first ``size`` rows with ``--checks label_noise`` and an empty cache; night 2 audits the same
rows plus ``--grow`` more (their flips planted the same way) with night 1's cache, as a nightly
job does. Each night prints the check's seconds (``run.durations_s``, which includes the
near-duplicate clusters the folds are grouped by), the audit's wall seconds, precision, recall
and F1 of the flagged records against the planted flips, the estimated noise rate, and how the
probabilities were made (features, rows fitted, rows scored by the whole-sample model, model
reused). ``audit CPU s`` is the process's CPU time over all threads: on a machine shared with
other jobs it tracks an idle run's cost better than wall time. Peak RSS is the process's, so it
is the largest night's.

``--banking77 N ...`` measures instead what fitting on a sample costs on real text: banking77 train
(10,003 rows, 77 intents) through ``features: tfidf`` with the fitted sample capped at each N
(``FIT_ROWS``; 10,003 = every row, the small-data path), printing the share of the hand-judged
wrong and right records flagged (``benchmarks/judged``, as in ``label_noise_real.py``) and F1 on
10 % planted uniform flips (flip seed 1).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from label_noise import score  # noqa: E402
from near_dup import corpus, label_of  # noqa: E402


def night(frame: pd.DataFrame, features: str, cache: str) -> tuple[set[int], dict, float, float]:
    """Flagged rows, metrics, the check's seconds and the audit's wall seconds."""
    from dqaudit.api import audit
    from dqaudit.registry import parse_config

    config = parse_config({"cache": {"dir": cache}, "checks": {"label_noise": {"features": features}}})
    began = time.perf_counter()
    run = audit(frame, config, checks=["label_noise"])
    wall = time.perf_counter() - began
    result = run.check("label_noise")
    if result.error:
        raise RuntimeError(result.error)
    flagged = {int(i) for f in result.findings if f.kind == "suspected_mislabel" for i in f.record_ids}
    return flagged, dict(result.metrics), run.durations["label_noise"], wall


def banking77(fit_rows: list[int]) -> None:
    """The TF-IDF path on banking77 with the fitted sample capped at each of ``fit_rows``."""
    import json

    from label_noise import DATA, inject

    from dqaudit.checkers import label_noise

    base = pd.read_csv(DATA)
    classes = sorted(base["category"].unique())
    clean = base["category"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    noisy = inject(clean, 0.10, "uniform", np.zeros((len(classes), 1), int), 1)
    flips = set(np.flatnonzero(noisy != clean).tolist())
    judged = Path(__file__).resolve().parent / "judged" / "banking77_train_judged.jsonl"
    verdict = {r["row"]: r["judgement"] for r in map(json.loads, judged.open(encoding="utf-8"))}
    counts = {v: sum(x == v for x in verdict.values()) for v in ("wrong", "right")}
    frame = pd.DataFrame({"id": [str(i) for i in range(len(base))], "text": base["text"]})
    print("| fitted rows | judged wrong flagged | judged right flagged | F1 10% flips | P | R | est. noise "
          "| CPU s |\n" + "|---" * 8 + "|")
    for cap in fit_rows:
        label_noise.FIT_ROWS = cap
        cpu = time.process_time()
        real, _, _, _ = night(frame.assign(label=base["category"]), "tfidf", tempfile.mkdtemp())
        planted, metrics, _, _ = night(frame.assign(label=[classes[i] for i in noisy]), "tfidf",
                                       tempfile.mkdtemp())
        cpu = time.process_time() - cpu
        hit = {v: sum(x == v and r in real for r, x in verdict.items()) for v in counts}
        p, r, f1 = score(planted, flips)
        print(f"| {metrics['tfidf']['fit_rows']:,} | {hit['wrong']}/{counts['wrong']} "
              f"{hit['wrong'] / counts['wrong']:.1%} | {hit['right']}/{counts['right']} "
              f"{hit['right'] / counts['right']:.1%} | {f1:.3f} | {p:.3f} | {r:.3f} | "
              f"{metrics['estimated_noise_rate']:.3f} | {cpu:.1f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--rate", type=float, default=0.10, help="share of labels flipped")
    parser.add_argument("--grow", type=float, default=0.01, help="rows appended for night 2")
    parser.add_argument("--features", default="auto")
    parser.add_argument("--banking77", type=int, nargs="+", metavar="FIT_ROWS",
                        help="instead: banking77, features: tfidf, the fitted sample capped at each")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.banking77:
        banking77(args.banking77)
        return
    print(f"label_noise, features: {args.features}; {args.rate:.0%} uniform flips; "
          f"night 2 = +{args.grow:.0%} rows")
    print("| rows | night | check s | audit wall s | audit CPU s | P | R | F1 | est. noise | features "
          "| fitted | scored | reused |\n" + "|---" * 13 + "|")
    for size in args.sizes:
        total = size + int(size * args.grow)
        texts = corpus(total)
        classes = sorted({label_of(t) for t in texts})
        clean = np.array([classes.index(label_of(t)) for t in texts])
        rng = np.random.default_rng(1)
        noisy = clean.copy()
        flips = rng.choice(total, int(round(args.rate * total)), replace=False)
        noisy[flips] = (clean[flips] + rng.integers(1, len(classes), len(flips))) % len(classes)
        frame = pd.DataFrame({"id": [str(i) for i in range(total)], "text": texts,
                              "label": np.asarray(classes, dtype=object)[noisy]})
        cache = tempfile.mkdtemp(prefix="dqaudit-noise-scale-")
        for name, rows in (("1 (cold)", size), (f"2 (+{args.grow:.0%})", total)):
            cpu = time.process_time()
            flagged, metrics, seconds, wall = night(frame.head(rows), args.features, cache)
            cpu = time.process_time() - cpu
            truth = set(np.flatnonzero(noisy[:rows] != clean[:rows]).tolist())
            p, r, f1 = score(flagged, truth)
            how = metrics.get("tfidf", {})
            cells = [f"{rows:,}", name, f"{seconds:.1f}", f"{wall:.1f}", f"{cpu:.1f}", f"{p:.3f}", f"{r:.3f}",
                     f"{f1:.3f}", f"{metrics['estimated_noise_rate']:.3f}", metrics["features"],
                     *(str(how.get(k, "-")) for k in ("fit_rows", "scored_rows", "model_reused"))]
            print("| " + " | ".join(cells) + " |", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS {peak:,.0f} MiB; features_reason: {metrics['features_reason']}")


if __name__ == "__main__":
    main()
