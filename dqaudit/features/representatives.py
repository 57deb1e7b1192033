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

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..dedup import kernels
from ..dedup.minhash import MinHashParams, shingle_table
from ..parallel import default_workers

RULE = (
    "not quarantined or flagged by another check, then the most common label (near-copies whose labels "
    "differ in content: one per label), then the earliest created_at, then the text containing the others, "
    "then the first line"
)
#: Above this many distinct texts the containment step is skipped (it compares every pair).
MAX_CONTAINMENT_TEXTS = 20
#: Word 3-grams, hashed as the near-duplicate check hashes them (the permutation settings are unused here).
WORD_3GRAMS = MinHashParams("word", 3)


def kept_entries(
    group: np.ndarray,
    labels: Sequence[str | None],
    times: Sequence[str | None],
    lines: np.ndarray,
    texts: Sequence[str],
    *,
    barred: np.ndarray | None = None,
    flagged: np.ndarray | None = None,
    prefer: np.ndarray | None = None,
    per_label: bool = False,
) -> np.ndarray:
    """Which entries of many duplicate groups are kept (steps 1-4 of the module doc), all groups at once.

    Entry ``k`` is a member of group ``group[k]``, in entry order (ties go to the earlier entry);
    ``barred`` (quarantined for another reason), ``flagged`` (kept but flagged) and ``prefer`` (kept
    by another group) are per entry. Columnar, so settling 100,000s of groups costs no Python loop per
    group. Returns a boolean per entry: one kept per group (per label with ``per_label``), none where
    every member is barred.
    """
    n = len(group)
    none = np.zeros(n, bool)
    barred, flagged, prefer = (none if a is None else np.asarray(a, bool) for a in (barred, flagged, prefer))
    g = pd.factorize(np.asarray(group, np.int64))[0]
    pool = ~barred
    clean = pool & ~flagged
    pool = np.where(np.bincount(g[clean], minlength=n).astype(bool)[g], clean, pool)  # step 1
    label = _codes(["" if x is None else str(x) for x in labels])  # step 2
    if not per_label:
        at = np.flatnonzero(pool)
        counts = pd.DataFrame({"g": g[at], "label": label[at]}).value_counts(sort=False).reset_index(name="n")
        top = counts.sort_values(["g", "n", "label"], ascending=[True, False, True]).drop_duplicates("g")
        best = np.full(n, -1, np.int64)
        best[top["g"].to_numpy()] = top["label"].to_numpy()
        pool &= label == best[g]
    sub = pd.factorize(g * (int(label.max(initial=0)) + 1) + label)[0]  # one choice per (group, label)
    cand = pool & (prefer | ~np.bincount(sub[pool & prefer], minlength=n).astype(bool)[sub])
    known = cand & np.array([bool(t) for t in times], bool)  # step 3: a known time beats an unknown one
    when = _codes([t or "" for t in times])
    first = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first, sub[known], when[known])
    cand &= (first[sub] == np.iinfo(np.int64).max) | (known & (when == first[sub]))
    cand &= _sources(sub, cand, lines, texts)
    at = np.flatnonzero(cand)  # step 4: the first line (then the first entry) of what is left
    order = at[np.lexsort((at, np.asarray(lines)[at], sub[at]))]
    chosen = order[np.flatnonzero(np.diff(sub[order], prepend=-1))]
    kept = np.zeros(n, bool)
    kept[chosen] = True
    return kept


def _codes(values: list[str]) -> np.ndarray:
    """Codes in the strings' sorted order, so comparing codes compares the strings."""
    return pd.factorize(np.array(values, dtype=object), sort=True)[0].astype(np.int64)


def _sources(sub: np.ndarray, cand: np.ndarray, lines: np.ndarray, texts: Sequence[str]) -> np.ndarray:
    """Per entry: False where its group has a text containing the others (module doc, step 3) and this
    entry holds another text; True elsewhere. Only groups of 2 to :data:`MAX_CONTAINMENT_TEXTS` distinct
    texts are shingled."""
    at = np.flatnonzero(cand)
    out = np.ones(len(sub), bool)
    doc, distinct_texts = pd.factorize(np.array([texts[k] for k in at.tolist()], dtype=object))
    entries = pd.DataFrame({"sub": sub[at], "doc": doc, "line": np.asarray(lines)[at]})
    first_line = entries.groupby(["sub", "doc"], sort=False)["line"].min()
    # each group's texts, in entry order
    distinct = first_line.reset_index().sort_values("sub", kind="stable")
    size = distinct.groupby("sub", sort=False)["doc"].transform("size").to_numpy()
    distinct = distinct[(size > 1) & (size <= MAX_CONTAINMENT_TEXTS)]
    if not len(distinct):
        return out
    compared = distinct_texts[distinct["doc"].to_numpy()]
    table = ShingleTable(compared, workers=default_workers())
    offsets = np.flatnonzero(np.diff(distinct["sub"].to_numpy(), prepend=-1, append=-1))
    distinct = distinct.assign(score=table.held_scores(table.docs(compared), offsets))
    best = distinct.sort_values(["sub", "score", "line"],
                                ascending=[True, False, True]).drop_duplicates("sub")
    best = best[best["score"] > 0.05]
    source = np.full(len(sub), -1, np.int64)
    source[best["sub"].to_numpy()] = best["doc"].to_numpy()
    holder = np.full(len(sub), -1, np.int64)
    holder[at] = doc
    return (source[sub] < 0) | (holder == source[sub])


class ShingleTable:
    """The word 3-gram hash sets of many texts, shingled in one compiled pass, compared per group."""

    def __init__(self, texts: Sequence[str], workers: int = 1) -> None:
        distinct = list(dict.fromkeys(texts))
        self._flat, self._bounds = shingle_table(distinct, WORD_3GRAMS, workers)
        self._at = {text: k for k, text in enumerate(distinct)}

    def docs(self, texts: Sequence[str]) -> np.ndarray:
        """Each text's number in the table."""
        return np.fromiter(map(self._at.__getitem__, texts), np.int64, len(texts))

    def held_scores(self, docs: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Per text of each group ``docs[offsets[s]:offsets[s + 1]]``: the share of each other text's
        3-grams it holds minus the share of its own they hold."""
        return kernels.held_scores(self._flat, self._bounds, docs, np.asarray(offsets, np.int64))
