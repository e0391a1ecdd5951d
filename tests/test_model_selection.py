"""Purged k-fold, combinatorial purged CV and walk-forward splitters.

Expected splits come from hand calculations, from sklearn's KFold / numpy's
array_split, or from the brute-force implementations below (Python loops over
pandas Timestamps and itertools), never from the code under test.
"""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from qresearch.exceptions import AlignmentError, PanelError, ParameterError
from qresearch.model_selection import (
    CombinatorialPurgedKFold,
    PurgedKFold,
    WalkForward,
    purged_train_indices,
)

DAY = pd.Timedelta(days=1)


def daily_t1(n: int, horizon_days: int, start: str = "2024-01-01") -> pd.Series:
    t0 = pd.date_range(start, periods=n, name="timestamp")
    return pd.Series(t0 + horizon_days * DAY, index=t0, name="t1")


def splits_as_lists(cv, X) -> list[tuple[list[int], list[int]]]:
    return [(tr.tolist(), te.tolist()) for tr, te in cv.split(X)]


# ----------------------------------------------------------------------------- brute force


def brute_runs(positions: list[int]) -> list[list[int]]:
    blocks: list[list[int]] = []
    for p in sorted(positions):
        if blocks and blocks[-1][-1] == p - 1:
            blocks[-1].append(p)
        else:
            blocks.append([p])
    return blocks


def brute_train(t0: list, t1: list, test: list[int], h: int, candidates=None) -> list[int]:
    """Training positions kept: not test, not overlapping a test block, not embargoed."""
    bars = sorted(set(t0))
    blocks = [(t0[block[0]], max(t1[i] for i in block)) for block in brute_runs(list(test))]
    embargoed = [[x for x in bars if x > b][:h] for _, b in blocks]
    kept = []
    pool = range(len(t0)) if candidates is None else candidates
    for j in pool:
        if j in test:
            continue
        overlaps = any(t0[j] <= b and t1[j] >= a for a, b in blocks)
        in_embargo = any(t0[j] in window for window in embargoed)
        if not overlaps and not in_embargo:
            kept.append(j)
    return kept


def brute_groups(t0: list, n_groups: int) -> list[list[int]]:
    """Rows of each contiguous group of unique timestamps (numpy array_split sizes)."""
    bars = sorted(set(t0))
    chunks = np.array_split(np.arange(len(bars)), n_groups)
    out = []
    for chunk in chunks:
        members = {bars[i] for i in chunk}
        out.append([j for j, t in enumerate(t0) if t in members])
    return out


def timestamps_of(t1: pd.Series) -> list:
    idx = t1.index
    t0 = idx.get_level_values("timestamp") if isinstance(idx, pd.MultiIndex) else idx
    return list(t0)


@st.composite
def labelled_samples(draw, max_bars: int = 25, max_symbols: int = 3) -> pd.Series:
    """A sorted t1 Series: one or several symbols per timestamp, uneven bar spacing."""
    n_bars = draw(st.integers(2, max_bars))
    gaps = draw(st.lists(st.integers(1, 3), min_size=n_bars, max_size=n_bars))
    t0_bars = pd.Timestamp("2021-01-04") + pd.to_timedelta(np.cumsum(gaps), unit="D")
    long = draw(st.booleans())
    rows: list[tuple[pd.Timestamp, str]] = []
    for t in t0_bars:
        n_sym = draw(st.integers(1, max_symbols)) if long else 1
        rows.extend((t, f"S{k}") for k in range(n_sym))
    hours = draw(st.lists(st.integers(0, 240), min_size=len(rows), max_size=len(rows)))
    ends = [t + pd.Timedelta(hours=h) for (t, _), h in zip(rows, hours, strict=True)]
    if long:
        index = pd.MultiIndex.from_tuples(rows, names=["timestamp", "symbol"])
    else:
        index = pd.DatetimeIndex([t for t, _ in rows], name="timestamp")
    return pd.Series(pd.DatetimeIndex(ends), index=index, name="t1")


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ----------------------------------------------------------------------------- PurgedKFold


