"""Compact HTML for results in Jupyter: a summary table and an inline SVG sparkline.

Used by the ``_repr_html_`` of ``BacktestResult``, ``SimResult`` and ``Reconciliation``;
imports nothing heavy (the values are plain numbers by the time they arrive here).
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping
from typing import Any


def shown(value: Any) -> str:
    """Format a value as people read it in a table (6 significant digits)."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if value == 0 or abs(value) >= 1e-3:
            return f"{value:,.6g}"
        return f"{value:.3g}"
    if hasattr(value, "isoformat"):
        return str(value)[:19]
    return str(value)


def sparkline(values: Iterable[float], width: int = 240, height: int = 48) -> str:
    """Return an inline SVG polyline of ``values`` (NaN skipped); empty for < 2 points."""
    points = [float(v) for v in values if v == v and math.isfinite(float(v))]
    if len(points) < 2:
        return ""
    step = max(1, len(points) // width)
    points = points[::step]
    lo, hi = min(points), max(points)
    span = (hi - lo) or 1.0
    n = len(points) - 1
    coords = " ".join(
        f"{i * (width - 2) / n + 1:.1f},{height - 1 - (p - lo) * (height - 2) / span:.1f}"
        for i, p in enumerate(points)
    )
    return (
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'xmlns="http://www.w3.org/2000/svg" role="img"><polyline fill="none" '
        f'stroke="#3366cc" stroke-width="1.2" points="{coords}"/></svg>'
    )


def summary_html(
    title: str,
    rows: Mapping[str, Any],
    note: str = "",
    line: Iterable[float] | None = None,
) -> str:
    """Render ``rows`` as a two-column table under ``title``, with an optional sparkline."""
    cells = "".join(
        f"<tr><th style='text-align:left;font-weight:normal;color:#555'>"
        f"{html.escape(str(k))}</th><td style='text-align:right'>{html.escape(shown(v))}</td></tr>"
        for k, v in rows.items()
    )
    extra = f" <span style='color:#888'>{html.escape(note)}</span>" if note else ""
    svg = sparkline(line) if line is not None else ""
    return (
        f"<div><b>{html.escape(title)}</b>{extra}<div>{svg}</div>"
        f"<table style='font-size:12px'>{cells}</table></div>"
    )
