from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qresearch.data.calendar import (
    PERIOD_ALIASES,
    PERIODS,
    missing_sessions,
    rebalance_dates,
    trading_sessions,
)
from qresearch.exceptions import CalendarError, PanelError, ParameterError


def _d(*dates: str) -> list[pd.Timestamp]:
    return [pd.Timestamp(d) for d in dates]


# ------------------------------------------------------------ trading_sessions
def test_sessions_skip_holidays_and_closures() -> None:
    s = trading_sessions("2012-10-26", "2012-11-01")  # Hurricane Sandy: closed Oct 29-30
    assert list(s) == _d("2012-10-26", "2012-10-31", "2012-11-01")
    assert s.name == "timestamp" and s.tz is None and s.dtype == "datetime64[us]"
    assert s.freq is None
    sept = trading_sessions("2001-09-10", "2001-09-17")  # closed after 9/11 until Sep 17
    assert list(sept) == _d("2001-09-10", "2001-09-17")
    july = trading_sessions("2015-07-01", "2015-07-06")  # July 4th on Saturday -> Fri 3rd off
    assert list(july) == _d("2015-07-01", "2015-07-02", "2015-07-06")


def test_sessions_count_and_old_dates() -> None:
    assert len(trading_sessions("2019-01-01", "2019-12-31")) == 252  # NYSE 2019
    early = trading_sessions("1989-12-26", "1990-01-03")  # before the default 20-year window
    assert list(early) == _d(
        "1989-12-26", "1989-12-27", "1989-12-28", "1989-12-29", "1990-01-02", "1990-01-03"
    )
    # a time of day is ignored; a single day that is a holiday gives nothing
    assert list(trading_sessions("2020-01-02 15:00", "2020-01-02 09:00")) == _d("2020-01-02")
    assert len(trading_sessions("2020-12-25", "2020-12-25")) == 0


def test_sessions_other_exchanges_and_aliases() -> None:
    lse = trading_sessions("2020-12-24", "2020-12-31", exchange="XLON")
    assert list(lse) == _d("2020-12-24", "2020-12-29", "2020-12-30", "2020-12-31")  # Boxing Day
    pd.testing.assert_index_equal(
        trading_sessions("2020-01-01", "2020-02-01", exchange="NYSE"),
        trading_sessions("2020-01-01", "2020-02-01"),
    )
    assert len(trading_sessions("2020-01-01", "2020-01-31", exchange="24/7")) == 31


def test_sessions_errors() -> None:
    with pytest.raises(
        CalendarError, match=r"Unknown exchange 'NYSEX'\. Did you mean .*'NYSE'.*XNYS"
    ):
        trading_sessions("2020-01-01", "2020-02-01", exchange="NYSEX")
    with pytest.raises(CalendarError, match=r"Unknown exchange 3\..*Valid names include"):
        trading_sessions("2020-01-01", "2020-02-01", exchange=3)  # type: ignore[arg-type]
    with pytest.raises(CalendarError, match="start 2020-02-01 is after end 2020-01-01; swap them"):
        trading_sessions("2020-02-01", "2020-01-01")
    with pytest.raises(ParameterError, match="'start' argument must be a date"):
        trading_sessions("soon", "2020-01-01")
    with pytest.raises(ParameterError, match="'end' argument must be a date"):
        trading_sessions("2020-01-01", None)
    with pytest.raises(CalendarError, match="The XTKS calendar starts on 1997-01-01"):
        trading_sessions("1995-01-01", "1998-01-01", exchange="XTKS")
    with pytest.raises(CalendarError, match="The XHKG calendar ends on 2049-12-31"):
        trading_sessions("2049-06-01", "2050-06-01", exchange="XHKG")
    with pytest.raises(ValueError, match="Unknown exchange"):  # CalendarError is a ValueError
        trading_sessions("2020-01-01", "2020-02-01", exchange="nope")


