"""Progress reporting that the library emits and the CLI draws (rich bars on stderr)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

Advance = Callable[[int], None]


class Progress(Protocol):
    def task(self, description: str, total: int | None = None) -> AbstractContextManager[Advance]:
        """Context manager yielding ``advance(n)`` for a step of ``total`` units."""


class NullProgress:
    """The library default: report nothing."""

    @contextmanager
    def task(self, description: str, total: int | None = None) -> Iterator[Advance]:
        yield lambda n=1: None
