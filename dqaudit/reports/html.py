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


@dataclass(frozen=True)
class HtmlSection:
    title: str
    html: Markup


def _no_control(value: object) -> object:
    """Escape sequences and bidi overrides from data must not reach a terminal (cat) or reorder text."""
    return strip_control(value) if isinstance(value, str) and not isinstance(value, Markup) else value


_ENV = Environment(loader=PackageLoader("dqaudit.reports", "templates"), finalize=_no_control,
                   autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)


def render_html(result: AuditResult, extra_sections: Sequence[HtmlSection] = (), max_findings: int = 200) -> str:
    from .. import __version__

    scored = [c for c in result.results if c.score is not None]
    colors = ["#16a34a" if c.score >= result.config.score.ready else
              "#d97706" if c.score >= result.config.score.needs_work else "#dc2626" for c in scored]
    score_chart = bar_chart({"labels": [c.check for c in scored], "values": [round(c.score, 1) for c in scored],
                             "max": 100, "colors": colors})
    charts = {c.check: [{"title": ch.title, "svg": svg_chart(ch.kind, ch.data)} for ch in c.charts]
              for c in result.results}
    metrics = {c.check: json_text(jsonable(c.metrics)) for c in result.results}
    return _ENV.get_template("report.html.j2").render(
        r=result, score_chart=score_chart, charts=charts, metrics=metrics,
        extra_sections=[*extra_sections, *result.html_sections],
        max_findings=max_findings, max_ids=result.config.output.max_record_ids, version=__version__)
