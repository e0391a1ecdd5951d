"""Adapter to vectorbt: replay a ``BacktestResult``'s fills as a vectorbt Portfolio.

vectorbt is optional (``pip install "qresearch[vbt]"``) and only imported here.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from qresearch._optional import import_optional
from qresearch.exceptions import ParameterError

if TYPE_CHECKING:
    from qresearch.backtest.result import BacktestResult

__all__ = ["to_vectorbt"]


def to_vectorbt(result: BacktestResult, freq: str = "1D") -> Any:
    """Return a ``vectorbt.Portfolio`` that executes the same fills as ``result``.

    Each fill becomes a vectorbt order of the same size at the same fill price (the
    price already includes slippage, so vectorbt's slippage is 0), with the same
    proportional and fixed fees, in one cash-shared group (or one portfolio per
    symbol, grouped, when the backtest did not share cash).

    Parameters
    ----------
    result : BacktestResult
        A single-portfolio result (select one parameter combination of a sweep first).
    freq : str, default "1D"
        The bar frequency vectorbt uses to annualize.

    Returns
    -------
    vectorbt.Portfolio
        ``pf.value()`` equals ``result.equity`` (to floating-point rounding).

    Raises
    ------
    ParameterError
        For a sweep result.
    OptionalDependencyError
        When vectorbt is not installed.
    """
    if not isinstance(result.equity, pd.Series):
        raise ParameterError(
            "to_vectorbt converts one portfolio; this result is a sweep. Backtest one "
            "parameter combination, e.g. from_weights(prices, weights[key])."
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vbt = import_optional("vectorbt", extra="vbt")
    close = result.close
    orders = result.orders
    size = np.zeros(close.shape)  # 0: no order
    price = np.full(close.shape, np.nan)
    rows = close.index.get_indexer(orders["timestamp"])
    cols = close.columns.get_indexer(orders["symbol"])
    signed = np.where(orders["side"] == "buy", orders["size"], -orders["size"])
    # Several fills of one symbol on one bar (a reversal) become one net order (which
    # pays one fixed fee where the backtest paid two).
    np.add.at(size, (rows, cols), signed)
    price[rows, cols] = orders["price"].to_numpy()
    sharing = bool(result.config.get("cash_sharing", True))
    init_cash = result.init_cash if sharing else result.init_cash / close.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return vbt.Portfolio.from_orders(
            close,
            size=pd.DataFrame(size, index=close.index, columns=close.columns),
            size_type="amount",
            price=pd.DataFrame(price, index=close.index, columns=close.columns),
            fees=result.config.get("fees", 0.0),
            fixed_fees=result.config.get("fixed_fees", 0.0),
            slippage=0.0,
            init_cash=init_cash,
            cash_sharing=sharing,
            group_by=True,
            call_seq="auto",
            freq=freq,
        )
