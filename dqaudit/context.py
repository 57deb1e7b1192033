"""What a checker sees: :class:`AuditContext` (the dataset, the config, the cache, derived data).

Derived data shared by checks, the splitter and the engines (exact groups, MinHash clusters,
consensus labels, languages, embeddings) lives in :mod:`dqaudit.features`; each feature function
memoises its result here under a key of its own (the function, or the function and its argument),
so it is computed once per run whichever caller asks first. An engine that computed a feature
elsewhere (Spark) hands it over with :meth:`AuditContext.provide` under the same key: the
contract between engines and features is the feature function, not a string.

The texts (``text`` and ``output``) are the bulk of the table. A reader that needs a few of
them (previews, examples, cluster members) asks :meth:`AuditContext.texts` for those rows; an
engine that keeps the texts on its executors (Spark, when no selected check reads a column
whole: :attr:`~dqaudit.checkers.base.Checker.reads_whole`) leaves the column out of the frame
and fetches the rows asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from .cache import Cache
from .config import TEXT_COLUMNS, AuditConfig
from .data import Dataset
from .progress import NullProgress, Progress

T = TypeVar("T")
#: ``fetch(rows, column)``: ``column``'s values for row positions ``rows`` (an engine's, e.g. a Spark join).
TextFetcher = Callable[[np.ndarray, str], np.ndarray]
#: ``fn(texts)``: one row of numbers per text (a 2-D array), e.g. a fitted model's class probabilities.
TextFunction = Callable[[list[str]], np.ndarray]
#: ``apply(rows, column, fn)``: ``fn`` on ``column``'s values of row positions ``rows``, where the texts are.
TextMapper = Callable[[np.ndarray, str, TextFunction], np.ndarray]


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
        self._fetch: TextFetcher | None = None
        self._apply: TextMapper | None = None

    @property
    def frame(self) -> pd.DataFrame:
        return self.dataset.frame

    @property
    def seed(self) -> int:
        return self.config.seed

    def texts(self, rows: Sequence[int] | np.ndarray, column: str = "text") -> np.ndarray:
        """``column`` (``text`` or ``output``) of the row positions ``rows``, in that order (an object array).

        Locally a slice of the frame; where the engine left the column out of the frame, one
        fetch of just these rows, so callers ask once for every row they need.
        """
        rows = np.asarray(rows, dtype=np.int64)
        if column in self.frame.columns:
            return self.frame[column].to_numpy(dtype=object)[rows]
        if column not in TEXT_COLUMNS or self._fetch is None:
            raise KeyError(column)
        if len(rows) == 0:
            return np.empty(0, dtype=object)
        return self._fetch(rows, column)

    def fetch_texts_with(self, fetch: TextFetcher) -> None:
        """How :meth:`texts` gets the text columns the engine left out of the frame."""
        self._fetch = fetch

    def map_texts(self, rows: Sequence[int] | np.ndarray, column: str, fn: TextFunction) -> np.ndarray:
        """``fn`` applied to ``column``'s values of the row positions ``rows``: one output row each, in order.

        Locally ``fn`` on a slice of the frame. Where the engine left the column out of the frame
        and can run ``fn`` where the texts are (Spark: on the executors, ``fn`` and what it holds
        shipped there), only ``fn``'s output reaches the driver, not the texts: for per-text work
        on many rows (scoring them with a fitted model). ``fn`` must depend on each text alone.
        """
        rows = np.asarray(rows, dtype=np.int64)
        if column in self.frame.columns or self._apply is None or len(rows) == 0:
            return np.asarray(fn(self.texts(rows, column).tolist()))
        return self._apply(rows, column, fn)

    def map_texts_with(self, apply: TextMapper) -> None:
        """How :meth:`map_texts` runs a function on the text columns the engine left out of the frame."""
        self._apply = apply

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


__all__ = ["AuditContext", "TextFetcher", "TextFunction", "TextMapper"]
