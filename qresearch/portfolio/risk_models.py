"""Covariance estimators for one window of returns: sample, Ledoit-Wolf, EWMA.

All three are plain numpy (no optional dependency). The optimizer adapters in
:mod:`qresearch.portfolio.optimize` call :func:`covariance` with the estimator the
user picked, so every method sees the same risk model.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from qresearch._validation import check_choice, check_number
from qresearch.exceptions import PanelError

__all__ = ["COVARIANCE_METHODS", "CovarianceMethod", "covariance", "covariance_values"]

CovarianceMethod = Literal["sample", "ledoit_wolf", "ewma"]
COVARIANCE_METHODS: tuple[str, ...] = ("sample", "ledoit_wolf", "ewma")


def check_returns_window(returns: Any, func: str, *, allow_nan: bool) -> pd.DataFrame:
    """Check a dates x symbols window of returns and return it as a float64 copy.

    Parameters
    ----------
    returns : Any
        The candidate window (rows in time order, one column per symbol).
    func : str
        Calling function, named in error messages.
    allow_nan : bool
        Accept NaN cells (the caller drops them); infinite values never pass.

    Returns
    -------
    DataFrame
        A float64 copy with the same index and columns.
    """
    if not isinstance(returns, pd.DataFrame):
        raise PanelError(
            f"The 'returns' argument of {func} must be a DataFrame (dates x symbols) of "
            f"simple returns; got {type(returns).__name__}."
        )
    if returns.shape[0] < 2 or returns.shape[1] < 1:
        raise PanelError(
            f"The 'returns' argument of {func} needs at least 2 rows and 1 column; "
            f"got shape {returns.shape}."
        )
    if not returns.columns.is_unique:
        dupes = list(returns.columns[returns.columns.duplicated()].unique())
        raise PanelError(f"returns passed to {func} has duplicated columns {dupes[:5]}.")
    bad = [c for c, dt in returns.dtypes.items() if not pd.api.types.is_numeric_dtype(dt)]
    if bad:
        raise PanelError(
            f"returns passed to {func} has non-numeric columns {bad[:5]}; "
            "convert them with pd.to_numeric."
        )
    # One float64 block (a copy): fast column reductions, the input is never touched.
    values = returns.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    out = pd.DataFrame(values, index=returns.index.copy(), columns=returns.columns.copy())
    if np.isinf(values).any():
        r, c = np.argwhere(np.isinf(values))[0]
        raise PanelError(
            f"returns passed to {func} has an infinite value at ({out.index[r]}, "
            f"{out.columns[c]!r}); a price of 0 upstream? Replace it with NaN."
        )
    if not allow_nan and np.isnan(values).any():
        cols = list(out.columns[np.isnan(values).any(axis=0)])
        raise PanelError(
            f"returns passed to {func} has NaN in columns {cols[:5]}; drop those "
            "columns or rows first (e.g. returns.dropna()), or use optimize(), which "
            "drops symbols with insufficient data."
        )
    return out


def _ledoit_wolf(x: np.ndarray) -> np.ndarray:
    # Ledoit & Wolf (2004) shrinkage of the (1/n) empirical covariance toward
    # mu * I, mu = average variance; same estimator as sklearn.covariance.LedoitWolf.
    n, p = x.shape
    xc = x - x.mean(axis=0)
    emp = xc.T @ xc / n
    mu = np.trace(emp) / p
    delta = np.sum((emp - mu * np.eye(p)) ** 2) / p
    # Average squared distance of the one-observation estimates x x' from emp.
    row_norms = np.sum(xc**2, axis=1)
    beta = (np.sum(row_norms**2) / n - np.sum(emp**2)) / (n * p)
    beta = min(beta, delta)
    shrinkage = 0.0 if beta == 0 else beta / delta
    out: np.ndarray = (1.0 - shrinkage) * emp + shrinkage * mu * np.eye(p)
    return out


def _ewma(x: np.ndarray, span: float) -> np.ndarray:
    # Exponentially weighted covariance at the last row, as pandas
    # x.ewm(span=span).cov() (adjust=True, bias=False) on complete data.
    n = x.shape[0]
    alpha = 2.0 / (span + 1.0)
    w = (1.0 - alpha) ** np.arange(n - 1, -1, -1, dtype=np.float64)
    s1, s2 = w.sum(), np.sum(w**2)
    xc = x - (w @ x) / s1
    biased = (xc * w[:, None]).T @ xc / s1
    out: np.ndarray = biased * (s1 * s1 / (s1 * s1 - s2))
    return out


def covariance(
    returns: pd.DataFrame,
    method: CovarianceMethod = "sample",
    *,
    ewma_span: float = 60.0,
    periods_per_year: float | None = None,
) -> pd.DataFrame:
    """Estimate the covariance matrix of a window of returns.

    Parameters
    ----------
    returns : DataFrame
        Dates x symbols simple returns, rows in time order, without NaN.
    method : {"sample", "ledoit_wolf", "ewma"}, default "sample"
        ``"sample"``: the unbiased sample covariance (``ddof=1``, as
        ``returns.cov()``). ``"ledoit_wolf"``: the Ledoit-Wolf (2004) shrinkage of
        the maximum-likelihood covariance (``1/n``) toward a scaled identity, the
        estimator of ``sklearn.covariance.LedoitWolf`` and of PyPortfolioOpt's
        ``CovarianceShrinkage.ledoit_wolf()``. ``"ewma"``: exponentially weighted
        covariance at the last row, ``returns.ewm(span=ewma_span).cov()`` (pandas
        defaults: ``adjust=True``, bias-corrected).
    ewma_span : float, default 60.0
        Span (> 1) of the EWMA weights in rows (decay ``alpha = 2 / (span + 1)``); used by
        ``"ewma"`` only.
    periods_per_year : float, optional
        None: return the per-period covariance (units of the rows). A number:
        annualize by multiplying with it (252 for daily rows).

    Returns
    -------
    DataFrame
        Symmetric symbols x symbols covariance matrix.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> r = pd.DataFrame(rng.normal(0, 0.01, (250, 3)), columns=["A", "B", "C"])
    >>> bool(np.allclose(covariance(r), r.cov()))
    True
    >>> bool(np.allclose(covariance(r, periods_per_year=252), r.cov() * 252))
    True
    """
    x = check_returns_window(returns, "covariance", allow_nan=False)
    check_choice("method", method, COVARIANCE_METHODS, "covariance")
    if periods_per_year is not None:
        check_number("periods_per_year", periods_per_year, "covariance")
    span = check_number("ewma_span", ewma_span, "covariance", minimum=1.0)
    cov = covariance_values(x.to_numpy(), method, span)
    if periods_per_year is not None:
        cov = cov * float(periods_per_year)
    return pd.DataFrame(cov, index=x.columns.copy(), columns=x.columns.copy())


def covariance_values(values: np.ndarray, method: str, ewma_span: float) -> np.ndarray:
    """Return the per-period covariance of a complete 2-D float array (no validation)."""
    if method == "sample":
        cov = np.atleast_2d(np.cov(values, rowvar=False, ddof=1))
    elif method == "ledoit_wolf":
        cov = _ledoit_wolf(values)
    else:
        cov = _ewma(values, ewma_span)
    out: np.ndarray = (cov + cov.T) / 2.0
    return out