def test_purged_kfold_hand_checked_10_samples_horizon_2() -> None:
    # Folds [0,1] [2,3] [4,5] [6,7] [8,9]; sample i covers days [i, i+2].
    # Fold 0: test interval [d0, d3] -> purge 2, 3.  Fold 1: [d2, d5] -> purge 0, 1, 4, 5.
    # Fold 2: [d4, d7] -> purge 2, 3, 6, 7.  Fold 3: [d6, d9] -> purge 4, 5, 8, 9.
    # Fold 4: [d8, d11] -> purge 6, 7.
    t1 = daily_t1(10, 2)
    got = splits_as_lists(PurgedKFold(n_splits=5, t1=t1), t1)
    assert got == [
        ([4, 5, 6, 7, 8, 9], [0, 1]),
        ([6, 7, 8, 9], [2, 3]),
        ([0, 1, 8, 9], [4, 5]),
        ([0, 1, 2, 3], [6, 7]),
        ([0, 1, 2, 3, 4, 5], [8, 9]),
    ]


def test_purged_kfold_hand_checked_embargo_one_bar() -> None:
    # embargo 0.1 of 10 bars = 1 bar after each test interval end (max t1 of the fold):
    # fold 0 ends d3 -> also drop t0 = d4; fold 1 ends d5 -> drop d6; fold 2 ends d7 ->
    # drop d8; fold 3 ends d9 = last bar; fold 4 ends after the data.
    t1 = daily_t1(10, 2)
    got = splits_as_lists(PurgedKFold(n_splits=5, t1=t1, embargo=0.1), t1)
    assert [train for train, _ in got] == [
        [5, 6, 7, 8, 9],
        [7, 8, 9],
        [0, 1, 9],
        [0, 1, 2, 3],
        [0, 1, 2, 3, 4, 5],
    ]


def test_purged_kfold_embargo_rounds_up_to_whole_bars() -> None:
    # 0.05 * 10 = 0.5 bar -> 1 bar; 0.07 * 100 = 7 bars exactly (no float round-up to 8).
    t1 = daily_t1(10, 0)
    got = splits_as_lists(PurgedKFold(n_splits=5, t1=t1, embargo=0.05), t1)
    assert got[0][0] == [3, 4, 5, 6, 7, 8, 9]
    t1 = daily_t1(100, 0)
    train, test = next(iter(PurgedKFold(n_splits=2, t1=t1, embargo=0.07).split(t1)))
    assert test.tolist() == list(range(50))
    assert train.tolist() == list(range(57, 100))


def test_purged_kfold_long_frame_hand_checked() -> None:
    # 6 days x 2 symbols, labels end one day later; 3 folds of 2 timestamps = 4 rows.
    days = pd.date_range("2024-01-01", periods=6)
    index = pd.MultiIndex.from_product([days, ["A", "B"]], names=["timestamp", "symbol"])
    t1 = pd.Series(index.get_level_values("timestamp") + DAY, index=index)
    X = pd.DataFrame({"f": np.arange(12.0)}, index=index)
    got = splits_as_lists(PurgedKFold(n_splits=3, t1=t1), X)
    assert got == [
        ([6, 7, 8, 9, 10, 11], [0, 1, 2, 3]),  # interval [d0, d2]: purge the d2 rows
        ([0, 1, 10, 11], [4, 5, 6, 7]),  # [d2, d4]: purge d1 (ends d2) and d4
        ([0, 1, 2, 3, 4, 5], [8, 9, 10, 11]),  # [d4, d6]: purge d3 (ends d4)
    ]


def test_purged_kfold_never_splits_a_timestamp() -> None:
    # 5 timestamps with 1, 3, 1, 2, 1 symbols -> 2 folds of 3 and 2 timestamps.
    rows = [(0, "A"), (1, "A"), (1, "B"), (1, "C"), (2, "A"), (3, "A"), (3, "B"), (4, "A")]
    index = pd.MultiIndex.from_tuples(
        [(pd.Timestamp("2024-01-01") + d * DAY, s) for d, s in rows],
        names=["timestamp", "symbol"],
    )
    t1 = pd.Series(index.get_level_values("timestamp"), index=index)
    tests = [te.tolist() for _, te in PurgedKFold(n_splits=2, t1=t1).split(t1)]
    assert tests == [[0, 1, 2, 3, 4], [5, 6, 7]]


def test_purged_kfold_without_t1_matches_sklearn_kfold() -> None:
    from sklearn.model_selection import KFold

    X = np.zeros((23, 2))
    ours = splits_as_lists(PurgedKFold(n_splits=4), X)
    theirs = [(tr.tolist(), te.tolist()) for tr, te in KFold(n_splits=4).split(X)]
    assert ours == theirs


