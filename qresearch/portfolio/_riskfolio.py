"""Adapter to riskfolio-lib: HRP / HERC, risk budgeting and mean-risk portfolios (private).

Each function takes a complete (NaN-free) window of per-period returns and the
per-period covariance chosen by the caller, calls riskfolio the documented way and
returns a Series of weights over the window's columns. Riskfolio is imported here,
inside the functions, through :func:`qresearch._optional.import_optional`. Callers
silence riskfolio's prints and warnings (see ``optimize._quiet``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from qresearch._optional import import_optional


def _riskfolio() -> Any:
    return import_optional("riskfolio", extra="opt")


def _as_weights(result: Any, symbols: pd.Index, what: str) -> pd.Series:
    # Riskfolio returns a one-column DataFrame "weights", or None when no solution.
    if result is None:
        raise RuntimeError(f"riskfolio {what} found no solution (solver status not optimal)")
    w = pd.Series(np.asarray(result, dtype=np.float64).ravel(), index=result.index)
    return w.reindex(symbols).astype("float64")


def hierarchical(
    returns: pd.DataFrame,
    cov: pd.DataFrame,
    *,
    model: str,
    lower: np.ndarray,
    upper: np.ndarray,
    linkage: str,
    codependence: str,
    max_k: int,
    leaf_order: bool,
) -> pd.Series:
    """Return ``rp.HCPortfolio(...).optimization(model=model, rm="MV", ...)`` weights.

    Clustering uses ``codependence`` computed from ``returns`` (Pearson correlation
    by default); the allocation uses ``cov`` (``method_cov="custom_cov"``). Bounds
    go to riskfolio's ``w_min`` / ``w_max`` (its post-fit of hierarchical weights).
    """
    rp = _riskfolio()
    symbols = returns.columns
    kw: dict[str, Any] = {}
    if np.any(upper < 1.0):
        kw["w_max"] = pd.Series(upper, index=symbols)
    if np.any(lower > 0.0):
        kw["w_min"] = pd.Series(lower, index=symbols)
    port = rp.HCPortfolio(returns=returns, **kw)
    w = port.optimization(
        model=model,
        codependence=codependence,
        rm="MV",
        rf=0,
        linkage=linkage,
        max_k=max_k,
        leaf_order=leaf_order,
        method_cov="custom_cov",
        custom_cov=cov,
    )
    return _as_weights(w, symbols, f"HCPortfolio model={model!r}")


def _linear_constraints(
    lower: np.ndarray, upper: np.ndarray, group_rows: list[tuple[np.ndarray, float]]
) -> tuple[np.ndarray, np.ndarray] | None:
    # Bounds and group caps as riskfolio's A w <= b (ainequality, binequality).
    n = len(lower)
    rows: list[np.ndarray] = []
    rhs: list[float] = []
    for i in np.flatnonzero(upper < 1.0):
        rows.append(np.eye(n)[i])
        rhs.append(float(upper[i]))
    for i in np.flatnonzero(lower > 0.0):
        rows.append(-np.eye(n)[i])
        rhs.append(-float(lower[i]))
    for mask, cap in group_rows:
        rows.append(mask.astype(np.float64))
        rhs.append(float(cap))
    if not rows:
        return None
    return np.vstack(rows), np.asarray(rhs, dtype=np.float64).reshape(-1, 1)


def portfolio(
    returns: pd.DataFrame,
    cov: pd.DataFrame,
    *,
    kind: str,
    objective: str,
    risk_measure: str,
    rf: float,
    risk_aversion: float,
    alpha: float,
    budget: np.ndarray | None,
    lower: np.ndarray,
    upper: np.ndarray,
    group_rows: list[tuple[np.ndarray, float]],
) -> pd.Series:
    """Return ``rp.Portfolio`` mean-risk (``kind="mean_variance"``) or risk-budgeting weights.

    ``rp.Portfolio(returns, alpha=alpha)``, ``assets_stats("hist", "hist")``, the
    covariance replaced by ``cov``; bounds and group caps become the linear
    constraints ``ainequality @ w <= binequality``. Mean-risk: ``optimization(
    model="Classic", rm=risk_measure, obj=objective, rf=rf, l=risk_aversion)``.
    Risk budgeting: ``rp_optimization(model="Classic", rm=risk_measure, rf=rf,
    b=budget)``. ``rf`` is per period.
    """
    rp = _riskfolio()
    symbols = returns.columns
    port = rp.Portfolio(returns=returns, alpha=alpha)
    port.assets_stats(method_mu="hist", method_cov="hist")
    port.cov = cov.loc[symbols, symbols].copy()
    lin = _linear_constraints(lower, upper, group_rows)
    if lin is not None:
        port.ainequality, port.binequality = lin
    if kind == "mean_variance":
        w = port.optimization(
            model="Classic", rm=risk_measure, obj=objective, rf=rf, l=risk_aversion, hist=True
        )
        return _as_weights(w, symbols, f"Portfolio.optimization obj={objective!r}")
    b = None if budget is None else np.asarray(budget, dtype=np.float64).reshape(-1, 1)
    w = port.rp_optimization(model="Classic", rm=risk_measure, rf=rf, b=b, hist=True)
    return _as_weights(w, symbols, "Portfolio.rp_optimization")
