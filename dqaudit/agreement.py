"""Inter-annotator agreement metrics on nominal labels, as pure functions of a :class:`Ratings` matrix.

The numbers come from the maintained reference implementations (scikit-learn's
``cohen_kappa_score``, statsmodels' ``fleiss_kappa``, the ``krippendorff``
package, ``cleanlab.multiannotator``); this module decides when each is defined.
A metric that is undefined for the data (one annotator, one class, no item rated
twice, unequal numbers of ratings for Fleiss) is ``None``, never NaN, so reports
can say why instead of printing a meaningless number.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Protocol

import numpy as np
import pandas as pd

MISSING = -1


@dataclass(frozen=True)
class Ratings:
    """Items x annotators matrix of category codes (``MISSING`` where an annotator did not rate)."""

    items: tuple[str, ...]
    annotators: tuple[str, ...]
    categories: tuple[str, ...]
    codes: np.ndarray

    @classmethod
    def from_triples(cls, triples: Iterable[tuple[str, str, str]]) -> Ratings:
        """Build from ``(item, annotator, label)``; a repeated (item, annotator) keeps its last label."""
        cells: dict[tuple[str, str], str] = {}
        for item, annotator, label in triples:
            cells[(item, annotator)] = label
        items = tuple(dict.fromkeys(i for i, _ in cells))
        annotators = tuple(sorted({a for _, a in cells}))
        categories = tuple(sorted(set(cells.values())))
        row = {k: n for n, k in enumerate(items)}
        col = {k: n for n, k in enumerate(annotators)}
        cat = {k: n for n, k in enumerate(categories)}
        codes = np.full((len(items), len(annotators)), MISSING, dtype=np.int64)
        for (item, annotator), label in cells.items():
            codes[row[item], col[annotator]] = cat[label]
        return cls(items, annotators, categories, codes)

    @property
    def n_ratings(self) -> np.ndarray:
        """Ratings per item."""
        return (self.codes != MISSING).sum(axis=1)

    def counts(self) -> np.ndarray:
        """Items x categories: how many annotators gave each category (Fleiss' table)."""
        table = np.zeros((len(self.items), len(self.categories)), dtype=np.int64)
        rows, cols = np.nonzero(self.codes != MISSING)
        np.add.at(table, (rows, self.codes[rows, cols]), 1)
        return table

    def pairable(self) -> np.ndarray:
        """Mask of items rated at least twice: the only ones that say anything about agreement."""
        return self.n_ratings >= 2

    def confusions(self, min_shared: int = 2) -> list[tuple[str, str, np.ndarray]]:
        """``(a, b, categories x categories table)`` for annotator pairs sharing ``min_shared`` items.

        Shared-item counts come from one sparse product (a dense integer matmul, which numpy
        runs without BLAS, took ~6 minutes for MD-Agreement's 819 annotators x 10,753 items),
        and only pairs sharing enough items are visited: ~2k of its 335k pairs.
        """
        from scipy.sparse import csr_matrix

        codes = np.ascontiguousarray(self.codes.T)  # one row per annotator: pairs read contiguous memory
        rated = codes != MISSING
        sparse = csr_matrix(rated, dtype=np.int64)
        shared = (sparse @ sparse.T).toarray()
        k = len(self.categories)
        out = []
        for a, b in np.argwhere(np.triu(shared >= min_shared, k=1)):
            both = rated[a] & rated[b]
            table = np.bincount(codes[a, both] * k + codes[b, both], minlength=k * k).reshape(k, k)
            out.append((self.annotators[a], self.annotators[b], table))
        return out


@dataclass(frozen=True)
class CountTable:
    """What the count-based metrics need, without the items x annotators matrix.

    ``table`` is items x categories (how many annotators gave each category, in the
    order of :class:`Ratings`); ``pairs`` holds each annotator pair's confusion table over
    the items both rated. The Spark engine computes both on the executors; alpha, Fleiss,
    raw agreement, per-class alpha, split pairs and Cohen's kappa then equal the
    matrix's values exactly, since they are the same numbers in the same order.
    """

    items: tuple[str, ...]
    categories: tuple[str, ...]
    table: np.ndarray
    pairs: tuple[tuple[str, str, np.ndarray], ...]

    @classmethod
    def from_counts(cls, items: Sequence[str], cell_items: Sequence[str], cell_labels: Sequence[str],
                    cell_counts: Sequence[int],
                    pairs: Iterable[tuple[str, str, str, str, int]]) -> CountTable:
        """The table from aggregated counts, ordered as :class:`Ratings` orders its matrix.

        ``items`` in order of first appearance; ``cell_*`` say how many annotators gave an item
        a label; ``pairs`` are ``(a, b, a's label, b's label, items)`` for annotators ``a < b``.
        Categories are sorted and pairs ordered by annotator names, as the matrix's are.
        """
        categories = tuple(sorted(set(cell_labels)))
        row = {v: n for n, v in enumerate(items)}
        cat = {v: n for n, v in enumerate(categories)}
        table = np.zeros((len(items), len(categories)), np.int64)
        table[[row[i] for i in cell_items], [cat[c] for c in cell_labels]] = np.asarray(cell_counts, np.int64)
        tables: dict[tuple[str, str], np.ndarray] = {}
        for a, b, la, lb, n in pairs:
            if (a, b) not in tables:
                tables[a, b] = np.zeros((len(categories), len(categories)), np.int64)
            tables[a, b][cat[la], cat[lb]] = n
        return cls(tuple(items), categories, table, tuple((a, b, tables[a, b]) for a, b in sorted(tables)))

    def counts(self) -> np.ndarray:
        """Items x categories (a copy: callers may subtract from it)."""
        return self.table.copy()

    def confusions(self, min_shared: int = 2) -> list[tuple[str, str, np.ndarray]]:
        """The pairs' confusion tables, for pairs sharing at least ``min_shared`` items."""
        return [(a, b, t) for a, b, t in self.pairs if t.sum() >= min_shared]


class Tally(Protocol):
    """Either a :class:`Ratings` matrix or a :class:`CountTable`: all the count-based metrics read."""

    @property
    def items(self) -> tuple[str, ...]: ...

    @property
    def categories(self) -> tuple[str, ...]: ...

    def counts(self) -> np.ndarray: ...

    def confusions(self, min_shared: int = 2) -> list[tuple[str, str, np.ndarray]]: ...


def _quiet(fn: Any, *args: Any, **kwargs: Any) -> float | None:
    """Call a library metric with its warnings silenced; NaN/inf (undefined) becomes None."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        value = float(fn(*args, **kwargs))
    return value if np.isfinite(value) else None


def percent_agreement(r: Tally) -> float | None:
    """Share of agreeing rating pairs within an item, averaged over items rated at least twice."""
    counts = r.counts()
    counts = counts[counts.sum(axis=1) >= 2]
    if not len(counts):
        return None
    m = counts.sum(axis=1)
    return float(np.mean((counts * (counts - 1)).sum(axis=1) / (m * (m - 1))))


def krippendorff_alpha(r: Tally, without: str | None = None) -> float | None:
    """Nominal alpha over pairable items; tolerates missing ratings and varying numbers of annotators.

    ``without`` leaves one annotator's ratings out (the poor-annotator impact; it needs
    the :class:`Ratings` matrix, which knows who gave which rating). The
    ``krippendorff`` package gets the items x categories count table rather than the
    annotators x items matrix: the same numbers, without it re-counting a dense
    matrix (819 annotators x 10k items on MD-Agreement took seconds per call).
    """
    counts = r.counts()
    if without is not None:
        if not isinstance(r, Ratings):
            raise TypeError("alpha without an annotator needs the Ratings matrix")
        col = r.annotators.index(without)
        rated = np.flatnonzero(r.codes[:, col] != MISSING)
        counts[rated, r.codes[rated, col]] -= 1
    return _nominal_alpha(counts)


def _nominal_alpha(counts: np.ndarray) -> float | None:
    """Alpha from an items x categories table; only items rated twice and categories used count."""
    import krippendorff

    counts = counts[counts.sum(axis=1) >= 2]
    # C order as the package builds it itself: its sums then run in the same order, bit for bit
    counts = np.ascontiguousarray(counts[:, counts.sum(axis=0) > 0])
    if counts.shape[1] < 2:
        return None
    if counts.size * counts.shape[1] < _DENSE_CELLS:
        return _quiet(krippendorff.alpha, value_counts=counts, level_of_measurement="nominal")
    return _quiet(sparse_nominal_alpha, counts)


#: Below this many cells of the items x categories x categories array, the package's dense computation.
_DENSE_CELLS = 1 << 20


def sparse_nominal_alpha(counts: np.ndarray) -> float:
    """``krippendorff.alpha(value_counts=counts, level_of_measurement="nominal")``, bit for bit, without the
    items x categories x categories array the package builds (100k items x 26 classes: 7 s and 1 GiB).

    ``counts``: items rated at least twice, no unused category, at least two categories. Each item adds
    its coincidences only for the categories it holds; ``np.add.at`` adds them item by item in order, as
    the package's sum over the first axis does, so every float sum runs in the same order (the test
    compares the two to the last bit).
    """
    counts = np.asarray(counts)
    n, v = counts.shape
    pairable = np.maximum(counts.sum(axis=1), 2)
    item, category = np.nonzero(counts)  # row-major: items in order, categories ascending within one
    held = counts[item, category]
    size = np.bincount(item, minlength=n)  # categories each item holds
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    pairs = size * size
    first = np.repeat(start, pairs)  # every ordered pair (a, b) of one item's entries, items in order
    within = np.arange(int(pairs.sum())) - np.repeat(np.cumsum(pairs) - pairs, pairs)
    width = np.repeat(size, pairs)
    a, b = first + within // width, first + within % width
    same = category[a] == category[b]
    value = (held[a] * held[b]).astype(np.float64) - np.where(same, held[a].astype(np.float64), 0.0)
    o = np.zeros((v, v))
    np.add.at(o, (category[a], category[b]), np.divide(value, (pairable[item[a]] - 1).astype(np.float64)))
    n_v = o.sum(axis=0)
    e = np.divide(np.outer(n_v, n_v) - np.diagflat(n_v), n_v.sum() - 1, dtype=np.float64)
    domain = np.arange(v)
    d = (domain[:, np.newaxis] != domain[np.newaxis, :]).astype(np.float64)
    return 1 - (o * d).sum() / (e * d).sum()


def fleiss_kappa(r: Tally) -> float | None:
    """Fleiss' kappa; defined only when every item has the same number (>= 2) of ratings."""
    from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

    counts = r.counts()
    m = counts.sum(axis=1)
    if not len(m) or m.min() < 2 or m.min() != m.max():
        return None
    if (counts.sum(axis=0) > 0).sum() < 2:
        return None
    return _quiet(sm_fleiss, counts, method="fleiss")


