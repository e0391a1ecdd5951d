"""CCXTBroker and AlpacaBroker against local fakes of ccxt and alpaca-py (no network).

Each behaviour the live runner relies on is checked on both adapters through a small
``Venue`` harness: retries with backoff (sleeps recorded by a fake clock, nothing
sleeps for real), idempotent submits after lost responses, duplicate and partial fills,
error mapping, rate-limit pacing, and that keys never leak.
"""

from __future__ import annotations

import itertools
import logging
import os
import subprocess
import sys
import traceback
from pathlib import Path

import ccxt
import pandas as pd
import pytest
from alpaca.trading.requests import (
    LimitOrderRequest,
    MarketOrderRequest,
    StopLimitOrderRequest,
    StopOrderRequest,
)

from qresearch.exceptions import (
    AuthenticationError,
    BrokerError,
    OrderRejectedError,
    ParameterError,
    TransientBrokerError,
    UnknownSymbolError,
)
from qresearch.live.adapters.alpaca import AlpacaBroker
from qresearch.live.adapters.ccxt import CCXTBroker
from qresearch.live.broker import Broker, LiveOrder, client_order_id
from tests.live.fake_alpaca import FakeTradingClient, api_error, read_timeout
from tests.live.fake_ccxt import FakeExchange

ROOT = Path(__file__).resolve().parents[2]
CCXT_ENV = ("QRESEARCH_CCXT_API_KEY", "QRESEARCH_CCXT_SECRET", "QRESEARCH_CCXT_PASSWORD")
ALPACA_ENV = ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY")


class FakeTime:
    """A clock that moves only when slept on (plus ``tick`` per reading)."""

    def __init__(self, tick: float = 0.0) -> None:
        self.now = 1000.0
        self.tick = tick
        self.sleeps: list[float] = []

    def clock(self) -> float:
        self.now += self.tick
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 9))
        self.now += seconds


@pytest.fixture(autouse=True)
def _no_keys(monkeypatch):
    for name in (*CCXT_ENV, *ALPACA_ENV):
        monkeypatch.delenv(name, raising=False)


# --------------------------------------------------------------------- harness


class CcxtVenue:
    """CCXTBroker on a FakeExchange."""

    kind = "ccxt"
    symbol, other, unknown = "BTC/USDT", "ETH/USDT", "BTC/USDX"
    env = CCXT_ENV[:2]
    price = 100.0

    def __init__(self, time: FakeTime, **fake_kwargs) -> None:
        self.time = time
        self.fake = FakeExchange(**fake_kwargs)
        self.broker = self.make_broker()

    def make_broker(self) -> CCXTBroker:
        return CCXTBroker("fakex", exchange=self.fake, sleep=self.time.sleep, clock=self.time.clock)

    def created(self) -> int:
        return self.fake.count("create_order")

    def stored(self) -> int:
        return len(self.fake.orders)

    def fail_submit(self, n: int) -> None:
        self.fake.fail_next("create_order", n, ccxt.RequestTimeout)

    def fail_balance(self, n: int, what: str = "timeout") -> None:
        exc = {
            "timeout": ccxt.RequestTimeout,
            "network": ccxt.NetworkError,
            "unavailable": ccxt.ExchangeNotAvailable,
            "rate": ccxt.RateLimitExceeded,
            "ddos": ccxt.DDoSProtection,
        }[what]
        self.fake.fail_next("fetch_balance", n, exc)

    def lose_next(self) -> None:
        self.fake.lose_next_response()

    def fill(self, cid: str, qty: float, price: float) -> None:
        self.fake.fill(cid, qty, price)

    def reject(self, which: str) -> None:
        exc = {"funds": ccxt.InsufficientFunds, "invalid": ccxt.InvalidOrder}[which]
        self.fake.reject_next(exc)

    def auth_fail(self) -> None:
        self.fake.auth_error = True

    def duplicate_fills(self) -> None:
        self.fake.duplicate_trades = True

    def set_rate(self, seconds: float) -> None:
        self.fake.rateLimit = seconds * 1000
        self.broker = self.make_broker()

    def balance_method(self) -> str:
        return "fetch_balance"


