from __future__ import annotations

import gzip
import re
from importlib.resources import as_file
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qresearch.data.bars import Bars
from qresearch.data.ingestion import ingest, read_long, read_yahoo_csv
from qresearch.data.lake import Lake
from qresearch.datasets import load_sample, sample_path
from qresearch.exceptions import (
    DataQualityWarning,
    DataValidationError,
    IngestError,
    LakeError,
    ParameterError,
)

HEADER = "Date,Open,High,Low,Close,Adj Close,Volume\n"
GOOD_ROWS = (
    "2020-01-02,10,11,9,10.5,10.4,1000\n"
    "2020-01-03,10.5,12,10,11.5,11.4,2000\n"
    "2020-01-06,11.5,12.5,11,12,11.9,1500\n"
)


def _write(path: Path, text: str) -> Path:
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def _all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


# ----------------------------------------------------------------- Yahoo CSV


def test_read_yahoo_csv_matches_an_independent_parse() -> None:
    with as_file(sample_path("orcl-1995-2014.csv.gz")) as path:
        bars = read_yahoo_csv(path)
        raw = pd.read_csv(path, parse_dates=["Date"])
    assert bars.symbols == ["ORCL"] and len(bars) == len(raw) == 5036
    np.testing.assert_array_equal(bars.index.to_numpy(), raw["Date"].to_numpy())
    for field, column in [
        ("open", "Open"),
        ("high", "High"),
        ("low", "Low"),
        ("close", "Close"),
        ("adj_close", "Adj Close"),
        ("volume", "Volume"),
    ]:
        np.testing.assert_array_equal(
            getattr(bars, field)["ORCL"].to_numpy(), raw[column].to_numpy(np.float64)
        )
    # Same Bars as the bundled loader, which parses the file its own way.
    assert bars.equals(load_sample("ohlcv", symbols=["ORCL"]))


def test_read_yahoo_csv_hand_values(tmp_path: Path) -> None:
    path = _write(tmp_path / "abc-2020.csv", HEADER + GOOD_ROWS)
    before = path.read_bytes()
    bars = read_yahoo_csv(path)
    assert bars.symbols == ["ABC"]
    assert bars.index.strftime("%Y-%m-%d").tolist() == ["2020-01-02", "2020-01-03", "2020-01-06"]
    assert bars.close["ABC"].tolist() == [10.5, 11.5, 12.0]
    assert bars.adj_close is not None and bars.adj_close["ABC"].tolist() == [10.4, 11.4, 11.9]
    assert bars.volume["ABC"].tolist() == [1000.0, 2000.0, 1500.0]
    assert bars.index.tz is None and bars.index.dtype == "datetime64[us]"
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("name", "symbol"),
    [
        ("orcl-1995-2014.csv", "ORCL"),
        ("spy_daily.csv", "SPY"),
        ("aapl.csv.gz", "AAPL"),
        ("Msft.CSV", "MSFT"),
        ("^gspc.csv", "^GSPC"),
        ("ES=F_2020.csv", "ES=F"),
        ("brk.b.csv", "BRK"),
    ],
)
def test_symbol_from_the_file_name(tmp_path: Path, name: str, symbol: str) -> None:
    path = _write(tmp_path / name, HEADER + GOOD_ROWS)
    assert read_yahoo_csv(path).symbols == [symbol]


@pytest.mark.parametrize(
    ("name", "bad", "renamed"),
    [
        ("AAPL data.csv", r"\[' '\]", "AAPL_data.csv"),
        ("spy (1).csv", r"\[' ', '\(', '\)'\]", "spy__1_.csv"),
        ("nestlé.csv", r"\['é'\]", "nestl_.csv"),
    ],
)
def test_symbol_is_only_taken_from_a_documented_file_name(
    tmp_path: Path, name: str, bad: str, renamed: str
) -> None:
    path = _write(tmp_path / name, HEADER + GOOD_ROWS)
    pattern = (
        rf"{re.escape(name)}: cannot take a symbol from the file name '{re.escape(name)}': "
        rf"it contains {bad}.*Rename the file \(e.g. '{re.escape(renamed)}'\) or pass the "
        r"symbol: read_yahoo_csv\(path, symbol='XYZ'\)"
    )
    with pytest.raises(IngestError, match=pattern):
        read_yahoo_csv(path)
    with pytest.raises(IngestError, match=pattern):
        ingest([path], tmp_path / "lake")
    assert not (tmp_path / "lake").exists() or not any((tmp_path / "lake").rglob("*.parquet"))
    assert read_yahoo_csv(path, symbol="AAPL").symbols == ["AAPL"]


