"""``BacktestResult``: what a backtest produced, as pandas objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["BacktestResult"]


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """The outcome of :func:`~qresearch.backtest.from_weights`.

    For a single portfolio the per-portfolio series (``equity``, ``returns``, ``cash``,
    ...) are Series; for a parameter sweep (weights with column levels ``(param...,
    symbol)``) they are DataFrames with one column per parameter combination.

    Attributes
    ----------
    equity : Series or DataFrame
        Cash plus holdings valued at the close, per bar.
    cash : Series or DataFrame
        Cash per bar (negative when borrowing; short proceeds included).
    positions : DataFrame
        Shares held at the end of each bar (columns as the weights).
    orders : DataFrame
        One row per fill, in execution order (sells before buys within a bar):
        ``timestamp, symbol, side ("buy"/"sell"), size, price,
        value, fees, delisted`` (plus the parameter levels in a sweep). Empty when
        the backtest ran with ``records=False``.
    traded_value : Series or DataFrame
        Absolute value traded per bar (at fill prices).
    fees_paid : Series or DataFrame
        Fees (proportional + fixed) paid per bar.
    init_cash : float
        Starting cash of each portfolio.
    close : DataFrame
        The valuation close panel (tiled across parameter combinations in a sweep).
    config : dict
        The arguments the backtest ran with; ``config_id`` hashes them.
    high, low : DataFrame or None
        Bar extremes (when the prices were Bars), for trade MAE/MFE.
    rejections : DataFrame or None
        Prices skipped with ``bad_prices="skip"`` (``timestamp, symbol, field, price,
        reason``); empty when none were.
    inputs : dict
        The input panels (prices, weights or signals), by reference, fingerprinted
        into :attr:`config_id`.
    """

    equity: Any
    cash: Any
    positions: pd.DataFrame
    orders: pd.DataFrame
    traded_value: Any
    fees_paid: Any
    init_cash: float
    close: pd.DataFrame
    config: dict[str, Any] = field(default_factory=dict)
    high: pd.DataFrame | None = None
    low: pd.DataFrame | None = None
    rejections: pd.DataFrame | None = None
    inputs: dict[str, Any] = field(default_factory=dict, repr=False)

    @cached_property
    def config_id(self) -> str:
        """Content hash of the run: the arguments and fingerprints of the input panels.

        Two backtests share an id only when they ran with the same options on the same
        prices and the same weights (or signals).
        """
        from qresearch.config import config_hash
        from qresearch.data.panel import fingerprint

        prints = {name: fingerprint(obj) for name, obj in self.inputs.items()}
        return config_hash({**self.config, "inputs": prints})

    @property
    def returns(self) -> Any:
        """Simple returns of the equity; the first bar is measured against ``init_cash``."""
        prev = self.equity.shift(1)
        prev.iloc[0] = self.init_cash
        return self.equity / prev - 1.0

    @property
    def trades(self) -> pd.DataFrame:
        """Round trips (flat -> position -> flat) rebuilt from :attr:`orders`.

        See :func:`~qresearch.backtest.trades.trades_from_fills` for the columns
        (entry/exit time and price, size, pnl, return, duration, MAE/MFE).
        """
        from qresearch.backtest.trades import trades_from_fills

        sweep = not isinstance(self.equity, pd.Series)
        keys = tuple(self.orders.columns[: self.close.columns.nlevels - 1]) if sweep else ()
        close = self.close
        if sweep:
            # The close is tiled per parameter combination; trades need one copy.
            n = self.close.columns.get_level_values(-1).nunique()
            close = close.iloc[:, :n].droplevel(list(range(close.columns.nlevels - 1)), axis=1)
        return trades_from_fills(self.orders, close, self.high, self.low, group_columns=keys)

    @property
    def holdings_value(self) -> pd.DataFrame:
        """Value of each position at the (last known) close."""
        return self.positions * self.close.ffill()

    @property
    def weights(self) -> pd.DataFrame:
        """Realized weights: position value / portfolio equity, at each close."""
        value = self.holdings_value
        if isinstance(self.equity, pd.Series):
            return value.div(self.equity, axis=0)
        # One equity column per parameter combination, repeated for its symbols.
        eq = self.equity.reindex(value.columns.droplevel(-1), axis=1)
        eq.columns = value.columns
        return value / eq

    @property
    def exposure(self) -> pd.DataFrame:
        """Gross (sum of |weights|) and net (sum of weights) exposure per bar."""
        w = self.weights
        if isinstance(self.equity, pd.Series):
            return pd.DataFrame({"gross": w.abs().sum(axis=1), "net": w.sum(axis=1)})
        keys = list(w.columns.names[:-1])
        gross = w.abs().T.groupby(level=keys, sort=False).sum().T
        net = w.T.groupby(level=keys, sort=False).sum().T
        return pd.concat({"gross": gross, "net": net}, axis=1)

    @property
    def turnover(self) -> Any:
        """Traded value per bar as a fraction of the previous bar's equity."""
        prev = self.equity.shift(1)
        prev.iloc[0] = self.init_cash
        return self.traded_value / prev

    @property
    def costs(self) -> Any:
        """Fees paid per bar (slippage is in the fill prices; see ``orders``)."""
        return self.fees_paid

    def stats(self, periods_per_year: float = 252, risk_free: float = 0.0) -> Any:
        """Return :func:`qresearch.evaluation.stats` of the returns plus cost figures.

        Adds the trade statistics of :attr:`trades` (single portfolio),
        ``orders`` (count), ``fees`` (total paid) and ``turnover`` (annualized mean of
        :attr:`turnover`). A DataFrame (one column per portfolio) for sweeps.
        """
        from qresearch.evaluation.metrics import _closed_trade_stats
        from qresearch.evaluation.metrics import stats as base_stats

        if isinstance(self.equity, pd.Series):
            s = base_stats(self.returns, periods_per_year, risk_free)
            # The trade statistics straight from the orders, without the trades frame.
            from qresearch.backtest.trades import closed_trades

            out = {**s.to_dict(), **_closed_trade_stats(*closed_trades(self.orders, self.close))}
            out["orders"] = len(self.orders)
            out["fees"] = float(self.fees_paid.sum())
            out["turnover"] = float(self.turnover.mean() * periods_per_year)
            return pd.Series(out, name=s.name, dtype=object)
        # All parameter combinations at once; per-combination trades: see result.trades.
        table = base_stats(self.returns, periods_per_year, risk_free)
        keys = list(self.equity.columns.names)
        counts = self.orders.groupby(keys, sort=False).size() if len(self.orders) else None
        n_orders = [int(counts.get(key, 0)) if counts is not None else 0 for key in table.columns]
        fees = self.fees_paid.sum().to_numpy()
        turnover = self.turnover.mean().to_numpy() * periods_per_year
        extra = np.empty((3, len(table.columns)), dtype=object)
        extra[0], extra[1], extra[2] = n_orders, fees, turnover
        out = pd.concat(
            [
                table,
                pd.DataFrame(extra, index=["orders", "fees", "turnover"], columns=table.columns),
            ]
        )
        out.columns.names = keys
        return out

    def _single_returns(self, what: str) -> pd.Series:
        # The return series of a single portfolio (sweeps: pick a combination first).
        if not isinstance(self.equity, pd.Series):
            from qresearch.exceptions import ParameterError

            raise ParameterError(
                f"{what} shows one portfolio; this result is a sweep. Use "
                f"qr.evaluation.{'plot_performance' if what == 'plot' else 'write_tearsheet'}"
                "(result.returns[key], ...) for one parameter combination."
            )
        returns: pd.Series = self.returns
        return returns

    def plot(
        self,
        benchmark: pd.Series | None = None,
        *,
        title: str = "qresearch backtest",
        periods_per_year: float = 252,
    ) -> Any:
        """Return a plotly figure: equity vs benchmark, drawdown, monthly returns, rolling Sharpe.

        ``benchmark`` is a return Series covering the backtest's index. See
        :func:`qresearch.evaluation.plots.plot_performance`.
        """
        from qresearch.evaluation.plots import plot_performance

        return plot_performance(
            self._single_returns("plot"),
            benchmark=benchmark,
            title=title,
            periods_per_year=periods_per_year,
        )

    def tearsheet(
        self,
        path: Any,
        benchmark: pd.Series | None = None,
        *,
        title: str = "qresearch backtest",
        periods_per_year: int = 252,
        risk_free: float = 0.0,
        progress: bool | None = None,
    ) -> Any:
        """Write quantstats' HTML tearsheet of the returns to ``path``; return the path.

        Never downloads: ``benchmark`` must be a return Series. ``progress`` shows a
        tqdm bar per chart (``None``: only in a terminal). See
        :func:`qresearch.evaluation.tearsheet.write_tearsheet`.
        """
        from qresearch.evaluation.tearsheet import write_tearsheet

        return write_tearsheet(
            self._single_returns("tearsheet"),
            path,
            benchmark=benchmark,
            title=title,
            periods_per_year=periods_per_year,
            risk_free=risk_free,
            progress=progress,
        )

    def to_vectorbt(self, freq: str = "1D") -> Any:
        """Return a vectorbt Portfolio of the same fills (see :func:`.vbt.to_vectorbt`)."""
        from qresearch.backtest.vbt import to_vectorbt

        return to_vectorbt(self, freq=freq)

    def _repr_html_(self) -> str:
        # Jupyter: headline statistics and an equity sparkline (a sweep: final equities).
        from qresearch._html import summary_html

        if not isinstance(self.equity, pd.Series):
            finals = self.equity.iloc[-1].sort_values(ascending=False)
            rows = {str(k): float(v) for k, v in finals.head(20).items()}
            return summary_html(
                f"BacktestResult sweep ({self.equity.shape[1]} portfolios), final equity",
                rows,
                f"config_id {self.config_id}",
            )
        s = self.stats()
        keys = ["start", "end", "total_return", "cagr", "volatility", "sharpe"]
        keys += ["max_drawdown", "trades", "orders", "fees", "turnover"]
        rows = {k: s[k] for k in keys if k in s.index}
        rows["final_equity"] = float(self.equity.iloc[-1])
        return summary_html("BacktestResult", rows, f"config_id {self.config_id}", self.equity)

    def __repr__(self) -> str:
        eq = self.equity
        n = 1 if isinstance(eq, pd.Series) else eq.shape[1]
        last = float(np.asarray(eq.iloc[-1]).ravel()[0]) if len(eq) else float("nan")
        return (
            f"BacktestResult({len(eq)} bars, {n} portfolio(s), {len(self.orders)} orders, "
            f"final equity {last:.6g}, config_id={self.config_id})"
        )
