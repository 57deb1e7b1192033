"""MinHash: shingling, signatures, LSH banding, verification and clusters.

Everything here is a pure function of its arguments, so a Spark job computing
``signatures`` on pandas batches gets the same rows as a local run. The loops
over documents, shingles and bucket pairs are compiled (:mod:`.kernels`); this
module prepares their inputs and holds the definitions.

Signatures are interchangeable with datasketch's default ``affine32`` scheme:
each shingle hash ``h`` (uint32) is pre-mixed with the MurmurHash3 finalizer and
permuted as ``a_k * h + b_k mod 2**32``, with ``(a, b)`` drawn from
``numpy.random.RandomState(seed)`` exactly as ``datasketch.MinHash(num_perm, seed)``
draws them. So ``datasketch.LeanMinHash(seed=seed, hashvalues=row, scheme="affine32")``
built from a row gives the same Jaccard estimates, and a datasketch ``MinHash`` fed
our shingle hashes with an identity ``hashfunc`` reproduces the row bit for bit.

Text is normalised before shingling (NFKC, casefold, every run of non-word
characters becomes one space), so case, punctuation, full-width forms and
spacing never make two texts differ; Cyrillic and Kazakh letters are word
characters like Latin ones. Texts with fewer than two words have no shingles:
their signature is all ``EMPTY`` and they never become candidates.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import numpy as np

from ..parallel import default_workers

#: Signature value of a text with no shingles (datasketch's empty value).
EMPTY = np.uint32(0xFFFFFFFF)
#: Texts with fewer words than this have no shingles (reported, never clustered).
MIN_WORDS = 2
ShingleKind = Literal["word", "char", "auto"]

_SEP = "\x1f"
_SEP_CP = 0x1F
_SPACE_CP = 0x20
#: Texts per task of the kernels (inputs of fewer than two chunks run in the calling thread).
_CHUNK = 20_000


@dataclass(frozen=True)
class MinHashParams:
    """What a signature depends on; equal params give identical signatures everywhere.

    ``shingle``: ``word`` (word n-grams), ``char`` (character n-grams over the
    normalised text, words joined by one space) or ``auto``, which :meth:`resolve`
    turns into one of those from a corpus's median length (``signatures`` needs a
    concrete kind, so every partition of a corpus shingles the same way).
    ``n``: n-gram size; ``None`` takes the kind's default (word 3, char 4).
    ``max_chars``: each text is shingled from its first ``max_chars`` characters,
    which bounds the cost of very long texts.
    ``bands`` x ``rows`` is derived from ``threshold`` (see :func:`optimal_bands`).
    """

    shingle: ShingleKind = "auto"
    n: int | None = None
    num_perm: int = 128
    threshold: float = 0.7
    seed: int = 1
    max_chars: int = 20_000
    bands: int = field(init=False)
    rows: int = field(init=False)

    def __post_init__(self) -> None:
        if self.shingle not in ("word", "char", "auto"):
            raise ValueError(f"shingle must be word, char or auto, not {self.shingle!r}")
        if self.n is not None and not 1 <= self.n <= 16:
            raise ValueError("n must be between 1 and 16")
        if not 8 <= self.num_perm <= 1024:
            raise ValueError("num_perm must be between 8 and 1024")
        if not 0.0 < self.threshold < 1.0:
            raise ValueError("threshold must be between 0 and 1 (exclusive)")
        if self.max_chars < 16:
            raise ValueError("max_chars must be at least 16")
        bands, rows = optimal_bands(self.threshold, self.num_perm)
        object.__setattr__(self, "bands", bands)
        object.__setattr__(self, "rows", rows)

    @property
    def ngram(self) -> int:
        """The effective n-gram size."""
        if self.n is not None:
            return self.n
        return 4 if self.shingle == "char" else 3

    def resolve(self, texts: Sequence[str]) -> MinHashParams:
        """Concrete params for a corpus: ``auto`` becomes ``char`` when the median text is short.

        Short requests (median up to ``AUTO_CHAR_MAX_WORDS`` words) change a large share of
        their word n-grams with one typo or swap; character 4-grams keep most of them (see the
        banking77 study in docs/checks/near_duplicates.md). Longer texts use word 3-grams: far fewer shingles,
        and one edit touches only a small share of them.
        """
        if self.shingle != "auto":
            return self
        sample = [texts[i] for i in auto_sample(len(texts))]
        words = [len(t.split()) for t in sample]
        short = not words or float(np.median(words)) <= AUTO_CHAR_MAX_WORDS
        return MinHashParams("char" if short else "word", self.n, self.num_perm, self.threshold,
                             self.seed, self.max_chars)

    def permutations(self) -> tuple[np.ndarray, np.ndarray]:
        """``(a, b)``, uint32, drawn as datasketch's ``affine32`` scheme draws them from ``seed``."""
        return _permutations(self.num_perm, self.seed)


