"""Labelling kernels, each written first as a plain-Python twin.

Kernels take contiguous float64/int64 arrays and scalars only. The ``*_py`` functions
are the reference; the ``*_nb`` functions run the same code compiled with
``numba.njit(cache=True)``, compiled lazily on first use so that importing this
module loads no numba.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from enum import IntEnum
from functools import cache
from typing import Any

import numpy as np


class Barrier(IntEnum):
    """Which barrier ended a triple-barrier event (the kernel's integer codes)."""

    PT = 0
    SL = 1
    VERTICAL = 2


# Plain ints for the kernels (numba reads module-level ints as compile-time constants).
PT = 0
SL = 1
VERTICAL = 2
NO_EXIT = -1


def cusum_py(rets: Any, thresholds: Any, out: Any) -> Any:
    """Run a symmetric CUSUM filter down each column of ``rets``.

    Parameters
    ----------
    rets : float64 (T, C)
        Returns; NaN values are skipped (the running sums are kept).
    thresholds : float64 (C,)
        Positive threshold of each column.
    out : bool (T, C)
        Output buffer, filled in place and returned.

    Returns
    -------
    bool (T, C)
        ``True`` where ``s_pos = max(0, s_pos + r) > h`` (then ``s_pos = 0``) or
        ``s_neg = min(0, s_neg + r) < -h`` (then ``s_neg = 0``); only the side that
        fires is reset.
    """
    n_rows, n_cols = rets.shape
    for c in range(n_cols):
        h = thresholds[c]
        s_pos = 0.0
        s_neg = 0.0
        for t in range(n_rows):
            out[t, c] = False
            r = rets[t, c]
            if math.isnan(r):
                continue
            s_pos = max(0.0, s_pos + r)
            s_neg = min(0.0, s_neg + r)
            if s_pos > h:
                s_pos = 0.0
                out[t, c] = True
            if s_neg < -h:
                s_neg = 0.0
                out[t, c] = True
    return out


def triple_barrier_py(
    close: Any,
    open_: Any,
    high: Any,
    low: Any,
    rows: Any,
    cols: Any,
    upper_mult: Any,
    lower_mult: Any,
    sides: Any,
    horizon: int,
    use_hl: bool,
    meta: bool,
) -> tuple[Any, Any, Any, Any]:
    """Find the first barrier touched by each event.

    Parameters
    ----------
    close, open_, high, low : float64 (T, C)
        Prices; ``open_``, ``high`` and ``low`` are read only when ``use_hl``.
    rows, cols : int64 (N,)
        Row and column of each event's start ``t0`` (close there finite and > 0).
    upper_mult, lower_mult : float64 (N,)
        Barrier levels as multiples of ``close[t0]``; ``inf`` / ``-inf`` disable one.
    sides : float64 (N,)
        +1 or -1: with -1 the upper barrier is the stop loss, the lower the take profit.
    horizon : int
        The vertical barrier is ``min(t0 + horizon, T - 1)``.
    use_hl : bool
        Test the upper barrier on ``high`` and the lower on ``low`` and exit at the
        barrier (or at the open when the bar opens beyond it; when a bar touches both
        barriers, the one it opens beyond, else the stop loss); otherwise test and
        exit on closes.
    meta : bool
        Label 1 when ``side * ret > 0`` else 0 (meta-label); otherwise +1 / -1 for
        the take profit / stop loss and the sign of the return at the vertical barrier.

    Returns
    -------
    t1 : int64 (N,)
        Row of the exit; -1 when no touch and no finite close after ``t0`` in the window.
    ret : float64 (N,)
        ``side * (exit_price / close[t0] - 1)``.
    label : int64 (N,)
    barrier : int64 (N,)
        ``PT``, ``SL`` or ``VERTICAL`` (see :class:`Barrier`).
    """
    n_rows = close.shape[0]
    n = rows.shape[0]
    t1 = np.empty(n, dtype=np.int64)
    ret = np.empty(n, dtype=np.float64)
    label = np.empty(n, dtype=np.int64)
    barrier = np.empty(n, dtype=np.int64)
    for i in range(n):
        r = rows[i]
        c = cols[i]
        p0 = close[r, c]
        up = p0 * upper_mult[i]
        lo = p0 * lower_mult[i]
        side = sides[i]
        end = min(r + horizon, n_rows - 1)
        hit = -1  # 0: upper, 1: lower
        exit_row = -1
        exit_price = math.nan
        last_row = -1
        last_price = math.nan
        for t in range(r + 1, end + 1):
            if use_hl:
                up_hit = high[t, c] >= up
                lo_hit = low[t, c] <= lo
                o = open_[t, c]
                if up_hit and lo_hit:
                    # Both in one bar: the barrier the bar opens beyond came first;
                    # otherwise the order is unknown and the stop loss wins.
                    if o >= up:
                        lo_hit = False
                    elif o <= lo or side > 0:
                        up_hit = False
                    else:
                        lo_hit = False
                if up_hit:
                    hit = 0
                    exit_price = o if o >= up else up
                elif lo_hit:
                    hit = 1
                    exit_price = o if o <= lo else lo
            else:
                v = close[t, c]
                if v >= up:
                    hit = 0
                    exit_price = v
                elif v <= lo:
                    hit = 1
                    exit_price = v
            if hit >= 0:
                exit_row = t
                break
            v = close[t, c]
            if not math.isnan(v):
                last_row = t
                last_price = v
        if hit < 0:
            if last_row < 0:
                t1[i] = NO_EXIT
                ret[i] = math.nan
                label[i] = 0
                barrier[i] = VERTICAL
                continue
            exit_row = end
            exit_price = last_price
        sret = side * (exit_price / p0 - 1.0)
        if hit == 0:
            code = PT if side > 0 else SL
        elif hit == 1:
            code = SL if side > 0 else PT
        else:
            code = VERTICAL
        if meta:
            lab = 1 if sret > 0.0 else 0
        elif code == PT:
            lab = 1
        elif code == SL:
            lab = -1
        else:
            lab = 1 if sret > 0.0 else (-1 if sret < 0.0 else 0)
        t1[i] = exit_row
        ret[i] = sret
        label[i] = lab
        barrier[i] = code
    return t1, ret, label, barrier


def trend_scan_py(close: Any, rows: Any, cols: Any, horizons: Any) -> tuple[Any, Any, Any]:
    """Pick, for each event, the forward window whose linear trend is most significant.

    Parameters
    ----------
    close : float64 (T, C)
        Prices.
    rows, cols : int64 (N,)
        Row and column of each event's start ``t0``.
    horizons : int64 (H,)
        Candidate window lengths ``h >= 2``, sorted ascending; window ``[t0, t0 + h]``.

    Returns
    -------
    t1 : int64 (N,)
        ``t0 + h`` of the best window; -1 when no window is complete (inside the
        panel, no NaN).
    t_value : float64 (N,)
        t-statistic of the OLS slope of ``close`` on ``0, 1, ..., h`` (``±inf`` for
        a perfect non-flat line, i.e. residuals below 1e-12 of the variation, 0 for a
        flat one).
    ret : float64 (N,)
        ``close[t1] / close[t0] - 1``.
    """
    n_rows = close.shape[0]
    n = rows.shape[0]
    n_h = horizons.shape[0]
    h_max = horizons[n_h - 1]
    t1 = np.empty(n, dtype=np.int64)
    t_value = np.empty(n, dtype=np.float64)
    ret = np.empty(n, dtype=np.float64)
    for i in range(n):
        r = rows[i]
        c = cols[i]
        y0 = close[r, c]
        best_abs = -1.0
        best_t = math.nan
        best_row = -1
        # Running sums of y - y0 (a shift changes neither slope nor residuals).
        sy = 0.0
        sxy = 0.0
        syy = 0.0
        k_h = 0
        for k in range(1, h_max + 1):
            t = r + k
            if t >= n_rows:
                break
            y = close[t, c] - y0
            if math.isnan(y):
                break
            sy += y
            sxy += k * y
            syy += y * y
            if k != horizons[k_h]:
                continue
            k_h += 1
            m = k + 1.0  # observations 0..k
            x_mean = k / 2.0
            sxx_c = m * (m * m - 1.0) / 12.0
            y_mean = sy / m
            sxy_c = sxy - m * x_mean * y_mean
            syy_c = syy - m * y_mean * y_mean
            slope = sxy_c / sxx_c
            ssr = max(syy_c - slope * sxy_c, 0.0)
            # Residuals below 1e-12 of the variation are rounding: a perfect line.
            if ssr > 1e-12 * syy_c:
                tv = slope / math.sqrt(ssr / (m - 2.0) / sxx_c)
            elif slope > 0.0:
                tv = math.inf
            elif slope < 0.0:
                tv = -math.inf
            else:
                tv = 0.0
            if abs(tv) > best_abs:
                best_abs = abs(tv)
                best_t = tv
                best_row = t
            if k_h == n_h:
                break
        t1[i] = best_row
        t_value[i] = best_t
        ret[i] = close[best_row, c] / y0 - 1.0 if best_row >= 0 else math.nan
    return t1, t_value, ret


def seq_bootstrap_py(
    cells: Any, starts: Any, cell_ptr: Any, cell_labels: Any, uniforms: Any
) -> Any:
    """Draw labels one at a time with probability proportional to their uniqueness.

    Parameters
    ----------
    cells : int64 (L,)
        Cell ids (symbol x bar, numbered 0 .. K-1) covered by the labels, label by label.
    starts : int64 (N + 1,)
        Label ``i`` covers ``cells[starts[i]:starts[i + 1]]`` (at least one cell).
    cell_ptr : int64 (K + 1,)
        Labels covering cell ``k`` are ``cell_labels[cell_ptr[k]:cell_ptr[k + 1]]``.
    cell_labels : int64 (L,)
        See ``cell_ptr``.
    uniforms : float64 (n,)
        One uniform draw in [0, 1) per sample.

    Returns
    -------
    int64 (n,)
        Label positions. Draw ``k`` picks the first label whose running sum of average
        uniqueness exceeds ``uniforms[k]`` times the total, where the average
        uniqueness of label ``i`` is the mean over its cells of ``1 / (c + 1)``, ``c``
        being the number of earlier draws covering the cell (AFML snippet 4.5).
    """
    n_labels = starts.shape[0] - 1
    n_cells = cell_ptr.shape[0] - 1
    n = uniforms.shape[0]
    counts = np.zeros(n_cells, dtype=np.float64)
    avg = np.ones(n_labels, dtype=np.float64)
    stamp = np.full(n_labels, -1, dtype=np.int64)
    out = np.empty(n, dtype=np.int64)
    for k in range(n):
        total = 0.0
        for i in range(n_labels):
            total += avg[i]
        target = uniforms[k] * total
        acc = 0.0
        j = n_labels - 1
        for i in range(n_labels):
            acc += avg[i]
            if acc > target:
                j = i
                break
        out[k] = j
        for p in range(starts[j], starts[j + 1]):
            counts[cells[p]] += 1.0
        # Only labels sharing a cell with label j change their uniqueness.
        for p in range(starts[j], starts[j + 1]):
            cell = cells[p]
            for q in range(cell_ptr[cell], cell_ptr[cell + 1]):
                i = cell_labels[q]
                if stamp[i] == k:
                    continue
                stamp[i] = k
                acc = 0.0
                for m in range(starts[i], starts[i + 1]):
                    acc += 1.0 / (counts[cells[m]] + 1.0)
                avg[i] = acc / (starts[i + 1] - starts[i])
    return out


@cache
def _compiled() -> dict[str, Callable[..., Any]]:
    # Compile on first use; numba caches the machine code on disk between sessions.
    from numba import njit

    return {
        "cusum": njit(cache=True)(cusum_py),
        "triple_barrier": njit(cache=True)(triple_barrier_py),
        "trend_scan": njit(cache=True)(trend_scan_py),
        "seq_bootstrap": njit(cache=True)(seq_bootstrap_py),
    }


def cusum_nb(rets: Any, thresholds: Any, out: Any) -> Any:
    """Run :func:`cusum_py` compiled with numba (same arguments, same results)."""
    return _compiled()["cusum"](rets, thresholds, out)


def triple_barrier_nb(*args: Any) -> tuple[Any, Any, Any, Any]:
    """Run :func:`triple_barrier_py` compiled with numba (same arguments, same results)."""
    out: tuple[Any, Any, Any, Any] = _compiled()["triple_barrier"](*args)
    return out


def trend_scan_nb(*args: Any) -> tuple[Any, Any, Any]:
    """Run :func:`trend_scan_py` compiled with numba (same arguments, same results)."""
    out: tuple[Any, Any, Any] = _compiled()["trend_scan"](*args)
    return out


def seq_bootstrap_nb(*args: Any) -> Any:
    """Run :func:`seq_bootstrap_py` compiled with numba (same arguments, same results)."""
    return _compiled()["seq_bootstrap"](*args)
