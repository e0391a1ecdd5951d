"""Window kernels of the indicator family, each written first as a plain-Python twin.

Three layers, all on float64 values with NaN for missing ones:

- Step helpers update the state of one statistic by one row and reproduce pandas'
  own algorithms operation by operation (pandas 3.1,
  ``pandas/_libs/window/aggregations.pyx``), so that the results are the bits of
  the pandas expressions the features used before:

  - :func:`ewm_step_py`: ``ewm(alpha=..., adjust=False, ignore_na=False).mean()``;
  - :func:`mean_add_py` / :func:`mean_remove_py` / :func:`mean_value_py`:
    ``rolling(window, min_periods=window).mean()`` (Kahan sums, the "all values
    equal" and sign rules);
  - :func:`var_add_py` / :func:`var_remove_py` / :func:`var_window_py`:
    ``rolling(window, min_periods=window).var(ddof)`` (Welford with Kahan
    compensation, recomputed from scratch when a step loses more than ~3
    significant digits);
  - :func:`wilder_sma_step_py`: TA-Lib's seeded Wilder smoothing (the
    ``seed="sma"`` option of RSI, ATR and ADX).

- 1-D primitives (``*_1d_py``) run them over a column; :func:`roll_mean_var_2_py`
  runs the rolling mean and variance of two columns in the same loop, and the
  panel kernels update several independent statistics per row, so that the
  processor overlaps their dependency chains (each row's update waits for the
  previous row's; a division in the chain costs ~15 cycles). Rolling max / min are
  exact, by doubling (:func:`roll_extreme_1d_py`).

- Panel kernels (``rsi_py``, ``atr_py``, ...) take whole (time x symbols) panels and
  run, column by column, the same element-wise operations as the features' former
  pandas code (differences, clips, ratios, ``where``/``mask`` rules) with the steps
  above; scratch columns stay in cache. Columns are contiguous in Fortran-ordered
  panels, the layout of a pandas frame's values.

:mod:`qresearch.features._nb` compiles them with numba (``njit(cache=True)``) on first
use; importing this module loads no numba.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from qresearch.features._nb_rows import (
    BOLLINGER,
    INV_COND_TOL,
    VOLATILITY,
    ZSCORE,
    bands_value_py,
    rolling_blocks_py,
    volatility_value_py,
    zscore_value_py,
)


# ---------------------------------------------------------------- step helpers
def ewm_step_py(
    cur: float, weighted: float, old_wt: float, nobs: int, alpha: float, com_is_one: bool
) -> tuple[float, float, int]:
    """One row of pandas' ``ewm(adjust=False, ignore_na=False).mean()``.

    Parameters
    ----------
    cur : float
        The row's value; NaN is missing.
    weighted, old_wt, nobs : float, float, int
        State: the mean so far (NaN before the first value), the weight of the old
        mean (1 after a value, times ``1 - alpha`` per row since) and the count of
        values. Start with ``(nan, 1.0, 0)``.
    alpha : float
        Weight of a new value, as pandas derives it: ``1 / (1 + com)``.
    com_is_one : bool
        ``com == 1`` (alpha 1/2): pandas then weights a value after a gap by
        ``1 - old_wt`` instead of ``alpha``.

    Returns
    -------
    tuple
        The new ``(weighted, old_wt, nobs)``; the row's output is ``weighted`` once
        ``nobs >= min_periods``.
    """
    factor = 1.0 - alpha
    if cur == cur:
        nobs += 1
        if weighted == weighted:
            if weighted != cur:
                if old_wt == 1.0 and factor + alpha == 1.0:
                    # No gap: pandas' weights are 1 * (1 - alpha) and alpha (also when
                    # com == 1), and their sum rounds to exactly 1 (fl(1 - a) + a == 1
                    # for 0 <= a <= 1), so its division by the sum changes no bit.
                    # Leaving it out shortens the dependency chain from row to row.
                    weighted = factor * weighted + alpha * cur
                else:
                    old_wt *= factor
                    new_wt = 1.0 - old_wt if com_is_one else alpha
                    num = old_wt * weighted + new_wt * cur
                    den = old_wt + new_wt
                    weighted = num if den == 1.0 else num / den
            old_wt = 1.0
        else:
            weighted = cur
    elif weighted == weighted:
        old_wt *= factor
    return weighted, old_wt, nobs


def wilder_sma_step_py(
    v: float, total: float, seen: int, avg: float, window: int, seed_count: int
) -> tuple[float, int, float]:
    """One row of TA-Lib's Wilder smoothing seeded with a sum of the first values.

    Parameters
    ----------
    v : float
        The row's value; NaN is skipped (the average holds).
    total, seen, avg : float, int, float
        State: the seed sum, the count of values and the average (NaN before the
        seed). Start with ``(0.0, 0, nan)``.
    window, seed_count : int
        Smoothing length ``n`` and the number of first values summed into the seed.

    Returns
    -------
    tuple
        The new ``(total, seen, avg)``; the row's output is ``avg``. See
        :func:`qresearch.features._nb.wilder_seeded_py` for the rules.
    """
    if v != v:
        return total, seen, avg
    if seen < seed_count:
        total += v
        seen += 1
        if seen == seed_count:
            avg = total / window
        return total, seen, avg
    if seen == 0:  # seed_count == 0: the empty sum seeds the average with 0
        avg = 0.0
    avg = (avg * (window - 1) + v) / window
    return total, seen + 1, avg


def mean_add_py(
    v: float, nobs: int, neg: int, total: float, comp: float, run: int, prev: float
) -> tuple[int, int, float, float, int, float]:
    """Add ``v`` to a rolling mean's state (pandas' ``add_mean``); NaN is ignored.

    The state: counts of values and of negative ones, the Kahan sum and its
    compensation, and the run of equal values ending at ``prev``.
    """
    if v == v:
        nobs += 1
        y = v - comp
        tt = total + y
        comp = tt - total - y
        total = tt
        if math.copysign(1.0, v) < 0.0:
            neg += 1
        if v == prev:
            run += 1
        else:
            run = 1
        prev = v
    return nobs, neg, total, comp, run, prev


def mean_remove_py(
    v: float, nobs: int, neg: int, total: float, comp: float
) -> tuple[int, int, float, float]:
    """Remove ``v`` from a rolling mean's state (pandas' ``remove_mean``)."""
    if v == v:
        nobs -= 1
        y = -v - comp
        tt = total + y
        comp = tt - total - y
        total = tt
        if math.copysign(1.0, v) < 0.0:
            neg -= 1
    return nobs, neg, total, comp


def mean_value_py(
    min_periods: int, nobs: int, neg: int, total: float, run: int, prev: float
) -> float:
    """Return the mean of a rolling state (pandas' ``calc_mean``)."""
    if nobs >= min_periods and nobs > 0:
        result = total / nobs
        if run >= nobs:
            return prev
        if neg == 0 and result < 0.0:
            return 0.0
        if neg == nobs and result > 0.0:
            return 0.0
        return result
    return math.nan


def var_add_py(
    v: float, nobs: float, mean: float, ssq: float, comp: float, unstable: bool
) -> tuple[float, float, float, float, bool]:
    """Add ``v`` to a rolling variance's state (pandas' ``add_var``); NaN is ignored."""
    if v == v:
        prev_m2 = ssq
        nobs += 1.0
        prev_mean = mean - comp
        y = v - comp
        tt = y - mean
        comp = tt + mean - y
        mean = mean + tt / nobs
        ssq = ssq + (v - prev_mean) * (v - mean)
        if prev_m2 * INV_COND_TOL > ssq:
            unstable = True
    return nobs, mean, ssq, comp, unstable


def var_remove_py(
    v: float, nobs: float, mean: float, ssq: float, comp: float, unstable: bool
) -> tuple[float, float, float, float, bool]:
    """Remove ``v`` from a rolling variance's state (pandas' ``remove_var``)."""
    if v == v:
        prev_m2 = ssq
        nobs -= 1.0
        if nobs != 0.0:
            prev_mean = mean - comp
            y = v - comp
            tt = y - mean
            comp = tt + mean - y
            mean = mean - tt / nobs
            ssq = ssq - (v - prev_mean) * (v - mean)
            if prev_m2 * INV_COND_TOL > ssq:
                unstable = True
        else:
            mean = 0.0
            ssq = 0.0
            unstable = False
    return nobs, mean, ssq, comp, unstable


def var_window_py(x: Any, start: int, stop: int) -> tuple[float, float, float, float]:
    """Recompute a variance state from scratch over ``x[start:stop]``.

    Returns ``(nobs, mean, ssq, comp_add)``; pandas resets both compensations.
    """
    nobs = 0.0
    mean = 0.0
    ssq = 0.0
    comp = 0.0
    unstable = False
    for j in range(start, stop):
        nobs, mean, ssq, comp, unstable = var_add_py(x[j], nobs, mean, ssq, comp, unstable)
    return nobs, mean, ssq, comp


def fmax_py(a: float, b: float) -> float:
    """``numpy.fmax`` of two floats: the larger one, ignoring a NaN."""
    if a != a:
        return b
    if b != b:
        return a
    return a if a >= b else b


# ---------------------------------------------------------------- 1-D primitives
def true_range_py(high: Any, low: Any, close: Any, t: int) -> float:
    """Return the true range of row ``t`` (the features' former ``_true_range``).

    ``max(high - low, |high - prev_close|, |low - prev_close|)`` ignoring a NaN
    previous close (``high - low`` then); NaN when ``high - low`` is NaN.
    """
    hl = high[t] - low[t]
    if hl != hl:
        return math.nan
    prev = close[t - 1] if t > 0 else math.nan
    return fmax_py(hl, fmax_py(abs(high[t] - prev), abs(low[t] - prev)))


def ewm_mean_1d_py(x: Any, alpha: float, com_is_one: bool, min_periods: int, out: Any) -> Any:
    """Compute pandas' ``ewm(adjust=False, ignore_na=False).mean()`` of ``x``.

    Parameters
    ----------
    x : float64 (T,)
        Values; NaN is missing.
    alpha, com_is_one : float, bool
        See :func:`ewm_step_py`.
    min_periods : int
        Non-NaN values needed before a value is reported (>= 1).
    out : float64 (T,)
        Output buffer, filled and returned.

    Returns
    -------
    float64 (T,)
        Seeded with the first non-NaN value; ``y = (w y + a x) / (w + a)`` with
        ``w = (1 - alpha)^(rows since the last value)``; a NaN row repeats ``y``.
    """
    weighted, old_wt, nobs = math.nan, 1.0, 0
    for t in range(x.shape[0]):
        weighted, old_wt, nobs = ewm_step_py(x[t], weighted, old_wt, nobs, alpha, com_is_one)
        out[t] = weighted if nobs >= min_periods else math.nan
    return out


def wilder_sma_1d_py(x: Any, window: int, seed_count: int, out: Any) -> Any:
    """Apply Wilder smoothing seeded with a sum of the first values (TA-Lib's rules).

    Parameters
    ----------
    x : float64 (T,)
        Values; NaN is skipped.
    window : int
        Smoothing length ``n``.
    seed_count : int
        How many first non-NaN values form the seed ``sum / n``.
    out : float64 (T,)
        Output buffer, filled and returned.

    Returns
    -------
    float64 (T,)
        See :func:`qresearch.features._nb.wilder_seeded_py` (one column of it).
    """
    total, seen, avg = 0.0, 0, math.nan
    for t in range(x.shape[0]):
        total, seen, avg = wilder_sma_step_py(x[t], total, seen, avg, window, seed_count)
        out[t] = avg
    return out


def roll_mean_var_2_py(
    xa: Any,
    xb: Any,
    window: int,
    ddof: int,
    mean_a: Any,
    var_a: Any,
    mean_b: Any,
    var_b: Any,
) -> None:
    """Compute pandas' rolling mean and variance of two columns, advanced together.

    ``rolling(window, min_periods=window).mean()`` and ``.var(ddof)`` of ``xa`` and
    of ``xb``, each statistic with its own state, exactly as separate calls would
    compute them; updating the four in the same loop lets the processor overlap
    their dependency chains (about twice as fast as one column at a time).

    Parameters
    ----------
    xa, xb : float64 (T,)
        Values; NaN is missing. May be the same array.
    window : int
        Rows in the window, including t (>= 1).
    ddof : int
        Delta degrees of freedom of the variance (0 or 1).
    mean_a, var_a, mean_b, var_b : float64 (T,) or (0,)
        Output buffers, filled in place. Empty ``mean_a`` (``var_a``) skips the
        mean (the variance) of both columns.
    """
    n = xa.shape[0]
    want_mean = mean_a.shape[0] > 0
    want_var = var_a.shape[0] > 0
    a_n, a_neg, a_sum, a_add, a_rem, a_run = 0, 0, 0.0, 0.0, 0.0, 0
    b_n, b_neg, b_sum, b_add, b_rem, b_run = 0, 0, 0.0, 0.0, 0.0, 0
    a_prev = xa[0] if n > 0 else math.nan
    b_prev = xb[0] if n > 0 else math.nan
    av_n, av_mean, av_ssq, av_add, av_rem, a_unstable = 0.0, 0.0, 0.0, 0.0, 0.0, False
    bv_n, bv_mean, bv_ssq, bv_add, bv_rem, b_unstable = 0.0, 0.0, 0.0, 0.0, 0.0, False
    for i in range(n):
        s = i - window + 1 if i >= window - 1 else 0
        va = xa[i]
        vb = xb[i]
        if want_mean:
            if window == 1:  # pandas recomputes a window that shares nothing with the last
                a_n, a_neg, a_sum, a_add, a_rem, a_run, a_prev = 0, 0, 0.0, 0.0, 0.0, 0, va
                b_n, b_neg, b_sum, b_add, b_rem, b_run, b_prev = 0, 0, 0.0, 0.0, 0.0, 0, vb
            elif s > 0:
                a_n, a_neg, a_sum, a_rem = mean_remove_py(xa[s - 1], a_n, a_neg, a_sum, a_rem)
                b_n, b_neg, b_sum, b_rem = mean_remove_py(xb[s - 1], b_n, b_neg, b_sum, b_rem)
            a_n, a_neg, a_sum, a_add, a_run, a_prev = mean_add_py(
                va, a_n, a_neg, a_sum, a_add, a_run, a_prev
            )
            b_n, b_neg, b_sum, b_add, b_run, b_prev = mean_add_py(
                vb, b_n, b_neg, b_sum, b_add, b_run, b_prev
            )
            mean_a[i] = mean_value_py(window, a_n, a_neg, a_sum, a_run, a_prev)
            mean_b[i] = mean_value_py(window, b_n, b_neg, b_sum, b_run, b_prev)
        if want_var:
            fresh = i == 0 or window == 1
            if not fresh:
                if s > 0:
                    av_n, av_mean, av_ssq, av_rem, a_unstable = var_remove_py(
                        xa[s - 1], av_n, av_mean, av_ssq, av_rem, a_unstable
                    )
                    bv_n, bv_mean, bv_ssq, bv_rem, b_unstable = var_remove_py(
                        xb[s - 1], bv_n, bv_mean, bv_ssq, bv_rem, b_unstable
                    )
                av_n, av_mean, av_ssq, av_add, a_unstable = var_add_py(
                    va, av_n, av_mean, av_ssq, av_add, a_unstable
                )
                bv_n, bv_mean, bv_ssq, bv_add, b_unstable = var_add_py(
                    vb, bv_n, bv_mean, bv_ssq, bv_add, b_unstable
                )
            if fresh or a_unstable:
                av_n, av_mean, av_ssq, av_add = var_window_py(xa, s, i + 1)
                av_rem = 0.0
                a_unstable = False
            if fresh or b_unstable:
                bv_n, bv_mean, bv_ssq, bv_add = var_window_py(xb, s, i + 1)
                bv_rem = 0.0
                b_unstable = False
            var_a[i] = av_ssq / (av_n - ddof) if (av_n >= window and av_n > ddof) else math.nan
            var_b[i] = bv_ssq / (bv_n - ddof) if (bv_n >= window and bv_n > ddof) else math.nan


def roll_mean_1d_py(x: Any, window: int, out: Any) -> Any:
    """Compute pandas' ``rolling(window, min_periods=window).mean()`` of ``x``.

    Parameters
    ----------
    x : float64 (T,)
        Values; NaN is missing.
    window : int
        Rows in the window, including t (>= 1).
    out : float64 (T,)
        Output buffer, filled and returned.

    Returns
    -------
    float64 (T,)
        NaN unless the window holds ``window`` non-NaN values. Kahan-compensated
        running sum (separate compensations for added and removed values); a window
        of equal values gives that value; the sign rules of pandas (a mean of
        non-negative values is never negative, and vice versa).
    """
    roll_mean_var_2_py(x, x, window, 0, out, out[:0], out, out[:0])
    return out


def roll_var_1d_py(x: Any, window: int, ddof: int, out: Any) -> Any:
    """Compute pandas' ``rolling(window, min_periods=window).var(ddof)`` of ``x``.

    Parameters
    ----------
    x : float64 (T,)
        Values; NaN is missing.
    window : int
        Rows in the window, including t (>= 1); ``min_periods=window``.
    ddof : int
        Delta degrees of freedom (0 or 1).
    out : float64 (T,)
        Output buffer, filled and returned.

    Returns
    -------
    float64 (T,)
        NaN unless the window holds ``window`` (and more than ``ddof``) non-NaN
        values. Welford's online update with Kahan compensation; when a step
        cancels all but ~3 significant digits of the sum of squared deviations the
        window is recomputed from scratch (pandas >= 3.0).
    """
    roll_mean_var_2_py(x, x, window, ddof, out[:0], out, out[:0], out)
    return out


def extreme_step_py(src: Any, dst: Any, lag: int, is_max: bool) -> None:
    """``dst[t] = max(src[t], src[t - lag])`` (or min), NaN-propagating; ``dst[:lag] = src``.

    One branch-free pass that compiles to vector instructions; a NaN on either side
    gives NaN.
    """
    n = src.shape[0]
    lag = min(lag, n)
    for t in range(lag):
        dst[t] = src[t]
    now = src[lag:]  # views indexed from 0: no negative-index handling per element
    before = src[: n - lag]
    into = dst[lag:]
    if is_max:
        for u in range(n - lag):
            a = now[u]
            b = before[u]
            into[u] = a if (a >= b or a != a) else b
    else:
        for u in range(n - lag):
            a = now[u]
            b = before[u]
            into[u] = a if (a <= b or a != a) else b


def roll_extreme_1d_py(x: Any, window: int, is_max: bool, out: Any, tmp: Any) -> Any:
    """Compute the rolling maximum (or minimum) over ``window`` rows, NaN unless all are valid.

    Parameters
    ----------
    x : float64 (T,)
        Values; NaN is missing.
    window : int
        Rows in the window, including t (>= 1).
    is_max : bool
        Maximum, or minimum.
    out, tmp : float64 (T,)
        Output buffer (filled and returned) and scratch.

    Returns
    -------
    float64 (T,)
        The largest (smallest) value of ``x[t - window + 1 .. t]``: pandas
        ``rolling(window, min_periods=window).max()`` (``.min()``); a NaN in the
        window gives NaN. By doubling: after step j, each row holds the extreme of
        the ``2**j`` rows ending there; the window is then covered by two such spans
        that overlap (harmless for a maximum), so it takes ``log2(window) + 1``
        vectorized passes whatever the data.
    """
    n = x.shape[0]
    for t in range(n):
        out[t] = x[t]
    span = 1
    src, dst = out, tmp
    while 2 * span <= window:
        extreme_step_py(src, dst, span, is_max)
        src, dst = dst, src
        span *= 2
    if window > span:
        extreme_step_py(src, dst, window - span, is_max)
        src, dst = dst, src
    for t in range(n):
        out[t] = src[t] if t >= window - 1 else math.nan
    return out


# ---------------------------------------------------------------- panel kernels
def ema_py(x: Any, alpha: float, com_is_one: bool, span: int, out: Any) -> Any:
    """``x.ewm(span=span, adjust=False, min_periods=span).mean()`` of each column.

    Parameters
    ----------
    x : float64 (T, C)
        Panel.
    alpha, com_is_one : float, bool
        See :func:`ewm_step_py` (from ``com = (span - 1) / 2``).
    span : int
        Also the ``min_periods``.
    out : float64 (T, C)
        Output buffer, filled and returned.

    Returns
    -------
    float64 (T, C)
    """
    for c in range(x.shape[1]):
        ewm_mean_1d_py(x[:, c], alpha, com_is_one, span, out[:, c])
    return out


def rsi_py(
    close: Any, window: int, alpha: float, com_is_one: bool, seed_sma: bool, out: Any
) -> Any:
    """RSI of each column, as ``features.rsi`` computed it with pandas.

    Parameters
    ----------
    close : float64 (T, C)
        Prices.
    window : int
        Wilder length.
    alpha, com_is_one : float, bool
        pandas' weights for ``ewm(alpha=1/window)`` (``seed_sma`` False).
    seed_sma : bool
        TA-Lib's seed (:func:`wilder_sma_step_py`) instead of pandas' ewm.
    out : float64 (T, C)
        Output buffer, filled and returned.

    Returns
    -------
    float64 (T, C)
        ``100 * gain / (gain + loss)``; 50 where both are 0; NaN while warming up.
    """
    n_rows, n_cols = close.shape
    for c in range(n_cols):
        col = close[:, c]
        g_w, g_old, g_n = math.nan, 1.0, 0  # ewm states (seed "first")
        l_w, l_old, l_n = math.nan, 1.0, 0
        g_tot, g_seen, g_avg = 0.0, 0, math.nan  # TA-Lib states (seed "sma")
        l_tot, l_seen, l_avg = 0.0, 0, math.nan
        for t in range(n_rows):
            change = col[t] - col[t - 1] if t > 0 else math.nan
            if change != change:
                gain = math.nan
                loss = math.nan
            else:
                # DataFrame.clip(lower=0.0) keeps values >= 0 (and -0.0) as they are.
                gain = change if change >= 0.0 else 0.0
                loss = -change if -change >= 0.0 else 0.0
            if seed_sma:
                g_tot, g_seen, g_avg = wilder_sma_step_py(
                    gain, g_tot, g_seen, g_avg, window, window
                )
                l_tot, l_seen, l_avg = wilder_sma_step_py(
                    loss, l_tot, l_seen, l_avg, window, window
                )
                avg_gain, avg_loss = g_avg, l_avg
            else:
                g_w, g_old, g_n = ewm_step_py(gain, g_w, g_old, g_n, alpha, com_is_one)
                l_w, l_old, l_n = ewm_step_py(loss, l_w, l_old, l_n, alpha, com_is_one)
                avg_gain = g_w if g_n >= window else math.nan
                avg_loss = l_w if l_n >= window else math.nan
            total = avg_gain + avg_loss
            value = 100.0 * avg_gain / total if total > 0.0 else math.nan
            if total == 0.0 and avg_gain == avg_gain:
                value = 50.0
            out[t, c] = value
    return out


def macd_py(
    close: Any,
    fast: int,
    fast_alpha: float,
    fast_one: bool,
    slow: int,
    slow_alpha: float,
    slow_one: bool,
    signal: int,
    signal_alpha: float,
    signal_one: bool,
    out_line: Any,
    out_signal: Any,
    out_hist: Any,
) -> None:
    """MACD line, signal and histogram of each column, as ``features.macd``.

    Parameters
    ----------
    close : float64 (T, C)
        Prices.
    fast, slow, signal : int
        Spans (also the ``min_periods`` of each EMA).
    fast_alpha, fast_one, slow_alpha, slow_one, signal_alpha, signal_one : float, bool
        pandas' weights of each span (see :func:`ewm_step_py`).
    out_line, out_signal, out_hist : float64 (T, C)
        Output buffers, filled in place.
    """
    n_rows, n_cols = close.shape
    for c in range(n_cols):
        col = close[:, c]
        f_w, f_old, f_n = math.nan, 1.0, 0
        s_w, s_old, s_n = math.nan, 1.0, 0
        g_w, g_old, g_n = math.nan, 1.0, 0
        for t in range(n_rows):
            f_w, f_old, f_n = ewm_step_py(col[t], f_w, f_old, f_n, fast_alpha, fast_one)
            s_w, s_old, s_n = ewm_step_py(col[t], s_w, s_old, s_n, slow_alpha, slow_one)
            ema_fast = f_w if f_n >= fast else math.nan
            ema_slow = s_w if s_n >= slow else math.nan
            line = ema_fast - ema_slow
            g_w, g_old, g_n = ewm_step_py(line, g_w, g_old, g_n, signal_alpha, signal_one)
            sig = g_w if g_n >= signal else math.nan
            out_line[t, c] = line
            out_signal[t, c] = sig
            out_hist[t, c] = line - sig


def bollinger_py(
    close: Any, window: int, k: float, out_mid: Any, out_upper: Any, out_lower: Any, out_pct: Any
) -> None:
    """Bollinger mid, bands and %b of each column, as ``features.bollinger``.

    Parameters
    ----------
    close : float64 (T, C)
        Prices.
    window : int
        Rows in the window (``min_periods=window``).
    k : float
        Band width in population standard deviations.
    out_mid, out_upper, out_lower, out_pct : float64 (T, C)
        Output buffers, filled in place.

    Notes
    -----
    Blocks of columns, then the flagged ones, as :func:`rolling_zscore_py` says.
    """
    n_rows, n_cols = close.shape
    redo = np.arange(n_cols)
    n_redo = n_cols
    if window >= 2:
        n_redo = rolling_blocks_py(
            close, window, BOLLINGER, k, out_mid, out_upper, out_lower, out_pct, redo
        )
    var_a = np.empty(n_rows)
    var_b = np.empty(n_rows)
    for j in range(0, n_redo, 2):
        c = redo[j]
        d = redo[min(j + 1, n_redo - 1)]  # an odd last column is paired with itself
        roll_mean_var_2_py(
            close[:, c], close[:, d], window, 0, out_mid[:, c], var_a, out_mid[:, d], var_b
        )
        for col, var in ((c, var_a), (d, var_b)):
            for t in range(n_rows):
                upper, lower, pct = bands_value_py(close[t, col], out_mid[t, col], var[t], k)
                out_upper[t, col] = upper
                out_lower[t, col] = lower
                out_pct[t, col] = pct


def rolling_volatility_py(close: Any, window: int, scale: float, out: Any) -> int:
    """Compute the rolling std of simple returns, as ``features.rolling_volatility``.

    Parameters
    ----------
    close : float64 (T, C)
        Prices.
    window : int
        Returns in the window (``min_periods=window``).
    scale : float
        Multiplier of the result (``sqrt(periods_per_year)``); NaN for none.
    out : float64 (T, C)
        Output buffer, filled in place.

    Returns
    -------
    int
        0, or the number of prices of a block of columns that are present but not
        finite and positive (``out`` is then not filled; the caller raises).

    Notes
    -----
    Blocks of columns, then the flagged ones, as :func:`rolling_zscore_py` says.
    """
    n_rows, n_cols = close.shape
    redo = np.arange(n_cols)
    n_redo = n_cols
    if window >= 2:
        n_redo = rolling_blocks_py(close, window, VOLATILITY, scale, out, out, out, out, redo)
        if n_redo < 0:
            return -n_redo
    rets_a = np.empty(n_rows)
    rets_b = np.empty(n_rows)
    var_a = np.empty(n_rows)
    var_b = np.empty(n_rows)
    for j in range(0, n_redo, 2):
        c = redo[j]
        d = redo[min(j + 1, n_redo - 1)]  # an odd last column is paired with itself
        for col, rets in ((c, rets_a), (d, rets_b)):
            for t in range(n_rows):
                rets[t] = close[t, col] / close[t - 1, col] - 1.0 if t > 0 else math.nan
        roll_mean_var_2_py(rets_a, rets_b, window, 1, rets_a[:0], var_a, rets_b[:0], var_b)
        for col, var in ((c, var_a), (d, var_b)):
            for t in range(n_rows):
                out[t, col] = volatility_value_py(var[t], scale)
    return 0


def rolling_zscore_py(x: Any, window: int, out: Any) -> Any:
    """``(x - rolling mean) / rolling std`` (``ddof=1``) as ``features.rolling_zscore``.

    Parameters
    ----------
    x : float64 (T, C)
        Panel.
    window : int
        Rows in the window (``min_periods=window``).
    out : float64 (T, C)
        Output buffer, filled and returned.

    Returns
    -------
    float64 (T, C)
        NaN where the window's standard deviation is not positive.

    Notes
    -----
    :func:`~qresearch.features._nb_rows.rolling_blocks_py` advances blocks of
    columns row by row (vector instructions across the columns); a column it flags
    (and every column when ``window < 2``) is recomputed two at a time with
    :func:`roll_mean_var_2_py`. Both give the same bits.
    """
    n_rows, n_cols = x.shape
    redo = np.arange(n_cols)
    n_redo = n_cols
    if window >= 2:
        n_redo = rolling_blocks_py(x, window, ZSCORE, math.nan, out, out, out, out, redo)
    mean_a = np.empty(n_rows)
    var_a = np.empty(n_rows)
    mean_b = np.empty(n_rows)
    var_b = np.empty(n_rows)
    for k in range(0, n_redo, 2):
        c = redo[k]
        d = redo[min(k + 1, n_redo - 1)]  # an odd last column is paired with itself
        roll_mean_var_2_py(x[:, c], x[:, d], window, 1, mean_a, var_a, mean_b, var_b)
        for col, mean, var in ((c, mean_a, var_a), (d, mean_b, var_b)):
            for t in range(n_rows):
                out[t, col] = zscore_value_py(x[t, col], mean[t], var[t])
    return out


def atr_py(
    high: Any,
    low: Any,
    close: Any,
    window: int,
    alpha: float,
    com_is_one: bool,
    seed_sma: bool,
    out: Any,
) -> Any:
    """Average true range of each column, as ``features.atr``.

    Parameters
    ----------
    high, low, close : float64 (T, C)
        Aligned OHLC fields.
    window : int
        Wilder length.
    alpha, com_is_one : float, bool
        pandas' weights for ``ewm(alpha=1/window)``.
    seed_sma : bool
        TA-Lib's seed; the true range then starts at the second bar.
    out : float64 (T, C)
        Output buffer, filled and returned.

    Returns
    -------
    float64 (T, C)
    """
    n_rows, n_cols = close.shape
    for c in range(n_cols):
        h = high[:, c]
        lo = low[:, c]
        cl = close[:, c]
        w, old, n = math.nan, 1.0, 0
        tot, seen, avg = 0.0, 0, math.nan
        for t in range(n_rows):
            tr = true_range_py(h, lo, cl, t)
            if seed_sma:
                prev = cl[t - 1] if t > 0 else math.nan
                if prev != prev:
                    tr = math.nan
                tot, seen, avg = wilder_sma_step_py(tr, tot, seen, avg, window, window)
                out[t, c] = avg
            else:
                w, old, n = ewm_step_py(tr, w, old, n, alpha, com_is_one)
                out[t, c] = w if n >= window else math.nan
    return out


def adx_py(
    high: Any,
    low: Any,
    close: Any,
    window: int,
    alpha: float,
    com_is_one: bool,
    seed_sma: bool,
    out: Any,
) -> Any:
    """Average directional index of each column, as ``features.adx``.

    Parameters
    ----------
    high, low, close : float64 (T, C)
        Aligned OHLC fields.
    window : int
        Wilder length of the DM/TR smoothing and of the DX average.
    alpha, com_is_one : float, bool
        pandas' weights for ``ewm(alpha=1/window)``.
    seed_sma : bool
        TA-Lib's seeds (sums of ``window - 1`` DM/TR values, mean of ``window`` DX).
    out : float64 (T, C)
        Output buffer, filled and returned.

    Returns
    -------
    float64 (T, C)
    """
    n_rows, n_cols = close.shape
    seed = window - 1
    for c in range(n_cols):
        h = high[:, c]
        lo = low[:, c]
        cl = close[:, c]
        # ewm states (seed "first") of TR, +DM, -DM and DX
        tr_w, tr_old, tr_n = math.nan, 1.0, 0
        p_w, p_old, p_n = math.nan, 1.0, 0
        m_w, m_old, m_n = math.nan, 1.0, 0
        a_w, a_old, a_n = math.nan, 1.0, 0
        # TA-Lib states (seed "sma")
        tr_tot, tr_seen, tr_avg = 0.0, 0, math.nan
        p_tot, p_seen, p_avg = 0.0, 0, math.nan
        m_tot, m_seen, m_avg = 0.0, 0, math.nan
        a_tot, a_seen, a_avg = 0.0, 0, math.nan
        dm_count = 0
        for t in range(n_rows):
            up = h[t] - h[t - 1] if t > 0 else math.nan
            down = lo[t - 1] - lo[t] if t > 0 else math.nan
            if up == up and down == down:
                plus_dm = up if (up > down and up > 0.0) else 0.0
                minus_dm = down if (down > up and down > 0.0) else 0.0
                tr = true_range_py(h, lo, cl, t)
                dm_count += 1
            else:
                plus_dm = math.nan
                minus_dm = math.nan
                tr = math.nan
            if seed_sma:
                tr_tot, tr_seen, tr_avg = wilder_sma_step_py(
                    tr, tr_tot, tr_seen, tr_avg, window, seed
                )
                p_tot, p_seen, p_avg = wilder_sma_step_py(
                    plus_dm, p_tot, p_seen, p_avg, window, seed
                )
                m_tot, m_seen, m_avg = wilder_sma_step_py(
                    minus_dm, m_tot, m_seen, m_avg, window, seed
                )
                tr_s, plus_s, minus_s = tr_avg, p_avg, m_avg
            else:
                tr_w, tr_old, tr_n = ewm_step_py(tr, tr_w, tr_old, tr_n, alpha, com_is_one)
                p_w, p_old, p_n = ewm_step_py(plus_dm, p_w, p_old, p_n, alpha, com_is_one)
                m_w, m_old, m_n = ewm_step_py(minus_dm, m_w, m_old, m_n, alpha, com_is_one)
                tr_s = tr_w if tr_n >= window else math.nan
                plus_s = p_w if p_n >= window else math.nan
                minus_s = m_w if m_n >= window else math.nan
            if not tr_s > 0.0:
                tr_s = math.nan
            plus_di = 100.0 * plus_s / tr_s
            minus_di = 100.0 * minus_s / tr_s
            total = plus_di + minus_di
            dx = 100.0 * abs(plus_di - minus_di) / total if total > 0.0 else math.nan
            if total == 0.0:
                dx = 0.0
            if seed_sma:
                # DX only on bars with a new DM, from the window-th one on.
                if not (plus_dm == plus_dm and dm_count >= window):
                    dx = math.nan
                a_tot, a_seen, a_avg = wilder_sma_step_py(dx, a_tot, a_seen, a_avg, window, window)
                out[t, c] = a_avg
            else:
                a_w, a_old, a_n = ewm_step_py(dx, a_w, a_old, a_n, alpha, com_is_one)
                out[t, c] = a_w if a_n >= window else math.nan
    return out


def stochastic_py(high: Any, low: Any, close: Any, k: int, d: int, out_k: Any, out_d: Any) -> None:
    """Stochastic %K and %D of each column, as ``features.stochastic``.

    Parameters
    ----------
    high, low, close : float64 (T, C)
        Aligned OHLC fields.
    k : int
        Rows of the high/low range.
    d : int
        Rows of the moving average of %K.
    out_k, out_d : float64 (T, C)
        Output buffers, filled in place.
    """
    n_rows, n_cols = close.shape
    highest = np.empty(n_rows)
    lowest = np.empty(n_rows)
    tmp = np.empty(n_rows)
    for c in range(0, n_cols, 2):
        e = min(c + 1, n_cols - 1)
        for col in (c, e):
            roll_extreme_1d_py(high[:, col], k, True, highest, tmp)
            roll_extreme_1d_py(low[:, col], k, False, lowest, tmp)
            for t in range(n_rows):
                rng = highest[t] - lowest[t]
                out_k[t, col] = 100.0 * (close[t, col] - lowest[t]) / rng if rng > 0.0 else math.nan
        roll_mean_var_2_py(
            out_k[:, c], out_k[:, e], d, 0, out_d[:, c], highest[:0], out_d[:, e], lowest[:0]
        )
