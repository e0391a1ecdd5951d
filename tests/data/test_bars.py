from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qresearch.data.bars import Bars
from qresearch.exceptions import AlignmentError, PanelError, ParameterError
from tests.conftest import make_bars


def _small_long() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "timestamp": pd.to_datetime(["2020-01-02", "2020-01-03", "2020-01-03"]),
            "symbol": ["A", "A", "B"],
            "open": [1.0, 2.0, 10.0],
            "high": [1.5, 2.5, 10.5],
            "low": [0.5, 1.5, 9.5],
            "close": [1.2, 2.2, 10.2],
            "volume": [100.0, 200.0, 300.0],
        }
    )


def test_from_long_pivots_and_fills_nan() -> None:
    b = Bars.from_long(_small_long())
    assert b.symbols == ["A", "B"]
    assert b.index.name == "timestamp" and b.close.columns.name == "symbol"
    assert np.isnan(b.close.loc["2020-01-02", "B"])
    assert b.close.loc["2020-01-03", "B"] == 10.2
    assert b.fields == ["open", "high", "low", "close", "volume"]
    assert b.adj_close is None


def test_from_long_does_not_mutate_input() -> None:
    long = _small_long()
    before = long.copy()
    Bars.from_long(long.iloc[::-1])
    pd.testing.assert_frame_equal(long, before)


def test_to_long_round_trip_on_real_and_synthetic(sample_bars: Bars, bars: Bars) -> None:
    for b in (sample_bars, bars):
        back = Bars.from_long(b.to_long())
        assert back.equals(b)


def test_to_long_drops_unlisted_rows(bars: Bars) -> None:
    long = bars.to_long()
    assert len(long) == int(bars.close.notna().sum().sum())
    assert list(long.columns) == ["timestamp", "symbol", "open", "high", "low", "close", "volume"]
    full = bars.to_long(dropna=False)
    assert len(full) == bars.shape[0] * bars.shape[1]


def test_from_long_errors() -> None:
    long = _small_long()
    with pytest.raises(PanelError, match=r"missing columns \['volume'\]"):
        Bars.from_long(long.drop(columns="volume"))
    dup = pd.concat([long, long.iloc[[1]]])
    with pytest.raises(
        PanelError,
        match=r"1 duplicated \(timestamp, symbol\) rows, first \(2020-01-03 00:00:00, 'A'\)",
    ):
        Bars.from_long(dup)
    bad = long.assign(timestamp=["2020-01-02", "not a date", "2020-01-03"])
    with pytest.raises(PanelError, match="does not parse as datetimes"):
        Bars.from_long(bad)
    nat = long.assign(timestamp=[pd.Timestamp("2020-01-02"), pd.NaT, pd.Timestamp("2020-01-03")])
    with pytest.raises(PanelError, match="missing timestamp at row 1"):
        Bars.from_long(nat)
    for blank in ("", None, "  "):
        with pytest.raises(PanelError, match="1 missing or empty symbols, first at row 2"):
            Bars.from_long(long.assign(symbol=["A", "A", blank]))
    with pytest.raises(PanelError, match="must be a long pandas DataFrame; got list"):
        Bars.from_long([1, 2])  # type: ignore[arg-type]


def test_constructor_rejects_misaligned_panels(bars: Bars) -> None:
    with pytest.raises(AlignmentError, match=r"bars.close and bars.volume are not aligned"):
        Bars(
            open=bars.open,
            high=bars.high,
            low=bars.low,
            close=bars.close,
            volume=bars.volume.iloc[:-1],
        )
    with pytest.raises(PanelError, match="bars.close must be a pandas DataFrame"):
        Bars(open=bars.open, high=bars.high, low=bars.low, close=None, volume=bars.volume)  # type: ignore[arg-type]


def test_frozen_and_getitem(bars: Bars) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        bars.close = bars.open  # type: ignore[misc]
    one = bars["S001"]
    assert list(one.columns) == ["open", "high", "low", "close", "volume"]
    pd.testing.assert_series_equal(one["close"], bars.close["S001"], check_names=False)
    sub = bars[["S002", "S000"]]
    assert isinstance(sub, Bars) and sub.symbols == ["S002", "S000"]
    with pytest.raises(PanelError, match=r"Unknown symbols in bars\[...\]: \['NOPE'\]"):
        bars["NOPE"]


