"""Ready-made strategies and execution policies for the simulator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from qresearch._validation import check_aligned, check_panel
from qresearch.backtest.engine import target_array
from qresearch.exceptions import ParameterError

__all__ = ["TWAP", "VWAP", "TargetWeights"]


@dataclass(frozen=True)
class TWAP:
    """Split a parent order into equal child fills over ``n_bars`` bars.

    Each bar fills ``remaining / bars left`` at the market fill price (subject to
    ``volume_limit``); the last bar takes the rest.
    """

    n_bars: int

    def __post_init__(self) -> None:
        if not (isinstance(self.n_bars, int) and not isinstance(self.n_bars, bool)):
            raise ParameterError(f"TWAP.n_bars must be an int >= 1; got {self.n_bars!r}.")
        if self.n_bars < 1:
            raise ParameterError(f"TWAP.n_bars must be an int >= 1; got {self.n_bars!r}.")


@dataclass(frozen=True)
class VWAP:
    """Split a parent order over ``n_bars`` bars in proportion to volume.

    Each bar fills ``remaining * v / (v + adv * (bars left - 1))``: this bar's volume
    ``v`` against the volume expected over the bars left, with ``adv`` the mean
    volume of the 20 bars before (known before the bar, no look-ahead); the last bar
    takes the rest.
    """

    n_bars: int

    def __post_init__(self) -> None:
        if not (isinstance(self.n_bars, int) and not isinstance(self.n_bars, bool)):
            raise ParameterError(f"VWAP.n_bars must be an int >= 1; got {self.n_bars!r}.")
        if self.n_bars < 1:
            raise ParameterError(f"VWAP.n_bars must be an int >= 1; got {self.n_bars!r}.")


class TargetWeights:
    """Replay a vectorized weight panel as target-percent orders.

    Weights decided at the close of bar t become orders on bar t, filled on bar t+1
    (at the open or the close, by the simulator's ``market_fill``), sized at the fill
    from the fill price and the portfolio value at that moment, sells before buys:
    exactly as :func:`~qresearch.backtest.from_weights` sizes them, so the two engines
    agree to rounding (see :func:`~qresearch.sim.reconcile`). A NaN row holds; a NaN
    cell leaves that symbol alone.

    Parameters
    ----------
    weights : DataFrame
        Target weights, same index and symbols as the simulator's bars.
    algo : TWAP or VWAP, optional
        Execute each change over several bars instead: the order quantity is fixed
        when the weights are decided (``w * equity / close - position``), then split.
    over_leverage : {"raise", "scale"}, default "raise"
        As in ``from_weights``: a row whose gross (sum of |w|) exceeds the simulator's
        ``leverage`` raises, or is scaled down to it.
    """

    def __init__(
        self,
        weights: pd.DataFrame,
        algo: TWAP | VWAP | None = None,
        *,
        over_leverage: str = "raise",
    ) -> None:
        check_panel(weights, "weights", allow_empty=False)
        if algo is not None and not isinstance(algo, TWAP | VWAP):
            raise ParameterError(f"algo must be TWAP(n), VWAP(n) or None; got {algo!r}.")
        # Checks the option and names an infinite cell (the leverage check waits for bind).
        target_array(weights, 1, np.inf, over_leverage, "TargetWeights")
        self.weights = weights
        self.algo = algo
        self.over_leverage = over_leverage
        # Panels fingerprinted into the result's config_id.
        self.inputs = {"weights": weights}
        self._rows: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._latest: tuple[np.ndarray, np.ndarray] | None = None
        self._halted = False

    def bind(self, simulator: Any) -> None:
        """Check the weights against the simulator's bars and index the rows with targets.

        Called by :meth:`Simulator.run` before the first bar (errors are raised as
        they are, not as a :class:`~qresearch.exceptions.StrategyError`).
        """
        reference = pd.DataFrame(index=simulator.index, columns=simulator.symbols)
        check_aligned(reference, self.weights, "bars", "weights")
        values = target_array(
            self.weights, 1, simulator.leverage, self.over_leverage, "TargetWeights"
        )
        columns = simulator.symbols.get_indexer(self.weights.columns)
        self._rows = {}
        self._latest = None
        self._halted = False
        for r in np.flatnonzero(~np.isnan(values).all(axis=1)):
            row = values[r]
            keep = ~np.isnan(row)
            self._rows[int(r)] = (columns[keep].astype(np.int64), row[keep])

    def on_bar(self, ctx: Any) -> None:
        """Submit the targets decided at this bar's close.

        While the simulator's risk limits halt trading nothing is sent; on the first
        bar after the halt the latest targets are sent again (as ``from_weights``
        resumes them after its cooldown).
        """
        row = self._rows.get(ctx.i)
        if row is not None:
            self._latest = row
        if ctx.halted:
            self._halted = True
            return
        if self._halted:
            self._halted = False
            row = self._latest
        if row is None:
            return
        cols, w = row
        if self.algo is None:
            ctx._run.submit_targets(ctx.i, None, w, cols=cols, skip_flat_zeros=True)
            return
        equity = ctx.equity
        close = ctx.close
        for c, weight in zip(cols, w, strict=True):
            s = ctx.symbols[c]
            price = close.iloc[c]
            if not price > 0:
                continue
            delta = weight * equity / price - ctx.position(s)
            if abs(delta) < 1e-8:
                continue
            if delta > 0:
                ctx.buy(s, delta, algo=self.algo)
            else:
                ctx.sell(s, -delta, algo=self.algo)
