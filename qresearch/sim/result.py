"""``SimResult``: what a simulation produced, as pandas objects."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from qresearch._html import summary_html
from qresearch.backtest.engine import _price_inputs
from qresearch.backtest.result import BacktestResult
from qresearch.sim import orders as o

if TYPE_CHECKING:
    from qresearch.sim.engine import _Run

__all__ = ["SimResult"]

_ROLES = ("", "entry", "stop_loss", "take_profit", "risk_exit")


def _labels(codes: np.ndarray, names: tuple[str, ...] | list[str]) -> np.ndarray:
    # Label columns taken from an index of names by code: 40x cheaper than converting
    # an array of Python strings for hundreds of thousands of rows.
    return pd.Index(list(names), dtype="str").take(np.asarray(codes, dtype=np.int64)).array


class SimResult:
    """The outcome of :meth:`Simulator.run <qresearch.sim.Simulator.run>`.

    Attributes
    ----------
    equity, cash : Series
        Per bar: cash plus positions at the last known close, and cash.
    positions : DataFrame
        Shares held at the end of each bar.
    fills : DataFrame
        One row per execution: ``timestamp, symbol, side, qty, price, fees, order_id,
        order_type, role, realized_pnl`` (``order_id`` -1: a delisting close).
    orders : DataFrame
        Every state change of every order with its reason: ``timestamp, bar,
        order_id, symbol, side, order_type, tif, event, reason`` (``timestamp`` NaT
        for orders submitted in ``on_start``).
    rejections : DataFrame
        The rejected orders with their reason.
    order_book : DataFrame
        The final state of each order (quantity, filled, average fill price, status).
    pnl : DataFrame
        Per symbol at the end: position, average entry price, realized P&L (net of
        fees), unrealized P&L at the last close.
    final_value : float
        Equity at the last bar.
    risk_events : DataFrame
        Risk-limit breaches (timestamp, rule).
    """

    def __init__(
        self,
        *,
        equity: pd.Series,
        cash: pd.Series,
        positions: pd.DataFrame,
        fills: pd.DataFrame,
        orders: pd.DataFrame,
        order_book: pd.DataFrame,
        pnl: pd.DataFrame,
        risk_events: pd.DataFrame,
        backtest: BacktestResult,
        config: dict[str, Any],
    ) -> None:
        self.equity = equity
        self.cash = cash
        self.positions = positions
        self.fills = fills
        self.orders = orders
        self.order_book = order_book
        self.pnl = pnl
        self.risk_events = risk_events
        self.config = config
        self._bt = backtest

    @classmethod
    def from_run(cls, run: _Run) -> SimResult:
        """Assemble the result of a finished run (vectorized accounting)."""
        sim, book = run.sim, run.book
        index, symbols = run.index, run.symbols
        # Positions: the kernel's snapshot at each bar with fills, carried forward.
        rows = np.arange(len(index))
        last = np.maximum.accumulate(np.where(run.changed, rows, -1))
        pos = np.where((last >= 0)[:, None], run.pos_hist[np.maximum(last, 0)], 0.0)
        held_value = np.where(pos != 0.0, pos * sim.last_close, 0.0).sum(axis=1)
        cash = pd.Series(run.cash_hist, index=index, name="cash")
        equity = pd.Series(run.cash_hist + held_value, index=index, name="equity")
        positions = pd.DataFrame(pos, index=index, columns=symbols)

        n_f = int(book.counts[1])
        f = book.fills[:n_f]
        oid = f[:, o.FILL_ORDER].astype(np.int64)
        bar = f[:, o.FILL_BAR].astype(np.int64)
        col = f[:, o.FILL_COL].astype(np.int64)
        types = [*o.ORDER_TYPES, "delisting"]
        known = oid >= 0
        typ = np.where(known, book.ints[np.maximum(oid, 0), o.I_TYPE], len(o.ORDER_TYPES))
        role = np.where(known, book.ints[np.maximum(oid, 0), o.I_ROLE], 0)
        qty = f[:, o.FILL_QTY]
        price = f[:, o.FILL_PRICE]
        fills = pd.DataFrame(
            {
                "timestamp": index[bar],
                "symbol": symbols.take(col).array,
                "side": _labels(f[:, o.FILL_SIDE] < 0, ["buy", "sell"]),
                "qty": qty,
                "price": price,
                "fees": f[:, o.FILL_FEES],
                "order_id": oid,
                "order_type": _labels(typ, types),
                "role": _labels(role, _ROLES),
                "realized_pnl": f[:, o.FILL_PNL],
            }
        )

        n_o = book.n
        ints, fl = book.ints[:n_o], book.floats[:n_o]
        # Symbols by code: the bars' symbols, then any unknown ones (rejected orders).
        sym_codes = ints[:, o.I_COL].copy()
        categories = list(symbols)
        extra: dict[Any, int] = {}
        for k, symbol in run.unknown.items():
            if symbol not in extra:
                extra[symbol] = len(categories) + len(extra)
            sym_codes[k] = extra[symbol]
        categories += list(extra)
        order_symbols = pd.Index(categories).take(sym_codes)
        # side codes: 0 buy, 1 sell, 2 none (target orders never filled)
        side_codes = np.where(ints[:, o.I_SIDE] > 0, 0, np.where(ints[:, o.I_SIDE] < 0, 1, 2))
        side_names = ["buy", "sell", ""]
        n_e = int(book.counts[2])
        ev = book.events[:n_e]
        ek, eb = ev[:, 0], ev[:, 1]
        ts = index[np.maximum(eb, 0)].where(eb >= 0)
        orders = pd.DataFrame(
            {
                "timestamp": ts,
                "bar": eb,
                "order_id": ek,
                "symbol": order_symbols.take(ek).array,
                "side": _labels(side_codes[ek], side_names),
                "order_type": _labels(ints[ek, o.I_TYPE], o.ORDER_TYPES),
                "tif": _labels(ints[ek, o.I_TIF], o.TIFS),
                "role": _labels(ints[ek, o.I_ROLE], _ROLES),
                "event": _labels(ev[:, 2], o.EVENTS),
                "reason": _labels(ev[:, 3], o.REASONS),
            }
        )
        order_book = pd.DataFrame(
            {
                "symbol": order_symbols.array,
                "side": _labels(side_codes, side_names),
                "order_type": _labels(ints[:, o.I_TYPE], o.ORDER_TYPES),
                "tif": _labels(ints[:, o.I_TIF], o.TIFS),
                "role": _labels(ints[:, o.I_ROLE], _ROLES),
                "qty": fl[:, o.F_QTY],
                "filled": fl[:, o.F_FILLED],
                "avg_fill_price": fl[:, o.F_AVG_PRICE],
                "limit_price": fl[:, o.F_LIMIT],
                "stop_price": fl[:, o.F_STOP],
                "target_weight": fl[:, o.F_TARGET],
                "submitted_bar": ints[:, o.I_SUBMIT_BAR],
                "status": _labels(ints[:, o.I_STATUS], o.STATUSES),
            },
            index=pd.RangeIndex(n_o, name="order_id"),
        )
        last_close = sim.last_close[-1] if len(index) else np.zeros(len(symbols))
        unrealized = np.where(run.pos != 0.0, run.pos * (last_close - run.avg), 0.0)
        pnl = pd.DataFrame(
            {
                "position": run.pos,
                "avg_price": run.avg,
                "last_price": np.where(last_close > 0, last_close, np.nan),
                "realized_pnl": run.realized,
                "unrealized_pnl": unrealized,
            },
            index=symbols,
        )
        risk_events = pd.DataFrame(
            {
                "timestamp": index[[b for b, _ in run.risk_events]],
                "rule": [r for _, r in run.risk_events],
            }
        )
        traded = np.zeros(len(index))
        np.add.at(traded, bar, qty * price)
        paid = np.zeros(len(index))
        np.add.at(paid, bar, f[:, o.FILL_FEES])
        # The same fills in the vectorized engine's order format, for stats and trades.
        bt_orders = pd.DataFrame(
            {
                "timestamp": fills["timestamp"],
                "symbol": fills["symbol"],
                "side": fills["side"],
                "size": qty,
                "price": price,
                "value": qty * price,
                "fees": fills["fees"],
                "delisted": ~known,
                "risk_exit": role == o.ROLE_RISK_EXIT,
            }
        )
        bars = sim._bars
        close = pd.DataFrame(sim.raw["close"], index=index, columns=symbols)
        backtest = BacktestResult(
            equity=equity,
            cash=cash,
            positions=positions,
            orders=bt_orders,
            traded_value=pd.Series(traded, index=index, name="traded_value"),
            fees_paid=pd.Series(paid, index=index, name="fees"),
            init_cash=sim.init_cash,
            close=close,
            config={**sim.config, "strategy": type(run.strategy).__name__},
            high=bars.high if hasattr(bars, "high") else None,
            low=bars.low if hasattr(bars, "low") else None,
            inputs=_price_inputs(bars) | getattr(run.strategy, "inputs", {}),
        )
        return cls(
            equity=equity,
            cash=cash,
            positions=positions,
            fills=fills,
            orders=orders,
            order_book=order_book,
            pnl=pnl,
            risk_events=risk_events,
            backtest=backtest,
            config=sim.config,
        )

    # ---- derived
    @property
    def final_value(self) -> float:
        """Equity at the last bar."""
        return float(self.equity.iloc[-1]) if len(self.equity) else float("nan")

    @property
    def returns(self) -> pd.Series:
        """Simple returns of the equity (the first bar against the initial cash)."""
        returns: pd.Series = self._bt.returns
        return returns

    @property
    def rejections(self) -> pd.DataFrame:
        """The rejected orders: ``timestamp, order_id, symbol, side, order_type, qty, reason``."""
        rej = self.orders[self.orders["event"] == "rejected"]
        qty = self.order_book["qty"].reindex(rej["order_id"]).to_numpy()
        cols = ["timestamp", "order_id", "symbol", "side", "order_type", "reason"]
        return rej[cols].assign(qty=qty).reset_index(drop=True)

    @property
    def trades(self) -> pd.DataFrame:
        """Round trips rebuilt from the fills (see ``BacktestResult.trades``)."""
        return self._bt.trades

    @property
    def config_id(self) -> str:
        """Content hash of the simulator's arguments, the bars and the strategy's inputs.

        The strategy contributes its class name and, when it has an ``inputs`` dict of
        panels (``TargetWeights``: its weights), their fingerprints.
        """
        return self._bt.config_id

    def to_backtest_result(self) -> BacktestResult:
        """Return the same equity and fills as a :class:`~qresearch.backtest.BacktestResult`."""
        return self._bt

    def stats(self, periods_per_year: float = 252, risk_free: float = 0.0) -> pd.Series:
        """Return performance, trade and cost statistics (as ``BacktestResult.stats``)."""
        out = self._bt.stats(periods_per_year, risk_free)
        out["rejections"] = int((self.orders["event"] == "rejected").sum())
        return out

    def plot(self, benchmark: pd.Series | None = None, **kwargs: Any) -> Any:
        """Return the plotly performance figure (see ``BacktestResult.plot``)."""
        kwargs.setdefault("title", "qresearch simulation")
        return self._bt.plot(benchmark, **kwargs)

    def tearsheet(self, path: Any, benchmark: pd.Series | None = None, **kwargs: Any) -> Any:
        """Write quantstats' HTML tearsheet to ``path`` (offline; see ``BacktestResult``)."""
        kwargs.setdefault("title", "qresearch simulation")
        return self._bt.tearsheet(path, benchmark, **kwargs)

    def summary(self) -> pd.Series:
        """Headline figures: bars, final value, return, fills, fees, rejections, open orders."""
        n_open = int(self.order_book["status"].isin(["working", "held"]).sum())
        init = self._bt.init_cash
        return pd.Series(
            {
                "start": self.equity.index[0] if len(self.equity) else pd.NaT,
                "end": self.equity.index[-1] if len(self.equity) else pd.NaT,
                "bars": len(self.equity),
                "final_value": self.final_value,
                "total_return": self.final_value / init - 1.0,
                "fills": len(self.fills),
                "fees": float(self.fills["fees"].sum()),
                "rejections": int((self.orders["event"] == "rejected").sum()),
                "open_orders": n_open,
            },
            name="simulation",
        )

    def __repr__(self) -> str:
        s = self.summary()
        return (
            f"SimResult({s['bars']} bars, {s['fills']} fills, {s['rejections']} rejections, "
            f"final value {s['final_value']:.6g}, config_id={self.config_id})"
        )

    def _repr_html_(self) -> str:
        return summary_html(
            "SimResult", self.summary().to_dict(), f"config_id {self.config_id}", self.equity
        )
