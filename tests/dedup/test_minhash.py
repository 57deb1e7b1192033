"""The MinHash core: datasketch interchange, purity, normalisation, LSH and verification."""

from __future__ import annotations

import random

import numpy as np
import pytest
from datasketch import LeanMinHash, MinHash
from hypothesis import given, settings
from hypothesis import strategies as st

from dqaudit.dedup import minhash as mh
from dqaudit.dedup.minhash import EMPTY, MinHashParams

TEXTS = [
    "Hello, how do I reset my PASSWORD?",
    "hello how do i reset my password",
    "Сәлеметсіз бе, картамды бұғаттау керек",
    "one",
    "",
    "Completely different request about a card",
    "emoji 😀 and 𝐛𝐨𝐥𝐝 letters",
]


def reference_shingles(text: str, kind: str, n: int) -> set[str]:
    """The documented shingle definition, in plain Python."""
    words = mh.normalize_for_shingles(text).split()
    if len(words) < mh.MIN_WORDS:
        return set()
    if kind == "word":
        return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)} or {" ".join(words)}
    joined = " ".join(words)
    return {joined[i:i + n] for i in range(len(joined) - n + 1)} or {joined}


@pytest.mark.parametrize(("kind", "n"), [("word", 1), ("word", 3), ("char", 4), ("char", 7)])
def test_signatures_match_datasketch_bit_for_bit(kind: str, n: int) -> None:
    params = MinHashParams(kind, n, seed=3)
    sigs = mh.signatures(TEXTS, params)
    hashes, docs = mh.shingle_hashes(TEXTS, params)
    for i in range(len(TEXTS)):
        theirs = MinHash(num_perm=128, seed=3, hashfunc=int)
        theirs.update_batch([int(h) for h in hashes[docs == i]])
        assert np.array_equal(theirs.hashvalues, sigs[i])


def test_lean_minhash_from_our_rows_gives_our_estimate() -> None:
    params = MinHashParams("char", 4, seed=5)
    sigs = mh.signatures(TEXTS[:2] + TEXTS[5:6], params)
    lean = [LeanMinHash(seed=5, hashvalues=row, scheme="affine32") for row in sigs]
    assert lean[0].jaccard(lean[1]) == pytest.approx(mh.estimate_jaccard(sigs[0], sigs[1]))
    assert lean[0].jaccard(lean[2]) == pytest.approx(mh.estimate_jaccard(sigs[0], sigs[2]))


def test_permutations_are_datasketch_affine32() -> None:
    a, b = MinHashParams(num_perm=64, seed=11).permutations()
    theirs = MinHash(num_perm=64, seed=11).permutations
    assert np.array_equal(a, theirs[0]) and np.array_equal(b, theirs[1])


