"""Options of each :func:`qresearch.portfolio.optimize` method: defaults and checks (private)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from qresearch._validation import check_choice, check_number
from qresearch.exceptions import ParameterError

_HC_OPTIONS: dict[str, Any] = {
    "linkage": "single",
    "codependence": "pearson",
    "max_k": 10,
    "leaf_order": True,
}
_OPTIONS: dict[str, dict[str, Any]] = {
    "hrp": _HC_OPTIONS,
    "herc": _HC_OPTIONS,
    "hrp_riskfolio": _HC_OPTIONS,
    "herc_riskfolio": _HC_OPTIONS,
    "risk_parity": {"budget": None, "risk_measure": "MV", "alpha": 0.05},
    "mean_variance": {
        "objective": "Sharpe",
        "risk_measure": "MV",
        "risk_aversion": 2.0,
        "alpha": 0.05,
    },
    "max_sharpe": {},
    "min_vol": {},
    "efficient_risk": {},
    "efficient_return": {"target_return": None},
    "black_litterman": {
        "views": None,
        "market_caps": None,
        "risk_aversion": 1.0,
        "tau": 0.05,
        "view_confidences": None,
    },
    "hrp_pypfopt": {"linkage": "single"},
    "equal": {},
    "inverse_vol": {},
}
# riskfolio-lib's HCPortfolio rules: native (hrp, herc) or riskfolio itself.
_HIERARCHICAL = ("hrp", "herc", "hrp_riskfolio", "herc_riskfolio")
_OBJECTIVES = ("Sharpe", "MinRisk", "Utility", "MaxRet")
_RISK_MEASURES = ("MV", "CVaR", "CDaR")
_CODEPENDENCES = (
    "pearson",
    "spearman",
    "kendall",
    "gerber1",
    "gerber2",
    "abs_pearson",
    "abs_spearman",
    "abs_kendall",
    "distance",
    "mutual_info",
    "tail",
)
_LINKAGES = ("single", "complete", "average", "weighted", "centroid", "median", "ward")


def method_options(name: str, method: str, method_kw: dict[str, Any]) -> dict[str, Any]:
    """Return the defaults of the method's options overridden by ``method_kw``, checked."""
    allowed = _OPTIONS[name]
    unknown = sorted(set(method_kw) - set(allowed))
    if unknown:
        raise ParameterError(
            f"optimize(method={method!r}) got unknown option(s) {unknown}; its options are "
            f"{sorted(allowed) or 'none'}."
        )
    opts = {**allowed, **method_kw}
    if name in (*_HIERARCHICAL, "hrp_pypfopt"):
        check_choice("linkage", opts["linkage"], _LINKAGES, "optimize")
    if name in _HIERARCHICAL:
        check_choice("codependence", opts["codependence"], _CODEPENDENCES, "optimize")
        k = opts["max_k"]
        if not (isinstance(k, int) and not isinstance(k, bool) and k >= 2):
            raise ParameterError(
                f"The 'max_k' parameter of optimize must be an int >= 2; got {k!r}."
            )
    if name in ("risk_parity", "mean_variance"):
        check_choice("risk_measure", opts["risk_measure"], _RISK_MEASURES, "optimize")
        if not check_number("alpha", opts["alpha"], "optimize") < 1:
            raise ParameterError(
                f"The 'alpha' parameter of optimize must be in (0, 1); got {opts['alpha']!r}."
            )
    if name == "mean_variance":
        check_choice("objective", opts["objective"], _OBJECTIVES, "optimize")
        check_number("risk_aversion", opts["risk_aversion"], "optimize")
    if name == "efficient_return":
        if opts["target_return"] is None:
            raise ParameterError(
                "optimize(method='efficient_return') needs target_return=<annualized return>."
            )
        check_number("target_return", opts["target_return"], "optimize", minimum=-1.0)
    if name == "black_litterman":
        if not isinstance(opts["views"], Mapping) or not opts["views"]:
            raise ParameterError(
                "optimize(method='black_litterman') needs views={symbol: annualized "
                f"expected return, ...}}; got {opts['views']!r}."
            )
        check_number("risk_aversion", opts["risk_aversion"], "optimize")
        tau = check_number("tau", opts["tau"], "optimize")
        if tau > 1:
            raise ParameterError(f"The 'tau' parameter of optimize must be in (0, 1]; got {tau}.")
    return opts


def check_black_litterman(opts: dict[str, Any], kept: pd.Index, symbols: pd.Index) -> None:
    """Check views, market caps and view confidences against the window's symbols."""
    unknown = [s for s in opts["views"] if s not in symbols]
    if unknown:
        raise ParameterError(
            f"views name symbols {unknown[:5]} that are not columns of returns; drop those views."
        )
    caps = opts["market_caps"]
    if caps is not None:
        missing = [s for s in kept if s not in caps]
        if missing:
            raise ParameterError(f"market_caps has no value for {missing[:5]}; give every symbol.")
    conf = opts["view_confidences"]
    if conf is not None:
        missing = [s for s in opts["views"] if s not in conf]
        if missing:
            raise ParameterError(f"view_confidences has no value for views on {missing[:5]}.")
