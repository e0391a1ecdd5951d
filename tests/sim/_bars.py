"""Hand-made bars for the simulator tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from qresearch.data.bars import Bars


def hand_bars(rows, symbol: str = "A", start: str = "2024-01-01") -> Bars:
    """Bars of one symbol from rows of (open, high, low, close[, volume])."""
    idx = pd.date_range(start, periods=len(rows), name="timestamp")
    arr = np.array([list(r) + [1_000_000.0] * (5 - len(r)) for r in rows], dtype=float)

    def panel(j: int) -> pd.DataFrame:
        return pd.DataFrame({symbol: arr[:, j]}, index=idx)

    return Bars(open=panel(0), high=panel(1), low=panel(2), close=panel(3), volume=panel(4))


class Script:
    """A strategy that runs `actions[i](ctx)` on bar i (and `start(ctx)` in on_start)."""

    def __init__(self, actions=None, start=None, on_fill=None):
        self.actions = actions or {}
        self.start = start
        self.fill_hook = on_fill
        self.ids: dict = {}
        self.log: list = []

    def on_start(self, ctx):
        if self.start:
            self.start(self, ctx)

    def on_fill(self, ctx, fill):
        self.log.append(("fill", ctx.i, fill.order_id))
        if self.fill_hook:
            self.fill_hook(self, ctx, fill)

    def on_bar(self, ctx):
        self.log.append(("bar", ctx.i, tuple(o.order_id for o in ctx.open_orders())))
        act = self.actions.get(ctx.i)
        if act:
            act(self, ctx)
