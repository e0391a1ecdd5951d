"""Classic technical indicators: moving averages, RSI, MACD, Bollinger, ATR, ADX, stochastic.

Seeding and smoothing conventions (all causal, NaN until a full window):

- ``ema``: pandas ``ewm(span=span, adjust=False, min_periods=span)``: the recursion
  ``y_t = y_{t-1} + alpha (x_t - y_{t-1})`` with ``alpha = 2 / (span + 1)`` is seeded
  with the first non-NaN value of each column, and reported once ``span`` non-NaN
  values have been seen.
- Wilder smoothing (``rsi``, ``atr``, ``adx``): the same recursion with
  ``alpha = 1 / window`` (``ewm(alpha=1/window, adjust=False, min_periods=window)``),
  seeded with the *first* value, not with the simple average of the first ``window``
  values used in Wilder's book and TA-Lib. The two differ by a term that decays as
  ``(1 - 1/window)^n``; after about ``10 * window`` rows they agree to ~1e-6 relative.
- A NaN inside a series (a halt) follows pandas' ``ignore_na=False`` rule: the
  observation is skipped but still counts in the decay of older weights.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from qresearch._validation import check_number
from qresearch.data.bars import Bars
from qresearch.exceptions import ParameterError
from qresearch.features._common import check_bars, check_int, float_panel, stack_fields, wilder

__all__ = ["adx", "atr", "bollinger", "ema", "macd", "rsi", "sma", "stochastic"]


def sma(close: pd.DataFrame, window: int = 20) -> pd.DataFrame:
    """Compute the simple moving average over a trailing window.

    Parameters
    ----------
    close : pandas.DataFrame
        Numeric panel (dates x symbols).
    window : int, default 20
        Rows in the window, including t.

    Returns
    -------
    pandas.DataFrame
        Same index and columns; NaN until ``window`` values and where one is NaN.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2020-01-01", periods=4, name="timestamp")
    >>> close = pd.DataFrame({"A": [1.0, 2.0, 3.0, 5.0]}, index=idx)
    >>> sma(close, window=2)["A"].tolist()
    [nan, 1.5, 2.5, 4.0]
    """
    prices = float_panel(close, "close")
    window = check_int("window", window, "sma")
    return prices.rolling(window, min_periods=window).mean()


def ema(close: pd.DataFrame, span: int = 20) -> pd.DataFrame:
    """Compute the exponential moving average seeded with the first value.

    Parameters
    ----------
    close : pandas.DataFrame
        Numeric panel (dates x symbols).
    span : int, default 20
        ``alpha = 2 / (span + 1)``.

    Returns
    -------
    pandas.DataFrame
        Same index and columns; NaN until ``span`` non-NaN values have been seen.

    Notes
    -----
    Seeding: ``y_0 = x_0`` (first non-NaN value of each column), then
    ``y_t = (1 - alpha) y_{t-1} + alpha x_t`` (pandas ``adjust=False``). The first
    ``span - 1`` values are computed but hidden (``min_periods=span``). No look-ahead.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2020-01-01", periods=4, name="timestamp")
    >>> close = pd.DataFrame({"A": [1.0, 4.0, 7.0, 1.0]}, index=idx)
    >>> ema(close, span=2)["A"].tolist()
    [nan, 3.0, 5.666666666666667, 2.5555555555555554]
    """
    prices = float_panel(close, "close")
    span = check_int("span", span, "ema")
    return prices.ewm(span=span, adjust=False, min_periods=span).mean()


def rsi(close: pd.DataFrame, window: int = 14) -> pd.DataFrame:
    """Compute Wilder's relative strength index (0 to 100).

    Parameters
    ----------
    close : pandas.DataFrame
        Price panel (dates x symbols).
    window : int, default 14
        Wilder smoothing length (``alpha = 1 / window``).

    Returns
    -------
    pandas.DataFrame
        ``100 * avg_gain / (avg_gain + avg_loss)``, same index and columns; 50 when
        both averages are zero (flat prices); NaN until ``window`` price changes.

    Notes
    -----
    ``change_t = close_t - close_{t-1}``; gains are ``max(change, 0)``, losses
    ``max(-change, 0)``. Both are Wilder-smoothed and seeded with the *first change*
    (pandas ``ewm(alpha=1/window, adjust=False, min_periods=window)``), not with the
    average of the first ``window`` changes. No look-ahead.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2020-01-01", periods=4, name="timestamp")
    >>> close = pd.DataFrame({"A": [10.0, 11.0, 10.0, 12.0]}, index=idx)
    >>> rsi(close, window=2)["A"].round(4).tolist()
    [nan, nan, 50.0, 83.3333]
    """
    prices = float_panel(close, "close")
    window = check_int("window", window, "rsi")
    change = prices - prices.shift(1)
    gain = wilder(change.clip(lower=0.0), window)
    loss = wilder((-change).clip(lower=0.0), window)
    total = gain + loss
    out = 100.0 * gain / total.where(total > 0.0)
    return out.mask((total == 0.0) & gain.notna(), 50.0)


def macd(close: pd.DataFrame, fast: int = 12, slow: int = 26, signal: int = 9) -> pd.DataFrame:
    """Compute the MACD line, its signal line and their difference.

    Parameters
    ----------
    close : pandas.DataFrame
        Price panel (dates x symbols).
    fast, slow : int, default 12, 26
        Spans of the two EMAs (``fast < slow``), see :func:`ema`.
    signal : int, default 9
        Span of the EMA of the MACD line.

    Returns
    -------
    pandas.DataFrame
        Columns a MultiIndex ``(field, symbol)`` with fields ``macd = ema(fast) -
        ema(slow)``, ``signal = ema(macd, signal)`` and ``hist = macd - signal``;
        select one with ``out["macd"]`` (a panel with the input's columns).

    Notes
    -----
    The signal EMA is seeded with the first defined MACD value (row ``slow - 1``).
    No look-ahead.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2020-01-01", periods=4, name="timestamp")
    >>> close = pd.DataFrame({"A": [1.0, 4.0, 7.0, 1.0]}, index=idx)
    >>> out = macd(close, fast=1, slow=2, signal=2)
    >>> list(out.columns.get_level_values("field").unique())
    ['macd', 'signal', 'hist']
    >>> out["macd"]["A"].round(4).tolist()
    [nan, 1.0, 1.3333, -1.5556]
    """
    prices = float_panel(close, "close")
    fast = check_int("fast", fast, "macd")
    slow = check_int("slow", slow, "macd")
    signal = check_int("signal", signal, "macd")
    if fast >= slow:
        raise ParameterError(
            f"The 'fast' parameter of macd must be smaller than 'slow'; got fast={fast}, "
            f"slow={slow}. Use e.g. fast=12, slow=26."
        )
    line = ema(prices, fast) - ema(prices, slow)
    sig = line.ewm(span=signal, adjust=False, min_periods=signal).mean()
    return stack_fields({"macd": line, "signal": sig, "hist": line - sig}, prices)


def bollinger(close: pd.DataFrame, window: int = 20, k: float = 2.0) -> pd.DataFrame:
    """Compute Bollinger bands and %b.

    Parameters
    ----------
    close : pandas.DataFrame
        Price panel (dates x symbols).
    window : int, default 20
        Rows in the moving window, including t (>= 2).
    k : float, default 2.0
        Band width in standard deviations (> 0).

    Returns
    -------
    pandas.DataFrame
        Columns a MultiIndex ``(field, symbol)`` with fields ``mid`` (SMA), ``upper``
        and ``lower`` (``mid +/- k * std``, population std ``ddof=0`` as in Bollinger's
        definition) and ``pct_b = (close - lower) / (upper - lower)`` (NaN when the
        bands touch).

    Notes
    -----
    No look-ahead: the window ends at t.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2020-01-01", periods=3, name="timestamp")
    >>> close = pd.DataFrame({"A": [1.0, 3.0, 3.0]}, index=idx)
    >>> out = bollinger(close, window=2, k=1.0)
    >>> out.loc[:, (slice(None), "A")].iloc[1].tolist()
    [2.0, 3.0, 1.0, 1.0]
    """
    prices = float_panel(close, "close")
    window = check_int("window", window, "bollinger", minimum=2)
    k = check_number("k", k, "bollinger")
    roll = prices.rolling(window, min_periods=window)
    mid = roll.mean()
    std = roll.std(ddof=0)
    upper = mid + k * std
    lower = mid - k * std
    width = upper - lower
    pct_b = (prices - lower) / width.where(width > 0.0)
    return stack_fields({"mid": mid, "upper": upper, "lower": lower, "pct_b": pct_b}, prices)


def _true_range(bars: Bars) -> pd.DataFrame:
    # max(high - low, |high - prev_close|, |low - prev_close|); high - low when there
    # is no previous close (first bar or after a gap).
    high = bars.high.astype("float64")
    low = bars.low.astype("float64")
    prev = bars.close.astype("float64").shift(1)
    hl = (high - low).to_numpy()
    hc = (high - prev).abs().to_numpy()
    lc = (low - prev).abs().to_numpy()
    tr = np.where(np.isnan(hl), np.nan, np.fmax(hl, np.fmax(hc, lc)))
    return pd.DataFrame(tr, index=bars.close.index, columns=bars.close.columns)


def atr(bars: Bars, window: int = 14) -> pd.DataFrame:
    """Compute Wilder's average true range.

    Parameters
    ----------
    bars : qresearch.data.Bars
        OHLC bars (high, low and close are used).
    window : int, default 14
        Wilder smoothing length (``alpha = 1 / window``).

    Returns
    -------
    pandas.DataFrame
        Same index and columns as ``bars.close``; NaN until ``window`` true ranges.

    Notes
    -----
    True range is ``max(high - low, |high - prev_close|, |low - prev_close|)``,
    ``high - low`` on the first bar (no previous close). Smoothing is seeded with the
    first true range (see the module notes). No look-ahead.

    Examples
    --------
    >>> import pandas as pd
    >>> from qresearch.data import Bars
    >>> idx = pd.date_range("2020-01-01", periods=3, name="timestamp")
    >>> f = lambda v: pd.DataFrame({"A": v}, index=idx)
    >>> bars = Bars(open=f([10.0, 10.0, 13.0]), high=f([11.0, 12.0, 14.0]),
    ...             low=f([9.0, 10.0, 13.0]), close=f([10.0, 11.0, 13.5]),
    ...             volume=f([1.0, 1.0, 1.0]))
    >>> atr(bars, window=2)["A"].tolist()
    [nan, 2.0, 2.5]
    """
    check_bars(bars, "atr")
    window = check_int("window", window, "atr")
    return wilder(_true_range(bars), window)


def adx(bars: Bars, window: int = 14) -> pd.DataFrame:
    """Compute Wilder's average directional index (0 to 100).

    Parameters
    ----------
    bars : qresearch.data.Bars
        OHLC bars (high, low and close are used).
    window : int, default 14
        Wilder smoothing length for the directional indicators and for ADX.

    Returns
    -------
    pandas.DataFrame
        ADX, same index and columns as ``bars.close``; NaN for the first
        ``2 * window - 1`` rows of each symbol.

    Notes
    -----
    ``up = high - prev_high``, ``down = prev_low - low``; ``+DM = up`` when
    ``up > down`` and ``up > 0`` else 0, ``-DM`` symmetrically. ``+DI = 100 *
    wilder(+DM) / wilder(TR)`` (TR from :func:`atr`, taken from the second bar so that
    all three start together), ``DX = 100 * |+DI - -DI| / (+DI + -DI)`` (0 when both
    are 0) and ``ADX = wilder(DX)``. Each smoothing is seeded with its first value.
    No look-ahead.

    Examples
    --------
    >>> import pandas as pd
    >>> from qresearch.data import Bars
    >>> idx = pd.date_range("2020-01-01", periods=4, name="timestamp")
    >>> f = lambda v: pd.DataFrame({"A": v}, index=idx)
    >>> bars = Bars(open=f([1.0, 2.0, 3.0, 4.0]), high=f([2.0, 3.0, 4.0, 5.0]),
    ...             low=f([1.0, 2.0, 3.0, 4.0]), close=f([2.0, 3.0, 4.0, 5.0]),
    ...             volume=f([1.0] * 4))
    >>> adx(bars, window=2)["A"].tolist()
    [nan, nan, nan, 100.0]
    """
    check_bars(bars, "adx")
    window = check_int("window", window, "adx")
    high = bars.high.astype("float64")
    low = bars.low.astype("float64")
    up = high - high.shift(1)
    down = low.shift(1) - low
    plus_dm = up.where((up > down) & (up > 0.0), 0.0).where(up.notna() & down.notna())
    minus_dm = down.where((down > up) & (down > 0.0), 0.0).where(up.notna() & down.notna())
    tr = _true_range(bars).where(plus_dm.notna())
    tr_s = wilder(tr, window)
    tr_s = tr_s.where(tr_s > 0.0)
    plus_di = 100.0 * wilder(plus_dm, window) / tr_s
    minus_di = 100.0 * wilder(minus_dm, window) / tr_s
    total = plus_di + minus_di
    dx = (100.0 * (plus_di - minus_di).abs() / total.where(total > 0.0)).mask(total == 0.0, 0.0)
    return wilder(dx, window)


def stochastic(bars: Bars, k: int = 14, d: int = 3) -> pd.DataFrame:
    """Compute the stochastic oscillator %K and its moving average %D.

    Parameters
    ----------
    bars : qresearch.data.Bars
        OHLC bars (high, low and close are used).
    k : int, default 14
        Rows of the high/low range, including t.
    d : int, default 3
        Rows of the simple moving average of %K.

    Returns
    -------
    pandas.DataFrame
        Columns a MultiIndex ``(field, symbol)`` with fields ``k = 100 * (close -
        lowest_low) / (highest_high - lowest_low)`` over the last ``k`` rows (NaN when
        the range is zero) and ``d = sma(k, d)``.

    Notes
    -----
    No look-ahead: both windows end at t.

    Examples
    --------
    >>> import pandas as pd
    >>> from qresearch.data import Bars
    >>> idx = pd.date_range("2020-01-01", periods=3, name="timestamp")
    >>> f = lambda v: pd.DataFrame({"A": v}, index=idx)
    >>> bars = Bars(open=f([1.0, 2.0, 3.0]), high=f([2.0, 4.0, 3.0]),
    ...             low=f([1.0, 2.0, 1.0]), close=f([1.5, 3.0, 2.0]),
    ...             volume=f([1.0] * 3))
    >>> out = stochastic(bars, k=2, d=2)
    >>> out["k"]["A"].tolist(), out["d"]["A"].tolist()
    ([nan, 66.66666666666667, 33.333333333333336], [nan, nan, 50.0])
    """
    check_bars(bars, "stochastic")
    k = check_int("k", k, "stochastic")
    d = check_int("d", d, "stochastic")
    close = bars.close.astype("float64")
    highest = bars.high.astype("float64").rolling(k, min_periods=k).max()
    lowest = bars.low.astype("float64").rolling(k, min_periods=k).min()
    rng = highest - lowest
    pct_k = 100.0 * (close - lowest) / rng.where(rng > 0.0)
    pct_d = pct_k.rolling(d, min_periods=d).mean()
    return stack_fields({"k": pct_k, "d": pct_d}, close)
