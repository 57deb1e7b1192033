"""What got worse between two recorded runs of a dataset.

Each regression rule (:func:`rules`) is declared by its checker: the check, the metric or finding
kinds it watches, how it measures the change, and the name of its threshold in the
``regression:`` config section (``null`` turns the rule off). A rule regresses when
its change exceeds the threshold. Findings are matched across runs by
``Finding.key``, by the content hash of their records, and by any shared record
content, so reordered rows and regenerated ids are never "new", and a
conflicting-label group that merely gained a copy is not a new group.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .config import RegressionConfig
from .findings import Measure, RegressionRule
from .registry import regression_rules
from .text import preview

if TYPE_CHECKING:
    from .history import Run, StoredFinding
    from .reports.html import HtmlSection

#: An example finding quoted in an alert: long enough for a quoted text and the labels after it.
EXAMPLE_CHARS = 240

#: The run-level rule; every other rule is declared by its checker (``Checker.regression_rules``).
SCORE_RULE = RegressionRule("score_drop", ("readiness",), "drop", "readiness")


def rules() -> tuple[RegressionRule, ...]:
    """Every regression rule: the readiness drop, then each checker's, in pipeline order."""
    return (SCORE_RULE, *regression_rules())


@dataclass(frozen=True, slots=True)
class Outcome:
    """One rule applied to two runs; ``regressed`` when ``change`` exceeds ``threshold``."""

    rule: str
    check: str
    measure: Measure
    noun: str
    before: float | None
    after: float | None
    change: float
    threshold: float
    examples: tuple[str, ...] = ()

    @property
    def regressed(self) -> bool:
        return self.change > self.threshold

    def describe(self) -> str:
        if self.measure == "drop" and self.change > 0:
            return (f"{self.noun} fell {self.before:g} -> {self.after:g} "
                    f"(-{self.change:.4g}, limit {self.threshold:g})")
        if self.measure == "drop":
            return f"{self.noun} {self.before:g} -> {self.after:g} (no drop)"
        if self.measure == "rise":
            return (f"{self.noun} rose {self.before:g} -> {self.after:g} "
                    f"(+{self.change:g}, limit {self.threshold:g})")
        text = f"{self.change:g} {self.noun} (limit {self.threshold:g})"
        return text + (f", e.g. {self.examples[0]}" if self.examples else "")

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "check": self.check, "before": self.before, "after": self.after,
                "change": round(self.change, 6), "threshold": self.threshold, "regressed": self.regressed,
                "message": self.describe(), "examples": list(self.examples)}


@dataclass(frozen=True, slots=True)
class KindChange:
    check: str
    kind: str
    before: int
    after: int
    new: int
    resolved: int


@dataclass(frozen=True, slots=True)
class Diff:
    """Everything that changed from ``before`` to ``after`` (two runs of one dataset)."""

    before: Run
    after: Run
    outcomes: tuple[Outcome, ...]
    kinds: tuple[KindChange, ...]

    @property
    def regressions(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.regressed)

    def to_dict(self) -> dict[str, Any]:
        names = list(dict.fromkeys([*self.before.checks, *self.after.checks]))
        return {
            "previous_run": self.before.summary(),
            "run": self.after.summary(),
            "regressed": bool(self.regressions),
            "regressions": [o.to_dict() for o in self.regressions],
            "rules": [o.to_dict() for o in self.outcomes],
            "config_changed": self.before.config_hash != self.after.config_hash,
            "checks": {n: {"before": _score(self.before, n), "after": _score(self.after, n)} for n in names},
            "findings": [{"check": k.check, "kind": k.kind, "before": k.before, "after": k.after,
                          "new": k.new, "resolved": k.resolved} for k in self.kinds],
        }

    def alert(self, report: str | None = None) -> str:
        """A few plain-text lines for a chat message or an e-mail."""
        b, a = self.before, self.after
        lines = [f"dqaudit: {len(self.regressions)} regression(s) in {a.name} "
                 f"since run {b.id} ({b.started_at})"]
        lines += [f"- {o.check + ': ' if o.check else ''}{o.describe()}" for o in self.regressions]
        lines.append(f"rows {b.rows} -> {a.rows}, readiness {b.readiness:.1f} -> {a.readiness:.1f}, "
                     f"verdict {b.verdict} -> {a.verdict} (run {a.id})")
        if b.config_hash != a.config_hash:
            lines.append("note: the configuration changed between the two runs")
        if report:
            lines.append(f"report: {report}")
        return "\n".join(lines)


def tracked_kinds() -> set[tuple[str, str]]:
    """(check, kind) pairs whose record content hashes the history must keep for the rules."""
    kinds = {"new_findings", "new_records"}
    return {(r.check, kind) for r in rules() if r.measure in kinds for kind in r.target}


