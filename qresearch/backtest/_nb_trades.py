"""Numba kernel of round-trip trades, written first as a plain-Python twin.

``trades_py`` is the reference; :func:`trades_nb` runs the same function compiled
with ``numba.njit(cache=True)`` (compiled lazily: importing this module loads no
numba). The wrapper (:func:`qresearch.backtest.trades.trades_from_fills`) turns the
order frame into arrays and the kernel's arrays into the trades frame.

Rules (one position per key, i.e. per symbol and parameter combination):

- an order against the open position closes ``min(size, |pos|)`` of it at the order
  price, with the order's fee split by size; the trade is closed when the position is
  within ``1e-9`` of its entry size from zero;
- what is left of the order (all of it without an open position, the rest of a flip)
  opens a trade or adds to the open one at the order price, with the rest of the fee;
- prices are size-weighted averages; ``pnl = sign * (exit - entry) * size - fees`` and
  ``return = pnl / (entry_price * size)``; a trade still open after the last order is
  valued at the last known close;
- MAE/MFE are the worst/best low/high over the holding bars (NaN skipped) as returns
  from the entry price in the trade's direction.

Trades come out grouped by key in the order the keys first appear in the orders, and
within a key in time order (the open trade last): each key's trades are counted in a
first pass, then written straight into their rows in a second.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

from qresearch.backtest._nb import rebind

# Position within this fraction of the entry size is flat; an order's remainder
# within this fraction of its size (at least 1 unit) is rounding residue.
FLAT_RTOL = 1e-9
RESIDUE_RTOL = 1e-12


def sign_py(x: float) -> float:
    # np.sign for a float: -1, 0 or 1, NaN for NaN.
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return -1.0
    if x == 0.0:
        return 0.0
    return math.nan


# Rows of the kernel's float and int outputs; only the first N_STATS_F / N_STATS_I
# rows are filled (and allocated) without ``full``.
F_PNL, F_RET, F_SIZE, F_ENTRY_PRICE, F_EXIT_PRICE = range(5)
F_ENTRY_FEES, F_EXIT_FEES, F_MAE, F_MFE = range(5, 9)
I_ENTRY, I_EXIT, I_CLOSED, I_RANK, I_LONG = range(5)
N_STATS_F, N_STATS_I = 2, 3


def write_trade_py(
    out_f: Any,
    out_i: Any,
    t: int,
    closed: bool,
    is_long: bool,
    entry_idx: int,
    exit_idx: int,
    size: float,
    entry_value: float,
    entry_fees: float,
    exit_size: float,
    exit_value: float,
    exit_fees: float,
    last: float,
    rank: int,
) -> None:
    # Write a trade to row t but its MAE/MFE: closed at bar exit_idx, or open and
    # valued at the close `last` (exit_idx is then the last bar, written as -1).
    entry_price = entry_value / size
    exit_price = exit_value / exit_size if exit_size > 0 else math.nan
    if not closed:
        # Unrealized: the remaining size valued at the last known close.
        remaining = size - exit_size
        exit_price = (exit_value + remaining * last) / size
    sign = 1.0 if is_long else -1.0
    pnl = sign * (exit_price * size - entry_price * size) - entry_fees - exit_fees
    out_f[F_PNL, t] = pnl
    out_f[F_RET, t] = pnl / (entry_price * size)
    out_i[I_ENTRY, t] = entry_idx
    out_i[I_EXIT, t] = exit_idx if closed else -1
    out_i[I_CLOSED, t] = 1 if closed else 0
    if out_i.shape[0] == N_STATS_I:
        return
    out_i[I_RANK, t] = rank
    out_i[I_LONG, t] = 1 if is_long else 0
    out_f[F_SIZE, t] = size
    out_f[F_ENTRY_PRICE, t] = entry_price
    out_f[F_EXIT_PRICE, t] = exit_price
    out_f[F_ENTRY_FEES, t] = entry_fees
    out_f[F_EXIT_FEES, t] = exit_fees


def write_excursion_py(
    out_f: Any, t: int, high: Any, low: Any, col: int, entry_idx: int, end_idx: int, long: bool
) -> None:
    # MAE/MFE of the trade in row t: the nanmin of the lows and the nanmax of the highs
    # of column col over bars entry_idx..end_idx, from the entry price.
    hi = math.nan
    lo = math.nan
    for b in range(entry_idx, end_idx + 1):
        h = high[col, b]
        if not math.isnan(h) and (math.isnan(hi) or h > hi):
            hi = h
        v = low[col, b]
        if not math.isnan(v) and (math.isnan(lo) or v < lo):
            lo = v
    sign = 1.0 if long else -1.0
    worst = lo if long else hi
    best = hi if long else lo
    entry_price = out_f[F_ENTRY_PRICE, t]
    out_f[F_MAE, t] = sign * (worst / entry_price - 1.0)
    out_f[F_MFE, t] = sign * (best / entry_price - 1.0)


def trades_py(
    key: Any,
    sym: Any,
    col_of_sym: Any,
    buy: Any,
    row: Any,
    size: Any,
    price: Any,
    fees: Any,
    close: Any,
    high: Any,
    low: Any,
    n_keys: int,
    full: bool,
) -> tuple[Any, Any, Any]:
    """Rebuild round-trip trades from order fills (in execution order).

    Parameters
    ----------
    key : int64 (n,)
        Position key of each order in ``[0, n_keys)``; ``-1`` skips the order.
    sym : int64 (n,)
        Symbol code of each order, an index into ``col_of_sym``.
    col_of_sym : int64 (S,)
        Column of each symbol code in the price arrays.
    buy : bool (n,)
        True for a buy, False for a sell.
    row : int64 (n,)
        Bar of each order, in ``[0, T)``.
    size, price, fees : float64 (n,)
        Fill size (> 0), price and fee of each order.
    close, high, low : float64 (C, T)
        Price panels transposed (one row per column): ``close`` values open trades at
        its last non-NaN price; ``high``/``low`` give MAE/MFE (read only when ``full``).
    n_keys : int
        Number of keys.
    full : bool
        Fill every output row; False fills only the rows ``trade_stats`` needs
        (``F_PNL, F_RET`` and ``I_ENTRY, I_EXIT, I_CLOSED``).

    Returns
    -------
    tuple
        ``out_f`` float64 (9 or 2, m): ``pnl, return, size, entry_price, exit_price,
        entry_fees, exit_fees, mae, mfe`` per trade; ``out_i`` int64 (5 or 3, m):
        ``entry_idx, exit_idx (-1 when open), closed (0/1), rank (first-appearance
        rank of the trade's key), long (0/1)``; ``first_order`` int64 (K,): the first
        order of each ranked key.
    """
    n = key.shape[0]
    n_bars = close.shape[1]
    rank = np.full(n_keys, -1, dtype=np.int64)
    key_col = np.zeros(n_keys, dtype=np.int64)
    first_order = np.empty(n_keys, dtype=np.int64)
    count = np.zeros(n_keys, dtype=np.int64)
    # The open position of each key.
    pos = np.zeros(n_keys)
    is_open = np.zeros(n_keys, dtype=np.bool_)
    is_long = np.zeros(n_keys, dtype=np.bool_)
    entry_at = np.zeros(n_keys, dtype=np.int64)
    entry_size = np.zeros(n_keys)
    entry_value = np.zeros(n_keys)
    entry_fees = np.zeros(n_keys)
    exit_size = np.zeros(n_keys)
    exit_value = np.zeros(n_keys)
    exit_fees = np.zeros(n_keys)
    n_ranked = 0
    slot = np.zeros(n_keys, dtype=np.int64)
    out_f = np.empty((0, 0))
    out_i = np.empty((0, 0), dtype=np.int64)
    # Pass 1 counts each key's trades; pass 2 writes them.
    for write in (False, True):
        if write:
            # A key's trades follow those of the keys that appeared before it.
            start = 0
            for r in range(n_ranked):
                k = key[first_order[r]]
                slot[k] = start
                start += count[k]
            out_f = np.empty((9 if full else N_STATS_F, start))
            out_i = np.empty((5 if full else N_STATS_I, start), dtype=np.int64)
            pos[:] = 0.0
            is_open[:] = False
        for j in range(n):
            k = key[j]
            if k < 0:
                continue
            if not write and rank[k] < 0:
                rank[k] = n_ranked
                first_order[n_ranked] = j
                key_col[k] = col_of_sym[sym[j]]
                n_ranked += 1
            i = row[j]
            sz = size[j]
            px = price[j]
            delta = sz if buy[j] else -sz
            remaining = sz
            fee_left = fees[j]
            if is_open[k] and sign_py(delta) != sign_py(pos[k]):
                held = abs(pos[k])
                closing = held if held < remaining else remaining
                share = fee_left * closing / remaining
                exit_size[k] += closing
                exit_value[k] += closing * px
                exit_fees[k] += share
                remaining -= closing
                fee_left -= share
                pos[k] += math.copysign(closing, delta)
                es = entry_size[k]
                if abs(pos[k]) <= FLAT_RTOL * (1e-12 if es < 1e-12 else es):
                    pos[k] = 0.0
                    is_open[k] = False
                    if write:
                        write_trade_py(
                            out_f, out_i, slot[k], True, is_long[k], entry_at[k], i,
                            entry_size[k], entry_value[k], entry_fees[k], exit_size[k],
                            exit_value[k], exit_fees[k], math.nan, rank[k],
                        )  # fmt: skip
                        if full:
                            write_excursion_py(
                                out_f, slot[k], high, low, key_col[k], entry_at[k], i, is_long[k]
                            )
                        slot[k] += 1
                    else:
                        count[k] += 1
            if remaining > RESIDUE_RTOL * (1.0 if sz < 1.0 else sz):
                if not is_open[k]:
                    is_open[k] = True
                    is_long[k] = delta > 0
                    entry_at[k] = i
                    entry_size[k] = 0.0
                    entry_value[k] = 0.0
                    entry_fees[k] = 0.0
                    exit_size[k] = 0.0
                    exit_value[k] = 0.0
                    exit_fees[k] = 0.0
                entry_size[k] += remaining
                entry_value[k] += remaining * px
                entry_fees[k] += fee_left
                pos[k] += math.copysign(remaining, delta)
        # Positions still open after the last order: each key's last trade.
        for r in range(n_ranked):
            k = key[first_order[r]]
            if not is_open[k]:
                continue
            if not write:
                count[k] += 1
                continue
            c = key_col[k]
            last = math.nan
            for b in range(n_bars - 1, -1, -1):
                if not math.isnan(close[c, b]):
                    last = close[c, b]
                    break
            write_trade_py(
                out_f, out_i, slot[k], False, is_long[k], entry_at[k], n_bars - 1,
                entry_size[k], entry_value[k], entry_fees[k], exit_size[k], exit_value[k],
                exit_fees[k], last, r,
            )  # fmt: skip
            if full:
                write_excursion_py(
                    out_f, slot[k], high, low, c, entry_at[k], n_bars - 1, is_long[k]
                )
            slot[k] += 1
    return out_f, out_i, first_order[:n_ranked].copy()


@cache
def _compiled() -> Callable[..., Any]:
    # Compile on first use; numba caches the machine code on disk between sessions.
    from numba import njit

    ns: dict[str, Any] = {"sign_py": njit(cache=True)(sign_py)}
    ns["write_trade_py"] = njit(cache=True)(write_trade_py)
    ns["write_excursion_py"] = njit(cache=True)(write_excursion_py)
    compiled: Callable[..., Any] = njit(cache=True)(rebind(trades_py, ns))
    return compiled


def trades_nb(*args: Any) -> tuple[Any, ...]:
    """Run :func:`trades_py` compiled with numba (same arguments, same results)."""
    out: tuple[Any, ...] = _compiled()(*args)
    return out
