"""Performance metrics of a return series, with quantstats' definitions.

Every function takes simple periodic returns (a Series; NaN rows are dropped) and an
explicit ``periods_per_year``. Where quantstats defines the same metric the value is
the same (tested against quantstats on the bundled data):

- total return: ``prod(1 + r) - 1``;
- CAGR: ``(1 + total) ** (periods_per_year / n) - 1`` with ``n`` the number of returns;
- volatility: ``std(r, ddof=1) * sqrt(periods_per_year)``;
- Sharpe: ``mean(x) / std(x, ddof=1) * sqrt(periods_per_year)`` on excess returns
  ``x = r - rf_p`` with the per-period risk-free ``rf_p = (1 + risk_free) ** (1 /
  periods_per_year) - 1`` (``risk_free`` annual);
- Sortino: ``mean(x) / sqrt(sum(x[x < 0] ** 2) / n) * sqrt(periods_per_year)``;
- max drawdown: the lowest ``equity / running_max(equity) - 1`` of the compounded
  curve started at 1 before the first return (so a first-day loss counts);
- Calmar: ``CAGR / |max drawdown|``;
- skew and kurtosis: pandas' bias-corrected sample skew and excess kurtosis;
- VaR / CVaR (historical): the ``1 - confidence`` empirical quantile (linear
  interpolation), and the mean of the returns at or below it;
- win rate: positive returns / non-zero returns.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import pandas as pd

from qresearch.exceptions import ParameterError

__all__ = [
    "cagr",
    "calmar",
    "cvar",
    "drawdown",
    "max_drawdown",
    "sharpe",
    "sortino",
    "stats",
    "trade_stats",
    "value_at_risk",
    "volatility",
]


def _clean(returns: Any, name: str = "returns") -> pd.Series:
    # Validate a return series and drop its NaN rows.
    if isinstance(returns, pd.DataFrame):
        if returns.shape[1] != 1:
            raise ParameterError(
                f"{name} must be one return series; got a DataFrame with {returns.shape[1]} "
                "columns. Pass one column, or use df.apply(qr.evaluation.stats)."
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


def _check_periods(periods_per_year: float) -> float:
    if not (isinstance(periods_per_year, numbers.Real) and periods_per_year > 0):
        raise ParameterError(
            f"The 'periods_per_year' parameter must be a positive number (252 for daily, "
            f"52 weekly, 12 monthly); got {periods_per_year!r}."
        )
    return float(periods_per_year)


def _excess(r: pd.Series, risk_free: float, periods_per_year: float) -> pd.Series:
    if risk_free == 0:
        return r
    return r - ((1.0 + risk_free) ** (1.0 / periods_per_year) - 1.0)


def total_return(returns: pd.Series) -> float:
    """Return the compounded total return ``prod(1 + r) - 1``."""
    r = _clean(returns)
    return float(np.prod(1.0 + r.to_numpy()) - 1.0) if len(r) else math.nan


def cagr(returns: pd.Series, periods_per_year: float = 252) -> float:
    """Return the compound annual growth rate (quantstats ``cagr``).

    Examples
    --------
    >>> import pandas as pd
    >>> round(cagr(pd.Series([0.1, 0.1]), periods_per_year=1), 12)  # two years of +10%
    0.1
    """
    p = _check_periods(periods_per_year)
    r = _clean(returns)
    if not len(r):
        return math.nan
    wealth = float(np.prod(1.0 + r.to_numpy()))
    return math.nan if wealth < 0 else wealth ** (p / len(r)) - 1.0


def volatility(returns: pd.Series, periods_per_year: float = 252) -> float:
    """Return the annualized standard deviation (ddof=1)."""
    p = _check_periods(periods_per_year)
    return float(_clean(returns).std(ddof=1) * math.sqrt(p))


def sharpe(returns: pd.Series, periods_per_year: float = 252, risk_free: float = 0.0) -> float:
    """Return the annualized Sharpe ratio of excess returns (quantstats ``sharpe``).

    Examples
    --------
    >>> import pandas as pd
    >>> r = pd.Series([0.01, -0.02, 0.03, -0.01, 0.02])
    >>> round(sharpe(r, periods_per_year=1), 6)  # mean 0.006 / std 0.020736
    0.289346
    """
    p = _check_periods(periods_per_year)
    x = _excess(_clean(returns), risk_free, p)
    sd = x.std(ddof=1)
    return float(x.mean() / sd * math.sqrt(p)) if sd > 0 else math.nan


def sortino(returns: pd.Series, periods_per_year: float = 252, risk_free: float = 0.0) -> float:
    """Return the annualized Sortino ratio (downside deviation over all periods)."""
    p = _check_periods(periods_per_year)
    x = _excess(_clean(returns), risk_free, p)
    if not len(x):
        return math.nan
    downside = math.sqrt(float((x[x < 0] ** 2).sum()) / len(x))
    return float(x.mean() / downside * math.sqrt(p)) if downside > 0 else math.nan


def drawdown(returns: pd.Series) -> pd.Series:
    """Return the drawdown series ``equity / running_max(equity) - 1`` (<= 0).

    The running maximum starts at the initial equity 1, so a loss on the first
    period is a drawdown.
    """
    r = _clean(returns)
    equity = np.cumprod(1.0 + r.to_numpy())
    peak = np.maximum.accumulate(np.maximum(equity, 1.0))
    return pd.Series(equity / peak - 1.0, index=r.index, name="drawdown")


def max_drawdown(returns: pd.Series) -> float:
    """Return the largest drawdown as a negative fraction (0 when never below a peak)."""
    dd = drawdown(returns)
    return float(min(dd.min(), 0.0)) if len(dd) else math.nan


def calmar(returns: pd.Series, periods_per_year: float = 252) -> float:
    """Return ``CAGR / |max drawdown|`` (NaN without a drawdown)."""
    mdd = max_drawdown(returns)
    return cagr(returns, periods_per_year) / abs(mdd) if mdd < 0 else math.nan


def value_at_risk(returns: pd.Series, confidence: float = 0.95) -> float:
    """Return the historical VaR: the ``1 - confidence`` quantile of the returns."""
    _check_confidence(confidence)
    r = _clean(returns)
    return float(r.quantile(1.0 - confidence)) if len(r) else math.nan


def cvar(returns: pd.Series, confidence: float = 0.95) -> float:
    """Return the historical CVaR: the mean of the returns at or below the VaR."""
    var = value_at_risk(returns, confidence)
    r = _clean(returns)
    tail = r[r <= var]
    return float(tail.mean()) if len(tail) else math.nan


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ParameterError(
            f"The 'confidence' parameter must be in (0, 1), e.g. 0.95; got {confidence!r}."
        )


def stats(
    returns: pd.Series,
    periods_per_year: float = 252,
    risk_free: float = 0.0,
    *,
    confidence: float = 0.95,
    trades: pd.DataFrame | None = None,
) -> pd.Series:
    """Return the headline statistics of a return series (and of its trades).

    Parameters
    ----------
    returns : pandas.Series
        Simple periodic returns (NaN rows are dropped).
    periods_per_year : float, default 252
        Periods per year: 252 daily, 52 weekly, 12 monthly.
    risk_free : float, default 0.0
        Annual risk-free rate, used by Sharpe and Sortino.
    confidence : float, default 0.95
        Confidence of VaR and CVaR.
    trades : DataFrame, optional
        Round-trip trades (``BacktestResult.trades``); adds :func:`trade_stats`.

    Returns
    -------
    pandas.Series
        ``start, end, periods, total_return, cagr, volatility, sharpe, sortino,
        max_drawdown, calmar, skew, kurtosis, var, cvar, win_rate, best, worst``
        (definitions in the module docstring), then the trade statistics.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2024-01-01", periods=4, name="timestamp")
    >>> s = stats(pd.Series([0.1, -0.5, 0.2, 0.0], index=idx))
    >>> round(s["total_return"], 4), round(s["max_drawdown"], 4), s["win_rate"]
    (-0.34, -0.5, 0.6666666666666666)
    """
    p = _check_periods(periods_per_year)
    _check_confidence(confidence)
    r = _clean(returns)
    if not len(r):
        raise ParameterError("returns has no non-NaN value; nothing to evaluate.")
    nonzero = r[r != 0]
    out: dict[str, Any] = {
        "start": r.index[0],
        "end": r.index[-1],
        "periods": len(r),
        "total_return": total_return(r),
        "cagr": cagr(r, p),
        "volatility": volatility(r, p),
        "sharpe": sharpe(r, p, risk_free),
        "sortino": sortino(r, p, risk_free),
        "max_drawdown": max_drawdown(r),
        "calmar": calmar(r, p),
        "skew": float(r.skew()),
        "kurtosis": float(r.kurtosis()),
        "var": value_at_risk(r, confidence),
        "cvar": cvar(r, confidence),
        "win_rate": float((nonzero > 0).sum() / len(nonzero)) if len(nonzero) else math.nan,
        "best": float(r.max()),
        "worst": float(r.min()),
    }
    if trades is not None:
        out.update(trade_stats(trades).to_dict())
    name = returns.name if isinstance(returns, pd.Series) else None
    return pd.Series(out, name=name, dtype=object)


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
    missing = [c for c in ("pnl", "return", "status", "duration_bars") if c not in trades.columns]
    if missing:
        raise ParameterError(f"trades is missing columns {missing}; pass BacktestResult.trades.")
    closed = trades[trades["status"] == "closed"]
    pnl = closed["pnl"].astype("float64")
    wins, losses = pnl[pnl > 0].sum(), -pnl[pnl < 0].sum()
    n = len(closed)
    return pd.Series(
        {
            "trades": n,
            "trade_win_rate": float((pnl > 0).sum() / n) if n else math.nan,
            "profit_factor": float(wins / losses)
            if losses > 0
            else (math.inf if wins > 0 else math.nan),
            "expectancy": float(pnl.mean()) if n else math.nan,
            "avg_trade_return": float(closed["return"].mean()) if n else math.nan,
            "best_trade": float(closed["return"].max()) if n else math.nan,
            "worst_trade": float(closed["return"].min()) if n else math.nan,
            "avg_holding_bars": float(closed["duration_bars"].mean()) if n else math.nan,
        },
        dtype=object,
    )
