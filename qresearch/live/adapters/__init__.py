"""Live broker adapters for real venues (extra ``live``).

:class:`~qresearch.live.adapters.ccxt.CCXTBroker` trades on any spot exchange ccxt
supports; :class:`~qresearch.live.adapters.alpaca.AlpacaBroker` on Alpaca. Both
implement :class:`~qresearch.live.broker.Broker`. They are loaded on first use, so
importing this package imports neither ccxt nor alpaca-py.

Keys are read from environment variables only: ``QRESEARCH_CCXT_API_KEY``,
``QRESEARCH_CCXT_SECRET`` (and ``QRESEARCH_CCXT_PASSWORD``) for ccxt;
``APCA_API_KEY_ID`` and ``APCA_API_SECRET_KEY`` for Alpaca.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qresearch._lazy import lazy_attribute, lazy_dir

if TYPE_CHECKING:
    from qresearch.live.adapters.alpaca import AlpacaBroker
    from qresearch.live.adapters.ccxt import CCXTBroker

__all__ = ["AlpacaBroker", "CCXTBroker"]

_LAZY = {
    "CCXTBroker": "qresearch.live.adapters.ccxt",
    "AlpacaBroker": "qresearch.live.adapters.alpaca",
}


def __getattr__(name: str) -> Any:
    """Import an adapter class on first access (PEP 562)."""
    return lazy_attribute(__name__, _LAZY, name)


def __dir__() -> list[str]:
    """List the module's names, the lazy adapter classes included."""
    return lazy_dir(__name__, _LAZY)
