"""Regressions found by review: brackets, replace, latency, risk cooldown, look-ahead, reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import qresearch.api as qr
from qresearch.exceptions import StrategyError
from qresearch.portfolio.risk import RiskLimits
from qresearch.sim import Simulator, TargetWeights, reconcile
from tests.sim._bars import Script, hand_bars

FLAT = (10.0, 10.5, 9.5, 10.0)


def run(bars, actions=None, start=None, **kw):
    strat = Script(actions, start)
    kw.setdefault("init_cash", 1e6)
    return Simulator(bars, **kw).run(strat), strat


def test_newest_target_wins_when_latency_delays_two_decisions() -> None:
    bars = hand_bars([(10.0, 10.0, 10.0, 10.0, 200.0)] * 12)
    act = {
        0: lambda s, ctx: ctx.order_target_percent("A", 0.5),
        1: lambda s, ctx: ctx.order_target_percent("A", 0.001),  # 100 shares of 1e6
    }
    out, _ = run(bars, act, latency_bars=1, volume_limit=0.5)
    # Bar 2: the first decision buys 100 (volume cap); bar 3: the newer one (100 shares)
    # replaces it, and the position stays at 100.
    assert out.positions["A"].tolist() == [0.0, 0.0] + [100.0] * 10
    assert (3, "replaced", "replaced") in list(
        zip(out.orders["bar"], out.orders["event"], out.orders["reason"], strict=True)
    )


def test_bracket_with_a_rejected_entry_or_exit_price_is_rejected_whole() -> None:
    bars = hand_bars([FLAT, (10.0, 11.5, 9.8, 11.0), (10.0, 11.5, 8.5, 10.0)])

    def no_entry_price(s, ctx):
        s.ids["b"] = ctx.bracket("A", 10, stop_price=9, limit_price=11, entry_type="limit")

    out, _ = run(bars, {0: no_entry_price})
    assert out.fills.empty and out.positions["A"].iloc[-1] == 0.0
    assert out.rejections["reason"].tolist() == [
        "invalid_price",
        "parent_not_filled",
        "parent_not_filled",
    ]

    def no_stop(s, ctx):
        ctx.bracket("A", 10, stop_price=None, limit_price=11)

    out, _ = run(bars, {0: no_stop})
    assert out.fills.empty and len(out.rejections) == 3


def test_replacing_bracket_legs_and_entries_keeps_the_bracket() -> None:
    bars = hand_bars([FLAT, FLAT, (10.0, 10.2, 9.0, 9.5), (9.5, 9.6, 8.9, 9.2), FLAT])

    def enter(s, ctx):
        s.ids["b"] = ctx.bracket("A", 10, 8.0, 12.0, entry_type="limit", entry_price=8.0)

    def move_stop(s, ctx):
        s.ids["stop"] = ctx.replace(s.ids["b"].stop_loss, stop_price=9.1)

    # A held stop-loss replaced before the entry fills stays held: no fill, no short.
    out, strat = run(bars, {0: enter, 1: move_stop})
    assert out.fills.empty
    assert out.order_book.loc[strat.ids["stop"], "status"] == "held"

    def move_entry(s, ctx):
        s.ids["entry"] = ctx.replace(s.ids["b"].entry, limit_price=9.6)

    # A replaced entry keeps its exits: entry at 9.6 on bar 2, stop-loss active from
    # bar 3 (low 8.9 > 8.0: not hit), so the position is protected but still open.
    out, strat = run(bars, {0: enter, 1: move_entry})
    b = strat.ids["b"]
    assert out.fills[["side", "price"]].values.tolist() == [["buy", 9.6]]
    assert out.order_book.loc[[b.stop_loss, b.take_profit], "status"].tolist() == ["working"] * 2
    assert out.order_book.loc[[b.stop_loss, b.take_profit], "qty"].tolist() == [10.0, 10.0]


def test_replace_keeps_trailing_reference_and_trigger() -> None:
    bars = hand_bars(
        [
            (100, 101, 99, 100),
            (100, 120, 99, 110),
            (110, 115, 109, 110),
            (110, 111, 108, 109),
            (109, 110, 104, 105),
        ]
    )

    def trail(s, ctx):
        s.ids["t"] = ctx.sell("A", 10, "trailing_stop", trail_percent=0.05)

    def shrink(s, ctx):
        ctx.replace(s.ids["t"], qty=5)

    # Reference 120 after bar 1 (stop 114): bar 2 opens at 110 below it -> 110.
    out, _ = run(bars, {0: trail, 1: shrink})
    assert out.fills[["qty", "price"]].values.tolist() == [[5.0, 110.0]]
    assert out.fills["timestamp"].iloc[0] == bars.index[2]

    # A triggered stop-limit stays triggered when its limit moves.
    bars = hand_bars([(100, 101, 99, 100), (96, 97, 94, 95), (97, 98, 96.8, 97), (97, 98, 96, 97)])

    def stop_limit(s, ctx):
        s.ids["s"] = ctx.sell("A", 10, "stop_limit", stop_price=95, limit_price=96)

    def move(s, ctx):
        ctx.replace(s.ids["s"], limit_price=96.5)

    out, _ = run(bars, {0: stop_limit, 1: move})
    assert out.fills[["price"]].values.ravel().tolist() == [97.0]


def test_replace_of_a_finished_order_is_a_rejection_not_a_crash() -> None:
    bars = hand_bars([FLAT, (10.0, 10.2, 9.6, 9.9), FLAT])

    def submit(s, ctx):
        s.ids["a"] = ctx.buy("A", 5, "limit", limit_price=9.7)

    def change(s, ctx):
        s.ids["b"] = ctx.replace(s.ids["a"], limit_price=9.6)

    out, strat = run(bars, {0: submit, 1: change})
    assert out.fills["qty"].tolist() == [5.0]
    assert out.rejections[["order_id", "reason"]].values.tolist() == [
        [strat.ids["b"], "order_not_working"]
    ]
    with pytest.raises(StrategyError, match="cannot be replaced"):
        run(bars, {0: lambda s, ctx: ctx.replace(ctx.order_target_percent("A", 0.5), qty=1)})


@pytest.mark.parametrize(
    "risk",
    [
        RiskLimits(bar_loss_limit=0.1, cooldown_bars=1),
        RiskLimits(bar_loss_limit=0.1, cooldown_bars=0),
        RiskLimits(max_drawdown=0.05, cooldown_bars=3),
        RiskLimits(max_losing_bars=3, cooldown_bars=5),
    ],
)
def test_risk_limits_equal_from_weights(risk) -> None:
    close = pd.DataFrame(
        {"A": [100.0, 100.0, 80.0, 80.0, 81.0, 82.0, 79.0, 78.0, 77.0, 76.0, 80.0, 85.0]},
        index=pd.date_range("2024-01-01", periods=12, name="timestamp"),
    )
    w = close * 0 + 1.0
    res = qr.backtest.from_weights(close, w, init_cash=1e4, risk=risk)
    out = Simulator(close, 1e4, market_fill="close", risk=risk).run(TargetWeights(w))
    np.testing.assert_allclose(out.positions["A"], res.positions["A"], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(out.equity, res.equity, rtol=1e-9)
    assert reconcile(res, out).summary()["unexplained"] == 0


def test_risk_limits_resume_latest_targets_on_the_stock_panel() -> None:
    stocks = qr.datasets.load_sample("stocks")
    momentum = stocks.pct_change(126, fill_method=None)
    w = qr.portfolio.rebalance(stocks, momentum, every="ME", lookback=126, method="equal", top_n=5)
    risk = RiskLimits(max_drawdown=0.15, cooldown_bars=10)
    res = qr.backtest.from_weights(stocks, w, fees=0.001, init_cash=1e4, risk=risk)
    out = Simulator(stocks, 1e4, fees=0.001, market_fill="close", risk=risk).run(TargetWeights(w))
    assert len(out.risk_events) > 3
    np.testing.assert_allclose(out.equity, res.equity, rtol=1e-9)
    assert reconcile(res, out).summary()["unexplained"] == 0


def test_on_start_sees_no_bar_data() -> None:
    bars = hand_bars([(10.0, 13.0, 9.5, 12.5), FLAT])
    seen = {}

    def peek(s, ctx):
        seen["close"] = ctx.close["A"]
        seen["history"] = len(ctx.history("close", 5))
        seen["equity"] = ctx.equity
        s.ids["t"] = ctx.sell("A", 1, "trailing_stop", trail_percent=0.1)

    out, _ = run(bars, start=peek)
    assert np.isnan(seen["close"]) and seen["history"] == 0 and seen["equity"] == 1e6
    assert out.rejections["reason"].tolist() == ["no_data"]


def test_gtd_works_through_the_end_of_its_day_on_intraday_bars() -> None:
    idx = pd.date_range("2024-01-01 10:00", periods=6, freq="h").append(
        pd.date_range("2024-01-02 10:00", periods=6, freq="h")
    )
    rows = [FLAT] * 12
    rows[8] = (10.0, 10.2, 9.0, 9.5)  # 2024-01-02 12:00 touches 9.0
    bars = hand_bars(rows)
    bars = qr.data.Bars(
        **{
            f: getattr(bars, f).set_axis(idx.rename("timestamp"))
            for f in ("open", "high", "low", "close", "volume")
        }
    )
    act = {
        0: lambda s, ctx: ctx.buy(
            "A", 5, "limit", limit_price=9.0, tif="GTD", good_till="2024-01-02"
        )
    }
    out, _ = run(bars, act)
    assert out.fills["timestamp"].tolist() == [idx[8]]
    # A good_till with a time works through that time.
    act = {
        0: lambda s, ctx: ctx.buy(
            "A", 5, "limit", limit_price=9.0, tif="GTD", good_till="2024-01-02 11:00"
        )
    }
    out, _ = run(bars, act)
    assert out.fills.empty and out.orders["reason"].iloc[-1] == "good_till_date_passed"


def test_reasons_when_fixed_fees_exceed_the_trade() -> None:
    bars = hand_bars([(5.0, 5.0, 5.0, 5.0)] * 4)
    out, _ = run(
        bars,
        {0: lambda s, ctx: ctx.buy("A", 1), 1: lambda s, ctx: ctx.sell("A", 1)},
        init_cash=100.0,
        fixed_fees=8.0,
    )
    assert out.rejections["reason"].tolist() == ["fees_exceed_proceeds"]
    out, _ = run(
        bars, {0: lambda s, ctx: ctx.order_target_percent("A", 0.9)}, init_cash=7.0, fixed_fees=8.0
    )
    assert out.orders["reason"].iloc[-1] == "insufficient_cash"


def test_bad_order_arguments_are_rejections() -> None:
    bars = hand_bars([FLAT, FLAT, FLAT])

    def orders(s, ctx):
        ctx.buy(["A"], 1)  # unhashable symbol
        ctx.buy("A", True)  # a boolean is not a quantity
        ctx.sell("A", 1, "stop", stop_price=float("inf"))
        ctx.sell("A", 1, "trailing_stop", trail_amount=float("inf"))

    out, _ = run(bars, {0: orders})
    assert out.rejections["reason"].tolist() == [
        "unknown_symbol", "invalid_quantity", "invalid_price", "invalid_price"]  # fmt: skip
    with pytest.raises(StrategyError, match="bracket's entry takes tif"):
        run(bars, {0: lambda s, ctx: ctx.bracket("A", 1, 9.0, 11.0, tif="GTD")})
