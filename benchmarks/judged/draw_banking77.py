"""Draw the judged banking77 sample: how ``banking77_train_judged.jsonl`` was chosen (run once, before judging).

    python benchmarks/judged/draw_banking77.py --hidden /tmp/labels/hidden.json \
        --blind /tmp/labels/blind.jsonl

Four flaggers run on the full banking77 train set (10,003 rows): dqaudit ``label_noise``
with its default then (TF-IDF) and with ``features: embeddings``, and plain cleanlab
(``find_label_issues`` defaults on 5-fold ``LogisticRegression()`` probabilities) on
``TfidfVectorizer()`` and on MiniLM vectors. The sample is 60 rows drawn uniformly from
the whole set (stratum ``random``) plus 90 drawn uniformly from the rows any flagger
flagged and the random draw missed (stratum ``flagged_any``); shuffled. The blind file
holds only row, text and given label (what the judge reads); the strata and every
flagger's verdict go to the hidden file, opened only after judging.
"""  # noqa: E501 the first line is the --help description (argparse)

from __future__ import annotations

import argparse
import json
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "banking77" / "train.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=Path, required=True)
    parser.add_argument("--blind", type=Path, required=True)
    parser.add_argument("--cache", default=tempfile.mkdtemp(prefix="dqaudit-draw-"))
    parser.add_argument("--seed", type=int, default=77)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    from cleanlab.filter import find_label_issues
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    from dqaudit.api import audit
    from dqaudit.cache import Cache
    from dqaudit.config import AuditConfig, parse_config
    from dqaudit.context import AuditContext
    from dqaudit.data import dataset_from_frame
    from dqaudit.features.embeddings import embed_texts

    base = pd.read_csv(args.data)
    frame = pd.DataFrame({"id": [str(i) for i in range(len(base))], "text": base["text"],
                          "label": base["category"]})
    classes = sorted(base["category"].unique())
    y = base["category"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    vectors = embed_texts(AuditContext(dataset_from_frame(frame), AuditConfig(), cache=Cache(args.cache)))
    flags: dict[str, set[int]] = {}
    for features in ("tfidf", "embeddings"):
        config = parse_config({"cache": {"dir": args.cache},
                               "checks": {"label_noise": {"features": features}}})
        result = audit(frame, config, checks=["label_noise"]).check("label_noise")
        flags[f"dqaudit_{features}"] = {
            int(i) for f in result.findings if f.kind == "suspected_mislabel" for i in f.record_ids
        }
    for name, feats in (("cleanlab_tfidf", TfidfVectorizer().fit_transform(base["text"])),
                        ("cleanlab_minilm", vectors)):
        probs = cross_val_predict(LogisticRegression(), feats, y, cv=5, method="predict_proba")
        flags[name] = set(np.flatnonzero(find_label_issues(y, probs)).tolist())
    rng = np.random.default_rng(args.seed)
    random_rows = rng.choice(len(base), 60, replace=False).tolist()
    union = sorted(set().union(*flags.values()) - set(random_rows))
    flagged_rows = rng.choice(union, 90, replace=False).tolist()
    rows = random_rows + flagged_rows
    strata = {r: "random" for r in random_rows} | {r: "flagged_any" for r in flagged_rows}
    order = rng.permutation(len(rows))
    with args.blind.open("w") as out:
        for k in order:
            r = rows[k]
            out.write(json.dumps({"row": r, "text": base["text"][r], "label": base["category"][r]}) + "\n")
    args.hidden.write_text(json.dumps({
        "strata": {str(r): s for r, s in strata.items()},
        "union_size": len(set().union(*flags.values())),
        "flags": {k: sorted(v) for k, v in flags.items()},
    }))
    print({k: len(v) for k, v in flags.items()}, "union", len(set().union(*flags.values())))


if __name__ == "__main__":
    main()
