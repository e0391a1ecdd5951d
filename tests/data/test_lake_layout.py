"""The lake's year-file layout: files, pruning, upserts, SQL and the migration of old lakes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import qresearch.data._lake_files as lake_files
import qresearch.data._lake_io as lake_io
from qresearch.data.bars import FIELDS, Bars
from qresearch.data.lake import COLUMNS, Lake
from qresearch.exceptions import LakeError
from tests.conftest import make_bars


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def small_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny row groups, so that blocks span several groups and groups hold several blocks."""
    monkeypatch.setattr(lake_files, "ROW_GROUP_ROWS", 40)


def _ragged(n_rows: int = 700, n_symbols: int = 9) -> Bars:
    return make_bars(n_rows=n_rows, n_symbols=n_symbols, ragged=True)


# ---------------------------------------------------------------------- layout


def test_year_files_hold_every_symbol_sorted(small_groups: None, tmp_path: Path) -> None:
    bars = _ragged()
    Lake(tmp_path).write(bars)
    years = sorted(int(p.name[5:]) for p in tmp_path.glob("year=*"))
    assert years == sorted(set(bars.index.year))
    assert not list(tmp_path.glob("symbol=*"))
    rule = json.loads((tmp_path / ".lake.json").read_text())
    assert rule["lake_format"] == 2 and rule["timezone"] is None
    for year in years:
        path = tmp_path / f"year={year}" / "data.parquet"
        table = pq.read_table(path)
        assert tuple(table.column_names) == COLUMNS
        frame = table.to_pandas()
        # Sorted by (symbol, timestamp), unique, and exactly the listed bars of that year.
        keys = list(zip(frame["symbol"], frame["timestamp"], strict=True))
        assert keys == sorted(set(keys))
        expected = bars.select(start=f"{year}-01-01", end=f"{year}-12-31").to_long()
        assert len(frame) == len(expected)
        # Row groups never mix the end of one symbol with a group-sized rest of another:
        # every group starts at a symbol boundary or at a multiple of the group size.
        meta = pq.ParquetFile(path).metadata
        index = json.loads(meta.metadata[b"qresearch.lake"])
        starts = set(np.concatenate([[0], np.cumsum(index["counts"])]).tolist())
        row = 0
        for g in range(meta.num_row_groups):
            assert row in starts or (row - max(s for s in starts if s <= row)) % 40 == 0
            row += meta.row_group(g).num_rows
        assert index["symbols"] == sorted(set(frame["symbol"]))
        assert index["counts"] == frame.groupby("symbol").size().tolist()
        assert index["n_stamps"] == frame["timestamp"].nunique()


def test_files_are_readable_by_other_tools(tmp_path: Path) -> None:
    bars = _ragged(300, 4)
    lake = Lake(tmp_path)
    lake.write(bars)
    long = bars.to_long().sort_values(["symbol", "timestamp"], ignore_index=True)
    # DuckDB over the glob, hive year included.
    got = duckdb.sql(
        f"SELECT * EXCLUDE (year) FROM read_parquet('{tmp_path}/year=*/data.parquet', "
        "hive_partitioning = true) ORDER BY symbol, timestamp"
    ).df()
    assert got["close"].tolist() == long["close"].tolist()
    # A pyarrow dataset with hive partitioning.
    dataset = ds.dataset(tmp_path, format="parquet", partitioning="hive")
    assert dataset.count_rows() == len(long)
    assert set(dataset.schema.names) == {*COLUMNS, "year"}
    # pandas on one file.
    one = pd.read_parquet(next(tmp_path.glob("year=*/data.parquet")))
    assert list(one.columns) == list(COLUMNS)


# --------------------------------------------------------------------- pruning


