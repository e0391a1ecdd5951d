"""Bet sizing from predicted probabilities (López de Prado, AFML chapter 10).

- :func:`bet_size`: ``m = 2 * Phi(z) - 1`` with ``z = (p - 1/K) / sqrt(p (1 - p))``,
  the size implied by the probability ``p`` of the predicted class among ``K``
  (AFML 10.1), optionally times the side and discretized;
- :func:`discretize_bet`: round sizes to multiples of a step (AFML 10.3);
- :func:`average_active_bets`: average the sizes of all bets still open at each bar
  (AFML 10.2), so that overlapping bets do not pile up;
- :func:`bet_size_dynamic` and :func:`sigmoid_width`: the sigmoid size
  ``x / sqrt(w + x**2)`` of a forecast-price divergence ``x`` (AFML 10.4).

``scipy`` (the normal CDF) is imported only when :func:`bet_size` runs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from qresearch._validation import check_datetime_index, check_same_tz
from qresearch.exceptions import AlignmentError, PanelError, ParameterError
from qresearch.signals._common import (
    check_int,
    check_like,
    check_real,
    float_series_or_panel,
    wrap_like,
)

__all__ = [
    "average_active_bets",
    "bet_size",
    "bet_size_dynamic",
    "discretize_bet",
    "sigmoid_width",
]


def _check_step(step: Any, func: str) -> float:
    value = check_real("step", step, func)
    if not 0.0 < value <= 1.0:
        raise ParameterError(
            f"The 'step' parameter of {func} must be in (0, 1], e.g. 0.1 for sizes in "
            f"multiples of 10%; got {step!r}."
        )
    return value


def _first_bad(obj: pd.Series | pd.DataFrame, bad: np.ndarray) -> str:
    # Describe the first offending cell: "(timestamp, symbol) = value" or "label = value".
    pos = np.argwhere(bad)[0]
    if isinstance(obj, pd.DataFrame):
        value = float(obj.iat[pos[0], pos[1]])
        return f"{obj.columns[pos[1]]!r} at {obj.index[pos[0]]} = {value!r}"
    return f"{obj.index[pos[0]]!r} = {float(obj.iat[pos[0]])!r}"


def _discretize(values: np.ndarray, step: float) -> np.ndarray:
    # Nearest multiple of step (halves to even, numpy.round), clipped to [-1, 1];
    # adding 0.0 turns -0.0 into 0.0.
    return np.clip(np.round(values / step) * step, -1.0, 1.0) + 0.0


def discretize_bet(size: pd.Series | pd.DataFrame, step: float) -> pd.Series | pd.DataFrame:
    """Round bet sizes to the nearest multiple of ``step`` and clip them to [-1, 1].

    Discrete sizes avoid trading on every small change of the predicted
    probability (AFML 10.3).

    Parameters
    ----------
    size : Series or DataFrame
        Bet sizes (a panel, or a Series indexed by labels); NaN stays NaN.
    step : float
        Step in (0, 1], e.g. 0.1. Halfway values round to the even multiple.

    Returns
    -------
    Series or DataFrame
        Same kind, index (and columns) as ``size``, float64.

    Notes
    -----
    Causal: elementwise.

    Examples
    --------
    >>> import pandas as pd
    >>> discretize_bet(pd.Series([0.07, -0.74, 0.99, 1.3]), 0.25).tolist()
    [0.0, -0.75, 1.0, 1.0]
    """
    func = "discretize_bet"
    values = float_series_or_panel(size, "size", func)
    s = _check_step(step, func)
    return wrap_like(_discretize(values.to_numpy(), s), values)


def bet_size(
    prob: pd.Series | pd.DataFrame,
    n_classes: int = 2,
    step: float | None = None,
    side: pd.Series | pd.DataFrame | None = None,
) -> pd.Series | pd.DataFrame:
    r"""Return the bet size implied by the probability of the predicted outcome.

    .. math::

        z = \frac{p - 1/K}{\sqrt{p (1 - p)}}, \qquad m = 2\,\Phi(z) - 1

    (AFML 10.1): ``m`` is 0 at ``p = 1/K`` and tends to 1 as ``p`` tends to 1; a
    probability below ``1/K`` gives a negative size. With ``side`` (the side of a
    primary model, ``prob`` then being a meta-labeling classifier's probability that
    the bet pays, P(label = 1)) the size is ``max(m, 0) * side``: a probability at or
    below ``1/K`` means "don't bet" and gives 0, never a bet against the primary
    model (AFML's ``getSignal`` with ``pred = 1{p > 1/K}``). With ``step`` the size
    is then discretized (:func:`discretize_bet`).

    Parameters
    ----------
    prob : Series or DataFrame
        Probabilities in [0, 1] of the predicted class: a panel (dates x symbols) or
        a Series indexed like labels, e.g. (timestamp, symbol). NaN stays NaN.
    n_classes : int, default 2
        Number of classes ``K`` of the classifier (>= 2).
    step : float, optional
        Discretization step in (0, 1].
    side : Series or DataFrame, optional
        Direction of each bet, -1, 0 or 1 (NaN gives NaN), aligned with ``prob``.

    Returns
    -------
    Series or DataFrame
        Sizes in [-1, 1], same kind, index (and columns) as ``prob``.

    Notes
    -----
    Causal: elementwise, so a size at ``t`` uses the probability (and side) at ``t``.

    Examples
    --------
    >>> import pandas as pd
    >>> p = pd.Series([0.5, 0.6, 0.9, 1.0, 0.3])
    >>> bet_size(p).round(4).tolist()
    [0.0, 0.1617, 0.8176, 1.0, -0.3375]
    >>> bet_size(p, step=0.5, side=pd.Series([1, -1, -1, 1, 1])).tolist()
    [0.0, 0.0, -1.0, 1.0, 0.0]
    >>> round(float(bet_size(pd.Series([0.5]), n_classes=3).iloc[0]), 4)  # 3 classes
    0.2611
    """
    from scipy.special import ndtr

    func = "bet_size"
    p = float_series_or_panel(prob, "prob", func)
    k = check_int("n_classes", n_classes, func, minimum=2)
    values = p.to_numpy()
    outside = (values < 0.0) | (values > 1.0)
    if outside.any():
        raise ParameterError(
            f"prob passed to {func} must hold probabilities in [0, 1]; got "
            f"{_first_bad(p, outside)}. Pass classifier.predict_proba(...).max(axis=1)."
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (values - 1.0 / k) / np.sqrt(values * (1.0 - values))
    size = 2.0 * ndtr(z) - 1.0
    if side is not None:
        direction = check_like(p, side, "prob", "side", func)
        d = direction.to_numpy()
        invalid = ~np.isnan(d) & ~np.isin(d, [-1.0, 0.0, 1.0])
        if invalid.any():
            raise ParameterError(
                f"side passed to {func} must hold -1, 0 or 1 (or NaN); got "
                f"{_first_bad(direction, invalid)}. Use np.sign(side)."
            )
        size = np.maximum(size, 0.0) * d + 0.0  # meta-labels: 0 = don't bet; no -0.0
    if step is not None:
        size = _discretize(size, _check_step(step, func))
    return wrap_like(size, p)


def _long_parts(
    sizes: pd.Series, func: str
) -> tuple[pd.DatetimeIndex, np.ndarray | None, pd.Index | None]:
    # t0 timestamps of a Series indexed by t0 or by (timestamp, symbol), the symbol code
    # of each row (None for a single series) and the symbols.
    index = sizes.index
    if isinstance(index, pd.MultiIndex):
        if index.nlevels != 2:
            raise PanelError(
                f"sizes passed to {func} must be indexed by t0 or by (timestamp, symbol); "
                f"got a MultiIndex with {index.nlevels} levels {list(index.names)}."
            )
        t0 = index.get_level_values(0)
        codes, symbols = pd.factorize(index.get_level_values(1), sort=True)
    else:
        t0, codes, symbols = index, None, None
    if not isinstance(t0, pd.DatetimeIndex) or t0.hasnans:
        raise PanelError(
            f"sizes passed to {func} must be indexed by the bet start times t0 (a "
            f"DatetimeIndex, or (timestamp, symbol) as labels are); got "
            f"{type(t0).__name__} {list(t0[:3])}."
        )
    return t0, codes, symbols


def _active_mean(
    t0: np.ndarray, t1: np.ndarray, size: np.ndarray, bars: np.ndarray, include_end: bool
) -> np.ndarray:
    # Mean size of the bets with t0 <= bar < t1 (<= t1 with include_end) at each bar,
    # 0 where none is active. All times are int64 nanoseconds; t1 = int64 max is open.
    order0 = np.argsort(t0, kind="stable")
    order1 = np.argsort(t1, kind="stable")
    csum0 = np.concatenate([[0.0], np.cumsum(size[order0])])
    csum1 = np.concatenate([[0.0], np.cumsum(size[order1])])
    started = np.searchsorted(t0[order0], bars, side="right")
    ended = np.searchsorted(t1[order1], bars, side="left" if include_end else "right")
    count = started - ended
    total = csum0[started] - csum1[ended]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def average_active_bets(
    sizes: pd.Series,
    t1: pd.Series,
    index: pd.DatetimeIndex,
    *,
    include_end: bool = False,
) -> pd.Series | pd.DataFrame:
    """Average, at each bar, the sizes of all bets still active (AFML 10.2).

    A bet opened at ``t0`` (its index) with outcome known at ``t1`` is active at the
    bars ``t0 <= bar < t1``: at ``t1`` it is closed, so a position decided at the
    close of ``t1`` no longer includes it (AFML's ``avgActiveSignals``). With
    ``include_end=True`` it is also active at ``t1``. ``t1 = NaT`` means still open.
    Bars without an active bet get 0.

    Parameters
    ----------
    sizes : pandas.Series
        Bet sizes indexed by ``t0`` (one series), or by (timestamp, symbol) as
        labels are (e.g. ``bet_size(prob)`` of a label frame). No NaN.
    t1 : pandas.Series
        End time of each bet, with the same index as ``sizes`` (``labels["t1"]``).
    index : pandas.DatetimeIndex
        The bars at which to average, e.g. ``close.index``.
    include_end : bool, default False
        Count a bet as active on its ``t1`` bar too.

    Returns
    -------
    Series or DataFrame
        A Series on ``index`` for a t0-indexed ``sizes``; a panel (``index`` x
        symbols, sorted) for a (timestamp, symbol)-indexed one.

    Notes
    -----
    The average at a bar uses the bets opened up to that bar and whether each has
    ended by then, which is known at that bar.

    Examples
    --------
    >>> import pandas as pd
    >>> t0 = pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-04"])
    >>> sizes = pd.Series([1.0, 0.5, -0.5], index=t0)
    >>> t1 = pd.Series(pd.to_datetime(["2024-01-03", "2024-01-05", "NaT"]), index=t0)
    >>> bars = pd.date_range("2024-01-01", periods=6, name="timestamp")
    >>> average_active_bets(sizes, t1, bars).tolist()
    [1.0, 0.75, 0.5, 0.0, -0.5, -0.5]
    """
    func = "average_active_bets"
    if not isinstance(sizes, pd.Series) or not isinstance(t1, pd.Series):
        bad = "sizes" if not isinstance(sizes, pd.Series) else "t1"
        raise PanelError(
            f"{bad} passed to {func} must be a pandas Series indexed by t0 or by "
            f"(timestamp, symbol); got {type(sizes if bad == 'sizes' else t1).__name__}."
        )
    values = float_series_or_panel(sizes, "sizes", func)
    if values.isna().any():
        raise ParameterError(
            f"sizes passed to {func} has NaN (first at {values.index[values.isna()][0]!r}); "
            "drop those bets first: sizes.dropna() and t1 = t1.loc[sizes.index]."
        )
    if not t1.index.equals(sizes.index):
        raise AlignmentError(
            f"sizes and t1 passed to {func} are not aligned: their indexes differ "
            f"(lengths {len(sizes)} and {len(t1)}). Use t1 = labels['t1'].loc[sizes.index]."
        )
    if not pd.api.types.is_datetime64_any_dtype(t1.dtype):
        raise PanelError(
            f"t1 passed to {func} must hold timestamps (labels['t1']); got dtype {t1.dtype}."
        )
    if not isinstance(index, pd.DatetimeIndex):
        raise PanelError(
            f"index passed to {func} must be a DatetimeIndex of bars (e.g. close.index); "
            f"got {type(index).__name__}."
        )
    check_datetime_index(index, "index")
    if not isinstance(include_end, bool):
        raise ParameterError(f"The 'include_end' parameter of {func} must be True or False.")
    t0, codes, symbols = _long_parts(values, func)
    ends = pd.DatetimeIndex(t1)
    check_same_tz([t0, ends, index], ["sizes index (t0)", "t1", "index"])
    t0_ns = t0.as_unit("ns").asi8
    t1_ns = ends.as_unit("ns").asi8.copy()
    open_ended = ends.isna()
    early = ~open_ended & (t1_ns < t0_ns)
    if early.any():
        pos = int(np.flatnonzero(early)[0])
        raise ParameterError(
            f"t1 passed to {func} must be >= t0; the bet {sizes.index[pos]!r} ends at "
            f"{ends[pos]}. Fix the labels."
        )
    t1_ns[open_ended] = np.iinfo(np.int64).max
    bars = index.as_unit("ns").asi8
    size = values.to_numpy()
    if codes is None or symbols is None:
        out = _active_mean(t0_ns, t1_ns, size, bars, include_end)
        return pd.Series(out, index=index, name=sizes.name)
    panel = np.zeros((len(bars), len(symbols)))
    for j in range(len(symbols)):
        rows = codes == j
        panel[:, j] = _active_mean(t0_ns[rows], t1_ns[rows], size[rows], bars, include_end)
    return pd.DataFrame(panel, index=index, columns=pd.Index(symbols, name="symbol"))


def sigmoid_width(divergence: float, size: float) -> float:
    """Return the width ``w`` at which a price divergence ``x`` gives the bet ``size``.

    Inverse of :func:`bet_size_dynamic`: ``w = x**2 * (1 / size**2 - 1)`` (AFML 10.4
    ``getW``), e.g. "a divergence of 10 should mean a 95% bet".

    Parameters
    ----------
    divergence : float
        Forecast price minus market price, non-zero.
    size : float
        The bet size wanted at that divergence, with ``0 < |size| < 1``.

    Returns
    -------
    float
        ``w > 0``.

    Examples
    --------
    >>> round(sigmoid_width(10.0, 0.95), 4)
    10.8033
    """
    func = "sigmoid_width"
    x = check_real("divergence", divergence, func)
    m = check_real("size", size, func)
    if x == 0.0:
        raise ParameterError(f"The 'divergence' parameter of {func} must be non-zero; got 0.")
    if not 0.0 < abs(m) < 1.0:
        raise ParameterError(
            f"The 'size' parameter of {func} must satisfy 0 < |size| < 1; got {size!r}."
        )
    return x * x * (1.0 / (m * m) - 1.0)


def bet_size_dynamic(
    forecast_price: pd.DataFrame | pd.Series,
    market_price: pd.DataFrame | pd.Series,
    width: float,
) -> pd.DataFrame | pd.Series:
    """Return the sigmoid bet size ``x / sqrt(width + x**2)`` of ``x = forecast - market``.

    The size grows with the divergence between a forecast price and the market
    price, from 0 (no divergence) towards +-1 (AFML 10.4 ``betSize``); calibrate
    ``width`` with :func:`sigmoid_width`.

    Parameters
    ----------
    forecast_price, market_price : DataFrame or Series
        Aligned panels (or Series with the same index); NaN gives NaN.
    width : float
        Sigmoid width ``w > 0``, in squared price units.

    Returns
    -------
    DataFrame or Series
        Sizes in (-1, 1), same kind, index (and columns) as ``forecast_price``.

    Notes
    -----
    Causal: elementwise.

    Examples
    --------
    >>> import pandas as pd
    >>> w = sigmoid_width(10.0, 0.95)
    >>> forecast = pd.Series([110.0, 100.0, 95.0])
    >>> bet_size_dynamic(forecast, pd.Series([100.0] * 3), w).round(4).tolist()
    [0.95, 0.0, -0.8357]
    """
    func = "bet_size_dynamic"
    forecast = float_series_or_panel(forecast_price, "forecast_price", func)
    market = check_like(forecast, market_price, "forecast_price", "market_price", func)
    w = check_real("width", width, func)
    if w <= 0:
        raise ParameterError(
            f"The 'width' parameter of {func} must be > 0 (calibrate it with "
            f"sigmoid_width(divergence, size)); got {width!r}."
        )
    x = forecast.to_numpy() - market.to_numpy()
    return wrap_like(x / np.sqrt(w + x * x), forecast)
