"""Signals: turn scores into entries, positions, selections and bet sizes.

Panel in, panel out, causal: a signal at ``t`` uses data up to and including ``t``.
Importing this package loads pandas but no scipy (the normal CDF of :func:`bet_size`
is imported when it runs).

``REGISTRY`` maps the name of every signal function to ``(function, build_kwargs)``,
where ``build_kwargs(bars)`` returns the keyword arguments of a representative call
on a :class:`qresearch.data.Bars`; generic tests (no look-ahead, no mutation) iterate
over it. Functions that are not panel-to-panel transforms are listed in
``NOT_SIGNALS`` with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from qresearch.data.bars import Bars
from qresearch.signals.bet_sizing import (
    average_active_bets,
    bet_size,
    bet_size_dynamic,
    discretize_bet,
    sigmoid_width,
)
from qresearch.signals.combine import combine
from qresearch.signals.crossover import crossover, crossunder
from qresearch.signals.selection import bottom_n_signals, top_n_signals
from qresearch.signals.thresholds import threshold_signals

__all__ = [
    "NOT_SIGNALS",
    "REGISTRY",
    "average_active_bets",
    "bet_size",
    "bet_size_dynamic",
    "bottom_n_signals",
    "combine",
    "crossover",
    "crossunder",
    "discretize_bet",
    "sigmoid_width",
    "threshold_signals",
    "top_n_signals",
]

KwargsBuilder = Callable[[Bars], dict[str, Any]]


# Causal inputs built from the close panel with plain pandas (no other stage needed).
def _sma(bars: Bars, window: int) -> pd.DataFrame:
    return bars.close.rolling(window).mean()


def _zscore(bars: Bars, window: int = 20) -> pd.DataFrame:
    rolling = bars.close.rolling(window)
    return (bars.close - rolling.mean()) / rolling.std()


def _momentum(bars: Bars, window: int = 20) -> pd.DataFrame:
    return bars.close / bars.close.shift(window) - 1.0


def _moving_averages(bars: Bars) -> dict[str, Any]:
    return {"fast": _sma(bars, 10), "slow": _sma(bars, 30)}


def _scores(**kwargs: Any) -> KwargsBuilder:
    return lambda bars: {"scores": _momentum(bars), **kwargs}


def _combine(bars: Bars) -> dict[str, Any]:
    return {
        "signals": {"momentum": _momentum(bars), "reversal": _zscore(bars)},
        "weights": {"momentum": 1.0, "reversal": -0.5},
        "method": "mean",
    }


def _bet_size(bars: Bars) -> dict[str, Any]:
    # A logistic "probability" of the z-score, sided by the sign of momentum.
    return {
        "prob": 1.0 / (1.0 + np.exp(-_zscore(bars))),
        "n_classes": 2,
        "step": 0.1,
        "side": np.sign(_momentum(bars)),
    }


REGISTRY: dict[str, tuple[Callable[..., Any], KwargsBuilder]] = {
    "crossover": (crossover, _moving_averages),
    "crossunder": (crossunder, _moving_averages),
    "threshold_signals": (
        threshold_signals,
        lambda bars: {"x": _zscore(bars), "entry": 1.5, "exit": 0.0, "side": "both"},
    ),
    "top_n_signals": (top_n_signals, _scores(n=2)),
    "bottom_n_signals": (bottom_n_signals, _scores(n=1)),
    "combine": (combine, _combine),
    "bet_size": (bet_size, _bet_size),
    "discretize_bet": (
        discretize_bet,
        lambda bars: {"size": np.tanh(_zscore(bars)), "step": 0.25},
    ),
    "bet_size_dynamic": (
        bet_size_dynamic,
        lambda bars: {
            "forecast_price": _sma(bars, 20),
            "market_price": bars.close,
            "width": 4.0,
        },
    ),
}

NOT_SIGNALS: dict[str, str] = {
    "average_active_bets": "needs the bets' end times t1 (labels); input is long-format",
    "sigmoid_width": "calibrates a scalar width, not a panel",
}
