"""Hashed TF-IDF n-grams and the compiled softmax model behind label_noise's TF-IDF features."""

from __future__ import annotations

import re

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer

from dqaudit.features import ngram_model as nm

TEXTS = [
    "How do I top up my card?",
    "Top up failed, why?",
    "my card was declined at the shop",
    "Where is my new card",
    "Почему не проходит пополнение карты",
    "the card was declined again",
]


def test_ngrams_are_scikit_learns_char_wb_2_5_and_word_1_2_grams() -> None:
    """Distinct hashes per text = distinct n-grams by scikit-learn's definitions (no collisions here)."""
    chars = CountVectorizer(analyzer="char_wb", ngram_range=(2, 5), token_pattern=None).build_analyzer()
    words = CountVectorizer(ngram_range=(1, 2), token_pattern=r"(?u)\b\w+\b").build_analyzer()
    hashes, counts, indptr = nm._counts(TEXTS)
    for i, text in enumerate(TEXTS):
        plain = " ".join(re.findall(r"\w+", text.lower()))  # the kernels drop punctuation
        expected = set(chars(plain)) | {"w:" + w for w in words(text)}
        assert indptr[i + 1] - indptr[i] == len(expected), text
        assert counts[indptr[i]:indptr[i + 1]].sum() == len(chars(plain)) + len(words(text))


def test_vocabulary_keeps_ngrams_seen_twice_and_weights_rows_to_unit_blocks() -> None:
    vocab, rows = nm.vocabulary(TEXTS, min_df=2)
    hashes, _, _ = nm._counts(TEXTS)
    values, df = np.unique(hashes, return_counts=True)
    assert np.array_equal(vocab.hashes, values[df >= 2]) and len(rows) == len(TEXTS)
    for r in range(len(rows)):
        lo, hi = rows.indptr[r], rows.indptr[r + 1]
        kept = rows.cols[lo:hi] >= 0
        kinds = vocab.hashes[rows.cols[lo:hi][kept]] & 1
        for kind in np.unique(kinds):  # character and word blocks each have unit length
            assert np.isclose(np.sum(rows.weights[lo:hi][kept][kinds == kind] ** 2), 1.0, atol=1e-5)
    again = nm.features(TEXTS, vocab)
    assert np.array_equal(again.cols, rows.cols) and np.allclose(again.weights, rows.weights)


def test_softmax_model_learns_and_scoring_streams_the_same_probabilities() -> None:
    texts = [f"{w} {v} please {i}" for i in range(60) for w, v in (("card", "declined"), ("loan", "rate"))]
    labels = np.array([0, 1] * 60)
    vocab, rows = nm.vocabulary(texts)
    coef, bias = nm.fit(rows, labels, np.arange(100), 2, seed=0)
    held = np.arange(100, 120)
    probs = nm.predict(rows, held, coef, bias)
    assert (probs.argmax(axis=1) == labels[held]).all() and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    model = nm.SoftmaxModel(vocab, coef, bias)
    streamed = nm.score_texts([texts[i] for i in held], model, workers=2)
    assert np.allclose(streamed, probs, atol=1e-6)
    again, _ = nm.fit(rows, labels, np.arange(100), 2, seed=0)
    assert np.array_equal(again, coef)  # deterministic given the seed
