"""Leakage-safe splitting: whole groups go to one split, stratified by label and language.

Three steps, each a pure function over arrays so they scale to millions of rows:

1. :func:`leakage_groups` joins every row that must stay together (exact and near
   duplicates, semantic clusters when enabled, the user's group key) into one
   component with a union-find (scipy's connected components).
2. :func:`stratified_split` or :func:`time_split` sends each component wholly to
   train, val or test.
3. :func:`~dqaudit.features.leakage.written_leaks` checks the result *independently*:
   it recomputes exact and MinHash near-duplicate pairs on the texts as written (on
   Spark, on the executors) and counts those that cross splits. ``dqaudit check-split``
   counts the same way on existing files (:func:`cross_split_matches`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .features.leakage import SPLITS, LeakReport, cross_split_matches, minhash_settings

if TYPE_CHECKING:
    from .config import AuditConfig
    from .context import AuditContext


def union_groups(n: int, *labelings: np.ndarray) -> np.ndarray:
    """Component number per row: rows sharing a value in any labeling end up together (-1 = no value)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    rows, cols = [np.arange(n)], [np.arange(n)]
    for labeling in labelings:
        idx = np.flatnonzero(labeling >= 0)
        _, first, inverse = np.unique(labeling[idx], return_index=True, return_inverse=True)
        rows.append(idx)
        cols.append(idx[first][inverse])  # link each row to the first row carrying its value
    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(len(r), dtype=np.int8), (r, c)), shape=(n, n))
    return connected_components(graph, directed=False)[1].astype(np.int64)


def leakage_groups(ctx: AuditContext) -> np.ndarray:
    """Rows that must share a split:
    near-duplicate clusters (exact copies included) joined with the group key."""
    from .features.near_dups import near_duplicate_groups

    frame = ctx.frame
    user = pd.factorize(frame["group"], use_na_sentinel=True)[0]
    return union_groups(len(frame), np.asarray(near_duplicate_groups(ctx), dtype=np.int64), user)


@dataclass(frozen=True)
class SplitOutcome:
    """Split index per row (0 train, 1 val, 2 test) and what the manifest says about it."""

    assignment: np.ndarray
    strategy: str
    groups: int
    largest_group: int
    #: labels absent from a split that asks for rows, with how many groups they have
    rare_classes: list[dict[str, Any]] = field(default_factory=list)


def _order_key(n: int, seed: int) -> np.ndarray:
    """A seeded random rank per group, the tie-breaker everywhere (same seed, same split)."""
    return np.random.default_rng(seed).permutation(n)


def stratified_split(groups: np.ndarray, labels: Sequence[Any], langs: Sequence[Any],
                     ratios: Sequence[float], seed: int) -> SplitOutcome:
    """Greedy group assignment: largest groups first, each to the split furthest below its share.

    Shares are tracked per stratum (label x language, a group counting in its most
    common stratum) and, to break ties, overall. A label with at least one group per
    split first seeds one of its smallest groups into each evaluation split, so rare
    classes appear everywhere they can; labels that cannot are reported.
    """
    n = len(groups)
    active = [j for j, r in enumerate(ratios) if r > 0]
    if n == 0:
        return SplitOutcome(np.zeros(0, np.int8), "stratified", 0, 0)
    gid, group_index = np.unique(groups, return_inverse=True)
    sizes = np.bincount(group_index)
    label_key = pd.Series(labels, dtype=object).fillna("").astype(str).to_numpy()
    lang_key = pd.Series(langs, dtype=object).fillna("").astype(str).to_numpy()
    stratum_codes, stratum_names = pd.factorize(pd.Series(label_key) + "\x1f" + pd.Series(lang_key))
    # each group's stratum: its most common (label, language), ties to the first in code order
    counts = pd.DataFrame({"g": group_index, "s": stratum_codes}).value_counts().reset_index(name="n")
    counts = counts.sort_values(["g", "n", "s"], ascending=[True, False, True]).drop_duplicates("g")
    group_stratum = counts["s"].to_numpy()[np.argsort(counts["g"].to_numpy())]
    group_label = np.array([name.split("\x1f")[0] for name in stratum_names], dtype=object)[group_stratum]
    rank = _order_key(len(gid), seed)

    stratum_total = np.bincount(group_stratum, weights=sizes, minlength=len(stratum_names))
    target = [[float(t * r) for r in ratios] for t in stratum_total]
    got = [[0.0] * len(ratios) for _ in stratum_total]
    overall_target = [float(n * r) for r in ratios]
    overall = [0.0] * len(ratios)
    choice = np.full(len(gid), -1, dtype=np.int8)

    def place(g: int, j: int) -> None:
        choice[g] = j
        got[group_stratum[g]][j] += sizes[g]
        overall[j] += sizes[g]

    evaluation = [j for j in active if j != 0]
    frame = pd.DataFrame({"label": group_label, "size": sizes, "rank": rank})
    for label, members in frame.sort_values(["label", "size", "rank"]).groupby("label", sort=True):
        if label and len(members) >= len(active):
            for g, j in zip(members.index[: len(evaluation)], evaluation, strict=True):
                place(int(g), j)
    order = np.lexsort((rank, -sizes))
    sizes_list, strata_list, choice_list = sizes.tolist(), group_stratum.tolist(), choice.tolist()
    for g in order.tolist():
        if choice_list[g] >= 0:
            continue
        s, row = strata_list[g], got[strata_list[g]]
        best = max(active, key=lambda j: (target[s][j] - row[j], overall_target[j] - overall[j], -j))
        choice[g] = best
        row[best] += sizes_list[g]
        overall[best] += sizes_list[g]
    assignment = choice[group_index]
    return SplitOutcome(assignment, "stratified", len(gid), int(sizes.max()),
                        _rare_classes(label_key, assignment, group_index, active))


