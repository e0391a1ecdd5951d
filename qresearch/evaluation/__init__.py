"""Evaluation: performance statistics (quantstats definitions), plots and tearsheets.

Plots (plotly) and tearsheets (quantstats) load their libraries only when called.
"""

from __future__ import annotations

from qresearch.evaluation.metrics import (
    cagr,
    calmar,
    cvar,
    drawdown,
    max_drawdown,
    sharpe,
    sortino,
    stats,
    trade_stats,
    value_at_risk,
    volatility,
)
from qresearch.evaluation.plots import monthly_returns_table, plot_performance, rolling_sharpe
from qresearch.evaluation.tearsheet import write_tearsheet

__all__ = [
    "cagr",
    "calmar",
    "cvar",
    "drawdown",
    "max_drawdown",
    "monthly_returns_table",
    "plot_performance",
    "rolling_sharpe",
    "sharpe",
    "sortino",
    "stats",
    "trade_stats",
    "value_at_risk",
    "volatility",
    "write_tearsheet",
]
