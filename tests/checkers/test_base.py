"""The checker contract: points tables are data next to each check, and every entry is charged somewhere."""

from __future__ import annotations

import inspect
import math

import pytest

from dqaudit.checkers.base import Points
from dqaudit.registry import available_checkers


def test_points_per_share_and_cap() -> None:
    assert Points(3.0).share(5, 100) == pytest.approx(15.0)  # 5 % of rows at 3 points per 1 %
    assert Points(1.0, cap=10.0).share(50, 100) == 10.0
    assert Points(2.0).share(1, 0) == 0.0  # an empty dataset costs nothing
    assert Points(5.0, per="class").times(0.5) == 2.5
    assert math.isinf(Points(1.0).cap)


@pytest.mark.parametrize("name", sorted(available_checkers()))
def test_every_points_entry_is_used_by_its_checker(name: str) -> None:
    """A charge named only in the table is stale: its name must appear again in the module's code."""
    checker = available_checkers()[name]
    source = inspect.getsource(inspect.getmodule(checker))
    for charge, points in checker.points.items():
        assert source.count(f'"{charge}"') >= 2, f"{name}: '{charge}' is in points but never charged"
        assert points.scale > 0


def test_checks_that_charge_points_declare_them() -> None:
    """Every built-in check that returns penalty points has a table (the scores are not inline numbers)."""
    for name, checker in available_checkers().items():
        source = inspect.getsource(inspect.getmodule(checker))
        if "penalties" in source:
            assert checker.points, f"{name} charges penalties without a points table"
