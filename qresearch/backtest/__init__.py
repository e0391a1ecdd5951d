"""The vectorized backtest engine: ``from_weights``, costs and ``BacktestResult``.

Light at import: numba compiles the kernels on the first backtest.
"""

from __future__ import annotations

from qresearch.backtest.costs import Costs
from qresearch.backtest.engine import from_signals, from_weights
from qresearch.backtest.result import BacktestResult

__all__ = ["BacktestResult", "Costs", "from_signals", "from_weights"]