#: ``auto`` shingles with characters when the median text has at most this many words.
AUTO_CHAR_MAX_WORDS = 30


def auto_sample(n: int) -> range:
    """The rows of an ``n``-text corpus that ``auto`` looks at: about 2,000, evenly spaced.

    Fewer than 4,000 rows are all taken, and the sample itself has fewer than 4,000, so resolving
    on the sampled texts alone gives what resolving on the whole corpus gives (an engine that
    keeps the texts elsewhere fetches only these).
    """
    return range(0, n, max(1, n // 2000))


@lru_cache(maxsize=64)
def optimal_bands(threshold: float, num_perm: int, fn_weight: float = 0.95) -> tuple[int, int]:
    """LSH ``(bands, rows)`` with ``bands * rows <= num_perm`` minimising weighted miss and false-hit areas.

    A pair with Jaccard ``s`` becomes a candidate with probability ``1 - (1 - s**rows)**bands``.
    Candidates are verified against exact Jaccard afterwards, so false hits only cost time
    while misses lose recall: misses weigh ``fn_weight`` (0.95 gives 21 x 6 at 0.7 with 128).
    """
    grid = np.linspace(0.0, 1.0, 1001)
    return least_error_bands(grid, grid, threshold, num_perm, fn_weight, num_perm)


def least_error_bands(grid: np.ndarray, jaccard: np.ndarray, threshold: float, num_perm: int,
                      fn_weight: float, max_rows: int) -> tuple[int, int]:
    """``(bands, rows)``, rows up to ``max_rows``, minimising the weighted miss and false-candidate areas over
    ``grid`` (the similarity the threshold is on), where a pair at ``grid[i]`` has Jaccard ``jaccard[i]``."""
    below, above = grid <= threshold, grid >= threshold
    best: tuple[float, int, int] | None = None
    for rows in range(1, max_rows + 1):
        bands = num_perm // rows
        prob = 1.0 - (1.0 - jaccard**rows) ** bands
        fp = np.trapezoid(prob[below], grid[below])
        fn = np.trapezoid(1.0 - prob[above], grid[above])
        error = (1.0 - fn_weight) * fp + fn_weight * fn
        if best is None or error < best[0] - 1e-12:
            best = (error, bands, rows)
    assert best is not None
    return best[1], best[2]


@lru_cache(maxsize=16)
def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    a.flags.writeable = b.flags.writeable = False
    return a, b


# --- hashing primitives --------------------------------------------------------------


def _fmix64(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(33))
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


@lru_cache(maxsize=16)
def _multipliers(count: int, salt: int, bits: int = 32) -> np.ndarray:
    """Fixed odd constants (splitmix64 of ``salt``, ``salt+1``…), so shingle hashes never change."""
    x = (np.arange(count, dtype=np.uint64) + np.uint64(salt)) * np.uint64(0x9E3779B97F4A7C15)
    out = _fmix64(x) | np.uint64(1)
    if bits == 32:
        out = (out >> np.uint64(32)).astype(np.uint32) | np.uint32(1)
    out.flags.writeable = False
    return out


# --- normalisation and shingles -------------------------------------------------------


@lru_cache(maxsize=1)
def _fold_table() -> np.ndarray:
    """Per BMP code point: its single-character case fold if it is a word character, else -1.

    Word characters are letters, digits and combining marks (so Cyrillic, Kazakh and
    Devanagari words stay whole); ``_`` and everything else separate words. Folds that
    expand to several characters (``ß`` -> ``ss``) keep the character as it is.
    """
    table = np.full(0x10000, -1, dtype=np.int64)
    for code in range(0x10000):
        if _is_word_char(chr(code)) and code != _SEP_CP:
            folded = chr(code).casefold()
            table[code] = ord(folded) if len(folded) == 1 else code
    table.flags.writeable = False
    return table


def _is_word_char(char: str) -> bool:
    return char.isalnum() or unicodedata.category(char)[0] == "M"


def _documents(texts: Sequence[str], params: MinHashParams) -> tuple[np.ndarray, ...]:
    """The kernels' input: NFKC code points of all texts joined by ``0x1F``, document ``bounds``
    (document ``d`` is ``cp[bounds[d]:bounds[d + 1] - 1]``), the fold table, and the sorted
    code points above the BMP present with their fold-table values (they keep their case)."""
    parts = [t[:params.max_chars] if len(t) > params.max_chars else t for t in texts]
    big = _SEP.join(parts)
    if big.count(_SEP) != len(parts) - 1:  # a text contains the separator itself
        big = _SEP.join(p.replace(_SEP, " ") for p in parts)
    big = unicodedata.normalize("NFKC", big)
    try:
        raw = big.encode("utf-32-le")
    except UnicodeEncodeError:  # lone surrogates: keep them as code points
        raw = big.encode("utf-32-le", "surrogatepass")
    cp = np.frombuffer(raw, dtype=np.uint32)
    ends = np.flatnonzero(cp == _SEP_CP)
    bounds = np.concatenate(([0], ends + 1, [len(cp) + 1])).astype(np.int64)
    astral = _unique(cp[cp >= 0x10000]).astype(np.int64)
    values = np.array([code if _is_word_char(chr(code)) else -1 for code in astral.tolist()], np.int64)
    return cp, bounds, _fold_table(), astral, values


def _shingle_args(bounds: np.ndarray, params: MinHashParams) -> tuple[bool, int, np.ndarray, np.ndarray, int]:
    """The shingle definition's constants for :mod:`.kernels` (multipliers fixed by salts)."""
    if params.shingle == "auto":
        raise ValueError("resolve shingle='auto' with params.resolve(texts) before hashing")
    char = params.shingle == "char"
    longest = max(1, int(np.diff(bounds).max()))
    token_mult = _multipliers(longest, 0x51A7).astype(np.int64)
    mult = _multipliers(params.ngram, 0xC4A2 if char else 0x6E67).astype(np.int64)
    return char, params.ngram, token_mult, mult, MIN_WORDS


def normalize_for_shingles(text: str) -> str:
    """The text shingles are taken from: NFKC, case-folded, words joined by single spaces."""
    from . import kernels

    params = MinHashParams(max_chars=len(text) + 16)
    cp, bounds, table, astral, values = _documents([text.replace(_SEP, " ")], params)
    buf = np.empty(max(1, len(cp)), np.int64)
    length, _ = kernels._clean(cp, 0, len(cp), table, astral, values, buf)
    return buf[:length].astype(np.uint32).tobytes().decode("utf-32-le", "surrogatepass")


def shingle_hashes(texts: Sequence[str], params: MinHashParams) -> tuple[np.ndarray, np.ndarray]:
    """Shingle hashes (uint32) of every text and the document each belongs to (int64, sorted).

    Duplicated shingles within a text are kept (they do not change a MinHash);
    texts with fewer than ``MIN_WORDS`` words contribute none. A text with fewer
    words (or characters) than ``n`` but at least two words has one shingle: itself.
    """
    flat, counts = _shingle_rows(texts, params, unique=False)
    return flat, np.repeat(np.arange(len(texts), dtype=np.int64), counts)


def _shingle_rows(texts: Sequence[str], params: MinHashParams, unique: bool) -> tuple[np.ndarray, np.ndarray]:
    from . import kernels

    if len(texts) == 0:
        _shingle_args(np.zeros(2, np.int64), params)  # still reject shingle='auto'
        return np.empty(0, np.uint32), np.empty(0, np.int64)
    cp, bounds, *tables = _documents(texts, params)
    return kernels.shingle_rows(cp, bounds, *tables, *_shingle_args(bounds, params), unique)


def shingle_sets(texts: Sequence[str], params: MinHashParams) -> list[np.ndarray]:
    """Each text's set of shingle hashes, sorted and unique (for exact Jaccard)."""
    flat, bounds = shingle_table(texts, params)
    return [flat[bounds[i]:bounds[i + 1]] for i in range(len(texts))]


def shingle_table(texts: Sequence[str], params: MinHashParams,
                  workers: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """All shingle sets in one array: text ``i`` owns ``flat[bounds[i]:bounds[i + 1]]``, sorted, unique.

    Built ``_CHUNK`` texts at a time (over ``workers`` threads), so transient buffers stay small.
    """
    parts = _chunked(lambda chunk, _: _shingle_rows(chunk, params, unique=True), list(texts), workers)
    flat = np.concatenate([p[0] for p in parts]) if parts else np.empty(0, np.uint32)
    counts = np.concatenate([p[1] for p in parts]) if parts else np.empty(0, np.int64)
    return flat, np.concatenate(([0], np.cumsum(counts))).astype(np.int64)


def _chunked(fn: Callable[[list[str], int], Any], texts: list[str], workers: int) -> list[Any]:
    """``fn(slice, start)`` over ``_CHUNK``-text slices, in order; on a thread pool when ``workers > 1``.

    Threads rather than processes: the compiled kernels release the GIL, and there is
    no pickling of texts and results, no re-import of the caller's main module.
    """
    starts = range(0, len(texts), _CHUNK)
    if workers <= 1 or len(starts) < 2:
        return [fn(texts[i:i + _CHUNK], i) for i in starts]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda i: fn(texts[i:i + _CHUNK], i), starts))


# --- signatures -----------------------------------------------------------------------


def signatures(texts: Sequence[str], params: MinHashParams, workers: int = 1) -> np.ndarray:
    """MinHash signatures, shape ``(len(texts), num_perm)``, uint32; all ``EMPTY`` for no shingles.

    A pure function of ``(texts, params)``; ``workers > 1`` splits large inputs over
    threads (same result). ``params.shingle`` must be concrete (see ``resolve``).
    """
    texts = list(texts)
    out = np.empty((len(texts), params.num_perm), dtype=np.uint32)  # each chunk fills its own rows: no concat
    _chunked(lambda chunk, at: _signatures(chunk, params, out[at:at + len(chunk)]), texts, workers)
    return out


def _signatures(texts: list[str], params: MinHashParams, out: np.ndarray) -> None:
    """Signatures of ``texts`` into ``out`` (rows of the caller's array)."""
    from . import kernels

    out[:] = EMPTY
    cp, bounds, *tables = _documents(texts, params)
    perm_a, perm_b = params.permutations()
    kernels.signature_rows(cp, bounds, *tables, *_shingle_args(bounds, params), perm_a, perm_b, out)


def word_counts(texts: Sequence[str], params: MinHashParams, workers: int = 1) -> np.ndarray:
    """Words per text as shingling sees them (normalised, first ``max_chars`` characters), int64."""
    from . import kernels

    def count(chunk: list[str], _: int) -> np.ndarray:
        return kernels.word_counts(*_documents(chunk, params))

    parts = _chunked(count, list(texts), workers)
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def estimate_jaccard(a: np.ndarray, b: np.ndarray) -> np.ndarray | float:
    """Jaccard estimated from signatures: the share of equal positions (broadcasts over leading axes).

    Two empty signatures (no shingles) estimate 0, never 1.
    """
    a, b = np.asarray(a), np.asarray(b)
    equal = (a == b) & (a != EMPTY)
    result = equal.mean(axis=-1)
    return float(result) if np.ndim(result) == 0 else result


def nearest_reference(texts: Sequence[str], references: Sequence[str],
                      params: MinHashParams) -> tuple[np.ndarray, np.ndarray]:
    """For each text, the most similar reference (index, or -1) and its exact Jaccard (0 when none).

    Answers "is this answer a near-copy of a deprecated template?". References that
    share an LSH band with a text are compared by exact Jaccard of the shingle sets;
    a text sharing no band with any reference (Jaccard far below ``threshold``) gets -1.
    ``params.shingle`` must be concrete (resolve ``auto`` on the whole corpus first).
    """
    n = len(texts)
    best_index = np.full(n, -1, np.int64)
    best_sim = np.zeros(n, np.float64)
    if n == 0 or len(references) == 0:
        return best_index, best_sim
    everything = [*texts, *references]
    sigs = signatures(everything, params)
    live = (sigs != EMPTY).any(axis=1)
    keys = band_keys(sigs, params.bands, params.rows)
    text_keys, ref_keys = keys[:n], keys[n:]
    pairs = [np.stack([np.flatnonzero(hit), np.full(int(hit.sum()), n + j)], axis=1)
             for j in range(len(references)) if live[n + j]
             for hit in [(text_keys == ref_keys[j]).any(axis=1) & live[:n]]]
    pairs_array = np.concatenate(pairs) if pairs else np.empty((0, 2), np.int64)
    if len(pairs_array) == 0:
        return best_index, best_sim
    sims = exact_jaccard_pairs(shingle_sets(everything, params), pairs_array)
    order = np.lexsort((pairs_array[:, 1], -sims, pairs_array[:, 0]))  # best (then first) reference per text
    rows = pairs_array[order]
    first = np.concatenate(([True], rows[1:, 0] != rows[:-1, 0]))
    best_index[rows[first, 0]] = rows[first, 1] - n
    best_sim[rows[first, 0]] = sims[order][first]
    return best_index, best_sim


# --- LSH, verification, clusters ------------------------------------------------------


def band_keys(sigs: np.ndarray, bands: int, rows: int, which: np.ndarray | None = None) -> np.ndarray:
    """One uint64 key per (document, band): equal band rows give equal keys. Shape ``(n, bands)``.

    Key of band ``t``: ``fmix64(t + sum_k sig[t * rows + k] * m_k)`` with fixed odd 64-bit ``m_k``.
    ``which`` (row positions) keys only those rows, in that order, without copying the signatures.
    """
    from . import kernels

    which = np.arange(len(sigs), dtype=np.int64) if which is None else np.asarray(which, np.int64)
    keys = np.empty((len(which), bands), np.uint64)
    kernels.band_key_rows(np.ascontiguousarray(sigs, dtype=np.uint32), which, bands, rows,
                          _multipliers(rows, 0xBA4D, bits=64), keys)
    return keys


#: A bucket with more members pairs each with the bucket's first and its neighbour (linear), not all pairs:
#: thousands of copies of one text cost no quadratic blow-up, and their cluster is still connected.
#: Both engines use it (the Spark engine through :func:`run_pairs`), so candidates agree.
MAX_BUCKET_PAIRS = 32


def run_pairs(run_keys: np.ndarray, cap: int = MAX_BUCKET_PAIRS) -> np.ndarray:
    """Pairs of positions ``(i, j)``, ``i < j``, within each run of equal ``run_keys`` (ascending, position
    order inside a run), by the LSH bucket rule; shape ``(m, 2)``, int64, not sorted.

    All pairs in a run of at most ``cap``; in a larger run each member with the first and, from the
    third on, with the previous. The compiled loop of :func:`candidate_pairs` run as one band with no
    estimate and no earlier band to de-duplicate against, so an engine that pairs one bucket at a time
    (the Spark engine, batch by batch of a sorted partition) follows the local rule by construction.
    """
    from . import kernels

    m = len(run_keys)
    if m < 2:
        return np.empty((0, 2), np.int64)
    position = np.arange(m, dtype=np.int64)
    alone = (-1 - position).astype(np.int32).reshape(m, 1)  # bucket ids that match no other row's
    small, _, large = kernels.band_candidates(
        alone, np.ascontiguousarray(run_keys, np.uint64).reshape(1, m), position.reshape(1, m), position,
        np.zeros((m, 1), np.uint64), 8, cap, 0, 1, -np.inf)
    return np.concatenate([small, large])


def candidate_pairs(sigs: np.ndarray, params: MinHashParams, max_bucket_pairs: int = MAX_BUCKET_PAIRS,
                    rows: np.ndarray | None = None) -> np.ndarray:
    """Pairs ``(i, j)``, ``i < j``, sharing at least one LSH band; shape ``(m, 2)``, int64, sorted, unique.

    Only ``rows`` (default: all) take part; rows without shingles never pair. A bucket
    of ``k`` members yields all pairs when ``k <= max_bucket_pairs``, otherwise each member
    paired with the bucket's first and its neighbour (in row order): linear, so thousands
    of copies of one text cost no quadratic blow-up (their cluster is still connected).
    """
    return _lsh_pairs(sigs, params, rows, max_bucket_pairs, -np.inf)[0]


def _lsh_pairs(sigs: np.ndarray, params: MinHashParams, rows: np.ndarray | None, cap: int,
               min_estimate: float) -> tuple[np.ndarray, int]:
    """LSH candidates whose b-bit estimate (:func:`_estimate_low_bits`) reaches ``min_estimate``,
    and the number of distinct candidates before that filter.

    Bands are split over threads; the compiled loop emits each pair once (see
    :func:`.kernels.band_candidates`), so the only de-duplication left is of the few
    pairs from very large buckets.
    """
    live = np.flatnonzero((sigs != EMPTY).any(axis=1))
    if rows is not None:
        live = np.intersect1d(live, rows, assume_unique=True)
    return _live_lsh_pairs(sigs, params.bands, params.rows, live, cap, min_estimate)


def _live_lsh_pairs(sigs: np.ndarray, bands: int, rows: int, live: np.ndarray, cap: int,
                    min_estimate: float) -> tuple[np.ndarray, int]:
    """:func:`_lsh_pairs` among ``live`` rows (ascending, each with shingles), ``bands`` x ``rows``."""
    from concurrent.futures import ThreadPoolExecutor

    from . import kernels

    if len(live) < 2:
        return np.empty((0, 2), np.int64), 0
    keys = band_keys(sigs, bands, rows, live)
    cuts = np.linspace(0, bands, min(default_workers(), bands) + 1).astype(int)
    with ThreadPoolExecutor(max_workers=len(cuts) - 1) as pool:
        sorted_keys = np.ascontiguousarray(keys.T)
        orders = np.empty(sorted_keys.shape, np.int64)
        list(pool.map(lambda band: _sort_band(sorted_keys[band], orders[band]), range(bands)))
        ids = kernels.bucket_ids(sorted_keys, orders, cap)
        del keys
        low = _low_bytes(sigs)
        parts = list(pool.map(
            lambda k: kernels.band_candidates(ids, sorted_keys, orders, live, low, sigs.shape[1], cap,
                                              cuts[k], cuts[k + 1], min_estimate),
            range(len(cuts) - 1)))
    large = _unique_pairs(np.concatenate([part[2] for part in parts]), len(sigs))
    count = sum(part[1] for part in parts) + len(large)
    large = large[_estimate_low_bits(sigs, large) >= min_estimate]
    kept = np.concatenate([part[0] for part in parts] + [large])
    return _unique_pairs(kept, len(sigs)), count


def _sort_band(keys: np.ndarray, order: np.ndarray) -> None:
    """Sort one band's ``keys`` in place (ties by position) and write the sorting permutation to ``order``.

    A compiled radix sort on the high 32 bits (several times faster than ``np.sort`` here), then the rare
    runs with equal high bits are settled by full key.
    """
    from . import kernels

    kernels.sort_by_prefix(keys, order)
    kernels.settle_prefix_ties(keys, order)


def _low_bytes(sigs: np.ndarray) -> np.ndarray:
    """Each signature value's low byte, eight packed per uint64 (zero padding compares equal)."""
    low = np.ascontiguousarray(sigs.astype("<u4", copy=False).view(np.uint8)[:, ::4])
    if low.shape[1] % 8:
        low = np.pad(low, ((0, 0), (0, -low.shape[1] % 8)))
    return low.view(np.uint64)


def _unique_pairs(pairs: np.ndarray, n: int) -> np.ndarray:
    """Distinct pairs ``(i, j)`` with ``i < j``, sorted."""
    key = _unique(pairs[:, 0] * np.int64(n) + pairs[:, 1])
    return np.stack([key // n, key % n], axis=1)


def exact_jaccard_pairs(sets: Sequence[np.ndarray], pairs: np.ndarray) -> np.ndarray:
    """Exact Jaccard of each pair of shingle sets (sorted unique uint32 arrays), vectorised."""
    sizes = np.fromiter((len(s) for s in sets), np.int64, count=len(sets))
    flat = np.concatenate(sets) if sets else np.empty(0, np.uint32)
    return exact_jaccard_table(flat, np.concatenate(([0], np.cumsum(sizes))), pairs)


def exact_jaccard_table(flat: np.ndarray, bounds: np.ndarray, pairs: np.ndarray,
                        workers: int = 1, at_least: float | None = None) -> np.ndarray:
    """Exact Jaccard of pairs of sets stored as in :func:`shingle_table` (a compiled merge per pair).

    ``at_least``: pairs whose Jaccard is below it get some value below it, not their exact one
    (their merge stops as soon as that is certain).
    """
    from . import kernels

    if len(pairs) == 0:
        return np.zeros(0, np.float64)
    pairs = np.ascontiguousarray(pairs, dtype=np.int64)
    floor = -1.0 if at_least is None else float(at_least)
    slices = np.array_split(pairs, max(1, min(workers, len(pairs) // 100_000)))
    if len(slices) == 1:
        inter = kernels.intersections(flat, bounds, pairs, floor)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=len(slices)) as pool:
            parts = pool.map(lambda part: kernels.intersections(flat, bounds, part, floor), slices)
            inter = np.concatenate(list(parts))
    sizes = np.diff(bounds)
    union = sizes[pairs[:, 0]] + sizes[pairs[:, 1]] - inter
    sims = np.where(union > 0, inter / np.maximum(union, 1), 0.0)
    return sims if at_least is None else np.where(inter < 0, -1.0, sims)


#: Candidates whose estimated Jaccard is this far below the threshold are dropped before the exact
#: check: at J = 0.7 with 128 permutations that is 3 standard deviations (a pair at exactly 0.7 is
#: missed 0.15% of the time). On the 1M benchmark corpus it kept 482,730 of the 482,773 pairs that
#: 0.15 kept (0.009% fewer) with 31% fewer exact checks.
ESTIMATE_MARGIN = 0.12


def estimate_floor(threshold: float) -> float:
    """The b-bit estimate a candidate needs to be checked exactly (:data:`ESTIMATE_MARGIN` below it)."""
    return threshold - ESTIMATE_MARGIN


def verified(similarity: np.ndarray, threshold: float) -> np.ndarray:
    """Which exact Jaccard values make a near-duplicate edge: ``threshold`` or more, less 1e-9 of float
    rounding (a pair at exactly 7/10 must pass 0.7 whatever order the division ran in)."""
    return similarity >= verified_floor(threshold)


def verified_floor(threshold: float) -> float:
    """The lowest similarity :func:`verified` accepts."""
    return threshold - 1e-9


def near_duplicate_pairs(texts: Sequence[str], sigs: np.ndarray,
                         params: MinHashParams) -> tuple[np.ndarray, np.ndarray, int]:
    """Verified near-duplicate edges ``(m, 2)`` with their Jaccard, and the number of LSH candidates.

    Rows with identical signatures are collapsed first (one representative each, the
    others linked to it with similarity 1.0), so thousands of copies of one text cost
    one row in LSH. Candidate pairs of representatives whose signatures agree on at
    least ``threshold - ESTIMATE_MARGIN`` of positions are then kept when their exact
    Jaccard on the shingle sets reaches ``params.threshold``.
    """
    live = np.flatnonzero((sigs != EMPTY).any(axis=1))
    if len(live) < 2:
        return np.empty((0, 2), np.int64), np.empty(0), 0
    reps, mine = distinct_signatures(sigs, live)
    copy_edges = np.stack([mine[mine != live], live[mine != live]], axis=1)
    floor = estimate_floor(params.threshold)
    close, candidates = _live_lsh_pairs(sigs, params.bands, params.rows, np.sort(reps), MAX_BUCKET_PAIRS,
                                        floor)
    kept, sims = np.empty((0, 2), np.int64), np.empty(0)
    if len(close):
        involved = np.flatnonzero(np.bincount(close.ravel(), minlength=len(sigs)))
        local = np.full(len(sigs), -1, np.int64)
        local[involved] = np.arange(len(involved))
        flat, bounds = shingle_table([texts[i] for i in involved], params, default_workers())
        sim = exact_jaccard_table(flat, bounds, local[close], default_workers(),
                                  at_least=verified_floor(params.threshold))  # failing pairs stop early
        ok = verified(sim, params.threshold)
        kept, sims = close[ok], sim[ok]
    pairs = np.concatenate([copy_edges, kept])
    pairs.sort(axis=1)
    return pairs.astype(np.int64), np.concatenate([np.ones(len(copy_edges)), sims]), candidates


def distinct_signatures(sigs: np.ndarray, live: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Among ``live`` rows: the first row of each distinct signature, and each live row's such first row."""
    first, inverse = _first_and_inverse(band_keys(sigs, 1, sigs.shape[1], live)[:, 0])
    reps = live[first]
    return reps, reps[inverse]


def _estimate_low_bits(sigs: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Jaccard estimate per pair from the low 8 bits of each signature value (b-bit MinHash).

    A quarter of the memory traffic of full values; a chance match (1/256) is corrected for.
    The same compiled estimate filters candidates inside :func:`_lsh_pairs`.
    """
    from . import kernels

    pairs = np.ascontiguousarray(pairs, dtype=np.int64).reshape(-1, 2)
    return kernels.pair_estimates(_low_bytes(sigs), pairs, sigs.shape[1])


def clusters(n: int, pairs: np.ndarray) -> np.ndarray:
    """Connected components (union-find) over ``pairs``: one int64 label per row, numbered by first row."""
    if len(pairs) == 0:
        return np.arange(n, dtype=np.int64)
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(pairs), np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    count, component = connected_components(graph, directed=False)
    first_row = np.full(count, n, np.int64)
    np.minimum.at(first_row, component, np.arange(n))
    rank = np.empty(count, np.int64)
    rank[np.argsort(first_row)] = np.arange(count)  # number components in order of their first row
    return rank[component]


def _unique(values: np.ndarray) -> np.ndarray:
    """Sorted unique values (sort-based: numpy 2.4's default ``np.unique`` is far slower on big arrays)."""
    ordered = np.sort(values)
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))] if len(ordered) else ordered


def _first_and_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position of each distinct value's first occurrence, and each element's distinct-value number."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    new = np.concatenate(([True], ordered[1:] != ordered[:-1]))
    inverse = np.empty(len(values), np.int64)
    inverse[order] = np.cumsum(new) - 1
    return order[new], inverse
