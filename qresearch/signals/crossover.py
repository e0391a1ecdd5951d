"""Crossover signals: the bar at which one series crosses another (or a level).

A cross at ``t`` compares the rows ``t - 1`` and ``t`` only, so it never looks ahead.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from qresearch._validation import check_aligned
from qresearch.exceptions import PanelError
from qresearch.signals._common import check_real, float_panel

__all__ = ["crossover", "crossunder"]


def _operands(fast: Any, slow: Any, func: str) -> tuple[pd.DataFrame, pd.DataFrame | float]:
    a = float_panel(fast, "fast")
    if isinstance(slow, pd.DataFrame):
        b = float_panel(slow, "slow")
        check_aligned(a, b, "fast", "slow")
        return a, b
    if isinstance(slow, pd.Series):
        raise PanelError(
            f"slow passed to {func} must be a panel aligned with fast or a number; got a "
            "Series. For one level per date broadcast it: fast.mul(0).add(level, axis=0)."
        )
    return a, check_real("slow", slow, func)


def _cross(fast: Any, slow: Any, *, up: bool, func: str) -> pd.DataFrame:
    a, b = _operands(fast, slow, func)
    valid = a.notna() & (b.notna() if isinstance(b, pd.DataFrame) else True)
    beyond = (a > b) if up else (a < b)  # NaN compares False
    before_valid = valid.shift(1, fill_value=False)
    before_beyond = beyond.shift(1, fill_value=False)
    return (beyond & valid & before_valid & ~before_beyond).astype(bool)


def crossover(fast: pd.DataFrame, slow: pd.DataFrame | float) -> pd.DataFrame:
    """Flag the bars at which ``fast`` crosses above ``slow``.

    True at ``t`` when ``fast[t] > slow[t]`` and ``fast[t-1] <= slow[t-1]`` (a touch
    followed by a move above counts once, on the bar that ends above).

    Parameters
    ----------
    fast : pandas.DataFrame
        Numeric panel (dates x symbols), e.g. a short moving average.
    slow : pandas.DataFrame or float
        A panel aligned with ``fast`` (e.g. a long moving average) or a fixed level.

    Returns
    -------
    pandas.DataFrame
        Boolean panel, same index and columns; False where either row ``t`` or
        ``t - 1`` has NaN (a symbol's first bar never crosses).

    Notes
    -----
    Causal: the value at ``t`` uses rows ``t - 1`` and ``t`` only.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2024-01-01", periods=5, name="timestamp")
    >>> fast = pd.DataFrame({"A": [1.0, 2.0, 3.0, 2.0, 4.0]}, index=idx)
    >>> crossover(fast, 2.5)["A"].tolist()
    [False, False, True, False, True]
    >>> crossunder(fast, 2.5)["A"].tolist()
    [False, False, False, True, False]
    """
    return _cross(fast, slow, up=True, func="crossover")


def crossunder(fast: pd.DataFrame, slow: pd.DataFrame | float) -> pd.DataFrame:
    """Flag the bars at which ``fast`` crosses below ``slow``.

    True at ``t`` when ``fast[t] < slow[t]`` and ``fast[t-1] >= slow[t-1]``; the
    mirror of :func:`crossover` (same parameters and NaN rules).

    Parameters
    ----------
    fast : pandas.DataFrame
        Numeric panel (dates x symbols).
    slow : pandas.DataFrame or float
        A panel aligned with ``fast`` or a fixed level.

    Returns
    -------
    pandas.DataFrame
        Boolean panel, same index and columns.

    Notes
    -----
    Causal: the value at ``t`` uses rows ``t - 1`` and ``t`` only.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2024-01-01", periods=4, name="timestamp")
    >>> fast = pd.DataFrame({"A": [3.0, 1.0, float("nan"), 0.0]}, index=idx)
    >>> slow = pd.DataFrame({"A": [2.0, 2.0, 2.0, 2.0]}, index=idx)
    >>> crossunder(fast, slow)["A"].tolist()
    [False, True, False, False]
    """
    return _cross(fast, slow, up=False, func="crossunder")
