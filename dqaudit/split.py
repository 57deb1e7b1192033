"""Leakage-safe splitting: whole groups go to one split, stratified by label and language.

Three steps, each a pure function over arrays so they scale to millions of rows:

1. :func:`leakage_groups` joins every row that must stay together (exact and near
   duplicates, semantic clusters when enabled, the user's group key) into one
   component with a union-find (scipy's connected components).
2. :func:`stratified_split` or :func:`time_split` sends each component wholly to
   train, val or test.
3. :func:`cross_split_matches` checks the result *independently*: it recomputes
   exact and MinHash near-duplicate pairs on the texts as written and counts those
   that cross splits. ``dqaudit check-split`` runs the same pass on existing files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .text import normalize, preview

if TYPE_CHECKING:
    from .config import AuditConfig
    from .dedup.minhash import MinHashParams
    from .pipeline import AuditContext

SPLITS = ("train", "val", "test")


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
    """Rows that must share a split: near-duplicate clusters (exact copies included) joined with the group key."""
    from .checkers.near_duplicates import near_duplicate_groups

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


# --- independent verification ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LeakReport:
    """Exact and near-duplicate pairs between parts, and how many rows of each part have one."""

    parts: tuple[str, ...]
    threshold: float
    exact_pairs: dict[str, int]
    near_pairs: dict[str, int]
    contaminated: dict[str, int]
    rows: dict[str, int]
    examples: list[dict[str, Any]]
    #: Every crossing pair (``kind``, ``similarity``, ``a`` and ``b`` with ``part`` and ``id``), when asked for.
    pairs: list[dict[str, Any]] | None = None

    def share(self, part: str) -> float:
        """Share of ``part``'s rows with an exact or near duplicate in another part."""
        return self.contaminated[part] / self.rows[part] if self.rows.get(part) else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "exact_pairs": self.exact_pairs,
            "near_pairs": self.near_pairs,
            "contaminated_rows": self.contaminated,
            "contaminated_share": {p: round(self.share(p), 6) for p in self.parts},
            "examples": self.examples,
            **({"pairs": self.pairs} if self.pairs is not None else {}),
        }


def cross_split_matches(texts: Sequence[str], ids: Sequence[str], parts: np.ndarray, names: Sequence[str],
                        *, params: MinHashParams, max_examples: int = 5,
                        edges: tuple[np.ndarray, np.ndarray] | None = None, list_pairs: bool = False) -> LeakReport:
    """Count exact (normalised text) and near (MinHash, verified Jaccard >= threshold) pairs across parts.

    Independent of how the split was made: it sees only texts and part numbers. A row
    counts as contaminated when it has an exact copy, or a verified near-duplicate edge,
    in another part. Near-duplicate search links thousands of copies of one text to a
    single representative, so near pair counts are a lower bound; whether any pair
    crosses is exact (every cluster stays connected). ``edges`` (row pairs, Jaccard) are verified
    near-duplicate edges already found for these texts with ``params`` (the audit's, from cached
    signatures); without them the search runs here. ``list_pairs`` lists every counted pair (exact
    pairs: every cross-part pair of copies, as counted).
    """
    parts = np.asarray(parts, dtype=np.int64)
    keys = pd.factorize(pd.Series(list(texts), dtype=object).map(normalize))[0] if len(texts) else np.zeros(0, int)
    pair_names = [f"{names[a]}~{names[b]}" for a in range(len(names)) for b in range(a + 1, len(names))]
    exact = dict.fromkeys(pair_names, 0)
    near = dict.fromkeys(pair_names, 0)
    dirty = np.zeros(len(texts), dtype=bool)
    examples: list[dict[str, Any]] = []

    def example(kind: str, i: int, j: int, similarity: float) -> None:
        if len(examples) < max_examples:
            examples.append({"kind": kind, "similarity": round(similarity, 3),
                             "a": {"part": names[parts[i]], "id": str(ids[i]), "text": preview(texts[i])},
                             "b": {"part": names[parts[j]], "id": str(ids[j]), "text": preview(texts[j])}})

    table = pd.DataFrame({"key": keys, "part": parts})
    per_key = table.groupby("key")["part"].nunique()
    leaking = per_key.index[per_key > 1].to_numpy()
    if len(leaking):
        counts = table[table["key"].isin(leaking)].value_counts().unstack(fill_value=0)
        for a in range(len(names)):
            for b in range(a + 1, len(names)):
                if a in counts.columns and b in counts.columns:
                    exact[f"{names[a]}~{names[b]}"] = int((counts[a] * counts[b]).sum())
        dirty |= np.isin(keys, leaking)
        for key in leaking[:max_examples]:
            members = np.flatnonzero(keys == key)
            other = members[parts[members] != parts[members[0]]][0]
            example("exact", int(members[0]), int(other), 1.0)
    listed: list[dict[str, Any]] | None = None
    if list_pairs:
        def pair(kind: str, i: int, j: int, similarity: float) -> dict[str, Any]:
            if parts[i] > parts[j]:
                i, j = j, i
            return {"kind": kind, "similarity": round(similarity, 4),
                    "a": {"part": names[parts[i]], "id": str(ids[i])}, "b": {"part": names[parts[j]], "id": str(ids[j])}}

        listed = [pair("exact", i, j, 1.0) for i, j in _exact_pairs(keys, parts, leaking)]
    for i, j, similarity in _near_pairs(texts, parts, keys, params, edges):
        a, b = sorted((int(parts[i]), int(parts[j])))
        near[f"{names[a]}~{names[b]}"] += 1
        dirty[i] = dirty[j] = True
        example("near", i, j, similarity)
        if listed is not None:
            listed.append(pair("near", i, j, similarity))
    contaminated = {name: int(dirty[parts == k].sum()) for k, name in enumerate(names)}
    rows = {name: int((parts == k).sum()) for k, name in enumerate(names)}
    return LeakReport(tuple(names), params.threshold, exact, near, contaminated, rows, examples, listed)


