"""dqaudit: is this text dataset ready to fine-tune on? Audit it, score it, export clean splits."""

from __future__ import annotations

__version__ = "0.1.0"

from .checkers.base import Checker, CheckParams  # noqa: E402
from .config import AuditConfig, load_config  # noqa: E402
from .data import Dataset, load_dataset  # noqa: E402
from .errors import ConfigError, DqauditError, InputError, MissingDependency, RegistryError  # noqa: E402
from .findings import Action, Chart, CheckResult, Finding, Gate, Severity, Verdict  # noqa: E402
from .pipeline import AuditContext, AuditResult, audit  # noqa: E402
from .registry import available_checkers, get_checker, register  # noqa: E402

__all__ = [
    "Action",
    "AuditConfig",
    "AuditContext",
    "AuditResult",
    "Chart",
    "CheckParams",
    "CheckResult",
    "Checker",
    "ConfigError",
    "Dataset",
    "DqauditError",
    "Finding",
    "Gate",
    "InputError",
    "MissingDependency",
    "RegistryError",
    "Severity",
    "Verdict",
    "__version__",
    "audit",
    "available_checkers",
    "get_checker",
    "load_config",
    "load_dataset",
    "register",
]
