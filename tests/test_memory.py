"""Memory policies: the garbage collector's during an audit (deferred full collections, restored after), and
ordinary pages for numpy in the command's process."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from dqaudit import api
from dqaudit.memory import DEFERRED_FULL_EVERY, full_collections_deferred


def test_full_collections_are_deferred_and_the_thresholds_restored() -> None:
    before = gc.get_threshold()
    with full_collections_deferred():
        young, middle, full = gc.get_threshold()
        assert (young, middle) == before[:2] and full == max(before[2], DEFERRED_FULL_EVERY)
        with full_collections_deferred():  # nested: the outer policy comes back, not the default
            assert gc.get_threshold()[2] == full
        assert gc.get_threshold()[2] == full
    assert gc.get_threshold() == before


def test_the_thresholds_come_back_after_an_error() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), full_collections_deferred():
        raise RuntimeError("a check failed")
    assert gc.get_threshold() == before


def test_an_audit_runs_its_checks_with_full_collections_deferred(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[int, int, int]] = []
    real = api.run_checks

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.get_threshold())
        return real(*args, **kwargs)

    monkeypatch.setattr(api, "run_checks", spy)
    before = gc.get_threshold()
    frame = pd.DataFrame({"text": ["a request about a card", "another about a loan"], "label": ["a", "b"]})
    api.audit(frame, checks=["duplicates"])
    assert seen and seen[0][2] == max(before[2], DEFERRED_FULL_EVERY)
    assert gc.get_threshold() == before


def test_a_command_defers_full_collections_for_its_whole_run() -> None:
    """The group's callback sets the policy for the command (reports and history included) and the
    thresholds are back once the command returns."""
    from dqaudit import cli as cli_module

    seen: list[tuple[int, int, int]] = []
    before = gc.get_threshold()

    @cli_module.cli.command("gc-probe", hidden=True)
    def probe() -> None:
        seen.append(gc.get_threshold())

    try:
        result = CliRunner().invoke(cli_module.cli, ["gc-probe"])
    finally:
        cli_module.cli.commands.pop("gc-probe")
    assert result.exit_code == 0, result.output
    assert seen == [(*before[:2], max(before[2], DEFERRED_FULL_EVERY))]
    assert gc.get_threshold() == before


def test_a_split_writes_its_files_with_full_collections_deferred(tmp_path: Any,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from dqaudit.engines.local import LocalEngine

    seen: list[tuple[int, int, int]] = []
    real = LocalEngine.export

    def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(gc.get_threshold())
        return real(self, *args, **kwargs)

    monkeypatch.setattr(LocalEngine, "export", spy)
    data = tmp_path / "data.jsonl"
    data.write_text("".join(f'{{"text": "request number {i} about card {i % 7}", "label": "l{i % 2}"}}\n'
                            for i in range(40)), encoding="utf-8")
    before = gc.get_threshold()
    api.split(data, tmp_path / "out", checks=["duplicates"])
    assert seen == [(*before[:2], max(before[2], DEFERRED_FULL_EVERY))]
    assert gc.get_threshold() == before


PROBE = ("import os, sys; import dqaudit.__main__; import numpy; "
         "print(os.environ['NUMPY_MADVISE_HUGEPAGE'], numpy._core.multiarray._get_madvise_hugepage())")


@pytest.mark.parametrize(("given", "expected"), [(None, "0 False"), ("1", "1 True"), ("0", "0 False")])
def test_the_command_gives_numpy_ordinary_pages_unless_told(given: str | None, expected: str) -> None:
    """The entry point sets numpy's switch before anything imports numpy (the setting only counts then);
    a value the user set is kept."""
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    if given is not None:
        env["NUMPY_MADVISE_HUGEPAGE"] = given
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.split() == expected.split()


def test_the_installed_command_starts_at_the_entry_point() -> None:
    """The ``dqaudit`` script runs ``dqaudit.__main__``, so it gets the page setting as ``python -m`` does."""
    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"]["dqaudit"] == "dqaudit.__main__:main"
