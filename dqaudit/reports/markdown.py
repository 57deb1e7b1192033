"""report.md: short enough to paste into a pull request."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..scoring import not_run, shown
from ..text import preview

if TYPE_CHECKING:
    from ..pipeline import AuditResult

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|<>#])")


def md_cell(text: str, limit: int = 120) -> str:
    """Dataset text made inert for Markdown: one line, specials escaped, no leading formula prefix."""
    flat = preview(text, limit)
    if flat[:1] in ("=", "+", "-", "@"):
        flat = "'" + flat
    return _MD_SPECIAL.sub(r"\\\1", flat)


def render_markdown(result: AuditResult) -> str:
    r = result
    lines = [
        f"## dqaudit: {md_cell(r.source.path)}",
        "",
        f"**Readiness {shown(r.readiness_score)}/100 — {r.verdict.value}** "
        f"({r.rows_loaded} records loaded, {r.rows_quarantined} quarantined of {r.source.rows} rows)",
        "",
    ]
    if r.gates:
        lines += ["**Blocking:**", *[f"- {md_cell(g.message, 200)}" for g in r.gates], ""]
    lines += _regression(r.run_extras.get("regression"))
    skipped = not_run(r.results)
    if skipped:
        lines += ["**Not run:**", *[f"- {', '.join(checks)}: {md_cell(reason, 200)}"
                                    for reason, checks in skipped],
                  ""]
    lines += ["| check | score | weight | findings | status |", "|---|---:|---:|---:|---|"]
    for c in r.results:
        score = "—" if c.score is None else f"{c.score:.1f}"
        status = c.status if c.status == "ok" else f"{c.status}: {md_cell(c.error or c.skipped or '', 80)}"
        lines.append(f"| {c.check} | {score} | {r.weights[c.check]:g} | {len(c.findings)} | {status} |")
    if r.fix_first:
        lines += ["", "### What to fix first", "", "| # | gain | check | action | finding |",
                  "|---:|---:|---|---|---|"]
        for i, item in enumerate(r.fix_first, 1):
            flag = " **(blocking)**" if item.blocking else ""
            lines.append(f"| {i} | +{item.gain:.2f} | {item.finding.check} | {item.finding.action.value} | "
                         f"{md_cell(item.finding.message, 160)}{flag} |")
    lines += ["", f"<sub>dqaudit {_version()} · config {r.config.fingerprint()} · seed {r.config.seed}</sub>",
              ""]
    return "\n".join(lines)


def _version() -> str:
    from .. import __version__

    return __version__


def _regression(diff: dict[str, Any] | None) -> list[str]:
    """The nightly diff (``audit --history``): what regressed since the previous run of this dataset."""
    if not diff:
        return []
    before = diff["previous_run"]
    since = f"since run {before['id']} ({before['started_at']})"
    if not diff["regressions"]:
        return [f"No regression {since}.", ""]
    return [f"**Regressed {since}:**",
            *[f"- {md_cell((o['check'] + ': ' if o['check'] else '') + o['message'], 300)}"
              for o in diff["regressions"]], ""]
