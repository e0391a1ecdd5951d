"""Boundary helpers shared by the feature modules (private).

They validate once at the public boundary and convert panels to float64 copies, so
no feature function ever mutates its input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from qresearch._typing import Float64Array
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


def column_major(frame: pd.DataFrame) -> Float64Array:
    # The float64 values of a validated panel, Fortran-ordered so that each column is
    # contiguous for the kernels; no copy for a float64 frame held in one block (the
    # kernels never write to it).
    return np.asfortranarray(frame.astype("float64").to_numpy())


def empty_like_panel(frame: pd.DataFrame, n_fields: int = 1) -> Float64Array:
    # A Fortran-ordered output buffer for n_fields panels of frame's shape, side by side.
    n_rows, n_cols = frame.shape
    return np.empty((n_rows, n_fields * n_cols), dtype=np.float64, order="F")


def wrap(values: Float64Array, like: pd.DataFrame) -> pd.DataFrame:
    # A kernel's output with like's index and columns (no copy).
    return pd.DataFrame(values, index=like.index, columns=like.columns, copy=False)


def wrap_fields(values: Float64Array, fields: Sequence[str], like: pd.DataFrame) -> pd.DataFrame:
    # Panels side by side in `values` as (field, symbol) MultiIndex columns (the frame
    # pd.concat(dict_of_panels, axis=1, names=["field", ...]) builds), without copying.
    n_fields, n_cols = len(fields), like.shape[1]
    columns = pd.MultiIndex(
        levels=[pd.Index(list(fields)), like.columns],
        codes=[np.repeat(np.arange(n_fields), n_cols), np.tile(np.arange(n_cols), n_fields)],
        names=["field", like.columns.name or "symbol"],
        verify_integrity=False,
    )
    return pd.DataFrame(values, index=like.index, columns=columns, copy=False)


def ewm_weights(*, span: int | None = None, alpha: float | None = None) -> tuple[float, bool]:
    # pandas' own arithmetic for ewm(span=...) or ewm(alpha=...): the centre of mass
    # first, then alpha = 1 / (1 + com); and whether com == 1 (pandas then weights a
    # value after a gap differently, see _nb_windows.ewm_mean_1d_py).
    if span is not None:
        com = (span - 1) / 2
    else:
        assert alpha is not None
        com = (1 - alpha) / alpha
    com = float(com)
    return 1.0 / (1.0 + com), com == 1.0
