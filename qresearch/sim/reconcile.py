"""Reconcile a vectorized backtest with a simulation of the same orders.

:func:`reconcile` lines up the two engines bar by bar (equity) and fill by fill (per
timestamp and symbol: quantity, average price, fees), and gives each difference that
is not rounding its reason: a rejection in the simulator (with the simulator's
reason), a partial fill by the volume limit, a fill on another bar (timing), a
delisting close, a different fill price, or a quantity rounded to the size
granularity. What has no reason is counted as unexplained.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from qresearch._html import summary_html
from qresearch.backtest.result import BacktestResult
from qresearch.exceptions import AlignmentError, ParameterError
from qresearch.sim.result import SimResult

__all__ = ["Reconciliation", "reconcile"]


@dataclass(frozen=True, eq=False)
class Reconciliation:
    """Differences between a vectorized backtest and a simulation.

    Attributes
    ----------
    daily : DataFrame
        Per bar: ``vectorized`` and ``simulated`` equity, ``difference`` and
        ``relative`` (difference / vectorized equity).
    fills : DataFrame
        Per (timestamp, symbol) traded by either engine: signed quantity, average
        price and fees of each, their differences and ``reason`` ("" when equal,
        "rounding" within tolerance, else the reason or "unexplained").
    rtol : float
        Relative tolerance under which a difference counts as rounding.
    """

    daily: pd.DataFrame
    fills: pd.DataFrame
    rtol: float

    @property
    def unexplained(self) -> pd.DataFrame:
        """The fills whose difference has no reason."""
        return self.fills[self.fills["reason"] == "unexplained"]

    def summary(self) -> pd.Series:
        """Headline figures (floats): largest equity difference, fills, counts per reason."""
        reasons = self.fills["reason"].replace("", "match").value_counts()
        out = {
            "bars": len(self.daily),
            "max_abs_relative_equity_difference": float(self.daily["relative"].abs().max()),
            "final_equity_difference": float(self.daily["difference"].iloc[-1])
            if len(self.daily)
            else 0.0,
            "fills_vectorized": int(self.fills["qty_vectorized"].ne(0).sum()),
            "fills_simulated": int(self.fills["qty_simulated"].ne(0).sum()),
        }
        for reason, n in reasons.items():
            out[f"fills: {reason}"] = int(n)
        out["unexplained"] = int((self.fills["reason"] == "unexplained").sum())
        return pd.Series(out, name="reconciliation", dtype="float64")

    def __repr__(self) -> str:
        s = self.summary()
        return (
            f"Reconciliation({s['bars']} bars, max |relative equity difference| "
            f"{s['max_abs_relative_equity_difference']:.3g}, {s['unexplained']} unexplained)"
        )

    def _repr_html_(self) -> str:
        return summary_html(
            "Reconciliation", self.summary().to_dict(), line=self.daily["relative"].abs()
        )


def _aggregate(frame: pd.DataFrame, qty: str) -> pd.DataFrame:
    # Signed quantity, average price and fees per (timestamp, symbol).
    signed = np.where(frame["side"] == "buy", 1.0, -1.0) * frame[qty].to_numpy()
    work = pd.DataFrame(
        {
            "timestamp": frame["timestamp"].to_numpy(),
            "symbol": frame["symbol"].to_numpy(),
            "qty": signed,
            "abs_qty": frame[qty].to_numpy(),
            "value": frame[qty].to_numpy() * frame["price"].to_numpy(),
            "fees": frame["fees"].to_numpy(),
        }
    )
    g = work.groupby(["timestamp", "symbol"], sort=True).sum()
    g["price"] = g["value"] / g["abs_qty"]
    return g[["qty", "price", "fees"]]


def _close(a: np.ndarray, b: np.ndarray, rtol: float) -> np.ndarray:
    return np.isclose(a, b, rtol=rtol, atol=1e-9) | (np.isnan(a) & np.isnan(b))


def reconcile(
    backtest_result: BacktestResult, sim_result: SimResult, *, rtol: float = 1e-9, window: int = 3
) -> Reconciliation:
    """Compare a vectorized backtest with a simulation of the same strategy.

    Parameters
    ----------
    backtest_result : BacktestResult
        From :func:`~qresearch.backtest.from_weights` (or ``from_signals``).
    sim_result : SimResult
        From :meth:`Simulator.run`, e.g. with :class:`TargetWeights` of the same weights.
    rtol : float, default 1e-9
        Relative difference counted as rounding.
    window : int, default 3
        Bars within which a fill of the same symbol in the other engine counts as
        a timing difference.

    Returns
    -------
    Reconciliation

    Examples
    --------
    >>> import qresearch.api as qr
    >>> close = qr.datasets.load_sample("stocks").iloc[-300:, :5]
    >>> w = qr.portfolio.equal_weights(close).iloc[::21].reindex(close.index)
    >>> res = qr.backtest.from_weights(close, w, fees=0.001, init_cash=1e5)
    >>> out = qr.sim.Simulator(close, 1e5, fees=0.001, market_fill="close").run(
    ...     qr.sim.TargetWeights(w))
    >>> int(qr.sim.reconcile(res, out).summary()["unexplained"])
    0
    """
    if not isinstance(backtest_result, BacktestResult):
        raise ParameterError(
            f"backtest_result must be a BacktestResult; got {type(backtest_result).__name__}."
        )
    if not isinstance(sim_result, SimResult):
        raise ParameterError(f"sim_result must be a SimResult; got {type(sim_result).__name__}.")
    if not isinstance(backtest_result.equity, pd.Series):
        raise ParameterError(
            "reconcile compares one portfolio; this backtest is a sweep. Run from_weights on "
            "one parameter combination."
        )
    vec_eq, sim_eq = backtest_result.equity, sim_result.equity
    if not vec_eq.index.equals(sim_eq.index):
        raise AlignmentError(
            "The backtest and the simulation cover different bars "
            f"({len(vec_eq)} vs {len(sim_eq)}); run both on the same prices."
        )
    diff = sim_eq - vec_eq
    daily = pd.DataFrame(
        {
            "vectorized": vec_eq,
            "simulated": sim_eq,
            "difference": diff,
            "relative": diff / vec_eq.where(vec_eq != 0),
        }
    )
    vec = _aggregate(backtest_result.orders, "size")
    sim_fills = sim_result.fills
    sim = _aggregate(sim_fills, "qty")
    both = vec.add_suffix("_vectorized").join(sim.add_suffix("_simulated"), how="outer")
    for col in ("qty_vectorized", "qty_simulated", "fees_vectorized", "fees_simulated"):
        both[col] = both[col].fillna(0.0)
    qv, qs = both["qty_vectorized"].to_numpy(), both["qty_simulated"].to_numpy()
    pv, ps = both["price_vectorized"].to_numpy(), both["price_simulated"].to_numpy()
    fv, fs = both["fees_vectorized"].to_numpy(), both["fees_simulated"].to_numpy()
    both["qty_difference"] = qs - qv
    both["price_difference"] = ps - pv
    both["fees_difference"] = fs - fv
    exact = (qv == qs) & ((pv == ps) | (np.isnan(pv) & np.isnan(ps))) & (fv == fs)
    near = _close(qv, qs, rtol) & _close(pv, ps, rtol) & _close(fv, fs, rtol)
    reasons = np.where(exact, "", np.where(near, "rounding", "unexplained")).astype(object)
    todo = np.flatnonzero(reasons == "unexplained")
    if len(todo):
        # Relative equity difference at the bar before each fill: sizes follow equity.
        prior = daily["relative"].abs().shift(1).fillna(0.0)
        drift = prior.reindex(both.index.get_level_values(0)).to_numpy()[todo] > rtol
        reasons[todo] = _explain(both.iloc[todo], drift, backtest_result, sim_result, window)
    both["reason"] = reasons
    return Reconciliation(daily=daily, fills=both.reset_index(), rtol=rtol)


def _explain(
    rows: pd.DataFrame, drift: np.ndarray, bt: BacktestResult, sim: SimResult, window: int
) -> list[str]:
    # The reason of each difference that is not rounding, from the simulator's records
    # (set and dict lookups, so that tens of thousands of differences stay fast).
    index = sim.equity.index
    orders, fills = sim.orders, sim.fills

    def keys(frame: pd.DataFrame) -> set[tuple[Any, Any]]:
        return set(zip(frame["timestamp"], frame["symbol"], strict=True))

    rejected = orders[orders["event"] == "rejected"]
    pairs = zip(rejected["timestamp"], rejected["symbol"], strict=True)
    rejection = dict(zip(pairs, rejected["reason"], strict=True))
    partial = keys(
        orders[(orders["event"] == "partially_filled") & (orders["reason"] == "no_volume")]
    )
    delisted = keys(fills[fills["order_type"] == "delisting"])
    granularity = sim.config.get("size_granularity")
    # Sizes rounded differently by the two engines: every size difference from the
    # first rounded fill on is (directly, or through the equity path) rounding.
    rounding = granularity != bt.config.get("size_granularity")

    def bars_by_symbol(frame: pd.DataFrame) -> dict[Any, np.ndarray]:
        pos = index.get_indexer(frame["timestamp"])
        out: dict[Any, np.ndarray] = {}
        for symbol, p in pd.Series(pos).groupby(frame["symbol"].to_numpy()):
            out[symbol] = np.sort(p.to_numpy())
        return out

    vec_bars, sim_bars = bars_by_symbol(bt.orders), bars_by_symbol(fills)

    def near(bars: dict[Any, np.ndarray], ts: Any, symbol: Any) -> bool:
        b = bars.get(symbol)
        if b is None:
            return False
        p = index.get_loc(ts)
        lo, hi = np.searchsorted(b, [p - window, p + window + 1])
        return bool(hi > lo)

    out = []
    for n, ((ts, symbol), row) in enumerate(rows.iterrows()):
        if (ts, symbol) in rejection:
            out.append(f"rejected: {rejection[(ts, symbol)]}")
        elif (ts, symbol) in delisted:
            out.append("delisting")
        elif (ts, symbol) in partial:
            out.append("partial fill")
        elif rounding and (
            abs(row["qty_difference"]) < (granularity or np.inf)
            or (row["qty_vectorized"] != 0 and row["qty_simulated"] != 0)
        ):
            out.append("quantity rounding")
        elif row["qty_vectorized"] == 0 or row["qty_simulated"] == 0:
            other = vec_bars if row["qty_vectorized"] == 0 else sim_bars
            if near(other, ts, symbol):
                out.append("fill timing")
            else:
                out.append("equity path" if drift[n] else "unexplained")
        elif not np.isclose(row["price_vectorized"], row["price_simulated"], rtol=1e-9):
            out.append("fill price")
        else:
            out.append("equity path" if drift[n] else "unexplained")
    return out
