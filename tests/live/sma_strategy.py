"""A small strategy for the ``qresearch paper`` tests: an SMA(20)/SMA(50) crossover.

Run it with ``qresearch paper tests/live/sma_strategy.py:SmaCross --symbols ORCL NVDA``
(or ``tests.live.sma_strategy:SmaCross`` from the repository root). The same class runs
in ``qr.sim.Simulator``.
"""

from __future__ import annotations

from typing import Any


class SmaCross:
    """Long ``qty`` shares while the fast SMA of the close is above the slow one.

    On each bar, for each symbol: buy ``qty`` when SMA(fast) > SMA(slow), the symbol is
    flat and has no open order; sell the whole position when SMA(fast) < SMA(slow).
    """

    def __init__(self, fast: int = 20, slow: int = 50, qty: float = 100.0) -> None:
        self.fast, self.slow, self.qty = fast, slow, qty

    def on_bar(self, ctx: Any) -> None:
        history = ctx.history("close", self.slow)
        if len(history) < self.slow:
            return
        fast = history.iloc[-self.fast :].mean()
        slow = history.mean()
        for symbol in ctx.symbols:
            position = ctx.position(symbol)
            if fast[symbol] > slow[symbol] and position == 0 and not ctx.open_orders(symbol):
                ctx.buy(symbol, self.qty)
            elif fast[symbol] < slow[symbol] and position > 0 and not ctx.open_orders(symbol):
                ctx.sell(symbol, position)


class NoOnBar:
    """Not a strategy: it has no ``on_bar`` (the command refuses it)."""

    def on_start(self, ctx: Any) -> None:
        pass


class Raises(SmaCross):
    """Raises on the 60th bar (the command exits 5)."""

    def on_bar(self, ctx: Any) -> None:
        if ctx.i == 59:
            raise RuntimeError("boom")
        super().on_bar(ctx)