def test_purged_kfold_without_t1_reads_time_index_of_X() -> None:
    # No t1: labels known at t0, so only the embargo (1 bar of 10) removes samples.
    X = pd.DataFrame({"f": np.arange(10.0)}, index=pd.date_range("2024-01-01", periods=10))
    got = splits_as_lists(PurgedKFold(n_splits=5, embargo=0.1), X)
    assert got[0] == ([3, 4, 5, 6, 7, 8, 9], [0, 1])
    assert got[2] == ([0, 1, 2, 3, 7, 8, 9], [4, 5])
    assert got[4] == ([0, 1, 2, 3, 4, 5, 6, 7], [8, 9])


def test_splitters_accept_tz_aware_times_and_numpy_integers() -> None:
    t1 = daily_t1(10, 2)
    aware = t1.dt.tz_localize("UTC").dt.tz_convert("America/New_York")
    aware.index = aware.index.tz_localize("UTC")
    naive_splits = splits_as_lists(PurgedKFold(n_splits=5, t1=t1), t1)
    assert splits_as_lists(PurgedKFold(n_splits=np.int64(5), t1=aware), aware) == naive_splits


@FAST
@given(
    t1=labelled_samples(),
    n_splits=st.integers(2, 8),
    embargo=st.sampled_from([0.0, 0.01, 0.05, 0.1, 0.2, 0.35]),
)
def test_purged_kfold_properties(t1: pd.Series, n_splits: int, embargo: float) -> None:
    t0 = timestamps_of(t1)
    ends = list(t1)
    n_bars = len(set(t0))
    assume(n_splits <= n_bars)
    h = math.ceil(round(embargo * n_bars, 9))
    cv = PurgedKFold(n_splits=n_splits, t1=t1, embargo=embargo)
    expected_tests = brute_groups(t0, n_splits)
    expected_trains = [brute_train(t0, ends, test, h) for test in expected_tests]
    if any(not tr for tr in expected_trains):
        event("a split has no training sample left")
        with pytest.raises(ParameterError, match="leaves no training sample"):
            list(cv.split(t1))
        return
    splits = list(cv.split(t1))
    assert len(splits) == cv.get_n_splits() == n_splits
    # Test sets partition the samples, in order, without splitting a timestamp.
    assert np.concatenate([te for _, te in splits]).tolist() == list(range(len(t0)))
    for (train, test), exp_test, exp_train in zip(
        splits, expected_tests, expected_trains, strict=True
    ):
        assert train.dtype == np.int64 and test.dtype == np.int64
        assert test.tolist() == exp_test
        assert train.tolist() == exp_train
        assert not set(train.tolist()) & set(test.tolist())
        a, b = t0[test[0]], max(ends[i] for i in test)
        for j in train:
            assert not (t0[j] <= b and ends[j] >= a)  # no overlap with the test interval
        window = [x for x in sorted(set(t0)) if x > b][:h]
        assert not {t0[j] for j in train} & set(window)  # embargo respected
        assert {t0[j] for j in test}.isdisjoint({t0[j] for j in train})


def test_splitting_does_not_mutate_t1_or_X() -> None:
    t1 = daily_t1(12, 1)
    X = pd.DataFrame({"f": np.arange(12.0)}, index=t1.index)
    t1_copy, X_copy = t1.copy(), X.copy()
    for cv in (
        PurgedKFold(3, t1=t1, embargo=0.1),
        CombinatorialPurgedKFold(4, 2, t1=t1),
        WalkForward(4, 2, t1=t1),
    ):
        list(cv.split(X))
    pd.testing.assert_series_equal(t1, t1_copy)
    pd.testing.assert_frame_equal(X, X_copy)
    assert cv.t1 is t1


def test_reprs_look_like_sklearn() -> None:
    t1 = daily_t1(10, 2)
    assert repr(PurgedKFold()) == "PurgedKFold(embargo=0.0, n_splits=5, t1=None)"
    assert (
        repr(CombinatorialPurgedKFold(6, 2, t1=t1, embargo=0.01))
        == "CombinatorialPurgedKFold(embargo=0.01, n_splits=6, n_test_splits=2, "
        "t1=<Series of 10 samples>)"
    )
    assert (
        repr(WalkForward(4, 2))
        == "WalkForward(embargo=0.0, expanding=False, step=None, t1=None, test=2, train=4)"
    )


