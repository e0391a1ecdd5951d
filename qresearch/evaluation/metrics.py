"""Performance metrics of returns, with quantstats' definitions.

Every function but :func:`trade_stats` follows one rule:

- a **Series** (one portfolio) in: a float out (:func:`stats`: a Series of statistics,
  :func:`drawdown`: a Series);
- a **DataFrame** (one column per portfolio, e.g. a sweep's ``BacktestResult.returns``)
  in: one value per column, as a Series indexed by the columns (:func:`stats`: a
  DataFrame with one column per portfolio, :func:`drawdown`: a DataFrame).

Returns are simple periodic returns; NaN rows are skipped, column by column. The
index must be unique and sorted (rows in time order; a :class:`PanelError` says how to
fix it otherwise), returns must be numeric and finite, ``periods_per_year`` a finite
number > 0 (252 daily, 52 weekly, 12 monthly), ``risk_free`` an annual rate > -1 and
``confidence`` in (0, 1); every check runs through :mod:`qresearch._validation`.

Definitions; where quantstats (0.0.86) defines the same metric the value is the same
(tested against quantstats on the bundled data):

- total return: ``prod(1 + r) - 1``;
- CAGR: ``(1 + total) ** (periods_per_year / n) - 1`` with ``n`` the number of returns
  (``inf`` when that growth exceeds the float range, e.g. +1e6x in three days);
- volatility: ``std(r, ddof=1) * sqrt(periods_per_year)``;
- Sharpe: ``mean(x) / std(x, ddof=1) * sqrt(periods_per_year)`` on excess returns
  ``x = r - rf_p`` with the per-period risk-free ``rf_p = (1 + risk_free) ** (1 /
  periods_per_year) - 1`` (``risk_free`` annual);
- Sortino: ``mean(x) / sqrt(sum(x[x < 0] ** 2) / n) * sqrt(periods_per_year)``;
- max drawdown: the lowest ``equity / running_max(equity) - 1`` of the compounded
  curve started at 1 before the first return (so a first-day loss counts);
- Calmar: ``CAGR / |max drawdown|``;
- skew and kurtosis: pandas' bias-corrected sample skew and excess kurtosis;
- VaR (``var``, quantstats ``value_at_risk``): the normal (variance-covariance) VaR
  ``mean(r) + std(r, ddof=1) * Phi^-1(1 - confidence)``;
- CVaR (``cvar``, quantstats ``conditional_value_at_risk``, default ``"parametric"``):
  the normal expected shortfall ``mean(r) - std(r, ddof=1) * phi(z) / (1 -
  confidence)`` with ``z = Phi^-1(1 - confidence)``;
- historical VaR / CVaR (``var_historical``, ``cvar_historical``; quantstats
  ``conditional_value_at_risk(method="historical")``): the ``1 - confidence`` empirical
  quantile (linear interpolation), and the mean of the returns at or below it;
- win rate: positive returns / non-zero returns.

Undefined values are NaN, never a huge number, for these documented reasons:

- **no dispersion**: a standard deviation at most ``DISPERSION_RTOL`` (1e-10) times the
  largest ``|r|`` (or ``|rf_p|``) is zero: constant returns, all-zero returns
  included, have volatility 0, Sharpe NaN (quantstats divides the ~1e-18 rounding
  residue and reports ~1e17), VaR and CVaR equal to the mean;
- **no downside**: Sortino is NaN when no excess return is negative (same tolerance);
- **no drawdown**: Calmar is NaN when the equity never falls below a peak;
- **no non-zero return**: win rate is NaN (quantstats reports 0);
- **too few returns**: volatility, Sharpe, VaR and CVaR need 2, skew 3 and kurtosis 4
  non-NaN returns (skew and kurtosis are also NaN without dispersion, as in pandas);
- **negative wealth**: CAGR (and Calmar) is NaN when ``prod(1 + r) < 0``.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any, Literal

import numpy as np
import pandas as pd

from qresearch._validation import (
    check_choice,
    check_number,
    check_open_interval,
    check_periods_per_year,
    check_returns,
)
from qresearch.exceptions import ParameterError

__all__ = [
    "DISPERSION_RTOL",
    "cagr",
    "calmar",
    "cvar",
    "drawdown",
    "max_drawdown",
    "sharpe",
    "sortino",
    "stats",
    "total_return",
    "trade_stats",
    "value_at_risk",
    "volatility",
]

DISPERSION_RTOL = 1e-10
"""A standard deviation at most this times the largest ``|return|`` counts as zero."""

RiskMethod = Literal["parametric", "historical"]
_RISK_METHODS = ("parametric", "historical")


# -- boundary helpers -------------------------------------------------------------


def _frame(returns: Any, func: str) -> tuple[pd.DataFrame, bool]:
    # Validated float64 returns, one column per portfolio, and whether a Series came in.
    return check_returns(returns, "returns", func)


def _periods(periods_per_year: Any, func: str) -> float:
    # The one periods_per_year rule of the package (finite and > 0).
    return float(check_periods_per_year(periods_per_year, func) or 0.0)


def _risk_free(risk_free: Any, func: str) -> float:
    return check_number("risk_free", risk_free, func, minimum=-1.0)


def _confidence(confidence: Any, func: str) -> float:
    return check_open_interval("confidence", confidence, func, low=0.0, high=1.0)


def _wrap(values: pd.Series, is_series: bool, name: str) -> float | pd.Series:
    # Series in -> a float; DataFrame in -> one float per column, named after the metric.
    if is_series:
        return float(values.iloc[0])
    return pd.Series(values.to_numpy(dtype="float64"), index=values.index, name=name)


def _check_periods(periods_per_year: Any, func: str = "rolling_sharpe") -> float:
    # Used by plots: the periods_per_year check of this module.
    return _periods(periods_per_year, func)


def _clean(returns: Any, name: str = "returns") -> pd.Series:
    # Used by plots (which checks the index itself): one float Series, NaN rows dropped.
    if isinstance(returns, pd.DataFrame):
        if returns.shape[1] != 1:
            raise ParameterError(
                f"{name} must be one return series; got a DataFrame with {returns.shape[1]} "
                "columns. Pass one column."
            )
        returns = returns.iloc[:, 0]
    if not isinstance(returns, pd.Series):
        raise ParameterError(
            f"{name} must be a pandas Series of returns; got {type(returns).__name__}."
        )
    r = returns.astype("float64")
    if np.isinf(r.to_numpy()).any():
        first = r.index[np.isinf(r.to_numpy())][0]
        raise ParameterError(f"{name} has an infinite return at {first}; fix the input data.")
    return r.dropna()


# -- per-column kernels on a validated float64 frame (NaN skipped per column) ---------


def _per_period_rf(risk_free: float, p: float) -> float:
    return (1.0 + risk_free) ** (1.0 / p) - 1.0


def _scale(f: pd.DataFrame, rf_p: float = 0.0) -> pd.Series:
    # The magnitude that a standard deviation is compared with (DISPERSION_RTOL).
    return np.maximum(f.abs().max(), abs(rf_p))


def _std(x: pd.DataFrame, scale: pd.Series) -> pd.Series:
    # ddof=1 standard deviation; rounding residue of constant returns snaps to 0.
    sd = x.std(ddof=1)
    return sd.mask(sd <= DISPERSION_RTOL * scale, 0.0)


def _total_return(f: pd.DataFrame) -> pd.Series:
    return ((1.0 + f).prod() - 1.0).where(f.count() > 0)


def _cagr(f: pd.DataFrame, p: float) -> pd.Series:
    n = f.count()
    wealth = (1.0 + f).prod()
    wealth = wealth.where((n > 0) & (wealth >= 0))
    return wealth ** (p / n.where(n > 0)) - 1.0


def _volatility(f: pd.DataFrame, p: float) -> pd.Series:
    return _std(f, _scale(f)) * math.sqrt(p)


def _sharpe(f: pd.DataFrame, p: float, risk_free: float) -> pd.Series:
    rf_p = _per_period_rf(risk_free, p)
    x = f - rf_p
    sd = _std(x, _scale(f, rf_p))
    return x.mean() / sd.where(sd > 0) * math.sqrt(p)


def _sortino(f: pd.DataFrame, p: float, risk_free: float) -> pd.Series:
    rf_p = _per_period_rf(risk_free, p)
    x = f - rf_p
    downside = np.sqrt((x.clip(upper=0.0) ** 2).sum() / x.count())
    downside = downside.mask(downside <= DISPERSION_RTOL * _scale(f, rf_p), 0.0)
    return x.mean() / downside.where(downside > 0) * math.sqrt(p)


def _drawdown(f: pd.DataFrame) -> pd.DataFrame:
    # The running peak starts at the initial equity 1: a first-period loss is a drawdown.
    equity = (1.0 + f).cumprod()
    return equity / equity.clip(lower=1.0).cummax() - 1.0


def _max_drawdown(f: pd.DataFrame) -> pd.Series:
    return _drawdown(f).min().clip(upper=0.0)


def _calmar(f: pd.DataFrame, p: float) -> pd.Series:
    mdd = _max_drawdown(f)
    return _cagr(f, p) / mdd.abs().where(mdd < 0)


def _value_at_risk(f: pd.DataFrame, confidence: float, method: str) -> pd.Series:
    alpha = 1.0 - confidence
    if method == "historical":
        return f.quantile(alpha)
    return f.mean() + _std(f, _scale(f)) * NormalDist().inv_cdf(alpha)


def _cvar(f: pd.DataFrame, confidence: float, method: str) -> pd.Series:
    alpha = 1.0 - confidence
    if method == "historical":
        return f.where(f.le(f.quantile(alpha), axis="columns")).mean()
    z = NormalDist().inv_cdf(alpha)
    density = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return f.mean() - _std(f, _scale(f)) * density / alpha


def _win_rate(f: pd.DataFrame) -> pd.Series:
    nonzero = (f.notna() & f.ne(0.0)).sum()
    return f.gt(0.0).sum() / nonzero.where(nonzero > 0)


# -- public metrics -------------------------------------------------------------------


def total_return(returns: pd.Series | pd.DataFrame) -> float | pd.Series:
    """Return the compounded total return ``prod(1 + r) - 1``.

    A float for a Series, a Series (one value per column) for a DataFrame; NaN
    without returns.
    """
    f, is_series = _frame(returns, "total_return")
    return _wrap(_total_return(f), is_series, "total_return")


def cagr(returns: pd.Series | pd.DataFrame, periods_per_year: float = 252) -> float | pd.Series:
    """Return the compound annual growth rate (quantstats ``cagr``).

    A float for a Series, a Series (one value per column) for a DataFrame; NaN when
    the wealth ``prod(1 + r)`` is negative.

    Examples
    --------
    >>> import pandas as pd
    >>> round(cagr(pd.Series([0.1, 0.1]), periods_per_year=1), 12)  # two years of +10%
    0.1
    """
    p = _periods(periods_per_year, "cagr")
    f, is_series = _frame(returns, "cagr")
    return _wrap(_cagr(f, p), is_series, "cagr")


def volatility(
    returns: pd.Series | pd.DataFrame, periods_per_year: float = 252
) -> float | pd.Series:
    """Return the annualized standard deviation (ddof=1).

    A float for a Series, a Series (one value per column) for a DataFrame; exactly 0
    for constant returns (see ``DISPERSION_RTOL``), NaN with fewer than 2 returns.
    """
    p = _periods(periods_per_year, "volatility")
    f, is_series = _frame(returns, "volatility")
    return _wrap(_volatility(f, p), is_series, "volatility")


def sharpe(
    returns: pd.Series | pd.DataFrame, periods_per_year: float = 252, risk_free: float = 0.0
) -> float | pd.Series:
    """Return the annualized Sharpe ratio of excess returns (quantstats ``sharpe``).

    A float for a Series, a Series (one value per column) for a DataFrame. NaN
    without dispersion (constant returns, all-zero included: the standard deviation
    is at most ``DISPERSION_RTOL`` times the largest ``|r|``) or with fewer than 2
    returns.

    Examples
    --------
    >>> import pandas as pd
    >>> r = pd.Series([0.01, -0.02, 0.03, -0.01, 0.02])
    >>> round(sharpe(r, periods_per_year=1), 6)  # mean 0.006 / std 0.020736
    0.289346
    >>> sharpe(pd.Series([0.01] * 5))  # no dispersion
    nan
    >>> sharpe(pd.DataFrame({"a": r, "b": -r}), periods_per_year=1).round(6).to_dict()
    {'a': 0.289346, 'b': -0.289346}
    """
    p = _periods(periods_per_year, "sharpe")
    rf = _risk_free(risk_free, "sharpe")
    f, is_series = _frame(returns, "sharpe")
    return _wrap(_sharpe(f, p, rf), is_series, "sharpe")


def sortino(
    returns: pd.Series | pd.DataFrame, periods_per_year: float = 252, risk_free: float = 0.0
) -> float | pd.Series:
    """Return the annualized Sortino ratio (downside deviation over all periods).

    A float for a Series, a Series (one value per column) for a DataFrame; NaN
    without a negative excess return.
    """
    p = _periods(periods_per_year, "sortino")
    rf = _risk_free(risk_free, "sortino")
    f, is_series = _frame(returns, "sortino")
    return _wrap(_sortino(f, p, rf), is_series, "sortino")


def drawdown(returns: pd.Series | pd.DataFrame) -> pd.Series | pd.DataFrame:
    """Return the drawdown ``equity / running_max(equity) - 1`` (<= 0).

    The running maximum starts at the initial equity 1, so a loss on the first
    period is a drawdown. A Series in: a Series on the index of its non-NaN returns,
    named ``"drawdown"``. A DataFrame in: a DataFrame with the same index and
    columns, NaN where the return is NaN.
    """
    f, is_series = _frame(returns, "drawdown")
    dd = _drawdown(f)
    if is_series:
        return dd.iloc[:, 0].dropna().rename("drawdown")
    return dd


def max_drawdown(returns: pd.Series | pd.DataFrame) -> float | pd.Series:
    """Return the largest drawdown as a negative fraction (0 when never below a peak).

    A float for a Series, a Series (one value per column) for a DataFrame.
    """
    f, is_series = _frame(returns, "max_drawdown")
    return _wrap(_max_drawdown(f), is_series, "max_drawdown")


def calmar(returns: pd.Series | pd.DataFrame, periods_per_year: float = 252) -> float | pd.Series:
    """Return ``CAGR / |max drawdown|``.

    A float for a Series, a Series (one value per column) for a DataFrame; NaN
    without a drawdown.
    """
    p = _periods(periods_per_year, "calmar")
    f, is_series = _frame(returns, "calmar")
    return _wrap(_calmar(f, p), is_series, "calmar")


def value_at_risk(
    returns: pd.Series | pd.DataFrame,
    confidence: float = 0.95,
    method: RiskMethod = "parametric",
) -> float | pd.Series:
    """Return the value at risk, as quantstats ``value_at_risk`` by default.

    Parameters
    ----------
    returns : Series or DataFrame
        Simple periodic returns of one portfolio (Series) or one per column
        (DataFrame), on a unique sorted index; NaN rows are skipped per column.
    confidence : float, default 0.95
        In (0, 1); the VaR is the ``1 - confidence`` quantile.
    method : {"parametric", "historical"}, default "parametric"
        ``"parametric"``: quantstats' normal VaR ``mean + std(ddof=1) *
        Phi^-1(1 - confidence)`` (``stats()["var"]``); ``"historical"``: the empirical
        quantile with linear interpolation (``stats()["var_historical"]``).

    Returns
    -------
    float or Series
        A (usually negative) return; one per column for a DataFrame.

    Examples
    --------
    >>> import pandas as pd
    >>> r = pd.Series([0.01, -0.02, 0.03, -0.01, 0.02])
    >>> round(value_at_risk(r, 0.8, "historical"), 6)
    -0.012
    """
    c = _confidence(confidence, "value_at_risk")
    check_choice("method", method, _RISK_METHODS, "value_at_risk")
    f, is_series = _frame(returns, "value_at_risk")
    return _wrap(_value_at_risk(f, c, method), is_series, "value_at_risk")


def cvar(
    returns: pd.Series | pd.DataFrame,
    confidence: float = 0.95,
    method: RiskMethod = "parametric",
) -> float | pd.Series:
    """Return the conditional VaR, as quantstats ``conditional_value_at_risk``.

    Parameters
    ----------
    returns : Series or DataFrame
        Simple periodic returns of one portfolio (Series) or one per column
        (DataFrame), on a unique sorted index; NaN rows are skipped per column.
    confidence : float, default 0.95
        In (0, 1).
    method : {"parametric", "historical"}, default "parametric"
        ``"parametric"`` (quantstats' default): the normal expected shortfall
        ``mean - std(ddof=1) * phi(z) / (1 - confidence)``, ``z = Phi^-1(1 -
        confidence)`` (``stats()["cvar"]``); ``"historical"``: the mean of the returns at
        or below the historical VaR (``stats()["cvar_historical"]``).

    Returns
    -------
    float or Series
        A (usually negative) return; one per column for a DataFrame.
    """
    c = _confidence(confidence, "cvar")
    check_choice("method", method, _RISK_METHODS, "cvar")
    f, is_series = _frame(returns, "cvar")
    return _wrap(_cvar(f, c, method), is_series, "cvar")


def _python(value: Any) -> Any:
    # NumPy scalars as Python numbers in the object-dtype stats output.
    return value.item() if isinstance(value, np.generic) else value


def stats(
    returns: pd.Series | pd.DataFrame,
    periods_per_year: float = 252,
    risk_free: float = 0.0,
    *,
    confidence: float = 0.95,
    trades: pd.DataFrame | None = None,
) -> pd.Series | pd.DataFrame:
    """Return the headline statistics of returns (and of their trades).

    Parameters
    ----------
    returns : Series or DataFrame
        Simple periodic returns of one portfolio (Series) or of one portfolio per
        column (DataFrame, e.g. a sweep), on a unique, sorted index (otherwise
        :class:`~qresearch.exceptions.PanelError`). NaN rows are skipped per column;
        a column without any return is refused.
    periods_per_year : float, default 252
        Periods per year: 252 daily, 52 weekly, 12 monthly (finite, > 0).
    risk_free : float, default 0.0
        Annual risk-free rate (> -1), used by Sharpe and Sortino.
    confidence : float, default 0.95
        Confidence of VaR and CVaR, in (0, 1).
    trades : DataFrame, optional
        Round-trip trades (``BacktestResult.trades``) of a single portfolio; adds
        :func:`trade_stats`.

    Returns
    -------
    Series or DataFrame
        For a Series: ``start, end, periods, total_return, cagr, volatility, sharpe,
        sortino, max_drawdown, calmar, skew, kurtosis, var, cvar, var_historical,
        cvar_historical, win_rate, best, worst`` then the trade statistics (object
        dtype, named like ``returns``). For a DataFrame: these rows, one column per
        portfolio. ``var`` and ``cvar`` are quantstats' (normal) definitions, the
        ``*_historical`` ones empirical; see the module docstring for every
        definition and the documented reasons for NaN (e.g. Sharpe of constant
        returns).

    Raises
    ------
    ParameterError
        A bad argument (named in the message), or a column without returns.
    PanelError
        A duplicated, unsorted or NaN index, or duplicated columns.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2024-01-01", periods=4, name="timestamp")
    >>> s = stats(pd.Series([0.1, -0.5, 0.2, 0.0], index=idx))
    >>> round(s["total_return"], 4), round(s["max_drawdown"], 4), s["win_rate"]
    (-0.34, -0.5, 0.6666666666666666)
    >>> sweep = pd.DataFrame({"fast": [0.1, -0.5, 0.2, 0.0], "slow": [0.0, 0.1, 0.1, 0.0]},
    ...                      index=idx)
    >>> stats(sweep).loc[["periods", "max_drawdown"]].to_dict()
    {'fast': {'periods': 4, 'max_drawdown': -0.5}, 'slow': {'periods': 4, 'max_drawdown': 0.0}}
    """
    p = _periods(periods_per_year, "stats")
    rf = _risk_free(risk_free, "stats")
    c = _confidence(confidence, "stats")
    f, is_series = _frame(returns, "stats")
    if trades is not None and not is_series:
        raise ParameterError(
            "trades describes one portfolio but returns is a DataFrame of "
            f"{f.shape[1]} portfolios; call stats(returns[col], trades=...) per portfolio."
        )
    rows = _stats_rows(f, is_series, p, rf, c)
    if not is_series:
        return _object_table(rows, f.columns)
    out = {key: _python(values[0]) for key, values in rows.items()}
    if trades is not None:
        out.update(trade_stats(trades).to_dict())
    return pd.Series(out, name=returns.name, dtype=object)


def _object_table(rows: dict[str, np.ndarray], columns: pd.Index) -> pd.DataFrame:
    # One row per statistic, one column per portfolio, of Python objects.
    table = np.empty((len(rows), len(columns)), dtype=object)
    for i, values in enumerate(rows.values()):
        table[i] = values  # NumPy numbers become Python ints and floats
    return pd.DataFrame(table, index=pd.Index(list(rows)), columns=columns)


def _refuse_empty(counts: np.ndarray, columns: pd.Index, is_series: bool) -> None:
    if (counts == 0).any():
        empty = columns[int(np.flatnonzero(counts == 0)[0])]
        where = "" if is_series else f" in column {empty!r}"
        raise ParameterError(
            f"returns has no non-NaN value{where}; nothing to evaluate. Drop empty "
            "portfolios first, e.g. returns.dropna(axis=1, how='all')."
        )


def _nanstd(z: np.ndarray, nan: np.ndarray | None, n: np.ndarray, buf: np.ndarray) -> np.ndarray:
    # pandas' two-pass ddof=1 standard deviation of each row of z (NaN zeroed, `nan`
    # marks them), NaN with fewer than 2 values; `buf` is scratch space.
    count = n.astype(np.float64)
    d = count - 1.0
    few = count <= 1.0
    count[few] = np.nan
    d[few] = np.nan
    avg = z.sum(axis=1) / count
    np.subtract(avg[:, None], z, out=buf)
    np.square(buf, out=buf)
    if nan is not None:
        buf[nan] = 0.0
    return np.sqrt(buf.sum(axis=1) / d)


def _snap(sd: np.ndarray, scale: np.ndarray) -> np.ndarray:
    # A dispersion within DISPERSION_RTOL of the scale is rounding residue: 0.
    return np.where(sd <= DISPERSION_RTOL * scale, 0.0, sd)


def _positive(values: np.ndarray) -> np.ndarray:
    return np.where(values > 0, values, np.nan)


def _quantile_rows(x: np.ndarray, nan: np.ndarray | None, n: np.ndarray, q: float) -> np.ndarray:
    # numpy's linear quantile of each row's non-NaN values (what pandas computes per
    # column; the same interpolation), rows with the same count partitioned together.
    out = np.empty(x.shape[0])
    groups: list[tuple[Any, int]]
    if nan is None:
        groups = [(slice(None), x.shape[1])]
    else:
        groups = [(np.flatnonzero(n == m), int(m)) for m in np.unique(n)]
    for rows, m in groups:
        sub = x if nan is None else x[rows][~nan[rows]].reshape(-1, m)
        virtual = (m - 1) * q
        if virtual >= m - 1:
            # numpy takes the largest value (its "previous index" is then -1).
            lo = hi = m - 1
            gamma = virtual + 1.0
        else:
            lo = math.floor(virtual)
            hi = lo + 1
            gamma = virtual - lo
        # One selection: the hi-th value, and the largest value before it.
        part = np.partition(sub, hi, axis=1)
        b = part[:, hi]
        a = part[:, :hi].max(axis=1) if lo < hi else b
        diff = b - a
        out[rows] = b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma
    return out


def _stats_rows(
    f: pd.DataFrame, is_series: bool, p: float, risk_free: float, confidence: float
) -> dict[str, np.ndarray]:
    # Every statistic of stats() for all columns at once, one array per statistic,
    # with the same floating-point operations as the pandas reductions they replace.
    # Rows of x are portfolios; NaN returns are skipped (zeroed in z where summed).
    x = np.ascontiguousarray(f.to_numpy(dtype=np.float64).T)
    n_cols, n_rows = x.shape
    nan_mask = np.isnan(x)
    nan = nan_mask if nan_mask.any() else None
    if nan is None:
        n = np.full(n_cols, n_rows)
        first = np.zeros(n_cols, dtype=np.intp)
        last = np.full(n_cols, n_rows - 1)
        z = x
    else:
        n = n_rows - np.count_nonzero(nan, axis=1)
        notna = ~nan
        first = notna.argmax(axis=1)
        last = n_rows - 1 - notna[:, ::-1].argmax(axis=1)
        z = np.where(nan, 0.0, x)
    _refuse_empty(n, f.columns, is_series)
    del nan_mask
    buf = np.empty_like(x)
    rf_p = _per_period_rf(risk_free, p)
    alpha = 1.0 - confidence
    root_p = math.sqrt(p)

    mean = z.sum(axis=1) / n
    abs_max = np.maximum(z.max(axis=1), -z.min(axis=1))
    sd = _snap(_nanstd(z, nan, n, buf), abs_max)
    # Compounded equity (1 before the first return) and its drawdown from the peak.
    equity = np.add(z, 1.0, out=buf)
    wealth = equity.prod(axis=1)
    np.cumprod(equity, axis=1, out=equity)
    peak = np.maximum(equity, 1.0)
    np.maximum.accumulate(peak, axis=1, out=peak)
    np.divide(equity, peak, out=equity)
    max_dd = np.minimum(equity.min(axis=1) - 1.0, 0.0)
    with np.errstate(over="ignore"):  # growth beyond float range: inf, as the pandas path
        cagr = np.where(wealth >= 0, wealth, np.nan) ** (p / n) - 1.0
    # Excess returns over the per-period risk-free rate.
    if rf_p == 0.0:
        xz, x_mean, x_sd, scale_rf = z, mean, sd, abs_max
    else:
        xz = np.subtract(z, rf_p, out=peak)
        if nan is not None:
            xz[nan] = 0.0
        x_mean = xz.sum(axis=1) / n
        scale_rf = np.maximum(abs_max, abs(rf_p))
        x_sd = _snap(_nanstd(xz, nan, n, buf), scale_rf)
    down = np.minimum(xz, 0.0, out=buf)
    np.square(down, out=down)
    downside = _snap(np.sqrt(down.sum(axis=1) / n), scale_rf)
    del peak, xz, down
    z_alpha = NormalDist().inv_cdf(alpha)
    density = math.exp(-0.5 * z_alpha * z_alpha) / math.sqrt(2.0 * math.pi)
    var_hist = _quantile_rows(x, nan, n, alpha)
    # Historical CVaR: the mean of the returns at or below the historical VaR.
    tail = x <= var_hist[:, None]
    in_tail = buf
    in_tail.fill(0.0)
    np.copyto(in_tail, x, where=tail)
    nonzero = np.count_nonzero(z, axis=1)  # NaN were zeroed
    moments = pd.DataFrame(x.T, copy=False)
    return {
        "start": pd.Series(f.index[first], dtype=object).to_numpy(),
        "end": pd.Series(f.index[last], dtype=object).to_numpy(),
        "periods": n,
        "total_return": wealth - 1.0,
        "cagr": cagr,
        "volatility": sd * root_p,
        "sharpe": x_mean / _positive(x_sd) * root_p,
        "sortino": x_mean / _positive(downside) * root_p,
        "max_drawdown": max_dd,
        "calmar": cagr / np.where(max_dd < 0, np.abs(max_dd), np.nan),
        "skew": moments.skew().to_numpy(),
        "kurtosis": moments.kurt().to_numpy(),
        "var": mean + sd * z_alpha,
        "cvar": mean - sd * density / alpha,
        "var_historical": var_hist,
        "cvar_historical": in_tail.sum(axis=1) / np.count_nonzero(tail, axis=1),
        "win_rate": np.count_nonzero(x > 0.0, axis=1) / np.where(nonzero > 0, nonzero, np.nan),
        "best": np.fmax.reduce(x, axis=1),
        "worst": np.fmin.reduce(x, axis=1),
    }


def _stats_reference(
    returns: pd.Series | pd.DataFrame,
    periods_per_year: float = 252,
    risk_free: float = 0.0,
    *,
    confidence: float = 0.95,
) -> pd.Series | pd.DataFrame:
    # The pandas implementation stats() replaced (one pandas reduction per metric),
    # kept as the reference the vectorized one is tested against.
    p = _periods(periods_per_year, "stats")
    rf = _risk_free(risk_free, "stats")
    c = _confidence(confidence, "stats")
    f, is_series = _frame(returns, "stats")
    counts = f.count()
    _refuse_empty(counts.to_numpy(), f.columns, is_series)
    notna = f.notna().to_numpy()
    first = notna.argmax(axis=0)
    last = len(f) - 1 - notna[::-1].argmax(axis=0)
    rows: dict[str, pd.Series] = {
        "start": pd.Series(f.index[first], index=f.columns, dtype=object),
        "end": pd.Series(f.index[last], index=f.columns, dtype=object),
        "periods": counts,
        "total_return": _total_return(f),
        "cagr": _cagr(f, p),
        "volatility": _volatility(f, p),
        "sharpe": _sharpe(f, p, rf),
        "sortino": _sortino(f, p, rf),
        "max_drawdown": _max_drawdown(f),
        "calmar": _calmar(f, p),
        "skew": f.skew(),
        "kurtosis": f.kurt(),
        "var": _value_at_risk(f, c, "parametric"),
        "cvar": _cvar(f, c, "parametric"),
        "var_historical": _value_at_risk(f, c, "historical"),
        "cvar_historical": _cvar(f, c, "historical"),
        "win_rate": _win_rate(f),
        "best": f.max(),
        "worst": f.min(),
    }
    if not is_series:
        table = pd.DataFrame(
            {key: [_python(v) for v in values] for key, values in rows.items()},
            index=f.columns,
            dtype=object,
        )
        return table.T
    out = {key: _python(values.iloc[0]) for key, values in rows.items()}
    return pd.Series(out, name=returns.name, dtype=object)


def trade_stats(trades: pd.DataFrame) -> pd.Series:
    """Return statistics of closed round-trip trades.

    Parameters
    ----------
    trades : DataFrame
        As ``BacktestResult.trades``: needs ``pnl``, ``return``, ``status`` and
        ``duration_bars`` (open trades are left out).

    Returns
    -------
    pandas.Series
        ``trades`` (count of closed trades), ``trade_win_rate`` (pnl > 0 / count),
        ``profit_factor`` (gross profit / gross loss; inf without losses),
        ``expectancy`` (mean pnl per trade), ``avg_trade_return``, ``best_trade`` and
        ``worst_trade`` (returns), ``avg_holding_bars``.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"pnl": [10.0, -5.0, 20.0], "return": [0.1, -0.05, 0.2],
    ...                   "status": ["closed"] * 3, "duration_bars": [2, 4, 6]})
    >>> s = trade_stats(t)
    >>> s["profit_factor"], s["expectancy"], s["avg_holding_bars"]
    (6.0, 8.333333333333334, 4.0)
    """
    if not isinstance(trades, pd.DataFrame):
        raise ParameterError(
            f"The 'trades' argument of trade_stats must be a DataFrame of round trips "
            f"(BacktestResult.trades); got {type(trades).__name__}."
        )
    missing = [c for c in ("pnl", "return", "status", "duration_bars") if c not in trades.columns]
    if missing:
        raise ParameterError(f"trades is missing columns {missing}; pass BacktestResult.trades.")
    closed = (trades["status"] == "closed").to_numpy(dtype=np.bool_)
    return _closed_trade_stats(
        pd.Series(trades["pnl"].to_numpy()[closed]),
        pd.Series(trades["return"].to_numpy()[closed]),
        pd.Series(trades["duration_bars"].to_numpy()[closed]),
    )


def _closed_trade_stats(pnl: pd.Series, ret: pd.Series, bars: pd.Series) -> pd.Series:
    # trade_stats of the closed trades' pnl, return and duration_bars.
    pnl = pnl.astype("float64")
    wins, losses = pnl[pnl > 0].sum(), -pnl[pnl < 0].sum()
    n = len(pnl)
    return pd.Series(
        {
            "trades": n,
            "trade_win_rate": float((pnl > 0).sum() / n) if n else math.nan,
            "profit_factor": float(wins / losses)
            if losses > 0
            else (math.inf if wins > 0 else math.nan),
            "expectancy": float(pnl.mean()) if n else math.nan,
            "avg_trade_return": float(ret.mean()) if n else math.nan,
            "best_trade": float(ret.max()) if n else math.nan,
            "worst_trade": float(ret.min()) if n else math.nan,
            "avg_holding_bars": float(bars.mean()) if n else math.nan,
        },
        dtype=object,
    )
