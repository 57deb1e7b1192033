"""What a checker sees: :class:`AuditContext` (the dataset, the config, the cache, derived data).

Derived data shared by checks, the splitter and the engines (exact groups, MinHash clusters,
consensus labels, languages, embeddings) lives in :mod:`dqaudit.features`; each feature function
memoises its result here under a key of its own (the function, or the function and its argument),
so it is computed once per run whichever caller asks first. An engine that computed a feature
elsewhere (Spark) hands it over with :meth:`AuditContext.provide` under the same key: the
contract between engines and features is the feature function, not a string.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import pandas as pd

from .cache import Cache
from .config import AuditConfig
from .data import Dataset
from .progress import NullProgress, Progress

T = TypeVar("T")


class AuditContext:
    """One run's dataset, config, cache, progress, and memoised derived data."""

    def __init__(self, dataset: Dataset, config: AuditConfig, *, progress: Progress | None = None,
                 cache: Cache | None = None, options: dict[str, Any] | None = None) -> None:
        self.dataset, self.config = dataset, config
        self.progress = progress or NullProgress()
        self.cache = cache or Cache(None)
        #: What the engine recorded about where stages ran (report.json ``run.engine``).
        self.options = options or {}
        self._memo: dict[Hashable, Any] = {}
        self._lazy: dict[Hashable, Callable[[], Any]] = {}

    @property
    def frame(self) -> pd.DataFrame:
        return self.dataset.frame

    @property
    def seed(self) -> int:
        return self.config.seed

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()`` once per run for ``key``; a value an engine provided wins."""
        if key not in self._memo:
            self._memo[key] = (self._lazy.get(key) or compute)()  # a lazy value that fails fails again
            self._lazy.pop(key, None)
        return self._memo[key]

    def provide(self, key: Hashable, value: Any) -> None:
        """Hand over derived data an engine computed (``key``: the feature function that would compute it)."""
        self._memo[key] = value

    def provide_lazy(self, key: Hashable, compute: Callable[[], Any]) -> None:
        """Like :meth:`provide`, computed only if some check asks (e.g. an aggregation on the executors)."""
        self._lazy[key] = compute

    def provided(self, key: Hashable) -> Any:
        """What an engine provided for ``key`` (computing a lazy one), or None when it provided nothing."""
        if key in self._memo or key in self._lazy:
            return self.memo(key, lambda: None)
        return None


__all__ = ["AuditContext"]