def test_explicit_symbol_and_optional_adj_close(tmp_path: Path) -> None:
    text = "date,open,high,low,close,volume\n2020-01-02,10,11,9,10.5,1000\n"
    bars = read_yahoo_csv(_write(tmp_path / "brk-b.csv", text), symbol="BRK-B")
    assert bars.symbols == ["BRK-B"] and bars.adj_close is None
    with pytest.raises(ParameterError, match="'symbol' parameter of read_yahoo_csv"):
        read_yahoo_csv(tmp_path / "brk-b.csv", symbol="")


def test_gzip_reads_like_plain(tmp_path: Path) -> None:
    plain = read_yahoo_csv(_write(tmp_path / "abc.csv", HEADER + GOOD_ROWS))
    packed = read_yahoo_csv(_write(tmp_path / "abc.csv.gz", HEADER + GOOD_ROWS))
    assert packed.equals(plain)


def test_null_rows_are_dropped_and_counted(tmp_path: Path) -> None:
    text = (
        HEADER
        + "2020-01-02,10,11,9,10.5,10.4,1000\n"  # line 2
        + "2020-01-03,null,null,null,null,null,null\n"  # line 3
        + "\n"  # line 4: blank, skipped
        + "2020-01-07,11,12,10,11.5,11.4,900\n"  # line 5
        + "2020-01-08,null,null,null,null,null,null\n"  # line 6
    )
    path = _write(tmp_path / "abc.csv", text)
    with pytest.warns(DataQualityWarning, match=r"abc.csv: dropped 2 rows .* first at line 3"):
        bars = read_yahoo_csv(path)
    assert bars.index.strftime("%m-%d").tolist() == ["01-02", "01-07"]
    assert bars.close["ABC"].tolist() == [10.5, 11.5]


