"""Fractional differencing: weights, a loop reference, the numba twin and min_ffd_order."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from qresearch.exceptions import ParameterError
from qresearch.features import ffd_weights, frac_diff_ffd, min_ffd_order
from qresearch.features._nb import frac_diff_ffd_nb, frac_diff_ffd_py
from tests.conftest import make_close


def _weights_ref(d: float, threshold: float) -> list[float]:
    w, k = [1.0], 1
    while True:
        nxt = -w[-1] * (d - k + 1) / k
        if abs(nxt) < threshold:
            return w
        w.append(nxt)
        k += 1


def _ffd_ref(xs: list[float], d: float, threshold: float) -> list[float]:
    w = _weights_ref(d, threshold)
    out = []
    for t in range(len(xs)):
        window = xs[t - len(w) + 1 : t + 1] if t >= len(w) - 1 else None
        if window is None or any(math.isnan(v) for v in window):
            out.append(math.nan)
        else:
            out.append(sum(wk * window[-1 - k] for k, wk in enumerate(w)))
    return out


def test_weights_hand_case() -> None:
    # w1 = -d = -0.5, w2 = -w1 (d-1)/2 = -0.125, w3 = -w2 (d-2)/3 = -0.0625, w4 = -0.039 < 0.05
    np.testing.assert_allclose(ffd_weights(0.5, threshold=0.05), [1, -0.5, -0.125, -0.0625])
    assert ffd_weights(0.0).tolist() == [1.0]
    assert ffd_weights(2.0).tolist() == [1.0, -2.0, 1.0]
    assert len(ffd_weights(0.3, 1e-5, max_width=7)) == 7


def test_frac_diff_hand_case_and_integer_orders() -> None:
    idx = pd.date_range("2020-01-01", periods=5, name="timestamp")
    x = pd.DataFrame(
        {"A": [1.0, 2.0, 4.0, 8.0, 16.0], "B": [1.0, np.nan, 3.0, 4.0, 6.0]}, index=idx
    )
    out = frac_diff_ffd(x, d=0.5, threshold=0.1)
    np.testing.assert_allclose(out["A"], [NAN := np.nan, NAN, 4 - 1 - 0.125, 5.75, 11.5])
    # a NaN inside the window gives NaN; the window then moves past it
    np.testing.assert_allclose(out["B"], [NAN, NAN, NAN, NAN, 6 - 2 - 0.375])
    pd.testing.assert_frame_equal(frac_diff_ffd(x, d=0.0), x)
    pd.testing.assert_frame_equal(frac_diff_ffd(x, d=1.0), x - x.shift(1))


def test_series_in_series_out() -> None:
    s = make_close(50, 1, ragged=False)["S000"]
    out = frac_diff_ffd(s, d=0.4, threshold=1e-2)
    assert isinstance(out, pd.Series)
    assert out.name == "S000"
    assert out.index.equals(s.index)


def test_window_longer_than_data_is_all_nan() -> None:
    x = make_close(30, 2, ragged=False)
    assert frac_diff_ffd(x, d=0.3, threshold=1e-6).isna().all().all()


@pytest.mark.parametrize(("d", "threshold"), [(0.35, 1e-4), (0.8, 1e-5)])
def test_matches_loop_reference_on_sample(
    sample_stocks: pd.DataFrame, d: float, threshold: float
) -> None:
    x = np.log(sample_stocks.iloc[:, :5])
    out = frac_diff_ffd(x, d=d, threshold=threshold)
    for c in x.columns:
        ref = _ffd_ref([float(v) for v in x[c]], d, threshold)
        np.testing.assert_allclose(out[c], ref, rtol=1e-10, atol=1e-10)


def test_numba_kernel_equals_python_twin() -> None:
    x = np.log(make_close(400, 4, seed=9).to_numpy())
    x[200, 1] = np.nan
    w = ffd_weights(0.45, 1e-3)
    py = frac_diff_ffd_py(x, w, np.empty_like(x))
    nb = frac_diff_ffd_nb(x, w, np.empty_like(x))
    np.testing.assert_array_equal(py, nb)
    assert np.isnan(py[200 : 200 + len(w), 1]).all()
    assert not np.isnan(py[200 + len(w), 1])


def test_input_not_mutated() -> None:
    x = make_close(100, 3)
    before = x.copy()
    frac_diff_ffd(x, d=0.5, threshold=1e-3)
    pd.testing.assert_frame_equal(x, before)


def test_min_ffd_order_series_and_panel() -> None:
    pytest.importorskip("statsmodels")
    rng = np.random.default_rng(0)
    idx = pd.date_range("2020-01-01", periods=400, name="timestamp")
    walk = np.cumsum(rng.normal(size=400))
    noise = rng.normal(size=400)
    assert min_ffd_order(pd.Series(walk, index=idx), d_grid=[1.0, 0.0]) == 1.0
    assert min_ffd_order(pd.Series(noise, index=idx), d_grid=[0.0, 1.0]) == 0.0
    panel = pd.DataFrame({"walk": walk, "noise": noise}, index=idx)
    out = min_ffd_order(panel, d_grid=np.linspace(0, 1, 6), threshold=1e-3)
    assert isinstance(out, pd.Series)
    assert out.name == "d"
    assert out["noise"] == 0.0
    assert 0.0 < out["walk"] <= 1.0
    # nothing passes: NaN
    assert math.isnan(min_ffd_order(pd.Series(walk, index=idx), d_grid=[0.0]))


def test_min_ffd_order_on_sample(sample_stocks: pd.DataFrame) -> None:
    pytest.importorskip("statsmodels")
    out = min_ffd_order(np.log(sample_stocks["AAPL"].dropna()), threshold=1e-4)
    assert isinstance(out, float)
    assert 0.0 < out < 1.0  # log prices are not stationary, their first difference is


def test_errors() -> None:
    x = make_close(40, 2)
    with pytest.raises(ParameterError, match=r"'d' parameter of frac_diff_ffd .* >= 0; got -0.5"):
        frac_diff_ffd(x, d=-0.5)
    with pytest.raises(ParameterError, match=r"'threshold' parameter of frac_diff_ffd .* > 0"):
        frac_diff_ffd(x, d=0.5, threshold=0.0)
    with pytest.raises(ParameterError, match=r"'d_grid' parameter of min_ffd_order"):
        min_ffd_order(x, d_grid=[])
    with pytest.raises(ParameterError, match=r"'p_value' parameter of min_ffd_order .* got 1.5"):
        min_ffd_order(x, p_value=1.5)
