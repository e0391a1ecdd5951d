"""Event-driven simulation: order-level validation of vectorized results.

``Simulator(bars, ...).run(strategy)`` calls the strategy once per bar with the
cross-section (``ctx``); one numba kernel per bar matches every working order of
every symbol against the bar, with the execution core (fees, slippage, impact,
cash limits) shared with :mod:`qresearch.backtest`. ``TargetWeights`` replays a
weight panel as orders and :func:`reconcile` explains every difference between the
two engines. The fill rules are in :mod:`qresearch.sim.engine`.
"""

from __future__ import annotations

from qresearch.sim.context import Context
from qresearch.sim.engine import Simulator
from qresearch.sim.orders import Bracket, Fill, OrderInfo
from qresearch.sim.reconcile import Reconciliation, reconcile
from qresearch.sim.result import SimResult
from qresearch.sim.strategies import TWAP, VWAP, TargetWeights

__all__ = [
    "TWAP",
    "VWAP",
    "Bracket",
    "Context",
    "Fill",
    "OrderInfo",
    "Reconciliation",
    "SimResult",
    "Simulator",
    "TargetWeights",
    "reconcile",
]
