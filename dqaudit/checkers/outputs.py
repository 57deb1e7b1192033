"""``conflicting_outputs``: the same question (or a near-copy of it) with answers that disagree.

A generation set teaches a model what to say. When one question is answered "14 days"
in one record and "30 days" in another, the model learns to guess; this is the
generation-data twin of conflicting labels, and blocks the verdict the same way.
Inputs are grouped by the near-duplicate clusters (exact copies included); inside a
cluster, records whose questions themselves state different facts (another amount,
"not") are different questions and are not compared. Answers are compared by the rule
in :mod:`dqaudit.features.answers`; answers that differ only by greetings, sign-offs,
case or punctuation are one answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import Field

from ..config import CheckParams
from ..context import AuditContext
from ..features.answers import DEFAULT_MIN_SIMILARITY, Answer, Disagreement, compare, parse_answer
from ..features.lengths import output_lengths
from ..findings import Action, CheckResult, Finding, Severity
from ..pii import PiiSettings, mask_text
from ..text import preview
from .base import Checker, Points

KEEP_RULE = "current policy, then majority, then newest created_at, then first line"


#: Disagreement reasons that are contradictions; ``dissimilar`` alone is reported at medium severity and
#: does not count in the blocking gate.
FACTUAL = frozenset({"facts", "polarity"})


class ConflictingOutputsParams(CheckParams):
    min_similarity: float = Field(
        DEFAULT_MIN_SIMILARITY, ge=0, le=1,
        description="Answers to one question whose core token similarity is below this disagree "
                    "(facts and negations are compared whatever the similarity).")
    max_conflicting_share: float = Field(
        0.05, ge=0, le=1, description="Blocking gate: share of rows whose question has conflicting answers.")


@dataclass
class _AnswerGroup:
    """Rows giving one answer (consistent variants merged), and how it disagrees with the first group."""

    answer: Answer
    text: str
    rows: list[int]
    disagreement: Disagreement | None = None


def input_groups(ctx: AuditContext) -> np.ndarray:
    """One id per row: rows whose inputs are the same or near-copies share it.

    The near-duplicate clusters hold exact copies too, except for texts too short to
    shingle, which are grouped by their exact normalised text.
    """
    from ..features.exact import exact_groups
    from ..features.near_dups import near_duplicates

    found = near_duplicates(ctx)
    groups = found.groups.astype(np.int64).copy()
    short = np.flatnonzero(found.no_shingles)
    if len(short):
        exact = exact_groups(ctx).to_numpy()[short]
        groups[short] = groups.max(initial=-1) + 1 + pd.factorize(exact)[0]
    return groups


class ConflictingOutputsChecker(Checker[ConflictingOutputsParams]):
    name = "conflicting_outputs"
    description = "The same (or a near-copy of a) question with answers that disagree: other numbers, " \
                  "periods or dates, a negation, or another answer altogether."
    default_weight = 2.0
    order = 120
    cleaning = {"conflicting_outputs": "quarantine"}  # the records of the answers not kept (quarantine_ids)
    #: every row asking the question; a contradiction (facts, polarity) costs more than another wording
    points = {"contradicting": Points(3.0), "dissimilar": Points(1.0)}
    # answer lengths (a per-record feature); the compared rows' texts through ctx.texts
    reads_whole = frozenset()

    def check(self, ctx: AuditContext) -> CheckResult:
        params = self.params
        frame = ctx.frame
        n = len(frame)
        if n == 0:
            return self.skip("no records")
        lengths = output_lengths(ctx)
        if not (lengths > -2).any():
            return self.skip("no outputs: set fields.output (chat: messages[assistant]; prompt/completion: "
                             "completion)")
        has_output = lengths > 0
        groups = input_groups(ctx)
        sizes = np.bincount(groups[has_output], minlength=int(groups.max(initial=0)) + 1)
        candidates = np.flatnonzero(has_output & (sizes[groups] > 1))
        # only the rows compared are read: their questions and answers, fetched at once
        texts, outputs = np.full(n, None, dtype=object), np.full(n, None, dtype=object)
        texts[candidates], outputs[candidates] = ctx.texts(candidates), ctx.texts(candidates, "output")
        superseded = _superseded(ctx, candidates, outputs)
        mask = _masker(ctx)
        findings: list[Finding] = []
        penalties: list[float] = []
        parsed: dict[str, Answer] = {}

        def parse(value: str) -> Answer:
            if value not in parsed:
                parsed[value] = parse_answer(value)
            return parsed[value]

        ranked = candidates[np.lexsort((candidates, groups[candidates]))]
        for _, members in pd.Series(ranked).groupby(groups[ranked], sort=True):
            by_question: dict[tuple[tuple[str, ...], ...], list[int]] = {}
            for row in members.tolist():
                by_question.setdefault(parse(texts[row]).facts, []).append(row)
            for rows in by_question.values():
                answer_groups = _answer_groups(rows, outputs, parse, params.min_similarity)
                if len(answer_groups) < 2:
                    continue
                finding = self._finding(frame, texts[rows[0]], rows, answer_groups, superseded, mask,
                                        params.min_similarity)
                findings.append(finding)
                penalties.append(self.penalty(
                    "contradicting" if finding.severity is Severity.HIGH else "dissimilar", len(rows), n))
        conflicting_rows = sum(len(f.record_ids) for f in findings)
        # only factual contradictions block: other wordings of an answer are worth a review, not a verdict
        contradicting_rows = sum(len(f.record_ids) for f in findings if f.severity is Severity.HIGH)
        share = contradicting_rows / n
        gate = self.gate("conflicting_outputs", share > params.max_conflicting_share,
                         f"{share:.1%} of rows ask the same question with contradicting answers (other "
                         f"numbers, periods or dates, or a negation; "
                         f"limit {params.max_conflicting_share:.0%})")
        reasons = Counter(g["reason"] for f in findings for g in f.details["answers"] if g["reason"])
        metrics = {
            "rows_with_output": int(has_output.sum()),
            "rows_compared": int(len(candidates)),
            "conflicting_questions": len(findings),
            "conflicting_rows": conflicting_rows,
            "contradicting_rows": contradicting_rows,
            "reasons": dict(sorted(reasons.items())),
        }
        return self.result(findings, penalties=penalties, metrics=metrics, gates=[gate])

    def _finding(self, frame: pd.DataFrame, question: str, rows: list[int], answer_groups: list[_AnswerGroup],
                 superseded: np.ndarray | None, mask: Callable[[str], str], min_similarity: float) -> Finding:
        keep, rule = _choose(frame, answer_groups, superseded)
        kept = answer_groups[keep]
        ids = frame["id"].to_numpy()
        answers = []
        for k, group in enumerate(answer_groups):
            # stated against the kept answer; a group consistent with it still disagreed with the first one
            versus = None if k == keep else compare(kept.answer, group.answer, min_similarity) or \
                group.disagreement or compare(answer_groups[0].answer, group.answer, min_similarity)
            answers.append({
                "answer": mask(preview(group.text, 120)),
                "count": len(group.rows),
                "record_ids": [str(ids[r]) for r in group.rows],
                "keep": k == keep,
                "reason": versus.reason if versus else None,
                "detail": mask(versus.detail) if versus else None,
                "differing_spans": [[mask(a), mask(b)] for a, b in versus.spans] if versus else [],
            })
        others = [a for a in answers if not a["keep"]]
        question = mask(preview(question, 50))
        first = others[0]
        more = f" and {len(others) - 1} more" if len(others) > 1 else ""
        message = (f"{len(rows)} records of “{question}” get conflicting answers ({first['detail']}): keep "
                   f"“{mask(preview(kept.text, 50))}” ×{len(kept.rows)} ({rule}), "
                   f"not “{preview(first['answer'], 50)}”"
                   f" ×{first['count']}{more}")
        representative = min(kept.rows, key=lambda r: frame["line"].iat[r])
        # facts or polarity: the answers contradict each other; only "dissimilar": another wording or another
        # template, which low similarity alone cannot tell from a contradiction (see the checker's doc page)
        factual = any(a["reason"] in FACTUAL for a in others)
        return self.finding("conflicting_outputs", Severity.HIGH if factual else Severity.MEDIUM, message,
                            Action.REVIEW,
                            [str(ids[r]) for r in sorted(rows)], answers=answers, keep_rule=rule,
                            rule=KEEP_RULE, representative=str(ids[representative]), size=len(rows),
                            quarantine_ids=[str(ids[r]) for g in answer_groups if g is not kept
                                            for r in g.rows])


def _answer_groups(rows: list[int], outputs: np.ndarray, parse: Callable[[str], Answer],
                   min_similarity: float) -> list[_AnswerGroup]:
    """Distinct answers, most common first, merged into the first group each is consistent with."""
    variants: dict[str, list[int]] = {}
    answers: dict[str, tuple[Answer, str]] = {}
    for row in rows:
        answer = parse(outputs[row])
        variants.setdefault(answer.key, []).append(row)
        answers.setdefault(answer.key, (answer, outputs[row]))
    if len(variants) < 2:
        return []
    groups: list[_AnswerGroup] = []
    for key in sorted(variants, key=lambda k: (-len(variants[k]), variants[k][0])):
        answer, text = answers[key]
        for group in groups:
            if compare(group.answer, answer, min_similarity) is None:
                group.rows += variants[key]
                break
        else:
            versus = compare(groups[0].answer, answer, min_similarity) if groups else None
            groups.append(_AnswerGroup(answer, text, list(variants[key]), versus))
    return groups


def _choose(frame: pd.DataFrame, groups: list[_AnswerGroup],
            superseded: np.ndarray | None) -> tuple[int, str]:
    """Which answer to keep, and the rule that decided: current policy, majority, newest, first line."""
    candidates = list(range(len(groups)))
    rule = "first line"
    if superseded is not None:
        current = [k for k in candidates if not any(superseded[r] for r in groups[k].rows)]
        if current and len(current) < len(candidates):
            candidates, rule = current, "current policy"
    if len(candidates) > 1:
        top = max(len(groups[k].rows) for k in candidates)
        best = [k for k in candidates if len(groups[k].rows) == top]
        if len(best) < len(candidates):
            candidates, rule = best, "majority" if rule == "first line" else rule
    if len(candidates) > 1:
        times = frame["created_at"]
        newest = {k: max((str(times.iat[r]) for r in groups[k].rows if isinstance(times.iat[r], str)),
                         default="") for k in candidates}
        top_time = max(newest.values())
        best = [k for k in candidates if newest[k] == top_time]
        if top_time and len(best) < len(candidates):
            candidates, rule = best, "newest" if rule == "first line" else rule
    lines = frame["line"].to_numpy()
    return min(candidates, key=lambda k: min(lines[r] for r in groups[k].rows)), rule


def _superseded(ctx: AuditContext, rows: np.ndarray, outputs: np.ndarray) -> np.ndarray | None:
    """Per row: does the output quote a superseded policy (asked of ``rows``, whose ``outputs`` are
    filled; the others say no)? None when no policies file is configured."""
    from ..policies import PolicySettings, load_policies

    path = PolicySettings.of(ctx.config, "stale_policy").policies
    if path is None or not Path(path).is_file():
        return None
    terms = [term.regex for policy in load_policies(Path(path)) for term in policy.terms]
    quotes = np.zeros(len(outputs), dtype=bool)
    quotes[rows] = [isinstance(v, str) and any(t.search(v) for t in terms) for v in outputs[rows].tolist()]
    return quotes


def _masker(ctx: AuditContext) -> Callable[[str], str]:
    """Personal data in answers is masked in the finding whether or not the pii check runs."""
    types = tuple(PiiSettings.of(ctx.config, "pii").types)
    return lambda text: mask_text(text, types)
