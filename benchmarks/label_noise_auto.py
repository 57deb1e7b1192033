"""Which features ``label_noise``'s ``auto`` keeps on real data, per language, and what choosing costs.

``features: auto`` fits TF-IDF and, with the embeddings extra, the packaged English MiniLM model,
then keeps the one whose held-out predictions explain the given labels better. This prints, per real
labelled set, in one run: the share of texts the language check reads as English, the held-out loss of
each model (``features: tfidf`` and ``features: embeddings``), the better one, the one ``auto`` keeps, and
the seconds of ``label_noise`` with each setting (fresh caches, so the encoding is paid). ``auto`` does not
encode when under half of the texts read as English (``AUTO_MIN_ENGLISH``).

    python benchmarks/label_noise_auto.py              # every set below, 2,000 rows each
    python benchmarks/label_noise_auto.py --rows 500   # quicker

Sets (../shared/data; each has a SOURCE.md): banking77 train (English requests, 77 intents); KazSAnDRA
reviews (Kazakh, some Russian: the score 0-4 and the source domain as labels); FLORES-200 devtest in
Kazakh and in Russian (the article's domain: wikinews, wikivoyage, wikibooks); and the repository's
``sample_data/bank_support.jsonl`` (generated Russian, Kazakh and English requests).
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def sets(rows: int) -> dict[str, pd.DataFrame]:
    """The labelled sets, ``rows`` rows each at most (a seeded sample), with ``text`` and ``label``."""
    out: dict[str, pd.DataFrame] = {}
    bank = pd.read_csv(SHARED / "banking77" / "train.csv")
    out["banking77 (intent)"] = bank.rename(columns={"category": "label"})[["text", "label"]]
    kaz = pd.read_csv(SHARED / "kazsandra" / "10_sc_test.csv")
    out["KazSAnDRA (score)"] = kaz[["text", "label"]].astype({"label": str})
    out["KazSAnDRA (domain)"] = kaz[["text", "domain"]].rename(columns={"domain": "label"})
    flores = SHARED / "flores200_kaz_rus"
    with open(flores / "metadata_devtest.tsv", encoding="utf-8") as handle:
        domains = [row["domain"] for row in csv.DictReader(handle, delimiter="\t")]
    for code, name in (("kaz_Cyrl", "Kazakh"), ("rus_Cyrl", "Russian")):
        lines = (flores / f"{code}.devtest").read_text(encoding="utf-8").splitlines()
        out[f"FLORES-200 {name} (domain)"] = pd.DataFrame({"text": lines, "label": domains})
    from dqaudit.data import load_dataset

    sample = load_dataset(ROOT / "sample_data" / "bank_support.jsonl").frame  # as the audit reads it
    out["sample_data (generated)"] = sample[["text", "label"]].dropna()
    return {name: (frame.sample(rows, random_state=0) if len(frame) > rows else frame)
            .reset_index(drop=True).assign(id=lambda f: [f"r{k}" for k in range(len(f))])
            for name, frame in out.items()}


def run(frame: pd.DataFrame, features: str) -> tuple[dict, float]:
    """label_noise's metrics and seconds with ``features`` on a fresh cache."""
    from dqaudit.api import audit
    from dqaudit.config import parse_config

    with tempfile.TemporaryDirectory() as cache:
        config = parse_config({"cache": {"dir": cache}, "checks": {"label_noise": {"features": features}}})
        began = time.perf_counter()
        result = audit(frame, config, checks=["label_noise"]).check("label_noise")
        seconds = time.perf_counter() - began
    if result.error:
        raise RuntimeError(result.error)
    return dict(result.metrics), seconds


def english_share(frame: pd.DataFrame) -> float:
    """Share of texts the language check reads as English."""
    from dqaudit.api import open_context
    from dqaudit.features.language import language_table

    table = language_table(open_context(frame))
    return float((table["lang"] == "en").mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000)
    parser.add_argument("--only", nargs="*", help="set names starting with these")
    args = parser.parse_args()
    print("| set | rows | classes | English | held-out loss: TF-IDF | MiniLM | better | auto keeps "
          "| seconds: auto | tfidf | embeddings |")
    print("|---|---:|---:|---:|---:|---:|---|---|---:|---:|---:|")
    for name, frame in sets(args.rows).items():
        if args.only and not any(name.startswith(o) for o in args.only):
            continue
        (tfidf, tfidf_s), (minilm, minilm_s) = run(frame, "tfidf"), run(frame, "embeddings")
        auto, auto_s = run(frame, "auto")
        loss = {"tfidf": tfidf["feature_fit"]["tfidf"], "embeddings": minilm["feature_fit"]["embeddings"]}
        print(f"| {name} | {len(frame):,} | {frame['label'].nunique()} | {english_share(frame):.0%} | "
              f"{loss['tfidf']:.3f} | {loss['embeddings']:.3f} | {min(loss, key=loss.__getitem__)} | "
              f"{auto['features']} | {auto_s:.1f} | {tfidf_s:.1f} | {minilm_s:.1f} |", flush=True)


if __name__ == "__main__":
    main()
