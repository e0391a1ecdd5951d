"""Time-series momentum with a skip period (the classic 12-1 month momentum)."""

from __future__ import annotations

import pandas as pd

from qresearch._compat import renamed_parameters
from qresearch.exceptions import ParameterError
from qresearch.features._common import check_int, float_panel

__all__ = ["momentum"]


@renamed_parameters(lookback="window")
def momentum(close: pd.DataFrame, window: int = 252, skip: int = 21) -> pd.DataFrame:
    """Compute the return from ``window`` rows ago to ``skip`` rows ago.

    Parameters
    ----------
    close : pandas.DataFrame
        Price panel (dates x symbols).
    window : int, default 252
        Start of the return window, in rows before t. Formerly ``lookback``
        (deprecated alias, removed in the next release).
    skip : int, default 21
        End of the return window, in rows before t (0: up to t itself); the most
        recent ``skip`` rows are left out to avoid short-term reversal.

    Returns
    -------
    pandas.DataFrame
        ``close[t - skip] / close[t - window] - 1``, same index and columns as
        ``close``; NaN for the first ``window`` rows and where a price is NaN.

    Raises
    ------
    ParameterError
        When ``skip`` < 0, ``window`` < 1 or ``skip >= window``.

    Notes
    -----
    No look-ahead: only prices at or before t are used.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2020-01-01", periods=4, name="timestamp")
    >>> close = pd.DataFrame({"A": [10.0, 12.0, 15.0, 30.0]}, index=idx)
    >>> momentum(close, window=3, skip=1)["A"].tolist()
    [nan, nan, nan, 0.5]
    """
    prices = float_panel(close, "close")
    window = check_int("window", window, "momentum")
    skip = check_int("skip", skip, "momentum", minimum=0)
    if skip >= window:
        raise ParameterError(
            f"The 'skip' parameter of momentum must be smaller than 'window'; got "
            f"skip={skip}, window={window}. Use e.g. window=252, skip=21."
        )
    return prices.shift(skip) / prices.shift(window) - 1.0
