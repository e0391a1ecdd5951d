"""Rolling mean and variance of many columns at once, row by row, as vector instructions.

pandas' rolling mean (a Kahan sum) and variance (Welford with Kahan compensation) are
chains of dependent operations with two divisions per row in the variance alone.
Column by column, each row waits for the previous one and the divider for each value.
Columns are independent, so :func:`roll_mean_var_rows_py` keeps the state of every
column of a block in small arrays and advances all of them one row at a time: each
inner loop runs the same operations over the columns of a row, without a branch
(missing values and pandas' special cases are selected, not jumped over), which the
compiler turns into vector instructions, one vector division serving eight columns.
Each column computes exactly the operations of
:func:`qresearch.features._nb_windows.roll_mean_var_2_py`, in the same order, so the
results are the same bits.

The one case left out is pandas' recomputation of a variance window from scratch
(a step that cancels all but ~3 significant digits of the sum of squared deviations,
as when a window turns flat): the column is flagged and its caller recomputes it
with the scalar kernel.

:func:`rolling_blocks_py` runs a panel through them ``BLOCK`` columns at a time
(copied into a row-major buffer by :func:`block_rows_py` or, for returns,
:func:`returns_rows_py`) and finishes each block into the z-score, the Bollinger
bands or the volatility; ``rolling_zscore_py``, ``bollinger_py`` and
``rolling_volatility_py`` in :mod:`qresearch.features._nb_windows` call it and
recompute the flagged columns. Measured on 2520 x 1000: the rolling mean and
variance take ~17 ms this way, copies into the blocks included, against ~20 ms two
columns at a time; the rest of the gain is in finishing each block (its divisions and
square roots) with vector instructions too. Compiled by
:mod:`qresearch.features._nb` with ``error_model="numpy"`` (a division the Python twin
never evaluates may then run and be discarded); importing this module loads no numba.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# Columns per block: a block's rows (float64) stay in the second-level cache.
BLOCK = 32

# pandas' InvCondTol: a Welford step that leaves fewer than ~3 significant digits of
# the sum of squared deviations triggers a recomputation of the window.
INV_COND_TOL = float(np.finfo(np.float64).eps) * 1e3


# ------------------------------------------- finishing one value (blocks and columns)
def zsqrt_py(v: float) -> float:
    """Square root as pandas' ``zsqrt``: negative (round-off) variances give 0."""
    if v < 0.0:
        return 0.0
    return math.sqrt(v) if v == v else math.nan


def zscore_value_py(x: float, mean: float, var: float) -> float:
    """``(x - mean) / zsqrt(var)``, NaN where that standard deviation is not positive."""
    std = zsqrt_py(var)
    return (x - mean) / std if std > 0.0 else math.nan


def volatility_value_py(var: float, scale: float) -> float:
    """``zsqrt(var)``, times ``scale`` unless ``scale`` is NaN."""
    std = zsqrt_py(var)
    return std * scale if scale == scale else std


def bands_value_py(x: float, mid: float, var: float, k: float) -> tuple[float, float, float]:
    """Bollinger ``(upper, lower, %b)`` at ``mid +- k * zsqrt(var)``.

    %b is ``(x - lower) / (upper - lower)``, NaN where the bands have no positive width.
    """
    std = zsqrt_py(var)
    upper = mid + k * std
    lower = mid - k * std
    band = upper - lower
    return upper, lower, ((x - lower) / band if band > 0.0 else math.nan)


