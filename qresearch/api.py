"""The notebook namespace: ``import qresearch.api as qr``.

Stage packages are imported here (each is light at import; heavy libraries load
inside the functions that need them), so ``qr.<TAB>`` shows the whole toolkit.

Examples
--------
>>> import qresearch.api as qr
>>> bars = qr.datasets.load_sample("ohlcv", symbols=["NVDA"])
>>> qr.data.validate_bars(bars).empty
True
"""

from __future__ import annotations

from qresearch import __version__ as __version__
from qresearch import (
    backtest,
    config,
    data,
    datasets,
    evaluation,
    exceptions,
    features,
    labels,
    live,
    model_selection,
    portfolio,
    research,
    signals,
    sim,
)
from qresearch.backtest import BacktestResult, from_weights
from qresearch.config import Config, DemoConfig
from qresearch.data import Bars, Lake, align, validate_bars
from qresearch.datasets import load_sample
from qresearch.exceptions import QResearchError

__all__ = [
    "BacktestResult",
    "Bars",
    "Config",
    "DemoConfig",
    "Lake",
    "QResearchError",
    "__version__",
    "align",
    "backtest",
    "config",
    "data",
    "datasets",
    "evaluation",
    "exceptions",
    "features",
    "from_weights",
    "labels",
    "live",
    "load_sample",
    "model_selection",
    "portfolio",
    "research",
    "signals",
    "sim",
    "validate_bars",
]
