"""Vectorised MinHash: shingling, signatures, LSH banding, verification and clusters.

Everything here is a pure function of its arguments, so a Spark job computing
``signatures`` on pandas batches gets the same rows as a local run.

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

import os
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import numpy as np

#: Signature value of a text with no shingles (datasketch's empty value).
EMPTY = np.uint32(0xFFFFFFFF)
#: Texts with fewer words than this have no shingles (reported, never clustered).
MIN_WORDS = 2
ShingleKind = Literal["word", "char", "auto"]

_SEP = "\x1f"
_SEP_CP = 0x1F
_SPACE_CP = 0x20
#: Docs per block in the permutation loop: the (num_perm, block) accumulator stays in L2 cache.
_BLOCK = 512
#: Docs per parallel task (inputs of fewer than two chunks run in the calling thread).
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
        banking77 study in the README). Longer texts use word 3-grams: far fewer shingles,
        and one edit touches only a small share of them.
        """
        if self.shingle != "auto":
            return self
        sample = texts[:: max(1, len(texts) // 2000)] if len(texts) else []
        words = [len(t.split()) for t in sample]
        short = not words or float(np.median(words)) <= AUTO_CHAR_MAX_WORDS
        return MinHashParams("char" if short else "word", self.n, self.num_perm, self.threshold,
                             self.seed, self.max_chars)

    def permutations(self) -> tuple[np.ndarray, np.ndarray]:
        """``(a, b)``, uint32, drawn as datasketch's ``affine32`` scheme draws them from ``seed``."""
        return _permutations(self.num_perm, self.seed)


#: ``auto`` shingles with characters when the median text has at most this many words.
AUTO_CHAR_MAX_WORDS = 30


@lru_cache(maxsize=64)
def optimal_bands(threshold: float, num_perm: int, fn_weight: float = 0.95) -> tuple[int, int]:
    """LSH ``(bands, rows)`` with ``bands * rows <= num_perm`` minimising weighted miss and false-hit areas.

    A pair with Jaccard ``s`` becomes a candidate with probability ``1 - (1 - s**rows)**bands``.
    Candidates are verified against exact Jaccard afterwards, so false hits only cost time
    while misses lose recall: misses weigh ``fn_weight`` (0.95 gives 21 x 6 at 0.7 with 128).
    """
    grid = np.linspace(0.0, 1.0, 1001)
    below, above = grid <= threshold, grid >= threshold
    best: tuple[float, int, int] | None = None
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        prob = 1.0 - (1.0 - grid**rows) ** bands
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


def fmix32(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer (the pre-mix of datasketch's affine32 scheme)."""
    h = values.astype(np.uint32, copy=True)
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return h


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
def _tables() -> tuple[np.ndarray, np.ndarray]:
    """Per BMP code point: its single-character case fold, and whether it is a word character.

    Word characters are letters, digits and combining marks (so Cyrillic, Kazakh and
    Devanagari words stay whole); ``_`` and everything else separate words. Folds that
    expand to several characters (``ß`` -> ``ss``) keep the character as it is.
    """
    fold = np.arange(0x10000, dtype=np.uint32)
    word = np.zeros(0x10000, dtype=bool)
    for code in range(0x10000):
        char = chr(code)
        folded = char.casefold()
        if len(folded) == 1:
            fold[code] = ord(folded)
        word[code] = char.isalnum() or unicodedata.category(char)[0] == "M"
    word[_SEP_CP] = False
    fold.flags.writeable = word.flags.writeable = False
    return fold, word


def _normalized_codepoints(texts: Sequence[str], max_chars: int) -> tuple[np.ndarray, np.ndarray]:
    """NFKC + case-folded code points of all texts joined by ``0x1F``, and which are word characters."""
    parts = [t[:max_chars] if len(t) > max_chars else t for t in texts]
    big = _SEP.join(parts)
    if big.count(_SEP) != len(parts) - 1:  # a text contains the separator itself
        big = _SEP.join(p.replace(_SEP, " ") for p in parts)
    big = unicodedata.normalize("NFKC", big)
    try:
        raw = big.encode("utf-32-le")
    except UnicodeEncodeError:  # lone surrogates: keep them as code points
        raw = big.encode("utf-32-le", "surrogatepass")
    cp = np.frombuffer(raw, dtype=np.uint32)
    fold, word = _tables()
    bmp = cp < 0x10000
    if bmp.all():
        return fold[cp], word[cp]
    folded, is_word = cp.copy(), np.zeros(len(cp), bool)
    folded[bmp], is_word[bmp] = fold[cp[bmp]], word[cp[bmp]]
    astral = np.flatnonzero(~bmp)
    for code in _unique(cp[astral]).tolist():
        char = chr(code)
        is_word[astral[cp[astral] == code]] = char.isalnum() or unicodedata.category(char)[0] == "M"
    return folded, is_word


def _clean_stream(cp: np.ndarray, is_word: np.ndarray) -> np.ndarray:
    """Code points with every run of non-word characters inside a text turned into one space."""
    is_sep = cp == _SEP_CP
    doc_of = np.cumsum(is_sep)
    words = np.flatnonzero(is_word)
    gap = np.flatnonzero(~is_word[1:] & is_word[:-1]) + 1
    gap = gap[~is_sep[gap]]
    nxt = np.searchsorted(words, gap)
    ok = nxt < len(words)
    gap = gap[ok]
    gap = gap[doc_of[words[nxt[ok]]] == doc_of[gap]]
    out = np.where(is_word, cp, np.uint32(_SEP_CP))
    out[gap] = _SPACE_CP
    keep = is_word | is_sep
    keep[gap] = True
    return out[keep]


def normalize_for_shingles(text: str) -> str:
    """The text shingles are taken from: NFKC, case-folded, words joined by single spaces."""
    cp, is_word = _normalized_codepoints([text.replace(_SEP, " ")], len(text) + 16)
    return _clean_stream(cp, is_word).tobytes().decode("utf-32-le", "surrogatepass")


def shingle_hashes(texts: Sequence[str], params: MinHashParams) -> tuple[np.ndarray, np.ndarray]:
    """Shingle hashes (uint32) of every text and the document each belongs to (int64, sorted).

    Duplicated shingles within a text are kept (they do not change a MinHash);
    texts with fewer than ``MIN_WORDS`` words contribute none. A text with fewer
    words (or characters) than ``n`` but at least two words has one shingle: itself.
    """
    if params.shingle == "auto":
        raise ValueError("resolve shingle='auto' with params.resolve(texts) before hashing")
    n_docs = len(texts)
    if n_docs == 0:
        return np.empty(0, np.uint32), np.empty(0, np.int64)
    cp = _clean_stream(*_normalized_codepoints(texts, params.max_chars))
    is_sep = cp == _SEP_CP
    # document of every character, and word-boundary structure
    doc_of = np.cumsum(is_sep, dtype=np.int64)
    is_word = ~is_sep & (cp != _SPACE_CP)
    prev_word = np.concatenate(([False], is_word[:-1]))
    starts = np.flatnonzero(is_word & ~prev_word)
    words_per_doc = np.bincount(doc_of[starts], minlength=n_docs)
    if not (words_per_doc >= MIN_WORDS).any():
        return np.empty(0, np.uint32), np.empty(0, np.int64)
    if params.shingle == "word":
        hashes, docs = _word_shingles(cp, is_word, starts, doc_of, params.ngram)
    else:
        hashes, docs = _char_shingles(cp, is_sep, doc_of, params.ngram)
    keep = words_per_doc[docs] >= MIN_WORDS
    return hashes[keep], docs[keep]


def _token_hashes(cp: np.ndarray, is_word: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """One uint32 per word: a position-keyed sum of its characters, mixed to break linearity."""
    idx = np.flatnonzero(is_word)
    if len(idx) == 0:
        return np.empty(0, np.uint32)
    is_start = np.zeros(len(cp), bool)
    is_start[starts] = True
    run = np.cumsum(is_start[idx]) - 1  # word number of every word character
    pos = idx - starts[run]
    mult = _multipliers(int(pos.max()) + 1, 0x51A7)
    values = (cp[idx] + np.uint32(1)) * mult[pos]
    return fmix32(np.add.reduceat(values, np.searchsorted(idx, starts)))


def _word_shingles(cp: np.ndarray, is_word: np.ndarray, starts: np.ndarray, doc_of: np.ndarray,
                   n: int) -> tuple[np.ndarray, np.ndarray]:
    tokens = _token_hashes(cp, is_word, starts)
    token_doc = doc_of[starts]
    if n == 1 or len(tokens) == 0:
        return tokens, token_doc
    mult = _multipliers(n, 0x6E67)
    # full windows: n consecutive words of one document
    m = len(tokens) - n + 1
    full = np.zeros(0, np.int64) if m <= 0 else np.flatnonzero(token_doc[: m] == token_doc[n - 1:])
    acc = np.zeros(len(full), np.uint32)
    for k in range(n):
        acc += tokens[full + k] * mult[k]
    # documents shorter than n words: one shingle of all their words
    counts = np.bincount(token_doc, minlength=int(token_doc[-1]) + 1)
    first_token = np.concatenate(([0], np.cumsum(counts)[:-1]))
    return _with_short_docs(acc, token_doc[full], tokens, first_token, counts, mult, n)


def _char_shingles(cp: np.ndarray, is_sep: np.ndarray, doc_of: np.ndarray,
                   n: int) -> tuple[np.ndarray, np.ndarray]:
    mult = _multipliers(n, 0xC4A2)
    values = cp + np.uint32(1)
    m = len(cp) - n + 1
    if m > 0:
        acc = values[:m] * mult[0]
        for k in range(1, n):
            acc += values[k:k + m] * mult[k]
        seps_before = np.concatenate(([0], np.cumsum(is_sep)))
        full = np.flatnonzero(seps_before[n:] == seps_before[:m])  # windows inside one document
        acc = acc[full]
    else:
        full, acc = np.zeros(0, np.int64), np.zeros(0, np.uint32)
    # documents shorter than n characters: one shingle of the whole text
    n_docs = int(doc_of[-1]) + 1
    doc_len = np.bincount(doc_of[~is_sep], minlength=n_docs)
    doc_start = np.concatenate(([0], np.flatnonzero(is_sep) + 1))
    return _with_short_docs(acc, doc_of[full], values, doc_start, doc_len, mult, n)


def _with_short_docs(acc: np.ndarray, acc_docs: np.ndarray, units: np.ndarray, starts: np.ndarray,
                     lengths: np.ndarray, mult: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Add one shingle of all their units for documents shorter than ``n`` units, in document order.

    Shared by word and character shingling so a short text is never shingle-less (and never
    clustered with every other empty one).
    """
    short_docs = np.flatnonzero((lengths > 0) & (lengths < n))
    if len(short_docs) == 0:
        return acc, acc_docs
    short_acc = np.zeros(len(short_docs), np.uint32)
    for k in range(n - 1):
        has = lengths[short_docs] > k
        short_acc[has] += units[starts[short_docs[has]] + k] * mult[k]
    hashes = np.concatenate([acc, short_acc])
    docs = np.concatenate([acc_docs, short_docs])
    order = np.argsort(docs, kind="stable")
    return hashes[order], docs[order]


def shingle_sets(texts: Sequence[str], params: MinHashParams) -> list[np.ndarray]:
    """Each text's set of shingle hashes, sorted and unique (for exact Jaccard)."""
    flat, bounds = shingle_table(texts, params)
    return [flat[bounds[i]:bounds[i + 1]] for i in range(len(texts))]


def shingle_table(texts: Sequence[str], params: MinHashParams,
                  chunk: int = 50_000) -> tuple[np.ndarray, np.ndarray]:
    """All shingle sets in one array: text ``i`` owns ``flat[bounds[i]:bounds[i + 1]]``, sorted, unique.

    Built ``chunk`` texts at a time, so the transient sort keys stay small at any size.
    """
    flats, sizes = [], []
    for lo in range(0, len(texts), chunk):
        part = texts[lo:lo + chunk]
        hashes, docs = shingle_hashes(part, params)
        key = _unique((docs.astype(np.uint64) << np.uint64(32)) | hashes.astype(np.uint64))
        flats.append((key & np.uint64(0xFFFFFFFF)).astype(np.uint32))
        sizes.append(np.bincount((key >> np.uint64(32)).astype(np.int64), minlength=len(part)))
    flat = np.concatenate(flats) if flats else np.empty(0, np.uint32)
    counts = np.concatenate(sizes) if sizes else np.empty(0, np.int64)
    return flat, np.concatenate(([0], np.cumsum(counts))).astype(np.int64)


# --- signatures -----------------------------------------------------------------------


def signatures(texts: Sequence[str], params: MinHashParams, workers: int = 1) -> np.ndarray:
    """MinHash signatures, shape ``(len(texts), num_perm)``, uint32; all ``EMPTY`` for no shingles.

    A pure function of ``(texts, params)``; ``workers > 1`` splits large inputs over
    threads (same result). ``params.shingle`` must be concrete (see ``resolve``).
    """
    texts = list(texts)
    if workers > 1 and len(texts) >= 2 * _CHUNK:
        return _parallel_signatures(texts, params, workers)
    return _signatures(texts, params)


def _signatures(texts: list[str], params: MinHashParams) -> np.ndarray:
    hashes, docs = shingle_hashes(texts, params)
    return _apply_permutations(fmix32(hashes), docs, len(texts), params)


def _parallel_signatures(texts: list[str], params: MinHashParams, workers: int) -> np.ndarray:
    """Chunks on a thread pool: numpy releases the GIL in the hashing and permutation steps.

    Threads rather than processes: no pickling of texts and signatures, no re-import
    of the caller's main module, and safe in a process that already runs threads.
    """
    from concurrent.futures import ThreadPoolExecutor

    chunks = [texts[i:i + _CHUNK] for i in range(0, len(texts), _CHUNK)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return np.concatenate(list(pool.map(lambda chunk: _signatures(chunk, params), chunks)))


def _apply_permutations(mixed: np.ndarray, docs: np.ndarray, n_docs: int,
                        params: MinHashParams) -> np.ndarray:
    """Per document, the minimum of ``a * h + b`` over its shingles, for every permutation.

    Documents are sorted by shingle count and processed in blocks padded to the
    block's longest document (padding repeats a document's own shingle, which leaves
    its minimum unchanged), so the inner step is three whole-array operations on a
    ``(num_perm, block)`` array that stays in cache.
    """
    a, b = params.permutations()
    a_col, b_col = a[:, None], b[:, None]
    out = np.full((n_docs, params.num_perm), EMPTY, dtype=np.uint32)
    counts = np.bincount(docs, minlength=n_docs)
    first = np.concatenate(([0], np.cumsum(counts)[:-1]))
    order = np.argsort(counts, kind="stable")
    order = order[counts[order] > 0]
    tmp = np.empty((params.num_perm, _BLOCK), np.uint32)
    i = 0
    while i < len(order):
        longest = int(counts[order[min(i + _BLOCK, len(order)) - 1]])
        if longest > 4 * _BLOCK:  # very long documents: one at a time, shingles on the first axis
            doc = order[i]
            values = mixed[first[doc]:first[doc] + counts[doc]]
            row = out[doc]
            for j in range(0, len(values), 4096):
                part = values[j:j + 4096, None] * a[None, :] + b[None, :]
                np.minimum(row, part.min(axis=0), out=row)
            i += 1
            continue
        block = order[i:i + _BLOCK]
        width = len(block)
        step = np.minimum(np.arange(longest)[:, None], counts[block][None, :] - 1)
        padded = mixed[first[block][None, :] + step]  # (longest, width)
        acc = np.full((params.num_perm, width), EMPTY, dtype=np.uint32)
        scratch = tmp[:, :width]
        for row_values in padded:
            np.multiply(a_col, row_values[None, :], out=scratch)
            np.add(scratch, b_col, out=scratch)
            np.minimum(acc, scratch, out=acc)
        out[block] = acc.T
        i += width
    return out


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


def band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One uint64 key per (document, band): equal band rows give equal keys. Shape ``(n, bands)``."""
    n = len(sigs)
    mult = _multipliers(rows, 0xBA4D, bits=64)
    keys = np.empty((n, bands), np.uint64)
    for band in range(bands):
        acc = np.full(n, np.uint64(band), np.uint64)
        for k in range(rows):
            acc += sigs[:, band * rows + k].astype(np.uint64) * mult[k]
        keys[:, band] = _fmix64(acc)
    return keys


def candidate_pairs(sigs: np.ndarray, params: MinHashParams, max_bucket_pairs: int = 32,
                    rows: np.ndarray | None = None) -> np.ndarray:
    """Pairs ``(i, j)``, ``i < j``, sharing at least one LSH band; shape ``(m, 2)``, int64, unique.

    Only ``rows`` (default: all) take part; rows without shingles never pair. A bucket
    of ``k`` members yields all pairs when ``k <= max_bucket_pairs``, otherwise each member
    paired with the bucket's first and its neighbour: linear, so thousands of copies of
    one text cost no quadratic blow-up (their cluster is still connected).
    """
    live = np.flatnonzero((sigs != EMPTY).any(axis=1))
    if rows is not None:
        live = np.intersect1d(live, rows, assume_unique=True)
    if len(live) < 2:
        return np.empty((0, 2), np.int64)
    keys = band_keys(sigs, params.bands, params.rows)[live]  # no copy of the signatures
    found: list[np.ndarray] = []
    for band in range(params.bands):
        col = keys[:, band]
        order = np.argsort(col, kind="stable")
        sorted_keys = col[order]
        boundary = np.flatnonzero(np.diff(sorted_keys) != 0) + 1
        run_start = np.concatenate(([0], boundary))
        run_len = np.diff(np.concatenate((run_start, [len(col)])))
        multi = run_len > 1
        pairs = live[_bucket_pairs(order, run_start[multi], run_len[multi], max_bucket_pairs)]
        found.append(_unique(pairs.min(axis=1) * np.int64(len(sigs)) + pairs.max(axis=1)))
    key = _unique(np.concatenate(found))
    return np.stack([key // len(sigs), key % len(sigs)], axis=1)


def _bucket_pairs(order: np.ndarray, starts: np.ndarray, lengths: np.ndarray, cap: int) -> np.ndarray:
    out = []
    small = lengths <= cap
    for size in _unique(lengths[small]):
        base = starts[small & (lengths == size)]
        ii, jj = np.triu_indices(int(size), k=1)
        out.append(np.stack([order[base[:, None] + ii].ravel(), order[base[:, None] + jj].ravel()], axis=1))
    for start, size in zip(starts[~small], lengths[~small], strict=True):
        members = order[start:start + size]
        out.append(np.stack([np.full(size - 1, members[0]), members[1:]], axis=1))
        out.append(np.stack([members[1:-1], members[2:]], axis=1))
    return np.concatenate(out) if out else np.empty((0, 2), np.int64)


def exact_jaccard_pairs(sets: Sequence[np.ndarray], pairs: np.ndarray) -> np.ndarray:
    """Exact Jaccard of each pair of shingle sets (sorted unique uint32 arrays), vectorised."""
    sizes = np.fromiter((len(s) for s in sets), np.int64, count=len(sets))
    flat = np.concatenate(sets) if sets else np.empty(0, np.uint32)
    return exact_jaccard_table(flat, np.concatenate(([0], np.cumsum(sizes))), pairs)


def exact_jaccard_table(flat: np.ndarray, bounds: np.ndarray, pairs: np.ndarray,
                        budget: int = 2_000_000) -> np.ndarray:
    """Exact Jaccard of pairs of sets stored as in :func:`shingle_table`.

    Pairs are taken in order of their second set, about ``budget`` shingles at a time;
    each shingle of the first set is looked up (binary search) among the second sets
    of the chunk only, which form one contiguous, sorted slice of ``flat``.
    """
    result = np.zeros(len(pairs), np.float64)
    if len(pairs) == 0:
        return result
    sizes = np.diff(bounds)
    order = np.argsort(pairs[:, 1], kind="stable")
    step = max(1, budget // max(1, int(sizes.mean())))
    for lo in range(0, len(pairs), step):
        chosen = order[lo:lo + step]
        part = pairs[chosen]
        first_doc, last_doc = int(part[:, 1].min()), int(part[:, 1].max())
        span = slice(bounds[first_doc], bounds[last_doc + 1])
        owners = np.repeat(np.arange(first_doc, last_doc + 1, dtype=np.uint64), sizes[first_doc:last_doc + 1])
        keys = (owners << np.uint64(32)) | flat[span].astype(np.uint64)
        lengths = sizes[part[:, 0]]
        owner = np.repeat(np.arange(len(part)), lengths)
        starts = np.repeat(bounds[part[:, 0]] - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
        query = (part[owner, 1].astype(np.uint64) << np.uint64(32)) | flat[np.arange(len(owner)) + starts]
        found = np.minimum(np.searchsorted(keys, query), max(0, len(keys) - 1))
        hit = keys[found] == query if len(keys) else np.zeros(len(query), bool)
        inter = np.bincount(owner[hit], minlength=len(part))
        union = sizes[part[:, 0]] + sizes[part[:, 1]] - inter
        result[chosen] = np.where(union > 0, inter / np.maximum(union, 1), 0.0)
    return result


#: Candidates whose estimated Jaccard is this far below the threshold are dropped before the exact
#: check: at J = 0.7 with 128 permutations that is 3.7 standard deviations (a miss in ~10,000).
ESTIMATE_MARGIN = 0.15


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
    whole = band_keys(sigs, 1, sigs.shape[1])[live, 0]
    first, inverse = _first_and_inverse(whole)
    reps = live[first]
    mine = reps[inverse]
    copy_edges = np.stack([mine[mine != live], live[mine != live]], axis=1)
    cand = candidate_pairs(sigs, params, rows=reps)
    kept, sims = np.empty((0, 2), np.int64), np.empty(0)
    if len(cand):
        close = cand[_estimate_low_bits(sigs, cand) >= params.threshold - ESTIMATE_MARGIN]
        involved = _unique(close.ravel())
        flat, bounds = shingle_table([texts[i] for i in involved], params)
        sim = exact_jaccard_table(flat, bounds, np.searchsorted(involved, close))
        ok = sim >= params.threshold - 1e-9
        kept, sims = close[ok], sim[ok]
    pairs = np.concatenate([copy_edges, kept])
    pairs.sort(axis=1)
    return pairs.astype(np.int64), np.concatenate([np.ones(len(copy_edges)), sims]), int(len(cand))


def _estimate_low_bits(sigs: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Jaccard estimate per pair from the low 8 bits of each signature value (b-bit MinHash).

    A quarter of the memory traffic of full values; a chance match (1/256) is corrected for.
    """
    low = np.ascontiguousarray(sigs.astype("<u4", copy=False).view(np.uint8)[:, ::4])  # low byte
    out = np.empty(len(pairs), np.float64)
    for lo in range(0, len(pairs), 200_000):
        part = pairs[lo:lo + 200_000]
        out[lo:lo + 200_000] = np.count_nonzero(low[part[:, 0]] == low[part[:, 1]], axis=1)
    share = out / sigs.shape[1]
    return (share - 1 / 256) / (1 - 1 / 256)


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


def default_workers() -> int:
    """Processes for signatures: every core this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