class AlpacaVenue:
    """AlpacaBroker on a FakeTradingClient."""

    kind = "alpaca"
    symbol, other, unknown = "AAPL", "MSFT", "AAPX"
    env = ALPACA_ENV
    price = 190.0

    def __init__(self, time: FakeTime, **fake_kwargs) -> None:
        self.time = time
        self.fake = FakeTradingClient(**fake_kwargs)
        self.broker = self.make_broker()

    def make_broker(self) -> AlpacaBroker:
        return AlpacaBroker(client=self.fake, sleep=self.time.sleep, clock=self.time.clock)

    def created(self) -> int:
        return self.fake.count("submit_order")

    def stored(self) -> int:
        return len(self.fake.orders)

    def fail_submit(self, n: int) -> None:
        self.fake.fail_next("submit_order", n)

    def fail_balance(self, n: int, what: str = "timeout") -> None:
        make = {
            "timeout": read_timeout,
            "network": lambda: __import__("requests").exceptions.ConnectionError("reset"),
            "unavailable": lambda: api_error(503, "service unavailable"),
            "rate": lambda: api_error(429, "too many requests"),
            "ddos": lambda: api_error(500, "internal server error"),
        }[what]
        self.fake.fail_next("get_account", n, make)

    def lose_next(self) -> None:
        self.fake.lose_next_response()

    def fill(self, cid: str, qty: float, price: float) -> None:
        self.fake.fill(cid, qty, price)

    def reject(self, which: str) -> None:
        if which == "funds":
            self.fake.reject_next(403, "insufficient buying power")
        else:
            self.fake.reject_next(422, "qty must be a multiple of 1 for this asset")

    def auth_fail(self) -> None:
        self.fake.auth_status = 401

    def duplicate_fills(self) -> None:
        self.fake.duplicate_listing = True

    def set_rate(self, seconds: float) -> None:
        self.broker = self.make_broker()
        self.broker._runner.min_interval = seconds

    def balance_method(self) -> str:
        return "get_account"


@pytest.fixture(params=["ccxt", "alpaca"])
def venue(request):
    cls = CcxtVenue if request.param == "ccxt" else AlpacaVenue
    # tick 1 s per clock reading: pacing never sleeps, so the sleeps are the backoffs.
    return cls(FakeTime(tick=1.0))


def order(venue, seq=0, **kwargs) -> LiveOrder:
    symbol = kwargs.pop("symbol", venue.symbol)
    cid = client_order_id("test", "2024-03-01", symbol, seq)
    kwargs.setdefault("side", "buy")
    kwargs.setdefault("qty", 2.0)
    return LiveOrder(cid, symbol, **kwargs)


# ------------------------------------------------------------------ protocol


def test_both_implement_the_broker_protocol(venue):
    assert isinstance(venue.broker, Broker)
    assert venue.broker.is_paper is False
    assert isinstance(venue.broker.name, str) and venue.kind in venue.broker.name


def test_submit_lookup_cancel_and_account(venue):
    b = venue.broker
    o = order(venue, order_type="limit", limit_price=venue.price)
    oid = b.submit(o)
    got = b.order_by_client_id(o.client_order_id)
    assert got.broker_order_id == oid and got.client_order_id == o.client_order_id
    assert (got.symbol, got.side, got.qty, got.filled, got.status) == (
        venue.symbol,
        "buy",
        2.0,
        0.0,
        "open",
    )
    assert got.is_open and got.order_type == "limit" and got.limit_price == venue.price
    assert [x.broker_order_id for x in b.open_orders()] == [oid]
    assert b.order_by_client_id("qr-never-sent") is None
    assert b.cancel(oid) is True
    assert b.order_by_client_id(o.client_order_id).status == "cancelled"
    assert b.cancel(oid) is False  # no longer working
    assert b.open_orders() == []
    assert b.balance() == 100_000.0
    assert b.positions() == {}


