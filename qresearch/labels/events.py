"""Event sampling: pick the bars worth labelling (AFML chapter 2.5).

The symmetric CUSUM filter flags a bar when the cumulative return since the last
event (upward or downward) exceeds a threshold, so events cluster where prices move.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd

from qresearch._validation import _preview, check_choice
from qresearch.exceptions import AlignmentError, ParameterError
from qresearch.labels._common import price_array

__all__ = ["cusum_filter"]


def _thresholds(threshold: float | pd.Series, columns: pd.Index) -> np.ndarray:
    # One positive finite threshold per column, from a scalar or a per-symbol Series.
    func = "cusum_filter"
    if isinstance(threshold, pd.Series):
        missing = [c for c in columns if c not in threshold.index]
        if missing:
            raise AlignmentError(
                f"The 'threshold' Series of {func} has no value for {len(missing)} symbols "
                f"of close ({_preview(missing)}). Give one threshold per column of close, "
                "e.g. threshold = close.pct_change().std() * 2."
            )
        if not threshold.index.is_unique:
            raise ParameterError(
                f"The 'threshold' Series of {func} has duplicated symbols "
                f"{_preview(threshold.index[threshold.index.duplicated()])}."
            )
        if not pd.api.types.is_numeric_dtype(threshold.dtype):
            raise ParameterError(
                f"The 'threshold' Series of {func} must be numeric; got dtype {threshold.dtype}."
            )
        values = threshold.reindex(columns).to_numpy(dtype=np.float64, na_value=np.nan)
        values = np.ascontiguousarray(values)
        bad = ~(np.isfinite(values) & (values > 0))
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            sym = columns[pos]
            raise ParameterError(
                f"The 'threshold' parameter of {func} must be a finite number > 0 for every "
                f"symbol; got {float(values[pos])!r} for {sym!r}."
            )
        return values
    ok = (
        isinstance(threshold, int | float | np.floating | np.integer)
        and not isinstance(threshold, bool | np.bool_)
        and math.isfinite(threshold)
        and threshold > 0
    )
    if not ok:
        shown = repr(threshold) if np.ndim(threshold) == 0 else type(threshold).__name__
        raise ParameterError(
            f"The 'threshold' parameter of {func} must be a finite number > 0 or a "
            f"per-symbol pandas Series; got {shown} instead."
        )
    return np.full(len(columns), float(threshold), dtype=np.float64)


def cusum_filter(
    close: pd.DataFrame,
    threshold: float | pd.Series,
    on: Literal["returns", "log_returns"] = "returns",
) -> pd.DataFrame:
    """Flag the bars where a symmetric CUSUM of returns crosses a threshold.

    For each symbol, with ``r_t`` the return at t::

        s_pos = max(0, s_pos + r_t);  s_neg = min(0, s_neg + r_t)
        event at t if s_pos > h (then s_pos = 0) or s_neg < -h (then s_neg = 0)

    Both sums start at 0, the comparisons are strict, and only the side that fires
    is reset (AFML snippet 2.4, run per symbol).

    Parameters
    ----------
    close : pandas.DataFrame
        Price panel (dates x symbols), positive prices, NaN = no data.
    threshold : float or pandas.Series
        ``h``: one positive number for every symbol, or a Series indexed by symbol
        with a positive value for each column of ``close`` (other entries are unused).
    on : {"returns", "log_returns"}, default "returns"
        ``close.pct_change(fill_method=None)`` or ``log(close).diff()``.

    Returns
    -------
    pandas.DataFrame
        Boolean panel with the index and columns of ``close``; True at event bars.

    Raises
    ------
    PanelError
        When ``close`` is not a valid panel or holds a price <= 0.
    AlignmentError
        When the ``threshold`` Series lacks a symbol of ``close``.
    ParameterError
        When ``threshold`` is not positive and finite or ``on`` is unknown.

    Notes
    -----
    A NaN return (the first bar, a bar with a NaN close, and the bar after a gap,
    since returns are not taken across gaps) is skipped: the sums keep their state.
    The event at t uses returns up to t only, so it can serve as the start ``t0``
    of a forward-looking label.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2020-01-01", periods=6, name="timestamp")
    >>> close = pd.DataFrame({"A": [100.0, 101.0, 102.0, 103.0, 100.0, 97.0]}, index=idx)
    >>> cusum_filter(close, 0.025)["A"].tolist()
    [False, False, False, True, True, True]
    """
    func = "cusum_filter"
    prices = price_array(close, "close", func)
    check_choice("on", on, ["returns", "log_returns"], func)
    thresholds = _thresholds(threshold, close.columns)
    rets = np.full_like(prices, np.nan)
    if on == "returns":
        rets[1:] = prices[1:] / prices[:-1] - 1.0
    else:
        logp = np.log(prices)
        rets[1:] = logp[1:] - logp[:-1]
    from qresearch.labels._nb import cusum_nb

    out = cusum_nb(rets, thresholds, np.empty(prices.shape, dtype=np.bool_))
    return pd.DataFrame(out, index=close.index, columns=close.columns)
