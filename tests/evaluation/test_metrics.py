"""Metrics equal quantstats' on the bundled data, and hand values on tiny series."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from qresearch.evaluation import metrics as m
from qresearch.exceptions import ParameterError


@pytest.fixture(scope="module")
def qs():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pytest.importorskip("quantstats")


@pytest.fixture(scope="module")
def rets(sample_stocks: pd.DataFrame) -> dict[str, pd.Series]:
    out = {}
    for sym in ("AAPL", "GE", "FB"):
        r = sample_stocks[sym].pct_change(fill_method=None).dropna()
        r.name = sym
        out[sym] = r
    return out


@pytest.mark.parametrize("sym", ["AAPL", "GE", "FB"])
def test_metrics_equal_quantstats(qs, rets, sym: str) -> None:
    r = rets[sym]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = {
            "total_return": qs.stats.comp(r),
            "cagr": qs.stats.cagr(r, periods=252),
            "volatility": qs.stats.volatility(r, periods=252),
            "sharpe": qs.stats.sharpe(r, periods=252),
            "sortino": qs.stats.sortino(r, periods=252),
            "max_drawdown": qs.stats.max_drawdown(r),
            "calmar": qs.stats.calmar(r, periods=252),
            "skew": qs.stats.skew(r),
            "kurtosis": qs.stats.kurtosis(r),
            "cvar": qs.stats.conditional_value_at_risk(r, confidence=0.95, method="historical"),
            "win_rate": qs.stats.win_rate(r),
            "best": qs.stats.best(r),
            "worst": qs.stats.worst(r),
        }
        rf_sharpe = qs.stats.sharpe(r, rf=0.03, periods=252)
        rf_sortino = qs.stats.sortino(r, rf=0.03, periods=252)
    got = m.stats(r)
    for key, value in expected.items():
        assert got[key] == pytest.approx(float(value), rel=1e-9), key
    assert m.sharpe(r, 252, risk_free=0.03) == pytest.approx(rf_sharpe, rel=1e-9)
    assert m.sortino(r, 252, risk_free=0.03) == pytest.approx(rf_sortino, rel=1e-9)


def test_hand_values() -> None:
    idx = pd.date_range("2024-01-01", periods=5)
    r = pd.Series([0.01, -0.02, 0.03, -0.01, 0.02], index=idx)
    mean, sd = 0.006, float(np.std([0.01, -0.02, 0.03, -0.01, 0.02], ddof=1))
    assert m.sharpe(r, periods_per_year=1) == pytest.approx(mean / sd)
    assert m.sortino(r, periods_per_year=1) == pytest.approx(
        mean / math.sqrt((0.0004 + 0.0001) / 5)
    )
    assert m.volatility(r, periods_per_year=4) == pytest.approx(sd * 2)
    # Drawdown starts at 1 before the first return: -50% on day one is a -50% drawdown.
    assert m.max_drawdown(pd.Series([-0.5, 1.0, -0.1], index=idx[:3])) == pytest.approx(-0.5)
    assert m.max_drawdown(pd.Series([0.1, 0.2], index=idx[:2])) == 0.0
    assert m.value_at_risk(r, 0.8) == pytest.approx(np.quantile(r, 0.2))
    assert m.cvar(r, 0.6) == pytest.approx(np.mean([-0.02, -0.01]))
    dd = m.drawdown(pd.Series([0.1, -0.1, 0.5], index=idx[:3]))
    assert dd.tolist() == pytest.approx([0.0, -0.1, 0.0])


def test_errors_and_nan_handling() -> None:
    r = pd.Series([0.01, np.nan, 0.02])
    assert m.stats(r)["periods"] == 2
    with pytest.raises(ParameterError, match="'periods_per_year' parameter must be a positive"):
        m.sharpe(r, periods_per_year=0)
    with pytest.raises(ParameterError, match="'confidence' parameter must be in"):
        m.value_at_risk(r, 95)
    with pytest.raises(ParameterError, match="must be a pandas Series of returns; got list"):
        m.stats([0.1])  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="infinite return"):
        m.stats(pd.Series([0.1, np.inf]))
    with pytest.raises(ParameterError, match="no non-NaN value"):
        m.stats(pd.Series([np.nan]))
    with pytest.raises(ParameterError, match="got a DataFrame with 2 columns"):
        m.stats(pd.DataFrame({"a": [0.1], "b": [0.2]}))
    assert math.isnan(m.sharpe(pd.Series([0.01, 0.01])))


def test_no_mutation() -> None:
    r = pd.Series([0.01, np.nan, -0.02])
    before = r.copy()
    m.stats(r)
    pd.testing.assert_series_equal(r, before)


def test_trade_stats_by_hand() -> None:
    t = pd.DataFrame(
        {
            "pnl": [10.0, -5.0, 20.0, -15.0, 3.0],
            "return": [0.1, -0.05, 0.2, -0.15, 0.03],
            "status": ["closed", "closed", "closed", "closed", "open"],
            "duration_bars": [2, 4, 6, 8, 1],
        }
    )
    s = m.trade_stats(t)
    assert s["trades"] == 4 and s["trade_win_rate"] == 0.5
    assert s["profit_factor"] == pytest.approx(30 / 20)
    assert s["expectancy"] == pytest.approx(2.5)
    assert s["avg_trade_return"] == pytest.approx(0.025)
    assert s["best_trade"] == 0.2 and s["worst_trade"] == -0.15 and s["avg_holding_bars"] == 5.0
    only_wins = m.trade_stats(t[t["pnl"] > 0])
    assert only_wins["profit_factor"] == math.inf
    empty = m.trade_stats(t.iloc[:0])
    assert empty["trades"] == 0 and math.isnan(empty["expectancy"])
    with pytest.raises(ParameterError, match=r"missing columns \['status'\]"):
        m.trade_stats(t.drop(columns="status"))
    merged = m.stats(pd.Series([0.01, -0.02, 0.03]), trades=t)
    assert merged["trades"] == 4 and merged["periods"] == 3
