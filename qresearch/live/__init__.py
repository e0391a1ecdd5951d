"""Live hand-off: paper and real brokers, a durable state store, the live runner.

A strategy validated in ``qr.sim`` runs unchanged: :class:`LiveRunner` gives it the
same ``ctx`` on bars from a feed (:class:`ReplayFeed`, :class:`PollingFeed`) and sends
its orders, through the risk guard (:class:`OrderLimits`, ``RiskLimits``) and the
state store (:class:`StateStore`), to a :class:`Broker`: :class:`PaperBroker` (the
simulator's fill rules), ``CCXTBroker`` or ``AlpacaBroker`` (extra ``live``). Dry-run
is the default; real orders need ``dry_run=False, confirm_live=True``.

Names load lazily, so ``import qresearch.live`` stays light.
"""

from __future__ import annotations

from typing import Any

from qresearch._lazy import lazy_attribute, lazy_dir

_NAMES = {
    "Broker": "qresearch.live.broker",
    "BrokerFill": "qresearch.live.broker",
    "BrokerOrder": "qresearch.live.broker",
    "LiveOrder": "qresearch.live.broker",
    "client_order_id": "qresearch.live.broker",
    "PaperBroker": "qresearch.live.paper",
    "StateStore": "qresearch.live.store",
    "OrderLimits": "qresearch.live.guard",
    "RiskGuard": "qresearch.live.guard",
    "ReplayFeed": "qresearch.live.feeds",
    "PollingFeed": "qresearch.live.feeds",
    "LiveRunner": "qresearch.live.runner",
    "LiveContext": "qresearch.live.runner",
    "Status": "qresearch.live.status",
    "write_status_page": "qresearch.live.status",
    "CCXTBroker": "qresearch.live.adapters.ccxt",
    "AlpacaBroker": "qresearch.live.adapters.alpaca",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    return lazy_attribute(__name__, _NAMES, name)


def __dir__() -> list[str]:
    return lazy_dir(__name__, _NAMES)
