"""Exceptions dqaudit raises on purpose.

Every one of them is a one-line, user-facing message: the CLI prints it as
``Error: <message>`` and exits with code 2, without a traceback.

    DqauditError
    ├── InputError          a dataset or side file cannot be read (names file, line, field)
    ├── ConfigError         dqaudit.yaml or a flag is invalid (names the key)
    ├── RegistryError       unknown or duplicate checker name
    └── MissingDependency   an optional package is not installed (says what to pip install)
"""

from __future__ import annotations

from pathlib import Path


class DqauditError(Exception):
    """Base class: an expected failure with a message fit for the user."""


class InputError(DqauditError):
    """A file cannot be used as input; the message names the file and, when known, line and field."""

    def __init__(
        self, path: str | Path, message: str, *, line: int | None = None, field: str | None = None
    ) -> None:
        self.path, self.line, self.field = str(path), line, field
        where = self.path + (f":{line}" if line is not None else "")
        what = f" field '{field}':" if field else ""
        super().__init__(f"{where}:{what} {message}")


class ConfigError(DqauditError):
    """The configuration is invalid; the message names the key and what was expected."""


class RegistryError(DqauditError):
    """A checker name is unknown, or two checkers claim the same name."""


class MissingDependency(DqauditError):
    """An optional dependency is missing; the message carries the install command."""

    def __init__(self, package: str, extra: str | None, purpose: str) -> None:
        hint = f'pip install "dqaudit[{extra}]"' if extra else f"pip install {package}"
        super().__init__(f"{purpose} needs the '{package}' package: {hint}")
