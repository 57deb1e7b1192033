"""``output_style``: answers that do not look like the rest (style, length, language, templates, cut-offs).

A model copies the form of its training answers as faithfully as their content. One answer
style is what a support team wants back; a set that mixes operator prose with JSON payloads,
auto-replies, answers in another language than the question, unfilled ``{{name}}`` slots or
answers cut off mid-sentence teaches all of those too. Every finding names its records and
the set's dominant style. Style rules: :mod:`dqaudit.features.answer_style`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

import numpy as np
import pandas as pd
from pydantic import Field

from ..config import CheckParams
from ..context import AuditContext
from ..features.answer_style import STYLES, edge_sentences, is_truncated, placeholders, style_of
from ..features.language import (
    DETECTOR_VERSION,
    MIXED,
    UNDETERMINED,
    LanguageDetectionParams,
    detect,
    language_table,
    settings_from,
)
from ..features.lengths import output_lengths, robust_z
from ..findings import Action, CheckResult, Finding, Severity
from ..text import normalize, preview, text_hash
from .base import Checker, Points

UNLABELLED = "(all answers)"
#: Adds one finding: kind, severity, message, action, row positions, details (charged by ``points[kind]``).
Add = Callable[..., None]
#: Words of an answer that says it is automatic (English, Russian, Kazakh).
AUTO_REPLY = re.compile(r"automatic (?:reply|message|response)|auto-?reply|do not (?:reply|answer)|"
                        r"автоматическ(?:ое сообщение|ий ответ)|автоответ|"
                        r"не отвечайте на (?:него|это|данное)|"
                        r"автожауап|автоматты хабарлама|жауап бермеңіз")


class OutputStyleParams(CheckParams):
    max_minority_share: float = Field(
        0.2, gt=0, lt=1, description="A style other than the dominant one used by at most this share of the "
                                     "answers is reported (a larger share is a deliberate mix).")
    outlier_z: float = Field(
        3.5, gt=0, description="Robust z-score of an answer's log length, within its label, "
                               "beyond which it is a length outlier...")
    min_length_ratio: float = Field(
        3.0, ge=1, description="...and at least this many times longer or shorter "
                               "than the label's median answer.")
    min_group: int = Field(
        10, ge=3, description="Fewest answers of a label for its length outliers to be judged.")
    min_copies: int = Field(
        5, ge=2, description="The same answer to at least this many different questions, saying "
                             "it is automatic or scattered over 3+ labels, is an auto-reply; an "
                             "opening or closing sentence shared by this many answers of 3+ "
                             "labels is boilerplate.")
    min_boilerplate_words: int = Field(
        6, ge=2, description="Shortest shared opening/closing sentence (in words) "
                             "reported as boilerplate.")
    language: bool = Field(
        True, description="Compare each answer's language with its question's (the language "
                          "check's settings).")


class OutputStyleChecker(Checker[OutputStyleParams]):
    name = "output_style"
    description = ("Answers unlike the rest: another style (JSON, markdown, lists vs prose), length outliers "
                   "by label, another language than the question, auto-replies and boilerplate, unfilled "
                   "template slots, empty or cut-off answers.")
    default_weight = 1.0
    order = 125
    reads_whole = frozenset()  # every answer and the repeated answers' questions, fetched (ctx.texts)
    points = {
        "empty_outputs": Points(2.0),
        "mixed_styles": Points(0.5),
        "truncated_outputs": Points(1.0),
        "template_fragments": Points(1.0),
        "auto_replies": Points(1.0),
        "boilerplate": Points(0.25),
        "length_outliers": Points(0.5),
        "language_mismatch": Points(1.0),
    }

    def check(self, ctx: AuditContext) -> CheckResult:
        p = self.params
        frame = ctx.frame
        n = len(frame)
        present = output_lengths(ctx) >= 0  # a string: the answers' lengths are known without the answers
        if not present.any():
            return self.skip("no outputs: set fields.output (chat: messages[assistant]; prompt/completion: "
                             "completion)")
        rows = np.flatnonzero(present)
        outputs = np.full(n, None, dtype=object)
        outputs[rows] = ctx.texts(rows, "output")  # every answer is read, fetched at once
        ids = frame["id"].astype(str).to_numpy()
        empty = [r for r in rows.tolist() if not outputs[r].strip()]
        filled = np.array([r for r in rows.tolist() if outputs[r].strip()], dtype=np.int64)
        styles = pd.Series([style_of(outputs[r]) for r in filled.tolist()], index=filled, dtype=object)
        counts = styles.value_counts()
        dominant = min(counts.index, key=lambda s: (-counts[s], STYLES.index(s))) if len(counts) else "prose"
        found: list[tuple[Finding, float]] = []

        def add(kind: str, severity: Severity, message: str, action: Action, members: list[int],
                **details: object) -> None:
            finding = self.finding(kind, severity, message, action, [ids[r] for r in members],
                                   dominant_style=dominant, **details)
            found.append((finding, self.penalty(kind, len(members), n)))

        if empty:
            add("empty_outputs", Severity.HIGH, f"{len(empty)} answers are empty", Action.DROP, empty)
        for style, count in counts.items():
            share = count / len(filled)
            if style != dominant and share <= p.max_minority_share:
                members = styles.index[styles == style].tolist()
                add("mixed_styles", Severity.MEDIUM, f"{count} answers are {style} while {counts[dominant]} "
                    f"({counts[dominant] / len(filled):.0%}) are {dominant}", Action.REVIEW, members,
                    style=style, styles=counts.to_dict())
        truncated = [r for r in filled.tolist() if styles[r] in ("prose", "json")
                     and is_truncated(outputs[r])]
        if truncated:
            add("truncated_outputs", Severity.MEDIUM, f"{len(truncated)} answers stop mid-sentence, e.g. "
                f"“…{outputs[truncated[0]].strip()[-40:]}”", Action.REVIEW, truncated)
        slots = {r: placeholders(outputs[r]) for r in filled.tolist()}
        slotted = [r for r, found_slots in slots.items() if found_slots]
        if slotted:
            names = Counter(s for r in slotted for s in slots[r])
            add("template_fragments", Severity.MEDIUM,
                f"{len(slotted)} answers hold unfilled template slots: "
                + ", ".join(f"{s} ×{c}" for s, c in names.most_common(5)), Action.REVIEW, slotted,
                slots=dict(names.most_common(20)))
        self._repeats(ctx, p, filled, outputs, add)
        self._lengths(frame, p, filled, outputs, add)
        if p.language:
            self._languages(ctx, filled, outputs, add)
        findings = [f for f, _ in found]
        metrics = {"answers": int(len(rows)), "empty": len(empty), "dominant_style": dominant,
                   "styles": {str(k): int(v) for k, v in counts.items()},
                   "records_flagged": len({i for f in findings for i in f.record_ids})}
        return self.result(findings, penalties=[points for _, points in found], metrics=metrics)

    def _repeats(self, ctx: AuditContext, p: OutputStyleParams, filled: np.ndarray, outputs: np.ndarray,
                 add: Add) -> None:
        """Auto-replies (one answer to many different questions) and shared opening/closing sentences."""
        labels = ctx.frame["label"].to_numpy()
        by_answer: dict[str, list[int]] = {}
        for r in filled.tolist():
            by_answer.setdefault(normalize(outputs[r]), []).append(r)
        # fewer copies than min_copies cannot ask min_copies different questions: only the others' are read
        repeated = np.array([r for members in by_answer.values() if len(members) >= p.min_copies
                             for r in members],
                            dtype=np.int64)
        texts = np.full(len(labels), None, dtype=object)
        texts[repeated] = ctx.texts(repeated)
        replied: set[int] = set()
        for answer, members in by_answer.items():
            if len(members) < p.min_copies:
                continue
            questions = {normalize(texts[r]) for r in members}
            # one FAQ answer to many rewordings of one question is fine; one answer whatever was asked is not
            if len(questions) >= p.min_copies and (_scattered(members, labels) or AUTO_REPLY.search(answer)):
                replied.update(members)
                add("auto_replies", Severity.MEDIUM,
                    f"{len(questions)} different questions get the same answer "
                    f"“{preview(outputs[members[0]], 70)}”", Action.REVIEW, members,
                    answer=preview(outputs[members[0]], 200))
        for position, kind in ((0, "opening"), (1, "closing")):
            shared: dict[str, list[int]] = {}
            for r in filled.tolist():
                if r not in replied:
                    sentence = edge_sentences(outputs[r])[position]
                    if len(sentence.split()) >= p.min_boilerplate_words:
                        shared.setdefault(sentence, []).append(r)
            for sentence, members in shared.items():
                if len(members) >= p.min_copies and _scattered(members, labels):
                    add("boilerplate", Severity.LOW, f"{len(members)} answers share the {kind} “"
                        f"{preview(sentence, 70)}”", Action.REVIEW, members,
                        position=kind, sentence=preview(sentence, 200))

    def _lengths(self, frame: pd.DataFrame, p: OutputStyleParams, filled: np.ndarray, outputs: np.ndarray,
                 add: Add) -> None:
        """Answers far longer or shorter than the others of their label (robust z of log length)."""
        lengths = np.log1p(np.array([len(outputs[r]) for r in filled.tolist()], dtype=float))
        labels = frame["label"].to_numpy()[filled]
        keys = np.array([UNLABELLED if v is None else str(v) for v in labels], dtype=object)
        for label in sorted(set(keys.tolist())):
            inside = keys == label
            if inside.sum() < p.min_group:
                continue
            z = robust_z(lengths, inside)
            centre = np.median(lengths[inside])
            # log1p: close enough past a few chars
            far = np.abs(lengths - centre) >= np.log(p.min_length_ratio)
            members = filled[inside & (z > p.outlier_z) & far].tolist()
            if members:
                where = "" if label == UNLABELLED else f" of label '{label}'"
                typical = int(np.expm1(centre))
                add("length_outliers", Severity.LOW, f"{len(members)} answers{where} have an unusual length "
                    f"(typical {typical} characters)", Action.REVIEW, members,
                    label=None if label == UNLABELLED else label, typical_chars=typical)

    def _languages(self, ctx: AuditContext, filled: np.ndarray, outputs: np.ndarray, add: Add) -> None:
        """Answers in another language than their question (both detected, neither mixed nor undetermined)."""
        settings = settings_from(LanguageDetectionParams.of(ctx.config, "language"))
        asked = language_table(ctx)["lang"].to_numpy()
        answers = [outputs[r] for r in filled.tolist()]

        def run(positions: np.ndarray) -> np.ndarray:
            with ctx.progress.task("detecting answer languages", total=len(positions)) as advance:
                out = np.array([detect(answers[i], settings).lang for i in positions.tolist()], dtype="<U12")
                advance(len(positions))
            return out

        # cached per answer text, like the questions' table: a nightly re-run detects only new answers
        namespace = ctx.cache.namespace("answer-langid", v=DETECTOR_VERSION,
                                        **{k: getattr(settings, k) for k in settings.__slots__})
        answered = ctx.cache.per_record(namespace, [text_hash(a) for a in answers], run)
        pairs: Counter[tuple[str, str]] = Counter()
        members = []
        for r, a in zip(filled.tolist(), answered.tolist(), strict=True):
            q = asked[r]
            if q != a and not {q, a} & {MIXED, UNDETERMINED}:
                members.append(r)
                pairs[(q, a)] += 1
        if members:
            split = ", ".join(f"{q}→{a} ×{c}" for (q, a), c in pairs.most_common())
            add("language_mismatch", Severity.MEDIUM, f"{len(members)} answers are in another language than "
                f"their question ({split})", Action.REVIEW, members,
                pairs={f"{q}->{a}": c for (q, a), c in pairs.most_common()})


def _scattered(members: list[int], labels: np.ndarray) -> bool:
    """Text shared across topics, not one topic's content:
    three or more labels, none holding half the records."""
    spread = Counter(labels[r] for r in members if labels[r] is not None)
    return len(spread) >= 3 and max(spread.values()) < len(members) / 2
