"""Optimized portfolio weights for one window of returns: ``optimize``.

One entry point over native HRP / HERC (``"hrp"``, ``"herc"``: riskfolio-lib's
rules in numpy/scipy, same weights), riskfolio-lib (``"risk_parity"``,
``"mean_variance"``, ``"hrp_riskfolio"``, ``"herc_riskfolio"``), PyPortfolioOpt
(``"max_sharpe"``, ``"min_vol"``, ``"efficient_risk"``, ``"efficient_return"``,
``"black_litterman"``, ``"hrp_pypfopt"``) and the closed forms (``"equal"``,
``"inverse_vol"``), with one covariance estimator, one constraint set (bounds, group
caps, target volatility, turnover) and one error type,
:class:`~qresearch.exceptions.OptimizationError`.
:func:`qresearch.portfolio.rebalance` calls it once per rebalance date.
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from qresearch._compat import renamed_parameters
from qresearch._validation import check_choice, check_number
from qresearch.exceptions import OptimizationError, ParameterError
from qresearch.portfolio import _constraints as cons
from qresearch.portfolio import _options as opts_mod
from qresearch.portfolio.risk_models import (
    COVARIANCE_METHODS,
    CovarianceMethod,
    check_returns_window,
    covariance,
    covariance_values,
)

__all__ = ["OPTIMIZE_METHODS", "covariance", "optimize"]

OPTIMIZE_METHODS: tuple[str, ...] = (
    "hrp",
    "herc",
    "risk_parity",
    "mean_variance",
    "max_sharpe",
    "min_vol",
    "min_volatility",
    "efficient_risk",
    "efficient_return",
    "black_litterman",
    "hrp_pypfopt",
    "hrp_riskfolio",
    "herc_riskfolio",
    "equal",
    "inverse_vol",
)
_ALIASES = {"min_volatility": "min_vol"}
# Methods whose solver takes each constraint natively; the others get it enforced
# after the solve (bounds / group caps: nearest feasible weights; turnover: blend).
_FRONTIER = {"max_sharpe", "min_vol", "efficient_risk", "efficient_return", "black_litterman"}
_HIERARCHICAL = {"hrp", "herc", "hrp_riskfolio", "herc_riskfolio"}
_NATIVE_BOUNDS = _HIERARCHICAL | {"risk_parity", "mean_variance"} | _FRONTIER
_NATIVE_GROUPS = {"risk_parity", "mean_variance"} | _FRONTIER
# Methods that reach target_volatility on the efficient frontier (efficient_risk);
# every other method scales its weights to the target instead.
_VOL_ON_FRONTIER = {"max_sharpe", "efficient_risk", "black_litterman"}
_TOL = cons.TOL


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    # Silence the solvers' prints and warnings for this call only (never globally).
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


@dataclass
class _Problem:
    # Everything one solve needs, and the constraint set that error messages name.
    method: str
    name: str
    date: Any
    estimator: str
    ewma_span: float
    periods_per_year: float
    risk_free: float
    options: dict[str, Any]
    bounds: Any
    groups: Mapping[Any, Any] | None
    group_caps: dict[Any, float]
    target_volatility: float | None
    max_gross: float
    max_turnover: float | None
    previous: pd.Series | None
    notes: list[str] = field(default_factory=list)

    def fail(self, reason: str) -> OptimizationError:
        when = "(no date)" if self.date is None else f"at {self.date}"
        bounds = repr(self.bounds)
        bounds = bounds if len(bounds) <= 120 else bounds[:117] + "..."
        caps = repr(self.group_caps or None)
        caps = caps if len(caps) <= 120 else caps[:117] + "..."
        return OptimizationError(
            f"optimize(method={self.method!r}) failed {when} under bounds={bounds}, "
            f"group_caps={caps}, target_volatility={self.target_volatility}, "
            f"max_turnover={self.max_turnover}: {reason}. Relax the constraints, or pass "
            "fallback='inverse_vol' or fallback='previous' to use fallback weights."
        )


def _inverse_vol(window: pd.DataFrame) -> pd.Series:
    # The closed form rebalance uses, so both give the same weights.
    from qresearch.portfolio.rebalancing import _closed_form

    return _closed_form(window, "inverse_vol")


def _raw_weights(
    window: pd.DataFrame, cov: pd.DataFrame, p: _Problem, lower: np.ndarray, upper: np.ndarray
) -> pd.Series:
    # The method's own solution (sums to 1) over the window's columns.
    o, name, ppy = p.options, p.name, p.periods_per_year
    rows = cons.group_rows(window.columns, p.groups, p.group_caps)
    if name == "equal" or (name == "inverse_vol" and p.estimator == "sample"):
        from qresearch.portfolio.rebalancing import _closed_form

        return _closed_form(window, name)
    if name == "inverse_vol":
        inv = 1.0 / np.sqrt(np.diag(cov.to_numpy()))
        return pd.Series(inv / inv.sum(), index=window.columns)
    if name in _HIERARCHICAL:
        from qresearch.portfolio import _hrp

        hc = {
            "model": name.split("_")[0].upper(),
            "lower": lower,
            "upper": upper,
            "linkage": o["linkage"],
            "codependence": o["codependence"],
            "max_k": o["max_k"],
            "leaf_order": o["leaf_order"],
        }
        if name in ("hrp", "herc") and o["codependence"] in _hrp.NATIVE_CODEPENDENCES:
            return _hrp.hierarchical(window, cov, cov_is_sample=p.estimator == "sample", **hc)
        # "hrp_riskfolio" / "herc_riskfolio", or a codependence the native code does
        # not compute (gerber1, gerber2, distance, mutual_info, tail): riskfolio itself.
        from qresearch.portfolio import _riskfolio

        return _riskfolio.hierarchical(window, cov, **hc)
    if name in ("risk_parity", "mean_variance"):
        from qresearch.portfolio import _riskfolio

        budget = None
        if name == "risk_parity" and o["budget"] is not None:
            b = pd.Series(o["budget"], dtype="float64").reindex(window.columns)
            if b.isna().any() or (b <= 0).any():
                raise ParameterError(
                    "budget must give a risk budget > 0 to every symbol of the window; "
                    f"missing or <= 0 for {list(b.index[~(b > 0)])[:5]}."
                )
            budget = (b / b.sum()).to_numpy()
        return _riskfolio.portfolio(
            window,
            cov,
            kind=name,
            objective=o.get("objective", "MinRisk"),
            risk_measure=o["risk_measure"],
            rf=p.risk_free / ppy,
            risk_aversion=float(o.get("risk_aversion", 2.0)),
            alpha=float(o["alpha"]),
            budget=budget,
            lower=lower,
            upper=upper,
            group_rows=rows,
        )
    if name == "hrp_pypfopt":
        from qresearch.portfolio import _pypfopt

        return _pypfopt.hrp(window, None if p.estimator == "sample" else cov, linkage=o["linkage"])
    from qresearch.portfolio import _pypfopt

    mu = pd.Series(window.to_numpy().mean(axis=0) * ppy, index=window.columns)
    cov_year = pd.DataFrame(cov.to_numpy() * ppy, index=cov.index, columns=cov.columns)
    goal = name
    if name == "black_litterman":
        views, caps, conf = o["views"], o["market_caps"], o["view_confidences"]
        mu, cov_year = _pypfopt.black_litterman(
            cov_year,
            views=views,
            market_caps=caps,
            risk_aversion=float(o["risk_aversion"]),
            tau=float(o["tau"]),
            view_confidences=conf,
            risk_free=p.risk_free,
        )
        goal = "max_sharpe"
    if goal == "max_sharpe" and p.target_volatility is not None:
        goal = "efficient_risk"
    prev, budget = None, None
    unscaled = p.target_volatility is None or name in _VOL_ON_FRONTIER
    if p.max_turnover is not None and p.previous is not None and unscaled:
        # A book scaled to a volatility target afterwards gets the limit by blending.
        prev = p.previous.reindex(window.columns, fill_value=0.0).to_numpy()
        outside = float(p.previous.drop(window.columns, errors="ignore").abs().sum())
        budget = p.max_turnover - outside
        if budget < 0:
            raise p.fail(
                f"selling the symbols outside the window already trades {outside:.6g} > "
                f"max_turnover {p.max_turnover:g}"
            )
    return _pypfopt.efficient_frontier(
        mu,
        cov_year,
        goal,
        lower=lower,
        upper=upper,
        group_of=p.groups or {},
        group_caps=p.group_caps,
        risk_free=p.risk_free,
        target_volatility=p.target_volatility,
        target_return=o.get("target_return"),
        previous=prev,
        turnover_budget=budget,
    )


def _solve(window: pd.DataFrame, p: _Problem, lower: np.ndarray, upper: np.ndarray) -> pd.Series:
    # Raw solve, constraint enforcement, volatility target and turnover limit.
    n = window.shape[1]
    if n == 0 or len(window) < 2:
        raise p.fail(
            "no symbol has enough data in the window (see weights.attrs['dropped'])"
            if n == 0
            else f"only {len(window)} complete row(s) of returns remain"
        )
    if lower.sum() > 1.0 + _TOL or upper.sum() < 1.0 - _TOL:
        raise p.fail(
            f"bounds cannot hold a fully invested book: {n} symbols with lower bounds "
            f"summing to {lower.sum():.6g} and upper bounds summing to {upper.sum():.6g}"
        )
    rows = cons.group_rows(window.columns, p.groups, p.group_caps)
    cov = pd.DataFrame(
        covariance_values(window.to_numpy(), p.estimator, p.ewma_span),
        index=window.columns,
        columns=window.columns,
    )
    if n == 1:
        raw = pd.Series(1.0, index=window.columns)
    else:
        try:
            with _quiet():
                raw = _raw_weights(window, cov, p, lower, upper)
        except (ParameterError, OptimizationError):
            raise
        except Exception as exc:  # the solver's own exception, whatever its type
            raise p.fail(f"the solver raised {type(exc).__name__}: {exc}") from exc
    w = raw.reindex(window.columns).to_numpy(dtype=np.float64)
    if not np.isfinite(w).all():
        raise p.fail("the solver returned NaN or infinite weights")
    if abs(w.sum() - 1.0) > _TOL or np.any(w < -_TOL):
        raise p.fail(f"the solver returned weights summing to {w.sum():.8g} (min {w.min():.3g})")
    problem = cons.violations(w, lower, upper, rows)
    native = p.name in _NATIVE_BOUNDS and (not rows or p.name in _NATIVE_GROUPS)
    if problem and native:
        raise p.fail(f"the solution breaks a constraint: {problem}")
    if problem:
        try:
            with _quiet():
                w = cons.project(w, lower, upper, rows)
        except Exception as exc:
            raise p.fail(str(exc)) from exc
        p.notes.append(f"projected onto bounds / group caps ({problem})")
        if cons.violations(w, lower, upper, rows):
            raise p.fail("no weights satisfy bounds and group caps")
    w = np.clip(w, lower, upper)
    target = p.target_volatility
    scaled = target is not None and p.name not in _VOL_ON_FRONTIER
    if target is not None and scaled:
        vol = math.sqrt(max(float(w @ cov.to_numpy() @ w), 0.0) * p.periods_per_year)
        if vol <= 0:
            raise p.fail("the portfolio has zero ex-ante volatility; cannot scale it")
        scale = min(target / vol, p.max_gross / np.abs(w).sum())
        # Scaling up stops at the first binding position or group cap.
        held = w > 0
        if held.any():
            scale = min(scale, float(np.min(upper[held] / w[held])))
        for mask, cap in rows:
            if w[mask].sum() > 0:
                scale = min(scale, cap / float(w[mask].sum()))
        if scale > 1.0 + _TOL or scale < 1.0 - _TOL:
            p.notes.append(f"scaled by {scale:.4f} to the volatility target")
        w = w * scale
    if p.max_turnover is not None and p.previous is not None:
        prev = p.previous.reindex(window.columns, fill_value=0.0).to_numpy()
        outside = float(p.previous.drop(window.columns, errors="ignore").abs().sum())
        if p.name not in _FRONTIER or scaled:
            try:
                w, step = cons.blend(w, prev, outside, p.max_turnover)
            except ValueError as exc:
                raise p.fail(str(exc)) from exc
            if step < 1.0:
                p.notes.append(f"turnover limit: moved {step:.4f} of the way to the solution")
        traded = float(np.abs(w - prev).sum()) + outside
        if traded > p.max_turnover + _TOL:
            raise p.fail(f"the solution trades {traded:.6g} > max_turnover {p.max_turnover:g}")
    return pd.Series(w, index=window.columns)


@renamed_parameters(max_leverage="max_gross", risk_free_rate="risk_free")
def optimize(
    returns: pd.DataFrame,
    method: str = "hrp",
    *,
    covariance: CovarianceMethod = "sample",
    ewma_span: float = 60.0,
    bounds: tuple[float, float] | Mapping[Any, tuple[float, float]] = (0.0, 1.0),
    groups: Mapping[Any, Any] | None = None,
    group_caps: Mapping[Any, float] | float | None = None,
    target_volatility: float | None = None,
    max_gross: float = 1.0,
    max_turnover: float | None = None,
    previous: pd.Series | None = None,
    risk_free: float = 0.0,
    periods_per_year: float = 252,
    min_observations: int | None = None,
    fallback: Literal["inverse_vol", "previous"] | None = None,
    date: Any = None,
    **method_kw: Any,
) -> pd.Series:
    """Compute long-only portfolio weights from one window of returns.

    Parameters
    ----------
    returns : DataFrame
        Dates x symbols simple returns, rows in time order (the estimation window).
    method : str, default "hrp"
        Hierarchical: ``"hrp"`` (hierarchical risk parity) and ``"herc"``
        (hierarchical equal risk contribution), computed natively with numpy/scipy
        by the rules of riskfolio-lib's ``rp.HCPortfolio`` (``rm="MV"``): the same
        weights (tested equal to 1e-12) without riskfolio, in a fraction of its time
        (500 symbols: ~20 ms against ~1.5 s); with a ``codependence`` of
        ``"gerber1"``, ``"gerber2"``, ``"distance"``, ``"mutual_info"`` or
        ``"tail"`` they call riskfolio instead (``pip install qresearch[opt]``).
        ``"hrp_riskfolio"`` / ``"herc_riskfolio"``: always riskfolio's
        ``rp.HCPortfolio``, same options. riskfolio-lib:
        ``"risk_parity"`` (risk budgeting, ``rp.Portfolio.rp_optimization``),
        ``"mean_variance"`` (``rp.Portfolio.optimization``). PyPortfolioOpt:
        ``"max_sharpe"``, ``"min_vol"`` (alias ``"min_volatility"``),
        ``"efficient_risk"``, ``"efficient_return"``, ``"black_litterman"``
        (max-Sharpe on the posterior), ``"hrp_pypfopt"`` (``HRPOpt``). Closed forms:
        ``"equal"``, ``"inverse_vol"``.
    covariance : {"sample", "ledoit_wolf", "ewma"}, default "sample"
        Covariance estimator (see :func:`qresearch.portfolio.covariance`)
        of every method but ``"equal"``: the risk model of the optimizers, the
        allocation step of HRP/HERC (their clustering uses ``codependence`` of the
        returns), the variances of ``"inverse_vol"``.
    ewma_span : float, default 60.0
        Span in rows of the ``"ewma"`` estimator.
    bounds : (float, float) or mapping, default (0.0, 1.0)
        Lower and upper weight of every symbol, or ``{symbol: (lower, upper)}``
        (symbols not in the mapping keep ``(0, 1)``; symbols not in the window are
        ignored). Long-only: ``0 <= lower <= upper <= 1``.
    groups : mapping, optional
        ``{symbol: group}`` (e.g. sectors) for ``group_caps``.
    group_caps : mapping or float, optional
        ``{group: cap}`` on the sum of each group's weights, or one cap for every
        group of ``groups``.
    target_volatility : float, optional
        Annualized ex-ante volatility target. ``"efficient_risk"`` (where it is
        required), ``"max_sharpe"`` and ``"black_litterman"`` solve PyPortfolioOpt's
        ``efficient_risk(target_volatility)``: the highest-return fully invested book
        with at most that volatility. Every other method scales its weights by
        ``target / ex-ante vol`` (covariance of ``covariance``), capped so that the
        gross exposure stays <= ``max_gross`` and, when scaling up, no upper bound
        or group cap is exceeded; the rest is cash (weights then sum to the scale, not
        to 1). Lower bounds hold for the fully invested book before it is scaled
        down.
    max_gross : float, default 1.0
        Cap on the gross exposure (``sum |w|``) of the volatility scaling (1.0: scale
        down only). Formerly ``max_leverage`` (deprecated alias, removed in the next
        release).
    max_turnover : float, optional
        Limit on the L1 turnover ``sum |w - previous|`` (over all symbols, so
        selling symbols that left the window counts). PyPortfolioOpt frontier
        methods take it as a constraint of their problem; every other method (and
        a frontier solution scaled to ``target_volatility``) returns
        ``previous + a (solution - previous)`` (symbols outside the window sold) with
        the largest ``a`` the limit allows, so the limit wins over the volatility
        target, and the weights may sum to less than 1 while the book converges.
        Ignored when ``previous`` is None (first rebalance).
    previous : Series, optional
        Weights held before this rebalance, indexed by symbol (0 for cash).
    risk_free : float, default 0.0
        Annual risk-free rate of the Sharpe objectives (0.02 for 2% a year), as in
        :func:`qresearch.evaluation.sharpe`. Formerly ``risk_free_rate`` (deprecated
        alias, removed in the next release).
    periods_per_year : float, default 252
        Rows per year: annualizes mean returns and covariances.
    min_observations : int, optional
        A symbol needs this many non-NaN returns in the window (default: half the
        rows, at least 2); symbols with fewer, or with zero variance, are dropped
        (weight 0, listed in ``weights.attrs["dropped"]``). Rows with a NaN left
        in a kept symbol are then dropped (complete cases).
    fallback : {"inverse_vol", "previous"}, optional
        On an :class:`~qresearch.exceptions.OptimizationError`, return
        inverse-volatility weights of the usable symbols (no constraints applied) or
        the whole ``previous`` book unchanged (symbols outside the window included, so
        nothing trades) instead, and record
        ``weights.attrs["fallback"] = {"method": fallback, "reason": message}``.
    date : Any, optional
        The rebalance date: the name of the result and part of error messages.
    **method_kw
        Options of the method: ``"hrp"`` / ``"herc"`` (and their ``_riskfolio``
        twins): ``linkage`` ("single", "ward", ...), ``codependence`` ("pearson";
        natively also "spearman", "kendall", "abs_pearson", "abs_spearman",
        "abs_kendall"), ``max_k`` (10, HERC: bound of the number of clusters the
        two-difference gap statistic tries), ``leaf_order`` (True: optimal leaf
        ordering); ``"risk_parity"``: ``budget`` ({symbol: risk budget},
        default equal), ``risk_measure`` ("MV", "CVaR", "CDaR"), ``alpha`` (0.05,
        CVaR/CDaR level); ``"mean_variance"``: ``objective`` ("Sharpe", "MinRisk",
        "Utility", "MaxRet"), ``risk_measure``, ``risk_aversion`` (2.0, Utility),
        ``alpha``; ``"efficient_return"``: ``target_return`` (annualized,
        required); ``"black_litterman"``: ``views`` ({symbol: annualized return},
        required), ``market_caps`` (default equal: the prior is the market-implied
        return of the equal-weight book), ``risk_aversion`` (1.0), ``tau`` (0.05),
        ``view_confidences`` ({symbol: 0..1}, Idzorek's method);
        ``"hrp_pypfopt"``: ``linkage``.

    Returns
    -------
    Series
        Weights over the columns of ``returns`` (0 for dropped symbols; after a
        ``"previous"`` fallback also the previously held symbols outside them), named
        ``date``. ``attrs``: ``"method"``, ``"dropped"`` (symbols without enough
        data), ``"fallback"`` (None, or the fallback record) and ``"notes"``
        (post-solve adjustments: projection onto constraints, turnover blending).

    Raises
    ------
    OptimizationError
        When the problem is infeasible or the solver fails (exception, NaN result,
        weights not summing to 1, a constraint broken); the message names the
        method, the date and the constraint set. Not raised with ``fallback``.
    ParameterError
        For invalid arguments or unknown method options.

    Notes
    -----
    Expected returns are the arithmetic mean of the window times
    ``periods_per_year``. Riskfolio methods work in per-period units (risk-free
    rate divided by ``periods_per_year``); PyPortfolioOpt methods in annualized
    units. Bounds and group caps are native constraints of every solver but
    PyPortfolioOpt's HRP and the closed forms (and group caps of HRP/HERC), whose
    solutions are replaced by the nearest weights (least squares) that satisfy them.
    HRP/HERC (native or riskfolio) fit bounds as riskfolio does: the hierarchical
    weights are clipped to the bounds and what was cut off is spread over the weights
    strictly inside their bounds, pro rata, for at most 100 rounds.
    PyPortfolioOpt problems use cvxpy's default solver (OSQP), re-solved with
    CLARABEL when OSQP fails or misses a bound by more than 1e-8, and CLARABEL
    directly under a turnover limit. Point in time: the weights depend on the
    window only, so a window ending at the rebalance date uses nothing after it.

    Examples
    --------
    >>> import pandas as pd
    >>> nan = float("nan")
    >>> r = pd.DataFrame({"A": [0.01, -0.01] * 5, "B": [0.02, -0.02] * 5, "C": [nan] * 10})
    >>> w = optimize(r, "inverse_vol")  # vols 1:2 -> weights 2:1; C has no data
    >>> [round(x, 6) for x in w], w.attrs["dropped"]
    ([0.666667, 0.333333, 0.0], ['C'])
    """
    x = check_returns_window(returns, "optimize", allow_nan=True)
    check_choice("method", method, OPTIMIZE_METHODS, "optimize")
    name = _ALIASES.get(method, method)
    options = opts_mod.method_options(name, method, dict(method_kw))
    check_choice("covariance", covariance, COVARIANCE_METHODS, "optimize")
    check_number("ewma_span", ewma_span, "optimize", minimum=1.0)
    ppy = check_number("periods_per_year", periods_per_year, "optimize")
    rf = check_number("risk_free", risk_free, "optimize", minimum=-1.0)
    gross = check_number("max_gross", max_gross, "optimize")
    if target_volatility is not None:
        check_number("target_volatility", target_volatility, "optimize")
    elif name == "efficient_risk":
        raise ParameterError(
            "optimize(method='efficient_risk') needs target_volatility=<annualized vol>."
        )
    if max_turnover is not None:
        check_number("max_turnover", max_turnover, "optimize", strict=False)
    if min_observations is not None and not (
        isinstance(min_observations, int)
        and not isinstance(min_observations, bool)
        and min_observations >= 2
    ):
        raise ParameterError(
            "The 'min_observations' parameter of optimize must be an int >= 2 or None; "
            f"got {min_observations!r}."
        )
    check_choice("fallback", fallback, ("inverse_vol", "previous", None), "optimize")
    lower, upper = cons.parse_bounds(bounds, x.columns)
    caps = cons.parse_groups(groups, group_caps)
    prev = cons.parse_previous(previous)
    p = _Problem(
        method=method,
        name=name,
        date=date,
        estimator=covariance,
        ewma_span=float(ewma_span),
        periods_per_year=ppy,
        risk_free=rf,
        options=options,
        bounds=bounds,
        groups=groups,
        group_caps=caps,
        target_volatility=None if target_volatility is None else float(target_volatility),
        max_gross=gross,
        max_turnover=None if max_turnover is None else float(max_turnover),
        previous=prev,
    )
    window, dropped = cons.usable_window(x, min_observations)
    if name == "black_litterman":
        opts_mod.check_black_litterman(options, window.columns, x.columns)
    keep = x.columns.get_indexer(window.columns)
    record: dict[str, Any] | None = None
    try:
        solved = _solve(window, p, lower[keep], upper[keep])
    except OptimizationError as err:
        if fallback is None:
            raise
        if fallback == "previous":
            if prev is None:
                raise OptimizationError(
                    f"{err} fallback='previous' needs the previous weights (previous=...; "
                    "rebalance passes them with max_turnover or fallback='previous')."
                ) from err
            # The whole previous book, symbols outside the window included: no trade.
            held = prev[prev != 0.0]
            solved = prev.reindex(x.columns.append(held.index.difference(x.columns)))
        elif window.shape[1] and len(window) >= 2:
            solved = _inverse_vol(window)
        else:
            raise
        record = {"method": fallback, "reason": str(err)}
    index = x.columns.append(solved.index.difference(x.columns))
    out = solved.reindex(index, fill_value=0.0).fillna(0.0).astype("float64").rename(date)
    out.attrs = {"method": method, "dropped": dropped, "fallback": record, "notes": p.notes}
    return out
