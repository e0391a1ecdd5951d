"""Round-trip trades (flat -> position -> flat) reconstructed from order fills."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["TRADE_COLUMNS", "trades_from_fills"]

TRADE_COLUMNS = (
    "symbol",
    "direction",
    "status",
    "entry_time",
    "exit_time",
    "size",
    "entry_price",
    "exit_price",
    "entry_fees",
    "exit_fees",
    "pnl",
    "return",
    "duration_bars",
    "duration",
    "mae",
    "mfe",
)


def _close_trade(
    t: dict[str, Any], exit_idx: int, last: np.ndarray, high: np.ndarray, low: np.ndarray
) -> dict[str, Any]:
    # Finish a trade: average prices, pnl and return (vectorbt's definitions), MAE/MFE.
    size = t["entry_size"]
    entry_price = t["entry_value"] / size
    exit_price = t["exit_value"] / t["exit_size"] if t["exit_size"] > 0 else math.nan
    if t["status"] == "open":
        # Unrealized: the remaining size valued at the last known close.
        remaining = size - t["exit_size"]
        exit_value = t["exit_value"] + remaining * last[exit_idx]
        exit_price = exit_value / size
    sign = 1.0 if t["direction"] == "long" else -1.0
    pnl = sign * (exit_price * size - entry_price * size) - t["entry_fees"] - t["exit_fees"]
    lo = low[t["entry_idx"] : exit_idx + 1]
    hi = high[t["entry_idx"] : exit_idx + 1]
    worst = np.nanmin(lo) if sign > 0 else np.nanmax(hi)
    best = np.nanmax(hi) if sign > 0 else np.nanmin(lo)
    return {
        "symbol": t["symbol"],
        "direction": t["direction"],
        "status": t["status"],
        "entry_idx": t["entry_idx"],
        "exit_idx": exit_idx,
        "size": size,
        "entry_price": entry_price,
        "exit_price": exit_price,
        "entry_fees": t["entry_fees"],
        "exit_fees": t["exit_fees"],
        "pnl": pnl,
        "return": pnl / (entry_price * size),
        "mae": sign * (worst / entry_price - 1.0),
        "mfe": sign * (best / entry_price - 1.0),
    }


def trades_from_fills(
    fills: pd.DataFrame,
    close: pd.DataFrame,
    high: pd.DataFrame | None = None,
    low: pd.DataFrame | None = None,
    *,
    group_columns: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Reconstruct round-trip trades from fills, one row per flat-to-flat position.

    Parameters
    ----------
    fills : DataFrame
        Columns ``timestamp, symbol, side, size, price, fees`` (as
        ``BacktestResult.orders``), in execution order; ``group_columns`` name extra
        key columns (sweep parameters) that separate independent portfolios.
    close : DataFrame
        Close panel; values open trades at the last close and gives MAE/MFE when
        ``high``/``low`` are not given.
    high, low : DataFrame, optional
        Bar extremes for MAE/MFE.
    group_columns : tuple of str
        Key columns of ``fills`` besides ``symbol``.

    Returns
    -------
    DataFrame
        Columns :data:`TRADE_COLUMNS` (plus ``group_columns`` first). A position that
        flips sign in one fill closes one trade and opens the next at the same price,
        the fee split by size. ``entry_price``/``exit_price`` are size-weighted averages
        of the entry and exit fills; ``pnl = ±(exit - entry) * size - fees`` and
        ``return = pnl / (entry_price * size)`` (vectorbt's definitions); open trades
        are valued at the last close (``status="open"``). ``mae``/``mfe`` are the
        worst/best excursion from the entry price over the holding bars, as returns
        in the trade's direction.
    """
    index = close.index
    last_close = close.ffill()
    high = close if high is None else high
    low = close if low is None else low
    pos_of = {ts: i for i, ts in enumerate(index)}
    rows: list[dict[str, Any]] = []
    keys = [*group_columns, "symbol"]
    for key, part in fills.groupby(keys, sort=False) if len(fills) else []:
        symbol = key[-1] if isinstance(key, tuple) else key
        groups = dict(zip(group_columns, key[:-1], strict=True)) if group_columns else {}
        col_last = last_close[symbol].to_numpy(np.float64)
        col_high = high[symbol].to_numpy(np.float64)
        col_low = low[symbol].to_numpy(np.float64)
        pos = 0.0
        trade: dict[str, Any] | None = None
        for ts, side, size, price, fee in zip(
            part["timestamp"], part["side"], part["size"], part["price"], part["fees"], strict=True
        ):
            i = pos_of[ts]
            delta = size if side == "buy" else -size
            remaining, fee_left = size, fee
            if trade is not None and np.sign(delta) != np.sign(pos):
                closing = min(remaining, abs(pos))
                share = fee_left * closing / remaining
                trade["exit_size"] += closing
                trade["exit_value"] += closing * price
                trade["exit_fees"] += share
                remaining -= closing
                fee_left -= share
                pos += math.copysign(closing, delta)
                if abs(pos) <= 1e-9 * max(trade["entry_size"], 1e-12):
                    pos = 0.0
                    trade["status"] = "closed"
                    rows.append({**groups, **_close_trade(trade, i, col_last, col_high, col_low)})
                    trade = None
            if remaining > 1e-12 * max(size, 1.0):
                if trade is None:
                    trade = {
                        "symbol": symbol,
                        "direction": "long" if delta > 0 else "short",
                        "status": "open",
                        "entry_idx": i,
                        "entry_size": 0.0,
                        "entry_value": 0.0,
                        "entry_fees": 0.0,
                        "exit_size": 0.0,
                        "exit_value": 0.0,
                        "exit_fees": 0.0,
                    }
                trade["entry_size"] += remaining
                trade["entry_value"] += remaining * price
                trade["entry_fees"] += fee_left
                pos += math.copysign(remaining, delta)
        if trade is not None:
            row = _close_trade(trade, len(index) - 1, col_last, col_high, col_low)
            row["exit_idx"] = -1
            rows.append({**groups, **row})
    if not rows:
        return pd.DataFrame(columns=[*group_columns, *TRADE_COLUMNS])
    out = pd.DataFrame(rows)
    entry_idx = out.pop("entry_idx").to_numpy()
    exit_idx = out.pop("exit_idx").to_numpy()
    out["entry_time"] = index[entry_idx]
    closed = exit_idx >= 0
    exit_time = pd.Series(pd.NaT, index=out.index, dtype=index.dtype)
    exit_time[closed] = index[exit_idx[closed]]
    out["exit_time"] = exit_time
    end_idx = np.where(closed, exit_idx, len(index) - 1)
    out["duration_bars"] = end_idx - entry_idx
    out["duration"] = index[end_idx] - index[entry_idx]
    return out[[*group_columns, *TRADE_COLUMNS]]