def test_import_does_not_load_exchange_calendars() -> None:
    code = (
        "import sys, qresearch.data.calendar; "
        "assert 'exchange_calendars' not in sys.modules, 'exchange_calendars imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------- rebalance_dates
def test_month_end_last_period_rule() -> None:
    complete = trading_sessions("2024-01-02", "2024-03-28")  # Mar 29 2024 is Good Friday
    assert list(rebalance_dates(complete)) == _d("2024-01-31", "2024-02-29", "2024-03-28")
    partial = trading_sessions("2024-01-02", "2024-03-27")
    assert list(rebalance_dates(partial)) == _d("2024-01-31", "2024-02-29")
    assert list(rebalance_dates(partial, include_partial_last=True))[-1] == pd.Timestamp(
        "2024-03-27"
    )
    # without a calendar the last period is never known to be complete
    assert list(rebalance_dates(complete, exchange=None)) == _d("2024-01-31", "2024-02-29")


def test_week_quarter_year_ends_by_hand() -> None:
    idx = trading_sessions("2015-03-23", "2015-04-17")
    # Good Friday 2015-04-03: that week ends on Thursday
    assert list(rebalance_dates(idx, "week_end")) == _d(
        "2015-03-27", "2015-04-02", "2015-04-10", "2015-04-17"
    )
    # week of Monday 2015-04-13 cut on Wednesday: incomplete
    assert list(rebalance_dates(idx[:-2], "week_end"))[-1] == pd.Timestamp("2015-04-10")
    years = trading_sessions("2011-06-01", "2013-12-31")
    assert list(rebalance_dates(years, "year_end")) == _d("2011-12-30", "2012-12-31", "2013-12-31")
    assert list(rebalance_dates(years, "quarter_end"))[:3] == _d(
        "2011-06-30", "2011-09-30", "2011-12-30"
    )


def test_pandas_aliases_mean_the_same(sample_stocks: pd.DataFrame) -> None:
    idx = sample_stocks.index
    for alias, name in PERIOD_ALIASES.items():
        pd.testing.assert_index_equal(rebalance_dates(idx, alias), rebalance_dates(idx, name))  # type: ignore[arg-type]
    # pandas' own "W" bins (weeks ending Sunday) give the same weeks
    weekly = pd.Series(idx, index=idx).resample("W").max().dropna()
    assert list(rebalance_dates(idx, "W")) == list(weekly.iloc[:-1])


def test_month_end_matches_pandas_groupby_on_stocks(sample_stocks: pd.DataFrame) -> None:
    idx = sample_stocks.index
    # independent: last date per calendar month, minus the final month (data ends Apr 11)
    last = pd.Series(idx, index=idx).groupby(idx.to_period("M")).max()
    expected = pd.DatetimeIndex(last.iloc[:-1].to_numpy(), name="timestamp")
    got = rebalance_dates(sample_stocks, "month_end")  # a panel is accepted
    pd.testing.assert_index_equal(got, expected)
    assert got[0] == pd.Timestamp("1989-12-29") and got[-1] == pd.Timestamp("2018-03-29")
    assert got.dtype == idx.dtype


def test_missing_month_end_uses_last_present_date() -> None:
    idx = trading_sessions("2024-01-02", "2024-02-29").drop(pd.Timestamp("2024-01-31"))
    assert list(rebalance_dates(idx)) == _d("2024-01-30", "2024-02-29")


def test_every_n_sessions() -> None:
    idx = trading_sessions("2024-01-02", "2024-01-31")  # 21 sessions
    assert list(rebalance_dates(idx, 10)) == [idx[0], idx[10], idx[20]]
    assert list(rebalance_dates(idx, 10, offset=3)) == [idx[3], idx[13]]
    assert list(rebalance_dates(idx, np.int64(7))) == [idx[0], idx[7], idx[14]]
    assert len(rebalance_dates(idx, 1)) == 21


def test_tz_aware_and_empty_index() -> None:
    idx = trading_sessions("2024-01-02", "2024-02-29").tz_localize("America/New_York")
    got = rebalance_dates(pd.Series(1.0, index=idx))
    assert str(got.tz) == "America/New_York"
    assert list(got.tz_localize(None)) == _d("2024-01-31", "2024-02-29")
    empty = pd.DatetimeIndex([], dtype="datetime64[us]", name="timestamp")
    assert len(rebalance_dates(empty)) == 0 and len(rebalance_dates(empty, 5)) == 0


def test_does_not_mutate_index() -> None:
    idx = trading_sessions("2024-01-02", "2024-03-28")
    before = idx.copy()
    out = rebalance_dates(idx)
    pd.testing.assert_index_equal(idx, before)
    assert out.name == "timestamp"


def test_rebalance_errors() -> None:
    idx = trading_sessions("2024-01-02", "2024-03-28")
    with pytest.raises(
        ParameterError, match=r"'every' parameter of rebalance_dates must be one of"
    ):
        rebalance_dates(idx, "monthly")  # type: ignore[arg-type]
    for bad in (0, -5, True, 1.5):
        with pytest.raises(ParameterError, match=r"'every' parameter .* or an int >= 1"):
            rebalance_dates(idx, bad)  # type: ignore[arg-type]
    with pytest.raises(
        ParameterError, match=r"'offset' parameter of rebalance_dates must be an integer >= 0"
    ):
        rebalance_dates(idx, 5, offset=-1)
    with pytest.raises(ParameterError, match=r"'offset' .* applies only to an integer 'every'"):
        rebalance_dates(idx, "month_end", offset=2)
    with pytest.raises(ParameterError, match="'include_partial_last' parameter .* must be a bool"):
        rebalance_dates(idx, include_partial_last="yes")  # type: ignore[arg-type]
    with pytest.raises(CalendarError, match="Unknown exchange 'XXXX'"):
        rebalance_dates(idx, exchange="XXXX")
    with pytest.raises(PanelError, match="index index is not sorted"):
        rebalance_dates(idx[::-1])
    with pytest.raises(PanelError, match="must have a DatetimeIndex"):
        rebalance_dates(pd.Index([1, 2, 3]))  # type: ignore[arg-type]


FULL = trading_sessions("2018-11-01", "2020-03-31")


@settings(max_examples=60, deadline=None)
@given(
    cut=st.integers(min_value=0, max_value=len(FULL) - 1),
    every=st.sampled_from(PERIODS),
    drop=st.lists(st.integers(min_value=0, max_value=len(FULL) - 1), max_size=40),
)
def test_truncation_never_changes_earlier_dates(cut: int, every: str, drop: list[int]) -> None:
    # gaps anywhere, including on period ends
    idx = FULL.delete(sorted(set(drop)))
    cut = min(cut, len(idx) - 1)
    full = rebalance_dates(idx, every)  # type: ignore[arg-type]
    trunc = rebalance_dates(idx[: cut + 1], every)  # type: ignore[arg-type]
    t = idx[cut]
    assert set(trunc) <= set(full)
    # equal up to the truncation date, except possibly in the truncated data's last period
    last_period_start = {
        "week_end": t - pd.Timedelta(days=t.day_of_week),
        "month_end": t.replace(day=1),
        "quarter_end": t.to_period("Q").start_time,
        "year_end": t.replace(month=1, day=1),
    }[every]
    assert list(trunc[trunc < last_period_start]) == list(full[full < last_period_start])
    if not drop:  # no gaps: exactly the full-data dates up to t
        assert list(trunc) == list(full[full <= t])


@settings(max_examples=30, deadline=None)
@given(cut=st.integers(min_value=0, max_value=len(FULL) - 1), every=st.sampled_from(PERIODS))
def test_truncation_exact_without_gaps(cut: int, every: str) -> None:
    full = rebalance_dates(FULL, every)  # type: ignore[arg-type]
    trunc = rebalance_dates(FULL[: cut + 1], every)  # type: ignore[arg-type]
    assert list(trunc) == list(full[full <= FULL[cut]])


# ------------------------------------------------------------ missing_sessions
def test_missing_sessions_by_hand() -> None:
    idx = pd.DatetimeIndex(
        ["2024-07-01", "2024-07-02", "2024-07-03", "2024-07-04", "2024-07-08", "2024-07-09"],
        name="timestamp",
    )
    panel = pd.DataFrame(
        {
            "A": [1.0, np.nan, 1.0, 1.0, 1.0, np.nan],  # NaN Jul 2; no row Jul 5; delists
            "B": [np.nan, np.nan, 2.0, np.nan, 2.0, 2.0],  # lists Jul 3
            "C": [np.nan] * 6,  # never valid: reports nothing
        },
        index=idx,
    )
    before = panel.copy()
    got = missing_sessions(panel)
    assert list(got.columns) == ["symbol", "timestamp", "kind"]
    rows = [
        (s if isinstance(s, str) else None, t.strftime("%m-%d"), k)
        for s, t, k in got.itertuples(index=False)
    ]
    assert rows == [
        ("A", "07-02", "missing"),
        (None, "07-04", "extra"),  # Independence Day
        ("A", "07-05", "missing"),
        ("B", "07-05", "missing"),
    ]
    assert got["timestamp"].dtype == "datetime64[us]"
    pd.testing.assert_frame_equal(panel, before)


def test_bundled_stocks_follow_nyse(sample_stocks: pd.DataFrame) -> None:
    # Verified: every index date is an XNYS session and no listed stock has a gap.
    assert missing_sessions(sample_stocks).empty
    sessions = trading_sessions(sample_stocks.index[0], sample_stocks.index[-1])
    pd.testing.assert_index_equal(sample_stocks.index, sessions)
    sandy = pd.DatetimeIndex(["2012-10-29", "2012-10-30"])
    assert not sandy.isin(sample_stocks.index).any()
    # dropping a real session shows up for every stock listed at the time
    cut = sample_stocks.drop(pd.Timestamp("2012-10-31"))
    got = missing_sessions(cut)
    listed = sample_stocks.loc["2012-10-31"].notna()
    assert set(got["kind"]) == {"missing"}
    assert (got["timestamp"] == pd.Timestamp("2012-10-31")).all()
    assert list(got["symbol"]) == list(listed[listed].index)


def test_missing_sessions_nanosecond_index() -> None:
    idx = pd.DatetimeIndex(["2024-07-01", "2024-07-03", "2024-07-05"], name="timestamp")
    panel = pd.DataFrame({"A": [1.0, 1.0, 1.0]}, index=idx.as_unit("ns"))
    got = missing_sessions(panel)
    assert list(got["timestamp"]) == _d("2024-07-02") and list(got["kind"]) == ["missing"]


def test_missing_sessions_intraday_tz_aware() -> None:
    idx = pd.DatetimeIndex(
        [
            "2024-07-03 10:00",
            "2024-07-03 15:00",
            "2024-07-05 10:00",
            "2024-07-05 15:00",
            "2024-07-09 10:00",
        ],
        name="timestamp",
    ).tz_localize("America/New_York")
    panel = pd.DataFrame({"A": [1.0, np.nan, np.nan, 1.0, 1.0]}, index=idx)
    got = missing_sessions(panel)
    # Jul 5 has one valid bar, so only Monday Jul 8 is missing
    assert list(got["timestamp"]) == _d("2024-07-08") and list(got["kind"]) == ["missing"]


def test_missing_sessions_edge_cases() -> None:
    empty = pd.DataFrame({"A": []}, index=pd.DatetimeIndex([], name="timestamp"), dtype=float)
    got = missing_sessions(empty)
    assert got.empty and list(got.columns) == ["symbol", "timestamp", "kind"]
    weekend = pd.DataFrame(index=pd.DatetimeIndex(["2024-07-06"], name="timestamp"))
    got = missing_sessions(weekend)
    assert list(got["kind"]) == ["extra"] and got["symbol"].isna().all()
    crypto = pd.DataFrame(
        {"BTC": 1.0}, index=pd.date_range("2024-07-01", "2024-07-10", name="timestamp")
    )
    assert missing_sessions(crypto, exchange="24/7").empty
    assert len(missing_sessions(crypto)) == 3  # Jul 4 and the weekend are not NYSE sessions


def test_missing_sessions_errors() -> None:
    panel = pd.DataFrame({"A": [1.0]}, index=pd.DatetimeIndex(["2024-07-01"], name="timestamp"))
    with pytest.raises(CalendarError, match="Unknown exchange 'XNYZ'"):
        missing_sessions(panel, exchange="XNYZ")
    with pytest.raises(PanelError, match="panel must be a DataFrame .*got a Series"):
        missing_sessions(panel["A"])  # type: ignore[arg-type]
    with pytest.raises(PanelError, match="panel must have a DatetimeIndex"):
        missing_sessions(panel.reset_index())


def test_lazy_exports() -> None:
    import qresearch.data as qd

    assert qd.trading_sessions is trading_sessions
    assert qd.rebalance_dates is rebalance_dates
    assert qd.missing_sessions is missing_sessions
