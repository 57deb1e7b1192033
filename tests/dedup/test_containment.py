"""Partial copies: LSH Ensemble style search over size classes, verified containment, direction."""

from __future__ import annotations

import random

import numpy as np
import pytest

from dqaudit.dedup import containment as ct
from dqaudit.dedup import minhash as mh

WORDS = [f"w{i}" for i in range(5000)]
BASE = mh.MinHashParams("char", 4, seed=3)


def prose(rng: random.Random, words: int) -> str:
    """Text of distinct-looking words (a large vocabulary, so unrelated texts share almost no 3-grams)."""
    return " ".join(rng.choice(WORDS) for _ in range(words))


def found(texts: list[str], params: ct.ContainmentParams | None = None) -> dict[tuple[int, int], float]:
    pairs, values, _ = ct.partial_copies(texts, params or ct.ContainmentParams(), BASE)
    return {(int(a), int(b)): float(v) for (a, b), v in zip(pairs.tolist(), values.tolist(), strict=True)}


def test_a_passage_pasted_into_longer_texts_is_found_with_its_container() -> None:
    rng = random.Random(0)
    passage = prose(rng, 80)
    texts = [
        passage,                                            # 0: the passage itself
        prose(rng, 100) + " " + passage + " " + prose(rng, 60),   # 1: 3x its size, holds it whole
        prose(rng, 500) + " " + passage,                    # 2: 7x its size
        prose(rng, 80),                                     # 3: unrelated
        " ".join(passage.split()[:42]) + " " + prose(rng, 38),   # 4: half of it copied
    ]
    got = found(texts)
    assert got[(0, 1)] == pytest.approx(1.0) and got[(0, 2)] == pytest.approx(1.0)
    assert got[(4, 0)] == pytest.approx(40 / 78)   # 40 of its 78 word 3-grams; equal sizes: the later row
    assert not any(3 in pair for pair in got)
    assert all(a != b for a, b in got)


def test_threshold_min_words_and_max_ratio_are_honoured() -> None:
    rng = random.Random(1)
    passage = prose(rng, 60)
    texts = [passage, prose(rng, 40) + " " + passage, prose(rng, 900) + " " + passage]
    assert (0, 1) in found(texts)
    assert (0, 1) not in found(texts, ct.ContainmentParams(min_words=61))  # the passage is too short
    assert (0, 2) not in found(texts, ct.ContainmentParams(max_ratio=2.0))  # 16x larger: not searched
    half = [" ".join(passage.split()[:30]) + " " + prose(rng, 30), passage]
    equal_sizes = {(1, 0): pytest.approx(28 / 58)}  # the later row is the contained one
    assert found(half, ct.ContainmentParams(threshold=0.45)) == equal_sizes
    assert found(half, ct.ContainmentParams(threshold=0.6)) == {}


def test_reusing_near_duplicate_signatures_gives_the_same_pairs() -> None:
    rng = random.Random(2)
    passage = prose(rng, 70)
    texts = [passage, prose(rng, 90) + " " + passage, prose(rng, 70), prose(rng, 30)]
    params = ct.ContainmentParams()
    word = params.minhash(BASE)
    assert ct.same_shingles(word, params.minhash(word)) and not ct.same_shingles(BASE, word)
    sigs = mh.signatures(texts, word)
    reused = ct.partial_copies(texts, params, word, lambda rows: sigs[rows])
    fresh = ct.partial_copies(texts, params, BASE)
    assert reused[0].tolist() == fresh[0].tolist() == [[0, 1]]


def test_word_counts_match_the_normalised_text() -> None:
    texts = ["Hello,   WORLD!! it's fine", "", "один-два три", "a"]
    counts = mh.word_counts(texts, BASE).tolist()
    assert counts == [len(mh.normalize_for_shingles(t).split()) for t in texts] == [5, 0, 3, 1]


def test_texts_skipped_by_the_length_bound_could_not_have_had_enough_words() -> None:
    """Only ASCII texts too short to hold ``min_words`` words skip the count; NFKC expansions are counted."""
    rng = random.Random(5)
    pieces = ["a", "bb", "c-d", "e,f", "¼", "ﬁ", "x_y", "Привет", "1/2", " ", "...", "z"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 40))) for _ in range(200)]
    texts += ["".join(rng.choice(pieces[:4]) for _ in range(rng.randint(0, 20))) for _ in range(200)]  # ASCII
    texts += ["a b " * 4 + "a", "¼" * 5, "a b c d e"]  # 9 words in 17 characters; 10 words in 5 characters
    minhash = ct.ContainmentParams(min_words=5).minhash(BASE)
    counts = mh.word_counts(texts, minhash)
    bounded = ct._word_counts(texts, 5, lambda rows: mh.word_counts([texts[i] for i in rows], minhash))
    assert np.array_equal(bounded >= 5, counts >= 5)
    assert np.array_equal(bounded[bounded > 0], counts[bounded > 0]) and (bounded == 0).sum() > 50


def test_bands_get_more_permissive_as_sizes_differ_more() -> None:
    assert ct.jaccard_floor(1.0, 4.0) == pytest.approx(0.25)   # a set inside one 4x larger
    near, far = ct.containment_bands(0.5, 2.0, 128), ct.containment_bands(0.5, 8.0, 128)
    assert near[0] * near[1] <= 128 and far[0] * far[1] <= 128
    assert far[1] <= near[1]
    sizes = np.array([18, 35, 36, 80, 2000])
    classes = ct.size_classes(sizes, ct.ContainmentParams(min_words=20))
    assert classes.tolist() == [0, 0, 1, 2, 6]
    pairs = ct.class_pairs(classes, ct.ContainmentParams(min_words=20, max_ratio=4.0))
    assert (0, 1, 4.0) in pairs and (0, 6, 4.0) not in pairs and (0, 0, 2.0) in pairs
