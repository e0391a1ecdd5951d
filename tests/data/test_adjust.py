from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qresearch.data.adjust import adjust_by_actions, adjustment_factors, back_adjust
from qresearch.data.bars import Bars
from qresearch.data.validate import validate_bars
from qresearch.exceptions import PanelError, ParameterError

NAN = np.nan
# Mon 2020-01-06 .. Fri 2020-01-10
IDX = pd.bdate_range("2020-01-06", periods=5, name="timestamp")


def _bars() -> Bars:
    # A: 2-for-1 split ex 01-08 (day 3), $1 dividend ex 01-09 (day 4).
    # B: no action. C: split 2 and $0.5 dividend both ex 01-08.
    close = pd.DataFrame(
        {
            "A": [100.0, 102.0, 51.0, 50.0, 52.0],
            "B": [10.0] * 5,
            "C": [40.0, 42.0, 20.0, 21.0, 22.0],
        },
        index=IDX,
    )
    close.columns.name = "symbol"
    volume = pd.DataFrame(
        {"A": [1000.0, 1200.0, 2600.0, 2400.0, 2000.0], "B": [5.0] * 5, "C": [10.0] * 5},
        index=IDX,
    )
    volume.columns.name = "symbol"
    return Bars(open=close - 1, high=close + 2, low=close - 2, close=close, volume=volume)


ACTIONS = pd.DataFrame(
    {
        "symbol": ["A", "A", "C"],
        "ex_date": ["2020-01-08", "2020-01-09", "2020-01-08"],
        "split_ratio": [2.0, 1.0, 2.0],
        "dividend": [0.0, 1.0, 0.5],
    }
)

# By hand. A: the dividend factor is 1 - 1/51 = 50/51 (previous close 51); the split
# halves everything before 01-08. C: previous close 42 is 21 in post-split shares, so
# the dividend factor is 1 - 0.5/21 = 41/42, and before 01-08 the factor is (1/2)(41/42).
FACTOR_A = [25 / 51, 25 / 51, 50 / 51, 1.0, 1.0]
FACTOR_C = [41 / 84, 41 / 84, 1.0, 1.0, 1.0]


def test_factors_by_hand() -> None:
    close = _bars().close
    close_before, actions_before = close.copy(), ACTIONS.copy()
    f = adjustment_factors(close, ACTIONS)
    pd.testing.assert_frame_equal(close, close_before)
    pd.testing.assert_frame_equal(ACTIONS, actions_before)
    assert f.index.equals(IDX) and list(f.columns) == ["A", "B", "C"]
    np.testing.assert_allclose(f["A"], FACTOR_A, rtol=1e-15)
    np.testing.assert_allclose(f["B"], [1.0] * 5)
    np.testing.assert_allclose(f["C"], FACTOR_C, rtol=1e-15)


def test_adjust_by_actions_by_hand() -> None:
    adj = adjust_by_actions(_bars(), ACTIONS)
    # A close: 100 * 25/51, 102 * 25/51 = 50, 51 * 50/51 = 50, then unchanged
    np.testing.assert_allclose(adj.close["A"], [2500 / 51, 50.0, 50.0, 50.0, 52.0], rtol=1e-14)
    # C close on 01-07: 42 / 2 - 0.5 = 20.5
    np.testing.assert_allclose(adj.close["C"], [1640 / 84, 20.5, 20.0, 21.0, 22.0], rtol=1e-14)
    np.testing.assert_allclose(adj.high["A"], [102 * 25 / 51, 104 * 25 / 51, 53 * 50 / 51, 52, 54])
    np.testing.assert_allclose(adj.low["C"], [38 * 41 / 84, 40 * 41 / 84, 18, 19, 20])
    np.testing.assert_allclose(adj.open["A"], [99 * 25 / 51, 101 * 25 / 51, 50 * 50 / 51, 49, 51])
    # volumes before the split doubled; the dividend leaves volume alone
    assert adj.volume["A"].tolist() == [2000.0, 2400.0, 2600.0, 2400.0, 2000.0]
    assert adj.volume["C"].tolist() == [20.0, 20.0, 10.0, 10.0, 10.0]
    pd.testing.assert_series_equal(adj.close["B"], _bars().close["B"])
    assert adj.adj_close is None
    assert validate_bars(adj).empty


