"""Near-copies: MinHash signatures, LSH candidates verified by exact Jaccard, optional paraphrases
(sentence embeddings), and the clusters they form.

The clusters are shared: :func:`near_duplicate_groups` gives every row a group id that the
splitter, the label-noise folds, the contamination check and the engines use, whether or not the
``near_duplicates`` check runs. The Spark engine computes the same :class:`NearDuplicates` on its
executors and provides it (:meth:`~dqaudit.context.AuditContext.provide` under :func:`near_duplicates`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from ..cache import Cache
from ..config import CheckParams
from ..context import AuditContext

if TYPE_CHECKING:  # dedup imports numba: loaded when a run needs it, not when checkers are listed
    from ..dedup.containment import ContainmentParams
    from ..dedup.minhash import MinHashParams

class NearDupFeatureParams(CheckParams):
    """How near-copies are found (the ``checks.near_duplicates`` block): shared by the check, the
    splitter, label-noise folds and the engines, whether or not the check runs."""

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
    semantic: bool = Field(False,
                           description="Also find paraphrases with sentence embeddings (slow: ~300 texts/s).")
    semantic_model: str = Field("all-MiniLM-L6-v2",
                                description="sentence-transformers model (offline name or path).")
    semantic_threshold: float = Field(0.92, gt=0, le=1,
                                      description="Cosine similarity for semantic duplicates.")

    def containment_settings(self) -> ContainmentParams | None:
        """The partial-copy search's settings (None when ``containment`` is 0: off), for both engines."""
        from ..dedup.containment import ContainmentParams

        if self.containment <= 0:
            return None
        return ContainmentParams(self.containment, self.containment_min_words, self.containment_max_ratio)


#: Rows compared against all others at once in the semantic search (memory: block x rows floats).
SEMANTIC_BLOCK = 512


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


def minhash_params(ctx: AuditContext) -> MinHashParams:
    """The run's concrete MinHash settings (``auto`` resolved on the dataset's sample rows)."""
    from ..dedup.minhash import MinHashParams, auto_sample

    p = NearDupFeatureParams.of(ctx.config, "near_duplicates")
    params = MinHashParams(p.shingle, p.ngram, p.num_perm, p.threshold, ctx.seed, p.max_chars)

    def resolve() -> MinHashParams:
        sample = ctx.texts(auto_sample(len(ctx.frame))).tolist() if params.shingle == "auto" else []
        return params.resolve(sample)

    return ctx.memo(minhash_params, resolve)


def near_duplicate_signatures(ctx: AuditContext) -> np.ndarray:
    """MinHash signature per row (uint32, ``(rows, num_perm)``), cached on disk by content hash."""
    from ..dedup.minhash import signatures
    from ..parallel import default_workers

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

    return ctx.memo(near_duplicate_signatures, compute)


def near_duplicates(ctx: AuditContext) -> NearDuplicates:
    """Verified near-duplicate edges and clusters for ``ctx.frame``, computed once per run."""
    return ctx.memo(near_duplicates, lambda: _analyse(ctx))


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
    p = NearDupFeatureParams.of(ctx.config, "near_duplicates")
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


def _partial_copies(ctx: AuditContext, p: NearDupFeatureParams,
                    sigs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(contained, container)`` pairs and their containment (:mod:`dqaudit.dedup.containment`)."""
    from ..dedup.containment import partial_copies, same_shingles
    from ..dedup.minhash import word_counts
    from ..parallel import default_workers

    settings = p.containment_settings()
    if settings is None:
        return np.empty((0, 2), np.int64), np.empty(0)
    params = minhash_params(ctx)
    minhash = settings.minhash(params)
    reuse = same_shingles(params, minhash)
    texts = ctx.frame["text"].tolist()
    hashes = ctx.frame["text_hash"].to_numpy()
    # words per text depend on the text and max_chars only (the normalisation is the kernels')
    namespace = Cache.namespace("shingle_words", version=1, max_chars=minhash.max_chars)

    def words_of(rows: np.ndarray) -> np.ndarray:
        """Cached per text: every night would otherwise count the words of every long text again."""
        return ctx.cache.per_record(namespace, hashes[rows].tolist(), lambda todo: word_counts(
            [texts[i] for i in rows[todo]], minhash, default_workers()))

    with ctx.progress.task("Partial copies (containment)"):
        contained, containment, _ = partial_copies(texts, settings, params,
                                                   (lambda rows: sigs[rows]) if reuse else None,
                                                   default_workers(), words_of)
    return contained, containment


def _semantic_pairs(ctx: AuditContext, p: NearDupFeatureParams,
                    live: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs with cosine >= threshold by blocked exact search: ``SEMANTIC_BLOCK`` rows against all at once."""
    from .embeddings import embed_texts

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


@dataclass(frozen=True)
class Representatives:
    """One representative row per near-duplicate cluster and the cluster's label counts, from an engine.

    The Spark engine builds this from what its executors computed (the cluster roots,
    whose record is the cluster's first, and the counts of each label per cluster) so
    the probability model is fitted on one row per cluster instead of every record.
    """

    cluster: np.ndarray  # per row of the frame: its cluster's index
    row: np.ndarray  # per cluster: the row of its representative (its first record: lowest position)
    counts: pd.DataFrame  # sparse given-label counts: columns cluster, label, count

    def label_counts(self, given: pd.Series, checked: pd.Series, code: dict[str, int]) -> np.ndarray:
        """Clusters x classes counts of the checked labels, from the given labels' counts.

        Only rows whose checked label differs from the given one (an annotators' consensus)
        are corrected on the driver; labels outside ``code`` (unlabelled, too-small classes)
        are not counted.
        """
        table = np.zeros((len(self.row), len(code)), dtype=np.int64)
        kept = self.counts[self.counts["label"].isin(code)]
        np.add.at(table, (kept["cluster"].to_numpy(), kept["label"].map(code).to_numpy()), kept["count"])
        changed = np.flatnonzero((given.fillna("\0") != checked.fillna("\0")).to_numpy())
        for before, after, c in zip(
            given.iloc[changed], checked.iloc[changed], self.cluster[changed], strict=True
        ):
            if before in code:
                table[c, code[before]] -= 1
            if after in code:
                table[c, code[after]] += 1
        return table
