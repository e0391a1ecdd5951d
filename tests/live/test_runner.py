"""LiveRunner with the paper broker: parity with the simulator, crash recovery, guards.

Expected fills come from ``qr.sim.Simulator`` on the same bars and strategy (an
independent loop over a known panel), final states from an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from qresearch.datasets import load_sample
from qresearch.exceptions import LiveSafetyError, ParameterError, StrategyError
from qresearch.live import (
    LiveOrder,
    LiveRunner,
    OrderLimits,
    PaperBroker,
    ReplayFeed,
    StateStore,
    client_order_id,
)
from qresearch.portfolio.risk import RiskLimits
from qresearch.sim import Simulator

SYMBOLS = ["ORCL", "NVDA"]
CHILD = Path(__file__).with_name("crash_child.py")


@pytest.fixture(scope="module")
def bars() -> Any:
    full = load_sample("ohlcv", symbols=SYMBOLS)
    return full


class SmaCross:
    """SMA(5) vs SMA(20); market entries plus a DAY limit add-on; exits at market."""

    def __init__(self, qty: float = 100.0) -> None:
        self.qty = qty

    def on_bar(self, ctx: Any) -> None:
        h = ctx.history("close", 20)
        if len(h) < 20:
            return
        fast, slow = h.iloc[-5:].mean(), h.mean()
        for s in ctx.symbols:
            if ctx.open_orders(s):
                continue
            pos = ctx.position(s)
            if fast[s] > slow[s] and pos == 0:
                ctx.buy(s, self.qty)
                ctx.buy(s, self.qty / 2, "limit", limit_price=float(ctx.close[s]) * 0.99, tif="DAY")
            elif fast[s] < slow[s] and pos > 0:
                ctx.sell(s, pos)


def _sim_fills(out: Any) -> pd.DataFrame:
    f = out.fills
    return pd.DataFrame(
        {
            "timestamp": pd.to_datetime(f["timestamp"]).to_numpy(),
            "symbol": f["symbol"].astype(str).to_numpy(),
            "side": f["side"].astype(str).to_numpy(),
            "qty": f["qty"].to_numpy(dtype=float),
            "price": f["price"].to_numpy(dtype=float),
            "fee": f["fees"].to_numpy(dtype=float),
        }
    )


def _live_fills(store: StateStore) -> pd.DataFrame:
    f = store.fills()
    return pd.DataFrame(
        {
            "timestamp": pd.to_datetime(f["timestamp"]).to_numpy(),
            "symbol": f["symbol"].astype(str).to_numpy(),
            "side": f["side"].astype(str).to_numpy(),
            "qty": f["qty"].to_numpy(dtype=float),
            "price": f["price"].to_numpy(dtype=float),
            "fee": f["fee"].to_numpy(dtype=float),
        }
    )


def _runner(strategy: Any, bars: Any, start: str, end: str, **kwargs: Any) -> LiveRunner:
    broker_kw = {k: kwargs.pop(k) for k in ("fees", "slippage", "market_fill") if k in kwargs}
    broker = PaperBroker(SYMBOLS, 100_000, engine="python", **broker_kw)
    kwargs.setdefault("store", ":memory:")
    kwargs.setdefault("status_dir", None)
    kwargs.setdefault("dry_run", False)
    return LiveRunner(strategy, broker, ReplayFeed(bars, start=start, end=end), **kwargs)


# -- parity with the simulator ---------------------------------------------------------


@pytest.mark.parametrize(
    ("costs", "risk"),
    [
        ({"fees": 0.001}, None),
        ({"fees": 0.0005, "slippage": 0.001, "market_fill": "close"}, None),
        ({"fees": 0.001}, RiskLimits(max_drawdown=0.02, cooldown_bars=5)),
    ],
)
def test_paper_session_gives_the_simulators_fills(bars: Any, costs: dict, risk: Any) -> None:
    start, end = "2012-01-01", "2013-06-30"
    window = bars.select(None, start, end)
    sim = Simulator(window, init_cash=100_000, risk=risk, **costs)
    out = sim.run(SmaCross(1000), engine="python")
    runner = _runner(SmaCross(1000), bars, start, end, risk=risk, **costs)
    runner.run()
    expected, got = _sim_fills(out), _live_fills(runner.store)
    assert len(expected) > 40
    pd.testing.assert_frame_equal(got, expected, rtol=1e-12)
    assert runner.broker.equity() == pytest.approx(out.final_value, rel=1e-12)
    assert runner.store.equity().iloc[-1] == pytest.approx(out.equity.iloc[-1], rel=1e-12)
    if risk is not None:
        assert not runner.store.events("risk_halt").empty
        assert len(out.risk_events) == len(runner.store.events("risk_halt"))


def test_numba_and_python_paper_brokers_agree(bars: Any) -> None:
    start, end = "2013-01-01", "2013-12-31"
    a = _runner(SmaCross(), bars, start, end, fees=0.001)
    a.run()
    b = LiveRunner(
        SmaCross(),
        PaperBroker(SYMBOLS, 100_000, fees=0.001, engine="numba"),
        ReplayFeed(bars, start=start, end=end),
        store=":memory:",
        dry_run=False,
        status_dir=None,
    )
    b.run()
    pd.testing.assert_frame_equal(_live_fills(a.store), _live_fills(b.store))


# -- crash recovery ----------------------------------------------------------------------


def _child(folder: Path, plan: str | None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    env.pop("QRESEARCH_LIVE_CRASH", None)
    if plan:
        env["QRESEARCH_LIVE_CRASH"] = plan
    return subprocess.run(
        [sys.executable, str(CHILD), str(folder)], env=env, capture_output=True, text=True
    )


def test_sigkill_at_random_points_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    from tests.live.crash_child import session

    # The uninterrupted session.
    clean = tmp_path / "clean"
    runner = session(clean)
    runner.run()
    expected_fills = _live_fills(runner.store)
    expected_pos, expected_cash = runner.broker.positions(), runner.broker.balance()
    expected_equity = runner.store.equity()
    runner.close()
    assert len(expected_fills) > 30

    # The same session killed with SIGKILL at 24 seeded points, restarted after each.
    rng = random.Random(20261202)
    points = ["bar_received", "order_written", "order_submitted", "fill_received",
              "fill_recorded", "bar_done"]  # fmt: skip
    plan = [f"{p}:{rng.randint(1, 6)}" for p in points for _ in range(4)]
    rng.shuffle(plan)
    crashed = tmp_path / "crashed"
    kills = 0
    for step in plan:
        done = _child(crashed, step)
        if done.returncode == -signal.SIGKILL:
            kills += 1
        else:
            assert done.returncode == 0, done.stderr[-2000:]
            break
    while True:  # finish without crashes
        done = _child(crashed, None)
        assert done.returncode == 0, done.stderr[-2000:]
        if "done" in done.stdout:
            break
    assert kills >= 20

    store = StateStore(crashed / "state.db")
    broker = PaperBroker(SYMBOLS, 100_000, fees=0.001, journal=crashed / "paper.db",
                         engine="python")  # fmt: skip
    try:
        # Same fills, positions, cash and equity curve as the uninterrupted run.
        pd.testing.assert_frame_equal(_live_fills(store), expected_fills)
        assert broker.positions() == expected_pos
        assert broker.balance() == pytest.approx(expected_cash, rel=1e-12)
        pd.testing.assert_series_equal(store.equity(), expected_equity)
        # No order reached the broker twice; every order it has is in the store.
        db = sqlite3.connect(crashed / "paper.db")
        sent = [json.loads(p)["client_order_id"] for (p,) in
                db.execute("SELECT payload FROM journal WHERE kind = 'submit'")]  # fmt: skip
        db.close()
        assert len(sent) == len(set(sent))
        orders = store.orders()
        assert set(sent) <= set(orders["client_order_id"])
        # Store and broker agree on every order's state and every fill.
        for o in broker.orders():
            row = orders.set_index("client_order_id").loc[o.client_order_id]
            assert row["status"] in (o.status, "submitted" if o.is_open else o.status)
            assert row["filled"] == pytest.approx(o.filled)
        assert set(store.fills()["fill_id"]) == {f.fill_id for f in broker.fills()}
        assert not (orders["status"] == "new").any()
        # The restarts reported what they resolved.
        kinds = store.events()["detail"].str.cat(sep="\n")
        assert "not sent again" in kinds or "marked unsent" in kinds or "recorded" in kinds
    finally:
        store.close()
        broker.close()


# -- reconciliation, explicitly ----------------------------------------------------------


def test_restart_resolves_an_order_whose_submission_outcome_is_unknown(
    bars: Any, tmp_path: Path
) -> None:
    broker = PaperBroker(SYMBOLS, 100_000, engine="python")
    feed = ReplayFeed(bars, start="2013-01-02", end="2013-01-31")
    store = StateStore(tmp_path / "s.db")
    # Two orders written before submission; the broker got only the first.
    got = LiveOrder(client_order_id("SmaCross", "2013-01-02", "ORCL", 0), "ORCL", "buy", 10)
    lost = LiveOrder(client_order_id("SmaCross", "2013-01-02", "NVDA", 0), "NVDA", "buy", 10)
    store.add_order(got, "2013-01-02", "new")
    store.add_order(lost, "2013-01-02", "new")
    broker.submit(got)
    runner = LiveRunner(SmaCross(), broker, feed, store=store, dry_run=False, status_dir=None)
    runner.run(max_bars=1)
    assert store.order(got.client_order_id)["status"] in ("submitted", "filled")
    assert store.order(lost.client_order_id)["status"] == "unsent"
    text = "\n".join(runner.differences)
    assert "found at the broker as paper-0" in text and "not sent again" in text
    assert "marked unsent" in text
    assert [o.client_order_id for o in broker.orders()] == [got.client_order_id]
    runner.close()


def test_fills_missed_while_down_are_recorded_once(bars: Any, tmp_path: Path) -> None:
    broker = PaperBroker(SYMBOLS, 100_000, engine="python")
    first = LiveRunner(SmaCross(), broker, ReplayFeed(bars, start="2013-01-01", end="2013-03-31"),
                       store=tmp_path / "s.db", dry_run=False, status_dir=None)  # fmt: skip
    first.run()
    first.store.close()
    # While "down", the broker keeps filling the orders it has.
    later = ReplayFeed(bars, start="2013-04-01", end="2013-04-05")
    for ts, bar in later.bars():
        broker.on_bar(ts, bar)
    n_broker = len(broker.fills())
    again = LiveRunner(SmaCross(), broker, ReplayFeed(bars, start="2013-01-01", end="2013-04-30"),
                       store=tmp_path / "s.db", dry_run=False, status_dir=None)  # fmt: skip
    again._start()
    assert len(again.store.fills()) == n_broker
    assert len(set(again.store.fills()["fill_id"])) == n_broker
    assert all("position" not in d for d in again.differences)
    again.close()


def test_a_position_the_store_cannot_explain_is_reported(bars: Any) -> None:
    broker = PaperBroker(SYMBOLS, 100_000, engine="python")
    feed = ReplayFeed(bars, start="2013-01-02", end="2013-01-10")
    for ts, bar in list(feed.bars())[:2]:
        broker.on_bar(ts, bar)
        if not broker.orders():
            broker.submit(LiveOrder("outside", "ORCL", "buy", 7))
    # The fill of an order made outside the runner is recorded; with a store that
    # lost it, the position differs.
    runner = LiveRunner(SmaCross(), broker, feed, store=":memory:", dry_run=False, status_dir=None)
    runner.store._db.execute("DELETE FROM fills")
    diffs = runner._reconcile()
    assert any("fill paper-fill-0" in d for d in diffs)


# -- guard, kill switch, dry run, safety -------------------------------------------------


def test_order_limits_block_and_record(bars: Any) -> None:
    limits = OrderLimits(max_order_notional=100.0)
    runner = _runner(SmaCross(), bars, "2013-01-01", "2013-06-30", limits=limits)
    runner.run()
    orders = runner.store.orders()
    assert (orders["status"] == "blocked").all() and len(orders) > 0
    assert orders["reason"].str.contains("max_order_notional").all()
    assert runner.broker.orders() == []
    events = runner.store.events("blocked")
    assert len(events) == len(orders)


@pytest.mark.parametrize(
    ("limits", "word"),
    [
        (OrderLimits(max_position_notional=100.0), "max_position_notional"),
        (OrderLimits(max_gross_leverage=0.001), "max_gross_leverage"),
    ],
)
def test_position_and_leverage_limits(bars: Any, limits: OrderLimits, word: str) -> None:
    runner = _runner(SmaCross(), bars, "2013-01-01", "2013-03-31", limits=limits)
    runner.run()
    blocked = runner.store.orders(["blocked"])
    assert len(blocked) > 0 and blocked["reason"].str.contains(word).all()


class _KillAt:
    def __init__(self, k: int, how: str, path: Path | None = None) -> None:
        self.k, self.how, self.path, self.bars = k, how, path, 0

    def on_bar(self, ctx: Any) -> None:
        self.bars += 1
        if ctx.i == 2:
            ctx.buy("ORCL", 10, "limit", limit_price=1.0)  # stays working
        if ctx.i == self.k:
            if self.how == "file":
                assert self.path is not None
                self.path.write_text("stop")
            elif self.how == "signal":
                os.kill(os.getpid(), signal.SIGUSR1)
            else:
                ctx._runner.kill("test")


@pytest.mark.parametrize("how", ["file", "signal", "call"])
def test_kill_switch_cancels_and_stops_within_one_bar(bars: Any, tmp_path: Path, how: str) -> None:
    strategy = _KillAt(5, how, tmp_path / "state.db.kill")
    runner = _runner(strategy, bars, "2013-01-01", "2013-03-31", store=tmp_path / "state.db")
    runner.run()
    assert strategy.bars == 6  # bars 0..5: nothing after the bar it tripped on
    assert runner.store.get_meta("last_bar").startswith(str(runner.feed.index[5].date()))
    assert runner.broker.open_orders() == []
    assert (runner.store.orders()["status"] == "cancelled").all()
    assert len(runner.store.events("kill_switch")) == 1
    assert runner.guard.state == "killed"
    runner.close()


def test_dry_run_sends_nothing(bars: Any) -> None:
    runner = _runner(SmaCross(), bars, "2013-01-01", "2013-06-30", dry_run=True)
    assert runner.mode == "dry-run"
    runner.run()
    orders = runner.store.orders()
    assert len(orders) > 0 and (orders["status"] == "dry_run").all()
    assert runner.broker.orders() == [] and runner.broker.fills() == []


class _RealVenue(PaperBroker):
    name = "fake-venue"
    is_paper = False


def test_a_real_broker_needs_an_explicit_opt_in(bars: Any) -> None:
    feed = ReplayFeed(bars, start="2013-01-01", end="2013-01-31")
    venue = _RealVenue(SYMBOLS, engine="python")
    with pytest.raises(LiveSafetyError, match="confirm_live=True"):
        LiveRunner(SmaCross(), venue, feed, store=":memory:", dry_run=False)
    dry = LiveRunner(SmaCross(), venue, feed, store=":memory:", status_dir=None)
    assert dry.mode == "dry-run"
    live = LiveRunner(SmaCross(), venue, feed, store=":memory:", dry_run=False,
                      confirm_live=True, status_dir=None)  # fmt: skip
    assert live.mode == "live"


def test_strategy_errors_and_bad_arguments(bars: Any, tmp_path: Path) -> None:
    class Boom:
        def on_bar(self, ctx: Any) -> None:
            if ctx.i == 3:
                raise ValueError("bad")

    runner = _runner(Boom(), bars, "2013-01-01", "2013-01-31")
    with pytest.raises(StrategyError, match=r"Boom.on_bar raised ValueError at bar 3"):
        runner.run()
    assert runner.store.get_meta("last_bar").startswith(str(runner.feed.index[2].date()))

    class Bracket:
        def on_bar(self, ctx: Any) -> None:
            ctx.bracket("ORCL", 1, 1.0, 2.0)

    with pytest.raises(ParameterError, match="simulator-only"):
        _runner(Bracket(), bars, "2013-01-01", "2013-01-31").run()
    with pytest.raises(ParameterError, match="on_bar"):
        LiveRunner(object(), PaperBroker(SYMBOLS), ReplayFeed(bars), store=":memory:")
    with pytest.raises(ParameterError, match="lacks"):
        LiveRunner(SmaCross(), object(), ReplayFeed(bars), store=":memory:")  # type: ignore[arg-type]
    # One runner per store file.
    first = StateStore(tmp_path / "x.db")
    with pytest.raises(ParameterError, match="in use by this process"):
        StateStore(tmp_path / "x.db")
    first.close()
    StateStore(tmp_path / "x.db").close()


def test_a_store_remembers_its_strategy(bars: Any, tmp_path: Path) -> None:
    a = _runner(SmaCross(), bars, "2013-01-01", "2013-01-31", store=tmp_path / "s.db")
    a.run()
    a.close()
    with pytest.raises(ParameterError, match="belongs to strategy 'SmaCross'"):
        _runner(SmaCross(), bars, "2013-01-01", "2013-02-28", store=tmp_path / "s.db",
                strategy_id="other").run()  # fmt: skip


def test_state_and_history_survive_a_restart(bars: Any, tmp_path: Path) -> None:
    class Counter:
        def on_bar(self, ctx: Any) -> None:
            ctx.state["n"] = ctx.state.get("n", 0) + 1
            ctx.state["rows"] = len(ctx.history("close", 1000))

    journal = tmp_path / "paper.db"
    for end in ("2013-01-31", "2013-02-28"):
        r = LiveRunner(Counter(), PaperBroker(SYMBOLS, engine="python", journal=journal),
                       ReplayFeed(bars, start="2013-01-01", end=end), store=tmp_path / "s.db",
                       dry_run=False, status_dir=None)  # fmt: skip
        r.run()
        state = r.ctx.state
        r.close()
    n = len(bars.select(None, "2013-01-01", "2013-02-28").close)
    assert state == {"n": n, "rows": n}


def test_status_page_is_written_each_bar(bars: Any, tmp_path: Path) -> None:
    runner = _runner(SmaCross(), bars, "2013-01-01", "2013-03-31", store=tmp_path / "s.db",
                     status_dir=tmp_path / "live")  # fmt: skip
    status = runner.run()
    page = tmp_path / "live" / "s" / "index.html"
    text = page.read_text()
    assert "PAPER" in text and 'id="positions"' in text and "<svg" in text
    snap = status.snapshot
    assert snap["bars_seen"] == len(runner.feed)
    assert snap["positions"]["qty"].tolist() == [q for q in runner.broker.positions().values() if q]
    html = status._repr_html_()
    assert "paper" in html.lower()
    np.testing.assert_allclose(snap["equity"].iloc[-1], runner.broker.equity())


def test_daily_loss_limit_blocks_new_exposure_until_the_next_day() -> None:
    from qresearch.live import RiskGuard

    guard = RiskGuard(OrderLimits(daily_loss_limit=0.02), None, init_equity=100_000.0)
    buy = LiveOrder("a", "ORCL", "buy", 10)
    sell = LiveOrder("b", "ORCL", "sell", 10)
    guard.new_bar(pd.Timestamp("2024-01-02 10:00"))
    guard.on_close(0, 98_500.0)  # -1.5%: allowed
    assert guard.check_order(buy, 0, 10.0, 0.0, 0.0, 98_500.0) == ""
    guard.new_bar(pd.Timestamp("2024-01-02 11:00"))
    guard.on_close(1, 97_900.0)  # -2.1% since the day's start
    reason = guard.check_order(buy, 1, 10.0, 20.0, 200.0, 97_900.0)
    assert reason.startswith("daily_loss_limit") and "100,000.00" in reason
    assert guard.check_order(sell, 1, 10.0, 20.0, 200.0, 97_900.0) == ""  # reduces
    guard.new_bar(pd.Timestamp("2024-01-03 10:00"))  # a new day starts from 97,900
    assert guard.check_order(buy, 2, 10.0, 20.0, 200.0, 97_900.0) == ""


def test_ctx_close_called_flattens_as_in_the_simulator(bars: Any) -> None:
    class Flatten:
        def on_bar(self, ctx: Any) -> None:
            if ctx.i == 0:
                ctx.buy("ORCL", 10)
            if ctx.i == 5:
                ctx.close("ORCL")

    out = Simulator(bars.select(None, "2013-01-01", "2013-02-28"), init_cash=100_000).run(
        Flatten(), engine="python"
    )
    runner = _runner(Flatten(), bars, "2013-01-01", "2013-02-28")
    runner.run()
    pd.testing.assert_frame_equal(_live_fills(runner.store), _sim_fills(out))
    assert len(out.fills) == 2 and runner.broker.positions() == {}


def test_history_after_a_restart_is_exactly_the_input(bars: Any, tmp_path: Path) -> None:
    seen: dict[str, pd.DataFrame] = {}

    class Look:
        def on_bar(self, ctx: Any) -> None:
            seen["close"] = ctx.history("close", 60)

    for end in ("2013-01-31", "2013-03-29"):
        r = LiveRunner(Look(), PaperBroker(SYMBOLS, engine="python", journal=tmp_path / "p.db"),
                       ReplayFeed(bars, start="2013-01-01", end=end), store=tmp_path / "s.db",
                       dry_run=False, status_dir=None)  # fmt: skip
        r.run()
        r.close()
    expected = bars.close.loc["2013-01-01":"2013-03-29", SYMBOLS].tail(60)
    np.testing.assert_array_equal(seen["close"].to_numpy(), expected.to_numpy())
    assert seen["close"].index.equals(pd.DatetimeIndex(expected.index, name="timestamp"))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"init_cash": 0.0}, r"'init_cash' parameter of PaperBroker"),
        ({"market_fill": "vwap"}, r"'market_fill' parameter of PaperBroker"),
        ({"leverage": 0.5}, r"'leverage' parameter of PaperBroker"),
        ({"latency_bars": -1}, r"'latency_bars' parameter of PaperBroker is an int >= 0; got -1"),
        ({"latency_bars": 1.5}, r"'latency_bars' parameter of PaperBroker is an int >= 0"),
        ({"volume_limit": 0.0}, r"'volume_limit' parameter of PaperBroker"),
        ({"engine": "rust"}, r"'engine' parameter of PaperBroker"),
        ({"symbols": ["A", "A"]}, r"PaperBroker needs a list of distinct symbols"),
    ],
)
def test_paper_broker_refuses_bad_settings(kwargs: dict[str, Any], match: str) -> None:
    args = {"symbols": SYMBOLS, "init_cash": 100_000.0, **kwargs}
    with pytest.raises(ParameterError, match=match):
        PaperBroker(args.pop("symbols"), args.pop("init_cash"), **args)
