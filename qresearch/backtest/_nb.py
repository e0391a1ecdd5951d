"""Numba kernels of the vectorized engine, each written first as a plain-Python twin.

Kernels take contiguous float64/int64 arrays and scalars only. ``simulate_weights_py``
is the reference; :func:`simulate_weights_nb` returns the same function compiled with
``numba.njit(cache=True)`` (compiled lazily, so importing this module loads no numba).

Accounting follows vectorbt's ``Portfolio.from_orders(size_type="targetpercent",
cash_sharing=True, call_seq="auto")`` so results can be checked against it:

- per bar and group, the group value ``V = cash + sum(pos * val_price)`` is computed
  once, before any order, with ``val_price`` the last known (unslipped) order price;
- orders are sorted by their approximate value ``w * V - pos * val_price`` (stable,
  ascending, NaN last): sells before buys;
- the size of an order is ``(w * V) / val_price - pos``; buys fill at
  ``price * (1 + slippage)``, sells at ``price * (1 - slippage)``;
- fees are ``traded_value * fees + fixed_fees`` per order; a buy that would need
  more cash than is available (with the ``leverage`` allowance) is reduced so that it
  spends exactly the available cash, fees included;
- orders smaller than ``min_size`` units are rejected; ``granularity`` rounds sizes
  down to a multiple of it (NaN: fractional sizes).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

from qresearch.backtest._exec import (
    add_py,
    buy_py,
    cap_participation_py,
    is_close_py,
    sell_py,
    slip_fraction_py,
)

# Order record fields; `flag` is 1 for a forced close of a delisted position.
ORDER_DTYPE = np.dtype(
    [
        ("col", np.int64),
        ("idx", np.int64),
        ("size", np.float64),
        ("price", np.float64),
        ("fees", np.float64),
        ("side", np.int64),
        ("flag", np.int64),
    ]
)
BUY, SELL = 0, 1
# Orders worth less than this fraction of the portfolio are float noise.
NOISE = 1e-12


def write_order_py(
    records: Any,
    n: int,
    col: int,
    idx: int,
    size: float,
    price: float,
    fee: float,
    side: int,
    flag: int,
) -> None:
    # Fill record n field by field (numba cannot assign a tuple to a record).
    rec = records[n]
    rec["col"] = col
    rec["idx"] = idx
    rec["size"] = size
    rec["price"] = price
    rec["fees"] = fee
    rec["side"] = side
    rec["flag"] = flag


def ensure_capacity_py(records: Any, n: int) -> Any:
    # Room for record n: the same array, or a copy twice as large (amortized growth).
    if n < records.shape[0]:
        return records
    grown = np.empty(max(2 * records.shape[0], 64), dtype=ORDER_DTYPE)
    grown[:n] = records[:n]
    return grown


def value_bar_py(
    i: int,
    close: Any,
    group_lens: Any,
    pos: Any,
    cash: Any,
    last_close: Any,
    pos_out: Any,
    cash_out: Any,
    equity_out: Any,
) -> None:
    # Record bar i's positions, cash and equity (positions at the last known close).
    for c in range(close.shape[1]):
        p = close[i, c]
        if not math.isnan(p):
            last_close[c] = p
        pos_out[i, c] = pos[c]
    start = 0
    for g in range(group_lens.shape[0]):
        end = start + group_lens[g]
        eq = cash[g]
        for c in range(start, end):
            if pos[c] != 0.0:
                eq += pos[c] * last_close[c]
        cash_out[i, g] = cash[g]
        equity_out[i, g] = eq
        start = end


def simulate_weights_py(
    exec_price: Any,
    close: Any,
    target: Any,
    group_lens: Any,
    last_valid: Any,
    init_cash: float,
    fees: float,
    fixed_fees: float,
    slippage: float,
    min_size: float,
    granularity: float,
    min_trade: float,
    min_value: float,
    leverage: float,
    volume: Any,
    sigma: Any,
    adv: Any,
    impact: float,
    participation: float,
    risk_max_drawdown: float,
    risk_bar_loss: float,
    risk_losing_bars: int,
    risk_cooldown: int,
    max_orders: int,
) -> tuple[Any, ...]:
    """Simulate cash-shared target-weight portfolios, one per group of columns.

    Parameters
    ----------
    exec_price : float64 (T, C)
        Fill price of orders of bar i (already lagged by the wrapper); NaN: no order.
    close : float64 (T, C)
        End-of-bar valuation price; NaN carries the last known close.
    target : float64 (T, C)
        Target weight executed at bar i; NaN: leave the position alone.
    group_lens : int64 (G,)
        Number of consecutive columns in each group (independent portfolio).
    last_valid : int64 (C,)
        Last bar with a price; a position still open after it is closed at the last
        price on the next bar (delisting), flagged in the order records.
    init_cash, fees, fixed_fees, slippage, min_size, granularity, min_trade, min_value, leverage
        Scalars; ``granularity`` NaN means fractional sizes; ``min_value`` is the
        smallest order value (currency); orders worth less than ``1e-12`` of the
        group value are float noise and skipped; ``min_trade`` is the
        smallest order value as a fraction of the group value.
    volume, sigma, adv : float64 (T, C)
        Bar volume, daily return volatility and average daily volume known before
        bar i (used only when ``impact > 0`` or ``participation`` is set).
    impact : float
        Square-root impact coefficient k: fills move by ``k * sigma * sqrt(qty / adv)``
        of the price against the order, on top of ``slippage`` (capped at 99%).
    participation : float
        Largest order as a fraction of the bar's volume (NaN: no cap); the rest of
        the order is not filled.
    risk_max_drawdown, risk_bar_loss : float
        Halt when equity falls this fraction below its running peak, or loses this
        fraction in one bar (NaN: no limit).
    risk_losing_bars : int
        Halt after this many consecutive losing bars (0: no limit).
    risk_cooldown : int
        After a halt, bars to stay flat after the liquidation bar before the latest
        targets apply again (-1: stay flat to the end).
    max_orders : int
        Initial capacity of the order records, grown as needed (0: keep none).

    Returns
    -------
    tuple
        ``cash (T, G), equity (T, G), positions (T, C), traded (T, G), fees_paid (T, G),
        records (n,) structured`` where ``traded`` is the absolute value traded;
        ``flag`` is 1 for a delisting close, 2 for a risk-limit liquidation.
    """
    n_rows, n_cols = exec_price.shape
    n_groups = group_lens.shape[0]
    cash_out = np.empty((n_rows, n_groups))
    equity_out = np.empty((n_rows, n_groups))
    traded_out = np.zeros((n_rows, n_groups))
    fees_out = np.zeros((n_rows, n_groups))
    pos_out = np.empty((n_rows, n_cols))
    records = np.empty(max_orders, dtype=ORDER_DTYPE)
    n_orders = 0

    pos = np.zeros(n_cols)
    val_price = np.full(n_cols, np.nan)
    last_close = np.full(n_cols, np.nan)
    cash = np.full(n_groups, init_cash)
    keys = np.empty(n_cols)
    # Risk-limit state per group: pending liquidation, halted through bar, pending
    # resume, last row with targets, running peak, losing streak.
    risk_on = (
        not math.isnan(risk_max_drawdown) or not math.isnan(risk_bar_loss) or risk_losing_bars > 0
    )
    liquidate = np.zeros(n_groups, dtype=np.bool_)
    halted_to = np.full(n_groups, -1, dtype=np.int64)
    resume = np.zeros(n_groups, dtype=np.bool_)
    last_row = np.full(n_groups, -1, dtype=np.int64)
    peak = np.full(n_groups, init_cash)
    streak = np.zeros(n_groups, dtype=np.int64)

    for i in range(n_rows):
        for c in range(n_cols):
            p = exec_price[i, c]
            if not math.isnan(p):
                val_price[c] = p
        start = 0
        for g in range(n_groups):
            end = start + group_lens[g]
            # Forced close of positions whose prices ended (delisting).
            for c in range(start, end):
                if i == last_valid[c] + 1 and pos[c] != 0.0:
                    px = val_price[c]
                    size = abs(pos[c])
                    fee = size * px * fees + fixed_fees
                    if pos[c] > 0:
                        cash[g] = add_py(cash[g], size * px - fee)
                        side = SELL
                    else:
                        cash[g] = add_py(cash[g], -(size * px + fee))
                        side = BUY
                    traded_out[i, g] += size * px
                    fees_out[i, g] += fee
                    if max_orders > 0:
                        records = ensure_capacity_py(records, n_orders)
                        write_order_py(records, n_orders, c, i, size, px, fee, side, 1)
                        n_orders += 1
                    pos[c] = 0.0
            # Bars without any target in this group trade nothing: skip the sort.
            has_target = False
            for c in range(start, end):
                if not math.isnan(target[i, c]):
                    has_target = True
                    break
            # Risk limits: mode 0 normal, 1 liquidate, 2 halted, 3 resume (latest targets).
            mode = 0
            src = i
            if risk_on:
                if has_target:
                    last_row[g] = i
                if liquidate[g]:
                    mode = 1
                    liquidate[g] = False
                elif i <= halted_to[g]:
                    mode = 2
                elif resume[g]:
                    resume[g] = False
                    if last_row[g] >= 0:
                        mode = 3
                        src = last_row[g]
                has_target = mode == 1 or mode == 3 or (mode == 0 and has_target)
            if not has_target:
                start = end
                continue
            value = cash[g]
            for c in range(start, end):
                if pos[c] != 0.0:
                    value += pos[c] * val_price[c]
            if is_close_py(value, 0.0):
                value = 0.0
            for c in range(start, end):
                w = 0.0 if mode == 1 else target[src, c]
                keys[c] = w * value - pos[c] * val_price[c]
            order = np.argsort(keys[start:end], kind="mergesort")
            for j in range(end - start):
                c = start + order[j]
                w = 0.0 if mode == 1 else target[src, c]
                px = exec_price[i, c]
                if math.isnan(w) or math.isnan(px) or math.isnan(value) or value <= 0.0:
                    continue
                # Snap near-zero state as vectorbt does before every order.
                # Snap float noise (relative to the portfolio value) to zero.
                if abs(cash[g]) <= NOISE * value:
                    cash[g] = 0.0
                if abs(pos[c] * val_price[c]) <= NOISE * value:
                    pos[c] = 0.0
                size = ((w * value) / val_price[c]) - pos[c]
                floor = max(min_trade * value, min_value, NOISE * value)
                if abs(size * val_price[c]) < floor:
                    continue
                # Volume-based costs index their panels only when used (else 1 x 1).
                if not math.isnan(participation):
                    size = cap_participation_py(size, participation, volume[i, c])
                slip = slippage
                if impact > 0.0:
                    slip = slip_fraction_py(size, slippage, impact, sigma[i, c], adv[i, c])
                if size > 0.0:
                    cash_limit = cash[g] + max(leverage - 1.0, 0.0) * value
                    final, adj_price, fee, total = buy_py(
                        size, px, slip, cash_limit, fees, fixed_fees, granularity, min_size
                    )
                    if final == 0.0:
                        continue
                    cash[g] = add_py(cash[g], -total)
                    pos[c] = add_py(pos[c], final)
                    side = BUY
                elif size < 0.0:
                    final, adj_price, fee, net = sell_py(
                        -size, px, slip, fees, fixed_fees, granularity, min_size
                    )
                    if final == 0.0:
                        continue
                    cash[g] = cash[g] + net
                    pos[c] = add_py(pos[c], -final)
                    side = SELL
                else:
                    continue
                traded_out[i, g] += final * adj_price
                fees_out[i, g] += fee
                if max_orders > 0:
                    records = ensure_capacity_py(records, n_orders)
                    flag = 2 if mode == 1 else 0
                    write_order_py(records, n_orders, c, i, final, adj_price, fee, side, flag)
                    n_orders += 1
            start = end
        # End-of-bar valuation at the close (last known close where NaN).
        value_bar_py(i, close, group_lens, pos, cash, last_close, pos_out, cash_out, equity_out)
        if risk_on:
            for g in range(n_groups):
                if i <= halted_to[g] or liquidate[g]:
                    continue
                eq = equity_out[i, g]
                prev_eq = equity_out[i - 1, g] if i > 0 else init_cash
                if eq > peak[g]:
                    peak[g] = eq
                streak[g] = streak[g] + 1 if eq < prev_eq else 0
                hit = not math.isnan(risk_max_drawdown) and eq <= peak[g] * (
                    1.0 - risk_max_drawdown
                )
                hit = hit or (
                    not math.isnan(risk_bar_loss) and eq <= prev_eq * (1.0 - risk_bar_loss)
                )
                hit = hit or (risk_losing_bars > 0 and streak[g] >= risk_losing_bars)
                if hit:
                    liquidate[g] = True
                    halted_to[g] = i + 1 + risk_cooldown if risk_cooldown >= 0 else n_rows
                    resume[g] = risk_cooldown >= 0
                    streak[g] = 0
                    peak[g] = eq
    return cash_out, equity_out, pos_out, traded_out, fees_out, records[:n_orders]


def rebind(fn: Callable[..., Any], namespace: dict[str, Any]) -> Callable[..., Any]:
    # A copy of `fn` whose global names resolve in `namespace` first, so the twin's
    # calls to other *_py helpers reach their compiled versions.
    import types

    return types.FunctionType(fn.__code__, {**fn.__globals__, **namespace}, fn.__name__)


@cache
def compiled_helpers() -> dict[str, Any]:
    # The shared helpers (execution core and record writers) compiled once, as a
    # namespace the kernels of every engine are rebound to.
    from numba import njit

    from qresearch.backtest import _exec

    ns: dict[str, Any] = {}
    for name in ("is_close_py", "slip_fraction_py", "cap_participation_py"):
        ns[name] = njit(cache=True)(getattr(_exec, name))
    for name in ("add_py", "buy_py", "sell_py"):
        ns[name] = njit(cache=True)(rebind(getattr(_exec, name), ns))
    ns["write_order_py"] = njit(cache=True)(write_order_py)
    ns["ensure_capacity_py"] = njit(cache=True)(ensure_capacity_py)
    ns["value_bar_py"] = njit(cache=True)(value_bar_py)
    return ns


@cache
def _compiled() -> dict[str, Callable[..., Any]]:
    # Compile the kernels on first use; numba caches them on disk between sessions.
    from numba import njit

    from qresearch.backtest._nb_signals import simulate_signals_py, stop_hit_py

    ns = dict(compiled_helpers())
    ns["stop_hit_py"] = njit(cache=True)(stop_hit_py)
    return {
        "simulate_weights": njit(cache=True)(rebind(simulate_weights_py, ns)),
        "simulate_signals": njit(cache=True)(rebind(simulate_signals_py, ns)),
    }


def simulate_weights_nb(*args: Any) -> tuple[Any, ...]:
    """Run :func:`simulate_weights_py` compiled with numba (same arguments, same results)."""
    return _compiled()["simulate_weights"](*args)


def simulate_signals_nb(*args: Any) -> tuple[Any, ...]:
    """Run :func:`simulate_signals_py` compiled with numba (same arguments, same results)."""
    return _compiled()["simulate_signals"](*args)
