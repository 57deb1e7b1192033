"""Sentence embeddings: ``dqaudit.features.embeddings.encode`` beside plain sentence-transformers, in one run.

The texts of sample_data/bank_support.jsonl (and banking77's training requests when ../shared is
present), the first ``--rows`` of each, encoded with the packaged all-MiniLM-L6-v2 on the CPU by
dqaudit (longest first, batches of 32) and by ``SentenceTransformer.encode`` as a user would call it
(its own length sorting, ``batch_size`` 32 and 128); seconds, texts per second, and the largest
difference from dqaudit's vectors. The model is loaded and warmed before the timings.

    python benchmarks/embeddings.py [--rows 1000]
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np

from dqaudit.features.embeddings import DEFAULT_MODEL, _load_model, encode

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared/data"


def sample_texts() -> list[str]:
    """The sample's texts (its planted malformed lines skipped)."""
    texts = []
    for line in (REPO / "sample_data/bank_support.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            texts.append(json.loads(line)["text"])
        except (ValueError, KeyError, TypeError):
            continue
    return texts


def banking77_texts() -> list[str]:
    with (SHARED / "banking77/train.csv").open(encoding="utf-8", newline="") as handle:
        return [row["text"] for row in csv.DictReader(handle)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    args = parser.parse_args()
    sets = {"sample_data/bank_support.jsonl": sample_texts()}
    if (SHARED / "banking77/train.csv").exists():
        sets["banking77 train"] = banking77_texts()
    model = _load_model(DEFAULT_MODEL)
    encode(["warm up the model"] * 64)
    print("| texts | implementation | seconds | texts/s | largest difference from dqaudit |")
    print("|---|---|---|---|---|")
    for name, texts in sets.items():
        texts = texts[: args.rows]
        began = time.perf_counter()
        ours = encode(texts)
        took = time.perf_counter() - began
        print(f"| {name}, {len(texts):,} | dqaudit `encode` (longest first, batches of 32) | {took:.1f} | "
              f"{len(texts) / took:,.0f} | - |")
        for batch in (32, 128):
            began = time.perf_counter()
            plain = model.encode(texts, batch_size=batch, normalize_embeddings=True, convert_to_numpy=True,
                                 show_progress_bar=False)
            took = time.perf_counter() - began
            peer = f"sentence-transformers `encode(batch_size={batch})`"
            print(f"| {name}, {len(texts):,} | {peer} | {took:.1f} | {len(texts) / took:,.0f} | "
                  f"{float(np.abs(plain - ours).max()):.1e} |")


if __name__ == "__main__":
    main()
