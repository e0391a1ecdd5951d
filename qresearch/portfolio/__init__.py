"""Portfolio construction: weights, walk-forward rebalancing and risk overlays."""

from __future__ import annotations

from qresearch.portfolio import risk
from qresearch.portfolio.rebalancing import rebalance
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
    "bottom_n",
    "cap_weights",
    "discrete_allocation",
    "equal_weights",
    "group_caps",
    "inverse_vol_weights",
    "normalize",
    "rank_weights",
    "rebalance",
    "risk",
    "top_n",
    "vol_scaled_weights",
]
