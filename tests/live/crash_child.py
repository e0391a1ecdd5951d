"""A paper session for the crash-recovery test: run (or resume) it; killed from outside.

Usage: python crash_child.py STORE_DIR [PLAN]; PLAN "point:n" is passed to the runner
through QRESEARCH_LIVE_CRASH by the test. Prints "done" when the feed is exhausted.
"""

from __future__ import annotations

import sys
from pathlib import Path

from qresearch.datasets import load_sample
from qresearch.live import LiveRunner, PaperBroker, ReplayFeed

SYMBOLS = ["ORCL", "NVDA"]
START, END = "2013-01-01", "2013-12-31"


class FastCross:
    """SMA(3) vs SMA(8): trades often, with market and limit orders and partial exits."""

    def on_bar(self, ctx):
        h = ctx.history("close", 8)
        if len(h) < 8:
            return
        fast, slow = h.iloc[-3:].mean(), h.mean()
        for s in ctx.symbols:
            if ctx.open_orders(s):
                continue
            pos = ctx.position(s)
            price = float(ctx.close[s])
            if fast[s] > slow[s] and pos == 0:
                ctx.buy(s, 100)
                ctx.buy(s, 50, "limit", limit_price=round(price * 0.99, 2), tif="DAY")
            elif fast[s] < slow[s] and pos > 0:
                ctx.sell(s, pos)


def session(folder: Path) -> LiveRunner:
    bars = load_sample("ohlcv", symbols=SYMBOLS)
    broker = PaperBroker(SYMBOLS, 100_000, fees=0.001, journal=folder / "paper.db", engine="python")
    return LiveRunner(
        FastCross(),
        broker,
        ReplayFeed(bars, start=START, end=END),
        store=folder / "state.db",
        dry_run=False,
        status_dir=None,
    )


if __name__ == "__main__":
    runner = session(Path(sys.argv[1]))
    runner.run()
    runner.close()
    print("done")
