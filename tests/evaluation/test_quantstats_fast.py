"""The fast quantstats helpers equal quantstats' own functions on the same inputs.

The expected values come from the quantstats originals (the peer library), called on
the same random series, including the edge cases of drawdown periods: a series that
starts or ends in a drawdown, one-day drawdowns, no drawdown at all, NaN values.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qresearch.evaluation import _quantstats_fast as fast
from qresearch.evaluation.tearsheet import write_tearsheet

quantstats = pytest.importorskip("quantstats")
qs_stats = quantstats.stats
qs_utils = quantstats.utils
qs_compat = quantstats._compat


def _returns(values: list[float], start: str = "2019-12-27") -> pd.Series:
    return pd.Series(values, index=pd.bdate_range(start, periods=len(values)), name="s")


returns_lists = st.lists(
    st.one_of(
        st.just(0.0),
        st.floats(-0.2, 0.2, allow_nan=False, allow_infinity=False),
    ),
    min_size=2,
    max_size=300,
)


@settings(max_examples=60, deadline=None)
@given(returns_lists)
def test_drawdown_details_equals_quantstats(values: list[float]) -> None:
    dd = qs_stats.to_drawdown_series(_returns(values))
    expected = qs_stats.drawdown_details(dd)
    got = fast.fast_drawdown_details(qs_stats.drawdown_details, qs_stats)(dd)
    pd.testing.assert_frame_equal(got, expected, check_index_type=False)


@pytest.mark.parametrize(
    "drawdown",
    [
        [0.0, -0.1, -0.2, 0.0, -0.05, 0.0],  # closed drawdowns
        [-0.1, -0.3, 0.0, 0.0, -0.2],  # starts and ends in a drawdown
        [-0.1, -0.2, -0.1],  # never recovers: no start, quantstats gives an empty table
        [0.0, 0.0, 0.0],  # no drawdown
        [0.0, -0.1, 0.0, -0.2, 0.0, -0.3],  # one-day drawdowns, ends in one
        [0.0, -0.1, np.nan, -0.2, 0.0],  # NaN: handed to quantstats
    ],
)
def test_drawdown_details_edge_cases(drawdown: list[float]) -> None:
    dd = _returns(drawdown)
    # The fast path computes every case but NaN itself (no silent fallback).
    assert (fast._drawdown_periods(dd) is None) == bool(np.isnan(drawdown).any())
    expected = qs_stats.drawdown_details(dd)
    got = fast.fast_drawdown_details(qs_stats.drawdown_details, qs_stats)(dd)
    pd.testing.assert_frame_equal(got, expected, check_index_type=False)


def test_drawdown_details_of_a_frame_equals_quantstats() -> None:
    rng = np.random.default_rng(3)
    r = pd.DataFrame(
        rng.normal(0.0005, 0.01, (800, 2)),
        index=pd.bdate_range("2015-01-01", periods=800),
        columns=["Strategy", "Benchmark"],
    )
    dd = qs_stats.to_drawdown_series(r)
    expected = qs_stats.drawdown_details(dd)
    got = fast.fast_drawdown_details(qs_stats.drawdown_details, qs_stats)(dd)
    assert len(got) > 20
    pd.testing.assert_frame_equal(got, expected)


def test_unsorted_index_goes_to_quantstats() -> None:
    dd = _returns([0.0, -0.1, -0.2, 0.0, -0.05, 0.0]).iloc[::-1]
    assert fast._drawdown_periods(dd) is None
    pd.testing.assert_frame_equal(
        fast.fast_drawdown_details(qs_stats.drawdown_details, qs_stats)(dd),
        qs_stats.drawdown_details(dd),
    )


@pytest.mark.parametrize("period", ["month", "quarter", "year", "week", "eoy"])
@pytest.mark.parametrize("frame", [False, True])
def test_group_returns_equals_quantstats(period: str, frame: bool) -> None:
    rng = np.random.default_rng(7)
    r = pd.Series(rng.normal(0, 0.01, 900), index=pd.bdate_range("2016-02-03", periods=900))
    r.iloc[[5, 40, 41]] = np.nan
    data = pd.concat({"a": r, "b": r * 0.5}, axis=1) if frame else r
    expected = qs_utils.aggregate_returns(data.copy(), period, compounded=True)
    patched = fast.fast_group_returns(qs_utils.group_returns)
    original = qs_utils.group_returns
    qs_utils.group_returns = patched
    try:
        got = qs_utils.aggregate_returns(data.copy(), period, compounded=True)
    finally:
        qs_utils.group_returns = original
    if frame:
        pd.testing.assert_frame_equal(got, expected, rtol=1e-12)
    else:
        pd.testing.assert_series_equal(got, expected, rtol=1e-12)


def test_group_returns_not_compounded_is_quantstats() -> None:
    r = _returns([0.01, 0.02, -0.03, 0.04])
    patched = fast.fast_group_returns(qs_utils.group_returns)
    pd.testing.assert_series_equal(
        patched(r, r.index.month), qs_utils.group_returns(r, r.index.month)
    )


@pytest.mark.parametrize("freq", ["W-MON", "ME", "QE", "YE"])
def test_safe_resample_comp_equals_quantstats(freq: str) -> None:
    rng = np.random.default_rng(11)
    r = pd.Series(rng.normal(0, 0.01, 700), index=pd.bdate_range("2017-03-01", periods=700))
    r.iloc[10] = np.nan
    expected = qs_compat.safe_resample(r, freq, qs_stats.comp)
    got = fast.fast_safe_resample(qs_compat.safe_resample, qs_stats.comp)(r, freq, qs_stats.comp)
    pd.testing.assert_series_equal(got, expected, rtol=1e-12)
    # Any other aggregation is quantstats' own.
    pd.testing.assert_series_equal(
        fast.fast_safe_resample(qs_compat.safe_resample, qs_stats.comp)(r, freq, "sum"),
        qs_compat.safe_resample(r, freq, "sum"),
    )


@pytest.mark.parametrize("same_index", [True, False])
def test_prepare_benchmark_equals_quantstats(same_index: bool) -> None:
    rng = np.random.default_rng(5)
    index = pd.bdate_range("2018-01-01", periods=300)
    bench = pd.Series(rng.normal(0, 0.01, 300), index=index, name="bench")
    period = index if same_index else index[::2]
    expected = qs_utils._prepare_benchmark(bench.copy(), period)
    got = fast.fast_prepare_benchmark(qs_utils._prepare_benchmark)(bench.copy(), period)
    pd.testing.assert_series_equal(got, expected)


def test_pyplot_proxy_saves_without_redrawing(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    proxy = fast.PyplotWithoutRedraw(plt)
    assert proxy.gcf is plt.gcf  # everything but savefig is pyplot's
    fig = plt.figure()
    drawn: list[int] = []
    fig.canvas.draw_idle = lambda *a, **k: drawn.append(1)  # type: ignore[method-assign]
    try:
        plt.plot([1, 2, 3])
        proxy.savefig(tmp_path / "a.svg", format="svg")
    finally:
        plt.close(fig)
    assert (tmp_path / "a.svg").stat().st_size > 0
    assert drawn == []


def _without_figures(page: str) -> str:
    # The page less its SVG charts (their ids and timestamps differ from run to run)
    # and the generation date.
    page = re.sub(r"<svg.*?</svg>", "<svg/>", page, flags=re.S)
    return re.sub(r"\d{1,2} \w{3}, \d{4}", "DATE", page)


def test_report_page_is_the_same_with_and_without_the_fast_helpers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(2)
    index = pd.bdate_range("2019-01-01", periods=520)
    r = pd.Series(rng.normal(0.0004, 0.01, 520), index=index, name="Strategy")
    bench = pd.Series(rng.normal(0.0003, 0.008, 520), index=index, name="Bench")
    fast_page = write_tearsheet(r, tmp_path / "fast.html", benchmark=bench).read_text()
    monkeypatch.setattr("qresearch.evaluation.tearsheet.speed_patches", lambda qs, on_save: [])
    slow_page = write_tearsheet(r, tmp_path / "slow.html", benchmark=bench).read_text()
    assert fast_page.count("<svg") == slow_page.count("<svg") >= 10
    assert _without_figures(fast_page) == _without_figures(slow_page)


class _RecordingBar:
    def __init__(self, total: int, desc: str, *, unit: str, show: bool | None) -> None:
        self.total, self.desc, self.unit, self.show = total, desc, unit, show
        self.n, self.closed = 0, False

    def update(self, n: int = 1) -> None:
        self.n += n

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize("with_benchmark", [False, True])
def test_progress_bar_ticks_once_per_chart_and_for_the_page(
    with_benchmark: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bars: list[_RecordingBar] = []

    def recording(*args: object, **kwargs: object) -> _RecordingBar:
        bars.append(_RecordingBar(*args, **kwargs))  # type: ignore[arg-type]
        return bars[-1]

    monkeypatch.setattr("qresearch.evaluation.tearsheet.progress_bar", recording)
    rng = np.random.default_rng(4)
    index = pd.bdate_range("2020-01-01", periods=400)
    r = pd.Series(rng.normal(0.0004, 0.01, 400), index=index)
    bench = pd.Series(rng.normal(0.0003, 0.01, 400), index=index) if with_benchmark else None
    page = write_tearsheet(r, tmp_path / "t.html", benchmark=bench, progress=True).read_text()
    (bar,) = bars
    assert (bar.desc, bar.unit, bar.show, bar.closed) == ("tearsheet", "chart", True, True)
    assert bar.n == bar.total == page.count("<svg") + 1
