"""The data lake: one Parquet file per year holding every symbol, written atomically.

Layout (lake format 2; the year files are the data, each carrying its own index)::

    root/year=<YYYY>/data.parquet   every symbol's bars of that year
    root/.lake.json                 the time-zone rule and "lake_format": 2
    root/.lake.lock                 the writers' lock file (never delete it)

- Each year file has the columns ``symbol, timestamp, open, high, low, close, volume,
  adj_close`` (:data:`COLUMNS`), one row per stored bar, sorted by (symbol,
  timestamp), unique. Prices and volume are float64; missing values (NaN) are stored
  as null, and ``adj_close`` is null where the data had none. ``symbol`` is a plain
  UTF-8 string column (dictionary-encoded on disk), so any non-empty symbol works
  (``"BTC/USDT"``, ``"日本"``, ``"^GSPC"``): no folder names, no length limit, no
  case folding.
- **Row groups** are cut on symbol boundaries, about ``ROW_GROUP_ROWS`` = 32768 rows
  each (some 130 symbols of daily bars; a longer block of one symbol gets groups of its
  own), with min/max statistics on ``symbol`` and ``timestamp``: any reader that
  filters on symbols (this module, DuckDB, pyarrow datasets, polars) decodes only the
  groups holding them.
- **The index.** The footer's key-value metadata ``qresearch.lake`` (JSON) lists the
  file's symbols in file order with their row counts and first/last timestamps, and
  the number of distinct timestamps in the file. Reads locate a symbol's rows from it
  without decoding the symbol column; :meth:`Lake.symbols` and :meth:`Lake.coverage`
  read nothing else. It lives in the same file as the rows, so it cannot go stale.
- ``timestamp`` is ``timestamp[us]``. Tz-naive data (UTC by convention) is stored
  naive; tz-aware data is stored as UTC instants with the zone name in the Arrow
  schema (``timestamp[us, tz=America/New_York]``) and read back in that zone.
  ``year`` is the calendar year of the timestamp in that zone (the naive year for
  naive data).
- **Other tools** read the files directly: ``year`` is a hive partition.
  DuckDB: ``read_parquet('root/year=*/data.parquet', hive_partitioning = true)``, or
  :meth:`Lake.sql` with its ``bars`` view; pyarrow:
  ``pyarrow.dataset.dataset(root, partitioning="hive")``; pandas/dask:
  ``read_parquet(root)``; polars: ``scan_parquet('root/year=*/data.parquet')``.
  The hidden root files (names starting with ``.``) are ignored by those globs and by
  pyarrow and Spark dataset discovery.
- **Time-zone rule.** One lake holds one convention. The first write into an empty
  lake fixes it, under the writer lock, and records it in ``root/.lake.json``
  (written atomically); every later write must match it, or it raises
  :class:`LakeError` naming the rule and the conversion to apply. A lake emptied by
  deleting every symbol takes the rule of its next write. A lake whose rule file was
  lost takes its rule from its files, and its next write records it again.

**Why this layout.** Researchers mostly read a whole field as a dates x symbols
panel, everything, a date range of a few symbols, or one cross-section. Measured on
2520 sessions x 1000 symbols of OHLCV with ``benchmarks/bench_lake.py`` (seconds,
median of 5; 2 cores shared with other jobs at load average 3.1-3.4, so +-30 %; the
old layout's row is from an earlier, quieter run):

===========================  =====  ==========  ========  ===========  =======
layout                       write  read_panel  read all  10 sym x 2y  one day
===========================  =====  ==========  ========  ===========  =======
file per (symbol, year)      10.4   4.1         5.1       0.62         0.84
wide file per field & year   6.87   0.50        2.48      0.166        0.297
long year file (pandas)      1.42   0.229       0.921     0.073        0.022
ArcticDB, wide per field     0.70   0.024       0.134     0.037        0.141
long year file (this)        0.61   0.039       0.118     0.022        0.032
===========================  =====  ==========  ========  ===========  =======

The old layout (one file per symbol and year: 10,000 files) paid per-file costs on every
read. Wide files (symbols as columns, one per field and year) write slowly, store a
ragged universe as mostly-null columns, make every upsert of one symbol rewrite five
files per year, and their footers grow with the number of columns. Long year files need
one file open per year; the values of one field are one contiguous column; a few symbols
prune to their row groups; an upsert rewrites only the year files it touches. Row group
sizes measured (1000 symbols, decoding one field of ten year files): 8192 rows 35 ms,
32768 rows 14 ms, 65536 rows 11 ms; the few-symbol read decodes more rows as groups grow
(it stays within 1x of ArcticDB at 32768; 2048 rows gained nothing there and cost 1.5x
on ``read_panel``). Reads never decode the symbol column (the index gives each symbol's
row range) and never pivot with pandas: each year's rows are placed with numpy into a
symbol-major grid whose transpose is the panel (a zero-copy DataFrame); when every
symbol of a year holds the same timestamps (known from the index) a year is one reshape
copy per row group, and only the first symbol's timestamps are decoded. Intraday bars
also go into year files (month files would bound the rewrite of a minute-bar upsert; not
done yet: appending one day of minute bars to a 100-symbol year of 9.8 M rows rewrites
its 396 MB file in 7.5 s).

**Upserts.** A write groups its rows by year; for each touched year it reads the year
file (timestamps and values, not the symbols), merges (``"upsert"``: on the same
symbol and timestamp the new row wins whole; ``"replace"``: the stored rows of the
written symbols in that year are dropped), and stages the new year file. Year files
the data does not touch are not opened. An upsert that changes nothing stages
nothing: writes are idempotent and leave the bytes untouched.

**Atomic writes.** A write stages every new year file as
``year=<YYYY>/.data.parquet.tmp-<pid>-<uuid>`` (a name no glob matches), fsyncs it,
and only when all are staged ``os.replace`` them into place. On any error the staged
files and the folders the write created are removed and the error is re-raised, so
the lake is unchanged. Each year file is replaced atomically; a failure *during* the
final renames (rare: only the renames remain) can leave some years new and some old,
which :meth:`Lake.write` reports; re-running the same write fixes it because writes
are idempotent. :meth:`Lake.delete` rewrites the year files holding the symbol the
same way (and removes a year file left empty).

**Locking.** Every write, delete, vacuum and migrate holds an inter-process lock on
``root/.lake.lock`` (``fcntl.flock``; ``msvcrt.locking`` on Windows) from before it
reads the files it merges until after its last rename. Concurrent writers (threads or
processes) therefore run one at a time and lose no update. They wait as long as
needed unless ``Lake(root, lock_timeout=seconds)`` bounds the wait. The OS releases
the lock of a process that dies, so a killed writer never blocks the next one. Locks
work between processes of one machine; on a network file system they work only where
the file system supports ``flock`` across machines. Reads take no lock: they never
wait for a writer and work on a read-only lake. A read opens each year file once and
reads it through that handle, so it sees each year file wholly before or wholly after
a concurrent write (a write of several years may be seen half done). When a year file
vanishes after a read listed it (a delete emptied it, or a migration finished), the
read lists the lake again and retries.

**The old layout and migration.** Lakes written by earlier releases hold one file per
symbol and year, ``root/symbol=<percent-encoded symbol>/year=<YYYY>/data.parquet``
(lake format 1: the rule file says ``"lake_format": 1`` or is missing). They are
detected (:attr:`Lake.layout`) and read transparently (:meth:`Lake.read`,
:meth:`Lake.read_panel`, :meth:`Lake.coverage`, :meth:`Lake.symbols`,
:meth:`Lake.sql`; slower) and :meth:`Lake.delete` works on them, but a write raises
:class:`LakeError` telling to run :meth:`Lake.migrate` once: a migration rewrites the
whole lake, so it is never started implicitly. ``lake.migrate()`` works under the
writer lock, year by year: it stages the year file of all the year's old files, reads
it back and checks it holds exactly the rows read; when every year is staged it
renames them into place and records ``"lake_format": 2`` in the rule file (the commit
point), then moves the old ``symbol=`` folders to hidden ``.deleting-*`` folders and
removes them. Interrupted before the commit point, the lake stays in the old layout
with nothing changed (the staged files are swept later); after it, old folders that
remain are ignored by reads and removed by the next :meth:`Lake.migrate`.

**Object stores.** ``Lake("s3://bucket/lake", storage_options={...})`` puts the same
layout in an object store through fsspec (s3fs for ``s3://``, gcsfs for ``gs://``;
``storage_options`` go to fsspec: ``key``, ``secret``, ``endpoint_url``...), with the
same API. What changes, and what is guaranteed:

- There is no rename. A write stages its year files on the local disk (in the lake's
  local lock folder, ``<tempdir>/qresearch-lake-locks/<hash of the URL>``), and only
  when all are staged uploads each with one PUT (a multipart upload completes the
  same way): readers see each year object whole, old or new, never partial. As on a
  local disk, a failure between two uploads can leave some years new, which the write
  reports; running it again fixes it (writes are idempotent). The rule file is one PUT.
- There is no ``flock``. The writer lock is a ``flock`` on a file of that local folder:
  writers of one machine (threads, processes) run one at a time and lose nothing;
  writers on different machines are **not** ordered, and two concurrent upserts of the
  same year from two machines can lose one of them. Write each object-store lake from
  one machine (or one scheduled job) at a time. Reads need no lock.
- Reads fetch each year file they need with one GET (one version of the object, even
  while a writer replaces it), so a few-symbol read downloads the years it touches
  rather than ranges of them. Listings are not cached.
- :meth:`Lake.sql` registers the fsspec filesystem with DuckDB (no ``httpfs``
  extension to download); DuckDB then reads byte ranges and prunes row groups.
- Object-store lakes are always in layout 2 (:meth:`Lake.migrate` does nothing);
  :meth:`Lake.vacuum` cleans the local staging folder.

**Killed writers and vacuum.** A writer killed mid-way leaves staged temp files and
perhaps empty ``year=`` folders; readers ignore them. The killed writer's pid stays in
the lock file, so the next write, delete or migrate notices and removes them.
:meth:`Lake.vacuum` removes them at any time, and also the leftovers of releases that
had no lock. Under the lock, a temp file is stale when no process with its pid is
alive or when it is more than an hour old.

**Errors.** Failures raise :class:`LakeError` naming the file and the fix: a damaged
year file (for example 0 bytes) names the file (rewrite the symbols it held with
``mode="replace"``, which works over a damaged file, or delete the file); reads whose
date range excludes it still work. A lake folder that is not writable names the file
that could not be written (reads still work); a lock not obtained within
``lock_timeout`` names the lock file. Roots containing glob characters or, outside
Windows, a backslash are refused: DuckDB could not read the files back.

Round trip: after ``lake.write(bars)`` into an empty lake,
``lake.read(symbols=bars.symbols).equals(bars)`` (``lake.read()`` returns the
symbols sorted), unless ``bars`` has timestamps at which no symbol has data: such
rows are not stored. The index comes back as datetime64[us].

DuckDB and pyarrow are imported inside the methods, so importing this module stays
light.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np
import pandas as pd

from qresearch._validation import COLUMNS_NAME, check_choice, check_number
from qresearch.data import _lake_files as files_mod
from qresearch.data._lake_files import (
    FILE_COLUMNS,
    FileIndex,
    OpenFile,
    YearFile,
    build_table,
    file_path,
    open_file,
    read_columns,
)
from qresearch.data._lake_io import (
    _VALUE_FIELDS,
    DATA_FILE,
    SUMMARY_COLUMNS,
    _bounds,
    _check_fields,
    _check_symbols,
    _list_partitions,
    _makedirs,
    _Partition,
    _read_partition,
    _rollback,
    _Rows,
    _rows_to_write,
    _Stale,
    _summary,
    _tmp_name,
    _to_index,
    _unknown_symbols,
    decode_symbol,
    encode_symbol,
)
from qresearch.data._lake_lock import (
    LAKE_FORMAT,
    TRASH_PREFIX,
    WriterLock,
    explain_os_error,
    lake_type,
    load_format,
    save_rule,
    sweep,
)
from qresearch.data._lake_store import LocalStore, RemoteStore
from qresearch.data.bars import FIELDS, Bars
from qresearch.exceptions import LakeError, ParameterError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "COLUMNS",
    "DATA_FILE",
    "MIGRATION_COLUMNS",
    "SUMMARY_COLUMNS",
    "Lake",
    "decode_symbol",
    "encode_symbol",
]

COLUMNS: tuple[str, ...] = FILE_COLUMNS
"""The columns of every year file, in order."""
MIGRATION_COLUMNS: tuple[str, ...] = ("year", "symbols", "rows")
"""The columns of the summary returned by :meth:`Lake.migrate`."""

_GLOB_CHARS = frozenset("*?[]{}")
_READ_ATTEMPTS = 6  # listings a read tries when concurrent writers keep removing its files
_T = TypeVar("_T")


@dataclass
class _Chunk:
    # The rows one year contributes to a read: blocks of symbols, sorted by timestamp.
    codes: np.ndarray  # output column of each block
    counts: np.ndarray  # rows of each block
    ts: np.ndarray  # int64 epoch us of each row (when dense, of the first block at least)
    # Per field, float64 pieces whose concatenation is the rows (NaN for null); a field
    # left out is null in every row.
    values: dict[str, list[np.ndarray]]
    dense: bool  # every block holds the same timestamps


def _workers(n_jobs: int) -> int:
    return max(1, min(n_jobs, 8, 2 * (os.cpu_count() or 1)))


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    # Concatenation of arange(s, s + c) for every (s, c), vectorized.
    total = int(counts.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return np.repeat(starts - offsets, counts) + np.arange(total, dtype=np.int64)


def _column_numpy(table: pa.Table, name: str) -> np.ndarray:
    import pyarrow as pa

    column = table.column(name)
    if name == "timestamp":
        column = column.cast(pa.int64())
        return np.asarray(column.to_numpy(), dtype=np.int64)
    return np.asarray(column.to_numpy(), dtype=np.float64)  # nulls -> NaN


def _column_pieces(table: pa.Table, name: str) -> list[np.ndarray]:
    # The column as numpy pieces, one per Arrow chunk (zero-copy where it has no null).
    return [
        np.asarray(chunk.to_numpy(zero_copy_only=False), dtype=np.float64)
        for chunk in table.column(name).chunks
        if len(chunk)
    ]


def _joined(pieces: list[np.ndarray]) -> np.ndarray:
    if len(pieces) == 1:
        return pieces[0]
    return np.concatenate(pieces) if pieces else np.zeros(0)


def _filter_chunk(
    chunk: _Chunk, lo_us: int | None, hi_us: int | None, uniform: bool
) -> _Chunk | None:
    # Apply the time bounds; `uniform`: every block held the file's full set of timestamps.
    if lo_us is not None or hi_us is not None:
        mask = np.ones(len(chunk.ts), dtype=bool)
        if lo_us is not None:
            mask &= chunk.ts >= lo_us
        if hi_us is not None:
            mask &= chunk.ts <= hi_us
        if not mask.all():
            ends = np.cumsum(chunk.counts)
            kept = np.concatenate([[0], np.cumsum(mask)])
            counts = kept[ends] - kept[ends - chunk.counts]
            chunk = _Chunk(
                chunk.codes,
                counts,
                chunk.ts[mask],
                {f: [_joined(v)[mask]] for f, v in chunk.values.items()},
                False,
            )
    if not len(chunk.ts):
        return None
    chunk.dense = uniform
    return chunk


def _read_year_file(
    of: OpenFile,
    code_of: dict[str, int],
    fields: Sequence[str],
    lo_us: int | None,
    hi_us: int | None,
) -> _Chunk | None:
    # Read the blocks of the wanted symbols of one year file: only the row groups that
    # hold them, only the timestamp and the wanted value columns (never the symbols;
    # not adj_close when the index says those symbols have none).
    index = of.index
    ids = [i for i, s in enumerate(index.symbols) if s in code_of]
    if not ids:
        return None
    block_ids = np.asarray(ids, dtype=np.int64)
    codes = np.array([code_of[index.symbols[i]] for i in ids], dtype=np.int64)
    counts = index.counts[block_ids]
    if "adj_close" in fields and not index.adj_counts[block_ids].any():
        fields = [f for f in fields if f != "adj_close"]
    uniform = bool((counts == index.n_stamps).all())
    if uniform and len(ids) == len(index.symbols):
        # Every symbol holds the same timestamps: the values are all that is needed,
        # and the timestamps of the first block, which place the bounds at the same
        # rows of every block (no timestamp column to read and mask).
        bounds = files_mod.group_starts(of)
        n = index.n_stamps
        head = read_columns(of, ["timestamp"], list(range(int(np.searchsorted(bounds, n)))))
        stamps = _column_numpy(head, "timestamp")[:n]
        a = 0 if lo_us is None else int(np.searchsorted(stamps, lo_us, side="left"))
        b = n if hi_us is None else int(np.searchsorted(stamps, hi_us, side="right"))
        if b <= a:
            return None
        table = read_columns(of, fields)
        values = {f: _column_pieces(table, f) for f in fields}
        del table
        if b - a < n:
            counts = np.full(len(ids), b - a, dtype=counts.dtype)
            rows = _ranges(index.starts[block_ids] + a, counts)
            values = {f: [_joined(v)[rows]] for f, v in values.items()}
        return _Chunk(codes, counts, stamps[a:b], values, True)
    columns = ["timestamp", *fields]
    if len(ids) == len(index.symbols):
        table = read_columns(of, columns)
        take = None
    else:
        starts = index.starts[block_ids]
        bounds = files_mod.group_starts(of)
        first = np.searchsorted(bounds, starts, side="right") - 1
        last = np.searchsorted(bounds, starts + counts - 1, side="right") - 1
        wanted = np.zeros(len(bounds) - 1, dtype=bool)
        for a, b in zip(first.tolist(), last.tolist(), strict=True):
            wanted[a : b + 1] = True
        groups = np.flatnonzero(wanted)
        sizes = np.diff(bounds)
        base = np.zeros(len(sizes), dtype=np.int64)
        base[groups] = np.concatenate([[0], np.cumsum(sizes[groups])[:-1]])
        table = read_columns(of, columns, groups.tolist())
        take = _ranges(starts - bounds[first] + base[first], counts)
    ts = _column_numpy(table, "timestamp")
    values = {f: _column_pieces(table, f) for f in fields}
    del table
    if take is not None:
        ts = ts[take]
        values = {f: [_joined(v)[take]] for f, v in values.items()}
    return _filter_chunk(_Chunk(codes, counts, ts, values, False), lo_us, hi_us, uniform)


def _assemble(
    chunks: list[_Chunk], n_out: int, fields: Sequence[str]
) -> tuple[np.ndarray, dict[str, np.ndarray | None]]:
    # Scatter the chunks (in time order, disjoint in time) into dates x symbols arrays;
    # a field no chunk holds is None (all NaN). The grids are symbol-major (each block
    # of a year is a contiguous run of a grid row); grid.T is the panel, zero-copy.
    unions: list[np.ndarray] = []
    places: list[tuple[np.ndarray, np.ndarray] | None] = []
    for chunk in chunks:
        if chunk.dense:
            unions.append(chunk.ts[: int(chunk.counts[0])])
            places.append(None)
        else:
            union = np.unique(chunk.ts)
            unions.append(union)
            places.append((np.repeat(chunk.codes, chunk.counts), np.searchsorted(union, chunk.ts)))
    stamps = np.concatenate(unions) if unions else np.zeros(0, dtype=np.int64)
    covered = all(c.dense and len(c.codes) == n_out for c in chunks)  # codes are unique

    def fill(field: str) -> np.ndarray:
        full = covered and all(field in c.values for c in chunks)
        grid = np.empty((n_out, len(stamps))) if full else np.full((n_out, len(stamps)), np.nan)
        offset = 0
        for chunk, union, place in zip(chunks, unions, places, strict=True):
            n = len(union)
            start = 0
            for piece in chunk.values.get(field, []):
                m = len(piece)
                if place is None and start % n == 0 and m % n == 0:  # whole blocks
                    rows = chunk.codes[start // n : (start + m) // n]
                    target: Any = rows
                    if rows[-1] - rows[0] == len(rows) - 1 and (np.diff(rows) == 1).all():
                        target = slice(int(rows[0]), int(rows[-1]) + 1)
                    grid[target, offset : offset + n] = piece.reshape(-1, n)
                elif place is None:
                    at = np.arange(start, start + m)
                    grid[chunk.codes[at // n], offset + at % n] = piece
                else:
                    cols, rows_in = place
                    grid[cols[start : start + m], offset + rows_in[start : start + m]] = piece
                start += m
            offset += n
        return grid

    present = [f for f in fields if any(f in c.values for c in chunks)]
    if len(present) > 1:  # numpy copies release the GIL: fill the fields in parallel
        with ThreadPoolExecutor(max_workers=_workers(len(present))) as pool:
            grids = dict(zip(present, pool.map(fill, present), strict=True))
    else:
        grids = {f: fill(f) for f in present}
    return stamps, {f: (grids[f].T if f in grids else None) for f in fields}


def _dense_plan(
    of: OpenFile,
    code_of: dict[str, int],
    fields: Sequence[str],
    lo_us: int | None,
    hi_us: int | None,
) -> tuple[np.ndarray, list[str]] | None:
    # When a read takes every symbol of a year file, every symbol holds the same
    # timestamps and no bound cuts the year: (output codes, fields to read); else None.
    index = of.index
    if not index.symbols or not all(s in code_of for s in index.symbols):
        return None
    if not (index.counts == index.n_stamps).all():
        return None
    if (lo_us is not None and int(index.first_us.min()) < lo_us) or (
        hi_us is not None and int(index.last_us.max()) > hi_us
    ):
        return None
    here = [f for f in fields if f != "adj_close" or index.adj_counts.any()]
    return np.array([code_of[s] for s in index.symbols], dtype=np.int64), here


def _stream_dense(
    opened: list[OpenFile],
    plans: list[tuple[np.ndarray, list[str]]],
    n_out: int,
    fields: Sequence[str],
) -> tuple[np.ndarray, dict[str, np.ndarray | None]]:
    # Read dense year files batch by batch straight into the grids: the decoded Arrow
    # buffers stay small (and reused), only the grids are new memory.
    heads = []
    for of in opened:
        n = of.index.n_stamps
        bounds = files_mod.group_starts(of)
        head = read_columns(of, ["timestamp"], list(range(int(np.searchsorted(bounds, n)))))
        heads.append(_column_numpy(head, "timestamp")[:n])
    stamps = np.concatenate(heads)
    offsets = np.concatenate([[0], np.cumsum([len(h) for h in heads])]).tolist()
    present = [f for f in fields if any(f in here for _, here in plans)]
    covered = all(len(codes) == n_out for codes, _ in plans)  # codes are unique
    grids = {
        f: np.empty((n_out, len(stamps)))
        if covered and all(f in here for _, here in plans)
        else np.full((n_out, len(stamps)), np.nan)
        for f in present
    }

    def fill(i: int) -> None:
        import pyarrow as pa

        of, (codes, here) = opened[i], plans[i]
        n, off = len(heads[i]), offsets[i]
        if not here:
            return
        contiguous = bool((np.diff(codes) == 1).all())
        start = 0
        try:
            batches = of.reader.iter_batches(
                batch_size=n * max(1, 65536 // n), columns=here, use_threads=False
            )
            for batch in batches:
                m = batch.num_rows
                aligned = start % n == 0 and m % n == 0
                if aligned:
                    rows = codes[start // n : (start + m) // n]
                    target: Any = (
                        slice(int(rows[0]), int(rows[0]) + len(rows)) if contiguous else rows
                    )
                else:
                    at = np.arange(start, start + m)
                    cols, spots = codes[at // n], off + at % n
                for k, f in enumerate(here):
                    piece = np.asarray(
                        batch.column(k).to_numpy(zero_copy_only=False), dtype=np.float64
                    )
                    if aligned:
                        grids[f][target, off : off + n] = piece.reshape(-1, n)
                    else:
                        grids[f][cols, spots] = piece
                start += m
        except (pa.ArrowException, OSError) as exc:
            raise LakeError(
                f"Reading the lake file {str(of.path)!r} failed ({exc}); it is damaged: "
                f"{files_mod._FIX}."
            ) from exc

    if len(opened) > 1:
        with ThreadPoolExecutor(max_workers=_workers(len(opened))) as pool:
            list(pool.map(fill, range(len(opened))))
    elif opened:
        fill(0)
    return stamps, {f: (grids[f].T if f in grids else None) for f in fields}


def _read_legacy_columns(p: _Partition, columns: list[str]) -> pa.Table:
    # Read columns of one format-1 file (one symbol, one year); a file removed since the
    # listing is _Stale (the read starts over), a damaged one a LakeError with the fix.
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(p.path, columns=columns)
    except FileNotFoundError as exc:
        raise _Stale(LakeError(f"{str(p.path)!r} vanished")) from exc
    except (pa.ArrowException, OSError) as exc:
        raise LakeError(
            f"Reading the lake file {str(p.path)!r} failed ({exc}); it is damaged. "
            f"Delete that symbol with lake.delete({p.symbol!r}) (or move the file "
            "away), then run lake.migrate() and write it again."
        ) from exc


def _read_legacy(
    parts: list[_Partition],
    code_of: dict[str, int],
    fields: Sequence[str],
    lo: tuple[int, Any] | None,
    hi: tuple[int, Any] | None,
    lo_us: int | None,
    hi_us: int | None,
) -> list[_Chunk]:
    # Read format-1 partitions (one file per symbol and year) into one chunk per year.
    by_year: dict[int, list[_Partition]] = {}
    for p in parts:
        if (
            p.symbol in code_of
            and (lo is None or p.year >= lo[0])
            and (hi is None or p.year <= hi[0])
        ):
            by_year.setdefault(p.year, []).append(p)
    chunks: list[_Chunk] = []
    for year in sorted(by_year):
        codes, counts, ts, values = [], [], [], {f: [] for f in fields}  # type: ignore[var-annotated]
        for p in by_year[year]:
            table = _read_legacy_columns(p, ["timestamp", *fields])
            codes.append(code_of[p.symbol])
            counts.append(table.num_rows)
            ts.append(_column_numpy(table, "timestamp"))
            for f in fields:
                values[f].append(_column_numpy(table, f))
        chunk = _Chunk(
            np.asarray(codes, dtype=np.int64),
            np.asarray(counts, dtype=np.int64),
            np.concatenate(ts),
            {f: [np.concatenate(v)] for f, v in values.items()},
            False,
        )
        filtered = _filter_chunk(chunk, lo_us, hi_us, uniform=False)
        if filtered is not None:
            chunks.append(filtered)
    return chunks


def _bound_us(bound: tuple[int, Any] | None, ts_type: pa.DataType) -> int | None:
    import pyarrow as pa

    if bound is None:
        return None
    return int(pa.scalar(bound[1], pa.timestamp("us", tz=ts_type.tz)).cast(pa.int64()).as_py())


class Lake:
    """A folder of Parquet year files holding every symbol, read with pyarrow and DuckDB.

    Parameters
    ----------
    root : str or os.PathLike
        The lake folder. It is created by the first :meth:`write`; constructing a
        ``Lake`` writes nothing.
    lock_timeout : float, optional
        Seconds a write, delete, vacuum or migrate waits for the writer lock held by
        another writer before raising :class:`LakeError`. None (the default) waits as
        long as needed.

    Raises
    ------
    LakeError
        When ``root`` exists but is not a folder, or contains a glob character
        (``* ? [ ] { }``), which DuckDB would expand, or (outside Windows) a
        backslash, which DuckDB reads as a path separator.
    ParameterError
        For a ``root`` that is not a path or a negative ``lock_timeout``.

    Notes
    -----
    See the module docstring for the file layout, the time-zone rule, atomicity,
    locking (writers run one at a time; reads take no lock), the migration of lakes
    in the old layout, :meth:`vacuum` and the errors.

    Examples
    --------
    >>> import tempfile
    >>> from qresearch.datasets import load_sample
    >>> bars = load_sample("ohlcv", symbols=["ORCL", "NVDA"]).select(end="1999-12-31")
    >>> tmp = tempfile.TemporaryDirectory()
    >>> lake = Lake(tmp.name)
    >>> lake.write(bars).tail(2)
      symbol  year  rows_written  rows_before  rows_after
    4   ORCL  1998           252            0         252
    5   ORCL  1999           252            0         252
    >>> lake.symbols()
    ['NVDA', 'ORCL']
    >>> back = lake.read(symbols=["ORCL", "NVDA"], start="1999-01-01")
    >>> back.equals(bars.select(start="1999-01-01"))
    True
    >>> lake.read_panel("close", symbols="NVDA").iloc[:2]
    symbol          NVDA
    timestamp
    1999-01-22  1.640625
    1999-01-25  1.812500
    >>> lake.sql("SELECT symbol, count(*) AS n FROM bars GROUP BY symbol ORDER BY symbol")
      symbol     n
    0   NVDA   239
    1   ORCL  1263
    >>> tmp.cleanup()
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        lock_timeout: float | None = None,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        if not isinstance(root, str | os.PathLike):
            raise ParameterError(
                f"The 'root' parameter of Lake must be a folder path (str or Path) or an "
                f"object-store URL; got {type(root).__name__}."
            )
        if lock_timeout is not None:
            lock_timeout = check_number("lock_timeout", lock_timeout, "Lake", strict=False)
        self.lock_timeout = lock_timeout
        self.root: Path | str
        self._store: LocalStore | RemoteStore
        if isinstance(root, str) and "://" in root and not root.startswith("file://"):
            bad = sorted(set(root) & _GLOB_CHARS)
            if bad:
                raise LakeError(
                    f"The lake URL {root!r} contains the glob characters {bad}, which DuckDB "
                    "would expand when reading. Choose a name without them."
                )
            self._store = RemoteStore(root, storage_options)
            self.root = self._store.url
            return
        if storage_options:
            raise ParameterError(
                "The 'storage_options' parameter of Lake is for object-store URLs "
                f"(s3://...); the root {str(root)!r} is a local folder."
            )
        if isinstance(root, str) and root.startswith("file://"):
            root = root[len("file://") :]
        path = Path(root).expanduser()
        bad = sorted(set(str(path)) & _GLOB_CHARS)
        if bad:
            raise LakeError(
                f"The lake root {str(path)!r} contains the glob characters {bad}, which DuckDB "
                "would expand when reading. Choose a folder name without them."
            )
        if os.sep == "/" and "\\" in str(path):
            raise LakeError(
                f"The lake root {str(path)!r} contains a backslash, which DuckDB reads as a "
                "path separator: the lake could be written but not read. Choose a folder "
                "name without '\\'."
            )
        self.root = path
        self._store = LocalStore(path)
        self._check_root()

    def __repr__(self) -> str:
        return f"Lake({str(self.root)!r})"

    # ----------------------------------------------------------------- listing
    @property
    def _dir(self) -> Path:
        # The root of a local lake (the old layout, vacuum and migrate are local only).
        assert isinstance(self.root, Path)
        return self.root

    def _check_root(self) -> None:
        if not isinstance(self.root, Path):
            return
        if self.root.exists() and not self.root.is_dir():
            raise LakeError(
                f"The lake root {str(self.root)!r} exists but is not a folder. "
                "Pass a folder path (it is created on the first write)."
            )

    @property
    def layout(self) -> int:
        """The lake's layout: 2 (year files, this release) or 1 (the old layout).

        A lake is in layout 1 when its rule file does not record ``lake_format`` 2 and
        it holds ``symbol=<enc>/year=<YYYY>/data.parquet`` files; an empty or missing
        lake is in layout 2. Reads work on both; writes need layout 2 (run
        :meth:`migrate`).
        """
        self._check_root()
        if self._store.remote or load_format(self._dir) >= LAKE_FORMAT:
            return LAKE_FORMAT
        return 1 if _list_partitions(self._dir) else LAKE_FORMAT

    def _read_retrying(self, query: Callable[[], _T]) -> _T:
        # Run a read on a fresh listing. When a concurrent writer removed a listed file
        # (_Stale: a delete, or a migration that finished), list the lake again and retry.
        attempt = 1
        while True:
            try:
                return query()
            except _Stale as stale:
                if attempt == _READ_ATTEMPTS:
                    raise stale.error from stale.__cause__
            time.sleep(0.002 * 2**attempt)
            attempt += 1

    def _empty(self) -> LakeError:
        return LakeError(
            f"The lake at {str(self.root)!r} is empty (no year=*/{DATA_FILE} files). Fill it "
            f"with lake.write(bars) or `qresearch ingest FILES --lake {self.root}`."
        )

    def _legacy(self, action: str) -> LakeError:
        return LakeError(
            f"{action}: the lake at {str(self.root)!r} is in the old layout "
            f"(symbol=<symbol>/year=<YYYY>/{DATA_FILE}, one file per symbol and year); this "
            f"release writes one file per year holding every symbol (year=<YYYY>/{DATA_FILE}). "
            "Run lake.migrate() once (it rewrites the lake under the writer lock, checks "
            "that every row is kept and removes the old folders), then run this call "
            "again. Reads work on both layouts."
        )

    def _open(
        self, lo_year: int | None = None, hi_year: int | None = None
    ) -> tuple[list[OpenFile], pa.DataType | None]:
        # Open every year file (the handles are consistent snapshots). A damaged file
        # outside [lo_year, hi_year] is skipped when a range is given; inside, it raises.
        listed = self._store.list_files()
        if not listed:
            return [], None
        ts_type = self._store.lake_type(listed)
        opened: list[OpenFile] = []
        try:
            for yf in listed:
                try:
                    opened.append(open_file(yf, ts_type, self._store.fs))
                except LakeError:
                    ranged = lo_year is not None or hi_year is not None
                    inside = (lo_year is None or yf.year >= lo_year) and (
                        hi_year is None or yf.year <= hi_year
                    )
                    if not ranged or inside:
                        raise
        except BaseException:
            for of in opened:
                of.close()
            raise
        return opened, ts_type

    def _indexes(
        self, lo_year: int | None = None, hi_year: int | None = None
    ) -> tuple[list[tuple[YearFile, FileIndex]], pa.DataType | None]:
        # The index of every year file (cached per file version; no file is read when
        # the cache knows it). A damaged file outside [lo_year, hi_year] is skipped when
        # a range is given; inside, it raises.
        listed = self._store.list_files()
        if not listed:
            return [], None
        ts_type = self._store.lake_type(listed)
        out: list[tuple[YearFile, FileIndex]] = []
        ranged = lo_year is not None or hi_year is not None
        for yf in listed:
            try:
                out.append((yf, files_mod.index_of(yf, ts_type, self._store.fs)))
            except LakeError:
                inside = (lo_year is None or yf.year >= lo_year) and (
                    hi_year is None or yf.year <= hi_year
                )
                if not ranged or inside:
                    raise
        return out, ts_type

    def symbols(self) -> list[str]:
        """Return the symbols stored in the lake, sorted (empty list for an empty lake).

        Read from the year files' footers (their index), not from their rows.

        Examples
        --------
        >>> Lake("/nonexistent/lake").symbols()
        []
        """

        def query() -> list[str]:
            if self.layout == 1:
                return sorted({p.symbol for p in _list_partitions(self._dir)})
            indexed, _ = self._indexes()
            return sorted(set().union(*(ix.symbols for _, ix in indexed)))

        return self._read_retrying(query)

    def coverage(self) -> pd.DataFrame:
        """Return the first and last timestamp, row and year counts of every symbol.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``symbol`` (sorted), columns ``first``, ``last`` (timestamps
            in the lake's time zone), ``rows`` (stored rows) and ``years``
            (number of years with rows), both int64.

        Raises
        ------
        LakeError
            When the lake is empty or a file cannot be read.

        Notes
        -----
        Computed from the year files' footers alone (each file's index records the
        rows and first/last timestamp of every symbol): no row is read.
        """

        def query() -> tuple[pa.DataType, dict[str, list[int]]]:
            stats: dict[str, list[int]] = {}
            if self.layout == 1:
                return self._legacy_coverage()
            indexed, ts_type = self._indexes()
            if not indexed or ts_type is None:
                raise self._empty()
            for _, ix in indexed:
                for s, n, a, b in zip(
                    ix.symbols,
                    ix.counts.tolist(),
                    ix.first_us.tolist(),
                    ix.last_us.tolist(),
                    strict=True,
                ):
                    row = stats.get(s)
                    if row is None:
                        stats[s] = [a, b, n, 1]
                    else:
                        row[0] = min(row[0], a)
                        row[1] = max(row[1], b)
                        row[2] += n
                        row[3] += 1
            return ts_type, stats

        ts_type, stats = self._read_retrying(query)
        names = sorted(stats)
        table = np.array([stats[s] for s in names], dtype=np.int64).reshape(len(names), 4)
        return pd.DataFrame(
            {
                "first": _to_index(table[:, 0], ts_type),
                "last": _to_index(table[:, 1], ts_type),
                "rows": table[:, 2],
                "years": table[:, 3],
            },
            index=pd.Index(names, name=COLUMNS_NAME),
        )

    def _legacy_coverage(self) -> tuple[pa.DataType, dict[str, list[int]]]:
        parts = _list_partitions(self._dir)
        if not parts:
            raise self._empty()
        ts_type = lake_type(self._dir, parts)
        stats: dict[str, list[int]] = {}
        for p in parts:
            ts = _column_numpy(_read_legacy_columns(p, ["timestamp"]), "timestamp")
            if not len(ts):
                continue
            row = stats.setdefault(p.symbol, [int(ts.min()), int(ts.max()), 0, 0])
            row[0], row[1] = min(row[0], int(ts.min())), max(row[1], int(ts.max()))
            row[2] += len(ts)
            row[3] += 1
        return ts_type, stats

    # ------------------------------------------------------------------- write
    def write(
        self,
        data: Bars | pd.DataFrame,
        *,
        mode: Literal["upsert", "replace"] = "upsert",
    ) -> pd.DataFrame:
        """Write bars into the year files they touch, atomically.

        Parameters
        ----------
        data : Bars or pandas.DataFrame
            Bars, or a long DataFrame with columns ``timestamp, symbol, open, high,
            low, close, volume`` and optionally ``adj_close`` (converted with
            :meth:`Bars.from_long`). Symbols must be non-empty strings. Rows where
            every field is NaN (symbol not listed) are not written. Not modified.
        mode : {"upsert", "replace"}, default "upsert"
            ``"upsert"`` merges the new rows into the stored rows of each (symbol,
            year) of ``data``; on a timestamp present in both, the new row replaces
            the stored row whole (so writing the same data twice changes nothing).
            ``"replace"`` replaces the stored rows of each (symbol, year) of ``data``
            with the new rows only. Other symbols and years are never changed; year
            files ``data`` does not touch are not rewritten.

        Returns
        -------
        pandas.DataFrame
            One row per touched (symbol, year), sorted by symbol and year, columns
            ``symbol, year, rows_written`` (rows of ``data``), ``rows_before`` and
            ``rows_after`` (rows of that symbol in that year before and after;
            ``rows_before`` is 0 when ``"replace"`` overwrote a damaged file).
            Empty when ``data`` has no rows to write.

        Raises
        ------
        ParameterError
            For an unknown ``mode`` or a ``data`` that is not Bars or a DataFrame.
        PanelError
            When a symbol is not a non-empty string, a long frame is malformed, or
            a timestamp has sub-microsecond precision.
        LakeError
            When the lake is in the old layout (run :meth:`migrate`), the time zone of
            ``data`` breaks the lake's time-zone rule, an upsert meets a damaged year
            file or one with an unexpected schema, the lake folder is not writable,
            the writer lock is not obtained within ``lock_timeout``, or the final
            renames fail part way. The message names the file and the fix.

        Notes
        -----
        The write holds the lake's writer lock from before it reads the year files it
        merges until after its last rename, so concurrent writers run one at a time
        and lose nothing. Each touched year file is rewritten whole (read, merge,
        stage as a hidden temp file, fsync); only when all are staged are they renamed
        into place. If the previous holder was killed mid-way, the write first removes
        its leftovers (see :meth:`vacuum`). On any error before the final renames,
        every staged file and every folder created by this call is removed and the
        error re-raised: the lake is as before.
        """
        check_choice("mode", mode, ["upsert", "replace"], "Lake.write")
        rows = _rows_to_write(data)
        if not len(rows.codes):
            return _summary([])
        self._check_root()
        try:
            with self._store.lock(self.lock_timeout, "Lake.write", create=True) as lock:
                return self._write_locked(lock, rows, mode)
        except OSError as exc:
            raise _explain(exc, "Lake.write", self.root) from exc

    def _write_locked(self, lock: WriterLock, rows: _Rows, mode: str) -> pd.DataFrame:
        # Check the layout and time-zone rule, stage every touched year file, then rename
        # them into place; all under the writer lock. Before the renames, any error rolls
        # everything back.
        created: list[Path] = []
        jobs: list[tuple[int, int, int, Any, Path]] = []  # year, lo, hi, final, tmp
        store = self._store
        try:
            if lock.interrupted:  # the previous holder was killed mid-way: clean up first
                sweep(lock.root, lock.interrupted)
            if self.layout == 1:
                raise self._legacy("Lake.write")
            existing = {yf.year: yf for yf in store.list_files()}
            save = store.settle(rows.ts_type, list(existing.values()))
            cuts = np.flatnonzero(rows.years[1:] != rows.years[:-1]) + 1
            los = np.concatenate([[0], cuts]).tolist()
            his = np.concatenate([cuts, [len(rows.years)]]).tolist()
            for lo, hi in zip(los, his, strict=True):
                year = int(rows.years[lo])
                final, tmp, made = store.target(year)
                jobs.append((year, lo, hi, final, tmp))
                created.extend(made)
            # Staging is I/O bound (parquet encode + fsync release the GIL): use threads.
            with ThreadPoolExecutor(max_workers=_workers(len(jobs))) as pool:
                futures = [
                    pool.submit(
                        _stage_year, rows, lo, hi, existing.get(year), year, tmp, mode, store.fs
                    )
                    for year, lo, hi, _, tmp in jobs
                ]
                try:
                    results = [fut.result() for fut in futures]
                except BaseException:
                    for fut in futures:
                        fut.cancel()
                    raise  # leaving the pool waits for the running stagings first
            if save:
                store.save_rule(rows.ts_type.tz)
        except BaseException as exc:
            _rollback([tmp for *_, tmp in jobs], created)
            lock.discard_new_root()
            exc.add_note(f"Lake.write to {str(self.root)!r} was rolled back; no file changed.")
            raise
        self._commit(
            [
                (tmp, final)
                for (*_, final, tmp), (_, staged) in zip(jobs, results, strict=True)
                if staged
            ],
            "Lake.write",
        )
        return _summary([row for summary, _ in results for row in summary])

    def _commit(self, staged: list[tuple[Path, Any]], action: str) -> None:
        done = 0
        try:
            for tmp, final in staged:
                self._store.commit(tmp, final)
                done += 1
        except OSError as exc:
            _rollback([tmp for tmp, _ in staged[done:]], [])
            raise LakeError(
                f"{action} to {str(self.root)!r} failed while moving the staged files into "
                f"place: {done} of {len(staged)} partitions were replaced ({exc}). Fix the "
                "cause and run the same write again: writes are idempotent."
            ) from exc

    def delete(self, symbol: str) -> None:
        """Remove every row of ``symbol`` from the lake.

        Under the writer lock, every year file holding ``symbol`` is rewritten without
        it (staged, then renamed into place; a file left empty is removed). Reads
        running meanwhile see each year file before or after and never fail because
        of it. On a lake in the old layout, the symbol's folder is removed.

        Raises
        ------
        LakeError
            When ``symbol`` is not in the lake (the message lists the symbols), a year
            file cannot be read, the lake folder is not writable, or the writer lock is
            not obtained within ``lock_timeout``.
        """
        if not isinstance(symbol, str):
            raise ParameterError(
                f"The 'symbol' parameter of Lake.delete must be a str; got {type(symbol).__name__}."
            )
        self._check_root()
        if symbol not in self.symbols():
            raise _unknown_symbols(self.root, [symbol], self.symbols())
        try:
            with self._store.lock(self.lock_timeout, "Lake.delete", create=False) as lock:
                if lock.interrupted:
                    sweep(lock.root, lock.interrupted)
                if self.layout == 1:
                    self._delete_legacy(symbol)
                else:
                    self._delete_locked(symbol)
        except OSError as exc:
            raise explain_os_error(exc, "Lake.delete", self.root) from exc

    def _delete_legacy(self, symbol: str) -> None:
        folder = self._dir / f"symbol={encode_symbol(symbol)}"
        if not folder.is_dir():  # deleted (or swept away) while we waited
            raise _unknown_symbols(self.root, [symbol], self.symbols())
        trash = self._dir / f"{TRASH_PREFIX}{uuid.uuid4().hex}-{folder.name}"
        os.replace(folder, trash)
        shutil.rmtree(trash)

    def _delete_locked(self, symbol: str) -> None:
        opened, _ts_type = self._open()
        staged: list[tuple[Path, Any]] = []
        emptied: list[Any] = []
        created: list[Path] = []
        try:
            for of in opened:
                ix = of.index
                if symbol not in ix.symbols:
                    continue
                if len(ix.symbols) == 1:
                    emptied.append(of.path)
                    continue
                table = read_columns(of, ["timestamp", *_VALUE_FIELDS])
                k = ix.symbols.index(symbol)
                start, count = int(ix.starts[k]), int(ix.counts[k])
                keep = np.ones(table.num_rows, dtype=bool)
                keep[start : start + count] = False
                codes = np.repeat(np.arange(len(ix.symbols)), ix.counts)[keep]
                import pyarrow as pa

                kept = table.filter(pa.array(keep))
                new = build_table(
                    of.ts_type,
                    ix.symbols,
                    codes,
                    _column_numpy(kept, "timestamp"),
                    {f: kept.column(f).combine_chunks() for f in _VALUE_FIELDS},
                )
                final, tmp, made = self._store.target(of.year)
                created.extend(made)
                staged.append((tmp, final))
                files_mod.stage(new, tmp)
        except BaseException:
            _rollback([tmp for tmp, _ in staged], created)
            raise
        finally:
            for of in opened:
                of.close()
        if not staged and not emptied:
            raise _unknown_symbols(self.root, [symbol], self.symbols())
        self._commit(staged, "Lake.delete")
        for path in emptied:
            self._store.remove(path)

    def vacuum(self) -> list[Path]:
        """Remove what killed writers left behind: stale temp files and empty folders.

        Under the writer lock, remove the staged temp files (``.data.parquet.tmp-*``,
        ``.lake.json.tmp-*``) whose writer process is no longer alive or which are
        more than an hour old, the hidden folders of interrupted deletes and
        migrations (``.deleting-*``) and the ``year=`` (and old-layout ``symbol=``)
        folders left empty. Data files and files the lake does not know are never
        touched. A write or delete that finds its predecessor was killed does the same
        first, so calling this is only needed for lakes written by releases without
        the lock.

        Returns
        -------
        list of pathlib.Path
            The removed files and folders, sorted (empty when there was nothing to do).

        Raises
        ------
        LakeError
            When the lake folder is not writable or the writer lock is not obtained
            within ``lock_timeout``.

        Examples
        --------
        >>> Lake("/nonexistent/lake").vacuum()
        []
        """
        self._check_root()
        if self._store.remote:  # only the local staging folder can hold leftovers
            with self._store.lock(self.lock_timeout, "Lake.vacuum", create=True) as lock:
                return sweep(lock.root)
        if not self._dir.is_dir():
            return []
        try:
            with WriterLock(self._dir, self.lock_timeout, "Lake.vacuum", create=False):
                return sweep(self._dir)
        except OSError as exc:
            raise explain_os_error(exc, "Lake.vacuum", self.root) from exc

    # ----------------------------------------------------------------- migrate
    def migrate(self) -> pd.DataFrame:
        """Convert a lake in the old layout (one file per symbol and year) to year files.

        Under the writer lock: for every year, read the year's old files (one per
        symbol), write the year file holding them all as a hidden temp file, read it
        back and check it holds exactly the rows read (else nothing is changed and
        :class:`LakeError` is raised). When every year is staged and checked, the year
        files are renamed into place, the rule file records ``lake_format`` 2 (this is
        the commit point: from then on readers use the year files), and the old
        ``symbol=`` folders are moved to hidden ``.deleting-*`` folders and removed.

        A migration interrupted before the commit point leaves the old layout in
        force (its staged files are removed by the next write, vacuum or migrate);
        after it, only old folders may remain, which the next :meth:`migrate` or
        :meth:`vacuum` removes. Calling it on a lake already migrated (or empty) does
        nothing but that cleanup.

        Returns
        -------
        pandas.DataFrame
            One row per year file written: ``year, symbols, rows`` (int64). Empty when
            there was nothing to migrate.

        Raises
        ------
        LakeError
            When an old file cannot be read (its message names it and the fix: delete
            that symbol with :meth:`delete`, which works on the old layout, or move the
            file away), the folder is not writable, or the lock is not obtained.

        Examples
        --------
        >>> Lake("/nonexistent/lake").migrate().empty
        True
        """
        self._check_root()
        if self._store.remote or not self._dir.is_dir():  # object stores: always format 2
            return _migration_summary([])
        try:
            with WriterLock(self._dir, self.lock_timeout, "Lake.migrate", create=False) as lock:
                if lock.interrupted:
                    sweep(self._dir, lock.interrupted)
                return self._migrate_locked()
        except OSError as exc:
            raise _explain(exc, "Lake.migrate", self.root) from exc

    def _migrate_locked(self) -> pd.DataFrame:
        import pyarrow as pa

        parts = _list_partitions(self._dir)
        if load_format(self._dir) >= LAKE_FORMAT or not parts:
            self._remove_legacy_folders()  # leftovers of a migration past its commit point
            return _migration_summary([])
        ts_type = lake_type(self._dir, parts)
        legacy_schema = pa.schema(
            [pa.field("timestamp", ts_type)] + [pa.field(f, pa.float64()) for f in _VALUE_FIELDS]
        )
        by_year: dict[int, list[_Partition]] = {}
        for p in parts:
            by_year.setdefault(p.year, []).append(p)
        staged: list[tuple[Path, Path]] = []
        created: list[Path] = []
        summary: list[tuple[int, int, int]] = []
        try:
            for year in sorted(by_year):
                group = by_year[year]  # sorted by symbol
                tables = [_read_partition(p.path, legacy_schema) for p in group]
                symbols = [p.symbol for p in group]
                ts_parts, codes = [], []
                for k, t in enumerate(tables):
                    ts = _column_numpy(t, "timestamp")
                    if len(ts) > 1 and not (np.diff(ts) > 0).all():
                        raise LakeError(
                            f"The old lake file {str(group[k].path)!r} is not sorted by unique "
                            "timestamps: it was not written by Lake.write. Fix or delete it, "
                            "then run lake.migrate() again."
                        )
                    ts_parts.append(ts)
                    codes.append(np.full(len(ts), k, dtype=np.int64))
                order = sorted(range(len(symbols)), key=lambda k: symbols[k])
                table = build_table(
                    ts_type,
                    [symbols[k] for k in order],
                    np.concatenate([np.full(len(ts_parts[k]), i) for i, k in enumerate(order)]),
                    np.concatenate([ts_parts[k] for k in order]),
                    {
                        f: pa.concat_arrays([tables[k].column(f).combine_chunks() for k in order])
                        for f in _VALUE_FIELDS
                    },
                )
                final = file_path(self._dir, year)
                created.extend(_makedirs(final.parent))
                tmp = final.parent / _tmp_name()
                staged.append((tmp, final))
                files_mod.stage(table, tmp)
                _verify_staged(tmp, table)
                summary.append((year, len(symbols), table.num_rows))
                del tables, table
        except BaseException as exc:
            _rollback([tmp for tmp, _ in staged], created)
            exc.add_note(f"Lake.migrate of {str(self.root)!r} was rolled back; nothing changed.")
            raise
        self._commit(staged, "Lake.migrate")
        save_rule(self._dir, ts_type.tz)  # the commit point: readers now use the year files
        self._remove_legacy_folders()
        return _migration_summary(summary)

    def _remove_legacy_folders(self) -> None:
        # Move each old symbol= folder to a hidden trash name (atomic), then remove it.
        for entry in os.scandir(self._dir):
            if entry.name.startswith("symbol=") and entry.is_dir(follow_symlinks=False):
                trash = self._dir / f"{TRASH_PREFIX}{uuid.uuid4().hex}-{entry.name}"
                os.replace(entry.path, trash)
                shutil.rmtree(trash, ignore_errors=True)

    # -------------------------------------------------------------------- read
    def read(
        self,
        symbols: str | Iterable[str] | None = None,
        start: Any = None,
        end: Any = None,
        fields: Iterable[str] | None = None,
    ) -> Bars:
        """Load bars from the lake, reading only the year files and row groups needed.

        Parameters
        ----------
        symbols : str or list of str, optional
            The symbols, in the order wanted; all symbols (sorted) when None.
        start, end : date-like, optional
            Inclusive bounds. A naive bound is read in the lake's time zone.
        fields : list of str, optional
            Bars always carry ``open, high, low, close, volume``, so ``fields`` must
            contain all five; add ``"adj_close"`` to get that panel (NaN where none
            was stored). When None, ``adj_close`` is included if any loaded row has
            one. For a single field use :meth:`read_panel`.

        Returns
        -------
        Bars
            Index: the timestamps (datetime64[us], in the lake's time zone) at which
            any selected symbol has a row in range; NaN elsewhere. Columns: the
            symbols in the order requested (sorted when ``symbols`` is None). A
            symbol without rows in range is all NaN.

        Raises
        ------
        LakeError
            When the lake is empty, a symbol is unknown, or a file cannot be read.
        ParameterError
            For a bad ``start``/``end``/``fields``/``symbols`` value.

        Notes
        -----
        Only the year files of the requested years are read, and in each only the
        row groups holding the requested symbols (found from the file's index) and
        the requested columns; the symbol column itself is never decoded. A damaged
        file of another year does not affect the read. Works on lakes in the old
        layout too (slower: one file per symbol and year).
        """
        wanted = _check_fields(fields)
        load = wanted if wanted is not None else _VALUE_FIELDS
        index, order, values = self._load(symbols, start, end, load, "Lake.read")
        adj = values.get("adj_close")
        if wanted is None and (adj is None or np.isnan(adj).all()):
            load = FIELDS
        columns = pd.Index(order, name=COLUMNS_NAME)
        panels = {
            f: pd.DataFrame(
                _or_nan(values[f], index, order), index=index, columns=columns, copy=False
            )
            for f in load
        }
        return Bars(**panels)

    def read_panel(
        self,
        field: str,
        symbols: str | Iterable[str] | None = None,
        start: Any = None,
        end: Any = None,
    ) -> pd.DataFrame:
        """Load one field as a dates x symbols panel (only that column is read).

        Parameters
        ----------
        field : {"open", "high", "low", "close", "volume", "adj_close"}
            The field.
        symbols, start, end
            As in :meth:`read`.

        Returns
        -------
        pandas.DataFrame
            The same panel as ``lake.read(symbols, start, end).<field>``.

        Raises
        ------
        ParameterError, LakeError
            As in :meth:`read`.
        """
        check_choice("field", field, list(_VALUE_FIELDS), "Lake.read_panel")
        index, order, values = self._load(symbols, start, end, (field,), "Lake.read_panel")
        return pd.DataFrame(
            _or_nan(values[field], index, order),
            index=index,
            columns=pd.Index(order, name=COLUMNS_NAME),
            copy=False,
        )

    def _load(
        self,
        symbols: str | Iterable[str] | None,
        start: Any,
        end: Any,
        fields: Sequence[str],
        func: str,
    ) -> tuple[pd.DatetimeIndex, list[str], dict[str, np.ndarray | None]]:
        def query() -> tuple[
            pa.DataType, list[str], list[_Chunk] | tuple[np.ndarray, dict[str, np.ndarray | None]]
        ]:
            if self.layout == 1:
                return self._load_legacy(symbols, start, end, fields, func)
            listed = self._store.list_files()
            if not listed:
                raise self._empty()
            ts_type = self._store.lake_type(listed)
            lo, hi = _bounds(start, end, ts_type.tz, func)
            lo_year, hi_year = (None if lo is None else lo[0]), (None if hi is None else hi[0])
            indexed, _ = self._indexes(lo_year, hi_year)
            if not indexed:
                raise self._empty()
            available = sorted(set().union(*(ix.symbols for _, ix in indexed)))
            opened: list[OpenFile] = []
            try:
                for yf, ix in indexed:
                    if (lo_year is None or yf.year >= lo_year) and (
                        hi_year is None or yf.year <= hi_year
                    ):
                        of = open_file(yf, ts_type, self._store.fs)
                        opened.append(of)
                        if of.index.symbols != ix.symbols:
                            # Replaced by a concurrent write or delete since the symbols
                            # were listed: list again (a listed symbol keeps its rows).
                            raise _Stale(LakeError(f"{str(yf.path)!r} changed during the read"))
                order = (
                    available
                    if symbols is None
                    else _check_symbols(self.root, symbols, available, func)
                )
                code_of = {s: i for i, s in enumerate(order)}
                lo_us, hi_us = _bound_us(lo, ts_type), _bound_us(hi, ts_type)
                plans = [_dense_plan(of, code_of, fields, lo_us, hi_us) for of in opened]
                if opened and all(plan is not None for plan in plans):
                    done = _stream_dense(opened, plans, len(order), fields)  # type: ignore[arg-type]
                    return ts_type, order, done
                inside = opened
                if len(inside) > 1:
                    with ThreadPoolExecutor(max_workers=_workers(len(inside))) as pool:
                        got = list(
                            pool.map(
                                lambda of: _read_year_file(of, code_of, fields, lo_us, hi_us),
                                inside,
                            )
                        )
                else:
                    got = [_read_year_file(of, code_of, fields, lo_us, hi_us) for of in inside]
            finally:
                for of in opened:
                    of.close()
            return ts_type, order, [c for c in got if c is not None]

        ts_type, order, got = self._read_retrying(query)
        stamps, values = got if isinstance(got, tuple) else _assemble(got, len(order), fields)
        return _to_index(stamps, ts_type), order, values

    def _load_legacy(
        self,
        symbols: str | Iterable[str] | None,
        start: Any,
        end: Any,
        fields: Sequence[str],
        func: str,
    ) -> tuple[pa.DataType, list[str], list[_Chunk]]:
        parts = _list_partitions(self._dir)
        if not parts:
            raise self._empty()
        available = sorted({p.symbol for p in parts})
        order = (
            available if symbols is None else _check_symbols(self.root, symbols, available, func)
        )
        ts_type = lake_type(self._dir, parts)
        lo, hi = _bounds(start, end, ts_type.tz, func)
        code_of = {s: i for i, s in enumerate(order)}
        chunks = _read_legacy(
            parts, code_of, fields, lo, hi, _bound_us(lo, ts_type), _bound_us(hi, ts_type)
        )
        return ts_type, order, chunks

    # --------------------------------------------------------------------- SQL
    def sql(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pd.DataFrame:
        """Run a DuckDB SQL query over the lake's files, with a ``bars`` view.

        ``bars`` has the columns ``symbol, timestamp, open, high, low, close, volume,
        adj_close, year`` (one row per stored bar), read straight from the Parquet
        files: DuckDB prunes row groups on ``symbol`` and ``timestamp`` filters.
        Timestamps are shown in the lake's time zone (DuckDB's ``TimeZone`` setting
        of the connection). Bind values with ``?`` and ``params``; never splice them
        into the text.

        Parameters
        ----------
        query : str
            The SQL, e.g. ``"SELECT symbol, max(close) FROM bars GROUP BY symbol"``.
        params : list or dict, optional
            Values bound to ``?`` (or ``$name``) parameters.

        Returns
        -------
        pandas.DataFrame
            The query's result (an empty frame for a statement without one).

        Raises
        ------
        LakeError
            When the lake is empty, or DuckDB fails (the message carries DuckDB's).

        Examples
        --------
        See the class docstring.
        """
        import duckdb

        if not isinstance(query, str):
            raise ParameterError(
                f"The 'query' parameter of Lake.sql must be a str; got {type(query).__name__}."
            )

        def run() -> pd.DataFrame:
            legacy = self.layout == 1
            listed: Sequence[Any] = (
                _list_partitions(self._dir) if legacy else self._store.list_files()
            )
            if not listed:
                raise self._empty()
            tz = (lake_type(self._dir, listed) if legacy else self._store.lake_type(listed)).tz
            locations = [str(p.path) if legacy else self._store.location(p) for p in listed]
            paths = ", ".join("'" + p.replace("'", "''") + "'" for p in locations)
            view = (
                'CREATE VIEW bars AS SELECT symbol, "timestamp", open, high, low, close, volume, '
                f"adj_close, year FROM read_parquet([{paths}], hive_partitioning = true, "
                "hive_types = {" + ("'symbol': VARCHAR, " if legacy else "") + "'year': BIGINT})"
            )
            try:
                with duckdb.connect() as con:
                    zone = (tz or "UTC").replace("'", "''")
                    con.execute(f"SET TimeZone = '{zone}'")
                    if self._store.remote:  # DuckDB reads the objects through fsspec
                        con.register_filesystem(self._store.fs)
                    con.execute(view)
                    relation = con.sql(query, params=params)
                    return pd.DataFrame() if relation is None else relation.df()
            except duckdb.Error as exc:
                if isinstance(exc, duckdb.IOException) and len(listed) != len(
                    _list_partitions(self._dir) if legacy else self._store.list_files()
                ):
                    raise _Stale(LakeError(f"Lake.sql on {str(self.root)!r}: {exc}")) from exc
                raise LakeError(
                    f"Lake.sql on the lake at {str(self.root)!r} failed: {exc}. The view "
                    f"'bars' has the columns {[*COLUMNS, 'year']}."
                ) from exc

        return self._read_retrying(run)


# -------------------------------------------------------------------- helpers
def _or_nan(values: np.ndarray | None, index: pd.Index, order: list[str]) -> np.ndarray:
    # The panel values of a field no row held: all NaN.
    return np.full((len(index), len(order)), np.nan) if values is None else values


def _explain(exc: OSError, action: str, root: Path | str) -> LakeError:
    # explain_os_error, keeping the notes (e.g. "... was rolled back") of the OSError.
    error = explain_os_error(exc, action, root)
    for note in getattr(exc, "__notes__", []):
        error.add_note(note)
    return error


def _migration_summary(rows: list[tuple[int, int, int]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(MIGRATION_COLUMNS))
    return frame.astype({c: np.int64 for c in MIGRATION_COLUMNS})


def _verify_staged(tmp: Path, table: pa.Table) -> None:
    # Read a staged file back and check it holds exactly `table` (data and index).
    import pyarrow.parquet as pq

    back = pq.read_table(tmp)
    if not (back.equals(table) and back.schema.metadata == table.schema.metadata):
        raise LakeError(
            f"The staged file {str(tmp)!r} does not read back as written (a failing disk?). "
            "Nothing was changed; check the disk and run the same call again."
        )


def _stage_year(
    rows: _Rows,
    lo: int,
    hi: int,
    existing: YearFile | None,
    year: int,
    tmp: Path,
    mode: str,
    fs: Any = None,
) -> tuple[list[tuple[str, int, int, int, int]], bool]:
    # Merge rows lo:hi (one year) into the stored year file and stage the result; return
    # the summary rows and whether anything was staged (a no-op upsert stages nothing).
    import pyarrow as pa

    ts_type = rows.ts_type
    new_codes = rows.codes[lo:hi]
    new_ts = rows.ts_us[lo:hi]
    n_new = hi - lo
    new_cols = {}
    for f in _VALUE_FIELDS:
        values = rows.values.get(f)
        values = np.full(n_new, np.nan) if values is None else values[lo:hi]
        new_cols[f] = pa.array(values, pa.float64(), from_pandas=True)
    touched_codes, new_counts = np.unique(new_codes, return_counts=True)
    touched = [rows.symbols[c] for c in touched_codes.tolist()]
    old_index: FileIndex | None = None
    old_table = None
    if existing is not None:
        try:
            of = open_file(existing, ts_type, fs)
        except LakeError:
            if mode == "upsert":
                raise
            of = None  # "replace" discards the old content: a damaged file is overwritten
        if of is not None:
            try:
                old_table = read_columns(of, ["timestamp", *_VALUE_FIELDS])
                old_index = of.index
            except LakeError:
                if mode == "upsert":
                    raise
            finally:
                of.close()
    if old_index is None or old_table is None:
        local = {c: i for i, c in enumerate(touched_codes.tolist())}
        remap = np.array([local.get(c, -1) for c in range(len(rows.symbols))], dtype=np.int64)
        table = build_table(ts_type, touched, remap[new_codes], new_ts, new_cols)
        before: dict[str, int] = {}
    else:
        union = sorted(set(old_index.symbols) | set(touched))
        rank = {s: i for i, s in enumerate(union)}
        old_rank = np.repeat(
            np.array([rank[s] for s in old_index.symbols], dtype=np.int64), old_index.counts
        )
        code_rank = np.full(len(rows.symbols), -1, dtype=np.int64)
        code_rank[touched_codes] = [rank[s] for s in touched]
        new_rank = code_rank[new_codes]
        old_ts = _column_numpy(old_table, "timestamp")
        n_old = len(old_ts)
        all_rank = np.concatenate([old_rank, new_rank])
        all_ts = np.concatenate([old_ts, new_ts])
        if mode == "replace":
            hit = np.zeros(len(union), dtype=bool)
            hit[[rank[s] for s in touched]] = True
            candidates = np.concatenate([np.flatnonzero(~hit[old_rank]), n_old + np.arange(n_new)])
            order = candidates[np.lexsort((all_ts[candidates], all_rank[candidates]))]
        else:
            source = np.concatenate([np.zeros(n_old, np.int8), np.ones(n_new, np.int8)])
            order = np.lexsort((source, all_ts, all_rank))
            r, t = all_rank[order], all_ts[order]
            keep = np.ones(len(order), dtype=bool)
            keep[:-1] = ~((r[1:] == r[:-1]) & (t[1:] == t[:-1]))  # the old of a pair goes
            order = order[keep]
        take = pa.array(order)
        columns = {
            f: pa.concat_arrays([old_table.column(f).combine_chunks(), new_cols[f]]).take(take)
            for f in _VALUE_FIELDS
        }
        table = build_table(ts_type, union, all_rank[order], all_ts[order], columns)
        before = dict(zip(old_index.symbols, old_index.counts.tolist(), strict=True))
    after_index = files_mod.table_index(table)
    after = dict(zip(after_index.symbols, after_index.counts.tolist(), strict=True))
    summary = [
        (s, year, int(n), before.get(s, 0), after.get(s, 0))
        for s, n in zip(touched, new_counts.tolist(), strict=True)
    ]
    if (
        old_index is not None
        and old_table is not None
        and after_index.symbols == old_index.symbols
        and np.array_equal(after_index.counts, old_index.counts)
        and table.drop_columns(["symbol"]).equals(old_table)
    ):
        return summary, False
    files_mod.stage(table, tmp)
    return summary, True