def time_split(groups: np.ndarray, times: pd.Series, ratios: Sequence[float], seed: int) -> SplitOutcome:
    """Oldest groups to train, newest to test; a group is as new as its newest row.

    A group lands in the split whose share of the time-ordered rows holds its middle row.
    """
    n = len(groups)
    if n == 0:
        return SplitOutcome(np.zeros(0, np.int8), "time", 0, 0)
    gid, group_index = np.unique(groups, return_inverse=True)
    sizes = np.bincount(group_index)
    stamps = pd.to_datetime(times.reset_index(drop=True)).astype("int64").to_numpy()
    newest = pd.Series(stamps).groupby(group_index).max().to_numpy()
    order = np.lexsort((_order_key(len(gid), seed), newest))
    middle = (np.cumsum(sizes[order]) - sizes[order] / 2) / n
    choice = np.empty(len(gid), dtype=np.int8)
    choice[order] = np.searchsorted(np.cumsum(ratios)[:-1], middle, side="right")
    return SplitOutcome(choice[group_index], "time", len(gid), int(sizes.max()))


def _rare_classes(labels: np.ndarray, assignment: np.ndarray, group_index: np.ndarray,
                  active: list[int]) -> list[dict[str, Any]]:
    """Labels missing from a split that asks for rows; only possible when they have too few groups."""
    out = []
    table = pd.DataFrame({"label": labels, "split": assignment, "g": group_index})
    for label, rows in table[table["label"] != ""].groupby("label", sort=True):
        missing = [SPLITS[j] for j in active if not (rows["split"] == j).any()]
        if missing:
            out.append({"label": label, "rows": len(rows), "groups": int(rows["g"].nunique()),
                        "missing_from": missing})
    return out




def check_split(paths: Sequence[Path], config: AuditConfig, *, threshold: float | None = None,
                max_examples: int = 5, list_pairs: bool = False) -> LeakReport:
    """Contamination between existing split files (the last one is the test set);
    ``list_pairs``: every pair."""
    from .data import load_dataset

    texts: list[str] = []
    ids: list[str] = []
    parts: list[np.ndarray] = []
    for k, path in enumerate(paths):
        dataset = load_dataset(path, config.fields, config.input)
        texts.extend(dataset.frame["text"].tolist())
        ids.extend(dataset.frame["id"].astype(str).tolist())
        parts.append(np.full(len(dataset), k, dtype=np.int64))
    names = _part_names(paths)
    params = minhash_settings(config)
    if threshold is not None:
        params = replace(params, threshold=threshold)
    return cross_split_matches(texts, ids, np.concatenate(parts) if parts else np.zeros(0, np.int64), names,
                               params=params, max_examples=max_examples, list_pairs=list_pairs)


def _part_names(paths: Sequence[Path]) -> list[str]:
    """File names, or full paths when two files share a name."""
    names = [Path(p).name for p in paths]
    return names if len(set(names)) == len(names) else [str(p) for p in paths]