def roll_mean_var_rows_py(
    xb: Any, window: int, ddof: int, mean_b: Any, var_b: Any, flags: Any
) -> None:
    """Compute pandas' rolling mean and variance of every column of a row-major block.

    ``rolling(window, min_periods=window).mean()`` and ``.var(ddof)`` of each column of
    ``xb``, bit for bit.

    Parameters
    ----------
    xb : float64 (n, B), C-ordered
        One column per symbol; NaN is missing.
    window : int
        Rows in the window, including t (>= 2).
    ddof : int
        Delta degrees of freedom of the variance (0 or 1).
    mean_b, var_b : float64 (n, B) or (0, B)
        Output buffers, filled in place; an empty one skips that statistic.
    flags : float64 (B,)
        Set to 1.0 for a column whose variance pandas recomputes from scratch at some
        row (its variance from that row on is then not pandas'), else 0.0.
    """
    n, width = xb.shape
    want_mean = mean_b.shape[0] > 0
    want_var = var_b.shape[0] > 0
    m_n = np.zeros(width)
    m_neg = np.zeros(width)
    m_sum = np.zeros(width)
    m_add = np.zeros(width)
    m_rem = np.zeros(width)
    m_run = np.zeros(width)
    m_prev = np.full(width, math.nan)
    v_n = np.zeros(width)
    v_mean = np.zeros(width)
    v_ssq = np.zeros(width)
    v_add = np.zeros(width)
    v_rem = np.zeros(width)
    unstable = np.zeros(width)
    if n > 0:
        for c in range(width):
            m_prev[c] = xb[0, c]
    for i in range(n):
        if want_mean:
            if i >= window:  # pandas' remove_mean of row i - window
                for c in range(width):
                    v = xb[i - window, c]
                    ok = v == v
                    y = -v - m_rem[c]
                    tt = m_sum[c] + y
                    m_rem[c] = tt - m_sum[c] - y if ok else m_rem[c]
                    m_sum[c] = tt if ok else m_sum[c]
                    m_n[c] -= 1.0 if ok else 0.0
                    m_neg[c] -= 1.0 if ok and math.copysign(1.0, v) < 0.0 else 0.0
            for c in range(width):  # add_mean of row i, then calc_mean
                v = xb[i, c]
                ok = v == v
                y = v - m_add[c]
                tt = m_sum[c] + y
                m_add[c] = tt - m_sum[c] - y if ok else m_add[c]
                total = tt if ok else m_sum[c]
                m_sum[c] = total
                nobs = m_n[c] + (1.0 if ok else 0.0)
                m_n[c] = nobs
                neg = m_neg[c] + (1.0 if ok and math.copysign(1.0, v) < 0.0 else 0.0)
                m_neg[c] = neg
                run = (m_run[c] + 1.0 if v == m_prev[c] else 1.0) if ok else m_run[c]
                m_run[c] = run
                prev = v if ok else m_prev[c]
                m_prev[c] = prev
                result = math.nan
                if nobs >= window:
                    result = total / nobs
                    if run >= nobs:
                        result = prev
                    elif (neg == 0.0 and result < 0.0) or (neg == nobs and result > 0.0):
                        result = 0.0  # pandas' sign rules
                mean_b[i, c] = result
        if want_var:
            if i >= window:  # pandas' remove_var of row i - window
                for c in range(width):
                    v = xb[i - window, c]
                    ok = v == v
                    prev_m2 = v_ssq[c]
                    left = v_n[c] - 1.0 if ok else v_n[c]
                    prev_mean = v_mean[c] - v_rem[c]
                    y = v - v_rem[c]
                    tt = y - v_mean[c]
                    comp = tt + v_mean[c] - y
                    mean = v_mean[c] - tt / left if left != 0.0 else 0.0
                    ssq = prev_m2 - (v - prev_mean) * (v - mean) if left != 0.0 else 0.0
                    step = ok and left != 0.0
                    v_n[c] = left
                    v_rem[c] = comp if step else v_rem[c]
                    v_mean[c] = mean if ok else v_mean[c]
                    v_ssq[c] = ssq if ok else prev_m2
                    unstable[c] = 1.0 if step and prev_m2 * INV_COND_TOL > ssq else unstable[c]
            for c in range(width):  # add_var of row i, then calc_var
                v = xb[i, c]
                ok = v == v
                prev_m2 = v_ssq[c]
                nobs = v_n[c] + 1.0 if ok else v_n[c]
                prev_mean = v_mean[c] - v_add[c]
                y = v - v_add[c]
                tt = y - v_mean[c]
                comp = tt + v_mean[c] - y
                mean = v_mean[c] + tt / nobs if ok else v_mean[c]
                ssq = prev_m2 + (v - prev_mean) * (v - mean) if ok else prev_m2
                v_n[c] = nobs
                v_add[c] = comp if ok else v_add[c]
                v_mean[c] = mean
                v_ssq[c] = ssq
                unstable[c] = 1.0 if ok and prev_m2 * INV_COND_TOL > ssq else unstable[c]
                var_b[i, c] = ssq / (nobs - ddof) if nobs >= window and nobs > ddof else math.nan
    for c in range(width):
        flags[c] = unstable[c]


def zscore_rows_py(xb: Any, mean_b: Any, var_b: Any) -> None:
    """Overwrite ``mean_b`` with ``(xb - mean_b) / sqrt(var_b)``, NaN where ``var_b <= 0``.

    The z-score of pandas' rolling statistics (``zsqrt`` of the variance, NaN for a
    standard deviation that is not positive); all arrays (n, B), C-ordered.
    """
    n, width = xb.shape
    for t in range(n):
        for c in range(width):
            mean_b[t, c] = zscore_value_py(xb[t, c], mean_b[t, c], var_b[t, c])


def bollinger_rows_py(
    xb: Any,
    mean_b: Any,
    var_b: Any,
    k: float,
    c0: int,
    out_mid: Any,
    out_upper: Any,
    out_lower: Any,
    out_pct: Any,
) -> None:
    """Write Bollinger mid, bands and %b of a block into columns ``c0 ..`` of the outputs.

    From the block's rolling mean and population variance (n, B), C-ordered: ``mean
    +- k * std`` (``std`` is pandas' ``zsqrt`` of the variance) and ``(x - lower) /
    (upper - lower)``, NaN where the bands have no positive width. One pass per
    column, writing each output column contiguously.
    """
    n, width = xb.shape
    for c in range(width):
        col = c0 + c
        for t in range(n):
            mid = mean_b[t, c]
            upper, lower, pct = bands_value_py(xb[t, c], mid, var_b[t, c], k)
            out_mid[t, col] = mid
            out_upper[t, col] = upper
            out_lower[t, col] = lower
            out_pct[t, col] = pct


