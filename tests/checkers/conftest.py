"""Fixtures for the checkers' tests: a spy on the per-record cache."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from dqaudit.cache import Cache


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Rows each cache namespace had to compute (by name, without the parameter digest), summed."""
    counts: dict[str, int] = {}
    original = Cache.per_record

    def spy(self: Cache, namespace: str, keys: Any,
            compute: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        def counted(rows: np.ndarray) -> np.ndarray:
            name = namespace.rsplit("-", 1)[0]
            counts[name] = counts.get(name, 0) + len(rows)
            return compute(rows)

        return original(self, namespace, keys, counted)

    monkeypatch.setattr(Cache, "per_record", spy)
    return counts
