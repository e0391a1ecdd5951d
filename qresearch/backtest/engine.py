"""The vectorized engine: target weights -> fills, positions, cash and equity."""

from __future__ import annotations

import math
import numbers
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from qresearch._validation import (
    check_aligned,
    check_choice,
    check_number,
    check_panel,
    check_prices,
    invalid_prices,
)
from qresearch.backtest.costs import Costs
from qresearch.backtest.result import BacktestResult
from qresearch.data.bars import Bars
from qresearch.exceptions import AlignmentError, ParameterError
from qresearch.portfolio.risk import RiskLimits

__all__ = ["from_signals", "from_weights"]

Execution = Literal["next_close", "next_open", "close"]
BadPrices = Literal["raise", "skip"]


def _clean_prices(
    panels: dict[str, np.ndarray],
    index: pd.DatetimeIndex,
    columns: pd.Index,
    bad_prices: str,
    func: str,
) -> pd.DataFrame:
    # Refuse prices that are not finite and positive (bad_prices="raise"), or blank them
    # (NaN: no price, no trade) in `panels` and return them as rejection records ("skip").
    check_choice("bad_prices", bad_prices, ["raise", "skip"], func)
    bad = invalid_prices(panels, index, columns)
    if bad_prices == "raise":
        check_prices(bad, func, "bad_prices='skip'")
    for field, a in panels.items():
        mask = ~np.isnan(a) & ~(np.isfinite(a) & (a > 0))
        if mask.any():
            panels[field] = np.where(mask, np.nan, a)
    return bad.assign(reason="invalid_price")


def _prices(
    prices: Any, execution: Execution | None
) -> tuple[pd.DataFrame, pd.DataFrame, Execution]:
    # Return (valuation close, execution price panel before lagging, execution mode).
    if isinstance(prices, Bars):
        close, opens = prices.close, prices.open
        execution = execution or "next_open"
    else:
        close = check_panel(prices, "prices")
        opens = None
        execution = execution or "next_close"
    check_choice("execution", execution, ["next_close", "next_open", "close"], "from_weights")
    if execution == "next_open":
        if opens is None:
            raise ParameterError(
                "execution='next_open' needs opening prices: pass prices as Bars "
                "(e.g. qr.datasets.load_sample('ohlcv')), or use execution='next_close'."
            )
        return close, opens, execution
    return close, close, execution


def _array(panel: pd.DataFrame) -> np.ndarray:
    # A panel as a C-contiguous float64 array with NaN for missing values.
    return np.ascontiguousarray(panel.to_numpy(dtype=np.float64, na_value=np.nan))


def _tile(a: np.ndarray, n: int) -> np.ndarray:
    # Repeat the columns of `a` n times (once: `a` itself, no copy).
    return a if n == 1 else np.tile(a, (1, n))


