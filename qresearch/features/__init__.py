"""Causal features: panel in, panel out (values at t use data up to and including t).

Importing this package loads pandas but no numba, scipy or statsmodels: the numba
kernels (technical indicators, rolling volatility and z-score, cross-sectional rank,
fractional differencing) compile or load from numba's disk cache on first use,
:func:`frac_diff_ffd` imports scipy's FFT for long windows, and the ADF test of
:func:`min_ffd_order` imports statsmodels when called.

``REGISTRY`` maps the name of every feature function to ``(function, build_kwargs)``,
where ``build_kwargs(bars)`` returns the keyword arguments of a representative call
on a :class:`qresearch.data.Bars`; generic tests (no look-ahead, no mutation) iterate
over it. :func:`min_ffd_order` and :func:`ffd_weights` are listed in ``NOT_FEATURES``
instead: the first is a whole-sample estimator, the second returns the weights.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from qresearch.data.bars import Bars
from qresearch.features.cross_section import (
    cross_sectional_demean,
    cross_sectional_rank,
    cross_sectional_zscore,
    neutralize,
    winsorize,
)
from qresearch.features.fracdiff import ffd_weights, frac_diff_ffd, min_ffd_order
from qresearch.features.momentum import momentum
from qresearch.features.returns import returns
from qresearch.features.technical import adx, atr, bollinger, ema, macd, rsi, sma, stochastic
from qresearch.features.volatility import (
    ewm_volatility,
    rolling_beta,
    rolling_correlation,
    rolling_volatility,
    rolling_zscore,
)

__all__ = [
    "NOT_FEATURES",
    "REGISTRY",
    "adx",
    "atr",
    "bollinger",
    "cross_sectional_demean",
    "cross_sectional_rank",
    "cross_sectional_zscore",
    "ema",
    "ewm_volatility",
    "ffd_weights",
    "frac_diff_ffd",
    "macd",
    "min_ffd_order",
    "momentum",
    "neutralize",
    "returns",
    "rolling_beta",
    "rolling_correlation",
    "rolling_volatility",
    "rolling_zscore",
    "rsi",
    "sma",
    "stochastic",
    "winsorize",
]

KwargsBuilder = Callable[[Bars], dict[str, Any]]


def _close(**kwargs: Any) -> KwargsBuilder:
    # Call on the close panel, plus fixed keyword arguments.
    return lambda bars: {"close": bars.close, **kwargs}


def _x(**kwargs: Any) -> KwargsBuilder:
    # Call on the close panel passed as ``x``.
    return lambda bars: {"x": bars.close, **kwargs}


def _benchmark(window: int) -> KwargsBuilder:
    # The equal-weighted average price of the symbols serves as the benchmark.
    return lambda bars: {
        "close": bars.close,
        "benchmark": bars.close.mean(axis=1),
        "window": window,
    }


def _groups(bars: Bars) -> dict[str, Any]:
    # Two alternating groups of symbols.
    return {"x": bars.close, "groups": {s: i % 2 for i, s in enumerate(bars.symbols)}}


REGISTRY: dict[str, tuple[Callable[..., Any], KwargsBuilder]] = {
    "returns": (returns, _close(periods=1, kind="simple")),
    "momentum": (momentum, _close(window=60, skip=5)),
    "rolling_volatility": (rolling_volatility, _close(window=20, periods_per_year=252)),
    "ewm_volatility": (ewm_volatility, _close(span=20)),
    "rolling_zscore": (rolling_zscore, _x(window=20)),
    "rolling_beta": (rolling_beta, _benchmark(30)),
    "rolling_correlation": (rolling_correlation, _benchmark(30)),
    "sma": (sma, _close(window=20)),
    "ema": (ema, _close(span=20)),
    "rsi": (rsi, _close(window=14)),
    "macd": (macd, _close(fast=12, slow=26, signal=9)),
    "bollinger": (bollinger, _close(window=20, k=2.0)),
    "atr": (atr, lambda bars: {"bars": bars, "window": 14}),
    "adx": (adx, lambda bars: {"bars": bars, "window": 14}),
    "stochastic": (stochastic, lambda bars: {"bars": bars, "k": 14, "d": 3}),
    "cross_sectional_rank": (cross_sectional_rank, _x(pct=True)),
    "cross_sectional_zscore": (cross_sectional_zscore, _x()),
    "cross_sectional_demean": (cross_sectional_demean, _x()),
    "winsorize": (winsorize, _x(lower=0.1, upper=0.9)),
    "neutralize": (neutralize, _groups),
    "frac_diff_ffd": (
        frac_diff_ffd,
        lambda bars: {"x": np.log(bars.close), "d": 0.4, "threshold": 1e-3},
    ),
}

NOT_FEATURES: dict[str, str] = {
    "min_ffd_order": "whole-sample estimator of d (uses all data by design)",
    "ffd_weights": "returns the differencing weights, not a panel",
}
