"""Numba kernel of ``from_signals`` (entries/exits with stops), with its plain-Python twin.

Shares the accounting helpers of :mod:`qresearch.backtest._nb`, which compiles it
lazily (:func:`qresearch.backtest._nb.simulate_signals_nb`).
"""

from __future__ import annotations

import math
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
from qresearch.backtest._nb import (
    BUY,
    ORDER_DTYPE,
    SELL,
    ensure_capacity_py,
    value_bar_py,
    write_order_py,
)

LONG, SHORT, BOTH = 0, 1, 2
SIZE_AMOUNT, SIZE_VALUE, SIZE_PERCENT, SIZE_TARGET_PERCENT = 0, 1, 2, 3


def stop_hit_py(
    position: float, ref: float, stop: float, o: float, lo: float, hi: float, below: bool
) -> float:
    # Fill price of a stop at `ref * (1 -/+ stop)`: the open when the bar gaps through
    # it, the stop when the bar's range touches it, NaN otherwise. `below` is True for
    # a long stop-loss or a short take-profit (the stop lies below the reference).
    if math.isnan(stop) or position == 0.0:
        return np.nan
    if (position > 0.0) == below:
        level = ref * (1.0 - stop)
        if o <= level:
            return o
        if lo <= level <= hi:
            return level
        return np.nan
    level = ref * (1.0 + stop)
    if level <= o:
        return o
    if lo <= level <= hi:
        return level
    return np.nan


