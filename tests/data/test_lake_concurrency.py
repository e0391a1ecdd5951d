"""The lake under concurrency: locked writes, the time-zone rule, killed writers, vacuum."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest

import qresearch.data._lake_io as lake_io
from qresearch.data.lake import Lake
from qresearch.exceptions import LakeError
from tests.data import _lake_workers as workers


def _leftovers(root: Path) -> list[str]:
    """Temp files, trash folders and empty folders left in the lake."""
    out = [
        str(p.relative_to(root))
        for p in root.rglob("*")
        if ".tmp-" in p.name or p.name.startswith(".deleting-")
    ]
    out += [str(p.relative_to(root)) for p in root.glob("symbol=*") if not any(p.rglob("*"))]
    out += [str(p.relative_to(root)) for p in root.glob("symbol=*/year=*") if not any(p.iterdir())]
    out += [str(p.relative_to(root)) for p in root.glob("year=*") if not any(p.iterdir())]
    return sorted(out)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# --------------------------------------------------------- concurrent writers


@pytest.mark.parametrize("n_writers", [2, 4])
def test_concurrent_upserts_lose_no_rows(tmp_path: Path, n_writers: int) -> None:
    # Every writer upserts its own dates (disjoint) into the same two symbols x two years,
    # a few dates per write: without a lock, read-merge-rename races drop rows.
    dates = pd.bdate_range("2020-10-01", "2021-03-31").strftime("%Y-%m-%d").tolist()
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(n_writers)
    procs = [
        ctx.Process(
            target=workers.write_batches,
            args=(str(tmp_path), dates[w::n_writers], 2, barrier),
        )
        for w in range(n_writers)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    assert [proc.exitcode for proc in procs] == [0] * n_writers
    back = Lake(tmp_path).read()
    expected = workers.frame(dates)
    assert len(back.close) == len(dates)
    assert int(back.close.notna().sum().sum()) == len(expected) == 2 * len(dates)
    pd.testing.assert_series_equal(
        back.close.stack().sort_index(),
        expected.set_index(["timestamp", "symbol"])["close"].sort_index(),
        check_names=False,
        check_index_type=False,
    )
    assert _leftovers(tmp_path) == []


def _pause_first_staging(
    monkeypatch: pytest.MonkeyPatch, seconds: float
) -> tuple[threading.Event, threading.Event]:
    # The first file staged in the test waits `seconds` (or until `release` is set)
    # before it is written; `staging` is set when it starts waiting.
    real = lake_io._write_parquet
    staging = threading.Event()
    release = threading.Event()
    first = [True]
    guard = threading.Lock()

    def writer(table: object, path: Path) -> None:
        with guard:
            pause, first[0] = first[0], False
        if pause:
            staging.set()
            release.wait(seconds)
        real(table, path)

    monkeypatch.setattr(lake_io, "_write_parquet", writer)
    return staging, release


def test_time_zone_rule_is_fixed_under_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A naive and a tz-aware writer race on an empty lake: the naive one is held after its
    # time-zone check; the aware one must not slip in while it is paused.
    lake = Lake(tmp_path)
    naive = workers.frame(["2020-01-02"], ("A",))
    aware = workers.frame(["2020-01-03"], ("B",)).assign(
        timestamp=lambda f: f["timestamp"].dt.tz_localize("UTC")
    )
    staging, release = _pause_first_staging(monkeypatch, seconds=1.0)
    errors: dict[str, BaseException] = {}

    def run(name: str, data: pd.DataFrame) -> None:
        try:
            Lake(tmp_path).write(data)
        except BaseException as exc:
            errors[name] = exc

    first = threading.Thread(target=run, args=("naive", naive))
    first.start()
    assert staging.wait(10)
    second = threading.Thread(target=run, args=("aware", aware))
    second.start()
    second.join(5)
    release.set()
    first.join(10)
    second.join(10)
    assert list(errors) == ["aware"]
    assert isinstance(errors["aware"], LakeError)
    assert str(errors["aware"]).startswith("data timestamps are tz-aware (UTC)")
    assert "stores tz-naive" in str(errors["aware"]) and "tz_localize" in str(errors["aware"])
    assert lake.symbols() == ["A"]
    assert lake.read().index.tz is None
    assert (tmp_path / ".lake.json").is_file()


def test_lock_timeout_names_the_lock_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Lake(tmp_path).write(workers.frame(["2020-01-02"]))
    staging, release = _pause_first_staging(monkeypatch, seconds=5.0)
    holder = threading.Thread(target=Lake(tmp_path).write, args=(workers.frame(["2020-01-03"]),))
    holder.start()
    assert staging.wait(10)
    try:
        impatient = Lake(tmp_path, lock_timeout=0.2)
        start = time.monotonic()
        with pytest.raises(
            LakeError,
            match=rf"waited 0\.2 s \(lock_timeout\).*\.lake\.lock.*\(Lake.write by pid {os.getpid()}\)",
        ):
            impatient.write(workers.frame(["2020-01-06"]))
        assert time.monotonic() - start < 3
        with pytest.raises(LakeError, match="lock_timeout"):
            impatient.delete("A")
    finally:
        release.set()
        holder.join(10)
    assert len(Lake(tmp_path).read()) == 2


# ------------------------------------------------------- killed writers, vacuum


def test_killed_writer_leftovers_are_removed_by_the_next_write(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    old = workers.frame(["2019-12-31", "2020-01-02"])
    lake.write(old)
    ready = tmp_path.parent / f"ready-{uuid.uuid4().hex}"
    ctx = multiprocessing.get_context("spawn")
    dates = ["2019-12-30", "2020-01-03", "2021-01-04"]
    proc = ctx.Process(target=workers.write_then_hang, args=(str(tmp_path), dates, str(ready)))
    proc.start()
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and proc.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ready.exists(), f"the writer did not stage (exit code {proc.exitcode})"
    finally:
        proc.kill()
        proc.join(10)
    left = _leftovers(tmp_path)
    assert any(".tmp-" in name for name in left)  # the kill left staged files behind
    assert (tmp_path / ".lake.lock").read_text() == f"{proc.pid} Lake.write\n"
    before = old.sort_values(["timestamp", "symbol"])["close"].tolist()
    assert lake.read().close.stack().tolist() == before  # readers ignore the leftovers
    lake.write(workers.frame(["2022-01-03"], ("C",)))  # the next write cleans up
    assert _leftovers(tmp_path) == []
    assert lake.symbols() == ["A", "B", "C"]
    assert lake.read(symbols=["A", "B"]).close.stack().tolist() == before


def test_vacuum_removes_stale_temp_files_and_empty_folders(tmp_path: Path) -> None:
    assert Lake(tmp_path / "missing").vacuum() == []
    assert not (tmp_path / "missing").exists()  # vacuum never creates the lake
    lake = Lake(tmp_path)
    lake.write(workers.frame(["2020-01-02"]))
    part = tmp_path / "year=2020"
    dead, alive = _dead_pid(), os.getppid()
    stale = [
        part / f".data.parquet.tmp-{dead}-{uuid.uuid4().hex}",  # its writer is gone
        part / f".data.parquet.tmp-{uuid.uuid4().hex}",  # no pid (older release), 2 h old
        tmp_path / f".lake.json.tmp-{dead}-{uuid.uuid4().hex}",
    ]
    kept = [
        part / f".data.parquet.tmp-{alive}-{uuid.uuid4().hex}",  # its writer still runs
        part / f".data.parquet.tmp-{uuid.uuid4().hex}",  # no pid but fresh
    ]
    for path in stale + kept:
        path.write_bytes(b"partial")
    two_hours_ago = time.time() - 7200
    os.utime(stale[1], (two_hours_ago, two_hours_ago))
    # Empty year folders, and empty folders of the old layout.
    empty = [tmp_path / "symbol=GHOST" / "year=2020", tmp_path / "year=2031"]
    for folder in empty:
        folder.mkdir(parents=True)
    trash = tmp_path / ".deleting-0123-symbol=OLD" / "year=2020"
    trash.mkdir(parents=True)
    (trash / "data.parquet").write_bytes(b"x")

    removed = lake.vacuum()
    assert sorted(str(p.relative_to(tmp_path)) for p in removed) == sorted(
        str(p.relative_to(tmp_path)) for p in [*stale, *empty, empty[0].parent, trash.parent]
    )
    assert all(p.exists() for p in kept) and not any(p.exists() for p in stale)
    assert lake.symbols() == ["A", "B"] and len(lake.read()) == 1
    assert lake.vacuum() == []


# ----------------------------------------------------------- reads vs deletes


def test_reads_survive_concurrent_deletes_of_other_symbols(tmp_path: Path) -> None:
    # One thread writes and deletes two symbols over and over; every read of the other
    # symbols must succeed and be right, and no read may show a half-deleted symbol.
    lake = Lake(tmp_path)
    dates = pd.bdate_range("2020-01-01", "2021-12-31").strftime("%Y-%m-%d").tolist()
    lake.write(workers.frame(dates, ("A", "Z")))
    churn = workers.frame(dates, ("B", "M"))
    expected_a = lake.read_panel("close", "A")
    stop = threading.Event()
    cycles = [0]
    churn_errors: list[BaseException] = []

    def delete_and_rewrite() -> None:
        try:
            while not stop.is_set():
                lake.write(churn)
                lake.delete("B")
                lake.delete("M")
                cycles[0] += 1
        except BaseException as exc:
            churn_errors.append(exc)

    thread = threading.Thread(target=delete_and_rewrite)
    thread.start()
    reads = 0
    try:
        deadline = time.monotonic() + 30
        while (reads < 6 or cycles[0] < 3) and time.monotonic() < deadline and not churn_errors:
            pd.testing.assert_frame_equal(lake.read_panel("close", "A"), expected_a)
            assert lake.read(symbols=["Z", "A"], start="2021-06-01").symbols == ["Z", "A"]
            every = lake.read()
            assert {"A", "Z"} <= set(every.symbols)
            assert every.close.notna().any().all()  # a listed symbol is never empty
            assert set(lake.coverage().index) >= {"A", "Z"}
            reads += 1
    finally:
        stop.set()
        thread.join(30)
    assert churn_errors == []
    assert reads >= 6 and cycles[0] >= 3
