"""Partial copies: records largely contained in another (containment ``|A ∩ B| / |A|``).

Jaccard misses them: an answer cut from half of a source text shares all its shingles
with the source, yet its Jaccard with the source is about 0.5, and a paragraph pasted
into a long reply scores lower still. Containment is asymmetric and scale-free, so it
needs an index built for it; this one follows LSH Ensemble (Zhu et al., VLDB 2016):

1. **Word n-grams of long-enough texts.** Only texts with at least ``min_words`` words
   take part (a 5-word request is "contained" in every longer request that happens to
   say it), shingled as word 3-grams whatever the near-duplicate shingles are: character
   n-grams of unrelated English texts overlap far too much for containment to mean copying.
2. **Size partitions.** Texts are put in geometric size classes (ratio ``PARTITION_RATIO``
   in shingle count). For a pair with containment ``c`` of the smaller set (size ``a``) in
   the larger (size ``b``), Jaccard is ``c·a / (a + b - c·a)``: the larger the size ratio,
   the lower the Jaccard a true partial copy has. Each pair of classes (the smaller one
   with itself and with the classes up to ``max_ratio`` times larger) is banded with the
   LSH ``bands x rows`` that suits the Jaccard its worst-case pair has, so near-equal
   sizes get selective bands and skewed sizes get permissive ones.
3. **Estimate, then verify.** Candidates whose b-bit signature estimate gives a
   containment well below the threshold are dropped in the compiled LSH loop; the rest
   are verified on the exact shingle sets.

The result is a list of directed pairs ``(contained, container)``. The LSH loops are the
near-duplicate ones (:mod:`.kernels`); nothing here compares all pairs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .minhash import (
    MAX_BUCKET_PAIRS,
    MinHashParams,
    _live_lsh_pairs,
    _unique_pairs,
    distinct_signatures,
    least_error_bands,
    shingle_table,
    signatures,
    verified,
    word_counts,
)

#: Shingle count ratio between consecutive size classes.
PARTITION_RATIO = 2.0


@dataclass(frozen=True)
class ContainmentParams:
    """What partial-copy search depends on.

    ``threshold``: smallest containment ``|A ∩ B| / |A|`` (A the smaller shingle set)
    reported. ``min_words``: shorter texts take no part. ``max_ratio``: a text is searched
    for in texts up to this many times its size (larger containers have too low a Jaccard
    for 128 permutations to find them reliably). ``ngram``: word n-gram size.
    """

    threshold: float = 0.45
    min_words: int = 50
    max_ratio: float = 8.0
    ngram: int = 3

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError("containment threshold must be in (0, 1]")
        if self.min_words < self.ngram:
            raise ValueError("min_words must be at least ngram")
        if self.max_ratio < 1.0:
            raise ValueError("max_ratio must be at least 1")

    def minhash(self, base: MinHashParams) -> MinHashParams:
        """The signature settings: word n-grams, with ``base``'s permutations, seed and ``max_chars``."""
        return MinHashParams("word", self.ngram, base.num_perm, base.threshold, base.seed, base.max_chars)

    @property
    def min_shingles(self) -> int:
        """Word n-grams (repeats included) of a text of ``min_words`` words."""
        return self.min_words - self.ngram + 1


def jaccard_floor(containment: float, ratio: float) -> float:
    """Lowest Jaccard of two sets, the smaller ``containment``-contained in the other ``ratio`` x as large."""
    return containment / (1.0 + ratio - containment)


@lru_cache(maxsize=64)
def containment_bands(threshold: float, ratio: float, num_perm: int,
                      fn_weight: float = 0.9) -> tuple[int, int]:
    """LSH ``(bands, rows)`` for containment ``threshold`` between sets whose sizes differ up to ``ratio``.

    As LSH Ensemble chooses them: a pair with containment ``c`` has Jaccard at least
    ``jaccard_floor(c, ratio)``; misses (``c >= threshold`` not becoming a candidate) weigh
    ``fn_weight``, candidates below the threshold the rest. At least 2 rows per band:
    with 1, any two texts sharing one common phrase as a minimum become candidates.
    """
    grid = np.linspace(0.0, 1.0, 501)
    return least_error_bands(grid, jaccard_floor(grid, ratio), threshold, num_perm, fn_weight, 8)


