"""Each fill rule of the simulator on hand-made bars (expected prices worked out by hand)."""

from __future__ import annotations

import pandas as pd
import pytest

from qresearch.sim import Simulator
from tests.sim._bars import Script, hand_bars

FLAT = (10.0, 10.5, 9.5, 10.0)


def run(bars, actions=None, start=None, on_fill=None, engine="numba", **kw):
    strat = Script(actions, start, on_fill)
    kw.setdefault("init_cash", 1e6)
    out = Simulator(bars, **kw).run(strat, engine=engine)
    return out, strat


def fills(out):
    return [
        (int(b), s, q, p)
        for b, s, q, p in zip(
            out.fills["timestamp"].map(lambda t: out.equity.index.get_loc(t)),
            out.fills["side"],
            out.fills["qty"],
            out.fills["price"],
            strict=True,
        )
    ]


def events(out, order_id):
    ev = out.orders[out.orders["order_id"] == order_id]
    return list(zip(ev["bar"], ev["event"], ev["reason"], strict=True))


@pytest.mark.parametrize("engine", ["numba", "python"])
def test_market_order_fills_next_open_or_next_close(engine) -> None:
    bars = hand_bars([FLAT, (11.0, 12.0, 10.5, 11.5), FLAT])
    buy = {0: lambda s, ctx: ctx.buy("A", 10)}
    out, _ = run(bars, buy, engine=engine)
    assert fills(out) == [(1, "buy", 10.0, 11.0)]
    out, _ = run(bars, buy, market_fill="close", engine=engine)
    assert fills(out) == [(1, "buy", 10.0, 11.5)]


@pytest.mark.parametrize("engine", ["numba", "python"])
def test_buy_limit_at_limit_or_gapped_open(engine) -> None:
    bars = hand_bars([FLAT, (10.0, 10.2, 9.6, 9.9), (9.0, 9.4, 8.8, 9.2), (9.5, 9.6, 9.0, 9.4)])
    # Limit 9.7: bar 1 low 9.6 <= 9.7 -> at the limit.
    out, _ = run(bars, {0: lambda s, ctx: ctx.buy("A", 5, "limit", limit_price=9.7)}, engine=engine)
    assert fills(out) == [(1, "buy", 5.0, 9.7)]
    # Limit 9.5: not reached on bar 1 (low 9.6); bar 2 opens at 9.0 below it -> at the open.
    out, _ = run(bars, {0: lambda s, ctx: ctx.buy("A", 5, "limit", limit_price=9.5)}, engine=engine)
    assert fills(out) == [(2, "buy", 5.0, 9.0)]
    # Limit 8.0: never reached, still working at the end.
    out, _ = run(bars, {0: lambda s, ctx: ctx.buy("A", 5, "limit", limit_price=8.0)}, engine=engine)
    assert fills(out) == [] and out.order_book.loc[0, "status"] == "working"


def test_sell_limit_mirrored() -> None:
    bars = hand_bars([FLAT, (10.0, 10.4, 9.8, 10.1), (11.0, 11.2, 10.8, 11.0)])
    out, _ = run(bars, {0: lambda s, ctx: ctx.sell("A", 5, "limit", limit_price=10.3)})
    assert fills(out) == [(1, "sell", 5.0, 10.3)]
    out, _ = run(bars, {0: lambda s, ctx: ctx.sell("A", 5, "limit", limit_price=10.5)})
    assert fills(out) == [(2, "sell", 5.0, 11.0)]  # gapped open above the limit


def test_limit_never_fills_worse_than_its_limit_with_slippage() -> None:
    bars = hand_bars([FLAT, (10.0, 10.2, 9.6, 9.9)])
    out, _ = run(bars, {0: lambda s, ctx: ctx.buy("A", 5, "limit", limit_price=9.7)}, slippage=0.01)
    assert fills(out) == [(1, "buy", 5.0, 9.7)]
    bars = hand_bars([FLAT, (9.0, 10.2, 8.9, 9.9)])
    out, _ = run(
        bars, {0: lambda s, ctx: ctx.buy("A", 5, "limit", limit_price=9.05)}, slippage=0.01
    )
    assert fills(out)[0][3] == pytest.approx(9.05)  # 9.0 * 1.01 = 9.09 capped at 9.05


