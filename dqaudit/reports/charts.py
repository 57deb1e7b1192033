"""Inline SVG charts for the HTML report: no scripts, no network, every label escaped."""

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
    """Horizontal bars: ``{"labels": [...], "values": [...], "max": optional}``."""
    labels, values = list(data["labels"])[:max_bars], [float(v) for v in data["values"]][:max_bars]
    if not values:
        return Markup("<p class='muted'>no data</p>")
    top = float(data.get("max") or max(values) or 1)
    row, label_w, bar_w = 18, 190, 420
    parts = [f"<svg class='chart' role='img' viewBox='0 0 {label_w + bar_w + 70} {row * len(values) + 6}' "
             f"xmlns='http://www.w3.org/2000/svg'>"]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = i * row + 3
        width = max(1.0, bar_w * value / top) if value > 0 else 0
        color = data.get("colors", [PALETTE[0]] * len(values))[i]
        parts.append(
            f"<text x='{label_w - 6}' y='{y + 12}' text-anchor='end'>{escape(_clip(str(label)))}</text>"
            f"<rect x='{label_w}' y='{y}' width='{width:.1f}' height='{row - 5}' fill='{escape(color)}'>"
            f"<title>{escape(str(label))}: {value:g}</title></rect>"
            f"<text x='{label_w + width + 4:.1f}' y='{y + 12}'>{value:g}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))


def heatmap(data: Mapping[str, Any]) -> Markup:
    """``{"rows": [...], "columns": [...], "values": [[...]], "flags": optional [[bool]]}``: counts per cell."""
    rows, cols, values = list(data["rows"]), list(data["columns"]), data["values"]
    flags = data.get("flags")
    if not rows or not cols:
        return Markup("<p class='muted'>no data</p>")
    top = max((max(r) for r in values if r), default=1) or 1
    cell, label_w, head_h = 44, 190, 24
    parts = [f"<svg class='chart' role='img' viewBox='0 0 {label_w + cell * len(cols) + 4} "
             f"{head_h + 22 * len(rows) + 4}' xmlns='http://www.w3.org/2000/svg'>"]
    for j, col in enumerate(cols):
        parts.append(f"<text x='{label_w + j * cell + cell / 2}' y='16' text-anchor='middle'>"
                     f"{escape(_clip(str(col), 8))}</text>")
    for i, name in enumerate(rows):
        y = head_h + i * 22
        parts.append(f"<text x='{label_w - 6}' y='{y + 15}' text-anchor='end'>{escape(_clip(str(name)))}</text>")
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
    """``{"x": [...], "series": {name: [values or None]}, "max": optional}``."""
    xs: Sequence[Any] = list(data["x"])
    series: Mapping[str, Sequence[float | None]] = data["series"]
    if not xs:
        return Markup("<p class='muted'>no data</p>")
    points = [v for s in series.values() for v in s if v is not None]
    top = float(data.get("max") or max(points, default=1) or 1)
    width, height, pad = 620, 220, 36
    step = (width - 2 * pad) / max(1, len(xs) - 1)
    parts = [f"<svg class='chart' role='img' viewBox='0 0 {width} {height + 40}' xmlns='http://www.w3.org/2000/svg'>",
             f"<line x1='{pad}' y1='{height}' x2='{width - pad}' y2='{height}' stroke='#999'/>"]
    for k, (name, values) in enumerate(series.items()):
        color = PALETTE[k % len(PALETTE)]
        coords = [(pad + i * step, height - (height - pad) * (v / top)) for i, v in enumerate(values) if v is not None]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        parts.append(f"<polyline fill='none' stroke='{color}' stroke-width='2' points='{path}'/>")
        parts += [f"<circle cx='{x:.1f}' cy='{y:.1f}' r='3' fill='{color}'/>" for x, y in coords]
        parts.append(f"<text x='{pad + 130 * k}' y='{height + 34}' fill='{color}'>{escape(_clip(str(name), 20))}</text>")
    for i, x in enumerate(xs):
        if len(xs) <= 12 or i % max(1, len(xs) // 10) == 0:
            parts.append(f"<text x='{pad + i * step:.1f}' y='{height + 16}' text-anchor='middle'>"
                         f"{escape(_clip(str(x), 12))}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))


def escape(text: str) -> str:
    """Labels come from data: escape them, and drop control and bidi characters (cat, reordering)."""
    return _html_escape(strip_control(text))


def _clip(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
