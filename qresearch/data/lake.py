"""The data lake: hive-partitioned Parquet files, written atomically, read through DuckDB.

Layout (the partition files are the data; there is no manifest to keep in sync)::

    root/symbol=<encoded symbol>/year=<YYYY>/data.parquet
    root/.lake.json    the time-zone rule, written by the first write
    root/.lake.lock    the writers' lock file (never delete it)

- One file per (symbol, year), columns ``timestamp, open, high, low, close, volume,
  adj_close`` in that order. Every file has all seven columns, so DuckDB binds one
  schema and skips pruned partitions without reading them; ``adj_close`` is null
  where the data had none, and other missing values (NaN) are stored as null too.
  Prices and volume are float64; rows are sorted by timestamp, unique within a file.
- ``timestamp`` is ``timestamp[us]``. Tz-naive data (UTC by convention) is stored
  naive; tz-aware data is stored as UTC instants with the zone name in the Arrow
  schema (``timestamp[us, tz=America/New_York]``) and read back in that zone.
  ``year`` is the calendar year of the timestamp in that zone (the naive year for
  naive data).
- **Time-zone rule.** One lake holds one convention. The first write into an empty
  lake fixes it, under the writer lock, and records it in ``root/.lake.json``
  (written atomically); every later write must match it, or it raises
  :class:`LakeError` naming the rule and the conversion to apply. A lake emptied by
  deleting every symbol takes the rule of its next write. A lake written before the
  rule file existed takes its rule from its partition files, and its next write
  records it.
- Symbols are percent-encoded in the folder name with :func:`encode_symbol`
  (``urllib.parse.quote(symbol, safe="")``): letters, digits and ``_.-~`` stay as
  they are, every other byte of the UTF-8 encoding becomes ``%XX``, so
  ``"BTC/USDT"`` lives in ``symbol=BTC%2FUSDT``. DuckDB (and pyarrow, Spark) decode
  hive values the same way. Symbols are case-sensitive; on a case-insensitive file
  system (macOS, Windows) two symbols that differ only by case share a folder.
- The hidden root files (names starting with ``.``) are ignored by DuckDB's
  ``symbol=*/year=*/data.parquet`` glob and by pyarrow and Spark dataset discovery.

**Atomic writes.** A write stages every new partition file as
``.data.parquet.tmp-<pid>-<uuid>`` beside its target (a name the glob never
matches), fsyncs it, and only when all are staged ``os.replace`` them into place.
On any error the staged files and the folders the write created are removed and the
error is re-raised, so the lake is unchanged. Each partition is replaced atomically;
a failure *during* the final renames (rare: only the renames remain) can leave some
partitions new and some old, which :meth:`Lake.write` reports; re-running the same
write fixes it because writes are idempotent (an upsert that changes nothing
rewrites nothing).

**Locking.** Every write, delete and vacuum holds an inter-process lock on
``root/.lake.lock`` (``fcntl.flock``; ``msvcrt.locking`` on Windows) from before it
reads the partitions it merges until after its last rename. Concurrent writers
(threads or processes) therefore run one at a time and lose no update. They wait
as long as needed unless ``Lake(root, lock_timeout=seconds)`` bounds the wait. The
OS releases the lock of a process that dies, so a killed writer never blocks the
next one. Locks work between processes of one machine; on a network file system
they work only where the file system supports ``flock`` across machines. Reads
take no lock: they never wait for a writer and work on a read-only lake. A read
sees each partition either before or after a concurrent write (a write of several
partitions may be seen half done). When a concurrent delete (or vacuum) removes
files after a read listed them, the read lists the lake again and retries, so it
never fails because of a delete of another symbol.

**Killed writers and vacuum.** A writer killed mid-way leaves staged temp files and
perhaps empty ``symbol=``/``year=`` folders; readers ignore them. The killed
writer's pid stays in the lock file, so the next write or delete notices and
removes them. :meth:`Lake.vacuum` removes them at any time, and also the leftovers
of releases that had no lock. Under the lock, a temp file is stale when no process
with its pid is alive or when it is more than an hour old.

**Errors.** Failures raise :class:`LakeError` naming the file and the fix: a damaged
partition file (for example 0 bytes) names the file (rewrite it with
``mode="replace"``, which works over a damaged file, or delete the symbol); a lake
folder that is not writable names the file that could not be written (reads still
work); a lock not obtained within ``lock_timeout`` names the lock file. Roots
containing glob characters or, outside Windows, a backslash are refused: DuckDB
could not read the files back.

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
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np
import pandas as pd

from qresearch._validation import COLUMNS_NAME, check_choice, check_number
from qresearch.data._lake_io import (
    _VALUE_FIELDS,
    COLUMNS,
    DATA_FILE,
    SUMMARY_COLUMNS,
    _bounds,
    _check_fields,
    _check_symbols,
    _Job,
    _list_partitions,
    _makedirs,
    _Partition,
    _plan_jobs,
    _rollback,
    _rows_to_write,
    _run_query,
    _stage,
    _Stale,
    _summary,
    _to_index,
    _unknown_symbols,
    decode_symbol,
    encode_symbol,
)
from qresearch.data._lake_lock import (
    TRASH_PREFIX,
    WriterLock,
    explain_os_error,
    lake_type,
    save_rule,
    settle_rule,
    sweep,
)
from qresearch.data.bars import FIELDS, Bars
from qresearch.exceptions import LakeError, ParameterError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["COLUMNS", "DATA_FILE", "SUMMARY_COLUMNS", "Lake", "decode_symbol", "encode_symbol"]

_GLOB_CHARS = frozenset("*?[]{}")
_HIVE_OPTIONS = "hive_partitioning = true, hive_types = {'symbol': VARCHAR, 'year': BIGINT}"
_READ_ATTEMPTS = 6  # listings a read tries when concurrent deletes keep removing its files
_T = TypeVar("_T")


class Lake:
    """A folder of hive-partitioned Parquet bars (``symbol=/year=``), read with DuckDB.

    Parameters
    ----------
    root : str or os.PathLike
        The lake folder. It is created by the first :meth:`write`; constructing a
        ``Lake`` writes nothing.
    lock_timeout : float, optional
        Seconds a write, delete or vacuum waits for the writer lock held by another
        writer before raising :class:`LakeError`. None (the default) waits as long as
        needed.

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
    See the module docstring for the file layout, symbol encoding, the time-zone
    rule, atomicity, locking (writers run one at a time; reads take no lock),
    :meth:`vacuum` and the errors.

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
    >>> tmp.cleanup()
    """

    def __init__(self, root: str | os.PathLike[str], *, lock_timeout: float | None = None) -> None:
        if not isinstance(root, str | os.PathLike):
            raise ParameterError(
                f"The 'root' parameter of Lake must be a folder path (str or Path); "
                f"got {type(root).__name__}."
            )
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
        if lock_timeout is not None:
            lock_timeout = check_number("lock_timeout", lock_timeout, "Lake", strict=False)
        self.root = path
        self.lock_timeout = lock_timeout
        self._check_root()

    def __repr__(self) -> str:
        return f"Lake({str(self.root)!r})"

    # ----------------------------------------------------------------- listing
    def _check_root(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise LakeError(
                f"The lake root {str(self.root)!r} exists but is not a folder. "
                "Pass a folder path (it is created on the first write)."
            )

    def _partitions(self) -> list[_Partition]:
        self._check_root()
        return _list_partitions(self.root)

    def _read_retrying(self, query: Callable[[list[_Partition]], _T]) -> _T:
        # Run a read on a fresh listing. DuckDB reads exactly the listed files; when a
        # concurrent delete removed one of them (_Stale), list the lake again and retry.
        attempt = 1
        while True:
            try:
                return query(self._partitions())
            except _Stale as stale:
                if attempt == _READ_ATTEMPTS:
                    raise stale.error from stale.__cause__
            time.sleep(0.002 * 2**attempt)
            attempt += 1

    def _require_data(self, parts: list[_Partition]) -> None:
        if not parts:
            raise LakeError(
                f"The lake at {str(self.root)!r} is empty (no symbol=*/year=*/{DATA_FILE} "
                f"files). Fill it with lake.write(bars) or `qresearch ingest FILES --lake "
                f"{self.root}`."
            )

    def _unknown_symbols(self, missing: Sequence[Any], available: Sequence[str]) -> LakeError:
        return _unknown_symbols(self.root, missing, available)

    def symbols(self) -> list[str]:
        """Return the symbols stored in the lake, sorted (empty list for an empty lake).

        Examples
        --------
        >>> Lake("/nonexistent/lake").symbols()
        []
        """
        return sorted({p.symbol for p in self._partitions()})

    def coverage(self) -> pd.DataFrame:
        """Return the first and last timestamp, row and year counts of every symbol.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``symbol`` (sorted), columns ``first``, ``last`` (timestamps
            in the lake's time zone), ``rows`` (stored rows) and ``years``
            (number of year partitions), both int64.

        Raises
        ------
        LakeError
            When the lake is empty or a file cannot be read.
        """
        sql = (
            'SELECT symbol, epoch_us(min("timestamp")) AS first_us, '
            'epoch_us(max("timestamp")) AS last_us, count(*) AS n_rows, '
            f"count(DISTINCT year) AS n_years FROM read_parquet(?, {_HIVE_OPTIONS}) "
            "GROUP BY symbol"
        )

        def query(parts: list[_Partition]) -> tuple[pa.DataType, pa.Table]:
            self._require_data(parts)
            files = [str(p.path) for p in parts]
            return lake_type(self.root, parts), _run_query(self.root, sql, [files], parts)

        ts_type, table = self._read_retrying(query)
        frame = table.to_pandas().sort_values("symbol")
        out = pd.DataFrame(
            {
                "first": _to_index(frame["first_us"].to_numpy(np.int64), ts_type),
                "last": _to_index(frame["last_us"].to_numpy(np.int64), ts_type),
                "rows": frame["n_rows"].to_numpy(np.int64),
                "years": frame["n_years"].to_numpy(np.int64),
            },
            index=pd.Index(frame["symbol"].tolist(), name=COLUMNS_NAME),
        )
        return out

    # ------------------------------------------------------------------- write
    def write(
        self,
        data: Bars | pd.DataFrame,
        *,
        mode: Literal["upsert", "replace"] = "upsert",
    ) -> pd.DataFrame:
        """Write bars into their (symbol, year) partitions, atomically.

        Parameters
        ----------
        data : Bars or pandas.DataFrame
            Bars, or a long DataFrame with columns ``timestamp, symbol, open, high,
            low, close, volume`` and optionally ``adj_close`` (converted with
            :meth:`Bars.from_long`). Symbols must be non-empty strings. Rows where
            every field is NaN (symbol not listed) are not written. Not modified.
        mode : {"upsert", "replace"}, default "upsert"
            ``"upsert"`` merges the new rows into each touched partition; on a
            timestamp present in both, the new row replaces the stored row whole
            (so writing the same data twice changes nothing). ``"replace"``
            replaces each touched partition with the new rows only. Partitions
            (symbols, years) absent from ``data`` are never touched.

        Returns
        -------
        pandas.DataFrame
            One row per touched partition, sorted by symbol and year, columns
            ``symbol, year, rows_written`` (rows of ``data``), ``rows_before`` and
            ``rows_after`` (rows in the partition file before and after;
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
            When the time zone of ``data`` breaks the lake's time-zone rule, an
            upsert meets a damaged partition file or one with an unexpected schema,
            the lake folder is not writable, the writer lock is not obtained within
            ``lock_timeout``, or the final renames fail part way. The message names
            the file and the fix.

        Notes
        -----
        The write holds the lake's writer lock from before it reads the partitions it
        merges until after its last rename, so concurrent writers run one at a time
        and lose nothing. If the previous holder was killed mid-way, the write first
        removes its leftovers (see :meth:`vacuum`). On any error before the final
        renames, every staged file and every folder created by this call is removed
        and the error re-raised: the lake is as before.
        """
        check_choice("mode", mode, ["upsert", "replace"], "Lake.write")
        rows = _rows_to_write(data)
        if not len(rows.codes):
            return _summary([])
        self._check_root()
        jobs, ts_type = _plan_jobs(self.root, rows)
        try:
            with WriterLock(self.root, self.lock_timeout, "Lake.write", create=True) as lock:
                return self._write_locked(lock, jobs, ts_type, mode)
        except OSError as exc:
            error = explain_os_error(exc, "Lake.write", self.root)
            for note in getattr(exc, "__notes__", []):
                error.add_note(note)
            raise error from exc

    def _write_locked(
        self, lock: WriterLock, jobs: list[_Job], ts_type: pa.DataType, mode: str
    ) -> pd.DataFrame:
        # Check the time-zone rule, stage every partition, then rename them into place;
        # all under the writer lock. Before the renames, any error rolls everything back.
        created: list[Path] = []
        try:
            if lock.interrupted:  # the previous holder was killed mid-way: clean up first
                sweep(self.root, lock.interrupted)
            save = settle_rule(self.root, ts_type, self._partitions())
            for job in jobs:
                created.extend(_makedirs(job.final.parent))
            # Staging is I/O bound (parquet encode + fsync release the GIL): use threads.
            workers = min(len(jobs), 8, 2 * (os.cpu_count() or 1))
            with ThreadPoolExecutor(max_workers=workers) as pool:
                futures = [pool.submit(_stage, job, mode) for job in jobs]
                try:
                    results = [fut.result() for fut in futures]
                except BaseException:
                    for fut in futures:
                        fut.cancel()
                    raise  # leaving the pool waits for the running stagings first
            if save:
                save_rule(self.root, ts_type.tz)
        except BaseException as exc:
            _rollback([job.tmp for job in jobs], created)
            lock.discard_new_root()
            exc.add_note(f"Lake.write to {str(self.root)!r} was rolled back; no partition changed.")
            raise
        self._commit(
            [(job.tmp, job.final) for job, (_, staged) in zip(jobs, results, strict=True) if staged]
        )
        return _summary([row for row, _ in results])

    def _commit(self, staged: list[tuple[Path, Path]]) -> None:
        done = 0
        try:
            for tmp, final in staged:
                os.replace(tmp, final)
                done += 1
        except OSError as exc:
            _rollback([tmp for tmp, _ in staged[done:]], [])
            raise LakeError(
                f"Lake.write to {str(self.root)!r} failed while moving the staged files into "
                f"place: {done} of {len(staged)} partitions were replaced ({exc}). Fix the "
                "cause and run the same write again: writes are idempotent."
            ) from exc

    def delete(self, symbol: str) -> None:
        """Remove every partition of ``symbol`` from the lake.

        Under the writer lock, the symbol folder is renamed to a hidden name (atomic:
        readers see the symbol entirely or not at all), then removed. Reads running
        meanwhile retry and never fail because of it.

        Raises
        ------
        LakeError
            When ``symbol`` is not in the lake (the message lists the symbols), the
            lake folder is not writable, or the writer lock is not obtained within
            ``lock_timeout``.
        """
        if not isinstance(symbol, str):
            raise ParameterError(
                f"The 'symbol' parameter of Lake.delete must be a str; got {type(symbol).__name__}."
            )
        self._check_root()
        folder = self.root / f"symbol={encode_symbol(symbol)}"
        if not folder.is_dir():
            raise self._unknown_symbols([symbol], self.symbols())
        try:
            with WriterLock(self.root, self.lock_timeout, "Lake.delete", create=False) as lock:
                if lock.interrupted:
                    sweep(self.root, lock.interrupted)
                if not folder.is_dir():  # deleted (or swept away) while we waited
                    raise self._unknown_symbols([symbol], self.symbols())
                trash = self.root / f"{TRASH_PREFIX}{uuid.uuid4().hex}-{folder.name}"
                os.replace(folder, trash)
                shutil.rmtree(trash)
        except OSError as exc:
            raise explain_os_error(exc, "Lake.delete", self.root) from exc

    def vacuum(self) -> list[Path]:
        """Remove what killed writers left behind: stale temp files and empty folders.

        Under the writer lock, remove the staged temp files (``.data.parquet.tmp-*``,
        ``.lake.json.tmp-*``) whose writer process is no longer alive or which are
        more than an hour old, the hidden folders of interrupted deletes
        (``.deleting-*``) and the ``symbol=``/``year=`` folders left empty. Partition
        files and files the lake does not know are never touched. A write or delete
        that finds its predecessor was killed does the same first, so calling this is
        only needed for lakes written by releases without the lock.

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
        if not self.root.is_dir():
            return []
        try:
            with WriterLock(self.root, self.lock_timeout, "Lake.vacuum", create=False):
                return sweep(self.root)
        except OSError as exc:
            raise explain_os_error(exc, "Lake.vacuum", self.root) from exc

    # -------------------------------------------------------------------- read
    def read(
        self,
        symbols: str | Iterable[str] | None = None,
        start: Any = None,
        end: Any = None,
        fields: Iterable[str] | None = None,
    ) -> Bars:
        """Load bars from the lake through DuckDB, pruning partitions.

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
        The partition files of the selected symbols and years are listed first, and
        only they are passed to DuckDB: ``read_parquet([files], hive_partitioning =
        true) WHERE timestamp BETWEEN ...``, every value bound as a parameter. Files
        of other symbols and years are never opened, so a damaged one does not
        affect this read, nor does a concurrent delete of another symbol. When a
        delete removes a listed file during the read, the read lists the lake again
        and retries.
        """
        wanted = _check_fields(fields)
        load = wanted if wanted is not None else _VALUE_FIELDS
        index, order, values = self._load(symbols, start, end, load, "Lake.read")
        if wanted is None and np.isnan(values["adj_close"]).all():
            load = FIELDS
        columns = pd.Index(order, name=COLUMNS_NAME)
        panels = {f: pd.DataFrame(values[f], index=index, columns=columns) for f in load}
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
        return pd.DataFrame(values[field], index=index, columns=pd.Index(order, name=COLUMNS_NAME))

    def _load(
        self,
        symbols: str | Iterable[str] | None,
        start: Any,
        end: Any,
        fields: Sequence[str],
        func: str,
    ) -> tuple[pd.DatetimeIndex, list[str], dict[str, np.ndarray]]:
        # Query the long rows with DuckDB and scatter them into dates x symbols arrays.
        import pyarrow as pa
        import pyarrow.compute as pc

        cols = ", ".join(f'"{f}"' for f in fields)

        def query(parts: list[_Partition]) -> tuple[pa.DataType, list[str], pa.Table]:
            self._require_data(parts)
            available = sorted({p.symbol for p in parts})
            order = (
                available
                if symbols is None
                else _check_symbols(self.root, symbols, available, func)
            )
            ts_type = lake_type(self.root, parts)
            lo, hi = _bounds(start, end, ts_type.tz, func)
            # Prune the partitions here: DuckDB opens only the files it is given.
            wanted = set(order)
            files = [
                str(p.path)
                for p in parts
                if p.symbol in wanted
                and (lo is None or p.year >= lo[0])
                and (hi is None or p.year <= hi[0])
            ]
            if not files:
                empty = [pa.array([], pa.string()), pa.array([], pa.int64())]
                empty += [pa.array([], pa.float64()) for _ in fields]
                return ts_type, order, pa.table(empty, names=["symbol", "ts_us", *fields])
            sql = (
                f'SELECT symbol, epoch_us("timestamp") AS ts_us, {cols} '
                f"FROM read_parquet(?, {_HIVE_OPTIONS})"
            )
            where: list[str] = []
            params: list[Any] = [files]
            if lo is not None:
                where.append('"timestamp" >= ?')
                params.append(lo[1])
            if hi is not None:
                where.append('"timestamp" <= ?')
                params.append(hi[1])
            if where:
                sql += " WHERE " + " AND ".join(where)
            return ts_type, order, _run_query(self.root, sql, params, parts)

        ts_type, order, table = self._read_retrying(query)
        found = pc.index_in(
            table["symbol"].cast(pa.string()), value_set=pa.array(order, pa.string())
        )
        codes = found.to_numpy(zero_copy_only=False)
        ts_us = table["ts_us"].to_numpy()
        stamps, rows = np.unique(ts_us, return_inverse=True)
        values: dict[str, np.ndarray] = {}
        for f in fields:
            grid = np.full((len(stamps), len(order)), np.nan)
            grid[rows, codes] = table[f].to_numpy(zero_copy_only=False)
            values[f] = grid
        return _to_index(stamps, ts_type), order, values