def test_positions_and_cash_after_fills(venue):
    b = venue.broker
    buy = order(venue, 0, qty=3.0)
    b.submit(buy)
    venue.fill(buy.client_order_id, 3.0, venue.price)
    assert b.positions() == {venue.symbol: 3.0}
    assert b.balance() == pytest.approx(100_000.0 - 3.0 * venue.price, rel=1e-5)
    assert b.order_by_client_id(buy.client_order_id).status == "filled"
    assert b.order_by_client_id(buy.client_order_id).avg_price == venue.price


# ------------------------------------------------------------- retries, pacing


@pytest.mark.parametrize("what", ["timeout", "network", "unavailable", "rate", "ddos"])
def test_transient_errors_are_retried_with_exponential_backoff(venue, what):
    venue.fail_balance(3, what)
    assert venue.broker.balance() == 100_000.0
    assert venue.time.sleeps == [0.5, 1.0, 2.0]  # backoff 0.5 doubled; no real sleep
    assert venue.fake.count(venue.balance_method()) == 4


def test_retries_exhausted_raise_transient_broker_error(venue):
    venue.fail_balance(4)
    with pytest.raises(TransientBrokerError) as info:
        venue.broker.balance()
    message = str(info.value)
    assert venue.broker.name in message and venue.balance_method() in message
    assert venue.time.sleeps == [0.5, 1.0, 2.0]
    assert venue.fake.count(venue.balance_method()) == 4  # 1 + max_retries


def test_submit_retries_exhausted_name_the_client_order_id(venue):
    o = order(venue)
    venue.fail_submit(4)
    with pytest.raises(TransientBrokerError) as info:
        venue.broker.submit(o)
    assert o.client_order_id in str(info.value) and venue.broker.name in str(info.value)
    assert "resubmission" in str(info.value)
    assert venue.created() == 4 and venue.stored() == 0
    # The network is back: the same order goes through once.
    oid = venue.broker.submit(o)
    assert (
        venue.stored() == 1
        and venue.broker.order_by_client_id(o.client_order_id).broker_order_id == oid
    )


def test_submit_timeouts_are_retried_with_the_same_client_order_id(venue):
    o = order(venue)
    venue.fail_submit(2)
    oid = venue.broker.submit(o)
    assert venue.time.sleeps == [0.5, 1.0]
    assert venue.created() == 3 and venue.stored() == 1
    assert venue.broker.order_by_client_id(o.client_order_id).broker_order_id == oid


def test_lost_submission_response_returns_the_accepted_order_once(venue):
    o = order(venue)
    venue.lose_next()
    oid = venue.broker.submit(o)
    assert venue.created() == 1  # looked up before retrying, never sent again
    assert venue.stored() == 1
    assert venue.broker.order_by_client_id(o.client_order_id).broker_order_id == oid
    assert venue.time.sleeps == [0.5]


def test_resubmitting_returns_the_same_id_without_a_second_create(venue):
    o = order(venue, order_type="limit", limit_price=venue.price)
    oid = venue.broker.submit(o)
    assert venue.broker.submit(o) == oid
    # After a crash: a fresh broker instance finds it by client order id too.
    assert venue.make_broker().submit(o) == oid
    assert venue.created() == 1 and venue.stored() == 1


def test_duplicate_client_id_answer_after_an_unseen_acceptance(venue, monkeypatch):
    """The venue accepted the order but did not list it yet when submit looked."""
    o = order(venue)
    b = venue.broker
    original = b._find if venue.kind == "ccxt" else b._lookup
    misses = {"n": 2}  # the pre-send lookup and the lookup before the retry miss it

    def eventually_consistent(*args, **kwargs):
        if misses["n"] > 0:
            misses["n"] -= 1
            return None
        return original(*args, **kwargs)

    monkeypatch.setattr(b, "_find" if venue.kind == "ccxt" else "_lookup", eventually_consistent)
    venue.lose_next()
    oid = b.submit(o)
    assert venue.stored() == 1 and venue.created() == 2  # the second got "duplicate"
    assert b.order_by_client_id(o.client_order_id).broker_order_id == oid


