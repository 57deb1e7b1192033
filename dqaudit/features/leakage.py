"""Copies across train, val and test, checked independently of how the split was made.

:func:`cross_split_matches` sees only texts and part numbers: it recomputes exact and MinHash
near-duplicate pairs (with the near-duplicate check's settings, so "no leak" means what the audit
means by a near duplicate) and counts those that cross parts. The ``contamination`` check, the
exporter's leakage re-check and ``dqaudit check-split`` all run it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..config import AuditConfig
from ..text import preview
from .exact import exact_keys
from .near_dups import NearDupFeatureParams

if TYPE_CHECKING:
    from ..dedup.minhash import MinHashParams

SPLITS = ("train", "val", "test")


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
                        edges: tuple[np.ndarray, np.ndarray] | None = None,
                        list_pairs: bool = False) -> LeakReport:
    """Count exact (normalised text) and near (MinHash, verified Jaccard >= threshold) pairs across parts.

    Independent of how the split was made: it sees only texts and part numbers. ``edges`` (row
    pairs, Jaccard) are verified near-duplicate edges already found for these texts with ``params``
    (the audit's, from cached signatures); without them the search runs here. The counting is
    :func:`leaks_by_key`'s.
    """
    parts = np.asarray(parts, dtype=np.int64)
    if edges is None:
        edges = _near_edges(texts, parts, params)
    return leaks_by_key(exact_keys(texts).view(np.int64), ids, parts, names, threshold=params.threshold,
                        edges=edges, texts=lambda rows: [texts[r] for r in rows], max_examples=max_examples,
                        list_pairs=list_pairs)


def leaks_by_key(keys: np.ndarray, ids: Sequence[str], parts: np.ndarray, names: Sequence[str], *,
                 threshold: float, edges: tuple[np.ndarray, np.ndarray],
                 texts: Callable[[np.ndarray], Sequence[str]], max_examples: int = 5,
                 list_pairs: bool = False) -> LeakReport:
    """The pairs across parts from each row's exact key (:func:`~dqaudit.features.exact.exact_keys`) and
    the verified near-duplicate ``edges``; ``texts(rows)`` is asked once, for the examples' rows.

    A row counts as contaminated when it has an exact copy, or a verified near-duplicate edge,
    in another part. Near-duplicate search links thousands of copies of one text to a
    single representative, so near pair counts are a lower bound; whether any pair
    crosses is exact (every cluster stays connected). ``list_pairs`` lists every counted pair
    (exact pairs: every cross-part pair of copies, as counted).
    """
    parts = np.asarray(parts, dtype=np.int64)
    keys = pd.factorize(np.asarray(keys, dtype=np.int64))[0]  # numbered by first row: the examples' order
    pair_names = [f"{names[a]}~{names[b]}" for a in range(len(names)) for b in range(a + 1, len(names))]
    exact = dict.fromkeys(pair_names, 0)
    near = dict.fromkeys(pair_names, 0)
    dirty = np.zeros(len(keys), dtype=bool)
    shown: list[tuple[str, int, int, float]] = []

    def example(kind: str, i: int, j: int, similarity: float) -> None:
        if len(shown) < max_examples:
            shown.append((kind, i, j, similarity))

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
                    "a": {"part": names[parts[i]], "id": str(ids[i])},
                    "b": {"part": names[parts[j]], "id": str(ids[j])}}

        listed = [pair("exact", i, j, 1.0) for i, j in _exact_pairs(keys, parts, leaking)]
    for i, j, similarity in _crossing(parts, keys, edges):
        a, b = sorted((int(parts[i]), int(parts[j])))
        near[f"{names[a]}~{names[b]}"] += 1
        dirty[i] = dirty[j] = True
        example("near", i, j, similarity)
        if listed is not None:
            listed.append(pair("near", i, j, similarity))
    rows = np.unique([r for _, i, j, _ in shown for r in (i, j)]).astype(np.int64)
    text_of = dict(zip(rows.tolist(), texts(rows), strict=True)) if len(rows) else {}
    examples = [{"kind": kind, "similarity": round(similarity, 3),
                 "a": {"part": names[parts[i]], "id": str(ids[i]), "text": preview(text_of[i])},
                 "b": {"part": names[parts[j]], "id": str(ids[j]), "text": preview(text_of[j])}}
                for kind, i, j, similarity in shown]
    contaminated = {name: int(dirty[parts == k].sum()) for k, name in enumerate(names)}
    counted = {name: int((parts == k).sum()) for k, name in enumerate(names)}
    return LeakReport(tuple(names), threshold, exact, near, contaminated, counted, examples, listed)


def _exact_pairs(keys: np.ndarray, parts: np.ndarray, leaking: np.ndarray) -> list[tuple[int, int]]:
    """Every pair of rows with the same normalised text in two different parts (rows in input order)."""
    rows = np.flatnonzero(np.isin(keys, leaking))
    table = pd.DataFrame({"key": keys[rows], "part": parts[rows], "row": rows})
    both = table.merge(table, on="key", suffixes=("_a", "_b"))
    both = both[both["part_a"] < both["part_b"]].sort_values(["row_a", "row_b"], kind="stable")
    return list(zip(both["row_a"].tolist(), both["row_b"].tolist(), strict=True))


def _near_edges(texts: Sequence[str], parts: np.ndarray,
                params: MinHashParams) -> tuple[np.ndarray, np.ndarray]:
    """Verified near-duplicate edges (row pairs, Jaccard) among ``texts``, when the parts are at least two."""
    from ..dedup.minhash import default_workers, near_duplicate_pairs, signatures

    if len(texts) < 2 or len(np.unique(parts)) < 2:
        return np.empty((0, 2), np.int64), np.empty(0)
    params = params.resolve(texts)
    sigs = signatures(texts, params, workers=default_workers())
    pairs, sims, _ = near_duplicate_pairs(texts, sigs, params)
    return pairs, sims


def _crossing(parts: np.ndarray, keys: np.ndarray,
              edges: tuple[np.ndarray, np.ndarray]) -> list[tuple[int, int, float]]:
    """The edges between different parts that are not exact copies."""
    pairs, sims = edges
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    crossing = (parts[pairs[:, 0]] != parts[pairs[:, 1]]) & (keys[pairs[:, 0]] != keys[pairs[:, 1]])
    found = zip(pairs[crossing].tolist(), np.asarray(sims)[crossing].tolist(), strict=True)
    return [(int(i), int(j), float(sim)) for (i, j), sim in found]


def minhash_settings(config: AuditConfig) -> MinHashParams:
    """The near-duplicate check's MinHash settings, so "no leak" means what the audit means by a near duplicate."""
    from ..dedup.minhash import MinHashParams

    p = NearDupFeatureParams.of(config, "near_duplicates")
    return MinHashParams(p.shingle, p.ngram, p.num_perm, p.threshold, config.seed, p.max_chars)
