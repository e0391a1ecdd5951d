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
from qresearch.evaluation.overfitting import (
    PBOResult,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
)
from qresearch.evaluation.plots import monthly_returns_table, plot_performance, rolling_sharpe
from qresearch.evaluation.tearsheet import write_tearsheet

__all__ = [
    "PBOResult",
    "cagr",
    "calmar",
    "cvar",
    "deflated_sharpe_ratio",
    "drawdown",
    "expected_max_sharpe",
    "max_drawdown",
    "monthly_returns_table",
    "plot_performance",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
    "rolling_sharpe",
    "sharpe",
    "sortino",
    "stats",
    "trade_stats",
    "value_at_risk",
    "volatility",
    "write_tearsheet",
]
