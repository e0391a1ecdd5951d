"""``ctx``: what a strategy sees and does on each bar of the simulator.

Orders submitted during ``on_start``, ``on_fill`` or ``on_bar`` of bar ``t`` are first
tried on bar ``t + 1 + latency_bars``. Bad orders (unknown symbol, non-positive or NaN
quantity, NaN or non-positive price) are not exceptions: they are recorded as
rejections with their reason and their id is returned like any other.
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from qresearch._compat import renamed_parameters
from qresearch.exceptions import ParameterError
from qresearch.sim import orders as o

if TYPE_CHECKING:
    from qresearch.sim.engine import _Run

__all__ = ["Context"]

_TYPE_CODES = {"market": o.MARKET, "limit": o.LIMIT, "stop": o.STOP, "stop_limit": o.STOP_LIMIT}
_TYPE_CODES["trailing_stop"] = o.TRAILING_STOP
_TIF_CODES = {name: code for code, name in enumerate(o.TIFS)}


class _PriceSeries(pd.Series):
    # The close cross-section that, called with a symbol, closes that position:
    # `ctx.close["ORCL"]` is a price, `ctx.close("ORCL")` an order.
    _metadata: ClassVar[list[str]] = ["_ctx"]

    def __call__(self, symbol: Any, **kwargs: Any) -> int | None:
        return self._ctx.close_position(symbol, **kwargs)


def _price(value: Any) -> float:
    # A price argument as float; NaN when missing or not a number (-> rejection).
    if value is None or isinstance(value, bool) or not isinstance(value, numbers.Real):
        return math.nan
    return float(value)


class _BarFields:
    # The current bar's fields as cross-sections, from the subclass's _cross(field);
    # shared by the simulator's Context and the live one.
    def _cross(self, field: str) -> pd.Series:
        raise NotImplementedError

    @property
    def open(self) -> pd.Series:
        """Opening prices of the current bar (NaN: no bar for the symbol)."""
        return self._cross("open")

    @property
    def high(self) -> pd.Series:
        """Highs of the current bar."""
        return self._cross("high")

    @property
    def low(self) -> pd.Series:
        """Lows of the current bar."""
        return self._cross("low")

    @property
    def volume(self) -> pd.Series:
        """Volumes of the current bar."""
        return self._cross("volume")


class Context(_BarFields):
    """The strategy's view of the simulation at the current bar.

    Attributes
    ----------
    timestamp : Timestamp
        The current bar's timestamp.
    i : int
        The current bar's position (index into precomputed arrays).
    symbols : Index
        All symbols of the bars.
    open, high, low, close, volume : Series
        The current cross-section (``ctx.close(symbol)`` closes a position); all NaN
        during ``on_start``, which runs before the first bar.
    cash, equity : float
        Cash, and cash plus positions at the last known closes.
    """

    def __init__(self, run: _Run) -> None:
        self._run = run
        self.symbols = run.symbols
        self._cols = {s: c for c, s in enumerate(run.symbols)}
        self.i = -1
        self._cache: dict[str, pd.Series] = {}
        self._cache_i = -2

    # ---- market data
    @property
    def timestamp(self) -> pd.Timestamp:
        """The current bar's timestamp (the first bar's during ``on_start``)."""
        return self._run.index[max(self.i, 0)]

    def _cross(self, field: str) -> pd.Series:
        if self._cache_i != self.i:
            self._cache = {}
            self._cache_i = self.i
        s = self._cache.get(field)
        if s is None:
            # Before the first bar (on_start) nothing has been seen: all NaN.
            raw = self._run.raw[field]
            row = raw[self.i] if self.i >= 0 else np.full(raw.shape[1], np.nan)
            if field == "close":
                s = _PriceSeries(row, index=self.symbols, name=self.timestamp, copy=True)
                s._ctx = self
            else:
                s = pd.Series(row, index=self.symbols, name=self.timestamp, copy=True)
            self._cache[field] = s
        return s

    @property
    def close(self) -> pd.Series:
        """Closes of the current bar; ``ctx.close(symbol)`` closes that position."""
        return self._cross("close")

    @renamed_parameters(n="window")
    def history(self, field: str, window: int) -> pd.DataFrame:
        """Return the last ``window`` bars of ``field`` up to and including the current bar.

        ``n`` is a deprecated alias of ``window`` (removed in the next release).
        """
        if field not in self._run.raw:
            raise ParameterError(
                f"ctx.history: unknown field {field!r}; use one of {sorted(self._run.raw)}."
            )
        if not (isinstance(window, int) and window >= 1):
            raise ParameterError(f"ctx.history: window must be an int >= 1; got {window!r}.")
        end = self.i + 1  # on_start: no rows
        start = max(end - window, 0)
        return pd.DataFrame(
            self._run.raw[field][start:end],
            index=self._run.index[start:end],
            columns=self.symbols,
        )

    # ---- account
    @property
    def cash(self) -> float:
        """Cash now."""
        return float(self._run.cash[0])

    @property
    def equity(self) -> float:
        """Cash plus positions valued at the last known closes."""
        return self._run.equity_now(self.i)

    def position(self, symbol: Any) -> float:
        """Shares held of ``symbol`` (negative: short; 0 for an unknown symbol)."""
        c = self._cols.get(symbol)
        return 0.0 if c is None else float(self._run.pos[c])

    @property
    def positions(self) -> pd.Series:
        """Shares held of every symbol."""
        return pd.Series(self._run.pos.copy(), index=self.symbols, name="position")

    def avg_price(self, symbol: Any) -> float:
        """Average entry price of the open position in ``symbol`` (0 when flat)."""
        c = self._cols.get(symbol)
        return 0.0 if c is None else float(self._run.avg[c])

    @property
    def halted(self) -> bool:
        """True while the risk limits halt trading (orders are rejected)."""
        return self._run.halted(self.i)

    def open_orders(self, symbol: Any = None) -> list[o.OrderInfo]:
        """Working (and held bracket) orders, optionally of one symbol."""
        run = self._run
        book = run.book
        out = []
        for j in range(book.n_active):
            k = int(book.active[j])
            if symbol is not None and run.symbol_of(k) != symbol:
                continue
            out.append(run.order_info(k))
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
        *,
        good_till: Any = None,
        trail_percent: float | None = None,
        trail_amount: float | None = None,
        algo: Any = None,
    ) -> int:
        """Submit a buy order; return its id.

        Parameters
        ----------
        symbol : str
            A symbol of the bars (else the order is rejected: ``unknown_symbol``).
        qty : float
            Shares, > 0.
        order_type : {"market", "limit", "stop", "stop_limit", "trailing_stop"}
            A trailing stop takes ``trail_percent`` (0.05 = 5%) or ``trail_amount``.
        limit_price, stop_price : float, optional
            Needed by limit / stop / stop-limit orders.
        tif : {"GTC", "DAY", "IOC", "FOK", "GTD"}
            Time in force; GTD takes ``good_till`` (a date: the order works through
            the last bar on or before it).
        algo : TWAP or VWAP, optional
            Split the order into child fills over ``algo.n_bars`` bars.
        """
        return self._order(
            symbol, 1, qty, order_type, limit_price, stop_price, tif, good_till,
            trail_percent, trail_amount, algo,
        )  # fmt: skip

    def sell(
        self,
        symbol: Any,
        qty: float,
        order_type: str = "market",
        limit_price: float | None = None,
        stop_price: float | None = None,
        tif: str = "GTC",
        *,
        good_till: Any = None,
        trail_percent: float | None = None,
        trail_amount: float | None = None,
        algo: Any = None,
    ) -> int:
        """Submit a sell order (selling more than is held opens a short); see :meth:`buy`."""
        return self._order(
            symbol, -1, qty, order_type, limit_price, stop_price, tif, good_till,
            trail_percent, trail_amount, algo,
        )  # fmt: skip

    def _order(
        self,
        symbol: Any,
        side: int,
        qty: Any,
        order_type: str,
        limit_price: Any,
        stop_price: Any,
        tif: str,
        good_till: Any,
        trail_percent: Any,
        trail_amount: Any,
        algo: Any,
    ) -> int:
        if order_type not in _TYPE_CODES:
            raise ParameterError(
                f"order_type must be one of {sorted(_TYPE_CODES)}; got {order_type!r}."
            )
        if tif not in _TIF_CODES:
            raise ParameterError(f"tif must be one of {list(_TIF_CODES)}; got {tif!r}.")
        typ = _TYPE_CODES[order_type]
        n_bars = 0
        if algo is not None:
            from qresearch.sim.strategies import TWAP, VWAP

            if not isinstance(algo, TWAP | VWAP) or order_type != "market":
                raise ParameterError(
                    f"algo must be TWAP(n_bars) or VWAP(n_bars) on a market order; got "
                    f"{algo!r} with order_type={order_type!r}."
                )
            typ = o.TWAP if isinstance(algo, TWAP) else o.VWAP
            n_bars = algo.n_bars
        if tif == "GTD" and good_till is None:
            raise ParameterError("tif='GTD' needs good_till=<date>; or use tif='GTC'.")
        if order_type == "trailing_stop" and (trail_percent is None) == (trail_amount is None):
            raise ParameterError(
                "A trailing_stop takes exactly one of trail_percent (0.05 = 5%) or trail_amount."
            )
        return self._run.submit(
            self.i,
            symbol,
            side,
            qty,
            typ,
            _TIF_CODES[tif],
            _price(limit_price),
            _price(stop_price),
            good_till,
            _price(trail_percent) if trail_percent is not None else math.nan,
            _price(trail_amount) if trail_amount is not None else math.nan,
            n_bars=n_bars,
        )

    def bracket(
        self,
        symbol: Any,
        qty: float,
        stop_price: float,
        limit_price: float,
        *,
        side: str = "buy",
        entry_type: str = "market",
        entry_price: float | None = None,
        tif: str = "GTC",
    ) -> o.Bracket:
        """Submit an entry with a stop-loss and a take-profit exit (one cancels the other).

        The exits become active on the bar after the entry fills, for the filled
        quantity; when one bar touches both, the stop-loss wins. ``side="sell"``
        enters short (stop above, take-profit below). ``entry_type="limit"`` enters at
        ``entry_price``. Returns the three order ids.
        """
        if side not in ("buy", "sell"):
            raise ParameterError(f"side must be 'buy' or 'sell'; got {side!r}.")
        if entry_type not in ("market", "limit"):
            raise ParameterError(f"entry_type must be 'market' or 'limit'; got {entry_type!r}.")
        if tif not in _TIF_CODES or tif == "GTD":
            raise ParameterError(
                f"A bracket's entry takes tif 'GTC', 'DAY', 'IOC' or 'FOK'; got {tif!r}."
            )
        sgn = 1 if side == "buy" else -1
        sp, lp = _price(stop_price), _price(limit_price)
        # Both exits must be valid prices, else the whole bracket is rejected.
        bad_exit = not (0 < sp < math.inf and 0 < lp < math.inf)
        if not (math.isnan(sp) or math.isnan(lp)) and (sp - lp) * sgn >= 0:
            raise ParameterError(
                f"A {side} bracket needs stop_price {'below' if sgn > 0 else 'above'} "
                f"limit_price; got stop_price={stop_price!r}, limit_price={limit_price!r}."
            )
        run = self._run
        entry = run.submit(
            self.i, symbol, sgn, qty, _TYPE_CODES[entry_type], _TIF_CODES[tif],
            _price(entry_price), math.nan, None, math.nan, math.nan, role=o.ROLE_ENTRY,
            reject=o.R_PRICE if bad_exit else o.R_NONE,
        )  # fmt: skip
        # Exits of a rejected entry are rejected with it (they would open a position).
        entry_ok = run.book.ints[entry, o.I_STATUS] == o.WORKING
        group = run.new_oco_group()
        legs = []
        for typ, lim, stp, role in (
            (o.STOP, math.nan, sp, o.ROLE_STOP_LOSS),
            (o.LIMIT, lp, math.nan, o.ROLE_TAKE_PROFIT),
        ):
            legs.append(
                run.submit(
                    self.i,
                    symbol,
                    -sgn,
                    qty,
                    typ,
                    o.GTC,
                    lim,
                    stp,
                    None,
                    math.nan,
                    math.nan,
                    role=role,
                    parent=entry,
                    oco=group,
                    held=True,
                    reject=o.R_NONE if entry_ok else o.R_PARENT,
                )
            )
        return o.Bracket(entry, legs[0], legs[1])

    def oco(self, *order_ids: int) -> int:
        """Group working orders so that a fill of one cancels the others; return the group."""
        run = self._run
        group = run.new_oco_group()
        for k in order_ids:
            run.check_order_id(k)
            run.book.ints[k, o.I_OCO] = group
        return group

    def order_target_percent(self, symbol: Any, weight: float) -> int:
        """Trade ``symbol`` to ``weight`` of equity, sized at the fill as ``from_weights`` does."""
        return self._run.submit_targets(self.i, [symbol], [weight])[0]

    def order_target_weights(self, weights: pd.Series | dict[Any, float]) -> list[int]:
        """Trade several symbols to target weights at once (NaN entries are skipped)."""
        w = pd.Series(weights, dtype="float64").dropna()
        return self._run.submit_targets(self.i, list(w.index), w.to_numpy())

    def close_position(self, symbol: Any, **kwargs: Any) -> int | None:
        """Submit a market order that flattens ``symbol``; None when already flat."""
        qty = self.position(symbol)
        if qty == 0.0:
            return None
        if qty > 0:
            return self.sell(symbol, qty, **kwargs)
        return self.buy(symbol, -qty, **kwargs)

    def cancel(self, order_id: int) -> bool:
        """Cancel a working order; return False when it was already done."""
        return self._run.cancel(self.i, order_id, o.R_USER, o.EV_CANCELLED)

    def replace(
        self,
        order_id: int,
        *,
        qty: float | None = None,
        limit_price: float | None = None,
        stop_price: float | None = None,
    ) -> int:
        """Cancel a working order and submit a copy with new quantity or prices; return its id.

        ``qty`` defaults to the quantity not yet filled.
        """
        return self._run.replace(self.i, order_id, qty, limit_price, stop_price)

    def __repr__(self) -> str:
        return f"Context(bar {self.i}, {self.timestamp}, cash={self.cash:.2f})"
