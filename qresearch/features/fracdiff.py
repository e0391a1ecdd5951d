"""Fixed-width window fractional differencing (López de Prado, AFML chapter 5).

Fractional differencing of order ``d`` removes just enough memory to make a series
stationary while keeping as much of its level information as possible.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from qresearch._optional import import_optional
from qresearch._typing import Float64Array
from qresearch._validation import check_number
from qresearch.exceptions import ParameterError
from qresearch.features._common import float_series_or_panel

__all__ = ["ffd_weights", "frac_diff_ffd", "min_ffd_order"]

# Smallest number of differenced observations an ADF test is run on.
MIN_ADF_OBS = 20


def ffd_weights(d: float, threshold: float = 1e-5, max_width: int | None = None) -> Float64Array:
    """Return the fixed-width fractional-differencing weights, newest first.

    Parameters
    ----------
    d : float
        Differencing order (>= 0).
    threshold : float, default 1e-5
        Weights are generated while ``|w_k| >= threshold`` (> 0).
    max_width : int, optional
        Stop after this many weights even if the threshold is not reached.

    Returns
    -------
    numpy.ndarray
        ``w_0 = 1``, ``w_k = -w_{k-1} (d - k + 1) / k``; the first weight below the
        threshold in absolute value is not included.

    Examples
    --------
    >>> ffd_weights(0.5, threshold=0.1).tolist()
    [1.0, -0.5, -0.125]
    >>> ffd_weights(1.0).tolist()
    [1.0, -1.0]
    """
    d = check_number("d", d, "ffd_weights", strict=False)
    threshold = check_number("threshold", threshold, "ffd_weights")
    weights = [1.0]
    k = 1
    while max_width is None or len(weights) < max_width:
        w = -weights[-1] * (d - k + 1) / k
        if abs(w) < threshold:
            break
        weights.append(w)
        k += 1
    return np.asarray(weights, dtype=np.float64)


def frac_diff_ffd(
    x: pd.DataFrame | pd.Series, d: float, threshold: float = 1e-5
) -> pd.DataFrame | pd.Series:
    """Fractionally difference each column with a fixed-width window of weights.

    Parameters
    ----------
    x : pandas.DataFrame or pandas.Series
        Panel (dates x symbols) or one series, usually log prices.
    d : float
        Differencing order (>= 0); 0 returns ``x``, 1 the first difference.
    threshold : float, default 1e-5
        Weight cut-off, see :func:`ffd_weights`; it sets the window width ``L``.

    Returns
    -------
    pandas.DataFrame or pandas.Series
        Same kind, index and columns as ``x``: ``sum_k w_k x[t - k]`` for
        ``k = 0 .. L-1``; NaN for the first ``L - 1`` rows and whenever a value in
        the window is NaN (nothing is filled).

    Notes
    -----
    No look-ahead: the window ends at t. The loop runs in a numba kernel
    (:mod:`qresearch.features._nb`), compiled on first use.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2020-01-01", periods=4, name="timestamp")
    >>> x = pd.DataFrame({"A": [1.0, 2.0, 4.0, 8.0]}, index=idx)
    >>> frac_diff_ffd(x, d=0.5, threshold=0.1)["A"].tolist()
    [nan, nan, 2.875, 5.75]
    """
    values = float_series_or_panel(x, "x", "frac_diff_ffd")
    d = check_number("d", d, "frac_diff_ffd", strict=False)
    threshold = check_number("threshold", threshold, "frac_diff_ffd")
    n_rows = values.shape[0]
    # A window longer than the data gives all-NaN output; no need for more weights.
    weights = ffd_weights(d, threshold, max_width=n_rows + 1)
    from qresearch.features._nb import frac_diff_ffd_nb

    arr = np.ascontiguousarray(values.to_numpy(dtype=np.float64).reshape(n_rows, -1))
    out = frac_diff_ffd_nb(arr, weights, np.empty_like(arr))
    if isinstance(values, pd.Series):
        return pd.Series(out[:, 0], index=values.index, name=values.name)
    return pd.DataFrame(out, index=values.index, columns=values.columns)


def _min_order_1d(
    series: pd.Series, grid: Sequence[float], threshold: float, p_value: float, adfuller: Any
) -> float:
    # Smallest d of the sorted grid whose FFD series rejects a unit root at p_value.
    for d in grid:
        ffd = frac_diff_ffd(series, d, threshold).dropna()
        if len(ffd) < MIN_ADF_OBS or float(np.ptp(ffd.to_numpy())) == 0.0:
            continue
        p = float(adfuller(ffd.to_numpy(), maxlag=1, regression="c", autolag=None)[1])
        if p < p_value:
            return float(d)
    return math.nan


def min_ffd_order(
    x: pd.DataFrame | pd.Series,
    d_grid: Sequence[float] | np.ndarray | None = None,
    threshold: float = 1e-5,
    p_value: float = 0.05,
) -> float | pd.Series:
    """Find the smallest differencing order whose FFD series passes the ADF test.

    Parameters
    ----------
    x : pandas.DataFrame or pandas.Series
        Panel or one series, usually log prices.
    d_grid : sequence of float, optional
        Orders to try (sorted ascending before use); default
        ``np.linspace(0, 1, 11)``.
    threshold : float, default 1e-5
        Weight cut-off of :func:`frac_diff_ffd`.
    p_value : float, default 0.05
        ADF p-value below which the unit root is rejected (0 < p_value < 1).

    Returns
    -------
    float or pandas.Series
        For a series, the smallest passing ``d`` (NaN if none passes); for a panel,
        a Series of it per symbol (named ``"d"``).

    Notes
    -----
    This is a whole-sample estimate, not a feature: choosing ``d`` on the full
    history and then differencing with it uses information from the future. Estimate
    it on a training window only. The ADF test is
    ``statsmodels.tsa.stattools.adfuller(maxlag=1, regression="c", autolag=None)``
    as in AFML; an order leaving fewer than 20 observations is skipped.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> idx = pd.date_range("2020-01-01", periods=300, name="timestamp")
    >>> walk = pd.Series(np.cumsum(np.random.default_rng(0).normal(size=300)), index=idx)
    >>> min_ffd_order(walk, d_grid=[0.0, 1.0])
    1.0
    """
    values = float_series_or_panel(x, "x", "min_ffd_order")
    threshold = check_number("threshold", threshold, "min_ffd_order")
    p_value = check_number("p_value", p_value, "min_ffd_order")
    if p_value >= 1.0:
        raise ParameterError(
            f"The 'p_value' parameter of min_ffd_order must be in (0, 1); got {p_value!r}."
        )
    raw = np.linspace(0.0, 1.0, 11) if d_grid is None else np.asarray(d_grid, dtype=float)
    if raw.ndim != 1 or raw.size == 0 or not np.all(np.isfinite(raw)) or np.any(raw < 0):
        raise ParameterError(
            f"The 'd_grid' parameter of min_ffd_order must be a non-empty 1-d sequence of "
            f"finite orders >= 0; got {d_grid!r}. Use e.g. np.linspace(0, 1, 11)."
        )
    grid = [float(d) for d in np.sort(raw)]
    stattools = import_optional("statsmodels.tsa.stattools", extra="stats")
    adfuller = stattools.adfuller
    if "result_object" in inspect.signature(adfuller).parameters:
        # statsmodels >= 0.15 warns unless the tuple return is requested explicitly.
        adfuller = functools.partial(adfuller, result_object=False)
    if isinstance(values, pd.Series):
        return _min_order_1d(values, grid, threshold, p_value, adfuller)
    out = {c: _min_order_1d(values[c], grid, threshold, p_value, adfuller) for c in values.columns}
    return pd.Series(out, name="d", dtype="float64").rename_axis(values.columns.name)
