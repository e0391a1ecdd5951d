"""A live session against a (fake) ccxt venue: keys never reach logs, store or page;
the polling feed yields each closed bar once."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from qresearch.data.bars import Bars
from qresearch.datasets import load_sample
from qresearch.live import LiveRunner, PollingFeed, ReplayFeed
from qresearch.live.adapters.ccxt import CCXTBroker
from tests.live.fake_ccxt import FakeExchange

KEY, SECRET = "QRKEYMARKER5e1f0a77", "QRSECRETMARKER9b2c4d"


def _crypto_bars() -> Bars:
    src = load_sample("ohlcv", symbols=["ORCL"]).select(None, "2013-01-01", "2013-02-28")
    fields = {f: getattr(src, f).rename(columns={"ORCL": "BTC/USDT"}) for f in src.fields}
    return Bars(**{f: p for f, p in fields.items() if f != "adj_close"})


class EveryBar:
    def on_bar(self, ctx: Any) -> None:
        if ctx.i % 5 == 0:
            ctx.buy("BTC/USDT", 0.01, "limit", limit_price=float(ctx.close["BTC/USDT"]))


def test_keys_never_reach_the_store_the_page_or_the_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("QRESEARCH_CCXT_API_KEY", KEY)
    monkeypatch.setenv("QRESEARCH_CCXT_SECRET", SECRET)
    caplog.set_level(logging.DEBUG)
    venue = FakeExchange(markets=("BTC/USDT",), api_key=KEY, secret=SECRET)
    broker = CCXTBroker("fakex", exchange=venue, sleep=lambda s: None)
    venue.fail_next("create_order", 1)  # its error text quotes the key: must be redacted
    runner = LiveRunner(EveryBar(), broker, ReplayFeed(_crypto_bars()), store=tmp_path / "s.db",
                        dry_run=False, confirm_live=True, status_dir=tmp_path / "live")  # fmt: skip
    runner.run()
    orders = runner.store.orders()
    assert len(orders) >= 5 and set(orders["status"]) <= {"submitted", "unsent", "filled"}
    assert venue.count("create_order") >= 5
    runner.close()
    blobs = [p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()]
    assert any(b"BTC/USDT" in b for b in blobs)  # the store and page were written
    for blob in blobs:
        assert KEY.encode() not in blob and SECRET.encode() not in blob
    for record in caplog.records:
        text = record.getMessage()
        assert KEY not in text and SECRET not in text


def test_polling_feed_yields_each_new_closed_bar_once() -> None:
    stamps = ["2024-01-01 10:00", "2024-01-01 10:00", "2024-01-01 10:01", None,
              "2024-01-01 10:02"]  # fmt: skip
    sleeps: list[float] = []

    def fetch() -> Any:
        ts = stamps.pop(0) if stamps else None
        if ts is None:
            return None
        bar = pd.DataFrame({"open": [1.0], "high": [1.0], "low": [1.0], "close": [1.0],
                            "volume": [5.0]}, index=["BTC/USDT"])  # fmt: skip
        return ts, bar

    feed = PollingFeed(fetch, interval=30, max_bars=3, sleep=sleeps.append)
    got = [str(ts) for ts, _ in feed.bars()]
    assert got == ["2024-01-01 10:00:00", "2024-01-01 10:01:00", "2024-01-01 10:02:00"]
    assert sleeps == [30.0, 30.0]  # after the repeated bar and after "none yet"


def test_polling_feed_from_ccxt_takes_the_last_closed_candle() -> None:
    class Venue:
        def fetch_ohlcv(self, symbol: str, timeframe: str, limit: int) -> list:
            return [[1_700_000_000_000, 1, 2, 0.5, 1.5, 10], [1_700_000_060_000, 9, 9, 9, 9, 9]]

    feed = PollingFeed.from_ccxt(Venue(), ["BTC/USDT"], "1m", max_bars=1, sleep=lambda s: None)
    ((ts, bar),) = list(feed.bars())
    assert ts == pd.Timestamp(1_700_000_000_000, unit="ms")
    assert bar.loc["BTC/USDT"].tolist() == [1.0, 2.0, 0.5, 1.5, 10.0]
