"""Private I/O helpers of :mod:`qresearch.data.lake`: arguments, rows, staging, rollback.

Also the listing of the format-1 layout (``symbol=<enc>/year=<YYYY>/data.parquet``),
which the lake still reads and :meth:`Lake.migrate` converts.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

import numpy as np
import pandas as pd

from qresearch._validation import INDEX_NAME, _preview, to_timestamp
from qresearch.data.bars import FIELDS, OPTIONAL_FIELDS, Bars
from qresearch.exceptions import LakeError, PanelError, ParameterError

if TYPE_CHECKING:
    import pyarrow as pa


DATA_FILE = "data.parquet"
COLUMNS: tuple[str, ...] = ("timestamp", *FIELDS, *OPTIONAL_FIELDS)
"""The columns of every partition file, in order."""
SUMMARY_COLUMNS: tuple[str, ...] = ("symbol", "year", "rows_written", "rows_before", "rows_after")
"""The columns of the summary returned by :meth:`Lake.write`."""

_VALUE_FIELDS: tuple[str, ...] = COLUMNS[1:]


def encode_symbol(symbol: str) -> str:
    """Return the folder-safe form of ``symbol`` (percent-encoding of unsafe bytes).

    Examples
    --------
    >>> encode_symbol("BTC/USDT"), encode_symbol("BRK.B"), encode_symbol("ES=F")
    ('BTC%2FUSDT', 'BRK.B', 'ES%3DF')
    >>> decode_symbol(encode_symbol("日本 %"))
    '日本 %'
    """
    return quote(symbol, safe="")


def decode_symbol(name: str) -> str:
    """Invert :func:`encode_symbol`."""
    return unquote(name)


@dataclass(frozen=True)
class _Partition:
    symbol: str
    year: int
    path: Path


class _Stale(Exception):
    # A read met a lake changed under it: a file it listed was removed (concurrent delete).
    def __init__(self, error: LakeError) -> None:
        super().__init__(str(error))
        self.error = error


def _entries(folder: str | Path) -> list[os.DirEntry[str]] | None:
    # The entries of a lake folder; None when it vanished (a concurrent delete or vacuum).
    try:
        with os.scandir(folder) as it:
            return list(it)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise LakeError(
            f"Cannot list the lake folder {str(folder)!r} ({exc.strerror or exc}). "
            "Make it readable (e.g. chmod -R u+rX) or use another root."
        ) from exc


def _list_partitions(root: Path) -> list[_Partition]:
    # Walk the tree: a partition exists iff its data.parquet exists. A folder that
    # vanishes while we walk (a concurrent delete or vacuum) is skipped.
    parts: list[_Partition] = []
    for sym_entry in _entries(root) or []:
        if not (sym_entry.name.startswith("symbol=") and sym_entry.is_dir()):
            continue
        symbol = decode_symbol(sym_entry.name[len("symbol=") :])
        for year_entry in _entries(sym_entry.path) or []:
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


def _unknown_symbols(
    root: Path | str, missing: Sequence[Any], available: Sequence[str]
) -> LakeError:
    return LakeError(
        f"Unknown symbols {_preview(missing)} in the lake at {str(root)!r}. "
        f"Available: {_preview(available, 25)}. Write them first with lake.write(...)."
    )


def _check_symbols(
    root: Path | str, symbols: str | Iterable[str], available: list[str], func: str
) -> list[str]:
    # Validate the `symbols` argument of a read against the symbols in the lake.
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
            f"The 'symbols' parameter of {func} repeats {_preview(dupes)}; list each symbol once."
        )
    known = set(available)
    missing = [s for s in req if s not in known]
    if missing:
        raise _unknown_symbols(root, missing, available)
    return req


@dataclass(frozen=True)
class _Rows:
    # The rows to write, sorted by year, then symbol, then timestamp; all-NaN rows dropped.
    symbols: list[str]  # the symbols of the data, sorted
    codes: np.ndarray  # position in `symbols` of each row
    ts_us: np.ndarray  # int64 epoch microseconds (UTC instants for tz-aware data)
    years: np.ndarray  # calendar year of each row (in the data's zone)
    values: dict[str, np.ndarray]  # float64 values of each field present
    ts_type: pa.DataType  # timestamp[us] or timestamp[us, tz=...]


def _rows_to_write(data: Bars | pd.DataFrame) -> _Rows:
    # Validate the input (long frames through Bars.from_long) and flatten it to rows.
    import pyarrow as pa

    if isinstance(data, pd.DataFrame):
        if "symbol" in data.columns:
            # Check the distinct symbols before pivoting, to name the first bad row.
            for symbol in pd.unique(data["symbol"]).tolist():
                if not isinstance(symbol, str) or not symbol:
                    row = int(np.flatnonzero(data["symbol"].isin([symbol]).to_numpy())[0])
                    raise PanelError(
                        f"data has the symbol {symbol!r} ({type(symbol).__name__}) at row {row}; "
                        "lake symbols must be non-empty strings. Fix or drop those rows."
                    )
        bars = Bars.from_long(data)
    elif isinstance(data, Bars):
        bars = data
    else:
        raise ParameterError(
            "The 'data' parameter of Lake.write must be Bars or a long DataFrame "
            f"(columns timestamp, symbol, open, high, low, close, volume); got "
            f"{type(data).__name__}."
        )
    names = list(bars.symbols)  # a property that rebuilds the list: call it once
    for symbol in names:
        if not isinstance(symbol, str) or not symbol:
            raise PanelError(
                f"data has the symbol {symbol!r} ({type(symbol).__name__}); lake symbols must "
                "be non-empty strings. Rename it, e.g. with str(symbol)."
            )
    index = bars.index
    try:
        ts_arrow = pa.array(index)
        ts_type = pa.timestamp("us", tz=ts_arrow.type.tz)
        index_us = ts_arrow.cast(ts_type, safe=True).cast(pa.int64()).to_numpy()
    except pa.ArrowInvalid as exc:
        first = index[0] if len(index) else None
        raise PanelError(
            f"data has timestamps with sub-microsecond precision (e.g. {first}); "
            "the lake stores microseconds. Round them first, e.g. "
            "long['timestamp'] = long['timestamp'].dt.round('us')."
        ) from exc
    # Year-major, then symbol (sorted), then timestamp: the order of the year files.
    order = sorted(range(len(names)), key=names.__getitem__)
    symbols = [names[i] for i in order]
    n_sym = len(symbols)
    index_years = np.asarray(index.year, dtype=np.int64)
    cuts = np.flatnonzero(index_years[1:] != index_years[:-1]) + 1
    runs = list(
        zip(
            np.concatenate([[0], cuts]).tolist(),
            np.concatenate([cuts, [len(index)]]).tolist(),
            strict=True,
        )
    )
    if not len(index):
        runs = []
    identity = order == list(range(n_sym))
    flat: dict[str, np.ndarray] = {}
    for f in bars.fields:
        arr = getattr(bars, f).to_numpy(np.float64)
        if not identity:
            arr = arr[:, order]
        # Symbol-major within each year: the transpose of each year's block, raveled.
        out = np.empty(len(index) * n_sym)
        for lo, hi in runs:
            out[lo * n_sym : hi * n_sym].reshape(n_sym, hi - lo)[:] = arr[lo:hi].T
        flat[f] = out
    present = np.zeros(len(index) * n_sym, dtype=bool)
    for values in flat.values():
        present |= ~np.isnan(values)
    row_of = np.concatenate(
        [np.tile(np.arange(lo, hi), n_sym) for lo, hi in runs] or [np.zeros(0, np.int64)]
    )
    codes = np.concatenate(
        [np.repeat(np.arange(n_sym), hi - lo) for lo, hi in runs] or [np.zeros(0, np.int64)]
    )
    if not present.all():  # drop the all-NaN rows (symbol not listed)
        keep = np.flatnonzero(present)
        row_of, codes = row_of[keep], codes[keep]
        flat = {f: v[keep] for f, v in flat.items()}
    return _Rows(
        symbols=symbols,
        codes=codes,
        ts_us=index_us[row_of],
        years=index_years[row_of],
        values=flat,
        ts_type=ts_type,
    )


def _tmp_name(final_name: str = DATA_FILE) -> str:
    # Hidden temp name beside `final_name`, carrying the writer's pid so that a later
    # sweep can tell the files of a dead writer (see _lake_lock.sweep).
    return f".{final_name}.tmp-{os.getpid()}-{uuid.uuid4().hex}"


def _check_fields(fields: Iterable[str] | None) -> tuple[str, ...] | None:
    # Validate Lake.read(fields=...); None means "OHLCV + adj_close when stored".
    if fields is None:
        return None
    if isinstance(fields, str):
        raise ParameterError(
            f"The 'fields' parameter of Lake.read must be a list of fields; got the str "
            f"{fields!r}. For one field use lake.read_panel({fields!r}, ...)."
        )
    wanted = list(fields)
    unknown = [f for f in wanted if f not in _VALUE_FIELDS]
    if unknown:
        raise ParameterError(
            f"The 'fields' parameter of Lake.read has unknown fields {unknown}; "
            f"valid fields are {list(_VALUE_FIELDS)}."
        )
    if len(set(wanted)) != len(wanted):
        raise ParameterError(f"The 'fields' parameter of Lake.read repeats a field: {wanted}.")
    lacking = [f for f in FIELDS if f not in wanted]
    if lacking:
        raise ParameterError(
            f"Lake.read returns Bars, which need all of {list(FIELDS)}; fields={wanted} lacks "
            f"{lacking}. For a single field use lake.read_panel('close', ...)."
        )
    return tuple(f for f in _VALUE_FIELDS if f in wanted)


def _bounds(
    start: Any, end: Any, tz: str | None, func: str
) -> tuple[tuple[int, Any] | None, tuple[int, Any] | None]:
    # (year, datetime) query parameters for the inclusive start and end bounds.
    out: list[tuple[int, Any] | None] = []
    for name, value, rounding in (("start", start, "ceil"), ("end", end, "floor")):
        ts = to_timestamp(value, name, tz)
        if ts is None:
            out.append(None)
            continue
        if tz is None:
            ts = getattr(ts, rounding)("us")
            out.append((ts.year, ts.to_pydatetime()))
        else:
            utc = getattr(ts.tz_convert("UTC"), rounding)("us")
            out.append((utc.tz_convert(tz).year, utc.to_pydatetime()))
    lo, hi = out
    if lo is not None and hi is not None and lo[1] > hi[1]:
        raise ParameterError(
            f"The 'start' parameter of {func} ({start}) is after 'end' ({end}); swap them."
        )
    return lo, hi


def _timestamp_type(path: Path) -> pa.DataType:
    # The lake's timestamp type, from one file's Arrow schema (all files share it).
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
        return schema.field("timestamp").type
    except (pa.ArrowException, OSError, KeyError) as exc:
        raise LakeError(
            f"Cannot read the schema of {str(path)!r} ({exc}). Delete that partition "
            "folder and write its data again."
        ) from exc


def _describe(ts_type: pa.DataType) -> str:
    tz = getattr(ts_type, "tz", None)
    return "tz-naive (UTC by convention)" if tz is None else f"tz-aware ({tz})"


def _to_index(epoch_us: np.ndarray, ts_type: pa.DataType) -> pd.DatetimeIndex:
    # int64 microseconds (UTC for tz-aware lakes) -> DatetimeIndex named timestamp.
    import pyarrow as pa

    arr = pa.array(np.asarray(epoch_us, dtype=np.int64), pa.int64()).cast(ts_type)
    return pd.DatetimeIndex(arr.to_pandas(), name=INDEX_NAME)


def _read_partition(path: Path, schema: pa.Schema) -> pa.Table:
    # Read a stored partition and check it has the lake schema.
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        old = pq.ParquetFile(path).read()
    except (pa.ArrowException, OSError) as exc:
        raise LakeError(
            f"The partition {str(path)!r} cannot be read ({exc}); it is damaged (a full disk, "
            "a copy cut short, or a file not written by Lake.write). Rewrite it whole with "
            "lake.write(data, mode='replace') for that symbol and year, or remove the symbol "
            "with lake.delete(symbol)."
        ) from exc
    if not old.schema.equals(schema, check_metadata=False):
        raise LakeError(
            f"The partition {str(path)!r} has the schema {old.schema.types} for columns "
            f"{old.schema.names}; expected {schema.names} with types {schema.types}. "
            "It was not written by Lake.write: rewrite it with lake.write(data, mode='replace') "
            "for that symbol and year, or delete that folder and write it again."
        )
    return old


def _write_parquet(table: pa.Table, path: Path) -> None:
    # Write one lake file (row groups cut on its symbol blocks, see _lake_files) and flush
    # it to disk before it can be renamed. Tests patch this hook to simulate crashes.
    from qresearch.data._lake_files import write_rowgroups

    with open(path, "wb") as fh:
        write_rowgroups(table, fh)
        fh.flush()
        os.fsync(fh.fileno())


def _makedirs(folder: Path) -> list[Path]:
    # Create `folder` and its missing parents; return the ones created, top-down.
    missing: list[Path] = []
    current = folder
    while not current.exists():
        missing.append(current)
        current = current.parent
    created: list[Path] = []
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:
            continue
        created.append(path)
    return created


def _rollback(tmp_files: list[Path], created: list[Path]) -> None:
    # Remove staged files, then the folders this write created (deepest first, if empty).
    for tmp in tmp_files:
        tmp.unlink(missing_ok=True)
    for folder in reversed(created):
        with contextlib.suppress(OSError):
            folder.rmdir()


def _summary(rows: list[tuple[str, int, int, int, int]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    frame = frame.astype({c: np.int64 for c in SUMMARY_COLUMNS[1:]})
    return frame.sort_values(["symbol", "year"], kind="stable").reset_index(drop=True)
