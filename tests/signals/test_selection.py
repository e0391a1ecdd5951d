"""top_n_signals / bottom_n_signals: hand cases, a sort reference, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qresearch.exceptions import ParameterError
from qresearch.signals import bottom_n_signals, top_n_signals
from tests.conftest import make_close


def _reference(scores: pd.DataFrame, n: int, largest: bool) -> pd.DataFrame:
    out = pd.DataFrame(False, index=scores.index, columns=scores.columns)
    for i in range(len(scores)):
        items = [(v, j) for j, v in enumerate(scores.iloc[i]) if not np.isnan(v)]
        items.sort(key=lambda t: (-t[0] if largest else t[0], t[1]))
        for _, j in items[:n]:
            out.iat[i, j] = True
    return out


def test_hand_case_ties_and_nan() -> None:
    idx = pd.date_range("2024-01-01", periods=2, name="timestamp")
    s = pd.DataFrame(
        {"A": [2.0, np.nan], "B": [5.0, 1.0], "C": [5.0, np.nan], "D": [1.0, np.nan]}, index=idx
    )
    assert top_n_signals(s, 1).to_numpy().tolist() == [
        [False, True, False, False],
        [False, True, False, False],
    ]
    assert top_n_signals(s, 3).iloc[0].tolist() == [True, True, True, False]
    assert bottom_n_signals(s, 2).iloc[0].tolist() == [True, False, False, True]
    # Fewer scores than n: all of them, NaN never.
    assert bottom_n_signals(s, 3).iloc[1].tolist() == [False, True, False, False]


@pytest.mark.parametrize("n", [1, 2, 4])
def test_matches_sort_reference(n: int) -> None:
    scores = make_close(80, 6, seed=4).pct_change(fill_method=None).round(3)
    pd.testing.assert_frame_equal(top_n_signals(scores, n), _reference(scores, n, True))
    pd.testing.assert_frame_equal(bottom_n_signals(scores, n), _reference(scores, n, False))


def test_errors() -> None:
    scores = make_close(5, 3)
    with pytest.raises(ParameterError, match=r"'n' parameter of top_n_signals .* got 0"):
        top_n_signals(scores, 0)
    with pytest.raises(ParameterError, match=r"'n' parameter of bottom_n_signals .* got 1.5"):
        bottom_n_signals(scores, 1.5)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"got True"):
        top_n_signals(scores, True)
