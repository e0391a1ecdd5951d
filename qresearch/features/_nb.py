"""Fractional-differencing kernel, written first as a plain-Python twin.

``frac_diff_ffd_py`` takes contiguous float64 arrays only; :func:`frac_diff_ffd_nb`
runs the same function compiled with ``numba.njit(cache=True)``, compiled lazily on
first use so that importing this module loads no numba.
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


@cache
def _compiled() -> dict[str, Callable[..., Any]]:
    # Compile on first use; numba caches the machine code on disk between sessions.
    from numba import njit

    return {"frac_diff_ffd": njit(cache=True)(frac_diff_ffd_py)}


def frac_diff_ffd_nb(x: Any, weights: Any, out: Any) -> Any:
    """Run :func:`frac_diff_ffd_py` compiled with numba (same arguments, same results)."""
    return _compiled()["frac_diff_ffd"](x, weights, out)
