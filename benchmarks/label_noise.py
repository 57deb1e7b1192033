"""Label-noise detection on banking77 with injected flips: dqaudit's feature options against plain cleanlab.

    python benchmarks/label_noise.py                 # 5/10/20 % x uniform/confusable, every method
    python benchmarks/label_noise.py --quick         # 10 % uniform only
    python benchmarks/label_noise.py --seeds 1 2 3   # mean over three flip draws

Flips are injected into banking77 train (10k queries, 77 intents) either uniformly
(to any other class) or towards a confusable class (one of the three nearest class
centroids in embedding space). The flagged set of each method is scored against the
injected flips (precision, recall, F1). Methods:

* ``dqaudit tfidf`` (the default) / ``embeddings`` / ``ensemble``: the ``label_noise`` checker run
  through ``dqaudit.audit`` with that ``features`` setting (grouped folds, cached embeddings);
* ``cleanlab tfidf`` / ``cleanlab minilm``: the baseline the issue names: scikit-learn
  defaults (``TfidfVectorizer()`` or MiniLM vectors, ``LogisticRegression()``), 5-fold
  ``cross_val_predict`` probabilities, cleanlab ``find_label_issues`` defaults.

The 10k texts are encoded once per run (timed and printed) into a temporary dqaudit
cache that every method then reads, so a method's time is its own work on cached
embeddings, as in a re-run. Also printed: the default's first run and its re-run on
unchanged data (cached probabilities), and peak memory.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "banking77" / "train.csv"


def inject(labels: np.ndarray, rate: float, kind: str, confusable: np.ndarray, seed: int) -> np.ndarray:
    """Labels with ``rate`` of rows flipped (uniformly, or to a nearby class)."""
    rng = np.random.default_rng(seed)
    noisy = labels.copy()
    rows = rng.choice(len(labels), int(round(rate * len(labels))), replace=False)
    k = labels.max() + 1
    if kind == "uniform":
        noisy[rows] = (labels[rows] + rng.integers(1, k, len(rows))) % k
    else:
        pick = rng.integers(0, confusable.shape[1], len(rows))
        noisy[rows] = confusable[labels[rows], pick]
    return noisy


def confusable_classes(vectors: np.ndarray, labels: np.ndarray, top: int = 3) -> np.ndarray:
    """For each class, its ``top`` nearest other classes by centroid cosine similarity."""
    k = labels.max() + 1
    centroids = np.stack([vectors[labels == c].mean(axis=0) for c in range(k)])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    sim = centroids @ centroids.T
    np.fill_diagonal(sim, -np.inf)
    return np.argsort(-sim, axis=1)[:, :top]


def score(flagged: set[int], flips: set[int]) -> tuple[float, float, float]:
    tp = len(flagged & flips)
    p = tp / len(flagged) if flagged else 0.0
    r = tp / len(flips) if flips else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def run_dqaudit(frame: pd.DataFrame, features: str, cache_dir: str) -> set[int]:
    from dqaudit.api import audit
    from dqaudit.registry import parse_config

    config = parse_config({"cache": {"dir": cache_dir}, "checks": {"label_noise": {"features": features}}})
    result = audit(frame, config, checks=["label_noise"]).check("label_noise")
    if result.error:
        raise RuntimeError(result.error)
    ids = {rid for f in result.findings if f.kind == "suspected_mislabel" for rid in f.record_ids}
    return {int(i) for i in ids}


def run_plain(texts: list[str], labels: np.ndarray, vectors: np.ndarray | None) -> set[int]:
    from cleanlab.filter import find_label_issues
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    features = TfidfVectorizer().fit_transform(texts) if vectors is None else vectors
    probs = cross_val_predict(LogisticRegression(), features, labels, cv=5, method="predict_proba")
    return set(np.flatnonzero(find_label_issues(labels, probs)).tolist())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10%% uniform flips only")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1], help="Flip draws to average over")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--limit", type=int, help="Use only the first N rows (a smoke run)")
    args = parser.parse_args()
    if not args.data.is_file():
        sys.exit(f"{args.data} not found (banking77 lives in ../shared/data, outside users' clones)")
    warnings.simplefilter("ignore")
    from dqaudit.cache import Cache
    from dqaudit.config import AuditConfig
    from dqaudit.context import AuditContext
    from dqaudit.data import dataset_from_frame
    from dqaudit.features.embeddings import embed_texts

    base = pd.read_csv(args.data)
    base = base.sample(frac=1.0, random_state=0).head(args.limit) if args.limit else base
    classes = sorted(base["category"].unique())
    clean = base["category"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    texts = base["text"].tolist()
    cache = tempfile.mkdtemp(prefix="dqaudit-bench-")
    frame = pd.DataFrame({"id": [str(i) for i in range(len(base))], "text": texts, "label": base["category"]})
    began = time.perf_counter()
    vectors = embed_texts(AuditContext(dataset_from_frame(frame), AuditConfig(), cache=Cache(cache)))
    encode_s = time.perf_counter() - began
    confusable = confusable_classes(vectors, clean)
    print(
        f"banking77 train: {len(texts)} texts, {len(classes)} classes; encoding (once, cached for every "
        f"method) {encode_s:.1f} s ({len(texts) / encode_s:.0f} docs/s)"
    )
    settings = (
        [(0.10, "uniform")]
        if args.quick
        else [(r, k) for k in ("uniform", "confusable") for r in (0.05, 0.10, 0.20)]
    )

    def dq(features: str) -> Callable[[np.ndarray], set[int]]:
        return lambda lab: run_dqaudit(frame.assign(label=[classes[i] for i in lab]), features, cache)

    methods: dict[str, Callable[[np.ndarray], set[int]]] = {
        "dqaudit tfidf (default)": dq("tfidf"),
        "dqaudit embeddings": dq("embeddings"),
        "dqaudit ensemble": dq("ensemble"),
        "cleanlab tfidf (baseline)": lambda lab: run_plain(texts, lab, None),
        "cleanlab minilm (baseline)": lambda lab: run_plain(texts, lab, vectors),
    }
    seeds = " ".join(map(str, args.seeds))
    print(f"mean over flip seed(s) {seeds}")
    print(f"{'flips':>16} | {'method':<28} | {'P':>5} {'R':>5} {'F1':>5} | {'time s':>6} | {'docs/s':>6}")
    rerun: list[float] = []
    for rate, kind in settings:
        for name, method in methods.items():
            rows = []
            for seed in args.seeds:
                noisy = inject(clean, rate, kind, confusable, seed)
                flips = set(np.flatnonzero(noisy != clean).tolist())
                start = time.perf_counter()
                flagged = method(noisy)
                rows.append((*score(flagged, flips), time.perf_counter() - start))
                if name == "dqaudit tfidf (default)":
                    start = time.perf_counter()
                    again = method(noisy)
                    rerun.append(time.perf_counter() - start)
                    assert again == flagged, "a re-run on unchanged data must flag the same records"
            p, r, f1, took = np.mean(rows, axis=0)
            print(
                f"{f'{rate:.0%} {kind}':>16} | {name:<28} | {p:5.3f} {r:5.3f} {f1:5.3f} | {took:6.1f} | "
                f"{len(texts) / took:6.0f}",
                flush=True,
            )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"re-run of the default on unchanged data (cached probabilities): mean {np.mean(rerun):.1f} s, "
        f"max {np.max(rerun):.1f} s; embedding option incl. encoding = {encode_s:.0f} s + its row's time"
    )
    print(f"peak memory {peak:.0f} MiB")


if __name__ == "__main__":
    main()
