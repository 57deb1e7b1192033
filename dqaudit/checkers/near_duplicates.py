"""``near_duplicates``: near-copies (MinHash LSH, verified by exact Jaccard), their label conflicts,
and optionally paraphrases (sentence embeddings).

Near-copies are the commonest dirt in support data (templates, re-sent requests,
pasted answers) and the main source of train/test leakage, so the clusters are
shared: :func:`near_duplicate_groups` gives every row a group id that the splitter
and the label-noise folds use whether or not this check runs.

Clusters made only of identical texts are the ``duplicates`` check's findings;
this check reports clusters holding at least two different texts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from ..cache import Cache
from ..findings import Action, CheckResult, Finding, Severity
from ..pipeline import AuditContext
from ..registry import register
from ..text import normalize, preview
from .base import Checker, CheckParams, share_penalty
from .duplicates import representative

RULE = "most common label, then earliest created_at, then first line"
CONTAINER_RULE = "the text containing the most others, then the longest, then first line"
#: Rows compared against all others at once in the semantic search (memory: block x rows floats).
SEMANTIC_BLOCK = 512


class NearDuplicatesParams(CheckParams):
    shingle: Literal["auto", "word", "char"] = Field(
        "auto", description="Shingles: word n-grams, character n-grams, or auto (char when the median text "
                            "has at most 30 words, else word).")
    ngram: int | None = Field(None, ge=1, le=16, description="n-gram size (default: char 4, word 3).")
    num_perm: int = Field(128, ge=8, le=1024, description="MinHash permutations.")
    threshold: float = Field(0.7, gt=0, lt=1,
                             description="Jaccard similarity at which two texts are near-duplicates.")
    max_chars: int = Field(20_000, ge=16,
                           description="Only the first max_chars characters of a text are shingled.")
    containment: float = Field(
        0.45, ge=0, le=1,
        description="Partial copies: a text of at least containment_min_words words whose word 3-grams "
                    "are at least this share contained in another text joins its cluster (0: off).")
    containment_min_words: int = Field(
        50, ge=3, description="Shorter texts take no part in the partial-copy search.")
    containment_max_ratio: float = Field(
        8.0, ge=1, description="A text is searched for in texts up to this many times its length.")
    max_conflicting_share: float = Field(
        0.05, ge=0, le=1,
        description="Blocking gate: share of rows in near-duplicate clusters with conflicting labels.")
    max_cluster_findings: int = Field(
        200, ge=1,
        description="Largest clusters reported one by one (per kind); the rest are summed up in one finding.")
    semantic: bool = Field(False,
                           description="Also find paraphrases with sentence embeddings (slow: ~300 texts/s).")
    semantic_model: str = Field("all-MiniLM-L6-v2",
                                description="sentence-transformers model (offline name or path).")
    semantic_threshold: float = Field(0.92, gt=0, le=1,
                                      description="Cosine similarity for semantic duplicates.")


@dataclass(frozen=True)
class NearDuplicates:
    """Everything the check found, shared by the run (``ctx.memo``).

    ``pairs``/``similarity``: verified edges (row positions, Jaccard); ``semantic_pairs``/
    ``cosine``: embedding edges not already near-copies; ``groups``: one id per row;
    ``contained_pairs``/``containment``: partial copies ``(contained, container)`` and their containment.
    """

    shingle: str
    ngram: int
    bands: int
    rows: int
    no_shingles: np.ndarray
    pairs: np.ndarray
    similarity: np.ndarray
    semantic_pairs: np.ndarray
    cosine: np.ndarray
    groups: np.ndarray
    candidates: int
    contained_pairs: np.ndarray = field(default_factory=lambda: np.empty((0, 2), np.int64))
    containment: np.ndarray = field(default_factory=lambda: np.empty(0))


def minhash_params(ctx: AuditContext):  # type: ignore[no-untyped-def]
    """The run's concrete MinHash settings (``auto`` resolved on the whole dataset)."""
    from ..dedup.minhash import MinHashParams

    p: NearDuplicatesParams = ctx.params("near_duplicates")
    params = MinHashParams(p.shingle, p.ngram, p.num_perm, p.threshold, ctx.seed, p.max_chars)
    return ctx.memo("near_duplicates.params", lambda: params.resolve(ctx.frame["text"].tolist()))


