"""Past returns of a price panel (causal: the return at t ends at t).

Forward returns are labels and live in :mod:`qresearch.labels`, never here.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from qresearch._validation import check_choice
from qresearch.features._common import check_int, float_panel

__all__ = ["returns"]


def returns(
    close: pd.DataFrame, periods: int = 1, kind: Literal["simple", "log"] = "simple"
) -> pd.DataFrame:
    """Compute the return of each symbol over the last ``periods`` rows.

    Parameters
    ----------
    close : pandas.DataFrame
        Price panel (dates x symbols).
    periods : int, default 1
        Number of rows the return spans (>= 1; a negative shift would look ahead).
    kind : {"simple", "log"}, default "simple"
        ``close[t] / close[t - periods] - 1`` or ``log(close[t] / close[t - periods])``.

    Returns
    -------
    pandas.DataFrame
        Same index and columns as ``close``; NaN for the first ``periods`` rows and
        wherever either price is NaN (nothing is forward-filled).

    Raises
    ------
    PanelError
        When ``close`` is not a valid panel.
    ParameterError
        When ``periods`` < 1 or ``kind`` is unknown.

    Notes
    -----
    No look-ahead: the value at t uses the prices at t and ``t - periods`` only.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2020-01-01", periods=3, name="timestamp")
    >>> close = pd.DataFrame({"A": [100.0, 110.0, 99.0]}, index=idx)
    >>> returns(close)["A"].round(4).tolist()
    [nan, 0.1, -0.1]
    >>> returns(close, periods=2, kind="log")["A"].round(6).tolist()
    [nan, nan, -0.01005]
    """
    prices = float_panel(close, "close")
    periods = check_int("periods", periods, "returns")
    check_choice("kind", kind, ["simple", "log"], "returns")
    ratio = prices / prices.shift(periods)
    if kind == "log":
        return pd.DataFrame(np.log(ratio), index=prices.index, columns=prices.columns)
    return ratio - 1.0
