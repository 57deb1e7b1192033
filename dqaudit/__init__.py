"""dqaudit: is this text dataset ready to fine-tune on? Audit it, score it, export clean splits.

The public names below are imported on first use, so ``dqaudit --help`` does not
pay for pandas and friends.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Action": "findings", "Chart": "findings", "CheckResult": "findings", "Finding": "findings",
    "Gate": "findings", "Severity": "findings", "Verdict": "findings",
    "AuditConfig": "config", "CheckParams": "config", "load_config": "registry",
    "Checker": "checkers.base", "Points": "checkers.base",
    "Dataset": "data", "load_dataset": "data",
    "ConfigError": "errors", "DqauditError": "errors", "InputError": "errors",
    "MissingDependency": "errors", "RegistryError": "errors",
    "AuditContext": "context", "AuditResult": "pipeline", "audit": "api", "split": "api",
    "available_checkers": "registry", "get_checker": "registry", "register": "registry",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'dqaudit' has no attribute {name!r}")


if TYPE_CHECKING:
    from .api import audit, split
    from .checkers.base import Checker, Points
    from .config import AuditConfig, CheckParams
    from .context import AuditContext
    from .data import Dataset, load_dataset
    from .errors import ConfigError, DqauditError, InputError, MissingDependency, RegistryError
    from .findings import Action, Chart, CheckResult, Finding, Gate, Severity, Verdict
    from .pipeline import AuditResult
    from .registry import available_checkers, get_checker, load_config, register
