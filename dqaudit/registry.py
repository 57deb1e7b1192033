"""Which checkers exist, and the configuration validated against them.

Built-ins are discovered: every module in :mod:`dqaudit.checkers` (but ``base``) is imported and
each concrete :class:`~dqaudit.checkers.base.Checker` subclass defined in it is registered, so a
new checker is one file (plus its test). Third parties register theirs through an entry point;
a plug-in package declares, in its pyproject.toml::

    [project.entry-points."dqaudit.checkers"]
    my_check = "my_package.checks:MyChecker"

Checkers run and are listed by ``order``, then name. The registry sits above the checkers, so
checkers never import it; this is also where the ``checks:`` blocks of a config are validated by
each checker's own ``Params`` model (:func:`load_config`, :func:`check_params`).
"""

from __future__ import annotations

import inspect
import pkgutil
from collections.abc import Mapping
from dataclasses import replace
from functools import cache
from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from . import checkers as builtin_checkers
from .checkers.base import Checker
from .config import AuditConfig, CheckParams, Decision, describe, read_config
from .config import parse_config as parse_sections
from .errors import ConfigError, RegistryError
from .findings import RegressionRule
from .yamlio import YamlDoc

ENTRY_POINT_GROUP = "dqaudit.checkers"

_REGISTRY: dict[str, type[Checker]] = {}


def register(cls: type[Checker]) -> type[Checker]:
    """Make a checker available by its ``name`` (plug-ins, tests); a duplicate name is an error."""
    name = cls.name
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise RegistryError(f"two checkers are named '{name}': "
                            f"{_REGISTRY[name].__module__} and {cls.__module__}")
    _REGISTRY[name] = cls
    return cls


def unregister(name: str) -> None:
    """Remove a checker (tests and plug-in reloads)."""
    _REGISTRY.pop(name, None)


def builtin_modules() -> list[str]:
    """Every module of :mod:`dqaudit.checkers` that can hold checkers (all but ``base``)."""
    return sorted(f"{builtin_checkers.__name__}.{info.name}"
                  for info in pkgutil.iter_modules(builtin_checkers.__path__)
                  if info.name != "base" and not info.name.startswith("_"))


@cache
def _load_plugins() -> None:
    for module_name in builtin_modules():
        module = import_module(module_name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Checker) and cls.__module__ == module_name and not inspect.isabstract(cls):
                register(cls)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            register(entry.load())
        except Exception as exc:
            raise RegistryError(
                f"checker plug-in '{entry.name}' ({entry.value}) failed to load: {exc}") from None


def available_checkers() -> dict[str, type[Checker]]:
    """All registered checkers by name, in pipeline order (``order``, then name)."""
    _load_plugins()
    return dict(sorted(_REGISTRY.items(), key=lambda item: (item[1].order, item[0])))


def get_checker(name: str) -> type[Checker]:
    checkers = available_checkers()
    if name not in checkers:
        raise RegistryError(f"unknown check '{name}' (known: {', '.join(checkers)})")
    return checkers[name]


def check_params(config: AuditConfig, name: str, doc: YamlDoc | None = None) -> CheckParams:
    """The validated ``Params`` of checker ``name`` (defaults where the config is silent)."""
    try:
        return get_checker(name).Params(**config.checks.get(name, {}))
    except ValidationError as exc:
        raise ConfigError(describe(exc, prefix=("checks", name), doc=doc)) from None


def validate_checks(config: AuditConfig, doc: YamlDoc | None = None) -> AuditConfig:
    """Every ``checks:`` block names an installed checker and fits its ``Params``;
    errors point at the line."""
    known = available_checkers()
    for name in config.checks:
        if name not in known:
            where = f"{doc.where(('checks',))}: " if doc else ""
            raise ConfigError(f"{where}checks: unknown check '{name}' (known: {', '.join(known)})")
        check_params(config, name, doc)
    return config


def load_config(path: str | Path | None = None) -> AuditConfig:
    """Load ``path``, or ./dqaudit.yaml when it exists, or the defaults; every section validated."""
    config, doc = read_config(path)
    return validate_checks(config, doc)


def parse_config(data: Any) -> AuditConfig:
    """Validate a mapping (e.g. a dict built in Python) into an AuditConfig, checker blocks included."""
    return validate_checks(parse_sections(data))


def cleaning_rules() -> dict[str, Decision]:
    """``check.kind`` -> export decision, from each checker's own ``cleaning`` table."""
    return {f"{cls.name}.{kind}": decision for cls in available_checkers().values()
            for kind, decision in cls.cleaning.items()}


def regression_rules() -> tuple[RegressionRule, ...]:
    """Each checker's own regression rules, in pipeline order."""
    return tuple(replace(rule, check=cls.name) for cls in available_checkers().values()
                 for rule in cls.regression_rules)


def enabled(config: AuditConfig) -> Mapping[str, CheckParams]:
    """The checks the config turns on, with their params, in pipeline order."""
    out = {}
    for name, cls in available_checkers().items():
        params = check_params(config, name)
        if cls.is_enabled(params):
            out[name] = params
    return out