@pytest.mark.parametrize("engine", ["numba", "python"])
def test_sell_stop_at_stop_or_gapped_open_and_buy_stop_mirrored(engine) -> None:
    bars = hand_bars([FLAT, (10.0, 10.2, 9.4, 9.6), (9.0, 9.1, 8.5, 8.7), (12.0, 12.5, 11.8, 12.2)])
    out, _ = run(bars, {0: lambda s, ctx: ctx.sell("A", 5, "stop", stop_price=9.5)}, engine=engine)
    assert fills(out) == [(1, "sell", 5.0, 9.5)]
    out, _ = run(bars, {0: lambda s, ctx: ctx.sell("A", 5, "stop", stop_price=9.2)}, engine=engine)
    assert fills(out) == [(2, "sell", 5.0, 9.0)]  # opens at 9.0, through the stop
    out, _ = run(bars, {0: lambda s, ctx: ctx.buy("A", 5, "stop", stop_price=10.1)}, engine=engine)
    assert fills(out) == [(1, "buy", 5.0, 10.1)]
    out, _ = run(bars, {0: lambda s, ctx: ctx.buy("A", 5, "stop", stop_price=11.0)}, engine=engine)
    assert fills(out) == [(3, "buy", 5.0, 12.0)]


def test_stop_fill_pays_slippage() -> None:
    bars = hand_bars([FLAT, (10.0, 10.2, 9.4, 9.6)])
    out, _ = run(bars, {0: lambda s, ctx: ctx.sell("A", 5, "stop", stop_price=9.5)}, slippage=0.01)
    assert fills(out)[0][3] == pytest.approx(9.5 * 0.99)


@pytest.mark.parametrize("engine", ["numba", "python"])
def test_stop_limit_becomes_a_limit_when_triggered(engine) -> None:
    # Sell stop 9.0 limit 8.8. Bar 1 trades through 9.0 inside the bar: fills at 9.0.
    bars = hand_bars([FLAT, (9.5, 9.6, 8.5, 8.7)])
    act = {0: lambda s, ctx: ctx.sell("A", 5, "stop_limit", limit_price=8.8, stop_price=9.0)}
    out, _ = run(bars, act, engine=engine)
    assert fills(out) == [(1, "sell", 5.0, 9.0)]
    # Bar 1 gaps to 8.5 (triggered at the open) and never trades back to 8.8: no fill;
    # bar 2 reaches 8.9 >= 8.8: the triggered limit fills at 8.8.
    bars = hand_bars([FLAT, (8.5, 8.7, 8.2, 8.6), (8.6, 8.9, 8.5, 8.7)])
    out, _ = run(bars, act, engine=engine)
    assert fills(out) == [(2, "sell", 5.0, 8.8)]
    assert [e for _, e, _ in events(out, 0)] == ["submitted", "triggered", "filled"]
    # Buy stop 10.5 limit 10.3 (limit below the stop), triggered inside bar 1: the stop
    # price is beyond the limit, so it waits as a limit; bar 2 dips to 10.2 -> 10.3.
    bars = hand_bars([FLAT, (10.0, 10.8, 9.9, 10.6), (10.6, 10.7, 10.2, 10.4)])
    act = {0: lambda s, ctx: ctx.buy("A", 5, "stop_limit", limit_price=10.3, stop_price=10.5)}
    out, _ = run(bars, act, engine=engine)
    assert fills(out) == [(2, "buy", 5.0, 10.3)]


@pytest.mark.parametrize("engine", ["numba", "python"])
def test_trailing_stop_updates_from_extremes_after_the_fill_check(engine) -> None:
    # Submitted at bar 0 (close 10): ref 10, stop 9.0 (10%). Bar 1 high 12 -> ref 12 after
    # the check (stop 10.8); bar 2 low 10.9 holds; bar 3 low 10.5 -> fills at 10.8.
    bars = hand_bars(
        [FLAT, (10.0, 12.0, 9.1, 11.5), (11.5, 11.8, 10.9, 11.0), (11.0, 11.1, 10.5, 10.6)]
    )
    act = {0: lambda s, ctx: ctx.sell("A", 5, "trailing_stop", trail_percent=0.1)}
    out, _ = run(bars, act, engine=engine)
    assert fills(out) == [(3, "sell", 5.0, pytest.approx(10.8))]
    # Absolute trail of 1.5: ref 10 -> stop 8.5; after bar 1 ref 12 -> stop 10.5; bar 3
    # opens at 11.0 and its low 10.5 touches it -> 10.5.
    act = {0: lambda s, ctx: ctx.sell("A", 5, "trailing_stop", trail_amount=1.5)}
    out, _ = run(bars, act, engine=engine)
    assert fills(out) == [(3, "sell", 5.0, 10.5)]


