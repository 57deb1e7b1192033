"""The checker contract.

Implementing a new checker is one module in :mod:`dqaudit.checkers` (the registry finds it)::

    class MyParams(CheckParams):
        threshold: float = Field(0.5, ge=0, le=1, description="...")

    class MyChecker(Checker[MyParams]):
        name = "my_check"
        description = "What it finds, in one line."
        cleaning = {"my_kind": "quarantine"}       # what `dqaudit split` does with its findings

        def check(self, ctx: AuditContext) -> CheckResult:
            ...
            return self.result(findings, metrics=..., penalties=[self.penalty("my_kind", hits, total)])

        points = {"my_kind": Points(2.0)}          # 2 points per 1 % of rows a my_kind finding touches

A checker reads shared derived data from :mod:`dqaudit.features`, never from another checker.

``check`` is pure: it reads ``ctx.dataset`` (and shared derived data through
``ctx``) and returns a frozen :class:`CheckResult`. Import heavy libraries inside
``check`` so listing checkers stays fast. Exceptions are caught by the pipeline
and reported as the check's ``error``; raise :class:`~dqaudit.errors.DqauditError`
for problems the user must fix (they stop the run with exit code 2).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, get_args, get_origin

from ..config import TEXT_COLUMNS, AuditConfig, CheckParams, Decision
from ..errors import MissingDependency
from ..findings import Chart, CheckResult, Finding, Gate, RegressionRule

if TYPE_CHECKING:
    from ..context import AuditContext


P = TypeVar("P", bound=CheckParams)


@dataclass(frozen=True)
class Points:
    """What one kind of finding costs the check's score: ``scale`` points per ``per``, at most ``cap``.

    Every checker declares its table (``Checker.points``) so the costs are data next to
    the check, listed together on the scoring page, instead of numbers inline in the code.
    """

    scale: float
    per: str = "1 % of rows"
    cap: float = math.inf

    def times(self, units: float) -> float:
        """``scale`` points for each of ``units`` (capped)."""
        return min(self.cap, self.scale * units)

    def share(self, affected: int, total: int) -> float:
        """``scale`` points per 1 % of ``total`` that ``affected`` rows are (0 for an empty dataset)."""
        return 0.0 if total <= 0 else self.times(100.0 * affected / total)


class Checker(ABC, Generic[P]):
    """One check; ``Checker[MyParams]`` makes ``MyParams`` its settings model (``self.params``)."""

    name: ClassVar[str]
    description: ClassVar[str]
    default_weight: ClassVar[float] = 1.0
    #: Off unless the config enables it (expensive or needs an optional extra).
    default_enabled: ClassVar[bool] = True
    #: Where it runs and is listed among the checks (lower first; plug-ins default after the built-ins).
    order: ClassVar[int] = 1000
    Params: ClassVar[type[CheckParams]] = CheckParams
    #: (import name, pip extra or package) pairs checked before the run.
    requires: ClassVar[tuple[tuple[str, str | None], ...]] = ()
    #: What ``dqaudit split`` does with the records of each kind of finding (else: by the finding's action).
    cleaning: ClassVar[dict[str, Decision]] = {}
    #: What each kind of finding costs (docs/scoring.md prints every checker's table).
    points: ClassVar[Mapping[str, Points]] = {}
    #: What ``dqaudit diff`` and ``--fail-on-regression`` watch for this check.
    regression_rules: ClassVar[tuple[RegressionRule, ...]] = ()
    #: The text columns (``text``, ``output``) it reads whole from ``ctx.frame``. A check that reads
    #: only some rows' texts (through ``ctx.texts``) or per-record features declares fewer, and
    #: when no selected check reads a column whole the Spark engine leaves it on the executors.
    reads_whole: ClassVar[frozenset[str]] = TEXT_COLUMNS

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for base in getattr(cls, "__orig_bases__", ()):
            if get_origin(base) is Checker and "Params" not in cls.__dict__:
                (params,) = get_args(base)
                if isinstance(params, type):
                    cls.Params = params

    def __init__(self, params: P) -> None:
        self.params: P = params

    @property
    def weight(self) -> float:
        return self.default_weight if self.params.weight is None else self.params.weight

    @classmethod
    def is_enabled(cls, params: CheckParams) -> bool:
        return params.enabled if "enabled" in params.model_fields_set else cls.default_enabled

    @classmethod
    def check_requirements(cls) -> None:
        for module, extra in cls.requires:
            if find_spec(module) is None:
                raise MissingDependency(module, extra, f"the '{cls.name}' check")

    def whole_columns(self, config: AuditConfig) -> frozenset[str]:
        """The text columns this run of the check reads whole: :attr:`reads_whole`; a check whose config
        can make it skip before reading (a plug-in's missing setting) returns none for such a run."""
        return self.reads_whole

    @abstractmethod
    def check(self, ctx: AuditContext) -> CheckResult:
        """Inspect ``ctx.dataset`` and return the result."""

    def masker(self, ctx: AuditContext) -> Callable[[str], str] | None:
        """A function that masks personal data in text shown in reports (the PII checker provides one)."""
        return None

    # --- helpers for subclasses -------------------------------------------------
    def finding(self, kind: str, severity: Any, message: str, action: Any,
                record_ids: Iterable[str] = (), **details: Any) -> Finding:
        return Finding(self.name, kind, severity, message, action, tuple(record_ids), 0.0, details)

    def result(self, findings: Sequence[Finding], *, penalties: Sequence[float] | None = None,
               score: float | None = None, metrics: dict[str, Any] | None = None,
               gates: Sequence[Gate] = (), charts: Sequence[Chart] = (),
               files: dict[str, str] | None = None, records: Mapping[str, Any] | None = None) -> CheckResult:
        """Assemble a result;
        with ``penalties`` (points per finding) the score comes from :func:`penalty_score`;
        ``records`` are this check's columns of records.parquet (:data:`dqaudit.records.COLUMNS`)."""
        if penalties is not None:
            score, findings = penalty_score(findings, penalties)
        return CheckResult(self.name, score, tuple(findings), metrics or {}, tuple(gates), tuple(charts),
                           files=files or {}, records=records or {})

    def penalty(self, charge: str, affected: int, total: int) -> float:
        """Points for a finding of ``charge`` (a key of :attr:`points`)
        touching ``affected`` of ``total`` rows."""
        return self.points[charge].share(affected, total)

    def gate(self, name: str, triggered: bool, message: str) -> Gate:
        return Gate(self.name, name, bool(triggered), message)

    def skip(self, reason: str, metrics: dict[str, Any] | None = None) -> CheckResult:
        return CheckResult(self.name, None, metrics=metrics or {}, skipped=reason)


def penalty_score(findings: Sequence[Finding], penalties: Sequence[float]) -> tuple[float, list[Finding]]:
    """Score = 100 * exp(-P / 100) for total penalty points P.

    Close to ``100 - P`` for small P, never negative, and strictly rising when any
    finding is fixed, so every finding's impact (the points regained if it alone
    were fixed) is positive and "what to fix first" can rank them all.
    """
    if len(findings) != len(penalties):
        raise ValueError("one penalty per finding")
    total = float(sum(penalties))
    score = 100.0 * math.exp(-total / 100.0)
    out = [_with_impact(f, 100.0 * math.exp(-(total - p) / 100.0) - score)
           for f, p in zip(findings, penalties, strict=True)]
    return round(score, 4), out


def _with_impact(finding: Finding, impact: float) -> Finding:
    return replace(finding, impact=round(impact, 4))

