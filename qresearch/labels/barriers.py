"""Triple-barrier labels and meta-labels (AFML chapter 3).

Each event starting at ``t0`` is followed until it touches a profit-taking barrier, a
stop-loss barrier (both scaled by the volatility known at ``t0``) or a vertical
barrier ``horizon`` bars later; the label says which and the return is recorded.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Literal, TypeVar, cast

import numpy as np
import pandas as pd

from qresearch._compat import register, warn_renamed
from qresearch._validation import check_aligned, check_choice, check_number, check_panel
from qresearch.data.bars import Bars
from qresearch.exceptions import ParameterError
from qresearch.labels._common import (
    aligned_array,
    check_int,
    event_mask,
    long_index,
    price_array,
    sorted_positions,
)

__all__ = ["BARRIERS", "daily_volatility", "triple_barrier"]

# Values of the ``barrier`` column, in the order of the kernel codes (_nb.Barrier).
BARRIERS: tuple[str, str, str] = ("pt", "sl", "vertical")


def daily_volatility(close: pd.DataFrame, span: int = 50) -> pd.DataFrame:
    """Return the EWM standard deviation of simple returns used as barrier width.

    Parameters
    ----------
    close : pandas.DataFrame
        Price panel (dates x symbols).
    span : int, default 50
        EWM span (>= 2), ``adjust=True``.

    Returns
    -------
    pandas.DataFrame
        ``close.pct_change(fill_method=None).ewm(span=span).std()``: same index and
        columns; the value at t uses returns up to t. This is
        ``qr.features.ewm_volatility(close, span, min_periods=0)`` (one
        implementation), under AFML's name.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2020-01-01", periods=4, name="timestamp")
    >>> close = pd.DataFrame({"A": [100.0, 101.0, 100.0, 102.0]}, index=idx)
    >>> daily_volatility(close, span=3)["A"].round(4).tolist()
    [nan, nan, 0.0141, 0.0173]
    """
    from qresearch.features.volatility import ewm_volatility

    check_int("span", span, "daily_volatility", minimum=2)
    price_array(close, "close", "daily_volatility")
    return ewm_volatility(close, span, min_periods=0)


def _levels(vol: np.ndarray, width: float | np.ndarray, sign: float) -> np.ndarray:
    # Barrier levels as multiples of close[t0]: 1 + sign * width * vol, or sign * inf
    # where the width is 0 (barrier disabled).
    if np.isscalar(width) and width == 0:
        return np.full(vol.shape, sign * np.inf)
    out = vol * width
    if sign < 0:
        np.negative(out, out=out)
    out += 1.0
    if not np.isscalar(width):
        out[np.asarray(width) == 0] = sign * np.inf
    return out


def _vol_array(vol: Any, close: pd.DataFrame, vol_span: int, func: str) -> np.ndarray:
    # The (T, C) barrier width, from None (EWM std), a number or a panel aligned with close.
    if vol is None:
        panel = daily_volatility(close, vol_span)
        return np.ascontiguousarray(panel.to_numpy(dtype=np.float64))
    if isinstance(vol, pd.DataFrame):
        arr = aligned_array(vol, close, "vol")
        if (arr < 0).any():
            r, c = np.argwhere(arr < 0)[0]
            raise ParameterError(
                f"The 'vol' panel of {func} must be >= 0; got {float(arr[r, c])!r} for "
                f"{close.columns[c]!r} at {close.index[r]}."
            )
        return arr
    if isinstance(vol, pd.Series):
        raise ParameterError(
            f"The 'vol' parameter of {func} must be None, a number or a panel aligned with "
            "close; got a Series. For one symbol use vol.to_frame(name=symbol)."
        )
    value = check_number("vol", vol, func)
    return np.full(close.shape, value, dtype=np.float64)


def _side_array(side: Any, close: pd.DataFrame, func: str) -> np.ndarray:
    # The (T, C) side panel: +1 / -1 bet, 0 or NaN no event; any other value is refused.
    arr = aligned_array(side, close, "side")
    bad = ~(np.isnan(arr) | np.isin(arr, (-1.0, 0.0, 1.0)))
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ParameterError(
            f"The 'side' panel of {func} must hold -1, 0, +1 or NaN; got {float(arr[r, c])!r} for "
            f"{close.columns[c]!r} at {close.index[r]}. Use np.sign(side)."
        )
    return arr


def _ohlc(bars: Bars) -> tuple[np.ndarray, ...]:
    # open, high, low of `bars` as float64 arrays (Bars are aligned by construction).
    close = bars.close.astype("float64")
    out = []
    for field in ("open", "high", "low"):
        panel = getattr(bars, field)
        # A bar with a close but no open/high/low is tested on its close, as in "close".
        panel = panel.astype("float64").where(panel.notna(), close)
        out.append(np.ascontiguousarray(panel.to_numpy(dtype=np.float64, na_value=np.nan)))
    return tuple(out)


_F = TypeVar("_F", bound=Callable[..., Any])


def _fold_prices(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    # The deprecated keyword `prices=bars` (open/high/low next to a close panel): warn,
    # then pass one Bars as `close` that carries the close panel given.
    bars = kwargs.pop("prices")
    close, rest = (args[0], args[1:]) if args else (kwargs.pop("close", None), ())
    if isinstance(close, Bars) and bars is not None:
        raise ParameterError(
            "triple_barrier got both 'prices' (deprecated) and Bars as 'close'; pass only "
            "the Bars as close: triple_barrier(bars, touch='hl')."
        )
    warn_renamed("triple_barrier", "prices", "close", stacklevel=3)
    if bars is None or close is None:
        merged = close if bars is None else bars
        return rest if merged is None else (merged, *rest)
    if not isinstance(bars, Bars):
        raise ParameterError(
            "The 'prices' parameter of triple_barrier must be a qresearch.data.Bars with "
            f"high, low and open aligned with close; got {type(bars).__name__}. Pass the "
            "Bars as close instead: triple_barrier(bars, touch='hl')."
        )
    check_panel(close, "close")
    check_aligned(close, bars.close, "close", "prices")
    return (bars.replace(close=close), *rest)


def _accept_prices_keyword(func: _F) -> _F:
    # One release of the old `prices=bars` keyword; `close` takes the Bars now.
    register(func, {"prices": "close"})

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if "prices" in kwargs:
            args = _fold_prices(args, kwargs)
        return func(*args, **kwargs)

    return cast(_F, wrapper)


@_accept_prices_keyword
def triple_barrier(
    close: pd.DataFrame | Bars,
    events: pd.DataFrame | pd.DatetimeIndex | None = None,
    pt: float = 1.0,
    sl: float = 1.0,
    horizon: int = 10,
    vol: pd.DataFrame | float | None = None,
    vol_span: int = 50,
    side: pd.DataFrame | None = None,
    min_ret: float = 0.0,
    touch: Literal["close", "hl"] = "close",
) -> pd.DataFrame:
    """Label events by the first of three barriers they touch.

    Parameters
    ----------
    close : pandas.DataFrame or qresearch.data.Bars
        Close-price panel (dates x symbols), positive prices, NaN = no data; or
        :class:`~qresearch.data.Bars`, whose close is used and whose open, high and low
        ``touch="hl"`` needs. ``prices=bars`` (the Bars next to a close panel) is a
        deprecated alias, removed in the next release.
    events : None, pandas.DataFrame or pandas.DatetimeIndex, optional
        Event starts ``t0``: None = every bar; a boolean panel aligned with ``close``
        (e.g. from :func:`cusum_filter`); or timestamps of ``close.index`` that apply
        to every symbol.
    pt, sl : float, default 1.0
        Widths of the profit-taking and stop-loss barriers in units of ``vol``
        (>= 0); 0 disables that barrier.
    horizon : int, default 10
        Vertical barrier, in bars after ``t0`` (>= 1).
    vol : pandas.DataFrame or float, optional
        Barrier unit (a return), known at ``t0``: a panel aligned with ``close``, one
        number for all, or None for :func:`daily_volatility` ``(close, vol_span)``:
        the EWM std (``adjust=True``) of simple returns up to and including ``t0``.
    vol_span : int, default 50
        EWM span used when ``vol`` is None.
    side : pandas.DataFrame, optional
        Side of a primary model's bet, aligned with ``close``: +1 long, -1 short,
        0 or NaN no bet (no event). Turns the output into meta-labels (see Returns).
    min_ret : float, default 0.0
        Minimum barrier unit: events with ``vol <= min_ret`` are dropped (AFML's
        ``trgt > minRet``); with the default this drops ``vol == 0``.
    touch : {"close", "hl"}, default "close"
        Test the barriers on closes, or the upper one on highs and the lower one on
        lows (a bar with a close but a missing open, high or low uses its close there).

    Returns
    -------
    pandas.DataFrame
        One row per labelled event, indexed by (``timestamp`` = t0, ``symbol``),
        sorted by timestamp then symbol, with columns:

        - ``t1``: the bar of the exit (first touch, else the vertical barrier);
        - ``ret``: ``exit_price / close[t0] - 1``, times ``side`` when given;
        - ``label`` (int): +1 take profit, -1 stop loss, else the sign of ``ret`` at
          the vertical barrier (0 when exactly 0); with ``side``, the meta-label
          1 if ``ret > 0`` else 0;
        - ``barrier``: "pt", "sl" or "vertical" (categorical, see :data:`BARRIERS`);
        - ``vol``: the barrier unit at ``t0``;
        - ``side`` (only when ``side`` is given).

    Raises
    ------
    PanelError, AlignmentError
        When a panel is malformed, holds a price <= 0 or is not aligned with ``close``.
    ParameterError
        When a parameter is out of range, ``side`` holds values other than -1/0/+1,
        or ``touch="hl"`` comes with a close panel instead of Bars.

    Notes
    -----
    Conventions:

    - Barriers: upper ``close[t0] * (1 + pt * vol[t0])``, lower
      ``close[t0] * (1 - sl * vol[t0])``. With ``side = -1`` the take profit is the
      lower barrier ``close[t0] * (1 - pt * vol[t0])`` and the stop loss the upper one
      ``close[t0] * (1 + sl * vol[t0])``.
    - Touches are tested on bars strictly after ``t0`` up to and including the
      vertical bar ``t0 + horizon`` (truncated at the last bar of the panel), with
      inclusive comparisons (``>= upper``, ``<= lower``); NaN prices are skipped. A
      touch on the vertical bar counts as a take profit or stop loss.
    - Exit price: with ``touch="close"`` the close of the touching bar (it may lie
      beyond the barrier after a gap); with ``touch="hl"`` the barrier level, or the
      bar's open when the bar opens beyond the barrier (a gap). When one bar touches
      both barriers in "hl" mode, the one it opens beyond wins, else the stop loss.
      Without a touch, the exit is the vertical bar (``t1``) and the exit price the
      last finite close after ``t0`` up to that bar.
    - Events are dropped when the close or ``vol`` at ``t0`` is NaN, when
      ``vol <= min_ret``, when ``side`` is 0 or NaN, and when no close after ``t0``
      within the horizon is finite and no barrier is touched (e.g. ``t0`` is the
      last bar). Such bars are not "listed" events, so this is not reported.

    Look-ahead by design: a label uses prices after ``t0`` up to ``t1``; purge
    training sets on ``t1``.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2020-01-01", periods=5, name="timestamp")
    >>> close = pd.DataFrame({"A": [100.0, 101.0, 103.0, 97.0, 98.0]}, index=idx)
    >>> lab = triple_barrier(close, pt=1.0, sl=1.0, horizon=2, vol=0.02)
    >>> lab[["ret", "label"]].round(4).reset_index(drop=True)
          ret  label
    0  0.0300      1
    1 -0.0396     -1
    2 -0.0583     -1
    3  0.0103      1
    >>> lab["barrier"].tolist()
    ['pt', 'sl', 'sl', 'vertical']
    """
    func = "triple_barrier"
    bars = close if isinstance(close, Bars) else None
    close = close.close if isinstance(close, Bars) else close
    values = price_array(close, "close", func)
    pt = check_number("pt", pt, func, strict=False)
    sl = check_number("sl", sl, func, strict=False)
    horizon = check_int("horizon", horizon, func)
    vol_span = check_int("vol_span", vol_span, func)
    min_ret = check_number("min_ret", min_ret, func, strict=False)
    check_choice("touch", touch, ["close", "hl"], func)
    use_hl = touch == "hl"
    if use_hl and bars is None:
        raise ParameterError(
            f"touch='hl' in {func} needs the high and low prices: pass the Bars as close "
            f"({func}(bars, touch='hl')), or use touch='close'."
        )
    open_, high, low = _ohlc(bars) if bars is not None and use_hl else (values, values, values)
    mask = event_mask(events, close, func)
    vol_arr = _vol_array(vol, close, vol_span, func)
    side_arr = _side_array(side, close, func) if side is not None else None

    with np.errstate(invalid="ignore"):
        mask = mask & np.isfinite(values) & np.isfinite(vol_arr) & (vol_arr > min_ret)
    if side_arr is not None:
        mask &= np.abs(side_arr) == 1.0
    mask[-1, :] = False  # no bar after the last one
    rows, cols = sorted_positions(mask, close.columns)

    ev_vol = vol_arr[rows, cols]
    del vol_arr, mask
    if side_arr is None:
        sides = np.ones(len(rows), dtype=np.float64)
        upper, lower = _levels(ev_vol, pt, 1.0), _levels(ev_vol, sl, -1.0)
    else:
        sides = np.ascontiguousarray(side_arr[rows, cols])
        del side_arr
        long = sides > 0
        upper = _levels(ev_vol, np.where(long, pt, sl), 1.0)
        lower = _levels(ev_vol, np.where(long, sl, pt), -1.0)
        del long

    from qresearch.labels._nb import triple_barrier_nb

    t1, ret, label, barrier = triple_barrier_nb(
        values,
        open_,
        high,
        low,
        rows,
        cols,
        upper,
        lower,
        sides,
        horizon,
        use_hl,
        side is not None,
    )
    del upper, lower
    keep = t1 >= 0
    if not keep.all():
        rows, cols, t1, ret, label, barrier = (
            a[keep] for a in (rows, cols, t1, ret, label, barrier)
        )
        ev_vol, sides = ev_vol[keep], sides[keep]
    out = pd.DataFrame(
        {
            "t1": close.index[t1],
            "ret": ret,
            "label": label,
            "barrier": pd.Categorical.from_codes(barrier, categories=list(BARRIERS)),
            "vol": ev_vol,
        },
        index=long_index(close.index, close.columns, rows, cols),
    )
    if side is not None:
        out["side"] = sides.astype(np.int64)
    return out