def test_partial_rows_are_kept_and_counted(tmp_path: Path) -> None:
    text = HEADER + "2020-01-02,10,11,9,10.5,10.4,1000\n2020-01-03,10,11,9,10.5,10.4,null\n"
    with pytest.warns(DataQualityWarning, match=r"kept 1 rows with some values missing.*line 3"):
        bars = read_yahoo_csv(_write(tmp_path / "abc.csv", text))
    assert np.isnan(bars.volume["ABC"].iloc[1]) and bars.close["ABC"].iloc[1] == 10.5


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        (
            "Date,Open,High,Close,Volume\n2020-01-02,1,2,1.5,10\n",
            r"bad.csv: missing columns \['Low'\] in the header \(line 1\); expected \['Date', "
            r"'Open', 'High', 'Low', 'Close', 'Adj Close', 'Volume'\] \('Adj Close' optional\)",
        ),
        (
            HEADER + GOOD_ROWS + "2020-13-45,1,2,0.5,1.5,1.5,10\n",
            r"bad.csv, line 5: cannot parse the date '2020-13-45' in column 'Date'; expected ISO",
        ),
        (
            HEADER + GOOD_ROWS + "2020-02,1,2,0.5,1.5,1.5,10\n",
            r"bad.csv, line 5: the date '2020-02' in column 'Date' has no day; write the full "
            r"date \(year-month-day",
        ),
        (
            HEADER + "2020,1,2,0.5,1.5,1.5,10\n",
            r"bad.csv, line 2: the date '2020' in column 'Date' has no day",
        ),
        (
            HEADER + GOOD_ROWS + "2020/02,1,2,0.5,1.5,1.5,10\n",
            r"bad.csv, line 5: the date '2020/02' in column 'Date' has no day",
        ),
        (
            HEADER + GOOD_ROWS + "2020-01-07 16:00:00-05:00,1,2,0.5,1.5,1.5,10\n",
            r"bad.csv, line 5: the date '2020-01-07 16:00:00-05:00' in column 'Date' has a UTC "
            r"offset, unlike the first date '2020-01-02' \(line 2\). Dates in one file must all "
            r"carry an offset or none",
        ),
        (
            HEADER + "2020-01-02T16:00:00Z,1,2,0.5,1.5,1.5,10\n\n2020-01-03,1,2,0.5,1.5,1.5,10\n",
            r"bad.csv, line 4: the date '2020-01-03' in column 'Date' has no UTC offset, unlike "
            r"the first date '2020-01-02T16:00:00Z' \(line 2\)",
        ),
        (
            HEADER + "2020-01-02,1,2,0.5,1.5,1.5,10\n2020-01-03,1,2,0.5,abc,1.5,10\n",
            r"bad.csv, line 3: column 'Close' has 'abc', which is not a number",
        ),
        (
            HEADER + GOOD_ROWS + "2020-01-03,1,2,0.5,1.5,1.5,10\n",
            r"bad.csv: the date 2020-01-03 00:00:00 appears twice, at line 3 and line 5",
        ),
        (
            HEADER + ",1,2,0.5,1.5,1.5,10\n",
            r"bad.csv, line 2: the row has values but no date in column 'Date'",
        ),
        (HEADER, r"bad.csv has no data rows, only the header \(line 1\)"),
        ("", r"bad.csv is empty; expected a header line such as Date,Open"),
        (
            HEADER + "2020-01-02,null,null,null,null,null,null\n",
            r"bad.csv has no bars: all 1 data rows have every value missing \(first at line 2\)",
        ),
        (
            HEADER + "2020-01-02,1,2,0.5,1.5,1.5,10,99,98\n",
            r"bad.csv is not a valid CSV file: .*Expected 7 fields in line 2, saw 9",
        ),
        (
            "Date,Open,High,Low,Close,close,Volume\n2020-01-02,1,2,0.5,1.5,1.5,10\n",
            r"bad.csv: the header \(line 1\) names the column 'close' twice \('Close' and 'close'\)",
        ),
    ],
    ids=[
        "missing-column",
        "bad-date",
        "month-only",
        "year-only",
        "year-slash-month",
        "naive-then-offset",
        "offset-then-naive",
        "not-a-number",
        "duplicate-date",
        "no-date",
        "header-only",
        "empty",
        "all-null",
        "too-many-fields",
        "repeated-column",
    ],
)
def test_bad_yahoo_files_name_file_and_line(tmp_path: Path, text: str, pattern: str) -> None:
    path = _write(tmp_path / "bad.csv", text)
    with pytest.raises(IngestError, match=pattern):
        read_yahoo_csv(path)


def test_unreadable_paths(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"nope.csv: no such file"):
        read_yahoo_csv(tmp_path / "nope.csv")
    with pytest.raises(IngestError, match=r"is not a file; pass files"):
        read_yahoo_csv(tmp_path)
    (tmp_path / "x.csv.gz").write_bytes(b"this is not gzip")
    with pytest.raises(IngestError, match=r"x.csv.gz cannot be read .*damaged archive"):
        read_yahoo_csv(tmp_path / "x.csv.gz")
    (tmp_path / "latin.csv").write_bytes((HEADER + "2020-01-02,\xe9,1,1,1,1,1\n").encode("latin-1"))
    with pytest.raises(IngestError, match=r"latin.csv is not UTF-8 text"):
        read_yahoo_csv(tmp_path / "latin.csv")
    path = _write(tmp_path / "-odd.csv", HEADER + GOOD_ROWS)
    with pytest.raises(IngestError, match=r"cannot take a symbol from the file name.*symbol='XYZ'"):
        read_yahoo_csv(path)
    with pytest.raises(ParameterError, match="must be a str or os.PathLike; got int"):
        read_yahoo_csv(3)  # type: ignore[arg-type]


# ----------------------------------------------------------------- long files

LONG_TEXT = (
    "timestamp,symbol,open,high,low,close,volume\n"
    "2024-01-02T00:00:00+00:00,BTC/USDT,42000,43000,41500,42500,1200\n"
    "2024-01-02T00:00:00+00:00,ETH/USDT,2300,2400,2250,2350,9000\n"
    "2024-01-03T00:00:00+00:00,BTC/USDT,42500,42800,40000,41000,1500\n"
)