def compare(before: Run, after: Run, config: RegressionConfig | None = None) -> Diff:
    """Apply every enabled rule to two runs (with findings, as :meth:`HistoryStore.run` loads them)."""
    config = config or RegressionConfig()
    outcomes = []
    for rule in rules():
        threshold = getattr(config, rule.name)
        if threshold is None:
            continue
        outcome = _MEASURES[rule.measure](rule, before, after, float(threshold))
        if outcome is not None:
            outcomes.append(outcome)
    return Diff(before, after, tuple(outcomes), _kind_changes(before, after))


# --- measures ----------------------------------------------------------------------------------------------


def _drop(rule: RegressionRule, before: Run, after: Run, threshold: float) -> Outcome | None:
    old, new = _metric(before, rule), _metric(after, rule)
    if old is None or new is None:
        return None
    return Outcome(rule.name, rule.check, rule.measure, rule.noun, round(old, 4), round(new, 4),
                   max(0.0, old - new), threshold)


def _rise(rule: RegressionRule, before: Run, after: Run, threshold: float) -> Outcome | None:
    old, new = _metric(before, rule), _metric(after, rule)
    if old is None or new is None:
        return None
    return Outcome(rule.name, rule.check, rule.measure, rule.noun, old, new, max(0.0, new - old), threshold)


def _new_findings(rule: RegressionRule, before: Run, after: Run, threshold: float) -> Outcome | None:
    if not _ran(before, rule.check) or not _ran(after, rule.check):
        return None
    old, new = _of(before, rule), _of(after, rule)
    fresh = unmatched(new, old)
    return Outcome(rule.name, rule.check, rule.measure, rule.noun, len(old), len(new), len(fresh), threshold,
                   tuple(preview(f.message, EXAMPLE_CHARS) for f in fresh[:3]))


def _new_records(rule: RegressionRule, before: Run, after: Run, threshold: float) -> Outcome | None:
    if not _ran(before, rule.check) or not _ran(after, rule.check):
        return None
    old, new = _of(before, rule), _of(after, rule)
    seen = frozenset().union(*(f.hashes for f in old))
    flagged = frozenset().union(*(f.hashes for f in new))
    fresh = flagged - seen
    examples = tuple(preview(f.message, EXAMPLE_CHARS) for f in new if f.hashes & fresh)[:3]
    return Outcome(rule.name, rule.check, rule.measure, rule.noun, len(seen), len(flagged), len(fresh),
                   threshold, examples)


def _cells_below(rule: RegressionRule, before: Run, after: Run, threshold: float) -> Outcome | None:
    """Cells (label, required language) at or above ``min_per_cell`` before and under it now."""
    if not _ran(before, rule.check) or not _ran(after, rule.check):
        return None
    old, new = before.checks[rule.check].metrics, after.checks[rule.check].metrics
    minimum = _number(new.get("min_per_cell"))
    if minimum is None:
        return None
    shares = new.get("expected_shares") or {}
    required = new.get("expected_languages")  # reports before expected languages came from the data lack it
    if required is None:
        required = [c for c in new.get("languages", []) if not shares or shares.get(c, 0) > 0]
    was, now = old.get(rule.target[0]) or {}, new.get(rule.target[0]) or {}
    fallen = [f"label '{label}' {lang}: {was[label][lang]} -> {now[label].get(lang, 0)} (minimum {minimum:g})"
              for label in sorted(was.keys() & now.keys()) for lang in required
              if was[label].get(lang, 0) >= minimum > now[label].get(lang, 0)]
    below = [sum(1 for counts in cov.values() for lang in required if counts.get(lang, 0) < minimum)
             for cov in (was, now)]
    return Outcome(rule.name, rule.check, rule.measure, rule.noun, below[0], below[1], len(fallen), threshold,
                   tuple(fallen[:3]))


_MEASURES: dict[str, Callable[[RegressionRule, Run, Run, float], Outcome | None]] = {
    "drop": _drop, "rise": _rise, "new_findings": _new_findings, "new_records": _new_records,
    "cells_below": _cells_below,
}


def unmatched(findings: Iterable[StoredFinding], others: Iterable[StoredFinding]) -> list[StoredFinding]:
    """Findings with no counterpart in ``others`` of the same check and kind.

    A counterpart has the same record ids (``key``), the same record contents
    (``content_key``), or shares a record's content (an aggregated finding whose
    records changed, a group that gained a copy).
    """
    keys, contents, hashes = set(), set(), set()
    for f in others:
        keys.add((f.check, f.kind, f.key))
        contents.add((f.check, f.kind, f.content_key))
        hashes.update((f.check, f.kind, h) for h in f.hashes)
    return [f for f in findings
            if (f.check, f.kind, f.key) not in keys and (f.check, f.kind, f.content_key) not in contents
            and not any((f.check, f.kind, h) in hashes for h in f.hashes)]