@pytest.mark.parametrize(
    "cls, interval", [(CcxtVenue, 0.25), (AlpacaVenue, AlpacaBroker.MIN_INTERVAL)]
)
def test_rate_limit_keeps_a_minimum_interval_between_calls(cls, interval):
    time = FakeTime(tick=0.0)  # the clock moves only when the broker sleeps
    v = cls(time)
    v.set_rate(interval)
    starts: list[float] = []
    method = v.balance_method()
    real = getattr(v.fake, method)

    def stamped(*args, **kwargs):
        starts.append(time.now)
        return real(*args, **kwargs)

    setattr(v.fake, method, stamped)
    for _ in range(4):
        v.broker.balance()
    assert time.sleeps == pytest.approx([interval] * 3)
    assert min(b - a for a, b in itertools.pairwise(starts)) >= interval - 1e-9
    # Calls already spaced out (the clock moved on its own) are not slowed down.
    time.sleeps.clear()
    time.now += 10
    v.broker.balance()
    assert time.sleeps == []


def test_alpaca_default_rate_is_200_per_minute():
    assert pytest.approx(60 / 200) == AlpacaBroker.MIN_INTERVAL
    assert AlpacaBroker(client=FakeTradingClient())._runner.min_interval == 0.3


def test_ccxt_rate_limit_comes_from_the_exchange():
    fake = FakeExchange(rate_limit=50)
    assert CCXTBroker("fakex", exchange=fake)._runner.min_interval == pytest.approx(0.05)


# ------------------------------------------------------------------------ fills


def test_duplicate_fill_notifications_give_each_fill_once(venue):
    o = order(venue, qty=3.0)
    venue.broker.submit(o)
    venue.fill(o.client_order_id, 1.0, venue.price)
    venue.duplicate_fills()
    assert len(venue.broker.fills()) == 1  # polled between executions, as the runner does
    venue.fill(o.client_order_id, 2.0, venue.price + 1)
    fills = venue.broker.fills()
    ids = [f.fill_id for f in fills]
    assert len(ids) == len(set(ids)) == 2
    assert sum(f.qty for f in fills) == 3.0


def test_partial_fills_have_their_own_ids_and_the_order_accumulates(venue):
    b = venue.broker
    o = order(venue, qty=5.0, order_type="limit", limit_price=venue.price)
    oid = b.submit(o)
    venue.fill(o.client_order_id, 2.0, venue.price - 1)
    first = b.fills()
    state = b.order_by_client_id(o.client_order_id)
    assert (state.filled, state.status, state.is_open) == (2.0, "open", True)
    venue.fill(o.client_order_id, 3.0, venue.price)
    fills = b.fills()
    assert [f.fill_id for f in fills][:1] == [first[0].fill_id]  # stable ids
    assert len({f.fill_id for f in fills}) == 2
    assert [(f.qty, f.price) for f in fills] == [
        (2.0, pytest.approx(venue.price - 1)),
        (3.0, pytest.approx(venue.price)),
    ]
    assert all(f.broker_order_id == oid and f.client_order_id == o.client_order_id for f in fills)
    assert all(f.symbol == venue.symbol and f.side == "buy" and f.fee >= 0 for f in fills)
    assert fills[0].timestamp <= fills[1].timestamp
    state = b.order_by_client_id(o.client_order_id)
    assert (state.filled, state.status) == (5.0, "filled")
    assert state.avg_price == pytest.approx((2 * (venue.price - 1) + 3 * venue.price) / 5)
    # since= keeps the later ones only.
    assert [f.fill_id for f in b.fills(since=fills[1].timestamp)] == [fills[1].fill_id]
    aware = fills[1].timestamp.tz_localize("UTC").tz_convert("America/New_York")
    assert [f.fill_id for f in b.fills(since=aware)] == [fills[1].fill_id]


def test_fills_of_several_orders_are_oldest_first(venue):
    b = venue.broker
    first, second = order(venue, 0), order(venue, 1, symbol=venue.other, side="buy")
    b.submit(first)
    b.submit(second)
    venue.fill(second.client_order_id, 2.0, 50.0)
    venue.fill(first.client_order_id, 2.0, venue.price)
    fills = b.fills()
    assert [f.client_order_id for f in fills] == [second.client_order_id, first.client_order_id]
    assert b.positions() == {venue.other: 2.0, venue.symbol: 2.0}