def near_duplicate_signatures(ctx: AuditContext) -> np.ndarray:
    """MinHash signature per row (uint32, ``(rows, num_perm)``), cached on disk by content hash."""
    from ..dedup.minhash import default_workers, signatures

    params = minhash_params(ctx)

    def compute() -> np.ndarray:
        texts = ctx.frame["text"].tolist()
        namespace = Cache.namespace("minhash", version=1, shingle=params.shingle, n=params.ngram,
                                    num_perm=params.num_perm, seed=params.seed, max_chars=params.max_chars)

        def missing(positions: np.ndarray) -> np.ndarray:
            description = f"MinHash signatures ({len(positions):,} texts)"
            with ctx.progress.task(description, total=len(positions)) as advance:
                sigs = signatures([texts[i] for i in positions], params, workers=default_workers())
                advance(len(positions))
            return sigs

        return ctx.cache.per_record(namespace, ctx.frame["text_hash"].tolist(), missing)

    return ctx.memo("near_duplicates.signatures", compute)


def near_duplicates(ctx: AuditContext) -> NearDuplicates:
    """Verified near-duplicate edges and clusters for ``ctx.frame``, computed once per run."""
    return ctx.memo("near_duplicates.analysis", lambda: _analyse(ctx))


def near_duplicate_groups(ctx: AuditContext) -> np.ndarray:
    """One int64 group id per ``ctx.frame`` row: rows of one near-duplicate cluster share it.

    Exact copies and (when ``semantic`` is on) paraphrases are in the same clusters;
    singletons and texts too short to shingle get their own id. Ids are numbered by
    first row, so they are stable for the same data and config.
    """
    return near_duplicates(ctx).groups


def _analyse(ctx: AuditContext) -> NearDuplicates:
    from ..dedup.minhash import EMPTY, clusters, near_duplicate_pairs

    params = minhash_params(ctx)
    texts = ctx.frame["text"].tolist()
    sigs = near_duplicate_signatures(ctx)
    no_shingles = (sigs == EMPTY).all(axis=1)
    with ctx.progress.task("Near-duplicate candidates and verification"):
        pairs, similarity, candidates = near_duplicate_pairs(texts, sigs, params)
    p: NearDuplicatesParams = ctx.params("near_duplicates")
    semantic_pairs, cosine = np.empty((0, 2), np.int64), np.empty(0)
    if p.semantic and len(texts) > 1:
        semantic_pairs, cosine = _semantic_pairs(ctx, p, ~no_shingles)
        known = set(map(tuple, pairs.tolist()))
        fresh = np.array([tuple(e) not in known for e in semantic_pairs.tolist()], dtype=bool)
        semantic_pairs, cosine = semantic_pairs[fresh].reshape(-1, 2), cosine[fresh]
    contained, containment = _partial_copies(ctx, p, sigs)
    groups = clusters(len(texts), np.concatenate([pairs, semantic_pairs.astype(np.int64), contained]))
    return NearDuplicates(params.shingle, params.ngram, params.bands, params.rows, no_shingles, pairs,
                          similarity, semantic_pairs, cosine, groups, candidates, contained, containment)


