"""Inline SVG charts for the HTML report: no scripts, no network, every label escaped.

Every chart labels its axes: bars get a value scale (0, half, top) and, when the data names it,
a value title (``value_title``); line charts get a y scale and titles (``x_title``, ``y_title``);
heatmaps label rows and columns (``row_title``, ``column_title``). A chart with no data renders
as nothing (an empty Markup) so the page shows no empty placeholder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape as _html_escape
from typing import Any

from markupsafe import Markup

from ..text import strip_control

PALETTE = ("#2563eb", "#16a34a", "#d97706", "#dc2626", "#7c3aed", "#0891b2", "#be185d", "#4d7c0f")


def svg_chart(kind: str, data: Mapping[str, Any]) -> Markup:
    renderer = {"bar": bar_chart, "heatmap": heatmap, "line": line_chart}[kind]
    return renderer(data)


def bar_chart(data: Mapping[str, Any], max_bars: int = 60) -> Markup:
    """Horizontal bars: ``{"labels": [...], "values": [...], "max": optional, "value_title": optional,
    "notes": optional {label: text}}``; a value of None draws the label and its note (e.g. "skipped")."""
    labels = list(data["labels"])[:max_bars]
    values = [None if v is None else float(v) for v in data["values"]][:max_bars]
    if not values:
        return Markup("")
    known = [v for v in values if v is not None]
    top = float(data.get("max") or max(known, default=1) or 1)
    notes = data.get("notes") or {}
    row, label_w, bar_w, axis_h = 18, 190, 420, 30
    height = row * len(values) + 6
    parts = [f"<svg class='chart' role='img' viewBox='0 0 {label_w + bar_w + 70} {height + axis_h}' "
             f"xmlns='http://www.w3.org/2000/svg'>"]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = i * row + 3
        parts.append(f"<text x='{label_w - 6}' y='{y + 12}' text-anchor='end'>"
                     f"{escape(_clip(str(label)))}</text>")
        if value is None:
            note = notes.get(label, "no value")
            parts.append(f"<text x='{label_w + 4}' y='{y + 12}' fill='#6b7280'>"
                         f"{escape(_clip(str(note), 60))}</text>")
            continue
        width = max(1.0, bar_w * value / top) if value > 0 else 0
        color = data.get("colors", [PALETTE[0]] * len(values))[i]
        parts.append(
            f"<rect x='{label_w}' y='{y}' width='{width:.1f}' height='{row - 5}' fill='{escape(color)}'>"
            f"<title>{escape(str(label))}: {value:g}</title></rect>"
            f"<text x='{label_w + width + 4:.1f}' y='{y + 12}'>{value:g}</text>")
    parts.append(f"<line x1='{label_w}' y1='{height}' x2='{label_w + bar_w}' y2='{height}' stroke='#999'/>")
    for fraction in (0.0, 0.5, 1.0):
        x = label_w + bar_w * fraction
        parts.append(f"<line x1='{x:.1f}' y1='{height}' x2='{x:.1f}' y2='{height + 4}' stroke='#999'/>"
                     f"<text x='{x:.1f}' y='{height + 15}' text-anchor='middle' fill='#4b5563'>"
                     f"{_tick(top * fraction)}</text>")
    if data.get("value_title"):
        parts.append(f"<text x='{label_w + bar_w / 2}' y='{height + 28}' text-anchor='middle' fill='#4b5563'>"
                     f"{escape(str(data['value_title']))}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))


def heatmap(data: Mapping[str, Any]) -> Markup:
    """``{"rows": [...], "columns": [...], "values": [[...]], "flags": optional [[bool]]}``:
    counts per cell."""
    rows, cols, values = list(data["rows"]), list(data["columns"]), data["values"]
    flags = data.get("flags")
    if not rows or not cols:
        return Markup("")
    top = max((max(r) for r in values if r), default=1) or 1
    cell, label_w, title_h = 44, 190, 16 if data.get("column_title") else 0
    head_h = 24 + title_h
    parts = [f"<svg class='chart' role='img' viewBox='0 0 {label_w + cell * len(cols) + 4} "
             f"{head_h + 22 * len(rows) + 4}' xmlns='http://www.w3.org/2000/svg'>"]
    if title_h:
        parts.append(f"<text x='{label_w + cell * len(cols) / 2}' y='12' text-anchor='middle' fill='#4b5563'>"
                     f"{escape(str(data['column_title']))}</text>")
    if data.get("row_title"):
        parts.append(f"<text x='{label_w - 6}' y='{head_h - 8}' text-anchor='end' fill='#4b5563'>"
                     f"{escape(str(data['row_title']))}</text>")
    for j, col in enumerate(cols):
        parts.append(f"<text x='{label_w + j * cell + cell / 2}' y='{head_h - 8}' text-anchor='middle'>"
                     f"{escape(_clip(str(col), 8))}</text>")
    for i, name in enumerate(rows):
        y = head_h + i * 22
        parts.append(f"<text x='{label_w - 6}' y='{y + 15}' text-anchor='end'>"
                     f"{escape(_clip(str(name)))}</text>")
        for j, _ in enumerate(cols):
            value = values[i][j]
            alpha = 0.08 + 0.85 * (value / top)
            stroke = " stroke='#dc2626' stroke-width='2'" if flags and flags[i][j] else ""
            parts.append(f"<rect x='{label_w + j * cell}' y='{y}' width='{cell - 2}' height='20' "
                         f"fill='rgba(37,99,235,{alpha:.2f})'{stroke}><title>{escape(str(name))} / "
                         f"{escape(str(cols[j]))}: {value:g}</title></rect>"
                         f"<text x='{label_w + j * cell + cell / 2 - 1}' y='{y + 14}' text-anchor='middle'>"
                         f"{value:g}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(data: Mapping[str, Any]) -> Markup:
    """``{"x": [...], "series": {name: [values or None]}, "max": optional,
    "x_title"/"y_title": optional}``."""
    xs: Sequence[Any] = list(data["x"])
    series: Mapping[str, Sequence[float | None]] = data["series"]
    points = [v for s in series.values() for v in s if v is not None]
    if not xs or not points:
        return Markup("")
    top = float(data.get("max") or max(points) or 1)
    width, height, pad, left = 640, 220, 36, 56
    step = (width - left - pad) / max(1, len(xs) - 1)
    parts = [f"<svg class='chart' role='img' viewBox='0 0 {width} {height + 58}' xmlns='http://www.w3.org/2000/svg'>",
             f"<line x1='{left}' y1='{height}' x2='{width - pad}' y2='{height}' stroke='#999'/>",
             f"<line x1='{left}' y1='{pad}' x2='{left}' y2='{height}' stroke='#999'/>"]
    for fraction in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = height - (height - pad) * fraction
        parts.append(f"<line x1='{left - 4}' y1='{y:.1f}' x2='{width - pad}' y2='{y:.1f}' stroke='#e5e7eb'/>"
                     f"<text x='{left - 7}' y='{y + 4:.1f}' text-anchor='end' fill='#4b5563'>"
                     f"{_tick(top * fraction)}</text>")
    if data.get("y_title"):
        parts.append(f"<text x='12' y='{(height + pad) / 2:.0f}' text-anchor='middle' fill='#4b5563' "
                     f"transform='rotate(-90 12 {(height + pad) / 2:.0f})'>"
                     f"{escape(str(data['y_title']))}</text>")
    for k, (name, values) in enumerate(series.items()):
        color = PALETTE[k % len(PALETTE)]
        coords = [(left + i * step, height - (height - pad) * (v / top)) for i, v in enumerate(values)
                  if v is not None]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        parts.append(f"<polyline fill='none' stroke='{color}' stroke-width='2' points='{path}'/>")
        parts += [f"<circle cx='{x:.1f}' cy='{y:.1f}' r='3' fill='{color}'/>" for x, y in coords]
        parts.append(f"<text x='{left + 130 * (k % 4)}' y='{height + 36 + 14 * (k // 4)}' fill='{color}'>"
                     f"{escape(_clip(str(name), 20))}</text>")
    for i, x in enumerate(xs):
        if len(xs) <= 12 or i % max(1, len(xs) // 10) == 0:
            parts.append(f"<text x='{left + i * step:.1f}' y='{height + 16}' text-anchor='middle'>"
                         f"{escape(_clip(str(x), 12))}</text>")
    if data.get("x_title"):
        parts.append(f"<text x='{width - pad}' y='{height + 28}' text-anchor='end' fill='#4b5563'>"
                     f"{escape(str(data['x_title']))}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))


def escape(text: str) -> str:
    """Labels come from data: escape them, and drop control and bidi characters (cat, reordering)."""
    return _html_escape(strip_control(text))


def _tick(value: float) -> str:
    """An axis value: whole numbers plainly, others to three significant digits."""
    return f"{value:,.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:.3g}"


def _clip(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
