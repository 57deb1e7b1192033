"""Agreement metrics reproduce published values and match independent implementations."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dqaudit import agreement as agr

# Fleiss (1971) Table 1: 30 subjects x 5 diagnoses, 6 ratings each; published kappa = 0.430.
FLEISS_1971 = [
    [0, 0, 0, 6, 0],
    [0, 3, 0, 0, 3],
    [0, 1, 4, 0, 1],
    [0, 0, 0, 0, 6],
    [0, 3, 0, 3, 0],
    [2, 0, 4, 0, 0],
    [0, 0, 4, 0, 2],
    [2, 0, 3, 1, 0],
    [2, 0, 0, 4, 0],
    [0, 0, 0, 0, 6],
    [1, 0, 0, 5, 0],
    [1, 1, 0, 4, 0],
    [0, 3, 3, 0, 0],
    [1, 0, 0, 5, 0],
    [0, 2, 0, 3, 1],
    [0, 0, 5, 0, 1],
    [3, 0, 0, 1, 2],
    [5, 1, 0, 0, 0],
    [0, 2, 0, 4, 0],
    [1, 0, 2, 0, 3],
    [0, 0, 0, 0, 6],
    [0, 1, 0, 5, 0],
    [0, 2, 0, 1, 3],
    [2, 0, 0, 4, 0],
    [1, 0, 0, 4, 1],
    [0, 5, 0, 1, 0],
    [4, 0, 0, 0, 2],
    [0, 2, 0, 4, 0],
    [1, 0, 5, 0, 0],
    [0, 0, 0, 0, 6],
]
# Krippendorff (2011) "Computing Krippendorff's Alpha-Reliability", example C: 4 observers x 12 units,
# None = missing; published nominal alpha = 0.743.
KRIPPENDORFF_C = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]


def from_counts(counts: list[list[int]], categories: list[str] | None = None) -> agr.Ratings:
    """Counts table -> ratings in rating slots (Fleiss' raters vary per subject)."""
    cats = categories or [str(k) for k in range(len(counts[0]))]
    triples = []
    for i, row in enumerate(counts):
        slot = 0
        for k, n in enumerate(row):
            for _ in range(n):
                triples.append((f"s{i}", f"r{slot}", cats[k]))
                slot += 1
    return agr.Ratings.from_triples(triples)


def from_observers(matrix: list[list[object]]) -> agr.Ratings:
    return agr.Ratings.from_triples(
        (f"u{u}", f"o{o}", str(v)) for o, row in enumerate(matrix) for u, v in enumerate(row) if v is not None
    )


def test_fleiss_1971_published_kappa() -> None:
    assert agr.fleiss_kappa(from_counts(FLEISS_1971)) == pytest.approx(0.430, abs=5e-4)


def test_krippendorff_2011_example_c_nominal_with_missing() -> None:
    assert agr.krippendorff_alpha(from_observers(KRIPPENDORFF_C)) == pytest.approx(0.743, abs=5e-4)


def test_fleiss_per_class_matches_category_kappas() -> None:
    """Binary alpha per class matches Fleiss' category kappas (0.245, 0.245, 0.520, 0.471, 0.566)."""
    per = agr.per_class(from_counts(FLEISS_1971))
    expected = [0.245, 0.245, 0.520, 0.471, 0.566]
    # alpha = kappa + (1 - kappa) / (n * m) for complete data: n=30 subjects, m=6 ratings
    for (name, values), kappa in zip(per.items(), expected, strict=True):
        assert values["alpha"] == pytest.approx(kappa + (1 - kappa) / 180, abs=1.5e-3), name


def test_published_values_in_shared_reference(shared_data: Path) -> None:
    ref = json.loads((shared_data / "agreement_reference" / "reference_values.json").read_text())
    fleiss = ref["fleiss_1971"]
    assert agr.fleiss_kappa(from_counts(fleiss["counts"])) == pytest.approx(
        fleiss["published"]["fleiss_kappa"], abs=5e-4
    )
    kripp = ref["krippendorff_2011"]
    for case, key in [
        ("example_C_multi_observer_missing", "nominal"),
        ("example_A_binary_two_observers", "nominal_binary"),
        ("example_B_nominal_two_observers", "nominal"),
    ]:
        data = kripp[case]
        assert agr.krippendorff_alpha(
            from_observers(data["reliability_data_observers_by_units"])
        ) == pytest.approx(data["published"][key], abs=5e-4), case
    wiki = ref["wikipedia_krippendorff_example"]
    assert agr.krippendorff_alpha(
        from_observers(wiki["reliability_data_observers_by_units"])
    ) == pytest.approx(0.691358, abs=1e-5)
    wf = ref["wikipedia_fleiss_example"]
    assert agr.fleiss_kappa(from_counts(wf["counts"])) == pytest.approx(0.210, abs=5e-4)


def test_fleiss_long_file_matches_counts(shared_data: Path) -> None:
    """The per-rater long file gives the same kappa when categories are mapped by label (the rda gotcha)."""
    import csv

    path = shared_data / "agreement_reference" / "fleiss1971_diagnoses_long.csv"
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    ratings = agr.Ratings.from_triples((r["item_id"], r["annotator_id"], r["label"]) for r in rows)
    assert agr.fleiss_kappa(ratings) == pytest.approx(0.430245, abs=1e-5)


# --- independent implementations on random data ---------------------------------------------------


def _random(seed: int, items: int, annotators: int, classes: int, missing: float) -> agr.Ratings:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, classes, items)
    triples = []
    for i in range(items):
        for a in range(annotators):
            if rng.random() < missing:
                continue
            label = truth[i] if rng.random() < 0.7 else rng.integers(0, classes)
            triples.append((f"i{i}", f"a{a}", f"c{label}"))
    return agr.Ratings.from_triples(triples)


