"""plot_performance: traces checked against independent computations from prices."""

from __future__ import annotations

import itertools
import json
import math
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from qresearch.evaluation import metrics
from qresearch.evaluation.plots import monthly_returns_table, plot_performance, rolling_sharpe
from qresearch.exceptions import AlignmentError, OptionalDependencyError, ParameterError


@pytest.fixture(scope="module")
def aapl_close(sample_stocks: pd.DataFrame) -> pd.Series:
    close = sample_stocks["AAPL"].dropna()
    assert close.index.is_monotonic_increasing and len(close) > 7000
    return close


@pytest.fixture(scope="module")
def aapl(sample_stocks: pd.DataFrame) -> pd.Series:
    r = sample_stocks["AAPL"].pct_change()
    assert r.isna().sum() == 1  # only the first row: the price series has no gaps
    return r


@pytest.fixture(scope="module")
def fig(aapl: pd.Series):
    return plot_performance(aapl)


def _trace(fig, name: str):
    (trace,) = [t for t in fig.data if t.name == name]
    return trace


def test_traces_and_layout(fig, aapl: pd.Series) -> None:
    assert [t.name for t in fig.data] == ["AAPL", "Drawdown", "Rolling Sharpe", "Monthly returns"]
    assert [t.type for t in fig.data] == ["scatter", "scatter", "scatter", "heatmap"]
    assert fig.layout.title.text == "qresearch backtest"
    assert fig.layout.yaxis.type == "log"  # AAPL grew far more than 10x since 1990
    for name in ("AAPL", "Drawdown", "Rolling Sharpe"):
        x = pd.DatetimeIndex(_trace(fig, name).x)
        assert x.equals(pd.DatetimeIndex(aapl.dropna().index)), name


def test_growth_of_one_equals_the_price_ratio(fig, aapl_close: pd.Series) -> None:
    # Compounding the returns rebuilds the prices: growth_t = close_t / close_0.
    expected = (aapl_close / aapl_close.iloc[0]).iloc[1:]
    np.testing.assert_allclose(_trace(fig, "AAPL").y, expected.to_numpy(), rtol=1e-10)


def test_heatmap_equals_monthly_returns_from_month_end_prices(fig, aapl_close: pd.Series) -> None:
    month_end = aapl_close.resample("ME").last()
    expected = (month_end.pct_change().dropna() * 100.0).to_dict()
    heat = _trace(fig, "Monthly returns")
    z = np.asarray(heat.z, dtype=float)
    years = [int(y) for y in heat.y]
    assert list(heat.x) == [
        "Jan",
        "Feb",
        "Mar",
        "Apr",
        "May",
        "Jun",
        "Jul",
        "Aug",
        "Sep",
        "Oct",
        "Nov",
        "Dec",
    ]
    assert years == list(range(1990, aapl_close.index[-1].year + 1))
    assert z.shape == (len(years), 12)
    for stamp, value in expected.items():
        assert z[years.index(stamp.year), stamp.month - 1] == pytest.approx(
            value, rel=1e-9, abs=1e-12
        )
    # Every other cell is a month after the data ends.
    assert np.isfinite(z).sum() == len(expected)


def test_drawdown_equals_running_peak_of_prices(fig, aapl_close: pd.Series) -> None:
    growth = (aapl_close / aapl_close.iloc[0]).iloc[1:]
    expected = growth / growth.cummax().clip(lower=1.0) - 1.0
    got = np.asarray(_trace(fig, "Drawdown").y, dtype=float)
    np.testing.assert_allclose(got, expected.to_numpy(), rtol=1e-10, atol=1e-14)
    assert got.max() <= 0.0


def test_drawdown_counts_a_first_period_loss() -> None:
    idx = pd.date_range("2024-01-01", periods=3)
    fig = plot_performance(pd.Series([-0.1, 0.2, -0.5], index=idx), window=2)
    # growth 0.9, 1.08, 0.54 against peaks 1, 1.08, 1.08 (hand calculation)
    np.testing.assert_allclose(_trace(fig, "Drawdown").y, [-0.1, 0.0, -0.5], atol=1e-12)


def test_rolling_sharpe_equals_a_numpy_window_computation(fig, aapl: pd.Series) -> None:
    r = aapl.dropna()

    def window_sharpe(a: np.ndarray) -> float:
        return a.mean() / a.std(ddof=1) * math.sqrt(252)

    expected = r.rolling(126).apply(window_sharpe, raw=True)
    got = np.asarray(_trace(fig, "Rolling Sharpe").y, dtype=float)
    np.testing.assert_allclose(got, expected.to_numpy(), rtol=1e-8, equal_nan=True)
    assert np.isnan(got[:125]).all() and np.isfinite(got[125:]).all()
    # The last window is the metrics.sharpe of the last 126 returns.
    assert got[-1] == pytest.approx(metrics.sharpe(r.iloc[-126:], 252), rel=1e-9)


