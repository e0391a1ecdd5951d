"""A local stand-in for alpaca-py's TradingClient: the methods AlpacaBroker calls.

It takes alpaca-py's real request objects, returns real ``alpaca.trading.models``
objects, and raises the real ``alpaca.common.exceptions.APIError`` (wrapping a
``requests.HTTPError`` whose response carries the status code), as alpaca-py does.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import QueryOrderStatus
from alpaca.trading.models import Order, Position, TradeAccount

BASE = "https://paper-api.alpaca.markets/v2"
OPEN = {"new", "accepted", "pending_new", "partially_filled", "held", "pending_cancel"}


def api_error(status: int, message: str, code: int | None = None, url: str = BASE) -> APIError:
    """An APIError as alpaca-py raises it: the body text plus the HTTPError."""
    body = json.dumps({"code": code or status * 100000, "message": message})
    response = requests.Response()
    response.status_code = status
    response._content = body.encode()
    response.url = url
    http_error = requests.HTTPError(f"{status} Client Error: for url: {url}", response=response)
    return APIError(body, http_error)


def read_timeout(secret: str | None = None) -> requests.exceptions.ReadTimeout:
    """A requests read timeout like the ones a slow Alpaca gives (quoting a secret if given)."""
    return requests.exceptions.ReadTimeout(
        f"HTTPSConnectionPool(host='paper-api.alpaca.markets', port=443): Read timed out. "
        f"(read timeout=10) {secret or ''}"
    )


class FakeTradingClient:
    """An Alpaca account in memory, with TradingClient's method names and signatures.

    Parameters
    ----------
    symbols : iterable of str
        The assets Alpaca "lists".
    cash : float
        Starting cash.
    api_key, secret_key : str, optional
        Quoted by the fake's error texts (a leaky venue), to test redaction.
    unknown_symbol_status : int
        HTTP status for an order on an unlisted symbol (Alpaca answers 422; 404 tested too).
    """

    def __init__(
        self,
        *,
        symbols=("AAPL", "MSFT", "SPY"),
        cash: float = 100_000.0,
        api_key: str | None = None,
        secret_key: str | None = None,
        unknown_symbol_status: int = 422,
    ) -> None:
        self.symbols = set(symbols)
        self.cash = float(cash)
        self.api_key = api_key
        self.secret_key = secret_key
        self.unknown_symbol_status = unknown_symbol_status
        self.orders: dict[str, dict[str, Any]] = {}  # order id -> fields, in creation order
        self.holdings: dict[str, dict[str, float]] = {}  # symbol -> qty, cost
        self.calls: list[tuple[str, tuple]] = []
        self.duplicate_listing = False
        self.auth_status: int | None = None
        self.now = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)
        self._fail: dict[str, list[BaseException]] = {}
        self._reject: APIError | None = None
        self._lose_next = False
        self._n = 0

    # ---------------------------------------------------------------- knobs

    def fail_next(self, method: str, n: int = 1, exc=None) -> None:
        """Make the next ``n`` calls of ``method`` raise ``exc()`` (a read timeout by default)."""
        make = exc or (lambda: read_timeout(self.secret_key))
        self._fail.setdefault(method, []).extend(make() for _ in range(n))

    def reject_next(self, status: int = 403, message: str = "insufficient buying power") -> None:
        """Make the next ``submit_order`` fail with an APIError (403 or 422 + reason)."""
        self._reject = api_error(status, f"{message} (key {self.api_key})", 40310000)

    def lose_next_response(self) -> None:
        """Accept and store the next order, then raise a read timeout (lost response)."""
        self._lose_next = True

    def count(self, method: str) -> int:
        """How many times ``method`` was called."""
        return sum(1 for name, _ in self.calls if name == method)

    def order_by_cid(self, client_order_id: str) -> dict[str, Any]:
        """The stored fields of the order with this client order id."""
        for order in self.orders.values():
            if order["client_order_id"] == client_order_id:
                return order
        raise KeyError(client_order_id)

    def fill(self, client_order_id: str, qty: float, price: float) -> None:
        """Execute ``qty`` of an open order at ``price``."""
        order = self.order_by_cid(client_order_id)
        assert order["status"] in OPEN, order["status"]
        done = float(order["filled_qty"])
        total = float(order["qty"])
        assert done + qty <= total + 1e-12
        avg = float(order["filled_avg_price"] or 0.0)
        new_done = done + qty
        order["filled_avg_price"] = str((done * avg + qty * price) / new_done)
        order["filled_qty"] = str(new_done)
        self.now += timedelta(seconds=1)
        order["updated_at"] = self.now
        if new_done >= total - 1e-12:
            order["status"] = "filled"
            order["filled_at"] = self.now
        else:
            order["status"] = "partially_filled"
        sign = 1.0 if order["side"] == "buy" else -1.0
        hold = self.holdings.setdefault(order["symbol"], {"qty": 0.0, "cost": 0.0})
        hold["qty"] += sign * qty
        hold["cost"] += sign * qty * price
        self.cash -= sign * qty * price

    def set_status(self, client_order_id: str, status: str) -> None:
        """Force an order's Alpaca status ("expired", "canceled", "rejected", ...)."""
        self.order_by_cid(client_order_id)["status"] = status

    # ------------------------------------------------------------- helpers

    def _enter(self, method: str, *args: Any) -> None:
        self.calls.append((method, args))
        if self.auth_status is not None:
            raise api_error(
                self.auth_status,
                f"request is not authorized (key id {self.api_key})",
                40110000,
            )
        queue = self._fail.get(method)
        if queue:
            raise queue.pop(0)

    @staticmethod
    def _model(fields: dict[str, Any]) -> Order:
        return Order(**fields)

    # ---------------------------------------------------- TradingClient API

    def submit_order(self, order_data) -> Order:
        self._enter("submit_order", order_data)
        if self._reject is not None:
            exc, self._reject = self._reject, None
            raise exc
        symbol = order_data.symbol
        if symbol not in self.symbols:
            raise api_error(self.unknown_symbol_status, f'asset "{symbol}" not found', 40010001)
        cid = order_data.client_order_id or str(uuid.uuid4())
        if any(o["client_order_id"] == cid for o in self.orders.values()):
            raise api_error(422, "client_order_id must be unique", 40010001)
        self._n += 1
        self.now += timedelta(seconds=1)
        oid = str(uuid.UUID(int=self._n))
        kind = getattr(order_data.type, "value", order_data.type)
        fields = {
            "id": oid,
            "client_order_id": cid,
            "created_at": self.now,
            "updated_at": self.now,
            "submitted_at": self.now,
            "asset_id": str(uuid.UUID(int=10_000 + len(symbol))),
            "symbol": symbol,
            "asset_class": "us_equity",
            "qty": str(order_data.qty),
            "filled_qty": "0",
            "filled_avg_price": None,
            "order_class": "simple",
            "order_type": kind,
            "type": kind,
            "side": getattr(order_data.side, "value", order_data.side),
            "time_in_force": getattr(order_data.time_in_force, "value", order_data.time_in_force),
            "limit_price": None
            if getattr(order_data, "limit_price", None) is None
            else str(order_data.limit_price),
            "stop_price": None
            if getattr(order_data, "stop_price", None) is None
            else str(order_data.stop_price),
            "status": "accepted",
            "extended_hours": False,
        }
        self.orders[oid] = fields
        if self._lose_next:
            self._lose_next = False
            raise read_timeout()
        return self._model(fields)

    def get_orders(self, filter=None) -> list[Order]:
        self._enter("get_orders", filter)
        status = getattr(filter, "status", None) or QueryOrderStatus.OPEN
        limit = getattr(filter, "limit", None) or 50
        rows = list(self.orders.values())[::-1]  # newest first, like Alpaca
        if status == QueryOrderStatus.OPEN:
            rows = [o for o in rows if o["status"] in OPEN]
        elif status == QueryOrderStatus.CLOSED:
            rows = [o for o in rows if o["status"] not in OPEN]
        rows = rows[:limit]
        out = [self._model(o) for o in rows]
        if self.duplicate_listing:
            out = [m for o in rows for m in (self._model(o), self._model(o))]
        return out

    def get_order_by_client_id(self, client_id: str) -> Order:
        self._enter("get_order_by_client_id", client_id)
        for order in self.orders.values():
            if order["client_order_id"] == client_id:
                return self._model(order)
        raise api_error(404, "order not found", 40410000)

    def cancel_order_by_id(self, order_id) -> None:
        self._enter("cancel_order_by_id", order_id)
        order = self.orders.get(str(order_id))
        if order is None:
            raise api_error(404, "order not found", 40410000)
        if order["status"] not in OPEN:
            raise api_error(422, f'order is already in "{order["status"]}" state', 42210000)
        order["status"] = "canceled"
        order["canceled_at"] = self.now

    def get_all_positions(self) -> list[Position]:
        self._enter("get_all_positions")
        out = []
        for symbol, hold in self.holdings.items():
            if abs(hold["qty"]) < 1e-12:
                continue
            qty = hold["qty"]
            out.append(
                Position(
                    asset_id=str(uuid.UUID(int=10_000 + len(symbol))),
                    symbol=symbol,
                    exchange="NASDAQ",
                    asset_class="us_equity",
                    avg_entry_price=str(hold["cost"] / qty),
                    qty=str(qty),  # Alpaca lists short quantities negative
                    side="long" if qty > 0 else "short",
                    cost_basis=str(abs(hold["cost"])),
                )
            )
        return out

    def get_account(self) -> TradeAccount:
        self._enter("get_account")
        return TradeAccount(
            id=str(uuid.UUID(int=1)),
            account_number="PA000FAKE",
            status="ACTIVE",
            currency="USD",
            cash=str(self.cash),
            buying_power=str(self.cash),
        )