def _partial_copies(ctx: AuditContext, p: NearDuplicatesParams,
                    sigs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(contained, container)`` pairs and their containment (:mod:`dqaudit.dedup.containment`)."""
    from ..dedup.containment import ContainmentParams, partial_copies, same_shingles
    from ..dedup.minhash import default_workers

    if p.containment <= 0:
        return np.empty((0, 2), np.int64), np.empty(0)
    params = minhash_params(ctx)
    settings = ContainmentParams(p.containment, p.containment_min_words, p.containment_max_ratio)
    reuse = same_shingles(params, settings.minhash(params))
    with ctx.progress.task("Partial copies (containment)"):
        contained, containment, _ = partial_copies(ctx.frame["text"].tolist(), settings, params,
                                                   (lambda rows: sigs[rows]) if reuse else None,
                                                   default_workers())
    return contained, containment


def _semantic_pairs(ctx: AuditContext, p: NearDuplicatesParams,
                    live: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs with cosine >= threshold by blocked exact search: ``SEMANTIC_BLOCK`` rows against all at once."""
    from ..embeddings import embed_texts

    vectors = embed_texts(ctx, p.semantic_model)
    rows = np.flatnonzero(live)
    found_i, found_j, found_s = [], [], []
    with ctx.progress.task("Semantic duplicates", total=len(rows)) as advance:
        for lo in range(0, len(rows), SEMANTIC_BLOCK):
            block = rows[lo:lo + SEMANTIC_BLOCK]
            sims = vectors[block] @ vectors[rows].T
            bi, bj = np.nonzero(sims >= p.semantic_threshold - 1e-6)
            keep = rows[bj] > block[bi]
            found_i.append(block[bi[keep]])
            found_j.append(rows[bj[keep]])
            found_s.append(sims[bi[keep], bj[keep]])
            advance(len(block))
    if not found_i:
        return np.empty((0, 2), np.int64), np.empty(0)
    pairs = np.stack([np.concatenate(found_i), np.concatenate(found_j)], axis=1).astype(np.int64)
    return pairs, np.clip(np.concatenate(found_s).astype(float), -1.0, 1.0)


@register
class NearDuplicatesChecker(Checker):
    name = "near_duplicates"
    description = "Near-copies (MinHash LSH verified by exact Jaccard) and near-copies with different labels."
    default_weight = 2.0
    Params = NearDuplicatesParams

    def check(self, ctx: AuditContext) -> CheckResult:
        params: NearDuplicatesParams = self.params  # type: ignore[assignment]
        frame = ctx.frame
        n = len(frame)
        if n == 0:
            return self.skip("no records")
        found = near_duplicates(ctx)
        found_clusters = _cluster_table(frame, found.groups)
        clusters = found_clusters.table
        findings: list[Finding] = []
        penalties: list[float] = []
        semantic_only = _semantic_only(found)
        partial_groups = set(found.groups[found.contained_pairs[:, 0]].tolist())
        partial = clusters.index.isin(list(partial_groups))
        conflicting = clusters[clusters["labels"] > 1]
        plain = clusters[(clusters["labels"] <= 1) & ~partial]
        contained = clusters[(clusters["labels"] <= 1) & partial]
        for kind, table in (("conflicting_labels", conflicting), ("near_duplicates", plain),
                            ("contained_copies", contained)):
            limit = params.max_cluster_findings
            shown, folded = table.iloc[:limit], table.iloc[limit:]
            edge_range = _edge_ranges(found.groups, found.pairs, found.similarity, shown.index.to_numpy())
            if kind == "contained_copies":
                containment = _edge_ranges(found.groups, found.contained_pairs, found.containment,
                                           shown.index.to_numpy())
            for g, start, size in zip(shown.index, shown["start"], shown["size"], strict=True):
                rows = found_clusters.pos[start:start + size]
                members = frame.iloc[rows]
                low, high = edge_range.get(int(g), (None, None))
                basis = ("semantic_duplicates" if g in semantic_only
                         else "contained_copies" if g in partial_groups else "near_duplicates")
                if kind == "conflicting_labels":
                    findings.append(self._conflict_finding(members, low, high, basis))
                    penalties.append(share_penalty(len(rows), n, 3.0))
                elif kind == "contained_copies":
                    findings.append(self._contained_finding(members, rows, found, containment[int(g)],
                                                            (low, high)))
                    penalties.append(share_penalty(len(rows) - 1, n, 1.0))
                else:
                    findings.append(self._cluster_finding(basis, members, low, high, found, int(g)))
                    penalties.append(share_penalty(len(rows) - 1, n, 1.0))
            if len(folded):
                rows = np.sort(found_clusters.members(folded))
                conflict = kind == "conflicting_labels"
                partial_copies = kind == "contained_copies"
                findings.append(self.finding(
                    kind, Severity.HIGH if conflict else Severity.MEDIUM,
                    f"{len(folded):,} more " + ("clusters of partial copies" if partial_copies
                                               else "near-duplicate clusters") + f" ({len(rows):,} rows)"
                    + (" carry conflicting labels" if conflict else "; keep one per cluster"),
                    Action.REVIEW if conflict or partial_copies else Action.DROP,
                    frame["id"].iloc[rows].tolist(),
                    clusters=len(folded), rule=CONTAINER_RULE if partial_copies else RULE))
                penalties.append(share_penalty(len(rows) if conflict else len(rows) - len(folded), n,
                                               3.0 if conflict else 1.0))
        short = np.flatnonzero(found.no_shingles)
        if len(short):
            findings.append(self.finding(
                "too_short_to_compare", Severity.LOW,
                f"{len(short):,} texts have fewer than two words, so near-duplicate search "
                "cannot compare them",
                Action.REVIEW, frame["id"].iloc[short].tolist(), size=int(len(short))))
            penalties.append(0.0)
        conflicting_rows = int(conflicting["size"].sum())
        redundant = int((plain["size"] - 1).sum() + (contained["size"] - 1).sum())
        share = conflicting_rows / n
        gate = self.gate("conflicting_labels", share > params.max_conflicting_share,
                         f"{share:.1%} of rows are near-duplicates with conflicting labels "
                         f"(limit {params.max_conflicting_share:.0%})")
        metrics = {
            "shingles": f"{found.shingle} {found.ngram}-grams",
            "bands_x_rows": f"{found.bands}x{found.rows}",
            "candidate_pairs": found.candidates,
            "verified_pairs": int(len(found.pairs)),
            "semantic_pairs": int(len(found.semantic_pairs)),
            "contained_pairs": int(len(found.contained_pairs)),
            "contained_clusters": int(len(contained)),
            "clusters": int(len(clusters)),
            "rows_in_clusters": int(clusters["size"].sum()),
            "redundant_rows": redundant,
            "conflicting_clusters": int(len(conflicting)),
            "conflicting_rows": conflicting_rows,
            "too_short_rows": int(len(short)),
            "near_duplicate_share": round((redundant + conflicting_rows) / n, 4),
        }
        return self.result(findings, penalties=penalties, metrics=metrics, gates=[gate])

    def _conflict_finding(self, members: pd.DataFrame, low: float | None, high: float | None,
                          basis: str) -> Finding:
        split = members["label"].dropna().value_counts().sort_index().to_dict()
        ids = members["id"].tolist()
        return self.finding(
            "conflicting_labels", Severity.HIGH,
            f"{len(ids)} near-identical texts like “{preview(members['text'].iloc[0])}” carry "
            f"{len(split)} different labels: " + ", ".join(f"{k} ×{v}" for k, v in split.items()),
            Action.REVIEW, ids, label_split=split, size=len(ids), similarity_range=[low, high], basis=basis)

    def _cluster_finding(self, kind: str, members: pd.DataFrame, low: float | None,
                         high: float | None, found: NearDuplicates, group: int) -> Finding:
        ids = members["id"].tolist()
        keep = representative(members)
        text = preview(members["text"].iloc[0])
        if kind == "semantic_duplicates":
            cos = _semantic_range(found, group)
            return self.finding(
                kind, Severity.LOW, f"{len(ids)} paraphrases of “{text}” (cosine {cos[0]:.2f}–{cos[1]:.2f}); "
                f"keep {keep}", Action.REVIEW, ids, representative=keep, rule=RULE, size=len(ids),
                cosine_range=list(cos))
        span = f"Jaccard {low:.2f}–{high:.2f}" if low is not None else "identical shingles"
        return self.finding(
            kind, Severity.MEDIUM, f"{len(ids)} near-copies of “{text}” ({span}); keep {keep}",
            Action.DROP, ids, representative=keep, rule=RULE, size=len(ids), similarity_range=[low, high])


    def _contained_finding(self, members: pd.DataFrame, rows: np.ndarray, found: NearDuplicates,
                           containment: tuple[float, float],
                           jaccard: tuple[float | None, float | None]) -> Finding:
        ids = members["id"].tolist()
        container = _container(members, rows, found.contained_pairs)
        keep, text = members["id"].iloc[container], preview(members["text"].iloc[container])
        return self.finding(
            "contained_copies", Severity.MEDIUM,
            f"{len(ids) - 1} text{'' if len(ids) == 2 else 's'} largely contained in “{text}” "
            "or in each other "
            f"(containment {containment[0]:.2f}–{containment[1]:.2f}); keep {keep}", Action.REVIEW, ids,
            representative=keep, rule=CONTAINER_RULE, size=len(ids), containment_range=list(containment),
            similarity_range=list(jaccard))


def _container(members: pd.DataFrame, rows: np.ndarray, contained_pairs: np.ndarray) -> int:
    """Position in ``members`` (cluster rows ``rows``) of the representative: :data:`CONTAINER_RULE`."""
    holds = np.bincount(np.searchsorted(rows, contained_pairs[np.isin(contained_pairs[:, 1], rows), 1]),
                        minlength=len(rows))
    lengths = members["text"].str.len().to_numpy()
    return int(np.lexsort((np.arange(len(rows)), -lengths, -holds))[0])


@dataclass(frozen=True)
class _Clusters:
    """Clusters holding at least two different texts (``table``: size, distinct labels and ``start``,
    indexed by group, largest first); cluster ``g``'s rows are ``pos[start:start + size]``."""

    table: pd.DataFrame
    pos: np.ndarray

    def members(self, selection: pd.DataFrame) -> np.ndarray:
        """Row positions of the clusters in ``selection`` (rows of ``table``), cluster by cluster."""
        sizes = selection["size"].to_numpy(np.int64)
        offsets = selection["start"].to_numpy(np.int64) - (np.cumsum(sizes) - sizes)
        return self.pos[np.arange(int(sizes.sum())) + np.repeat(offsets, sizes)]


def _cluster_table(frame: pd.DataFrame, groups: np.ndarray) -> _Clusters:
    """The clusters with at least two different texts, largest first (ties: first row).

    "Different" means different after the ``duplicates`` check's normalisation, so a
    cluster of identical copies stays that check's finding.
    """
    sizes = np.bincount(groups)
    pos = np.flatnonzero(sizes[groups] > 1)
    if len(pos) == 0:
        empty = np.empty(0, np.int64)
        return _Clusters(pd.DataFrame({"size": empty, "labels": empty, "start": empty}), pos)
    pos = pos[np.argsort(groups[pos], kind="stable")]
    starts = np.flatnonzero(np.concatenate(([True], np.diff(groups[pos]) != 0)))
    cluster_sizes = np.diff(np.append(starts, len(pos)))
    member_of = np.repeat(np.arange(len(starts)), cluster_sizes)
    keep = _texts_differ(frame["text"].to_numpy()[pos], frame["text_hash"].to_numpy()[pos], member_of, starts)
    labels = pd.Series(frame["label"].to_numpy()[pos]).groupby(member_of, sort=True).nunique().to_numpy()
    table = pd.DataFrame({"size": cluster_sizes, "labels": labels, "start": starts},
                         index=groups[pos][starts])[keep]
    order = np.lexsort((table.index.to_numpy(), -table["size"].to_numpy()))
    return _Clusters(table.iloc[order], pos)


def _texts_differ(texts: np.ndarray, hashes: np.ndarray, member_of: np.ndarray,
                  starts: np.ndarray) -> np.ndarray:
    """Per cluster (members contiguous, cluster ``k`` from ``starts[k]``): do two members' normalised texts differ?

    Copies (equal raw text) never differ, so only each cluster's first text and its
    first different raw text are normalised; the rare clusters where those two
    normalise alike (case, width, spacing) have all their distinct texts compared.
    """
    raw = pd.factorize(hashes)[0]
    other = np.flatnonzero(raw != raw[starts][member_of])
    clusters, at = np.unique(member_of[other], return_index=True)
    second = other[at]
    differ = np.zeros(len(starts), bool)
    differ[clusters] = [normalize(texts[starts[k]]) != normalize(texts[j])
                        for k, j in zip(clusters.tolist(), second.tolist(), strict=True)]
    for k in clusters[~differ[clusters]].tolist():
        members = slice(starts[k], starts[k + 1] if k + 1 < len(starts) else len(texts))
        distinct = np.unique(raw[members], return_index=True)[1] + members.start
        differ[k] = len({normalize(texts[i]) for i in distinct.tolist()}) > 1
    return differ


def _edge_ranges(groups: np.ndarray, pairs: np.ndarray, sims: np.ndarray,
                 wanted: np.ndarray) -> dict[int, tuple[float, float]]:
    """(min, max) verified Jaccard of the edges inside each ``wanted`` cluster."""
    if len(pairs) == 0 or len(wanted) == 0:
        return {}
    edge_group = groups[pairs[:, 0]]
    inside = np.isin(edge_group, wanted)
    table = pd.DataFrame({"g": edge_group[inside], "s": sims[inside]}).groupby("g")["s"].agg(["min", "max"])
    return {int(g): (round(float(lo), 4), round(float(hi), 4)) for g, lo, hi in table.itertuples()}


def _semantic_only(found: NearDuplicates) -> set[int]:
    """Clusters held together by embedding edges alone (no verified MinHash edge inside them)."""
    if len(found.semantic_pairs) == 0:
        return set()
    with_minhash = set(found.groups[found.pairs[:, 0]].tolist()) if len(found.pairs) else set()
    return set(found.groups[found.semantic_pairs[:, 0]].tolist()) - with_minhash


def _semantic_range(found: NearDuplicates, group: int) -> tuple[float, float]:
    inside = found.groups[found.semantic_pairs[:, 0]] == group
    values = found.cosine[inside]
    return (round(float(values.min()), 4), round(float(values.max()), 4)) if len(values) else (1.0, 1.0)