def test_read_long_csv_hand_values(tmp_path: Path) -> None:
    bars = read_long(_write(tmp_path / "crypto.csv", LONG_TEXT))
    assert bars.symbols == ["BTC/USDT", "ETH/USDT"]
    assert str(bars.index.tz) == "UTC"
    assert bars.close["BTC/USDT"].tolist() == [42500.0, 41000.0]
    assert bars.volume["ETH/USDT"].iloc[0] == 9000.0 and np.isnan(bars.close["ETH/USDT"].iloc[1])


def test_partial_and_mixed_dates_in_long_files(tmp_path: Path) -> None:
    head = "timestamp,symbol,open,high,low,close,volume\n"
    text = (
        head
        + "2024-01-02 09:30:00-05:00,SPY,1,2,0.5,1.5,10\n2024-01-02 10:30:00,SPY,1,2,0.5,1.5,10\n"
    )
    with pytest.raises(
        IngestError, match=r"long.csv, line 3: the date '2024-01-02 10:30:00' .* has no UTC"
    ):
        read_long(_write(tmp_path / "long.csv", text))
    frame = _long_frame().astype({"timestamp": str})
    frame.loc[1, "timestamp"] = "2021-05"
    frame.to_parquet(tmp_path / "p.parquet")
    with pytest.raises(
        IngestError, match=r"p.parquet, row 1 \(0-based\): the date '2021-05' .* has no day"
    ):
        read_long(tmp_path / "p.parquet")


def test_read_long_mixed_offsets_become_utc(tmp_path: Path) -> None:
    text = (
        "timestamp,symbol,open,high,low,close,volume\n"
        "2024-01-02 09:30:00-05:00,SPY,1,2,0.5,1.5,10\n"
        "2024-07-02 09:30:00-04:00,SPY,1,2,0.5,1.5,10\n"
    )
    bars = read_long(_write(tmp_path / "spy.csv", text))
    assert bars.index.tolist() == [
        pd.Timestamp("2024-01-02 14:30", tz="UTC"),
        pd.Timestamp("2024-07-02 13:30", tz="UTC"),
    ]


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        (
            "timestamp,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,10\n",
            r"long.csv: missing columns \['symbol'\] in the header \(line 1\)",
        ),
        (
            "timestamp,symbol,open,high,low,close,volume\n2024-01-02,A,1,2,0.5,1.5,10\n"
            "2024-01-02,,1,2,0.5,1.5,10\n",
            r"long.csv, line 3: the row has no symbol",
        ),
        (
            "timestamp,symbol,open,high,low,close,volume\n2024-01-02,A,1,2,0.5,1.5,10\n"
            "2024-01-02,B,1,2,0.5,1.5,10\n2024-01-02,A,1,2,0.5,1.5,11\n",
            r"long.csv: the date 2024-01-02 00:00:00 for symbol 'A' appears twice, at line 2 "
            r"and line 4",
        ),
        (
            "timestamp,symbol,open,high,low,close,volume\n2024-01-02,A,1,2,0.5,1.5,1e3x\n",
            r"long.csv, line 2: column 'volume' has '1e3x', which is not a number",
        ),
    ],
    ids=["missing-column", "no-symbol", "duplicate", "not-a-number"],
)
def test_bad_long_csv(tmp_path: Path, text: str, pattern: str) -> None:
    with pytest.raises(IngestError, match=pattern):
        read_long(_write(tmp_path / "long.csv", text))


def _long_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "timestamp": pd.to_datetime(["2021-05-03", "2021-05-03", "2021-05-04"]),
            "symbol": ["AAA", "BBB", "AAA"],
            "open": [1.0, 10.0, 2.0],
            "high": [1.5, 10.5, 2.5],
            "low": [0.5, 9.5, 1.5],
            "close": [1.2, 10.2, 2.2],
            "volume": [100.0, 300.0, 200.0],
            "note": ["x", "y", "z"],
        }
    )


def test_read_long_parquet_hand_values(tmp_path: Path) -> None:
    frame = _long_frame()
    frame.to_parquet(tmp_path / "bars.parquet")
    bars = read_long(tmp_path / "bars.parquet")
    assert bars.symbols == ["AAA", "BBB"]
    for _, row in frame.iterrows():
        for field in ("open", "high", "low", "close", "volume"):
            assert getattr(bars, field).loc[row["timestamp"], row["symbol"]] == row[field]
    assert np.isnan(bars.close.loc["2021-05-04", "BBB"])