#: Containment estimated from signatures may fall this far below the threshold before the exact check.
ESTIMATE_MARGIN = 0.15


def size_classes(sizes: np.ndarray, params: ContainmentParams) -> np.ndarray:
    """Size class per text (``sizes``: shingles): 0 up to ``PARTITION_RATIO`` x ``min_shingles``, 1 next…"""
    ratio = np.maximum(sizes, params.min_shingles) / params.min_shingles
    return np.floor(np.log(ratio) / np.log(PARTITION_RATIO) + 1e-9).astype(np.int64)


def class_pairs(classes: np.ndarray, params: ContainmentParams) -> list[tuple[int, int, float]]:
    """The (smaller class, larger class, worst size ratio searched) pairs to band.

    Classes ``i <= j`` are paired when some of their texts are within ``max_ratio`` of each
    other; the ratio used for the bands is the pair's largest, capped at ``max_ratio``.
    """
    present = np.unique(classes[classes >= 0]).tolist()
    out = []
    for i in present:
        for j in present:
            if j < i or PARTITION_RATIO ** (j - i - 1) >= params.max_ratio:
                continue
            out.append((i, j, min(PARTITION_RATIO ** (j - i + 1), params.max_ratio)))
    return out


def partial_copies(texts: Sequence[str], params: ContainmentParams, base: MinHashParams,
                   signatures_of: Callable[[np.ndarray], np.ndarray] | None = None,
                   workers: int = 1, words_of: Callable[[np.ndarray], np.ndarray] | None = None,
                   ) -> tuple[np.ndarray, np.ndarray, int]:
    """Directed pairs ``(contained, container)`` (rows of ``texts``) with containment >= ``params.threshold``,
    their containments, and the number of LSH candidates.

    Words are counted first (one pass over the texts); only texts with ``min_words`` words get
    signatures. ``signatures_of(rows)``, when given, returns those rows' signatures (the
    near-duplicate ones, when they are word n-grams of the same size: no second pass);
    ``words_of(rows)``, when given, those rows' :func:`word_counts` (the run's per-record cache).
    Texts with identical signatures are searched once (their copies are near-duplicates already).
    Of two sets, the smaller is the contained one (ties: the later row).
    """
    minhash = params.minhash(base)
    words = _word_counts(texts, params.min_words,
                         words_of or (lambda rows: word_counts([texts[i] for i in rows], minhash, workers)))
    eligible = np.flatnonzero(words >= params.min_words)
    if len(eligible) < 2:
        return np.empty((0, 2), np.int64), np.empty(0), 0
    if signatures_of is not None:
        sigs = signatures_of(eligible)
    else:
        sigs = signatures([texts[i] for i in eligible], minhash, workers)
    sizes = words[eligible] - params.ngram + 1
    pairs, total = _candidates(sigs, sizes, params, minhash.num_perm)
    if len(pairs) == 0:
        return np.empty((0, 2), np.int64), np.empty(0), total
    directed, values = _verify([texts[i] for i in eligible], pairs, params, minhash, workers)
    return eligible[directed], values, total


