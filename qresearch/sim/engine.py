"""The event-driven simulator: strategies submit orders, a numba kernel fills them on bars.

Fill rules (per bar, documented in the README and tested one by one):

- a market order submitted on bar t fills at bar t+1's open (``market_fill="open"``,
  the default) or at bar t+1's close (``market_fill="close"``);
- a buy limit fills at the limit when the bar's low reaches it, or at the open when
  the bar opens at or below it (sell limits mirrored);
- a sell stop triggers when the low reaches it and fills at the stop, or at the open
  when the bar opens at or below it (buy stops mirrored); a stop-limit becomes a
  limit when triggered (triggered at the open: a limit for the whole bar; inside the
  bar: filled at the stop when the stop is within the limit, else a limit from the
  next bar on); a trailing stop's reference moves with the bar's high (sells) or low
  (buys) after the fill check;
- bracket exits become active on the bar after the entry fills; when one bar touches
  both, the stop-loss wins; a fill of one member of an OCO group cancels the others;
- IOC and FOK orders are tried on one bar only (IOC cancels the rest, FOK fills all
  or nothing); a DAY order not filled on the bar it is tried on expires at that bar's
  end (it is gone from ``ctx.open_orders()`` in that bar's ``on_bar``); a GTD order
  works through the last bar on or before its date;
- fills of bar t reach ``on_fill`` before ``on_bar(t)``; orders submitted in either
  are first tried on bar t+1 (t+1+``latency_bars`` with latency); cancelling an order
  submitted on the same bar always works;
- with ``volume_limit=f`` the orders of one symbol fill at most ``f`` x the bar's
  volume per bar; the rest stays working;
- slippage moves market and stop fills against the order; limit fills never go past
  their limit; fees are per fill (see :class:`~qresearch.backtest.costs.Costs`);
- a buy the cash (times ``leverage``) cannot pay is rejected; sells may open shorts;
- a position whose data ends before the bars do is closed at its last price on the
  next bar (as ``from_weights`` does), and its orders are cancelled.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import pandas as pd

from qresearch._validation import (
    check_choice,
    check_number,
    check_panel,
    check_prices,
    invalid_prices,
    to_timestamp,
)
from qresearch.backtest.costs import Costs
from qresearch.data.bars import Bars
from qresearch.exceptions import ParameterError, StrategyError
from qresearch.portfolio.risk import RiskLimits
from qresearch.sim import orders as o
from qresearch.sim._nb import (
    N_PARAMS,
    P_FEES,
    P_FILL_CLOSE,
    P_FIXED,
    P_GRANULARITY,
    P_IMPACT,
    P_LEVERAGE,
    P_MIN_SIZE,
    P_MIN_VALUE,
    P_SLIP,
    P_VOLUME_LIMIT,
)
from qresearch.sim.context import Context
from qresearch.sim.result import SimResult

__all__ = ["Simulator"]

MarketFill = Literal["open", "close"]


def _array(panel: pd.DataFrame) -> np.ndarray:
    return np.ascontiguousarray(panel.to_numpy(dtype=np.float64, na_value=np.nan))


def check_account_settings(
    func: str,
    init_cash: Any,
    market_fill: Any,
    leverage: Any,
    latency_bars: Any,
    volume_limit: Any,
) -> None:
    """Check the settings the Simulator and the PaperBroker share; ``func`` names the caller.

    Raises :class:`ParameterError` naming the argument: ``init_cash`` > 0, ``market_fill``
    "open" or "close", ``leverage`` >= 1, ``latency_bars`` an int >= 0, ``volume_limit``
    None or > 0.
    """
    check_number("init_cash", init_cash, func, minimum=0.0, strict=True)
    check_choice("market_fill", market_fill, ["open", "close"], func)
    check_number("leverage", leverage, func, minimum=1.0, strict=False)
    if not (isinstance(latency_bars, int) and not isinstance(latency_bars, bool)) or (
        latency_bars < 0
    ):
        raise ParameterError(
            f"The 'latency_bars' parameter of {func} is an int >= 0; got {latency_bars!r}."
        )
    if volume_limit is not None:
        check_number("volume_limit", volume_limit, func, minimum=0.0, strict=True)


class Simulator:
    """An event-driven backtest of order-level strategies on bars.

    Parameters
    ----------
    bars : Bars or DataFrame
        OHLCV bars (a close panel works with ``market_fill="close"``; then open, high
        and low equal the close).
    init_cash : float, default 1e6
        Starting cash.
    fees, fixed_fees, slippage, impact : float
        Costs per fill, as in :class:`~qresearch.backtest.costs.Costs` (impact needs
        volume).
    volume_limit : float, optional
        Largest fraction of a bar's volume the orders of one symbol may fill; the
        rest stays working.
    latency_bars : int, default 0
        Extra bars before a submitted order becomes active.
    market_fill : {"open", "close"}, default "open"
        Market orders submitted on bar t fill at bar t+1's open or close.
    leverage : float, default 1.0
        Buying power as a multiple of equity (1.0: buys limited to cash).
    size_granularity : float, optional
        Target-percent orders trade multiples of this (1.0: whole shares).
    min_order_value : float, default 0.0
        Target-percent orders worth less than this (currency) are not traded (as in
        ``from_weights``; no minimum number of shares).
    risk : RiskLimits, optional
        Checked at every close: a breach cancels working orders, liquidates on the next
        bar (orders with role ``risk_exit``) and rejects new orders (``risk_halt``)
        for the cooldown.

    Examples
    --------
    >>> import qresearch.api as qr
    >>> bars = qr.datasets.load_sample("ohlcv", symbols=["ORCL"])
    >>> class BuyOnce:
    ...     def on_bar(self, ctx):
    ...         if ctx.i == 0:
    ...             ctx.buy("ORCL", 100)
    >>> out = qr.sim.Simulator(bars, init_cash=10_000, fees=0.001).run(BuyOnce())
    >>> fill = out.fills.iloc[0]
    >>> bool(fill.timestamp == bars.index[1]), bool(fill.price == bars.open["ORCL"].iloc[1])
    (True, True)
    """

    def __init__(
        self,
        bars: Bars | pd.DataFrame,
        init_cash: float = 1e6,
        *,
        fees: float = 0.0,
        fixed_fees: float = 0.0,
        slippage: float = 0.0,
        impact: float = 0.0,
        volume_limit: float | None = None,
        latency_bars: int = 0,
        market_fill: MarketFill = "open",
        leverage: float = 1.0,
        size_granularity: float | None = None,
        min_order_value: float = 0.0,
        risk: RiskLimits | None = None,
    ) -> None:
        self.costs = Costs(fees=fees, fixed_fees=fixed_fees, slippage=slippage, impact=impact)
        check_account_settings(
            "Simulator", init_cash, market_fill, leverage, latency_bars, volume_limit
        )
        if size_granularity is not None:
            check_number("size_granularity", size_granularity, "Simulator", strict=True)
        check_number("min_order_value", min_order_value, "Simulator", minimum=0.0, strict=False)
        if risk is not None and not isinstance(risk, RiskLimits):
            raise ParameterError(f"risk must be a RiskLimits or None; got {type(risk).__name__}.")
        if isinstance(bars, Bars):
            close = bars.close
            raw_open: np.ndarray | None = _array(bars.open)
            raw_high: np.ndarray | None = _array(bars.high)
            raw_low: np.ndarray | None = _array(bars.low)
            volume: np.ndarray | None = _array(bars.volume) if bars.volume is not None else None
        else:
            close = check_panel(bars, "bars")
            if market_fill == "open":
                raise ParameterError(
                    "market_fill='open' needs opening prices: pass Bars (e.g. "
                    "qr.datasets.load_sample('ohlcv')), or Simulator(..., market_fill='close')."
                )
            raw_open = raw_high = raw_low = volume = None
        if (volume_limit is not None or impact > 0) and volume is None:
            raise ParameterError(
                "volume_limit and impact need bar volume: pass Bars with a volume panel."
            )
        self.index = close.index
        self.symbols = close.columns
        c = _array(close)
        named = {"close": c, "open": raw_open, "high": raw_high, "low": raw_low}
        panels = {name: a for name, a in named.items() if a is not None}
        check_prices(invalid_prices(panels, self.index, self.symbols), "Simulator")
        # Missing open/high/low fall back to the close (and the bar's range to cover it).
        op = c if raw_open is None else np.where(np.isnan(raw_open), c, raw_open)
        hi = c if raw_high is None else np.where(np.isnan(raw_high), np.maximum(op, c), raw_high)
        lo = c if raw_low is None else np.where(np.isnan(raw_low), np.minimum(op, c), raw_low)
        op = np.where(np.isnan(c), np.nan, op)
        self.raw = {"open": op, "high": hi, "low": lo, "close": c}
        self.raw["volume"] = volume if volume is not None else np.full(c.shape, np.nan)
        self._bars = bars
        self.init_cash = float(init_cash)
        self.volume_limit = volume_limit
        self.latency_bars = latency_bars
        self.market_fill = market_fill
        self.leverage = float(leverage)
        self.size_granularity = size_granularity
        self.min_order_value = float(min_order_value)
        self.risk = risk
        fill = c if market_fill == "close" else op
        self.fill_price = np.ascontiguousarray(fill)
        self.val_price = np.ascontiguousarray(pd.DataFrame(fill).ffill().to_numpy())
        self.last_close = np.nan_to_num(pd.DataFrame(c).ffill().to_numpy(), nan=0.0)
        valid = ~np.isnan(c)
        rows = np.arange(len(c))[:, None]
        last_valid = np.where(valid, rows, -1).max(axis=0)
        delist: dict[int, list[int]] = {}
        for col, lv in enumerate(last_valid):
            if 0 <= lv < len(c) - 1:
                delist.setdefault(int(lv) + 1, []).append(col)
        self.delist_at = {k: np.array(v, dtype=np.int64) for k, v in delist.items()}
        self._impact_inputs: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def config(self) -> dict[str, Any]:
        """The simulator's arguments (``SimResult.config``; hashed into ``config_id``)."""
        return {
            "engine": "simulator",
            "init_cash": self.init_cash,
            "fees": self.costs.fees,
            "fixed_fees": self.costs.fixed_fees,
            "slippage": self.costs.slippage,
            "impact": self.costs.impact,
            "volume_limit": self.volume_limit,
            "latency_bars": self.latency_bars,
            "market_fill": self.market_fill,
            "leverage": self.leverage,
            "size_granularity": self.size_granularity,
            "min_order_value": self.min_order_value,
            "risk": None if self.risk is None else self.risk.to_dict(),
        }

    def impact_inputs(self) -> tuple[np.ndarray, np.ndarray]:
        """``(sigma, adv)`` arrays known before each bar (impact and VWAP), computed once."""
        if self._impact_inputs is None:
            idx, cols = self.index, self.symbols
            close = pd.DataFrame(self.raw["close"], index=idx, columns=cols)
            volume = pd.DataFrame(self.raw["volume"], index=idx, columns=cols)
            sigma, adv = self.costs.impact_inputs(close, volume)
            self._impact_inputs = (_array(sigma), _array(adv.fillna(0.0)))
        return self._impact_inputs

    def run(
        self,
        strategy: Any,
        progress: bool | None = None,
        *,
        engine: Literal["numba", "python"] = "numba",
    ) -> SimResult:
        """Run ``strategy`` over every bar; return a :class:`SimResult`.

        Parameters
        ----------
        strategy : object
            With ``on_bar(ctx)`` and optionally ``on_start(ctx)``, ``on_fill(ctx, fill)``
            and ``on_stop(ctx)``; an optional ``bind(simulator)`` is called first to
            check the strategy against the bars (its errors are raised unwrapped).
        progress : bool, optional
            Show a tqdm progress bar (None: only on long runs in a terminal).
        engine : {"numba", "python"}, default "numba"
            The compiled matching kernel, or its plain-Python twin (slow; for checking).

        Raises
        ------
        StrategyError
            When the strategy raises; names the method and the bar. No partial result
            is returned.
        """
        if not callable(getattr(strategy, "on_bar", None)):
            raise ParameterError(
                f"strategy must have an on_bar(ctx) method; got {type(strategy).__name__}."
            )
        check_choice("engine", engine, ["numba", "python"], "Simulator.run")
        bind = getattr(strategy, "bind", None)
        if callable(bind):
            bind(self)
        return _Run(self, strategy, engine).run(progress)


