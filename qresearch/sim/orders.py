"""Orders of the simulator: codes shared with the matching kernel, the order book, records.

Orders live in two preallocated arrays that the matching kernel reads and updates
(``floats[k, F_*]`` and ``ints[k, I_*]`` for order ``k``; the order id is ``k``).
Fills and order events are appended by the kernel to two more arrays. This module
holds the codes of those arrays, the Python-side :class:`OrderBook` that grows them,
and the records strategies see (:class:`Fill`, :class:`OrderInfo`, :class:`Bracket`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

# Order types.
MARKET, LIMIT, STOP, STOP_LIMIT, TRAILING_STOP, TARGET_PERCENT, TWAP, VWAP = range(8)
ORDER_TYPES = (
    "market",
    "limit",
    "stop",
    "stop_limit",
    "trailing_stop",
    "target_percent",
    "twap",
    "vwap",
)
# Time in force.
GTC, DAY, IOC, FOK, GTD = range(5)
TIFS = ("GTC", "DAY", "IOC", "FOK", "GTD")
# Order status.
WORKING, HELD, FILLED, CANCELLED, EXPIRED, REJECTED = range(6)
STATUSES = ("working", "held", "filled", "cancelled", "expired", "rejected")
TERMINAL = FILLED  # statuses >= TERMINAL are final
# Order events (state changes), recorded with a reason.
EV_SUBMITTED, EV_ACTIVE, EV_TRIGGERED, EV_PARTIAL, EV_FILLED = range(5)
EV_CANCELLED, EV_EXPIRED, EV_REJECTED, EV_REPLACED = range(5, 9)
EVENTS = (
    "submitted",
    "active",
    "triggered",
    "partially_filled",
    "filled",
    "cancelled",
    "expired",
    "rejected",
    "replaced",
)
# Reasons of events.
R_NONE, R_CASH, R_SYMBOL, R_QTY, R_PRICE, R_NO_DATA = range(6)
R_IOC, R_FOK, R_OCO, R_USER, R_DAY, R_GTD, R_PARENT = range(6, 13)
R_RISK, R_REPLACED, R_AT_TARGET, R_NO_VOLUME, R_DELISTED, R_GOOD_TILL = range(13, 19)
R_FEES, R_NOT_WORKING = 19, 20
REASONS = (
    "",
    "insufficient_cash",
    "unknown_symbol",
    "invalid_quantity",
    "invalid_price",
    "no_data",
    "ioc_remainder",
    "fok_not_fillable",
    "oco_sibling_filled",
    "cancelled_by_strategy",
    "day_expired",
    "good_till_date_passed",
    "parent_not_filled",
    "risk_halt",
    "replaced",
    "already_at_target",
    "no_volume",
    "delisted",
    "good_till_before_first_bar",
    "fees_exceed_proceeds",
    "order_not_working",
)
# Bracket roles.
ROLE_NONE, ROLE_ENTRY, ROLE_STOP_LOSS, ROLE_TAKE_PROFIT, ROLE_RISK_EXIT = range(5)

# Float fields of an order.
F_QTY, F_FILLED, F_LIMIT, F_STOP, F_TRAIL_AMOUNT, F_TRAIL_PERCENT, F_TRAIL_REF = range(7)
F_TARGET, F_AVG_PRICE = 7, 8
N_FLOAT = 9
# Int fields of an order.
I_COL, I_SIDE, I_TYPE, I_TIF, I_STATUS, I_ACTIVE_FROM, I_EXPIRE_AT = range(7)
I_PARENT, I_OCO, I_SUBMIT_BAR, I_TRIGGERED, I_ROLE, I_N_BARS, I_BARS_DONE = range(7, 14)
N_INT = 14
# Fill fields (a float array): order, bar, column, side (+1/-1), qty, price, fees,
# realized P&L of the fill (net of its fees).
FILL_ORDER, FILL_BAR, FILL_COL, FILL_SIDE, FILL_QTY, FILL_PRICE, FILL_FEES, FILL_PNL = range(8)
N_FILL = 8
# Event fields (an int array): order, bar, event, reason.
N_EVENT = 4


class Fill(NamedTuple):
    """One execution of (part of) an order, as ``on_fill`` receives it."""

    timestamp: pd.Timestamp
    symbol: Any
    side: str
    qty: float
    price: float
    fees: float
    order_id: int
    order_type: str


class OrderInfo(NamedTuple):
    """A snapshot of one order (``ctx.open_orders()``)."""

    order_id: int
    symbol: Any
    side: str
    qty: float
    filled: float
    order_type: str
    limit_price: float
    stop_price: float
    tif: str
    status: str


class Bracket(NamedTuple):
    """The ids of a bracket order: the entry and its two one-cancels-other exits."""

    entry: int
    stop_loss: int
    take_profit: int


class OrderBook:
    """Growable order, fill and event arrays shared with the matching kernel."""

    def __init__(self, capacity: int = 256) -> None:
        self.floats = np.full((capacity, N_FLOAT), np.nan)
        self.ints = np.zeros((capacity, N_INT), dtype=np.int64)
        self.n = 0
        self.active = np.zeros(capacity, dtype=np.int64)
        self.fills = np.zeros((capacity, N_FILL))
        self.events = np.zeros((capacity, N_EVENT), dtype=np.int64)
        # n_active, n_fills, n_events, next oco group id
        self.counts = np.zeros(4, dtype=np.int64)

    @property
    def n_active(self) -> int:
        """Number of orders in the active list (working or held)."""
        return int(self.counts[0])

    def reserve(self, n_orders: int) -> None:
        """Make room for ``n_orders`` more orders and their fills and events."""
        need = self.n + n_orders
        if need > self.floats.shape[0]:
            cap = max(need, 2 * self.floats.shape[0])
            self.floats = _grow(self.floats, cap, np.nan)
            self.ints = _grow(self.ints, cap, 0)
            self.active = _grow(self.active, cap, 0)
        self.reserve_records(n_orders)

    def reserve_records(self, extra: int) -> None:
        """Make room for the fills and events one bar of the active orders can make."""
        need_f = int(self.counts[1]) + 2 * (self.n_active + extra) + 8
        if need_f > self.fills.shape[0]:
            self.fills = _grow(self.fills, max(need_f, 2 * self.fills.shape[0]), 0.0)
        need_e = int(self.counts[2]) + 4 * (self.n_active + extra) + 8
        if need_e > self.events.shape[0]:
            self.events = _grow(self.events, max(need_e, 2 * self.events.shape[0]), 0)

    def event(self, order: int, bar: int, code: int, reason: int = R_NONE) -> None:
        """Append one order event (from Python: submissions, cancels, rejections)."""
        n = int(self.counts[2])
        if n >= self.events.shape[0]:
            self.events = _grow(self.events, 2 * self.events.shape[0] + 8, 0)
        self.events[n] = (order, bar, code, reason)
        self.counts[2] = n + 1


def _grow(a: np.ndarray, rows: int, fill: Any) -> np.ndarray:
    # A copy of `a` with `rows` rows (new rows set to `fill`).
    out = np.full((rows, *a.shape[1:]), fill, dtype=a.dtype)
    out[: a.shape[0]] = a
    return out
