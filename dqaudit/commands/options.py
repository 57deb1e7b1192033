"""What every command shares: one-line errors with exit code 2, and the options used by several commands.

Commands import this module, never :mod:`dqaudit.cli` (which imports the commands).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..errors import DqauditError
from ..text import one_line

if TYPE_CHECKING:
    from ..config import AuditConfig

F = TypeVar("F", bound=Callable[..., Any])


class CliError(click.ClickException):
    """A user-facing error: one line on stderr, exit code 2."""

    exit_code = 2


def handle_errors(func: F) -> F:
    """Map library errors to exit code 2; ``--debug`` (or DQAUDIT_DEBUG=1) lets the traceback through."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DqauditError as exc:
            if _debug():
                raise
            raise CliError(safe_message(str(exc))) from None  # messages quote data: keys, values, paths
        except OSError as exc:
            if _debug():
                raise
            raise CliError(
                safe_message(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))) from None

    return wrapper  # type: ignore[return-value]


def safe_message(text: str) -> str:
    """An error fit for the terminal: one line, no control characters, personal data masked."""
    from ..masking import masker_for

    return masker_for()(one_line(text))


def safe_lines(text: str) -> str:
    """Several lines of output, each made :func:`safe_message`-safe."""
    return "\n".join(safe_message(line) for line in text.splitlines())


def _debug() -> bool:
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx else None
    return bool(os.environ.get("DQAUDIT_DEBUG")) or bool(root and root.params.get("debug"))


def split_list(_: Any, __: Any, value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def dataset_name(_: Any, __: Any, value: str | None) -> str | None:
    """``--name``: checked here so that a bad name is a usage error before anything runs."""
    from ..config import check_name

    if value is None:
        return None
    try:
        return check_name(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def engine_options(func: F) -> F:
    """``--engine`` and ``--spark-master``, shared by ``audit`` and ``split``."""
    func = click.option("--spark-master", metavar="URL", help="Spark master (spark://host:7077, yarn, "
                        "local[4]…); implies --engine spark (default: engine.master, else local[*]).")(func)
    return click.option("--engine", type=click.Choice(["local", "spark"]), help="Where heavy stages run "
                        "(default: engine in dqaudit.yaml, local).")(func)


def with_budget(config: AuditConfig, seconds: float | None) -> AuditConfig:
    """``--max-seconds``: the same time budget for every check (``checks.<name>.max_seconds``)."""
    if seconds is None:
        return config
    from ..registry import available_checkers

    for name in available_checkers():
        config = config.with_check(name, max_seconds=seconds)
    return config


class FiniteRange(click.FloatRange):
    """A FloatRange that also refuses NaN and infinities (``nan`` passes every comparison as False)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


#: ``--seed``: numpy and the splitter take seeds in 0 <= seed < 2**32.
SEED = click.IntRange(0, 2**32 - 1)
