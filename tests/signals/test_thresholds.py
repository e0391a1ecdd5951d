"""threshold_signals: hand cases, a three-state loop reference and errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from qresearch.exceptions import ParameterError
from qresearch.signals import threshold_signals

IDX = pd.date_range("2024-01-01", periods=10, name="timestamp")


def _loop(x: pd.DataFrame, entry: float, exit_: float, side: str) -> pd.DataFrame:
    out = pd.DataFrame(np.nan, index=x.index, columns=x.columns)
    for j in range(x.shape[1]):
        pos = 0.0
        for i in range(len(x)):
            v = x.iat[i, j]
            if math.isnan(v):
                continue
            if pos == 1.0 and v <= exit_:
                pos = 0.0
            if pos == -1.0 and v >= -exit_:
                pos = 0.0
            if side in ("long", "both") and v > entry:
                pos = 1.0
            if side in ("short", "both") and v < -entry:
                pos = -1.0
            out.iat[i, j] = pos
    return out


def test_hand_case_hysteresis() -> None:
    x = pd.DataFrame({"A": [0.0, 1.5, 2.1, 1.0, 0.6, 0.5, -2.5, -0.8, -0.4, 3.0]}, index=IDX)
    assert threshold_signals(x, 2.0, 0.5)["A"].tolist() == [0, 0, 1, 1, 1, 0, 0, 0, 0, 1]
    assert threshold_signals(x, 2.0, 0.5, side="short")["A"].tolist() == [
        0,
        0,
        0,
        0,
        0,
        0,
        -1,
        -1,
        0,
        0,
    ]
    assert threshold_signals(x, 2.0, 0.5, side="both")["A"].tolist() == [
        0,
        0,
        1,
        1,
        1,
        0,
        -1,
        -1,
        0,
        1,
    ]
    # No hysteresis: long exactly while x > entry.
    assert threshold_signals(x, 1.0)["A"].tolist() == [0, 1, 1, 0, 0, 0, 0, 0, 0, 1]


def test_reversal_in_one_bar_and_nan_gap() -> None:
    x = pd.DataFrame({"A": [3.0, -3.0, np.nan, -1.0, 0.5, np.nan]}, index=IDX[:6])
    got = threshold_signals(x, 2.0, 0.0, side="both")["A"].tolist()
    assert got[:2] == [1.0, -1.0]
    assert math.isnan(got[2]) and math.isnan(got[5])
    assert got[3:5] == [-1.0, 0.0]  # the short survives the gap, exits at x >= 0


@pytest.mark.parametrize(
    ("entry", "exit_", "side"),
    [
        (1.0, 0.0, "both"),
        (1.0, -1.0, "both"),
        (0.5, 0.5, "long"),
        (1.0, -0.5, "short"),
        (0.0, 0.0, "both"),
        (-0.5, -1.5, "long"),
    ],
)
def test_matches_loop_reference(entry: float, exit_: float, side: str) -> None:
    rng = np.random.default_rng(11)
    values = np.cumsum(rng.normal(0, 0.5, (300, 3)), axis=0) % 4.0 - 2.0
    values[rng.random((300, 3)) < 0.05] = np.nan
    x = pd.DataFrame(values, index=pd.bdate_range("2020-01-01", periods=300), columns=list("ABC"))
    got = threshold_signals(x, entry, exit_, side=side)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(got, _loop(x, entry, exit_, side))
    assert set(np.unique(got.to_numpy()[~np.isnan(got.to_numpy())])) <= {-1.0, 0.0, 1.0}


def test_no_mutation() -> None:
    x = pd.DataFrame({"A": [0.0, 3.0, 1.0]}, index=IDX[:3])
    before = x.copy()
    threshold_signals(x, 2.0, 0.0, side="both")
    pd.testing.assert_frame_equal(x, before)


def test_errors() -> None:
    x = pd.DataFrame({"A": [0.0, 3.0, 1.0]}, index=IDX[:3])
    with pytest.raises(
        ParameterError,
        match=r"'exit' parameter of threshold_signals must be <= entry \(1\).* got 2",
    ):
        threshold_signals(x, 1.0, 2.0)
    with pytest.raises(ParameterError, match=r"side='both'.* >= -entry \(-1\).* got -1.5"):
        threshold_signals(x, 1.0, -1.5, side="both")
    with pytest.raises(
        ParameterError, match=r"'side' parameter of threshold_signals must be one of"
    ):
        threshold_signals(x, 1.0, side="up")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"'entry' .* finite number; got inf"):
        threshold_signals(x, float("inf"))
    with pytest.raises(ParameterError, match=r"'exit' .* finite number; got 'a'"):
        threshold_signals(x, 1.0, "a")  # type: ignore[arg-type]