def test_signatures_are_a_pure_function_of_texts_and_params(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any partitioning (Spark batches, worker chunks) gives the same rows."""
    rng = random.Random(0)
    vocabulary = ["card", "блок", "карта", "top", "up", "pin", "қате"]
    texts = [" ".join(rng.choice(vocabulary) for _ in range(rng.randint(0, 12))) for _ in range(300)]
    params = MinHashParams("word", 2)
    whole = mh.signatures(texts, params)
    parts = np.concatenate([mh.signatures(texts[i:i + 37], params) for i in range(0, 300, 37)])
    assert np.array_equal(whole, parts)
    monkeypatch.setattr(mh, "_CHUNK", 60)
    assert np.array_equal(mh.signatures(texts, params, workers=2), whole)


def test_normalisation_ignores_case_punctuation_width_and_keeps_kazakh_letters() -> None:
    assert mh.normalize_for_shingles("  Hello,   WORLD!! foo_bar ") == "hello world foo bar"
    assert mh.normalize_for_shingles("ＦＵＬＬ－width") == "full width"
    assert mh.normalize_for_shingles("Сәлеметсіз бе, ҚАРТАМДЫ бұғаттау!") == "сәлеметсіз бе қартамды бұғаттау"
    params = MinHashParams("char", 4)
    a, b = mh.signatures(["Картамды БҰҒАТТАУ керек!", "картамды бұғаттау керек"], params)
    assert np.array_equal(a, b)


def test_texts_without_two_words_have_empty_signatures_and_never_pair() -> None:
    params = MinHashParams("char", 4)
    texts = ["", "hello", "   ", "!!!", "hello", "", "two words", "two words"]
    sigs = mh.signatures(texts, params)
    assert (sigs[:6] == EMPTY).all() and (sigs[6:] != EMPTY).all()
    pairs, _, _ = mh.near_duplicate_pairs(texts, sigs, params)
    assert pairs.tolist() == [[6, 7]]
    assert mh.estimate_jaccard(sigs[0], sigs[1]) == 0.0


def test_long_texts_are_shingled_from_their_first_max_chars() -> None:
    params = MinHashParams("word", 3, max_chars=100)
    head = "word " * 20
    sigs = mh.signatures([head + "tail one " * 500, head + "other tail " * 500], params)
    assert np.array_equal(sigs[0], sigs[1])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="ab cй,Ә._1", max_size=30), min_size=1, max_size=6),
       st.sampled_from([("word", 1), ("word", 2), ("char", 3)]))
def test_shingle_sets_have_the_documented_size(texts: list[str], kind_n: tuple[str, int]) -> None:
    kind, n = kind_n
    sets = mh.shingle_sets(texts, MinHashParams(kind, n))
    assert [len(s) for s in sets] == [len(reference_shingles(t, kind, n)) for t in texts]


def test_exact_jaccard_pairs_matches_python_sets() -> None:
    rng = random.Random(1)
    sets = [np.sort(np.array(rng.sample(range(40), rng.randint(1, 20)), dtype=np.uint32)) for _ in range(30)]
    pairs = np.array([(i, j) for i in range(30) for j in range(i + 1, 30)])
    got = mh.exact_jaccard_pairs(sets, pairs)
    want = [len(set(sets[i]) & set(sets[j])) / len(set(sets[i]) | set(sets[j])) for i, j in pairs]
    assert np.allclose(got, want)


@pytest.mark.parametrize("at_least", [0.3, 0.5, 0.7])
def test_exact_jaccard_stopping_early_keeps_every_value_at_or_above_the_floor(at_least: float) -> None:
    """Pairs that reach ``at_least`` get their exact Jaccard; the others a value below it (often -1)."""
    rng = random.Random(2)
    sets = []
    for _ in range(60):
        base = rng.sample(range(300), rng.randint(20, 120))
        sets.append(np.sort(np.array(base, dtype=np.uint32)))
        kept = [v for v in base if rng.random() < 0.8] + rng.sample(range(300, 400), rng.randint(0, 30))
        sets.append(np.sort(np.array(kept, dtype=np.uint32)))
    sizes = np.array([len(s) for s in sets])
    flat, bounds = np.concatenate(sets), np.concatenate(([0], np.cumsum(sizes)))
    pairs = np.array([(i, j) for i in range(len(sets)) for j in range(i + 1, len(sets))])
    exact = mh.exact_jaccard_table(flat, bounds, pairs)
    early = mh.exact_jaccard_table(flat, bounds, pairs, at_least=at_least)
    reach = exact >= at_least
    assert reach.any() and (~reach).any() and (early[~reach] < 0).any()
    assert np.array_equal(early[reach], exact[reach]) and (early[~reach] < at_least).all()


def test_bands_follow_the_threshold() -> None:
    assert mh.optimal_bands(0.7, 128) == (21, 6)
    for threshold in (0.5, 0.8, 0.9):
        bands, rows = mh.optimal_bands(threshold, 128)
        assert bands * rows <= 128
    assert mh.optimal_bands(0.9, 128)[1] > mh.optimal_bands(0.5, 128)[1]


def _reference_candidates(sigs: np.ndarray, params: MinHashParams, cap: int) -> set[tuple[int, int]]:
    """The documented LSH rule in plain Python: all pairs of a bucket of at most ``cap`` rows; in a
    larger bucket (rows in order) each row with the first and, from the third on, with the previous."""
    keys = mh.band_keys(sigs, params.bands, params.rows)
    live = [i for i in range(len(sigs)) if (sigs[i] != EMPTY).any()]
    pairs: set[tuple[int, int]] = set()
    for band in range(params.bands):
        buckets: dict[int, list[int]] = {}
        for i in live:
            buckets.setdefault(int(keys[i, band]), []).append(i)
        for rows in buckets.values():
            if len(rows) <= cap:
                pairs |= {(a, b) for k, a in enumerate(rows) for b in rows[k + 1:]}
            else:
                pairs |= ({(rows[0], b) for b in rows[1:]}
                          | {(a, b) for a, b in zip(rows[1:], rows[2:], strict=False)})
    return pairs


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**16), st.sampled_from([2, 3, 5, 32]))
def test_lsh_candidates_follow_the_documented_rule(seed: int, cap: int) -> None:
    """Small and large buckets, pairs sharing several bands:
    the compiled loop finds exactly the rule's pairs."""
    rng = random.Random(seed)
    words = ["card", "block", "my", "please", "now", "pin", "reset", "app", "limit", "fee", "карта", "қаржы"]
    base = [" ".join(rng.choices(words, k=rng.randint(3, 8))) for _ in range(12)]
    texts = [t if rng.random() < 0.5 else t + " " + rng.choice(words) for t in rng.choices(base, k=80)]
    texts += ["one", ""]  # no shingles: never a candidate
    params = MinHashParams("word", 1, 32, 0.5)
    sigs = mh.signatures(texts, params)
    found, count = mh._lsh_pairs(sigs, params, None, cap, -np.inf)
    expected = _reference_candidates(sigs, params, cap)
    assert set(map(tuple, found.tolist())) == expected
    assert count == len(expected)


def test_thousands_of_copies_make_one_cluster_without_quadratic_pairs() -> None:
    params = MinHashParams("char", 4)
    texts = ["please block my card now"] * 3000 + ["please block my card now!"] * 2000
    texts.append("unrelated deposit question")
    sigs = mh.signatures(texts, params)
    assert len(mh.candidate_pairs(sigs, params)) < 10 * len(texts)
    pairs, sims, _ = mh.near_duplicate_pairs(texts, sigs, params)
    labels = mh.clusters(len(texts), pairs)
    assert len(set(labels[:5000].tolist())) == 1 and labels[5000] != labels[0]
    assert len(pairs) == 4999 and (sims == 1.0).all()


def test_planted_edits_are_found_and_different_requests_are_not() -> None:
    rng = random.Random(4)
    words = ["card", "block", "my", "please", "account", "transfer", "money", "limit", "app", "error",
             "карта", "счёт", "перевод", "қате", "лимит", "салым", "today", "again", "why", "how"]
    base = [" ".join(rng.choice(words) for _ in range(14)) for _ in range(200)]
    copies = []
    for text in base[:50]:
        toks = text.split()
        toks.insert(rng.randrange(len(toks)), "hello")
        copies.append(" ".join(toks) + "?")
    texts = base + copies
    params = MinHashParams("char", 4, threshold=0.7)
    pairs, sims, _ = mh.near_duplicate_pairs(texts, mh.signatures(texts, params), params)
    every = np.array(np.triu_indices(len(texts), k=1)).T
    exact = mh.exact_jaccard_pairs(mh.shingle_sets(texts, params), every)  # checked against sets above
    truth = set(map(tuple, every[exact >= 0.7].tolist()))
    found = set(map(tuple, pairs.tolist()))
    assert found <= truth  # verified by exact Jaccard: no false pair
    assert len(found & truth) >= 0.95 * len(truth)
    assert {(i, 200 + i) for i in range(50)} <= truth


def test_nearest_reference_finds_the_template_copy() -> None:
    params = MinHashParams("word", 3)
    template = "Your card will be reissued within five working days at no cost to you"
    texts = ["Hello! Your card will be reissued within five working days at no cost to you. Bye",
             "We cannot reissue the card", "ok"]
    index, sim = mh.nearest_reference(texts, ["Unrelated template text about deposits", template], params)
    assert index.tolist() == [1, -1, -1]
    assert 0.7 < sim[0] < 1.0 and sim[1] == 0.0


def test_params_validate_and_resolve_auto_by_length() -> None:
    with pytest.raises(ValueError):
        MinHashParams(threshold=1.0)
    with pytest.raises(ValueError):
        mh.shingle_hashes(["a b"], MinHashParams())
    assert MinHashParams().resolve(["short request here"] * 10).shingle == "char"
    assert MinHashParams().resolve([" ".join(["word"] * 80)] * 10).shingle == "word"
    assert MinHashParams("char").ngram == 4 and MinHashParams("word").ngram == 3


@pytest.mark.parametrize("n", [0, 1, 1999, 2000, 3999, 4000, 4001, 5999, 6000, 123_457, 5_000_000])
def test_auto_resolves_alike_on_its_sample_alone(n: int) -> None:
    """An engine fetches only the sampled texts: the sample, resolved again, is taken whole."""
    sample = mh.auto_sample(n)
    assert len(sample) < 4000 and mh.auto_sample(len(sample)) == range(len(sample))
    texts = ["a b"] * (n % 7919) + [" ".join(["w"] * 40)] * 3000  # a corpus whose median flips on the sample
    picked = [texts[i] for i in mh.auto_sample(len(texts))]
    assert MinHashParams().resolve(picked) == MinHashParams().resolve(texts)


def test_lone_surrogates_and_astral_characters_do_not_break_hashing() -> None:
    params = MinHashParams("char", 4)
    texts = ["broken \ud800 text here", "broken \ud800 text here!",
             "𝐛𝐨𝐥𝐝 letters 😀 here", "bold letters here"]
    sigs = mh.signatures(texts, params)
    assert np.array_equal(sigs[0], sigs[1]) and np.array_equal(sigs[2], sigs[3])


def test_verified_forgives_float_rounding_at_the_threshold_only():
    sims = np.array([7 / 10, (1 - 0.3), 0.7 - 1e-12, 0.7 - 1e-6, 1.0])
    assert mh.verified(sims, 0.7).tolist() == [True, True, True, False, True]
    assert mh.estimate_floor(0.7) == pytest.approx(0.7 - mh.ESTIMATE_MARGIN)


def test_a_bucket_over_the_cap_pairs_linearly():
    """MAX_BUCKET_PAIRS + 1 identical signatures: each with the first and its neighbour, not all pairs."""
    n = mh.MAX_BUCKET_PAIRS + 1
    params = mh.MinHashParams("word", 1, 16, 0.7, 0, 100).resolve(["a"])
    sigs = np.tile(np.arange(16, dtype=np.uint32), (n, 1))
    pairs = {tuple(p) for p in mh.candidate_pairs(sigs, params).tolist()}
    assert pairs == {(0, k) for k in range(1, n)} | {(k, k + 1) for k in range(1, n - 1)}
    small = {tuple(p) for p in mh.candidate_pairs(sigs[: n - 1], params).tolist()}
    assert len(small) == (n - 1) * (n - 2) // 2  # at the cap: every pair
