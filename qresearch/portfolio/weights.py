"""Closed-form portfolio weights: row-wise (cross-sectional) functions of panels.

Every function maps a dates x symbols panel to a weight panel with the same index and
columns. A row's weights are decided from that row (and, for volatility, from past
rows only), so they can be traded from the next bar on. NaN in an input means "not
eligible" (not listed, no score) and yields weight 0 in a row that trades, or NaN in a
row with nothing eligible at all ("hold": no rebalance on that date).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from qresearch._compat import renamed_parameters
from qresearch._validation import (
    check_aligned,
    check_int,
    check_number,
    check_panel,
    check_periods_per_year,
)
from qresearch.exceptions import ParameterError
from qresearch.portfolio.report import keep_attrs

__all__ = [
    "bottom_n",
    "cap_weights",
    "discrete_allocation",
    "equal_weights",
    "group_caps",
    "inverse_vol_weights",
    "normalize",
    "rank_weights",
    "top_n",
    "vol_scaled_weights",
]


def _finalize(raw: pd.DataFrame, eligible: pd.DataFrame) -> pd.DataFrame:
    # Rows with no eligible symbol -> all NaN ("hold"); else 0 for the ineligible ones.
    out = raw.where(eligible, 0.0)
    out[~eligible.any(axis=1)] = np.nan
    return out


def equal_weights(selection: pd.DataFrame) -> pd.DataFrame:
    """Return equal weights over the selected symbols of each row.

    Parameters
    ----------
    selection : DataFrame
        A boolean panel (True: hold), or any panel where non-NaN means selected.

    Returns
    -------
    DataFrame
        ``1 / n`` for the ``n`` selected symbols of a row, 0 for the others, all NaN
        in a row that selects nothing.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2024-01-31", periods=2, freq="ME", name="timestamp")
    >>> sel = pd.DataFrame({"A": [True, False], "B": [True, False], "C": [False, False]}, idx)
    >>> equal_weights(sel).values.tolist()[0], equal_weights(sel).iloc[1].isna().all()
    ([0.5, 0.5, 0.0], np.True_)
    """
    check_panel(selection, "selection")
    eligible = selection.astype(bool) if _is_bool(selection) else selection.notna()
    n = eligible.sum(axis=1)
    raw = pd.DataFrame(1.0, index=selection.index, columns=selection.columns).div(n, axis=0)
    return _finalize(raw, eligible)


def _is_bool(panel: pd.DataFrame) -> bool:
    return all(pd.api.types.is_bool_dtype(dt) for dt in panel.dtypes)


def _volatility(close: pd.DataFrame, window: int) -> pd.DataFrame:
    # Rolling standard deviation of simple returns over `window` bars ending at t.
    return close.pct_change(fill_method=None).rolling(window, min_periods=window).std()


def inverse_vol_weights(
    close: pd.DataFrame, window: int = 63, selection: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Return weights proportional to ``1 / volatility``, summing to 1 per row.

    Parameters
    ----------
    close : DataFrame
        Close panel.
    window : int, default 63
        Bars of simple returns in the rolling standard deviation (ending at t).
    selection : DataFrame of bool, optional
        Restrict each row to these symbols (e.g. ``top_n(scores, 10)``).

    Returns
    -------
    DataFrame
        ``(1 / vol_i) / sum_j (1 / vol_j)`` over symbols with a full window (and
        selected); 0 for the others; NaN rows when none qualifies.

    Notes
    -----
    Uses returns up to and including t only. For a diagonal covariance this is the
    closed-form risk-parity-like inverse-volatility portfolio.
    """
    check_panel(close, "close")
    check_int("window", window, "inverse_vol_weights")
    inv = 1.0 / _volatility(close, window)
    inv = inv.where(np.isfinite(inv))
    eligible = inv.notna()
    if selection is not None:
        check_aligned(close, selection, "close", "selection")
        eligible &= selection.astype(bool)
    inv = inv.where(eligible)
    return _finalize(inv.div(inv.sum(axis=1), axis=0), eligible)