# ----------------------------------------------------------------------------- CPCV


def brute_path_assignment(n: int, k: int) -> list[list[int]]:
    """path_split[p][g]: the p-th split (in combinations order) that tests group g."""
    combos = list(itertools.combinations(range(n), k))
    per_group = [[s for s, c in enumerate(combos) if g in c] for g in range(n)]
    n_paths = len(per_group[0])
    return [[per_group[g][p] for g in range(n)] for p in range(n_paths)]


@pytest.mark.parametrize(("n", "k"), [(2, 1), (4, 2), (5, 1), (6, 2), (6, 3), (7, 4)])
def test_cpcv_counts_and_paths(n: int, k: int) -> None:
    n_samples = 3 * n + 2
    X = np.zeros((n_samples, 1))
    cv = CombinatorialPurgedKFold(n_splits=n, n_test_splits=k)
    splits = list(cv.split(X))
    n_comb = math.factorial(n) // (math.factorial(k) * math.factorial(n - k))
    assert len(splits) == cv.get_n_splits() == n_comb
    assert cv.n_paths == n_comb * k // n
    groups = brute_groups(list(range(n_samples)), n)
    times_tested = [sum(set(g) <= set(te.tolist()) for _, te in splits) for g in groups]
    assert times_tested == [cv.n_paths] * n
    # paths() follows the brute-force assignment and covers every sample exactly once.
    expected = brute_path_assignment(n, k)
    assert [[s for s, _ in path] for path in cv.paths()] == expected
    assert all([g for _, g in path] == list(range(n)) for path in cv.paths())
    for path in cv.paths():
        covered = sorted(i for s, g in path for i in groups[g] if i in set(splits[s][1]))
        assert covered == list(range(n_samples))
    pairs = [pair for path in cv.paths() for pair in path]
    assert sorted(pairs) == sorted((s, g) for s, c in enumerate(cv.test_groups()) for g in c)


@FAST
@given(
    t1=labelled_samples(max_bars=20),
    nk=st.sampled_from([(3, 1), (4, 2), (5, 2), (6, 2), (5, 3)]),
    embargo=st.sampled_from([0.0, 0.05, 0.15]),
)
def test_cpcv_matches_brute_force(t1: pd.Series, nk: tuple[int, int], embargo: float) -> None:
    n, k = nk
    t0, ends = timestamps_of(t1), list(t1)
    n_bars = len(set(t0))
    assume(n <= n_bars)
    h = math.ceil(round(embargo * n_bars, 9))
    groups = brute_groups(t0, n)
    expected = []
    for combo in itertools.combinations(range(n), k):
        test = sorted(i for g in combo for i in groups[g])
        expected.append((brute_train(t0, ends, test, h), test))
    cv = CombinatorialPurgedKFold(n_splits=n, n_test_splits=k, t1=t1, embargo=embargo)
    if any(not tr for tr, _ in expected):
        event("a split has no training sample left")
        with pytest.raises(ParameterError, match="leaves no training sample"):
            list(cv.split(t1))
        return
    assert splits_as_lists(cv, t1) == expected


def test_cpcv_hand_checked_adjacent_test_groups_form_one_block() -> None:
    # 8 daily samples, 4 groups of 2, labels end 1 day later. Split (1, 2) tests rows
    # 2..5 as one block [d2, d6]: purge row 1 (ends d2) and row 6 (starts d6).
    # Split (0, 2) tests [0, 1] -> [d0, d2] and [4, 5] -> [d4, d6]: purge 2, 3 and 6.
    t1 = daily_t1(8, 1)
    cv = CombinatorialPurgedKFold(n_splits=4, n_test_splits=2, t1=t1)
    got = dict(zip(cv.test_groups(), splits_as_lists(cv, t1), strict=True))
    assert got[(1, 2)] == ([0, 7], [2, 3, 4, 5])
    assert got[(0, 2)] == ([7], [0, 1, 4, 5])
    assert got[(0, 3)] == ([3, 4], [0, 1, 6, 7])


