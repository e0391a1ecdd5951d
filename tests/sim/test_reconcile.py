"""The simulator against the vectorized engine and an independent pandas computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import qresearch.api as qr
from qresearch.data.bars import Bars
from qresearch.exceptions import AlignmentError, ParameterError
from qresearch.sim import Simulator, TargetWeights, reconcile


@pytest.fixture(scope="module")
def stocks() -> pd.DataFrame:
    return qr.datasets.load_sample("stocks")


@pytest.fixture(scope="module")
def demo_weights(stocks) -> pd.DataFrame:
    momentum = stocks.pct_change(126, fill_method=None)
    return qr.portfolio.rebalance(
        stocks, momentum, every="ME", lookback=126, method="equal", top_n=5
    )


def _stock_bars(close: pd.DataFrame) -> Bars:
    # Seeded opens/highs/lows around the real closes (the sample has closes only).
    rng = np.random.default_rng(11)
    prev = close.shift(1).fillna(close)
    op = (prev * np.exp(rng.normal(0, 0.004, close.shape))).where(close.notna())
    hi = np.maximum(op, close) * 1.005
    lo = np.minimum(op, close) * 0.995
    vol = pd.DataFrame(1e6, index=close.index, columns=close.columns).where(close.notna())
    return Bars(open=op, high=hi, low=lo, close=close, volume=vol)


@pytest.mark.parametrize(("fees", "slippage"), [(0.0, 0.0), (0.001, 0.0005)])
def test_target_weights_equal_from_weights_next_close(stocks, demo_weights, fees, slippage) -> None:
    res = qr.backtest.from_weights(
        stocks, demo_weights, fees=fees, slippage=slippage, init_cash=1e4
    )
    out = Simulator(stocks, 1e4, fees=fees, slippage=slippage, market_fill="close").run(
        TargetWeights(demo_weights)
    )
    np.testing.assert_allclose(out.equity, res.equity, rtol=1e-9)
    rec = reconcile(res, out)
    s = rec.summary()
    assert s["unexplained"] == 0 and s["max_abs_relative_equity_difference"] < 1e-9
    assert s["fills_simulated"] == s["fills_vectorized"] == len(res.orders)
    page = rec._repr_html_()
    assert "Reconciliation" in page and "unexplained" in page
    # Zero targets for symbols not held are not sent; nothing is rejected.
    assert out.rejections.empty
    assert (out.order_book["status"] == "filled").mean() > 0.95


def test_target_weights_equal_from_weights_next_open(stocks, demo_weights) -> None:
    bars = _stock_bars(stocks)
    res = qr.backtest.from_weights(
        bars, demo_weights, fees=0.001, slippage=0.0005, init_cash=1e4, execution="next_open"
    )
    out = Simulator(bars, 1e4, fees=0.001, slippage=0.0005, market_fill="open").run(
        TargetWeights(demo_weights)
    )
    np.testing.assert_allclose(out.equity, res.equity, rtol=1e-9)
    np.testing.assert_allclose(out.cash, res.cash, rtol=1e-9, atol=1e-9)
    assert reconcile(res, out).summary()["unexplained"] == 0


def test_daily_rebalancing_with_shorts_and_leverage_reconciles() -> None:
    from tests.conftest import make_bars

    bars = make_bars(200, 6, seed=8)
    rng = np.random.default_rng(3)
    w = pd.DataFrame(rng.uniform(-0.3, 0.5, bars.close.shape), bars.index, bars.close.columns)
    w = w.where(bars.close.notna())
    w = w.div(np.maximum(w.abs().sum(axis=1) / 1.5, 1.0), axis=0)  # gross <= leverage 1.5
    kw = {"fees": 0.002, "fixed_fees": 0.1, "leverage": 1.5, "size_granularity": 1.0}
    res = qr.backtest.from_weights(bars, w, init_cash=1e5, execution="next_open", **kw)
    out = Simulator(bars, 1e5, market_fill="open", **kw).run(TargetWeights(w))
    np.testing.assert_allclose(out.equity, res.equity, rtol=1e-9)
    assert reconcile(res, out).summary()["unexplained"] == 0


def test_reconcile_explains_differences(stocks, demo_weights) -> None:
    bars = _stock_bars(stocks)
    res = qr.backtest.from_weights(
        bars, demo_weights, fees=0.001, init_cash=1e4, execution="next_open"
    )
    # Whole shares in the simulator only: sizes differ by less than a share.
    out = Simulator(bars, 1e4, fees=0.001, size_granularity=1.0).run(TargetWeights(demo_weights))
    rec = reconcile(res, out)
    reasons = set(rec.fills["reason"]) - {"", "rounding"}
    assert "quantity rounding" in reasons
    assert rec.summary()["unexplained"] == 0 and rec.unexplained.empty
    # A volume limit: partial fills.
    thin = Bars(
        **{
            **{f: getattr(bars, f) for f in ("open", "high", "low", "close")},
            "volume": bars.volume / 1e4,
        }
    )
    out = Simulator(thin, 1e4, fees=0.001, volume_limit=0.05).run(TargetWeights(demo_weights))
    rec = reconcile(res, out)
    assert {"partial fill", "equity path"} <= set(rec.fills["reason"])
    assert rec.summary()["unexplained"] == 0
    # Different fees have no reason: the first differing fill is unexplained.
    out = Simulator(bars, 1e4, fees=0.002).run(TargetWeights(demo_weights))
    rec = reconcile(res, out)
    first = rec.fills[rec.fills["reason"] != ""].iloc[0]
    assert first["reason"] == "unexplained" and first["fees_difference"] > 0
    # Market orders at the close instead of the open: different fill prices.
    out = Simulator(bars, 1e4, fees=0.001, market_fill="close").run(TargetWeights(demo_weights))
    assert "fill price" in set(reconcile(res, out).fills["reason"])


def test_reconcile_rejects_bad_inputs(stocks, demo_weights) -> None:
    res = qr.backtest.from_weights(stocks, demo_weights, init_cash=1e4)
    out = Simulator(stocks.iloc[:-5], 1e4, market_fill="close").run(
        TargetWeights(demo_weights.iloc[:-5])
    )
    with pytest.raises(AlignmentError, match="different bars"):
        reconcile(res, out)
    with pytest.raises(ParameterError, match="sim_result"):
        reconcile(res, res)
    with pytest.raises(AlignmentError):
        Simulator(stocks, market_fill="close").run(TargetWeights(demo_weights.iloc[:, :3]))


def test_sma_crossover_on_orcl_equals_a_pandas_computation() -> None:
    bars = qr.datasets.load_sample("ohlcv", symbols=["ORCL"])
    close, opens = bars.close["ORCL"], bars.open["ORCL"]
    fast = qr.features.sma(bars.close, 10)["ORCL"].to_numpy()
    slow = qr.features.sma(bars.close, 30)["ORCL"].to_numpy()

    class Cross:
        def on_bar(self, ctx):
            i = ctx.i
            if i == 0 or np.isnan(slow[i - 1]):
                return
            up = fast[i] > slow[i] and fast[i - 1] <= slow[i - 1]
            down = fast[i] < slow[i] and fast[i - 1] >= slow[i - 1]
            if up and ctx.position("ORCL") == 0:
                ctx.buy("ORCL", 100)
            elif down and ctx.position("ORCL") > 0:
                ctx.sell("ORCL", 100)

    out = Simulator(bars, 1e5, fees=0.001).run(Cross())
    # Independent: rolling means, crossings, a position state machine, next-open fills.
    f = close.rolling(10).mean()
    s = close.rolling(30).mean()
    up = (f > s) & (f.shift(1) <= s.shift(1))
    down = (f < s) & (f.shift(1) >= s.shift(1))
    expected, long = [], False
    for t in range(len(close) - 1):
        if up.iloc[t] and not long:
            expected.append((close.index[t + 1], "buy", opens.iloc[t + 1]))
            long = True
        elif down.iloc[t] and long:
            expected.append((close.index[t + 1], "sell", opens.iloc[t + 1]))
            long = False
    got = list(zip(out.fills["timestamp"], out.fills["side"], out.fills["price"], strict=True))
    assert len(got) == len(expected) > 50
    assert got == expected
    fees = out.fills["fees"].to_numpy()
    np.testing.assert_allclose(fees, 0.001 * 100 * out.fills["price"].to_numpy())


def test_target_weights_with_latency_executes_every_decision_in_order() -> None:
    from tests.conftest import make_bars

    bars = make_bars(60, 3, seed=1, ragged=False)
    rng = np.random.default_rng(2)
    w = pd.DataFrame(rng.uniform(0, 0.3, bars.close.shape), bars.index, bars.close.columns)
    w.iloc[:, 2] = 0.0  # never held: no orders at all
    out = Simulator(bars, 1e5, latency_bars=1).run(TargetWeights(w))
    # Daily decisions with a one-bar latency: the decision of bar t trades at t+2's open.
    # The same as from_weights on the weights lagged by one more bar.
    res = qr.backtest.from_weights(bars, w.shift(1), init_cash=1e5, execution="next_open")
    np.testing.assert_allclose(out.equity, res.equity, rtol=1e-9)
    assert (out.order_book["symbol"] != "S002").all()
    assert "replaced" not in set(out.orders["event"])


def test_sim_config_id_follows_the_weights(stocks, demo_weights) -> None:
    sim = Simulator(stocks, 1e4, market_fill="close")
    a = sim.run(TargetWeights(demo_weights))
    w2 = demo_weights.copy()
    w2.iloc[-30:] = w2.iloc[-30:] * 0.5
    assert a.config_id != sim.run(TargetWeights(w2)).config_id
    assert a.config_id == sim.run(TargetWeights(demo_weights.copy())).config_id