def test_bad_parquet_names_the_row(tmp_path: Path) -> None:
    frame = _long_frame().assign(close=["1.2", "10.2", "n.a.x"])
    frame.to_parquet(tmp_path / "a.parquet")
    with pytest.raises(IngestError, match=r"a.parquet, row 2 \(0-based\): column 'close' has"):
        read_long(tmp_path / "a.parquet")
    frame = _long_frame()
    frame.loc[1, "timestamp"] = pd.NaT
    frame.to_parquet(tmp_path / "b.parquet")
    with pytest.raises(IngestError, match=r"b.parquet, row 1 \(0-based\): the row has values but"):
        read_long(tmp_path / "b.parquet")
    frame = _long_frame()
    frame.loc[2, "symbol"] = "AAA"
    frame.loc[2, "timestamp"] = frame.loc[0, "timestamp"]
    frame.to_parquet(tmp_path / "c.parquet")
    with pytest.raises(IngestError, match=r"appears twice, at row 0 \(0-based\) and row 2"):
        read_long(tmp_path / "c.parquet")
    frame.drop(columns=["low"]).to_parquet(tmp_path / "d.parquet")
    with pytest.raises(
        IngestError, match=r"d.parquet: missing columns \['low'\] in the Parquet schema"
    ):
        read_long(tmp_path / "d.parquet")
    (tmp_path / "e.parquet").write_text("not parquet")
    with pytest.raises(IngestError, match=r"e.parquet is not a readable Parquet file"):
        read_long(tmp_path / "e.parquet")


# --------------------------------------------------------------------- ingest


def _yahoo_file(folder: Path, name: str, rows: str = GOOD_ROWS) -> Path:
    return _write(folder / name, HEADER + rows)