def test_cpcv_reconstruct_paths_stitches_predictions() -> None:
    t1 = daily_t1(13, 1)
    cv = CombinatorialPurgedKFold(n_splits=5, n_test_splits=2, t1=t1)
    X = pd.DataFrame({"f": np.arange(13.0)}, index=t1.index)
    preds = [1000 * s + te.astype(float) for s, (_, te) in enumerate(cv.split(X))]
    paths = cv.reconstruct_paths(preds)
    assert paths.shape == (13, cv.n_paths)
    assert paths.index.equals(t1.index)
    assert paths.columns.name == "path"
    groups = brute_groups(timestamps_of(t1), 5)
    group_of = {i: g for g, rows in enumerate(groups) for i in rows}
    assignment = brute_path_assignment(5, 2)
    for p in range(cv.n_paths):
        expected = [1000 * assignment[p][group_of[i]] + i for i in range(13)]
        assert paths[p].tolist() == expected


def test_cpcv_reconstruct_paths_without_t1_uses_X() -> None:
    cv = CombinatorialPurgedKFold(n_splits=3, n_test_splits=1)
    X = np.zeros((6, 1))
    preds = [np.full(len(te), s) for s, (_, te) in enumerate(cv.split(X))]
    out = cv.reconstruct_paths(preds, X)
    assert out[0].tolist() == [0, 0, 1, 1, 2, 2]
    assert out.index.equals(pd.RangeIndex(6))
    with pytest.raises(ParameterError, match="X is needed"):
        cv.reconstruct_paths(preds)


def test_cpcv_reconstruct_paths_errors() -> None:
    cv = CombinatorialPurgedKFold(n_splits=3, n_test_splits=1)
    X = np.zeros((6, 1))
    with pytest.raises(ParameterError, match=r"one array per split \(3\); got 2"):
        cv.reconstruct_paths([np.zeros(2), np.zeros(2)], X)
    with pytest.raises(ParameterError, match=r"split 1 .* 1-D .* \(2\); got shape \(2, 2\)"):
        cv.reconstruct_paths([np.zeros(2), np.zeros((2, 2)), np.zeros(2)], X)
    with pytest.raises(ParameterError, match=r"split 0 .* got shape \(3,\)"):
        cv.reconstruct_paths([np.zeros(3), np.zeros(2), np.zeros(2)], X)


# ----------------------------------------------------------------------------- WalkForward


def test_walk_forward_rolling_step_and_expanding() -> None:
    X = np.zeros((10, 1))
    assert splits_as_lists(WalkForward(train=4, test=2), X) == [
        ([0, 1, 2, 3], [4, 5]),
        ([2, 3, 4, 5], [6, 7]),
        ([4, 5, 6, 7], [8, 9]),
    ]
    step3 = splits_as_lists(WalkForward(train=4, test=2, step=3), X)
    assert step3 == [([0, 1, 2, 3], [4, 5]), ([3, 4, 5, 6], [7, 8])]
    step1 = WalkForward(train=4, test=2, step=1)
    assert [te for _, te in splits_as_lists(step1, X)] == [[4, 5], [5, 6], [6, 7], [7, 8], [8, 9]]
    assert step1.get_n_splits(X) == 5
    expanding = splits_as_lists(WalkForward(train=4, test=2, expanding=True), X)
    assert [tr for tr, _ in expanding] == [[0, 1, 2, 3], [0, 1, 2, 3, 4, 5], list(range(8))]


def test_walk_forward_purges_and_embargoes_before_the_test_window() -> None:
    # Labels cover [i, i+2]: a test window starting at day s purges train rows s-2, s-1.
    t1 = daily_t1(10, 2)
    got = splits_as_lists(WalkForward(train=4, test=2, t1=t1), t1)
    assert got == [([0, 1], [4, 5]), ([2, 3], [6, 7]), ([4, 5], [8, 9])]
    # Without t1 the embargo (0.1 of 10 bars = 1 bar) is a one-bar gap before the test.
    got = splits_as_lists(WalkForward(train=4, test=2, embargo=0.1), np.zeros((10, 1)))
    assert got == [([0, 1, 2], [4, 5]), ([2, 3, 4], [6, 7]), ([4, 5, 6], [8, 9])]