def _plain_alpha(r: agr.Ratings) -> float:
    """Krippendorff's nominal alpha from the coincidence matrix, written out from the paper."""
    k = len(r.categories)
    o = np.zeros((k, k))
    for row in r.codes:
        vals = row[row != agr.MISSING]
        m = len(vals)
        if m < 2:
            continue
        for x in range(m):
            for y in range(m):
                if x != y:
                    o[vals[x], vals[y]] += 1 / (m - 1)
    n_c = o.sum(axis=1)
    n = n_c.sum()
    d_o = (o.sum() - np.trace(o)) / n
    d_e = (n * n - (n_c**2).sum()) / (n * (n - 1))
    return 1 - d_o / d_e


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    annotators=st.integers(2, 5),
    classes=st.integers(2, 4),
    missing=st.sampled_from([0.0, 0.2, 0.5]),
)
def test_alpha_matches_the_krippendorff_formula(
    seed: int, annotators: int, classes: int, missing: float
) -> None:
    r = _random(seed, 25, annotators, classes, missing)
    alpha = agr.krippendorff_alpha(r)
    if len(np.unique(r.codes[r.pairable()][r.codes[r.pairable()] != agr.MISSING])) < 2:
        assert alpha is None
    else:
        assert alpha == pytest.approx(_plain_alpha(r), abs=1e-9)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), annotators=st.integers(3, 6), classes=st.integers(2, 4))
def test_fleiss_matches_its_formula_and_statsmodels(seed: int, annotators: int, classes: int) -> None:
    r = _random(seed, 20, annotators, classes, 0.0)
    counts = r.counts().astype(float)
    n, m = counts.shape[0], annotators
    p_j = counts.sum(axis=0) / (n * m)
    p_i = ((counts * (counts - 1)).sum(axis=1)) / (m * (m - 1))
    p_e = (p_j**2).sum()
    expected = (p_i.mean() - p_e) / (1 - p_e) if p_e < 1 else None
    value = agr.fleiss_kappa(r)
    assert (value is None) == (expected is None)
    if expected is not None:
        assert value == pytest.approx(expected, abs=1e-9)
        assert agr.percent_agreement(r) == pytest.approx(p_i.mean(), abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), classes=st.integers(2, 4))