def _volume_inputs(
    prices: Any, close: pd.DataFrame, costs: Costs, n_groups: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # Bar volume, and sigma/ADV known before each bar, tiled per group; empty
    # placeholders when neither impact nor a participation cap is used.
    if not costs.needs_volume:
        empty = np.zeros((1, 1))
        return empty, empty, empty
    if not isinstance(prices, Bars):
        raise ParameterError(
            "impact and participation need bar volume: pass prices as Bars "
            "(e.g. qr.datasets.load_sample('ohlcv') or lake.read(...))."
        )
    sigma, adv = costs.impact_inputs(close, prices.volume)
    tile = (1, n_groups)
    return (
        np.tile(_array(prices.volume), tile),
        np.tile(_array(sigma), tile),
        np.tile(_array(adv), tile),
    )


def _groups(weights: pd.DataFrame, close: pd.DataFrame) -> list[Any]:
    # The parameter combinations of sweep weights (param..., symbol): contiguous blocks
    # of columns, each with close's symbols in order. [None] for plain weights.
    if weights.columns.nlevels == 1:
        check_aligned(close, weights, "prices", "weights")
        return [None]
    if not close.index.equals(weights.index):
        check_aligned(close, close.reindex(weights.index), "prices", "weights")
    symbols = list(close.columns)
    n = len(symbols)
    tuples = list(weights.columns)
    if len(tuples) % n:
        raise AlignmentError(
            f"weights has {len(tuples)} columns, not a multiple of the {n} symbols of prices; "
            "a sweep needs every symbol under every parameter combination."
        )
    keys = []
    for g in range(len(tuples) // n):
        block = tuples[g * n : (g + 1) * n]
        key = block[0][:-1]
        if any(t[:-1] != key for t in block) or [t[-1] for t in block] != symbols:
            raise AlignmentError(
                f"weights columns {g * n}..{(g + 1) * n - 1} are not the symbols of prices "
                f"{symbols[:5]} in order under one parameter combination (first {block[0]!r}). "
                "Build sweep weights with pd.concat({param: w, ...}, axis=1)."
            )
        keys.append(key[0] if len(key) == 1 else key)
    return keys


def from_weights(
    prices: pd.DataFrame | Bars,
    weights: pd.DataFrame,
    *,
    fees: float = 0.0,
    fixed_fees: float = 0.0,
    slippage: float = 0.0,
    init_cash: float = 1.0,
    execution: Execution | None = None,
    rebalance: Literal["on_change", "always"] = "on_change",
    min_trade: float = 0.0,
    min_order_value: float = 0.0,
    size_granularity: float | None = None,
    leverage: float = 1.0,
    over_leverage: Literal["raise", "scale"] = "raise",
    impact: float = 0.0,
    participation: float | None = None,
    risk: RiskLimits | None = None,
    bad_prices: BadPrices = "raise",
    records: bool = True,
    engine: Literal["numba", "python"] = "numba",
) -> BacktestResult:
    """Backtest a cash-shared portfolio that trades to target weights.

    Parameters
    ----------
    prices : DataFrame or Bars
        A close panel, or :class:`~qresearch.data.Bars` (needed for ``next_open``).
    weights : DataFrame
        Target weights decided at the close of each row, aligned with ``prices``
        (same index and symbols). A row of NaN means "hold, no trade"; a NaN cell
        leaves that symbol alone. Negative weights are shorts. Columns with levels
        ``(param..., symbol)`` run one independent portfolio per parameter
        combination in one kernel call (a sweep).
    fees, fixed_fees, slippage : float
        Proportional fee per order, fixed fee per order (currency), and slippage as
        a fraction of the price (see :class:`~qresearch.backtest.costs.Costs`).
    init_cash : float, default 1.0
        Starting cash of each portfolio.
    execution : {"next_close", "next_open", "close"}, optional
        When weights decided at the close of t trade: at the close of t+1, at the
        open of t+1, or at the close of t itself (only on explicit request; it
        assumes you could trade at the price your signal used). Default
        ``"next_open"`` for Bars, ``"next_close"`` for a close panel.
    rebalance : {"on_change", "always"}, default "on_change"
        Trade only on rows with weights (``"on_change"``), or hold the last target
        weights and trade back to them every bar (``"always"``).
    min_trade : float, default 0.0
        Skip orders whose value is below this fraction of the portfolio value.
    min_order_value : float, default 0.0
        Skip orders whose value (currency) is below this. There is no minimum number
        of shares: results do not depend on ``init_cash`` or the price scale (orders
        below 1e-12 of the portfolio value are float noise and skipped).
    size_granularity : float, optional
        Round order sizes down to a multiple of this (1.0: whole shares).
    leverage : float, default 1.0
        Gross exposure allowed, as a multiple of equity, shorts included: the targets
        of a row may add up to ``sum(|w|) <= leverage``, and buys may borrow cash up
        to ``(leverage - 1) * equity``. With 1.0, buys are limited to available cash.
    over_leverage : {"raise", "scale"}, default "raise"
        A row of targets whose gross exceeds ``leverage`` raises a ``ParameterError``
        naming the row; ``"scale"`` scales such rows down to ``leverage``.
    impact : float, default 0.0
        Square-root market impact coefficient ``k``: each fill's price moves
        ``k * sigma * sqrt(qty / adv)`` against it (needs Bars for the volume; see
        :class:`~qresearch.backtest.costs.Costs`).
    participation : float, optional
        Cap each fill at this fraction of its bar's volume (needs Bars).
    risk : RiskLimits, optional
        Path-dependent limits (drawdown halt, bar loss limit, losing streak) checked
        at each close on the portfolio's equity; a breach liquidates on the next bar
        (orders flagged ``risk_exit``) and stays flat for the cooldown.
    records : bool, default True
        Keep the per-order records (turn off for large sweeps).
    engine : {"numba", "python"}, default "numba"
        The compiled kernel, or its plain-Python twin (slow; for checking).

    Returns
    -------
    BacktestResult

    Raises
    ------
    AlignmentError
        When ``weights`` and ``prices`` differ in timestamps or symbols.
    ParameterError, ConfigError
        For invalid costs or options.

    Notes
    -----
    Timing: the execution lag is applied here and only here; weights at t never
    trade at a price of t unless ``execution="close"``. Order sizing follows
    vectorbt's target-percent semantics (sells first, sized on the unslipped price,
    the last buy reduced to the available cash), so results equal
    ``vbt.Portfolio.from_orders(..., size_type="targetpercent", cash_sharing=True,
    call_seq="auto")`` on the same lagged weights. A position whose prices end
    before the data does (delisting) is closed at its last price on the next bar and
    flagged ``delisted`` in ``orders``.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2024-01-01", periods=3, name="timestamp")
    >>> close = pd.DataFrame({"A": [10.0, 11.0, 12.1]}, index=idx)
    >>> w = pd.DataFrame({"A": [1.0, float("nan"), float("nan")]}, index=idx)
    >>> res = from_weights(close, w, init_cash=100.0, engine="python")
    >>> res.equity.round(6).tolist()  # buys 100/11 shares at the close of day 2
    [100.0, 100.0, 110.0]
    """
    costs = Costs(
        fees=fees,
        fixed_fees=fixed_fees,
        slippage=slippage,
        impact=impact,
        participation=participation,
    )
    check_choice("rebalance", rebalance, ["on_change", "always"], "from_weights")
    check_choice("engine", engine, ["numba", "python"], "from_weights")
    check_number("init_cash", init_cash, "from_weights", minimum=0.0, strict=True)
    check_number("leverage", leverage, "from_weights", minimum=1.0, strict=False)
    if not (isinstance(min_trade, numbers.Real) and 0 <= min_trade < 1):
        raise ParameterError(
            f"The 'min_trade' parameter of from_weights is a fraction of portfolio value in "
            f"[0, 1); got {min_trade!r}."
        )
    check_number("min_order_value", min_order_value, "from_weights", minimum=0.0, strict=False)
    if size_granularity is not None and not (
        isinstance(size_granularity, numbers.Real) and size_granularity > 0
    ):
        raise ParameterError(
            f"The 'size_granularity' parameter of from_weights must be > 0 (1.0 for whole "
            f"shares) or None; got {size_granularity!r}."
        )
    close, exec_panel, mode = _prices(prices, execution)
    check_panel(weights, "weights", allow_empty=False)
    keys = _groups(weights, close)
    n_groups, n_symbols = len(keys), close.shape[1]

    target = target_array(weights, n_groups, float(leverage), over_leverage, "from_weights")
    if rebalance == "always":
        target = pd.DataFrame(target).ffill().to_numpy()
    if mode != "close":
        target = np.vstack([np.full((1, target.shape[1]), np.nan), target[:-1]])
    base = {"close": _array(close)}
    if exec_panel is not close:
        base["open"] = _array(exec_panel)
    rejections = _clean_prices(base, close.index, close.columns, bad_prices, "from_weights")
    if len(rejections):
        close = pd.DataFrame(base["close"], index=close.index, columns=close.columns)
    close_arr = _tile(base["close"], n_groups)
    exec_arr = close_arr if exec_panel is close else _tile(base["open"], n_groups)
    valid = ~np.isnan(close_arr)
    rows = np.arange(len(close_arr))[:, None]
    last_valid = np.where(valid, rows, -1).max(axis=0).astype(np.int64)
    last_valid[last_valid == len(close_arr) - 1] = len(close_arr) + 1  # still listed
    last_valid[last_valid < 0] = len(close_arr) + 1  # never listed: nothing to close
    max_orders = int((~np.isnan(target)).sum() + target.shape[1]) if records else 0
    volume_arr, sigma_arr, adv_arr = _volume_inputs(prices, close, costs, n_groups)

    from qresearch.backtest import _nb

    kernel = _nb.simulate_weights_nb if engine == "numba" else _nb.simulate_weights_py
    cash, equity, pos, traded, fees_paid, recs = kernel(
        exec_arr,
        close_arr,
        np.ascontiguousarray(target),
        np.full(n_groups, n_symbols, dtype=np.int64),
        last_valid,
        float(init_cash),
        float(costs.fees),
        float(costs.fixed_fees),
        float(costs.slippage),
        0.0,
        float("nan") if size_granularity is None else float(size_granularity),
        float(min_trade),
        float(min_order_value),
        float(leverage),
        volume_arr,
        sigma_arr,
        adv_arr,
        float(costs.impact),
        np.nan if costs.participation is None else float(costs.participation),
        *(risk or RiskLimits()).kernel_args(),
        max_orders,
    )
    config = {
        "engine": "from_weights",
        "fees": costs.fees,
        "fixed_fees": costs.fixed_fees,
        "slippage": costs.slippage,
        "init_cash": float(init_cash),
        "execution": mode,
        "rebalance": rebalance,
        "min_trade": float(min_trade),
        "min_order_value": float(min_order_value),
        "size_granularity": size_granularity,
        "leverage": float(leverage),
        "over_leverage": over_leverage,
        "impact": costs.impact,
        "participation": costs.participation,
        "risk": None if risk is None else risk.to_dict(),
        "bad_prices": bad_prices,
    }
    out = _Outputs(cash, equity, pos, traded, fees_paid, recs)
    return _result(
        out, prices, close, close_arr, weights.columns, keys, float(init_cash), config,
        rejections=rejections, inputs={"weights": weights},
    )  # fmt: skip


def target_array(
    weights: pd.DataFrame, n_groups: int, leverage: float, over_leverage: str, func: str
) -> np.ndarray:
    """Return the weights as a float array, checked and bounded by the leverage.

    Shared by ``from_weights`` and the simulator's ``TargetWeights``: infinite weights
    raise; rows whose gross exceeds ``leverage`` raise or are scaled (``over_leverage``).
    """
    check_choice("over_leverage", over_leverage, ["raise", "scale"], func)
    target = weights.to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isinf(target).any():
        r, c = np.argwhere(np.isinf(target))[0]
        raise ParameterError(
            f"weights has an infinite value at ({weights.index[r]}, {weights.columns[c]!r}); "
            "weights are fractions of equity."
        )
    return _bound_gross(target, weights.index, n_groups, leverage, over_leverage)


def _bound_gross(
    target: np.ndarray, index: pd.Index, n_groups: int, leverage: float, how: str
) -> np.ndarray:
    # Rows whose gross target (sum of |w| over the row's non-NaN cells, per portfolio)
    # exceeds the leverage: raise, or scale them down to it.
    n_rows, n_cols = target.shape
    per = np.abs(target).reshape(n_rows, n_groups, n_cols // n_groups)
    gross = np.nansum(per, axis=2)
    over = gross > leverage * (1.0 + 1e-9)
    if not over.any():
        return target
    if how == "raise":
        r, g = np.argwhere(over)[0]
        where = f" of portfolio {g}" if n_groups > 1 else ""
        raise ParameterError(
            f"weights at {index[r]}{where} add up to a gross exposure of {gross[r, g]:.6g} "
            f"(sum of |w|, shorts included) above leverage={leverage:g} ({int(over.sum())} "
            "row(s)). Scale them (qr.portfolio.normalize(weights, gross=1.0)), raise "
            "leverage=..., or pass over_leverage='scale'."
        )
    factor = np.where(over, leverage / np.where(over, gross, 1.0), 1.0)
    return (target.reshape(n_rows, n_groups, -1) * factor[:, :, None]).reshape(n_rows, n_cols)


class _Outputs(NamedTuple):
    # The kernel's outputs, per group (portfolio) or per column.
    cash: np.ndarray
    equity: np.ndarray
    positions: np.ndarray
    traded: np.ndarray
    fees: np.ndarray
    records: np.ndarray


def _result(
    out: _Outputs,
    prices: Any,
    close: pd.DataFrame,
    close_arr: np.ndarray,
    columns: pd.Index,
    keys: list[Any],
    init_cash: float,
    config: dict[str, Any],
    exit_reasons: np.ndarray | None = None,
    rejections: pd.DataFrame | None = None,
    inputs: dict[str, Any] | None = None,
) -> BacktestResult:
    # Wrap kernel outputs whose groups are one per key (parameter combination) into a
    # BacktestResult: Series for a single portfolio, DataFrames (one column per key)
    # for a sweep.
    index = close.index
    sweep = keys != [None]
    if sweep:
        group_index = columns.droplevel(-1).unique()

        def per_group(a: np.ndarray, name: str) -> Any:
            return pd.DataFrame(a, index=index, columns=group_index)
    else:

        def per_group(a: np.ndarray, name: str) -> Any:
            return pd.Series(a[:, 0], index=index, name=name)

    orders = _orders_frame(out.records, index, columns, sweep)
    if exit_reasons is not None:
        # Signal backtests never delist; they say why each position was closed.
        orders = orders.drop(columns=["delisted", "risk_exit"]).assign(exit=exit_reasons)
    return BacktestResult(
        equity=per_group(out.equity, "equity"),
        cash=per_group(out.cash, "cash"),
        positions=pd.DataFrame(out.positions, index=index, columns=columns),
        orders=orders,
        traded_value=per_group(out.traded, "traded_value"),
        fees_paid=per_group(out.fees, "fees"),
        init_cash=init_cash,
        # One portfolio: a lazy (copy-on-write) copy of the input; a sweep: the tiled
        # array, which the kernel call already owns.
        close=close.copy(deep=False)
        if not sweep
        else pd.DataFrame(close_arr, index=index, columns=columns, copy=False),
        config=config,
        high=prices.high if isinstance(prices, Bars) else None,
        low=prices.low if isinstance(prices, Bars) else None,
        rejections=rejections,
        inputs=_price_inputs(prices) | (inputs or {}),
    )


def _price_inputs(prices: Any) -> dict[str, Any]:
    # The price panels a backtest ran on, for its config_id.
    if isinstance(prices, Bars):
        names = ("open", "high", "low", "close", "volume")
        return {n: getattr(prices, n) for n in names if getattr(prices, n) is not None}
    return {"close": prices}


def _orders_frame(
    recs: np.ndarray, index: pd.DatetimeIndex, columns: pd.Index, sweep: bool
) -> pd.DataFrame:
    # Turn the kernel's structured order records (in execution order) into a DataFrame.
    cols = columns[recs["col"]]
    frame = pd.DataFrame(
        {
            "timestamp": index[recs["idx"]],
            "symbol": cols.get_level_values(-1) if sweep else cols,
            "side": np.where(recs["side"] == 0, "buy", "sell"),
            "size": recs["size"],
            "price": recs["price"],
            "value": recs["size"] * recs["price"],
            "fees": recs["fees"],
            "delisted": recs["flag"] == 1,
            "risk_exit": recs["flag"] == 2,
        }
    )
    if sweep:
        for level in range(columns.nlevels - 1):
            name = columns.names[level] or f"param_{level}"
            frame.insert(level, name, cols.get_level_values(level))
    return frame


_DIRECTIONS = {"long": 0, "short": 1, "both": 2}
_SIZE_TYPES = {"amount": 0, "value": 1, "percent": 2, "target_percent": 3}


def _signal_array(signals: Any, reference: pd.DataFrame, name: str) -> np.ndarray:
    # Validate a boolean signal panel aligned with the entries (`reference`).
    check_panel(signals, name)
    check_aligned(reference, signals, "entries", name)
    if not all(pd.api.types.is_bool_dtype(dt) for dt in signals.dtypes):
        bad = [c for c, dt in signals.dtypes.items() if not pd.api.types.is_bool_dtype(dt)]
        raise ParameterError(
            f"{name} must be a boolean panel; columns {bad[:5]} are {signals.dtypes[bad[0]]}. "
            f"Build it with a comparison (close > sma), or {name}.astype(bool) after fillna."
        )
    return np.ascontiguousarray(signals.to_numpy(dtype=np.bool_))


def _stop_array(stop: Any, close: pd.DataFrame, name: str) -> np.ndarray:
    # A stop as one float per symbol (NaN: none); accepts a float or a per-symbol Series.
    if stop is None:
        return np.full(close.shape[1], np.nan)
    if isinstance(stop, pd.Series):
        missing = [s for s in close.columns if s not in stop.index]
        if missing:
            raise ParameterError(
                f"{name} has no value for symbols {missing[:5]}; give every symbol a stop "
                "(NaN for none)."
            )
        values = stop.reindex(close.columns).to_numpy(dtype=np.float64)
    else:
        check_number(name, stop, "from_signals", minimum=0.0, strict=True)
        values = np.full(close.shape[1], float(stop))
    bad = ~np.isnan(values) & ((values <= 0) | ~np.isfinite(values))
    if name == "sl_stop":
        bad |= values >= 1
    if bad.any():
        raise ParameterError(
            f"The {name!r} parameter of from_signals is a fraction of the entry price "
            f"({'0 < sl_stop < 1' if name == 'sl_stop' else 'tp_stop > 0'}, e.g. 0.05); got "
            f"{values[bad][0]!r} for {close.columns[np.flatnonzero(bad)[0]]!r}."
        )
    return np.ascontiguousarray(values)


def from_signals(
    prices: pd.DataFrame | Bars,
    entries: pd.DataFrame,
    exits: pd.DataFrame | None = None,
    *,
    direction: Literal["long", "short", "both"] = "long",
    size: float = np.inf,
    size_type: Literal["amount", "value", "percent", "target_percent"] = "amount",
    sl_stop: float | pd.Series | None = None,
    tp_stop: float | pd.Series | None = None,
    sl_trail: bool = False,
    time_stop: int | None = None,
    fees: float = 0.0,
    fixed_fees: float = 0.0,
    slippage: float = 0.0,
    impact: float = 0.0,
    participation: float | None = None,
    init_cash: float = 1.0,
    cash_sharing: bool = False,
    execution: Execution | None = None,
    bad_prices: BadPrices = "raise",
    records: bool = True,
    engine: Literal["numba", "python"] = "numba",
) -> BacktestResult:
    """Backtest entry/exit signals with optional stop-loss, take-profit and time stops.

    Parameters
    ----------
    prices : DataFrame or Bars
        A close panel, or Bars: then stops are checked against each bar's high/low
        and a bar that opens through a stop fills at the open.
    entries, exits : DataFrame of bool
        Signals decided at the close of each row, aligned with ``prices``. Entries
        while in a position do not add to it; an entry and an exit on the same bar
        cancel. ``exits=None``: positions close only through stops.
    direction : {"long", "short", "both"}, default "long"
        With ``"both"`` an entry goes (or reverses to) long and an exit goes (or
        reverses to) short.
    size : float, default inf
        Entry size in ``size_type`` units; ``inf`` with ``"amount"``: all available
        cash (fees included).
    size_type : {"amount", "value", "percent", "target_percent"}, default "amount"
        Shares; currency; fraction of available cash; fraction of portfolio equity.
    sl_stop, tp_stop : float or Series, optional
        Stop-loss and take-profit as fractions of the entry fill price (a Series:
        one per symbol, NaN for none). Checked from the bar after the entry; the
        stop-loss wins when one bar touches both. Stop exits fill at the stop price
        (the open when the bar gaps through it), without slippage.
    sl_trail : bool, default False
        Trail the stop-loss: its reference follows the highest high (long) or lowest
        low (short) since the entry, from the next bar on.
    time_stop : int, optional
        Exit at the signal price once a position has been held this many bars.
    fees, fixed_fees, slippage : float
        As in :func:`from_weights`.
    impact, participation : float, optional
        Square-root impact and the participation cap of :func:`from_weights` (both
        need Bars for the volume). An entry is cut to the cap; an exit cut by the
        cap keeps exiting at the next bars' price until the position is closed.
    init_cash : float, default 1.0
        Starting cash of each symbol's portfolio, or of the shared pool with
        ``cash_sharing=True``.
    cash_sharing : bool, default False
        One cash pool for all symbols (orders in column order within a bar), or one
        independent portfolio per symbol whose equities add up (total initial cash
        ``init_cash * n_symbols``).
    execution : {"next_close", "next_open", "close"}, optional
        As in :func:`from_weights`: default ``"next_open"`` for Bars, ``"next_close"``
        for a close panel.
    bad_prices : {"raise", "skip"}, default "raise"
        As in :func:`from_weights` (open, high, low and close are checked).
    records, engine
        As in :func:`from_weights`.

    Returns
    -------
    BacktestResult
        ``orders["flag"]``-style reasons are in ``orders["exit"]``: ``"signal"``,
        ``"sl"``, ``"tp"`` or ``"time"`` (``""`` for entries).

    Notes
    -----
    Equal to ``vbt.Portfolio.from_signals`` on the signals lagged by one bar, with
    ``price`` the execution price, ``stop_entry_price="fillprice"`` and
    ``stop_exit_price="stoplimit"``, when ``fixed_fees`` is 0 (a reversal here is two
    fills, a close and an open, each paying the fixed fee; vectorbt books one).

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2024-01-01", periods=4, name="timestamp")
    >>> close = pd.DataFrame({"A": [10.0, 10.0, 9.0, 8.0]}, index=idx)
    >>> entries = pd.DataFrame({"A": [True, False, False, False]}, index=idx)
    >>> res = from_signals(close, entries, sl_stop=0.05, init_cash=100.0, engine="python")
    >>> res.orders[["side", "price", "exit"]].values.tolist()
    [['buy', 10.0, ''], ['sell', 9.0, 'sl']]
    """
    costs = Costs(
        fees=fees,
        fixed_fees=fixed_fees,
        slippage=slippage,
        impact=impact,
        participation=participation,
    )
    check_choice("direction", direction, list(_DIRECTIONS), "from_signals")
    check_choice("size_type", size_type, list(_SIZE_TYPES), "from_signals")
    check_choice("engine", engine, ["numba", "python"], "from_signals")
    check_number("init_cash", init_cash, "from_signals", minimum=0.0, strict=True)
    if not (isinstance(size, numbers.Real) and not isinstance(size, bool) and size > 0) or (
        math.isinf(size) and size_type != "amount"
    ):
        raise ParameterError(
            f"The 'size' parameter of from_signals must be > 0 (inf only with size_type="
            f"'amount': all cash); got {size!r} with size_type={size_type!r}."
        )
    if size_type in ("percent", "target_percent") and size > 1:
        raise ParameterError(
            f"With size_type={size_type!r} the 'size' parameter is a fraction in (0, 1]; "
            f"got {size!r}."
        )
    if time_stop is not None and not (
        isinstance(time_stop, int) and not isinstance(time_stop, bool) and time_stop >= 1
    ):
        raise ParameterError(
            f"The 'time_stop' parameter of from_signals is a number of bars >= 1 or None; "
            f"got {time_stop!r}."
        )
    close, exec_panel, mode = _prices(prices, execution)
    check_panel(entries, "entries")
    keys = _groups(entries, close)
    n_keys, n_symbols = len(keys), close.shape[1]
    entry_arr = _signal_array(entries, entries, "entries")
    no_exit = np.zeros_like(entry_arr)
    exit_arr = no_exit if exits is None else _signal_array(exits, entries, "exits")
    if mode != "close":
        entry_arr = np.vstack([np.zeros((1, entry_arr.shape[1]), np.bool_), entry_arr[:-1]])
        exit_arr = np.vstack([np.zeros((1, exit_arr.shape[1]), np.bool_), exit_arr[:-1]])
    bars = prices if isinstance(prices, Bars) else None
    base = {"close": _array(close)}
    if bars is not None:
        base.update(open=_array(bars.open), high=_array(bars.high), low=_array(bars.low))
    rejections = _clean_prices(base, close.index, close.columns, bad_prices, "from_signals")
    if len(rejections):
        close = pd.DataFrame(base["close"], index=close.index, columns=close.columns)
    close_arr = _tile(base["close"], n_keys)
    nan_panel = np.full(entry_arr.shape, np.nan)
    group_lens = (
        np.full(n_keys, n_symbols, dtype=np.int64)
        if cash_sharing
        else np.ones(n_keys * n_symbols, np.int64)
    )
    max_orders = int(2 * (entry_arr.sum() + exit_arr.sum()) + 2 * n_symbols) if records else 0
    volume_arr, sigma_arr, adv_arr = _volume_inputs(prices, close, costs, n_keys)

    from qresearch.backtest import _nb
    from qresearch.backtest._nb_signals import simulate_signals_py

    kernel = _nb.simulate_signals_nb if engine == "numba" else simulate_signals_py
    cash, equity, pos, traded, fees_paid, recs = kernel(
        close_arr if exec_panel is close else _tile(base["open"], n_keys),
        _tile(base["open"], n_keys) if bars else nan_panel,
        _tile(base["high"], n_keys) if bars else nan_panel,
        _tile(base["low"], n_keys) if bars else nan_panel,
        close_arr,
        np.ascontiguousarray(entry_arr),
        np.ascontiguousarray(exit_arr),
        group_lens,
        _DIRECTIONS[direction],
        float(size),
        _SIZE_TYPES[size_type],
        np.tile(_stop_array(sl_stop, close, "sl_stop"), n_keys),
        np.tile(_stop_array(tp_stop, close, "tp_stop"), n_keys),
        bool(sl_trail),
        -1 if time_stop is None else int(time_stop),
        float(init_cash),
        float(costs.fees),
        float(costs.fixed_fees),
        float(costs.slippage),
        1e-8,
        volume_arr,
        sigma_arr,
        adv_arr,
        float(costs.impact),
        np.nan if costs.participation is None else float(costs.participation),
        max_orders,
    )
    if not cash_sharing:
        # One portfolio per symbol: add them up per parameter combination.
        def per_key(a: np.ndarray) -> np.ndarray:
            return a.reshape(len(a), n_keys, n_symbols).sum(axis=2)

        cash, equity, traded, fees_paid = (per_key(a) for a in (cash, equity, traded, fees_paid))
    config = {
        "engine": "from_signals",
        "direction": direction,
        "size": float(size),
        "size_type": size_type,
        "sl_stop": None if sl_stop is None else _stop_array(sl_stop, close, "sl_stop").tolist(),
        "tp_stop": None if tp_stop is None else _stop_array(tp_stop, close, "tp_stop").tolist(),
        "sl_trail": bool(sl_trail),
        "time_stop": time_stop,
        "fees": costs.fees,
        "fixed_fees": costs.fixed_fees,
        "slippage": costs.slippage,
        "impact": costs.impact,
        "participation": costs.participation,
        "init_cash": float(init_cash),
        "cash_sharing": bool(cash_sharing),
        "execution": mode,
        "bad_prices": bad_prices,
    }
    total_cash = float(init_cash) * (1 if cash_sharing else n_symbols)
    out = _Outputs(cash, equity, pos, traded, fees_paid, recs)
    reasons = np.array(["", "sl", "tp", "time", "signal"])[recs["flag"]]
    signals = {"entries": entries} if exits is None else {"entries": entries, "exits": exits}
    return _result(
        out, prices, close, close_arr, entries.columns, keys, total_cash, config, reasons,
        rejections, signals,
    )  # fmt: skip
