from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qresearch.data.bars import Bars
from qresearch.data.validate import CHECKS, REPORT_COLUMNS, validate_bars
from qresearch.exceptions import DataValidationError, PanelError, ParameterError
from tests.conftest import make_bars

NAN = np.nan
INF = np.inf


def _hand_bars() -> Bars:
    # A, B have one or more planted problems per day; C has no value at all.
    idx = pd.date_range("2020-01-01", periods=4, name="timestamp")

    def panel(a: list[float], b: list[float]) -> pd.DataFrame:
        p = pd.DataFrame({"A": a, "B": b, "C": [NAN] * 4}, index=idx)
        p.columns.name = "symbol"
        return p

    return Bars(
        open=panel([10, 10, 10, NAN], [-1, 1, NAN, 2]),
        high=panel([11, 9.5, 11, 11], [2, INF, NAN, 1.5]),
        low=panel([9, 9, 10.5, 9], [-2, 0.5, NAN, 3]),
        close=panel([10.5, 10, 10.2, 10], [1, 1, NAN, 2.5]),
        volume=panel([100, 100, -5, 100], [10, 10, 10, 10]),
    )


# Written by hand from the planted values above, in report order.
EXPECTED = [
    ("non_positive_price", "B", "2020-01-01", "open", -1.0),
    ("non_positive_price", "B", "2020-01-01", "low", -2.0),
    ("high_below_open_or_close", "A", "2020-01-02", "high", 9.5),  # 9.5 < max(10, 10)
    ("non_finite", "B", "2020-01-02", "high", INF),
    ("negative_volume", "A", "2020-01-03", "volume", -5.0),
    ("low_above_open_or_close", "A", "2020-01-03", "low", 10.5),  # 10.5 > min(10, 10.2)
    ("missing_close", "B", "2020-01-03", "volume", 10.0),
    ("partial_bar", "A", "2020-01-04", "open", NAN),
    ("high_below_low", "B", "2020-01-04", "high", 1.5),  # 1.5 < 3
    ("high_below_open_or_close", "B", "2020-01-04", "high", 1.5),  # 1.5 < 2.5
    ("low_above_open_or_close", "B", "2020-01-04", "low", 3.0),  # 3 > 2
    ("empty_symbol", "C", None, None, NAN),
]


def _rows(report: pd.DataFrame) -> list[tuple]:
    out = []
    for r in report.itertuples(index=False):
        ts = None if pd.isna(r.timestamp) else r.timestamp.strftime("%Y-%m-%d")
        col = None if pd.isna(r.column) else r.column
        out.append((r.check, r.symbol, ts, col, r.value))
    return out


def _assert_rows(report: pd.DataFrame, expected: list[tuple]) -> None:
    got = _rows(report)
    assert len(got) == len(expected), got
    for g, e in zip(got, expected, strict=True):
        assert g[:4] == e[:4], (g, e)
        assert (np.isnan(g[4]) and np.isnan(e[4])) or g[4] == e[4], (g, e)


def test_bundled_ohlcv_is_clean(sample_bars: Bars) -> None:
    report = validate_bars(sample_bars)  # exact comparisons, raise_on_error=True
    assert report.empty
    assert tuple(report.columns) == REPORT_COLUMNS
    assert report["timestamp"].dtype == sample_bars.index.dtype
    assert report["value"].dtype == np.float64


def test_synthetic_bars_are_clean(bars: Bars) -> None:
    assert validate_bars(bars).empty
    assert validate_bars(bars.to_long()).empty


def test_planted_problems_by_hand() -> None:
    report = validate_bars(_hand_bars(), raise_on_error=False)
    assert tuple(report.columns) == REPORT_COLUMNS
    assert report.index.equals(pd.RangeIndex(len(EXPECTED)))
    _assert_rows(report, EXPECTED)
    assert set(report["check"]) <= set(CHECKS)


