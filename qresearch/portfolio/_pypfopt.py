"""Adapter to PyPortfolioOpt: efficient frontier, Black-Litterman and HRPOpt (private).

Inputs are annualized (expected returns and covariance times ``periods_per_year``),
as PyPortfolioOpt documents them. PyPortfolioOpt and cvxpy are imported inside the
functions through :func:`qresearch._optional.import_optional`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from qresearch._optional import import_optional


def _weights(raw: Mapping[Any, float], symbols: pd.Index) -> pd.Series:
    return pd.Series(dict(raw), dtype="float64").reindex(symbols)


def efficient_frontier(
    mu: pd.Series,
    cov: pd.DataFrame,
    goal: str,
    *,
    lower: np.ndarray,
    upper: np.ndarray,
    group_of: Mapping[Any, Any],
    group_caps: Mapping[Any, float],
    risk_free: float,
    target_volatility: float | None,
    target_return: float | None,
    previous: np.ndarray | None,
    turnover_budget: float | None,
) -> pd.Series:
    """Solve one ``pypfopt.EfficientFrontier`` problem and return its raw weights.

    ``goal``: ``"max_sharpe"`` (``max_sharpe(risk_free_rate=risk_free)``, an annual
    rate), ``"min_vol"``
    (``min_volatility()``), ``"efficient_risk"`` (``efficient_risk(target_volatility)``)
    or ``"efficient_return"`` (``efficient_return(target_return)``). Bounds go to
    ``weight_bounds``, group caps to ``add_sector_constraints``. With ``previous``,
    the L1 turnover ``sum |w - previous| <= turnover_budget`` is added as linear
    constraints on an auxiliary variable ``u >= |w - previous|``, written so that
    max-Sharpe's homogenizing variable change keeps them exact. Solver: cvxpy's
    default (OSQP), or CLARABEL with a turnover limit, when OSQP fails, or when its
    weights miss the bounds or the budget by more than 1e-8.
    """
    ef_mod = import_optional("pypfopt.efficient_frontier", extra="opt")
    symbols = mu.index
    bounds = [(float(lo), float(hi)) for lo, hi in zip(lower, upper, strict=True)]
    turnover = previous is not None and turnover_budget is not None

    def solve(solver: str | None) -> Mapping[Any, float]:
        ef = ef_mod.EfficientFrontier(mu, cov, weight_bounds=bounds, solver=solver)
        if group_caps:
            mapper = {s: group_of.get(s, ("__own__", s)) for s in symbols}
            present = {g: c for g, c in group_caps.items() if g in mapper.values()}
            if present:
                ef.add_sector_constraints(mapper, {}, present)
        if turnover:
            cp = import_optional("cvxpy", extra="opt")
            u = cp.Variable(len(symbols), nonneg=True)
            prev = np.asarray(previous, dtype=np.float64)
            ef.add_constraint(lambda w: w - u <= prev)
            ef.add_constraint(lambda w: -w - u <= -prev)
            ef.add_constraint(lambda w: cp.sum(u) <= turnover_budget)
        if goal == "max_sharpe":
            out: Mapping[Any, float] = ef.max_sharpe(risk_free_rate=risk_free)
        elif goal == "min_vol":
            out = ef.min_volatility()
        elif goal == "efficient_risk":
            out = ef.efficient_risk(target_volatility)
        else:
            out = ef.efficient_return(target_return)
        return out

    # OSQP, cvxpy's default for these problems, works to ~1e-5: it leaves the L1
    # turnover budget loose, sometimes stops at its iteration limit, and on large
    # books returns weights a little outside their bounds. Use the interior-point
    # CLARABEL with a turnover limit, and re-solve with it when OSQP falls short.
    if turnover:
        return _weights(solve("CLARABEL"), symbols)
    exceptions = import_optional("pypfopt.exceptions", extra="opt")
    try:
        raw = solve(None)
    except exceptions.OptimizationError:
        return _weights(solve("CLARABEL"), symbols)
    w = _weights(raw, symbols).to_numpy()
    if not (
        np.isfinite(w).all()
        and abs(w.sum() - 1.0) <= 1e-8
        and np.all(w >= lower - 1e-8)
        and np.all(w <= upper + 1e-8)
    ):
        raw = solve("CLARABEL")
    return _weights(raw, symbols)


def black_litterman(
    cov: pd.DataFrame,
    *,
    views: Mapping[Any, float],
    market_caps: Mapping[Any, float] | None,
    risk_aversion: float,
    tau: float,
    view_confidences: Mapping[Any, float] | None,
    risk_free: float,
) -> tuple[pd.Series, pd.DataFrame]:
    """Return the Black-Litterman posterior ``(expected returns, covariance)``.

    Prior: ``market_implied_prior_returns(market_caps, risk_aversion, cov,
    risk_free_rate=risk_free)`` (an annual rate), with equal market caps when
    ``market_caps`` is None (the equal-weight book as the market). Views are absolute
    annualized returns per symbol; with ``view_confidences`` (0..1 per view) Idzorek's
    omega, otherwise PyPortfolioOpt's default omega (proportional to the prior variance
    of the views).
    Without views left, the prior and ``(1 + tau) cov`` are returned.
    """
    bl = import_optional("pypfopt.black_litterman", extra="opt")
    symbols = cov.index
    if market_caps is None:
        caps = pd.Series(1.0, index=symbols)
    else:
        caps = pd.Series({s: float(market_caps[s]) for s in symbols})
    prior = bl.market_implied_prior_returns(caps, risk_aversion, cov, risk_free)
    kept = {s: float(v) for s, v in views.items() if s in symbols}
    if not kept:
        return prior.astype("float64"), cov * (1.0 + tau)
    kw: dict[str, Any] = {}
    if view_confidences is not None:
        kw["omega"] = "idzorek"
        kw["view_confidences"] = [float(view_confidences[s]) for s in kept]
    model = bl.BlackLittermanModel(
        cov, pi=prior, absolute_views=kept, tau=tau, risk_aversion=risk_aversion, **kw
    )
    return model.bl_returns().astype("float64"), model.bl_cov()


def hrp(returns: pd.DataFrame, cov: pd.DataFrame | None, *, linkage: str) -> pd.Series:
    """Return ``pypfopt.HRPOpt(...).optimize(linkage_method=linkage)`` weights.

    With ``cov`` None (sample covariance) the documented ``HRPOpt(returns)``;
    otherwise ``HRPOpt(cov_matrix=cov)``, whose clustering uses the correlation
    implied by ``cov``.
    """
    hp = import_optional("pypfopt.hierarchical_portfolio", extra="opt")
    opt = hp.HRPOpt(returns) if cov is None else hp.HRPOpt(cov_matrix=cov)
    return _weights(opt.optimize(linkage_method=linkage), returns.columns)
