"""Compiled loops of the MinHash hot path (numba): shingling, permutations, LSH buckets, set intersections.

numpy needs one whole-array pass per step (clean, shingle, mix, then three passes per
shingle for multiply, add and minimum), each streaming the data through memory; here
one loop per document keeps its characters, shingles and 128 running minima in
registers and L1 cache, and LLVM vectorises the permutation step. The functions
release the GIL (``nogil``), so callers split the documents over a thread pool.

Definitions (identical to the documented ones, see :mod:`dqaudit.dedup.minhash`):
a document is the run of code points between two ``0x1F`` separators; word
characters are kept, every run of other characters between two words becomes one
space. With units ``u`` (characters + 1 for ``char`` shingles, token hashes for
``word`` shingles), an n-gram hash is ``sum_k u[i + k] * mult[k] mod 2**32``; a
document shorter than ``n`` units has one shingle of all its units. A token hash is
``fmix32(sum_j (c_j + 1) * token_mult[j])`` over the word's characters ``c_j``.
All arithmetic is modulo 2**32 (uint32 wrap-around).
"""

from __future__ import annotations

import numba as nb
import numpy as np

_MASK = 0xFFFFFFFF
_SPACE = 0x20
# uint64 constants: numba turns a mix of uint64 and int64 operands into float64
_S7, _S32, _S33, _S56 = np.uint64(7), np.uint64(32), np.uint64(33), np.uint64(56)
_M1, _M2 = np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53)  # MurmurHash3 fmix64
_LOW7, _ONES = np.uint64(0x7F7F7F7F7F7F7F7F), np.uint64(0x0101010101010101)  # SWAR byte masks


@nb.njit(inline="always")
def _fmix32(h: int) -> int:
    """MurmurHash3's finalizer on a value below 2**32 (int64 arithmetic, masked)."""
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _MASK
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _MASK
    return h ^ (h >> 16)


@nb.njit(nogil=True, cache=True)
def _clean(cp: np.ndarray, lo: int, hi: int, table: np.ndarray, astral: np.ndarray, astral_values: np.ndarray,
           buf: np.ndarray) -> tuple[int, int]:
    """Case-folded words of ``cp[lo:hi]`` into ``buf``, joined by single spaces; return (length, words).

    ``table[c]`` is the fold of BMP code point ``c`` when it is a word character, else -1;
    code points above the BMP are looked up in the sorted ``astral`` with ``astral_values``.
    """
    length = 0
    words = 0
    inside = False
    for i in range(lo, hi):
        code = cp[i]
        if code < 0x10000:
            folded = table[code]
        else:
            folded = astral_values[np.searchsorted(astral, code)]
        if folded >= 0:
            if not inside:
                if words > 0:
                    buf[length] = _SPACE
                    length += 1
                words += 1
                inside = True
            buf[length] = folded
            length += 1
        else:
            inside = False
    return length, words


@nb.njit(nogil=True, cache=True)
def word_counts(cp: np.ndarray, bounds: np.ndarray, table: np.ndarray, astral: np.ndarray,
                astral_values: np.ndarray) -> np.ndarray:
    """Words of document ``d`` (``cp[bounds[d]:bounds[d + 1] - 1]``) as :func:`_clean` splits them."""
    docs = len(bounds) - 1
    width = 1
    for d in range(docs):
        width = max(width, bounds[d + 1] - bounds[d])
    buf = np.empty(width, np.int64)
    out = np.zeros(docs, np.int64)
    for d in range(docs):
        out[d] = _clean(cp, bounds[d], bounds[d + 1] - 1, table, astral, astral_values, buf)[1]
    return out


@nb.njit(nogil=True, cache=True)
def _ngrams(units: np.ndarray, count: int, n: int, mult: np.ndarray, out: np.ndarray) -> int:
    """n-gram hashes of ``units[:count]`` into ``out`` (one of all units when ``count < n``)."""
    if count == 0:
        return 0
    if count < n:
        h = 0
        for k in range(count):
            h = (h + units[k] * mult[k]) & _MASK
        out[0] = h
        return 1
    for i in range(count - n + 1):
        h = 0
        for k in range(n):
            h = (h + units[i + k] * mult[k]) & _MASK
        out[i] = h
    return count - n + 1


