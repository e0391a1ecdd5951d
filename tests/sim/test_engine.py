"""Simulator accounting, rejections, errors, execution algos, risk limits, twins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qresearch.api as qr
from qresearch.data.bars import Bars
from qresearch.exceptions import DataValidationError, ParameterError, StrategyError
from qresearch.portfolio.risk import RiskLimits
from qresearch.sim import TWAP, VWAP, Simulator
from tests.conftest import make_bars
from tests.sim._bars import Script, hand_bars

FLAT = (10.0, 10.5, 9.5, 10.0)


class RandomOrders:
    """Seeded random orders of every type on every bar (for properties and twins)."""

    def __init__(self, seed: int, rate: float = 0.3):
        self.rng = np.random.default_rng(seed)
        self.rate = rate

    def on_bar(self, ctx):
        rng = self.rng
        for s in ctx.symbols:
            if rng.random() > self.rate:
                continue
            px = ctx.close[s]
            if not px > 0:
                continue
            kind = rng.integers(0, 8)
            qty = float(rng.integers(1, 50))
            side = ctx.buy if rng.random() < 0.6 else ctx.sell
            tif = ["GTC", "DAY", "IOC", "FOK"][rng.integers(0, 4)]
            if kind == 0:
                side(s, qty, tif=tif)
            elif kind == 1:
                side(s, qty, "limit", limit_price=px * rng.uniform(0.97, 1.03), tif=tif)
            elif kind == 2:
                side(s, qty, "stop", stop_price=px * rng.uniform(0.97, 1.03), tif=tif)
            elif kind == 3:
                stop = px * rng.uniform(0.97, 1.03)
                side(
                    s,
                    qty,
                    "stop_limit",
                    stop_price=stop,
                    limit_price=stop * rng.uniform(0.98, 1.02),
                )
            elif kind == 4:
                side(s, qty, "trailing_stop", trail_percent=rng.uniform(0.01, 0.05))
            elif kind == 5:
                ctx.bracket(s, qty, stop_price=px * 0.97, limit_price=px * 1.03)
            elif kind == 6:
                ctx.order_target_percent(s, rng.uniform(-0.2, 0.4))
            else:
                for o in ctx.open_orders(s)[:1]:
                    ctx.cancel(o.order_id)


def test_equity_cash_positions_by_hand() -> None:
    bars = hand_bars([FLAT, (10.0, 11.0, 9.0, 11.0), (12.0, 12.0, 11.0, 11.5)])
    act = {0: lambda s, ctx: ctx.buy("A", 10), 1: lambda s, ctx: ctx.sell("A", 4)}
    out = Simulator(bars, 1000.0, fees=0.01, fixed_fees=1.0).run(Script(act))
    # Bar 1: buy 10 @ 10: cost 100 + 1% + 1 = 102 -> cash 898, equity 898 + 110 = 1008.
    # Bar 2: sell 4 @ 12: 48 - 0.48 - 1 = 46.52 -> cash 944.52, equity + 6 * 11.5.
    assert out.cash.tolist() == pytest.approx([1000.0, 898.0, 944.52])
    assert out.equity.tolist() == pytest.approx([1000.0, 1008.0, 944.52 + 69.0])
    assert out.positions["A"].tolist() == [0.0, 10.0, 6.0]
    pnl = out.pnl.loc["A"]
    # Realized: -2 (buy fees) + 4 * (12 - 10) - 1.48 (sell fees) = 4.52.
    assert pnl["realized_pnl"] == pytest.approx(4.52)
    assert pnl["avg_price"] == 10.0 and pnl["unrealized_pnl"] == pytest.approx(6 * 1.5)
    assert pnl["realized_pnl"] + pnl["unrealized_pnl"] == pytest.approx(out.final_value - 1000)


def test_shorts_average_price_and_flip() -> None:
    bars = hand_bars([FLAT, FLAT, (8.0, 8.0, 8.0, 8.0), (9.0, 9.0, 9.0, 9.0)])
    act = {0: lambda s, ctx: ctx.sell("A", 10), 1: lambda s, ctx: ctx.buy("A", 15)}
    out = Simulator(bars, 1000.0).run(Script(act))
    assert out.positions["A"].tolist() == [0.0, -10.0, 5.0, 5.0]
    # Short 10 @ 10 covered @ 8: +20 realized; long 5 @ 8, marked at 9.
    assert out.pnl.loc["A", "realized_pnl"] == pytest.approx(20.0)
    assert out.pnl.loc["A", "avg_price"] == 8.0
    assert out.final_value == pytest.approx(1000 + 20 + 5)


def test_every_rejection_reason_is_recorded() -> None:
    nan = float("nan")
    bars = hand_bars([FLAT, FLAT, (nan, nan, nan, nan, nan), FLAT])

    def orders(s, ctx):
        ctx.buy("ZZZ", 1)  # unknown symbol
        ctx.buy("A", 0)  # non-positive quantity
        ctx.buy("A", nan)  # NaN quantity
        ctx.buy("A", -3)  # negative quantity
        ctx.buy("A", 1, "limit", limit_price=nan)  # NaN price
        ctx.buy("A", 1, "limit")  # missing price
        ctx.buy("A", 1_000)  # 10,000 of cash needed, 100 available

    out = Simulator(bars, 100.0).run(Script({0: orders, 1: lambda s, ctx: ctx.buy("A", 1)}))
    reasons = out.rejections["reason"].tolist()
    assert reasons == [
        "unknown_symbol", "invalid_quantity", "invalid_quantity", "invalid_quantity",
        "invalid_price", "invalid_price", "insufficient_cash", "no_data",
    ]  # fmt: skip
    assert out.rejections["symbol"].tolist()[0] == "ZZZ"
    assert out.fills.empty and out.final_value == 100.0


def test_bad_prices_are_refused_up_front() -> None:
    for bad in (float("inf"), 0.0, -1.0):
        bars = hand_bars([FLAT, (10.0, 10.5, 9.5, bad)])
        with pytest.raises(
            DataValidationError, match=r"Simulator: 1 price.*close .*'A' at 2024-01-02"
        ):
            Simulator(bars)


def test_bars_with_nan_rows_run_without_nan_equity() -> None:
    bars = make_bars(60, 3, seed=3)
    panels = {f: getattr(bars, f).copy() for f in ("open", "high", "low", "close", "volume")}
    for p in panels.values():
        p.iloc[30] = np.nan
    bars = qr.data.Bars(**panels)
    out = Simulator(bars, 1e5).run(RandomOrders(1))
    assert out.equity.notna().all()


def test_strategy_errors_name_the_method_and_bar() -> None:
    bars = hand_bars([FLAT] * 3)

    class Boom:
        def on_bar(self, ctx):
            if ctx.i == 1:
                raise KeyError("missing")

    with pytest.raises(StrategyError, match=r"Boom.on_bar raised KeyError at bar 1 \(2024-01-02"):
        Simulator(bars).run(Boom())

    class BadFill:
        def on_bar(self, ctx):
            if ctx.i == 0:
                ctx.buy("A", 1)

        def on_fill(self, ctx, fill):
            raise ValueError("nope")

    with pytest.raises(StrategyError, match="BadFill.on_fill raised ValueError at bar 1"):
        Simulator(bars).run(BadFill())
    with pytest.raises(ParameterError, match="on_bar"):
        Simulator(bars).run(object())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"market_fill": "mid"}, "market_fill"),
        ({"latency_bars": -1}, "latency_bars"),
        ({"leverage": 0.5}, "leverage"),
        ({"init_cash": 0}, "init_cash"),
        ({"volume_limit": 0}, "volume_limit"),
        ({"risk": {"max_drawdown": 0.1}}, "RiskLimits"),
    ],
)
def test_bad_simulator_arguments(kwargs, match) -> None:
    with pytest.raises(ParameterError, match=match):
        Simulator(hand_bars([FLAT]), **kwargs)


def test_close_panel_needs_market_fill_close_and_order_arguments_are_checked() -> None:
    close = hand_bars([FLAT]).close
    with pytest.raises(ParameterError, match="market_fill='close'"):
        Simulator(close)
    sim = Simulator(close, market_fill="close")
    for act, match in [
        (lambda s, ctx: ctx.buy("A", 1, "iceberg"), "order_type"),
        (lambda s, ctx: ctx.buy("A", 1, tif="GTX"), "tif"),
        (lambda s, ctx: ctx.buy("A", 1, tif="GTD"), "good_till"),
        (lambda s, ctx: ctx.sell("A", 1, "trailing_stop"), "trail_percent"),
        (lambda s, ctx: ctx.bracket("A", 1, stop_price=11, limit_price=9), "stop_price below"),
        (lambda s, ctx: ctx.cancel(99), "Unknown order id"),
        (lambda s, ctx: ctx.history("vwap", 3), "unknown field"),
    ]:
        with pytest.raises(StrategyError, match=match):
            sim.run(Script({0: act}))


def test_context_views() -> None:
    bars = make_bars(40, 3, seed=2, ragged=False)
    seen = {}

    def look(s, ctx):
        seen["close"] = ctx.close.copy()
        seen["hist"] = ctx.history("close", 5)
        seen["equity"] = ctx.equity
        seen["pos"] = ctx.positions.copy()
        seen["avg"] = ctx.avg_price("S000")
        seen["ts"] = ctx.timestamp

    act = {0: lambda s, ctx: ctx.buy("S000", 10), 10: look, 11: lambda s, ctx: ctx.close("S000")}
    out = Simulator(bars, 1e5).run(Script(act))
    assert seen["ts"] == bars.index[10]
    pd.testing.assert_series_equal(
        seen["close"], bars.close.iloc[10], check_names=False, check_series_type=False
    )
    pd.testing.assert_frame_equal(
        seen["hist"], bars.close.iloc[6:11], check_freq=False, check_names=False
    )
    assert seen["pos"]["S000"] == 10 and seen["avg"] == bars.open["S000"].iloc[1]
    assert seen["equity"] == pytest.approx(out.equity.iloc[10])
    assert out.positions["S000"].iloc[-1] == 0.0  # ctx.close(symbol) flattened it
    assert out.fills["price"].iloc[-1] == bars.open["S000"].iloc[12]


def test_twap_and_vwap_split_the_parent() -> None:
    vol = [1000.0, 1000.0, 3000.0, 1000.0, 1000.0]
    bars = hand_bars([(*FLAT, v) for v in vol] + [(*FLAT, 1000.0)] * 25)
    out = Simulator(bars, 1e6).run(Script({0: lambda s, ctx: ctx.buy("A", 90, algo=TWAP(3))}))
    assert out.fills["qty"].tolist() == pytest.approx([30.0, 30.0, 30.0])
    assert out.fills["order_id"].tolist() == [0, 0, 0]
    assert out.order_book.loc[0, "status"] == "filled"
    # VWAP from bar 22 over 3 bars with ADV 1000 (the 20 bars before).
    bars = hand_bars([(*FLAT, 1000.0)] * 23 + [(*FLAT, 2000.0), (*FLAT, 1000.0), (*FLAT, 1000.0)])
    out = Simulator(bars, 1e6).run(Script({22: lambda s, ctx: ctx.buy("A", 100, algo=VWAP(3))}))
    # Bar 23: 100 * 2000 / (2000 + 2 * 1000) = 50; bar 24: ADV (19*1000+2000)/20 = 1050:
    # 50 * 1000 / (1000 + 1050) = 24.39...; bar 25: the rest.
    q = out.fills["qty"].to_numpy()
    assert q[0] == pytest.approx(50.0)
    assert q[1] == pytest.approx(50 * 1000 / 2050)
    assert q.sum() == pytest.approx(100.0) and len(q) == 3
    with pytest.raises(ParameterError, match="TWAP.n_bars"):
        TWAP(0)


def test_target_weights_with_twap_reaches_the_target() -> None:
    bars = make_bars(80, 3, seed=5, ragged=False)
    w = pd.DataFrame(np.nan, index=bars.index, columns=bars.close.columns)
    w.iloc[10] = [0.3, 0.3, 0.3]
    out = Simulator(bars, 1e5).run(qr.sim.TargetWeights(w, algo=TWAP(4)))
    assert out.fills["timestamp"].nunique() == 4
    realized = (out.positions.iloc[20] * bars.close.iloc[20]) / out.equity.iloc[20]
    assert realized.to_numpy() == pytest.approx([0.3] * 3, abs=0.03)


def test_drawdown_halt_cancels_liquidates_and_rejects() -> None:
    rows = [FLAT, FLAT, (10.0, 10.0, 7.0, 7.0), (7.0, 7.5, 6.5, 7.0), FLAT, FLAT]
    bars = hand_bars(rows)
    act = {
        0: lambda s, ctx: (ctx.buy("A", 90), ctx.buy("A", 1, "limit", limit_price=1.0)),
        3: lambda s, ctx: ctx.buy("A", 1),
    }
    out = Simulator(bars, 1000.0, risk=RiskLimits(max_drawdown=0.2)).run(Script(act))
    # Bar 2 close: equity 100 + 90 * 7 = 730 <= 0.8 * 1000 -> halt, liquidate at bar 3's open.
    assert out.risk_events["rule"].tolist() == ["max_drawdown"]
    assert out.risk_events["timestamp"].tolist() == [bars.index[2]]
    assert out.fills[["side", "qty", "price", "role"]].values.tolist() == [
        ["buy", 90.0, 10.0, ""], ["sell", 90.0, 7.0, "risk_exit"]]  # fmt: skip
    assert "risk_halt" in out.rejections["reason"].tolist()
    assert out.order_book.loc[1, "status"] == "cancelled"


def test_delisted_position_is_closed_at_its_last_price() -> None:
    bars = make_bars(30, 2, seed=4, ragged=False)
    cut = {f: getattr(bars, f).copy() for f in ("open", "high", "low", "close", "volume")}
    for f in cut:
        cut[f].iloc[20:, 1] = np.nan
    bars = qr.data.Bars(**cut)
    out = Simulator(bars, 1e5).run(Script({0: lambda s, ctx: ctx.buy("S001", 10)}))
    last = out.fills.iloc[-1]
    assert last["order_type"] == "delisting" and last["order_id"] == -1
    assert last["timestamp"] == bars.index[20] and last["price"] == bars.open["S001"].iloc[19]
    assert out.positions["S001"].iloc[-1] == 0.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_numba_kernel_equals_python_twin(seed) -> None:
    bars = make_bars(80, 4, seed=seed)
    kw = {
        "fees": 0.001,
        "fixed_fees": 0.5,
        "slippage": 0.0005,
        "volume_limit": 0.001,
        "impact": 0.1,
    }
    a = Simulator(bars, 1e5, **kw).run(RandomOrders(seed), engine="numba")
    b = Simulator(bars, 1e5, **kw).run(RandomOrders(seed), engine="python")
    pd.testing.assert_frame_equal(a.fills, b.fills)
    pd.testing.assert_frame_equal(a.orders, b.orders)
    pd.testing.assert_series_equal(a.equity, b.equity)
    assert len(a.fills) > 20 and a.orders["event"].nunique() >= 6


def test_deterministic() -> None:
    bars = make_bars(60, 3, seed=9)
    a = Simulator(bars, 1e5, fees=0.001).run(RandomOrders(4))
    b = Simulator(bars, 1e5, fees=0.001).run(RandomOrders(4))
    pd.testing.assert_frame_equal(a.fills, b.fills)
    pd.testing.assert_frame_equal(a.orders, b.orders)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    latency=st.integers(0, 2),
    fees=st.sampled_from([0.0, 0.001, 0.01]),
    volume_limit=st.sampled_from([None, 0.0005, 0.01]),
    rate=st.floats(0.05, 0.8),
)
def test_accounting_properties(seed, latency, fees, volume_limit, rate) -> None:
    bars = make_bars(50, 3, seed=seed % 7)
    out = Simulator(
        bars, 1e5, fees=fees, fixed_fees=0.1, latency_bars=latency, volume_limit=volume_limit
    ).run(RandomOrders(seed, rate))
    close = bars.close.ffill().fillna(0.0)
    # cash + holdings == equity, every bar
    holdings = (out.positions * close).sum(axis=1)
    np.testing.assert_allclose(out.cash + holdings, out.equity, rtol=1e-12, atol=1e-6)
    # realized + unrealized P&L == equity - initial cash
    total = out.pnl["realized_pnl"].sum() + out.pnl["unrealized_pnl"].sum()
    assert total == pytest.approx(out.final_value - 1e5, abs=1e-6)
    # positions == cumulative signed fills
    f = out.fills
    signed = np.where(f["side"] == "buy", 1.0, -1.0) * f["qty"]
    net = signed.groupby(f["symbol"].to_numpy()).sum().reindex(bars.close.columns, fill_value=0.0)
    np.testing.assert_allclose(out.positions.iloc[-1], net, atol=1e-9)
    assert (f["fees"] >= 0).all() and (out.cash >= -1e-6).all()
    # fills inside the bar's range, or at a gapped open; delisting closes excepted
    trade = f[f["order_id"] >= 0]
    pos = out.equity.index.get_indexer(trade["timestamp"])
    cols = bars.close.columns.get_indexer(trade["symbol"])
    lo, hi = bars.low.to_numpy()[pos, cols], bars.high.to_numpy()[pos, cols]
    op = bars.open.to_numpy()[pos, cols]
    px = trade["price"].to_numpy()
    assert ((px >= lo - 1e-9) & (px <= hi + 1e-9) | np.isclose(px, op)).all()
    # no fill before the order's activation bar
    submitted = out.order_book.loc[trade["order_id"], "submitted_bar"].to_numpy()
    assert (pos >= submitted + 1 + latency).all()
    # quantities conserved across partial fills
    by_order = trade.groupby("order_id")["qty"].sum()
    book = out.order_book.loc[by_order.index]
    np.testing.assert_allclose(by_order, book["filled"], rtol=1e-12)
    fixed = book["order_type"] != "target_percent"
    assert (book.loc[fixed, "filled"] <= book.loc[fixed, "qty"] * (1 + 1e-9)).all()


def test_result_views_and_html() -> None:
    bars = make_bars(60, 3, seed=1)
    out = Simulator(bars, 1e5, fees=0.001).run(RandomOrders(0))
    html = out._repr_html_()
    assert "SimResult" in html and "final_value" in html
    s = out.stats()
    assert s["orders"] == len(out.fills) and s["rejections"] == len(out.rejections)
    assert out.summary()["fills"] == len(out.fills)
    assert isinstance(out.trades, pd.DataFrame) and "pnl" in out.trades
    assert out.config["fees"] == 0.001 and len(out.config_id) > 8
    assert "SimResult(" in repr(out)


def test_truncating_the_bars_does_not_change_the_past() -> None:
    # No look-ahead: a run on the bars up to a date equals the full run up to that date.
    bars = make_bars(120, 4, seed=12)
    full = Simulator(bars, 1e5, fees=0.001, volume_limit=0.001).run(RandomOrders(7))
    for cut in (40, 77, 119):
        part_bars = Bars(
            **{f: getattr(bars, f).iloc[:cut] for f in ("open", "high", "low", "close", "volume")}
        )
        part = Simulator(part_bars, 1e5, fees=0.001, volume_limit=0.001).run(RandomOrders(7))
        pd.testing.assert_series_equal(part.equity, full.equity.iloc[:cut])
        before = full.fills[full.fills["timestamp"] < bars.index[cut]]
        pd.testing.assert_frame_equal(part.fills[part.fills["order_type"] != "delisting"], before)


def test_progress_bar_and_figures(tmp_path, capsys) -> None:
    bars = make_bars(300, 3, seed=2)
    out = Simulator(bars, 1e5).run(RandomOrders(1), progress=True)
    assert "simulating" in capsys.readouterr().err
    Simulator(bars, 1e5).run(RandomOrders(1))  # not a terminal: silent
    assert capsys.readouterr().err == ""
    fig = out.plot()
    assert len(fig.data) >= 2
    path = out.tearsheet(tmp_path / "sim.html")
    assert path.exists() and path.stat().st_size > 10_000
