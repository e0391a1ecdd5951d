"""The data lake: hive-partitioned Parquet files, written atomically, read through DuckDB.

Layout (the directory tree is the only truth; there is no manifest to keep in sync)::

    root/symbol=<encoded symbol>/year=<YYYY>/data.parquet

- One file per (symbol, year), columns ``timestamp, open, high, low, close, volume,
  adj_close`` in that order. Every file has all seven columns, so DuckDB binds one
  schema and skips pruned partitions without reading them; ``adj_close`` is null
  where the data had none, and other missing values (NaN) are stored as null too.
  Prices and volume are float64; rows are sorted by timestamp, unique within a file.
- ``timestamp`` is ``timestamp[us]``. Tz-naive data (UTC by convention) is stored
  naive; tz-aware data is stored as UTC instants with the zone name in the Arrow
  schema (``timestamp[us, tz=America/New_York]``) and read back in that zone. One
  lake holds one convention: writing naive data into a tz-aware lake (or another
  zone) raises :class:`LakeError`. ``year`` is the calendar year of the timestamp in
  that zone (the naive year for naive data).
- Symbols are percent-encoded in the folder name with :func:`encode_symbol`
  (``urllib.parse.quote(symbol, safe="")``): letters, digits and ``_.-~`` stay as
  they are, every other byte of the UTF-8 encoding becomes ``%XX``, so
  ``"BTC/USDT"`` lives in ``symbol=BTC%2FUSDT``. DuckDB (and pyarrow, Spark) decode
  hive values the same way. Symbols are case-sensitive; on a case-insensitive file
  system (macOS, Windows) two symbols that differ only by case share a folder.

Writes stage every new partition file as ``.data.parquet.tmp-<uuid>`` beside its
target (a name DuckDB's ``data.parquet`` glob never matches), fsync it, and only
when all are staged ``os.replace`` them into place. On any error the staged files
and the folders the write created are removed and the error is re-raised, so the
lake is unchanged. Each partition is replaced atomically; a failure *during* the
final renames (rare: only the renames remain) can leave some partitions new and
some old, which :meth:`Lake.write` reports; re-running the same write fixes it
because writes are idempotent (an upsert that changes nothing rewrites nothing).
Use one writer at a time: concurrent upserts of the same partition can lose one of
the updates. A process killed while staging can leave hidden
``.data.parquet.tmp-*`` files; readers ignore them and they can be deleted.

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
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from qresearch._validation import COLUMNS_NAME, _preview, check_choice
from qresearch.data._lake_io import (
    _VALUE_FIELDS,
    COLUMNS,
    DATA_FILE,
    SUMMARY_COLUMNS,
    _bounds,
    _check_fields,
    _describe,
    _Job,
    _makedirs,
    _rollback,
    _rows_to_write,
    _stage,
    _summary,
    _timestamp_type,
    _tmp_name,
    _to_index,
    decode_symbol,
    encode_symbol,
)
from qresearch.data.bars import FIELDS, Bars
from qresearch.exceptions import LakeError, PanelError, ParameterError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["COLUMNS", "DATA_FILE", "SUMMARY_COLUMNS", "Lake", "decode_symbol", "encode_symbol"]

_TRASH_PREFIX = ".deleting-"
_GLOB_CHARS = frozenset("*?[]{}")
_HIVE_OPTIONS = "hive_partitioning = true, hive_types = {'symbol': VARCHAR, 'year': BIGINT}"


@dataclass(frozen=True)
class _Partition:
    symbol: str
    year: int
    path: Path


class Lake:
    """A folder of hive-partitioned Parquet bars (``symbol=/year=``), read with DuckDB.

    Parameters
    ----------
    root : str or os.PathLike
        The lake folder. It is created by the first :meth:`write`; constructing a
        ``Lake`` writes nothing.

    Raises
    ------
    LakeError
        When ``root`` exists but is not a folder, or contains a glob character
        (``* ? [ ] { }``), which DuckDB would expand.

    Notes
    -----
    See the module docstring for the file layout, symbol encoding, time zones and
    the atomicity guarantees.

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

    def __init__(self, root: str | os.PathLike[str]) -> None:
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
        self.root = path
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

    def _glob(self) -> str:
        return str(self.root / "symbol=*" / "year=*" / DATA_FILE)

    def _partitions(self) -> list[_Partition]:
        # Walk the tree: a partition exists iff its data.parquet exists.
        self._check_root()
        if not self.root.is_dir():
            return []
        parts: list[_Partition] = []
        for sym_entry in os.scandir(self.root):
            if not (sym_entry.name.startswith("symbol=") and sym_entry.is_dir()):
                continue
            symbol = decode_symbol(sym_entry.name[len("symbol=") :])
            for year_entry in os.scandir(sym_entry.path):
                path = Path(year_entry.path) / DATA_FILE
                if not (year_entry.name.startswith("year=") and path.is_file()):
                    continue
                try:
                    year = int(year_entry.name[len("year=") :])
                except ValueError:
                    raise LakeError(
                        f"Unexpected partition folder {year_entry.path!r} in the lake: the year "
                        "must be an integer. Move that folder out of the lake."
                    ) from None
                parts.append(_Partition(symbol, year, path))
        return sorted(parts, key=lambda p: (p.symbol, p.year))

    def _require_data(self, parts: list[_Partition]) -> None:
        if not parts:
            raise LakeError(
                f"The lake at {str(self.root)!r} is empty (no symbol=*/year=*/{DATA_FILE} "
                f"files). Fill it with lake.write(bars) or `qresearch ingest FILES --lake "
                f"{self.root}`."
            )

    def _unknown_symbols(self, missing: Sequence[Any], available: Sequence[str]) -> LakeError:
        return LakeError(
            f"Unknown symbols {_preview(missing)} in the lake at {str(self.root)!r}. "
            f"Available: {_preview(available, 25)}. Write them first with lake.write(...)."
        )

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
        parts = self._partitions()
        self._require_data(parts)
        ts_type = _timestamp_type(parts[0].path)
        sql = (
            'SELECT symbol, epoch_us(min("timestamp")) AS first_us, '
            'epoch_us(max("timestamp")) AS last_us, count(*) AS n_rows, '
            f"count(DISTINCT year) AS n_years FROM read_parquet(?, {_HIVE_OPTIONS}) "
            "GROUP BY symbol"
        )
        table = self._execute(sql, [self._glob()])
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
            ``rows_after`` (rows in the partition file before and after).
            Empty when ``data`` has no rows to write.

        Raises
        ------
        ParameterError
            For an unknown ``mode`` or a ``data`` that is not Bars or a DataFrame.
        PanelError
            When a symbol is not a non-empty string, a long frame is malformed, or
            a timestamp has sub-microsecond precision.
        LakeError
            When the time zone of ``data`` differs from the lake's, a stored file has
            an unexpected schema, or the final renames fail part way.

        Notes
        -----
        On any error before the final renames, every staged file and every folder
        created by this call is removed and the error re-raised: the lake is as
        before.
        """
        check_choice("mode", mode, ["upsert", "replace"], "Lake.write")
        import pyarrow as pa

        rows = _rows_to_write(data)
        if not len(rows.codes):
            return _summary([])
        self._check_root()
        try:
            ts_arrow = pa.array(rows.stamps)
            ts_type = pa.timestamp("us", tz=ts_arrow.type.tz)
            ts_arrow = ts_arrow.cast(ts_type, safe=True)
        except pa.ArrowInvalid as exc:
            raise PanelError(
                f"data has timestamps with sub-microsecond precision (e.g. {rows.stamps[0]}); "
                "the lake stores microseconds. Round them first, e.g. "
                "long['timestamp'] = long['timestamp'].dt.round('us')."
            ) from exc
        existing = self._partitions()
        if existing:
            lake_type = _timestamp_type(existing[0].path)
            if lake_type != ts_type:
                raise LakeError(
                    f"data timestamps are {_describe(ts_type)} but the lake at "
                    f"{str(self.root)!r} stores {_describe(lake_type)}. Convert them first: "
                    "long = bars.to_long(); long['timestamp'] = "
                    "long['timestamp'].dt.tz_convert(...) (or .dt.tz_localize(...)); "
                    "then lake.write(long)."
                )
        schema = pa.schema(
            [pa.field("timestamp", ts_type)] + [pa.field(f, pa.float64()) for f in _VALUE_FIELDS]
        )
        columns = [ts_arrow]
        for f in _VALUE_FIELDS:
            values = rows.values.get(f)
            if values is None:
                values = np.full(len(rows.codes), np.nan)
            columns.append(pa.array(values, pa.float64(), from_pandas=True))
        table = pa.Table.from_arrays(columns, schema=schema)
        ts_us = ts_arrow.cast(pa.int64()).to_numpy()

        # Rows are sorted by symbol, then timestamp, so each (symbol, year) is one run.
        years = np.asarray(rows.stamps.year, dtype=np.int64)
        codes = rows.codes
        cuts = np.flatnonzero((codes[1:] != codes[:-1]) | (years[1:] != years[:-1])) + 1
        bounds = zip(
            np.concatenate([[0], cuts]).tolist(),
            np.concatenate([cuts, [len(codes)]]).tolist(),
            strict=True,
        )
        jobs: list[_Job] = []
        for lo, hi in bounds:
            symbol, year = rows.symbols[codes[lo]], int(years[lo])
            folder = self.root / f"symbol={encode_symbol(symbol)}" / f"year={year}"
            jobs.append(
                _Job(symbol, year, lo, hi, folder / DATA_FILE, folder / _tmp_name(), table, ts_us)
            )

        created: list[Path] = []
        try:
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
        except BaseException as exc:
            _rollback([job.tmp for job in jobs], created)
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

        The symbol folder is first renamed to a hidden name (atomic: readers see the
        symbol entirely or not at all), then removed.

        Raises
        ------
        LakeError
            When ``symbol`` is not in the lake; the message lists the symbols.
        """
        if not isinstance(symbol, str):
            raise ParameterError(
                f"The 'symbol' parameter of Lake.delete must be a str; got {type(symbol).__name__}."
            )
        self._check_root()
        folder = self.root / f"symbol={encode_symbol(symbol)}"
        if not folder.is_dir():
            raise self._unknown_symbols([symbol], self.symbols())
        trash = self.root / f"{_TRASH_PREFIX}{uuid.uuid4().hex}-{folder.name}"
        os.replace(folder, trash)
        shutil.rmtree(trash)

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
        The query is ``read_parquet(..., hive_partitioning = true)`` with
        ``WHERE symbol IN (...) AND year BETWEEN ... AND timestamp BETWEEN ...``,
        every value bound as a parameter. DuckDB skips the files of other
        symbols and years without reading them (it opens only the first file of
        the lake, to bind the schema).
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

        parts = self._partitions()
        self._require_data(parts)
        available = sorted({p.symbol for p in parts})
        order = available if symbols is None else self._check_symbols(symbols, available, func)
        ts_type = _timestamp_type(parts[0].path)
        lo, hi = _bounds(start, end, ts_type.tz, func)

        cols = ", ".join(f'"{f}"' for f in fields)
        sql = (
            f'SELECT symbol, epoch_us("timestamp") AS ts_us, {cols} '
            f"FROM read_parquet(?, {_HIVE_OPTIONS})"
        )
        where: list[str] = []
        params: list[Any] = [self._glob()]
        if symbols is not None:
            where.append(f"symbol IN ({', '.join('?' for _ in order)})")
            params.extend(order)
        if lo is not None:
            where.append('year >= ? AND "timestamp" >= ?')
            params.extend(lo)
        if hi is not None:
            where.append('year <= ? AND "timestamp" <= ?')
            params.extend(hi)
        if where:
            sql += " WHERE " + " AND ".join(where)
        table = self._execute(sql, params)

        found = pc.index_in(
            table["symbol"].cast(pa.string()), value_set=pa.array(order, pa.string())
        )
        if found.null_count:  # a symbol written after the listing above: not requested
            table, found = table.filter(found.is_valid()), found.drop_null()
        codes = found.to_numpy(zero_copy_only=False)
        ts_us = table["ts_us"].to_numpy()
        stamps, rows = np.unique(ts_us, return_inverse=True)
        values: dict[str, np.ndarray] = {}
        for f in fields:
            grid = np.full((len(stamps), len(order)), np.nan)
            grid[rows, codes] = table[f].to_numpy(zero_copy_only=False)
            values[f] = grid
        return _to_index(stamps, ts_type), order, values

    def _check_symbols(
        self, symbols: str | Iterable[str], available: list[str], func: str
    ) -> list[str]:
        if isinstance(symbols, str):
            symbols = [symbols]
        try:
            req = list(symbols)
        except TypeError:
            raise ParameterError(
                f"The 'symbols' parameter of {func} must be a str, a list of str or None; "
                f"got {type(symbols).__name__}."
            ) from None
        if not req:
            raise ParameterError(
                f"The 'symbols' parameter of {func} is empty; pass at least one symbol, "
                "or None for all."
            )
        dupes = sorted({s for s in req if req.count(s) > 1}, key=str)
        if dupes:
            raise ParameterError(
                f"The 'symbols' parameter of {func} repeats {_preview(dupes)}; "
                "list each symbol once."
            )
        known = set(available)
        missing = [s for s in req if s not in known]
        if missing:
            raise self._unknown_symbols(missing, available)
        return req

    def _execute(self, sql: str, params: list[Any]) -> pa.Table:
        import duckdb

        try:
            with duckdb.connect() as con:
                relation = con.sql(sql, params=params)
                # duckdb >= 1.4 names it to_arrow_table; older releases fetch_arrow_table.
                fetch = getattr(relation, "to_arrow_table", None) or relation.fetch_arrow_table
                return fetch()
        except duckdb.Error as exc:
            raise LakeError(
                f"Reading the lake at {str(self.root)!r} failed: {exc}. A partition file may "
                "be damaged or not written by Lake.write; delete that symbol with "
                "lake.delete(symbol) and write it again."
            ) from exc