def test_cohen_matches_the_two_rater_formula(seed: int, classes: int) -> None:
    r = _random(seed, 40, 3, classes, 0.3)
    for pair in agr.cohen_pairwise(r, min_shared=2):
        a, b = r.annotators.index(pair["a"]), r.annotators.index(pair["b"])
        both = (r.codes[:, a] != agr.MISSING) & (r.codes[:, b] != agr.MISSING)
        x, y = r.codes[both, a], r.codes[both, b]
        p_o = np.mean(x == y)
        p_e = sum(np.mean(x == c) * np.mean(y == c) for c in range(len(r.categories)))
        assert pair["n"] == both.sum()
        if p_e < 1:
            assert pair["kappa"] == pytest.approx((p_o - p_e) / (1 - p_e), abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), classes=st.integers(2, 6), n=st.integers(1, 30))
def test_cohen_kappa_is_scikit_learns_to_the_bit(seed: int, classes: int, n: int) -> None:
    """The fast kappa gives scikit-learn's value exactly, including unused and one-sided categories."""
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(seed)
    x = rng.integers(0, classes, n)
    y = np.where(rng.random(n) < 0.6, x, rng.integers(0, classes, n))
    ours = agr.cohen_kappa(x, y, classes + 1)  # one category never used
    if len(np.union1d(x, y)) < 2:
        assert ours is None
    else:
        theirs = float(cohen_kappa_score(x, y))
        assert (ours is None) == (not np.isfinite(theirs))
        assert ours is None or ours == theirs


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    annotators=st.integers(2, 5),
    classes=st.integers(2, 4),
    missing=st.sampled_from([0.0, 0.3]),
)
def test_alpha_without_an_annotator_equals_alpha_on_the_reduced_matrix(
    seed: int, annotators: int, classes: int, missing: float
) -> None:
    from dataclasses import replace

    r = _random(seed, 25, annotators, classes, missing)
    for col, name in enumerate(r.annotators):
        reduced = replace(
            r,
            codes=np.delete(r.codes, col, axis=1),
            annotators=tuple(a for a in r.annotators if a != name),
        )
        expected = agr.krippendorff_alpha(reduced)
        got = agr.krippendorff_alpha(r, without=name)
        assert (got is None) == (expected is None)
        if expected is not None:
            assert got == pytest.approx(_plain_alpha(reduced), abs=1e-9)


def test_fleiss_needs_equal_numbers_of_ratings() -> None:
    assert agr.fleiss_kappa(_random(1, 20, 4, 3, 0.3)) is None
    assert agr.krippendorff_alpha(_random(1, 20, 4, 3, 0.3)) is not None


def test_single_class_and_single_annotator_are_undefined_not_nan() -> None:
    one_class = agr.Ratings.from_triples((f"i{i}", f"a{a}", "x") for i in range(5) for a in range(3))
    assert agr.krippendorff_alpha(one_class) is None
    assert agr.fleiss_kappa(one_class) is None
    assert agr.percent_agreement(one_class) == 1.0
    assert all(p["kappa"] is None and p["agreement"] == 1.0 for p in agr.cohen_pairwise(one_class))
    one_annotator = agr.Ratings.from_triples((f"i{i}", "a", f"c{i % 2}") for i in range(6))
    assert agr.krippendorff_alpha(one_annotator) is None
    assert agr.percent_agreement(one_annotator) is None
    assert agr.cohen_pairwise(one_annotator) == []
    assert agr.mean_cohen([]) is None


def test_confused_pairs_count_disagreeing_rating_pairs() -> None:
    triples = [
        ("1", "a", "x"),
        ("1", "b", "y"),
        ("1", "c", "y"),
        ("2", "a", "x"),
        ("2", "b", "y"),
        ("2", "c", "x"),
        ("3", "a", "x"),
        ("3", "b", "z"),
        ("3", "c", "x"),
        ("4", "a", "z"),
        ("4", "b", "z"),
        ("4", "c", "z"),
    ]
    pairs = agr.confused_pairs(agr.Ratings.from_triples(triples))
    assert pairs[0] == {"labels": ("x", "y"), "rating_pairs": 4, "items": 2, "examples": ["1", "2"]}
    assert pairs[1]["labels"] == ("x", "z") and pairs[1]["items"] == 1
    assert len(pairs) == 2