def test_walk_forward_counts_timestamps_in_long_frames() -> None:
    days = pd.date_range("2024-01-01", periods=5)
    index = pd.MultiIndex.from_product([days, ["A", "B"]], names=["timestamp", "symbol"])
    t1 = pd.Series(index.get_level_values("timestamp"), index=index)
    cv = WalkForward(train=2, test=1, t1=t1)
    assert cv.get_n_splits() == 3
    assert splits_as_lists(cv, None) == [
        ([0, 1, 2, 3], [4, 5]),
        ([2, 3, 4, 5], [6, 7]),
        ([4, 5, 6, 7], [8, 9]),
    ]


@FAST
@given(
    t1=labelled_samples(max_bars=30),
    train=st.integers(1, 8),
    test=st.integers(1, 5),
    step=st.one_of(st.none(), st.integers(1, 4)),
    expanding=st.booleans(),
    embargo=st.sampled_from([0.0, 0.05, 0.1]),
)
def test_walk_forward_properties(
    t1: pd.Series, train: int, test: int, step: int | None, expanding: bool, embargo: float
) -> None:
    t0, ends = timestamps_of(t1), list(t1)
    bars = sorted(set(t0))
    assume(train + test <= len(bars))
    h = math.ceil(round(embargo * len(bars), 9))
    stride = test if step is None else step
    expected = []
    for start in range(train, len(bars) - test + 1, stride):
        test_rows = [i for i, t in enumerate(t0) if bars[start] <= t <= bars[start + test - 1]]
        first = 0 if expanding else start - train
        window = [i for i, t in enumerate(t0) if bars[first] <= t < bars[max(start - h, first)]]
        a, b = t0[test_rows[0]], max(ends[i] for i in test_rows)
        kept = [j for j in window if not (t0[j] <= b and ends[j] >= a)]
        expected.append((kept, test_rows))
    cv = WalkForward(train, test, step=step, t1=t1, embargo=embargo, expanding=expanding)
    assert cv.get_n_splits() == len(expected)
    if any(not tr for tr, _ in expected):
        event("a split has no training sample left")
        with pytest.raises(ParameterError, match="leaves no training sample"):
            list(cv.split(t1))
        return
    got = splits_as_lists(cv, t1)
    assert got == expected
    for tr, te in got:
        assert max(t0[j] for j in tr) < t0[te[0]]  # train strictly before test
        assert max(ends[j] for j in tr) < t0[te[0]]  # no label overlaps the test window


# ----------------------------------------------------------------------------- low level


def test_purged_train_indices_hand_checked() -> None:
    t1 = daily_t1(10, 1)
    # Two test blocks [2, 3] -> [d2, d4] and [7] -> [d7, d8]: purge 1, 4 and 6, 8.
    assert purged_train_indices(t1, [7, 2, 3]).tolist() == [0, 5, 9]
    # 1 bar of embargo after d4 (d5) and after d8 (d9).
    assert purged_train_indices(t1, [2, 3, 7], embargo=0.1).tolist() == [0]
    # Given candidates: 3 is a test sample, 5 starts after the interval [d2, d4] ends.
    assert purged_train_indices(t1, [2, 3], train_indices=[0, 3, 5, 6]).tolist() == [0, 5, 6]


def test_purged_train_indices_errors() -> None:
    t1 = daily_t1(10, 1)
    with pytest.raises(ParameterError, match=r"'test_indices' .* position 10 outside \[0, 10\)"):
        purged_train_indices(t1, [1, 10])
    with pytest.raises(ParameterError, match="'train_indices' .* integer positions; got dtype"):
        purged_train_indices(t1, [1], train_indices=[0.5])
    with pytest.raises(ParameterError, match="'embargo' parameter of purged_train_indices"):
        purged_train_indices(t1, [1], embargo=2)


# ----------------------------------------------------------------------------- sklearn


def _classification_data(n: int = 120):
    rng = np.random.default_rng(7)
    t1 = daily_t1(n, 5)
    X = pd.DataFrame(rng.normal(size=(n, 3)), index=t1.index, columns=["a", "b", "c"])
    y = (X["a"] + 0.5 * rng.normal(size=n) > 0).astype(int)
    w = rng.uniform(0.5, 1.5, size=n)
    return t1, X, y, w