def test_same_day_actions_in_separate_rows_are_combined() -> None:
    separate = pd.DataFrame(
        {
            "symbol": ["C", "C"],
            "ex_date": ["2020-01-08", "2020-01-08"],
            "split_ratio": [2.0, NAN],  # NaN means the default 1
            "dividend": [NAN, 0.5],  # NaN means the default 0
        }
    )
    f = adjustment_factors(_bars().close, separate)
    np.testing.assert_allclose(f["C"], FACTOR_C, rtol=1e-15)


def test_optional_columns_default() -> None:
    splits_only = pd.DataFrame({"symbol": ["A"], "ex_date": ["2020-01-08"], "split_ratio": [2.0]})
    np.testing.assert_allclose(
        adjustment_factors(_bars().close, splits_only)["A"], [0.5, 0.5, 1, 1, 1]
    )
    divs_only = pd.DataFrame(
        {"symbol": ["B"], "ex_date": [pd.Timestamp("2020-01-07")], "dividend": [0.5]}
    )
    np.testing.assert_allclose(
        adjustment_factors(_bars().close, divs_only)["B"], [0.95, 1, 1, 1, 1]
    )


def test_ex_dates_outside_or_between_sessions() -> None:
    close = pd.DataFrame(
        {"A": [10.0, 10.0, 10.0]},
        index=pd.DatetimeIndex(["2020-01-09", "2020-01-10", "2020-01-13"], name="timestamp"),
    )
    on = lambda d: pd.DataFrame({"symbol": ["A"], "ex_date": [d], "split_ratio": [2.0]})  # noqa: E731
    # Saturday ex-date: applies from Monday 01-13, so 01-09 and 01-10 are halved
    np.testing.assert_allclose(adjustment_factors(close, on("2020-01-11"))["A"], [0.5, 0.5, 1.0])
    # before or on the first bar, or after the last: nothing to adjust
    for d in ("2019-06-01", "2020-01-09", "2020-01-14"):
        np.testing.assert_allclose(adjustment_factors(close, on(d))["A"], [1.0, 1.0, 1.0])


def test_action_before_listing_and_across_gaps() -> None:
    close = pd.DataFrame({"A": [NAN, NAN, 20.0, NAN, 10.0]}, index=IDX)
    # dividend before the first valid close: nothing to adjust, no error even if huge
    early = pd.DataFrame({"symbol": ["A"], "ex_date": ["2020-01-07"], "dividend": [100.0]})
    np.testing.assert_allclose(adjustment_factors(close, early)["A"], [1.0] * 5)
    # dividend after a NaN day: measured against the last valid close (20 on 01-08)
    gap = pd.DataFrame({"symbol": ["A"], "ex_date": ["2020-01-10"], "dividend": [2.0]})
    np.testing.assert_allclose(adjustment_factors(close, gap)["A"], [0.9] * 4 + [1.0])


def test_tz_aware_index() -> None:
    close = _bars().close.tz_localize("UTC")
    f = adjustment_factors(close, ACTIONS)
    np.testing.assert_allclose(f["A"], FACTOR_A, rtol=1e-15)
    assert str(f.index.tz) == "UTC"


def _loop_factors(close: pd.DataFrame, actions: pd.DataFrame) -> pd.DataFrame:
    # Independent plain-Python implementation: walk each action, scale earlier rows.
    out = pd.DataFrame(1.0, index=close.index, columns=close.columns)
    for sym in close.columns:
        rows = actions[actions["symbol"] == sym]
        by_row: dict[int, tuple[float, float]] = {}
        for _, a in rows.iterrows():
            pos = int(np.searchsorted(close.index.values, np.datetime64(a["ex_date"])))
            s, d = by_row.get(pos, (1.0, 0.0))
            by_row[pos] = (s * a["split_ratio"], d + a["dividend"])
        for pos, (s, d) in by_row.items():
            if pos == 0 or pos >= len(close):
                continue
            before = close[sym].iloc[:pos].dropna()
            f = 1.0 / s
            if len(before):
                f *= 1.0 - d / (before.iloc[-1] / s)
            for i in range(pos):
                out.iloc[i, out.columns.get_loc(sym)] *= f
    return out