def cohen_pairwise(r: Tally, min_shared: int = 2) -> list[dict[str, Any]]:
    """Cohen's kappa for every annotator pair sharing at least ``min_shared`` items (None if undefined)."""
    out = []
    for a, b, table in r.confusions(min_shared):
        n = int(table.sum())
        out.append(
            {"a": a, "b": b, "n": n, "agreement": float(np.trace(table) / n), "kappa": kappa_of_table(table)}
        )
    return out


def cohen_kappa(x: np.ndarray, y: np.ndarray, n_categories: int) -> float | None:
    """Cohen's kappa of two raters' category codes, None when undefined (one category, or chance = 1)."""
    confusion = np.bincount(x * n_categories + y, minlength=n_categories**2)
    return kappa_of_table(confusion.reshape(n_categories, n_categories))


def kappa_of_table(confusion: np.ndarray) -> float | None:
    """Cohen's kappa from a confusion table (rows: first rater), None when undefined.

    The arithmetic of scikit-learn's ``cohen_kappa_score`` (unweighted) on the table,
    without its per-call input validation (59 s for MD-Agreement's 2,088 annotator pairs
    under the profiler). Tests check it against scikit-learn.
    """
    used = np.flatnonzero(confusion.sum(axis=0) + confusion.sum(axis=1))
    if len(used) < 2:
        return None
    confusion = confusion[np.ix_(used, used)].astype(np.float64)
    sum0, sum1 = confusion.sum(axis=0), confusion.sum(axis=1)
    expected = np.outer(sum0, sum1) / np.sum(sum0)
    w_mat = np.ones(confusion.shape, dtype=np.float64)
    np.fill_diagonal(w_mat, 0)
    denominator = np.sum(w_mat * expected)
    if denominator == 0:
        return None
    value = float(1 - np.sum(w_mat * confusion) / denominator)
    return value if np.isfinite(value) else None