def _kind_changes(before: Run, after: Run) -> tuple[KindChange, ...]:
    """New and resolved findings per (check, kind), for the checks that ran on both sides."""
    def by_kind(run: Run) -> dict[tuple[str, str], list[StoredFinding]]:
        out: dict[tuple[str, str], list[StoredFinding]] = {}
        for f in run.findings:
            out.setdefault((f.check, f.kind), []).append(f)
        return out

    old, new = by_kind(before), by_kind(after)
    changes = []
    for check, kind in sorted(old.keys() | new.keys()):
        if not (_ran(before, check) and _ran(after, check)):
            continue  # a check missing on one side has nothing to say about new or resolved findings
        a, b = old.get((check, kind), []), new.get((check, kind), [])
        changes.append(KindChange(check, kind, len(a), len(b), len(unmatched(b, a)), len(unmatched(a, b))))
    return tuple(changes)


def _of(run: Run, rule: RegressionRule) -> list[StoredFinding]:
    return [f for f in run.findings if f.check == rule.check and f.kind in rule.target]


def _ran(run: Run, check: str) -> bool:
    summary = run.checks.get(check)
    return summary is not None and summary.status == "ok"


def _metric(run: Run, rule: RegressionRule) -> float | None:
    if not rule.check:
        return run.readiness
    if not _ran(run, rule.check):
        return None
    return _number(_lookup(run.checks[rule.check].metrics, rule.target[0]))


def _lookup(metrics: Mapping[str, Any], path: str) -> Any:
    node: Any = metrics
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _score(run: Run, check: str) -> float | None:
    summary = run.checks.get(check)
    return None if summary is None or summary.score is None else round(summary.score, 2)


# --- report ------------------------------------------------------------------------------------------------


def trend_series(runs: list[Run]) -> dict[str, Any]:
    """Line-chart data: readiness and every check's score across ``runs`` (oldest first)."""
    names = list(dict.fromkeys(n for r in runs for n, c in r.checks.items() if c.score is not None))
    series: dict[str, list[float | None]] = {"readiness": [round(r.readiness, 2) for r in runs]}
    series.update({n: [_score(r, n) for r in runs] for n in names})
    return {"x": [_label(r) for r in runs], "series": series, "max": 100, "x_title": "run",
            "y_title": "score (0-100)"}


def metric_series(runs: list[Run]) -> dict[str, dict[str, Any]]:
    """One line chart per metric the rules draw (``check.metric`` -> chart data), where runs have it."""
    out = {}
    for rule in rules():
        if rule.trend is None:
            continue
        values = [_number(_lookup(r.checks[rule.check].metrics, rule.trend)) if rule.check in r.checks
                  else None for r in runs]
        if any(v is not None for v in values):
            out[f"{rule.check}.{rule.trend}"] = {"x": [_label(r) for r in runs],
                                                 "series": {rule.trend: values}, "x_title": "run",
                                                 "y_title": rule.trend}
    return out


def _label(run: Run) -> str:
    return f"#{run.id} {run.started_at[5:16].replace('T', ' ')}"


def html_section(runs: list[Run], diff: Diff | None) -> HtmlSection:
    """report.html's "Run history" block: the trend charts and, when there is a previous run, the diff."""
    from markupsafe import Markup, escape

    from .reports.charts import line_chart
    from .reports.html import HtmlSection

    parts = [Markup("<h3>Readiness and check scores</h3>"), line_chart(trend_series(runs))]
    for name, data in metric_series(runs).items():
        parts += [Markup("<h3>{}</h3>").format(name), line_chart(data)]
    if diff is None:
        parts.append(Markup("<p class='muted'>First recorded run of this dataset: "
                            "nothing to compare yet.</p>"))
    else:
        head = Markup("<h3>Changes since run {} ({})</h3>").format(diff.before.id, diff.before.started_at)
        parts.append(head)
        if diff.regressions:
            parts.append(Markup("<ul class='gate'>{}</ul>").format(Markup("").join(
                Markup("<li><b>{}</b> {}</li>").format(o.check or "readiness", o.describe())
                for o in diff.regressions)))
        else:
            parts.append(Markup("<p>No regression.</p>"))
        rows = Markup("").join(
            Markup("<tr><td>{}</td><td>{}</td><td class='num'>{}</td><td class='num'>{}</td>"
                   "<td class='num'>{}</td><td class='num'>{}</td></tr>").format(
                k.check, k.kind, k.before, k.after, k.new, k.resolved) for k in diff.kinds)
        parts.append(Markup("<table><tr><th>check</th><th>finding kind</th><th>before</th><th>after</th>"
                            "<th>new</th><th>resolved</th></tr>{}</table>").format(rows))
    return HtmlSection("Run history", Markup("").join(escape(p) for p in parts))
