"""Every hostile case gets its expected outcome, and none gets a traceback, a lost row or a live payload."""

from __future__ import annotations

from pathlib import Path

import pytest

from .cases import CASES, Case
from .runner import html_problems, markdown_problems, mismatches, run_case, warm_up


@pytest.fixture(scope="module", autouse=True)
def _warm(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Cases carry time limits: the first audit in a process would be charged seconds of imports."""
    warm_up(tmp_path_factory.mktemp("warm"))


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=c.name, marks=[pytest.mark.slow] if c.slow else []) for c in CASES]
)
def test_hostile_case(case: Case, tmp_path: Path) -> None:
    setup, outcome = run_case(case, tmp_path / "case")
    assert mismatches(case, setup, outcome) == []


def test_corpus_is_large_and_varied() -> None:
    """Issue 9 asked for at least 40 distinct cases across formats,
    issue 20 for at least 120 with scenarios."""
    assert len(CASES) >= 120
    assert {"jsonl", "csv", "parquet", "path", "config", "policies", "injection", "scale", "split",
            "snapshot", "cache", "privacy", "bounds", "concurrency", "disk", "identity", "terminal",
            "arguments"} <= {
        c.group for c in CASES
    }
    assert all(c.expect.max_seconds < 60 for c in CASES)


def test_the_inspectors_catch_what_they_look_for() -> None:
    """A report that did interpolate data raw must be caught, or a clean corpus run proves nothing."""
    csp = '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'">'
    assert html_problems(f"<html><head>{csp}</head><body><p>ok</p></body></html>") == []
    leaked = html_problems(
        f"<html><head>{csp}</head><body><script>x</script><img src=x onerror=y></body></html>"
    )
    assert (
        "<script> element" in leaked
        and "<img src=…> attribute" in leaked
        and "<img onerror=…> attribute" in leaked
    )
    assert html_problems("<html><body><p>no csp</p></body></html>")
    assert markdown_problems("| 1 | +0.50 | =HYPERLINK(1) |") == [
        "report.md cell starts a formula: '=HYPERLINK(1)'"
    ]
    assert markdown_problems("| a | \\| b | '=safe |\n|---|---:|---|") == []
    assert markdown_problems("text <script>") == ["report.md has raw HTML"]
