"""Picklable callables for the sweep tests (imported by name in spawned workers)."""

from __future__ import annotations

import time

import pandas as pd

_CLOSE: pd.DataFrame | None = None


def small_close() -> pd.DataFrame:
    """Return 8 stocks with full history over 2010-2012 from the bundled sample."""
    global _CLOSE
    if _CLOSE is None:
        from qresearch.datasets import load_sample

        close = load_sample("stocks").loc["2010":"2012"]
        _CLOSE = close.dropna(axis=1).iloc[:, :8]
    return _CLOSE


def momentum(lookback: int, top_n: int = 3, fail_on: int | None = None) -> object:
    """Backtest month-end top-n by trailing return over ``lookback`` rows."""
    from qresearch.backtest import from_weights

    if fail_on is not None and lookback == fail_on:
        raise RuntimeError(f"lookback {lookback} is broken on purpose")
    close = small_close()
    mom = close.pct_change(lookback, fill_method=None)
    month_end = close.index.to_series().groupby(close.index.to_period("M")).max()
    ranks = mom.loc[month_end.to_numpy()].rank(axis=1, ascending=False)
    weights = (ranks <= top_n).astype(float) / top_n
    weights[mom.loc[month_end.to_numpy()].isna().all(axis=1)] = float("nan")
    return from_weights(close, weights.reindex(close.index), fees=0.001)


def slow_returns(seed: int, sleep_s: float = 0.0) -> pd.Series:
    """Return a seeded random returns Series after sleeping ``sleep_s``."""
    import numpy as np

    time.sleep(sleep_s)
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2020-01-01", periods=252, name="timestamp")
    return pd.Series(rng.normal(0.0005, 0.01, len(idx)), index=idx)


def slow_returns_with(seed: int, sleep_s: float = 0.0, other: int = 0) -> pd.Series:
    """Return ``slow_returns(seed + other, sleep_s)``: a third parameter to average over."""
    return slow_returns(seed + other, sleep_s)


def not_returns(value: int) -> int:
    """Return ``value``: neither a BacktestResult nor a returns Series."""
    return value
