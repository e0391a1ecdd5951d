"""Time-series momentum with a skip period (the classic 12-1 month momentum)."""

from __future__ import annotations

import pandas as pd

from qresearch.exceptions import ParameterError
from qresearch.features._common import check_int, float_panel

__all__ = ["momentum"]


def momentum(close: pd.DataFrame, lookback: int = 252, skip: int = 21) -> pd.DataFrame:
    """Compute the return from ``lookback`` rows ago to ``skip`` rows ago.

    Parameters
    ----------
    close : pandas.DataFrame
        Price panel (dates x symbols).
    lookback : int, default 252
        Start of the return window, in rows before t.
    skip : int, default 21
        End of the return window, in rows before t (0: up to t itself); the most
        recent ``skip`` rows are left out to avoid short-term reversal.

    Returns
    -------
    pandas.DataFrame
        ``close[t - skip] / close[t - lookback] - 1``, same index and columns as
        ``close``; NaN for the first ``lookback`` rows and where a price is NaN.

    Raises
    ------
    ParameterError
        When ``skip`` < 0, ``lookback`` < 1 or ``skip >= lookback``.

    Notes
    -----
    No look-ahead: only prices at or before t are used.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2020-01-01", periods=4, name="timestamp")
    >>> close = pd.DataFrame({"A": [10.0, 12.0, 15.0, 30.0]}, index=idx)
    >>> momentum(close, lookback=3, skip=1)["A"].tolist()
    [nan, nan, nan, 0.5]
    """
    prices = float_panel(close, "close")
    lookback = check_int("lookback", lookback, "momentum")
    skip = check_int("skip", skip, "momentum", minimum=0)
    if skip >= lookback:
        raise ParameterError(
            f"The 'skip' parameter of momentum must be smaller than 'lookback'; got "
            f"skip={skip}, lookback={lookback}. Use e.g. lookback=252, skip=21."
        )
    return prices.shift(skip) / prices.shift(lookback) - 1.0
