"""A multinomial logistic model on hashed TF-IDF n-grams, compiled: fits and scores a million short texts.

scikit-learn's ``TfidfVectorizer`` (a Python loop over every n-gram) and one-vs-rest
``SGDClassifier`` (one pass per class) took 996 s of a 100k-row audit. Here the
n-grams are hashed in compiled code (no vocabulary to build: the columns are the
hashes seen in at least ``min_df`` of the fitting rows), one softmax model learns all
classes in one pass per epoch, and scoring streams the texts in chunks, so a model
fitted on a sample scores any number of rows without holding their features.
The features: see :mod:`dqaudit.features.ngram_kernels`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import ngram_kernels as kernels

#: Texts per compiled call when scoring: bounds the transient feature arrays (~6 MB per 20k short texts).
CHUNK = 20_000
#: Characters of a text that count (longer texts are cut, as for near-duplicates).
MAX_CHARS = 5_000


@dataclass(frozen=True)
class Rows:
    """Sparse TF-IDF rows: row ``r`` is ``cols[indptr[r]:indptr[r + 1]]`` with ``weights`` (col -1: unseen),
    over a vocabulary of ``n_cols`` columns."""

    cols: np.ndarray
    weights: np.ndarray
    indptr: np.ndarray
    n_cols: int

    def __len__(self) -> int:
        return len(self.indptr) - 1


@dataclass(frozen=True)
class Vocabulary:
    """The n-gram hashes kept as columns (sorted), their inverse document frequencies, a lookup table."""

    hashes: np.ndarray
    idf: np.ndarray
    keys: np.ndarray
    slots: np.ndarray

    @classmethod
    def of(cls, hashes: np.ndarray, idf: np.ndarray) -> Vocabulary:
        """The vocabulary with columns ``hashes`` (uint32) weighted by ``idf`` (float32)."""
        hashes, idf = np.ascontiguousarray(hashes, np.uint32), np.ascontiguousarray(idf, np.float32)
        return cls(hashes, idf, *kernels.lookup_table(hashes))

    def __len__(self) -> int:
        return len(self.hashes)


@dataclass(frozen=True)
class SoftmaxModel:
    """A fitted model: its vocabulary, coefficients (columns x classes) and biases."""

    vocabulary: Vocabulary
    coef: np.ndarray
    bias: np.ndarray


def _documents(texts: Sequence[str]) -> tuple[np.ndarray, ...]:
    """The compiled kernels' input (code points, bounds, fold tables), as for near-duplicates."""
    from ..dedup.minhash import MinHashParams, _documents

    return _documents(list(texts), MinHashParams(max_chars=MAX_CHARS))


def _counts(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not len(texts):
        return np.empty(0, np.uint32), np.empty(0, np.float32), np.zeros(1, np.int64)
    return kernels.ngram_counts(*_documents(texts))


def vocabulary(texts: Sequence[str], min_df: int = 2) -> tuple[Vocabulary, Rows]:
    """The columns seen in ``min_df``+ of ``texts`` with smoothed idf, and ``texts``' rows over them."""
    hashes, counts, indptr = _counts(texts)
    unique, df = np.unique(hashes, return_counts=True)
    keep = df >= min_df
    vocab = Vocabulary.of(unique[keep], np.log((1.0 + len(texts)) / (1.0 + df[keep])) + 1.0)
    return vocab, _rows(hashes, counts, indptr, vocab)


def _rows(hashes: np.ndarray, counts: np.ndarray, indptr: np.ndarray, vocab: Vocabulary) -> Rows:
    cols, weights = kernels.weigh(hashes, counts, indptr, vocab.keys, vocab.slots, vocab.idf)
    return Rows(cols, weights, indptr, len(vocab))


def features(texts: Sequence[str], vocab: Vocabulary) -> Rows:
    """``texts``' TF-IDF rows over a fitted vocabulary (n-grams it lacks are dropped)."""
    return _rows(*_counts(texts), vocab)


def fit(rows: Rows, labels: np.ndarray, which: np.ndarray, n_classes: int, seed: int, epochs: int = 5,
        rate: float = 0.5, alpha: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients and biases fitted on ``rows[which]`` (``labels`` for those rows), shuffled each epoch."""
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(which) for _ in range(epochs)]).astype(np.int64)
    coef, bias = kernels.sgd_fit(rows.cols, rows.weights, rows.indptr, labels.astype(np.int64), order,
                                 rows.n_cols, n_classes, rate, alpha)
    return coef, bias


def predict(rows: Rows, which: np.ndarray, coef: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Class probabilities of ``rows[which]``."""
    starts, ends = rows.indptr[which], rows.indptr[which + 1]
    sizes = ends - starts
    take = np.repeat(starts - np.concatenate(([0], np.cumsum(sizes)[:-1])), sizes) + np.arange(sizes.sum())
    indptr = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    return kernels.predict(rows.cols[take], rows.weights[take], indptr, coef, bias)


def score_texts(texts: Sequence[str], model: SoftmaxModel, workers: int = 1) -> np.ndarray:
    """Class probabilities of ``texts`` under ``model``, ``CHUNK`` texts at a time on ``workers`` threads."""

    vocab = model.vocabulary

    def one(chunk: Sequence[str]) -> np.ndarray:
        return kernels.score(*_documents(chunk), vocab.keys, vocab.slots, vocab.idf, model.coef, model.bias)

    chunks = [texts[i:i + CHUNK] for i in range(0, len(texts), CHUNK)]
    if workers <= 1 or len(chunks) < 2:
        parts = [one(c) for c in chunks]
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(one, chunks))
    return np.concatenate(parts) if parts else np.empty((0, len(model.bias)), np.float32)
