"""datatrove's signature stage reading dqaudit's shingle hashes (hex tokens) instead of shingling the text.

A module of its own so datatrove's worker processes can import it (see ``near_dup_peers.py``).
"""

from __future__ import annotations

import numpy as np
from datatrove.pipeline.dedup.minhash import MinhashDedupSignature
from datatrove.utils.word_tokenizers import WordTokenizer


class Tokens(WordTokenizer):
    """The tokens are the shingles already: split on spaces (no spaCy model needed)."""

    def word_tokenize(self, text: str) -> list[str]:
        return text.split()

    def sent_tokenize(self, text: str) -> list[str]:
        return [text]

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        return [(0, len(text))]


class TokenSignature(MinhashDedupSignature):
    """``MinhashDedupSignature`` whose shingles are the text's hex tokens, one shingle each."""

    def __init__(self, output_folder: str, config: object) -> None:
        super().__init__(output_folder, config=config, language=Tokens())  # type: ignore[arg-type]

    def get_shingles(self, text: str) -> np.ndarray:
        return np.array([int(token, 16) for token in text.split()], dtype=np.uint64).reshape((-1, 1))
