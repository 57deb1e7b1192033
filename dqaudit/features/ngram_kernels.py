"""Compiled loops of :mod:`dqaudit.features.ngram_model`: n-gram hashing, softmax SGD, scoring.

The input is :mod:`dqaudit.dedup.minhash`'s document layout (NFKC code points joined by
``0x1F``, with ``bounds``), cleaned by the same :func:`dqaudit.dedup.kernels._clean`
(case-folded words joined by one space). A document's n-grams are

* character 2-5-grams of each word padded with a space on both sides (scikit-learn's
  ``char_wb``), hashed with a per-length seed, lowest bit 0;
* word 1- and 2-grams, lowest bit 1,

as 32-bit hashes (polynomial over the code points, then MurmurHash3's finalizer; a
character n-gram's length is mixed in first). The
lowest bit keeps the two blocks apart, so each is weighted and normalised on its own.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ..dedup.kernels import _clean, _fmix32

_MASK = 0xFFFFFFFF
_SPACE = 0x20
_PRIME = 0x01000193  # FNV prime: the polynomial's base
_SEED_CHAR, _SEED_LEN, _SEED_WORD, _SEED_PAIR = 0x3C6EF372, 0x9E3779B9, 0xA54FF53A, 0x510E527F
MIN_CHAR, MAX_CHAR = 2, 5
#: Upper bound of n-grams per code point of a document (4 character n-grams per padded character,
#: plus the words and word pairs).
_GRAMS_PER_CHAR = 6


@nb.njit(nogil=True, cache=True)
def _doc_ngrams(buf: np.ndarray, length: int, out: np.ndarray) -> int:
    """Hashes of the n-grams of the cleaned document ``buf[:length]`` into ``out``; return their number.

    Character n-grams are rolled: the hash of the 3-gram at ``i`` extends the 2-gram's,
    and the length is mixed in before the finalizer.
    """
    count = 0
    start = 0
    previous = -1
    while start < length:
        end = start
        while end < length and buf[end] != _SPACE:
            end += 1
        width = end - start + 2  # the padded word: a space, buf[start:end], a space
        for i in range(width - MIN_CHAR + 1):
            h = _SEED_CHAR
            for k in range(i, min(i + MAX_CHAR, width)):
                unit = _SPACE if k == 0 or k == width - 1 else buf[start + k - 1]
                h = (h * _PRIME + unit + 1) & _MASK
                if k - i + 1 >= MIN_CHAR:
                    out[count] = _fmix32((h + (k - i + 1) * _SEED_LEN) & _MASK) & 0xFFFFFFFE
                    count += 1
        token = _SEED_WORD
        for k in range(start, end):
            token = (token * _PRIME + buf[k] + 1) & _MASK
        token = _fmix32(token)
        out[count] = token | 1
        count += 1
        if previous >= 0:
            out[count] = _fmix32((previous * _PRIME + token + _SEED_PAIR) & _MASK) | 1
            count += 1
        previous = token
        start = end + 1
    return count


@nb.njit(nogil=True, cache=True)
def _distinct(grams: np.ndarray, n: int, table: np.ndarray, hashes: np.ndarray, counts: np.ndarray) -> int:
    """The distinct values of ``grams[:n]`` into ``hashes`` (first-seen order) with their counts.

    ``table`` (a power of two above ``2 n``, all -1) is an open-addressing set of
    positions in ``hashes``, cleared again on return: cheaper than sorting each document.
    """
    mask = len(table) - 1
    at = 0
    for i in range(n):
        h = grams[i]
        slot = h & mask
        while table[slot] >= 0 and hashes[table[slot]] != h:
            slot = (slot + 1) & mask
        if table[slot] >= 0:
            counts[table[slot]] += 1.0
        else:
            table[slot] = at
            hashes[at] = h
            counts[at] = 1.0
            at += 1
    for i in range(at):
        slot = hashes[i] & mask
        while table[slot] >= 0:
            table[slot] = -1
            slot = (slot + 1) & mask
    return at


@nb.njit(nogil=True, cache=True)
def _set_table(size: int) -> np.ndarray:
    """An empty :func:`_distinct` table for documents of up to ``size`` n-grams."""
    width = 1
    while width < 2 * size:
        width *= 2
    return np.full(width, -1, np.int32)


@nb.njit(nogil=True, cache=True)
def ngram_counts(cp: np.ndarray, bounds: np.ndarray, table: np.ndarray, astral: np.ndarray,
                 astral_values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each document's distinct n-gram hashes and their counts, CSR-style (``indptr``)."""
    docs = len(bounds) - 1
    longest = 1
    total = 0
    for d in range(docs):
        size = bounds[d + 1] - bounds[d]
        longest = max(longest, size)
        total += _GRAMS_PER_CHAR * size + _GRAMS_PER_CHAR
    buf = np.empty(longest, np.int64)
    grams = np.empty(_GRAMS_PER_CHAR * longest + _GRAMS_PER_CHAR, np.uint32)
    hashes = np.empty(total, np.uint32)
    counts = np.empty(total, np.float32)
    indptr = np.zeros(docs + 1, np.int64)
    seen = _set_table(len(grams))
    for d in range(docs):
        length, _ = _clean(cp, bounds[d], bounds[d + 1] - 1, table, astral, astral_values, buf)
        n = _doc_ngrams(buf, length, grams)
        at = indptr[d]
        indptr[d + 1] = at + _distinct(grams, n, seen, hashes[at:], counts[at:])
    return hashes[:indptr[docs]].copy(), counts[:indptr[docs]].copy(), indptr


