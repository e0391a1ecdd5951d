"""Classic technical indicators: moving averages, RSI, MACD, Bollinger, ATR, ADX, stochastic.

Seeding and smoothing conventions (all causal, NaN until a full window):

- ``ema``: pandas ``ewm(span=span, adjust=False, min_periods=span)``: the recursion
  ``y_t = y_{t-1} + alpha (x_t - y_{t-1})`` with ``alpha = 2 / (span + 1)`` is seeded
  with the first non-NaN value of each column, and reported once ``span`` non-NaN
  values have been seen.
- Wilder smoothing (``rsi``, ``atr``, ``adx``) has two seeds, chosen with ``seed``:

  - ``seed="first"`` (default): the same recursion with ``alpha = 1 / window``
    (``ewm(alpha=1/window, adjust=False, min_periods=window)``), seeded with the
    *first* value. It differs from Wilder's book and TA-Lib by a term that decays as
    ``(1 - 1/window)^n``. Measured against TA-Lib (Python ta-lib 0.8.2) on the
    bundled ORCL, NVDA and YHOO daily bars with ``window=14``, the largest difference
    from row ``10 * window`` on is 5.6e-3 RSI points, 6.0e-4 of ATR (relative) and
    5.8e-3 ADX points; from ``20 * window`` on 4.1e-8, 7.5e-9 and 5.9e-7; from
    ``30 * window`` on below 1e-10 (``tests/features/test_technical.py`` checks
    these figures). ATR also starts one row earlier (it uses the
    first bar's ``high - low``).
  - ``seed="sma"``: TA-Lib's rules. The first average is the simple mean of the first
    ``window`` values (RSI gains and losses, ATR true ranges from the second bar on);
    ADX seeds its DM and TR sums with the first ``window - 1`` values and reports DX
    from the ``window``-th, then averages the first ``window`` DX values. Later
    values follow ``y_t = (y_{t-1} (window - 1) + x_t) / window``. Equal to TA-Lib to
    1e-10 on series without gaps, except where TA-Lib has special cases: flat
    prices give RSI 50 (TA-Lib 0), and a bar where ``+DI + -DI = 0`` gives DX 0
    (TA-Lib keeps the previous ADX). The kernel is
    :func:`qresearch.features._nb.wilder_seeded_py` (compiled with numba).

- A NaN inside a series (a halt): with ``seed="first"`` it follows pandas'
  ``ignore_na=False`` rule (the observation is skipped but still counts in the decay
  of older weights); with ``seed="sma"`` it is skipped (the row repeats the last
  average and the next value continues the recursion, with no extra decay).
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd

from qresearch._validation import check_choice, check_number
from qresearch.data.bars import Bars
from qresearch.exceptions import ParameterError
from qresearch.features._common import check_bars, check_int, float_panel, stack_fields, wilder
from qresearch.features._nb import wilder_seeded_nb

__all__ = ["adx", "atr", "bollinger", "ema", "macd", "rsi", "sma", "stochastic"]

WilderSeed: TypeAlias = Literal["first", "sma"]
"""How Wilder smoothing is seeded: with the first value or with a simple mean (TA-Lib)."""


def _check_seed(seed: Any, func: str) -> WilderSeed:
    # The 'seed' option of rsi, atr and adx.
    check_choice("seed", seed, ["first", "sma"], func)
    return "sma" if seed == "sma" else "first"


def _wilder_sma(x: pd.DataFrame, window: int, seed_count: int) -> pd.DataFrame:
    # TA-Lib's Wilder smoothing (see _nb.wilder_seeded_py): the numba kernel on a
    # contiguous float64 copy, re-wrapped with the input's index and columns.
    values = np.ascontiguousarray(x.to_numpy(dtype=np.float64))
    out = wilder_seeded_nb(values, window, seed_count, np.empty_like(values))
    return pd.DataFrame(out, index=x.index, columns=x.columns)


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


def rsi(close: pd.DataFrame, window: int = 14, *, seed: WilderSeed = "first") -> pd.DataFrame:
    """Compute Wilder's relative strength index (0 to 100).

    Parameters
    ----------
    close : pandas.DataFrame
        Price panel (dates x symbols).
    window : int, default 14
        Wilder smoothing length (``alpha = 1 / window``).
    seed : {"first", "sma"}, default "first"
        ``"first"`` seeds the averages with the first change; ``"sma"`` with the
        mean of the first ``window`` changes, as TA-Lib (see the module notes).

    Returns
    -------
    pandas.DataFrame
        ``100 * avg_gain / (avg_gain + avg_loss)``, same index and columns; 50 when
        both averages are zero (flat prices); NaN until ``window`` price changes.

    Notes
    -----
    ``change_t = close_t - close_{t-1}``; gains are ``max(change, 0)``, losses
    ``max(-change, 0)``. Both are Wilder-smoothed. With ``seed="first"`` they are
    seeded with the *first change* (pandas ``ewm(alpha=1/window, adjust=False,
    min_periods=window)``); on the bundled data this is within 5.6e-3 RSI points of
    TA-Lib from row ``10 * window`` on and within 1e-10 from ``30 * window``. With
    ``seed="sma"`` they are seeded with the average of the first ``window`` changes
    and equal TA-Lib's RSI to 1e-10 (except flat prices: 50 here, 0 in TA-Lib).
    No look-ahead with either seed.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2020-01-01", periods=4, name="timestamp")
    >>> close = pd.DataFrame({"A": [10.0, 11.0, 10.0, 12.0]}, index=idx)
    >>> rsi(close, window=2)["A"].round(4).tolist()
    [nan, nan, 50.0, 83.3333]
    >>> close = pd.DataFrame({"A": [10.0, 11.0, 10.0, 12.0, 11.0]},
    ...                      index=pd.date_range("2020-01-01", periods=5, name="timestamp"))
    >>> rsi(close, window=3)["A"].round(4).tolist()
    [nan, nan, nan, 83.3333, 60.6061]
    >>> rsi(close, window=3, seed="sma")["A"].round(4).tolist()  # TA-Lib's values
    [nan, nan, nan, 75.0, 54.5455]
    """
    prices = float_panel(close, "close")
    window = check_int("window", window, "rsi")
    seed = _check_seed(seed, "rsi")
    change = prices - prices.shift(1)
    gains, losses = change.clip(lower=0.0), (-change).clip(lower=0.0)
    if seed == "sma":
        gain = _wilder_sma(gains, window, window)
        loss = _wilder_sma(losses, window, window)
    else:
        gain = wilder(gains, window)
        loss = wilder(losses, window)
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


def atr(bars: Bars, window: int = 14, *, seed: WilderSeed = "first") -> pd.DataFrame:
    """Compute Wilder's average true range.

    Parameters
    ----------
    bars : qresearch.data.Bars
        OHLC bars (high, low and close are used).
    window : int, default 14
        Wilder smoothing length (``alpha = 1 / window``).
    seed : {"first", "sma"}, default "first"
        ``"first"`` seeds the average with the first true range (first bar
        included); ``"sma"`` with the mean of the first ``window`` true ranges from
        the second bar on, as TA-Lib (see the module notes).

    Returns
    -------
    pandas.DataFrame
        Same index and columns as ``bars.close``; NaN until ``window`` true ranges
        (rows ``0 .. window - 2`` of a symbol with ``seed="first"``, ``0 .. window - 1``
        with ``seed="sma"``).

    Notes
    -----
    True range is ``max(high - low, |high - prev_close|, |low - prev_close|)``,
    ``high - low`` on the first bar (no previous close), which ``seed="sma"`` leaves
    out. With ``seed="first"`` the result is within 6e-4 (relative) of TA-Lib's ATR
    from row ``10 * window`` on, on the bundled data, and within 1e-10 from
    ``30 * window``; with ``seed="sma"`` it equals TA-Lib's ATR to 1e-10. No
    look-ahead with either seed.

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
    >>> atr(bars, window=2, seed="sma")["A"].tolist()
    [nan, nan, 2.5]
    """
    check_bars(bars, "atr")
    window = check_int("window", window, "atr")
    seed = _check_seed(seed, "atr")
    tr = _true_range(bars)
    if seed == "sma":
        # TA-Lib's true range starts at the second bar (it needs a previous close).
        has_prev = bars.close.astype("float64").shift(1).notna()
        return _wilder_sma(tr.where(has_prev), window, window)
    return wilder(tr, window)


def adx(bars: Bars, window: int = 14, *, seed: WilderSeed = "first") -> pd.DataFrame:
    """Compute Wilder's average directional index (0 to 100).

    Parameters
    ----------
    bars : qresearch.data.Bars
        OHLC bars (high, low and close are used).
    window : int, default 14
        Wilder smoothing length for the directional indicators and for ADX.
    seed : {"first", "sma"}, default "first"
        ``"first"`` seeds each smoothing with its first value; ``"sma"`` follows
        TA-Lib (see the Notes).

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
    are 0) and ``ADX = wilder(DX)``.

    With ``seed="first"`` each smoothing is seeded with its first value; on the
    bundled data the result is within 5.8e-3 ADX points of TA-Lib from row
    ``10 * window`` on, 5.9e-7 from ``20 * window`` and 1e-10 from ``30 * window``.
    With ``seed="sma"`` the smoothed DM and TR are seeded with the sums of their
    first ``window - 1`` values, DX is reported from the ``window``-th one, and ADX
    starts as the mean of the first ``window`` DX values: TA-Lib's rules, equal to
    its ADX to 1e-10 (a bar with ``+DI + -DI = 0`` has DX 0 here, while TA-Lib keeps
    the previous ADX). With ``seed="sma"`` a bar without DM (a halt) gives no DX and
    the ADX repeats. No look-ahead with either seed.

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
    >>> adx(bars, window=2, seed="sma")["A"].tolist()
    [nan, nan, nan, 100.0]
    """
    check_bars(bars, "adx")
    window = check_int("window", window, "adx")
    seed = _check_seed(seed, "adx")
    high = bars.high.astype("float64")
    low = bars.low.astype("float64")
    up = high - high.shift(1)
    down = low.shift(1) - low
    plus_dm = up.where((up > down) & (up > 0.0), 0.0).where(up.notna() & down.notna())
    minus_dm = down.where((down > up) & (down > 0.0), 0.0).where(up.notna() & down.notna())
    tr = _true_range(bars).where(plus_dm.notna())
    if seed == "sma":
        # TA-Lib: sums of the first window - 1 values (scaled by 1/window here, which
        # the DI ratios cancel), one Wilder step before the first DX.
        tr_s = _wilder_sma(tr, window, window - 1)
        plus_s = _wilder_sma(plus_dm, window, window - 1)
        minus_s = _wilder_sma(minus_dm, window, window - 1)
    else:
        tr_s = wilder(tr, window)
        plus_s = wilder(plus_dm, window)
        minus_s = wilder(minus_dm, window)
    tr_s = tr_s.where(tr_s > 0.0)
    plus_di = 100.0 * plus_s / tr_s
    minus_di = 100.0 * minus_s / tr_s
    total = plus_di + minus_di
    dx = (100.0 * (plus_di - minus_di).abs() / total.where(total > 0.0)).mask(total == 0.0, 0.0)
    if seed == "sma":
        # DX only on bars with a new DM, from the window-th one on.
        ready = plus_dm.notna() & (plus_dm.notna().cumsum() >= window)
        return _wilder_sma(dx.where(ready), window, window)
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
