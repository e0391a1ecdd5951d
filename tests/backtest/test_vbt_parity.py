"""Parity with vectorbt (the oracle) on the bundled real data: equity equal to 1e-9."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from qresearch.backtest import from_weights
from qresearch.data.bars import Bars

# Long: vectorbt compiles its kernels on first use. Deselect with -m "not slow".
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def vbt():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pytest.importorskip("vectorbt")


def _vbt_value(vbt, close, weights, price=None, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pf = vbt.Portfolio.from_orders(
            close,
            size=weights,
            price=price if price is not None else np.inf,
            size_type="targetpercent",
            cash_sharing=True,
            group_by=True,
            call_seq="auto",
            freq="1D",
            **kw,
        )
        return pf.value(), pf.order_records


def _momentum_weights(close: pd.DataFrame, top: int = 5) -> pd.DataFrame:
    # Month-end top-N by 126-day momentum among listed stocks, equal weight; NaN = hold.
    mom = close.pct_change(126, fill_method=None)
    month_end = close.index.to_series().groupby(close.index.to_period("M")).max().to_numpy()
    ranks = mom.loc[month_end].rank(axis=1, ascending=False)
    w = (ranks <= top).astype(float).div(top).where(close.loc[month_end].notna(), 0.0)
    return w.reindex(close.index)


@pytest.mark.parametrize(
    "costs",
    [
        {},
        {"fees": 0.001, "slippage": 0.0005},
        {"fees": 0.002, "fixed_fees": 0.5, "slippage": 0.001},
    ],
)
def test_from_weights_equals_vectorbt_on_bundled_stocks(vbt, sample_stocks, costs) -> None:
    close = sample_stocks.loc["2000":]
    w = _momentum_weights(close)
    res = from_weights(close, w, init_cash=10_000.0, **costs)
    value, recs = _vbt_value(vbt, close, w.shift(1), init_cash=10_000.0, **costs)
    np.testing.assert_allclose(res.equity.to_numpy(), value.to_numpy(), rtol=1e-9)
    assert len(res.orders) == len(recs)
    np.testing.assert_allclose(
        np.sort(res.orders["fees"].to_numpy()), np.sort(recs["fees"]), rtol=1e-9
    )


def test_next_open_long_short_equals_vectorbt(vbt, sample_bars: Bars) -> None:
    bars = sample_bars.select(start="2000-01-01")
    rng = np.random.default_rng(0)
    raw = rng.normal(0.2, 0.5, bars.shape)
    w = pd.DataFrame(raw, index=bars.index, columns=bars.symbols).where(bars.close.notna(), 0.0)
    w.loc[rng.random(bars.shape[0]) > 0.1] = np.nan  # ~10% of days rebalance
    w = w.div(np.maximum(w.abs().sum(axis=1), 1.0), axis=0)  # gross <= leverage 1
    res = from_weights(bars, w, init_cash=1e6, fees=0.0005, slippage=0.001)
    value, _ = _vbt_value(
        vbt, bars.close, w.shift(1), price=bars.open, init_cash=1e6, fees=0.0005, slippage=0.001
    )
    np.testing.assert_allclose(res.equity.to_numpy(), value.to_numpy(), rtol=1e-9)


def test_trades_equal_vectorbt_positions(vbt, sample_stocks) -> None:
    close = sample_stocks.loc["2005":]
    w = _momentum_weights(close, top=3)
    res = from_weights(close, w, init_cash=10_000.0, fees=0.001, slippage=0.0005)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pf = vbt.Portfolio.from_orders(
            close,
            size=w.shift(1),
            size_type="targetpercent",
            cash_sharing=True,
            group_by=True,
            call_seq="auto",
            fees=0.001,
            slippage=0.0005,
            init_cash=10_000.0,
            freq="1D",
        )
        rec = pf.positions.records
    trades = res.trades
    assert len(trades) == len(rec)
    mine = trades.sort_values(["symbol", "entry_time"])
    theirs = pd.DataFrame(
        {
            "symbol": close.columns[rec["col"]],
            "entry_time": close.index[rec["entry_idx"]],
            "pnl": rec["pnl"],
            "return": rec["return"],
            "size": rec["size"],
            "entry_price": rec["entry_price"],
        }
    ).sort_values(["symbol", "entry_time"])
    for col in ("pnl", "return", "size", "entry_price"):
        np.testing.assert_allclose(
            mine[col].to_numpy(), theirs[col].to_numpy(), rtol=1e-7, atol=1e-9
        )


def test_to_vectorbt_replays_the_same_fills(vbt, sample_stocks, sample_bars) -> None:
    close = sample_stocks.loc["2010":]
    res = from_weights(
        close, _momentum_weights(close), init_cash=1e4, fees=0.001, fixed_fees=1.0, slippage=0.001
    )
    pf = res.to_vectorbt()
    np.testing.assert_allclose(pf.value().to_numpy(), res.equity.to_numpy(), rtol=1e-9)
    assert len(pf.order_records) == len(res.orders)
    from qresearch.backtest import from_signals

    bars = sample_bars.select(start="2008-01-01")
    e = bars.close > bars.close.rolling(50).mean()
    sig = from_signals(bars, e, ~e, sl_stop=0.05, fees=0.001, init_cash=1e4)
    np.testing.assert_allclose(
        sig.to_vectorbt().value().to_numpy(), sig.equity.to_numpy(), rtol=1e-9
    )


def test_to_vectorbt_rejects_sweeps(sample_stocks) -> None:
    from qresearch.exceptions import ParameterError

    close = sample_stocks.loc["2015":, ["AAPL", "GE"]]
    w = close * 0 + 0.5
    sweep = from_weights(close, pd.concat({1: w, 2: w}, axis=1))
    with pytest.raises(ParameterError, match="converts one portfolio"):
        sweep.to_vectorbt()
