"""Fixed-horizon and trend-scanning labels.

Fixed-horizon labels take the sign of the return over a fixed number of bars, with
a dead zone around zero. Trend-scanning labels (López de Prado, *Machine Learning
for Asset Managers*, 5.4) fit a line to the prices over several forward windows and
keep the window whose slope is most significant.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from qresearch._typing import Int64Array
from qresearch._validation import check_number
from qresearch.exceptions import ParameterError
from qresearch.labels._common import (
    check_int,
    event_mask,
    long_index,
    price_array,
    sorted_positions,
)

__all__ = ["fixed_horizon_labels", "trend_scanning_labels"]


def fixed_horizon_labels(
    close: pd.DataFrame,
    horizon: int = 10,
    threshold: float = 0.0,
    events: pd.DataFrame | pd.DatetimeIndex | None = None,
) -> pd.DataFrame:
    """Label each event by the sign of its return over the next ``horizon`` bars.

    Parameters
    ----------
    close : pandas.DataFrame
        Price panel (dates x symbols), positive prices, NaN = no data.
    horizon : int, default 10
        Number of bars ahead (>= 1).
    threshold : float, default 0.0
        Dead zone (>= 0): returns with ``|ret| <= threshold`` get label 0.
    events : None, pandas.DataFrame or pandas.DatetimeIndex, optional
        Event starts, as in :func:`qresearch.labels.triple_barrier`: every bar, a
        boolean panel aligned with ``close``, or timestamps for all symbols.

    Returns
    -------
    pandas.DataFrame
        Indexed by (``timestamp`` = t0, ``symbol``), sorted, with columns ``t1``
        (the bar ``horizon`` rows after t0), ``ret`` (``close[t1] / close[t0] - 1``)
        and ``label`` (int: -1, 0 or +1).

    Raises
    ------
    PanelError, AlignmentError
        When ``close`` or ``events`` is malformed or not aligned.
    ParameterError
        When ``horizon`` < 1 or ``threshold`` < 0.

    Notes
    -----
    Events are dropped when the close at t0 or at t1 is NaN, or when t1 would lie
    beyond the last bar (no truncation: every label spans exactly ``horizon`` bars).
    Look-ahead by design: the label uses the price at t1.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2020-01-01", periods=4, name="timestamp")
    >>> close = pd.DataFrame({"A": [100.0, 100.5, 103.0, 100.0]}, index=idx)
    >>> fixed_horizon_labels(close, horizon=1, threshold=0.01)["label"].tolist()
    [0, 1, -1]
    """
    func = "fixed_horizon_labels"
    values = price_array(close, "close", func)
    horizon = check_int("horizon", horizon, func)
    threshold = check_number("threshold", threshold, func, strict=False)
    mask = event_mask(events, close, func)
    n_rows = values.shape[0]
    fwd = np.full_like(values, np.nan)
    if horizon < n_rows:
        fwd[: n_rows - horizon] = values[horizon:] / values[: n_rows - horizon] - 1.0
    mask = mask & np.isfinite(fwd)
    rows, cols = sorted_positions(mask, close.columns)
    ret = fwd[rows, cols]
    label = np.where(np.abs(ret) <= threshold, 0, np.sign(ret)).astype(np.int64)
    return pd.DataFrame(
        {"t1": close.index[rows + horizon], "ret": ret, "label": label},
        index=long_index(close.index, close.columns, rows, cols),
    )


def _horizons(horizons: Any, func: str) -> Int64Array:
    # Sorted unique window lengths >= 2 from a range, a sequence of ints, or a
    # (start, stop[, step]) tuple passed to range() as AFML's `span`.
    if isinstance(horizons, tuple):
        ok = 2 <= len(horizons) <= 3 and all(
            isinstance(h, int | np.integer) and not isinstance(h, bool) for h in horizons
        )
        if not ok:
            raise ParameterError(
                f"A tuple 'horizons' of {func} is read as (min, max, step) for range(); "
                f"got {horizons!r}. Pass e.g. (5, 20, 1) or a list of window lengths."
            )
        horizons = range(*(int(h) for h in horizons))
    if isinstance(horizons, int | np.integer) and not isinstance(horizons, bool):
        horizons = [horizons]
    if not isinstance(horizons, Sequence | range | np.ndarray):
        raise ParameterError(
            f"The 'horizons' parameter of {func} must be a range, a sequence of integers "
            f"or a (min, max, step) tuple; got {type(horizons).__name__}."
        )
    items = list(horizons)
    bad = [
        h for h in items if not isinstance(h, int | np.integer) or isinstance(h, bool) or int(h) < 2
    ]
    if not items or bad:
        raise ParameterError(
            f"The 'horizons' parameter of {func} must hold integers >= 2 (a line through "
            f"fewer than 3 prices has no t-value); got {list(items)!r}."
        )
    return np.unique(np.asarray(items, dtype=np.int64))


def trend_scanning_labels(
    close: pd.DataFrame,
    horizons: range | Sequence[int] | tuple[int, ...] = range(5, 20),
    events: pd.DataFrame | pd.DatetimeIndex | None = None,
) -> pd.DataFrame:
    """Label each event by the most significant linear trend that follows it.

    For each event at t0 and each candidate ``h``, fit by OLS ``close[t0 + k] =
    a + b k + e`` for ``k = 0 .. h`` (the window ``[t0, t0 + h]``, h + 1 prices) and
    take the t-value of ``b``; keep the ``h`` with the largest ``|t|``.

    Parameters
    ----------
    close : pandas.DataFrame
        Price panel (dates x symbols), positive prices, NaN = no data.
    horizons : range, sequence of int or tuple, default range(5, 20)
        Candidate window lengths in bars (each >= 2). A tuple is read as AFML's
        ``span`` and passed to ``range``: ``(min, max, step)``, max excluded.
    events : None, pandas.DataFrame or pandas.DatetimeIndex, optional
        Event starts, as in :func:`qresearch.labels.triple_barrier`.

    Returns
    -------
    pandas.DataFrame
        Indexed by (``timestamp`` = t0, ``symbol``), sorted, with columns ``t1``
        (``t0 + h`` of the chosen window), ``t_value``, ``label`` (int, the sign of
        ``t_value``) and ``ret`` (``close[t1] / close[t0] - 1``).

    Raises
    ------
    PanelError, AlignmentError
        When ``close`` or ``events`` is malformed or not aligned.
    ParameterError
        When ``horizons`` is empty or holds a value < 2.

    Notes
    -----
    Only complete windows count: a window that runs past the last bar or holds a
    NaN price is skipped, and events with no complete window (or a NaN close at t0)
    are dropped. Ties in ``|t|`` go to the shortest window. A window whose prices lie
    exactly on a line has ``t = ±inf`` (0 when flat). Unlike AFML's snippet, whose
    ``span`` counts prices, ``h`` counts bars after t0. Look-ahead by design.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2020-01-01", periods=6, name="timestamp")
    >>> close = pd.DataFrame({"A": [100.0, 101.0, 103.0, 102.0, 99.0, 98.0]}, index=idx)
    >>> lab = trend_scanning_labels(close, horizons=[2, 3])
    >>> lab["label"].tolist(), lab["t1"].dt.day.tolist()
    ([1, -1, -1, -1], [3, 5, 6, 6])
    """
    func = "trend_scanning_labels"
    values = price_array(close, "close", func)
    grid = _horizons(horizons, func)
    mask = event_mask(events, close, func) & np.isfinite(values)
    rows, cols = sorted_positions(mask, close.columns)
    from qresearch.labels._nb import trend_scan_nb

    t1, t_value, ret = trend_scan_nb(values, rows, cols, grid)
    keep = t1 >= 0
    rows, cols, t1, t_value, ret = (a[keep] for a in (rows, cols, t1, t_value, ret))
    return pd.DataFrame(
        {
            "t1": close.index[t1],
            "t_value": t_value,
            "label": np.sign(t_value).astype(np.int64),
            "ret": ret,
        },
        index=long_index(close.index, close.columns, rows, cols),
    )
