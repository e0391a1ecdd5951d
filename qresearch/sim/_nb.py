"""The simulator's matching kernel: all working orders of all symbols against one bar.

``match_bar_py`` is the plain-Python reference; :func:`match_bar_nb` is the same
function compiled with numba (lazily: importing this module loads no numba). Prices,
sizes and fees go through the execution core of :mod:`qresearch.backtest._exec`,
shared with ``from_weights`` and ``from_signals``.

Per bar ``i`` the kernel, in this order:

1. closes positions of symbols whose data ended on the previous bar (delisting), at
   their last price, and cancels their orders;
2. sizes and fills the target-percent orders as ``from_weights`` does: the portfolio
   value at this bar's fill prices, sells before buys (sorted by the value to trade);
3. tries the stop legs of one-cancels-other groups (so a stop-loss wins over its
   take-profit on a bar that touches both), then every other sell, then every other
   buy, each group in submission order;
4. cancels what is left of IOC and FOK orders, expires DAY orders and GTD orders
   whose date has passed, updates trailing-stop references from the bar's extreme,
   activates bracket exits whose entry is done (from the next bar), and drops
   finished orders from the active list.
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
from qresearch.sim.orders import (
    CANCELLED,
    DAY,
    EV_CANCELLED,
    EV_EXPIRED,
    EV_FILLED,
    EV_PARTIAL,
    EV_REJECTED,
    EV_REPLACED,
    EV_TRIGGERED,
    EXPIRED,
    F_AVG_PRICE,
    F_FILLED,
    F_LIMIT,
    F_QTY,
    F_STOP,
    F_TARGET,
    F_TRAIL_AMOUNT,
    F_TRAIL_PERCENT,
    F_TRAIL_REF,
    FILLED,
    FOK,
    GTD,
    HELD,
    I_ACTIVE_FROM,
    I_BARS_DONE,
    I_COL,
    I_EXPIRE_AT,
    I_N_BARS,
    I_OCO,
    I_PARENT,
    I_ROLE,
    I_SIDE,
    I_STATUS,
    I_TIF,
    I_TRIGGERED,
    I_TYPE,
    IOC,
    LIMIT,
    MARKET,
    R_AT_TARGET,
    R_CASH,
    R_DAY,
    R_DELISTED,
    R_FEES,
    R_FOK,
    R_GTD,
    R_IOC,
    R_NO_DATA,
    R_NO_VOLUME,
    R_OCO,
    R_PARENT,
    R_REPLACED,
    REJECTED,
    ROLE_ENTRY,
    STOP,
    STOP_LIMIT,
    TARGET_PERCENT,
    TERMINAL,
    TRAILING_STOP,
    TWAP,
    VWAP,
    WORKING,
)

# Positions of the scalar parameters in the `params` array.
P_FEES, P_FIXED, P_SLIP, P_IMPACT, P_VOLUME_LIMIT, P_LEVERAGE, P_FILL_CLOSE, P_MIN_SIZE = range(8)
P_GRANULARITY, P_MIN_VALUE = 8, 9
N_PARAMS = 10
# Target orders worth less than this fraction of the portfolio are float noise.
NOISE = 1e-12


def event_py(events: Any, counts: Any, k: int, i: int, code: int, reason: int) -> None:
    # Append an order event (the caller reserved room).
    n = counts[2]
    events[n, 0] = k
    events[n, 1] = i
    events[n, 2] = code
    events[n, 3] = reason
    counts[2] = n + 1


def finish_py(
    ints: Any, events: Any, counts: Any, k: int, i: int, status: int, code: int, reason: int
) -> None:
    # Move order k to a final status and record why.
    ints[k, I_STATUS] = status
    event_py(events, counts, k, i, code, reason)


def stop_level_py(floats: Any, ints: Any, k: int) -> float:
    # The stop price of a stop, stop-limit or trailing stop.
    if ints[k, I_TYPE] != TRAILING_STOP:
        return floats[k, F_STOP]
    ref = floats[k, F_TRAIL_REF]
    amount = floats[k, F_TRAIL_AMOUNT]
    if ints[k, I_SIDE] < 0:
        if not math.isnan(amount):
            return ref - amount
        return ref * (1.0 - floats[k, F_TRAIL_PERCENT])
    if not math.isnan(amount):
        return ref + amount
    return ref * (1.0 + floats[k, F_TRAIL_PERCENT])


def touch_price_py(side: int, is_limit: bool, level: float, o: float, h: float, lo: float) -> float:
    # Where a limit (is_limit) or a stop at `level` trades on a bar: the open when the
    # bar opens through it, the level when the range reaches it, NaN otherwise.
    # Buy limits and sell stops wait below the market; sell limits and buy stops above.
    below = (side > 0) == is_limit
    if below:
        if o <= level:
            return o
        if lo <= level:
            return level
        return np.nan
    if o >= level:
        return o
    if h >= level:
        return level
    return np.nan


def account_py(
    c: int, dq: float, price: float, fee: float, pos: Any, avg: Any, realized: Any
) -> float:
    # Book a fill of dq units (signed) at `price`: position, average entry price and
    # realized P&L (net of the fee); returns the fill's realized P&L.
    p0 = pos[c]
    pnl = -fee
    if p0 == 0.0 or (p0 > 0.0) == (dq > 0.0):
        new = add_py(p0, dq)
        avg[c] = (avg[c] * abs(p0) + price * abs(dq)) / abs(new) if new != 0.0 else 0.0
    else:
        closed = min(abs(dq), abs(p0))
        sign = 1.0 if p0 > 0.0 else -1.0
        pnl += closed * (price - avg[c]) * sign
        new = add_py(p0, dq)
        if new == 0.0:
            avg[c] = 0.0
        elif (new > 0.0) != (p0 > 0.0):
            avg[c] = price
    pos[c] = new
    realized[c] += pnl
    return pnl


def record_fill_py(
    fills: Any,
    counts: Any,
    k: int,
    i: int,
    c: int,
    side: int,
    q: float,
    px: float,
    fee: float,
    pnl: float,
) -> None:
    # Append a fill record (the caller reserved room).
    n = counts[1]
    fills[n, 0] = k
    fills[n, 1] = i
    fills[n, 2] = c
    fills[n, 3] = side
    fills[n, 4] = q
    fills[n, 5] = px
    fills[n, 6] = fee
    fills[n, 7] = pnl
    counts[1] = n + 1


def book_fill_py(
    k: int,
    i: int,
    c: int,
    side: int,
    q: float,
    price: float,
    fee: float,
    floats: Any,
    fills: Any,
    counts: Any,
    pos: Any,
    avg: Any,
    realized: Any,
) -> None:
    # Book a fill of q units of order k: account, fill record, the order's filled
    # quantity and average fill price (shared by every order type).
    pnl = account_py(c, q if side > 0 else -q, price, fee, pos, avg, realized)
    record_fill_py(fills, counts, k, i, c, side, q, price, fee, pnl)
    filled = floats[k, F_FILLED]
    floats[k, F_AVG_PRICE] = (
        price if filled == 0.0 else (floats[k, F_AVG_PRICE] * filled + price * q) / (filled + q)
    )
    floats[k, F_FILLED] = filled + q


def portfolio_value_py(cash: Any, pos: Any, val_price: Any, i: int) -> float:
    # Cash plus positions at this bar's valuation prices.
    value = cash[0]
    for c in range(pos.shape[0]):
        if pos[c] != 0.0:
            value += pos[c] * val_price[i, c]
    return value


def cancel_oco_py(
    floats: Any,
    ints: Any,
    active: Any,
    counts: Any,
    events: Any,
    k: int,
    q: float,
    done: bool,
    i: int,
) -> None:
    # A member of an OCO group filled q units: the others shrink by q, or are cancelled
    # when the member is done.
    group = ints[k, I_OCO]
    for j in range(counts[0]):
        m = active[j]
        if m == k or ints[m, I_OCO] != group or ints[m, I_STATUS] >= TERMINAL:
            continue
        floats[m, F_QTY] -= q
        if done or floats[m, F_QTY] - floats[m, F_FILLED] <= 1e-12:
            finish_py(ints, events, counts, m, i, CANCELLED, EV_CANCELLED, R_OCO)


def execute_py(
    k: int,
    i: int,
    q: float,
    px: float,
    slip: float,
    volume_capped: bool,
    floats: Any,
    ints: Any,
    active: Any,
    fills: Any,
    events: Any,
    counts: Any,
    cash: Any,
    pos: Any,
    avg: Any,
    realized: Any,
    vol_used: Any,
    val_price: Any,
    params: Any,
) -> None:
    # Fill q units (> 0) of order k at px (before costs), all or nothing as to cash;
    # a buy that the cash cannot pay is rejected with its remainder.
    c = ints[k, I_COL]
    side = ints[k, I_SIDE]
    fees = params[P_FEES]
    fixed = params[P_FIXED]
    if side > 0:
        final, adj, fee, total = buy_py(q, px, slip, np.inf, fees, fixed, np.nan, 0.0)
        limit = cash[0]
        if params[P_LEVERAGE] > 1.0:
            value = portfolio_value_py(cash, pos, val_price, i)
            limit += (params[P_LEVERAGE] - 1.0) * value
        if final == 0.0 or not (total < limit or is_close_py(total, limit)):
            finish_py(ints, events, counts, k, i, REJECTED, EV_REJECTED, R_CASH)
            return
        cash[0] = add_py(cash[0], -total)
    else:
        final, adj, fee, net = sell_py(q, px, slip, fees, fixed, np.nan, 0.0)
        if final == 0.0:
            finish_py(ints, events, counts, k, i, REJECTED, EV_REJECTED, R_FEES)
            return
        cash[0] = cash[0] + net
    book_fill_py(k, i, c, side, final, adj, fee, floats, fills, counts, pos, avg, realized)
    vol_used[c] += final
    done = floats[k, F_QTY] - floats[k, F_FILLED] <= 1e-9 * max(floats[k, F_QTY], 1.0)
    if done:
        finish_py(ints, events, counts, k, i, FILLED, EV_FILLED, 0)
    else:
        event_py(events, counts, k, i, EV_PARTIAL, R_NO_VOLUME if volume_capped else 0)
    if ints[k, I_OCO] >= 0:
        cancel_oco_py(floats, ints, active, counts, events, k, final, done, i)


def target_batch_py(
    i: int,
    fill_price: Any,
    val_price: Any,
    volume: Any,
    sigma: Any,
    adv: Any,
    floats: Any,
    ints: Any,
    active: Any,
    fills: Any,
    events: Any,
    counts: Any,
    cash: Any,
    pos: Any,
    avg: Any,
    realized: Any,
    vol_used: Any,
    keys: Any,
    cand: Any,
    params: Any,
) -> None:
    # Target-percent orders of this bar, sized at the fill exactly as from_weights does.
    n = 0
    for j in range(counts[0]):
        k = active[j]
        working = ints[k, I_STATUS] == WORKING and ints[k, I_ACTIVE_FROM] <= i
        if working and ints[k, I_TYPE] == TARGET_PERCENT:
            cand[n] = k
            n += 1
    if n == 0:
        return
    # Column order first (submission order may differ), then by value to trade. Of
    # several target orders of one symbol active at once (decisions delayed by latency),
    # the newest replaces the older ones.
    by_col = np.argsort(ints[cand[:n], I_COL], kind="mergesort")
    ordered = cand[:n][by_col]
    m = 0
    for j in range(n):
        k = ordered[j]
        if j + 1 < n and ints[ordered[j + 1], I_COL] == ints[k, I_COL]:
            finish_py(ints, events, counts, k, i, CANCELLED, EV_REPLACED, R_REPLACED)
        else:
            ordered[m] = k
            m += 1
    n = m
    value = portfolio_value_py(cash, pos, val_price, i)
    if is_close_py(value, 0.0):
        value = 0.0
    for j in range(n):
        k = ordered[j]
        c = ints[k, I_COL]
        keys[j] = floats[k, F_TARGET] * value - pos[c] * val_price[i, c]
    order = np.argsort(keys[:n], kind="mergesort")
    vl = params[P_VOLUME_LIMIT]
    for j in range(n):
        k = ordered[order[j]]
        c = ints[k, I_COL]
        w = floats[k, F_TARGET]
        px = fill_price[i, c]
        if math.isnan(px):
            if w == 0.0 and pos[c] == 0.0:
                # Nothing to trade: a zero target for a symbol without a bar or position.
                finish_py(ints, events, counts, k, i, CANCELLED, EV_CANCELLED, R_AT_TARGET)
            else:
                finish_py(ints, events, counts, k, i, REJECTED, EV_REJECTED, R_NO_DATA)
            continue
        if math.isnan(value) or value <= 0.0:
            finish_py(ints, events, counts, k, i, REJECTED, EV_REJECTED, R_CASH)
            continue
        # Snap float noise (relative to the portfolio value) to zero, as from_weights.
        if abs(cash[0]) <= NOISE * value:
            cash[0] = 0.0
        if abs(pos[c] * val_price[i, c]) <= NOISE * value:
            pos[c] = 0.0
        size = ((w * value) / val_price[i, c]) - pos[c]
        want = size
        floor = max(params[P_MIN_VALUE], NOISE * value)
        if abs(size * val_price[i, c]) < floor:
            finish_py(ints, events, counts, k, i, CANCELLED, EV_CANCELLED, R_AT_TARGET)
            continue
        if not math.isnan(vl):
            size = cap_participation_py(size, 1.0, vl * volume[i, c] - vol_used[c])
        slip = params[P_SLIP]
        if params[P_IMPACT] > 0.0:
            slip = slip_fraction_py(size, slip, params[P_IMPACT], sigma[i, c], adv[i, c])
        fees = params[P_FEES]
        fixed = params[P_FIXED]
        gran = params[P_GRANULARITY]
        min_size = params[P_MIN_SIZE]
        # Nothing left after rounding to the granularity (or the smallest size): at the target.
        tradable = abs(size)
        if not math.isnan(gran):
            tradable = (tradable // gran) * gran
        small = tradable <= 0.0 or (not is_close_py(tradable, min_size) and tradable < min_size)
        if size > 0.0:
            limit = cash[0] + max(params[P_LEVERAGE] - 1.0, 0.0) * value
            final, adj, fee, total = buy_py(size, px, slip, limit, fees, fixed, gran, min_size)
            if final == 0.0:
                reason = R_AT_TARGET if small else R_CASH
                finish_py(ints, events, counts, k, i, CANCELLED, EV_CANCELLED, reason)
                continue
            cash[0] = add_py(cash[0], -total)
            side = 1
        elif size < 0.0:
            final, adj, fee, net = sell_py(-size, px, slip, fees, fixed, gran, min_size)
            if final == 0.0:
                reason = R_AT_TARGET if small else R_FEES
                finish_py(ints, events, counts, k, i, CANCELLED, EV_CANCELLED, reason)
                continue
            cash[0] = cash[0] + net
            side = -1
        else:
            reason = R_NO_VOLUME if want != 0.0 else R_AT_TARGET
            if reason == R_AT_TARGET:
                finish_py(ints, events, counts, k, i, CANCELLED, EV_CANCELLED, reason)
            continue
        book_fill_py(k, i, c, side, final, adj, fee, floats, fills, counts, pos, avg, realized)
        vol_used[c] += final
        floats[k, F_QTY] = floats[k, F_FILLED]
        ints[k, I_SIDE] = side
        if is_close_py(size, want):
            finish_py(ints, events, counts, k, i, FILLED, EV_FILLED, 0)
        else:
            # Cut by the volume limit: stays working, sized again towards the target.
            event_py(events, counts, k, i, EV_PARTIAL, R_NO_VOLUME)


def try_order_py(
    k: int,
    i: int,
    o: float,
    h: float,
    lo: float,
    cl: float,
    volume: Any,
    adv: Any,
    sigma: Any,
    floats: Any,
    ints: Any,
    active: Any,
    fills: Any,
    events: Any,
    counts: Any,
    cash: Any,
    pos: Any,
    avg: Any,
    realized: Any,
    vol_used: Any,
    val_price: Any,
    params: Any,
) -> None:
    # Try order k (not target-percent) against bar i of its symbol.
    c = ints[k, I_COL]
    side = ints[k, I_SIDE]
    typ = ints[k, I_TYPE]
    tif = ints[k, I_TIF]
    if math.isnan(cl):
        # No bar for the symbol: orders that must trade now are rejected; resting
        # orders wait (DAY orders expire at the end of the bar).
        if typ == MARKET or typ == TWAP or typ == VWAP or tif == IOC or tif == FOK:
            finish_py(ints, events, counts, k, i, REJECTED, EV_REJECTED, R_NO_DATA)
        return
    market = cl if params[P_FILL_CLOSE] > 0.0 else o
    px = np.nan
    limit = floats[k, F_LIMIT]
    if typ == MARKET or typ == TWAP or typ == VWAP:
        px = market
    elif typ == LIMIT:
        px = touch_price_py(side, True, limit, o, h, lo)
    elif typ == STOP or typ == TRAILING_STOP:
        px = touch_price_py(side, False, stop_level_py(floats, ints, k), o, h, lo)
    elif typ == STOP_LIMIT:
        if ints[k, I_TRIGGERED] == 1:
            px = touch_price_py(side, True, limit, o, h, lo)
        else:
            stop = floats[k, F_STOP]
            hit = touch_price_py(side, False, stop, o, h, lo)
            if not math.isnan(hit):
                ints[k, I_TRIGGERED] = 1
                event_py(events, counts, k, i, EV_TRIGGERED, 0)
                if hit == o:
                    # Triggered at the open: a limit order for the whole bar.
                    px = touch_price_py(side, True, limit, o, h, lo)
                elif (side > 0 and hit <= limit) or (side < 0 and hit >= limit):
                    px = hit
    if math.isnan(px):
        return
    remaining = floats[k, F_QTY] - floats[k, F_FILLED]
    q = remaining
    if typ == TWAP or typ == VWAP:
        left = ints[k, I_N_BARS] - ints[k, I_BARS_DONE]
        ints[k, I_BARS_DONE] += 1
        if left > 1:
            if typ == TWAP:
                q = remaining / left
            else:
                # This bar's share of the volume expected over the bars left.
                expected = adv[i, c] * (left - 1)
                v = volume[i, c]
                q = remaining * v / (v + expected) if v + expected > 0.0 else remaining / left
    capped = False
    vl = params[P_VOLUME_LIMIT]
    if not math.isnan(vl):
        room = vl * volume[i, c] - vol_used[c]
        if not room > 0.0:
            room = 0.0
        if q > room:
            q = room
            capped = True
    if tif == FOK and capped:
        return  # all or nothing: cancelled at the end of the bar
    if q <= 0.0:
        return
    slip = params[P_SLIP]
    if params[P_IMPACT] > 0.0:
        slip = slip_fraction_py(q, slip, params[P_IMPACT], sigma[i, c], adv[i, c])
    if typ == LIMIT or typ == STOP_LIMIT:
        # Never worse than the limit, slippage included.
        if side > 0:
            slip = max(min(slip, limit / px - 1.0), 0.0)
        else:
            slip = max(min(slip, 1.0 - limit / px), 0.0)
    execute_py(
        k, i, q, px, slip, capped, floats, ints, active, fills, events, counts, cash, pos,
        avg, realized, vol_used, val_price, params,
    )  # fmt: skip


def match_bar_py(
    i: int,
    open_: Any,
    high: Any,
    low: Any,
    close: Any,
    volume: Any,
    fill_price: Any,
    val_price: Any,
    sigma: Any,
    adv: Any,
    delist: Any,
    floats: Any,
    ints: Any,
    active: Any,
    fills: Any,
    events: Any,
    counts: Any,
    cash: Any,
    pos: Any,
    avg: Any,
    realized: Any,
    vol_used: Any,
    keys: Any,
    cand: Any,
    params: Any,
) -> None:
    """Match every active order against bar ``i``; update accounting and records in place.

    Parameters
    ----------
    i : int
        The bar.
    open_, high, low, close, volume : float64 (T, C)
        Bars; NaN close: no bar for the symbol (open/high/low already fall back to
        the close where missing).
    fill_price : float64 (T, C)
        Market fill price per bar (open or close, by ``market_fill``).
    val_price : float64 (T, C)
        The fill price carried forward: values the portfolio for target sizing and
        leverage, and prices delisting closes.
    sigma, adv : float64 (T, C)
        Volatility and average volume known before each bar (impact, VWAP); 1 x 1
        placeholders when unused.
    delist : int64 (D,)
        Columns whose data ended on the previous bar.
    floats, ints, active, fills, events, counts
        The order book (see :mod:`qresearch.sim.orders`).
    cash, pos, avg, realized : float64
        Account state: cash (1,), then per symbol position, average entry price and
        realized P&L.
    vol_used, keys, cand
        Scratch arrays (C,), (cap,), (cap,).
    params : float64 (N_PARAMS,)
        Costs and options (``P_*`` positions).
    """
    fees = params[P_FEES]
    fixed = params[P_FIXED]
    n_active = counts[0]
    for j in range(n_active):
        vol_used[ints[active[j], I_COL]] = 0.0
    # 1. delisting closes
    for d in range(delist.shape[0]):
        c = delist[d]
        vol_used[c] = 0.0
        if pos[c] != 0.0:
            px = val_price[i, c]
            size = abs(pos[c])
            fee = size * px * fees + fixed
            side = -1 if pos[c] > 0.0 else 1
            if pos[c] > 0.0:
                cash[0] = add_py(cash[0], size * px - fee)
            else:
                cash[0] = add_py(cash[0], -(size * px + fee))
            pnl = account_py(c, side * size, px, fee, pos, avg, realized)
            record_fill_py(fills, counts, -1, i, c, side, size, px, fee, pnl)
        for j in range(n_active):
            k = active[j]
            if ints[k, I_COL] == c and ints[k, I_STATUS] < TERMINAL:
                finish_py(ints, events, counts, k, i, CANCELLED, EV_CANCELLED, R_DELISTED)
    resolve_children_py(i, i, floats, ints, active, events, counts)
    # 2. target-percent orders
    target_batch_py(
        i, fill_price, val_price, volume, sigma, adv, floats, ints, active, fills, events,
        counts, cash, pos, avg, realized, vol_used, keys, cand, params,
    )  # fmt: skip
    # 3. OCO stop legs, then sells, then buys
    for step in range(3):
        for j in range(counts[0]):
            k = active[j]
            st = ints[k, I_STATUS]
            if st != WORKING or ints[k, I_ACTIVE_FROM] > i:
                continue
            typ = ints[k, I_TYPE]
            if typ == TARGET_PERCENT:
                continue
            protective = ints[k, I_OCO] >= 0 and (
                typ == STOP or typ == TRAILING_STOP or typ == STOP_LIMIT
            )
            if step == 0 and not protective:
                continue
            if step == 1 and (protective or ints[k, I_SIDE] > 0):
                continue
            if step == 2 and (protective or ints[k, I_SIDE] < 0):
                continue
            c = ints[k, I_COL]
            cl = close[i, c]
            try_order_py(
                k, i, open_[i, c], high[i, c], low[i, c], cl, volume, adv, sigma, floats,
                ints, active, fills, events, counts, cash, pos, avg, realized, vol_used,
                val_price, params,
            )  # fmt: skip
    # 4. end of the bar: IOC/FOK, DAY, GTD, trailing references
    for j in range(counts[0]):
        k = active[j]
        if ints[k, I_STATUS] != WORKING or ints[k, I_ACTIVE_FROM] > i:
            continue
        tif = ints[k, I_TIF]
        if tif == IOC:
            finish_py(ints, events, counts, k, i, CANCELLED, EV_CANCELLED, R_IOC)
        elif tif == FOK:
            finish_py(ints, events, counts, k, i, CANCELLED, EV_CANCELLED, R_FOK)
        elif tif == DAY:
            finish_py(ints, events, counts, k, i, EXPIRED, EV_EXPIRED, R_DAY)
        elif tif == GTD and ints[k, I_EXPIRE_AT] <= i:
            finish_py(ints, events, counts, k, i, EXPIRED, EV_EXPIRED, R_GTD)
        elif ints[k, I_TYPE] == TRAILING_STOP:
            c = ints[k, I_COL]
            if not math.isnan(close[i, c]):
                if ints[k, I_SIDE] < 0:
                    floats[k, F_TRAIL_REF] = max(floats[k, F_TRAIL_REF], high[i, c])
                else:
                    floats[k, F_TRAIL_REF] = min(floats[k, F_TRAIL_REF], low[i, c])
    resolve_children_py(i, i + 1, floats, ints, active, events, counts)
    # drop finished orders
    n = 0
    for j in range(counts[0]):
        k = active[j]
        if ints[k, I_STATUS] < TERMINAL:
            active[n] = k
            n += 1
    counts[0] = n


def resolve_children_py(
    i: int, start: int, floats: Any, ints: Any, active: Any, events: Any, counts: Any
) -> None:
    # Bracket exits held for an entry that is done: active from bar `start` for the
    # filled quantity, or cancelled when the entry ended unfilled.
    for j in range(counts[0]):
        k = active[j]
        if ints[k, I_STATUS] != HELD:
            continue
        p = ints[k, I_PARENT]
        if ints[p, I_STATUS] < TERMINAL or ints[p, I_ROLE] != ROLE_ENTRY:
            continue
        filled = floats[p, F_FILLED]
        if filled > 0.0:
            floats[k, F_QTY] = filled
            ints[k, I_STATUS] = WORKING
            ints[k, I_ACTIVE_FROM] = start
        else:
            finish_py(ints, events, counts, k, i, CANCELLED, EV_CANCELLED, R_PARENT)


_HELPERS = (
    "event_py",
    "finish_py",
    "stop_level_py",
    "touch_price_py",
    "account_py",
    "record_fill_py",
    "book_fill_py",
    "portfolio_value_py",
    "cancel_oco_py",
    "execute_py",
    "target_batch_py",
    "try_order_py",
    "resolve_children_py",
)


@cache
def _compiled() -> Callable[..., Any]:
    # Compile the kernel and its helpers on first use (cached on disk by numba).
    from numba import njit

    from qresearch.backtest._nb import compiled_helpers, rebind

    ns = dict(compiled_helpers())
    for name in _HELPERS:
        ns[name] = njit(cache=True)(rebind(globals()[name], ns))
    return njit(cache=True)(rebind(match_bar_py, ns))


def match_bar_nb(*args: Any) -> None:
    """Run :func:`match_bar_py` compiled with numba (same arguments, same effects)."""
    _compiled()(*args)
