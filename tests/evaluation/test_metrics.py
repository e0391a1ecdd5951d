"""Metrics equal quantstats' on the bundled data, and hand values on tiny series."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from qresearch.evaluation import metrics as m
from qresearch.exceptions import PanelError, ParameterError


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


def _quantstats_stats(qs: Any, r: pd.Series, periods: int) -> dict[str, float]:
    # Every stat quantstats defines, by quantstats (its defaults where it has a method).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "total_return": qs.stats.comp(r),
            "cagr": qs.stats.cagr(r, periods=periods),
            "volatility": qs.stats.volatility(r, periods=periods),
            "sharpe": qs.stats.sharpe(r, periods=periods),
            "sortino": qs.stats.sortino(r, periods=periods),
            "max_drawdown": qs.stats.max_drawdown(r),
            "calmar": qs.stats.calmar(r, periods=periods),
            "skew": qs.stats.skew(r),
            "kurtosis": qs.stats.kurtosis(r),
            "var": qs.stats.value_at_risk(r, confidence=0.95),
            "cvar": qs.stats.conditional_value_at_risk(r, confidence=0.95),
            "cvar_historical": qs.stats.conditional_value_at_risk(
                r, confidence=0.95, method="historical"
            ),
            "win_rate": qs.stats.win_rate(r),
            "best": qs.stats.best(r),
            "worst": qs.stats.worst(r),
        }


@pytest.mark.parametrize("sym", ["AAPL", "GE", "FB"])
def test_metrics_equal_quantstats(qs, rets, sym: str) -> None:
    r = rets[sym]
    expected = _quantstats_stats(qs, r, 252)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rf_sharpe = qs.stats.sharpe(r, rf=0.03, periods=252)
        rf_sortino = qs.stats.sortino(r, rf=0.03, periods=252)
    got = m.stats(r)
    for key, value in expected.items():
        assert got[key] == pytest.approx(float(value), rel=1e-9), key
    # quantstats has no historical VaR function: numpy's linear quantile is the peer.
    assert got["var_historical"] == pytest.approx(np.quantile(r, 0.05), rel=1e-12)
    assert m.sharpe(r, 252, risk_free=0.03) == pytest.approx(rf_sharpe, rel=1e-9)
    assert m.sortino(r, 252, risk_free=0.03) == pytest.approx(rf_sortino, rel=1e-9)
    assert m.value_at_risk(r) == pytest.approx(expected["var"], rel=1e-9)
    assert m.cvar(r) == pytest.approx(expected["cvar"], rel=1e-9)
    assert m.cvar(r, method="historical") == pytest.approx(expected["cvar_historical"], rel=1e-9)


def test_var_equals_quantstats_on_every_bundled_stock_daily_and_monthly(qs, sample_stocks) -> None:
    # The audit: historical VaR was reported as "var" (13.8% off quantstats on monthly data).
    daily = sample_stocks.pct_change(fill_method=None)
    monthly = (1.0 + daily).resample("ME").prod(min_count=1) - 1.0
    for frame, periods in ((daily, 252), (monthly, 12)):
        for sym in frame.columns:
            r = frame[sym].dropna()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                var, cvar = qs.stats.value_at_risk(r), qs.stats.cvar(r)
            got = m.stats(r, periods)
            assert got["var"] == pytest.approx(var, rel=1e-9), sym
            assert got["cvar"] == pytest.approx(cvar, rel=1e-9), sym
            assert got["var_historical"] == pytest.approx(np.quantile(r, 0.05), rel=1e-12)
        table = m.stats(frame.dropna(how="all"), periods)  # one column per stock
        for sym in frame.columns:
            assert table.loc["var", sym] == pytest.approx(m.value_at_risk(frame[sym]), rel=1e-12)


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
    assert m.value_at_risk(r, 0.8, "historical") == pytest.approx(np.quantile(r, 0.2))
    assert m.cvar(r, 0.6, "historical") == pytest.approx(np.mean([-0.02, -0.01]))
    # Normal VaR / expected shortfall: z = Phi^-1(0.05) = -1.6448536269514722.
    z, pdf_z = -1.6448536269514722, math.exp(-(1.6448536269514722**2) / 2) / math.sqrt(2 * math.pi)
    assert m.value_at_risk(r) == pytest.approx(mean + z * sd, rel=1e-12)
    assert m.cvar(r) == pytest.approx(mean - sd * pdf_z / 0.05, rel=1e-12)
    dd = m.drawdown(pd.Series([0.1, -0.1, 0.5], index=idx[:3]))
    assert dd.tolist() == pytest.approx([0.0, -0.1, 0.0])


@pytest.mark.parametrize("value", [0.01, -0.003, 1 / 3, 0.0])
def test_constant_returns_have_no_dispersion(value: float) -> None:
    # Rounding leaves a std of ~1e-18 for constant returns: Sharpe was 8.7e16.
    idx = pd.date_range("2024-01-01", periods=10)
    r = pd.Series(value, index=idx)
    s = m.stats(r)
    assert math.isnan(s["sharpe"]) and math.isnan(m.sharpe(r))
    assert s["volatility"] == 0.0 and m.volatility(r) == 0.0
    assert math.isnan(m.sharpe(r, risk_free=0.03))  # the excess returns are constant too
    assert s["var"] == pytest.approx(value, abs=1e-15)
    assert s["cvar"] == pytest.approx(value, abs=1e-15)
    frame = pd.DataFrame({"flat": r, "moving": np.linspace(-0.01, 0.01, 10)}, index=idx)
    both = m.sharpe(frame)
    assert math.isnan(both["flat"]) and math.isfinite(both["moving"])
    # The rf equal to the return: excess returns are rounding noise around 0.
    rf = (1.0 + 0.01) ** 252 - 1.0
    assert math.isnan(m.sortino(pd.Series(0.01, index=idx), risk_free=rf))
    assert math.isnan(m.sharpe(pd.Series(0.01, index=idx), risk_free=rf))


def test_all_zero_returns_are_nan_for_the_documented_reasons() -> None:
    s = m.stats(pd.Series(0.0, index=pd.date_range("2024-01-01", periods=5)))
    assert s["volatility"] == 0.0 and s["max_drawdown"] == 0.0 and s["total_return"] == 0.0
    for key in ("sharpe", "sortino", "calmar", "win_rate", "skew", "kurtosis"):
        assert math.isnan(s[key]), key
    for reason in ("no dispersion", "no downside", "no drawdown", "no non-zero return"):
        assert reason in (m.__doc__ or ""), reason


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"periods_per_year": 0}, r"'periods_per_year' parameter of stats must be a finite .*> 0"),
        ({"periods_per_year": -12}, "'periods_per_year' parameter of stats"),
        ({"periods_per_year": math.inf}, r"'periods_per_year' .*got inf"),
        ({"periods_per_year": True}, r"'periods_per_year' .*got True"),
        ({"periods_per_year": "252"}, r"'periods_per_year' .*got '252'"),
        ({"risk_free": -2}, r"'risk_free' parameter of stats must be a finite number > -1"),
        ({"risk_free": -1.0}, r"'risk_free' .*> -1; got -1.0"),
        ({"risk_free": math.nan}, r"'risk_free' .*got nan"),
        ({"risk_free": True}, r"'risk_free' .*got True"),
        ({"confidence": 95}, r"'confidence' parameter of stats must be .*\(0, 1\); got 95"),
        ({"confidence": 0.0}, r"'confidence' .*got 0.0"),
        ({"confidence": 1}, r"'confidence' .*got 1"),
        ({"confidence": True}, r"'confidence' .*got True"),
        ({"trades": "trades"}, "'trades' argument of trade_stats must be a DataFrame"),
    ],
)
def test_stats_validates_every_argument(kwargs: dict, match: str) -> None:
    r = pd.Series([0.01, -0.02, 0.03], index=pd.date_range("2024-01-01", periods=3))
    with pytest.raises(ParameterError, match=match):
        m.stats(r, **kwargs)


def test_single_metrics_validate_their_arguments() -> None:
    r = pd.Series([0.01, -0.02, 0.03])
    with pytest.raises(ParameterError, match="'periods_per_year' parameter of sharpe"):
        m.sharpe(r, periods_per_year=math.inf)
    with pytest.raises(ParameterError, match="'risk_free' parameter of sortino"):
        m.sortino(r, risk_free=-2)
    with pytest.raises(ParameterError, match="'periods_per_year' parameter of cagr"):
        m.cagr(r, periods_per_year=True)
    with pytest.raises(ParameterError, match="'confidence' parameter of value_at_risk"):
        m.value_at_risk(r, 95)
    with pytest.raises(ParameterError, match=r"'method' parameter of cvar must be one of"):
        m.cvar(r, method="normal")  # type: ignore[arg-type]


SERIES_METRICS: dict[str, Callable[..., Any]] = {
    "total_return": m.total_return,
    "cagr": m.cagr,
    "volatility": m.volatility,
    "sharpe": m.sharpe,
    "sortino": m.sortino,
    "max_drawdown": m.max_drawdown,
    "calmar": m.calmar,
    "value_at_risk": m.value_at_risk,
    "cvar": m.cvar,
    "drawdown": m.drawdown,
    "stats": m.stats,
}


@pytest.mark.parametrize("name", sorted(SERIES_METRICS))
@pytest.mark.parametrize(
    ("index", "match"),
    [
        (pd.to_datetime(["2024-01-03", "2024-01-02", "2024-01-04"]), "not sorted.*sort_index"),
        (pd.to_datetime(["2024-01-02", "2024-01-02", "2024-01-04"]), "duplicated.*keep="),
        (pd.DatetimeIndex(["2024-01-02", None, "2024-01-04"]), "NaN/NaT in its index"),
        (pd.Index([2, 1, 3]), "not sorted"),
    ],
)
def test_unsorted_or_duplicated_index_is_refused(name: str, index: pd.Index, match: str) -> None:
    # In array order the drawdown of an unsorted series is a different number.
    r = pd.Series([-0.5, 0.2, 0.1], index=index)
    with pytest.raises(PanelError, match=r"returns .*" + match):
        SERIES_METRICS[name](r)
    with pytest.raises(PanelError, match=match):
        SERIES_METRICS[name](r.to_frame("a"))


@pytest.fixture(scope="module")
def sweep(sample_stocks: pd.DataFrame) -> pd.DataFrame:
    # A sweep-like frame: (param, symbol) columns, ragged NaN starts and a NaN hole.
    r = sample_stocks[["AAPL", "FB", "GE"]].loc["2011":"2014"].pct_change(fill_method=None)
    r = r.iloc[1:].copy()
    r.iloc[100:103, 2] = np.nan
    frame = pd.concat({1: r, 2: r * 0.5}, axis=1)
    frame.columns.names = ["leverage", "symbol"]
    return frame


@pytest.mark.parametrize("name", sorted(set(SERIES_METRICS) - {"drawdown", "stats"}))
def test_series_in_float_out_frame_in_one_value_per_column(sweep: pd.DataFrame, name: str) -> None:
    func = SERIES_METRICS[name]
    before = sweep.copy()
    got = func(sweep)
    assert isinstance(got, pd.Series) and got.index.equals(sweep.columns)
    for col in sweep.columns:
        one = func(sweep[col])
        assert type(one) is float
        assert got[col] == pytest.approx(one, rel=1e-12, nan_ok=True), col
        assert one == pytest.approx(func(sweep[col].dropna()), rel=1e-12, nan_ok=True)
    pd.testing.assert_frame_equal(sweep, before)


def test_stats_and_drawdown_of_a_frame_are_per_column(sweep: pd.DataFrame) -> None:
    table = m.stats(sweep)
    assert isinstance(table, pd.DataFrame) and table.columns.equals(sweep.columns)
    for col in sweep.columns:
        one = m.stats(sweep[col])
        assert list(table.index) == list(one.index)
        assert table.loc["start", col] == one["start"] and table.loc["end", col] == one["end"]
        for key in one.index.drop(["start", "end"]):
            assert table.loc[key, col] == pytest.approx(one[key], rel=1e-12, nan_ok=True), key
    assert table.loc["start", (1, "FB")] == pd.Timestamp("2012-05-21")
    dd = m.drawdown(sweep)
    assert dd.index.equals(sweep.index) and dd.columns.equals(sweep.columns)
    assert dd.isna().equals(sweep.isna())
    col = (1, "GE")
    pd.testing.assert_series_equal(
        dd[col].dropna(), m.drawdown(sweep[col]), check_names=False, rtol=1e-12
    )


def test_errors_and_nan_handling() -> None:
    r = pd.Series([0.01, np.nan, 0.02])
    assert m.stats(r)["periods"] == 2
    with pytest.raises(ParameterError, match="must be a pandas Series of returns .* got list"):
        m.stats([0.1])  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="infinite return at 1"):
        m.stats(pd.Series([0.1, np.inf]))
    with pytest.raises(ParameterError, match="infinite return at 0 in column 'b'"):
        m.sharpe(pd.DataFrame({"a": [0.1, 0.2], "b": [-np.inf, 0.1]}))
    with pytest.raises(ParameterError, match="no non-NaN value"):
        m.stats(pd.Series([np.nan]))
    with pytest.raises(ParameterError, match="no non-NaN value in column 'b'.*dropna"):
        m.stats(pd.DataFrame({"a": [0.1, 0.2], "b": [np.nan, np.nan]}))
    with pytest.raises(ParameterError, match="numeric returns; got dtype"):
        m.sharpe(pd.Series(["0.1", "0.2"]))
    with pytest.raises(ParameterError, match="has no columns"):
        m.sharpe(pd.DataFrame(index=pd.RangeIndex(3)))
    with pytest.raises(PanelError, match=r"duplicated columns \['a'\]"):
        m.sharpe(pd.DataFrame([[0.1, 0.2], [0.3, 0.1]], columns=["a", "a"]))
    with pytest.raises(ParameterError, match="trades describes one portfolio"):
        m.stats(pd.DataFrame({"a": [0.1, 0.2]}), trades=pd.DataFrame())
    # Too few returns: NaN, not an error, for the single metrics.
    assert math.isnan(m.sharpe(pd.Series([0.01])))
    assert math.isnan(m.sharpe(pd.Series([np.nan, np.nan])))


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
