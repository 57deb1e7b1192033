import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dqaudit.config import AuditConfig
from dqaudit.dedup.minhash import MinHashParams
from dqaudit.features.leakage import SPLITS, cross_split_matches
from dqaudit.split import check_split, stratified_split, time_split, union_groups

NEAR = MinHashParams(threshold=0.7)


def test_union_groups_is_transitive():
    near = np.array([0, 0, 1, 2, 3, 3])
    user = np.array([-1, 7, 7, -1, -1, 5])
    comp = union_groups(6, near, user)
    assert comp[0] == comp[1] == comp[2]          # 0~1 by near, 1~2 by user key
    assert comp[4] == comp[5] and comp[3] not in (comp[0], comp[4])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.sampled_from("abcd"), st.sampled_from(["en", "ru", None])),
                min_size=1, max_size=120),
       st.integers(0, 5))
def test_groups_never_split_and_every_row_is_placed(rows, seed):
    groups = np.array([g for g, _, _ in rows])
    out = stratified_split(groups, [lab for _, lab, _ in rows], [lang for _, _, lang in rows],
                           (0.7, 0.2, 0.1), seed)
    assert len(out.assignment) == len(rows) and set(out.assignment) <= {0, 1, 2}
    for g in np.unique(groups):
        assert len(set(out.assignment[groups == g])) == 1


def test_shares_follow_ratios_per_label():
    n = 1000
    labels = ["a" if i % 10 else "b" for i in range(n)]
    out = stratified_split(np.arange(n), labels, [None] * n, (0.8, 0.1, 0.1), seed=3)
    counts = np.bincount(out.assignment, minlength=3)
    assert counts.tolist() == [800, 100, 100]
    b = out.assignment[np.array(labels) == "b"]
    assert np.bincount(b, minlength=3).tolist() == [80, 10, 10]


def test_all_rows_in_one_group_go_to_one_split():
    out = stratified_split(np.zeros(50, int), ["x"] * 50, [None] * 50, (0.8, 0.1, 0.1), seed=0)
    assert set(out.assignment) == {0} and out.groups == 1 and out.largest_group == 50
    assert out.rare_classes == [{"label": "x", "rows": 50, "groups": 1, "missing_from": ["val", "test"]}]


def test_rare_class_reaches_every_evaluation_split_when_it_can():
    n = 200
    labels = ["common"] * n + ["rare"] * 3 + ["single"]
    groups = np.arange(n + 4)
    out = stratified_split(groups, labels, [None] * len(labels), (0.8, 0.1, 0.1), seed=1)
    rare = out.assignment[n:n + 3]
    assert sorted(rare.tolist()) == [0, 1, 2]
    assert out.rare_classes == [{"label": "single", "rows": 1, "groups": 1, "missing_from": ["val", "test"]}]


def test_ratios_that_cannot_be_met_use_whole_groups():
    groups = np.repeat(np.arange(4), 5)          # 4 groups of 5: 0.5/0.25/0.25 is met, 0.8/0.1/0.1 is not
    out = stratified_split(groups, ["a"] * 20, [None] * 20, (0.8, 0.1, 0.1), seed=0)
    counts = np.bincount(out.assignment, minlength=3)
    assert counts.sum() == 20 and all(c % 5 == 0 for c in counts)
    assert counts[0] >= 10


def test_zero_ratio_split_stays_empty_and_seed_is_deterministic():
    groups = np.arange(100) // 2
    labels = [str(i % 4) for i in range(100)]
    first = stratified_split(groups, labels, [None] * 100, (0.9, 0.0, 0.1), seed=7)
    again = stratified_split(groups, labels, [None] * 100, (0.9, 0.0, 0.1), seed=7)
    other = stratified_split(groups, labels, [None] * 100, (0.9, 0.0, 0.1), seed=8)
    assert 1 not in set(first.assignment)
    assert np.array_equal(first.assignment, again.assignment)
    assert not np.array_equal(first.assignment, other.assignment)


def test_empty_input():
    out = stratified_split(np.zeros(0, int), [], [], (0.8, 0.1, 0.1), seed=0)
    assert len(out.assignment) == 0 and out.groups == 0
    assert len(time_split(np.zeros(0, int), pd.Series([], dtype="datetime64[ns, UTC]"), (0.8, 0.1, 0.1), 0)
               .assignment) == 0


def test_time_split_puts_newest_groups_last():
    times = pd.Series(pd.date_range("2024-01-01", periods=100, freq="D", tz="UTC"))
    groups = np.arange(100)
    groups[[5, 95]] = 5                            # an old row tied to a new one travels with the new one
    out = time_split(groups, times, (0.8, 0.1, 0.1), seed=0)
    a = out.assignment
    assert a[5] == a[95] == 2
    rest = np.setdiff1d(np.arange(100), [5, 95])
    order = a[rest]
    assert np.all(np.diff(order) >= 0)             # splits are contiguous in time
    assert np.bincount(a, minlength=3).tolist() == [80, 10, 10]


