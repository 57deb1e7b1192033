"""report.html: one self-contained file (no scripts, no network: a CSP forbids both), charts as inline SVG.

All dataset text goes through Jinja's autoescaping; chart labels are escaped by
:mod:`dqaudit.reports.charts`. ``extra_sections`` lets later features (the run
history trend) add a titled block of already-safe HTML.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from ..findings import json_text, jsonable
from ..text import strip_control
from .charts import bar_chart, svg_chart

if TYPE_CHECKING:
    from ..pipeline import AuditResult


#: Record ids shown in a finding's row; the rest (up to ``output.max_record_ids``) fold under "+N more".
INLINE_IDS = 6


@dataclass(frozen=True)
class HtmlSection:
    title: str
    html: Markup


def _no_control(value: object) -> object:
    """Escape sequences and bidi overrides from data must not reach a terminal (cat) or reorder text."""
    return strip_control(value) if isinstance(value, str) and not isinstance(value, Markup) else value


_ENV = Environment(loader=PackageLoader("dqaudit.reports", "templates"), finalize=_no_control,
                   autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)


def render_html(result: AuditResult, extra_sections: Sequence[HtmlSection] = (), max_findings: int = 200,
                top_findings: int = 5) -> str:
    """The page, ordered for a reader with a minute: verdict, why it is blocked, what did not run, what to
    fix first, scores; then one collapsible section per check (open when it blocks, failed or scores under
    the READY band), its first ``top_findings`` findings shown and the rest folded."""
    from .. import __version__

    bands = result.config.score
    colors = ["#16a34a" if c.score is None or c.score >= bands.ready else
              "#d97706" if c.score >= bands.needs_work else "#dc2626" for c in result.results]
    score_chart = bar_chart({
        "labels": [c.check for c in result.results],
        "values": [None if c.score is None else round(c.score, 1) for c in result.results],
        "notes": {c.check: f"{c.status}: {c.error or c.skipped}" for c in result.results if c.score is None},
        "max": 100, "colors": colors, "value_title": "check score (0-100; 100 = clean)"})
    charts = {c.check: [chart for chart in ({"title": ch.title, "svg": svg_chart(ch.kind, ch.data)}
                                            for ch in c.charts) if chart["svg"]]
              for c in result.results}
    metrics = {c.check: json_text(jsonable(c.metrics)) for c in result.results}
    ranked = {c.check: sorted(c.findings, key=lambda f: (-f.severity.rank, -f.impact))
              for c in result.results}
    opened = {c.check for c in result.results
              if c.error or any(g.triggered for g in c.gates)
              or (c.score is not None and c.score < bands.ready)}
    return _ENV.get_template("report.html.j2").render(
        r=result, score_chart=score_chart, charts=charts, metrics=metrics, opened=opened, ranked=ranked,
        not_run=[c for c in result.results if c.status != "ok"],
        regression=result.run_extras.get("regression"),
        extra_sections=[*extra_sections, *result.html_sections], top_findings=top_findings,
        max_findings=max_findings, max_ids=result.config.output.max_record_ids, inline_ids=INLINE_IDS,
        version=__version__)