def mean_cohen(pairs: list[dict[str, Any]]) -> float | None:
    """Light's kappa: the mean of the defined pairwise kappas, weighted by shared items."""
    defined = [(p["kappa"], p["n"]) for p in pairs if p["kappa"] is not None]
    if not defined:
        return None
    values, weights = zip(*defined, strict=True)
    return float(np.average(values, weights=weights))


def per_class(r: Tally) -> dict[str, dict[str, Any]]:
    """Agreement on each class against the rest: binary nominal alpha and how often annotators used it."""
    counts = r.counts()
    counts = counts[counts.sum(axis=1) >= 2]
    per_item = counts.sum(axis=1)
    out = {}
    for k, name in enumerate(r.categories):
        used = int(counts[:, k].sum())
        alpha = None
        if 0 < used < per_item.sum():
            alpha = _nominal_alpha(np.stack([per_item - counts[:, k], counts[:, k]], axis=1))
        out[name] = {"alpha": alpha, "ratings": used, "items": int((counts[:, k] > 0).sum())}
    return out


def confused_pairs(r: Tally, limit_examples: int = 10) -> list[dict[str, Any]]:
    """Class pairs annotators split on: disagreeing rating pairs, items and example ids, worst first."""
    counts = r.counts()
    pairs: dict[tuple[int, int], list[Any]] = defaultdict(lambda: [0, []])
    for i in np.flatnonzero((counts > 0).sum(axis=1) > 1):
        present = np.flatnonzero(counts[i])
        for a, b in combinations(present, 2):
            entry = pairs[(int(a), int(b))]
            entry[0] += int(counts[i, a] * counts[i, b])
            entry[1].append(r.items[i])
    ranked = sorted(pairs.items(), key=lambda kv: (-kv[1][0], -len(kv[1][1]), kv[0]))
    return [
        {
            "labels": (r.categories[a], r.categories[b]),
            "rating_pairs": n,
            "items": len(ids),
            "examples": ids[:limit_examples],
        }
        for (a, b), (n, ids) in ranked
    ]


