from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from qresearch.exceptions import AlignmentError, ParameterError
from qresearch.portfolio import risk
from tests.conftest import make_close


def test_target_volatility_matches_independent_covariance() -> None:
    close = make_close(150, 4, seed=5, ragged=False)
    w = pd.DataFrame(np.nan, index=close.index, columns=close.columns)
    w.iloc[100] = [0.4, 0.3, 0.2, 0.1]
    w.iloc[140] = [0.25, 0.25, 0.25, 0.25]
    out = risk.target_volatility(w, close, 0.15, window=60)
    for r in (100, 140):
        window = close.pct_change().iloc[r - 59 : r + 1]
        row = w.iloc[r].to_numpy()
        vol = math.sqrt(row @ window.cov().to_numpy() @ row * 252)
        np.testing.assert_allclose(out.iloc[r].to_numpy(), row * 0.15 / vol, rtol=1e-10)
        scaled = out.iloc[r].to_numpy()
        assert math.sqrt(scaled @ window.cov().to_numpy() @ scaled * 252) == pytest.approx(0.15)
    assert out.drop(out.index[[100, 140]]).isna().all().all()
    capped = risk.target_volatility(w, close, 5.0, window=60, max_gross=1.5)
    assert capped.iloc[100].abs().sum() == pytest.approx(1.5)
    with pytest.raises(AlignmentError):
        risk.target_volatility(w.iloc[:-1], close)


def test_target_volatility_no_look_ahead() -> None:
    close = make_close(150, 3, seed=6)
    w = pd.DataFrame(np.nan, index=close.index, columns=close.columns)
    w.iloc[80::10] = 1 / 3
    full = risk.target_volatility(w, close, window=30)
    part = risk.target_volatility(w.iloc[:111], close.iloc[:111], window=30)
    pd.testing.assert_frame_equal(full.iloc[:111], part)


def test_caps_turnover_and_sizing() -> None:
    idx = pd.date_range("2024-01-01", periods=3, name="timestamp")
    w = pd.DataFrame({"A": [0.8, np.nan, 0.1], "B": [-0.6, np.nan, 0.1]}, index=idx)
    lev = risk.cap_leverage(w, max_gross=1.0)
    assert (
        lev.iloc[0].tolist() == pytest.approx([0.8 / 1.4, -0.6 / 1.4]) and lev.iloc[1].isna().all()
    )
    assert lev.iloc[2].tolist() == [0.1, 0.1]
    net = risk.cap_leverage(w, max_gross=5.0, max_net=0.0)
    assert net.iloc[0].tolist() == pytest.approx([0.6, -0.6])
    assert risk.cap_positions(w, 0.5).iloc[0].tolist() == [0.5, -0.5]
    t = risk.limit_turnover(w, 0.7)
    assert np.abs(t.iloc[0]).sum() == pytest.approx(0.7) and t.iloc[1].isna().all()
    assert np.abs(t.iloc[2] - t.iloc[0]).sum() <= 0.7 + 1e-12
    assert risk.kelly_fraction(0.05, 0.04) == pytest.approx(1.0)
    assert risk.kelly_fraction(0.02, 0.04, fraction=0.5) == pytest.approx(0.25)
    assert risk.kelly_fraction(-0.5, 0.04, cap=2.0) == -2.0
    assert risk.fixed_fractional_size(10_000, 0.02, 100.0, 95.0) == pytest.approx(40.0)
    with pytest.raises(ParameterError, match="stop_price must differ"):
        risk.fixed_fractional_size(10_000, 0.02, 100.0, 100.0)
    with pytest.raises(ParameterError, match="'max_gross' parameter of cap_leverage"):
        risk.cap_leverage(w, max_gross=0)


def test_stress_test_on_bundled_data(sample_stocks: pd.DataFrame) -> None:
    w = pd.Series({"AAPL": 0.5, "GE": 0.3, "FB": 0.2})
    out = risk.stress_test(w, sample_stocks)
    assert "global financial crisis 2008-09" in out.index and "covid crash 2020-03" not in out.index
    gfc = out.loc["global financial crisis 2008-09"]
    px = sample_stocks.loc["2008-09-01":"2009-03-09", ["AAPL", "GE"]]
    value = 0.2 + (px / px.iloc[0] * [0.5, 0.3]).sum(axis=1)  # FB not listed: its 20% in cash
    assert gfc["pnl"] == pytest.approx(value.iloc[-1] - 1)
    assert gfc["max_drawdown"] == pytest.approx((value / value.cummax() - 1).min())
    assert gfc["covered"] == pytest.approx(0.8)
    with pytest.raises(ParameterError, match=r"no prices for \['XYZ'\]"):
        risk.stress_test(pd.Series({"XYZ": 1.0}), sample_stocks)


def test_factor_shock() -> None:
    w = pd.Series({"A": 0.5, "B": -0.5})
    betas = pd.DataFrame({"mkt": [1.0, 1.5], "size": [0.2, -0.1]}, index=["A", "B"])
    assert risk.factor_shock(w, betas, {"mkt": -0.2, "size": 0.05}) == pytest.approx(
        0.5 * (-0.2 + 0.01) - 0.5 * (-0.3 - 0.005)
    )
    with pytest.raises(ParameterError, match="no factors"):
        risk.factor_shock(w, betas, {"value": 0.1})
