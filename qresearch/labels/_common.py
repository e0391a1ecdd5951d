"""Boundary helpers shared by the label modules (private).

They validate once at the public boundary and turn panels and event specifications
into the contiguous arrays the kernels take; no label function mutates its input.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from qresearch._typing import BoolArray, Float64Array, Int64Array
from qresearch._validation import _preview, check_aligned, check_panel
from qresearch._validation import check_int as check_int
from qresearch.exceptions import AlignmentError, PanelError, ParameterError

INDEX_NAMES = ["timestamp", "symbol"]


def price_array(close: Any, name: str, func: str) -> Float64Array:
    # Validate a price panel and return its values as a C-contiguous float64 array.
    # Prices must be positive: barriers and returns are relative to them.
    check_panel(close, name)
    arr = np.ascontiguousarray(close.to_numpy(dtype=np.float64, na_value=np.nan))
    bad = arr <= 0.0
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise PanelError(
            f"{name} passed to {func} must hold positive prices; got {float(arr[r, c])!r} for "
            f"{close.columns[c]!r} at {close.index[r]} ({int(bad.sum())} values <= 0). "
            f"Mark missing prices as NaN, e.g. {name} = {name}.where({name} > 0)."
        )
    return arr


def event_mask(events: Any, close: pd.DataFrame, func: str) -> BoolArray:
    # The (T, C) boolean mask of candidate event starts: None -> all True, a boolean
    # panel aligned with close, or a DatetimeIndex of timestamps (all symbols).
    shape = close.shape
    if events is None:
        return np.ones(shape, dtype=bool)
    if isinstance(events, pd.DataFrame):
        check_panel(events, "events")
        check_aligned(close, events, "close", "events")
        if not all(pd.api.types.is_bool_dtype(dt) for dt in events.dtypes):
            raise ParameterError(
                f"The 'events' panel of {func} must be boolean (True = event); got dtypes "
                f"{sorted({str(dt) for dt in events.dtypes})}. Convert it, e.g. "
                "events = events.fillna(False).astype(bool)."
            )
        return np.asarray(events.to_numpy(dtype=bool, na_value=False))
    if isinstance(events, pd.DatetimeIndex):
        if (events.tz is None) != (close.index.tz is None):
            raise AlignmentError(
                f"The 'events' timestamps of {func} and close.index must both be tz-naive or "
                f"both tz-aware; got events tz={events.tz}, close tz={close.index.tz}. "
                "Convert one with tz_localize / tz_convert."
            )
        pos = close.index.get_indexer(events.unique())
        if (pos < 0).any():
            missing = events.unique()[pos < 0]
            raise AlignmentError(
                f"{len(missing)} 'events' timestamps of {func} are not in close.index "
                f"(first {missing[0]}). Keep only known timestamps, e.g. "
                "events = events[events.isin(close.index)]."
            )
        mask = np.zeros(shape, dtype=bool)
        mask[pos, :] = True
        return mask
    raise ParameterError(
        f"The 'events' parameter of {func} must be None, a boolean panel aligned with close "
        f"or a DatetimeIndex; got {type(events).__name__}. For a list of dates pass "
        "pd.DatetimeIndex(dates)."
    )


def aligned_array(obj: Any, close: pd.DataFrame, name: str) -> Float64Array:
    # A numeric panel aligned with close, as a C-contiguous float64 array.
    check_panel(obj, name)
    check_aligned(close, obj, "close", name)
    return np.ascontiguousarray(obj.to_numpy(dtype=np.float64, na_value=np.nan))


def sorted_positions(mask: BoolArray, columns: pd.Index) -> tuple[Int64Array, Int64Array]:
    # Row and column positions of True cells, ordered by row, then by symbol (sorted
    # by value when the symbols are sortable, else in column order).
    order = symbol_order(columns)
    rows, k = np.nonzero(mask[:, order])
    return rows.astype(np.int64, copy=False), order[k]


def symbol_order(columns: pd.Index) -> Int64Array:
    # Column positions in sorted-symbol order (column order when not sortable).
    try:
        return np.argsort(np.asarray(columns), kind="stable").astype(np.int64)
    except TypeError:
        return np.arange(len(columns), dtype=np.int64)


def long_index(index: pd.DatetimeIndex, columns: pd.Index, rows: Any, cols: Any) -> pd.MultiIndex:
    # The (timestamp, symbol) MultiIndex of events given by their positions; built from
    # codes (no factorisation) and with only the levels used.
    order = symbol_order(columns)
    rank = np.empty(len(columns), dtype=np.int64)
    rank[order] = np.arange(len(columns))
    mi = pd.MultiIndex(
        levels=[index, columns[order]],
        codes=[np.asarray(rows), rank[np.asarray(cols)]],
        names=INDEX_NAMES,
        verify_integrity=False,
    )
    return mi.remove_unused_levels()


def label_positions(
    labels: Any, index: Any, func: str
) -> tuple[Int64Array, Int64Array, Int64Array, pd.Index]:
    # Validate a long label frame against a bar index and return, per label, the row
    # of t0, the row of t1, the symbol code and the symbols (codes index into them).
    if not isinstance(index, pd.DatetimeIndex):
        raise PanelError(
            f"The 'index' argument of {func} must be a DatetimeIndex (the bars, e.g. "
            f"close.index); got {type(index).__name__}."
        )
    if not index.is_unique or not index.is_monotonic_increasing:
        raise PanelError(
            f"The 'index' argument of {func} must be sorted and unique; sort it with "
            "index = index.unique().sort_values()."
        )
    check_labels(labels, func)
    t0 = labels.index.get_level_values(0)
    t1 = pd.DatetimeIndex(labels["t1"])
    p0 = index.get_indexer(t0)
    p1 = index.get_indexer(t1)
    for name, pos, values in (("t0 (index level 0)", p0, t0), ("t1", p1, t1)):
        if (pos < 0).any():
            missing = values[pos < 0]
            raise AlignmentError(
                f"{int((pos < 0).sum())} label {name} timestamps passed to {func} are not "
                f"in index (first {missing[0]}). Pass the bar index the labels were built "
                "on, e.g. close.index."
            )
    level = labels.index.get_level_values(1)
    try:
        codes, symbols = pd.factorize(level, sort=True)
    except TypeError:  # symbols of mixed, unsortable types: first-seen order
        codes, symbols = pd.factorize(level, sort=False)
    return p0.astype(np.int64), p1.astype(np.int64), codes.astype(np.int64), pd.Index(symbols)


def check_labels(labels: Any, func: str) -> pd.DataFrame:
    # A long label frame: MultiIndex (timestamp, symbol), a datetime 't1' column with
    # no NaT and t1 >= t0.
    if not isinstance(labels, pd.DataFrame):
        raise PanelError(
            f"The 'labels' argument of {func} must be the DataFrame returned by a label "
            f"function (e.g. triple_barrier); got {type(labels).__name__}."
        )
    if not isinstance(labels.index, pd.MultiIndex) or labels.index.nlevels != 2:
        raise PanelError(
            f"The 'labels' argument of {func} must have a (timestamp, symbol) MultiIndex; "
            f"got {type(labels.index).__name__} with names {list(labels.index.names)}. "
            "Use the frame returned by triple_barrier or set_index(['timestamp', 'symbol'])."
        )
    if "t1" not in labels.columns:
        raise PanelError(
            f"The 'labels' argument of {func} needs a 't1' column (when each outcome is "
            f"known); got columns {_preview(labels.columns)}."
        )
    if not pd.api.types.is_datetime64_any_dtype(labels["t1"].dtype):
        raise PanelError(
            f"The 't1' column of labels passed to {func} must hold timestamps; got dtype "
            f"{labels['t1'].dtype}. Convert it with pd.to_datetime."
        )
    t1 = pd.DatetimeIndex(labels["t1"])
    t0 = labels.index.get_level_values(0)
    if not isinstance(t0, pd.DatetimeIndex):
        raise PanelError(
            f"The first index level of labels passed to {func} must hold timestamps (t0); "
            f"got {type(t0).__name__}."
        )
    if (t0.tz is None) != (t1.tz is None):
        fix = (
            f"labels['t1'] = labels['t1'].dt.tz_localize({str(t0.tz)!r})"
            if t0.tz is not None
            else "labels['t1'] = labels['t1'].dt.tz_localize(None)"
        )
        raise PanelError(
            f"labels passed to {func} mix time zones: t0 (the index) is "
            f"{'tz-aware (' + str(t0.tz) + ')' if t0.tz is not None else 'tz-naive'} and "
            f"'t1' is {'tz-aware (' + str(t1.tz) + ')' if t1.tz is not None else 'tz-naive'}. "
            f"Make them agree, e.g. {fix}."
        )
    if t1.hasnans:
        raise PanelError(
            f"labels passed to {func} have {int(t1.isna().sum())} NaT values in 't1'; drop "
            "those rows first, e.g. labels = labels.dropna(subset=['t1'])."
        )
    if (t1 < t0).any():
        k = int(np.flatnonzero(t1 < t0)[0])
        raise PanelError(
            f"labels passed to {func} have t1 before t0 (row {labels.index[k]}, t1 {t1[k]}); "
            "each label must end at or after it starts."
        )
    return labels
