"""The result model every checker returns and every report reads.

Checkers are pure: ``check(ctx) -> CheckResult``. Results are frozen so the
JSON, Markdown and HTML writers (and the nightly diff) all read the same thing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal


class Severity(str, Enum):  # noqa: UP042 StrEnum would make str() and f-strings give the bare value
    """How much a finding matters for training; ``high`` findings sort first."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return ["info", "low", "medium", "high"].index(self.value)


class Action(str, Enum):  # noqa: UP042 StrEnum would make str() and f-strings give the bare value
    """What a person (or the exporter) should do about a finding."""

    DROP = "drop"
    REVIEW = "review"
    RELABEL = "relabel"
    MASK = "mask"
    ADD_DATA = "add-data"
    NONE = "none"


class Verdict(str, Enum):  # noqa: UP042 StrEnum would make str() and f-strings give the bare value
    READY = "READY"
    NEEDS_WORK = "NEEDS WORK"
    NOT_READY = "NOT READY"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: which records, what kind, how bad, what to do.

    ``impact`` is how many points the check's own score would rise if this
    finding were fixed; the readiness report ranks "what to fix first" by it.
    """

    check: str
    kind: str
    severity: Severity
    message: str
    action: Action
    record_ids: tuple[str, ...] = ()
    impact: float = 0.0
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Stable identity across runs: check, kind and the (sorted) records involved."""
        material = "\x1f".join([self.check, self.kind, *sorted(self.record_ids)])
        if not self.record_ids:
            material += "\x1f" + self.message
        return hashlib.blake2b(material.encode(), digest_size=8).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "kind": self.kind,
            "severity": self.severity.value,
            "message": self.message,
            "action": self.action.value,
            "record_ids": list(self.record_ids),
            "count": len(self.record_ids),
            "impact": round(self.impact, 4),
            "key": self.key,
            "details": jsonable(self.details),
        }


@dataclass(frozen=True, slots=True)
class Gate:
    """A blocking condition: when ``triggered`` the verdict is NOT READY whatever the mean."""

    check: str
    name: str
    triggered: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "name": self.name, "triggered": self.triggered, "message": self.message}


@dataclass(frozen=True, slots=True)
class Chart:
    """Data for a chart in the HTML report; the writer decides how to draw it.

    ``bar``: ``{"labels": [...], "values": [...]}``;
    ``heatmap``: ``{"rows": [...], "columns": [...], "values": [[...]]}``;
    ``line``: ``{"x": [...], "series": {name: [...]}}``.
    """

    kind: Literal["bar", "heatmap", "line"]
    title: str
    data: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "title": self.title, "data": jsonable(self.data)}


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What one checker concluded. ``score`` is 0-100 (100 = clean) or None when it did not score.

    A check that could not apply to this data (no labels, no annotations) sets
    ``skipped`` to the reason; a check that crashed sets ``error``. Neither counts
    in the readiness mean; an error also raises a blocking gate.
    """

    check: str
    score: float | None
    findings: tuple[Finding, ...] = ()
    metrics: Mapping[str, Any] = field(default_factory=dict)
    gates: tuple[Gate, ...] = ()
    charts: tuple[Chart, ...] = ()
    skipped: str | None = None
    error: str | None = None
    #: Extra files written beside the reports (name -> text), e.g. ``review_disputed.jsonl``.
    files: Mapping[str, str] = field(default_factory=dict)
    #: Per-record columns this check contributes to the per-record table (column name -> one value per
    #: row of the audited frame, in frame order: a numpy array, list or pandas Series).
    records: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.score is not None and not 0.0 <= self.score <= 100.0:
            raise ValueError(f"{self.check}: score {self.score} is outside 0-100")

    @property
    def status(self) -> str:
        return "error" if self.error else "skipped" if self.skipped else "ok"

Measure = Literal["drop", "rise", "new_findings", "new_records", "cells_below"]


@dataclass(frozen=True, slots=True)
class RegressionRule:
    """How ``dqaudit diff`` and ``--fail-on-regression`` watch one check between two runs.

    A checker declares its rules in ``regression_rules`` (``check`` is filled in by the registry).
    """

    name: str  #: its threshold's key in the ``regression:`` config section
    target: tuple[str, ...]  #: the metric (one dotted path) or the finding kinds watched
    measure: Measure
    noun: str  #: what the alert calls the change
    trend: str | None = None  #: metric of ``check`` drawn in the report's trend charts
    check: str = ""  #: "" for the run as a whole


def json_text(value: Any, default: Callable[[Any], Any] | None = None) -> str:
    """``value`` as indented UTF-8 JSON (orjson: a 1M-row report's ids in a fraction of ``json``'s time)."""
    import orjson

    return orjson.dumps(value, default=default, option=orjson.OPT_INDENT_2).decode()


def jsonable(value: Any) -> Any:
    """Turn numpy scalars, tuples, enums and mappings into plain JSON values (NaN becomes None)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [jsonable(v) for v in items]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return None
    if hasattr(value, "tolist"):
        return jsonable(value.tolist())
    return value