@settings(max_examples=40, deadline=None)
@given(
    data=st.lists(
        st.tuples(
            st.sampled_from(["A", "B", "C"]),
            st.integers(min_value=-3, max_value=30),
            st.sampled_from([1.0, 2.0, 0.5, 1.5]),
            st.sampled_from([0.0, 0.1, 0.25, 1.0, 1.5]),
        ),
        max_size=8,
    )
)
def test_factors_match_loop_implementation(data: list[tuple[str, int, float, float]]) -> None:
    rng = np.random.default_rng(0)
    idx = pd.bdate_range("2021-03-01", periods=20, name="timestamp")
    # prices high enough that a dividend <= 1 stays below the close after up to 8 splits
    close = pd.DataFrame(rng.uniform(500, 1000, (20, 3)), index=idx, columns=["A", "B", "C"])
    close.iloc[:4, 2] = NAN  # C lists on day 5
    close.iloc[10, 1] = NAN  # B misses a day
    actions = pd.DataFrame(
        {
            "symbol": [d[0] for d in data],
            "ex_date": [pd.Timestamp("2021-03-01") + pd.Timedelta(days=d[1]) for d in data],
            "split_ratio": [d[2] for d in data],
            "dividend": [d[3] for d in data],
        },
        columns=["symbol", "ex_date", "split_ratio", "dividend"],
    )
    got = adjustment_factors(close, actions)
    pd.testing.assert_frame_equal(got, _loop_factors(close, actions), rtol=1e-12)


def test_action_errors() -> None:
    close = _bars().close
    with pytest.raises(PanelError, match=r"Unknown symbols in actions\['symbol'\]: \['ZZZ'\]"):
        adjustment_factors(
            close, pd.DataFrame({"symbol": ["A", "ZZZ"], "ex_date": ["2020-01-08"] * 2})
        )
    with pytest.raises(
        ParameterError,
        match=r"split_ratio'\] must be a finite number > 0 .*got 0.0 for symbol 'A' with ex_date 2020-01-08",
    ):
        adjustment_factors(
            close, pd.DataFrame({"symbol": ["A"], "ex_date": ["2020-01-08"], "split_ratio": [0.0]})
        )
    with pytest.raises(
        ParameterError, match=r"split_ratio'\] must be a finite number > 0 .*got inf"
    ):
        adjustment_factors(
            close,
            pd.DataFrame({"symbol": ["B"], "ex_date": ["2020-01-08"], "split_ratio": [np.inf]}),
        )
    with pytest.raises(
        ParameterError, match=r"dividend'\] must be a finite cash amount .*got -1.0 for symbol 'B'"
    ):
        adjustment_factors(
            close, pd.DataFrame({"symbol": ["B"], "ex_date": ["2020-01-08"], "dividend": [-1.0]})
        )
    # 51 = previous close of A before 01-09; after a same-day 2:1 split the bar is 25.5
    with pytest.raises(
        ParameterError,
        match=r"dividend 51.0 of symbol 'A' with ex_date 2020-01-09 00:00:00 is not below the previous close 51",
    ):
        adjustment_factors(
            close, pd.DataFrame({"symbol": ["A"], "ex_date": ["2020-01-09"], "dividend": [51.0]})
        )
    with pytest.raises(
        ParameterError, match=r"not below the previous close 25.5 \(post-split units"
    ):
        adjustment_factors(
            close,
            pd.DataFrame(
                {
                    "symbol": ["A"],
                    "ex_date": ["2020-01-09"],
                    "split_ratio": [2.0],
                    "dividend": [30.0],
                }
            ),
        )
    with pytest.raises(PanelError, match=r"actions is missing columns \['ex_date'\]"):
        adjustment_factors(close, pd.DataFrame({"symbol": ["A"], "dividend": [1.0]}))
    with pytest.raises(PanelError, match=r"actions\['ex_date'\] does not parse as dates"):
        adjustment_factors(close, pd.DataFrame({"symbol": ["A"], "ex_date": ["2020-99-99"]}))
    with pytest.raises(PanelError, match=r"actions\['ex_date'\] is missing at row 1"):
        adjustment_factors(
            close, pd.DataFrame({"symbol": ["A", "A"], "ex_date": ["2020-01-08", None]})
        )
    with pytest.raises(PanelError, match=r"actions\['dividend'\] is not numeric"):
        adjustment_factors(
            close, pd.DataFrame({"symbol": ["A"], "ex_date": ["2020-01-08"], "dividend": ["one"]})
        )
    with pytest.raises(PanelError, match="actions must be a pandas DataFrame"):
        adjustment_factors(close, [("A", "2020-01-08")])  # type: ignore[arg-type]
    with pytest.raises(PanelError, match="close must be a DataFrame"):
        adjustment_factors(close["A"], ACTIONS)  # type: ignore[arg-type]
    with pytest.raises(PanelError, match="bars must be a Bars; got DataFrame"):
        adjust_by_actions(close, ACTIONS)  # type: ignore[arg-type]


