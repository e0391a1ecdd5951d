"""Private helpers of :mod:`qresearch.data.lake`: the year files of the lake (format 2).

One file per year, ``root/year=<YYYY>/data.parquet``, holds every symbol of that year in
long format, sorted by (symbol, timestamp). Its footer carries, in the Arrow schema
metadata under ``qresearch.lake``, the file's index: the symbols in file order and, per
symbol, its row count and first/last timestamp, plus the number of distinct timestamps
in the file. Readers use the index to read only the row groups of the wanted symbols
(row groups are cut on symbol boundaries) and to skip the symbol column entirely.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qresearch.data import _lake_io
from qresearch.data._lake_io import _VALUE_FIELDS, DATA_FILE, _entries, _Stale
from qresearch.exceptions import LakeError

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

INDEX_KEY = b"qresearch.lake"
FILE_COLUMNS: tuple[str, ...] = ("symbol", "timestamp", *_VALUE_FIELDS)
ROW_GROUP_ROWS = 32768
"""Target rows per row group; groups are cut on symbol boundaries (a longer block is cut
into groups of this size), so a read of a few symbols decodes little beyond them."""

_FIX = (
    "rewrite it with lake.write(data, mode='replace') for the symbols and year it held "
    "(the rows it held are then dropped), or delete that file"
)


@dataclass(frozen=True)
class YearFile:
    year: int
    path: Any  # a Path, or the key of an object in an object store (str)


@dataclass
class FileIndex:
    """The index of one year file: symbols in file order and their blocks."""

    symbols: list[str]
    counts: np.ndarray  # rows of each symbol
    first_us: np.ndarray  # first timestamp (epoch us, UTC for tz-aware) of each symbol
    last_us: np.ndarray
    n_stamps: int  # distinct timestamps in the file
    adj_counts: np.ndarray  # rows of each symbol with an adj_close

    @property
    def starts(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.counts)[:-1]]).astype(np.int64)

    @property
    def rows(self) -> int:
        return int(self.counts.sum())

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "format": 2,
                "symbols": self.symbols,
                "counts": self.counts.tolist(),
                "first_us": self.first_us.tolist(),
                "last_us": self.last_us.tolist(),
                "n_stamps": self.n_stamps,
                "adj_counts": self.adj_counts.tolist(),
            },
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> FileIndex:
        data = json.loads(raw)
        return cls(
            symbols=list(data["symbols"]),
            counts=np.asarray(data["counts"], dtype=np.int64),
            first_us=np.asarray(data["first_us"], dtype=np.int64),
            last_us=np.asarray(data["last_us"], dtype=np.int64),
            n_stamps=int(data["n_stamps"]),
            adj_counts=np.asarray(data["adj_counts"], dtype=np.int64),
        )

    @classmethod
    def build(
        cls, symbols: list[str], codes: np.ndarray, ts_us: np.ndarray, has_adj: np.ndarray
    ) -> FileIndex:
        # codes: index into `symbols` of each row, sorted; ts_us sorted within each code;
        # has_adj: whether each row has an adj_close.
        counts = np.bincount(codes, minlength=len(symbols)).astype(np.int64)
        adj = np.bincount(codes, weights=has_adj, minlength=len(symbols)).astype(np.int64)
        present = np.flatnonzero(counts)
        counts = counts[present]
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        return cls(
            symbols=[symbols[i] for i in present.tolist()],
            counts=counts,
            first_us=ts_us[starts] if len(ts_us) else np.zeros(0, np.int64),
            last_us=ts_us[starts + counts - 1] if len(ts_us) else np.zeros(0, np.int64),
            n_stamps=len(np.unique(ts_us)),
            adj_counts=adj[present],
        )


def file_schema(ts_type: pa.DataType, index: FileIndex | None = None) -> pa.Schema:
    import pyarrow as pa

    fields = [pa.field("symbol", pa.string()), pa.field("timestamp", ts_type)]
    fields += [pa.field(f, pa.float64()) for f in _VALUE_FIELDS]
    metadata = None if index is None else {INDEX_KEY: index.to_json()}
    return pa.schema(fields, metadata=metadata)


def list_files(root: Path) -> list[YearFile]:
    """Return the year files of the lake, sorted by year (a file exists iff it is data)."""
    out: list[YearFile] = []
    for entry in _entries(root) or []:
        if not entry.name.startswith("year="):
            continue
        path = Path(entry.path) / DATA_FILE
        if not path.is_file():
            continue
        try:
            year = int(entry.name[len("year=") :])
        except ValueError:
            raise LakeError(
                f"Unexpected folder {entry.path!r} in the lake: the year must be an integer. "
                "Move that folder out of the lake."
            ) from None
        out.append(YearFile(year, path))
    return sorted(out, key=lambda f: f.year)


def file_path(root: Path, year: int) -> Path:
    return root / f"year={year}" / DATA_FILE


# ---------------------------------------------------------------------- open
# Parsed indexes of local year files, keyed by the file's identity (device, inode, size,
# mtime): a writer never changes a file in place (it renames a new file over it, a new
# inode), so an identity names one version of the file.
_INDEX_CACHE: dict[tuple[Any, ...], FileIndex] = {}
_INDEX_CACHE_SIZE = 4096


def _identity(path: Any, st: os.stat_result) -> tuple[Any, ...]:
    return (str(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _remember(key: tuple[Any, ...] | None, index: FileIndex) -> None:
    if key is None:
        return
    if len(_INDEX_CACHE) >= _INDEX_CACHE_SIZE:
        _INDEX_CACHE.clear()
    _INDEX_CACHE[key] = index


def index_of(yf: YearFile, ts_type: pa.DataType | None = None, fs: Any = None) -> FileIndex:
    """Return the index of a year file (from the cache when that version was seen)."""
    if fs is None:
        try:
            key = _identity(yf.path, os.stat(yf.path))
        except FileNotFoundError as exc:
            raise _Stale(LakeError(f"The lake file {str(yf.path)!r} vanished.")) from exc
        cached = _INDEX_CACHE.get(key)
        if cached is not None:
            return cached
    opened = open_file(yf, ts_type, fs)
    opened.close()
    return opened.index


@dataclass
class OpenFile:
    """An opened year file: its reader (one handle: a consistent snapshot) and index."""

    year: int
    path: Any
    reader: pq.ParquetFile
    index: FileIndex
    ts_type: pa.DataType
    handle: Any = None  # the file object opened through an fsspec filesystem

    def close(self) -> None:
        self.reader.close()
        if self.handle is not None:
            self.handle.close()


def open_file(yf: YearFile, ts_type: pa.DataType | None = None, fs: Any = None) -> OpenFile:
    """Open a year file and check it is a lake file; LakeError names it otherwise.

    ``fs``: the fsspec filesystem of an object-store lake (None: a local path). There the
    object is fetched whole with one GET: one version of it, as a local file read through
    one open handle, even if a writer replaces it meanwhile (range reads could mix two
    versions). A file that vanished (a concurrent delete) raises :class:`_Stale`.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    handle: Any = None
    key = None
    try:
        if fs is not None:
            handle = pa.BufferReader(fs.cat_file(yf.path))
        else:
            handle = pa.OSFile(str(yf.path))
            key = _identity(yf.path, os.fstat(handle.fileno()))
        reader = pq.ParquetFile(handle)
    except FileNotFoundError as exc:
        if handle is not None:
            handle.close()
        raise _Stale(LakeError(f"The lake file {str(yf.path)!r} vanished.")) from exc
    except (pa.ArrowException, OSError) as exc:
        if handle is not None:
            handle.close()
        raise LakeError(
            f"The lake file {str(yf.path)!r} cannot be read ({exc}); it is damaged (a full "
            f"disk, a copy cut short, or a file not written by Lake.write): {_FIX}."
        ) from exc
    try:
        schema = reader.schema_arrow
        raw = (schema.metadata or {}).get(INDEX_KEY)
        found_ts = schema.field("timestamp").type if "timestamp" in schema.names else None
        expected = file_schema(found_ts if found_ts is not None else pa.timestamp("us"))
        if (
            raw is None
            or not schema.equals(expected, check_metadata=False)
            or found_ts is None
            or not pa.types.is_timestamp(found_ts)
            or found_ts.unit != "us"
        ):
            raise LakeError(
                f"The lake file {str(yf.path)!r} has the columns {schema.names} with types "
                f"{[str(t) for t in schema.types]}"
                + ("" if raw is not None else " and no lake index")
                + f"; expected {list(FILE_COLUMNS)} written by Lake.write. It was not written "
                f"by Lake.write: {_FIX}."
            )
        cached = None if key is None else _INDEX_CACHE.get(key)
        index = cached if cached is not None else FileIndex.from_json(raw)
        if index.rows != reader.metadata.num_rows:
            raise LakeError(
                f"The lake file {str(yf.path)!r} has {reader.metadata.num_rows} rows but its "
                f"index lists {index.rows}: it was not written by Lake.write: {_FIX}."
            )
    except BaseException:
        reader.close()
        if handle is not None:
            handle.close()
        raise
    if ts_type is not None and found_ts != ts_type:
        reader.close()
        if handle is not None:
            handle.close()
        raise LakeError(
            f"The lake file {str(yf.path)!r} stores {found_ts} timestamps but the lake stores "
            f"{ts_type}: it was not written by Lake.write into this lake: {_FIX}."
        )
    _remember(key, index)
    return OpenFile(yf.year, yf.path, reader, index, found_ts, handle)