@renamed_parameters(target_vol="target_volatility")
def vol_scaled_weights(
    close: pd.DataFrame,
    target_volatility: float = 0.10,
    window: int = 63,
    periods_per_year: float = 252,
    selection: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Return per-asset volatility-targeted weights ``target_volatility / annualized vol / n``.

    Each selected asset gets an equal share ``1 / n`` of the book, scaled so that its
    ex-ante annualized volatility (sample standard deviation of the last ``window``
    simple returns times ``sqrt(periods_per_year)``) is ``target_volatility / n``. Rows
    are not normalized: the gross exposure rises when assets are calm (cap it with
    :func:`normalize`). ``target_vol`` is a deprecated alias of ``target_volatility``
    (removed in the next release).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> idx = pd.date_range("2024-01-01", periods=4, name="timestamp")
    >>> close = pd.DataFrame({"A": [100.0, 101.0, 100.0, 101.0]}, index=idx)
    >>> w = vol_scaled_weights(close, target_volatility=0.1, window=2, periods_per_year=1)
    >>> vol = np.std([0.01, -1 / 101], ddof=1)
    >>> bool(np.isclose(w.iloc[2, 0], 0.1 / vol))
    True
    """
    check_panel(close, "close")
    check_number("target_volatility", target_volatility, "vol_scaled_weights")
    check_int("window", window, "vol_scaled_weights")
    check_periods_per_year(periods_per_year, "vol_scaled_weights")
    ann = _volatility(close, window) * math.sqrt(periods_per_year)
    ann = ann.where(ann > 0)
    eligible = ann.notna()
    if selection is not None:
        check_aligned(close, selection, "close", "selection")
        eligible &= selection.astype(bool)
    n = eligible.sum(axis=1)
    raw = (target_volatility / ann).div(n, axis=0)
    return _finalize(raw, eligible)


def top_n(scores: pd.DataFrame, n: int) -> pd.DataFrame:
    """Return a boolean panel selecting the ``n`` highest scores of each row.

    Ties at the cut are broken by column order (first wins); NaN scores are never
    selected; rows with fewer than ``n`` scores select all of them. The same
    selection as ``qr.signals.top_n_signals`` (one implementation).
    """
    from qresearch.signals.selection import extreme_n

    return extreme_n(scores, n, largest=True, func="top_n")


def bottom_n(scores: pd.DataFrame, n: int) -> pd.DataFrame:
    """Return a boolean panel selecting the ``n`` lowest scores of each row.

    The same selection as ``qr.signals.bottom_n_signals`` (one implementation).
    """
    from qresearch.signals.selection import extreme_n

    return extreme_n(scores, n, largest=False, func="bottom_n")


def rank_weights(
    scores: pd.DataFrame,
    *,
    long_short: bool = False,
    betas: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Return weights proportional to cross-sectional ranks of ``scores``.

    Parameters
    ----------
    scores : DataFrame
        Higher is better; NaN: not eligible.
    long_short : bool, default False
        False: long-only, weights ∝ rank (1 = worst), summing to 1. True:
        dollar-neutral, weights ∝ demeaned rank, scaled to gross 1 (sum |w| = 1,
        sum w = 0).
    betas : DataFrame, optional
        With ``long_short``: also make the book beta-neutral by removing its beta
        exposure (projecting the demeaned ranks off the demeaned betas), then
        rescaling to gross 1.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2024-01-01", periods=1, name="timestamp")
    >>> s = pd.DataFrame({"A": [3.0], "B": [1.0], "C": [2.0]}, index=idx)
    >>> rank_weights(s).iloc[0].tolist()  # ranks 3, 1, 2 over 6
    [0.5, 0.16666666666666666, 0.3333333333333333]
    >>> rank_weights(s, long_short=True).iloc[0].tolist()  # demeaned 1, -1, 0
    [0.5, -0.5, 0.0]
    """
    check_panel(scores, "scores")
    eligible = scores.notna()
    ranks = scores.rank(axis=1)
    if not long_short:
        if betas is not None:
            raise ParameterError("betas only applies with long_short=True.")
        return _finalize(ranks.div(ranks.sum(axis=1), axis=0), eligible)
    centered = ranks.sub(ranks.mean(axis=1), axis=0)
    if betas is not None:
        check_aligned(scores, betas, "scores", "betas")
        eligible &= betas.notna()
        b = betas.where(eligible)
        b = b.sub(b.mean(axis=1), axis=0)
        c = centered.where(eligible)
        c = c.sub(c.mean(axis=1), axis=0)
        coef = (c * b).sum(axis=1) / (b * b).sum(axis=1).replace(0.0, np.nan)
        centered = c.sub(b.mul(coef.fillna(0.0), axis=0))
    gross = centered.abs().sum(axis=1).replace(0.0, np.nan)
    return _finalize(centered.div(gross, axis=0), eligible)


def normalize(weights: pd.DataFrame, gross: float = 1.0, net: float | None = None) -> pd.DataFrame:
    """Rescale each row to a gross exposure (sum of |w|) and optionally a net exposure.

    With ``net``, the long leg is scaled to ``(gross + net) / 2`` and the short leg to
    ``(gross - net) / 2``; a row missing a leg that must be non-zero raises.
    NaN cells stay NaN (leave that symbol alone), so NaN rows stay NaN (hold).

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2024-01-01", periods=1, name="timestamp")
    >>> w = pd.DataFrame({"A": [0.2], "B": [0.6], "C": [-0.2]}, index=idx)
    >>> normalize(w, gross=2.0).iloc[0].tolist()
    [0.4, 1.2, -0.4]
    >>> normalize(w, gross=1.0, net=0.0).iloc[0].tolist()
    [0.125, 0.375, -0.5]
    """
    check_panel(weights, "weights")
    check_number("gross", gross, "normalize")
    if net is None:
        total = weights.abs().sum(axis=1).replace(0.0, np.nan)
        return keep_attrs(weights.mul(gross / total, axis=0), weights)
    if not (isinstance(net, numbers.Real) and abs(net) <= gross):
        raise ParameterError(
            f"The 'net' parameter of normalize must satisfy |net| <= gross ({gross}); got {net!r}."
        )
    long_target, short_target = (gross + net) / 2.0, (gross - net) / 2.0
    longs = weights.clip(lower=0.0)
    shorts = weights.clip(upper=0.0)
    long_sum = longs.sum(axis=1)
    short_sum = -shorts.sum(axis=1)
    held = weights.notna().any(axis=1)
    bad = held & (((long_sum == 0) & (long_target > 0)) | ((short_sum == 0) & (short_target > 0)))
    if bad.any():
        ts = weights.index[bad.to_numpy()][0]
        raise ParameterError(
            f"normalize cannot reach net={net} with gross={gross} at {ts}: the row has no "
            f"{'long' if long_sum[ts] == 0 else 'short'} position. Use net=None or add that leg."
        )
    out = longs.mul(long_target / long_sum.replace(0.0, np.nan), axis=0).fillna(0.0) + shorts.mul(
        short_target / short_sum.replace(0.0, np.nan), axis=0
    ).fillna(0.0)
    return keep_attrs(out.where(weights.notna()), weights)


def cap_weights(weights: pd.DataFrame, max_weight: float, min_weight: float = 0.0) -> pd.DataFrame:
    """Cap long-only weights at ``max_weight``, redistributing the excess pro rata.

    The excess above the cap goes to the uncapped positive weights in proportion to
    their weights, repeatedly, until no weight exceeds the cap (the row sum is kept).
    Weights below ``min_weight`` are then dropped and the row is scaled back to its
    sum (which may push some weights above the cap again only if ``min_weight`` drops
    most of the book; the cap is re-applied).

    When the caps cannot hold the whole row (``sum > max_weight * n_positive``, e.g.
    3 positions capped at 0.2 must hold 1.0), every position is set to ``max_weight``
    and the excess stays in cash: the row then sums to less than it did (0.6 in the
    example). Such rows are recorded in ``attrs["notes"]`` (date -> list of notes,
    as ``rebalance`` records its adjustments), so a run never stops on them.

    Raises
    ------
    ParameterError
        For negative weights or a ``min_weight`` outside ``[0, max_weight)``.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2024-01-01", periods=1, name="timestamp")
    >>> w = pd.DataFrame({"A": [0.7], "B": [0.2], "C": [0.1]}, index=idx)
    >>> [round(x, 10) for x in cap_weights(w, 0.4).iloc[0]]  # excess 0.3 -> B, C as 2:1
    [0.4, 0.4, 0.2]
    >>> capped = cap_weights(w, 0.25)  # 3 x 0.25 < 1: each at the cap, 0.25 left in cash
    >>> [round(x, 10) for x in capped.iloc[0]], float(capped.iloc[0].sum())
    ([0.25, 0.25, 0.25], 0.75)
    """
    check_panel(weights, "weights")
    check_number("max_weight", max_weight, "cap_weights")
    if not (isinstance(min_weight, numbers.Real) and 0 <= min_weight < max_weight):
        raise ParameterError(
            f"The 'min_weight' parameter of cap_weights must be in [0, max_weight); "
            f"got {min_weight!r}."
        )
    values = weights.to_numpy(dtype=np.float64, na_value=np.nan).copy()
    if (values < 0).any():
        r, c = np.argwhere(values < 0)[0]
        raise ParameterError(
            f"cap_weights is for long-only weights; got {values[r, c]} at "
            f"({weights.index[r]}, {weights.columns[c]!r})."
        )
    cash_notes: dict[Any, str] = {}
    for r in range(values.shape[0]):
        row = values[r]
        if np.isnan(row).all():
            continue
        total = np.nansum(row)
        row = np.nan_to_num(row)
        for _ in range(2):
            row = _cap_row(row, max_weight)
            if min_weight > 0:
                row = np.where(row < min_weight, 0.0, row)
                kept = row.sum()
                if kept > 0:
                    row = row * (total / kept)
        row = np.minimum(row, max_weight)  # a min_weight rescale cannot re-breach the cap
        if row.sum() < total - 1e-12:
            positive = int((row > 0).sum())
            cash_notes[weights.index[r]] = (
                f"cap_weights: {positive} positions capped at {max_weight} cannot hold "
                f"{total:.4g}; {total - row.sum():.4g} left in cash"
            )
        values[r] = row
    out = keep_attrs(pd.DataFrame(values, index=weights.index, columns=weights.columns), weights)
    if cash_notes:
        notes = dict(out.attrs.get("notes") or {})
        for ts, note in cash_notes.items():
            notes[ts] = [*notes.get(ts, ()), note]
        out.attrs["notes"] = notes
    return out


def _cap_row(row: np.ndarray, cap: float) -> np.ndarray:
    # Water-filling: clip at the cap and hand the excess to the free names pro rata.
    # When the caps cannot hold the row (sum > cap * n_positive) every name ends at the
    # cap and the rest is cash.
    if row.sum() >= cap * int((row > 0).sum()) - 1e-12:
        return np.where(row > 0, cap, 0.0)
    row = row.copy()
    for _ in range(len(row)):
        over = row > cap + 1e-15
        if not over.any():
            break
        excess = (row[over] - cap).sum()
        row[over] = cap
        free = (row > 0) & (row < cap - 1e-15)
        row[free] += excess * (row[free] / row[free].sum())  # share first: no underflow
    return row


@renamed_parameters(prices="close")
def discrete_allocation(
    weights: pd.Series, close: pd.Series, capital: float, lot_size: float = 1.0
) -> tuple[pd.Series, float]:
    """Turn target weights into whole lots of shares for a given capital (greedy).

    Each symbol first gets ``floor(w * capital / price / lot) * lot`` shares, with
    ``price`` its latest close (``close``: a Series indexed by symbol, e.g.
    ``close_panel.iloc[-1]``); the leftover cash then buys one more lot of the symbol
    furthest below its target value, repeatedly, while the cash suffices
    (PyPortfolioOpt's greedy method). ``prices`` is a deprecated alias of ``close``
    (removed in the next release).

    Returns
    -------
    (Series, float)
        Shares per symbol and the cash left over.

    Examples
    --------
    >>> import pandas as pd
    >>> shares, cash = discrete_allocation(
    ...     pd.Series({"A": 0.5, "B": 0.5}), pd.Series({"A": 30.0, "B": 45.0}), 100.0)
    >>> shares.tolist(), cash
    ([1.0, 1.0], 25.0)
    """
    if not isinstance(weights, pd.Series) or not isinstance(close, pd.Series):
        raise ParameterError(
            "weights and close must be pandas Series indexed by symbol (for a close "
            "panel, pass its last row: close.iloc[-1])."
        )
    check_number("capital", capital, "discrete_allocation")
    check_number("lot_size", lot_size, "discrete_allocation")
    w = weights.dropna()
    if (w < 0).any():
        raise ParameterError("discrete_allocation takes long-only weights (all >= 0).")
    missing = [s for s in w.index if s not in close.index or not close[s] > 0]
    if missing:
        raise ParameterError(
            f"close has no positive price for {missing[:5]}; drop those weights first."
        )
    px = close.reindex(w.index).astype(float)
    target = w * capital
    shares = np.floor(target / px / lot_size) * lot_size
    cash = capital - float((shares * px).sum())
    while True:
        gap = target - shares * px
        affordable = px * lot_size <= cash + 1e-9
        if not affordable.any():
            break
        pick = gap.where(affordable).idxmax()
        if gap[pick] <= 0:
            break
        shares[pick] += lot_size
        cash -= float(px[pick] * lot_size)
    return shares.astype(float), float(cash)


def group_caps(
    weights: pd.DataFrame, groups: Mapping[Any, Any], max_group_weight: float
) -> pd.DataFrame:
    """Scale down each group's weights so no group's total exceeds ``max_group_weight``.

    The weight removed from capped groups is not redistributed (the book keeps cash);
    combine with :func:`normalize` to re-lever. Symbols missing from ``groups`` form
    their own group each.
    """
    check_panel(weights, "weights")
    check_number("max_group_weight", max_group_weight, "group_caps")
    labels = pd.Series({s: groups.get(s, f"__{s}") for s in weights.columns})
    out = weights.copy()
    for _, members in labels.groupby(labels):
        cols = list(members.index)
        total = weights[cols].clip(lower=0).sum(axis=1)
        scale = (max_group_weight / total).clip(upper=1.0).where(total > 0, 1.0)
        out[cols] = weights[cols].mul(scale, axis=0)
    return keep_attrs(out, weights)