def test_rolling_sharpe_window_and_annualization(aapl: pd.Series) -> None:
    r = aapl.loc["2014"]
    got = rolling_sharpe(r, window=21, periods_per_year=12)
    last = r.dropna().iloc[-21:]
    assert got.iloc[-1] == pytest.approx(last.mean() / last.std(ddof=1) * math.sqrt(12), rel=1e-9)
    flat = pd.Series(0.01, index=pd.date_range("2024-01-01", periods=5))
    assert rolling_sharpe(flat, 3).isna().all()  # no dispersion: NaN, like metrics.sharpe


def test_monthly_table_leaves_months_without_returns_empty() -> None:
    idx = pd.to_datetime(["2023-03-31", "2023-11-01", "2023-11-02", "2024-01-15"])
    table = monthly_returns_table(pd.Series([0.05, 0.1, -0.1, 0.02], index=idx))
    assert table.index.tolist() == [2023, 2024]
    assert table.loc[2023, 3] == pytest.approx(5.0)
    assert table.loc[2023, 11] == pytest.approx((1.1 * 0.9 - 1) * 100)
    assert table.loc[2024, 1] == pytest.approx(2.0)
    assert table.notna().sum().sum() == 3


def test_benchmark_trace_on_the_strategy_index(
    aapl: pd.Series, sample_stocks: pd.DataFrame
) -> None:
    r = aapl.loc["2012":"2013"]
    ge_close = sample_stocks["GE"]
    bench = ge_close.pct_change()  # longer than r: read at r's timestamps only
    fig = plot_performance(r, benchmark=bench, log_scale=True, title="t")
    assert [t.name for t in fig.data] == [
        "AAPL",
        "GE",
        "Drawdown",
        "Rolling Sharpe",
        "Monthly returns",
    ]
    assert fig.layout.yaxis.type == "log"
    ge = _trace(fig, "GE")
    assert pd.DatetimeIndex(ge.x).equals(pd.DatetimeIndex(r.index))
    expected = (ge_close / ge_close.shift(1).loc[r.index[0]]).loc[r.index]
    np.testing.assert_allclose(ge.y, expected.to_numpy(), rtol=1e-10)


def test_misaligned_benchmark_names_the_first_missing_timestamp(aapl: pd.Series) -> None:
    r = aapl.loc["2014"].dropna()
    bench = r.drop(r.index[[5, 9]]) * 0.5
    first = re.escape(f"{r.index[5]} (first of 2 missing")
    assert str(r.index[5]) == "2014-01-09 00:00:00"
    with pytest.raises(AlignmentError, match=first):
        plot_performance(r, benchmark=bench, window=21)
    with pytest.raises(AlignmentError, match="time zones"):
        plot_performance(r, benchmark=r.tz_localize("UTC"), window=21)


