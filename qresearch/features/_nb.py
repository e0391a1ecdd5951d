"""Feature kernels, each written first as a plain-Python twin.

``frac_diff_ffd_py`` and ``wilder_seeded_py`` take contiguous float64 arrays and
scalars only; :func:`frac_diff_ffd_nb` and :func:`wilder_seeded_nb` run the same
functions compiled with ``numba.njit(cache=True)``, compiled lazily on first use so
that importing this module loads no numba.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache
from typing import Any


def frac_diff_ffd_py(x: Any, weights: Any, out: Any) -> Any:
    """Apply fixed-width fractional-differencing weights to each column of ``x``.

    Parameters
    ----------
    x : float64 (T, C)
        Input values; NaN marks missing data.
    weights : float64 (L,)
        ``weights[k]`` multiplies ``x[t - k]`` (``weights[0] == 1``).
    out : float64 (T, C)
        Output buffer, filled in place and returned.

    Returns
    -------
    float64 (T, C)
        ``out[t] = sum_k weights[k] * x[t - k]`` for ``t >= L - 1`` when no value of
        the window is NaN, NaN otherwise. The sum runs from the oldest value (k = L-1)
        to the newest (k = 0).
    """
    n_rows, n_cols = x.shape
    width = weights.shape[0]
    for c in range(n_cols):
        for t in range(n_rows):
            if t < width - 1:
                out[t, c] = math.nan
                continue
            acc = 0.0
            for k in range(width - 1, -1, -1):
                v = x[t - k, c]
                if math.isnan(v):
                    acc = math.nan
                    break
                acc += weights[k] * v
            out[t, c] = acc
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
    n_rows, n_cols = x.shape
    for c in range(n_cols):
        total = 0.0
        seen = 0
        avg = math.nan
        for t in range(n_rows):
            v = x[t, c]
            if math.isnan(v):
                out[t, c] = avg
                continue
            if seen < seed_count:
                total += v
                seen += 1
                if seen == seed_count:
                    avg = total / window
                out[t, c] = avg
                continue
            if seen == 0:  # seed_count == 0: the empty sum seeds the average with 0
                avg = 0.0
            avg = (avg * (window - 1) + v) / window
            seen += 1
            out[t, c] = avg
    return out


@cache
def _compiled() -> dict[str, Callable[..., Any]]:
    # Compile on first use; numba caches the machine code on disk between sessions.
    from numba import njit

    return {
        "frac_diff_ffd": njit(cache=True)(frac_diff_ffd_py),
        "wilder_seeded": njit(cache=True)(wilder_seeded_py),
    }


def frac_diff_ffd_nb(x: Any, weights: Any, out: Any) -> Any:
    """Run :func:`frac_diff_ffd_py` compiled with numba (same arguments, same results)."""
    return _compiled()["frac_diff_ffd"](x, weights, out)


def wilder_seeded_nb(x: Any, window: int, seed_count: int, out: Any) -> Any:
    """Run :func:`wilder_seeded_py` compiled with numba (same arguments, same results)."""
    return _compiled()["wilder_seeded"](x, window, seed_count, out)