def test_error_message_counts_and_first_problem() -> None:
    with pytest.raises(DataValidationError) as info:
        validate_bars(_hand_bars())
    msg = str(info.value)
    assert "found 12 problems" in msg
    assert (
        "empty_symbol: 1, non_finite: 1, non_positive_price: 2, negative_volume: 1, "
        "high_below_low: 1, high_below_open_or_close: 2, low_above_open_or_close: 2, "
        "partial_bar: 1, missing_close: 1" in msg
    )
    assert (
        "First: non_positive_price at symbol 'B', timestamp 2020-01-01 00:00:00, "
        "column 'open', value -1.0" in msg
    )
    assert "raise_on_error=False" in msg
    pd.testing.assert_frame_equal(
        info.value.report, validate_bars(_hand_bars(), raise_on_error=False)
    )
    with pytest.raises(ValueError, match="found 12 problems"):  # also a ValueError
        validate_bars(_hand_bars())


def test_atol_relaxes_only_range_checks() -> None:
    idx = pd.date_range("2020-01-01", periods=1, name="timestamp")
    one = lambda v: pd.DataFrame({"A": [v]}, index=idx)  # noqa: E731
    b = Bars(open=one(10.0), high=one(9.9995), low=one(9.0), close=one(9.5), volume=one(-1.0))
    exact = validate_bars(b, raise_on_error=False)
    assert list(exact["check"]) == ["negative_volume", "high_below_open_or_close"]
    loose = validate_bars(b, raise_on_error=False, atol=1e-3)  # 9.9995 >= 10 - 0.001
    assert list(loose["check"]) == ["negative_volume"]
    tight = validate_bars(b, raise_on_error=False, atol=1e-4)  # 9.9995 < 10 - 0.0001
    assert list(tight["check"]) == ["negative_volume", "high_below_open_or_close"]


@pytest.mark.parametrize("atol", [-1e-6, np.nan, np.inf, "0.1", True])
def test_atol_errors(bars: Bars, atol: object) -> None:
    with pytest.raises(ParameterError, match="'atol' parameter of validate_bars must be a finite"):
        validate_bars(bars, atol=atol)  # type: ignore[arg-type]


def test_adj_close_is_checked() -> None:
    idx = pd.date_range("2020-01-01", periods=3, name="timestamp")
    px = pd.DataFrame({"A": [10.0, 11.0, 12.0]}, index=idx)
    adj = pd.DataFrame({"A": [9.0, 0.0, NAN]}, index=idx)
    b = Bars(open=px, high=px, low=px, close=px, volume=px, adj_close=adj)
    report = validate_bars(b, raise_on_error=False)
    _assert_rows(
        report,
        [
            ("non_positive_price", "A", "2020-01-02", "adj_close", 0.0),
            ("partial_bar", "A", "2020-01-03", "adj_close", NAN),
        ],
    )


def test_long_frame_duplicates_and_unsorted() -> None:
    ts = pd.to_datetime(["2020-01-02", "2020-01-01", "2020-01-01", "2020-01-02", "2020-01-01"])
    long = pd.DataFrame(
        {
            "timestamp": ts,
            "symbol": ["A", "A", "B", "A", "B"],
            "open": 1.0,
            "high": 2.0,
            "low": 0.5,
            "close": 1.5,
            "volume": 10.0,
        }
    )
    report = validate_bars(long, raise_on_error=False)
    # row 1 (A 01-01) comes after A 01-02; rows 3 and 4 repeat rows 0 and 2.
    _assert_rows(
        report,
        [
            ("unsorted_timestamp", "A", "2020-01-01", "timestamp", NAN),
            ("duplicate_row", "B", "2020-01-01", "timestamp", NAN),
            ("duplicate_row", "A", "2020-01-02", "timestamp", NAN),
        ],
    )
    with pytest.raises(DataValidationError, match=r"duplicate_row: 2, unsorted_timestamp: 1"):
        validate_bars(long)


