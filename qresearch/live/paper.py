"""PaperBroker: the simulator's matching rules and costs on bars that arrive one by one.

The paper broker is the :class:`~qresearch.sim.Simulator`'s order book, account and
matching kernel, fed one bar at a time by the live runner instead of looping over a
known panel: the same fill rules (market orders at the next bar's open or close, limit
and stop prices, gaps, DAY/IOC/FOK, volume caps, latency), the same
:class:`~qresearch.backtest.costs.Costs` (fees, fixed fees, slippage), the same cash
and leverage checks. So a strategy gives the same fills on a paper session over a
replay feed as in ``qr.sim.Simulator`` on the same bars (tested).

Durability. With ``journal="paper.db"`` every request (a bar, a submission, a
cancellation) is appended to a SQLite journal (WAL, one transaction each) before it is
applied; opening the same journal again replays it, which rebuilds the exact state
(matching is deterministic). So a paper account survives the runner process being
killed, as a real venue would, and a submission whose response was lost can be looked
up by its client order id.

Not supported (the simulator has them, a paper broker behind the :class:`Broker`
protocol does not): market impact (it needs volume statistics before each bar),
trailing stops, brackets and OCO groups, GTD orders, TWAP/VWAP algorithms.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qresearch.backtest.costs import Costs
from qresearch.exceptions import ParameterError, UnknownSymbolError
from qresearch.live.broker import BrokerFill, BrokerOrder, LiveOrder
from qresearch.sim import orders as o

__all__ = ["PaperBroker"]

_FIELDS = ("open", "high", "low", "close", "volume")
_TYPES = {"market": o.MARKET, "limit": o.LIMIT, "stop": o.STOP, "stop_limit": o.STOP_LIMIT}
_TIFS = {"GTC": o.GTC, "DAY": o.DAY, "IOC": o.IOC, "FOK": o.FOK}
_STATUS = {
    o.WORKING: "open",
    o.HELD: "open",
    o.FILLED: "filled",
    o.CANCELLED: "cancelled",
    o.EXPIRED: "expired",
    o.REJECTED: "rejected",
}


class _GrowingMarket:
    # The attributes of a Simulator that the simulator's _Run reads, for bars that
    # arrive one at a time: arrays with spare rows, doubled when full, filled row by
    # row with the Simulator's rules (missing open/high/low fall back to the close).

    def __init__(
        self,
        symbols: pd.Index,
        init_cash: float,
        costs: Costs,
        volume_limit: float | None,
        latency_bars: int,
        market_fill: str,
        leverage: float,
    ) -> None:
        self.symbols = symbols
        self.init_cash = init_cash
        self.costs = costs
        self.volume_limit = volume_limit
        self.latency_bars = latency_bars
        self.market_fill = market_fill
        self.leverage = leverage
        self.size_granularity = None
        self.min_order_value = 0.0
        self.risk = None
        self.delist_at: dict[int, np.ndarray] = {}
        self.n = 0
        cap, n_cols = 64, len(symbols)
        self.times = np.empty(cap, dtype="datetime64[ns]")
        self.raw = {f: np.full((cap, n_cols), np.nan) for f in _FIELDS}
        self.fill_price = np.full((cap, n_cols), np.nan)
        self.val_price = np.full((cap, n_cols), np.nan)
        self.last_close = np.zeros((cap, n_cols))

    @property
    def index(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self.times[: self.n])

    def _grow(self) -> None:
        cap = 2 * self.times.shape[0]
        times = np.empty(cap, dtype="datetime64[ns]")
        times[: self.n] = self.times[: self.n]
        self.times = times
        for name in _FIELDS:
            self.raw[name] = o._grow(self.raw[name], cap, np.nan)
        self.fill_price = o._grow(self.fill_price, cap, np.nan)
        self.val_price = o._grow(self.val_price, cap, np.nan)
        self.last_close = o._grow(self.last_close, cap, 0.0)

    def append(self, timestamp: pd.Timestamp, values: Mapping[str, np.ndarray]) -> int:
        if self.n == self.times.shape[0]:
            self._grow()
        i = self.n
        c = values["close"]
        op = np.where(np.isnan(values["open"]), c, values["open"])
        hi = np.where(np.isnan(values["high"]), np.maximum(op, c), values["high"])
        lo = np.where(np.isnan(values["low"]), np.minimum(op, c), values["low"])
        op = np.where(np.isnan(c), np.nan, op)
        row = {"open": op, "high": hi, "low": lo, "close": c, "volume": values["volume"]}
        for name in _FIELDS:
            self.raw[name][i] = row[name]
        fill = c if self.market_fill == "close" else op
        self.fill_price[i] = fill
        prev_val = self.val_price[i - 1] if i else np.full(len(c), np.nan)
        self.val_price[i] = np.where(np.isnan(fill), prev_val, fill)
        prev_close = self.last_close[i - 1] if i else np.zeros(len(c))
        self.last_close[i] = np.where(np.isnan(c), prev_close, c)
        self.times[i] = np.datetime64(timestamp.as_unit("ns").asm8)
        self.n = i + 1
        return i

    def impact_inputs(self) -> tuple[np.ndarray, np.ndarray]:
        raise ParameterError("PaperBroker does not model market impact (impact=0).")


class PaperBroker:
    """A paper account that fills orders on incoming bars by the simulator's rules.

    Parameters
    ----------
    symbols : list of str
        The symbols it trades (others raise ``UnknownSymbolError``).
    init_cash : float, default 1e6
    fees, fixed_fees, slippage : float
        Costs per fill, as in :class:`~qresearch.sim.Simulator`.
    volume_limit : float, optional
        Largest fraction of a bar's volume the orders of one symbol may fill.
    latency_bars : int, default 0
        Extra bars before a submitted order becomes active.
    market_fill : {"open", "close"}, default "open"
        Market orders submitted on bar t fill at bar t+1's open or close.
    leverage : float, default 1.0
        Buying power as a multiple of equity.
    journal : str or Path, optional
        A SQLite file: every request is journaled before it is applied and replayed
        when the broker is opened again (the account survives a killed process).
    engine : {"numba", "python"}, default "numba"
        The simulator's compiled matching kernel or its Python twin.

    Examples
    --------
    >>> import pandas as pd
    >>> from qresearch.live.broker import LiveOrder
    >>> broker = PaperBroker(["ORCL"], init_cash=10_000, engine="python")
    >>> bar = pd.DataFrame({"open": [10.0], "high": [11.0], "low": [9.0], "close": [10.5],
    ...                     "volume": [1e6]}, index=["ORCL"])
    >>> broker.on_bar("2024-01-02", bar)
    []
    >>> broker.submit(LiveOrder("qr-1", "ORCL", "buy", 100))
    'paper-0'
    >>> [(f.qty, f.price) for f in broker.on_bar("2024-01-03", bar)]  # next bar's open
    [(100.0, 10.0)]
    >>> broker.positions(), broker.balance()
    ({'ORCL': 100.0}, 9000.0)
    """

    name = "paper"
    is_paper = True

    def __init__(
        self,
        symbols: Iterable[str],
        init_cash: float = 1e6,
        *,
        fees: float = 0.0,
        fixed_fees: float = 0.0,
        slippage: float = 0.0,
        volume_limit: float | None = None,
        latency_bars: int = 0,
        market_fill: str = "open",
        leverage: float = 1.0,
        journal: str | Path | None = None,
        engine: str = "numba",
    ) -> None:
        from qresearch._validation import check_choice
        from qresearch.sim.engine import _Run, check_account_settings

        if isinstance(symbols, str):
            symbols = [symbols]
        syms = pd.Index(list(symbols))
        if len(syms) == 0 or not syms.is_unique:
            raise ParameterError(
                f"PaperBroker needs a list of distinct symbols; got {list(syms)!r}."
            )
        check_account_settings(
            "PaperBroker", init_cash, market_fill, leverage, latency_bars, volume_limit
        )
        check_choice("engine", engine, ["numba", "python"], "PaperBroker")
        costs = Costs(fees=fees, fixed_fees=fixed_fees, slippage=slippage)
        self._config = {
            "symbols": [str(s) for s in syms],
            "init_cash": float(init_cash),
            "fees": costs.fees,
            "fixed_fees": costs.fixed_fees,
            "slippage": costs.slippage,
            "volume_limit": volume_limit,
            "latency_bars": latency_bars,
            "market_fill": market_fill,
            "leverage": float(leverage),
        }
        self._market = _GrowingMarket(
            syms, float(init_cash), costs, volume_limit, latency_bars, market_fill, float(leverage)
        )
        self._run = _Run(self._market, None, engine)  # type: ignore[arg-type]
        self._names = [str(x) for x in syms]
        self._by_client: dict[str, int] = {}
        self._client_of: dict[int, str] = {}
        self._keys = np.empty(0)
        self._cand = np.empty(0, dtype=np.int64)
        self._no_delist = np.zeros(0, dtype=np.int64)
        self._db: sqlite3.Connection | None = None
        if journal is not None:
            self._open_journal(Path(journal))

    # ---- journal
    def _open_journal(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(path), isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute(
            "CREATE TABLE IF NOT EXISTS journal "
            "(seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, payload TEXT NOT NULL)"
        )
        db.execute("CREATE TABLE IF NOT EXISTS config (key TEXT PRIMARY KEY, value TEXT)")
        row = db.execute("SELECT value FROM config WHERE key = 'config'").fetchone()
        if row is None:
            with db:
                db.execute("INSERT INTO config VALUES ('config', ?)", (json.dumps(self._config),))
        elif json.loads(row[0]) != self._config:
            db.close()
            raise ParameterError(
                f"The paper journal {str(path)!r} belongs to a broker with other settings "
                f"({row[0]}); open it with the same symbols, cash and costs, or use a new file."
            )
        for kind, payload in db.execute("SELECT kind, payload FROM journal ORDER BY seq"):
            self._apply(kind, json.loads(payload))
        self._db = db

    def _journal(self, kind: str, payload: dict[str, Any]) -> None:
        if self._db is not None:
            with self._db:
                self._db.execute(
                    "INSERT INTO journal (kind, payload) VALUES (?, ?)",
                    (kind, json.dumps(payload, allow_nan=True)),
                )

    def close(self) -> None:
        """Close the journal (the in-memory account stays readable)."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def _apply(self, kind: str, payload: dict[str, Any]) -> Any:
        if kind == "bar":
            values = {f: np.array(payload[f], dtype=float) for f in _FIELDS}
            return self._apply_bar(pd.Timestamp(payload["timestamp"]), values)
        if kind == "submit":
            return self._apply_submit(LiveOrder(**payload))
        if kind == "cancel":
            return self._apply_cancel(int(payload["order"]))
        raise ParameterError(f"Unknown journal entry {kind!r}.")

    # ---- bars
    @property
    def last_bar(self) -> pd.Timestamp | None:
        """The timestamp of the last bar received (None before the first)."""
        m = self._market
        return pd.Timestamp(m.times[m.n - 1]) if m.n else None

    def on_bar(self, timestamp: Any, bar: pd.DataFrame | Mapping[str, Any]) -> list[BrokerFill]:
        """Match the working orders against a new bar; return its fills.

        ``bar`` has a row per symbol and columns open/high/low/close(/volume) (a
        DataFrame), or maps each field to a Series by symbol. Symbols missing from it
        have no bar. A bar at or before the last one is ignored (returns ``[]``), so a
        runner that restarts may send it again.
        """
        ts = pd.Timestamp(timestamp)
        if ts.tzinfo is not None:
            ts = ts.tz_convert("UTC").tz_localize(None)
        last = self.last_bar
        if last is not None and ts <= last:
            return []
        values = self._bar_values(bar, ts)
        payload = {"timestamp": ts.isoformat(), **{f: values[f].tolist() for f in _FIELDS}}
        self._journal("bar", payload)
        return self._apply_bar(ts, values)

    def _bar_values(self, bar: Any, ts: pd.Timestamp) -> dict[str, np.ndarray]:
        syms = self._market.symbols
        frame = bar if isinstance(bar, pd.DataFrame) else pd.DataFrame(dict(bar))
        if "close" not in frame.columns:
            raise ParameterError(
                f"The bar at {ts} has no 'close' column; give open/high/low/close/volume "
                "columns with a row per symbol."
            )
        values = {}
        for f in _FIELDS:
            col = frame[f] if f in frame.columns else pd.Series(np.nan, index=frame.index)
            arr = pd.to_numeric(col, errors="coerce").reindex(syms).to_numpy(dtype=float)
            values[f] = arr
        bad = [
            s
            for s, c in zip(syms, values["close"], strict=True)
            if not (math.isnan(c) or 0 < c < math.inf)
        ]
        if bad:
            from qresearch.exceptions import DataValidationError

            raise DataValidationError(
                f"The bar at {ts} has a close <= 0 or infinite for {bad[:5]}; fix the feed "
                "(a missing bar is NaN)."
            )
        return values

    def _apply_bar(self, ts: pd.Timestamp, values: Mapping[str, np.ndarray]) -> list[BrokerFill]:
        market, run = self._market, self._run
        i = market.append(ts, values)
        run.raw = market.raw
        run.index = market.index
        run.ctx.i = i
        book = run.book
        n_fills = int(book.counts[1])
        if book.n_active:
            book.reserve_records(0)
            if self._keys.shape[0] < book.n_active:
                self._keys = np.empty(2 * book.n_active)
                self._cand = np.empty(2 * book.n_active, dtype=np.int64)
            raw = market.raw
            run.kernel(
                i, raw["open"], raw["high"], raw["low"], raw["close"], raw["volume"],
                market.fill_price, market.val_price, run.placeholder, run.placeholder,
                self._no_delist, book.floats, book.ints, book.active, book.fills, book.events,
                book.counts, run.cash, run.pos, run.avg, run.realized, run.vol_used,
                self._keys, self._cand, run.params,
            )  # fmt: skip
        return [self._fill(f) for f in range(n_fills, int(book.counts[1]))]

    # ---- orders
    def submit(self, order: LiveOrder) -> str:
        """Accept ``order`` (tried from the next bar on); return its id.

        Idempotent: an order whose client id this broker already has returns the
        existing id. An invalid order (a price the account cannot pay at fill time,
        for example) becomes a rejected order with its reason, as in the simulator.
        """
        if not isinstance(order, LiveOrder):
            raise ParameterError(f"submit takes a LiveOrder; got {type(order).__name__}.")
        known = self._by_client.get(order.client_order_id)
        if known is not None:
            return f"paper-{known}"
        if order.symbol not in self._market.symbols:
            raise UnknownSymbolError(
                f"The paper broker does not list {order.symbol!r} (order "
                f"{order.client_order_id!r}); it trades {list(self._market.symbols)[:10]}. "
                "Create it with the symbols the strategy trades."
            )
        self._journal("submit", order.to_dict())
        return f"paper-{self._apply_submit(order)}"

    def _apply_submit(self, order: LiveOrder) -> int:
        run = self._run
        i = self._market.n - 1
        k = run.submit(
            i,
            order.symbol,
            1 if order.side == "buy" else -1,
            float(order.qty),
            _TYPES[order.order_type],
            _TIFS[order.tif],
            math.nan if order.limit_price is None else float(order.limit_price),
            math.nan if order.stop_price is None else float(order.stop_price),
            None,
            math.nan,
            math.nan,
        )
        self._by_client[order.client_order_id] = k
        self._client_of[k] = order.client_order_id
        return k

    def _order_number(self, broker_order_id: str) -> int:
        text = str(broker_order_id)
        number = text.removeprefix("paper-")
        if not number.isdigit() or int(number) not in self._client_of:
            raise ParameterError(
                f"Unknown paper order id {broker_order_id!r}; ids are returned by submit()."
            )
        return int(number)

    def cancel(self, broker_order_id: str) -> bool:
        """Cancel a working order; False when it had already filled or ended."""
        k = self._order_number(broker_order_id)
        if self._run.book.ints[k, o.I_STATUS] >= o.TERMINAL:
            return False
        self._journal("cancel", {"order": k})
        return self._apply_cancel(k)

    def _apply_cancel(self, k: int) -> bool:
        return self._run.cancel(self._market.n - 1, k, o.R_USER, o.EV_CANCELLED)

    def _order(self, k: int) -> BrokerOrder:
        book = self._run.book
        ints, fl = book.ints[k], book.floats[k]
        status = int(ints[o.I_STATUS])
        reason = ""
        if status >= o.TERMINAL:
            ev = book.events[: int(book.counts[2])]
            mine = ev[(ev[:, 0] == k) & (ev[:, 3] != o.R_NONE)]
            if len(mine):
                reason = o.REASONS[int(mine[-1, 3])]
        filled = float(fl[o.F_FILLED])
        avg = float(fl[o.F_AVG_PRICE])
        typ = o.ORDER_TYPES[int(ints[o.I_TYPE])]
        return BrokerOrder(
            broker_order_id=f"paper-{k}",
            client_order_id=self._client_of[k],
            symbol=str(self._run.symbol_of(k)),
            side="buy" if ints[o.I_SIDE] > 0 else "sell",
            qty=float(fl[o.F_QTY]),
            filled=filled,
            status=_STATUS[status],
            order_type=typ,
            limit_price=None if math.isnan(fl[o.F_LIMIT]) else float(fl[o.F_LIMIT]),
            stop_price=None if math.isnan(fl[o.F_STOP]) else float(fl[o.F_STOP]),
            avg_price=avg if filled > 0 and math.isfinite(avg) else None,
            reason=reason,
        )

    def open_orders(self) -> list[BrokerOrder]:
        """Orders still working, oldest first."""
        book = self._run.book
        ids = sorted(int(k) for k in book.active[: book.n_active])
        return [self._order(k) for k in ids if book.ints[k, o.I_STATUS] < o.TERMINAL]

    def order_by_client_id(self, client_order_id: str) -> BrokerOrder | None:
        """Return the order with this client id (working or final), or None."""
        k = self._by_client.get(client_order_id)
        return None if k is None else self._order(k)

    def orders(self) -> list[BrokerOrder]:
        """Every order this broker accepted, oldest first."""
        return [self._order(k) for k in sorted(self._client_of)]

    # ---- account
    def positions(self) -> dict[str, float]:
        """Signed quantity per symbol held (flat symbols left out)."""
        pos = self._run.pos
        return {str(s): float(pos[c]) for c, s in enumerate(self._market.symbols) if pos[c]}

    def balance(self) -> float:
        """Cash."""
        return float(self._run.cash[0])

    def equity(self) -> float:
        """Cash plus positions at the last known closes."""
        m = self._market
        if not m.n:
            return self.balance()
        return float(self._run.cash[0] + self._run.pos @ m.last_close[m.n - 1])

    def _fill(self, f: int) -> BrokerFill:
        row = self._run.book.fills[f]
        k = int(row[o.FILL_ORDER])
        return BrokerFill(
            fill_id=f"paper-fill-{f}",
            broker_order_id=f"paper-{k}",
            client_order_id=self._client_of.get(k, ""),
            symbol=self._names[int(row[o.FILL_COL])],
            side="buy" if row[o.FILL_SIDE] > 0 else "sell",
            qty=float(row[o.FILL_QTY]),
            price=float(row[o.FILL_PRICE]),
            fee=float(row[o.FILL_FEES]),
            timestamp=pd.Timestamp(self._market.times[int(row[o.FILL_BAR])]),
        )

    def fills(self, since: pd.Timestamp | None = None) -> list[BrokerFill]:
        """Return every fill at or after ``since`` (all when None), oldest first."""
        book, m = self._run.book, self._market
        n = int(book.counts[1])
        first = 0
        if since is not None and n:
            # Fills are appended bar by bar: find the first bar at or after `since`,
            # then the first fill of that bar.
            ts = np.datetime64(pd.Timestamp(since).as_unit("ns").asm8)
            bar0 = int(np.searchsorted(m.times[: m.n], ts, side="left"))
            first = int(np.searchsorted(book.fills[:n, o.FILL_BAR], bar0, side="left"))
        return [self._fill(f) for f in range(first, n)]

    def __repr__(self) -> str:
        return (
            f"PaperBroker(symbols={len(self._market.symbols)}, bars={self._market.n}, "
            f"cash={self.balance():,.2f}, positions={self.positions()})"
        )
