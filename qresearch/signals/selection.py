"""Cross-sectional selection: the ``n`` best or worst scores of each row.

Each row is treated on its own, so selection cannot look ahead in time.
"""

from __future__ import annotations

import pandas as pd

from qresearch.signals._common import check_int, float_panel

__all__ = ["bottom_n_signals", "top_n_signals"]


def extreme_n(scores: pd.DataFrame, n: int, *, largest: bool, func: str) -> pd.DataFrame:
    """Return a boolean panel of the ``n`` highest (``largest``) or lowest scores per row.

    The one implementation behind ``top_n_signals``/``bottom_n_signals`` and
    ``qr.portfolio.top_n``/``bottom_n``; ``func`` names the caller in errors.
    """
    values = float_panel(scores, "scores")
    k = check_int("n", n, func)
    # method="first": ties at the cut go to the earlier column; NaN ranks stay NaN.
    ranks = values.rank(axis=1, ascending=not largest, method="first", na_option="keep")
    return (ranks <= k) & values.notna()


def top_n_signals(scores: pd.DataFrame, n: int) -> pd.DataFrame:
    """Select the ``n`` highest scores of each row.

    Parameters
    ----------
    scores : pandas.DataFrame
        Numeric panel (dates x symbols); higher is better, NaN is never selected.
    n : int
        Number of symbols to select per row (>= 1). Rows with fewer than ``n``
        scores select all of them.

    Returns
    -------
    pandas.DataFrame
        Boolean panel, same index and columns. Ties at the cut are broken by column
        order (the earlier column wins).

    Notes
    -----
    Causal: row ``t`` depends on row ``t`` only.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2024-01-01", periods=1, name="timestamp")
    >>> s = pd.DataFrame({"A": [1.0], "B": [3.0], "C": [3.0], "D": [float("nan")]}, index=idx)
    >>> top_n_signals(s, 1).iloc[0].tolist()
    [False, True, False, False]
    >>> bottom_n_signals(s, 2).iloc[0].tolist()
    [True, True, False, False]
    """
    return extreme_n(scores, n, largest=True, func="top_n_signals")


def bottom_n_signals(scores: pd.DataFrame, n: int) -> pd.DataFrame:
    """Select the ``n`` lowest scores of each row (see :func:`top_n_signals`).

    Parameters
    ----------
    scores : pandas.DataFrame
        Numeric panel (dates x symbols); NaN is never selected.
    n : int
        Number of symbols to select per row (>= 1).

    Returns
    -------
    pandas.DataFrame
        Boolean panel, same index and columns; ties broken by column order.

    Notes
    -----
    Causal: row ``t`` depends on row ``t`` only.
    """
    return extreme_n(scores, n, largest=False, func="bottom_n_signals")