def test_cross_val_score_uses_the_purged_splits_and_sample_weights() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    t1, X, y, w = _classification_data()
    cv = PurgedKFold(n_splits=5, t1=t1, embargo=0.02)
    scores = cross_val_score(LogisticRegression(), X, y, cv=cv, params={"sample_weight": w})
    manual = []
    for train, test in cv.split(X):
        model = LogisticRegression().fit(X.iloc[train], y.iloc[train], sample_weight=w[train])
        manual.append(model.score(X.iloc[test], y.iloc[test]))
    np.testing.assert_allclose(scores, manual)
    assert len(scores) == 5


def test_grid_search_and_cpcv_with_sklearn() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, cross_val_score

    t1, X, y, _ = _classification_data()
    search = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=PurgedKFold(4, t1=t1))
    search.fit(X, y)
    assert search.n_splits_ == 4
    assert "split3_test_score" in search.cv_results_
    cpcv = CombinatorialPurgedKFold(n_splits=6, n_test_splits=2, t1=t1, embargo=0.01)
    assert len(cross_val_score(LogisticRegression(), X, y, cv=cpcv)) == 15
    wf = WalkForward(train=60, test=20, t1=t1)
    assert len(cross_val_score(LogisticRegression(), X, y, cv=wf)) == wf.get_n_splits(X) == 3


def _loaded_after(statement: str) -> set[str]:
    code = (
        f"import sys, json\n{statement}\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def test_import_loads_no_sklearn_scipy_or_numba() -> None:
    loaded = _loaded_after("import qresearch.model_selection")
    assert "qresearch" in loaded  # the probe saw the import
    assert not loaded & {"sklearn", "scipy", "numba"}
    assert "sklearn" in _loaded_after("import qresearch.model_selection; import sklearn")


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize("bad", [1, 0, 2.5, True, "5", None])
def test_bad_n_splits(bad) -> None:
    with pytest.raises(ParameterError, match=r"'n_splits' parameter of PurgedKFold .* >= 2"):
        PurgedKFold(n_splits=bad)
    with pytest.raises(ParameterError, match="'n_splits' parameter of CombinatorialPurgedKFold"):
        CombinatorialPurgedKFold(n_splits=bad, n_test_splits=1)


def test_bad_n_test_splits() -> None:
    with pytest.raises(ParameterError, match="must be smaller than n_splits=6; got 6"):
        CombinatorialPurgedKFold(n_splits=6, n_test_splits=6)
    with pytest.raises(ParameterError, match="must be smaller than n_splits=3; got 4"):
        CombinatorialPurgedKFold(n_splits=3, n_test_splits=4)
    with pytest.raises(ParameterError, match=r"'n_test_splits' .* integer >= 1; got 0"):
        CombinatorialPurgedKFold(n_splits=3, n_test_splits=0)


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, float("nan"), True, "0.1"])
def test_bad_embargo(bad) -> None:
    with pytest.raises(ParameterError, match=r"'embargo' parameter of PurgedKFold .* \[0, 1\)"):
        PurgedKFold(embargo=bad)
    with pytest.raises(ParameterError, match=r"'embargo' parameter of WalkForward"):
        WalkForward(2, 1, embargo=bad)


def test_bad_walk_forward_parameters() -> None:
    with pytest.raises(ParameterError, match=r"'train' parameter of WalkForward .* got 0"):
        WalkForward(0, 1)
    with pytest.raises(ParameterError, match=r"'test' parameter of WalkForward .* got 1.5"):
        WalkForward(3, 1.5)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"'step' parameter of WalkForward .* got 0"):
        WalkForward(3, 1, step=0)
    with pytest.raises(ParameterError, match="'expanding' parameter of WalkForward"):
        WalkForward(3, 1, expanding="yes")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"at least train \+ test = 8 bars .* has 7"):
        list(WalkForward(5, 3).split(np.zeros((7, 1))))
    with pytest.raises(ParameterError, match="get_n_splits needs X"):
        WalkForward(5, 3).get_n_splits()


def test_t1_must_be_a_datetime_series() -> None:
    t1 = daily_t1(10, 1)
    with pytest.raises(ParameterError, match="'t1' parameter of PurgedKFold must be a pandas"):
        PurgedKFold(t1=list(t1))  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="'t1' .* must be a pandas Series .* got DataFrame"):
        WalkForward(2, 1, t1=t1.to_frame())  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="must hold datetimes .* got dtype int64"):
        PurgedKFold(t1=pd.Series(np.arange(10), index=t1.index))
    with pytest.raises(ParameterError, match="'t1' parameter of PurgedKFold is empty"):
        PurgedKFold(t1=t1.iloc[:0])


