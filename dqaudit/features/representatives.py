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
   above 0.05: a Wikipedia source over the student answers pasted from it);
4. the first line.

A member already kept by another group (an exact-copy group inside a near-duplicate
cluster) is preferred, so overlapping groups agree; a group with any clean member
always keeps one.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Container, Sequence
from dataclasses import dataclass

RULE = (
    "not quarantined or flagged by another check, then the most common label (near-copies whose labels "
    "differ in content: one per label), then the earliest created_at, then the text containing the others, "
    "then the first line"
)
#: Above this many distinct texts the containment step is skipped (it compares every pair).
MAX_CONTAINMENT_TEXTS = 20
_WORD = re.compile(r"\w+")


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
) -> list[Member]:
    """The members to keep (steps 1-4 of the module doc); empty only when every member is barred.

    ``barred``: rows quarantined for another reason; ``flagged``: rows kept but flagged;
    ``prefer``: rows another group already keeps.
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
        return sorted((_pick(group, prefer) for group in by_label.values()), key=lambda m: m.line)
    counts = Counter({label: len(group) for label, group in by_label.items()})
    top = min(counts, key=lambda label: (-counts[label], label))
    return [_pick(by_label[top], prefer)]


def _pick(group: list[Member], prefer: Container[int]) -> Member:
    """One member of a single-label group: already kept elsewhere, earliest time, the source, first line."""
    group = [m for m in group if m.row in prefer] or group
    times = {m.created_at for m in group if m.created_at}
    if times:  # a known time beats an unknown one
        first = min(times)
        group = [m for m in group if m.created_at == first]
    source = _source(group)
    return source if source is not None else min(group, key=lambda m: m.line)


def _source(group: list[Member]) -> Member | None:
    """The member whose text contains the others (module doc, step 3), or None when none clearly does."""
    texts = {m.text for m in group}
    if not 1 < len(texts) <= MAX_CONTAINMENT_TEXTS:
        return None
    if len(texts) == 2:  # the common case, without the pair bookkeeping below (same arithmetic)
        a, b = texts
        one, two = _shingles(a), _shingles(b)
        common_ab = len(one & two)
        score_a = common_ab / max(len(two), 1) - common_ab / max(len(one), 1)  # score[b] is -score_a exactly
        best = a if score_a > 0.05 else b if -score_a > 0.05 else None
        return None if best is None else min((m for m in group if m.text == best), key=lambda m: m.line)
    shingles = {t: _shingles(t) for t in texts}
    sizes = {t: max(len(s), 1) for t, s in shingles.items()}
    common: dict[tuple[str, str], int] = {}  # |A & B|, once per pair: held(a, b) and held(b, a) share it
    for a in texts:
        for b in texts:
            if a != b and (b, a) not in common:
                common[a, b] = len(shingles[a] & shingles[b])

    def held(a: str, b: str) -> float:  # share of b's shingles that a holds
        return common.get((a, b), common.get((b, a), 0)) / sizes[b]

    score = {a: sum(held(a, b) - held(b, a) for b in texts if b != a) for a in texts}
    first = {}
    for m in group:
        first[m.text] = min(first.get(m.text, m.line), m.line)
    best = max(texts, key=lambda t: (score[t], -first[t]))
    if score[best] <= 0.05:
        return None
    return min((m for m in group if m.text == best), key=lambda m: m.line)


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.casefold())
    if len(words) < 3:
        return {tuple(words)}
    return set(zip(words, words[1:], words[2:]))
