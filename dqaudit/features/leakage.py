"""Copies across train, val and test, checked independently of how the split was made.

:func:`cross_split_matches` sees only texts and part numbers: it recomputes exact and MinHash
near-duplicate pairs (with the near-duplicate check's settings, so "no leak" means what the audit
means by a near duplicate) and counts those that cross parts. ``dqaudit check-split`` runs it; the
``contamination`` check and the exporter's leakage re-check (:func:`written_leaks`) count with the
same :func:`leaks_by_key`, from keys and edges found where the texts are.
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
    from ..context import AuditContext
    from ..dedup.minhash import MinHashParams

SPLITS = ("train", "val", "test")
#: Near-duplicate edges: row pairs ``(m, 2)`` and their verified Jaccard ``(m,)``.
Edges = tuple[np.ndarray, np.ndarray]
#: ``search(rows, masked, mask, params)``: each row's exact key (int64) and, unless ``params`` is None, the
#: verified near-duplicate edges among ``rows`` (as positions in it), on their texts as written (``mask``
#: applied where ``masked``). :func:`written_copies` gives the run's.
CopySearch = Callable[[np.ndarray, np.ndarray, Callable[[str], str], "MinHashParams | None"],
                      tuple[np.ndarray, Edges]]
_NO_EDGES: Edges = (np.empty((0, 2), np.int64), np.empty(0))


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
    #: Every crossing pair (``kind``, ``similarity``, ``a`` and ``b`` with ``part`` and ``id``),
    #: when asked for.
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
                        list_pairs: bool = False) -> LeakReport:
    """Count exact (normalised text) and near (MinHash, verified Jaccard >= threshold) pairs across parts.

    Independent of how the split was made: it sees only texts and part numbers, and searches the
    near-duplicate edges among them here. The counting is :func:`leaks_by_key`'s.
    """
    parts = np.asarray(parts, dtype=np.int64)
    edges = _near_edges(texts, params) if _crossable(len(texts), parts) else _NO_EDGES
    return leaks_by_key(exact_keys(texts).view(np.int64), ids, parts, names, threshold=params.threshold,
                        edges=edges, texts=lambda rows: [texts[r] for r in rows], max_examples=max_examples,
                        list_pairs=list_pairs)


def written_leaks(ctx: AuditContext, rows: np.ndarray, masked: np.ndarray, mask: Callable[[str], str],
                  parts: np.ndarray, names: Sequence[str], *, params: MinHashParams) -> LeakReport:
    """The export's leakage re-check: :func:`cross_split_matches` on the kept ``rows`` (``parts``: their
    split) as they are written, ``mask`` applied where ``masked`` says.

    The keys and edges come from :func:`written_copies` (on Spark: from the executors); ``auto``
    shingles are resolved on the sample rows alone and the examples' texts fetched, so the driver
    reads only those texts wherever the engine keeps them.
    """
    from ..dedup.minhash import auto_sample

    rows, masked = np.asarray(rows, dtype=np.int64), np.asarray(masked, dtype=bool)

    def written(at: Sequence[int] | np.ndarray) -> list[str]:
        at = np.asarray(at, dtype=np.int64)
        return _written(ctx, rows[at], masked[at], mask)

    near = _crossable(len(rows), parts)
    if near and params.shingle == "auto":
        params = params.resolve(written(auto_sample(len(rows))))
    keys, edges = written_copies(ctx)(rows, masked, mask, params if near else None)
    ids = ctx.frame["id"].iloc[rows].astype(str).tolist()
    return leaks_by_key(keys, ids, parts, names, threshold=params.threshold, edges=edges, texts=written)


def written_copies(ctx: AuditContext) -> CopySearch:
    """The run's :data:`CopySearch`: here, on the texts from ``ctx.texts``; an engine that keeps the texts
    elsewhere provides its own under this function (Spark: on the executors; only keys and edges return)."""

    def search(rows: np.ndarray, masked: np.ndarray, mask: Callable[[str], str],
               params: MinHashParams | None) -> tuple[np.ndarray, Edges]:
        texts = _written(ctx, rows, masked, mask)
        return exact_keys(texts).view(np.int64), _NO_EDGES if params is None else _near_edges(texts, params)

    return ctx.memo(written_copies, lambda: search)


def _written(ctx: AuditContext, rows: np.ndarray, masked: np.ndarray,
             mask: Callable[[str], str]) -> list[str]:
    """The texts of ``rows`` as the export writes them: ``mask`` applied where ``masked``."""
    texts = ctx.texts(rows).tolist()
    return [mask(t) if m else t for t, m in zip(texts, masked.tolist(), strict=True)]


def leaks_by_key(keys: np.ndarray, ids: Sequence[str], parts: np.ndarray, names: Sequence[str], *,
                 threshold: float, edges: Edges,
                 texts: Callable[[np.ndarray], Sequence[str]], max_examples: int = 5,
                 list_pairs: bool = False) -> LeakReport:
    """The pairs across parts from each row's exact key (:func:`~dqaudit.features.exact.exact_keys`) and
    the verified near-duplicate ``edges``; ``texts(rows)`` is asked once, for the examples' rows.

    A row counts as contaminated when it has an exact copy, or a verified near-duplicate edge,
    in another part. Near-duplicate search links thousands of copies of one text to a
    single representative, so near pair counts are a lower bound; whether any pair
    crosses is exact (every cluster stays connected). ``list_pairs`` lists every counted pair
    (exact pairs: every cross-part pair of copies, as counted). The edges' order does not
    matter (each engine finds them in its own): near pairs are taken in row order.
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


def _crossable(rows: int, parts: np.ndarray) -> bool:
    """Whether a near-duplicate pair could cross parts: two rows at least, in two parts at least."""
    return rows >= 2 and len(np.unique(parts)) >= 2


def _near_edges(texts: Sequence[str], params: MinHashParams) -> Edges:
    """Verified near-duplicate edges (row pairs, Jaccard) among ``texts``."""
    from ..dedup.minhash import near_duplicate_pairs, signatures
    from ..parallel import default_workers

    params = params.resolve(texts)
    sigs = signatures(texts, params, workers=default_workers())
    pairs, sims, _ = near_duplicate_pairs(texts, sigs, params)
    return pairs, sims


def _crossing(parts: np.ndarray, keys: np.ndarray, edges: Edges) -> list[tuple[int, int, float]]:
    """The edges between different parts that are not exact copies, in row order."""
    pairs, sims = edges
    pairs = np.sort(np.asarray(pairs, dtype=np.int64).reshape(-1, 2), axis=1)
    crossing = (parts[pairs[:, 0]] != parts[pairs[:, 1]]) & (keys[pairs[:, 0]] != keys[pairs[:, 1]])
    pairs, sims = pairs[crossing], np.asarray(sims)[crossing]
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    found = zip(pairs[order].tolist(), sims[order].tolist(), strict=True)
    return [(int(i), int(j), float(sim)) for (i, j), sim in found]


def minhash_settings(config: AuditConfig) -> MinHashParams:
    """The near-duplicate check's MinHash settings,
    so "no leak" means what the audit means by a near duplicate."""
    from ..dedup.minhash import MinHashParams

    p = NearDupFeatureParams.of(config, "near_duplicates")
    return MinHashParams(p.shingle, p.ngram, p.num_perm, p.threshold, config.seed, p.max_chars)
