"""The block a failing audit prints on stderr, even with ``--quiet``: why the exit code is 1.

A nightly job run from cron or CI shows nothing but its exit code unless something is
printed; a regression, a blocking gate and a readiness under ``--fail-under`` each say
why here, in a few plain lines ready for a chat message or an e-mail.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .scoring import shown
from .text import preview

if TYPE_CHECKING:
    from .pipeline import AuditResult
    from .regressions import Diff


def below_threshold(result: AuditResult, threshold: float | None) -> bool:
    return threshold is not None and (result.readiness_score is None or result.readiness_score < threshold)


def alert_text(result: AuditResult, *, threshold: float | None, diff: Diff | None,
               report: str | None = None) -> str | None:
    """The alert lines, or None when nothing regressed, no gate blocked and readiness met the threshold."""
    lines = diff.alert().splitlines() if diff is not None and diff.regressions else []
    below = below_threshold(result, threshold)
    if result.gates or below:
        lines.append(f"dqaudit: {result.name} is {result.verdict.value} "
                     f"(readiness {shown(result.readiness_score)}/100)")
        lines += [f"- blocking ({g.check}): {preview(g.message, 160)}" for g in result.gates]
        if below:
            lines.append(f"- readiness {shown(result.readiness_score)} is under --fail-under {threshold:g}")
    if not lines:
        return None
    if report:
        lines.append(f"report: {report}")
    return "\n".join(lines)
