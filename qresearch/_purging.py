"""Sample times, fold boundaries and purging behind :mod:`qresearch.model_selection` (private).

Every time is an int64: nanoseconds since the epoch (UTC) for datetimes, or the row
position when no timestamps are known. A "bar" is one unique sample start time t0;
folds, windows and embargoes count bars, so one timestamp of a long (timestamp, symbol)
frame is never split across folds.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from qresearch._typing import Int64Array
from qresearch.exceptions import AlignmentError, PanelError, ParameterError

TIMESTAMP_LEVEL = "timestamp"


@dataclass(frozen=True)
class SampleTimes:
    """Start and end time of every sample, sorted by start time."""

    t0: Int64Array  # start of each sample, non-decreasing
    t1: Int64Array  # time each label is known, >= t0
    grid: Int64Array  # the unique start times (the bars)
    bar: Int64Array  # position of each sample's t0 in ``grid`` (non-decreasing)
    index: pd.Index | None  # the sample labels when known (t1.index or X.index)

    @property
    def n_samples(self) -> int:
        """Return the number of samples."""
        return len(self.t0)

    @property
    def n_bars(self) -> int:
        """Return the number of unique sample start times."""
        return len(self.grid)

    def sample_bounds(self, bar_bounds: Int64Array) -> Int64Array:
        """Map bar positions to sample positions (the first sample at or after each bar)."""
        return np.searchsorted(self.bar, bar_bounds, side="left").astype(np.int64)


# ----------------------------------------------------------------------------- parameters


def check_embargo(value: Any, owner: str) -> float:
    # The embargo is a fraction of the number of bars in [0, 1).
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok or not (math.isfinite(float(value)) and 0.0 <= float(value) < 1.0):
        raise ParameterError(
            f"The 'embargo' parameter of {owner} must be a fraction of the number of "
            f"timestamps in [0, 1), e.g. 0.01; got {value!r} instead."
        )
    return float(value)


def embargo_bars(embargo: float, n_bars: int) -> int:
    """Return the embargo length in bars: ``ceil(embargo * n_bars)``.

    The product is rounded to 9 decimals first so that ``0.07 * 100`` gives 7, not 8.
    A positive embargo always embargoes at least one bar.
    """
    return math.ceil(round(embargo * n_bars, 9))


# ----------------------------------------------------------------------------- sample times


def _t0_index(index: pd.Index, name: str) -> pd.DatetimeIndex:
    # The sample start times: a DatetimeIndex, or the 'timestamp' level of a MultiIndex.
    if isinstance(index, pd.MultiIndex):
        if TIMESTAMP_LEVEL not in index.names:
            raise PanelError(
                f"{name} has a MultiIndex without a {TIMESTAMP_LEVEL!r} level "
                f"(levels {list(index.names)}); the sample start time t0 is read from it. "
                f"Name the time level, e.g. {name}.index = "
                f"{name}.index.set_names({TIMESTAMP_LEVEL!r}, level=0)."
            )
        values = index.get_level_values(TIMESTAMP_LEVEL)
    else:
        values = index
    if not isinstance(values, pd.DatetimeIndex):
        raise PanelError(
            f"{name} must be indexed by sample start time: a DatetimeIndex or a "
            f"({TIMESTAMP_LEVEL}, symbol) MultiIndex; got {type(values).__name__} "
            f"(dtype {values.dtype}). Convert it with pd.to_datetime."
        )
    if values.hasnans:
        pos = int(np.flatnonzero(values.isna())[0])
        raise PanelError(
            f"{name} has a missing (NaT) start time at position {pos}. Drop those samples first."
        )
    return values


def _to_ns(values: pd.DatetimeIndex) -> Int64Array:
    # Nanoseconds since the epoch (UTC for tz-aware values), whatever the resolution.
    return np.asarray(values.as_unit("ns").asi8, dtype=np.int64)


def _check_sorted(t0: Int64Array, t0_index: pd.DatetimeIndex, name: str, multi: bool) -> None:
    bad = np.flatnonzero(np.diff(t0) < 0)
    if len(bad):
        pos = int(bad[0]) + 1
        fix = f"{name}.sort_index(level={TIMESTAMP_LEVEL!r})" if multi else f"{name}.sort_index()"
        raise PanelError(
            f"{name} must be sorted by sample start time: {t0_index[pos]} at position {pos} "
            f"comes after {t0_index[pos - 1]}. Sort it first, e.g. {name} = {fix}."
        )


def _build(t0: Int64Array, t1: Int64Array, index: pd.Index | None) -> SampleTimes:
    grid, bar = np.unique(t0, return_inverse=True)
    return SampleTimes(
        t0=t0,
        t1=t1,
        grid=grid.astype(np.int64),
        bar=bar.reshape(-1).astype(np.int64),
        index=index,
    )


def times_from_t1(t1: Any, owner: str) -> SampleTimes:
    """Validate a ``t1`` Series and return the sample times it describes."""
    if not isinstance(t1, pd.Series):
        raise ParameterError(
            f"The 't1' parameter of {owner} must be a pandas Series of label end times "
            f"indexed by sample start time (e.g. labels['t1']) or None; "
            f"got {type(t1).__name__} instead."
        )
    if len(t1) == 0:
        raise ParameterError(f"The 't1' parameter of {owner} is empty; pass one row per sample.")
    t0_index = _t0_index(t1.index, "t1")
    if not pd.api.types.is_datetime64_any_dtype(t1.dtype):
        raise ParameterError(
            f"The 't1' parameter of {owner} must hold datetimes (when each label is known); "
            f"got dtype {t1.dtype}. Convert it with t1 = pd.to_datetime(t1)."
        )
    end = pd.DatetimeIndex(t1)
    if end.hasnans:
        missing = np.flatnonzero(end.isna())
        raise ParameterError(
            f"The 't1' parameter of {owner} has {len(missing)} missing end times (first for "
            f"the sample {t1.index[missing[0]]!r}). Fill them, e.g. with the last timestamp "
            f"of the data: t1 = t1.fillna(close.index[-1]), or drop those samples."
        )
    if (t0_index.tz is None) != (end.tz is None):
        raise PanelError(
            f"t1 mixes tz-aware and tz-naive times (index tz={t0_index.tz}, values "
            f"tz={end.tz}). Localize the naive ones, e.g. t1.dt.tz_localize('UTC')."
        )
    t0 = _to_ns(t0_index)
    _check_sorted(t0, t0_index, "t1", isinstance(t1.index, pd.MultiIndex))
    t1_ns = _to_ns(end)
    early = np.flatnonzero(t1_ns < t0)
    if len(early):
        pos = int(early[0])
        raise ParameterError(
            f"The 't1' parameter of {owner} must satisfy t1 >= t0 (a label is known after "
            f"it starts); {len(early)} samples end before they start, first "
            f"{t1.index[pos]!r} with t1={end[pos]}. Check how t1 was built."
        )
    return _build(t0, t1_ns, t1.index)


def num_samples(X: Any, owner: str) -> int:
    """Return the number of rows of an array-like ``X``."""
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) >= 1:
        return int(shape[0])
    try:
        return len(X)
    except TypeError:
        raise ParameterError(
            f"X passed to {owner} must be array-like with one row per sample; "
            f"got {type(X).__name__}."
        ) from None


def times_from_X(X: Any, owner: str) -> SampleTimes:
    """Return sample times read from ``X`` when no ``t1`` was given (t1 = t0).

    A DatetimeIndex or a MultiIndex with a 'timestamp' level gives the start times;
    otherwise each row is its own bar (plain k-fold positions).
    """
    if X is None:
        raise ParameterError(
            f"{owner} has no t1, so X is needed to know the samples; pass X (one row per "
            f"sample) or build the splitter with t1=labels['t1']."
        )
    index = getattr(X, "index", None)
    is_timed = isinstance(index, pd.DatetimeIndex) or (
        isinstance(index, pd.MultiIndex) and TIMESTAMP_LEVEL in index.names
    )
    if is_timed:
        t0_index = _t0_index(index, "X")
        t0 = _to_ns(t0_index)
        _check_sorted(t0, t0_index, "X", isinstance(index, pd.MultiIndex))
        return _build(t0, t0, index)
    t0 = np.arange(num_samples(X, owner), dtype=np.int64)
    return _build(t0, t0, index if isinstance(index, pd.Index) else None)


def check_X_matches(times: SampleTimes, X: Any, owner: str) -> None:
    """Raise :class:`AlignmentError` unless ``X`` has one row per sample of ``t1``."""
    n = num_samples(X, owner)
    if n != times.n_samples:
        raise AlignmentError(
            f"X has {n} samples but t1 has {times.n_samples}; {owner} needs one t1 per row "
            f"of X. Build both from the same labels, e.g. X = features.loc[t1.index]."
        )
    index = getattr(X, "index", None)
    if (
        isinstance(index, pd.DatetimeIndex | pd.MultiIndex)
        and times.index is not None
        and not index.equals(times.index)
    ):
        diff = next(
            (i for i, (a, b) in enumerate(zip(index, times.index, strict=True)) if a != b),
            0,
        )
        raise AlignmentError(
            f"X and t1 are not aligned: at position {diff} X has {index[diff]!r} and t1 "
            f"has {times.index[diff]!r}. Reorder X like t1: X = X.loc[t1.index]."
        )


# ----------------------------------------------------------------------------- folds, purging


def fold_bounds(n_bars: int, n_folds: int) -> Int64Array:
    """Return the ``n_folds + 1`` bar boundaries of contiguous folds (sizes as sklearn KFold)."""
    sizes = np.full(n_folds, n_bars // n_folds, dtype=np.int64)
    sizes[: n_bars % n_folds] += 1
    return np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)


def runs(positions: Int64Array) -> list[tuple[int, int]]:
    """Split sorted unique positions into maximal runs ``[start, stop)`` of consecutive ones."""
    if len(positions) == 0:
        return []
    breaks = np.flatnonzero(np.diff(positions) > 1) + 1
    starts = positions[np.r_[0, breaks]]
    stops = positions[np.r_[breaks - 1, len(positions) - 1]] + 1
    return [(int(a), int(b)) for a, b in zip(starts, stops, strict=True)]


def purge(
    times: SampleTimes,
    train: Int64Array,
    blocks: Sequence[tuple[int, int]],
    n_embargo_bars: int,
) -> Int64Array:
    """Drop from ``train`` the samples that overlap a test block or fall in its embargo.

    For each block of consecutive test samples ``[start, stop)`` the test interval is
    ``[a, b]`` with ``a`` its first t0 and ``b`` its largest t1. A training sample
    ``[t0, t1]`` is purged when ``t0 <= b`` and ``t1 >= a``; it is embargoed when its t0
    is one of the ``n_embargo_bars`` bars that follow ``b``.
    """
    if len(train) == 0:
        return train
    t0_train = times.t0[train]
    t1_train = times.t1[train]
    keep = np.ones(len(train), dtype=bool)
    for start, stop in blocks:
        if stop <= start:
            continue
        a = times.t0[start]
        b = times.t1[start:stop].max()
        end = b
        if n_embargo_bars > 0:
            last_bar = int(np.searchsorted(times.grid, b, side="right")) - 1
            end = max(b, times.grid[min(last_bar + n_embargo_bars, times.n_bars - 1)])
        # Samples with a <= t0 <= end and t1 >= t0 satisfy t1 >= a, so one test covers
        # both the overlap and the embargo window.
        keep &= ~((t0_train <= end) & (t1_train >= a))
    return train[keep]
