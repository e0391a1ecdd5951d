"""The compact HTML helpers used by results in Jupyter."""

from __future__ import annotations

import math

from qresearch._html import shown, sparkline, summary_html


def test_sparkline_scales_points_into_the_box() -> None:
    svg = sparkline([1.0, 2.0, 3.0, float("nan")], width=10, height=10)
    points = svg.split('points="')[1].split('"')[0].split()
    xs = [float(p.split(",")[0]) for p in points]
    ys = [float(p.split(",")[1]) for p in points]
    assert len(points) == 3 and xs == [1.0, 5.0, 9.0] and ys == [9.0, 5.0, 1.0]
    assert sparkline([1.0]) == "" and sparkline([]) == ""


def test_shown_and_summary_table() -> None:
    assert shown(1234567.891) == "1.23457e+06" and shown(0.5) == "0.5" and shown(3e-16) == "3e-16"
    assert shown(math.nan) == "-" and shown(12) == "12"
    page = summary_html("T", {"a": 1.0, "<b>": "x"}, "note", [1.0, 2.0])
    assert "&lt;b&gt;" in page and "<svg" in page and "note" in page
