"""Feature kernels, each written first as a plain-Python twin.

The twins take float64 (and int64) arrays and scalars only; :func:`kernel` and the
``*_nb`` functions run the same code compiled with ``numba.njit(cache=True)``,
compiled lazily on first use so that importing this module loads no numba. The window kernels of the
indicator family live in :mod:`qresearch.features._nb_windows`; this module holds
fractional differencing (direct sum and the two passes around its FFT), TA-Lib's
seeded Wilder smoothing and the cross-sectional rank, and compiles them all.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

from qresearch.features import _nb_rows, _nb_windows
from qresearch.features._nb_windows import wilder_sma_1d_py

# Rows of fractional differences summed side by side by frac_diff_ffd_py.
ROW_BLOCK = 64


def frac_diff_ffd_py(x: Any, weights: Any, out: Any) -> Any:
    """Apply fixed-width fractional-differencing weights to each column of ``x``.

    Parameters
    ----------
    x : float64 (T, C)
        Input values; NaN marks missing data. Columns are read contiguously when
        ``x`` is Fortran-ordered (a pandas frame's values).
    weights : float64 (L,)
        ``weights[k]`` multiplies ``x[t - k]`` (``weights[0] == 1``).
    out : float64 (T, C)
        Output buffer, filled in place and returned.

    Returns
    -------
    float64 (T, C)
        ``out[t] = sum_k weights[k] * x[t - k]`` for ``t >= L - 1`` when no value of
        the window is NaN, NaN otherwise. Each sum starts at 0 and adds one rounded
        product at a time from the oldest value (k = L-1) to the newest (k = 0); a
        NaN in the window makes it NaN. The sums of ``ROW_BLOCK`` consecutive rows
        advance side by side (one weight at a time over a contiguous slice, which
        compiles to vector instructions), each in that same order, so the blocking
        does not change a single bit.
    """
    n_rows, n_cols = x.shape
    width = weights.shape[0]
    oldest_first = weights[::-1].copy()  # oldest_first[j] multiplies x[t - L + 1 + j]
    acc = np.empty(ROW_BLOCK)
    for c in range(n_cols):
        col = x[:, c]
        for t in range(min(width - 1, n_rows)):
            out[t, c] = math.nan
        for t0 in range(width - 1, n_rows, ROW_BLOCK):
            n_block = min(ROW_BLOCK, n_rows - t0)
            segment = col[t0 - width + 1 : t0 + n_block]
            for b in range(n_block):
                acc[b] = 0.0
            for j in range(width):
                w = oldest_first[j]
                shifted = segment[j : j + n_block]
                for b in range(n_block):
                    acc[b] += w * shifted[b]
            for b in range(n_block):
                out[t0 + b, c] = acc[b]
    return out


def ffd_fft_prepare_py(x: Any, filled: Any, center: Any, direct: Any) -> None:
    """Centre each column and zero its NaN, ready for an FFT convolution.

    Parameters
    ----------
    x : float64 (T, C)
        Input values; NaN marks missing data.
    filled : float64 (T, C)
        Output: ``x - center`` with 0 where ``x`` is NaN.
    center : float64 (C,)
        Output: the mean of each column's non-NaN values (0 when it has none). Taking
        it out makes the FFT's rounding error scale with the series' spread rather
        than its level.
    direct : bool (C,)
        Output: True for a column holding an infinite value, which an FFT would
        spread over the whole column; such columns are left to the direct sum.
    """
    n_rows, n_cols = x.shape
    for c in range(n_cols):
        total = 0.0
        count = 0
        has_inf = False
        for t in range(n_rows):
            v = x[t, c]
            if v == v:
                if math.isinf(v):
                    has_inf = True
                else:
                    total += v
                    count += 1
        m = total / count if count > 0 else 0.0
        center[c] = m
        direct[c] = has_inf
        for t in range(n_rows):
            v = x[t, c]
            filled[t, c] = v - m if (v == v and not math.isinf(v)) else 0.0


def ffd_fft_finish_py(x: Any, conv: Any, width: int, offset: Any, out: Any) -> Any:
    """Turn a zero-filled convolution back into fractional differences with NaN rules.

    Parameters
    ----------
    x : float64 (T, C)
        The original input (its NaN decide which rows are NaN).
    conv : float64 (>= T, C)
        ``sum_k weights[k] * filled[t - k]`` (row t), from the FFT.
    width : int
        Window width ``L``.
    offset : float64 (C,)
        ``center * sum(weights)`` of each column, added back.
    out : float64 (T, C)
        Output buffer, filled and returned.

    Returns
    -------
    float64 (T, C)
        NaN for ``t < L - 1`` and when a value of ``x[t - L + 1 .. t]`` is NaN,
        ``conv[t] + offset`` otherwise.
    """
    n_rows, n_cols = x.shape
    for c in range(n_cols):
        missing = 0
        for t in range(n_rows):
            if x[t, c] != x[t, c]:
                missing += 1
            if t >= width and x[t - width, c] != x[t - width, c]:
                missing -= 1
            if t < width - 1 or missing > 0:
                out[t, c] = math.nan
            else:
                out[t, c] = conv[t, c] + offset[c]
    return out


def wilder_seeded_py(x: Any, window: int, seed_count: int, out: Any) -> Any:
    """Apply Wilder smoothing seeded with a sum of the first values, column by column.

    Parameters
    ----------
    x : float64 (T, C)
        Input values; NaN marks a missing value (leading NaN: not listed yet).
    window : int
        Smoothing length ``n`` (>= 1).
    seed_count : int
        How many first non-NaN values form the seed (0 <= seed_count).
    out : float64 (T, C)
        Output buffer, filled in place and returned.

    Returns
    -------
    float64 (T, C)
        NaN until ``seed_count`` non-NaN values have been seen (at least one). At the
        ``seed_count``-th value the average is ``sum(first seed_count values) / n``
        (the simple mean when ``seed_count == n``, TA-Lib's RSI and ATR seed); with
        ``seed_count == n - 1`` this is TA-Lib's ADX seed of the DM and TR sums,
        divided by ``n``. Every later value updates ``y = (y * (n - 1) + x) / n``
        (TA-Lib's arithmetic). A NaN value is skipped: the row repeats the last
        average (NaN before the seed), and the next value continues the recursion.
    """
    for c in range(x.shape[1]):
        wilder_sma_1d_py(x[:, c], window, seed_count, out[:, c])
    return out


def rank_rows_py(values: Any, order: Any, pct: bool, out: Any) -> Any:
    """Rank each row of ``values`` given its ascending sort order (ties: average rank).

    Parameters
    ----------
    values : float64 (T, C)
        Panel; NaN is not ranked.
    order : int64 (T, C)
        ``numpy.argsort(values, axis=1)``: each row's positions in ascending order,
        NaN last (any order among equal values).
    pct : bool
        Divide the ranks by the row's number of non-NaN values.
    out : float64 (T, C)
        Output buffer, filled and returned.

    Returns
    -------
    float64 (T, C)
        Ranks 1..n (``pandas.DataFrame.rank(axis=1, method="average",
        na_option="keep")``): equal values share the mean of their positions; NaN
        stays NaN.
    """
    n_rows, n_cols = values.shape
    row = np.empty(n_cols)
    ranks = np.empty(n_cols)
    for i in range(n_rows):
        sort_i = order[i]
        values_i = values[i]
        out_i = out[i]
        for j in range(n_cols):  # the row in ascending order, NaN last
            row[j] = values_i[sort_i[j]]
        n_valid = n_cols
        while n_valid > 0 and row[n_valid - 1] != row[n_valid - 1]:
            n_valid -= 1
        ties = 0
        for j in range(n_valid - 1):
            ties += 1 if row[j] == row[j + 1] else 0
        if ties == 0:  # rank = position + 1, as (p + 1 + q) / 2 with q = p + 1
            for j in range(n_valid):
                ranks[j] = j + 1.0
        else:
            p = 0
            while p < n_valid:
                v = row[p]
                q = p + 1
                while q < n_valid and row[q] == v:
                    q += 1
                rank = (p + 1 + q) / 2.0
                for r in range(p, q):
                    ranks[r] = rank
                p = q
        if pct:
            for j in range(n_valid):
                ranks[j] = ranks[j] / n_valid
        for j in range(n_valid):
            out_i[sort_i[j]] = ranks[j]
        for j in range(n_valid, n_cols):
            out_i[sort_i[j]] = math.nan
    return out


# Twins compiled by _compiled(); the 1-D primitives first, since the panel kernels
# call them by name.
_HELPERS = (
    "ewm_step_py",
    "wilder_sma_step_py",
    "mean_add_py",
    "mean_remove_py",
    "mean_value_py",
    "var_add_py",
    "var_remove_py",
    "fmax_py",
)
_ROWS = (  # in order: each may call the ones before it
    "zsqrt_py",
    "zscore_value_py",
    "volatility_value_py",
    "bands_value_py",
    "roll_mean_var_rows_py",
    "zscore_rows_py",
    "bollinger_rows_py",
    "volatility_rows_py",
    "returns_rows_py",
    "block_rows_py",
    "unblock_rows_py",
    "rolling_blocks_py",
)
_PRIMITIVES = (
    "true_range_py",
    "ewm_mean_1d_py",
    "wilder_sma_1d_py",
    "var_window_py",
    "roll_mean_var_2_py",
    "roll_mean_1d_py",
    "roll_var_1d_py",
    "extreme_step_py",
    "roll_extreme_1d_py",
)
_WINDOW_KERNELS = (
    "ema_py",
    "rsi_py",
    "macd_py",
    "bollinger_py",
    "rolling_volatility_py",
    "rolling_zscore_py",
    "atr_py",
    "adx_py",
    "stochastic_py",
)


def _rebind(fn: Callable[..., Any], namespace: dict[str, Any]) -> Callable[..., Any]:
    # A copy of `fn` whose global names resolve in `namespace` first, so the twin's
    # calls to other *_py helpers reach their compiled versions.
    return types.FunctionType(fn.__code__, {**fn.__globals__, **namespace}, fn.__name__)


@cache
def _compiled() -> dict[str, Callable[..., Any]]:
    # Compile on first use; numba caches the machine code on disk between sessions.
    from numba import njit

    ns: dict[str, Any] = {}
    for name in _HELPERS:
        ns[name] = njit(cache=True)(getattr(_nb_windows, name))
    for name in _ROWS:  # vectorized across columns: divisions without a zero check
        ns[name] = njit(cache=True, error_model="numpy")(_rebind(getattr(_nb_rows, name), ns))
    for name in _PRIMITIVES:  # in order: each may call the ones before it
        ns[name] = njit(cache=True)(_rebind(getattr(_nb_windows, name), ns))
    kernels: dict[str, Callable[..., Any]] = {
        name[: -len("_py")]: njit(cache=True)(_rebind(getattr(_nb_windows, name), ns))
        for name in _WINDOW_KERNELS
    }
    kernels["frac_diff_ffd"] = njit(cache=True)(frac_diff_ffd_py)
    kernels["ffd_fft_prepare"] = njit(cache=True)(ffd_fft_prepare_py)
    kernels["ffd_fft_finish"] = njit(cache=True)(ffd_fft_finish_py)
    kernels["wilder_seeded"] = njit(cache=True)(_rebind(wilder_seeded_py, ns))
    kernels["rank_rows"] = njit(cache=True, error_model="numpy")(rank_rows_py)
    return kernels


def kernel(name: str) -> Callable[..., Any]:
    """Return the compiled twin ``<name>_py`` (e.g. ``kernel("rsi")``), compiling it once."""
    return _compiled()[name]


def frac_diff_ffd_nb(x: Any, weights: Any, out: Any) -> Any:
    """Run :func:`frac_diff_ffd_py` compiled with numba (same arguments, same results)."""
    return _compiled()["frac_diff_ffd"](x, weights, out)


def wilder_seeded_nb(x: Any, window: int, seed_count: int, out: Any) -> Any:
    """Run :func:`wilder_seeded_py` compiled with numba (same arguments, same results)."""
    return _compiled()["wilder_seeded"](x, window, seed_count, out)
