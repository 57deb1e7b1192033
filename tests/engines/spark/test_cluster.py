"""Exact groups and LSH candidates on Spark are the local engine's, on texts chosen to tell them apart."""

from __future__ import annotations

import json

import numpy as np

from dqaudit.dedup.minhash import MAX_BUCKET_PAIRS
from dqaudit.features.exact import exact_groups
from dqaudit.features.near_dups import near_duplicates

TRICKY = [
    "", "   ", "\t\n ", "Hello world", "hello world", "HELLO   WORLD ", "hello\u00a0world",
    "Ｈｅｌｌｏ ｗｏｒｌｄ", "caf\u00e9 au lait", "cafe\u0301 au lait", "Straße", "STRASSE", "strasse",
    "\ufb01le name", "file name", "İstanbul", "istanbul", "\u200bzero width", "zero width",
    "a" * 3, "\u00c5ngstr\u00f6m", "A\u030angstro\u0308m",
]


def test_exact_groups_are_the_local_ones_on_tricky_texts(both_engines, tmp_path):
    path = tmp_path / "tricky.jsonl"
    rows = [{"id": f"r{i}", "text": text, "label": "ab"[i % 2]} for i, text in enumerate(TRICKY * 2)]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    local, spark = both_engines(path)
    assert spark.frame.equals(local.frame)
    mine, theirs = exact_groups(spark), exact_groups(local)
    assert mine.equals(theirs)  # the same groups, numbered the same way
    frame = local.frame.assign(group=theirs.to_numpy())
    by_text = dict(zip(frame["text"], frame["group"], strict=False))
    assert by_text["Hello world"] == by_text["HELLO   WORLD "] == by_text["hello world"]
    empty = frame.loc[frame["text"].str.strip() == "", "group"]
    assert empty.nunique() == len(empty) == 6  # each empty text alone, never one big group
    assert theirs.nunique() < len(theirs) - 6  # the copies really were grouped


def test_candidates_beyond_the_bucket_cap_are_the_local_ones(both_engines, tmp_path):
    """A bucket of more than MAX_BUCKET_PAIRS members is paired linearly on both engines."""
    path = tmp_path / "bucket.jsonl"
    base = "the card was declined at the terminal although the balance covers the payment"
    texts = [f"{base} {i}" for i in range(MAX_BUCKET_PAIRS + 9)]
    texts += [f"unrelated text number {i}" for i in range(20)]
    path.write_text("\n".join(json.dumps({"id": f"r{i}", "text": t}) for i, t in enumerate(texts)) + "\n")
    local, spark = both_engines(path)
    near_l, near_s = near_duplicates(local), near_duplicates(spark)
    assert near_s.candidates == near_l.candidates
    assert near_l.candidates < (MAX_BUCKET_PAIRS + 9) * (MAX_BUCKET_PAIRS + 8) // 2  # linear, not all pairs
    assert set(map(tuple, near_s.pairs.tolist())) == set(map(tuple, near_l.pairs.tolist()))
    assert np.array_equal(near_s.groups, near_l.groups)
    assert len(set(near_l.groups[: MAX_BUCKET_PAIRS + 9].tolist())) == 1