def test_adjust_by_actions_keeps_adj_close_and_does_not_mutate(sample_bars: Bars) -> None:
    bars = sample_bars.select(symbols=["ORCL"], start="2014-01-01")
    before = {f: p.copy() for f, p in bars.panels().items()}
    actions = pd.DataFrame({"symbol": ["ORCL"], "ex_date": ["2014-07-08"], "dividend": [0.12]})
    actions_before = actions.copy()
    adj = adjust_by_actions(bars, actions)
    pd.testing.assert_frame_equal(adj.adj_close, bars.adj_close)
    for f, p in before.items():
        pd.testing.assert_frame_equal(getattr(bars, f), p)
    pd.testing.assert_frame_equal(actions, actions_before)
    close = bars.close["ORCL"]
    prev = close[close.index < "2014-07-08"].iloc[-1]
    expected = (1 - 0.12 / prev) * close[close.index < "2014-07-08"]
    np.testing.assert_allclose(adj.close["ORCL"][close.index < "2014-07-08"], expected, rtol=1e-14)


# ----------------------------------------------------------------- back_adjust
def test_back_adjust_by_hand() -> None:
    idx = pd.date_range("2020-01-01", periods=3, name="timestamp")
    c = pd.DataFrame({"A": [10.0, 20.0, 30.0]}, index=idx)
    adj_close = pd.DataFrame({"A": [5.0, 15.0, 30.0]}, index=idx)  # factors 0.5, 0.75, 1
    b = Bars(open=c - 2, high=c + 4, low=c - 4, close=c, volume=c * 10, adj_close=adj_close)
    out = back_adjust(b)
    assert out.open["A"].tolist() == [4.0, 13.5, 28.0]
    assert out.high["A"].tolist() == [7.0, 18.0, 34.0]
    assert out.low["A"].tolist() == [3.0, 12.0, 26.0]
    assert out.close["A"].tolist() == [5.0, 15.0, 30.0]
    assert out.volume["A"].tolist() == [100.0, 200.0, 300.0]
    pd.testing.assert_frame_equal(out.adj_close, out.close)


def test_back_adjust_bundled_orcl(sample_bars: Bars) -> None:
    orcl = sample_bars.select(symbols="ORCL")
    before = {f: p.copy() for f, p in orcl.panels().items()}
    out = back_adjust(orcl)
    close, adj = out.close["ORCL"], orcl.adj_close["ORCL"]
    np.testing.assert_allclose(close, adj, rtol=1e-13)
    np.testing.assert_allclose(
        close.pct_change().iloc[1:], adj.pct_change().iloc[1:], rtol=1e-9, atol=1e-13
    )
    pd.testing.assert_frame_equal(out.adj_close, out.close)
    pd.testing.assert_frame_equal(out.volume, orcl.volume)
    # the bar shape is kept: open/close, high/close, low/close unchanged
    for f in ("open", "high", "low"):
        np.testing.assert_allclose(
            getattr(out, f)["ORCL"] / close,
            getattr(orcl, f)["ORCL"] / orcl.close["ORCL"],
            rtol=1e-13,
        )
    # ORCL paid dividends (the data also carries later ones): the factor grows toward 1
    first = close.iloc[0] / orcl.close["ORCL"].iloc[0]
    last = close.iloc[-1] / orcl.close["ORCL"].iloc[-1]
    assert first < last <= 1.0
    for f, p in before.items():
        pd.testing.assert_frame_equal(getattr(orcl, f), p)


def test_back_adjust_whole_sample_is_valid(sample_bars: Bars) -> None:
    # ragged symbols (NVDA, YHOO list later): NaN stays NaN and nothing is flagged
    out = back_adjust(sample_bars)
    assert validate_bars(out).empty
    assert out.close.isna().equals(sample_bars.close.isna())


def test_back_adjust_errors(bars: Bars) -> None:
    with pytest.raises(PanelError, match="back_adjust needs bars with an adj_close panel"):
        back_adjust(bars)
    adj = bars.close.copy()
    adj.iloc[50, 0] = NAN  # close present, adj_close missing
    with pytest.raises(
        PanelError,
        match=r"adjustment factor adj_close / close is nan for symbol 'S000' at 2015-03-13.*validate_bars",
    ):
        back_adjust(bars.replace(adj_close=adj))
    with pytest.raises(PanelError, match="bars must be a Bars; got DataFrame"):
        back_adjust(bars.close)  # type: ignore[arg-type]


def test_lazy_exports() -> None:
    import qresearch.data as qd

    assert qd.back_adjust is back_adjust
    assert qd.adjust_by_actions is adjust_by_actions
    assert qd.adjustment_factors is adjustment_factors