# ----------------------------------------------------------------------- errors


@pytest.mark.parametrize("which", ["funds", "invalid"])
def test_rejects_raise_order_rejected_error_with_the_venue_reason(venue, which):
    o = order(venue)
    venue.reject(which)
    with pytest.raises(OrderRejectedError) as info:
        venue.broker.submit(o)
    message = str(info.value)
    assert o.client_order_id in message and venue.broker.name in message
    reason = {
        ("ccxt", "funds"): "insufficient balance",
        ("ccxt", "invalid"): "LOT_SIZE",
        ("alpaca", "funds"): "insufficient buying power",
        ("alpaca", "invalid"): "multiple of 1",
    }[venue.kind, which]
    assert reason in message
    assert venue.time.sleeps == []  # a reject is not retried


def test_auth_errors_name_the_environment_variables(venue):
    venue.auth_fail()
    with pytest.raises(AuthenticationError) as info:
        venue.broker.balance()
    assert all(name in str(info.value) for name in venue.env)
    assert venue.time.sleeps == []
    with pytest.raises(AuthenticationError):
        venue.broker.submit(order(venue))


def test_unknown_symbol_raises_unknown_symbol_error(venue):
    o = order(venue, symbol=venue.unknown)
    with pytest.raises(UnknownSymbolError) as info:
        venue.broker.submit(o)
    assert repr(venue.unknown) in str(info.value)
    assert isinstance(info.value, KeyError) and isinstance(info.value, BrokerError)
    assert venue.stored() == 0


def test_ccxt_unknown_symbol_lists_close_matches_without_sending():
    v = CcxtVenue(FakeTime(tick=1.0))
    with pytest.raises(UnknownSymbolError) as info:
        v.broker.submit(order(v, symbol="BTC/USDX"))
    assert "'BTC/USDT'" in str(info.value) and "exchange.markets" in str(info.value)
    assert v.created() == 0  # checked against load_markets() before sending


def test_ccxt_bad_symbol_from_the_venue_maps_to_unknown_symbol_error(monkeypatch):
    v = CcxtVenue(FakeTime(tick=1.0))
    v.broker._markets = {}  # no market list: the venue's BadSymbol decides
    monkeypatch.setattr(v.broker, "_find", lambda *a, **k: None)
    with pytest.raises(UnknownSymbolError, match="DOGE/XYZ"):
        v.broker.submit(order(v, symbol="DOGE/XYZ"))


def test_alpaca_unknown_symbol_as_404():
    v = AlpacaVenue(FakeTime(tick=1.0), unknown_symbol_status=404)
    with pytest.raises(UnknownSymbolError, match="AAPX"):
        v.broker.submit(order(v, symbol="AAPX"))


def test_alpaca_403_that_is_not_a_reject_is_an_auth_error():
    v = AlpacaVenue(FakeTime(tick=1.0))
    v.fake.auth_status = 403
    with pytest.raises(AuthenticationError, match="APCA_API_KEY_ID"):
        v.broker.positions()


# ------------------------------------------------------------- order mapping


def test_ccxt_order_types_map_to_create_order():
    v = CcxtVenue(FakeTime(tick=1.0))
    cases = [
        (dict(order_type="market"), ("market", None, {})),
        (dict(order_type="limit", limit_price=99.0), ("limit", 99.0, {"timeInForce": "GTC"})),
        (
            dict(order_type="stop", stop_price=95.0, side="sell"),
            ("market", None, {"stopPrice": 95.0}),
        ),
        (
            dict(order_type="stop_limit", stop_price=95.0, limit_price=94.0, tif="IOC"),
            ("limit", 94.0, {"stopPrice": 95.0, "timeInForce": "IOC"}),
        ),
        (dict(order_type="market", tif="FOK"), ("market", None, {"timeInForce": "FOK"})),
    ]
    for seq, (fields, (kind, price, extra)) in enumerate(cases):
        o = order(v, seq, **fields)
        v.broker.submit(o)
        _, args, _ = [c for c in v.fake.calls if c[0] == "create_order"][-1]
        symbol, sent_kind, side, amount, sent_price, params = args
        assert (symbol, sent_kind, side, amount, sent_price) == (v.symbol, kind, o.side, 2.0, price)
        assert params == {"clientOrderId": o.client_order_id, **extra}
        got = v.broker.order_by_client_id(o.client_order_id)
        assert got.order_type == o.order_type
        assert (got.limit_price, got.stop_price) == (o.limit_price, o.stop_price)


