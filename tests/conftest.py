"""Shared fixtures: seeded synthetic panels and the bundled real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qresearch.data.bars import Bars


def make_close(n_rows: int = 300, n_symbols: int = 5, seed: int = 0, ragged: bool = True):
    """A seeded random-walk close panel; with ``ragged`` later symbols list later."""
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2015-01-02", periods=n_rows, name="timestamp")
    rets = rng.normal(0.0003, 0.015, size=(n_rows, n_symbols))
    close = 50.0 * np.exp(np.cumsum(rets, axis=0))
    panel = pd.DataFrame(close, index=idx, columns=[f"S{i:03d}" for i in range(n_symbols)])
    panel.columns.name = "symbol"
    if ragged:
        for j in range(n_symbols):
            panel.iloc[: j * (n_rows // (3 * n_symbols)), j] = np.nan
    return panel


def make_bars(n_rows: int = 300, n_symbols: int = 5, seed: int = 0, ragged: bool = True) -> Bars:
    """Seeded synthetic OHLCV bars that satisfy low <= open, close <= high."""
    rng = np.random.default_rng(seed + 1)
    close = make_close(n_rows, n_symbols, seed, ragged)
    prev = close.shift(1).fillna(close)
    open_ = prev * np.exp(rng.normal(0, 0.005, close.shape))
    top = np.maximum(open_, close)
    bottom = np.minimum(open_, close)
    high = top * (1 + np.abs(rng.normal(0, 0.01, close.shape)))
    low = bottom * (1 - np.abs(rng.normal(0, 0.01, close.shape)))
    volume = pd.DataFrame(
        rng.integers(1_000, 1_000_000, close.shape).astype("float64"),
        index=close.index,
        columns=close.columns,
    ).where(close.notna())
    return Bars(open=open_.where(close.notna()), high=high, low=low, close=close, volume=volume)


@pytest.fixture
def close_panel() -> pd.DataFrame:
    return make_close()


@pytest.fixture
def bars() -> Bars:
    return make_bars()


@pytest.fixture(scope="session")
def sample_bars() -> Bars:
    from qresearch.datasets import load_sample

    out = load_sample("ohlcv")
    assert isinstance(out, Bars)
    return out


@pytest.fixture(scope="session")
def sample_stocks() -> pd.DataFrame:
    from qresearch.datasets import load_sample

    out = load_sample("stocks")
    assert isinstance(out, pd.DataFrame)
    return out