def volatility_rows_py(var_b: Any, scale: float) -> None:
    """Overwrite a block's variances with ``zsqrt(var) * scale`` (no scaling for NaN)."""
    n, width = var_b.shape
    for t in range(n):
        for c in range(width):
            var_b[t, c] = volatility_value_py(var_b[t, c], scale)


def returns_rows_py(x: Any, c0: int, xb: Any) -> int:
    """Copy the one-row simple returns of columns ``c0 .. c0 + B`` of ``x`` into ``xb``.

    ``xb[t, c] = x[t, c0 + c] / x[t - 1, c0 + c] - 1`` (NaN in row 0 or next to a
    missing price). Returns the number of prices in the block that are present but
    not finite and positive; the block is then not filled.
    """
    n_rows, width = xb.shape
    bad = 0
    for c in range(width):
        for t in range(n_rows):
            p = x[t, c0 + c]
            bad += 1 if p == p and not (p > 0.0 and p < math.inf) else 0
    if bad > 0:
        return bad
    for c in range(width):
        xb[0, c] = math.nan
        for t in range(1, n_rows):
            xb[t, c] = x[t, c0 + c] / x[t - 1, c0 + c] - 1.0
    return 0


# What rolling_blocks_py finishes the statistics into.
ZSCORE, BOLLINGER, VOLATILITY = 0, 1, 2


def rolling_blocks_py(
    x: Any,
    window: int,
    kind: int,
    param: float,
    out_a: Any,
    out_b: Any,
    out_c: Any,
    out_d: Any,
    redo: Any,
) -> int:
    """Run a panel through the row-major kernels ``BLOCK`` columns at a time.

    Parameters
    ----------
    x : float64 (T, C)
        Panel (prices for ``BOLLINGER`` and ``VOLATILITY``).
    window : int
        Rows (returns) in the window (>= 2).
    kind : int
        ``ZSCORE``: ``out_a`` gets ``(x - mean) / std`` (``ddof=1``). ``BOLLINGER``:
        mid, upper, lower and %b (population std times ``param``) into ``out_a`` ..
        ``out_d``. ``VOLATILITY``: ``out_a`` gets the std (``ddof=1``) of one-row
        simple returns, times ``param`` unless it is NaN.
    param : float
        ``k`` of the bands, or the volatility's scale.
    out_a, out_b, out_c, out_d : float64 (T, C)
        Outputs (unused ones may be any array).
    redo : int64 (C,)
        Receives the columns flagged by :func:`roll_mean_var_rows_py`, which the caller
        recomputes with the scalar kernels.

    Returns
    -------
    int
        The number of flagged columns, or minus the number of prices of a block that
        are present but not finite and positive (``VOLATILITY``; nothing more is done).
    """
    n_rows, n_cols = x.shape
    n_redo = 0
    buf = np.empty((3, n_rows * min(BLOCK, n_cols)))
    flags = np.zeros(BLOCK)
    for c0 in range(0, n_cols, BLOCK):
        width = min(BLOCK, n_cols - c0)
        xb = buf[0, : n_rows * width].reshape((n_rows, width))
        mb = buf[1, : n_rows * width].reshape((n_rows, width))
        vb = buf[2, : n_rows * width].reshape((n_rows, width))
        if kind == VOLATILITY:
            bad = returns_rows_py(x, c0, xb)
            if bad > 0:
                return -bad
            roll_mean_var_rows_py(xb, window, 1, mb[:0], vb, flags)
            volatility_rows_py(vb, param)
            unblock_rows_py(vb, c0, out_a)
        elif kind == BOLLINGER:
            block_rows_py(x, c0, xb)
            roll_mean_var_rows_py(xb, window, 0, mb, vb, flags)
            bollinger_rows_py(xb, mb, vb, param, c0, out_a, out_b, out_c, out_d)
        else:
            block_rows_py(x, c0, xb)
            roll_mean_var_rows_py(xb, window, 1, mb, vb, flags)
            zscore_rows_py(xb, mb, vb)
            unblock_rows_py(mb, c0, out_a)
        for c in range(width):
            if flags[c] != 0.0:
                redo[n_redo] = c0 + c
                n_redo += 1
    return n_redo


def block_rows_py(x: Any, c0: int, xb: Any) -> Any:
    """Copy columns ``c0 .. c0 + B`` of ``x`` (T, C) into the row-major ``xb`` (T, B)."""
    n_rows, width = xb.shape
    for c in range(width):
        for t in range(n_rows):
            xb[t, c] = x[t, c0 + c]
    return xb


def unblock_rows_py(ob: Any, c0: int, out: Any) -> None:
    """Copy the row-major block ``ob`` (T, B) into columns ``c0 .. c0 + B`` of ``out``."""
    n_rows, width = ob.shape
    for c in range(width):
        for t in range(n_rows):
            out[t, c0 + c] = ob[t, c]