def test_alpaca_order_types_map_to_request_classes():
    v = AlpacaVenue(FakeTime(tick=1.0))
    cases = [
        (dict(order_type="market", tif="DAY"), MarketOrderRequest),
        (dict(order_type="limit", limit_price=99.0), LimitOrderRequest),
        (dict(order_type="stop", stop_price=95.0, side="sell"), StopOrderRequest),
        (
            dict(order_type="stop_limit", stop_price=95.0, limit_price=94.0, tif="IOC"),
            StopLimitOrderRequest,
        ),
    ]
    for seq, (fields, cls) in enumerate(cases):
        o = order(v, seq, **fields)
        v.broker.submit(o)
        sent = [c for c in v.fake.calls if c[0] == "submit_order"][-1][1][0]
        assert type(sent) is cls
        assert sent.client_order_id == o.client_order_id and sent.symbol == v.symbol
        assert sent.qty == 2.0 and sent.side.value == o.side
        assert sent.time_in_force.value == o.tif.lower()
        assert getattr(sent, "limit_price", None) == o.limit_price
        assert getattr(sent, "stop_price", None) == o.stop_price
        got = v.broker.order_by_client_id(o.client_order_id)
        assert got.order_type == o.order_type
        assert (got.limit_price, got.stop_price) == (o.limit_price, o.stop_price)


@pytest.mark.parametrize(
    "venue_status, expected",
    [
        ("expired", "expired"),
        ("rejected", "rejected"),
        ("canceled", "cancelled"),
        ("closed", "filled"),
    ],
)
def test_ccxt_statuses_map(venue_status, expected):
    v = CcxtVenue(FakeTime(tick=1.0))
    o = order(v)
    v.broker.submit(o)
    v.fake.set_status(o.client_order_id, venue_status)
    got = v.broker.order_by_client_id(o.client_order_id)
    assert got.status == expected and not got.is_open


@pytest.mark.parametrize(
    "venue_status, expected",
    [
        ("new", "open"),
        ("partially_filled", "open"),
        ("pending_new", "open"),
        ("done_for_day", "open"),
        ("expired", "expired"),
        ("rejected", "rejected"),
        ("canceled", "cancelled"),
        ("replaced", "cancelled"),
        ("filled", "filled"),
    ],
)
def test_alpaca_statuses_map(venue_status, expected):
    v = AlpacaVenue(FakeTime(tick=1.0))
    o = order(v)
    v.broker.submit(o)
    v.fake.set_status(o.client_order_id, venue_status)
    assert v.broker.order_by_client_id(o.client_order_id).status == expected


def test_alpaca_short_positions_are_negative():
    v = AlpacaVenue(FakeTime(tick=1.0))
    o = order(v, side="sell", qty=4.0)
    v.broker.submit(o)
    v.fill(o.client_order_id, 4.0, 100.0)
    assert v.broker.positions() == {"AAPL": -4.0}
    assert [f.signed_qty for f in v.broker.fills()] == [-4.0]


def test_alpaca_cancel_rejects_a_non_uuid_id():
    v = AlpacaVenue(FakeTime(tick=1.0))
    with pytest.raises(ParameterError, match="not an Alpaca order id"):
        v.broker.cancel("1234")


