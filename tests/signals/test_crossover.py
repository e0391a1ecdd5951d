"""crossover / crossunder: hand cases, a loop reference and errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from qresearch.exceptions import AlignmentError, PanelError, ParameterError
from qresearch.signals import crossover, crossunder
from tests.conftest import make_close

IDX = pd.date_range("2024-01-01", periods=6, name="timestamp")


def _loop_cross(fast: pd.DataFrame, slow: pd.DataFrame, up: bool) -> pd.DataFrame:
    out = pd.DataFrame(False, index=fast.index, columns=fast.columns)
    for j in range(fast.shape[1]):
        for i in range(1, len(fast)):
            a0, a1 = fast.iat[i - 1, j], fast.iat[i, j]
            b0, b1 = slow.iat[i - 1, j], slow.iat[i, j]
            if any(math.isnan(v) for v in (a0, a1, b0, b1)):
                continue
            out.iat[i, j] = (a1 > b1 and a0 <= b0) if up else (a1 < b1 and a0 >= b0)
    return out


def test_hand_case_with_touch_and_nan() -> None:
    fast = pd.DataFrame(
        {"A": [1.0, 2.0, 3.0, 3.0, 1.0, 4.0], "B": [np.nan, 5.0, 1.0, np.nan, 3.0, 1.0]},
        index=IDX,
    )
    slow = pd.DataFrame({"A": [2.0] * 6, "B": [2.0] * 6}, index=IDX)
    # A: 1<2, touches 2 (no cross), 3>2 cross, stays, 1<2 under, 4>2 cross.
    assert crossover(fast, slow)["A"].tolist() == [False, False, True, False, False, True]
    assert crossunder(fast, slow)["A"].tolist() == [False, False, False, False, True, False]
    # B: 5 -> 1 crosses under; 3 after the NaN does not cross over; 3 -> 1 crosses under.
    assert crossover(fast, slow)["B"].tolist() == [False] * 6
    assert crossunder(fast, slow)["B"].tolist() == [False, False, True, False, False, True]


def test_matches_loop_reference() -> None:
    close = make_close(200, 4, seed=2)
    fast, slow = close.rolling(5).mean(), close.rolling(20).mean()
    for up, fn in ((True, crossover), (False, crossunder)):
        got = fn(fast, slow)
        pd.testing.assert_frame_equal(got, _loop_cross(fast, slow, up))
        assert got.to_numpy().sum() > 5


def test_scalar_level_equals_constant_panel() -> None:
    close = make_close(100, 3, seed=1)
    level = pd.DataFrame(50.0, index=close.index, columns=close.columns)
    pd.testing.assert_frame_equal(crossover(close, 50.0), crossover(close, level))
    pd.testing.assert_frame_equal(crossunder(close, 50), crossunder(close, level))


def test_integer_and_boolean_inputs_and_no_mutation() -> None:
    fast = pd.DataFrame({"A": [0, 2, 0, 3]}, index=IDX[:4])
    before = fast.copy()
    assert crossover(fast, 1)["A"].tolist() == [False, True, False, True]
    pd.testing.assert_frame_equal(fast, before)


def test_errors() -> None:
    fast = pd.DataFrame({"A": [1.0, 2.0]}, index=IDX[:2])
    with pytest.raises(AlignmentError, match=r"fast and slow are not aligned"):
        crossover(fast, pd.DataFrame({"B": [1.0, 2.0]}, index=IDX[:2]))
    with pytest.raises(PanelError, match=r"slow passed to crossover .* got a Series"):
        crossover(fast, fast["A"])
    with pytest.raises(ParameterError, match=r"'slow' parameter of crossunder .* got 'x'"):
        crossunder(fast, "x")
    with pytest.raises(ParameterError, match=r"'slow' .* got nan"):
        crossover(fast, float("nan"))
    with pytest.raises(PanelError, match=r"fast must be a pandas DataFrame"):
        crossover(np.ones((2, 1)), 1.0)
