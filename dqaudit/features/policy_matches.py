"""What the superseded policies' rules find in each record: the ``stale_policy`` check's per-record table.

Every content rule of ``policies.yaml`` (phrases, patterns, numbers, the current wording, the
deprecated templates' near-copies) is judged on one record's text and answer alone, so an engine
can compute the table batch by batch where the texts are (Spark: on the executors) and hand it
over under :func:`policy_matches`; the check then needs no text, only these events (each carries
its short quoted span). The one thing that is not per record is a pattern's time: a pattern is
abandoned at the record where it timed out or used up its ``pattern_budget``, and the events say
where (:class:`Stop`); :func:`read_matches` keeps the first stop in record order and drops what
was found after it, which is what one pass over the whole table finds.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from ..cache import Cache
from ..context import AuditContext
from ..policies import PolicySettings, Term, load_policies
from ..text import preview, text_hash

#: The fields scanned, in this order (a pattern that uses up its budget on the text skips the answer).
FIELDS = ("text", "output")
SPAN_CHARS = 60
TEMPLATE_SPAN_CHARS = 50
NUM_PERM = 128
SHINGLE = 3
#: MinHash candidates within this much of ``template_similarity`` are checked on exact shingle sets.
CANDIDATE_MARGIN = 0.15
_SEP = "\x00"
_CHUNK_CHARS = 1 << 16
_ANCHORS = ("^", "$", "\\A", "\\Z", "\\z", "\\G")


class PolicyMatchSettings(PolicySettings):
    """The part of the ``checks.stale_policy`` block that decides what matches."""

    template_similarity: float = Field(
        0.7, gt=0, le=1, description="Share of a deprecated template's word 3-grams a text must contain "
                                     "(MinHash estimate) to count as a near-copy.")
    pattern_timeout: float = Field(
        0.05, gt=0, le=5, description="Seconds one pattern may spend on one field before it is abandoned "
                                      "(guards against catastrophic backtracking).")
    pattern_budget: float = Field(
        10.0, gt=0, le=3600, description="Seconds one pattern may spend on the whole dataset in a run; "
                                         "past it the pattern is abandoned with a finding (a pattern just "
                                         "under the per-match timeout would otherwise cost hours on a large "
                                         "file). On Spark each batch of records has this budget.")


def policy_matches(ctx: AuditContext) -> pd.DataFrame:
    """One row per record, column ``events``: a JSON list of what the rules found in it ("" for nothing).

    Events: ``["match", policy, term, field, span]`` (the term's first match in that field),
    ``["current", policy]`` (the record quotes the policy's current wording),
    ``["template", policy, template, field, containment, span]`` and ``["stop", policy, term, field,
    budget_spent]`` (the term was abandoned at this record); policies, terms and templates are
    indices in the policies file's order. Memoised for the run.
    """
    return ctx.memo(policy_matches, lambda: _events(ctx))


def _events(ctx: AuditContext) -> pd.DataFrame:
    settings = PolicyMatchSettings.of(ctx.config, "stale_policy")
    frame = ctx.frame
    events: list[list[list[Any]]] = [[] for _ in range(len(frame))]
    policies = load_policies(Path(settings.policies)) if settings.policies is not None and len(frame) else []
    columns = {field: Column.of(frame[field]) for field in FIELDS} if policies else {}
    with ctx.progress.task("stale policies", total=len(policies)) as advance:
        for p, policy in enumerate(policies):
            for row in np.flatnonzero(_quotes(policy.current, columns, settings.pattern_timeout)):
                events[row].append(["current", p])
            for t, term in enumerate(policy.terms):
                if term.unsafe is not None:  # reported by the check, never run
                    continue
                budget = _Budget(settings.pattern_budget)
                for field, column in columns.items():
                    found, stopped = _scan(term, column, settings.pattern_timeout, budget)
                    for row, span in found.items():
                        events[row].append(["match", p, t, field, span])
                    if stopped is not None:
                        events[stopped].append(["stop", p, t, field, budget.spent])
                        if budget.spent:
                            break
            for k, template in enumerate(policy.policy.superseded.templates):
                for field, column in columns.items():
                    copies = _near_copies(ctx, field, template, column.values, settings.template_similarity)
                    for row, share in copies.items():
                        span = preview(column.values[row] or "", TEMPLATE_SPAN_CHARS)
                        events[row].append(["template", p, k, field, share, span])
            advance(1)
    encoded = [json.dumps(e, ensure_ascii=False) if e else "" for e in events]
    return pd.DataFrame({"events": pd.Series(encoded, index=frame.index, dtype=object)})


@dataclass(frozen=True, slots=True)
class Stop:
    """Where a term was abandoned: the first record in table order, and whether its budget ran out there."""

    row: int
    budget_spent: bool


@dataclass(frozen=True, slots=True)
class Matches:
    """:func:`policy_matches` decoded for the check, rows as positions in the table."""

    #: (policy, term, field) -> [(row, span)] in row order, none at or after the term's stop in that field
    found: dict[tuple[int, int, str], list[tuple[int, str]]]
    #: (policy, term, field) -> where the term stopped; an answer after a text's spent budget is not scanned
    stops: dict[tuple[int, int, str], Stop]
    #: (policy, template, field) -> [(row, containment, span)] in row order
    copies: dict[tuple[int, int, str], list[tuple[int, float, str]]]
    #: (policies, rows): the record quotes the policy's current wording
    quotes_current: np.ndarray


def read_matches(table: pd.DataFrame, policies: int) -> Matches:
    """Decode the events; a term's first stop in row order wins, and what was found after it is dropped.

    On one table that is what the scan found (it stopped there); on an engine's batches, each
    scanned with its own budget, it is what one pass would have reported given the same stops.
    """
    values = table["events"].to_numpy(dtype=object)
    found: dict[tuple[int, int, str], list[tuple[int, str]]] = defaultdict(list)
    stops: dict[tuple[int, int, str], Stop] = {}
    copies: dict[tuple[int, int, str], list[tuple[int, float, str]]] = defaultdict(list)
    quotes = np.zeros((policies, len(values)), dtype=bool)
    for row in np.flatnonzero(values != ""):
        row = int(row)
        for event in json.loads(values[row]):
            kind, p = event[0], event[1]
            if kind == "current":
                quotes[p, row] = True
            elif kind == "match":
                found[(p, event[2], event[3])].append((row, event[4]))
            elif kind == "template":
                copies[(p, event[2], event[3])].append((row, float(event[4]), event[5]))
            elif (p, event[2], event[3]) not in stops:  # rows come in order: the first stop
                stops[(p, event[2], event[3])] = Stop(row, bool(event[4]))
    for (p, t, field), stop in list(stops.items()):
        if field == FIELDS[0] and stop.budget_spent:  # one pass skips the answers once the text spent it
            for later in FIELDS[1:]:
                found.pop((p, t, later), None)
                stops.pop((p, t, later), None)
    kept = {key: [(row, span) for row, span in rows if key not in stops or row < stops[key].row]
            for key, rows in found.items()}
    return Matches({k: v for k, v in kept.items() if v}, stops, dict(copies), quotes)


@dataclass(frozen=True, slots=True)
class Column:
    """A text column prepared once for every pattern: rows in chunks of ~64k characters joined by NUL."""

    values: list[str | None]
    rows: list[int]
    chunks: list[tuple[list[int], str, np.ndarray]]

    @classmethod
    def of(cls, series: pd.Series) -> Column:
        values = [v if isinstance(v, str) and v else None for v in series]
        rows = [i for i, v in enumerate(values) if v is not None]
        groups: list[list[int]] = [[]]
        size = 0
        for row in rows:
            if size >= _CHUNK_CHARS:
                groups.append([])
                size = 0
            groups[-1].append(row)
            size += len(values[row] or "") + 1
        chunks = [(g, _SEP.join(values[r] or "" for r in g),
                   np.cumsum([0] + [len(values[r] or "") + 1 for r in g[:-1]])) for g in groups if g]
        return cls(values, rows, chunks)


class _Budget:
    """The seconds one pattern has left in this run; each match gets the smaller of this and its timeout."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.spent = False
        self.last_capped = False

    def timeout(self, per_match: float) -> float:
        """The timeout for the next call; raises TimeoutError (and marks the budget spent) if none is left."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            self.spent = True
            raise TimeoutError
        self.last_capped = left < per_match
        return min(per_match, left)

    def expired(self) -> bool:
        """After a TimeoutError: was it the budget (rather than the per-match timeout) that ran out?

        Decided by which limit the call was given, not by re-reading the clock: the regex
        engine's timer can fire a hair before ``time.monotonic()`` reaches the deadline.
        """
        self.spent = self.spent or self.last_capped or time.monotonic() >= self.deadline
        return self.spent


def _scan(term: Term, column: Column, timeout: float,
          budget: _Budget | None = None) -> tuple[dict[int, str], int | None]:
    """First match per row as a short span, and the row where the pattern timed out (then abandoned).

    One ``finditer`` per chunk is about 25 times faster than one ``search`` per row. A
    match that crosses a row boundary, a chunk that times out, and patterns with anchors
    (``^ $ \\A \\Z``, which mean the start or end of one text) fall back to one search per row.
    """
    budget = budget or _Budget(float("inf"))
    found: dict[int, str] = {}
    if any(anchor in term.regex.pattern for anchor in _ANCHORS):
        return _scan_rows(term, column, column.rows, timeout, found, budget)
    for rows, text, starts in column.chunks:
        try:
            matches = [(m.start(), m.end(), m.group())
                       for m in term.regex.finditer(text, timeout=budget.timeout(timeout))]
        except TimeoutError:
            if budget.expired():
                return found, rows[0]
            found, stopped = _scan_rows(term, column, rows, timeout, found, budget)
            if stopped is not None:
                return found, stopped
            continue
        crossing: set[int] = set()
        for start, end, span in matches:
            first = int(np.searchsorted(starts, start, side="right")) - 1
            last = int(np.searchsorted(starts, max(start, end - 1), side="right")) - 1
            if first == last:
                found.setdefault(rows[first], preview(span, SPAN_CHARS))
            else:
                crossing.update(rows[first:last + 1])
        found, stopped = _scan_rows(term, column, sorted(crossing - set(found)), timeout, found, budget)
        if stopped is not None:
            return found, stopped
    return found, None


def _scan_rows(term: Term, column: Column, rows: list[int], timeout: float,
               found: dict[int, str], budget: _Budget) -> tuple[dict[int, str], int | None]:
    for row in rows:
        try:
            match = term.regex.search(column.values[row] or "", timeout=budget.timeout(timeout))
        except TimeoutError:
            budget.expired()
            return found, row
        if match:
            found.setdefault(row, preview(match.group(), SPAN_CHARS))
    return found, None


def _quotes(terms: tuple[Term, ...], columns: dict[str, Column], timeout: float) -> np.ndarray:
    """Rows whose text or answer quotes any of ``terms`` (the policy's current wording)."""
    mask = np.zeros(len(columns["text"].values), dtype=bool)
    for term in terms:
        for column in columns.values():
            mask[list(_scan(term, column, timeout)[0])] = True
    return mask


def _near_copies(ctx: AuditContext, field: str, template: str, values: list[str | None],
                 threshold: float) -> dict[int, float]:
    """Rows containing at least ``threshold`` of the template's word 3-grams, with that share.

    Containment, not Jaccard: an agent's answer often wraps the template in a greeting
    and a sign-off, which lowers Jaccard but leaves containment near 1. MinHash finds
    the candidates (containment derived from the Jaccard estimate J and the set sizes,
    |A∩T| = J(|A|+|T|)/(1+J)); the exact shingle sets then confirm them.
    """
    from ..dedup.minhash import estimate_jaccard, shingle_sets, signatures

    params = _minhash_params(ctx)
    mine = shingle_sets([template], params)[0]
    if len(mine) == 0:
        return {}
    sketches = _sketches(ctx, field, values)
    jaccard = np.asarray(estimate_jaccard(sketches[:, :-1], signatures([template], params)[0]), dtype=float)
    sizes = sketches[:, -1].astype(float)
    estimate = jaccard * (sizes + len(mine)) / (1.0 + jaccard) / len(mine)
    present = np.array([v is not None for v in values], dtype=bool)
    candidates = np.flatnonzero(present & (estimate >= threshold - CANDIDATE_MARGIN))
    sets = shingle_sets([values[r] or "" for r in candidates], params)
    share = [len(np.intersect1d(s, mine, assume_unique=True)) / len(mine) for s in sets]
    return {int(r): round(c, 2) for r, c in zip(candidates, share, strict=True) if c >= threshold}


def _minhash_params(ctx: AuditContext) -> Any:
    from ..dedup.minhash import MinHashParams

    return MinHashParams(shingle="word", n=SHINGLE, num_perm=NUM_PERM, seed=ctx.seed)


def _sketches(ctx: AuditContext, field: str, values: list[str | None]) -> np.ndarray:
    """MinHash signature plus shingle count (last column) per row, cached by content hash."""
    from ..dedup.minhash import shingle_sets, signatures

    params = _minhash_params(ctx)
    keys = [text_hash(v or "") for v in values]

    def rows(texts: list[str]) -> np.ndarray:
        sizes = np.array([len(s) for s in shingle_sets(texts, params)], dtype=np.uint32)
        return np.column_stack([signatures(texts, params), sizes]).astype(np.uint32)

    def compute() -> np.ndarray:
        namespace = Cache.namespace("stale_policy.minhash", version=1, num_perm=NUM_PERM, n=SHINGLE,
                                    seed=ctx.seed, max_chars=params.max_chars)
        return ctx.cache.per_record(namespace, keys, lambda todo: rows([values[i] or "" for i in todo]))

    return ctx.memo((_sketches, field), compute)
