"""A local stand-in for a ccxt exchange: the unified-API subset CCXTBroker calls.

Orders and trades have ccxt's dict shapes; errors are the real ``ccxt`` exception
classes. Knobs inject what a real venue does on a bad day: timeouts, lost responses,
rejects, auth failures, duplicate trade notifications, partial fills.
"""

from __future__ import annotations

import copy
from typing import Any

import ccxt

URL = "https://api.fakex.com/api/v3"


class FakeExchange:
    """A spot exchange in memory with ccxt's unified method names and dict shapes.

    Parameters
    ----------
    markets : iterable of str
        The listed symbols (BASE/QUOTE).
    balances : dict
        Starting total balance per currency.
    rate_limit : float
        ``rateLimit`` in milliseconds (ccxt's attribute).
    api_key, secret : str, optional
        Stored like ccxt does (``apiKey``, ``secret``); error texts of a "leaky" venue
        quote them, so tests can check that the adapter redacts them.
    symbol_required : bool
        Listing methods raise ``ArgumentsRequired`` without a symbol (like Binance).
    """

    id = "fakex"

    def __init__(
        self,
        *,
        markets=("BTC/USDT", "ETH/USDT", "SOL/USDT"),
        balances=None,
        rate_limit: float = 0,
        api_key: str | None = None,
        secret: str | None = None,
        symbol_required: bool = False,
    ) -> None:
        self.rateLimit = rate_limit
        self.apiKey = api_key
        self.secret = secret
        self.has = {
            "fetchOrder": True,
            "fetchOrders": False,
            "fetchOpenOrders": True,
            "fetchClosedOrders": True,
            "fetchCanceledOrders": False,
            "fetchMyTrades": True,
        }
        self.markets: dict[str, dict] | None = None
        self._listed = {
            s: {"symbol": s, "base": s.split("/")[0], "quote": s.split("/")[1], "spot": True}
            for s in markets
        }
        self.total: dict[str, float] = dict(balances or {"USDT": 100_000.0})
        self.orders: dict[str, dict] = {}
        self.trades: list[dict] = []
        self.calls: list[tuple[str, tuple, dict]] = []
        self.sandbox = False
        self.symbol_required = symbol_required
        self.duplicate_trades = False
        self.auth_error = False
        self.now_ms = 1_700_000_000_000
        self._fail: dict[str, list[BaseException]] = {}
        self._reject: BaseException | None = None
        self._lose_next = False
        self._next_id = 1000
        self._next_trade = 1

    # ---------------------------------------------------------------- knobs

    def fail_next(self, method: str, n: int = 1, exc: type = ccxt.RequestTimeout) -> None:
        """Make the next ``n`` calls of ``method`` raise ``exc`` (a ccxt class)."""
        message = (
            f"fakex GET {URL}/order?symbol=BTCUSDT&apiKey={self.apiKey}&signature=9f3a "
            f"{exc.__name__} (secret {self.secret})"
        )
        self._fail.setdefault(method, []).extend(exc(message) for _ in range(n))

    def reject_next(self, exc: type = ccxt.InsufficientFunds, reason: str | None = None) -> None:
        """Make the next ``create_order`` raise ``exc`` with the venue's reason."""
        reason = reason or {
            ccxt.InsufficientFunds: "Account has insufficient balance for requested action.",
            ccxt.InvalidOrder: "Filter failure: LOT_SIZE",
        }.get(exc, "rejected")
        self._reject = exc(f'fakex {{"code":-2010,"msg":"{reason}"}} key={self.apiKey}')

    def lose_next_response(self) -> None:
        """Accept and store the next order, then raise RequestTimeout (lost response)."""
        self._lose_next = True

    def count(self, method: str) -> int:
        """How many times ``method`` was called."""
        return sum(1 for name, _, _ in self.calls if name == method)

    def order_by_cid(self, client_order_id: str) -> dict:
        """The stored order with this client order id."""
        for order in self.orders.values():
            if order["clientOrderId"] == client_order_id:
                return order
        raise KeyError(client_order_id)

    def fill(
        self, client_order_id: str, qty: float, price: float, *, fee_currency: str | None = None
    ) -> str:
        """Execute ``qty`` of an open order at ``price`` (one trade); return the trade id.

        The fee is 0.1 % of the notional, in the quote currency unless ``fee_currency``
        says otherwise (the base currency: 0.1 % of ``qty``).
        """
        order = self.order_by_cid(client_order_id)
        assert order["status"] == "open", order["status"]
        assert qty <= order["remaining"] + 1e-12, (qty, order["remaining"])
        self.now_ms += 1000
        base, quote = order["symbol"].split("/")
        fee_currency = fee_currency or quote
        fee_cost = qty * price * 0.001 if fee_currency == quote else qty * 0.001
        trade_id = f"T{self._next_trade}"
        self._next_trade += 1
        self.trades.append(
            {
                "id": trade_id,
                "order": order["id"],
                "symbol": order["symbol"],
                "type": order["type"],
                "side": order["side"],
                "takerOrMaker": "taker",
                "amount": qty,
                "price": price,
                "cost": qty * price,
                "fee": {"cost": fee_cost, "currency": fee_currency},
                "fees": [{"cost": fee_cost, "currency": fee_currency}],
                "timestamp": self.now_ms,
                "datetime": None,
                "info": {},
            }
        )
        done = order["filled"] + qty
        order["average"] = (order["filled"] * (order["average"] or 0.0) + qty * price) / done
        order["filled"] = done
        order["remaining"] = order["amount"] - done
        order["cost"] = done * order["average"]
        if order["remaining"] <= 1e-12:
            order["remaining"] = 0.0
            order["status"] = "closed"
        sign = 1.0 if order["side"] == "buy" else -1.0
        self.total[base] = self.total.get(base, 0.0) + sign * qty
        self.total[quote] = self.total.get(quote, 0.0) - sign * qty * price
        self.total[fee_currency] = self.total.get(fee_currency, 0.0) - fee_cost
        return trade_id

    def set_status(self, client_order_id: str, status: str) -> None:
        """Force an order's ccxt status ("expired", "rejected", "canceled")."""
        self.order_by_cid(client_order_id)["status"] = status

    # ------------------------------------------------------------- helpers

    def _enter(self, method: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append((method, args, kwargs))
        if self.auth_error:
            raise ccxt.AuthenticationError(
                f'fakex {{"code":-2015,"msg":"Invalid API-key, IP, or permissions for action.'
                f' key {self.apiKey}"}}'
            )
        queue = self._fail.get(method)
        if queue:
            raise queue.pop(0)

    def _need_symbol(self, method: str, symbol: str | None) -> None:
        if symbol is None and self.symbol_required:
            raise ccxt.ArgumentsRequired(f"fakex {method}() requires a symbol argument")
        if symbol is not None and symbol not in self._listed:
            raise ccxt.BadSymbol(f"fakex does not have market symbol {symbol}")

    def _listing(self, symbol: str | None, statuses: tuple[str, ...]) -> list[dict]:
        return [
            copy.deepcopy(o)
            for o in self.orders.values()
            if o["status"] in statuses and (symbol is None or o["symbol"] == symbol)
        ]

    # --------------------------------------------------------- unified API

    def load_markets(self, reload: bool = False, params: dict | None = None) -> dict:
        self._enter("load_markets", reload)
        self.markets = copy.deepcopy(self._listed)
        return self.markets

    def set_sandbox_mode(self, enabled: bool) -> None:
        self.sandbox = bool(enabled)

    def create_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: float,
        price: float | None = None,
        params: dict | None = None,
    ) -> dict:
        params = dict(params or {})
        self._enter("create_order", symbol, type, side, amount, price, params)
        if symbol not in self._listed:
            raise ccxt.BadSymbol(f"fakex does not have market symbol {symbol}")
        if self._reject is not None:
            exc, self._reject = self._reject, None
            raise exc
        cid = params.get("clientOrderId")
        if cid and any(o["clientOrderId"] == cid for o in self.orders.values()):
            raise ccxt.DuplicateOrderId(f"fakex Duplicate order sent: {cid}")
        if type not in ("market", "limit"):
            raise ccxt.InvalidOrder(f"fakex unsupported order type {type}")
        if type == "limit" and price is None:
            raise ccxt.InvalidOrder("fakex limit order needs a price")
        self.now_ms += 1000
        oid = str(self._next_id)
        self._next_id += 1
        order = {
            "id": oid,
            "clientOrderId": cid,
            "timestamp": self.now_ms,
            "datetime": None,
            "symbol": symbol,
            "type": type,
            "side": side,
            "timeInForce": params.get("timeInForce"),
            "amount": float(amount),
            "filled": 0.0,
            "remaining": float(amount),
            "price": price,
            "average": None,
            "cost": 0.0,
            "triggerPrice": params.get("stopPrice"),
            "stopPrice": params.get("stopPrice"),
            "status": "open",
            "fee": None,
            "trades": [],
            "info": {"params": params},
        }
        self.orders[oid] = order
        if self._lose_next:
            self._lose_next = False
            raise ccxt.RequestTimeout(f"fakex POST {URL}/order?signature=77 request timed out")
        return copy.deepcopy(order)

    def cancel_order(self, id: str, symbol: str | None = None, params: dict | None = None) -> dict:
        self._enter("cancel_order", id, symbol)
        order = self.orders.get(str(id))
        if order is None or order["status"] != "open":
            raise ccxt.OrderNotFound(f'fakex {{"code":-2011,"msg":"Unknown order sent."}} {id}')
        order["status"] = "canceled"
        return copy.deepcopy(order)

    def fetch_order(self, id: str, symbol: str | None = None, params: dict | None = None) -> dict:
        self._enter("fetch_order", id, symbol)
        order = self.orders.get(str(id))
        if order is None:
            raise ccxt.OrderNotFound(f"fakex order {id} not found")
        return copy.deepcopy(order)

    def fetch_orders(self, symbol=None, since=None, limit=None, params=None) -> list[dict]:
        self._enter("fetch_orders", symbol, since)
        self._need_symbol("fetch_orders", symbol)
        return self._listing(symbol, ("open", "closed", "canceled", "expired", "rejected"))

    def fetch_open_orders(self, symbol=None, since=None, limit=None, params=None) -> list[dict]:
        self._enter("fetch_open_orders", symbol, since)
        self._need_symbol("fetch_open_orders", symbol)
        return self._listing(symbol, ("open",))

    def fetch_closed_orders(self, symbol=None, since=None, limit=None, params=None) -> list[dict]:
        self._enter("fetch_closed_orders", symbol, since)
        self._need_symbol("fetch_closed_orders", symbol)
        return self._listing(symbol, ("closed", "canceled", "expired", "rejected"))

    def fetch_my_trades(self, symbol=None, since=None, limit=None, params=None) -> list[dict]:
        self._enter("fetch_my_trades", symbol, since)
        self._need_symbol("fetch_my_trades", symbol)
        out = []
        for trade in self.trades:
            if symbol is not None and trade["symbol"] != symbol:
                continue
            if since is not None and trade["timestamp"] < since:
                continue
            out.append(copy.deepcopy(trade))
            if self.duplicate_trades:
                out.append(copy.deepcopy(trade))
        return out

    def fetch_balance(self, params: dict | None = None) -> dict:
        self._enter("fetch_balance")
        used: dict[str, float] = {}
        for o in self.orders.values():
            if o["status"] != "open":
                continue
            base, quote = o["symbol"].split("/")
            if o["side"] == "buy":
                price = o["price"] or 0.0
                used[quote] = used.get(quote, 0.0) + o["remaining"] * price
            else:
                used[base] = used.get(base, 0.0) + o["remaining"]
        total = dict(self.total)
        free = {c: v - used.get(c, 0.0) for c, v in total.items()}
        out: dict[str, Any] = {"info": {}, "free": free, "used": used, "total": total}
        for c in total:
            out[c] = {"free": free[c], "used": used.get(c, 0.0), "total": total[c]}
        return out
