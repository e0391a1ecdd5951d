"""Purged cross-validation for overlapping financial labels (AFML ch. 7 and 12).

Three splitters follow the scikit-learn protocol (``split(X, y=None, groups=None)``
yielding ``(train_idx, test_idx)`` integer arrays, and ``get_n_splits``), so they can be
passed as ``cv=`` to ``cross_val_score``, ``cross_validate`` or ``GridSearchCV``:
:class:`PurgedKFold`, :class:`CombinatorialPurgedKFold` and :class:`WalkForward`.
This module does not import scikit-learn.

Samples and times
    ``t1`` is a Series indexed by the sample start time t0 (a DatetimeIndex, or a
    MultiIndex with a ``timestamp`` level such as the ``(timestamp, symbol)`` index of
    ``qr.labels.triple_barrier``); its values are the times the labels are known
    (``t1 >= t0``). Samples must be sorted by t0. Folds, windows and embargoes count
    *bars*, the unique t0 values: in a long frame with several symbols per timestamp,
    one timestamp is never split across folds. With ``t1=None`` each label is known at
    its start (``t1 = t0``); t0 is read from the index of ``X`` when it is a DatetimeIndex
    or has a ``timestamp`` level, otherwise every row is its own bar.

Purging
    A test block is a run of consecutive test samples; its test interval is
    ``[a, b]`` with ``a`` its first t0 and ``b`` the largest t1 in it. Every training
    sample whose ``[t0, t1]`` overlaps ``[a, b]`` (``t0 <= b`` and ``t1 >= a``) is removed.

Embargo
    ``embargo`` is a fraction of the number of bars ``T``: ``h = ceil(embargo * T)``
    bars (so a positive embargo is at least one bar). After each test block, training
    samples whose t0 is one of the ``h`` bars that follow ``b`` are removed as well
    (AFML 7.4.2; the embargo starts where the test labels end). :class:`WalkForward`
    never trains after a test block, so there the embargo is a gap of ``h`` bars kept
    free of training samples right before each test block.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from qresearch._purging import (
    SampleTimes,
    check_embargo,
    check_X_matches,
    embargo_bars,
    fold_bounds,
    purge,
    runs,
    times_from_t1,
    times_from_X,
)
from qresearch._typing import Int64Array
from qresearch._validation import check_int
from qresearch.exceptions import ParameterError

__all__ = [
    "CombinatorialPurgedKFold",
    "PurgedKFold",
    "WalkForward",
    "purged_train_indices",
]

Split = tuple[Int64Array, Int64Array]


def _repr_value(value: Any) -> str:
    if isinstance(value, pd.Series):
        return f"<Series of {len(value)} samples>"
    return repr(value)


class _PurgedSplitter:
    # Shared state: the validated t1 (or None), the embargo and the repr.
    _params: tuple[str, ...] = ()
    t1: pd.Series | None
    embargo: float
    _times: SampleTimes | None

    def _set_times(self, t1: pd.Series | None, embargo: float) -> None:
        owner = type(self).__name__
        self.embargo = check_embargo(embargo, owner)
        self._times = None if t1 is None else times_from_t1(t1, owner)
        self.t1 = t1

    def _resolve(self, X: Any) -> SampleTimes:
        owner = type(self).__name__
        if self._times is None:
            return times_from_X(X, owner)
        if X is not None:
            check_X_matches(self._times, X, owner)
        return self._times

    def _check_train(self, train: Int64Array, test: Int64Array, split_no: int) -> None:
        if len(train) == 0:
            raise ParameterError(
                f"{type(self).__name__} split {split_no} (test samples {int(test[0])} to "
                f"{int(test[-1])}) leaves no training sample after purging and embargo. "
                "Use fewer splits, a smaller embargo or shorter labels (t1)."
            )

    def __repr__(self) -> str:
        args = ", ".join(f"{n}={_repr_value(getattr(self, n))}" for n in sorted(self._params))
        return f"{type(self).__name__}({args})"


class PurgedKFold(_PurgedSplitter):
    """K-fold cross-validation with purging and embargo (AFML 7.4).

    The samples are split into ``n_splits`` contiguous folds of bars in time order
    (sizes as scikit-learn ``KFold`` without shuffling). Each fold is the test set once;
    the training set is every other sample, less those whose label interval overlaps
    the test interval (purging) and those in the ``embargo`` bars after it. See the
    module docstring for the exact rules.

    Parameters
    ----------
    n_splits : int, default 5
        Number of folds, at least 2 and at most the number of bars.
    t1 : pandas.Series or None, default None
        Time each label is known, indexed by sample start time (DatetimeIndex or a
        MultiIndex with a ``timestamp`` level), sorted by start time. None means
        ``t1 = t0``.
    embargo : float, default 0.0
        Fraction in ``[0, 1)`` of the number of bars ``T``; ``ceil(embargo * T)`` bars
        after each test interval are removed from training.

    Raises
    ------
    ParameterError
        On a bad ``n_splits`` or ``embargo``, a ``t1`` that is not a datetime Series,
        has missing values or ends before it starts, too few bars for ``n_splits``,
        or a fold left with no training sample.
    PanelError
        When ``t1`` (or ``X``) is not indexed by sorted start times.
    AlignmentError
        When ``X`` does not have one row per sample of ``t1``.

    Examples
    --------
    >>> import pandas as pd
    >>> t0 = pd.date_range("2024-01-01", periods=10, name="timestamp")
    >>> t1 = pd.Series(t0 + pd.Timedelta(days=2), index=t0)  # labels span 2 more bars
    >>> cv = PurgedKFold(n_splits=5, t1=t1)
    >>> cv
    PurgedKFold(embargo=0.0, n_splits=5, t1=<Series of 10 samples>)
    >>> for train, test in cv.split(t1):
    ...     print(test, train)
    [0 1] [4 5 6 7 8 9]
    [2 3] [6 7 8 9]
    [4 5] [0 1 8 9]
    [6 7] [0 1 2 3]
    [8 9] [0 1 2 3 4 5]
    """

    _params = ("n_splits", "t1", "embargo")

    def __init__(
        self, n_splits: int = 5, t1: pd.Series | None = None, embargo: float = 0.0
    ) -> None:
        self.n_splits = check_int("n_splits", n_splits, "PurgedKFold", minimum=2)
        self._set_times(t1, embargo)

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """Return the number of splits, ``n_splits`` (all arguments are ignored)."""
        return self.n_splits

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Iterator[Split]:
        """Yield ``(train_idx, test_idx)`` integer positions for each fold in time order.

        Parameters
        ----------
        X : array-like
            The samples, one row per sample of ``t1`` (only their number and, for a
            pandas object with a time index, their index are used). May be None when
            ``t1`` was given.
        y, groups : Any
            Ignored; present for the scikit-learn protocol.

        Yields
        ------
        train_idx, test_idx : numpy.ndarray of int64
            Sorted positions of the training and test samples.
        """
        times = self._resolve(X)
        _check_enough_bars(times, self.n_splits, "n_splits", "PurgedKFold")
        bounds = times.sample_bounds(fold_bounds(times.n_bars, self.n_splits))
        h = embargo_bars(self.embargo, times.n_bars)
        positions = np.arange(times.n_samples, dtype=np.int64)
        for k in range(self.n_splits):
            start, stop = int(bounds[k]), int(bounds[k + 1])
            test = positions[start:stop]
            train = np.concatenate((positions[:start], positions[stop:]))
            train = purge(times, train, [(start, stop)], h)
            self._check_train(train, test, k)
            yield train, test


class CombinatorialPurgedKFold(_PurgedSplitter):
    """Combinatorial purged cross-validation with backtest paths (AFML 12.4).

    The samples are split into ``n_splits`` contiguous groups of bars (as in
    :class:`PurgedKFold`). Each split tests one combination of ``n_test_splits`` groups,
    in :func:`itertools.combinations` order, and trains on the other groups, purged and
    embargoed around each contiguous block of test groups. There are
    ``C(n_splits, n_test_splits)`` splits; each group is tested in
    ``C(n_splits - 1, n_test_splits - 1)`` of them, which is also the number of backtest
    paths ``n_paths = C(N, k) * k / N``: path ``p`` takes group ``g`` from the ``p``-th
    split (in split order) that tests ``g``. :meth:`paths` lists those assignments and
    :meth:`reconstruct_paths` stitches out-of-sample predictions into one column per path
    (scikit-learn's ``cross_val_predict`` refuses these splits: their test sets overlap).

    Parameters
    ----------
    n_splits : int, default 6
        Number of groups ``N``, at least 2 and at most the number of bars. The number of
        splits is ``get_n_splits() = C(N, k)``.
    n_test_splits : int, default 2
        Number of test groups per split ``k``, at least 1 and below ``n_splits``.
    t1 : pandas.Series or None, default None
        As in :class:`PurgedKFold`.
    embargo : float, default 0.0
        As in :class:`PurgedKFold`; applied after every contiguous block of test groups.

    Examples
    --------
    >>> import numpy as np
    >>> cv = CombinatorialPurgedKFold(n_splits=4, n_test_splits=2)
    >>> cv.get_n_splits(), cv.n_paths
    (6, 3)
    >>> cv.test_groups()
    [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    >>> cv.paths()[0]
    [(0, 0), (0, 1), (1, 2), (2, 3)]
    >>> X = np.zeros((8, 1))
    >>> preds = [10 * s + test for s, (train, test) in enumerate(cv.split(X))]
    >>> cv.reconstruct_paths(preds, X).to_numpy().T
    array([[ 0,  1,  2,  3, 14, 15, 26, 27],
           [10, 11, 32, 33, 34, 35, 46, 47],
           [20, 21, 42, 43, 54, 55, 56, 57]])
    """

    _params = ("n_splits", "n_test_splits", "t1", "embargo")

    def __init__(
        self,
        n_splits: int = 6,
        n_test_splits: int = 2,
        t1: pd.Series | None = None,
        embargo: float = 0.0,
    ) -> None:
        owner = "CombinatorialPurgedKFold"
        self.n_splits = check_int("n_splits", n_splits, owner, minimum=2)
        self.n_test_splits = check_int("n_test_splits", n_test_splits, owner, minimum=1)
        if self.n_test_splits >= self.n_splits:
            raise ParameterError(
                f"The 'n_test_splits' parameter of {owner} must be smaller than n_splits="
                f"{self.n_splits}; got {n_test_splits!r} instead. Lower it or add groups."
            )
        self._set_times(t1, embargo)

    @property
    def n_paths(self) -> int:
        """Number of backtest paths, ``C(N, k) * k / N = C(N - 1, k - 1)``."""
        return math.comb(self.n_splits - 1, self.n_test_splits - 1)

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """Return the number of splits ``C(n_splits, n_test_splits)`` (arguments ignored)."""
        return math.comb(self.n_splits, self.n_test_splits)

    def test_groups(self) -> list[tuple[int, ...]]:
        """Return the test groups of each split, in split order."""
        return list(itertools.combinations(range(self.n_splits), self.n_test_splits))

    def paths(self) -> list[list[tuple[int, int]]]:
        """Return, for each backtest path, its ``(split_index, group)`` assignments.

        Path ``p`` lists one pair per group ``g = 0, ..., n_splits - 1``: the split whose
        test predictions cover group ``g`` in that path, which is the ``p``-th split (in
        split order) that tests ``g``. Every path thus covers every sample exactly once,
        and every (split, test group) pair belongs to exactly one path.
        """
        out: list[list[tuple[int, int]]] = [
            [(-1, g) for g in range(self.n_splits)] for _ in range(self.n_paths)
        ]
        seen = [0] * self.n_splits
        for s, combo in enumerate(self.test_groups()):
            for g in combo:
                out[seen[g]][g] = (s, g)
                seen[g] += 1
        return out

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Iterator[Split]:
        """Yield ``(train_idx, test_idx)`` integer positions for each split.

        Parameters
        ----------
        X : array-like
            As in :meth:`PurgedKFold.split`.
        y, groups : Any
            Ignored; present for the scikit-learn protocol.

        Yields
        ------
        train_idx, test_idx : numpy.ndarray of int64
            Sorted positions; ``test_idx`` holds the test groups one after the other.
        """
        times = self._resolve(X)
        bounds = self._group_bounds(times)
        h = embargo_bars(self.embargo, times.n_bars)
        positions = np.arange(times.n_samples, dtype=np.int64)
        for s, combo in enumerate(self.test_groups()):
            in_test = np.zeros(times.n_samples, dtype=bool)
            for g in combo:
                in_test[bounds[g] : bounds[g + 1]] = True
            test = positions[in_test]
            train = purge(times, positions[~in_test], runs(test), h)
            self._check_train(train, test, s)
            yield train, test

    def reconstruct_paths(self, predictions: Sequence[Any], X: Any = None) -> pd.DataFrame:
        """Stitch the out-of-sample predictions of every split into backtest paths.

        Parameters
        ----------
        predictions : sequence of array-like
            One 1-D array per split, in split order, aligned with that split's
            ``test_idx`` (e.g. ``model.predict(X[test_idx])``); pandas objects are read
            by position. For probabilities pass one column, e.g. ``proba[:, 1]``.
        X : array-like or None, default None
            The samples given to :meth:`split`; needed only when ``t1`` is None.

        Returns
        -------
        pandas.DataFrame
            One row per sample (index of ``t1``, else of ``X``, else positions) and one
            column per path (columns named ``path``); every cell is filled.
        """
        times = self._resolve(X)
        bounds = self._group_bounds(times)
        owner = "CombinatorialPurgedKFold.reconstruct_paths"
        preds = list(predictions)
        if len(preds) != self.get_n_splits():
            raise ParameterError(
                f"The 'predictions' parameter of {owner} must hold one array per split "
                f"({self.get_n_splits()}); got {len(preds)}. Collect one prediction array "
                "per (train, test) pair yielded by split()."
            )
        arrays = [np.asarray(p) for p in preds]
        combos = self.test_groups()
        for s, (arr, combo) in enumerate(zip(arrays, combos, strict=True)):
            size = sum(int(bounds[g + 1] - bounds[g]) for g in combo)
            if arr.ndim != 1 or len(arr) != size:
                raise ParameterError(
                    f"The predictions of split {s} passed to {owner} must be 1-D with one "
                    f"value per test sample ({size}); got shape {arr.shape}. For "
                    "probabilities pass one column, e.g. proba[:, 1]."
                )
        out = np.empty((times.n_samples, self.n_paths), dtype=np.result_type(*arrays))
        path_of = {pair: p for p, path in enumerate(self.paths()) for pair in path}
        for s, (arr, combo) in enumerate(zip(arrays, combos, strict=True)):
            offset = 0
            for g in combo:
                start, stop = int(bounds[g]), int(bounds[g + 1])
                out[start:stop, path_of[(s, g)]] = arr[offset : offset + stop - start]
                offset += stop - start
        index = times.index if times.index is not None else pd.RangeIndex(times.n_samples)
        return pd.DataFrame(out, index=index, columns=pd.RangeIndex(self.n_paths, name="path"))

    def _group_bounds(self, times: SampleTimes) -> Int64Array:
        _check_enough_bars(times, self.n_splits, "n_splits", "CombinatorialPurgedKFold")
        return times.sample_bounds(fold_bounds(times.n_bars, self.n_splits))


class WalkForward(_PurgedSplitter):
    """Walk-forward splits: train on a window of past bars, test on the next bars.

    Test window ``j`` holds bars ``[train + j * step, train + j * step + test)``; only
    full test windows are produced, so the last ``(T - train - test) % step`` bars may
    stay untested. The training window holds the ``train`` bars before the test window
    (all bars before it when ``expanding``), less the samples whose label overlaps the
    test interval (purging) and those in the ``ceil(embargo * T)`` bars right before the
    test window (the walk-forward embargo, a gap). Bars are unique start times, so
    ``train``, ``test`` and ``step`` count samples for a single series and timestamps
    for a long (timestamp, symbol) frame.

    Parameters
    ----------
    train : int
        Bars in each training window (before purging and embargo); with ``expanding``,
        bars in the first one.
    test : int
        Bars in each test window.
    step : int or None, default None
        Bars between the starts of consecutive test windows; None means ``test``
        (back-to-back test windows).
    t1 : pandas.Series or None, default None
        As in :class:`PurgedKFold`.
    embargo : float, default 0.0
        Fraction in ``[0, 1)`` of the number of bars ``T``: ``ceil(embargo * T)`` bars
        before each test window are kept out of training.
    expanding : bool, default False
        Train on every bar before the test window instead of a rolling window.

    Examples
    --------
    >>> import numpy as np
    >>> cv = WalkForward(train=4, test=2)
    >>> for train, test in cv.split(np.zeros((9, 1))):
    ...     print(train, test)
    [0 1 2 3] [4 5]
    [2 3 4 5] [6 7]
    >>> [test.tolist() for _, test in WalkForward(4, 2, step=1, expanding=True).split(range(7))]
    [[4, 5], [5, 6]]
    """

    _params = ("train", "test", "step", "t1", "embargo", "expanding")

    def __init__(
        self,
        train: int,
        test: int,
        step: int | None = None,
        t1: pd.Series | None = None,
        embargo: float = 0.0,
        expanding: bool = False,
    ) -> None:
        owner = "WalkForward"
        self.train = check_int("train", train, owner, minimum=1)
        self.test = check_int("test", test, owner, minimum=1)
        self.step = None if step is None else check_int("step", step, owner, minimum=1)
        if not isinstance(expanding, bool | np.bool_):
            raise ParameterError(
                f"The 'expanding' parameter of {owner} must be True or False; "
                f"got {expanding!r} instead."
            )
        self.expanding = bool(expanding)
        self._set_times(t1, embargo)

    def _starts(self, times: SampleTimes) -> range:
        step = self.test if self.step is None else self.step
        if self.train + self.test > times.n_bars:
            raise ParameterError(
                f"WalkForward needs at least train + test = {self.train + self.test} bars "
                f"(unique timestamps); the data has {times.n_bars}. Lower 'train' or 'test'."
            )
        return range(self.train, times.n_bars - self.test + 1, step)

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """Return the number of test windows for ``X`` (or for ``t1`` when X is None)."""
        if X is None and self._times is None:
            raise ParameterError(
                "WalkForward.get_n_splits needs X when the splitter has no t1: the number "
                "of splits depends on the number of samples."
            )
        return len(self._starts(self._resolve(X)))

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Iterator[Split]:
        """Yield ``(train_idx, test_idx)`` integer positions for each test window.

        Parameters
        ----------
        X : array-like
            As in :meth:`PurgedKFold.split`.
        y, groups : Any
            Ignored; present for the scikit-learn protocol.

        Yields
        ------
        train_idx, test_idx : numpy.ndarray of int64
            Sorted positions; every training sample starts before the test window.
        """
        times = self._resolve(X)
        h = embargo_bars(self.embargo, times.n_bars)
        for k, start_bar in enumerate(self._starts(times)):
            first_bar = 0 if self.expanding else start_bar - self.train
            bars = np.array([first_bar, max(start_bar - h, first_bar), start_bar])
            tr_start, tr_stop, te_start = (int(b) for b in times.sample_bounds(bars))
            te_stop = int(times.sample_bounds(np.array([start_bar + self.test]))[0])
            test = np.arange(te_start, te_stop, dtype=np.int64)
            train = np.arange(tr_start, tr_stop, dtype=np.int64)
            train = purge(times, train, [(te_start, te_stop)], 0)
            self._check_train(train, test, k)
            yield train, test


def _check_enough_bars(times: SampleTimes, n: int, name: str, owner: str) -> None:
    if n > times.n_bars:
        raise ParameterError(
            f"Cannot split {times.n_bars} bars (unique timestamps) into {name}={n} groups "
            f"in {owner}; lower {name!r} to at most {times.n_bars} or pass more samples."
        )


def purged_train_indices(
    t1: pd.Series,
    test_indices: Any,
    *,
    embargo: float = 0.0,
    train_indices: Any = None,
) -> Int64Array:
    """Return the training positions left after purging and embargo around a test set.

    The test positions are grouped into runs of consecutive positions (test blocks); for
    each block, training samples whose ``[t0, t1]`` overlaps ``[first t0, max t1]`` of
    the block, or whose t0 is in the ``ceil(embargo * T)`` bars after it, are removed
    (see the module docstring). Test positions are always removed from training.

    Parameters
    ----------
    t1 : pandas.Series
        Time each label is known, indexed by sorted sample start times.
    test_indices : array-like of int
        Positions of the test samples.
    embargo : float, default 0.0
        Fraction in ``[0, 1)`` of the number of bars.
    train_indices : array-like of int or None, default None
        Candidate training positions; None means every non-test position.

    Returns
    -------
    numpy.ndarray of int64
        The sorted training positions kept.

    Examples
    --------
    >>> import pandas as pd
    >>> t0 = pd.date_range("2024-01-01", periods=8, name="timestamp")
    >>> t1 = pd.Series(t0 + pd.Timedelta(days=1), index=t0)
    >>> purged_train_indices(t1, [3, 4])
    array([0, 1, 6, 7])
    >>> purged_train_indices(t1, [3, 4], embargo=0.25)
    array([0, 1])
    """
    owner = "purged_train_indices"
    times = times_from_t1(t1, owner)
    emb = check_embargo(embargo, owner)
    test = _positions(test_indices, "test_indices", times.n_samples, owner)
    if train_indices is None:
        keep = np.ones(times.n_samples, dtype=bool)
        keep[test] = False
        train = np.flatnonzero(keep).astype(np.int64)
    else:
        train = _positions(train_indices, "train_indices", times.n_samples, owner)
    return purge(times, train, runs(test), embargo_bars(emb, times.n_bars))


def _positions(value: Any, name: str, n: int, owner: str) -> Int64Array:
    # Sorted unique integer positions in [0, n).
    arr = np.asarray(value)
    if arr.ndim != 1 or not (arr.size == 0 or np.issubdtype(arr.dtype, np.integer)):
        raise ParameterError(
            f"The {name!r} parameter of {owner} must be a 1-D array of integer positions; "
            f"got dtype {arr.dtype} and shape {arr.shape}."
        )
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        bad = arr[(arr < 0) | (arr >= n)][0]
        raise ParameterError(
            f"The {name!r} parameter of {owner} has position {int(bad)} outside [0, {n}) "
            f"for {n} samples."
        )
    return np.unique(arr.astype(np.int64))
