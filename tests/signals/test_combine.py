"""combine: hand cases, a loop reference, NaN handling and errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from qresearch.exceptions import AlignmentError, PanelError, ParameterError
from qresearch.signals import combine
from tests.conftest import make_close

IDX = pd.date_range("2024-01-01", periods=2, name="timestamp")


def _loop(panels: list[pd.DataFrame], w: list[float], method: str, skipna: bool) -> pd.DataFrame:
    out = pd.DataFrame(np.nan, index=panels[0].index, columns=panels[0].columns)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            vals = [(p.iat[i, j], wk) for p, wk in zip(panels, w, strict=True)]
            present = [(v, wk) for v, wk in vals if not math.isnan(v)]
            if (skipna and not present) or (not skipna and len(present) < len(vals)):
                continue
            if method == "mean":
                out.iat[i, j] = sum(v * wk for v, wk in present) / sum(abs(wk) for _, wk in present)
            elif method == "sum":
                out.iat[i, j] = sum(v * wk for v, wk in present)
            else:
                total = sum(np.sign(v) * wk for v, wk in present)
                out.iat[i, j] = float(np.sign(total))
    return out


@pytest.mark.parametrize("method", ["mean", "sum", "vote"])
@pytest.mark.parametrize("skipna", [True, False])
def test_matches_loop_reference(method: str, skipna: bool) -> None:
    a = make_close(60, 4, seed=1).pct_change(fill_method=None)
    b = make_close(60, 4, seed=2).pct_change(fill_method=None)
    c = make_close(60, 4, seed=3, ragged=False).pct_change(fill_method=None)
    w = [1.0, 2.0, -0.5]
    got = combine([a, b, c], w, method=method, skipna=skipna)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(got, _loop([a, b, c], w, method, skipna))


def test_hand_case_dict_and_defaults() -> None:
    a = pd.DataFrame({"X": [1.0, np.nan], "Y": [2.0, -4.0]}, index=IDX)
    b = pd.DataFrame({"X": [3.0, np.nan], "Y": [0.0, 1.0]}, index=IDX)
    got = combine({"a": a, "b": b})
    assert got["Y"].tolist() == [1.0, -1.5]
    assert got["X"].iloc[0] == 2.0 and math.isnan(got["X"].iloc[1])
    assert combine({"a": a, "b": b}, {"b": 2.0, "a": 1.0}, method="sum")["Y"].tolist() == [
        2.0,
        -2.0,
    ]
    assert combine([a, b], method="vote")["Y"].tolist() == [1.0, 0.0]


def test_boolean_signals_count_as_one() -> None:
    a = pd.DataFrame({"X": [True, False]}, index=IDX)
    b = pd.DataFrame({"X": [True, True]}, index=IDX)
    assert combine([a, b])["X"].tolist() == [1.0, 0.5]


def test_no_mutation() -> None:
    a = make_close(20, 3, seed=1)
    b = make_close(20, 3, seed=2)
    before = (a.copy(), b.copy())
    combine({"a": a, "b": b}, {"a": 1.0, "b": -1.0}, method="sum")
    pd.testing.assert_frame_equal(a, before[0])
    pd.testing.assert_frame_equal(b, before[1])


def test_errors() -> None:
    a = pd.DataFrame({"X": [1.0, 2.0]}, index=IDX)
    b = pd.DataFrame({"Y": [1.0, 2.0]}, index=IDX)
    with pytest.raises(AlignmentError, match=r"signals\['a'\] and signals\['b'\] are not aligned"):
        combine({"a": a, "b": b})
    with pytest.raises(AlignmentError, match=r"signals\[0\] and signals\[1\] are not aligned"):
        combine([a, a.iloc[:1]])
    with pytest.raises(PanelError, match=r"list or dict of DataFrames; got one DataFrame"):
        combine(a)  # type: ignore[arg-type]
    with pytest.raises(PanelError, match=r"signals\[1\] must be a pandas DataFrame"):
        combine([a, 1.0])  # type: ignore[list-item]
    with pytest.raises(ParameterError, match=r"signals passed to combine is empty"):
        combine([])
    with pytest.raises(ParameterError, match=r"one number per signal \(2\); got 3"):
        combine([a, a], [1.0, 2.0, 3.0])
    with pytest.raises(ParameterError, match=r"a dict with the keys of signals"):
        combine({"a": a, "b": a}, [1.0, 2.0])
    with pytest.raises(ParameterError, match=r"list of 2 numbers"):
        combine([a, a], {"a": 1.0})
    with pytest.raises(ParameterError, match=r"'weights' .* all zero"):
        combine([a, a], [0.0, 0.0])
    with pytest.raises(ParameterError, match=r"'weights' .* finite number; got nan"):
        combine([a, a], [1.0, float("nan")])
    with pytest.raises(ParameterError, match=r"'method' parameter of combine must be one of"):
        combine([a, a], method="median")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"'skipna' parameter of combine"):
        combine([a, a], skipna=1)  # type: ignore[arg-type]
