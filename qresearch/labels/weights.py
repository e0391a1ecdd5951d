"""Sample weights for overlapping labels (AFML chapter 4).

Labels whose lives ``[t0, t1]`` overlap share information. These functions measure
the overlap (concurrency), weight each label by its average uniqueness, its
attributed absolute return or a time decay, and draw a sequential bootstrap.

Convention for panels: concurrency is counted per symbol. A bar of symbol ``s`` is
shared only by labels of ``s`` whose life spans it; labels of different symbols never
overlap (AFML works with one series; this applies it to each symbol).

All functions take the long label frame of the label functions (MultiIndex
``(timestamp=t0, symbol)``, a ``t1`` column) and the bar index the labels were built
on (``close.index``); a label's life is every bar from ``t0`` to ``t1``, both included.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import pandas as pd

from qresearch._typing import Float64Array, Int64Array
from qresearch._validation import _preview
from qresearch.exceptions import AlignmentError, ParameterError
from qresearch.labels._common import check_int, check_labels, label_positions, price_array

__all__ = [
    "num_concurrent_events",
    "return_attribution_weights",
    "seq_bootstrap",
    "time_decay_weights",
    "uniqueness_weights",
]


def _counts(p0: Int64Array, p1: Int64Array, codes: Int64Array, n_rows: int, n_sym: int) -> Any:
    # (T, S) number of labels of each symbol alive at each bar (difference array).
    diff = np.zeros((n_rows + 1, n_sym), dtype=np.int64)
    np.add.at(diff, (p0, codes), 1)
    np.add.at(diff, (p1 + 1, codes), -1)
    return np.cumsum(diff, axis=0)[:n_rows]


def _symbols_frame(values: Any, index: pd.DatetimeIndex, symbols: pd.Index) -> pd.DataFrame:
    columns = pd.Index(symbols, name="symbol")
    return pd.DataFrame(values, index=index, columns=columns)


def num_concurrent_events(labels: pd.DataFrame, index: pd.DatetimeIndex) -> pd.DataFrame:
    """Count, per symbol and bar, the labels whose life spans the bar (AFML 4.1).

    Parameters
    ----------
    labels : pandas.DataFrame
        Long label frame: MultiIndex (``timestamp`` = t0, ``symbol``), column ``t1``.
    index : pandas.DatetimeIndex
        The bars (``close.index``); every t0 and t1 must be one of them.

    Returns
    -------
    pandas.DataFrame
        Integer panel (``index`` x the symbols of ``labels``, sorted): the number of
        labels of that symbol with ``t0 <= bar <= t1``.

    Raises
    ------
    PanelError
        When ``labels`` or ``index`` is malformed (no ``t1``, t1 before t0, ...).
    AlignmentError
        When a t0 or t1 is not in ``index``.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2020-01-01", periods=5, name="timestamp")
    >>> labels = pd.DataFrame(
    ...     {"t1": idx[[2, 3]]},
    ...     index=pd.MultiIndex.from_arrays([idx[[0, 1]], ["A", "A"]],
    ...                                     names=["timestamp", "symbol"]))
    >>> num_concurrent_events(labels, idx)["A"].tolist()
    [1, 2, 2, 1, 0]
    """
    p0, p1, codes, symbols = label_positions(labels, index, "num_concurrent_events")
    counts = _counts(p0, p1, codes, len(index), len(symbols))
    return _symbols_frame(counts, index, symbols)


def _inverse_counts(counts: Any) -> Float64Array:
    # 1 / c where c > 0, else 0.
    c = counts.astype(np.float64)
    out = np.zeros_like(c)
    np.divide(1.0, c, out=out, where=c > 0)
    return out


def uniqueness_weights(labels: pd.DataFrame, index: pd.DatetimeIndex) -> pd.Series:
    """Return each label's average uniqueness over its life (AFML 4.2).

    The uniqueness of a label at a bar is ``1 / c``, ``c`` the number of labels of the
    same symbol alive at that bar (:func:`num_concurrent_events`); the weight is its
    mean over the bars ``t0 .. t1``.

    Parameters
    ----------
    labels : pandas.DataFrame
        Long label frame: MultiIndex (``timestamp`` = t0, ``symbol``), column ``t1``.
    index : pandas.DatetimeIndex
        The bars (``close.index``).

    Returns
    -------
    pandas.Series
        Weights in (0, 1], indexed like ``labels``, named ``"uniqueness"``.

    Raises
    ------
    PanelError, AlignmentError
        As :func:`num_concurrent_events`.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2020-01-01", periods=4, name="timestamp")
    >>> labels = pd.DataFrame(
    ...     {"t1": idx[[1, 3]]},
    ...     index=pd.MultiIndex.from_arrays([idx[[0, 1]], ["A", "A"]],
    ...                                     names=["timestamp", "symbol"]))
    >>> uniqueness_weights(labels, idx).round(4).tolist()
    [0.75, 0.8333]
    """
    p0, p1, codes, symbols = label_positions(labels, index, "uniqueness_weights")
    inv = _inverse_counts(_counts(p0, p1, codes, len(index), len(symbols)))
    cum = np.zeros((len(index) + 1, len(symbols)), dtype=np.float64)
    np.cumsum(inv, axis=0, out=cum[1:])
    avg = (cum[p1 + 1, codes] - cum[p0, codes]) / (p1 - p0 + 1)
    return pd.Series(avg, index=labels.index, name="uniqueness")


def return_attribution_weights(labels: pd.DataFrame, close: pd.DataFrame) -> pd.Series:
    """Weight labels by the absolute log return they earn alone (AFML 4.10).

    For a label of symbol ``s`` the weight is
    ``|sum over bars t0 < t <= t1 of r_t / c_t|``, with ``r_t`` the log return of
    ``s`` into bar t (from the last finite price) and ``c_t`` the concurrency of ``s`` at t;
    the weights are then scaled to sum to the number of labels.

    Parameters
    ----------
    labels : pandas.DataFrame
        Long label frame: MultiIndex (``timestamp`` = t0, ``symbol``), column ``t1``.
    close : pandas.DataFrame
        The price panel the labels were built on (positive prices).

    Returns
    -------
    pandas.Series
        Non-negative weights indexed like ``labels``, named ``"return_attribution"``;
        all equal to 1 when every label earns exactly 0.

    Raises
    ------
    PanelError, AlignmentError
        When a panel is malformed, or a label's symbol, t0 or t1 is not in ``close``.

    Notes
    -----
    AFML snippet 4.10 sums over ``t0 <= t <= t1``, which includes the return into
    ``t0`` (earned before the label starts); here the sum starts after ``t0``, and the
    concurrency ``c_t`` dividing each return counts the labels that earn it
    (``t0 < t <= t1``), so back-to-back labels share nothing and every return is
    attributed in full. A return across a NaN gap is measured from the last finite
    price (as ``triple_barrier`` measures ``ret``).

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2020-01-01", periods=3, name="timestamp")
    >>> close = pd.DataFrame({"A": [100.0, 110.0, 99.0]}, index=idx)
    >>> labels = pd.DataFrame(
    ...     {"t1": idx[[1, 2]]},
    ...     index=pd.MultiIndex.from_arrays([idx[[0, 1]], ["A", "A"]],
    ...                                     names=["timestamp", "symbol"]))
    >>> return_attribution_weights(labels, close).round(4).tolist()
    [0.9499, 1.0501]
    """
    func = "return_attribution_weights"
    values = price_array(close, "close", func)
    p0, p1, codes, symbols = label_positions(labels, close.index, func)
    col = close.columns.get_indexer(symbols)
    if (col < 0).any():
        missing = list(symbols[col < 0])
        raise AlignmentError(
            f"labels passed to {func} have symbols not in close: {_preview(missing)}. "
            "Pass the price panel the labels were built on."
        )
    n_rows = len(close.index)
    # Log returns from the last finite price, so a move across a NaN gap is kept (as in
    # triple_barrier's ``ret``); 0 before a symbol's first price.
    logp = pd.DataFrame(np.log(values[:, col])).ffill().to_numpy()
    rets = np.zeros_like(logp)
    rets[1:] = logp[1:] - logp[:-1]
    rets[~np.isfinite(rets)] = 0.0
    # The return of bar t is shared by the labels that earn it, those with
    # t0 < t <= t1: concurrency counted with the same rule as the sum.
    inv = _inverse_counts(_counts(p0 + 1, p1, codes, n_rows, len(symbols)))
    cum = np.zeros((n_rows + 1, len(symbols)), dtype=np.float64)
    np.cumsum(rets * inv, axis=0, out=cum[1:])
    w = np.abs(cum[p1 + 1, codes] - cum[p0 + 1, codes])
    total = w.sum()
    w = w * (len(w) / total) if total > 0 else np.ones_like(w)
    return pd.Series(w, index=labels.index, name="return_attribution")


def time_decay_weights(uniqueness: pd.Series, last_weight: float = 1.0) -> pd.Series:
    """Decay weights linearly with cumulative uniqueness, oldest first (AFML 4.11).

    Labels are ordered by their index (t0, then symbol); with ``x`` the cumulative
    uniqueness and ``X`` its total, the weight is ``max(0, a + b x)`` where the
    newest label gets 1 and

    - ``0 <= last_weight <= 1``: ``b = (1 - last_weight) / X``, so the oldest
      weight tends to ``last_weight`` (1 = no decay);
    - ``-1 < last_weight < 0``: ``b = 1 / ((last_weight + 1) X)``, so the oldest
      ``-last_weight`` fraction of cumulative uniqueness gets weight 0.

    Parameters
    ----------
    uniqueness : pandas.Series
        Non-negative weights, e.g. from :func:`uniqueness_weights`, indexed by the
        label MultiIndex (or any sortable time index).
    last_weight : float, default 1.0
        In (-1, 1], see above.

    Returns
    -------
    pandas.Series
        Weights in [0, 1], in the order of ``uniqueness``, named ``"time_decay"``.

    Raises
    ------
    ParameterError
        When ``last_weight`` is outside (-1, 1] or ``uniqueness`` is empty,
        non-numeric, negative, NaN or sums to 0.

    Examples
    --------
    >>> import pandas as pd
    >>> u = pd.Series([1.0, 1.0, 1.0, 1.0], index=pd.date_range("2020", periods=4))
    >>> time_decay_weights(u, last_weight=0.0).tolist()
    [0.25, 0.5, 0.75, 1.0]
    >>> time_decay_weights(u, last_weight=-0.5).tolist()
    [0.0, 0.0, 0.5, 1.0]
    """
    func = "time_decay_weights"
    ok = (
        isinstance(last_weight, numbers.Real)
        and not isinstance(last_weight, bool | np.bool_)
        and math.isfinite(float(last_weight))
        and -1.0 < float(last_weight) <= 1.0
    )
    if not ok:
        raise ParameterError(
            f"The 'last_weight' parameter of {func} must be a number in (-1, 1]; "
            f"got {last_weight!r} instead."
        )
    if not isinstance(uniqueness, pd.Series) or not pd.api.types.is_numeric_dtype(uniqueness.dtype):
        raise ParameterError(
            f"The 'uniqueness' argument of {func} must be a numeric pandas Series (e.g. "
            f"from uniqueness_weights); got {type(uniqueness).__name__}."
        )
    values = uniqueness.to_numpy(dtype=np.float64, na_value=np.nan)
    if len(values) == 0 or not np.isfinite(values).all() or (values < 0).any():
        raise ParameterError(
            f"The 'uniqueness' argument of {func} must be a non-empty Series of finite "
            f"values >= 0; got {len(values)} values, min {np.nanmin(values, initial=0.0)!r}, "
            f"{int(np.isnan(values).sum())} NaN."
        )
    if uniqueness.index.is_monotonic_increasing:
        order = np.arange(len(values))
    else:  # oldest first; ties keep their order
        order = np.asarray(uniqueness.index.argsort(kind="stable"), dtype=np.int64)
    cum = np.cumsum(values[order])
    total = cum[-1]
    if total <= 0:
        raise ParameterError(
            f"The 'uniqueness' argument of {func} sums to 0; time decay needs positive uniqueness."
        )
    # c >= 0: the oldest weight tends to c; c < 0: the oldest -c share gets 0.
    slope = (1.0 - last_weight) / total if last_weight >= 0 else 1.0 / ((last_weight + 1.0) * total)
    const = 1.0 - slope * total
    decayed = np.maximum(const + slope * cum, 0.0)
    out = np.empty_like(decayed)
    out[order] = decayed
    return pd.Series(out, index=uniqueness.index, name="time_decay")


def seq_bootstrap(
    labels: pd.DataFrame,
    n: int | None = None,
    seed: int | np.random.Generator | None = None,
    index: pd.DatetimeIndex | None = None,
) -> Int64Array:
    """Draw a sequential bootstrap sample of labels (AFML 4.5).

    Each draw picks a label with probability proportional to its average uniqueness
    given the labels drawn so far: the mean over its bars of ``1 / (c + 1)``, ``c``
    the number of earlier draws of the same symbol alive at the bar. Overlapping
    labels are thus drawn less often than in a standard bootstrap.

    Parameters
    ----------
    labels : pandas.DataFrame
        Long label frame: MultiIndex (``timestamp`` = t0, ``symbol``), column ``t1``.
    n : int, optional
        Sample size (>= 1); default the number of labels.
    seed : int, numpy.random.Generator or None
        Randomness; the same seed gives the same sample.
    index : pandas.DatetimeIndex, optional
        The bars (``close.index``). Default: the sorted union of all t0 and t1, which
        gives the same result whenever every bar starts or ends some label.

    Returns
    -------
    numpy.ndarray
        ``n`` integer positions into ``labels`` (use ``labels.iloc[sample]``).

    Raises
    ------
    PanelError, AlignmentError
        As :func:`num_concurrent_events`.
    ParameterError
        When ``n`` < 1 or ``labels`` is empty.

    Notes
    -----
    One draw costs O(number of labels) plus the overlap of the drawn label, in a
    numba kernel: ``n`` draws from ``N`` labels take O(n N).

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2020-01-01", periods=6, name="timestamp")
    >>> labels = pd.DataFrame(
    ...     {"t1": idx[[2, 3, 5]]},
    ...     index=pd.MultiIndex.from_arrays([idx[[0, 2, 4]], ["A", "A", "A"]],
    ...                                     names=["timestamp", "symbol"]))
    >>> sample = seq_bootstrap(labels, n=5, seed=0)
    >>> sample.shape, bool(((sample >= 0) & (sample < 3)).all())
    ((5,), True)
    """
    func = "seq_bootstrap"
    check_labels(labels, func)
    if len(labels) == 0:
        raise ParameterError(f"The 'labels' argument of {func} is empty; nothing to draw.")
    n_draws = len(labels) if n is None else check_int("n", n, func)
    if index is None:
        t0 = labels.index.get_level_values(0)
        index = t0.union(pd.DatetimeIndex(labels["t1"])).unique().sort_values()
    p0, p1, codes, _ = label_positions(labels, index, func)
    lengths = p1 - p0 + 1
    starts = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    # Cell of label i at its k-th bar: symbol * T + (p0 + k), renumbered 0 .. K-1.
    label_of = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    offset = np.arange(starts[-1], dtype=np.int64) - starts[label_of]
    raw = codes[label_of] * len(index) + p0[label_of] + offset
    uniq, cells = np.unique(raw, return_inverse=True)
    cells = cells.astype(np.int64)
    by_cell = np.argsort(cells, kind="stable")
    cell_ptr = np.zeros(len(uniq) + 1, dtype=np.int64)
    np.cumsum(np.bincount(cells, minlength=len(uniq)), out=cell_ptr[1:])
    cell_labels = np.ascontiguousarray(label_of[by_cell])
    uniforms = np.random.default_rng(seed).random(n_draws)
    from qresearch.labels._nb import seq_bootstrap_nb

    out: Int64Array = seq_bootstrap_nb(cells, starts, cell_ptr, cell_labels, uniforms)
    return out