def read_columns(
    of: OpenFile, columns: Sequence[str], groups: Sequence[int] | None = None
) -> pa.Table:
    """Read ``columns`` of the row ``groups`` (all when None) of an opened file."""
    import pyarrow as pa

    try:
        if groups is None:
            return of.reader.read(columns=list(columns), use_threads=True)
        return of.reader.read_row_groups(list(groups), columns=list(columns), use_threads=True)
    except (pa.ArrowException, OSError) as exc:
        raise LakeError(
            f"Reading the lake file {str(of.path)!r} failed ({exc}); it is damaged: {_FIX}."
        ) from exc


def group_starts(of: OpenFile) -> np.ndarray:
    meta = of.reader.metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


# --------------------------------------------------------------------- write
def write_rowgroups(table: pa.Table, fh: Any) -> None:
    # Write `table` with row groups cut on its symbol blocks (from its index metadata).
    import pyarrow.parquet as pq

    raw = (table.schema.metadata or {}).get(INDEX_KEY)
    counts = FileIndex.from_json(raw).counts if raw is not None else np.array([table.num_rows])
    cuts = [0]
    size = 0
    for count in counts.tolist():
        if size and size + count > ROW_GROUP_ROWS:
            cuts.append(cuts[-1] + size)
            size = 0
        size += count
        while size > ROW_GROUP_ROWS:  # a long block: groups of ROW_GROUP_ROWS rows
            cuts.append(cuts[-1] + ROW_GROUP_ROWS)
            size -= ROW_GROUP_ROWS
    if size:
        cuts.append(cuts[-1] + size)
    with pq.ParquetWriter(
        fh,
        table.schema,
        compression="snappy",
        use_dictionary=["symbol", "timestamp"],
        write_statistics=["symbol", "timestamp"],
    ) as writer:
        if table.num_rows == 0:
            writer.write_table(table)
        for lo, hi in itertools.pairwise(cuts):
            if hi > lo:
                writer.write_table(table.slice(lo, hi - lo), row_group_size=hi - lo)


