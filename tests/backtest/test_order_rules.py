"""from_weights rules: gross bounded by leverage, minimum order value, scale invariance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qresearch.backtest import from_weights
from qresearch.exceptions import ParameterError
from qresearch.sim import Simulator, TargetWeights
from tests.conftest import make_close

IDX = pd.date_range("2024-01-01", periods=4, name="timestamp")


def test_targets_above_leverage_raise_or_scale() -> None:
    close = pd.DataFrame({"A": 10.0, "B": 20.0, "C": 30.0}, index=IDX)
    w = pd.DataFrame([[1.0, 1.0, 1.0]] + [[np.nan] * 3] * 3, index=IDX, columns=close.columns)
    with pytest.raises(ParameterError, match=r"2024-01-01.*gross exposure of 3 .*leverage=1 "):
        from_weights(close, w, init_cash=300.0)
    res = from_weights(close, w, init_cash=300.0, over_leverage="scale")
    # Scaled to 1/3 each: 100 of each at the next close.
    assert res.positions.iloc[-1].tolist() == pytest.approx([10.0, 5.0, 10 / 3])
    # Shorts count: 6 long and 5 short is a gross of 11.
    ls = pd.DataFrame([[6.0, -5.0, 0.0]] + [[np.nan] * 3] * 3, index=IDX, columns=close.columns)
    with pytest.raises(ParameterError, match="gross exposure of 11"):
        from_weights(close, ls, leverage=10.0)
    res = from_weights(close, ls, leverage=11.0, init_cash=100.0)
    assert res.positions.iloc[-1, :2].tolist() == pytest.approx([60.0, -25.0])
    with pytest.raises(ParameterError, match="over_leverage"):
        from_weights(close, w, over_leverage="clip")
    # The simulator's TargetWeights applies the same rule.
    with pytest.raises(ParameterError, match="gross exposure of 3"):
        Simulator(close, market_fill="close").run(TargetWeights(w))
    out = Simulator(close, 300.0, market_fill="close").run(TargetWeights(w, over_leverage="scale"))
    np.testing.assert_allclose(
        out.equity,
        res_equity := from_weights(close, w, init_cash=300.0, over_leverage="scale").equity,
    )
    assert res_equity.iloc[-1] == pytest.approx(300.0)


def test_sweep_gross_is_checked_per_portfolio() -> None:
    close = make_close(20, 2, seed=1, ragged=False)
    half = pd.DataFrame(0.5, index=close.index, columns=close.columns)
    sweep = pd.concat({1: half, 2: half * 2}, axis=1, names=["k", "symbol"])
    with pytest.raises(ParameterError, match="of portfolio 1 add up to a gross exposure of 2"):
        from_weights(close, sweep)
    from_weights(close, sweep, leverage=2.0)


def test_results_do_not_depend_on_init_cash_or_price_scale() -> None:
    # A 0.5% target of a $650k stock with $1 of cash: 7.7e-9 shares, still bought.
    close = pd.DataFrame({"A": 650_000.0, "B": 10.0}, index=IDX)
    w = pd.DataFrame([[0.005, 0.5]] + [[np.nan] * 2] * 3, index=IDX, columns=close.columns)
    small = from_weights(close, w, init_cash=1.0)
    big = from_weights(close, w, init_cash=1e6)
    assert small.positions["A"].iloc[-1] == pytest.approx(0.005 / 650_000)
    np.testing.assert_allclose(small.positions * 1e6, big.positions, rtol=1e-12)
    # Prices near 1e12 trade too.
    huge = from_weights(close * 1e7, w, init_cash=1.0)
    assert (huge.positions.iloc[-1] > 0).all() and len(huge.orders) == 2
    # Random panels: equity scales exactly with the cash (no fixed fees).
    panel = make_close(80, 5, seed=4)
    rng = np.random.default_rng(1)
    rw = pd.DataFrame(rng.random(panel.shape), panel.index, panel.columns).where(panel.notna())
    keep = pd.Series(rng.random(len(panel)) < 0.2, index=panel.index)
    rw = rw.div(rw.sum(axis=1), axis=0).where(keep, axis=0)
    a = from_weights(panel, rw, init_cash=1.0, fees=0.001)
    b = from_weights(panel, rw, init_cash=1e9, fees=0.001)
    np.testing.assert_allclose(a.equity * 1e9, b.equity, rtol=1e-9)
    assert len(a.orders) == len(b.orders)


def test_min_order_value_skips_small_orders() -> None:
    close = pd.DataFrame({"A": 10.0, "B": 10.0}, index=IDX)
    w = pd.DataFrame(
        [[0.5, 0.5], [0.52, 0.48], [np.nan, np.nan], [np.nan, np.nan]],
        index=IDX,
        columns=close.columns,
    )
    # The second row moves 2% of 1000 = 20 of value: skipped at min_order_value=25.
    res = from_weights(close, w, init_cash=1000.0, min_order_value=25.0)
    assert len(res.orders) == 2
    res = from_weights(close, w, init_cash=1000.0, min_order_value=15.0)
    assert len(res.orders) == 4
    with pytest.raises(ParameterError, match="min_order_value"):
        from_weights(close, w, min_order_value=-1.0)
    out = Simulator(close, 1000.0, market_fill="close", min_order_value=25.0).run(TargetWeights(w))
    assert len(out.fills) == 2