def simulate_signals_py(
    exec_price: Any,
    open_: Any,
    high: Any,
    low: Any,
    close: Any,
    entries: Any,
    exits: Any,
    group_lens: Any,
    direction: int,
    size: float,
    size_type: int,
    sl_stop: Any,
    tp_stop: Any,
    sl_trail: bool,
    time_stop: int,
    init_cash: float,
    fees: float,
    fixed_fees: float,
    slippage: float,
    min_size: float,
    volume: Any,
    sigma: Any,
    adv: Any,
    impact: float,
    participation: float,
    max_orders: int,
) -> tuple[Any, ...]:
    """Simulate entry/exit signals with stops, one portfolio per group of columns.

    Parameters
    ----------
    exec_price : float64 (T, C)
        Fill price of signal orders of bar i (signals already lagged by the wrapper).
    open_, high, low, close : float64 (T, C)
        Bar prices for stop checks (NaN open/high/low fall back to the close); the
        close also values the portfolio at the end of each bar.
    entries, exits : bool (T, C)
        Signals acted on at bar i. With ``direction`` BOTH an exit opens a short.
    group_lens : int64 (G,)
        Consecutive columns sharing one cash pool (all 1 without cash sharing).
    direction, size, size_type : int, float, int
        LONG/SHORT/BOTH; entry size (``inf`` with amount: all available cash) in units
        of ``size_type`` (amount, value, percent of cash, target percent of equity).
    sl_stop, tp_stop : float64 (C,)
        Stop-loss / take-profit as fractions of the entry fill price (NaN: none).
    sl_trail : bool
        Trail the stop-loss reference with the best high (long) or low (short).
    time_stop : int
        Exit after this many bars in a position at the signal price (-1: none).
    init_cash, fees, fixed_fees, slippage, min_size : float
        As in :func:`simulate_weights_py`; stop exits fill without slippage.
    volume, sigma, adv, impact, participation
        As in :func:`simulate_weights_py` (1 x 1 placeholders when unused). An exit
        cut by the participation cap continues at the next bars' signal price until
        the position is closed. Covering a short is limited by the cash, as in
        vectorbt: what the cash cannot buy back stays short.
    max_orders : int
        Capacity of the order records.

    Returns
    -------
    tuple
        Same layout as :func:`simulate_weights_py`; ``flag`` is 0 for an entry, 1 for
        a stop-loss, 2 a take-profit, 3 a time stop and 4 a signal exit (or the closing
        leg of a reversal).

    Notes
    -----
    Per bar and column: first the stops of an open position are checked against the
    bar (stop-loss before take-profit, so the stop-loss wins when both are touched; a
    stop never triggers on the bar its position was opened); a stop exit ignores that
    bar's signals. Otherwise signals act: an entry while flat (or, with BOTH, while in
    the opposite position: reverse) and an exit while in a position; an entry and an
    exit on the same bar cancel. Entries do not add to an open position.
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
    debt = np.zeros(n_cols)
    sl_ref = np.full(n_cols, np.nan)
    tp_ref = np.full(n_cols, np.nan)
    entry_idx = np.full(n_cols, -1, dtype=np.int64)
    exit_left = np.zeros(n_cols, dtype=np.bool_)
    val_price = np.full(n_cols, np.nan)
    last_close = np.full(n_cols, np.nan)
    cash = np.full(n_groups, init_cash)
    free_cash = np.full(n_groups, init_cash)

    for i in range(n_rows):
        start = 0
        for g in range(n_groups):
            end = start + group_lens[g]
            for c in range(start, end):
                px = exec_price[i, c]
                if not math.isnan(px):
                    val_price[c] = px
                # ---- stops
                fill = np.nan
                flag = 0
                if pos[c] != 0.0:
                    cl = close[i, c]
                    o = open_[i, c] if not math.isnan(open_[i, c]) else cl
                    lo = low[i, c] if not math.isnan(low[i, c]) else min(o, cl)
                    hi = high[i, c] if not math.isnan(high[i, c]) else max(o, cl)
                    fill = stop_hit_py(pos[c], sl_ref[c], sl_stop[c], o, lo, hi, True)
                    if not math.isnan(fill):
                        flag = 1
                    else:
                        fill = stop_hit_py(pos[c], tp_ref[c], tp_stop[c], o, lo, hi, False)
                        if not math.isnan(fill):
                            flag = 2
                    if sl_trail and not math.isnan(sl_ref[c]):
                        if pos[c] > 0.0 and hi > sl_ref[c]:
                            sl_ref[c] = hi
                        elif pos[c] < 0.0 and lo < sl_ref[c]:
                            sl_ref[c] = lo
                    timed_out = time_stop >= 0 and i - entry_idx[c] >= time_stop
                    if flag == 0 and timed_out and not math.isnan(px):
                        fill = px
                        flag = 3
                    if flag == 0 and exit_left[c] and not math.isnan(px):
                        flag = 4  # the rest of an exit cut by the participation cap
                # ---- decide the order: (kind, price, slip); kind 0 none, 1 exit,
                # 2 long entry, 3 short entry (both may reverse)
                kind = 0
                price = px
                slip = slippage
                if flag == 1 or flag == 2:
                    kind = 1
                    price = fill
                    slip = 0.0
                elif flag == 3 or flag == 4:
                    kind = 1
                else:
                    e = entries[i, c]
                    x = exits[i, c]
                    if e and x:
                        e = False
                        x = False
                    if direction == LONG:
                        if e and pos[c] == 0.0:
                            kind = 2
                        elif x and pos[c] > 0.0:
                            kind = 1
                    elif direction == SHORT:
                        if e and pos[c] == 0.0:
                            kind = 3
                        elif x and pos[c] < 0.0:
                            kind = 1
                    else:
                        if e and pos[c] <= 0.0:
                            kind = 2
                        elif x and pos[c] >= 0.0:
                            kind = 3
                if kind == 0 or math.isnan(price):
                    continue
                if is_close_py(cash[g], 0.0):
                    cash[g] = 0.0
                prev = pos[c]
                # ---- exits (and the closing leg of a reversal)
                if kind == 1 or (kind == 2 and prev < 0.0) or (kind == 3 and prev > 0.0):
                    qty = abs(prev)
                    capped = False
                    if not math.isnan(participation):
                        qty = cap_participation_py(qty, participation, volume[i, c])
                        capped = qty < abs(prev)
                        if qty == 0.0:
                            exit_left[c] = True
                            continue
                    if impact > 0.0:
                        slip = slip_fraction_py(qty, slip, impact, sigma[i, c], adv[i, c])
                    if prev > 0.0:
                        qty, adj, fee, net = sell_py(
                            qty, price, slip, fees, fixed_fees, np.nan, 0.0
                        )
                        if qty == 0.0:
                            continue
                        cash[g] += net
                        free_cash[g] += net
                        side = SELL
                    else:
                        # A cover is limited by the cash (vectorbt's rule): what the
                        # cash cannot buy back stays short.
                        qty, adj, fee, total = buy_py(
                            qty, price, slip, cash[g], fees, fixed_fees, np.nan, 0.0
                        )
                        if qty == 0.0:
                            continue
                        cash[g] = add_py(cash[g], -total)
                        # Release the short's margin: its debt (entry value) twice,
                        # pro rata when only part of the short is covered.
                        part = debt[c] if qty == abs(prev) else debt[c] * qty / abs(prev)
                        free_cash[g] = add_py(free_cash[g] + 2.0 * part, -total)
                        debt[c] -= part
                        side = BUY
                    pos[c] = add_py(prev, -qty if prev > 0.0 else qty)
                    traded_out[i, g] += qty * adj
                    fees_out[i, g] += fee
                    if max_orders > 0:
                        records = ensure_capacity_py(records, n_orders)
                        write_order_py(
                            records, n_orders, c, i, qty, adj, fee, side, flag if flag > 0 else 4
                        )
                        n_orders += 1
                    if pos[c] != 0.0:
                        # Cut by the participation cap: keep exiting on the next bars;
                        # cut by the cash (a cover): stay short until the next exit.
                        exit_left[c] = capped
                        continue
                    exit_left[c] = False
                    debt[c] = 0.0
                    sl_ref[c] = np.nan
                    tp_ref[c] = np.nan
                    entry_idx[c] = -1
                    if kind == 1:
                        continue
                # ---- entries
                vp = val_price[c]
                if size_type == SIZE_AMOUNT:
                    qty = size
                elif size_type == SIZE_VALUE:
                    qty = size / vp
                elif size_type == SIZE_PERCENT:
                    qty = np.inf
                else:
                    value = cash[g]
                    for k in range(start, end):
                        if pos[k] != 0.0:
                            value += pos[k] * val_price[k]
                    qty = size * value / vp
                if not math.isnan(participation) and not math.isinf(qty):
                    qty = cap_participation_py(qty, participation, volume[i, c])
                    if qty == 0.0:
                        continue
                slip = slippage
                if impact > 0.0:
                    # All-cash entries: impact of the size the cash buys before costs.
                    est = qty if not math.isinf(qty) else free_cash[g] / price
                    slip = slip_fraction_py(est, slippage, impact, sigma[i, c], adv[i, c])
                if kind == 2:
                    limit = cash[g]
                    if size_type == SIZE_PERCENT:
                        limit = min(limit, size * limit)
                    qty, adj, fee, total = buy_py(
                        qty, price, slip, limit, fees, fixed_fees, np.nan, min_size
                    )
                    if qty == 0.0:
                        continue
                    if not math.isnan(participation):
                        cap = participation * volume[i, c]
                        if qty > cap:
                            # All-cash entries size after costs: cap them here.
                            qty = cap
                            fee = qty * adj * fees + fixed_fees
                            total = qty * adj + fee
                    cash[g] = add_py(cash[g], -total)
                    free_cash[g] = add_py(free_cash[g], -total)
                    pos[c] = qty
                    side = BUY
                else:
                    adj = price * (1.0 - slip)
                    if math.isinf(qty) or size_type == SIZE_PERCENT:
                        budget = free_cash[g]
                        if size_type == SIZE_PERCENT:
                            budget = size * budget
                        qty = add_py(budget, -fixed_fees) / (adj * (1.0 + fees))
                        if qty <= 0.0:
                            continue
                        if not math.isnan(participation):
                            qty = cap_participation_py(qty, participation, volume[i, c])
                            if qty == 0.0:
                                continue
                    qty, adj, fee, net = sell_py(
                        qty, price, slip, fees, fixed_fees, np.nan, min_size
                    )
                    if qty == 0.0:
                        continue
                    cash[g] += net
                    debt[c] = qty * adj
                    free_cash[g] = add_py(free_cash[g], add_py(net, -2.0 * qty * adj))
                    pos[c] = -qty
                    side = SELL
                traded_out[i, g] += qty * adj
                fees_out[i, g] += fee
                if max_orders > 0:
                    records = ensure_capacity_py(records, n_orders)
                    write_order_py(records, n_orders, c, i, qty, adj, fee, side, 0)
                    n_orders += 1
                sl_ref[c] = adj
                tp_ref[c] = adj
                entry_idx[c] = i
            start = end
        value_bar_py(i, close, group_lens, pos, cash, last_close, pos_out, cash_out, equity_out)
    return cash_out, equity_out, pos_out, traded_out, fees_out, records[:n_orders]
