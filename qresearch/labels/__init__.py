"""Labels: what happened after each event (uses data after t; only in this package).

Every label row carries ``t1``, the time its outcome is known, so that
:mod:`qresearch.model_selection` can purge overlapping training samples. Sample
weights for overlapping labels live in :mod:`qresearch.labels.weights`.
Importing this package loads pandas but no numba, scipy or statsmodels: the kernels
compile on first use.
"""

from __future__ import annotations

from qresearch.labels.barriers import BARRIERS, daily_volatility, triple_barrier
from qresearch.labels.events import cusum_filter
from qresearch.labels.fixed_horizon import fixed_horizon_labels, trend_scanning_labels
from qresearch.labels.weights import (
    num_concurrent_events,
    return_attribution_weights,
    seq_bootstrap,
    time_decay_weights,
    uniqueness_weights,
)

__all__ = [
    "BARRIERS",
    "cusum_filter",
    "daily_volatility",
    "fixed_horizon_labels",
    "num_concurrent_events",
    "return_attribution_weights",
    "seq_bootstrap",
    "time_decay_weights",
    "trend_scanning_labels",
    "triple_barrier",
    "uniqueness_weights",
]
