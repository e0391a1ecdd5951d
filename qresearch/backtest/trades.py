"""Round-trip trades (flat -> position -> flat) reconstructed from order fills.

The fills are turned into integer and float arrays once; the numba kernel
(:mod:`qresearch.backtest._nb_trades`) walks them in execution order and writes each
trade straight into its output row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from qresearch.backtest import _nb_trades as K

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

Kernel = Callable[..., tuple[Any, ...]]


def _frozen(values: Any, dtype: Any) -> np.ndarray:
    # A contiguous read-only array (no copy when possible), so that the compiled
    # kernel always sees the same argument types.
    a = np.ascontiguousarray(values, dtype=dtype)
    if a.flags.writeable:
        a = a.view()
        a.flags.writeable = False
    return a


def _panel(panel: pd.DataFrame | None, close: pd.DataFrame, name: str) -> np.ndarray:
    # A (C, T) float64 array of `panel` in close's column order.
    if panel is None:
        panel = close
    elif not panel.columns.equals(close.columns):
        panel = panel.loc[:, close.columns]
    if panel.shape[0] != close.shape[0]:
        raise ValueError(
            f"{name} has {panel.shape[0]} rows but close has {close.shape[0]}; "
            "pass panels on the same index."
        )
    return _frozen(panel.to_numpy(dtype=np.float64, na_value=np.nan).T, np.float64)


def _run(
    fills: pd.DataFrame,
    close: pd.DataFrame,
    high: pd.DataFrame | None,
    low: pd.DataFrame | None,
    group_columns: tuple[str, ...],
    full: bool,
    kernel: Kernel | None,
) -> tuple[Any, ...]:
    # The kernel's outputs for the fills (see trades_py); the numba kernel by default.
    run = K.trades_nb if kernel is None else kernel
    sym, uniques = pd.factorize(fills["symbol"])
    if group_columns:
        # Keys numbered in the order they first appear; rows with a NaN key are dropped.
        ngroup = fills.groupby([*group_columns, "symbol"], sort=False).ngroup()
        codes = ngroup.to_numpy(dtype=np.float64, na_value=np.nan)
        key = np.where(np.isnan(codes), -1, codes).astype(np.int64)
    else:
        key = sym.astype(np.int64, copy=False)
    used = key >= 0
    n_keys = int(key.max()) + 1 if len(key) else 0
    col_of_sym = close.columns.get_indexer(uniques)
    if (col_of_sym < 0).any():
        raise KeyError(uniques[int(np.flatnonzero(col_of_sym < 0)[0])])
    row = close.index.get_indexer(fills["timestamp"])
    if (row[used] < 0).any():
        raise KeyError(fills["timestamp"].iloc[int(np.flatnonzero(used & (row < 0))[0])])
    close_t = _panel(close, close, "close")
    high_t = _panel(high, close, "high") if full and high is not None else close_t
    low_t = _panel(low, close, "low") if full and low is not None else close_t
    return run(
        _frozen(key, np.int64),
        _frozen(sym, np.int64),
        _frozen(col_of_sym, np.int64),
        _frozen((fills["side"] == "buy").to_numpy(dtype=np.bool_), np.bool_),
        _frozen(row, np.int64),
        _frozen(fills["size"].to_numpy(dtype=np.float64), np.float64),
        _frozen(fills["price"].to_numpy(dtype=np.float64), np.float64),
        _frozen(fills["fees"].to_numpy(dtype=np.float64), np.float64),
        close_t,
        high_t,
        low_t,
        n_keys,
        full,
    )


def closed_trades(
    fills: pd.DataFrame,
    close: pd.DataFrame,
    *,
    group_columns: tuple[str, ...] = (),
    kernel: Kernel | None = None,
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Return ``pnl``, ``return`` and ``duration_bars`` of the closed trades.

    The same values, in the same order, as the rows of :func:`trades_from_fills`
    with ``status == "closed"``, without building the trades frame (what
    :func:`~qresearch.evaluation.metrics.trade_stats` reads).
    """
    if not len(fills):
        empty = np.empty(0)
        return pd.Series(empty), pd.Series(empty), pd.Series(empty.astype(np.int64))
    out_f, out_i, _ = _run(fills, close, None, None, group_columns, False, kernel)
    closed = out_i[K.I_CLOSED].astype(np.bool_)
    return (
        pd.Series(out_f[K.F_PNL][closed]),
        pd.Series(out_f[K.F_RET][closed]),
        pd.Series(out_i[K.I_EXIT][closed] - out_i[K.I_ENTRY][closed]),
    )


def _inferred(values: pd.Series) -> Any:
    # The values as the array a frame built from Python objects would hold.
    return pd.Series(values.tolist()).array


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
        Columns :data:`TRADE_COLUMNS` (plus ``group_columns`` first), grouped by key
        (parameters and symbol) in the order the keys first trade, each key's trades
        in time order. A position that flips sign in one fill closes one trade and
        opens the next at the same price, the fee split by size. ``entry_price``/
        ``exit_price`` are size-weighted averages of the entry and exit fills; ``pnl =
        ±(exit - entry) * size - fees`` and ``return = pnl / (entry_price * size)``
        (vectorbt's definitions); open trades are valued at the last close
        (``status="open"``). ``mae``/``mfe`` are the worst/best excursion from the
        entry price over the holding bars, as returns in the trade's direction.
    """
    return _trades_frame(fills, close, high, low, group_columns=group_columns)


def _trades_frame(
    fills: pd.DataFrame,
    close: pd.DataFrame,
    high: pd.DataFrame | None = None,
    low: pd.DataFrame | None = None,
    *,
    group_columns: tuple[str, ...] = (),
    kernel: Kernel | None = None,
) -> pd.DataFrame:
    # trades_from_fills with a choice of kernel (the Python twin in tests).
    names = [*group_columns, *TRADE_COLUMNS]
    if not len(fills):
        return pd.DataFrame(columns=names)
    out_f, out_i, first_order = _run(fills, close, high, low, group_columns, True, kernel)
    if not out_f.shape[1]:
        return pd.DataFrame(columns=names)
    index = close.index
    entry, exit_ = out_i[K.I_ENTRY], out_i[K.I_EXIT]
    end = np.where(exit_ >= 0, exit_, len(index) - 1)
    columns: dict[str, Any] = {}
    for name in (*group_columns, "symbol"):
        columns[name] = _inferred(fills[name].take(first_order)).take(out_i[K.I_RANK])
    columns["direction"] = _inferred(pd.Series(["short", "long"])).take(out_i[K.I_LONG])
    columns["status"] = _inferred(pd.Series(["open", "closed"])).take(out_i[K.I_CLOSED])
    columns["entry_time"] = index.take(entry)
    columns["exit_time"] = index.array.take(exit_, allow_fill=True)
    columns["size"] = out_f[K.F_SIZE]
    columns["entry_price"] = out_f[K.F_ENTRY_PRICE]
    columns["exit_price"] = out_f[K.F_EXIT_PRICE]
    columns["entry_fees"] = out_f[K.F_ENTRY_FEES]
    columns["exit_fees"] = out_f[K.F_EXIT_FEES]
    columns["pnl"] = out_f[K.F_PNL]
    columns["return"] = out_f[K.F_RET]
    columns["duration_bars"] = end - entry
    columns["duration"] = index.take(end) - index.take(entry)
    columns["mae"] = out_f[K.F_MAE]
    columns["mfe"] = out_f[K.F_MFE]
    return pd.DataFrame({name: columns[name] for name in names}, copy=False)
