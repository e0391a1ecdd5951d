"""Portfolio construction: weights, optimizers, walk-forward rebalancing and risk overlays.

The optimizer adapters (riskfolio-lib, PyPortfolioOpt) import their libraries only
when :func:`optimize` is called (``pip install qresearch[opt]``).
"""

from __future__ import annotations

from qresearch.portfolio import risk
from qresearch.portfolio.optimization import OPTIMIZE_METHODS, optimize
from qresearch.portfolio.rebalancing import rebalance, rebalance_result
from qresearch.portfolio.report import RebalanceResult
from qresearch.portfolio.risk_models import COVARIANCE_METHODS, covariance
from qresearch.portfolio.weights import (
    bottom_n,
    cap_weights,
    discrete_allocation,
    equal_weights,
    group_caps,
    inverse_vol_weights,
    normalize,
    rank_weights,
    top_n,
    vol_scaled_weights,
)

__all__ = [
    "COVARIANCE_METHODS",
    "OPTIMIZE_METHODS",
    "RebalanceResult",
    "bottom_n",
    "cap_weights",
    "covariance",
    "discrete_allocation",
    "equal_weights",
    "group_caps",
    "inverse_vol_weights",
    "normalize",
    "optimize",
    "rank_weights",
    "rebalance",
    "rebalance_result",
    "risk",
    "top_n",
    "vol_scaled_weights",
]