def _word_counts(texts: Sequence[str], min_words: int,
                 count: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Words per text as shingling counts them (``count(rows)``), or 0 for a text that cannot have
    ``min_words``: an ASCII text (NFKC leaves it as it is) shorter than ``2 * min_words - 1`` characters
    (a word takes a character and is separated from the next by another). Short support requests skip
    the counting pass."""
    shortest = 2 * min_words - 1
    maybe = np.flatnonzero(np.fromiter((len(t) >= shortest or not t.isascii() for t in texts), bool,
                                       count=len(texts)))
    words = np.zeros(len(texts), np.int64)
    if len(maybe):
        words[maybe] = count(maybe)
    return words


def same_shingles(a: MinHashParams, b: MinHashParams) -> bool:
    """Whether ``a`` and ``b`` give identical signatures."""
    return (a.shingle, a.ngram, a.num_perm, a.seed, a.max_chars) == (b.shingle, b.ngram, b.num_perm, b.seed,
                                                                      b.max_chars)


def _candidates(sigs: np.ndarray, sizes: np.ndarray, params: ContainmentParams,
                num_perm: int) -> tuple[np.ndarray, int]:
    """LSH Ensemble candidate pairs (positions in ``sigs``, ``i < j``) over size classes, and their count."""
    classes = size_classes(sizes, params)
    reps = np.sort(distinct_signatures(sigs, np.arange(len(sigs), dtype=np.int64))[0])
    found, total = [], 0
    for i, j, ratio in class_pairs(classes[reps], params):
        rows = reps[(classes[reps] == i) | (classes[reps] == j)]
        pairs, candidates = class_pair_candidates(sigs, classes, rows, (i, j, ratio), params, num_perm)
        total += candidates
        found.append(pairs)
    pairs = _unique_pairs(np.concatenate(found), len(sigs)) if found else np.empty((0, 2), np.int64)
    return pairs, total


def class_pair_candidates(sigs: np.ndarray, classes: np.ndarray, rows: np.ndarray,
                          pair: tuple[int, int, float], params: ContainmentParams,
                          num_perm: int) -> tuple[np.ndarray, int]:
    """The candidates of one :func:`class_pairs` entry ``(i, j, ratio)`` among ``rows`` (ascending: the
    distinct signatures of classes ``i`` and ``j``), banded for that pair, and their count before the
    estimate; the Spark engine runs this once per class pair on the executors."""
    i, j, ratio = pair
    bands, per_band = containment_bands(params.threshold, ratio, num_perm)
    floor = jaccard_floor(max(params.threshold - ESTIMATE_MARGIN, 0.0), ratio)
    pairs, candidates = _live_lsh_pairs(sigs, bands, per_band, rows, MAX_BUCKET_PAIRS, floor)
    if i != j:  # pairs inside one class were searched with that class's own bands
        pairs = pairs[classes[pairs[:, 0]] != classes[pairs[:, 1]]]
    return pairs, candidates


def _verify(texts: Sequence[str], pairs: np.ndarray, params: ContainmentParams, minhash: MinHashParams,
            workers: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact containment of the smaller shingle set in the larger, per candidate pair; kept pairs directed."""
    involved = np.flatnonzero(np.bincount(pairs.ravel(), minlength=len(texts)))
    local = np.full(len(texts), -1, np.int64)
    local[involved] = np.arange(len(involved))
    flat, bounds = shingle_table([texts[i] for i in involved], minhash, workers)
    keep, contained_first, value = exact_containment(flat, bounds, local[pairs], params.threshold)
    pairs = pairs[keep]
    directed = np.where(contained_first[keep][:, None], pairs, pairs[:, ::-1])
    return directed.astype(np.int64), value[keep]


def exact_containment(flat: np.ndarray, bounds: np.ndarray, at: np.ndarray,
                      threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pair ``at`` of sets in a :func:`shingle_table`: whether its containment (of the smaller set in
    the larger) is verified at ``threshold``, whether the first set is the contained one (of equal sizes,
    the second: the later row), and the containment. Shared by both engines' verification."""
    from . import kernels

    at = np.ascontiguousarray(at, dtype=np.int64)
    inter = kernels.intersections(flat, bounds, at, -1.0)
    sizes = np.diff(bounds)[at]
    value = inter / np.maximum(sizes.min(axis=1), 1)
    return verified(value, threshold), sizes[:, 0] < sizes[:, 1], value
