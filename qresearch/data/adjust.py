"""Split and dividend adjustment of bars: vendor factors or an explicit action table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from qresearch._typing import BoolArray, Float64Array
from qresearch._validation import _preview, check_panel, check_symbols
from qresearch.data.bars import PRICE_FIELDS, Bars
from qresearch.exceptions import PanelError, ParameterError

__all__ = ["ACTION_COLUMNS", "adjust_by_actions", "adjustment_factors", "back_adjust"]

ACTION_COLUMNS: tuple[str, ...] = ("symbol", "ex_date", "split_ratio", "dividend")
"""Columns of a corporate-action table; ``split_ratio`` and ``dividend`` are optional."""


def back_adjust(bars: Bars) -> Bars:
    """Back-adjust open, high, low and close with the vendor's adjusted close.

    Each price is multiplied by ``bars.adjustment_factor`` (``adj_close / close``)
    of its own bar, so that the adjusted close equals ``adj_close`` and the bar's
    shape (open/high/low relative to close) is preserved.

    Parameters
    ----------
    bars : Bars
        Bars with an ``adj_close`` panel (e.g. ``load_sample("ohlcv")``).

    Returns
    -------
    Bars
        New bars: ``open, high, low, close`` multiplied by the factor; ``volume``
        unchanged; ``adj_close`` kept and equal to the new ``close`` (so the new
        adjustment factor is 1). Inputs are not modified.

    Raises
    ------
    PanelError
        When ``bars`` is not a Bars, has no ``adj_close``, or the factor is not a
        finite positive number on a bar (``adj_close`` missing where ``close`` is
        present, or a price ``<= 0``).

    Notes
    -----
    Yahoo's ``Close`` is already split-adjusted and ``Adj Close`` adds dividends, so
    the factor carries dividends (plus splits for vendors whose close is raw).
    Volume is left unchanged because a vendor close that is split-adjusted comes
    with a split-adjusted volume; for raw prices and volumes use
    :func:`adjust_by_actions`, which adjusts volumes for splits.

    The factor of a date depends on dividends paid after it: back-adjusted prices
    are not point-in-time (past prices change when a new dividend is paid). Returns
    computed from them are correct total returns; price levels before the last
    dividend are not the prices that traded.

    Examples
    --------
    >>> import pandas as pd
    >>> from qresearch.data.bars import Bars
    >>> idx = pd.date_range("2020-01-01", periods=2, name="timestamp")
    >>> c = pd.DataFrame({"A": [10.0, 9.0]}, index=idx)
    >>> bars = Bars(open=c, high=c + 1, low=c - 1, close=c, volume=c * 0 + 5,
    ...             adj_close=pd.DataFrame({"A": [8.0, 9.0]}, index=idx))
    >>> adj = back_adjust(bars)
    >>> adj.close["A"].tolist(), adj.high["A"].tolist(), adj.volume["A"].tolist()
    ([8.0, 9.0], [8.8, 10.0], [5.0, 5.0])
    """
    if not isinstance(bars, Bars):
        raise PanelError(f"bars must be a Bars; got {type(bars).__name__}.")
    if bars.adj_close is None:
        raise PanelError(
            "back_adjust needs bars with an adj_close panel; these bars have none. Load "
            "them with adj_close (load_sample('ohlcv'), or Bars.from_long with an "
            "'adj_close' column), or adjust raw prices with an explicit corporate-action "
            "table: qr.data.adjust_by_actions(bars, actions)."
        )
    factor = bars.adjustment_factor
    values = factor.to_numpy(dtype="float64")
    with np.errstate(invalid="ignore"):
        bad = bars.close.notna().to_numpy() & ~(np.isfinite(values) & (values > 0))
    if bad.any():
        i, j = (int(k[0]) for k in np.nonzero(bad))
        raise PanelError(
            f"back_adjust: the adjustment factor adj_close / close is {values[i, j]} for "
            f"symbol {bars.symbols[j]!r} at {bars.index[i]} (close "
            f"{bars.close.iat[i, j]}, adj_close {bars.adj_close.iat[i, j]}), in "
            f"{int(bad.sum())} bars. Find them with "
            "qr.data.validate_bars(bars, raise_on_error=False) and fix or drop them."
        )
    out = {f: getattr(bars, f) * factor for f in PRICE_FIELDS}
    return bars.replace(**out, volume=bars.volume.copy(), adj_close=out["close"].copy())


def adjustment_factors(close: pd.DataFrame, actions: pd.DataFrame) -> pd.DataFrame:
    """Return the price factors that back-adjust ``close`` for splits and dividends.

    Parameters
    ----------
    close : pandas.DataFrame
        Raw (unadjusted) close panel, dates x symbols.
    actions : pandas.DataFrame
        Corporate actions, one row each, with columns ``symbol``, ``ex_date`` and
        optionally ``split_ratio`` (new shares per old share, 2.0 for a 2-for-1
        split, 0.5 for a 1-for-2 reverse split; default and NaN mean 1) and
        ``dividend`` (cash per share, in the share units valid on the ex-date;
        default and NaN mean 0).

    Returns
    -------
    pandas.DataFrame
        Same index and columns as ``close``: the factor that multiplies every raw
        price of that date (1.0 after the last action of a symbol). Defined on every
        date, including those where ``close`` is NaN.

    Raises
    ------
    PanelError
        When ``close`` is malformed, ``actions`` lacks a column, has an unparseable
        ex_date, or names a symbol not in ``close``.
    ParameterError
        When a ``split_ratio`` is not a finite number > 0, a ``dividend`` is negative
        or not finite, or a dividend is not below the previous close.

    Notes
    -----
    CRSP / Yahoo conventions. An action with ex-date ``t`` applies from the first
    date of ``close.index`` on or after ``t`` (a weekend or holiday ex-date applies
    to the next session); one on or before the first date, or after the last, has
    no effect. Every price strictly before ``t`` is multiplied by

    ``(1 / split_ratio) * (1 - dividend / (prev_close / split_ratio))``

    where ``prev_close`` is the last valid raw close before ``t``. Order on one
    date: the split first, then the dividend, measured against the previous close
    already split-adjusted (the dividend is quoted per post-split share). Actions
    of one symbol that land on the same date are combined: split ratios
    multiplied, dividends summed. Factors are cumulated backward (products over
    all later actions), so the factor of a date depends on future actions: it is
    not point-in-time and must not feed a signal as a level.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2020-01-01", periods=3, name="timestamp")
    >>> close = pd.DataFrame({"A": [10.0, 5.0, 4.0]}, index=idx)
    >>> actions = pd.DataFrame({"symbol": ["A", "A"], "ex_date": ["2020-01-02", "2020-01-03"],
    ...                         "split_ratio": [2.0, 1.0], "dividend": [0.0, 0.5]})
    >>> adjustment_factors(close, actions)["A"].tolist()
    [0.45, 0.9, 1.0]
    """
    check_panel(close, "close", allow_empty=True)
    price, _ = _factors(close, actions)
    return pd.DataFrame(price, index=close.index, columns=close.columns)


def adjust_by_actions(bars: Bars, actions: pd.DataFrame) -> Bars:
    """Back-adjust raw bars for splits and dividends from an explicit action table.

    Parameters
    ----------
    bars : Bars
        Raw (unadjusted) bars.
    actions : pandas.DataFrame
        Columns ``symbol, ex_date`` and optionally ``split_ratio`` and ``dividend``;
        see :func:`adjustment_factors` for the conventions.

    Returns
    -------
    Bars
        New bars: ``open, high, low, close`` multiplied by
        ``adjustment_factors(bars.close, actions)``; ``volume`` before each split
        multiplied by its ``split_ratio`` (dividends leave volume unchanged);
        ``adj_close``, when present, is kept unchanged (it is the vendor's already
        adjusted close). Inputs are not modified.

    Raises
    ------
    PanelError
        When ``bars`` is not a Bars, or ``actions`` is malformed or names an
        unknown symbol.
    ParameterError
        When an action has an invalid split ratio or dividend.

    Notes
    -----
    Not point-in-time: prices before an action change when the action is added.
    See :func:`adjustment_factors` for the order of a split and a dividend on the
    same date and the handling of ex-dates that are not in the index.

    Examples
    --------
    >>> import pandas as pd
    >>> from qresearch.data.bars import Bars
    >>> idx = pd.date_range("2020-01-01", periods=2, name="timestamp")
    >>> c = pd.DataFrame({"A": [10.0, 5.0]}, index=idx)
    >>> bars = Bars(open=c, high=c, low=c, close=c, volume=c * 0 + 100)
    >>> adj = adjust_by_actions(bars, pd.DataFrame({"symbol": ["A"], "ex_date": ["2020-01-02"],
    ...                                             "split_ratio": [2.0]}))
    >>> adj.close["A"].tolist(), adj.volume["A"].tolist()
    ([5.0, 5.0], [200.0, 100.0])
    """
    if not isinstance(bars, Bars):
        raise PanelError(f"bars must be a Bars; got {type(bars).__name__}.")
    price, volume = _factors(bars.close, actions)
    price_factor = pd.DataFrame(price, index=bars.index, columns=bars.close.columns)
    volume_factor = pd.DataFrame(volume, index=bars.index, columns=bars.close.columns)
    out = {f: getattr(bars, f) * price_factor for f in PRICE_FIELDS}
    out["volume"] = bars.volume * volume_factor
    return bars.replace(**out)


# ------------------------------------------------------------------- helpers
def _factors(close: pd.DataFrame, actions: pd.DataFrame) -> tuple[Float64Array, Float64Array]:
    """Return the (price, volume) back-adjustment factor arrays for ``close``."""
    table = _check_actions(actions, list(close.columns))
    n_rows, n_cols = close.shape
    price_step = np.ones((n_rows, n_cols))
    volume_step = np.ones((n_rows, n_cols))
    if len(table) and n_rows:
        index = close.index
        ex = pd.DatetimeIndex(table["ex_date"])
        if index.tz is not None and ex.tz is None:
            ex = ex.tz_localize(index.tz)
        elif index.tz is None and ex.tz is not None:
            ex = ex.tz_convert("UTC").tz_localize(None)
        rows = index.searchsorted(ex, side="left")
        cols = close.columns.get_indexer(table["symbol"])
        # last valid raw close strictly before each row
        prev_close = close.ffill().shift(1).to_numpy(dtype="float64")
        keep = (rows > 0) & (rows < n_rows)
        grouped = (
            pd.DataFrame(
                {
                    "row": rows[keep],
                    "col": cols[keep],
                    "split": table["split_ratio"].to_numpy()[keep],
                    "dividend": table["dividend"].to_numpy()[keep],
                    "ex_date": ex[keep],
                }
            )
            .groupby(["row", "col"], sort=False)
            .agg(split=("split", "prod"), dividend=("dividend", "sum"), ex_date=("ex_date", "min"))
            .reset_index()
        )
        r = grouped["row"].to_numpy()
        c = grouped["col"].to_numpy()
        split = grouped["split"].to_numpy(dtype="float64")
        dividend = grouped["dividend"].to_numpy(dtype="float64")
        prev = prev_close[r, c] / split  # previous close in post-split share units
        # no valid close before the action: nothing to adjust, the dividend has no effect
        has_prev = ~np.isnan(prev)
        too_big = has_prev & (dividend >= prev)
        if too_big.any():
            k = int(np.flatnonzero(too_big)[0])
            raise ParameterError(
                f"actions: the dividend {dividend[k]} of symbol {close.columns[c[k]]!r} with "
                f"ex_date {grouped['ex_date'].iloc[k]} is not below the previous close "
                f"{prev[k]:.6g} (post-split units, last close before {close.index[r[k]]}); "
                f"a dividend must be a cash amount per share smaller than the price. Check "
                f"its units (per post-split share), the ex_date, or whether close is already "
                f"adjusted."
            )
        div_factor = np.where(has_prev, 1.0 - dividend / np.where(has_prev, prev, 1.0), 1.0)
        price_step[r, c] = div_factor / split
        volume_step[r, c] = split
    return _backward_product(price_step), _backward_product(volume_step)


def _backward_product(step: Float64Array) -> Float64Array:
    """Return, per row, the product of ``step`` over all strictly later rows."""
    out = np.ones_like(step)
    if len(step) > 1:
        out[:-1] = np.cumprod(step[::-1], axis=0)[::-1][1:]
    return out


def _check_actions(actions: pd.DataFrame, symbols: list[object]) -> pd.DataFrame:
    """Validate a corporate-action table; return it with defaults filled and dates parsed."""
    if not isinstance(actions, pd.DataFrame):
        raise PanelError(
            f"actions must be a pandas DataFrame with columns {list(ACTION_COLUMNS)}; "
            f"got {type(actions).__name__}."
        )
    missing = [c for c in ("symbol", "ex_date") if c not in actions.columns]
    if missing:
        raise PanelError(
            f"actions is missing columns {missing}; it needs 'symbol' and 'ex_date', and "
            f"optionally 'split_ratio' and 'dividend' (got {list(actions.columns)})."
        )
    check_symbols(pd.unique(actions["symbol"]), symbols, "actions['symbol']")
    try:
        ex_date = pd.to_datetime(actions["ex_date"])
    except (TypeError, ValueError) as exc:
        raise PanelError(f"actions['ex_date'] does not parse as dates: {exc}") from exc
    if ex_date.isna().any():
        row = int(np.flatnonzero(ex_date.isna().to_numpy())[0])
        raise PanelError(f"actions['ex_date'] is missing at row {row}; give every action a date.")
    table = pd.DataFrame({"symbol": actions["symbol"].to_numpy(), "ex_date": ex_date.array})
    for column, default in (("split_ratio", 1.0), ("dividend", 0.0)):
        if column in actions.columns:
            try:
                values = pd.to_numeric(actions[column]).to_numpy(dtype="float64")
            except (TypeError, ValueError) as exc:
                raise PanelError(f"actions[{column!r}] is not numeric: {exc}") from exc
            table[column] = np.where(np.isnan(values), default, values)
        else:
            table[column] = default
    split = table["split_ratio"].to_numpy()
    bad_split = ~(np.isfinite(split) & (split > 0))
    if bad_split.any():
        _raise_bad_action(
            table,
            bad_split,
            "split_ratio",
            "must be a finite number > 0 (2.0 for a 2-for-1 split, 0.5 for a 1-for-2 reverse "
            "split); fix the ratio or drop the row",
        )
    dividend = table["dividend"].to_numpy()
    bad_dividend = ~(np.isfinite(dividend) & (dividend >= 0))
    if bad_dividend.any():
        _raise_bad_action(
            table,
            bad_dividend,
            "dividend",
            "must be a finite cash amount per share >= 0; fix the amount or drop the row",
        )
    return table


def _raise_bad_action(table: pd.DataFrame, bad: BoolArray, column: str, rule: str) -> None:
    """Raise a ParameterError naming the first bad action and how many there are."""
    k = int(np.flatnonzero(bad)[0])
    rows = table.loc[bad, "symbol"]
    raise ParameterError(
        f"actions[{column!r}] {rule}; got {table[column].iloc[k]} for symbol "
        f"{table['symbol'].iloc[k]!r} with ex_date {table['ex_date'].iloc[k]} "
        f"({int(bad.sum())} bad rows, symbols {_preview(pd.unique(rows))})."
    )