def test_ccxt_exchange_that_requires_a_symbol_is_asked_per_symbol():
    v = CcxtVenue(FakeTime(tick=1.0), symbol_required=True)
    a, b = order(v, 0), order(v, 1, symbol=v.other)
    v.broker.submit(a)
    v.broker.submit(b)
    v.fill(a.client_order_id, 1.0, 100.0)
    v.fill(b.client_order_id, 1.5, 10.0)
    assert {f.symbol for f in v.broker.fills()} == {v.symbol, v.other}
    assert len(v.broker.open_orders()) == 2
    # A restarted broker still finds its orders: it asks per held currency's market.
    fresh = v.make_broker()
    assert {f.client_order_id for f in fresh.fills()} == {a.client_order_id, b.client_order_id}
    assert fresh.order_by_client_id(a.client_order_id).filled == 1.0


def test_ccxt_fees_convert_to_the_quote_currency():
    v = CcxtVenue(FakeTime(tick=1.0))
    o = order(v, qty=2.0)
    v.broker.submit(o)
    v.fake.fill(o.client_order_id, 1.0, 100.0)  # 0.1 % in USDT
    v.fake.fill(o.client_order_id, 1.0, 100.0, fee_currency="BTC")  # 0.001 BTC
    fees = [f.fee for f in v.broker.fills()]
    assert fees == pytest.approx([0.1, 0.1])


def test_ccxt_sandbox_mode_is_switched_on():
    fake = FakeExchange()
    broker = CCXTBroker("fakex", exchange=fake, sandbox=True)
    assert fake.sandbox is True and broker.is_paper is False and "sandbox" in broker.name


# ----------------------------------------------------- construction and keys


def test_missing_keys_raise_authentication_error_naming_the_variables(monkeypatch):
    with pytest.raises(AuthenticationError) as info:
        CCXTBroker("binance")
    assert "QRESEARCH_CCXT_API_KEY" in str(info.value) and "QRESEARCH_CCXT_SECRET" in str(
        info.value
    )
    monkeypatch.setenv("QRESEARCH_CCXT_API_KEY", "k-value-1")
    with pytest.raises(AuthenticationError) as info:
        CCXTBroker("binance")
    assert "QRESEARCH_CCXT_SECRET" in str(info.value) and "k-value-1" not in str(info.value)
    with pytest.raises(AuthenticationError) as info:
        AlpacaBroker(key_env="MY_KEY", secret_env="MY_SECRET")
    assert "MY_KEY" in str(info.value) and "MY_SECRET" in str(info.value)


def test_unknown_exchange_id_raises_parameter_error(monkeypatch):
    monkeypatch.setenv("QRESEARCH_CCXT_API_KEY", "k")
    monkeypatch.setenv("QRESEARCH_CCXT_SECRET", "s")
    with pytest.raises(ParameterError) as info:
        CCXTBroker("binanse")
    assert "'binance'" in str(info.value) and "ccxt.exchanges" in str(info.value)


def test_clients_are_built_from_the_environment(monkeypatch):
    monkeypatch.setenv("QRESEARCH_CCXT_API_KEY", "k-build")
    monkeypatch.setenv("QRESEARCH_CCXT_SECRET", "s-build")
    broker = CCXTBroker("binance", quote="USDC")
    assert type(broker._exchange).__name__ == "binance"
    assert broker._exchange.apiKey == "k-build" and broker._exchange.enableRateLimit is True
    assert broker._runner.min_interval == pytest.approx(broker._exchange.rateLimit / 1000)
    monkeypatch.setenv("APCA_API_KEY_ID", "k-alpaca")
    monkeypatch.setenv("APCA_API_SECRET_KEY", "s-alpaca")
    alpaca = AlpacaBroker(paper=True)
    assert type(alpaca._client).__name__ == "TradingClient" and alpaca.name == "alpaca-paper"


@pytest.mark.parametrize("bad", [dict(max_retries=-1), dict(backoff=float("nan")), dict(sleep=3)])
def test_bad_retry_settings_raise_parameter_error(bad):
    with pytest.raises(ParameterError):
        CCXTBroker("fakex", exchange=FakeExchange(), **bad)
    with pytest.raises(ParameterError):
        AlpacaBroker(client=FakeTradingClient(), **bad)


