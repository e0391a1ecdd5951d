"""Rolling and exponentially weighted volatility, z-scores, beta and correlation.

All statistics use a trailing window ending at t (inclusive) and need a full window
(``min_periods=window``): there is no look-ahead and no partial-window estimate.

:func:`rolling_volatility` and :func:`rolling_zscore` run as numba kernels over the
whole panel (:mod:`qresearch.features._nb_windows`) that repeat pandas' rolling
algorithms operation by operation: the results are those of the pandas expressions
in their docstrings.
"""

from __future__ import annotations

import math

import pandas as pd

from qresearch._compat import renamed_parameters
from qresearch._validation import check_periods_per_year, check_prices, invalid_prices
from qresearch.features._common import (
    benchmark_returns,
    check_int,
    column_major,
    empty_like_panel,
    float_panel,
    wrap,
)
from qresearch.features._nb import kernel

__all__ = [
    "ewm_volatility",
    "rolling_beta",
    "rolling_correlation",
    "rolling_volatility",
    "rolling_zscore",
]


def _simple_returns(prices: pd.DataFrame) -> pd.DataFrame:
    # One-row simple returns, NaN where either price is missing.
    return prices / prices.shift(1) - 1.0


def _paired_returns(
    close: pd.DataFrame, benchmark: pd.Series, window: int, func: str
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    # Validate, then return the symbols' returns, the benchmark's returns broadcast to the
    # same columns, and the checked window.
    prices = float_panel(close, "close")
    window = check_int("window", window, func, minimum=2)
    rb = benchmark_returns(benchmark, prices.index, func)
    rets = _simple_returns(prices)
    rb_panel = pd.DataFrame({c: rb for c in rets.columns}, index=rets.index)
    rb_panel.columns = rets.columns
    return rets, rb_panel, window


@renamed_parameters(annualize="periods_per_year")
def rolling_volatility(
    close: pd.DataFrame, window: int = 20, periods_per_year: float | None = None
) -> pd.DataFrame:
    """Compute the rolling standard deviation of one-row simple returns.

    Parameters
    ----------
    close : pandas.DataFrame
        Price panel (dates x symbols).
    window : int, default 20
        Number of returns in the window (>= 2).
    periods_per_year : float, optional
        Rows per year (e.g. 252 for daily rows); the result is multiplied by its
        square root (annualized). None returns the per-period volatility. Formerly
        ``annualize`` (deprecated alias, removed in the next release).

    Returns
    -------
    pandas.DataFrame
        Sample standard deviation (``ddof=1``), same index and columns as ``close``;
        NaN until ``window`` returns are available and when a return in the window is NaN.

    Raises
    ------
    DataValidationError
        When a price is present but not finite and positive (a simple return needs one
        on both sides); the message names the first, its symbol and timestamp.

    Notes
    -----
    No look-ahead: the value at t uses the returns ending at ``t - window + 1 .. t``.
    Equal to ``(close / close.shift(1) - 1).rolling(window).std()`` (pandas' own
    algorithm, run by a numba kernel) and to TA-Lib's ``STDDEV(ROCP(close, 1),
    window) * sqrt(window / (window - 1))`` (TA-Lib's std is the population one) to
    ~1e-13 relative.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2020-01-01", periods=4, name="timestamp")
    >>> close = pd.DataFrame({"A": [100.0, 110.0, 99.0, 99.0]}, index=idx)
    >>> rolling_volatility(close, window=2)["A"].round(6).tolist()
    [nan, nan, 0.141421, 0.070711]
    """
    prices = float_panel(close, "close")
    window = check_int("window", window, "rolling_volatility", minimum=2)
    ppy = check_periods_per_year(periods_per_year, "rolling_volatility", allow_none=True)
    # pandas: (close / close.shift(1) - 1).rolling(window, min_periods=window).std(),
    # times sqrt(periods_per_year).
    scale = math.nan if ppy is None else math.sqrt(ppy)
    out = empty_like_panel(prices)
    values = column_major(prices)
    if kernel("rolling_volatility")(values, window, scale, out):
        # a simple return needs a finite positive price on both sides
        bad = invalid_prices({"close": values}, prices.index, prices.columns)
        check_prices(bad, "rolling_volatility")
    return wrap(out, prices)


def ewm_volatility(
    close: pd.DataFrame, span: int = 20, *, min_periods: int | None = None
) -> pd.DataFrame:
    """Compute the exponentially weighted standard deviation of one-row simple returns.

    Parameters
    ----------
    close : pandas.DataFrame
        Price panel (dates x symbols).
    span : int, default 20
        Decay in terms of span: ``alpha = 2 / (span + 1)`` (>= 2).
    min_periods : int, optional
        Returns needed before a value is given (default ``span``; 0 gives a value
        from the second return on, as ``qr.labels.daily_volatility`` does).

    Returns
    -------
    pandas.DataFrame
        ``returns.ewm(span=span, min_periods=min_periods).std()`` (pandas'
        bias-corrected, ``adjust=True`` weighting), same index and columns.

    Notes
    -----
    No look-ahead: the weights cover returns up to t only.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2020-01-01", periods=4, name="timestamp")
    >>> close = pd.DataFrame({"A": [100.0, 110.0, 99.0, 99.0]}, index=idx)
    >>> ewm_volatility(close, span=2)["A"].round(6).tolist()
    [nan, nan, 0.141421, 0.078446]
    """
    prices = float_panel(close, "close")
    span = check_int("span", span, "ewm_volatility", minimum=2)
    if min_periods is None:
        min_periods = span
    min_periods = check_int("min_periods", min_periods, "ewm_volatility", minimum=0)
    return _simple_returns(prices).ewm(span=span, min_periods=min_periods).std()


def rolling_zscore(x: pd.DataFrame, window: int) -> pd.DataFrame:
    """Standardize each value by the mean and standard deviation of its trailing window.

    Parameters
    ----------
    x : pandas.DataFrame
        Any numeric panel (prices, returns, a feature).
    window : int
        Rows in the window, including t (>= 2).

    Returns
    -------
    pandas.DataFrame
        ``(x - rolling_mean) / rolling_std`` (``ddof=1``); NaN until a full window
        and where the window's standard deviation is zero.

    Notes
    -----
    No look-ahead: the window ends at t and includes it. Computed by a numba kernel
    that runs pandas' own rolling mean and variance algorithms: the values are those
    of ``(x - x.rolling(window).mean()) / x.rolling(window).std()``.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2020-01-01", periods=4, name="timestamp")
    >>> x = pd.DataFrame({"A": [1.0, 2.0, 3.0, 1.0]}, index=idx)
    >>> rolling_zscore(x, window=3)["A"].round(6).tolist()
    [nan, nan, 1.0, -1.0]
    """
    values = float_panel(x, "x")
    window = check_int("window", window, "rolling_zscore", minimum=2)
    # pandas: roll = x.rolling(window, min_periods=window);
    # (x - roll.mean()) / roll.std() where the std is positive.
    out = empty_like_panel(values)
    kernel("rolling_zscore")(column_major(values), window, out)
    return wrap(out, values)


def rolling_beta(close: pd.DataFrame, benchmark: pd.Series, window: int = 60) -> pd.DataFrame:
    """Compute the rolling beta of each symbol's returns on the benchmark's returns.

    Parameters
    ----------
    close : pandas.DataFrame
        Price panel (dates x symbols).
    benchmark : pandas.Series
        Benchmark prices on exactly the same index as ``close``.
    window : int, default 60
        Number of returns in the window (>= 2).

    Returns
    -------
    pandas.DataFrame
        ``cov(r, r_b) / var(r_b)`` over the trailing window of one-row simple returns;
        NaN until a full window of paired returns.

    Raises
    ------
    AlignmentError
        When ``benchmark`` is not on the index of ``close``.

    Notes
    -----
    No look-ahead: the window ends at t.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2020-01-01", periods=4, name="timestamp")
    >>> bench = pd.Series([100.0, 101.0, 99.0, 102.0], index=idx)
    >>> close = pd.DataFrame({"A": 2 * bench - 100.0}, index=idx)
    >>> rolling_beta(close, bench, window=3)["A"].round(6).tolist()
    [nan, nan, nan, 2.003284]
    """
    rets, rb_panel, window = _paired_returns(close, benchmark, window, "rolling_beta")
    cov = rets.rolling(window, min_periods=window).cov(rb_panel)
    var = rb_panel.where(rets.notna()).rolling(window, min_periods=window).var()
    return cov / var.where(var > 0.0)


def rolling_correlation(
    close: pd.DataFrame, benchmark: pd.Series, window: int = 60
) -> pd.DataFrame:
    """Compute the rolling correlation of each symbol's returns with the benchmark's.

    Parameters
    ----------
    close : pandas.DataFrame
        Price panel (dates x symbols).
    benchmark : pandas.Series
        Benchmark prices on exactly the same index as ``close``.
    window : int, default 60
        Number of returns in the window (>= 2).

    Returns
    -------
    pandas.DataFrame
        Pearson correlation of one-row simple returns over the trailing window; NaN
        until a full window of paired returns.

    Raises
    ------
    AlignmentError
        When ``benchmark`` is not on the index of ``close``.

    Notes
    -----
    No look-ahead: the window ends at t.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2020-01-01", periods=4, name="timestamp")
    >>> bench = pd.Series([100.0, 101.0, 99.0, 102.0], index=idx)
    >>> close = pd.DataFrame({"A": [10.0, 11.0, 12.0, 11.0]}, index=idx)
    >>> rolling_correlation(close, bench, window=3)["A"].round(6).tolist()
    [nan, nan, nan, -0.77969]
    """
    rets, rb_panel, window = _paired_returns(close, benchmark, window, "rolling_correlation")
    return rets.rolling(window, min_periods=window).corr(rb_panel)