def test_cross_split_matches_counts_exact_and_near_pairs():
    base = "please block my debit card it was stolen at the market this morning"
    texts = [base, "  PLEASE block my debit card it was stolen at the market   this morning",
             "how do i open a deposit account for my daughter", base + " today",
             "unrelated weather question here"]
    parts = np.array([0, 2, 0, 2, 1])
    report = cross_split_matches(texts, [f"r{i}" for i in range(5)], parts, SPLITS, params=NEAR)
    assert report.exact_pairs == {"train~val": 0, "train~test": 1, "val~test": 0}
    assert report.near_pairs["train~test"] >= 1
    assert report.contaminated == {"train": 1, "val": 0, "test": 2}
    assert report.share("test") == 1.0
    assert {e["kind"] for e in report.examples} == {"exact", "near"}


def test_clean_parts_have_no_leak():
    texts = ["first distinct sentence about cards", "second distinct sentence about loans",
             "third distinct sentence about fraud"]
    report = cross_split_matches(texts, ["a", "b", "c"], np.array([0, 1, 2]), SPLITS, params=NEAR)
    assert sum(report.exact_pairs.values()) + sum(report.near_pairs.values()) == 0
    assert report.share("test") == 0.0


def test_check_split_reads_files(write_jsonl):
    train = write_jsonl([{"id": "a", "text": "my card was blocked at the atm"},
                         {"id": "b", "text": "how to change my pin code"}], "train.jsonl")
    test = write_jsonl([{"id": "c", "text": "My card was blocked at the ATM"},
                        '{"broken'], "test.jsonl")
    report = check_split([train, test], AuditConfig())
    assert report.parts == ("train.jsonl", "test.jsonl")
    assert report.rows == {"train.jsonl": 2, "test.jsonl": 1}
    assert report.contaminated["test.jsonl"] == 1
    assert json.loads(json.dumps(report.to_dict()))["exact_pairs"] == {"train.jsonl~test.jsonl": 1}


def test_check_split_names_same_named_files_by_path(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.jsonl").write_text('{"text": "one two three"}\n')
    report = check_split([tmp_path / "a" / "x.jsonl", tmp_path / "b" / "x.jsonl"], AuditConfig())
    assert len(set(report.parts)) == 2


@pytest.mark.parametrize("ratios", [(1.0, 0.0, 0.0), (0.34, 0.33, 0.33)])
def test_singletons_fill_every_active_split(ratios):
    out = stratified_split(np.arange(30), ["a"] * 30, [None] * 30, ratios, seed=0)
    counts = np.bincount(out.assignment, minlength=3)
    assert [c > 0 for c in counts] == [r > 0 for r in ratios]


def test_listed_pairs_are_every_counted_pair():
    base = "please block my debit card it was stolen at the market this morning"
    texts = [base, "  PLEASE block my debit card it was stolen at the market   this morning", base,
             "how do i open a deposit account for my daughter", base + " today",
             "unrelated weather question here"]
    parts = np.array([0, 2, 1, 0, 2, 1])
    report = cross_split_matches(texts, [f"r{i}" for i in range(6)], parts, SPLITS, params=NEAR,
                                 list_pairs=True)
    exact = [(p["a"]["part"], p["a"]["id"], p["b"]["part"], p["b"]["id"]) for p in report.pairs
             if p["kind"] == "exact"]
    assert sorted(exact) == [("train", "r0", "test", "r1"), ("train", "r0", "val", "r2"),
                             ("val", "r2", "test", "r1")]
    near = [p for p in report.pairs if p["kind"] == "near"]
    assert len(report.pairs) == sum(report.exact_pairs.values()) + sum(report.near_pairs.values())
    assert near and all(NEAR.threshold <= p["similarity"] < 1.0 and p["a"]["part"] != p["b"]["part"]
                        for p in near)
    assert "pairs" in report.to_dict()
    assert cross_split_matches(texts, [f"r{i}" for i in range(6)], parts, SPLITS, params=NEAR).pairs is None


def test_leak_counts_and_examples_do_not_depend_on_the_edges_order():
    """Each engine finds the near-duplicate edges in its own order (Spark: as its partitions come back), and
    both engines' manifests must agree: the edges are taken in row order."""
    from dqaudit.features.leakage import leaks_by_key

    rng = np.random.default_rng(0)
    parts = rng.integers(0, 3, 40)
    keys = np.arange(40, dtype=np.int64)
    pairs = np.unique(np.sort(rng.integers(0, 40, size=(30, 2)), axis=1), axis=0)  # distinct, as found
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    sims = rng.uniform(0.7, 0.99, len(pairs))
    ids = [f"r{i}" for i in range(40)]

    def report(order: np.ndarray) -> dict:
        edges = (pairs[order][:, ::-1], sims[order])  # and each pair the other way round
        return leaks_by_key(keys, ids, parts, SPLITS, threshold=0.7, edges=edges, list_pairs=True,
                            texts=lambda rows: [f"text {r}" for r in rows]).to_dict()

    first = report(np.arange(len(pairs)))
    assert sum(first["near_pairs"].values()) > 5 and len(first["examples"]) == 5
    assert report(rng.permutation(len(pairs))) == first
