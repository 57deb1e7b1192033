"""Which members of a duplicate group are kept: chosen after every other check has spoken.

A group's kept member must be one the cleaning keeps anyway, or the group's question
vanishes: a first copy quarantined as a stale answer would take the correct copy it
displaced with it. So the choice, made once every finding's decision is known, goes:

1. **clean**: not quarantined for another reason (stale policy, PII dropped, suspected
   mislabel, label conflict); then, among those, not flagged (masked PII, a suspected
   mislabel kept or relabelled) when such a member exists;
2. **label**: the most common label among them (ties: the label that sorts first), or,
   for near-copies whose labels differ in content words (not a conflict), one member
   per label: they are different examples;
3. **source, not copy**: the earliest ``created_at`` (a known time before an unknown
   one); among equal times, the text that contains the others (the largest sum, over the other members, of
   the share of their word 3-grams it holds minus the share of its own they hold, when
   above 0.05: a Wikipedia source over the student answers pasted from it; word 3-grams
   as the near-duplicate check reads words, :func:`dqaudit.dedup.minhash.shingle_table`);
4. the first line.

A member already kept by another group (an exact-copy group inside a near-duplicate
cluster) is preferred, so overlapping groups agree; a group with any clean member
always keeps one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Container, Sequence
from dataclasses import dataclass

import numpy as np

from ..dedup import kernels
from ..dedup.minhash import MinHashParams, shingle_table

RULE = (
    "not quarantined or flagged by another check, then the most common label (near-copies whose labels "
    "differ in content: one per label), then the earliest created_at, then the text containing the others, "
    "then the first line"
)
#: Above this many distinct texts the containment step is skipped (it compares every pair).
MAX_CONTAINMENT_TEXTS = 20
#: Word 3-grams, hashed as the near-duplicate check hashes them (the permutation settings are unused here).
WORD_3GRAMS = MinHashParams("word", 3)


@dataclass(frozen=True, slots=True)
class Member:
    """One row of a duplicate group: its frame position and what the choice looks at."""

    row: int
    id: str
    label: str | None
    created_at: str | None
    line: int
    text: str


def keepers(
    members: Sequence[Member],
    *,
    barred: Collection[int] = (),
    flagged: Collection[int] = (),
    prefer: Container[int] = (),
    per_label: bool = False,
    shingles: ShingleTable | None = None,
) -> list[Member]:
    """The members to keep (steps 1-4 of the module doc); empty only when every member is barred.

    ``barred``: rows quarantined for another reason; ``flagged``: rows kept but flagged;
    ``prefer``: rows another group already keeps; ``shingles``: a :class:`ShingleTable` of
    the members' texts when many groups are settled (default: each group's own).
    """
    pool = [m for m in members if m.row not in barred]
    unflagged = [m for m in pool if m.row not in flagged]
    pool = unflagged or pool
    if not pool:
        return []
    by_label: dict[str, list[Member]] = {}
    for m in pool:
        by_label.setdefault("" if m.label is None else str(m.label), []).append(m)
    if per_label:
        return sorted((_pick(group, prefer, shingles) for group in by_label.values()), key=lambda m: m.line)
    counts = Counter({label: len(group) for label, group in by_label.items()})
    top = min(counts, key=lambda label: (-counts[label], label))
    return [_pick(by_label[top], prefer, shingles)]


def _pick(group: list[Member], prefer: Container[int], shingles: ShingleTable | None) -> Member:
    """One member of a single-label group: already kept elsewhere, earliest time, the source, first line."""
    group = [m for m in group if m.row in prefer] or group
    times = {m.created_at for m in group if m.created_at}
    if times:  # a known time beats an unknown one
        first = min(times)
        group = [m for m in group if m.created_at == first]
    source = _source(group, shingles)
    return source if source is not None else min(group, key=lambda m: m.line)


def _source(group: list[Member], shingles: ShingleTable | None) -> Member | None:
    """The member whose text contains the others (module doc, step 3), or None when none clearly does."""
    texts = list(dict.fromkeys(m.text for m in group))
    if not 1 < len(texts) <= MAX_CONTAINMENT_TEXTS:
        return None
    table = shingles if shingles is not None else ShingleTable(texts)
    score = dict(zip(texts, table.held_scores(texts).tolist(), strict=True))
    first: dict[str, int] = {}
    for m in group:
        first[m.text] = min(first.get(m.text, m.line), m.line)
    best = max(texts, key=lambda t: (score[t], -first[t]))
    if score[best] <= 0.05:
        return None
    return min((m for m in group if m.text == best), key=lambda m: m.line)


class ShingleTable:
    """The word 3-gram hash sets of many texts, shingled in one compiled pass, compared per group."""

    def __init__(self, texts: Sequence[str], workers: int = 1) -> None:
        distinct = list(dict.fromkeys(texts))
        self._flat, self._bounds = shingle_table(distinct, WORD_3GRAMS, workers)
        self._at = {text: k for k, text in enumerate(distinct)}

    def held_scores(self, texts: Sequence[str]) -> np.ndarray:
        """Per text: the share of each other text's 3-grams it holds minus the share of its own they hold."""
        docs = np.fromiter(map(self._at.__getitem__, texts), np.int64, len(texts))
        return kernels.held_scores(self._flat, self._bounds, docs)
