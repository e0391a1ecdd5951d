"""A :class:`~qresearch.live.broker.Broker` on any spot exchange ccxt supports.

:class:`CCXTBroker` speaks ccxt's unified API (``create_order``, ``cancel_order``,
``fetch_order``, ``fetch_orders`` / ``fetch_open_orders`` / ``fetch_closed_orders``,
``fetch_my_trades``, ``fetch_balance``, ``load_markets``), so the same code runs on
Binance, Kraken, Coinbase, OKX... Keys come from environment variables only.
"""

from __future__ import annotations

import difflib
import logging
import math
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import pandas as pd

from qresearch._optional import import_optional
from qresearch.exceptions import (
    AuthenticationError,
    BrokerError,
    OrderRejectedError,
    ParameterError,
    UnknownSymbolError,
)
from qresearch.live.adapters._retry import (
    CallRunner,
    Redactor,
    check_retry_settings,
    missing_keys_error,
    read_env,
)
from qresearch.live.broker import ORDER_TYPES, BrokerFill, BrokerOrder, LiveOrder

__all__ = ["CCXTBroker"]

log = logging.getLogger("qresearch.live.adapters")

# ccxt's unified order statuses -> BrokerOrder.status ("closed" means fully filled).
_STATUS = {
    "open": "open",
    "closed": "filled",
    "canceled": "cancelled",
    "cancelled": "cancelled",
    "expired": "expired",
    "rejected": "rejected",
}
# The ccxt methods that list past orders, in the order submit looks through them.
_HISTORY = (
    ("fetchOpenOrders", "fetch_open_orders"),
    ("fetchClosedOrders", "fetch_closed_orders"),
    ("fetchCanceledOrders", "fetch_canceled_orders"),
)


def _never(exc: BaseException) -> bool:
    return False


def _utc(ts: Any) -> pd.Timestamp:
    """Return a timestamp as tz-naive UTC (a naive input is taken to be UTC)."""
    out = pd.Timestamp(ts)
    if out.tzinfo is not None:
        out = out.tz_convert("UTC").tz_localize(None)
    return out


def _num(value: Any, default: float = 0.0) -> float:
    """Return a ccxt number (float, str or None) as a float."""
    if value is None or value == "":
        return default
    out = float(value)
    return out if math.isfinite(out) else default