@pytest.mark.parametrize("engine", ["numba", "python"])
def test_bracket_exits_start_after_the_entry_and_stop_wins(engine) -> None:
    # Entry fills at bar 1's open (10); bar 1 also touches the take-profit 11 but the
    # exits only become active on bar 2; bar 2 touches both 9 and 11: stop-loss wins.
    bars = hand_bars([FLAT, (10.0, 11.5, 9.8, 11.0), (10.0, 11.5, 8.5, 10.0), FLAT])

    def enter(s, ctx):
        s.ids["b"] = ctx.bracket("A", 10, stop_price=9.0, limit_price=11.0)

    out, strat = run(bars, {0: enter}, engine=engine)
    b = strat.ids["b"]
    assert fills(out) == [(1, "buy", 10.0, 10.0), (2, "sell", 10.0, 9.0)]
    assert out.order_book.loc[b.take_profit, "status"] == "cancelled"
    assert (2, "cancelled", "oco_sibling_filled") in events(out, b.take_profit)
    assert list(out.fills["role"]) == ["entry", "stop_loss"]


def test_bracket_take_profit_and_short_bracket() -> None:
    bars = hand_bars([FLAT, FLAT, (10.0, 11.2, 9.8, 11.0), FLAT])
    out, _ = run(bars, {0: lambda s, ctx: ctx.bracket("A", 10, stop_price=9.0, limit_price=11.0)})
    assert fills(out) == [(1, "buy", 10.0, 10.0), (2, "sell", 10.0, 11.0)]
    out, _ = run(
        bars,
        {0: lambda s, ctx: ctx.bracket("A", 10, stop_price=11.0, limit_price=9.0, side="sell")},
    )
    assert fills(out) == [(1, "sell", 10.0, 10.0), (2, "buy", 10.0, 11.0)]


def test_bracket_entry_cancelled_cancels_the_exits() -> None:
    bars = hand_bars([FLAT, FLAT, FLAT])

    def enter(s, ctx):
        s.ids["b"] = ctx.bracket("A", 10, 9.0, 11.0, entry_type="limit", entry_price=5.0)

    out, strat = run(bars, {0: enter, 1: lambda s, ctx: ctx.cancel(s.ids["b"].entry)})
    b = strat.ids["b"]
    assert out.fills.empty
    assert out.order_book.loc[list(b), "status"].tolist() == ["cancelled"] * 3
    assert events(out, b.stop_loss)[-1][2] == "parent_not_filled"


def test_oco_group_cancels_the_other() -> None:
    bars = hand_bars([FLAT, (10.0, 10.6, 9.9, 10.4), FLAT])

    def start(s, ctx):
        s.ids["up"] = ctx.buy("A", 5, "stop", stop_price=10.5)
        s.ids["down"] = ctx.buy("A", 5, "limit", limit_price=9.0)
        ctx.oco(s.ids["up"], s.ids["down"])

    out, strat = run(bars, {0: start})
    assert fills(out) == [(1, "buy", 5.0, 10.5)]
    assert events(out, strat.ids["down"])[-1] == (1, "cancelled", "oco_sibling_filled")


@pytest.mark.parametrize("engine", ["numba", "python"])
def test_ioc_fok_and_volume_limit(engine) -> None:
    # Volume 1000 per bar and volume_limit 0.1: at most 100 shares per bar.
    bars = hand_bars([(*FLAT, 1000.0)] * 4)
    out, _ = run(
        bars, {0: lambda s, ctx: ctx.buy("A", 250, tif="IOC")}, volume_limit=0.1, engine=engine
    )
    assert fills(out) == [(1, "buy", 100.0, 10.0)]
    assert events(out, 0)[-1] == (1, "cancelled", "ioc_remainder")
    out, _ = run(
        bars, {0: lambda s, ctx: ctx.buy("A", 250, tif="FOK")}, volume_limit=0.1, engine=engine
    )
    assert out.fills.empty and events(out, 0)[-1] == (1, "cancelled", "fok_not_fillable")
    out, _ = run(
        bars, {0: lambda s, ctx: ctx.buy("A", 80, tif="FOK")}, volume_limit=0.1, engine=engine
    )
    assert fills(out) == [(1, "buy", 80.0, 10.0)]
    # GTC: partial fills across bars, quantity conserved, remainder stays working.
    out, _ = run(bars, {0: lambda s, ctx: ctx.buy("A", 250)}, volume_limit=0.1, engine=engine)
    assert fills(out) == [(1, "buy", 100.0, 10.0), (2, "buy", 100.0, 10.0), (3, "buy", 50.0, 10.0)]
    assert [e for _, e, _ in events(out, 0)][1:] == [
        "partially_filled", "partially_filled", "filled"]  # fmt: skip
    # Two orders of one symbol share the bar's volume.
    two = {0: lambda s, ctx: (ctx.buy("A", 70), ctx.buy("A", 70))}
    out, _ = run(bars, two, volume_limit=0.1, engine=engine)
    assert fills(out) == [(1, "buy", 70.0, 10.0), (1, "buy", 30.0, 10.0), (2, "buy", 40.0, 10.0)]