def test_t1_missing_values_and_t1_before_t0() -> None:
    t1 = daily_t1(10, 1)
    holes = t1.copy()
    holes.iloc[[3, 7]] = pd.NaT
    with pytest.raises(ParameterError, match=r"has 2 missing end times .*t1.fillna"):
        PurgedKFold(t1=holes)
    early = t1.copy()
    early.iloc[4] = early.index[4] - DAY
    with pytest.raises(ParameterError, match=r"t1 >= t0 .* 1 samples end before they start"):
        CombinatorialPurgedKFold(t1=early)


def test_t1_index_must_be_sorted_start_times() -> None:
    t1 = daily_t1(10, 1)
    with pytest.raises(PanelError, match=r"sorted by sample start time: 2024-01-0\d .*sort_index"):
        PurgedKFold(t1=t1.iloc[::-1])
    days = pd.date_range("2024-01-01", periods=3)
    index = pd.MultiIndex.from_product([["A", "B"], days], names=["symbol", "timestamp"])
    by_symbol = pd.Series(index.get_level_values("timestamp") + DAY, index=index)
    with pytest.raises(PanelError, match=r"sort_index\(level='timestamp'\)"):
        PurgedKFold(t1=by_symbol)
    unnamed = by_symbol.copy()
    unnamed.index = unnamed.index.set_names(["symbol", "date"])
    with pytest.raises(PanelError, match="without a 'timestamp' level"):
        PurgedKFold(t1=unnamed)
    with pytest.raises(PanelError, match="indexed by sample start time: .* got RangeIndex"):
        PurgedKFold(t1=t1.reset_index(drop=True))
    with pytest.raises(PanelError, match="must be sorted"):
        list(PurgedKFold(2).split(pd.DataFrame({"f": [1.0, 2.0, 3.0]}, index=days[::-1])))


def test_tz_mismatch_between_t1_index_and_values() -> None:
    t1 = daily_t1(10, 1)
    mixed = t1.dt.tz_localize("UTC")  # aware values, naive index
    with pytest.raises(PanelError, match="mixes tz-aware and tz-naive"):
        PurgedKFold(t1=mixed)


def test_X_must_match_t1() -> None:
    t1 = daily_t1(10, 1)
    cv = PurgedKFold(n_splits=2, t1=t1)
    with pytest.raises(AlignmentError, match="X has 9 samples but t1 has 10"):
        list(cv.split(np.zeros((9, 2))))
    with pytest.raises(AlignmentError, match="X has 11 samples but t1 has 10"):
        list(CombinatorialPurgedKFold(3, 1, t1=t1).split(np.zeros((11, 2))))
    shifted = pd.DataFrame({"f": np.arange(10.0)}, index=t1.index + DAY)
    with pytest.raises(AlignmentError, match="not aligned: at position 0 .* X = X.loc"):
        list(cv.split(shifted))
    # A positional X (RangeIndex) is accepted.
    assert len(list(cv.split(pd.DataFrame({"f": np.arange(10.0)})))) == 2
    with pytest.raises(ParameterError, match="array-like with one row per sample; got int"):
        list(PurgedKFold(2).split(5))
    with pytest.raises(ParameterError, match="X is needed"):
        list(PurgedKFold(2).split(None))


def test_too_few_samples_for_n_splits() -> None:
    with pytest.raises(ParameterError, match=r"Cannot split 4 bars .* n_splits=5 .* at most 4"):
        list(PurgedKFold(n_splits=5).split(np.zeros((4, 1))))
    days = pd.date_range("2024-01-01", periods=3)
    index = pd.MultiIndex.from_product([days, ["A", "B", "C"]], names=["timestamp", "symbol"])
    t1 = pd.Series(index.get_level_values("timestamp"), index=index)
    with pytest.raises(ParameterError, match=r"Cannot split 3 bars .* n_splits=4"):
        list(CombinatorialPurgedKFold(n_splits=4, n_test_splits=1, t1=t1).split(t1))


def test_empty_training_set_is_an_error() -> None:
    t1 = daily_t1(6, 10)  # every label overlaps every other one
    with pytest.raises(ParameterError, match="split 0 .* leaves no training sample"):
        list(PurgedKFold(n_splits=3, t1=t1).split(t1))