def test_select_inclusive_dates(bars: Bars) -> None:
    start, end = bars.index[10], bars.index[20]
    sub = bars.select(symbols="S000", start=start, end=end.strftime("%Y-%m-%d"))
    assert sub.index[0] == start and sub.index[-1] == end and len(sub) == 11
    assert sub.symbols == ["S000"]
    with pytest.raises(ParameterError, match="'start' argument must be a date"):
        bars.select(start="someday")


def test_adjustment_factor_requires_adj_close(bars: Bars) -> None:
    with pytest.raises(PanelError, match="no adj_close"):
        _ = bars.adjustment_factor


def test_repr_and_len(bars: Bars) -> None:
    assert len(bars) == 300 and bars.shape == (300, 5)
    assert repr(bars).startswith("Bars(300 timestamps x 5 symbols ['S000'")
    assert list(bars) == bars.fields
    assert not bars.equals(bars.close)


def _hand_bars() -> Bars:
    # Mon 2024-01-29 .. Wed 2024-02-07, business days; B lists on 2024-02-01.
    idx = pd.bdate_range("2024-01-29", "2024-02-07", name="timestamp")
    o = pd.DataFrame(
        {"A": [10, 11, 12, 13, 14, 15, 16, 17], "B": [np.nan] * 3 + [5, 6, 7, 8, 9]}, idx
    )
    h = o + 2
    lo = o - 2
    c = o + 1
    v = pd.DataFrame({"A": [1, 2, 3, 4, 5, 6, 7, 8], "B": [np.nan] * 3 + [10, 20, 30, 40, 50]}, idx)
    return Bars(
        open=o.astype(float),
        high=h.astype(float),
        low=lo.astype(float),
        close=c.astype(float),
        volume=v.astype(float),
    )


def test_resample_monthly_by_hand() -> None:
    m = _hand_bars().resample("ME")
    # January: Jan 29, 30, 31 (A only). February: Feb 1, 2, 5, 6, 7 (data ends Feb 7).
    assert list(m.index) == [pd.Timestamp("2024-01-31"), pd.Timestamp("2024-02-07")]
    assert m.open["A"].tolist() == [10.0, 13.0]
    assert m.high["A"].tolist() == [14.0, 19.0]
    assert m.low["A"].tolist() == [8.0, 11.0]
    assert m.close["A"].tolist() == [13.0, 18.0]
    assert m.volume["A"].tolist() == [6.0, 30.0]
    # B: no bar in January -> NaN everywhere, including volume (not 0).
    assert m.close["B"].isna().tolist() == [True, False]
    assert m.volume["B"].tolist()[1] == 150.0 and np.isnan(m.volume["B"].iloc[0])
    assert m.open["B"].iloc[1] == 5.0 and m.close["B"].iloc[1] == 10.0


def test_resample_weekly_period_end_label() -> None:
    w = _hand_bars().resample("W-FRI", label="period_end")
    assert list(w.index.strftime("%Y-%m-%d")) == ["2024-02-02", "2024-02-09"]
    # Week 1: Jan 29 .. Feb 2: A open 10, close 15; week 2: Feb 5 .. 7.
    assert w.open["A"].tolist() == [10.0, 15.0] and w.close["A"].tolist() == [15.0, 18.0]
    last = _hand_bars().resample("W-FRI")
    assert last.index[-1] == pd.Timestamp("2024-02-07")  # stamped at its last bar


def test_resample_tz_aware() -> None:
    b = _hand_bars()
    tz = Bars(**{f: p.tz_localize("UTC") for f, p in b.panels().items()})
    m = tz.resample("ME")
    assert str(m.index.tz) == "UTC" and m.close["A"].tolist() == [13.0, 18.0]


def test_resample_bad_rule() -> None:
    with pytest.raises(PanelError, match="'rule' parameter of Bars.resample"):
        _hand_bars().resample("fortnightly-ish")
    with pytest.raises(ParameterError, match="'label' parameter"):
        _hand_bars().resample("ME", label="middle")  # type: ignore[arg-type]


@settings(max_examples=25, deadline=None)
@given(cut=st.integers(min_value=30, max_value=299), rule=st.sampled_from(["W", "ME", "QE"]))
def test_resample_never_uses_later_bars(cut: int, rule: str) -> None:
    full = make_bars(300, 4, seed=3)
    trunc = full.select(end=full.index[cut])
    a = full.resample(rule)
    b = trunc.resample(rule)
    # Every period of the truncated result but the last (possibly partial) one is identical.
    n = len(b) - 1
    for f in full.fields:
        pd.testing.assert_frame_equal(getattr(a, f).iloc[:n], getattr(b, f).iloc[:n])
    assert b.index[-1] <= full.index[cut]