@nb.njit(nogil=True, cache=True)
def _doc_shingles(cp: np.ndarray, lo: int, hi: int, table: np.ndarray, astral: np.ndarray,
                  astral_values: np.ndarray, char: bool, n: int,
                  token_mult: np.ndarray, mult: np.ndarray, min_words: int,
                  buf: np.ndarray, units: np.ndarray, out: np.ndarray) -> int:
    """Shingle hashes of one document into ``out``; 0 when it has fewer than ``min_words`` words."""
    length, words = _clean(cp, lo, hi, table, astral, astral_values, buf)
    if words < min_words:
        return 0
    if char:
        for i in range(length):
            units[i] = buf[i] + 1
        return _ngrams(units, length, n, mult, out)
    count = 0
    i = 0
    while i < length:
        h = 0
        j = i
        while j < length and buf[j] != _SPACE:
            h = (h + (buf[j] + 1) * token_mult[j - i]) & _MASK
            j += 1
        units[count] = _fmix32(h)
        count += 1
        i = j + 1
    if n == 1:
        out[:count] = units[:count]
        return count
    return _ngrams(units, count, n, mult, out)


@nb.njit(nogil=True, cache=True)
def signature_rows(cp: np.ndarray, bounds: np.ndarray, table: np.ndarray, astral: np.ndarray,
                   astral_values: np.ndarray, char: bool, n: int,
                   token_mult: np.ndarray, mult: np.ndarray, min_words: int,
                   a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """MinHash of document ``d`` (``cp[bounds[d]:bounds[d + 1] - 1]``) into ``out[d]``.

    ``out`` arrives filled with the empty value; documents without shingles keep it.
    """
    width = 1
    for d in range(len(bounds) - 1):
        width = max(width, bounds[d + 1] - bounds[d])
    buf = np.empty(width, np.int64)
    units = np.empty(width, np.int64)
    hashes = np.empty(width, np.int64)
    num_perm = len(a)
    mins = np.empty(num_perm, np.uint32)
    for d in range(len(bounds) - 1):
        count = _doc_shingles(cp, bounds[d], bounds[d + 1] - 1, table, astral, astral_values, char, n,
                              token_mult, mult, min_words, buf, units, hashes)
        if count == 0:
            continue
        mins[:] = 0xFFFFFFFF
        for s in range(count):
            value = np.uint32(_fmix32(hashes[s]))
            for p in range(num_perm):
                mins[p] = min(mins[p], np.uint32(a[p] * value + b[p]))
        out[d, :] = mins


@nb.njit(nogil=True, cache=True)
def _digit_starts(src: np.ndarray, count: int, shift: int, mask: int, counters: np.ndarray) -> None:
    """One stable counting pass's offsets: ``counters[d]`` becomes the number of ``src[:count]`` whose digit
    ``(value >> shift) & mask`` is below ``d``, so each digit's run starts there (both radix sorts use it)."""
    counters[:] = 0
    for i in range(count):
        counters[(src[i] >> shift) & mask] += 1
    total = 0
    for b in range(len(counters)):
        c = counters[b]
        counters[b] = total
        total += c


@nb.njit(nogil=True, cache=True)
def _radix_sort32(values: np.ndarray, count: int, spare: np.ndarray, counters: np.ndarray) -> None:
    """Sort ``values[:count]`` (below 2**32) in place: four stable byte passes, no data-dependent branches."""
    src, dst = values, spare
    for shift in range(0, 32, 8):
        _digit_starts(src, count, shift, 0xFF, counters)
        for i in range(count):
            b = (src[i] >> shift) & 0xFF
            dst[counters[b]] = src[i]
            counters[b] += 1
        src, dst = dst, src
    # four passes: the sorted values are back in ``values``


@nb.njit(nogil=True, cache=True)
def shingle_rows(cp: np.ndarray, bounds: np.ndarray, table: np.ndarray, astral: np.ndarray,
                 astral_values: np.ndarray, char: bool, n: int,
                 token_mult: np.ndarray, mult: np.ndarray, min_words: int,
                 unique: bool) -> tuple[np.ndarray, np.ndarray]:
    """Every document's shingle hashes (sorted and unique when ``unique``) and the counts per document."""
    docs = len(bounds) - 1
    width = 1
    for d in range(docs):
        width = max(width, bounds[d + 1] - bounds[d])
    buf = np.empty(width, np.int64)
    units = np.empty(width, np.int64)
    hashes = np.empty(width, np.int64)
    flat = np.empty(max(1, bounds[docs] - bounds[0]), np.uint32)
    counts = np.zeros(docs, np.int64)
    counters = np.empty(256, np.int64)
    filled = 0
    for d in range(docs):
        count = _doc_shingles(cp, bounds[d], bounds[d + 1] - 1, table, astral, astral_values, char, n,
                              token_mult, mult, min_words, buf, units, hashes)
        if unique and count > 1:
            _radix_sort32(hashes, count, units, counters)
            kept = 1
            for s in range(1, count):
                if hashes[s] != hashes[kept - 1]:
                    hashes[kept] = hashes[s]
                    kept += 1
            count = kept
        for s in range(count):
            flat[filled + s] = hashes[s]
        filled += count
        counts[d] = count
    return flat[:filled], counts


@nb.njit(nogil=True, cache=True)
def intersections(flat: np.ndarray, bounds: np.ndarray, pairs: np.ndarray, floor: float) -> np.ndarray:
    """Size of the intersection of two sorted unique sets per pair (a merge walk).

    A pair whose Jaccard can no longer reach ``floor`` (even if all that is left of the smaller
    remainder matched) stops early with -1: most candidates that reach the exact check fail it,
    and they are told apart from the rest halfway through on average. ``floor`` below 0: never.
    """
    out = np.zeros(len(pairs), np.int64)
    for k in range(len(pairs)):
        i, end_i = bounds[pairs[k, 0]], bounds[pairs[k, 0] + 1]
        j, end_j = bounds[pairs[k, 1]], bounds[pairs[k, 1] + 1]
        total = (end_i - i) + (end_j - j)
        common = 0
        steps = 0
        while i < end_i and j < end_j:  # branch-free steps: the comparisons are unpredictable
            x, y = flat[i], flat[j]
            common += x == y
            i += x <= y
            j += y <= x
            steps += 1
            if steps & 7 == 0:
                best = common + min(end_i - i, end_j - j)
                if total - best > 0 and best / (total - best) < floor:
                    common = -1
                    break
        out[k] = common
    return out


@nb.njit(nogil=True, cache=True)
def held_scores(flat: np.ndarray, bounds: np.ndarray, docs: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Per set ``docs[a]`` of a segment ``docs[offsets[s]:offsets[s + 1]]``: the sum, over the segment's
    others ``b`` in order, of the share of ``b``'s elements it holds minus the share of its own ``b``
    holds (sizes at least 1): which text of a duplicate group contains the others, for many groups."""
    total = 0
    for s in range(len(offsets) - 1):
        k = offsets[s + 1] - offsets[s]
        total += k * (k - 1) // 2
    pairs = np.empty((total, 2), np.int64)
    m = 0
    for s in range(len(offsets) - 1):
        for a in range(offsets[s], offsets[s + 1]):
            for b in range(a + 1, offsets[s + 1]):
                pairs[m, 0], pairs[m, 1] = docs[a], docs[b]
                m += 1
    common = intersections(flat, bounds, pairs, -1.0)
    score = np.zeros(len(docs))
    m = 0
    for s in range(len(offsets) - 1):
        # score[b] gains its terms for a < b before those for a > b: the others in order
        for a in range(offsets[s], offsets[s + 1]):
            size_a = max(bounds[docs[a] + 1] - bounds[docs[a]], 1)
            for b in range(a + 1, offsets[s + 1]):
                size_b = max(bounds[docs[b] + 1] - bounds[docs[b]], 1)
                score[a] += common[m] / size_b - common[m] / size_a
                score[b] += common[m] / size_a - common[m] / size_b
                m += 1
    return score


@nb.njit(nogil=True, cache=True)
def band_key_rows(sigs: np.ndarray, which: np.ndarray, bands: int, rows: int, mult: np.ndarray,
                  out: np.ndarray) -> None:
    """``out[i, t] = fmix64(t + sum_k sigs[which[i], t * rows + k] * mult[k])`` (uint64 wrap-around)."""
    for i in range(len(which)):
        d = which[i]
        for t in range(bands):
            acc = np.uint64(t)
            for k in range(rows):
                acc += np.uint64(sigs[d, t * rows + k]) * mult[k]
            acc ^= acc >> _S33
            acc *= _M1
            acc ^= acc >> _S33
            acc *= _M2
            out[i, t] = acc ^ (acc >> _S33)


@nb.njit(nogil=True, cache=True)
def sort_by_prefix(keys: np.ndarray, order: np.ndarray) -> None:
    """Sort ``keys`` in place by their high 32 bits (ties in position order);
    the permutation goes to ``order``.

    Three stable 11-bit counting passes (least significant first) starting from position order:
    several times faster than a comparison sort of the keys, and the ties come out by position.
    """
    m = len(keys)
    src_k, dst_k = keys.copy(), np.empty_like(keys)
    src_o, dst_o = np.arange(m), np.empty(m, np.int64)
    counts = np.empty(2048, np.int64)
    mask = np.uint64(0x7FF)
    for shift in (np.uint64(32), np.uint64(43), np.uint64(54)):
        _digit_starts(src_k, m, shift, mask, counts)
        for i in range(m):
            b = (src_k[i] >> shift) & mask
            dst_k[counts[b]] = src_k[i]
            dst_o[counts[b]] = src_o[i]
            counts[b] += 1
        src_k, dst_k = dst_k, src_k
        src_o, dst_o = dst_o, src_o
    keys[:] = src_k
    order[:] = src_o


@nb.njit(nogil=True, cache=True)
def settle_prefix_ties(sorted_keys: np.ndarray, order: np.ndarray) -> None:
    """Finish a sort done on the keys' high 32 bits (ties by position): order equal-prefix runs by full key.

    Stable, so equal keys stay in position order. Such runs are rare (32-bit collisions).
    """
    m = len(sorted_keys)
    start = 0
    while start < m:
        end = start + 1
        mixed = False
        while end < m and (sorted_keys[end] >> _S32) == (sorted_keys[start] >> _S32):
            mixed |= sorted_keys[end] != sorted_keys[start]
            end += 1
        if mixed:
            perm = np.argsort(sorted_keys[start:end], kind="mergesort")
            sorted_keys[start:end] = sorted_keys[start:end][perm]
            order[start:end] = order[start:end][perm]
        start = end


@nb.njit(nogil=True, cache=True)
def bucket_ids(sorted_keys: np.ndarray, orders: np.ndarray, cap: int) -> np.ndarray:
    """Per row and band, an id equal for two rows exactly when they share a bucket of 2 to ``cap`` rows.

    ``orders[t]`` sorts band ``t``'s keys; ``sorted_keys[t]`` is that band's keys in that order.
    A small bucket's id is where it starts in that order (>= 0); a row alone or in a larger
    bucket gets ``-1 - row``, equal to no other row's. Ids are positions, not hashes, so the
    test "shared a small bucket in band ``s``" is one exact int32 comparison.
    """
    bands, m = sorted_keys.shape
    ids = np.empty((m, bands), np.int32)
    for t in range(bands):
        key, order = sorted_keys[t], orders[t]
        start = 0
        while start < m:
            end = start + 1
            while end < m and key[end] == key[start]:
                end += 1
            small = 1 < end - start <= cap
            for x in range(start, end):
                ids[order[x], t] = start if small else -1 - order[x]
            start = end
    return ids


@nb.njit(inline="always")
def _push(buf: np.ndarray, count: int, i: int, j: int) -> np.ndarray:
    if count == len(buf):
        grown = np.empty((2 * len(buf), 2), np.int64)
        grown[:count] = buf
        buf = grown
    buf[count, 0] = i
    buf[count, 1] = j
    return buf


@nb.njit(inline="always")
def _share_a_small_bucket(ids: np.ndarray, i: int, j: int, upto: int) -> bool:
    """Whether rows ``i`` and ``j`` of ``ids`` (:func:`bucket_ids`)
    share a small bucket before band ``upto``."""
    shared = False
    for s in range(upto):
        shared |= ids[i, s] == ids[j, s]
    return shared


@nb.njit(inline="always")
def _low_bits_estimate(low: np.ndarray, i: int, j: int, width: int) -> float:
    """b-bit (8) MinHash Jaccard estimate, chance matches (1/256) corrected for.

    ``low`` holds each signature's low bytes packed eight to a uint64 (``width`` bytes
    per row); equal bytes are counted eight at a time (SWAR: a byte of ``x ^ y`` is zero).
    """
    differ = 0
    for w in range(low.shape[1]):
        x = low[i, w] ^ low[j, w]
        nonzero = (((x & _LOW7) + _LOW7) | x) >> _S7 & _ONES  # 1 in each byte that differs
        differ += (nonzero * _ONES) >> _S56
    share = (width - differ) / width
    return (share - 1 / 256) / (1 - 1 / 256)


@nb.njit(nogil=True, cache=True)
def pair_estimates(low: np.ndarray, pairs: np.ndarray, width: int) -> np.ndarray:
    """:func:`_low_bits_estimate` of each row pair (``low`` packed as for :func:`band_candidates`)."""
    out = np.empty(len(pairs), np.float64)
    for k in range(len(pairs)):
        out[k] = _low_bits_estimate(low, pairs[k, 0], pairs[k, 1], width)
    return out


@nb.njit(nogil=True, cache=True)
def band_candidates(ids: np.ndarray, sorted_keys: np.ndarray, orders: np.ndarray, rows: np.ndarray,
                    low: np.ndarray, width: int, cap: int, first_band: int, last_band: int,
                    min_estimate: float) -> tuple[np.ndarray, int, np.ndarray]:
    """LSH candidates of bands ``first_band..last_band - 1`` whose estimate reaches ``min_estimate``.

    ``ids`` is :func:`bucket_ids` over the live rows (local positions; row-major, so one
    row's bands share cache lines), ``orders[t]`` sorts band ``t``'s keys into ``sorted_keys[t]``;
    ``rows`` maps a local position to its row in ``low`` (ascending; each signature's low
    bytes packed into uint64 words, ``width`` of them, zero-padded to a multiple of eight).
    A bucket of at most ``cap`` rows yields all its pairs, each only in the first band where
    the two rows share such a bucket, so no pair repeats and nothing needs de-duplicating.
    A larger bucket pairs each member (in row order) with the first and with the next;
    those pairs come back separately (they may repeat across bands) unless they share a
    small bucket somewhere, which yields them already.
    Returns (kept small-bucket pairs, how many small-bucket pairs there were, large-bucket pairs).
    """
    m, bands = ids.shape
    kept = np.empty((1024, 2), np.int64)
    n_kept = 0
    seen = 0
    large = np.empty((1024, 2), np.int64)
    n_large = 0
    members = np.empty(cap, np.int64)
    local_ids = np.empty((cap, bands), ids.dtype)
    local_low = np.empty((cap, low.shape[1]), low.dtype)
    for t in range(first_band, last_band):
        key, order = sorted_keys[t], orders[t]
        start = 0
        while start < m:  # runs of equal keys, read in sorted order
            end = start + 1
            while end < m and key[end] == key[start]:
                end += 1
            size = end - start
            if size > 1 and size <= cap:
                # gather the members' earlier bucket ids and low bytes once, so the pair loop stays in cache
                for x in range(size):
                    r = order[start + x]
                    members[x] = rows[r]
                    local_ids[x, :t] = ids[r, :t]
                    local_low[x] = low[rows[r]]
                for x in range(size):
                    for y in range(x + 1, size):
                        if _share_a_small_bucket(local_ids, x, y, t):
                            continue
                        seen += 1
                        if _low_bits_estimate(local_low, x, y, width) >= min_estimate:
                            a, b = min(members[x], members[y]), max(members[x], members[y])
                            kept = _push(kept, n_kept, a, b)
                            n_kept += 1
            elif size > cap:
                big = order[start:end]  # in position (= row) order: the sort broke ties by position
                # each member with the first, and from the third on with the previous
                for x in range(1, size):
                    j = big[x]
                    if not _share_a_small_bucket(ids, big[0], j, bands):
                        large = _push(large, n_large, rows[big[0]], rows[j])
                        n_large += 1
                    if x > 1 and not _share_a_small_bucket(ids, big[x - 1], j, bands):
                        large = _push(large, n_large, rows[big[x - 1]], rows[j])
                        n_large += 1
            start = end
    return kept[:n_kept], seen, large[:n_large]