class _Run:
    # The state of one simulation: order book, account, per-bar records.

    def __init__(self, sim: Simulator, strategy: Any, engine: str) -> None:
        self.sim = sim
        self.strategy = strategy
        self.index = sim.index
        self.symbols = sim.symbols
        self.raw = sim.raw
        n_rows, n_cols = sim.raw["close"].shape
        self.book = o.OrderBook(max(256, 2 * n_cols))
        self.cash = np.array([sim.init_cash])
        self.pos = np.zeros(n_cols)
        self.avg = np.zeros(n_cols)
        self.realized = np.zeros(n_cols)
        self.vol_used = np.zeros(n_cols)
        self.cash_hist = np.empty(n_rows)
        self.pos_hist = np.zeros((n_rows, n_cols))
        self.changed = np.zeros(n_rows, dtype=np.bool_)
        self.unknown: dict[int, Any] = {}
        self.target_order = np.full(n_cols, -1, dtype=np.int64)
        p = np.zeros(N_PARAMS)
        costs = sim.costs
        p[P_FEES], p[P_FIXED], p[P_SLIP], p[P_IMPACT] = (
            costs.fees,
            costs.fixed_fees,
            costs.slippage,
            costs.impact,
        )
        p[P_VOLUME_LIMIT] = np.nan if sim.volume_limit is None else sim.volume_limit
        p[P_LEVERAGE] = sim.leverage
        p[P_FILL_CLOSE] = 1.0 if sim.market_fill == "close" else 0.0
        p[P_MIN_SIZE] = 0.0
        p[P_MIN_VALUE] = sim.min_order_value
        p[P_GRANULARITY] = np.nan if sim.size_granularity is None else sim.size_granularity
        self.params = p
        if engine == "numba":
            from qresearch.sim._nb import match_bar_nb as kernel
        else:
            from qresearch.sim._nb import match_bar_py as kernel
        self.kernel = kernel
        self.placeholder = np.zeros((1, 1))
        self.uses_volume_inputs = costs.impact > 0
        # Risk state.
        risk = sim.risk
        self.risk_args = (risk or RiskLimits()).kernel_args()
        self.halted_to = -2  # bars <= this are halted (on_start is bar -1)
        self.peak = sim.init_cash
        self.streak = 0
        self.prev_equity = sim.init_cash
        self.risk_events: list[tuple[int, str]] = []
        self.ctx = Context(self)

    # ---- order submission (called by the Context)
    def new_oco_group(self) -> int:
        counts = self.book.counts
        counts[3] += 1
        return int(counts[3])

    def check_order_id(self, k: Any) -> int:
        if not (isinstance(k, int | np.integer) and 0 <= k < self.book.n):
            raise ParameterError(
                f"Unknown order id {k!r}: ids are returned by ctx.buy/sell/bracket "
                f"(0..{self.book.n - 1} so far)."
            )
        return int(k)

    def symbol_of(self, k: int) -> Any:
        c = int(self.book.ints[k, o.I_COL])
        return self.unknown.get(k) if c < 0 else self.symbols[c]

    def halted(self, i: int) -> bool:
        return i <= self.halted_to

    def submit(
        self,
        i: int,
        symbol: Any,
        side: int,
        qty: Any,
        typ: int,
        tif: int,
        limit: float,
        stop: float,
        good_till: Any,
        trail_pct: float,
        trail_amt: float,
        *,
        role: int = o.ROLE_NONE,
        parent: int = -1,
        oco: int = -1,
        held: bool = False,
        n_bars: int = 0,
        reject: int = o.R_NONE,
        expire_at: int | None = None,
    ) -> int:
        book = self.book
        book.reserve(1)
        k = book.n
        book.n += 1
        try:
            c = self.ctx._cols.get(symbol, -1)
        except TypeError:  # an unhashable "symbol": recorded by its repr
            c, symbol = -1, repr(symbol)
        start = i + 1 + self.sim.latency_bars
        ok_qty = isinstance(qty, int | float | np.number) and not isinstance(qty, bool | np.bool_)
        q = float(qty) if ok_qty else math.nan
        reason = reject
        expire = -1
        ref = math.nan
        if c < 0:
            self.unknown[k] = symbol
        if reason:
            pass
        elif c < 0:
            reason = o.R_SYMBOL
        elif not (q > 0 and math.isfinite(q)):
            reason = o.R_QTY
        elif (typ in (o.LIMIT, o.STOP_LIMIT) and not 0 < limit < math.inf) or (
            typ in (o.STOP, o.STOP_LIMIT) and not 0 < stop < math.inf
        ):
            reason = o.R_PRICE
        elif typ == o.TRAILING_STOP:
            ref = self.last_price(i, c)
            amount_ok = 0 < trail_amt < math.inf or (0 < trail_pct < 1)
            if not amount_ok:
                reason = o.R_PRICE
            elif math.isnan(ref):
                reason = o.R_NO_DATA
        if reason == o.R_NONE and tif == o.GTD:
            expire = self.expire_bar(good_till) if expire_at is None else expire_at
            if expire < start:
                reason = o.R_GOOD_TILL
        if reason == o.R_NONE and self.halted(i) and role != o.ROLE_RISK_EXIT:
            reason = o.R_RISK
        status = o.REJECTED if reason else (o.HELD if held else o.WORKING)
        book.ints[k] = (
            c,
            side,
            typ,
            tif,
            status,
            start,
            expire,
            parent,
            oco,
            i,
            0,
            role,
            n_bars,
            0,
        )
        book.floats[k] = (q, 0.0, limit, stop, trail_amt, trail_pct, ref, math.nan, math.nan)
        book.event(k, i, o.EV_SUBMITTED)
        if reason:
            book.event(k, i, o.EV_REJECTED, reason)
        else:
            n = book.n_active
            book.active[n] = k
            book.counts[0] = n + 1
            if typ == o.VWAP:
                self.uses_volume_inputs = True
        return k

    def expire_bar(self, good_till: Any) -> int:
        # The last bar a GTD order works on: through the end of good_till's day when it
        # is a date (midnight), through good_till itself when it has a time.
        when = to_timestamp(good_till, "good_till", self.index.tz)
        assert when is not None  # the Context requires good_till with GTD
        if when == when.normalize():
            return int(self.index.searchsorted(when + pd.Timedelta(days=1), side="left")) - 1
        return int(self.index.searchsorted(when, side="right")) - 1

    def submit_targets(
        self,
        i: int,
        symbols: list[Any] | None,
        weights: Any,
        cols: np.ndarray | None = None,
        skip_flat_zeros: bool = False,
    ) -> list[int]:
        # Target-percent orders for several symbols at once (vectorized bookkeeping).
        # An earlier target order of the same symbol that has been tried (active) and is
        # still working is replaced; one still waiting out latency_bars is kept, so that
        # every decision reaches the market in order. `skip_flat_zeros` leaves out zero
        # targets of symbols without a position or a working target order (no-ops).
        w = np.asarray(weights, dtype=np.float64)
        book = self.book
        if cols is None:
            cols = np.array([self.ctx._cols.get(s, -1) for s in symbols or []], dtype=np.int64)
        status = book.ints[:, o.I_STATUS]
        if skip_flat_zeros:
            known = cols >= 0
            prev = np.where(known, self.target_order[cols], -1)
            pending = (prev >= 0) & (status[np.maximum(prev, 0)] < o.TERMINAL)
            keep = (w != 0.0) | (np.where(known, self.pos[cols], 0.0) != 0.0) | pending | ~known
            w, cols = w[keep], cols[keep]
            if symbols is not None:
                symbols = [s for s, k in zip(symbols, keep, strict=True) if k]
        n = len(cols)
        book.reserve(n)
        status = book.ints[:, o.I_STATUS]
        ids = np.arange(book.n, book.n + n)
        book.n += n
        bad_symbol = cols < 0
        bad_weight = ~np.isfinite(w)
        reason = np.where(bad_symbol, o.R_SYMBOL, np.where(bad_weight, o.R_QTY, o.R_NONE))
        if self.halted(i):
            reason = np.where(reason == o.R_NONE, o.R_RISK, reason)
        ok = reason == o.R_NONE
        prev = self.target_order[cols[ok]]
        live = prev[prev >= 0]
        live = live[(status[live] < o.TERMINAL) & (book.ints[live, o.I_ACTIVE_FROM] <= i)]
        if len(live):
            book.ints[live, o.I_STATUS] = o.CANCELLED
            self._events(live, i, o.EV_REPLACED, o.R_REPLACED)
            self._compact()
        start = i + 1 + self.sim.latency_bars
        ints = book.ints[ids]
        ints[:] = 0
        ints[:, o.I_COL] = cols
        ints[:, o.I_TYPE] = o.TARGET_PERCENT
        ints[:, o.I_STATUS] = np.where(ok, o.WORKING, o.REJECTED)
        ints[:, o.I_ACTIVE_FROM] = start
        ints[:, o.I_EXPIRE_AT] = -1
        ints[:, o.I_PARENT] = -1
        ints[:, o.I_OCO] = -1
        ints[:, o.I_SUBMIT_BAR] = i
        book.ints[ids] = ints
        floats = np.full((n, o.N_FLOAT), np.nan)
        floats[:, o.F_QTY] = 0.0
        floats[:, o.F_FILLED] = 0.0
        floats[:, o.F_TARGET] = w
        book.floats[ids] = floats
        for k in ids[bad_symbol]:
            self.unknown[int(k)] = symbols[int(k - ids[0])] if symbols is not None else None
        self._events(ids, i, o.EV_SUBMITTED, o.R_NONE)
        if (~ok).any():
            self._events(ids[~ok], i, o.EV_REJECTED, reason[~ok])
        good = ids[ok]
        n_act = book.n_active
        book.active[n_act : n_act + len(good)] = good
        book.counts[0] = n_act + len(good)
        self.target_order[cols[ok]] = good
        return [int(k) for k in ids]

    def _events(self, ids: np.ndarray, i: int, code: int, reason: Any) -> None:
        # Append one event per order id (vectorized).
        book = self.book
        m, n = int(book.counts[2]), len(ids)
        if m + n > book.events.shape[0]:
            book.events = o._grow(book.events, 2 * (m + n), 0)
        block = book.events[m : m + n]
        block[:, 0] = ids
        block[:, 1] = i
        block[:, 2] = code
        block[:, 3] = reason
        book.counts[2] = m + n

    def cancel(self, i: int, k: Any, reason: int, code: int) -> bool:
        k = self.check_order_id(k)
        book = self.book
        if book.ints[k, o.I_STATUS] >= o.TERMINAL:
            return False
        book.ints[k, o.I_STATUS] = o.CANCELLED
        book.event(k, i, code, reason)
        self._compact()
        return True

    def replace(self, i: int, k: Any, qty: Any, limit: Any, stop: Any) -> int:
        k = self.check_order_id(k)
        book = self.book
        ints, fl = book.ints[k].copy(), book.floats[k].copy()
        typ, status = int(ints[o.I_TYPE]), int(ints[o.I_STATUS])
        if typ in (o.TARGET_PERCENT, o.TWAP, o.VWAP):
            raise ParameterError(
                f"Order {k} is a {o.ORDER_TYPES[typ]} order and cannot be replaced; submit a "
                "new target (or cancel it)."
            )
        from qresearch.sim.context import _price

        not_working = status >= o.TERMINAL
        if not not_working:
            self.cancel(i, k, o.R_REPLACED, o.EV_REPLACED)
        new_qty = fl[o.F_QTY] - fl[o.F_FILLED] if qty is None else qty
        new = self.submit(
            i,
            self.symbol_of(k),
            int(ints[o.I_SIDE]),
            new_qty,
            typ,
            int(ints[o.I_TIF]),
            fl[o.F_LIMIT] if limit is None else _price(limit),
            fl[o.F_STOP] if stop is None else _price(stop),
            None,
            fl[o.F_TRAIL_PERCENT],
            fl[o.F_TRAIL_AMOUNT],
            role=int(ints[o.I_ROLE]),
            parent=int(ints[o.I_PARENT]),
            oco=int(ints[o.I_OCO]),
            held=status == o.HELD,
            n_bars=int(ints[o.I_N_BARS]),
            # A fill and a change can cross: replacing a finished order is a rejection.
            reject=o.R_NOT_WORKING if not_working else o.R_NONE,
            expire_at=int(ints[o.I_EXPIRE_AT]),
        )
        if book.ints[new, o.I_STATUS] >= o.TERMINAL:
            return new
        # The order's state carries over: a trailing stop's reference, a triggered
        # stop-limit, and the children of a bracket entry.
        if typ == o.TRAILING_STOP:
            book.floats[new, o.F_TRAIL_REF] = fl[o.F_TRAIL_REF]
        book.ints[new, o.I_TRIGGERED] = ints[o.I_TRIGGERED]
        if ints[o.I_ROLE] == o.ROLE_ENTRY:
            act = book.active[: book.n_active]
            children = act[book.ints[act, o.I_PARENT] == k]
            book.ints[children, o.I_PARENT] = new
        return new

    def _compact(self) -> None:
        # Drop finished orders from the active list.
        book = self.book
        act = book.active[: book.n_active]
        keep = act[book.ints[act, o.I_STATUS] < o.TERMINAL]
        book.active[: len(keep)] = keep
        book.counts[0] = len(keep)

    def order_info(self, k: int) -> o.OrderInfo:
        ints, fl = self.book.ints[k], self.book.floats[k]
        return o.OrderInfo(
            order_id=k,
            symbol=self.symbol_of(k),
            side="buy" if ints[o.I_SIDE] > 0 else "sell" if ints[o.I_SIDE] < 0 else "",
            qty=float(fl[o.F_QTY]),
            filled=float(fl[o.F_FILLED]),
            order_type=o.ORDER_TYPES[ints[o.I_TYPE]],
            limit_price=float(fl[o.F_LIMIT]),
            stop_price=float(fl[o.F_STOP]),
            tif=o.TIFS[ints[o.I_TIF]],
            status=o.STATUSES[ints[o.I_STATUS]],
        )

    # ---- account
    def last_price(self, i: int, c: int) -> float:
        if i < 0:
            return math.nan  # on_start: no bar seen yet
        p = self.sim.last_close[i, c]
        return math.nan if p == 0.0 else float(p)

    def equity_now(self, i: int) -> float:
        if i < 0:
            return float(self.cash[0])
        return float(self.cash[0] + self.pos @ self.sim.last_close[i])

    # ---- the loop
    def run(self, progress: bool | None) -> SimResult:
        sim, strategy, ctx, book = self.sim, self.strategy, self.ctx, self.book
        on_fill = getattr(strategy, "on_fill", None)
        n_rows = len(self.index)
        bar = _progress(progress, n_rows, len(self.symbols))
        raw = self.raw
        no_delist = np.zeros(0, dtype=np.int64)
        risk_on = sim.risk is not None
        self._call(strategy, "on_start", -1)
        keys = np.empty(0)
        cand = np.empty(0, dtype=np.int64)
        for i in range(n_rows):
            ctx.i = i
            delist = sim.delist_at.get(i, no_delist)
            if book.n_active or len(delist):
                book.reserve_records(len(delist))
                if keys.shape[0] < book.n_active:
                    keys = np.empty(2 * book.n_active)
                    cand = np.empty(2 * book.n_active, dtype=np.int64)
                n_fills = int(book.counts[1])
                if self.uses_volume_inputs:
                    sigma, adv = sim.impact_inputs()
                else:
                    sigma = adv = self.placeholder
                self.kernel(
                    i, raw["open"], raw["high"], raw["low"], raw["close"], raw["volume"],
                    sim.fill_price, sim.val_price, sigma, adv, delist, book.floats,
                    book.ints, book.active, book.fills, book.events, book.counts, self.cash,
                    self.pos, self.avg, self.realized, self.vol_used, keys, cand, self.params,
                )  # fmt: skip
                if book.counts[1] > n_fills:
                    self.pos_hist[i] = self.pos
                    self.changed[i] = True
                    if on_fill is not None:
                        for f in range(n_fills, int(book.counts[1])):
                            self._call(strategy, "on_fill", i, self.fill_record(f))
            if risk_on:
                self._check_risk(i)
            self._call(strategy, "on_bar", i)
            self.cash_hist[i] = self.cash[0]
            if bar is not None and (i % 256 == 0 or i == n_rows - 1):
                bar.n = i + 1
                bar.refresh()
        if bar is not None:
            bar.close()
        ctx.i = n_rows - 1
        self._call(strategy, "on_stop", n_rows - 1)
        result = SimResult.from_run(self)
        # Break the run <-> context cycle so the run's arrays are freed right away.
        del self.ctx
        return result

    def _call(self, strategy: Any, method: str, i: int, *args: Any) -> None:
        fn = getattr(strategy, method, None)
        if fn is None:
            return
        try:
            fn(self.ctx, *args)
        except Exception as exc:
            when = "before the first bar" if i < 0 else f"at bar {i} ({self.index[i]})"
            raise StrategyError(
                f"{type(strategy).__name__}.{method} raised {type(exc).__name__} {when}: "
                f"{str(exc).rstrip('.')}. The simulation stopped; no result was returned."
            ) from exc

    def fill_record(self, f: int) -> o.Fill:
        row = self.book.fills[f]
        k = int(row[o.FILL_ORDER])
        typ = "delisting" if k < 0 else o.ORDER_TYPES[self.book.ints[k, o.I_TYPE]]
        return o.Fill(
            timestamp=self.index[int(row[o.FILL_BAR])],
            symbol=self.symbols[int(row[o.FILL_COL])],
            side="buy" if row[o.FILL_SIDE] > 0 else "sell",
            qty=float(row[o.FILL_QTY]),
            price=float(row[o.FILL_PRICE]),
            fees=float(row[o.FILL_FEES]),
            order_id=k,
            order_type=typ,
        )

    def _check_risk(self, i: int) -> None:
        # RiskLimits at this bar's close, as from_weights checks them: a breach cancels
        # working orders, liquidates on the next bar and halts for the cooldown.
        max_dd, bar_loss, losing, cooldown = self.risk_args
        prev = self.prev_equity
        eq = self.equity_now(i)
        self.prev_equity = eq
        if i <= self.halted_to:
            return
        self.peak = max(self.peak, eq)
        self.streak = self.streak + 1 if eq < prev else 0
        hit = ""
        if not math.isnan(max_dd) and eq <= self.peak * (1.0 - max_dd):
            hit = "max_drawdown"
        elif not math.isnan(bar_loss) and eq <= prev * (1.0 - bar_loss):
            hit = "bar_loss_limit"
        elif losing > 0 and self.streak >= losing:
            hit = "max_losing_bars"
        if not hit:
            return
        self.risk_events.append((i, hit))
        book = self.book
        for k in book.active[: book.n_active].copy():
            if book.ints[k, o.I_STATUS] < o.TERMINAL:
                book.ints[k, o.I_STATUS] = o.CANCELLED
                book.event(int(k), i, o.EV_CANCELLED, o.R_RISK)
        self._compact()
        for c in np.flatnonzero(self.pos):
            side = -1 if self.pos[c] > 0 else 1
            self.submit(
                i, self.symbols[c], side, abs(float(self.pos[c])), o.MARKET, o.GTC,
                math.nan, math.nan, None, math.nan, math.nan, role=o.ROLE_RISK_EXIT,
            )  # fmt: skip
        n_rows = len(self.index)
        # Orders of bars up to halted_to are refused: liquidation on bar i + 1, flat
        # for `cooldown` bars after it, orders again from bar i + cooldown + 1 (they
        # fill on the next bar), as from_weights applies the same RiskLimits.
        self.halted_to = i + cooldown if cooldown >= 0 else n_rows
        self.streak = 0
        self.peak = eq


def _progress(progress: bool | None, n_rows: int, n_cols: int) -> Any:
    # A tqdm bar when asked, or (None) on long runs when stderr is a terminal.
    from qresearch._progress import progress_bar

    if progress is None and n_rows * n_cols < 5_000_000:
        return None
    return progress_bar(n_rows, "simulating", unit="bar", show=progress)