def test_ingest_yahoo_and_long_files(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    abc = _yahoo_file(src, "abc-2020.csv")
    xyz = _yahoo_file(
        src, "xyz.csv.gz", "2019-12-31,5,6,4,5.5,5.5,10\n2020-01-02,5,6,4,5.2,5.2,20\n"
    )
    _long_frame().to_parquet(src / "more.parquet")
    before = _all_files(src)
    lake = Lake(tmp_path / "lake")
    summary = ingest([abc, str(xyz), src / "more.parquet"], lake)
    assert summary.columns.tolist() == [
        "file",
        "format",
        "symbols",
        "rows",
        "first",
        "last",
        "partitions",
    ]
    assert summary["format"].tolist() == ["yahoo", "yahoo", "long"]
    assert summary["symbols"].tolist() == ["ABC", "XYZ", "AAA, BBB"]
    assert summary["rows"].tolist() == [3, 2, 3]
    assert summary["partitions"].tolist() == [1, 2, 2]
    assert summary["first"].tolist() == [
        pd.Timestamp("2020-01-02"),
        pd.Timestamp("2019-12-31"),
        pd.Timestamp("2021-05-03"),
    ]
    assert summary["last"].iloc[0] == pd.Timestamp("2020-01-06")
    assert lake.symbols() == ["AAA", "ABC", "BBB", "XYZ"]
    assert lake.read_panel("close", "ABC").iloc[:, 0].tolist() == [10.5, 11.5, 12.0]
    assert lake.read_panel("close", "XYZ").iloc[:, 0].tolist() == [5.5, 5.2]
    assert _all_files(src) == before  # inputs untouched


def test_ingest_is_idempotent_and_accepts_a_path(tmp_path: Path) -> None:
    path = _yahoo_file(tmp_path, "abc.csv")
    root = tmp_path / "lake"
    ingest(path, root)
    files = _all_files(root)
    again = ingest([path], root)
    assert _all_files(root) == files
    assert again["rows"].tolist() == [3]


def test_ingest_later_file_wins_and_replace_mode(tmp_path: Path) -> None:
    old = _yahoo_file(tmp_path, "abc-old.csv")
    new = _yahoo_file(tmp_path, "abc-new.csv", "2020-01-03,1,2,0.5,1.5,1.5,10\n")
    lake = Lake(tmp_path / "lake")
    ingest([old, new], lake)
    assert lake.read_panel("close").iloc[:, 0].tolist() == [10.5, 1.5, 12.0]
    ingest([new], lake, mode="replace")
    assert lake.read_panel("close").iloc[:, 0].tolist() == [1.5]


def test_bad_file_is_not_written_and_earlier_files_are_reported(tmp_path: Path) -> None:
    good = _yahoo_file(tmp_path, "good.csv")
    bad = _yahoo_file(tmp_path, "bad.csv", GOOD_ROWS + "2020-01-07,1,2,0.5,oops,1.5,10\n")
    lake = Lake(tmp_path / "lake")
    with pytest.raises(
        IngestError, match=r"bad.csv, line 5: column 'Close'.*Files ingested before this one: \["
    ):
        ingest([good, bad], lake)
    assert lake.symbols() == ["GOOD"]


def test_missing_paths_are_checked_before_writing(tmp_path: Path) -> None:
    good = _yahoo_file(tmp_path, "good.csv")
    lake = Lake(tmp_path / "lake")
    with pytest.raises(IngestError, match="missing.csv: no such file"):
        ingest([good, tmp_path / "missing.csv"], lake)
    assert lake.symbols() == []


def test_validation_failure_writes_nothing(tmp_path: Path) -> None:
    pytest.importorskip(
        "qresearch.data.validate", reason="validate_bars (a teammate's module) is not there yet"
    )
    good = _yahoo_file(tmp_path, "good.csv")
    # high (9) below low (10) on 2020-01-03: a bar that cannot exist.
    broken = _yahoo_file(
        tmp_path, "broken.csv", "2020-01-02,10,11,9,10.5,10.5,100\n2020-01-03,10,9,10,9.5,9.5,100\n"
    )
    lake = Lake(tmp_path / "lake")
    ingest([good], lake)
    files = _all_files(tmp_path / "lake")
    with pytest.raises(
        DataValidationError, match=r"broken.csv: .*high_below_low.*Nothing of this file was written"
    ) as info:
        ingest([broken], lake)
    assert info.value.report is not None and len(info.value.report) >= 1
    assert _all_files(tmp_path / "lake") == files
    summary = ingest([broken], lake, validate=False)  # explicitly skipped: written as is
    assert summary["rows"].tolist() == [2] and lake.symbols() == ["BROKEN", "GOOD"]


def test_ingest_detects_the_format_or_says_how(tmp_path: Path) -> None:
    odd = _write(tmp_path / "odd.csv", "when,price\n2020-01-02,1\n")
    with pytest.raises(IngestError, match=r"odd.csv: cannot tell the format .*format='yahoo'"):
        ingest(odd, tmp_path / "lake")
    long_csv = _write(tmp_path / "crypto.csv", LONG_TEXT)
    assert ingest(long_csv, tmp_path / "lake")["format"].tolist() == ["long"]
    yahoo_as_long = _yahoo_file(tmp_path, "abc.csv")
    with pytest.raises(IngestError, match=r"missing columns \['timestamp', 'symbol'\]"):
        ingest(yahoo_as_long, tmp_path / "lake2", format="long")


def test_ingest_time_zone_clash_names_the_file(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    ingest(_yahoo_file(tmp_path, "abc.csv"), lake)
    with pytest.raises(LakeError, match=r"crypto.csv: data timestamps are tz-aware \(UTC\)"):
        ingest(_write(tmp_path / "crypto.csv", LONG_TEXT), lake)


def test_ingest_argument_errors(tmp_path: Path) -> None:
    path = _yahoo_file(tmp_path, "abc.csv")
    with pytest.raises(ParameterError, match="'format' parameter of ingest must be one of"):
        ingest(path, tmp_path / "lake", format="xlsx")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="'mode' parameter of ingest must be one of"):
        ingest(path, tmp_path / "lake", mode="append")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="'paths' parameter of ingest is empty"):
        ingest([], tmp_path / "lake")
    with pytest.raises(ParameterError, match="'root' parameter of Lake"):
        ingest(path, 3)  # type: ignore[arg-type]
    assert not (tmp_path / "lake").exists()


def test_readers_return_bars_the_lake_round_trips(tmp_path: Path) -> None:
    bars = read_long(_write(tmp_path / "crypto.csv", LONG_TEXT))
    lake = Lake(tmp_path / "lake")
    lake.write(bars)
    assert isinstance(bars, Bars) and lake.read(symbols=bars.symbols).equals(bars)