def _exact_pairs(keys: np.ndarray, parts: np.ndarray, leaking: np.ndarray) -> list[tuple[int, int]]:
    """Every pair of rows with the same normalised text in two different parts (rows in input order)."""
    rows = np.flatnonzero(np.isin(keys, leaking))
    table = pd.DataFrame({"key": keys[rows], "part": parts[rows], "row": rows})
    both = table.merge(table, on="key", suffixes=("_a", "_b"))
    both = both[both["part_a"] < both["part_b"]].sort_values(["row_a", "row_b"], kind="stable")
    return list(zip(both["row_a"].tolist(), both["row_b"].tolist(), strict=True))


def _near_pairs(texts: Sequence[str], parts: np.ndarray, keys: np.ndarray, params: MinHashParams,
                edges: tuple[np.ndarray, np.ndarray] | None) -> list[tuple[int, int, float]]:
    """Verified near-duplicate edges between different parts that are not exact copies."""
    from .dedup.minhash import default_workers, near_duplicate_pairs, signatures

    if len(texts) < 2 or len(np.unique(parts)) < 2:
        return []
    if edges is None:
        params = params.resolve(texts)
        sigs = signatures(texts, params, workers=default_workers())
        pairs, sims, _ = near_duplicate_pairs(texts, sigs, params)
    else:
        pairs, sims = edges
    crossing = (parts[pairs[:, 0]] != parts[pairs[:, 1]]) & (keys[pairs[:, 0]] != keys[pairs[:, 1]])
    return [(int(i), int(j), float(sim)) for (i, j), sim in zip(pairs[crossing].tolist(), sims[crossing].tolist(),
                                                               strict=True)]


def minhash_settings(config: AuditConfig) -> MinHashParams:
    """The near-duplicate check's MinHash settings, so "no leak" means what the audit means by a near duplicate."""
    from .dedup.minhash import MinHashParams

    p = config.params("near_duplicates")
    return MinHashParams(p.shingle, p.ngram, p.num_perm, p.threshold, config.seed, p.max_chars)


def check_split(paths: Sequence[Path], config: AuditConfig, *, threshold: float | None = None,
                max_examples: int = 5, list_pairs: bool = False) -> LeakReport:
    """Contamination between existing split files (the last one is the test set); ``list_pairs``: every pair."""
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