@pytest.mark.parametrize("engine", ["numba", "python"])
def test_day_order_expires_at_the_end_of_the_bar_it_is_tried_on(engine) -> None:
    bars = hand_bars([FLAT, FLAT, (9.0, 9.5, 8.5, 9.0)])

    def submit(s, ctx):
        ctx.buy("A", 5, "limit", limit_price=9.0, tif="DAY")
        s.ids["open"] = [o.order_id for o in ctx.open_orders()]

    out, strat = run(bars, {0: submit}, engine=engine)
    assert out.fills.empty
    assert events(out, 0)[-1] == (1, "expired", "day_expired")
    # Working after submission; gone from ctx.open_orders() in on_bar of the bar it expired on.
    assert strat.ids["open"] == [0] and ("bar", 1, ()) in strat.log


def test_gtd_works_through_its_date() -> None:
    bars = hand_bars([FLAT, FLAT, FLAT, (9.0, 9.5, 8.5, 9.0)])
    gtd = {
        0: lambda s, ctx: ctx.buy(
            "A", 5, "limit", limit_price=9.0, tif="GTD", good_till="2024-01-03"
        )
    }
    out, _ = run(bars, gtd)
    assert out.fills.empty and events(out, 0)[-1] == (2, "expired", "good_till_date_passed")
    longer = {
        0: lambda s, ctx: ctx.buy(
            "A", 5, "limit", limit_price=9.0, tif="GTD", good_till="2024-01-04"
        )
    }
    out, _ = run(bars, longer)
    assert fills(out) == [(3, "buy", 5.0, 9.0)]
    past = {1: lambda s, ctx: ctx.buy("A", 5, tif="GTD", good_till="2024-01-01")}
    out, _ = run(bars, past)
    assert out.rejections["reason"].tolist() == ["good_till_before_first_bar"]


@pytest.mark.parametrize("engine", ["numba", "python"])
def test_latency_delays_activation(engine) -> None:
    bars = hand_bars([(float(10 + k), 20.0, 5.0, float(10 + k)) for k in range(6)])
    out, _ = run(bars, {0: lambda s, ctx: ctx.buy("A", 1)}, latency_bars=2, engine=engine)
    assert fills(out) == [(3, "buy", 1.0, 13.0)]


def test_cancel_on_the_same_bar_and_cancel_replace() -> None:
    bars = hand_bars([FLAT, (10.0, 10.2, 9.6, 9.9), FLAT])

    def submit_and_cancel(s, ctx):
        k = ctx.buy("A", 5)
        assert ctx.cancel(k) is True
        assert ctx.cancel(k) is False

    out, _ = run(bars, {0: submit_and_cancel})
    assert out.fills.empty and events(out, 0)[-1] == (0, "cancelled", "cancelled_by_strategy")

    def submit(s, ctx):
        s.ids["a"] = ctx.buy("A", 5, "limit", limit_price=9.0)

    def replace(s, ctx):
        s.ids["b"] = ctx.replace(s.ids["a"], limit_price=9.7, qty=3)

    # Replace on bar 0 after submitting: the new order is tried on bar 1.
    out, strat = run(bars, {0: lambda s, ctx: (submit(s, ctx), replace(s, ctx))})
    assert fills(out) == [(1, "buy", 3.0, 9.7)]
    assert events(out, strat.ids["a"])[-1] == (0, "replaced", "replaced")


def test_fills_reach_on_fill_before_on_bar_and_new_orders_wait_a_bar() -> None:
    bars = hand_bars([FLAT, (11.0, 11.0, 11.0, 11.0), (12.0, 12.0, 12.0, 12.0), FLAT])

    def hook(s, ctx, fill):
        if fill.side == "buy":
            ctx.sell("A", fill.qty)

    out, strat = run(bars, {0: lambda s, ctx: ctx.buy("A", 2)}, on_fill=hook)
    assert strat.log[:5] == [
        ("bar", 0, ()), ("fill", 1, 0), ("bar", 1, (1,)), ("fill", 2, 1), ("bar", 2, ())]  # fmt: skip
    assert fills(out) == [(1, "buy", 2.0, 11.0), (2, "sell", 2.0, 12.0)]


def test_market_order_on_a_bar_without_data_is_rejected_and_limits_wait() -> None:
    nan = float("nan")
    bars = hand_bars([FLAT, (nan, nan, nan, nan, nan), (9.0, 9.5, 8.5, 9.0)])
    out, _ = run(
        bars, {0: lambda s, ctx: (ctx.buy("A", 1), ctx.buy("A", 1, "limit", limit_price=9.2))}
    )
    assert out.rejections["reason"].tolist() == ["no_data"]
    assert fills(out) == [(2, "buy", 1.0, 9.0)]
    assert pd.isna(out.equity).sum() == 0