def test_benchmark_ticker_is_refused(aapl: pd.Series) -> None:
    with pytest.raises(ParameterError, match="never downloads"):
        plot_performance(aapl, benchmark="SPY")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("returns", "match"),
    [
        (pd.Series(dtype="float64"), "0 non-NaN values"),
        (pd.Series(np.nan, index=pd.date_range("2024-01-01", periods=3)), "0 non-NaN values"),
        (pd.Series([0.01, 0.02, 0.03]), "DatetimeIndex"),
        ([0.01, 0.02], "pandas Series"),
        (
            pd.Series(
                [0.01, 0.02, 0.03], index=pd.to_datetime(["2024-01-03", "2024-01-02", "2024-01-04"])
            ),
            "sort_index",
        ),
        (
            pd.Series(
                [0.01, 0.02, 0.03], index=pd.to_datetime(["2024-01-02", "2024-01-02", "2024-01-04"])
            ),
            "duplicate",
        ),
        (pd.Series([0.01, np.inf, 0.03], index=pd.date_range("2024-01-01", periods=3)), "infinite"),
    ],
)
def test_bad_returns(returns, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        plot_performance(returns, window=2)


@pytest.mark.parametrize(
    ("window", "match"),
    [
        (1, ">= 2"),
        (0, ">= 2"),
        (2.5, "integer"),
        (True, "integer"),
        ("5", "integer"),
        (253, "exceeds the 252"),
    ],
)
def test_bad_window(aapl: pd.Series, window, match: str) -> None:
    r = aapl.loc["2014"]
    assert r.notna().sum() == 252
    with pytest.raises(ParameterError, match=match):
        plot_performance(r, window=window)


def test_bad_scalars(aapl: pd.Series) -> None:
    r = aapl.loc["2014"]
    with pytest.raises(ParameterError, match="periods_per_year"):
        plot_performance(r, periods_per_year=0)
    with pytest.raises(ParameterError, match="title"):
        plot_performance(r, title=None)  # type: ignore[arg-type]


def test_inputs_are_not_mutated(aapl: pd.Series) -> None:
    r = aapl.loc["2013":"2014"]
    bench = r.fillna(0.0) * 0.5
    r_before, bench_before = r.copy(), bench.copy()
    plot_performance(r, benchmark=bench, window=21)
    pd.testing.assert_series_equal(r, r_before)
    pd.testing.assert_series_equal(bench, bench_before)


def test_importing_the_module_does_not_import_plotly() -> None:
    code = (
        "import sys, json\nimport qresearch.evaluation.plots\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert "qresearch" in loaded
    assert not loaded & {"plotly", "matplotlib", "quantstats"}


def test_missing_plotly_names_the_extra(monkeypatch: pytest.MonkeyPatch, aapl: pd.Series) -> None:
    for name in ("plotly", "plotly.graph_objects", "plotly.subplots"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(OptionalDependencyError, match=r"qresearch\[report\]"):
        plot_performance(aapl)


def _flat_then(growth: list[float]) -> pd.Series:
    # Returns whose growth of 1 is exactly `growth` (hand-built).
    values = [growth[0] - 1.0] + [b / a - 1.0 for a, b in itertools.pairwise(growth)]
    return pd.Series(values, index=pd.date_range("2024-01-01", periods=len(growth)))


@pytest.mark.parametrize(
    ("growth", "bench_growth", "expected"),
    [
        ([1.5, 10.0], None, "linear"),  # largest / smallest = 10: not more than 10x
        ([1.5, 10.5], None, "log"),
        ([0.5, 0.09], None, "log"),  # a fall to 0.09 is a factor of 11 as well
        ([1.2, 0.0], None, "linear"),  # a total loss cannot be drawn on a log axis
        ([1.1, 1.3], [2.0, 12.0], "log"),  # the benchmark's growth counts too
        ([1.1, 1.3], [2.0, 3.0], "linear"),
    ],
)
def test_log_scale_by_default_when_growth_exceeds_ten_times(
    growth: list[float], bench_growth: list[float] | None, expected: str
) -> None:
    r = _flat_then(growth)
    bench = None if bench_growth is None else _flat_then(bench_growth)
    fig = plot_performance(r, benchmark=bench, window=2)
    assert fig.layout.yaxis.type == expected
    assert fig.layout.yaxis.title.text == ("log scale" if expected == "log" else None)


def test_log_scale_given_explicitly_wins(aapl: pd.Series) -> None:
    assert plot_performance(aapl, log_scale=False).layout.yaxis.type == "linear"
    assert plot_performance(aapl.loc["2014"], log_scale=True).layout.yaxis.type == "log"
    assert plot_performance(aapl.loc["2014"]).layout.yaxis.type == "linear"  # 1.4x
    with pytest.raises(ParameterError, match="'log_scale' parameter must be True, False or None"):
        plot_performance(aapl, log_scale="auto")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("strategy_name", "bench_name", "expected"),
    [
        ("equity", "equity", ("equity", "Benchmark")),
        ("equity", "SPY", ("equity", "SPY")),
        ("equity", None, ("equity", "Benchmark")),
        (None, None, ("Strategy", "Benchmark")),
        (None, "Strategy", ("Strategy", "Benchmark")),
        ("equity", 0, ("equity", "0")),
    ],
)
def test_benchmark_legend_names_the_benchmark(
    aapl: pd.Series, strategy_name, bench_name, expected: tuple[str, str]
) -> None:
    r = aapl.loc["2014"].rename(strategy_name)
    bench = (r * 0.5).rename(bench_name)
    fig = plot_performance(r, benchmark=bench, window=21)
    assert tuple(t.name for t in fig.data[:2]) == expected
    assert [t.showlegend for t in fig.data[:2]] == [None, None]  # both in the legend


def test_heatmap_labels_are_readable(fig, aapl: pd.Series) -> None:
    # Every year labelled, cell text of 10px, and each heatmap row at least 20px tall
    # (the figure grows with the number of years).
    heat = _trace(fig, "Monthly returns")
    n_years = len(heat.y)
    assert n_years == aapl.index[-1].year - 1990 + 1
    layout = fig.layout
    assert layout.yaxis4.dtick == 1 and layout.yaxis4.type == "category"
    assert heat.textfont.size >= 10 and heat.texttemplate == "%{z:.1f}"
    plot_px = layout.height - layout.margin.t - layout.margin.b
    row_px = (layout.yaxis4.domain[1] - layout.yaxis4.domain[0]) * plot_px / n_years
    assert row_px >= 20
    short = plot_performance(aapl.loc["2014"], window=21)
    assert short.layout.height < layout.height  # one year: no empty space
    short_px = short.layout.height - short.layout.margin.t - short.layout.margin.b
    assert (short.layout.yaxis4.domain[1] - short.layout.yaxis4.domain[0]) * short_px >= 20