@nb.njit(nogil=True, cache=True)
def lookup_table(vocab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An open-addressing table (keys, columns; -1 empty) from the hashes ``vocab`` to their positions."""
    size = 1
    while size < 2 * len(vocab) + 2:
        size *= 2
    keys = np.zeros(size, np.uint32)
    cols = np.full(size, -1, np.int32)
    for c in range(len(vocab)):
        slot = vocab[c] & (size - 1)
        while cols[slot] >= 0:
            slot = (slot + 1) & (size - 1)
        keys[slot] = vocab[c]
        cols[slot] = c
    return keys, cols


@nb.njit(nogil=True, cache=True)
def _column(h: np.uint32, keys: np.ndarray, cols: np.ndarray) -> int:
    slot = h & (len(keys) - 1)
    while cols[slot] >= 0:
        if keys[slot] == h:
            return cols[slot]
        slot = (slot + 1) & (len(keys) - 1)
    return -1


@nb.njit(nogil=True, cache=True)
def _weigh_row(hashes: np.ndarray, counts: np.ndarray, lo: int, hi: int, keys: np.ndarray, slots: np.ndarray,
               idf: np.ndarray, cols: np.ndarray, weights: np.ndarray) -> None:
    """Columns (-1: not in the vocabulary) and TF-IDF weights of one row's entries ``lo:hi``.

    Sublinear tf (1 + log count) times idf, the character and word blocks l2-normalised
    apart (as two TfidfVectorizers side by side).
    """
    norms = np.zeros(2, np.float32)
    for i in range(lo, hi):
        c = _column(hashes[i], keys, slots)
        cols[i] = c
        if c >= 0:
            w = (np.float32(1.0) + np.log(counts[i])) * idf[c]
            weights[i] = w
            norms[hashes[i] & 1] += w * w
        else:
            weights[i] = 0.0
    for i in range(lo, hi):
        if cols[i] >= 0:
            weights[i] /= np.sqrt(norms[hashes[i] & 1])


@nb.njit(nogil=True, cache=True)
def weigh(hashes: np.ndarray, counts: np.ndarray, indptr: np.ndarray, keys: np.ndarray, slots: np.ndarray,
          idf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column and TF-IDF weight of every entry (see :func:`_weigh_row`)."""
    cols = np.empty(len(hashes), np.int32)
    weights = np.empty(len(hashes), np.float32)
    for d in range(len(indptr) - 1):
        _weigh_row(hashes, counts, indptr[d], indptr[d + 1], keys, slots, idf, cols, weights)
    return cols, weights


@nb.njit(nogil=True, cache=True)
def score(cp: np.ndarray, bounds: np.ndarray, table: np.ndarray, astral: np.ndarray,
          astral_values: np.ndarray, keys: np.ndarray, slots: np.ndarray, idf: np.ndarray, coef: np.ndarray,
          bias: np.ndarray) -> np.ndarray:
    """Softmax class probabilities of each document, one document at a time (no feature matrix)."""
    docs = len(bounds) - 1
    longest = 1
    for d in range(docs):
        longest = max(longest, bounds[d + 1] - bounds[d])
    buf = np.empty(longest, np.int64)
    size = _GRAMS_PER_CHAR * longest + _GRAMS_PER_CHAR
    grams = np.empty(size, np.uint32)
    hashes = np.empty(size, np.uint32)
    counts = np.empty(size, np.float32)
    cols = np.empty(size, np.int32)
    weights = np.empty(size, np.float32)
    out = np.empty((docs, len(bias)), np.float32)
    z = np.empty(len(bias), np.float32)
    seen = _set_table(size)
    for d in range(docs):
        length, _ = _clean(cp, bounds[d], bounds[d + 1] - 1, table, astral, astral_values, buf)
        n = _distinct(grams, _doc_ngrams(buf, length, grams), seen, hashes, counts)
        _weigh_row(hashes, counts, 0, n, keys, slots, idf, cols, weights)
        _logits(cols, weights, 0, n, coef, bias, z)
        _softmax(z)
        out[d] = z
    return out


@nb.njit(nogil=True, cache=True)
def _logits(cols: np.ndarray, weights: np.ndarray, lo: int, hi: int, coef: np.ndarray, bias: np.ndarray,
            z: np.ndarray) -> None:
    z[:] = bias
    for i in range(lo, hi):
        c = cols[i]
        if c >= 0:
            w = weights[i]
            row = coef[c]
            for k in range(len(z)):
                z[k] += w * row[k]


@nb.njit(nogil=True, cache=True)
def _softmax(z: np.ndarray) -> None:
    top = z.max()
    total = 0.0
    for k in range(len(z)):
        z[k] = np.exp(z[k] - top)
        total += z[k]
    z /= total


@nb.njit(nogil=True, cache=True)
def sgd_fit(cols: np.ndarray, weights: np.ndarray, indptr: np.ndarray, labels: np.ndarray, order: np.ndarray,
            n_cols: int, n_classes: int, rate: float, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression by SGD over the rows in ``order`` (all epochs, concatenated).

    Step ``rate / (1 + rate * alpha * t)`` (scikit-learn's ``optimal`` schedule shape) and
    an L2 penalty ``alpha`` applied to the rows of the coefficients a record touches.
    """
    coef = np.zeros((n_cols, n_classes), np.float32)
    bias = np.zeros(n_classes, np.float32)
    z = np.empty(n_classes, np.float32)
    for t in range(len(order)):
        r = order[t]
        step = rate / (1.0 + rate * alpha * t)
        _logits(cols, weights, indptr[r], indptr[r + 1], coef, bias, z)
        _softmax(z)
        z[labels[r]] -= 1.0
        for i in range(indptr[r], indptr[r + 1]):
            c = cols[i]
            if c >= 0:
                w = weights[i]
                row = coef[c]
                for k in range(n_classes):
                    row[k] -= step * (w * z[k] + alpha * row[k])
        for k in range(n_classes):
            bias[k] -= step * z[k]
    return coef, bias


@nb.njit(nogil=True, cache=True)
def predict(cols: np.ndarray, weights: np.ndarray, indptr: np.ndarray, coef: np.ndarray,
            bias: np.ndarray) -> np.ndarray:
    """Softmax class probabilities of every row."""
    rows = len(indptr) - 1
    out = np.empty((rows, len(bias)), np.float32)
    z = np.empty(len(bias), np.float32)
    for r in range(rows):
        _logits(cols, weights, indptr[r], indptr[r + 1], coef, bias, z)
        _softmax(z)
        out[r] = z
    return out
