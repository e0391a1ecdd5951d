"""The execution core shared by from_weights, from_signals and the simulator."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from qresearch.backtest import from_signals, from_weights
from qresearch.backtest.costs import Costs
from qresearch.data.bars import Bars
from qresearch.sim import Simulator
from tests.conftest import make_bars
from tests.sim._bars import Script, hand_bars


def _flat_bars(n: int, volume: float) -> Bars:
    return hand_bars([(10.0, 10.5, 9.5, 10.0, volume)] * n)


def test_costs_buy_and_sell_by_hand() -> None:
    c = Costs(fees=0.01, fixed_fees=2.0, slippage=0.001)
    qty, price, fee, total = c.buy(100, 50.0)
    assert (qty, price) == (100.0, pytest.approx(50.05))
    assert fee == pytest.approx(100 * 50.05 * 0.01 + 2.0)
    assert total == pytest.approx(100 * 50.05 + fee)
    # Cash-limited: spend exactly 1000: (1000 - 2) / 1.01 of shares value.
    qty, price, fee, total = c.buy(100, 50.0, cash=1000.0)
    assert total == pytest.approx(1000.0) and qty == pytest.approx(998 / 1.01 / 50.05)
    qty, price, fee, net = c.sell(100, 50.0)
    assert price == pytest.approx(49.95) and net == pytest.approx(100 * 49.95 * 0.99 - 2.0)
    # Impact: 0.5 * 0.02 * sqrt(10_000 / 1e6) = 0.001 on top of slippage.
    qty, price, _, _ = Costs(impact=0.5).buy(10_000, 100.0, sigma=0.02, adv=1e6)
    assert price == pytest.approx(100.1)
    assert Costs().sell(1.0, 10.0, sigma=math.nan)[1] == 10.0


def test_simulator_fill_equals_costs_buy_and_sell() -> None:
    bars = make_bars(60, 2, seed=3, ragged=False)
    costs = Costs(fees=0.002, fixed_fees=1.0, slippage=0.001, impact=0.3)
    act = {30: lambda s, ctx: ctx.buy("S000", 500), 40: lambda s, ctx: ctx.sell("S000", 200)}
    out = Simulator(bars, 1e6, fees=0.002, fixed_fees=1.0, slippage=0.001, impact=0.3).run(
        Script(act)
    )
    sigma, adv = costs.impact_inputs(bars.close, bars.volume)
    b, s = out.fills.iloc[0], out.fills.iloc[1]
    exp_b = costs.buy(
        500, bars.open["S000"].iloc[31], sigma=sigma["S000"].iloc[31], adv=adv["S000"].iloc[31]
    )
    exp_s = costs.sell(
        200, bars.open["S000"].iloc[41], sigma=sigma["S000"].iloc[41], adv=adv["S000"].iloc[41]
    )
    assert (b["qty"], b["price"], b["fees"]) == pytest.approx(exp_b[:3], rel=1e-12)
    assert (s["qty"], s["price"], s["fees"]) == pytest.approx(exp_s[:3], rel=1e-12)
    assert out.cash.iloc[35] == pytest.approx(1e6 - exp_b[3], rel=1e-12)


@pytest.mark.parametrize("engine", ["numba", "python"])
def test_from_signals_participation_caps_entries_and_carries_exits(engine) -> None:
    # Volume 1000 per bar, participation 0.1: at most 100 shares per fill.
    bars = _flat_bars(8, 1000.0)
    idx, cols = bars.index, bars.close.columns
    entries = pd.DataFrame(False, idx, cols)
    exits = pd.DataFrame(False, idx, cols)
    entries.iloc[0] = True
    res = from_signals(
        bars, entries, exits, size=250, init_cash=1e5, participation=0.1, engine=engine
    )
    assert res.orders["size"].tolist() == [100.0]
    # An exit of a 250-share position cut to 100 per bar: 100, 100, 50 on the next bars.
    exits.iloc[3] = True
    big = _flat_bars(8, 1000.0)
    vol = big.volume.copy()
    vol.iloc[:2] = 1e9  # the entry bar has plenty of volume
    big = Bars(open=big.open, high=big.high, low=big.low, close=big.close, volume=vol)
    res = from_signals(
        big, entries, exits, size=250, init_cash=1e5, participation=0.1, engine=engine
    )
    sizes = res.orders[["side", "size", "exit"]].values.tolist()
    assert sizes == [
        ["buy", 250.0, ""],
        ["sell", 100.0, "signal"],
        ["sell", 100.0, "signal"],
        ["sell", 50.0, "signal"],
    ]
    assert res.positions.iloc[-1, 0] == 0.0
    assert res.equity.iloc[-1] == pytest.approx(1e5)


@pytest.mark.parametrize("engine", ["numba", "python"])
def test_from_signals_impact_by_hand(engine) -> None:
    bars = make_bars(60, 1, seed=5, ragged=False)
    entries = pd.DataFrame(False, bars.index, bars.close.columns)
    entries.iloc[40] = True
    res = from_signals(bars, entries, size=1000, init_cash=1e6, impact=0.5, engine=engine)
    # Independent sigma and ADV: the 20 returns / volumes before the fill bar (41).
    rets = bars.close.iloc[:, 0].pct_change()
    sigma = rets.iloc[21:41].std()
    adv = bars.volume.iloc[21:41, 0].mean()
    expected = bars.open.iloc[41, 0] * (1 + 0.5 * sigma * math.sqrt(1000 / adv))
    assert res.orders["price"].iloc[0] == pytest.approx(expected, rel=1e-12)


def test_from_signals_impact_needs_bars_and_kernel_twins_agree() -> None:
    bars = make_bars(120, 4, seed=6)
    rng = np.random.default_rng(0)
    entries = pd.DataFrame(rng.random(bars.close.shape) < 0.1, bars.index, bars.close.columns)
    exits = pd.DataFrame(rng.random(bars.close.shape) < 0.1, bars.index, bars.close.columns)
    kw = {
        "impact": 0.2,
        "participation": 0.0005,
        "fees": 0.001,
        "direction": "both",
        "init_cash": 1e5,
    }
    a = from_signals(bars, entries, exits, engine="numba", **kw)
    b = from_signals(bars, entries, exits, engine="python", **kw)
    pd.testing.assert_frame_equal(a.orders, b.orders)
    pd.testing.assert_series_equal(a.equity, b.equity)
    assert (a.orders["size"] <= 0.0005 * 1_000_000 + 1e-9).all()
    with pytest.raises(ValueError, match="need bar volume"):
        from_signals(bars.close, entries, exits, impact=0.1)
    with pytest.raises(ValueError, match="participation"):
        from_weights(bars, entries.astype(float), participation=2.0)
