"""The sources pass the project's own lint rules (pyproject.toml ``[tool.ruff]``).

Run as a test so a long line or an unsorted import fails the suite here and in CI, not only in an
editor that happens to run ruff.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None,
                    reason="ruff is not installed (it comes with the dev extra: pip install -e '.[dev]')")
def test_ruff_check_passes() -> None:
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "dqaudit", "tests",
                           "benchmarks"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
