"""Which checkers exist: the built-ins plus any a third party registers through an entry point.

A plug-in package declares, in its pyproject.toml::

    [project.entry-points."dqaudit.checkers"]
    my_check = "my_package.checks:MyChecker"
"""

from __future__ import annotations

from functools import cache
from importlib import import_module
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, TypeVar

from .errors import RegistryError

if TYPE_CHECKING:
    from .checkers.base import Checker

ENTRY_POINT_GROUP = "dqaudit.checkers"
#: Built-in checker modules, in the order they run and are listed.
BUILTIN_MODULES = (
    "schema", "duplicates", "near_duplicates", "contamination", "text_quality", "balance",
    "agreement", "label_noise", "language", "stale_policy", "pii", "outputs", "output_style", "label_variants",
)

_REGISTRY: dict[str, type[Checker]] = {}
C = TypeVar("C", bound="type[Checker]")


def register(cls: C) -> C:
    """Class decorator: make a checker available by its ``name``; a duplicate name is an error."""
    name = cls.name
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise RegistryError(f"two checkers are named '{name}': {_REGISTRY[name].__module__} and {cls.__module__}")
    _REGISTRY[name] = cls
    return cls


def unregister(name: str) -> None:
    """Remove a checker (tests and plug-in reloads)."""
    _REGISTRY.pop(name, None)


@cache
def _load_plugins() -> None:
    for module in BUILTIN_MODULES:
        import_module(f"dqaudit.checkers.{module}")
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            register(entry.load())
        except Exception as exc:
            raise RegistryError(f"checker plug-in '{entry.name}' ({entry.value}) failed to load: {exc}") from None


def available_checkers() -> dict[str, type[Checker]]:
    """All registered checkers by name, built-ins first in pipeline order (whatever the import order)."""
    _load_plugins()
    order = {f"dqaudit.checkers.{module}": i for i, module in enumerate(BUILTIN_MODULES)}
    ranked = sorted(_REGISTRY.items(), key=lambda item: (order.get(item[1].__module__, len(order)), item[0]))
    return dict(ranked)


def get_checker(name: str) -> type[Checker]:
    checkers = available_checkers()
    if name not in checkers:
        raise RegistryError(f"unknown check '{name}' (known: {', '.join(checkers)})")
    return checkers[name]
