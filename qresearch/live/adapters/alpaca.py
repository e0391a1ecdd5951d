"""A :class:`~qresearch.live.broker.Broker` on Alpaca (paper or live) through alpaca-py.

:class:`AlpacaBroker` calls ``alpaca.trading.client.TradingClient``: ``submit_order``
with a Market/Limit/Stop/StopLimit ``OrderRequest``, ``cancel_order_by_id``,
``get_orders``, ``get_order_by_client_id``, ``get_all_positions`` and ``get_account``.
Keys come from environment variables only.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
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

__all__ = ["AlpacaBroker"]

log = logging.getLogger("qresearch.live.adapters")

# Alpaca order statuses -> BrokerOrder.status; every other status is a working order
# (new, accepted, pending_new, partially_filled, done_for_day, held, stopped...).
_STATUS = {
    "filled": "filled",
    "canceled": "cancelled",
    "replaced": "cancelled",
    "expired": "expired",
    "rejected": "rejected",
}
# Alpaca lists at most this many orders per request.
_PAGE = 500


@dataclass(frozen=True)
class _Mark:
    """An order's cumulative fill as observed once: quantity, average price, time."""

    cum_qty: float
    avg_price: float
    timestamp: pd.Timestamp


def _never(exc: BaseException) -> bool:
    return False


def _value(x: Any) -> str:
    """Return an alpaca-py enum (or plain string) as its lower-case string value."""
    return str(getattr(x, "value", x) or "").lower()


def _num(value: Any, default: float = 0.0) -> float:
    """Return an alpaca-py decimal string (or float, or None) as a float."""
    if value is None or value == "":
        return default
    out = float(value)
    return out if math.isfinite(out) else default


def _utc(ts: Any) -> pd.Timestamp:
    """Return a timestamp as tz-naive UTC (a naive input is taken to be UTC)."""
    out = pd.Timestamp(ts)
    if out.tzinfo is not None:
        out = out.tz_convert("UTC").tz_localize(None)
    return out


