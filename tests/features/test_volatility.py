"""Volatility, z-score, beta and correlation against numpy on explicit windows."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from qresearch.exceptions import AlignmentError, DataValidationError, PanelError, ParameterError
from qresearch.features import (
    ewm_volatility,
    rolling_beta,
    rolling_correlation,
    rolling_volatility,
    rolling_zscore,
)
from tests.conftest import make_close


def test_rolling_volatility_hand_case_and_periods_per_year() -> None:
    idx = pd.date_range("2020-01-01", periods=4, name="timestamp")
    close = pd.DataFrame({"A": [100.0, 110.0, 99.0, 99.0]}, index=idx)
    # returns .1, -.1, 0 -> std([.1, -.1]) = sqrt(.02), std([-.1, 0]) = sqrt(.005)
    out = rolling_volatility(close, window=2)
    np.testing.assert_allclose(out["A"], [np.nan, np.nan, math.sqrt(0.02), math.sqrt(0.005)])
    ann = rolling_volatility(close, window=2, periods_per_year=252)
    np.testing.assert_allclose(ann["A"], out["A"] * math.sqrt(252))


def test_rolling_volatility_against_numpy() -> None:
    close = make_close(200, 3, seed=1)
    out = rolling_volatility(close, window=30)
    r = (close / close.shift(1) - 1).to_numpy()
    for t in (150, 199):
        expected = np.std(r[t - 29 : t + 1], axis=0, ddof=1)
        np.testing.assert_allclose(out.iloc[t], expected, rtol=1e-10)
    # a window reaching before the listing (or the first return) is NaN
    first = close["S002"].first_valid_index()
    pos = close.index.get_loc(first)
    assert out["S002"].iloc[: pos + 30].isna().all()
    assert out["S002"].iloc[pos + 30 :].notna().all()


def test_ewm_volatility_hand_case() -> None:
    idx = pd.date_range("2020-01-01", periods=4, name="timestamp")
    close = pd.DataFrame({"A": [100.0, 110.0, 99.0, 99.0]}, index=idx)
    out = ewm_volatility(close, span=2)
    # adjust=True weights (1-alpha)^i with alpha=2/3: (1/3, 1) for [.1, -.1]
    w = np.array([1 / 9, 1 / 3, 1.0])
    x = np.array([0.1, -0.1, 0.0])
    mean = (w * x).sum() / w.sum()
    var = (w * (x - mean) ** 2).sum() / w.sum() / (1 - (w**2).sum() / w.sum() ** 2)
    assert out["A"].iloc[2] == pytest.approx(math.sqrt(0.02))
    assert out["A"].iloc[3] == pytest.approx(math.sqrt(var), rel=1e-12)


def test_rolling_zscore_hand_case_and_zero_std() -> None:
    idx = pd.date_range("2020-01-01", periods=5, name="timestamp")
    x = pd.DataFrame({"A": [1.0, 2.0, 3.0, 1.0, 1.0], "B": [2.0] * 5}, index=idx)
    out = rolling_zscore(x, window=3)
    # [1,2,3]: (3-2)/1 = 1; [2,3,1]: (1-2)/1 = -1; [3,1,1]: (1-5/3)/std
    np.testing.assert_allclose(out["A"][:4], [np.nan, np.nan, 1.0, -1.0])
    assert out["A"].iloc[4] == pytest.approx((1 - 5 / 3) / np.std([3, 1, 1], ddof=1))
    assert out["B"].isna().all()


def test_beta_and_correlation_against_numpy() -> None:
    close = make_close(150, 3, seed=2, ragged=False)
    bench = close.mean(axis=1)
    beta = rolling_beta(close, bench, window=40)
    corr = rolling_correlation(close, bench, window=40)
    r = (close / close.shift(1) - 1).to_numpy()
    rb = (bench / bench.shift(1) - 1).to_numpy()
    assert beta.iloc[:40].isna().all().all()
    for t in (40, 99, 149):
        y, x = r[t - 39 : t + 1], rb[t - 39 : t + 1]
        for j in range(3):
            b = np.cov(y[:, j], x, ddof=1)[0, 1] / np.var(x, ddof=1)
            assert beta.iloc[t, j] == pytest.approx(b, rel=1e-9)
            assert corr.iloc[t, j] == pytest.approx(np.corrcoef(y[:, j], x)[0, 1], rel=1e-9)


def test_beta_of_a_levered_copy_is_two() -> None:
    idx = pd.date_range("2020-01-01", periods=30, name="timestamp")
    rb = np.random.default_rng(0).normal(0, 0.01, 30)
    bench = pd.Series(100 * np.cumprod(1 + rb), index=idx)
    close = pd.DataFrame({"X": 100 * np.cumprod(1 + 2 * rb)}, index=idx)
    np.testing.assert_allclose(rolling_beta(close, bench, window=10)["X"].iloc[10:], 2.0)
    np.testing.assert_allclose(rolling_correlation(close, bench, window=10)["X"].iloc[10:], 1.0)


def test_benchmark_must_be_aligned() -> None:
    close = make_close(50, 2)
    with pytest.raises(AlignmentError, match=r"close and benchmark are not aligned.*reindex"):
        rolling_beta(close, close.mean(axis=1).iloc[1:], window=10)
    with pytest.raises(PanelError, match=r"benchmark passed to rolling_correlation must be"):
        rolling_correlation(close, close.iloc[:, :1], window=10)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda c: rolling_volatility(c, window=1), r"'window' parameter of rolling_volatility"),
        (lambda c: rolling_volatility(c, periods_per_year=0), r"'periods_per_year' .* got 0"),
        (lambda c: ewm_volatility(c, span=1), r"'span' parameter of ewm_volatility .* >= 2"),
        (lambda c: rolling_zscore(c, window=1.5), r"'window' parameter of rolling_zscore"),
        (lambda c: rolling_beta(c, c.mean(axis=1), window=1), r"'window' .* rolling_beta"),
    ],
)
def test_parameter_errors(call, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        call(make_close(30, 2))


@pytest.mark.parametrize("bad", [0.0, -3.5, math.inf])
def test_rolling_volatility_refuses_prices_that_are_not_positive(bad: float) -> None:
    # A simple return needs a finite positive price on both sides; pandas would give
    # inf or a negative-price return and carry it into the window silently.
    close = make_close(120, 40, seed=3)  # two blocks of columns: the bad one in the second
    sym, when = close.columns[37], close.index[70]
    close.loc[when, sym] = bad
    with pytest.raises(DataValidationError) as err:
        rolling_volatility(close, window=20)
    msg = str(err.value)
    assert f"close {bad!r} for {sym!r}" in msg and str(when) in msg
    assert "rolling_volatility" in msg and "Fix or drop" in msg
    close.loc[when, sym] = np.nan  # a missing price is fine: NaN returns around it
    out = rolling_volatility(close, window=20)
    assert out[sym].iloc[70:91].isna().all() and out[sym].iloc[91:].notna().all()
