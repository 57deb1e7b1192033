"""Near-duplicate detection: vectorised MinHash signatures, LSH banding, verified clusters."""

from .minhash import (
    EMPTY,
    MinHashParams,
    candidate_pairs,
    clusters,
    estimate_jaccard,
    exact_jaccard_pairs,
    nearest_reference,
    shingle_hashes,
    shingle_sets,
    signatures,
)

__all__ = [
    "EMPTY", "MinHashParams", "candidate_pairs", "clusters", "estimate_jaccard", "exact_jaccard_pairs",
    "nearest_reference", "shingle_hashes", "shingle_sets", "signatures",
]
