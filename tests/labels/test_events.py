"""cusum_filter: hand cases, an independent loop on the bundled data, kernel twin, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qresearch.exceptions import AlignmentError, PanelError, ParameterError
from qresearch.labels import cusum_filter
from qresearch.labels._nb import cusum_nb, cusum_py
from tests.conftest import make_close


def _panel(**cols: list[float]) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    idx = pd.date_range("2021-01-01", periods=n, name="timestamp")
    out = pd.DataFrame(cols, index=idx)
    out.columns.name = "symbol"
    return out


def _from_returns(rets: list[float], start: float = 100.0) -> list[float]:
    out = [start]
    for r in rets:
        out.append(np.nan if np.isnan(r) else out[-1] * (1 + r))
    return out


def _cusum_ref(series: pd.Series, h: float) -> list[bool]:
    # AFML snippet 2.4 on one series, skipping NaN returns.
    rets = series.pct_change(fill_method=None)
    s_pos = s_neg = 0.0
    out = []
    for r in rets:
        if np.isnan(r):
            out.append(False)
            continue
        s_pos, s_neg = max(0.0, s_pos + r), min(0.0, s_neg + r)
        hit = False
        if s_neg < -h:
            s_neg, hit = 0.0, True
        if s_pos > h:
            s_pos, hit = 0.0, True
        out.append(hit)
    return out


def test_hand_case_resets_the_triggering_side() -> None:
    # r: .03 .03 .03 -.02 -.02 -.02 .06, h = .05
    # s_pos: .03, .06>h -> event (reset 0), .03, .01, 0, 0, .06>h -> event
    # s_neg: 0, 0, 0, -.02, -.04, -.06<-h -> event
    close = _panel(A=_from_returns([0.03, 0.03, 0.03, -0.02, -0.02, -0.02, 0.06]))
    out = cusum_filter(close, 0.05)
    assert out["A"].tolist() == [False, False, True, False, False, False, True, True]
    assert out.dtypes["A"] == np.dtype(bool)
    pd.testing.assert_index_equal(out.index, close.index)
    pd.testing.assert_index_equal(out.columns, close.columns)


def test_threshold_is_strict() -> None:
    # 125 / 100 - 1 = 0.25 exactly in floating point: equal to h is not an event.
    close = _panel(A=[100.0, 125.0], B=[100.0, 75.0])
    assert not cusum_filter(close, 0.25).to_numpy().any()
    assert cusum_filter(close, 0.2499).to_numpy()[1].all()


def test_nan_returns_are_skipped_and_state_kept() -> None:
    # Without the gap: .03, .03 -> event at row 2. With a NaN close at row 2 the
    # returns at rows 2 and 3 are NaN; s_pos stays .03 and row 4 (r = .03) fires.
    gap = [100.0, 103.0, np.nan, 106.09, 109.2727]
    close = _panel(A=gap, B=[np.nan, np.nan, 100.0, 103.0, 106.09])
    out = cusum_filter(close, 0.05)
    assert out["A"].tolist() == [False, False, False, False, True]
    # leading NaN are skipped too: .03 then .03 -> .0609 > .05 at row 4
    assert out["B"].tolist() == [False, False, False, False, True]


def test_leading_nan_then_two_moves() -> None:
    close = _panel(B=[np.nan, 100.0, 103.0, 106.5])
    # .03 then 106.5/103-1 = .03398: sum .06398 > .05 at row 3
    assert cusum_filter(close, 0.05)["B"].tolist() == [False, False, False, True]


def test_per_symbol_threshold_series() -> None:
    prices = _from_returns([0.03, 0.03, 0.03, 0.03])
    close = _panel(A=prices, B=prices)
    thr = pd.Series({"B": 0.1, "A": 0.05, "UNUSED": 1.0})
    out = cusum_filter(close, thr)
    # A: .03, .06 -> event, .03, .06 -> event ; B: cumulative .03 .06 .09 .12 -> event at 4
    assert out["A"].tolist() == [False, False, True, False, True]
    assert out["B"].tolist() == [False, False, False, False, True]


def test_log_returns() -> None:
    close = _panel(A=[100.0, 104.0, 108.0])
    # log returns .0392, .0377: sum .0769 ; simple .04, .0385 sum .0785
    assert cusum_filter(close, 0.078, on="returns")["A"].tolist() == [False, False, True]
    assert cusum_filter(close, 0.078, on="log_returns")["A"].tolist() == [False] * 3


def test_matches_independent_loop_on_bundled_data(sample_stocks: pd.DataFrame) -> None:
    close = sample_stocks
    out = cusum_filter(close, 0.04)
    for sym in close.columns:
        assert out[sym].tolist() == _cusum_ref(close[sym], 0.04), sym
    assert 100 < out.to_numpy().sum() < close.notna().to_numpy().sum()


def test_kernel_equals_python_twin(sample_stocks: pd.DataFrame) -> None:
    v = sample_stocks.to_numpy(dtype=np.float64)
    rets = np.full_like(v, np.nan)
    rets[1:] = np.log(v[1:] / v[:-1])
    h = np.linspace(0.02, 0.08, v.shape[1])
    a = cusum_nb(rets, h, np.empty(v.shape, dtype=bool))
    b = cusum_py(rets, h, np.empty(v.shape, dtype=bool))
    np.testing.assert_array_equal(a, b)
    assert a.any()


def test_input_not_mutated() -> None:
    close = make_close(50, 3)
    before = close.copy()
    cusum_filter(close, 0.02)
    pd.testing.assert_frame_equal(close, before)


@pytest.mark.parametrize("bad", [0, -0.1, np.nan, np.inf, "0.1", True, None])
def test_bad_threshold(bad: object) -> None:
    with pytest.raises(ParameterError, match="'threshold' parameter of cusum_filter"):
        cusum_filter(make_close(20, 2), bad)  # type: ignore[arg-type]


def test_threshold_series_errors() -> None:
    close = make_close(20, 2)
    with pytest.raises(AlignmentError, match=r"no value for 1 symbols of close \(\['S001'\]\)"):
        cusum_filter(close, pd.Series({"S000": 0.1}))
    with pytest.raises(ParameterError, match="got nan for 'S001'"):
        cusum_filter(close, pd.Series({"S000": 0.1, "S001": np.nan}))
    with pytest.raises(ParameterError, match="got -0.1 for 'S000'"):
        cusum_filter(close, pd.Series({"S000": -0.1, "S001": 0.1}))


def test_bad_on_and_bad_close() -> None:
    close = make_close(20, 2)
    with pytest.raises(ParameterError, match="'on' parameter of cusum_filter must be one of"):
        cusum_filter(close, 0.1, on="diff")  # type: ignore[arg-type]
    bad = close.copy()
    bad.iloc[5, 1] = 0.0
    with pytest.raises(PanelError, match="positive prices; got 0.0 for 'S001'"):
        cusum_filter(bad, 0.1)
    with pytest.raises(PanelError, match="must be a DataFrame"):
        cusum_filter(close["S000"], 0.1)  # type: ignore[arg-type]


def test_threshold_panel_is_refused_by_type() -> None:
    close = make_close(20, 2)
    with pytest.raises(ParameterError, match=r"per-symbol pandas Series; got DataFrame instead"):
        cusum_filter(close, close * 0 + 0.1)  # type: ignore[arg-type]
