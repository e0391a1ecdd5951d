"""Threshold positions with optional hysteresis (enter beyond one level, exit at another)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from qresearch._validation import check_choice
from qresearch.exceptions import ParameterError
from qresearch.signals._common import check_real, float_panel

__all__ = ["threshold_signals"]


def _leg(x: pd.DataFrame, entry: float, exit_: float) -> pd.DataFrame:
    # 1 from the first bar with x > entry until the first later bar with x <= exit,
    # 0 otherwise. Entry and exit bars are disjoint because exit <= entry; bars where
    # neither happens (or x is NaN) carry the previous state forward.
    values = x.to_numpy()
    marks = np.where(values > entry, 1.0, np.where(values <= exit_, 0.0, np.nan))
    state = pd.DataFrame(marks, index=x.index, columns=x.columns)
    return state.ffill().fillna(0.0)


def threshold_signals(
    x: pd.DataFrame,
    entry: float,
    exit: float | None = None,
    *,
    side: Literal["long", "short", "both"] = "long",
) -> pd.DataFrame:
    """Return a {-1, 0, +1} position panel from thresholds on ``x``, with hysteresis.

    - long leg: +1 from the bar where ``x > entry`` until the bar where ``x <= exit``;
    - short leg (its mirror): -1 from the bar where ``x < -entry`` until the bar where
      ``x >= -exit``.

    ``exit=None`` means ``exit = entry`` (no hysteresis: long exactly while
    ``x > entry``). ``side`` selects the legs. The levels are symmetric around zero,
    so center ``x`` first (``rsi - 50``) and pass ``-x`` for mean reversion (short
    when ``x`` is high): ``threshold_signals(-zscore, 2.0, 0.5, side="both")`` is
    long below -2 until back above -0.5, short above 2 until back below 0.5.

    Parameters
    ----------
    x : pandas.DataFrame
        Numeric panel (dates x symbols), e.g. a z-score or a centered oscillator.
    entry : float
        Entry level.
    exit : float, optional
        Exit level, ``exit <= entry`` (default ``entry``). With ``side="both"``,
        ``-entry <= exit <= entry`` so that the legs never overlap (a move from
        above ``entry`` to below ``-entry`` reverses the position in one bar).
    side : {"long", "short", "both"}, default "long"
        Which legs to trade.

    Returns
    -------
    pandas.DataFrame
        Float panel in {-1, 0, 1}, same index and columns; NaN where ``x`` is NaN
        (a position held before a gap is held again after it unless an exit occurs).

    Notes
    -----
    Causal: the position at ``t`` depends on ``x`` up to ``t``. It is a target
    decided at the close of ``t``; the backtest applies the execution lag.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2024-01-01", periods=7, name="timestamp")
    >>> z = pd.DataFrame({"A": [0.0, 2.5, 1.0, 0.2, -0.5, -2.2, -1.0]}, index=idx)
    >>> threshold_signals(z, 2.0, 0.5)["A"].tolist()
    [0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    >>> threshold_signals(z, 2.0, 0.5, side="both")["A"].tolist()
    [0.0, 1.0, 1.0, 0.0, 0.0, -1.0, -1.0]
    >>> threshold_signals(z, 2.0, side="both")["A"].tolist()
    [0.0, 1.0, 0.0, 0.0, 0.0, -1.0, 0.0]
    """
    func = "threshold_signals"
    values = float_panel(x, "x")
    check_choice("side", side, ["long", "short", "both"], func)
    enter = check_real("entry", entry, func)
    leave = enter if exit is None else check_real("exit", exit, func)
    if leave > enter:
        raise ParameterError(
            f"The 'exit' parameter of {func} must be <= entry ({enter:g}) so that an "
            f"open position is closed on the way back; got {leave:g}."
        )
    if side == "both" and leave < -enter:
        raise ParameterError(
            f"With side='both', the 'exit' parameter of {func} must be >= -entry "
            f"({-enter:g}) so that the long and short legs never overlap; got {leave:g}."
        )
    position = pd.DataFrame(0.0, index=values.index, columns=values.columns)
    if side in ("long", "both"):
        position = position + _leg(values, enter, leave)
    if side in ("short", "both"):
        position = position - _leg(-values, enter, leave)
    return position.where(values.notna())
