"""LiveRunner: a simulator strategy, unchanged, against a paper or a real broker.

Each bar, in this order (the simulator's):

1. the bar arrives from the feed (a restarted runner resumes after the last bar it
   finished); a paper broker matches its working orders against it;
2. new fills are read from the broker, each recorded once in the store (by the venue's
   fill id), then passed to ``strategy.on_fill(ctx, fill)``;
3. ``RiskLimits`` are checked at the close (a breach cancels working orders,
   liquidates and halts, as in the simulator);
4. ``strategy.on_bar(ctx)``: every order passes the risk guard and the kill switch,
   is written to the store, then sent, then updated with the venue's id;
5. the bar is marked done (cash, equity, the strategy's ``ctx.state``, the guard)
   and the status page is rewritten.

Safety defaults: ``dry_run=True`` records and logs the orders it would send and sends
none; a broker that is not a paper broker also needs ``confirm_live=True``. The kill
switch (a file, SIGUSR1, or :meth:`LiveRunner.kill`) cancels working orders and stops
before the next bar.

Restarts: orders carry deterministic client ids (strategy id, bar, symbol, sequence),
so a bar re-run after a crash regenerates the same ids and nothing is sent twice. At
start the runner reconciles the store with the broker: an order written but with an
unknown submission outcome is looked up by client id (never resubmitted blindly),
orders that ended while it was down are updated, fills it missed are recorded, and
positions and cash are compared. Every difference is reported.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qresearch.exceptions import (
    AuthenticationError,
    BrokerError,
    LiveSafetyError,
    OrderRejectedError,
    ParameterError,
    StrategyError,
    UnknownSymbolError,
)
from qresearch.live.broker import Broker, BrokerFill, LiveOrder, client_order_id
from qresearch.live.guard import OrderLimits, RiskGuard
from qresearch.live.store import StateStore
from qresearch.portfolio.risk import RiskLimits
from qresearch.sim.context import _BarFields, _PriceSeries
from qresearch.sim.orders import Fill, OrderInfo

__all__ = ["LiveContext", "LiveRunner"]

log = logging.getLogger("qresearch.live")

_FIELDS = ("open", "high", "low", "close", "volume")
# Crash points for the recovery tests: QRESEARCH_LIVE_CRASH="name:n" kills the process
# with SIGKILL at the n-th time the runner passes that point.
CRASH_POINTS = (
    "bar_received",
    "order_written",
    "order_submitted",
    "fill_received",
    "fill_recorded",
    "bar_done",
)
_UNSUPPORTED = ("bracket", "oco", "replace")


class LiveContext(_BarFields):
    """``ctx`` of a live session: the simulator's Context API on live data.

    Market data (``open`` ... ``volume``, ``history``) come from the bars the runner
    received; the account (``cash``, ``positions``) from the broker at the start of
    the bar and after each fill; orders go through the guard, the store and the
    broker. ``ctx.state`` is a dict the strategy may fill; it is saved after every bar
    and restored after a restart (a strategy keeps what it must remember there).

    Differences from the simulator's context: orders are market, limit, stop or
    stop-limit with GTC/DAY/IOC/FOK (no brackets, OCO, trailing stops, GTD or
    TWAP/VWAP); ``order_target_percent`` sends a market order sized at the current
    close (the simulator sizes it at the fill).
    """

    def __init__(self, runner: LiveRunner) -> None:
        self._runner = runner
        self.state: dict[str, Any] = {}

    # ---- market data
    @property
    def i(self) -> int:
        """Bars processed before this one (the simulator's bar position)."""
        return self._runner._i

    @property
    def timestamp(self) -> pd.Timestamp:
        """The current bar's timestamp."""
        return self._runner._now

    @property
    def symbols(self) -> pd.Index:
        """The symbols of the feed."""
        return self._runner._symbols

    def _cross(self, field: str) -> pd.Series:
        bar = self._runner._bar
        if bar is None or field not in bar.columns:
            return pd.Series(np.nan, index=self.symbols, name=field)
        return bar[field].reindex(self.symbols).astype(float).rename(self.timestamp)

    @property
    def close(self) -> pd.Series:
        """Closes of the current bar; ``ctx.close(symbol)`` flattens that position."""
        series = _PriceSeries(self._cross("close"))
        series._ctx = self
        return series

    def history(self, field: str, window: int) -> pd.DataFrame:
        """Return the last ``window`` bars of ``field`` up to and including this bar."""
        if field not in _FIELDS:
            raise ParameterError(f"ctx.history: unknown field {field!r}; use one of {_FIELDS}.")
        if not (isinstance(window, int) and not isinstance(window, bool) and window >= 1):
            raise ParameterError(f"ctx.history: window must be an int >= 1; got {window!r}.")
        return self._runner._history(field, window)

    # ---- account
    @property
    def cash(self) -> float:
        """Cash at the broker."""
        return self._runner._cash

    @property
    def equity(self) -> float:
        """Cash plus positions valued at the last known closes."""
        return self._runner._equity()

    def position(self, symbol: Any) -> float:
        """Signed quantity held of ``symbol`` (0 when flat or unknown)."""
        return float(self._runner._positions.get(str(symbol), 0.0))

    @property
    def positions(self) -> pd.Series:
        """Quantity held of every symbol."""
        pos = self._runner._positions
        return pd.Series([pos.get(str(s), 0.0) for s in self.symbols], index=self.symbols,
                         name="position", dtype=float)  # fmt: skip

    def avg_price(self, symbol: Any) -> float:
        """Average entry price of the open position (0 when flat), from recorded fills."""
        book = self._runner.store.position_book()
        if str(symbol) not in book.index:
            return 0.0
        return float(book.loc[str(symbol), "avg_price"])

    @property
    def halted(self) -> bool:
        """True while the guard halts new orders (RiskLimits, kill switch)."""
        guard = self._runner.guard
        return bool(guard.killed) or guard.halted(self.i)

    def open_orders(self, symbol: Any = None) -> list[OrderInfo]:
        """Orders sent and still working, optionally of one symbol."""
        runner = self._runner
        now = runner._now.isoformat()
        out = []
        for r in runner.store.order_rows(["submitted"]):
            if symbol is not None and r["symbol"] != str(symbol):
                continue
            if r["bar"] == now and r["client_order_id"] not in runner._decided:
                # Sent on this bar by a run that died before finishing it: hidden until
                # the strategy decides it again, so it sees what it saw the first time.
                continue
            out.append(
                OrderInfo(
                    order_id=int(r["id"]), symbol=r["symbol"], side=r["side"],
                    qty=float(r["qty"]), filled=float(r["filled"]), order_type=r["order_type"],
                    limit_price=_nan(r["limit_price"]), stop_price=_nan(r["stop_price"]),
                    tif=r["tif"], status="working",
                )
            )  # fmt: skip
        return out

    # ---- orders
    def buy(
        self,
        symbol: Any,
        qty: float,
        order_type: str = "market",
        limit_price: float | None = None,
        stop_price: float | None = None,
        tif: str = "GTC",
        **kwargs: Any,
    ) -> int:
        """Send a buy order through the guard; return its local id (see ``qr.sim``)."""
        return self._order(symbol, "buy", qty, order_type, limit_price, stop_price, tif, kwargs)

    def sell(
        self,
        symbol: Any,
        qty: float,
        order_type: str = "market",
        limit_price: float | None = None,
        stop_price: float | None = None,
        tif: str = "GTC",
        **kwargs: Any,
    ) -> int:
        """Send a sell order through the guard; return its local id."""
        return self._order(symbol, "sell", qty, order_type, limit_price, stop_price, tif, kwargs)

    def _order(
        self,
        symbol: Any,
        side: str,
        qty: Any,
        order_type: str,
        limit_price: Any,
        stop_price: Any,
        tif: str,
        extra: Mapping[str, Any],
    ) -> int:
        if extra:
            raise ParameterError(
                f"ctx.{side}: {sorted(extra)} are simulator-only options; a live order is "
                "market, limit, stop or stop_limit with tif GTC, DAY, IOC or FOK."
            )
        return self._runner._decide(str(symbol), side, qty, order_type, limit_price,
                                    stop_price, tif)  # fmt: skip

    def order_target_percent(self, symbol: Any, weight: float) -> int | None:
        """Send a market order that brings ``symbol`` to ``weight`` of equity.

        Sized at the current close (None when already there or without a price).
        """
        price = float(self.close.get(symbol, math.nan))
        if not (price > 0 and math.isfinite(price)):
            return None
        delta = float(weight) * self.equity / price - self.position(symbol)
        if abs(delta) * price < 1e-9 * max(self.equity, 1.0):
            return None
        side = "buy" if delta > 0 else "sell"
        return self._order(symbol, side, abs(delta), "market", None, None, "GTC", {})

    def order_target_weights(self, weights: pd.Series | Mapping[Any, float]) -> list[int]:
        """``order_target_percent`` for each symbol, sells first."""
        w = pd.Series(weights, dtype=float)
        cur = self.positions
        price = self.close
        sells = [s for s in w.index if w[s] * self.equity / price.get(s, np.nan) < cur.get(s, 0)]
        ids = []
        for s in sells + [s for s in w.index if s not in sells]:
            k = self.order_target_percent(s, float(w[s]))
            if k is not None:
                ids.append(k)
        return ids

    def close_position(self, symbol: Any, **kwargs: Any) -> int | None:
        """Send a market order that flattens ``symbol`` (None when flat)."""
        pos = self.position(symbol)
        if pos == 0:
            return None
        return self._order(symbol, "sell" if pos > 0 else "buy", abs(pos), "market", None,
                           None, "GTC", kwargs)  # fmt: skip

    def cancel(self, order_id: int) -> bool:
        """Cancel a working order by its local id; False when it is no longer working."""
        return self._runner._cancel_local(order_id)

    def __getattr__(self, name: str) -> Any:
        if name in _UNSUPPORTED:
            raise ParameterError(
                f"ctx.{name} is a simulator-only feature; a live strategy sends plain "
                "market, limit, stop and stop-limit orders."
            )
        raise AttributeError(name)


def _nan(value: Any) -> float:
    return (
        math.nan
        if value is None or (isinstance(value, float) and math.isnan(value))
        else float(value)
    )


class LiveRunner:
    """Run a simulator strategy against a broker, bar by bar, with a durable store.

    Parameters
    ----------
    strategy : object
        ``on_bar(ctx)`` and optionally ``on_start(ctx)``, ``on_fill(ctx, fill)``,
        ``on_stop(ctx)``: the same object ``qr.sim.Simulator.run`` takes.
    broker : Broker
        :class:`~qresearch.live.paper.PaperBroker`, ``CCXTBroker`` or ``AlpacaBroker``.
    feed : ReplayFeed or PollingFeed
        Where bars come from.
    store : str, Path or StateStore, default "state.db"
        The SQLite state store (created when missing; resumed when it exists).
    risk : RiskLimits, optional
        Drawdown / loss / losing-streak halts at each close, as in the simulator.
    limits : OrderLimits, optional
        Per-order limits (notional, position, gross leverage, daily loss).
    dry_run : bool, default True
        Record and log orders without sending any.
    confirm_live : bool, default False
        Must be True (with ``dry_run=False``) to send orders to a broker that is not
        a paper broker.
    strategy_id : str, optional
        Part of every client order id (default: the strategy's class name).
    session : str, optional
        Name of the status folder ``status_dir/<session>/`` (default: the store's
        file name without extension).
    status_dir : str or Path, default "reports/live"
        Where the status page is written (None: no page).
    kill_file : str or Path, optional
        When this file exists the kill switch trips (default: ``<store>.kill``).
    init_cash : float, optional
        Cash at the start (default: the broker's balance at the first start).
    status_every : float, default 1.0
        Seconds between rewrites of the status page: after a bar, the page is
        rewritten when this much time passed since the last write (always on a risk
        halt, the kill switch and at the end), so a fast replay is not slowed by it
        while a live session's page shows every bar.

    Examples
    --------
    >>> import qresearch.api as qr
    >>> from qresearch.live import LiveRunner, PaperBroker, ReplayFeed
    >>> bars = qr.datasets.load_sample("ohlcv", symbols=["ORCL"])
    >>> class BuyOnce:
    ...     def on_bar(self, ctx):
    ...         if ctx.i == 0:
    ...             ctx.buy("ORCL", 100)
    >>> runner = LiveRunner(BuyOnce(), PaperBroker(["ORCL"], 10_000, engine="python"),
    ...                     ReplayFeed(bars, end="1995-01-10"), store=":memory:",
    ...                     dry_run=False, status_dir=None)
    >>> status = runner.run()
    >>> status.snapshot["positions"]["qty"].tolist()
    [100.0]
    """

    def __init__(
        self,
        strategy: Any,
        broker: Broker,
        feed: Any,
        store: str | Path | StateStore = "state.db",
        *,
        risk: RiskLimits | None = None,
        limits: OrderLimits | None = None,
        dry_run: bool = True,
        confirm_live: bool = False,
        strategy_id: str | None = None,
        session: str | None = None,
        status_dir: str | Path | None = "reports/live",
        kill_file: str | Path | None = None,
        init_cash: float | None = None,
        status_every: float = 1.0,
    ) -> None:
        if not callable(getattr(strategy, "on_bar", None)):
            raise ParameterError(
                f"strategy must have an on_bar(ctx) method; got {type(strategy).__name__}."
            )
        missing = [m for m in ("submit", "cancel", "positions", "balance", "fills")
                   if not callable(getattr(broker, m, None))]  # fmt: skip
        if missing:
            raise ParameterError(
                f"broker {type(broker).__name__} lacks {missing}: pass a PaperBroker, "
                "CCXTBroker or AlpacaBroker (the qr.live.Broker protocol)."
            )
        if not callable(getattr(feed, "bars", None)):
            raise ParameterError(f"feed must have bars(after=None); got {type(feed).__name__}.")
        is_paper = bool(getattr(broker, "is_paper", False))
        if not dry_run and not is_paper and not confirm_live:
            raise LiveSafetyError(
                f"{getattr(broker, 'name', type(broker).__name__)} sends real orders: pass "
                "dry_run=False and confirm_live=True to trade it (dry_run=True logs them)."
            )
        for name, value, kind in (("risk", risk, RiskLimits), ("limits", limits, OrderLimits)):
            if value is not None and not isinstance(value, kind):
                raise ParameterError(f"{name} must be a {kind.__name__} or None; got {value!r}.")
        self.strategy = strategy
        self.broker = broker
        self.feed = feed
        self.dry_run = bool(dry_run)
        self.strategy_id = strategy_id or type(strategy).__name__
        self.store = store if isinstance(store, StateStore) else StateStore(store)
        store_path = self.store.path
        default_session = "memory" if store_path == ":memory:" else Path(store_path).stem
        self.session = session or default_session
        self.status_dir = None if status_dir is None else Path(status_dir) / self.session
        self.kill_file = (
            Path(kill_file)
            if kill_file is not None
            else (None if store_path == ":memory:" else Path(store_path + ".kill"))
        )
        self.mode = "dry-run" if self.dry_run else ("paper" if is_paper else "live")
        self._symbols = pd.Index(list(getattr(feed, "symbols", []) or []), dtype=object)
        self._init_cash = init_cash
        self.guard = RiskGuard(limits, risk)
        self.ctx = LiveContext(self)
        self._bars: list[tuple[pd.Timestamp, pd.DataFrame]] = []
        self._rows: dict[str, list[np.ndarray]] = {f: [] for f in _FIELDS}
        self._bar: pd.DataFrame | None = None
        self._now = pd.Timestamp(0)
        self._i = -1
        self._seq: dict[str, int] = {}
        self._decided: set[str] = set()
        self._positions: dict[str, float] = {}
        self._cash = 0.0
        self._last_close: dict[str, float] = {}
        self._kill_reason = ""
        self._crash = _crash_plan()
        self.status_every = float(status_every)
        self._status_written = -math.inf
        self._started = False
        self.differences: list[str] = []

    # ---- kill switch
    def kill(self, reason: str = "kill() called") -> None:
        """Trip the kill switch: cancel working orders and stop before the next bar."""
        self._kill_reason = reason or "kill() called"

    def _check_kill(self) -> bool:
        if not self._kill_reason and self.kill_file is not None and self.kill_file.exists():
            self._kill_reason = f"kill file {self.kill_file}"
        if self._kill_reason and not self.guard.killed:
            self.guard.killed = self._kill_reason
            self.store.add_event("kill_switch", self._kill_reason, self._now)
            log.warning("kill switch: %s; cancelling working orders", self._kill_reason)
            self._cancel_all("kill switch")
        return bool(self.guard.killed)

    # ---- start
    def _start(self) -> None:
        store = self.store
        known = store.get_meta("strategy_id")
        if known is not None and known != self.strategy_id:
            raise ParameterError(
                f"The store {store.path!r} belongs to strategy {known!r}, not "
                f"{self.strategy_id!r}; use another store or strategy_id={known!r}."
            )
        if known is None:
            init = self._init_cash if self._init_cash is not None else float(self.broker.balance())
            with store.transaction() as tx:
                store.set_meta("strategy_id", self.strategy_id, db=tx)
                store.set_meta("broker", getattr(self.broker, "name", ""), db=tx)
                store.set_meta("init_cash", init, db=tx)
        self.guard.restore(store.get_meta("guard"))
        if self.guard.killed:  # a new start clears a previous kill
            self.guard.killed = ""
        if self.guard.peak == 0:
            init = float(store.get_meta("init_cash"))
            self.guard.peak = self.guard.prev_equity = self.guard.day_start = init
            self.guard.last_equity = init
        self.ctx.state = dict(store.get_meta("strategy_state") or {})
        self._bars = store.bar_data()
        if self._bars:
            self._i = len(self._bars) - 1
            self._now, self._bar = self._bars[-1]
            for _, bar in self._bars:
                self._remember_closes(bar)
                self._remember_rows(bar)
            if not len(self._symbols):
                self._symbols = pd.Index(list(self._bars[-1][1].index), dtype=object)
        self.differences = self._reconcile()
        for d in self.differences:
            store.add_event("reconcile", d, self._now if self._bars else None)
            log.info("reconciled: %s", d)
        self._refresh_account()
        if self.kill_file is not None and self.kill_file.exists():
            log.warning("kill file %s exists: remove it to trade", self.kill_file)
        self._seq = {}
        self._call("on_start")
        self._started = True

    def _reconcile(self) -> list[str]:
        # Bring the store in line with the broker; describe every difference.
        out: list[str] = []
        broker, store = self.broker, self.store
        if not self.dry_run:
            for r in store.orders(["new"]).itertuples():
                found = broker.order_by_client_id(r.client_order_id)
                if found is None:
                    why = "written, not at the broker after a restart"
                    store.update_order(r.client_order_id, status="unsent", reason=why)
                    out.append(
                        f"order {r.client_order_id} ({r.side} {r.qty:g} {r.symbol}) was written "
                        "but the broker does not have it: marked unsent (sent again only if "
                        "the strategy decides it again on the same bar)"
                    )
                else:
                    store.update_order(r.client_order_id, status="submitted",
                                       broker_order_id=found.broker_order_id)  # fmt: skip
                    out.append(
                        f"order {r.client_order_id} ({r.side} {r.qty:g} {r.symbol}): submission "
                        f"outcome unknown; found at the broker as {found.broker_order_id} "
                        f"({found.status}), not sent again"
                    )
        for fill in broker.fills(None):
            if store.add_fill(fill):
                out.append(
                    f"fill {fill.fill_id} ({fill.side} {fill.qty:g} {fill.symbol} @ "
                    f"{fill.price:g}) happened while the runner was down: recorded"
                )
        out += self._sync_orders()
        book = store.position_book()
        venue = {k: v for k, v in broker.positions().items() if v}
        mine = {str(s): float(q) for s, q in book["qty"].items() if abs(q) > 1e-12}
        for sym in sorted(set(venue) | set(mine)):
            a, b = mine.get(sym, 0.0), venue.get(sym, 0.0)
            if not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9):
                out.append(
                    f"position {sym}: the store's fills give {a:g}, the broker holds {b:g} "
                    "(not fixed automatically: check trades made outside this runner)"
                )
        return out

    def _sync_orders(self) -> list[str]:
        # Submitted orders that ended at the venue take its final state; returns what
        # changed (reported at start, when it happened while the runner was down).
        out = []
        for r in self.store.order_rows(["submitted"]):
            cid = r["client_order_id"]
            venue = self.broker.order_by_client_id(cid)
            if venue is None or venue.is_open:
                continue
            self.store.update_order(cid, status=venue.status, reason=venue.reason)
            out.append(f"order {cid} ended at the broker as {venue.status}")
        return out

    # ---- the loop
    def run(self, max_bars: int | None = None) -> Any:
        """Process bars until the feed ends, ``max_bars`` bars, or the kill switch.

        Returns the session's :class:`~qresearch.live.status.Status`. Installs a SIGUSR1
        handler (the kill switch) while it runs, when called from the main thread.
        """
        if not self._started:
            self._start()
        previous = None
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGUSR1"):
            previous = signal.signal(signal.SIGUSR1, lambda *_: self.kill("SIGUSR1"))
        n = 0
        try:
            last = self.store.get_meta("last_bar")
            for ts, bar in self.feed.bars(after=last):
                if self._check_kill():
                    break
                self._process_bar(pd.Timestamp(ts), bar)
                n += 1
                if self._check_kill() or (max_bars is not None and n >= max_bars):
                    break
            self._call("on_stop")
        finally:
            if previous is not None:
                signal.signal(signal.SIGUSR1, previous)
        self._write_status()
        return self.status()

    def _process_bar(self, ts: pd.Timestamp, bar: pd.DataFrame) -> None:
        if ts.tzinfo is not None:
            ts = ts.tz_convert("UTC").tz_localize(None)
        bar = bar.copy()
        bar.index = bar.index.astype(str)
        if not len(self._symbols):
            self._symbols = pd.Index(list(bar.index), dtype=object)
        self._crash_point("bar_received")
        self._i = len(self._bars)
        self._now, self._bar = ts, bar
        self._bars.append((ts, bar))
        self._remember_closes(bar)
        self._remember_rows(bar)
        self._seq = {}
        self._decided = set()
        self.guard.new_bar(ts)
        on_bar = getattr(self.broker, "on_bar", None)
        if callable(on_bar):
            on_bar(ts, bar)
        self._collect_fills()
        self._refresh_account()
        equity = self._equity()
        hit = self.guard.on_close(self._i, equity)
        if hit:
            detail = f"{hit}: equity {equity:,.2f}; working orders cancelled, positions closed"
            self.store.add_event("risk_halt", detail, ts)
            log.warning("risk halt at %s: %s", ts, detail)
            self._cancel_all(hit)
            for sym in self._symbols:  # in the feed's order, as the simulator
                qty = self._positions.get(str(sym), 0.0)
                if qty:
                    self._decide(sym, "sell" if qty > 0 else "buy", abs(qty), "market",
                                 None, None, "GTC", risk_exit=True)  # fmt: skip
        self._call("on_bar")
        self._refresh_account()
        self.store.add_bar(
            ts,
            self._cash,
            self._equity(),
            bar,
            meta={"strategy_state": self.ctx.state, "guard": self.guard.to_dict()},
        )
        self._crash_point("bar_done")
        self._write_status(force=bool(hit))

    def _collect_fills(self) -> None:
        # From the last recorded fill's time on (a fill seen twice is recorded once).
        fills = self.broker.fills(self.store.last_fill_time())
        on_fill = getattr(self.strategy, "on_fill", None)
        for fill in fills:
            if self.store.has_fill(fill.fill_id):
                continue
            self._crash_point("fill_received")
            if not self.store.add_fill(fill):
                continue
            self._crash_point("fill_recorded")
            self._apply_fill_status(fill)
            if on_fill is not None:
                self._refresh_account()
                local = self.store.order(fill.client_order_id)
                self._call("on_fill", self._sim_fill(fill, local))
        self._sync_orders()

    def _apply_fill_status(self, fill: BrokerFill) -> None:
        row = self.store.order(fill.client_order_id)
        if row is not None and row["filled"] >= row["qty"] * (1 - 1e-9):
            self.store.update_order(fill.client_order_id, status="filled")

    def _sim_fill(self, fill: BrokerFill, local: dict[str, Any] | None) -> Fill:
        return Fill(
            timestamp=pd.Timestamp(fill.timestamp),
            symbol=fill.symbol,
            side=fill.side,
            qty=float(fill.qty),
            price=float(fill.price),
            fees=float(fill.fee),
            order_id=-1 if local is None else int(local["id"]),
            order_type="" if local is None else str(local["order_type"]),
        )

    # ---- orders
    def _decide(
        self,
        symbol: str,
        side: str,
        qty: Any,
        order_type: str,
        limit_price: Any,
        stop_price: Any,
        tif: str,
        *,
        risk_exit: bool = False,
    ) -> int:
        seq = self._seq.get(symbol, 0)
        self._seq[symbol] = seq + 1
        tag = f"{self.strategy_id}/risk" if risk_exit else self.strategy_id
        cid = client_order_id(tag, self._now, symbol, seq)
        self._decided.add(cid)
        existing = self.store.order(cid)
        if existing is not None and existing["status"] != "unsent":
            return int(existing["id"])  # decided before a restart: never sent twice
        if isinstance(qty, np.generic):
            qty = qty.item()
        order = LiveOrder(cid, symbol, side, qty, order_type,
                          None if limit_price is None else float(limit_price),
                          None if stop_price is None else float(stop_price), tif)  # fmt: skip
        if symbol not in self._symbols:
            return self._record(order, existing, "rejected", f"unknown symbol {symbol!r}")
        self._check_kill()
        price = self._last_close.get(symbol, math.nan)
        gross = sum(abs(q) * self._last_close.get(s, 0.0) for s, q in self._positions.items())
        reason = self.guard.check_order(order, self._i, price, self._positions.get(symbol, 0.0),
                                        gross, self._equity(), risk_exit=risk_exit)  # fmt: skip
        if reason:
            self.store.add_event("blocked", f"{side} {qty:g} {symbol}: {reason}", self._now)
            log.warning("blocked %s %s %s: %s", side, qty, symbol, reason)
            return self._record(order, existing, "blocked", reason)
        if self.dry_run:
            log.info("dry run: would send %s", order)
            return self._record(order, existing, "dry_run", "")
        local = self._record(order, existing, "new", "")
        self._crash_point("order_written")
        try:
            broker_id = self.broker.submit(order)
        except (OrderRejectedError, UnknownSymbolError) as exc:
            self.store.update_order(cid, status="rejected", reason=str(exc))
            self.store.add_event("rejected", f"{order.client_order_id}: {exc}", self._now)
            return local
        except AuthenticationError:
            raise
        except BrokerError as exc:
            found = self.broker.order_by_client_id(cid)
            if found is None:
                self.store.update_order(cid, status="unsent", reason=str(exc))
                self.store.add_event("unsent", f"{cid}: {exc}", self._now)
                return local
            broker_id = found.broker_order_id
        self._crash_point("order_submitted")
        self.store.update_order(cid, status="submitted", broker_order_id=broker_id)
        return local

    def _record(self, order: LiveOrder, existing: Any, status: str, reason: str) -> int:
        if existing is None:
            return self.store.add_order(order, self._now, status, reason)
        self.store.update_order(order.client_order_id, status=status, reason=reason)
        return int(existing["id"])

    def _cancel_local(self, order_id: Any) -> bool:
        df = self.store.orders()
        row = df[df["id"] == order_id]
        if row.empty:
            raise ParameterError(
                f"Unknown order id {order_id!r}: ids are returned by ctx.buy/sell."
            )
        r = row.iloc[0]
        if r["status"] != "submitted":
            return False
        if self.dry_run:
            return False
        done = bool(self.broker.cancel(str(r["broker_order_id"])))
        if done:
            self.store.update_order(str(r["client_order_id"]), status="cancelled",
                                    reason="cancelled_by_strategy")  # fmt: skip
        return done

    def _cancel_all(self, reason: str) -> None:
        if self.dry_run:
            return
        for r in self.store.orders(["submitted"]).itertuples():
            try:
                if self.broker.cancel(str(r.broker_order_id)):
                    self.store.update_order(r.client_order_id, status="cancelled", reason=reason)
            except BrokerError as exc:
                self.store.add_event("cancel_failed", f"{r.client_order_id}: {exc}", self._now)

    # ---- account and data
    def _remember_closes(self, bar: pd.DataFrame) -> None:
        if "close" in bar.columns:
            for sym, c in bar["close"].items():
                if isinstance(c, int | float) and c > 0 and math.isfinite(c):
                    self._last_close[str(sym)] = float(c)

    def _refresh_account(self) -> None:
        self._positions = {str(k): float(v) for k, v in self.broker.positions().items() if v}
        self._cash = float(self.broker.balance())

    def _equity(self) -> float:
        return self._cash + sum(
            q * self._last_close.get(s, 0.0) for s, q in self._positions.items()
        )

    def _remember_rows(self, bar: pd.DataFrame) -> None:
        # Each field of the bar as an array in the symbols' order (for ctx.history).
        for field in _FIELDS:
            col = bar[field] if field in bar.columns else pd.Series(np.nan, index=bar.index)
            self._rows[field].append(
                pd.to_numeric(col, errors="coerce").reindex(self._symbols).to_numpy(dtype=float)
            )

    def _history(self, field: str, window: int) -> pd.DataFrame:
        rows = self._rows[field][-window:]
        index = pd.DatetimeIndex([ts for ts, _ in self._bars[-window:]], name="timestamp")
        values = np.vstack(rows) if rows else np.empty((0, len(self._symbols)))
        return pd.DataFrame(values, index=index, columns=self._symbols)

    def _call(self, method: str, *args: Any) -> None:
        fn = getattr(self.strategy, method, None)
        if fn is None:
            return
        try:
            fn(self.ctx, *args)
        except ParameterError:
            raise
        except Exception as exc:
            when = f"at bar {self._i} ({self._now})" if self._bars else "before the first bar"
            raise StrategyError(
                f"{type(self.strategy).__name__}.{method} raised {type(exc).__name__} {when}: "
                f"{str(exc).rstrip('.')}. The runner stopped; the store is consistent and a "
                "new run resumes at this bar."
            ) from exc

    def _crash_point(self, name: str) -> None:
        if self._crash is None or self._crash[0] != name:
            return
        self._crash[1] -= 1
        if self._crash[1] <= 0:
            os.kill(os.getpid(), signal.SIGKILL)

    # ---- status
    def snapshot(self) -> dict[str, Any]:
        """Return the session's state as the status page and ``status()`` show it."""
        store = self.store
        book = store.position_book()
        rows = []
        for sym, r in book.iterrows():
            if abs(r["qty"]) < 1e-12:
                continue
            last = self._last_close.get(str(sym), math.nan)
            rows.append({
                "symbol": str(sym), "qty": float(r["qty"]), "avg_price": float(r["avg_price"]),
                "last_price": last, "market_value": float(r["qty"]) * last,
                "unrealized_pnl": float(r["qty"]) * (last - float(r["avg_price"])),
            })  # fmt: skip
        positions = pd.DataFrame(rows, columns=["symbol", "qty", "avg_price", "last_price",
                                                "market_value", "unrealized_pnl"])  # fmt: skip
        orders = store.orders(["submitted", "new"])
        orders = orders.rename(columns={"created_at": "submitted_at"})[
            ["client_order_id", "symbol", "side", "qty", "filled", "order_type", "limit_price",
             "stop_price", "status", "submitted_at"]
        ]  # fmt: skip
        fills = store.fills(limit=50).iloc[::-1]
        fills = fills[["timestamp", "symbol", "side", "qty", "price", "fee", "fill_id",
                       "client_order_id"]].reset_index(drop=True)  # fmt: skip
        events = store.events()
        risk = events[events["kind"] != "reconcile"].reset_index(drop=True)
        equity = store.equity()
        return {
            "session": self.session,
            "strategy": self.strategy_id,
            "broker": getattr(self.broker, "name", type(self.broker).__name__),
            "mode": self.mode,
            "updated_at": pd.Timestamp.now(tz="UTC"),
            "last_bar": self._now if self._bars else None,
            "bars_seen": len(self._bars),
            "init_cash": float(store.get_meta("init_cash", self._cash) or 0.0),
            "cash": self._cash,
            "equity": equity,
            "positions": positions,
            "open_orders": orders.reset_index(drop=True),
            "fills": fills,
            "risk_events": risk,
            "guard": {
                "state": self.guard.state,
                "limits": self.guard.limits_dict(),
                "reason": self.guard.killed or self.guard.reason,
            },
            "reconciliation": list(self.differences),
        }

    def status(self) -> Any:
        """Return the session's :class:`~qresearch.live.status.Status` (HTML in Jupyter)."""
        from qresearch.live.status import Status

        return Status(self.snapshot())

    def _write_status(self, force: bool = True) -> None:
        if self.status_dir is None:
            return
        now = time.monotonic()
        if not force and now - self._status_written < self.status_every:
            return
        from qresearch.live.status import write_status_page

        write_status_page(self.snapshot(), self.status_dir)
        self._status_written = time.monotonic()

    def close(self) -> None:
        """Close the store (and the broker's journal, if it has one)."""
        self.store.close()
        close = getattr(self.broker, "close", None)
        if callable(close):
            close()


def _crash_plan() -> list[Any] | None:
    # QRESEARCH_LIVE_CRASH="point:n" (tests only): SIGKILL at the n-th pass of point.
    text = os.environ.get("QRESEARCH_LIVE_CRASH", "")
    if not text:
        return None
    name, _, count = text.partition(":")
    if name not in CRASH_POINTS or not count.isdigit():
        raise ParameterError(
            f"QRESEARCH_LIVE_CRASH must be 'point:n' with point one of {CRASH_POINTS}; "
            f"got {text!r}."
        )
    return [name, int(count)]