class CCXTBroker:
    """A broker on a ccxt exchange (spot), with retries, pacing and idempotent submits.

    Keys are read from environment variables only, never from arguments or files:
    ``QRESEARCH_CCXT_API_KEY`` and ``QRESEARCH_CCXT_SECRET`` (required), and
    ``QRESEARCH_CCXT_PASSWORD`` for exchanges that need a passphrase (OKX, KuCoin...).
    The names can be changed with ``api_key_env``, ``secret_env``, ``password_env``.
    Key values never appear in logs, ``repr`` or exception messages: texts quoted from
    ccxt errors are redacted and library exceptions are not chained.

    ``is_paper`` is False even with ``sandbox=True``: the runner sends real orders to
    this broker only after an explicit opt-in.

    Conventions
    -----------
    * Orders: ``create_order(symbol, type, side, amount, price, params)`` with
      ``params["clientOrderId"]`` = the order's client order id. A stop order is a
      ``"market"`` order and a stop-limit a ``"limit"`` order with
      ``params["stopPrice"]``. ``params["timeInForce"]`` is sent for orders with a limit
      price, and for the others only when it is not ``"GTC"`` (several exchanges refuse
      a time in force on market orders).
    * ``submit`` looks the client order id up first (``fetch_order`` for ids this
      instance submitted, else ``fetch_orders`` or ``fetch_open_orders`` +
      ``fetch_closed_orders``, filtered on ``clientOrderId``), so resubmitting after a
      crash returns the existing order. When ``create_order`` times out or the network
      fails, it looks again before each retry: an order the venue accepted but whose
      response was lost is never sent twice.
    * ``balance()`` is the *free* balance of ``quote`` (``fetch_balance()["free"]``):
      cash available for new orders, without what open buy orders hold.
    * ``positions()`` are spot holdings: the *total* balance of every other currency
      (free + held by open sell orders), keyed ``"<CURRENCY>/<quote>"`` (e.g.
      ``"BTC/USDT"``), so the keys match the symbols orders use.
    * ``fills()`` calls ``fetch_my_trades(None, since=<ms>)``; exchanges that need a
      symbol (Binance) are asked per symbol: the ones this instance traded plus the held
      currencies' ``/quote`` markets. One call returns the venue's first page: poll with
      ``since`` advancing. Fees are converted to the quote currency when charged in the
      base or quote currency; a fee in a third currency (e.g. BNB) is recorded as 0 and
      logged (it shows in ``positions()`` as a lower holding of that currency).
    * Timestamps are tz-naive UTC; a naive ``since`` is read as UTC.

    Parameters
    ----------
    exchange_id : str
        A ccxt exchange id (``ccxt.exchanges`` lists them), e.g. ``"binance"``.
    exchange : object, optional
        A ready object with ccxt's unified API (a ``ccxt.<id>`` instance or a test fake);
        when given, no keys are read to build a client (any set key variables are still
        read, to be redacted from messages).
    sandbox : bool
        Call ``set_sandbox_mode(True)`` (the exchange's testnet; needs testnet keys).
    quote : str
        The account currency: cash and fees are in it, positions are priced against it.
    max_retries : int
        Retries of a request after a transient error (timeout, network error, rate limit).
    backoff : float
        Seconds before the first retry; doubled with each retry.
    sleep, clock : callable
        ``time.sleep`` and ``time.monotonic`` by default; tests inject fakes.
    api_key_env, secret_env, password_env : str
        Names of the environment variables holding the key, the secret and the
        optional passphrase.

    Raises
    ------
    ParameterError
        Unknown exchange id, or no sandbox for this exchange.
    AuthenticationError
        The key variables are not set (names them).
    OptionalDependencyError
        ccxt is not installed (``pip install "qresearch[live]"``).
    """

    is_paper: bool = False

    def __init__(
        self,
        exchange_id: str,
        *,
        exchange: Any = None,
        sandbox: bool = False,
        quote: str = "USDT",
        max_retries: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], Any] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        api_key_env: str = "QRESEARCH_CCXT_API_KEY",
        secret_env: str = "QRESEARCH_CCXT_SECRET",
        password_env: str = "QRESEARCH_CCXT_PASSWORD",
    ) -> None:
        if not isinstance(exchange_id, str) or not exchange_id.strip():
            raise ParameterError(
                f"exchange_id must be a ccxt exchange id such as 'binance'; got {exchange_id!r}."
            )
        if not isinstance(quote, str) or not quote:
            raise ParameterError(f"quote must be a currency code such as 'USDT'; got {quote!r}.")
        check_retry_settings(max_retries, backoff, sleep, clock)
        self.exchange_id = exchange_id
        self.quote = quote
        self.sandbox = bool(sandbox)
        self.name = f"ccxt:{exchange_id}" + ("-sandbox" if self.sandbox else "")
        self._key_names = (api_key_env, secret_env)
        self._env_names = (api_key_env, secret_env, password_env)
        self._ccxt = import_optional("ccxt", extra="live")
        env = read_env(self._env_names)
        self._redact = Redactor(env.values())
        if exchange is None:
            exchange = self._build(env)
        found = [getattr(exchange, a, None) for a in ("apiKey", "secret", "password")]
        self._redact = Redactor([*env.values(), *(s for s in found if isinstance(s, str))])
        if self.sandbox:
            self._enable_sandbox(exchange)
        self._exchange = exchange
        rate_ms = getattr(exchange, "rateLimit", 0)
        rate_ok = isinstance(rate_ms, int | float) and math.isfinite(rate_ms) and rate_ms > 0
        self._runner = CallRunner(
            self.name,
            max_retries=max_retries,
            backoff=backoff,
            sleep=sleep,
            clock=clock,
            min_interval=rate_ms / 1000.0 if rate_ok else 0.0,
            is_transient=self._is_transient,
            redactor=self._redact,
        )
        self._markets: dict[str, Any] | None = None
        self._orders: dict[str, LiveOrder] = {}  # client order id -> order sent
        self._oid_by_cid: dict[str, str] = {}
        self._cid_by_oid: dict[str, str] = {}
        self._symbol_by_oid: dict[str, str] = {}
        self._symbols: dict[str, None] = {}  # symbols seen, in order (a set that keeps order)
        self._fee_warned: set[str] = set()

    @property
    def exchange(self) -> Any:
        """The ccxt exchange object, e.g. for ``PollingFeed.from_ccxt(broker.exchange, ...)``.

        It holds the API keys: pass it to code you trust, never print or log it.
        """
        return self._exchange

    def __repr__(self) -> str:
        return (
            f"CCXTBroker(exchange_id={self.exchange_id!r}, sandbox={self.sandbox}, "
            f"quote={self.quote!r})"
        )

    # ------------------------------------------------------------------ setup

    def _build(self, env: dict[str, str | None]) -> Any:
        ccxt = self._ccxt
        ids = [str(i) for i in getattr(ccxt, "exchanges", [])]
        cls = getattr(ccxt, self.exchange_id, None) if self.exchange_id in ids else None
        if cls is None:
            close = difflib.get_close_matches(self.exchange_id.lower(), ids, n=5)
            hint = f" Close matches: {close}." if close else ""
            raise ParameterError(
                f"exchange_id {self.exchange_id!r} is not a ccxt exchange id.{hint} The ids "
                f"are lower case and listed in ccxt.exchanges "
                f'(python -c "import ccxt; print(ccxt.exchanges)").'
            )
        api_key_env, secret_env, password_env = self._env_names
        missing = [name for name in (api_key_env, secret_env) if not env[name]]
        if missing:
            raise missing_keys_error(self.name, missing, self._env_names[:2])
        config: dict[str, Any] = {
            "apiKey": env[api_key_env],
            "secret": env[secret_env],
            "enableRateLimit": True,
            # fetch_open_orders without a symbol is what open_orders() asks for.
            "options": {"warnOnFetchOpenOrdersWithoutSymbol": False},
        }
        if env[password_env]:
            config["password"] = env[password_env]
        try:
            return cls(config)
        except Exception as exc:
            reason = self._redact.reason(exc)
        raise BrokerError(f"{self.name}: could not create the ccxt client ({reason}).")

    def _enable_sandbox(self, exchange: Any) -> None:
        try:
            exchange.set_sandbox_mode(True)
            return
        except Exception as exc:
            reason = self._redact.reason(exc)
        raise ParameterError(
            f"sandbox=True: {self.exchange_id!r} has no sandbox (testnet) in ccxt ({reason}). "
            f"Use sandbox=False with a real account, or an exchange that has a testnet."
        )

    # --------------------------------------------------------------- requests

    def _is_transient(self, exc: BaseException) -> bool:
        return isinstance(exc, self._ccxt.NetworkError | TimeoutError | ConnectionError)

    def _has(self, feature: str, method: str) -> bool:
        has = getattr(self._exchange, "has", None)
        if isinstance(has, dict) and feature in has:
            return bool(has[feature])
        return callable(getattr(self._exchange, method, None))

    def _call(
        self,
        request: str,
        fn: Callable[[], Any],
        *,
        cid: str | None = None,
        symbol: str | None = None,
        submitting: bool = False,
        before_retry: Callable[[], Any] | None = None,
        passthrough: Callable[[BaseException], bool] = _never,
    ) -> Any:
        """Run ``fn`` through the retry runner; map ccxt errors to qresearch ones.

        Errors for which ``passthrough`` is True propagate unchanged (the caller
        handles them: "order not found" in a lookup, "symbol required", duplicates).
        """
        try:
            return self._runner.call(request, fn, client_order_id=cid, before_retry=before_retry)
        except self._ccxt.BaseError as exc:
            if passthrough(exc):
                raise
            error = self._translate(exc, request, cid, symbol, submitting)
        raise error

    def _where(self, request: str, cid: str | None) -> str:
        return f"{self.name}: {request}" + (f" for client order id {cid!r}" if cid else "")

    def _translate(
        self,
        exc: BaseException,
        request: str,
        cid: str | None,
        symbol: str | None,
        submitting: bool,
    ) -> BrokerError:
        e = self._ccxt
        where = self._where(request, cid)
        reason = self._redact.reason(exc)
        if isinstance(exc, e.AuthenticationError):  # PermissionDenied is a subclass
            names = ", ".join(self._env_names[:2])
            return AuthenticationError(
                f"{where} was refused: {reason}. Check the environment variables {names} "
                f"(and {self._env_names[2]} if {self.exchange_id} needs a passphrase): the "
                f"keys must belong to {self.exchange_id}"
                + (" testnet (sandbox=True)" if self.sandbox else " (not its testnet)")
                + ", have trading permission and allow this machine's IP address."
            )
        if isinstance(exc, e.BadSymbol):
            return self._unknown_symbol(symbol or "?", where)
        if submitting and isinstance(
            exc, e.InsufficientFunds | e.InvalidOrder | e.OperationRejected | e.BadRequest
        ):
            fix = (
                "reduce the quantity or add funds"
                if isinstance(exc, e.InsufficientFunds)
                else "check the quantity and price against the market's limits and precision "
                "(exchange.markets[symbol]['limits'] and ['precision'])"
            )
            return OrderRejectedError(
                f"{where} was rejected by the venue: {reason}. To fix: {fix}."
            )
        if isinstance(exc, e.NotSupported):
            return BrokerError(
                f"{where}: {self.exchange_id} does not support it in ccxt ({reason})."
            )
        return BrokerError(f"{where} failed: {reason}.")

    def _unknown_symbol(self, symbol: str, where: str) -> UnknownSymbolError:
        listed = [str(s) for s in (self._markets or getattr(self._exchange, "markets", None) or {})]
        close = difflib.get_close_matches(symbol.upper(), listed, n=5, cutoff=0.5)
        hint = f" Close matches: {close}." if close else ""
        return UnknownSymbolError(
            f"{where}: {self.exchange_id} does not list the symbol {symbol!r}.{hint} Symbols "
            f"use ccxt's unified form BASE/QUOTE (e.g. 'BTC/USDT'); the listed ones are the "
            f"keys of exchange.markets after exchange.load_markets()."
        )

    def _check_symbol(self, symbol: str, cid: str | None) -> None:
        if self._markets is None:
            loaded = self._call("load_markets", self._exchange.load_markets, cid=cid)
            markets = (
                loaded if isinstance(loaded, dict) else getattr(self._exchange, "markets", None)
            )
            self._markets = dict(markets or {})
        if self._markets and symbol not in self._markets:
            raise self._unknown_symbol(symbol, self._where(f"submit {symbol}", cid))

    def _per_symbol(
        self, method: str, symbol: str | None, *, cid: str | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        """Call a listing method for ``symbol``, or for all symbols.

        For all symbols it asks with ``symbol=None`` first; exchanges that require a
        symbol (``ArgumentsRequired``) are asked per known symbol instead.
        """
        fn = getattr(self._exchange, method)
        if symbol is not None:
            return list(
                self._call(
                    f"{method} {symbol}", lambda: fn(symbol, **kwargs), cid=cid, symbol=symbol
                )
                or []
            )
        args_required = self._ccxt.ArgumentsRequired
        try:
            return list(
                self._call(
                    method,
                    lambda: fn(None, **kwargs),
                    cid=cid,
                    passthrough=lambda exc: isinstance(exc, args_required),
                )
                or []
            )
        except args_required:
            pass
        out: list[dict[str, Any]] = []
        for sym in self._scan_symbols():
            out.extend(
                self._call(f"{method} {sym}", partial(fn, sym, **kwargs), cid=cid, symbol=sym) or []
            )
        return out

    def _scan_symbols(self) -> list[str]:
        symbols = dict(self._symbols)
        for symbol in self.positions():
            if not self._markets or symbol in self._markets:
                symbols[symbol] = None
        return list(symbols)

    # ---------------------------------------------------------- bookkeeping

    def _note(self, raw: Any, symbol: str | None = None, cid: str | None = None) -> str:
        """Record an order's ids; return its venue id."""
        if not isinstance(raw, dict) or raw.get("id") in (None, ""):
            raise BrokerError(
                f"{self._where('create_order', cid)}: the venue answered without an order id "
                f"({type(raw).__name__}); check its open orders for client order id {cid!r}."
            )
        oid = str(raw["id"])
        cid = raw.get("clientOrderId") or cid or self._cid_by_oid.get(oid)
        symbol = raw.get("symbol") or symbol or self._symbol_by_oid.get(oid)
        if cid:
            self._oid_by_cid[cid] = oid
            self._cid_by_oid[oid] = cid
        if symbol:
            self._symbol_by_oid[oid] = symbol
            self._symbols[symbol] = None
        return oid

    def _order_type(self, raw: dict[str, Any], sent: LiveOrder | None) -> str:
        kind = str(raw.get("type") or "").lower()
        if kind in ORDER_TYPES:
            stop = raw.get("triggerPrice") or raw.get("stopPrice")
            if stop and kind in ("market", "limit"):
                return "stop" if kind == "market" else "stop_limit"
            return kind
        if "stop" in kind or "trigger" in kind:
            return "stop_limit" if "limit" in kind else "stop"
        if sent is not None:
            return sent.order_type
        return "limit" if raw.get("price") else "market"

    def _to_order(self, raw: dict[str, Any]) -> BrokerOrder:
        oid = self._note(raw)
        cid = str(raw.get("clientOrderId") or self._cid_by_oid.get(oid, ""))
        sent = self._orders.get(cid)
        symbol = str(raw.get("symbol") or self._symbol_by_oid.get(oid, ""))
        qty = _num(raw.get("amount"), sent.qty if sent else 0.0)
        status = _STATUS.get(str(raw.get("status") or "open").lower(), "open")
        filled = _num(raw.get("filled"), qty if status == "filled" else 0.0)
        order_type = self._order_type(raw, sent)
        stop = raw.get("triggerPrice") or raw.get("stopPrice")
        price = raw.get("price")
        average = _num(raw.get("average"), 0.0)
        return BrokerOrder(
            broker_order_id=oid,
            client_order_id=cid,
            symbol=symbol,
            side=str(raw.get("side") or (sent.side if sent else "")),
            qty=qty,
            filled=filled,
            status=status,
            order_type=order_type,
            limit_price=_num(price) if order_type in ("limit", "stop_limit") and price else None,
            stop_price=_num(stop) if order_type in ("stop", "stop_limit") and stop else None,
            avg_price=average if average > 0 else None,
            # ccxt's unified order has no reason field; the venue's own text, if any.
            reason=str(raw.get("reason") or ""),
        )

    # ------------------------------------------------------------ lookups

    def _history_methods(self) -> list[str]:
        if self._has("fetchOrders", "fetch_orders"):
            return ["fetch_orders"]
        return [method for feature, method in _HISTORY if self._has(feature, method)]

    def _find(self, cid: str, symbol: str | None = None) -> dict[str, Any] | None:
        """Return the venue's raw order with client order id ``cid``, or None."""
        sent = self._orders.get(cid)
        symbol = symbol or (sent.symbol if sent else None)
        oid = self._oid_by_cid.get(cid)
        if oid is not None and self._has("fetchOrder", "fetch_order"):
            not_found = self._ccxt.OrderNotFound
            try:
                raw = self._call(
                    f"fetch_order {oid}",
                    lambda: self._exchange.fetch_order(oid, symbol),
                    cid=cid,
                    symbol=symbol,
                    passthrough=lambda exc: isinstance(exc, not_found),
                )
            except not_found:
                raw = None
            if isinstance(raw, dict) and raw.get("id") not in (None, ""):
                return raw
        for method in self._history_methods():
            for raw in self._per_symbol(method, symbol, cid=cid):
                if raw.get("clientOrderId") == cid:
                    return raw
        return None

    def _order_args(self, order: LiveOrder) -> tuple[str, float | None, dict[str, Any]]:
        params: dict[str, Any] = {"clientOrderId": order.client_order_id}
        kind = "limit" if order.order_type in ("limit", "stop_limit") else "market"
        price = order.limit_price if kind == "limit" else None
        if order.stop_price is not None:
            params["stopPrice"] = order.stop_price
        if price is not None or order.tif != "GTC":
            params["timeInForce"] = order.tif
        return kind, price, params

    # ----------------------------------------------------------- protocol

    def submit(self, order: LiveOrder) -> str:
        """Send ``order`` unless the venue already has its client order id.

        Parameters
        ----------
        order : LiveOrder
            The order; its ``client_order_id`` is sent as ccxt's ``clientOrderId``.

        Returns
        -------
        str
            The venue's order id (the existing order's when the venue already had it).

        Raises
        ------
        UnknownSymbolError
            The exchange does not list ``order.symbol`` (names close matches).
        OrderRejectedError
            Insufficient funds, invalid size or price (the venue's reason).
        AuthenticationError
            The keys were refused (names the environment variables).
        TransientBrokerError
            Timeouts or network errors through every retry; resubmit the same order.
        """
        if not isinstance(order, LiveOrder):
            raise ParameterError(
                f"{self.name}: submit takes a LiveOrder; got {type(order).__name__}."
            )
        cid = order.client_order_id
        self._check_symbol(order.symbol, cid)
        self._orders[cid] = order
        self._symbols[order.symbol] = None
        existing = self._find(cid, order.symbol)
        if existing is not None:
            oid = self._note(existing, order.symbol, cid)
            log.info(
                "%s: client order id %r is already at the venue as order %s; not sent again",
                self.name,
                cid,
                oid,
            )
            return oid
        kind, price, params = self._order_args(order)
        request = f"create_order {order.side} {order.qty:g} {order.symbol} ({order.order_type})"
        duplicate = self._ccxt.DuplicateOrderId

        def send() -> Any:
            return self._exchange.create_order(
                order.symbol, kind, order.side, order.qty, price, dict(params)
            )

        try:
            raw = self._call(
                request,
                send,
                cid=cid,
                symbol=order.symbol,
                submitting=True,
                before_retry=lambda: self._find(cid, order.symbol),
                passthrough=lambda exc: isinstance(exc, duplicate),
            )
        except duplicate:  # the venue has this client order id already
            raw = None
        # Looked up outside the except block, so no error raised here chains the venue's.
        raw = raw if raw is not None else self._find(cid, order.symbol)
        if raw is None:
            raise BrokerError(
                f"{self._where(request, cid)}: the venue reports the client order id as a "
                f"duplicate but lists no order with it; look it up in the exchange's order "
                f"history before sending anything else for {order.symbol!r}."
            )
        oid = self._note(raw, order.symbol, cid)
        log.info("%s: order %s sent for client order id %r", self.name, oid, cid)
        return oid

    def cancel(self, broker_order_id: str) -> bool:
        """Cancel a working order.

        Parameters
        ----------
        broker_order_id : str
            The venue's order id (from :meth:`submit`).

        Returns
        -------
        bool
            True when the cancel was accepted, False when the order was no longer working
            (filled, cancelled, unknown: ccxt's ``OrderNotFound`` / ``InvalidOrder``).
        """
        oid = str(broker_order_id)
        cid = self._cid_by_oid.get(oid)
        symbol = self._symbol_by_oid.get(oid)
        if symbol is None:
            for raw in self._per_symbol("fetch_open_orders", None):
                if str(raw.get("id")) == oid:
                    self._note(raw)
                    symbol = self._symbol_by_oid.get(oid)
                    cid = self._cid_by_oid.get(oid)
        gone = self._ccxt.InvalidOrder  # OrderNotFound is a subclass
        try:
            self._call(
                f"cancel_order {oid}",
                lambda: self._exchange.cancel_order(oid, symbol),
                cid=cid,
                symbol=symbol,
                passthrough=lambda exc: isinstance(exc, gone),
            )
        except gone as exc:
            log.info("%s: order %s was not working (%s)", self.name, oid, self._redact.reason(exc))
            return False
        return True

    def open_orders(self) -> list[BrokerOrder]:
        """Return the orders working at the venue (``fetch_open_orders``).

        Returns
        -------
        list of BrokerOrder
            One per venue order id.
        """
        seen: dict[str, BrokerOrder] = {}
        for raw in self._per_symbol("fetch_open_orders", None):
            order = self._to_order(raw)
            seen.setdefault(order.broker_order_id, order)
        return list(seen.values())

    def order_by_client_id(self, client_order_id: str) -> BrokerOrder | None:
        """Return the venue's order with this client order id (working or final), or None.

        Parameters
        ----------
        client_order_id : str
            From :func:`~qresearch.live.broker.client_order_id`.

        Returns
        -------
        BrokerOrder or None
        """
        if not isinstance(client_order_id, str) or not client_order_id:
            raise ParameterError(
                f"{self.name}: client_order_id must be a non-empty string; got {client_order_id!r}."
            )
        raw = self._find(client_order_id)
        return None if raw is None else self._to_order(raw)

    def _balances(self) -> dict[str, Any]:
        raw = self._call("fetch_balance", self._exchange.fetch_balance)
        if not isinstance(raw, dict):
            raise BrokerError(
                f"{self.name}: fetch_balance returned {type(raw).__name__}, not a dict."
            )
        return raw

    def positions(self) -> dict[str, float]:
        """Return spot holdings: total balance per currency other than ``quote``.

        Returns
        -------
        dict
            ``{"<CURRENCY>/<quote>": quantity}`` for every non-zero holding.
        """
        totals = self._balances().get("total") or {}
        out: dict[str, float] = {}
        for currency, amount in totals.items():
            qty = _num(amount)
            if currency != self.quote and qty != 0.0:
                out[f"{currency}/{self.quote}"] = qty
        return out

    def balance(self) -> float:
        """Return the free balance of ``quote`` (cash not held by open orders).

        Returns
        -------
        float
            ``fetch_balance()["free"][quote]``, 0.0 when the venue lists none.
        """
        free = self._balances().get("free") or {}
        return _num(free.get(self.quote))

    def _fee(self, trade: dict[str, Any], symbol: str, price: float) -> float:
        fees = trade.get("fees") or ([trade["fee"]] if trade.get("fee") else [])
        base, _, rest = symbol.partition("/")
        symbol_quote = rest.split(":")[0]
        total = 0.0
        for fee in fees:
            if not isinstance(fee, dict):
                continue
            cost = _num(fee.get("cost"))
            currency = fee.get("currency")
            if currency in (None, self.quote, symbol_quote):
                total += cost
            elif currency == base:
                total += cost * price
            elif currency not in self._fee_warned:
                self._fee_warned.add(str(currency))
                log.warning(
                    "%s: fees paid in %s are recorded as 0 in fills (only %s and the traded "
                    "currencies convert); positions() shows them as a lower %s holding",
                    self.name,
                    currency,
                    self.quote,
                    currency,
                )
        return max(total, 0.0)

    def _cid_of(self, oid: str, symbol: str | None) -> str:
        if not oid:
            return ""
        if oid not in self._cid_by_oid and self._has("fetchOrder", "fetch_order"):
            not_found = self._ccxt.OrderNotFound
            try:
                raw = self._call(
                    f"fetch_order {oid}",
                    lambda: self._exchange.fetch_order(oid, symbol),
                    symbol=symbol,
                    passthrough=lambda exc: isinstance(exc, not_found),
                )
            except not_found:
                raw = None
            if isinstance(raw, dict) and raw.get("id") not in (None, ""):
                self._note(raw, symbol)
            if oid not in self._cid_by_oid:
                self._cid_by_oid[oid] = ""  # not asked again
        return self._cid_by_oid.get(oid, "")

    def fills(self, since: pd.Timestamp | None = None) -> list[BrokerFill]:
        """Return the executions at or after ``since`` (all the venue lists when None).

        Parameters
        ----------
        since : pandas.Timestamp, optional
            Tz-aware or naive UTC.

        Returns
        -------
        list of BrokerFill
            Oldest first; each venue trade id once, even when the venue lists it twice.
        """
        start = None if since is None else _utc(since)
        since_ms = None if start is None else int(start.value // 1_000_000)
        out: dict[str, BrokerFill] = {}
        for trade in self._per_symbol("fetch_my_trades", None, since=since_ms):
            fill_id = str(trade.get("id") or "")
            if not fill_id or fill_id in out:
                continue
            ms = trade.get("timestamp")
            timestamp = pd.Timestamp(int(ms), unit="ms") if ms is not None else pd.Timestamp(0)
            if start is not None and timestamp < start:
                continue
            symbol = str(trade.get("symbol") or "")
            price = _num(trade.get("price"))
            oid = str(trade.get("order") or "")
            out[fill_id] = BrokerFill(
                fill_id=fill_id,
                broker_order_id=oid,
                client_order_id=self._cid_of(oid, symbol or None),
                symbol=symbol,
                side=str(trade.get("side") or ""),
                qty=_num(trade.get("amount")),
                price=price,
                fee=self._fee(trade, symbol, price),
                timestamp=timestamp,
            )
        return sorted(out.values(), key=lambda f: (f.timestamp, f.fill_id))