class AlpacaBroker:
    """A broker on Alpaca's trading API, with retries, pacing and idempotent submits.

    Keys are read from environment variables only: ``APCA_API_KEY_ID`` and
    ``APCA_API_SECRET_KEY`` (the names alpaca's own tools use; change them with
    ``key_env`` / ``secret_env``). Paper keys work with ``paper=True`` only, live keys
    with ``paper=False``. Key values never appear in logs, ``repr`` or exception
    messages: texts quoted from Alpaca errors are redacted and library exceptions are
    not chained.

    ``is_paper`` is False even with ``paper=True``: the runner sends orders to this
    broker only after an explicit opt-in.

    Conventions
    -----------
    * Requests are at least ``MIN_INTERVAL`` = 0.3 s apart (Alpaca allows 200 requests a
      minute). HTTP 429 and 5xx answers, ``requests`` timeouts and connection errors are
      retried with exponential backoff (alpaca-py itself also retries a 429 a few times
      before raising).
    * ``submit`` looks the client order id up first (``get_order_by_client_id``), so
      resubmitting after a crash returns the existing order; when ``submit_order`` times
      out it looks again before each retry, so an order the venue accepted but whose
      response was lost is never sent twice.
    * ``balance()`` is the account's ``cash``.
    * ``positions()`` are signed quantities (short positions negative).
    * ``fills()``: alpaca-py 0.44's ``TradingClient`` has no account-activities method,
      so executions are derived from orders (``get_orders(status=ALL)``, the 500 most
      recent): each time an order's ``filled_qty`` is seen to grow, the increase is one
      fill, priced so that the fills' average is the order's ``filled_avg_price``, with
      id ``"<order id>:<cumulative filled qty>"`` (stable across calls) and timestamp
      the order's ``filled_at`` (complete) or ``updated_at`` (partial). Several
      executions between two calls show as one fill; fees are 0 (Alpaca charges no
      commission). The history lives in this instance: after a restart, the first call
      reports each order's fill so far as one fill.
    * Timestamps are tz-naive UTC; a naive ``since`` is read as UTC.

    Parameters
    ----------
    client : object, optional
        A ready ``TradingClient`` (or a test fake with its methods); when given, no keys
        are read to build one (set key variables and the client's own credentials are
        still redacted from messages).
    paper : bool
        Build a paper-trading client (ignored when ``client`` is given).
    max_retries : int
        Retries of a request after a transient error.
    backoff : float
        Seconds before the first retry; doubled with each retry.
    sleep, clock : callable
        ``time.sleep`` and ``time.monotonic`` by default; tests inject fakes.
    key_env, secret_env : str
        Names of the environment variables holding the key id and the secret key.

    Raises
    ------
    AuthenticationError
        The key variables are not set (names them).
    OptionalDependencyError
        alpaca-py is not installed (``pip install "qresearch[live]"``).
    """

    is_paper: bool = False
    MIN_INTERVAL: float = 0.3

    def __init__(
        self,
        *,
        client: Any = None,
        paper: bool = True,
        max_retries: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], Any] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        key_env: str = "APCA_API_KEY_ID",
        secret_env: str = "APCA_API_SECRET_KEY",
    ) -> None:
        check_retry_settings(max_retries, backoff, sleep, clock)
        self.paper = bool(paper)
        self.name = "alpaca-paper" if self.paper else "alpaca"
        self._env_names = (key_env, secret_env)
        env = read_env(self._env_names)
        self._redact = Redactor(env.values())
        self._requests = import_optional("alpaca.trading.requests", extra="live")
        self._enums = import_optional("alpaca.trading.enums", extra="live")
        self._api_error: type[Exception] = import_optional(
            "alpaca.common.exceptions", extra="live"
        ).APIError
        http = import_optional("requests.exceptions", extra="live")
        self._transient_types: tuple[type[BaseException], ...] = (
            http.Timeout,
            http.ConnectionError,
            TimeoutError,
            ConnectionError,
        )
        self._library_errors: tuple[type[BaseException], ...] = (
            self._api_error,
            http.RequestException,
            ValueError,  # pydantic's ValidationError when a response does not parse
        )
        if client is None:
            client = self._build(env)
        # A TradingClient keeps its credentials in these attributes: hide them too.
        held = [getattr(client, a, None) for a in ("_api_key", "_secret_key", "_oauth_token")]
        self._redact = Redactor([*env.values(), *(s for s in held if isinstance(s, str))])
        self._client = client
        self._runner = CallRunner(
            self.name,
            max_retries=max_retries,
            backoff=backoff,
            sleep=sleep,
            clock=clock,
            min_interval=self.MIN_INTERVAL,
            is_transient=self._is_transient,
            redactor=self._redact,
        )
        self._marks: dict[str, list[_Mark]] = {}  # order id -> observed cumulative fills
        self._fill_info: dict[str, tuple[str, str, str]] = {}  # order id -> cid, symbol, side

    def __repr__(self) -> str:
        return f"AlpacaBroker(paper={self.paper})"

    def _build(self, env: dict[str, str | None]) -> Any:
        key_env, secret_env = self._env_names
        missing = [name for name in self._env_names if not env[name]]
        if missing:
            raise missing_keys_error(self.name, missing, self._env_names)
        module = import_optional("alpaca.trading.client", extra="live")
        try:
            return module.TradingClient(env[key_env], env[secret_env], paper=self.paper)
        except Exception as exc:
            reason = self._redact.reason(exc)
        raise BrokerError(f"{self.name}: could not create the Alpaca TradingClient ({reason}).")

    # --------------------------------------------------------------- requests

    @staticmethod
    def _status_code(exc: BaseException) -> int | None:
        try:
            code = getattr(exc, "status_code", None)
        except Exception:
            return None
        return code if isinstance(code, int) else None

    def _message(self, exc: BaseException) -> str:
        """Return the venue's message of an APIError (its JSON ``message``), redacted."""
        try:
            text = str(getattr(exc, "message", "") or "")
        except Exception:  # the body is not JSON
            text = ""
        text = " ".join((text or str(exc)).split())
        text = self._redact(text)
        return text if len(text) <= 300 else text[:297] + "..."

    def _is_transient(self, exc: BaseException) -> bool:
        if isinstance(exc, self._transient_types):
            return True
        if isinstance(exc, self._api_error):
            code = self._status_code(exc)
            return code is not None and (code == 429 or code >= 500)
        return False

    def _is_404(self, exc: BaseException) -> bool:
        return isinstance(exc, self._api_error) and self._status_code(exc) == 404

    def _where(self, request: str, cid: str | None) -> str:
        return f"{self.name}: {request}" + (f" for client order id {cid!r}" if cid else "")

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
        """Run ``fn`` through the retry runner; map alpaca-py errors to qresearch ones."""
        try:
            return self._runner.call(request, fn, client_order_id=cid, before_retry=before_retry)
        except self._library_errors as exc:
            if passthrough(exc):
                raise
            error = self._translate(exc, request, cid, symbol, submitting)
        raise error

    def _translate(
        self,
        exc: BaseException,
        request: str,
        cid: str | None,
        symbol: str | None,
        submitting: bool,
    ) -> BrokerError:
        where = self._where(request, cid)
        if not isinstance(exc, self._api_error):
            return BrokerError(f"{where} failed: {self._redact.reason(exc)}.")
        code = self._status_code(exc)
        message = self._message(exc)
        low = message.lower()
        said = f"HTTP {code}: {message}"
        rejected = any(
            word in low for word in ("insufficient", "buying power", "not enough", "qty", "price")
        )
        if code == 401 or (code == 403 and not (submitting and rejected)):
            names = " and ".join(self._env_names)
            kind = "paper" if self.paper else "live"
            return AuthenticationError(
                f"{where} was refused ({said}). Check the environment variables {names}: "
                f"they must hold Alpaca {kind}-trading keys (paper keys work with paper=True "
                f"only, live keys with paper=False) of an account allowed to trade."
            )
        if symbol is not None and (
            code == 404 or (code == 422 and "not found" in low and "order" not in low)
        ):
            return UnknownSymbolError(
                f"{where}: Alpaca does not list the symbol {symbol!r} ({said}). Use the "
                f"ticker as Alpaca lists it (e.g. 'AAPL'; crypto as 'BTC/USD'); "
                f"TradingClient.get_all_assets() lists the tradable ones."
            )
        if submitting and code in (403, 422):
            fix = (
                "reduce the quantity or add cash"
                if code == 403 or "buying power" in low or "insufficient" in low
                else "check the quantity, prices and time in force Alpaca accepts for this "
                "asset (fractional quantities only with market DAY orders; crypto takes "
                "GTC or IOC)"
            )
            return OrderRejectedError(f"{where} was rejected by Alpaca ({said}). To fix: {fix}.")
        return BrokerError(f"{where} failed ({said}).")

    # ---------------------------------------------------------- conversions

    def _to_order(self, raw: Any) -> BrokerOrder:
        qty = _num(getattr(raw, "qty", None))
        filled = _num(getattr(raw, "filled_qty", None))
        status_text = _value(getattr(raw, "status", None))
        status = _STATUS.get(status_text, "open")
        if status_text == "calculated" and qty > 0 and filled >= qty:
            status = "filled"
        kind = _value(getattr(raw, "type", None) or getattr(raw, "order_type", None))
        if kind not in ORDER_TYPES:
            kind = "stop" if kind == "trailing_stop" else "market"
        limit_price = _num(getattr(raw, "limit_price", None))
        stop_price = _num(getattr(raw, "stop_price", None))
        avg = _num(getattr(raw, "filled_avg_price", None))
        replaced_by = getattr(raw, "replaced_by", None)
        return BrokerOrder(
            broker_order_id=str(raw.id),
            client_order_id=str(getattr(raw, "client_order_id", "") or ""),
            symbol=str(getattr(raw, "symbol", "") or ""),
            side=_value(getattr(raw, "side", None)),
            qty=qty,
            filled=filled,
            status=status,
            order_type=kind,
            limit_price=limit_price if kind in ("limit", "stop_limit") and limit_price else None,
            stop_price=stop_price if kind in ("stop", "stop_limit") and stop_price else None,
            avg_price=avg if avg > 0 else None,
            reason=f"replaced by order {replaced_by}" if status_text == "replaced" else "",
        )

    def _request_for(self, order: LiveOrder) -> Any:
        r, e = self._requests, self._enums
        common: dict[str, Any] = {
            "symbol": order.symbol,
            "qty": order.qty,
            "side": e.OrderSide(order.side),
            "time_in_force": e.TimeInForce(order.tif.lower()),
            "client_order_id": order.client_order_id,
        }
        try:
            if order.order_type == "market":
                return r.MarketOrderRequest(**common)
            if order.order_type == "limit":
                return r.LimitOrderRequest(**common, limit_price=order.limit_price)
            if order.order_type == "stop":
                return r.StopOrderRequest(**common, stop_price=order.stop_price)
            return r.StopLimitOrderRequest(
                **common, limit_price=order.limit_price, stop_price=order.stop_price
            )
        except ValueError as exc:  # pydantic's ValidationError
            reason = self._redact.reason(exc)
        raise ParameterError(
            f"{self.name}: order {order.client_order_id!r} ({order.symbol!r}) does not make "
            f"a valid alpaca-py {order.order_type} order request: {reason}"
        )

    # ----------------------------------------------------------- protocol

    def _lookup(self, cid: str) -> Any:
        try:
            return self._call(
                "get_order_by_client_id",
                lambda: self._client.get_order_by_client_id(cid),
                cid=cid,
                passthrough=self._is_404,
            )
        except self._api_error:  # 404: no order with this client id
            return None

    def submit(self, order: LiveOrder) -> str:
        """Send ``order`` unless Alpaca already has its client order id.

        Parameters
        ----------
        order : LiveOrder
            The order; its ``client_order_id`` is sent as Alpaca's ``client_order_id``.

        Returns
        -------
        str
            Alpaca's order id (the existing order's when Alpaca already had it).

        Raises
        ------
        UnknownSymbolError
            Alpaca does not list ``order.symbol``.
        OrderRejectedError
            Insufficient buying power, invalid quantity or price (Alpaca's reason).
        AuthenticationError
            The keys were refused (names the environment variables).
        TransientBrokerError
            Timeouts, 5xx or 429 answers through every retry; resubmit the same order.
        """
        if not isinstance(order, LiveOrder):
            raise ParameterError(
                f"{self.name}: submit takes a LiveOrder; got {type(order).__name__}."
            )
        cid = order.client_order_id
        existing = self._lookup(cid)
        if existing is not None:
            oid = str(existing.id)
            log.info(
                "%s: client order id %r is already at the venue as order %s; not sent again",
                self.name,
                cid,
                oid,
            )
            return oid
        request_data = self._request_for(order)
        request = f"submit_order {order.side} {order.qty:g} {order.symbol} ({order.order_type})"

        def duplicate(exc: BaseException) -> bool:
            low = self._message(exc).lower() if isinstance(exc, self._api_error) else ""
            return "client_order_id" in low and "unique" in low

        try:
            placed = self._call(
                request,
                lambda: self._client.submit_order(request_data),
                cid=cid,
                symbol=order.symbol,
                submitting=True,
                before_retry=lambda: self._lookup(cid),
                passthrough=duplicate,
            )
        except self._api_error:  # client_order_id already used: the order is there
            placed = None
        # Looked up outside the except block, so no error raised here chains the venue's.
        placed = placed if placed is not None else self._lookup(cid)
        if placed is None:
            raise BrokerError(
                f"{self._where(request, cid)}: Alpaca reports the client order id as "
                f"already used but does not find an order with it; look it up in the "
                f"Alpaca dashboard before sending anything else for {order.symbol!r}."
            )
        oid = str(placed.id)
        log.info("%s: order %s sent for client order id %r", self.name, oid, cid)
        return oid

    def cancel(self, broker_order_id: str) -> bool:
        """Cancel a working order.

        Parameters
        ----------
        broker_order_id : str
            Alpaca's order id (a UUID, from :meth:`submit`).

        Returns
        -------
        bool
            True when the cancel was accepted, False when the order was no longer
            working (HTTP 422 "not cancelable") or is unknown (404).
        """
        oid = str(broker_order_id)
        try:
            uuid.UUID(oid)
            valid = True
        except ValueError:
            valid = False
        if not valid:
            raise ParameterError(
                f"{self.name}: broker_order_id {oid!r} is not an Alpaca order id (a UUID, as "
                f"submit returns it)."
            )

        def gone(exc: BaseException) -> bool:
            return isinstance(exc, self._api_error) and self._status_code(exc) in (404, 422)

        try:
            self._call(
                f"cancel_order_by_id {oid}",
                lambda: self._client.cancel_order_by_id(oid),
                passthrough=gone,
            )
        except self._api_error as exc:
            log.info("%s: order %s was not working (%s)", self.name, oid, self._message(exc))
            return False
        return True

    def _orders(self, status: str) -> list[Any]:
        e = self._enums
        flt = self._requests.GetOrdersRequest(status=e.QueryOrderStatus(status), limit=_PAGE)
        return list(
            self._call(f"get_orders status={status}", lambda: self._client.get_orders(flt)) or []
        )

    def open_orders(self) -> list[BrokerOrder]:
        """Return the orders working at Alpaca (``get_orders(status=OPEN)``).

        Returns
        -------
        list of BrokerOrder
            One per Alpaca order id.
        """
        seen: dict[str, BrokerOrder] = {}
        for raw in self._orders("open"):
            order = self._to_order(raw)
            seen.setdefault(order.broker_order_id, order)
        return list(seen.values())

    def order_by_client_id(self, client_order_id: str) -> BrokerOrder | None:
        """Return Alpaca's order with this client order id (working or final), or None.

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
        raw = self._lookup(client_order_id)
        return None if raw is None else self._to_order(raw)

    def positions(self) -> dict[str, float]:
        """Return the signed quantity per symbol (``get_all_positions``).

        Returns
        -------
        dict
            ``{symbol: quantity}``, short positions negative.
        """
        out: dict[str, float] = {}
        for pos in self._call("get_all_positions", self._client.get_all_positions) or []:
            qty = abs(_num(getattr(pos, "qty", None)))
            if _value(getattr(pos, "side", None)) == "short":
                qty = -qty
            if qty != 0.0:
                out[str(pos.symbol)] = qty
        return out

    def balance(self) -> float:
        """Return the account's cash (``get_account().cash``).

        Returns
        -------
        float
        """
        account = self._call("get_account", self._client.get_account)
        return _num(getattr(account, "cash", None))

    def fills(self, since: pd.Timestamp | None = None) -> list[BrokerFill]:
        """Return the executions at or after ``since`` (all observed when None).

        Derived from orders' cumulative fills (see the class notes).

        Parameters
        ----------
        since : pandas.Timestamp, optional
            Tz-aware or naive UTC.

        Returns
        -------
        list of BrokerFill
            Oldest first; each fill id once, even when Alpaca lists an order twice.
        """
        start = None if since is None else _utc(since)
        for raw in self._orders("all"):
            oid = str(raw.id)
            cum = _num(getattr(raw, "filled_qty", None))
            if cum <= 0:
                continue
            avg = _num(getattr(raw, "filled_avg_price", None))
            marks = self._marks.setdefault(oid, [])
            if marks and cum <= marks[-1].cum_qty + 1e-12:
                continue  # nothing new (or the same order listed twice)
            complete = _value(getattr(raw, "status", None)) == "filled"
            when = getattr(raw, "filled_at", None) if complete else None
            when = when or getattr(raw, "updated_at", None) or getattr(raw, "submitted_at", None)
            timestamp = _utc(when) if when is not None else pd.Timestamp(0)
            if marks and timestamp < marks[-1].timestamp:
                timestamp = marks[-1].timestamp
            marks.append(_Mark(cum, avg, timestamp))
            self._fill_info[oid] = (
                str(getattr(raw, "client_order_id", "") or ""),
                str(getattr(raw, "symbol", "") or ""),
                _value(getattr(raw, "side", None)),
            )
        out: list[BrokerFill] = []
        for oid, marks in self._marks.items():
            cid, symbol, side = self._fill_info[oid]
            prev_qty, prev_avg = 0.0, 0.0
            for mark in marks:
                qty = mark.cum_qty - prev_qty
                price = (mark.cum_qty * mark.avg_price - prev_qty * prev_avg) / qty
                if start is None or mark.timestamp >= start:
                    out.append(
                        BrokerFill(
                            fill_id=f"{oid}:{mark.cum_qty:.12g}",
                            broker_order_id=oid,
                            client_order_id=cid,
                            symbol=symbol,
                            side=side,
                            qty=qty,
                            price=round(price, 10),
                            fee=0.0,
                            timestamp=mark.timestamp,
                        )
                    )
                prev_qty, prev_avg = mark.cum_qty, mark.avg_price
        return sorted(out, key=lambda f: (f.timestamp, f.fill_id))
