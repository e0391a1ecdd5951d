from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import qresearch.data._lake_io as lake_io
import qresearch.data.lake as lake_module
from qresearch.data.bars import FIELDS, Bars
from qresearch.data.lake import Lake, decode_symbol, encode_symbol
from qresearch.exceptions import LakeError, PanelError, ParameterError
from tests.conftest import make_bars

# --------------------------------------------------------------------- helpers


def _long(rows: list[tuple[str, str, float]], tz: str | None = None) -> pd.DataFrame:
    """A long frame from (timestamp, symbol, close); other fields derived by hand."""
    ts = pd.to_datetime([r[0] for r in rows])
    if tz is not None:
        ts = ts.tz_localize(tz)
    close = np.array([r[2] for r in rows])
    return pd.DataFrame(
        {
            "timestamp": ts,
            "symbol": [r[1] for r in rows],
            "open": close - 0.5,
            "high": close + 1.0,
            "low": close - 1.0,
            "close": close,
            "volume": close * 100.0,
        }
    )


def _files(root: Path) -> dict[str, bytes]:
    """Every file under root (relative path -> bytes), hidden ones included."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _tmp_leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.startswith((".data.parquet.tmp-", ".deleting-"))]


def _read_independently(root: Path) -> pd.DataFrame:
    """Read every year file with pandas alone (year from the folder name).

    Columns in the order of the old layout's reader: timestamp, symbol, fields, year.
    """
    frames = []
    for path in sorted(root.glob("year=*/data.parquet")):
        frame = pd.read_parquet(path)
        assert list(frame.columns[:2]) == ["symbol", "timestamp"]
        frame = frame[["timestamp", "symbol", *frame.columns[2:]]]
        frame["year"] = int(path.parent.name[len("year=") :])
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


# ------------------------------------------------------------------ round trip


def test_round_trip_bundled_sample(sample_bars: Bars, tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    summary = lake.write(sample_bars)
    back = lake.read()
    # Symbols come back sorted; reading in the original order gives the original.
    assert back.symbols == ["NVDA", "ORCL", "YHOO"]
    assert back.equals(sample_bars.select(symbols=["NVDA", "ORCL", "YHOO"]))
    assert lake.read(symbols=sample_bars.symbols).equals(sample_bars)
    assert back.index.dtype == "datetime64[us]" and back.index.name == "timestamp"
    # Hand count of the summary: one row per (symbol, year), rows = listed bars.
    listed = sample_bars.close.notna()
    per_year = listed.groupby(listed.index.year).sum()
    assert int(summary["rows_written"].sum()) == 5036 + 4012 + 4713
    orcl_1995 = summary.query("symbol == 'ORCL' and year == 1995").iloc[0]
    assert orcl_1995["rows_written"] == per_year.loc[1995, "ORCL"] == orcl_1995["rows_after"]
    assert list(summary.columns) == ["symbol", "year", "rows_written", "rows_before", "rows_after"]
    assert len(summary) == 20 + 16 + 19  # ORCL 1995-2014, NVDA 1999-2014, YHOO 1996-2014


def test_files_hold_the_input_rows(sample_bars: Bars, tmp_path: Path) -> None:
    root = tmp_path / "lake"
    Lake(root).write(sample_bars)
    stored = _read_independently(root)
    assert list(stored.columns) == [
        "timestamp",
        "symbol",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "adj_close",
        "year",
    ]
    expected = sample_bars.to_long().sort_values(["symbol", "timestamp"], ignore_index=True)
    got = stored.sort_values(["symbol", "timestamp"], ignore_index=True)
    assert (got["year"] == got["timestamp"].dt.year).all()
    pd.testing.assert_frame_equal(
        got.drop(columns="year"), expected, check_dtype=False, check_index_type=False
    )
    schema = pq.read_schema(root / "year=2000" / "data.parquet")
    assert str(schema.field("timestamp").type) == "timestamp[us]"
    assert all(str(schema.field(f).type) == "double" for f in (*FIELDS, "adj_close"))


def test_ragged_synthetic_round_trip_skips_unlisted_rows(tmp_path: Path) -> None:
    bars = make_bars(n_rows=300, n_symbols=5, ragged=True)
    lake = Lake(tmp_path)
    lake.write(bars)
    back = lake.read()
    assert back.equals(bars)
    assert back.adj_close is None
    # Not-listed (all-NaN) rows are not stored: hand count of listed bars.
    stored = _read_independently(tmp_path)
    assert len(stored) == int(bars.close.notna().sum().sum()) < 300 * 5
    assert stored[["open", "high", "low", "close", "volume"]].notna().all().all()


def test_long_frame_and_bars_write_identical_files(tmp_path: Path) -> None:
    bars = make_bars(n_rows=120, n_symbols=3)
    long = bars.to_long()
    Lake(tmp_path / "a").write(bars)
    Lake(tmp_path / "b").write(long)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_write_does_not_mutate_inputs(sample_bars: Bars, tmp_path: Path) -> None:
    bars = make_bars(n_rows=50, n_symbols=3)
    before = {f: p.copy() for f, p in bars.panels().items()}
    long = bars.to_long()
    long_before = long.copy()
    Lake(tmp_path / "a").write(bars)
    Lake(tmp_path / "b").write(long)
    Lake(tmp_path / "b").write(long, mode="replace")
    for f, panel in before.items():
        pd.testing.assert_frame_equal(getattr(bars, f), panel)
    pd.testing.assert_frame_equal(long, long_before)


def test_tz_aware_round_trip_partitions_by_local_year(tmp_path: Path) -> None:
    # 2020-12-31 22:00 New York is 2021-01-01 03:00 UTC: it belongs to year=2020.
    stamps = ["2020-12-31 21:00", "2020-12-31 22:00", "2021-01-01 09:30", "2021-01-04 09:30"]
    long = _long([(t, "SPY", 100.0 + i) for i, t in enumerate(stamps)], tz="America/New_York")
    bars = Bars.from_long(long)
    lake = Lake(tmp_path)
    lake.write(long)
    back = lake.read()
    assert str(back.index.tz) == "America/New_York"
    assert back.equals(bars)
    stored = _read_independently(tmp_path)
    assert stored.groupby("year").size().to_dict() == {2020: 2, 2021: 2}
    schema = pq.read_schema(tmp_path / "year=2020" / "data.parquet")
    assert str(schema.field("timestamp").type) == "timestamp[us, tz=America/New_York]"
    # A naive bound is read in the lake's zone; an aware one is converted to it.
    assert lake.read(start="2021-01-01").close["SPY"].tolist() == [102.0, 103.0]
    utc_end = pd.Timestamp("2021-01-01 03:00", tz="UTC")  # = 2020-12-31 22:00 New York
    assert lake.read(end=utc_end).close["SPY"].tolist() == [100.0, 101.0]
    cov = lake.coverage()
    assert cov.loc["SPY", "first"] == pd.Timestamp("2020-12-31 21:00", tz="America/New_York")
    assert cov.loc["SPY", "years"] == 2


def test_time_zone_must_match_the_lake(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    lake.write(_long([("2020-01-02", "A", 1.0)]))
    before = _files(tmp_path)
    with pytest.raises(LakeError, match=r"tz-aware \(UTC\).*stores tz-naive.*tz_convert"):
        lake.write(_long([("2020-01-03", "A", 2.0)], tz="UTC"))
    assert _files(tmp_path) == before


def test_path_unsafe_symbols_round_trip(tmp_path: Path) -> None:
    symbols = ["BTC/USDT", "ES=F", "x%2Fy", "7203", "日本", "a b", "x') OR 1=1 --", "..", "^GSPC"]
    long = _long([("2021-03-01", s, float(i + 1)) for i, s in enumerate(symbols)])
    lake = Lake(tmp_path)
    lake.write(long)
    assert lake.symbols() == sorted(symbols)
    # Symbols are column values (no folder per symbol): stored verbatim, sorted.
    stored = pq.read_table(tmp_path / "year=2021" / "data.parquet")["symbol"].to_pylist()
    assert stored == sorted(symbols) and not list(tmp_path.glob("symbol=*"))
    back = lake.read(symbols=symbols)
    assert back.equals(Bars.from_long(long))
    # Values are bound, never spliced into SQL: the odd symbol selects only itself.
    one = lake.read(symbols="x') OR 1=1 --")
    assert one.symbols == ["x') OR 1=1 --"] and one.close.iloc[0, 0] == 7.0
    # The numeric-looking symbol stays a string.
    assert lake.read_panel("close", symbols="7203").columns.tolist() == ["7203"]
    for s in symbols:
        assert decode_symbol(encode_symbol(s)) == s
    assert encode_symbol("BTC/USDT") == "BTC%2FUSDT"


# ---------------------------------------------------------------- write modes


def test_upsert_new_values_win_and_never_duplicate(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    first = lake.write(_long([("2020-01-02", "A", 1.0), ("2020-01-03", "A", 2.0)]))
    assert first[["rows_written", "rows_before", "rows_after"]].values.tolist() == [[2, 0, 2]]
    second = lake.write(_long([("2020-01-03", "A", 20.0), ("2020-01-06", "A", 3.0)]))
    assert second[["rows_written", "rows_before", "rows_after"]].values.tolist() == [[2, 2, 3]]
    back = lake.read()
    assert back.index.strftime("%Y-%m-%d").tolist() == ["2020-01-02", "2020-01-03", "2020-01-06"]
    assert back.close["A"].tolist() == [1.0, 20.0, 3.0]
    assert back.volume["A"].tolist() == [100.0, 2000.0, 300.0]  # the whole row is replaced
    assert len(_read_independently(tmp_path)) == 3


def test_upsert_is_idempotent(sample_bars: Bars, tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    bars = sample_bars.select(end="1999-12-31")
    lake.write(bars)
    files = _files(tmp_path)
    again = lake.write(bars)
    assert _files(tmp_path) == files  # byte-identical, no temp files
    assert (again["rows_before"] == again["rows_after"]).all()
    assert (again["rows_written"] == again["rows_after"]).all()
    assert lake.read(symbols=bars.symbols).equals(bars)


def test_upsert_changes_only_touched_partitions(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    lake.write(
        _long([("2019-06-03", "A", 1.0), ("2020-06-01", "A", 2.0), ("2020-06-01", "B", 5.0)])
    )
    touched = "year=2020/data.parquet"  # holds A and B
    untouched = {k: v for k, v in _files(tmp_path).items() if k != touched}
    assert sorted(untouched) == [
        ".lake.json",  # the time-zone rule
        ".lake.lock",  # the writers' lock file (empty between writes)
        "year=2019/data.parquet",
    ]
    lake.write(_long([("2020-06-02", "A", 3.0)]))
    now = _files(tmp_path)
    assert all(now[k] == v for k, v in untouched.items())
    assert lake.read_panel("close", "A").iloc[:, 0].tolist() == [1.0, 2.0, 3.0]
    assert lake.read_panel("close", "B").iloc[:, 0].tolist() == [5.0]  # kept in the file


def test_replace_replaces_touched_partitions_whole(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    lake.write(
        _long([("2019-06-03", "A", 1.0), ("2020-06-01", "A", 2.0), ("2020-06-02", "A", 3.0)])
    )
    year_2019 = (tmp_path / "year=2019" / "data.parquet").read_bytes()
    summary = lake.write(_long([("2020-06-05", "A", 9.0)]), mode="replace")
    assert summary[["year", "rows_written", "rows_before", "rows_after"]].values.tolist() == [
        [2020, 1, 2, 1]
    ]
    assert lake.read_panel("close").iloc[:, 0].tolist() == [1.0, 9.0]
    assert (tmp_path / "year=2019" / "data.parquet").read_bytes() == year_2019


def test_adj_close_is_stored_when_given_and_null_otherwise(
    sample_bars: Bars, tmp_path: Path
) -> None:
    lake = Lake(tmp_path)
    orcl = sample_bars.select(symbols=["ORCL"], end="1995-12-31")
    lake.write(orcl)
    lake.write(_long([("1995-03-01", "ZZZ", 4.0)]))
    stored = _read_independently(tmp_path)
    assert stored.loc[stored["symbol"] == "ZZZ", "adj_close"].isna().all()
    back = lake.read()
    assert back.adj_close is not None
    pd.testing.assert_series_equal(back.adj_close["ORCL"], orcl.adj_close["ORCL"])
    assert back.adj_close["ZZZ"].isna().all()
    assert lake.read(symbols="ZZZ").adj_close is None  # none stored for ZZZ


def test_write_nothing_returns_an_empty_summary(tmp_path: Path) -> None:
    bars = make_bars(n_rows=5, n_symbols=2)
    empty = bars.replace(**{f: p * np.nan for f, p in bars.panels().items()})
    summary = Lake(tmp_path / "lake").write(empty)
    assert summary.empty and list(summary.columns)[:2] == ["symbol", "year"]
    assert not (tmp_path / "lake").exists()


# ------------------------------------------------------------------- atomicity


def _failing_writer(monkeypatch: pytest.MonkeyPatch, fail_on_call: int) -> None:
    real = lake_io._write_parquet
    lock = threading.Lock()
    calls = [0]

    def writer(table: object, path: Path) -> None:
        with lock:
            calls[0] += 1
            n = calls[0]
        if n >= fail_on_call:
            raise RuntimeError("simulated crash while staging")
        real(table, path)

    monkeypatch.setattr(lake_io, "_write_parquet", writer)


def test_crash_while_staging_leaves_the_lake_unchanged(
    sample_bars: Bars, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake(tmp_path)
    original = sample_bars.select(symbols=["ORCL", "NVDA"], end="2001-12-31")
    lake.write(original)
    files = _files(tmp_path)
    changed = original.replace(close=original.close * 2)
    new_symbol = _long([("2001-05-01", "NEW", 1.0)])
    _failing_writer(monkeypatch, fail_on_call=2)
    with pytest.raises(RuntimeError, match="simulated crash") as info:
        lake.write(changed)
    assert any("rolled back" in note for note in info.value.__notes__)
    with pytest.raises(RuntimeError, match="simulated crash"):
        lake.write(pd.concat([changed.to_long(), new_symbol]))
    assert _files(tmp_path) == files  # same files, same bytes, no temp files
    assert _tmp_leftovers(tmp_path) == []
    assert lake.symbols() == ["NVDA", "ORCL"]
    assert lake.read(symbols=["ORCL", "NVDA"]).equals(original)


def test_crash_on_a_new_lake_leaves_no_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _failing_writer(monkeypatch, fail_on_call=1)
    with pytest.raises(RuntimeError, match="simulated crash"):
        Lake(tmp_path / "new").write(make_bars(n_rows=30, n_symbols=2))
    assert not (tmp_path / "new").exists()


def test_failure_while_renaming_is_reported_and_repairable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake(tmp_path)
    lake.write(
        _long([("2019-01-02", "A", 1.0), ("2020-01-02", "A", 1.0), ("2021-01-04", "A", 1.0)])
    )
    update = _long([("2019-01-02", "A", 5.0), ("2020-01-02", "A", 5.0), ("2021-01-04", "A", 5.0)])
    real_replace = lake_module.os.replace
    calls = [0]

    def flaky_replace(src: Path, dst: Path) -> None:
        calls[0] += 1
        if calls[0] == 2:
            raise OSError("disk went away")
        real_replace(src, dst)

    monkeypatch.setattr(lake_module.os, "replace", flaky_replace)
    with pytest.raises(LakeError, match=r"1 of 3 partitions were replaced.*run the same write"):
        lake.write(update)
    monkeypatch.undo()
    assert _tmp_leftovers(tmp_path) == []
    lake.write(update)  # idempotent: re-running repairs the lake
    assert lake.read_panel("close").iloc[:, 0].tolist() == [5.0, 5.0, 5.0]


# ------------------------------------------------------------------------ read


def test_read_bounds_are_inclusive(tmp_path: Path) -> None:
    bars = make_bars(n_rows=400, n_symbols=4)
    lake = Lake(tmp_path)
    lake.write(bars)
    start, end = bars.index[37], bars.index[301]
    got = lake.read(symbols=["S002", "S000"], start=start, end=end)
    assert got.index[0] == start and got.index[-1] == end and len(got) == 301 - 37 + 1
    pd.testing.assert_frame_equal(
        got.close, bars.close.loc[start:end, ["S002", "S000"]], check_freq=False
    )
    # String bounds and a bound between two bars.
    got = lake.read(start="2015-03-01", end=str(bars.index[100].date()))
    assert got.index[0] == pd.Timestamp("2015-03-02") and got.index[-1] == bars.index[100]


def test_read_prunes_partitions_of_other_symbols_and_years(tmp_path: Path) -> None:
    bars = make_bars(n_rows=600, n_symbols=2, ragged=False)  # 2015 .. 2017
    lake = Lake(tmp_path)
    lake.write(bars)
    # Damage the 2016 file: reads that prune it (other years) must not notice.
    damaged = tmp_path / "year=2016" / "data.parquet"
    damaged.write_bytes(b"not parquet")
    got = lake.read(symbols="S001", start="2017-01-01")
    assert got.close.equals(bars.close.loc["2017-01-01":, ["S001"]])
    assert lake.read(end="2015-12-31").equals(bars.select(end="2015-12-31"))
    with pytest.raises(
        LakeError, match=rf"{re.escape(str(damaged))}.*cannot be read.*damaged.*delete that file"
    ):
        lake.read(symbols="S001", start="2016-06-01", end="2016-06-30")


def test_read_empty_range_and_symbol_without_rows(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    lake.write(
        _long([("2020-01-02", "A", 1.0), ("2020-01-03", "A", 2.0), ("2021-01-04", "B", 3.0)])
    )
    none = lake.read(start="2030-01-01")
    assert none.shape == (0, 2) and none.symbols == ["A", "B"]
    assert none.index.dtype == "datetime64[us]"
    got = lake.read(symbols=["B", "A"], end="2020-12-31")
    assert got.symbols == ["B", "A"] and got.close["B"].isna().all()
    assert got.close["A"].tolist() == [1.0, 2.0]


def test_fields_selection(sample_bars: Bars, tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    lake.write(sample_bars)
    assert lake.read(fields=list(FIELDS)).adj_close is None
    assert lake.read(fields=[*FIELDS, "adj_close"]).adj_close is not None
    with pytest.raises(ParameterError, match=r"need all of .* lacks \['open', 'high'.*read_panel"):
        lake.read(fields=["close", "volume"])
    with pytest.raises(ParameterError, match=r"got the str 'close'.*read_panel\('close'"):
        lake.read(fields="close")
    with pytest.raises(ParameterError, match=r"unknown fields \['vwap'\]"):
        lake.read(fields=[*FIELDS, "vwap"])
    with pytest.raises(ParameterError, match="repeats a field"):
        lake.read(fields=[*FIELDS, "close"])


def test_explicit_adj_close_without_data_is_nan(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    lake.write(_long([("2020-01-02", "A", 1.0)]))
    assert lake.read().adj_close is None
    adj = lake.read(fields=[*FIELDS, "adj_close"]).adj_close
    assert adj is not None and adj["A"].isna().all()


def test_read_panel_matches_read(sample_bars: Bars, tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    lake.write(sample_bars)
    full = lake.read(symbols=["YHOO", "ORCL"], start="2000-01-01", end="2003-06-30")
    for field in (*FIELDS, "adj_close"):
        panel = lake.read_panel(
            field, symbols=["YHOO", "ORCL"], start="2000-01-01", end="2003-06-30"
        )
        pd.testing.assert_frame_equal(panel, getattr(full, field))
    close = lake.read_panel("close", "NVDA")
    pd.testing.assert_frame_equal(close, sample_bars.close[["NVDA"]].dropna())
    with pytest.raises(ParameterError, match=r"'field' parameter of Lake.read_panel"):
        lake.read_panel("vwap")


def test_coverage_matches_the_input(sample_bars: Bars, tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    lake.write(sample_bars)
    cov = lake.coverage()
    assert cov.index.tolist() == ["NVDA", "ORCL", "YHOO"] and cov.index.name == "symbol"
    assert list(cov.columns) == ["first", "last", "rows", "years"]
    for symbol in sample_bars.symbols:
        close = sample_bars.close[symbol].dropna()
        assert cov.loc[symbol, "first"] == close.index[0]
        assert cov.loc[symbol, "last"] == close.index[-1]
        assert cov.loc[symbol, "rows"] == len(close)
        assert cov.loc[symbol, "years"] == close.index.year.nunique()
    assert cov["rows"].dtype == np.int64


def test_delete_removes_one_symbol(sample_bars: Bars, tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    lake.write(sample_bars)
    lake.delete("NVDA")
    assert lake.symbols() == ["ORCL", "YHOO"]
    assert "NVDA" not in set(_read_independently(tmp_path)["symbol"])
    assert _tmp_leftovers(tmp_path) == []
    assert lake.read().equals(sample_bars.select(symbols=["ORCL", "YHOO"]))
    with pytest.raises(
        LakeError, match=r"Unknown symbols \['NVDA'\].*Available: \['ORCL', 'YHOO'\]"
    ):
        lake.delete("NVDA")
    with pytest.raises(ParameterError, match="'symbol' parameter of Lake.delete must be a str"):
        lake.delete(["ORCL"])  # type: ignore[arg-type]


# ---------------------------------------------------------------------- errors


def test_unknown_symbols_list_the_available_ones(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    lake.write(_long([("2020-01-02", "A", 1.0), ("2020-01-02", "B", 1.0)]))
    with pytest.raises(LakeError, match=r"Unknown symbols \['ZZZ'\].*Available: \['A', 'B'\]"):
        lake.read(symbols=["A", "ZZZ"])
    with pytest.raises(LakeError, match=r"Unknown symbols \['ZZZ'\]"):
        lake.read_panel("close", symbols="ZZZ")


@pytest.mark.parametrize("make_root", ["missing", "empty_dir"])
def test_empty_lake_says_how_to_fill_it(tmp_path: Path, make_root: str) -> None:
    root = tmp_path / "lake"
    if make_root == "empty_dir":
        root.mkdir()
        (root / "year=2020").mkdir()  # a folder without data files is not data
    lake = Lake(root)
    assert lake.symbols() == []
    pattern = rf"lake at '{root}' is empty.*lake.write\(bars\).*qresearch ingest"
    with pytest.raises(LakeError, match=pattern):
        lake.read()
    with pytest.raises(LakeError, match=pattern):
        lake.read_panel("close")
    with pytest.raises(LakeError, match=pattern):
        lake.coverage()


def test_bad_roots(tmp_path: Path) -> None:
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(LakeError, match="exists but is not a folder"):
        Lake(afile)
    with pytest.raises(LakeError, match=r"glob characters \['\*'\]"):
        Lake(tmp_path / "lake*")
    with pytest.raises(ParameterError, match="'root' parameter of Lake must be a folder path"):
        Lake(3)  # type: ignore[arg-type]
    assert repr(Lake("data/lake")) == "Lake('data/lake')"
    with pytest.raises(ParameterError, match=r"'lock_timeout' parameter of Lake .* >= 0; got -1"):
        Lake(tmp_path, lock_timeout=-1)


@pytest.mark.skipif(os.sep == "\\", reason="the path separator on Windows")
def test_backslash_root_is_refused(tmp_path: Path) -> None:
    # DuckDB's glob reads a backslash as a separator: such a lake could not be read back.
    root = tmp_path / "a\\b"
    with pytest.raises(LakeError, match=r"contains a backslash.*path separator.*without '\\'"):
        Lake(root)
    assert not root.exists()


def test_damaged_partition_is_named_and_replace_overwrites_it(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    lake.write(
        _long([("2020-01-02", "A", 1.0), ("2021-01-04", "A", 2.0), ("2020-01-02", "B", 3.0)])
    )
    y_2020 = tmp_path / "year=2020" / "data.parquet"  # holds A and B
    y_2020.write_bytes(b"")  # e.g. a full disk, or a copy cut short
    name = re.escape(str(y_2020))
    # Reads that prune it (other years) still work; a read that needs it names it and
    # the fix.
    assert lake.read_panel("close", "A", start="2021-01-01")["A"].tolist() == [2.0]
    with pytest.raises(LakeError, match=rf"{name}.*cannot be read.*0 bytes.*mode='replace'"):
        lake.read(symbols="B")
    with pytest.raises(LakeError, match=rf"file '{name}' cannot be read.*mode='replace'.*delete"):
        lake.write(_long([("2020-01-03", "B", 4.0)]))
    summary = lake.write(_long([("2020-01-03", "B", 4.0)]), mode="replace")
    assert summary[["rows_written", "rows_before", "rows_after"]].values.tolist() == [[1, 0, 1]]
    assert lake.read_panel("close", "B")["B"].tolist() == [4.0]
    # The lake's first file damaged: "replace" still repairs it.
    y_2020.write_bytes(b"")
    lake.write(_long([("2020-01-02", "A", 5.0)]), mode="replace")
    assert lake.read_panel("close", "A")["A"].tolist() == [5.0, 2.0]


def test_time_zone_rule_file(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    lake.write(
        _long(
            [("2020-12-31 21:00", "A", 1.0), ("2021-01-04 09:30", "A", 2.0)], tz="America/New_York"
        )
    )
    rule = tmp_path / ".lake.json"
    assert json.loads(rule.read_text())["timezone"] == "America/New_York"
    with pytest.raises(
        LakeError,
        match=r"tz-naive \(UTC by convention\) but the lake .* stores tz-aware \(America/New_York\) "
        r"timestamps: its time-zone rule, fixed by its first write and recorded in .*\.lake\.json.*"
        r"\.dt\.tz_localize\('UTC'\)\.dt\.tz_convert\('America/New_York'\)",
    ):
        lake.write(_long([("2022-01-03", "B", 1.0)]))
    # A lake from a release without the rule file (and its first partition damaged):
    # the rule comes from the readable partitions, and the next write records it.
    rule.unlink()
    damaged = tmp_path / "year=2020" / "data.parquet"
    damaged.write_bytes(b"")
    with pytest.raises(LakeError, match=r"tz-naive .* stores tz-aware \(America/New_York\)"):
        lake.write(_long([("2022-01-03", "B", 1.0)]))
    assert not rule.exists()
    lake.write(_long([("2022-01-03", "B", 1.0)], tz="America/New_York"))
    assert json.loads(rule.read_text())["timezone"] == "America/New_York"
    assert str(lake.read(symbols="B", start="2022-01-01").index.tz) == "America/New_York"
    # A damaged rule file is named, with the fix.
    rule.write_text("{")
    for call in (lake.read, lambda: lake.write(_long([("2022-01-04", "B", 1.0)], tz="UTC"))):
        with pytest.raises(
            LakeError, match=r"time-zone rule .*\.lake\.json' is damaged.*Delete that file"
        ):
            call()
    rule.unlink()
    # A lake emptied by deleting every symbol takes the rule of its next write (the
    # damaged file could not say which symbols it held: remove it first).
    damaged.unlink()
    lake.delete("A")
    lake.delete("B")
    lake.write(_long([("2022-01-03", "C", 1.0)]))
    assert json.loads(rule.read_text())["timezone"] is None
    assert lake.read().index.tz is None


@pytest.fixture
def read_only() -> Iterator[Callable[[Path], None]]:
    """Make a folder tree read-only, even for root (chattr +i); skip when impossible."""
    frozen: list[Path] = []

    def freeze(path: Path) -> None:
        paths = [path, *path.rglob("*")]
        for p in paths:
            p.chmod(0o555 if p.is_dir() else 0o444)
        frozen.append(path)
        probe = path / ".probe"
        try:
            probe.touch()
        except PermissionError:
            return
        probe.unlink()  # root ignores modes: make the files immutable instead
        chattr = shutil.which("chattr")
        done = chattr and subprocess.run([chattr, "-R", "+i", str(path)], capture_output=True)
        if not done or done.returncode != 0:
            pytest.skip("cannot make a folder read-only for this user")

    yield freeze
    for path in frozen:
        if shutil.which("chattr"):
            subprocess.run(["chattr", "-R", "-i", str(path)], capture_output=True)
        for p in [path, *path.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)


def test_read_only_lake_reads_and_names_the_fix_for_writes(
    tmp_path: Path, read_only: Callable[[Path], None]
) -> None:
    root = tmp_path / "lake"
    lake = Lake(root)
    lake.write(_long([("2020-01-02", "A", 1.0), ("2020-01-02", "B", 2.0)]))
    stale = root / "year=2020" / f".data.parquet.tmp-999999999-{'0' * 32}"
    stale.write_bytes(b"left by a killed writer")  # for vacuum to fail on
    read_only(root)
    assert lake.read().close.iloc[0].tolist() == [1.0, 2.0]  # reads need no write access
    assert lake.coverage()["rows"].tolist() == [1, 1]
    where = re.escape(str(root))
    for action, call in [
        ("write", lambda: lake.write(_long([("2020-01-03", "A", 3.0)]))),
        ("delete", lambda: lake.delete("A")),
        ("vacuum", lambda: lake.vacuum()),
    ]:
        with pytest.raises(
            LakeError,
            match=rf"Lake.{action} on the lake at '{where}' failed on '{where}/.+': .*not writable.*"
            rf"chmod -R u\+w '{where}'",
        ):
            call()
    with pytest.raises(LakeError, match=rf"failed on '{where}/new'.*not writable"):
        Lake(root / "new").write(_long([("2020-01-02", "A", 1.0)]))
    assert lake.read().close.iloc[0].tolist() == [1.0, 2.0]


def test_write_argument_errors(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    good = _long([("2020-01-02", "A", 1.0)])
    with pytest.raises(ParameterError, match=r"'mode' parameter of Lake.write must be one of"):
        lake.write(good, mode="append")  # type: ignore[arg-type]
    with pytest.raises(
        ParameterError, match=r"must be Bars or a long DataFrame \(columns.*\); got dict"
    ):
        lake.write({"a": 1})  # type: ignore[arg-type]
    with pytest.raises(PanelError, match=r"missing columns \['volume'\]"):
        lake.write(good.drop(columns="volume"))
    with pytest.raises(PanelError, match=r"symbol 7 \(int\) at row 0.*non-empty strings"):
        lake.write(good.assign(symbol=7))
    with pytest.raises(PanelError, match=r"symbol '' \(str\) at row 0"):
        lake.write(good.assign(symbol=""))
    sub_us = good.assign(timestamp=pd.to_datetime(["2020-01-02 00:00:00.000000001"]))
    with pytest.raises(PanelError, match=r"sub-microsecond.*dt.round\('us'\)"):
        lake.write(sub_us)
    assert not any(tmp_path.iterdir())


def test_read_argument_errors(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    lake.write(_long([("2020-01-02", "A", 1.0)]))
    with pytest.raises(ParameterError, match=r"'start' parameter of Lake.read .* after 'end'"):
        lake.read(start="2020-02-01", end="2020-01-01")
    with pytest.raises(ParameterError, match=r"'start' argument must be a date.*'yesterday'"):
        lake.read(start="yesterday")
    with pytest.raises(ParameterError, match="'symbols' parameter of Lake.read is empty"):
        lake.read(symbols=[])
    with pytest.raises(ParameterError, match=r"repeats \['A'\]"):
        lake.read(symbols=["A", "A"])
    with pytest.raises(ParameterError, match="must be a str, a list of str or None; got int"):
        lake.read(symbols=5)  # type: ignore[arg-type]


def test_foreign_files_are_reported(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    lake.write(_long([("2020-01-02", "A", 1.0)]))
    pd.DataFrame({"timestamp": pd.to_datetime(["2020-01-03"]), "close": [1.0]}).to_parquet(
        tmp_path / "year=2020" / "data.parquet"
    )
    with pytest.raises(
        LakeError,
        match=r"not written by Lake.write: rewrite it with lake.write\(data, mode='replace'\)",
    ) as info:
        lake.write(_long([("2020-01-06", "A", 2.0)]))
    assert any("rolled back" in note for note in info.value.__notes__)
    lake.write(_long([("2020-01-06", "A", 2.0)]), mode="replace")  # replace overwrites it
    assert lake.read_panel("close")["A"].tolist() == [2.0]
    bad_year = tmp_path / "year=later"
    bad_year.mkdir(parents=True)
    (bad_year / "data.parquet").write_bytes(b"")
    with pytest.raises(LakeError, match="year must be an integer"):
        lake.symbols()


def _modules_after(statement: str) -> set[str]:
    code = f"import sys, json\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_does_not_load_duckdb_or_pyarrow() -> None:
    # pandas 3 may load parts of pyarrow itself; the lake module must add none.
    baseline = _modules_after("import qresearch.data.bars")
    added = _modules_after("import qresearch.data.lake") - baseline
    assert "qresearch.data.lake" in added  # the probe works
    assert not [m for m in added if m.split(".")[0] in {"duckdb", "pyarrow"}]
