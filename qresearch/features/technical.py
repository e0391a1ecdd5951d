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
    (TA-Lib keeps the previous ADX). The step is
    :func:`qresearch.features._nb_windows.wilder_sma_step_py`.

- A NaN inside a series (a halt): with ``seed="first"`` it follows pandas'
  ``ignore_na=False`` rule (the observation is skipped but still counts in the decay
  of older weights); with ``seed="sma"`` it is skipped (the row repeats the last
  average and the next value continues the recursion, with no extra decay).

Versus TA-Lib (0.8.2; ``tests/features/test_kernels.py`` and
``benchmarks/bench_features.py``), on gap-free series:

- ``bollinger`` = ``BBANDS(matype=0)`` (both use the population std) to ~1e-12
  relative; ``stochastic`` = ``STOCHF(fastd_matype=0)`` %K and %D to ~1e-13, from
  the row where TA-Lib's %D starts (TA-Lib reports %K only from there too); a zero
  high-low range gives NaN here and 0 in TA-Lib.
- ``ema`` and ``macd`` differ by their seed: TA-Lib starts an EMA from the mean of
  its first ``span`` values (and MACD's fast EMA where the slow one starts), here
  from the first value; the gap decays as ``(1 - alpha)^n`` (measured 8e-16
  relative for EMA(20) after 30 spans, 5e-9 of the price for MACD(12, 26, 9) after
  30 slow spans).
- ``rsi``, ``atr``, ``adx``: see the two seeds above (``seed="sma"`` equals TA-Lib
  to 1e-10).

Every indicator runs as one numba kernel over the whole panel
(:mod:`qresearch.features._nb_windows`, compiled on first use), column by column.
The kernels repeat pandas' own algorithms operation by operation (``ewm``,
``rolling().mean()/.var()/.max()/.min()``), so the results are those of the pandas
expressions given in each docstring, bit for bit on the tested data
(``tests/features/test_kernels.py``).
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

import pandas as pd

from qresearch._typing import Float64Array
from qresearch._validation import check_choice, check_number
from qresearch.data.bars import Bars
from qresearch.exceptions import ParameterError
from qresearch.features._common import (
    check_bars,
    check_int,
    column_major,
    empty_like_panel,
    ewm_weights,
    float_panel,
    wrap,
    wrap_fields,
)
from qresearch.features._nb import kernel

__all__ = ["adx", "atr", "bollinger", "ema", "macd", "rsi", "sma", "stochastic"]

WilderSeed: TypeAlias = Literal["first", "sma"]
"""How Wilder smoothing is seeded: with the first value or with a simple mean (TA-Lib)."""


def _check_seed(seed: Any, func: str) -> WilderSeed:
    # The 'seed' option of rsi, atr and adx.
    check_choice("seed", seed, ["first", "sma"], func)
    return "sma" if seed == "sma" else "first"


def _ohlc(bars: Bars) -> tuple[Float64Array, Float64Array, Float64Array]:
    # High, low and close as Fortran-ordered float64 arrays for the kernels.
    return column_major(bars.high), column_major(bars.low), column_major(bars.close)


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
    alpha, com_is_one = ewm_weights(span=span)
    out = empty_like_panel(prices)
    kernel("ema")(column_major(prices), alpha, com_is_one, span, out)
    return wrap(out, prices)


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
    # pandas: change = close.diff(); gains = change.clip(lower=0), losses =
    # (-change).clip(lower=0), each ewm(alpha=1/window, adjust=False,
    # min_periods=window).mean() (or TA-Lib's seed); 100 * gain / (gain + loss).
    alpha, com_is_one = ewm_weights(alpha=1.0 / window)
    out = empty_like_panel(prices)
    kernel("rsi")(column_major(prices), window, alpha, com_is_one, seed == "sma", out)
    return wrap(out, prices)


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
    # pandas: line = ema(fast) - ema(slow); sig = line.ewm(span=signal, adjust=False,
    # min_periods=signal).mean(); hist = line - sig.
    n = prices.shape[1]
    out = empty_like_panel(prices, 3)
    kernel("macd")(
        column_major(prices),
        fast,
        *ewm_weights(span=fast),
        slow,
        *ewm_weights(span=slow),
        signal,
        *ewm_weights(span=signal),
        out[:, :n],
        out[:, n : 2 * n],
        out[:, 2 * n :],
    )
    return wrap_fields(out, ["macd", "signal", "hist"], prices)


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
    # pandas: roll = close.rolling(window, min_periods=window); mid = roll.mean();
    # std = roll.std(ddof=0); upper/lower = mid +/- k * std;
    # pct_b = (close - lower) / (upper - lower) where upper - lower > 0.
    n = prices.shape[1]
    out = empty_like_panel(prices, 4)
    kernel("bollinger")(
        column_major(prices),
        window,
        float(k),
        out[:, :n],
        out[:, n : 2 * n],
        out[:, 2 * n : 3 * n],
        out[:, 3 * n :],
    )
    return wrap_fields(out, ["mid", "upper", "lower", "pct_b"], prices)


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
    # True range: max(high - low, |high - prev_close|, |low - prev_close|) with NaN
    # ignored (np.fmax), NaN where high - low is; then ewm(alpha=1/window,
    # adjust=False, min_periods=window).mean(). TA-Lib's true range (seed="sma")
    # starts at the second bar: it needs a previous close.
    alpha, com_is_one = ewm_weights(alpha=1.0 / window)
    out = empty_like_panel(bars.close)
    kernel("atr")(*_ohlc(bars), window, alpha, com_is_one, seed == "sma", out)
    return wrap(out, bars.close)


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
    # DM from the high and low differences, TR where both DM exist; the three are
    # Wilder-smoothed (TA-Lib, seed="sma": sums of the first window - 1 values, one
    # step before the first DX, scaled by 1/window, which the DI ratios cancel);
    # DI = 100 * DM_s / TR_s (TR_s > 0), DX = 100 |+DI - -DI| / (+DI + -DI) (0 when
    # the sum is 0), ADX = Wilder(DX) (seed="sma": DX only on bars with a new DM,
    # from the window-th one on, averaged over the first window of them).
    alpha, com_is_one = ewm_weights(alpha=1.0 / window)
    out = empty_like_panel(bars.close)
    kernel("adx")(*_ohlc(bars), window, alpha, com_is_one, seed == "sma", out)
    return wrap(out, bars.close)


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
    # pandas: highest = high.rolling(k, min_periods=k).max(), lowest likewise with
    # min(); pct_k = 100 * (close - lowest) / (highest - lowest) where the range is
    # positive; pct_d = pct_k.rolling(d, min_periods=d).mean().
    n = bars.close.shape[1]
    out = empty_like_panel(bars.close, 2)
    kernel("stochastic")(*_ohlc(bars), k, d, out[:, :n], out[:, n:])
    return wrap_fields(out, ["k", "d"], bars.close)
