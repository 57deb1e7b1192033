"""Partial copies on Spark are the local engine's: the same directed pairs, containments and clusters."""

from __future__ import annotations

import json
import random

import numpy as np

from dqaudit.features.near_dups import near_duplicates


def long_texts(seed: int = 7) -> list[str]:
    """Sources of 60 to 900 words (several size classes), parts of them cut out, some edited, copied
    whole, pasted into longer texts, plus unrelated long and short texts."""
    rng = random.Random(seed)
    vocabulary = [f"w{i}" for i in range(3000)]
    sources = [rng.choices(vocabulary, k=rng.randint(60, 900)) for _ in range(24)]
    texts = [" ".join(words) for words in sources]
    for words in sources:
        start = rng.randrange(len(words) // 3)
        cut = words[start:start + max(50, int(len(words) * rng.uniform(0.25, 0.7)))]
        edited = [rng.choice(vocabulary) if rng.random() < 0.05 else w for w in cut]
        texts += [" ".join(cut), " ".join(edited)]
        pasted = rng.choices(vocabulary, k=rng.randint(20, 200)) + cut + rng.choices(vocabulary, k=40)
        texts.append(" ".join(pasted))
    texts += texts[:3]  # identical copies: one signature, searched once
    texts += [" ".join(rng.choices(vocabulary, k=rng.randint(50, 400))) for _ in range(30)]
    texts += [f"short request number {i}" for i in range(20)]
    rng.shuffle(texts)
    return texts


def test_partial_copies_are_the_local_ones(both_engines, tmp_path):
    path = tmp_path / "long.jsonl"
    rows = [{"id": f"r{i}", "text": text, "label": "ab"[i % 2]} for i, text in enumerate(long_texts())]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    local, spark = both_engines(path)
    near_l, near_s = near_duplicates(local), near_duplicates(spark)
    assert len(near_l.contained_pairs) >= 40  # the cuts, edits and pastes were found
    assert np.array_equal(near_s.contained_pairs, near_l.contained_pairs)  # directed, in the local order
    assert np.allclose(near_s.containment, near_l.containment)
    assert np.array_equal(near_s.groups, near_l.groups)
    assert spark.options["engine"]["stages"][
        "partial copies: word counts, signatures, LSH Ensemble, exact containment"] == "spark"


def test_partial_copy_search_off_runs_no_stage(both_engines, tmp_path):
    path = tmp_path / "long.jsonl"
    rows = [{"id": f"r{i}", "text": text} for i, text in enumerate(long_texts()[:40])]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    _, spark = both_engines(path, checks={"near_duplicates": {"containment": 0}})
    assert len(near_duplicates(spark).contained_pairs) == 0
    assert not any(stage.startswith("partial copies") for stage in spark.options["engine"]["stages"])
