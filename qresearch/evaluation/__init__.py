"""Evaluation: performance statistics (quantstats definitions)."""

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

__all__ = [
    "cagr",
    "calmar",
    "cvar",
    "drawdown",
    "max_drawdown",
    "sharpe",
    "sortino",
    "stats",
    "trade_stats",
    "value_at_risk",
    "volatility",
]
