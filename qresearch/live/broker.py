"""The broker protocol every venue implements, and the records that cross it.

A :class:`Broker` takes :class:`LiveOrder` objects and reports :class:`BrokerOrder`
states and :class:`BrokerFill` executions. Every order carries a client order id
derived deterministically from (strategy id, bar timestamp, symbol, sequence number)
by :func:`client_order_id`, so a submission retried after a crash or a lost response
carries the same id: a venue that already has it returns the existing order instead of
opening a second one (:meth:`Broker.order_by_client_id` finds it).

Implementations: :class:`~qresearch.live.paper.PaperBroker` (the simulator's matching
rules on incoming bars), :class:`~qresearch.live.adapters.ccxt.CCXTBroker` and
:class:`~qresearch.live.adapters.alpaca.AlpacaBroker` (extra ``live``).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from qresearch.exceptions import ParameterError

__all__ = [
    "ORDER_STATUSES",
    "ORDER_TYPES",
    "TIFS",
    "Broker",
    "BrokerFill",
    "BrokerOrder",
    "LiveOrder",
    "client_order_id",
]

ORDER_TYPES = ("market", "limit", "stop", "stop_limit")
TIFS = ("GTC", "DAY", "IOC", "FOK")
# A venue order's state: "open" (working, possibly partially filled) or final.
ORDER_STATUSES = ("open", "filled", "cancelled", "rejected", "expired")
FINAL_STATUSES = frozenset(ORDER_STATUSES[1:])


def _timestamp_text(timestamp: Any) -> str:
    ts = pd.Timestamp(timestamp)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.isoformat()


def client_order_id(strategy_id: str, timestamp: Any, symbol: str, seq: int) -> str:
    """Return the deterministic client order id of an order.

    The same (strategy id, bar timestamp, symbol, sequence number within the bar)
    always gives the same id: ``"qr-"`` and 29 hex digits of a SHA-256 (32 characters,
    within every venue's limit: Binance 36, Alpaca 128). A timestamp is read in UTC.

    Examples
    --------
    >>> client_order_id("sma", "2014-01-02", "ORCL", 0)  # doctest: +ELLIPSIS
    'qr-...'
    >>> a = client_order_id("sma", "2014-01-02", "ORCL", 0)
    >>> a == client_order_id("sma", pd.Timestamp("2014-01-02"), "ORCL", 0)
    True
    >>> a == client_order_id("sma", "2014-01-02", "ORCL", 1)
    False
    """
    key = f"{strategy_id}|{_timestamp_text(timestamp)}|{symbol}|{int(seq)}"
    return "qr-" + hashlib.sha256(key.encode()).hexdigest()[:29]


@dataclass(frozen=True)
class LiveOrder:
    """An order as the runner sends it to a broker.

    Parameters
    ----------
    client_order_id : str
        From :func:`client_order_id`; the venue's idempotency key.
    symbol : str
    side : {"buy", "sell"}
    qty : float
        Units, > 0 and finite.
    order_type : {"market", "limit", "stop", "stop_limit"}
    limit_price, stop_price : float, optional
        Needed by limit / stop / stop-limit orders (> 0, finite).
    tif : {"GTC", "DAY", "IOC", "FOK"}
    """

    client_order_id: str
    symbol: str
    side: str
    qty: float
    order_type: str = "market"
    limit_price: float | None = None
    stop_price: float | None = None
    tif: str = "GTC"

    def __post_init__(self) -> None:
        where = f"order {self.client_order_id!r} ({self.symbol!r})"
        if not isinstance(self.client_order_id, str) or not self.client_order_id:
            raise ParameterError(f"{where}: client_order_id must be a non-empty string.")
        if self.side not in ("buy", "sell"):
            raise ParameterError(f"{where}: side must be 'buy' or 'sell'; got {self.side!r}.")
        if self.order_type not in ORDER_TYPES:
            raise ParameterError(
                f"{where}: order_type must be one of {list(ORDER_TYPES)}; got {self.order_type!r}."
            )
        if self.tif not in TIFS:
            raise ParameterError(f"{where}: tif must be one of {list(TIFS)}; got {self.tif!r}.")
        if not _positive(self.qty):
            raise ParameterError(f"{where}: qty must be a finite number > 0; got {self.qty!r}.")
        needs_limit = self.order_type in ("limit", "stop_limit")
        needs_stop = self.order_type in ("stop", "stop_limit")
        for name, needed in (("limit_price", needs_limit), ("stop_price", needs_stop)):
            value = getattr(self, name)
            if needed and not _positive(value):
                raise ParameterError(
                    f"{where}: a {self.order_type} order needs {name} > 0; got {value!r}."
                )
            if not needed and value is not None:
                raise ParameterError(
                    f"{where}: a {self.order_type} order takes no {name}; got {value!r}."
                )

    @property
    def signed_qty(self) -> float:
        """``qty`` with the side's sign (+ buy, - sell)."""
        return self.qty if self.side == "buy" else -self.qty

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a plain dict (JSON-ready)."""
        return asdict(self)


def _positive(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


@dataclass(frozen=True)
class BrokerOrder:
    """A venue's view of an order.

    ``status`` is one of ``ORDER_STATUSES``: "open" (working, ``filled`` may be > 0)
    or final ("filled", "cancelled", "rejected", "expired"). ``reason`` says why a
    final order did not fill (the venue's words).
    """

    broker_order_id: str
    client_order_id: str
    symbol: str
    side: str
    qty: float
    filled: float = 0.0
    status: str = "open"
    order_type: str = "market"
    limit_price: float | None = None
    stop_price: float | None = None
    avg_price: float | None = None
    reason: str = ""

    @property
    def is_open(self) -> bool:
        """True while the order works at the venue."""
        return self.status not in FINAL_STATUSES


@dataclass(frozen=True)
class BrokerFill:
    """One execution, with the venue's unique ``fill_id`` (a fill is recorded once).

    ``fee`` is in the account currency and >= 0; ``timestamp`` is when it happened
    (for a paper broker: the bar it filled on).
    """

    fill_id: str
    broker_order_id: str
    client_order_id: str
    symbol: str
    side: str
    qty: float
    price: float
    fee: float = 0.0
    timestamp: pd.Timestamp = field(default_factory=lambda: pd.Timestamp(0))

    @property
    def signed_qty(self) -> float:
        """``qty`` with the side's sign (+ buy, - sell)."""
        return self.qty if self.side == "buy" else -self.qty


@runtime_checkable
class Broker(Protocol):
    """What the live runner needs from a venue.

    Every method may raise :class:`~qresearch.exceptions.BrokerError` subclasses:
    ``TransientBrokerError`` after retries ran out, ``AuthenticationError``,
    ``UnknownSymbolError``, ``OrderRejectedError``.
    """

    name: str
    is_paper: bool

    def submit(self, order: LiveOrder) -> str:
        """Send ``order``; return the venue's order id.

        Idempotent: an order whose client id the venue already has is not sent again;
        its existing id is returned.
        """
        ...

    def cancel(self, broker_order_id: str) -> bool:
        """Cancel a working order; False when it was no longer working."""
        ...

    def open_orders(self) -> list[BrokerOrder]:
        """Orders working at the venue."""
        ...

    def order_by_client_id(self, client_order_id: str) -> BrokerOrder | None:
        """Return the venue's order with this client id (working or final), or None."""
        ...

    def positions(self) -> dict[str, float]:
        """Signed quantity held per symbol (symbols with 0 may be left out)."""
        ...

    def balance(self) -> float:
        """Cash in the account currency."""
        ...

    def fills(self, since: pd.Timestamp | None = None) -> list[BrokerFill]:
        """Return the executions at or after ``since`` (all when None), oldest first."""
        ...