def test_multiannotator_consensus_and_poor_annotator() -> None:
    rng = np.random.default_rng(0)
    triples = []
    for i in range(120):
        truth = f"c{i % 4}"
        triples += [(f"i{i}", "good1", truth), (f"i{i}", "good2", truth if rng.random() < 0.95 else "c0")]
        triples.append((f"i{i}", "bad", truth if rng.random() < 0.4 else f"c{rng.integers(4)}"))
    items, annotators = agr.multiannotator(agr.Ratings.from_triples(triples))
    assert (items["consensus"] == [f"c{i % 4}" for i in range(120)]).mean() > 0.95
    assert annotators["quality"].idxmin() == "bad"
    assert (
        annotators.loc["bad", "agreement_with_consensus"]
        < annotators.loc["good1", "agreement_with_consensus"] - 0.3
    )


def test_cohen_pairs_cover_every_pair_with_shared_items() -> None:
    r = _random(3, 30, 4, 3, 0.0)
    assert {(p["a"], p["b"]) for p in agr.cohen_pairwise(r)} == set(combinations(r.annotators, 2))


def test_label_variants() -> None:
    assert agr.label_variants(["Card", "card ", "card", "loan"]) == {"card": ["Card", "card", "card "]}


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    annotators=st.integers(2, 5),
    classes=st.integers(1, 4),
    missing=st.sampled_from([0.0, 0.4]),
)
def test_count_table_gives_the_matrix_metrics_exactly(
    seed: int, annotators: int, classes: int, missing: float
) -> None:
    """The Spark engine's aggregates (counts, pair tables) give the matrix's values to the bit."""
    r = _random(seed, 30, annotators, classes, missing)
    table = agr.CountTable(r.items, r.categories, r.counts(), tuple(r.confusions(1)))
    assert agr.krippendorff_alpha(table) == agr.krippendorff_alpha(r)
    assert agr.fleiss_kappa(table) == agr.fleiss_kappa(r)
    assert agr.percent_agreement(table) == agr.percent_agreement(r)
    assert agr.per_class(table) == agr.per_class(r)
    assert agr.confused_pairs(table) == agr.confused_pairs(r)
    assert agr.cohen_pairwise(table, 5) == agr.cohen_pairwise(r, 5)
    with pytest.raises(TypeError, match="Ratings"):
        agr.krippendorff_alpha(table, without=r.annotators[0])


def test_count_table_from_counts_is_the_ratings_table():
    """What the Spark engine assembles from executor counts equals the matrix's tables, order included."""
    rng = np.random.default_rng(3)
    triples = [(f"i{rng.integers(40)}", f"a{rng.integers(6)}", "xyz"[rng.integers(3)]) for _ in range(400)]
    r = agr.Ratings.from_triples(triples)
    cells = [(r.items[i], r.categories[c], int(n)) for (i, c), n in np.ndenumerate(r.counts()) if n]
    pairs = [(a, b, r.categories[x], r.categories[y], int(n))
             for a, b, t in r.confusions(1) for (x, y), n in np.ndenumerate(t) if n]
    rng.shuffle(cells)
    table = agr.CountTable.from_counts(r.items, *zip(*cells, strict=True), reversed(pairs))
    assert table.items == r.items and table.categories == r.categories
    assert np.array_equal(table.counts(), r.counts())
    assert [(a, b, t.tolist()) for a, b, t in table.confusions(2)] == [
        (a, b, t.tolist()) for a, b, t in r.confusions(2)]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), items=st.integers(1, 400), classes=st.integers(2, 12),
       most=st.integers(2, 6))
def test_sparse_nominal_alpha_is_the_package_bit_for_bit(seed: int, items: int, classes: int,
                                                         most: int) -> None:
    """The large-table path adds the same coincidences in the same order as ``krippendorff.alpha``."""
    import krippendorff

    rng = np.random.default_rng(seed)
    counts = np.zeros((items, classes), dtype=np.int64)
    for _ in range(most):  # skewed, so some items agree, some split, some categories are rare
        picked = np.minimum(rng.geometric(0.35, size=items) - 1, classes - 1)
        counts[np.arange(items), picked] += rng.integers(0, 3, size=items)
    counts = counts[counts.sum(axis=1) >= 2]
    counts = np.ascontiguousarray(counts[:, counts.sum(axis=0) > 0])
    if counts.shape[1] < 2:
        return
    expected = krippendorff.alpha(value_counts=counts, level_of_measurement="nominal")
    assert agr.sparse_nominal_alpha(counts) == expected  # exactly, not approximately
