"""qresearch: a Jupyter-centric, vectorized research toolkit for systematic trading.

``import qresearch`` is light: it loads no numba, scipy or optional library.
Submodules load on first attribute access (``qresearch.data``) and the notebook
namespace is ``import qresearch.api as qr``.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = frozenset(
    {
        "api",
        "backtest",
        "cli",
        "config",
        "data",
        "datasets",
        "evaluation",
        "exceptions",
        "features",
        "labels",
        "live",
        "model_selection",
        "portfolio",
        "research",
        "signals",
        "sim",
    }
)

__all__ = ["__version__", *sorted(_SUBMODULES)]


def __getattr__(name: str) -> Any:
    # Lazy submodule access (PEP 562): qresearch.data imports qresearch/data on first use.
    if name in _SUBMODULES:
        module = importlib.import_module(f"qresearch.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'qresearch' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _SUBMODULES)