def test_pruned_reads_match_the_panel(small_groups: None, tmp_path: Path) -> None:
    bars = _ragged()
    lake = Lake(tmp_path)
    lake.write(bars)
    rng = np.random.default_rng(7)
    for _ in range(25):
        k = int(rng.integers(1, len(bars.symbols) + 1))
        symbols = [str(s) for s in rng.choice(bars.symbols, size=k, replace=False)]
        a, b = sorted(rng.integers(0, len(bars.index), size=2).tolist())
        start, end = bars.index[a], bars.index[b]
        got = lake.read(symbols=symbols, start=start, end=end)
        want = bars.select(symbols=symbols, start=start, end=end)
        listed = want.close.notna().any(axis=1) | want.open.notna().any(axis=1)
        want = want.select(start=start, end=end)
        assert got.symbols == symbols
        pd.testing.assert_frame_equal(got.close, want.close[listed], check_freq=False)
        pd.testing.assert_frame_equal(got.volume, want.volume[listed], check_freq=False)
        panel = lake.read_panel("high", symbols=symbols, start=start, end=end)
        pd.testing.assert_frame_equal(panel, got.high)


@pytest.mark.parametrize("group_rows", [40, 100, 8192])
def test_dense_full_reads_stream_into_the_panel(
    group_rows: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every symbol holds every date: full reads take the streaming path, whether the
    # symbol blocks (about 250 rows a year) span row groups or share them.
    monkeypatch.setattr(lake_files, "ROW_GROUP_ROWS", group_rows)
    bars = make_bars(n_rows=600, n_symbols=7, ragged=False)
    lake = Lake(tmp_path)
    lake.write(bars)
    pd.testing.assert_frame_equal(lake.read().close, bars.close, check_freq=False)
    assert lake.read().equals(bars)
    got = lake.read(symbols=["S006", "S000", "S001", "S002", "S003", "S004", "S005"])
    assert got.equals(bars.select(symbols=got.symbols))
    inner = lake.read_panel("low", start="2016-01-01", end="2016-12-31")
    pd.testing.assert_frame_equal(inner, bars.low.loc["2016"], check_freq=False)
    # A symbol missing from one year: that year is not dense for a full read.
    lake.write(
        pd.DataFrame(
            {
                "timestamp": pd.to_datetime(["2016-07-01"]),
                "symbol": ["X"],
                **{f: [1.0] for f in FIELDS},
            }
        )
    )
    back = lake.read()
    assert back.close["X"].notna().sum() == 1
    pd.testing.assert_frame_equal(back.close[bars.symbols], bars.close, check_freq=False)


@pytest.mark.parametrize("group_rows", [40, 8192])
def test_dense_bounded_reads_place_the_bounds_by_the_first_block(
    group_rows: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every symbol holds every date of a year: a read of all symbols finds its bounds in
    # the first block's timestamps and takes the same rows of every block. Windows:
    # one day, a weekend (empty), across a year end, cut at both ends, whole years.
    monkeypatch.setattr(lake_files, "ROW_GROUP_ROWS", group_rows)
    bars = make_bars(n_rows=800, n_symbols=6, ragged=False)
    lake = Lake(tmp_path)
    lake.write(bars)
    idx = bars.index
    rng = np.random.default_rng(3)
    windows = [(idx[300], idx[300]), (idx[0], idx[0]), (idx[-1], idx[-1])]
    windows += [(idx[250], idx[262]), (idx[10], idx[-10]), (idx[0], idx[-1])]
    windows += [(idx[100] + pd.Timedelta(hours=6), idx[140] - pd.Timedelta(hours=6))]
    windows += [tuple(idx[sorted(rng.integers(0, len(idx), 2))]) for _ in range(10)]
    for start, end in windows:
        got = lake.read(start=start, end=end)
        want = bars.select(start=start, end=end)
        assert got.equals(want), (start, end)
    saturday = idx[idx.day_of_week == 4][5] + pd.Timedelta(days=1)
    empty = lake.read(start=saturday, end=saturday + pd.Timedelta(days=1))
    assert empty.close.shape == (0, 6)


def test_few_symbol_reads_decode_only_their_row_groups(
    small_groups: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bars = make_bars(n_rows=250, n_symbols=12)  # one year-ish, dense
    lake = Lake(tmp_path)
    lake.write(bars)
    calls: list[tuple[int, list[str], list[int] | None]] = []
    real = lake_files.read_columns

    def spy(of, columns, groups=None):  # type: ignore[no-untyped-def]
        calls.append((of.year, list(columns), None if groups is None else list(groups)))
        return real(of, columns, groups)

    monkeypatch.setattr(lake_files, "read_columns", spy)
    import qresearch.data.lake as lake_module

    monkeypatch.setattr(lake_module, "read_columns", spy)
    one = lake.read_panel("close", symbols="S005")
    pd.testing.assert_frame_equal(one, bars.close[["S005"]].dropna(), check_freq=False)
    total = sum(pq.ParquetFile(p).metadata.num_row_groups for p in tmp_path.rglob("*.parquet"))
    read = sum(len(g or []) for _, _, g in calls)
    assert 0 < read < total / 3  # only the groups of S005's blocks
    assert all(cols == ["timestamp", "close"] for _, cols, _ in calls)  # never the symbols


def test_one_cross_section(tmp_path: Path) -> None:
    bars = _ragged(500, 6)
    lake = Lake(tmp_path)
    lake.write(bars)
    day = bars.index[333]
    got = lake.read(start=day, end=day)
    assert list(got.index) == [day]
    row = bars.close.loc[[day]]
    pd.testing.assert_frame_equal(got.close, row, check_freq=False)
    assert lake.read_panel("close", start=day.date(), end=day.date()).equals(got.close)


def test_tz_aware_bounds_prune_by_local_year(tmp_path: Path) -> None:
    idx = pd.date_range("2020-12-31 14:00", periods=24, freq="h", tz="America/New_York")
    close = pd.DataFrame({"A": np.arange(24.0), "B": np.arange(24.0) + 100}, index=idx)
    close.index.name, close.columns.name = "timestamp", "symbol"
    bars = Bars(open=close, high=close + 1, low=close - 1, close=close, volume=close * 0 + 5)
    lake = Lake(tmp_path)
    lake.write(bars)
    assert sorted(p.name for p in tmp_path.glob("year=*")) == ["year=2020", "year=2021"]
    got = lake.read_panel("close", "B", start="2020-12-31 23:00", end="2021-01-01 01:00")
    assert got["B"].tolist() == [109.0, 110.0, 111.0]
    assert str(got.index.tz) == "America/New_York"


# --------------------------------------------------------------------- upserts


def test_upsert_of_a_few_symbols_rewrites_only_their_year_files(tmp_path: Path) -> None:
    bars = make_bars(n_rows=800, n_symbols=6)  # 2015 .. 2018
    lake = Lake(tmp_path)
    lake.write(bars)
    before = _files(tmp_path)
    update = bars.select(symbols=["S001", "S004"], start="2016-03-01", end="2016-03-31")
    update = update.replace(close=update.close * 2)
    summary = lake.write(update)
    assert summary["year"].unique().tolist() == [2016]
    assert summary["rows_before"].tolist() == summary["rows_after"].tolist()
    after = _files(tmp_path)
    changed = sorted(k for k in after if after[k] != before.get(k))
    assert changed == ["year=2016/data.parquet"]
    expected = bars.close.copy()
    expected.loc[update.index, ["S001", "S004"]] = update.close.to_numpy()
    pd.testing.assert_frame_equal(lake.read().close, expected, check_freq=False)
    # A new symbol in one year: only that year's file changes, the others keep their bytes.
    lake.write(
        pd.DataFrame(
            {
                "timestamp": pd.to_datetime(["2017-05-02"]),
                "symbol": ["NEW"],
                **{f: [1.0] for f in FIELDS},
            }
        )
    )
    now = _files(tmp_path)
    assert sorted(k for k in now if now[k] != after.get(k)) == ["year=2017/data.parquet"]
    assert lake.coverage().loc["NEW", "rows"] == 1


def test_replace_keeps_the_other_symbols_of_the_year(tmp_path: Path) -> None:
    bars = make_bars(n_rows=60, n_symbols=3, ragged=False)
    lake = Lake(tmp_path)
    lake.write(bars)
    one = bars.select(symbols=["S001"]).select(end=bars.index[9])
    summary = lake.write(one, mode="replace")
    assert summary[["rows_written", "rows_before", "rows_after"]].values.tolist() == [[10, 60, 10]]
    back = lake.read()
    pd.testing.assert_frame_equal(
        back.close[["S000", "S002"]], bars.close[["S000", "S002"]], check_freq=False
    )
    assert back.close["S001"].notna().sum() == 10


def test_delete_rewrites_year_files_and_removes_emptied_ones(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    bars = make_bars(n_rows=300, n_symbols=3)  # 2015 .. 2016
    lake.write(bars)
    lake.write(
        bars.select(symbols=["S002"])
        .to_long()
        .assign(timestamp=pd.Timestamp("2030-01-02"))
        .iloc[:1]
    )
    assert (tmp_path / "year=2030").is_dir()
    lake.delete("S002")
    assert lake.symbols() == ["S000", "S001"]
    assert not (tmp_path / "year=2030").exists()
    assert lake.read().equals(bars.select(symbols=["S000", "S001"]))
    assert not [p for p in tmp_path.rglob("*") if ".tmp-" in p.name]


# ------------------------------------------------------------------------- SQL


def test_sql_bars_view(tmp_path: Path) -> None:
    bars = _ragged(400, 5)
    lake = Lake(tmp_path)
    lake.write(bars)
    got = lake.sql(
        "SELECT symbol, count(*) AS n, max(close) AS top FROM bars "
        "WHERE timestamp >= ? GROUP BY symbol ORDER BY symbol",
        [bars.index[100].to_pydatetime()],
    )
    tail = bars.close.iloc[100:]
    assert got["symbol"].tolist() == sorted(bars.symbols)
    assert got["n"].tolist() == tail.notna().sum()[got["symbol"]].tolist()
    np.testing.assert_allclose(got["top"], tail.max()[got["symbol"]])
    cols = lake.sql("SELECT * FROM bars LIMIT 1").columns.tolist()
    assert cols == [*COLUMNS, "year"]
    with pytest.raises(LakeError, match=r"Lake.sql on the lake .* failed.*nope"):
        lake.sql("SELECT nope FROM bars")
    with pytest.raises(LakeError, match="is empty"):
        Lake(tmp_path / "none").sql("SELECT 1")


def test_sql_shows_the_lake_time_zone(tmp_path: Path) -> None:
    idx = pd.DatetimeIndex(["2021-03-01 09:30", "2021-03-02 09:30"], tz="America/New_York")
    close = pd.DataFrame({"A": [1.0, 2.0]}, index=idx)
    close.index.name, close.columns.name = "timestamp", "symbol"
    lake = Lake(tmp_path)
    lake.write(Bars(open=close, high=close, low=close, close=close, volume=close))
    got = lake.sql("SELECT timestamp FROM bars ORDER BY 1")["timestamp"]
    assert got.tolist() == list(idx)


# ------------------------------------------------------------------ migration


def _write_old_layout(root: Path, bars: Bars, rule: bool = True) -> None:
    """Write ``bars`` as the previous release did: one file per (symbol, year)."""
    long = bars.to_long()
    tz = getattr(long["timestamp"].dt, "tz", None)
    ts_type = pa.timestamp("us", tz=None if tz is None else str(tz))
    schema = pa.schema(
        [pa.field("timestamp", ts_type)]
        + [pa.field(f, pa.float64()) for f in (*FIELDS, "adj_close")]
    )
    if "adj_close" not in long:
        long["adj_close"] = np.nan
    for (symbol, year), frame in long.groupby(["symbol", long["timestamp"].dt.year]):
        folder = root / f"symbol={quote(str(symbol), safe='')}" / f"year={year}"
        folder.mkdir(parents=True)
        frame = frame.sort_values("timestamp")
        table = pa.table(
            [pa.array(frame["timestamp"]).cast(ts_type)]
            + [
                pa.array(frame[f].to_numpy(), pa.float64(), from_pandas=True)
                for f in schema.names[1:]
            ],
            schema=schema,
        )
        pq.write_table(table, folder / "data.parquet")
    if rule:
        text = {"lake_format": 1, "timezone": None if tz is None else str(tz), "rule": "..."}
        (root / ".lake.json").write_text(json.dumps(text))


def test_old_layout_is_read_transparently_and_migrated(sample_bars: Bars, tmp_path: Path) -> None:
    bars = sample_bars.select(end="2003-12-31")
    _write_old_layout(tmp_path, bars)
    lake = Lake(tmp_path)
    assert lake.layout == 1
    # Reads work on the old layout.
    before = lake.read()
    assert before.equals(bars.select(symbols=sorted(bars.symbols)))
    coverage = lake.coverage()
    window = lake.read(symbols=["YHOO", "NVDA"], start="2001-02-01", end="2002-06-30")
    sql = lake.sql("SELECT symbol, sum(close) AS s FROM bars GROUP BY 1 ORDER BY 1")
    # Writes are refused with the fix.
    with pytest.raises(LakeError, match=r"old layout .*Run lake.migrate\(\) once"):
        lake.write(bars.select(symbols=["ORCL"], start="2003-12-01"))
    assert lake.layout == 1
    summary = lake.migrate()
    assert summary.columns.tolist() == ["year", "symbols", "rows"]
    assert summary["year"].tolist() == list(range(1995, 2004))
    assert int(summary["rows"].sum()) == int(coverage["rows"].sum())
    # Nothing lost: the same reads before and after.
    assert lake.layout == 2
    assert not list(tmp_path.glob("symbol=*")) and not list(tmp_path.glob(".deleting-*"))
    assert lake.read().equals(before)
    pd.testing.assert_frame_equal(lake.coverage(), coverage)
    assert lake.read(symbols=["YHOO", "NVDA"], start="2001-02-01", end="2002-06-30").equals(window)
    pd.testing.assert_frame_equal(
        lake.sql("SELECT symbol, sum(close) AS s FROM bars GROUP BY 1 ORDER BY 1"), sql
    )
    assert json.loads((tmp_path / ".lake.json").read_text())["lake_format"] == 2
    # Writes work now; migrating again does nothing.
    lake.write(bars.select(symbols=["ORCL"], start="2003-12-01"))
    assert lake.migrate().empty


def test_a_damaged_old_layout_file_names_itself_and_the_fix(tmp_path: Path) -> None:
    bars = make_bars(n_rows=400, n_symbols=3)
    _write_old_layout(tmp_path, bars)
    damaged = next(tmp_path.glob("symbol=S001/year=*/data.parquet"))
    damaged.write_bytes(b"not parquet")
    lake = Lake(tmp_path)
    fix = r"it is damaged\. Delete that symbol with lake\.delete\('S001'\) .*lake\.migrate\(\)"
    for call in (lake.read, lake.coverage, lambda: lake.read_panel("close")):
        with pytest.raises(LakeError, match=f"{damaged.name}' failed .*{fix}"):
            call()


def test_migration_of_a_tz_aware_lake_without_rule_file(tmp_path: Path) -> None:
    idx = pd.date_range("2020-12-30 10:00", periods=60, freq="6h", tz="Europe/Paris")
    close = pd.DataFrame({"X/Y": np.arange(60.0), "b c": np.arange(60.0) * 2}, index=idx)
    close.index.name, close.columns.name = "timestamp", "symbol"
    close.iloc[::7, 1] = np.nan
    bars = Bars(open=close, high=close, low=close, close=close, volume=close)
    _write_old_layout(tmp_path, bars, rule=False)
    lake = Lake(tmp_path)
    assert lake.layout == 1 and lake.symbols() == ["X/Y", "b c"]
    before = lake.read()
    lake.migrate()
    assert lake.layout == 2
    after = lake.read()
    assert after.equals(before) and str(after.index.tz) == "Europe/Paris"
    assert json.loads((tmp_path / ".lake.json").read_text())["timezone"] == "Europe/Paris"


def test_interrupted_migration_changes_nothing(
    sample_bars: Bars, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bars = sample_bars.select(end="1999-12-31")
    _write_old_layout(tmp_path, bars)
    files = _files(tmp_path)
    real = lake_io._write_parquet
    calls = [0]

    def failing(table: pa.Table, path: Path) -> None:
        calls[0] += 1
        if calls[0] == 3:
            raise OSError(28, "No space left on device", str(path))
        real(table, path)

    monkeypatch.setattr(lake_io, "_write_parquet", failing)
    lake = Lake(tmp_path)
    with pytest.raises(LakeError, match="disk is full") as info:
        lake.migrate()
    assert any("rolled back" in note for note in info.value.__notes__)
    monkeypatch.undo()
    assert {k: v for k, v in _files(tmp_path).items() if k != ".lake.lock"} == {
        k: v for k, v in files.items() if k != ".lake.lock"
    }
    assert lake.layout == 1 and not list(tmp_path.glob("year=*"))
    lake.migrate()
    assert lake.read().equals(bars.select(symbols=sorted(bars.symbols)))


def test_leftover_old_folders_after_the_commit_point_are_removed(
    sample_bars: Bars, tmp_path: Path
) -> None:
    bars = sample_bars.select(symbols=["ORCL", "YHOO"], end="1997-12-31")
    _write_old_layout(tmp_path, bars)
    lake = Lake(tmp_path)
    lake.migrate()
    assert lake.layout == 2 and not list(tmp_path.glob("symbol=*"))
    # A crash after the commit point leaves old folders: reads ignore them, the next
    # migrate (or vacuum of the trash) removes them.
    _write_old_layout(tmp_path / "old", bars)
    os.rename(tmp_path / "old" / "symbol=ORCL", tmp_path / "symbol=ORCL")
    assert lake.layout == 2
    assert lake.read().equals(bars)
    assert lake.migrate().empty and not list(tmp_path.glob("symbol=*"))
    assert lake.read().equals(bars)


def test_delete_works_on_the_old_layout(sample_bars: Bars, tmp_path: Path) -> None:
    bars = sample_bars.select(end="1999-12-31")
    _write_old_layout(tmp_path, bars)
    lake = Lake(tmp_path)
    lake.delete("NVDA")
    assert lake.layout == 1 and lake.symbols() == ["ORCL", "YHOO"]
    lake.migrate()
    assert lake.read().equals(bars.select(symbols=["ORCL", "YHOO"]))


def test_cli_migrate_converts_an_old_lake(
    sample_bars: Bars, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from qresearch.cli import main

    bars = sample_bars.select(end="2001-12-31")
    _write_old_layout(tmp_path, bars)
    before = Lake(tmp_path).read()
    assert Lake(tmp_path).layout == 1
    assert main(["migrate", "--lake", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"migrated {len(bars.to_long())} rows" in out
    lake = Lake(tmp_path)
    assert lake.layout == 2 and lake.read().equals(before)
    assert not list(tmp_path.glob("symbol=*"))
    assert main(["migrate", "--lake", str(tmp_path)]) == 0
    assert "nothing to migrate" in capsys.readouterr().out
