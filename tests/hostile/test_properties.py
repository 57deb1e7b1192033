"""Property-based tests: invariants that must hold for any input, not just the corpus.

Loaders: every non-blank line is loaded or quarantined, and loaded text is the text
written. Score: readiness stays within the scored checks' range. Splitter: every row
in exactly one split, groups never cut, same seed same split. Agreement: bounded,
symmetric, and blind to the order of items and annotators.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dqaudit.agreement import Ratings, cohen_pairwise, fleiss_kappa, krippendorff_alpha, percent_agreement
from dqaudit.config import ScoreConfig
from dqaudit.data import load_dataset
from dqaudit.findings import CheckResult, Verdict
from dqaudit.scoring import readiness, verdict
from dqaudit.split import stratified_split, union_groups

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**20), 10**20), st.floats(allow_nan=False), st.text(max_size=20)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
records = st.dictionaries(
    st.sampled_from(["id", "text", "label", "lang", "group", "annotations", "x"]), values, max_size=6
)
lines = st.one_of(
    records.map(lambda r: json.dumps(r, allow_nan=True)),
    st.text(max_size=40),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
)


@SETTINGS
@given(st.lists(lines, max_size=25), st.sampled_from(["\n", "\r\n"]))
def test_jsonl_every_line_is_loaded_or_quarantined(tmp_path: Path, body: list[str], newline: str) -> None:
    path = tmp_path / "p.jsonl"
    flat = [line.replace("\n", " ").replace("\r", " ") for line in body]
    path.write_bytes(newline.join(flat).encode("utf-8", "surrogatepass"))
    try:
        dataset = load_dataset(path)
    except Exception as exc:  # only the documented whole-file error is allowed
        assert type(exc).__name__ == "InputError" and "field 'text'" in str(exc)
        return
    # blank means ASCII whitespace only (as JSON defines it); "\x1f" is a line to quarantine
    nonblank = [n for n, line in enumerate(flat, 1) if line.strip(" \t\r\n\x0b\x0c")]
    lines_seen = sorted([*dataset.frame["line"].tolist(), *(p.line for p in dataset.problems)])
    assert lines_seen == nonblank and dataset.source.rows == len(nonblank)
    for line, text in zip(dataset.frame["line"], dataset.frame["text"], strict=True):
        assert json.loads(flat[line - 1])["text"] == text


@SETTINGS
@given(
    st.lists(
        st.lists(
            st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=15), min_size=3, max_size=3
        ),
        max_size=20,
    )
)
def test_csv_every_row_is_loaded_or_quarantined(tmp_path: Path, rows: list[list[str]]) -> None:
    import csv

    path = tmp_path / "p.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["id", "text", "label"], *rows])
    dataset = load_dataset(path)
    kept = [r for r in rows if any(c.strip() for c in r)]
    assert dataset.problems == () and dataset.frame["text"].tolist() == [r[1] for r in kept]


weights = st.one_of(st.just(0.0), st.floats(0.01, 5))  # config weights; subnormals would underflow to 0
check_results = st.lists(st.tuples(st.one_of(st.none(), st.floats(0, 100)), weights), min_size=1, max_size=8)


@SETTINGS
@given(check_results)
def test_readiness_is_bounded_by_the_scored_checks(pairs: list[tuple[float | None, float]]) -> None:
    results = [CheckResult(f"c{i}", score) for i, (score, _) in enumerate(pairs)]
    weights = {f"c{i}": w for i, (_, w) in enumerate(pairs)}
    score = readiness(results, weights)
    scored = [s for s, w in pairs if s is not None and w > 0]
    if scored:
        assert 0 <= score <= 100
        assert min(scored) - 0.01 <= score <= max(scored) + 0.01
        assert verdict(score, [], ScoreConfig()) in set(Verdict)
    else:  # nothing scored: no readiness, and never READY
        assert score is None and verdict(score, [], ScoreConfig()) is Verdict.NOT_READY


@SETTINGS
@given(
    st.lists(st.integers(0, 12), min_size=1, max_size=200),
    st.lists(st.sampled_from("abc"), min_size=200, max_size=200),
    st.sampled_from([(0.8, 0.1, 0.1), (0.5, 0.5, 0.0), (1.0, 0.0, 0.0), (0.34, 0.33, 0.33)]),
    st.integers(0, 9),
)
def test_split_assigns_each_row_once_and_keeps_groups_whole(
    groups: list[int], labels: list[str], ratios: tuple[float, float, float], seed: int
) -> None:
    n = len(groups)
    g = union_groups(n, np.asarray(groups, dtype=np.int64))
    langs = ["en"] * n
    outcome = stratified_split(g, labels[:n], langs, ratios, seed)
    assignment = outcome.assignment
    assert len(assignment) == n and set(assignment.tolist()) <= {j for j, r in enumerate(ratios) if r > 0}
    for group in set(g.tolist()):
        assert len(set(assignment[g == group].tolist())) == 1
    again = stratified_split(g, labels[:n], langs, ratios, seed)
    assert np.array_equal(assignment, again.assignment)


codes = st.integers(1, 6).flatmap(
    lambda m: st.lists(
        st.lists(st.one_of(st.just(-1), st.integers(0, 2)), min_size=m, max_size=m), min_size=2, max_size=15
    )
)


def _ratings(matrix: list[list[int]]) -> Ratings:
    array = np.asarray(matrix, dtype=np.int64)
    return Ratings(
        tuple(f"i{k}" for k in range(len(array))),
        tuple(f"a{k}" for k in range(array.shape[1])),
        ("x", "y", "z"),
        array,
    )


def _close(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and math.isclose(a, b, abs_tol=1e-9))


@SETTINGS
@given(codes, st.randoms(use_true_random=False))
def test_agreement_bounds_and_permutation_invariance(matrix: list[list[int]], rng) -> None:
    r = _ratings(matrix)
    rows = list(range(len(matrix)))
    cols = list(range(len(matrix[0])))
    rng.shuffle(rows)
    rng.shuffle(cols)
    shuffled = _ratings([[matrix[i][j] for j in cols] for i in rows])
    for metric in (percent_agreement, krippendorff_alpha, fleiss_kappa):
        value = metric(r)
        assert value is None or (math.isfinite(value) and -1.0 - 1e-9 <= value <= 1.0 + 1e-9), metric.__name__
        assert _close(value, metric(shuffled)), metric.__name__
    pa = percent_agreement(r)
    assert pa is None or 0 <= pa <= 1


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=2, max_size=30))
def test_cohen_is_symmetric_and_bounded(pairs: list[tuple[int, int]]) -> None:
    forward = _ratings([[a, b] for a, b in pairs])
    backward = _ratings([[b, a] for a, b in pairs])
    (ab,), (ba,) = cohen_pairwise(forward), cohen_pairwise(backward)
    assert _close(ab["kappa"], ba["kappa"]) and ab["agreement"] == ba["agreement"]
    assert ab["kappa"] is None or -1 - 1e-9 <= ab["kappa"] <= 1 + 1e-9
    assume(ab["kappa"] is not None)
    assert (ab["agreement"] == 1.0) == math.isclose(ab["kappa"], 1.0)


@pytest.mark.parametrize("ratios", [(0.8, 0.1, 0.1), (0.6, 0.2, 0.2)])
def test_union_groups_joins_transitively(ratios: tuple[float, float, float]) -> None:
    """Rows linked through a chain of shared values (a~b by one key, b~c by another) share a split."""
    first = np.array([0, 0, -1, -1, 5, 5], dtype=np.int64)
    second = np.array([-1, 1, 1, -1, -1, -1], dtype=np.int64)
    groups = union_groups(6, first, second)
    assert groups[0] == groups[1] == groups[2] and groups[4] == groups[5] and groups[3] not in groups[[0, 4]]
    assignment = stratified_split(groups, ["a"] * 6, ["en"] * 6, ratios, 0).assignment
    assert len({assignment[0], assignment[1], assignment[2]}) == 1
