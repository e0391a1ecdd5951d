"""Fixed-horizon and trend-scanning labels: hand cases, pandas / statsmodels checks, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import qresearch.labels._nb as nb
from qresearch.exceptions import AlignmentError, PanelError, ParameterError
from qresearch.labels import fixed_horizon_labels, trend_scanning_labels
from tests.conftest import make_close


def _panel(**cols: list[float]) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    idx = pd.date_range("2021-01-01", periods=n, name="timestamp")
    out = pd.DataFrame(cols, index=idx, dtype="float64")
    out.columns.name = "symbol"
    return out


# ----------------------------------------------------------------------- fixed horizon
def test_fixed_horizon_hand_case() -> None:
    close = _panel(A=[100.0, 125.0, 100.0, 100.5, np.nan, 90.0])
    lab = fixed_horizon_labels(close, horizon=1, threshold=0.25)
    # 100->125: +.25 exactly, inside the dead zone (<=) ; 125->100: -.2 ; 100->100.5 ;
    # 100.5->NaN and NaN->90 are dropped; the last bar has no t1
    assert lab.index.get_level_values(0).tolist() == list(close.index[:3])
    assert lab["label"].tolist() == [0, 0, 0]
    np.testing.assert_allclose(lab["ret"], [0.25, -0.2, 0.005])
    assert lab["t1"].tolist() == list(close.index[1:4])
    lab0 = fixed_horizon_labels(close, horizon=1)
    assert lab0["label"].tolist() == [1, -1, 1]
    lab2 = fixed_horizon_labels(close, horizon=2, threshold=0.01)
    # 100->100 (0), 125->100.5 (-.196), 100->NaN dropped, 100.5->90 (-.104)
    assert lab2["label"].tolist() == [0, -1, -1]
    assert lab2["t1"].tolist() == [close.index[2], close.index[3], close.index[5]]
    assert list(lab2.columns) == ["t1", "ret", "label"]
    assert lab2["label"].dtype == np.int64


def test_fixed_horizon_matches_pandas(sample_stocks: pd.DataFrame) -> None:
    close = sample_stocks
    lab = fixed_horizon_labels(close, horizon=5, threshold=0.01)
    fwd = (close.shift(-5) / close - 1.0).stack().dropna()
    fwd.index.names = ["timestamp", "symbol"]
    fwd = fwd.sort_index()
    assert list(lab.index) == list(fwd.index)
    np.testing.assert_allclose(lab["ret"], fwd, rtol=1e-14)
    expected = np.where(fwd.abs() <= 0.01, 0, np.sign(fwd))
    np.testing.assert_array_equal(lab["label"], expected)
    pos = close.index.get_indexer(lab.index.get_level_values(0))
    assert (close.index.get_indexer(lab["t1"]) == pos + 5).all()


def test_fixed_horizon_events_and_long_horizon() -> None:
    close = make_close(30, 2, ragged=False)
    dates = pd.DatetimeIndex([close.index[3], close.index[20]])
    lab = fixed_horizon_labels(close, horizon=5, events=dates)
    assert len(lab) == 4
    mask = pd.DataFrame(False, index=close.index, columns=close.columns)
    mask.iloc[26, 1] = True  # 26 + 5 > 29: dropped
    mask.iloc[2, 0] = True
    lab = fixed_horizon_labels(close, horizon=5, events=mask)
    assert list(lab.index) == [(close.index[2], "S000")]
    assert fixed_horizon_labels(close, horizon=40).empty


def test_fixed_horizon_errors() -> None:
    close = make_close(30, 2)
    with pytest.raises(ParameterError, match="'horizon' parameter of fixed_horizon_labels"):
        fixed_horizon_labels(close, horizon=0)
    with pytest.raises(ParameterError, match="'threshold' parameter .* >= 0; got -0.1"):
        fixed_horizon_labels(close, threshold=-0.1)
    with pytest.raises(AlignmentError, match="close and events are not aligned"):
        fixed_horizon_labels(close, events=(close > 0)[["S000"]])
    with pytest.raises(PanelError, match="positive prices"):
        fixed_horizon_labels(close * 0.0)


# ---------------------------------------------------------------------- trend scanning
def _t_values_statsmodels(y: np.ndarray) -> float:
    import statsmodels.api as sm

    x = sm.add_constant(np.arange(len(y), dtype=float))
    return float(sm.OLS(y, x).fit().tvalues[1])


def test_trend_scanning_matches_statsmodels(sample_stocks: pd.DataFrame) -> None:
    close = sample_stocks[["AAPL", "GE", "AMD"]].iloc[-300:]
    rng = np.random.default_rng(1)
    mask = pd.DataFrame(rng.random(close.shape) < 0.15, index=close.index, columns=close.columns)
    horizons = [3, 5, 8, 13, 21]
    lab = trend_scanning_labels(close, horizons=horizons, events=mask)
    n = len(close)
    checked = 0
    for (t0, sym), row in lab.iterrows():
        i = close.index.get_loc(t0)
        s = close[sym].to_numpy()
        tvals = {h: _t_values_statsmodels(s[i : i + h + 1]) for h in horizons if i + h < n}
        best = max(tvals, key=lambda h: abs(tvals[h]))
        assert row["t1"] == close.index[i + best]
        assert row["t_value"] == pytest.approx(tvals[best], rel=1e-7)
        assert row["label"] == np.sign(tvals[best])
        assert row["ret"] == pytest.approx(s[i + best] / s[i] - 1, rel=1e-12)
        checked += 1
    # every masked event with at least one complete window is labelled
    expected = sum(
        1 for i, j in zip(*np.nonzero(mask.to_numpy()), strict=True) if i + horizons[0] < n
    )
    assert checked == expected > 100


def test_trend_scanning_hand_case_and_nan() -> None:
    close = _panel(
        A=[100.0, 101.0, 103.0, 102.0, 99.0, 98.0],
        B=[10.0, 11.0, 12.0, 13.0, 14.0, 15.0],  # exact line: t = +inf
        C=[10.0, 11.0, np.nan, 13.0, 12.0, 11.0],
    )
    lab = trend_scanning_labels(close, horizons=[2, 3])
    a = lab.xs("A", level="symbol")
    # t0 = 0: h=2 -> slope 1.5, SSR 1/6, se sqrt(1/12), t = 5.196; h=3 -> t = 1.886
    assert a["t_value"].iloc[0] == pytest.approx(1.5 / np.sqrt(1 / 12))
    assert a["t1"].iloc[0] == close.index[2]
    b = lab.xs("B", level="symbol")
    assert np.isposinf(b["t_value"]).all() and (b["label"] == 1).all()
    assert (b["t1"] == close.index[[2, 3, 4, 5]]).all()  # ties: shortest window
    c = lab.xs("C", level="symbol")
    # windows through the NaN at row 2 are skipped: only t0 = 3 (window 3..5)
    assert c.index.tolist() == [close.index[3]]
    assert c["t_value"].iloc[0] == -np.inf


def test_trend_scanning_horizon_forms() -> None:
    close = make_close(80, 2)
    a = trend_scanning_labels(close, horizons=(5, 20, 5))
    b = trend_scanning_labels(close, horizons=range(5, 20, 5))
    c = trend_scanning_labels(close, horizons=[15, 5, 10, 10])
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, c)
    assert list(a.columns) == ["t1", "t_value", "label", "ret"]
    default = trend_scanning_labels(close)
    steps = close.index.get_indexer(default["t1"]) - close.index.get_indexer(
        default.index.get_level_values(0)
    )
    assert steps.min() >= 5 and steps.max() <= 19


def test_trend_scanning_kernel_twin(
    sample_stocks: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    close = sample_stocks.iloc[-400:]
    fast = trend_scanning_labels(close, horizons=range(3, 30, 2))
    monkeypatch.setattr(nb, "trend_scan_nb", nb.trend_scan_py)
    pd.testing.assert_frame_equal(trend_scanning_labels(close, horizons=range(3, 30, 2)), fast)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ([1, 5], "integers >= 2"),
        ([], "integers >= 2"),
        ([2.5], "integers >= 2"),
        ((5,), r"read as \(min, max, step\)"),
        ((1, 2, 3, 4), r"read as \(min, max, step\)"),
        ("5", "integers >= 2"),
        ({5, 6}, "must be a range, a sequence"),
    ],
)
def test_trend_scanning_errors(bad: object, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        trend_scanning_labels(make_close(30, 2), horizons=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(("start", "step"), [(10.0, 0.3), (100.0, 0.01), (7.7, 0.7)])
def test_trend_scanning_perfect_decimal_line_ties_to_the_shortest_window(
    start: float, step: float
) -> None:
    # start + step * k: rounding leaves residuals ~1e-16 of the variation, still a perfect
    # line, so every window has t = +inf and the tie goes to the shortest (h = 2).
    idx = pd.date_range("2021-01-04", periods=30, name="timestamp")
    close = pd.DataFrame({"A": start + step * np.arange(30.0)}, index=idx)
    lab = trend_scanning_labels(close, horizons=list(range(2, 12)), events=idx[[0]])
    assert lab["t_value"].iloc[0] == np.inf
    assert lab["t1"].iloc[0] == idx[2]