def build_table(
    ts_type: pa.DataType,
    symbols: list[str],
    codes: np.ndarray,
    ts_us: np.ndarray,
    columns: dict[str, pa.Array],
) -> pa.Table:
    """Return the table of a year file: rows sorted by (symbol, timestamp), with its index."""
    import pyarrow as pa

    adj = columns["adj_close"]
    has_adj = (
        np.zeros(len(ts_us), dtype=bool)
        if adj.null_count == len(adj)
        else np.asarray(adj.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    )
    index = FileIndex.build(symbols, codes, ts_us, has_adj)
    dictionary = pa.array(symbols, pa.string())
    sym = pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), dictionary)
    arrays = [sym.dictionary_decode(), pa.array(ts_us, pa.int64()).cast(ts_type)]
    arrays += [columns[f] for f in _VALUE_FIELDS]
    return pa.Table.from_arrays(arrays, schema=file_schema(ts_type, index))


def stage(table: pa.Table, tmp: Path) -> None:
    """Write a year file to its temp path (through the patchable _lake_io hook)."""
    _lake_io._write_parquet(table, tmp)


def table_index(table: pa.Table) -> FileIndex:
    return FileIndex.from_json(table.schema.metadata[INDEX_KEY])


def table_codes(table: pa.Table, order: dict[str, int]) -> np.ndarray:
    """Per row: the position in ``order`` of the row's symbol (from the index)."""
    index = table_index(table)
    ranks = np.array([order[s] for s in index.symbols], dtype=np.int64)
    return np.repeat(ranks, index.counts)
