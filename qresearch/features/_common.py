"""Boundary helpers shared by the feature modules (private).

They validate once at the public boundary and convert panels to float64 copies, so
no feature function ever mutates its input.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from qresearch._validation import check_int as check_int
from qresearch._validation import check_panel
from qresearch._validation import float_panel as float_panel
from qresearch.data.bars import Bars
from qresearch.exceptions import AlignmentError, PanelError


def float_series_or_panel(obj: Any, name: str, func: str) -> pd.DataFrame | pd.Series:
    # Accept one series (dates) or a panel; return a float64 copy of the same kind.
    if isinstance(obj, pd.Series):
        check_panel(obj.to_frame(), name)
        if not pd.api.types.is_numeric_dtype(obj.dtype):
            raise PanelError(
                f"{name} passed to {func} must be numeric; got dtype {obj.dtype}. "
                "Convert it with pd.to_numeric."
            )
        return obj.astype("float64")
    return float_panel(obj, name)


def check_bars(bars: Any, func: str) -> Bars:
    # OHLC features need a Bars container (high, low and close aligned).
    if not isinstance(bars, Bars):
        raise PanelError(
            f"{func} needs OHLC data as a qresearch.data.Bars; got {type(bars).__name__}. "
            "Build one with Bars(open=..., high=..., low=..., close=..., volume=...) "
            "or Bars.from_long(df)."
        )
    if bars.shape[0] == 0 or bars.shape[1] == 0:
        raise PanelError(f"bars passed to {func} is empty (shape {bars.shape}).")
    return bars


def benchmark_returns(benchmark: Any, index: pd.DatetimeIndex, func: str) -> pd.Series:
    # Simple returns of a benchmark price Series that must share the panel's index.
    if not isinstance(benchmark, pd.Series):
        raise PanelError(
            f"benchmark passed to {func} must be a pandas Series of prices on the same "
            f"index as close; got {type(benchmark).__name__}. For a panel column use "
            "benchmark = prices['SPY']."
        )
    if not benchmark.index.equals(index):
        only_b = benchmark.index.difference(index)
        only_c = index.difference(benchmark.index)
        raise AlignmentError(
            f"close and benchmark are not aligned: {len(only_c)} timestamps only in close, "
            f"{len(only_b)} only in benchmark (lengths {len(index)} and "
            f"{len(benchmark.index)}). Reindex it first, e.g. "
            "benchmark = benchmark.reindex(close.index)."
        )
    if not pd.api.types.is_numeric_dtype(benchmark.dtype):
        raise PanelError(
            f"benchmark passed to {func} must be numeric; got dtype {benchmark.dtype}."
        )
    values = benchmark.astype("float64")
    return values / values.shift(1) - 1.0


def wilder(x: pd.DataFrame, window: int) -> pd.DataFrame:
    # Wilder's smoothing: y_t = y_{t-1} + (x_t - y_{t-1}) / window, seeded with the first
    # non-NaN value of each column (pandas ewm(alpha=1/window, adjust=False)); NaN until
    # `window` non-NaN values have been seen.
    return x.ewm(alpha=1.0 / window, adjust=False, min_periods=window).mean()


def stack_fields(parts: dict[str, pd.DataFrame], like: pd.DataFrame) -> pd.DataFrame:
    # Concatenate same-shaped panels into (field, symbol) MultiIndex columns.
    out = pd.concat(parts, axis=1, names=["field", like.columns.name or "symbol"])
    out.index = like.index
    return out