def test_long_frame_matches_bars_checks() -> None:
    b = _hand_bars()
    long = b.to_long(dropna=False)  # symbols first appear in the order A, B, C
    from_long = validate_bars(long, raise_on_error=False)
    from_bars = validate_bars(b, raise_on_error=False)
    _assert_rows(from_long, EXPECTED)
    pd.testing.assert_frame_equal(from_long, from_bars)
    # rows of one symbol in reverse order: every row but the first is flagged unsorted
    rev = validate_bars(long.iloc[::-1], raise_on_error=False)
    assert (rev["check"] == "unsorted_timestamp").sum() == 3 * 3
    # dropping the all-NaN rows removes C entirely, so it is no longer reported
    assert "C" not in set(validate_bars(b.to_long(), raise_on_error=False)["symbol"])


def test_long_frame_checks_every_duplicate_row() -> None:
    long = _hand_bars().to_long()
    dup = pd.concat([long, long.iloc[[0]].assign(high=-1.0)], ignore_index=True)
    report = validate_bars(dup, raise_on_error=False)
    first = report[report["timestamp"] == long["timestamp"].iloc[0]]
    assert {"duplicate_row", "non_positive_price", "high_below_low"} <= set(first["check"])


@pytest.mark.filterwarnings("ignore:Could not infer format")
def test_long_frame_errors() -> None:
    long = _hand_bars().to_long()
    with pytest.raises(PanelError, match=r"bars is missing columns \['volume'\]"):
        validate_bars(long.drop(columns="volume"))
    bad = long.astype({"timestamp": object})
    bad.loc[0, "timestamp"] = "not a date"
    with pytest.raises(PanelError, match=r"bars\['timestamp'\] does not parse as datetimes"):
        validate_bars(bad)
    nat = long.copy()
    nat.loc[2, "timestamp"] = pd.NaT
    with pytest.raises(PanelError, match=r"missing timestamp at row 2"):
        validate_bars(nat)
    text = long.astype({"open": object})
    text.loc[1, "open"] = "ten"
    with pytest.raises(PanelError, match=r"bars\['open'\] is not numeric"):
        validate_bars(text)
    with pytest.raises(
        PanelError, match=r"must be a Bars or a long pandas DataFrame \(columns .*\); got list"
    ):
        validate_bars([1, 2])  # type: ignore[arg-type]


def test_inputs_not_mutated() -> None:
    b = _hand_bars()
    before = {f: p.copy() for f, p in b.panels().items()}
    validate_bars(b, raise_on_error=False)
    for f, p in before.items():
        pd.testing.assert_frame_equal(getattr(b, f), p)
    long = b.to_long()
    long_before = long.copy()
    validate_bars(long, raise_on_error=False)
    pd.testing.assert_frame_equal(long, long_before)


def test_tz_aware_and_empty_bars() -> None:
    b = _hand_bars()
    tz = Bars(**{f: p.tz_localize("UTC") for f, p in b.panels().items()})
    report = validate_bars(tz, raise_on_error=False)
    assert str(report["timestamp"].dt.tz) == "UTC" and len(report) == len(EXPECTED)
    empty = b.select(end="2019-12-31")
    assert len(empty) == 0
    # no rows: every symbol has no bar at all
    assert list(validate_bars(empty, raise_on_error=False)["check"]) == ["empty_symbol"] * 3


def test_report_on_a_large_panel() -> None:
    # Counts and order on a 2520 x 1000 panel; its timing is a benchmark's job, not a test's.
    b = make_bars(2520, 1000, seed=1)
    high = b.high.copy()
    high.iloc[100:200, 10:20] = 0.0  # 1000 bars with 3 problems each
    bad = b.replace(high=high)
    assert validate_bars(b, raise_on_error=False).empty
    report = validate_bars(bad, raise_on_error=False)
    counts = report["check"].value_counts()
    assert counts["non_positive_price"] == 1000 and counts["high_below_low"] == 1000
    assert counts["high_below_open_or_close"] == 1000 and len(report) == 3000
    assert report["timestamp"].is_monotonic_increasing


def test_lazy_export() -> None:
    import qresearch.data as qd

    assert qd.validate_bars is validate_bars