def multiannotator(r: Ratings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """cleanlab CROWDLAB consensus per item and quality per annotator.

    Without a classifier the "model" is the items' own vote shares (add-half smoothed), so an
    annotator is penalised more for going against a unanimous item than a contested one.
    Returns (items: consensus, consensus_quality, agreement, n_ratings; annotators:
    quality, agreement_with_consensus, worst_class, n_items).
    """
    from cleanlab.multiannotator import get_label_quality_multiannotator

    counts = r.counts().astype(float)
    votes = counts + 0.5
    pred_probs = votes / votes.sum(axis=1, keepdims=True)
    labels = pd.DataFrame(np.where(r.codes == MISSING, np.nan, r.codes), columns=list(r.annotators))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = get_label_quality_multiannotator(labels, pred_probs, verbose=False)
    q = res["label_quality"]
    items = pd.DataFrame(
        {
            "consensus": [r.categories[int(c)] for c in q["consensus_label"]],
            "consensus_quality": q["consensus_quality_score"].to_numpy(float),
            "agreement": q["annotator_agreement"].to_numpy(float),
            "n_ratings": q["num_annotations"].to_numpy(int),
        },
        index=pd.Index(r.items, name="item"),
    )
    s = res["annotator_stats"]
    annotators = pd.DataFrame(
        {
            "quality": s["annotator_quality"].to_numpy(float),
            "agreement_with_consensus": s["agreement_with_consensus"].to_numpy(float),
            "worst_class": [r.categories[int(c)] for c in s["worst_class"]],
            "n_items": s["num_examples_labeled"].to_numpy(int),
        },
        index=pd.Index([str(a) for a in s.index], name="annotator"),
    ).sort_index()
    return items, annotators


def normalized_label(label: str) -> str:
    """Case and surrounding/inner whitespace folded: what ``normalize_labels`` merges."""
    return " ".join(label.split()).casefold()


def label_variants(labels: Iterable[str]) -> dict[str, list[str]]:
    """Labels that differ only by case or surrounding whitespace, keyed by their normalised form."""
    groups: dict[str, set[str]] = defaultdict(set)
    for label in labels:
        groups[normalized_label(label)].add(label)
    return {k: sorted(v) for k, v in sorted(groups.items()) if len(v) > 1}


__all__ = [
    "CountTable",
    "MISSING",
    "Ratings",
    "Tally",
    "cohen_kappa",
    "cohen_pairwise",
    "confused_pairs",
    "fleiss_kappa",
    "kappa_of_table",
    "krippendorff_alpha",
    "label_variants",
    "mean_cohen",
    "multiannotator",
    "normalized_label",
    "per_class",
    "percent_agreement",
]