def test_keys_never_leak_into_logs_messages_or_reprs(monkeypatch, caplog):
    key, secret = "QRMARKERKEY7f3a9c1e", "QRMARKERSECRETb81d44"
    passphrase = "QRMARKERPASS0c2e"
    for name in ("QRESEARCH_CCXT_API_KEY", "APCA_API_KEY_ID"):
        monkeypatch.setenv(name, key)
    for name in ("QRESEARCH_CCXT_SECRET", "APCA_API_SECRET_KEY"):
        monkeypatch.setenv(name, secret)
    monkeypatch.setenv("QRESEARCH_CCXT_PASSWORD", passphrase)
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    errors: list[BaseException] = []

    def expect(exc_type, fn, *args):
        with pytest.raises(exc_type) as info:
            fn(*args)
        errors.append(info.value)

    time = FakeTime(tick=1.0)
    cc = CcxtVenue(time, api_key=key, secret=secret)
    al = AlpacaVenue(time, api_key=key, secret_key=secret)
    for v in (cc, al):
        o = order(v, qty=3.0)
        v.fail_submit(1)  # the venue's timeout text quotes the key and secret
        v.broker.submit(o)
        v.fill(o.client_order_id, 1.0, v.price)
        texts += [repr(x) for x in (v.broker, v.broker.order_by_client_id(o.client_order_id))]
        texts += [repr(v.broker.fills()), str(v.broker), repr(v.broker.open_orders())]
        v.reject("funds")
        expect(OrderRejectedError, v.broker.submit, order(v, 1))
        v.fail_balance(9)
        expect(TransientBrokerError, v.broker.balance)
        expect(UnknownSymbolError, v.broker.submit, order(v, 2, symbol=v.unknown))
        v.auth_fail()
        expect(AuthenticationError, v.broker.positions)
    texts += [repr(CCXTBroker("binance")), repr(AlpacaBroker(paper=False))]
    for exc in errors:
        texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
        # Not even a hidden (suppressed) context carries the venue's raw text.
        assert exc.__cause__ is None and exc.__context__ is None, repr(exc.__context__)
    texts += [record.getMessage() for record in caplog.records] + [caplog.text]
    leaks = [t for t in texts if key in t or secret in t or passphrase in t]
    assert leaks == []
    # The venue texts did quote the keys: the adapters redacted them.
    assert any("***" in str(exc) for exc in errors)
    assert any("***" in record.getMessage() for record in caplog.records)
    assert any(
        r.levelno == logging.WARNING and "retry 1 of 3" in r.getMessage() for r in caplog.records
    )


def test_importing_the_adapters_package_imports_neither_ccxt_nor_alpaca():
    code = (
        "import sys\n"
        "import qresearch.live.adapters as a\n"
        "import qresearch.live.adapters.ccxt, qresearch.live.adapters.alpaca\n"
        "assert sorted(a.__all__) == ['AlpacaBroker', 'CCXTBroker']\n"
        "assert a.CCXTBroker.__name__ == 'CCXTBroker' and a.AlpacaBroker.__name__ == 'AlpacaBroker'\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('ccxt', 'alpaca')]\n"
        "assert not loaded, loaded\n"
        "print('ok')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONSTARTUP"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_fills_since_accepts_naive_utc(venue):
    o = order(venue)
    venue.broker.submit(o)
    venue.fill(o.client_order_id, 2.0, venue.price)
    (fill,) = venue.broker.fills()
    assert fill.timestamp.tzinfo is None
    assert venue.broker.fills(since=fill.timestamp + pd.Timedelta("1s")) == []
    assert venue.broker.fills(since=fill.timestamp) == [fill]


def test_keys_held_by_an_injected_client_are_redacted_without_env_variables():
    from alpaca.trading.client import TradingClient

    key, secret = "QRINJECTEDKEY5a1", "QRINJECTEDSECRET9e2"
    alpaca = AlpacaBroker(client=TradingClient(key, secret, paper=True))
    assert alpaca._redact(f"a {key} b {secret}") == "a *** b ***"
    v = CcxtVenue(FakeTime(tick=1.0), api_key=key, secret=secret)
    v.auth_fail()
    with pytest.raises(AuthenticationError) as info:
        v.broker.balance()
    assert key not in str(info.value) and "***" in str(info.value)
