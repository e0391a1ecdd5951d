"""Read bar files (Yahoo-style CSV, long CSV or Parquet) and ingest them into the lake.

``read_yahoo_csv`` and ``read_long`` return :class:`~qresearch.data.Bars` and raise
:class:`IngestError` naming the file and the place of the first problem: for CSV the
1-based line, counting the header as line 1 (the first data row is line 2); for
Parquet the 0-based row (``df.iloc[row]``). Files may be compressed (``.gz``,
``.bz2``, ``.zip``, ``.xz``, ``.zst``; inferred from the name).

Values: a cell that is empty or one of ``null``, ``nan``, ``na``, ``n/a``, ``none``
(any case) is missing (NaN). A row whose fields are all missing (Yahoo writes
``null`` rows for days without data) is not a bar: it is dropped, and the count is
reported with a :class:`DataQualityWarning`, as are rows with only some fields
missing (kept, as NaN). Blank lines are skipped. Dates must be ISO 8601
(``2014-12-31``, ``2014-12-31 16:00:00-05:00``); rows may come in any order.
Every date needs a day: a year or a month alone (``2020``, ``2020-01``) is refused.
A file's dates either all carry a UTC offset or none does: mixing the two is
refused (different offsets, as across a DST change, are converted to UTC).

The symbol of a Yahoo file comes from its name when ``symbol`` is not given: the
name must match :data:`SYMBOL_FILE_NAME` (letters, digits and ``. ^ = _ -``), and
the symbol is the part before its first ``-``, ``_`` or ``.``, upper-cased
(``orcl-1995-2014.csv.gz`` -> ``ORCL``, ``^GSPC.csv`` -> ``^GSPC``). Any other name
(``AAPL data.csv``) is refused: rename the file or pass ``symbol=``.

:func:`ingest` reads each file, validates it with
:func:`qresearch.data.validate.validate_bars` and writes it with
:meth:`Lake.write`, one file at a time: each file's write is atomic, so a bad file
leaves nothing of itself in the lake.
"""

from __future__ import annotations

import os
import re
import warnings
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from qresearch._validation import _preview, check_choice
from qresearch.data.bars import FIELDS, OPTIONAL_FIELDS, Bars
from qresearch.data.lake import Lake
from qresearch.exceptions import (
    DataQualityWarning,
    DataValidationError,
    IngestError,
    LakeError,
    ParameterError,
)

__all__ = [
    "LONG_COLUMNS",
    "MISSING_TOKENS",
    "SYMBOL_FILE_NAME",
    "YAHOO_COLUMNS",
    "ingest",
    "read_long",
    "read_yahoo_csv",
]

YAHOO_COLUMNS: tuple[str, ...] = ("Date", "Open", "High", "Low", "Close", "Adj Close", "Volume")
"""Columns of a Yahoo CSV; ``Adj Close`` is optional."""
LONG_COLUMNS: tuple[str, ...] = ("timestamp", "symbol", *FIELDS, *OPTIONAL_FIELDS)
"""Columns of a long file; ``adj_close`` is optional."""
MISSING_TOKENS = frozenset({"", "null", "nan", "na", "n/a", "none"})
"""Cell texts read as a missing value (compared after strip and lower-casing)."""
SYMBOL_FILE_NAME = re.compile(r"^[A-Za-z0-9.^=_-]+$")
"""File names a symbol may be taken from (the part before the first ``-``, ``_``
or ``.``, upper-cased); other names need ``symbol=``."""

# A date with a year, or a year and a month, only ("2020", "2020-01", "2020/01").
_PARTIAL_DATE = re.compile(r"^[+-]?\d{4}(?:[-/]\d{1,2})?$")
# A time followed by a UTC offset or Z ("T09:30:00-05:00", " 09:30+0530", "T09:30Z").
_UTC_OFFSET = re.compile(
    r"[T ]\d{1,2}(?::?\d{2}){0,2}(?:[.,]\d+)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$", re.IGNORECASE
)

_YAHOO_MAP = {"date": "timestamp", **{f: f for f in (*FIELDS, *OPTIONAL_FIELDS)}}
_LONG_MAP = {c: c for c in LONG_COLUMNS}
_PARQUET_SUFFIXES = (".parquet", ".pq")
_SUMMARY_COLUMNS = ("file", "format", "symbols", "rows", "first", "last", "partitions")

Locate = Callable[[int], str]
Fail = Callable[[int, str], IngestError]


def read_yahoo_csv(path: str | os.PathLike[str], symbol: str | None = None) -> Bars:
    """Read a Yahoo Finance style daily CSV into Bars of one symbol.

    Parameters
    ----------
    path : str or os.PathLike
        A CSV (optionally compressed, e.g. ``.csv.gz``) with the header
        ``Date,Open,High,Low,Close,Adj Close,Volume`` (names matched ignoring case,
        spaces and underscores; ``Adj Close`` optional; other columns ignored).
    symbol : str, optional
        The symbol. By default the file name up to its first ``-``, ``_`` or ``.``,
        upper-cased: ``orcl-1995-2014.csv`` -> ``"ORCL"``, ``spy_daily.csv.gz`` ->
        ``"SPY"``; the name must then match :data:`SYMBOL_FILE_NAME` (letters,
        digits and ``. ^ = _ -``; no spaces). Pass it for other names and for
        tickers that contain those characters (``BRK-B``).

    Returns
    -------
    Bars
        Tz-naive daily bars, sorted by date, with ``adj_close`` when the file has it.

    Raises
    ------
    IngestError
        When the file is missing, empty or not CSV; a required column is missing;
        a date is missing, unparseable, partial (``2020-01``) or repeated; dates
        with and without a UTC offset are mixed; a value is not a number; no bar
        remains; or ``symbol`` is not given and the file name does not match
        :data:`SYMBOL_FILE_NAME`. The message names the file and the line.
    ParameterError
        When ``symbol`` is given but is not a non-empty str.

    Warns
    -----
    DataQualityWarning
        When rows are dropped because every value is missing (``null``), or kept
        with some values missing; the message gives the counts and first lines.

    Examples
    --------
    >>> from importlib.resources import as_file
    >>> from qresearch.datasets import sample_path
    >>> with as_file(sample_path("nvda-1999-2014.csv.gz")) as path:
    ...     bars = read_yahoo_csv(path)
    >>> bars.symbols, len(bars), bars.fields
    (['NVDA'], 4012, ['open', 'high', 'low', 'close', 'volume', 'adj_close'])
    """
    file = _check_file(path)
    if symbol is None:
        symbol = _symbol_from_filename(file)
    elif not isinstance(symbol, str) or not symbol.strip():
        raise ParameterError(
            f"The 'symbol' parameter of read_yahoo_csv must be a non-empty str; got {symbol!r}."
        )
    raw = _read_csv(file)
    long = _parse(raw, file, _YAHOO_MAP, list(YAHOO_COLUMNS), _csv_line, symbol=symbol)
    return Bars.from_long(long)


def read_long(path: str | os.PathLike[str]) -> Bars:
    r"""Read a long bar file (CSV or Parquet), one row per (timestamp, symbol).

    Parameters
    ----------
    path : str or os.PathLike
        ``.parquet``/``.pq`` files are read as Parquet, anything else as CSV
        (optionally compressed). Columns ``timestamp, symbol, open, high, low,
        close, volume`` and optionally ``adj_close``; other columns are ignored.

    Returns
    -------
    Bars
        Symbols in order of first appearance, timestamps sorted; tz-aware when
        the timestamps carry an offset (converted to UTC if offsets differ).

    Raises
    ------
    IngestError
        As :func:`read_yahoo_csv`, plus a missing symbol or a repeated
        (timestamp, symbol) pair; the message names the file and the CSV line or
        the Parquet row.

    Warns
    -----
    DataQualityWarning
        As :func:`read_yahoo_csv`.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = Path(tmp) / "bars.csv"
    ...     _ = path.write_text(
    ...         "timestamp,symbol,open,high,low,close,volume\n"
    ...         "2024-01-02,BTC/USDT,42000,43000,41500,42500,1200\n"
    ...         "2024-01-02,ETH/USDT,2300,2400,2250,2350,9000\n"
    ...         "2024-01-03,BTC/USDT,42500,42800,40000,41000,1500\n")
    ...     bars = read_long(path)
    >>> bars.symbols, bars.close["ETH/USDT"].tolist()
    (['BTC/USDT', 'ETH/USDT'], [2350.0, nan])
    """
    file = _check_file(path)
    if _is_parquet(file):
        try:
            raw = pd.read_parquet(file)
        except Exception as exc:  # pyarrow raises several unrelated types here
            raise IngestError(f"{file} is not a readable Parquet file: {exc}") from exc
        raw = raw.reset_index(drop=True)
        long = _parse(raw, file, _LONG_MAP, list(LONG_COLUMNS), _parquet_row)
    else:
        long = _parse(_read_csv(file), file, _LONG_MAP, list(LONG_COLUMNS), _csv_line)
    return Bars.from_long(long)


def ingest(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    lake: Lake | str | os.PathLike[str],
    *,
    format: Literal["auto", "yahoo", "long"] = "auto",
    mode: Literal["upsert", "replace"] = "upsert",
    validate: bool = True,
) -> pd.DataFrame:
    """Read, validate and write files into a lake, one atomic write per file.

    Parameters
    ----------
    paths : path or list of paths
        The files, processed in the order given (a later file wins on the same
        timestamp under ``mode="upsert"``).
    lake : Lake or path
        The target lake (a path is opened with :class:`Lake`).
    format : {"auto", "yahoo", "long"}, default "auto"
        ``"auto"`` reads Parquet files as long and tells CSVs apart by the header:
        ``timestamp`` and ``symbol`` -> long, ``Date`` -> Yahoo.
    mode : {"upsert", "replace"}, default "upsert"
        Passed to :meth:`Lake.write`.
    validate : bool, default True
        Check each file's bars with :func:`qresearch.data.validate.validate_bars`
        before writing; a file with problems is not written.

    Returns
    -------
    pandas.DataFrame
        One row per file: ``file, format, symbols`` (comma-separated), ``rows``
        (bars written), ``first, last`` (timestamps) and ``partitions`` (partition
        files touched).

    Raises
    ------
    IngestError
        When a file is missing or malformed (see :func:`read_yahoo_csv`), or the
        name of a Yahoo file gives no symbol (see :data:`SYMBOL_FILE_NAME`; rename
        such a file, e.g. ``AAPL data.csv`` to ``AAPL_data.csv``).
    DataValidationError
        When validation finds a problem; the message names the file and the
        exception's ``report`` lists every problem.
    LakeError
        When the lake cannot be written (e.g. another time zone).

    Notes
    -----
    All paths are checked to exist before anything is written. Files before a
    failing one stay ingested (the message lists them); re-running the same call
    is safe because writes are idempotent.

    Examples
    --------
    >>> import tempfile
    >>> from importlib.resources import as_file
    >>> from qresearch.datasets import sample_path
    >>> with as_file(sample_path("orcl-1995-2014.csv.gz")) as path:
    ...     with tempfile.TemporaryDirectory() as tmp:
    ...         summary = ingest([path], tmp)
    ...         rows = int(Lake(tmp).coverage().loc["ORCL", "rows"])
    >>> summary[["format", "symbols", "rows", "partitions"]]
      format symbols  rows  partitions
    0  yahoo    ORCL  5036          20
    >>> rows
    5036
    """
    check_choice("format", format, ["auto", "yahoo", "long"], "ingest")
    check_choice("mode", mode, ["upsert", "replace"], "ingest")
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    files = [_check_file(p) for p in paths]
    if not files:
        raise ParameterError("The 'paths' parameter of ingest is empty; pass at least one file.")
    target = lake if isinstance(lake, Lake) else Lake(lake)
    validator: Callable[[Bars], Any] | None = None
    if validate:
        from qresearch.data.validate import validate_bars

        validator = validate_bars

    rows: list[tuple[Any, ...]] = []
    done: list[str] = []
    for file in files:
        kind = _detect_format(file) if format == "auto" else format
        try:
            bars = read_yahoo_csv(file) if kind == "yahoo" else read_long(file)
            if validator is not None:
                validator(bars)
            written = target.write(bars, mode=mode)
        except DataValidationError as exc:
            raise DataValidationError(
                f"{file}: {exc} Nothing of this file was written.{_progress(done)}",
                report=exc.report,
            ) from exc
        except IngestError as exc:
            if not done:
                raise
            raise IngestError(f"{exc}{_progress(done)}") from exc
        except LakeError as exc:
            raise LakeError(f"{file}: {exc}{_progress(done)}") from exc
        rows.append(
            (
                str(file),
                kind,
                ", ".join(bars.symbols),
                int(written["rows_written"].sum()),
                bars.index[0],
                bars.index[-1],
                len(written),
            )
        )
        done.append(str(file))
    return pd.DataFrame(rows, columns=list(_SUMMARY_COLUMNS))


# ------------------------------------------------------------------- helpers
def _progress(done: list[str]) -> str:
    if not done:
        return ""
    return (
        f" Files ingested before this one: {_preview(done)}; re-running ingest with the "
        "same files is safe (writes are idempotent)."
    )


def _csv_line(pos: int) -> str:
    return f"line {pos + 2}"


def _parquet_row(pos: int) -> str:
    return f"row {pos} (0-based)"


def _is_parquet(file: Path) -> bool:
    return file.suffix.lower() in _PARQUET_SUFFIXES


def _check_file(path: Any) -> Path:
    if not isinstance(path, str | os.PathLike):
        raise ParameterError(
            f"A file path must be a str or os.PathLike; got {type(path).__name__} ({path!r})."
        )
    file = Path(path)
    if not file.exists():
        raise IngestError(f"{file}: no such file. Check the path (cwd is {Path.cwd()}).")
    if not file.is_file():
        raise IngestError(f"{file} is not a file; pass files, e.g. {file}/*.csv.")
    return file


def _symbol_from_filename(file: Path) -> str:
    # "orcl-1995-2014.csv.gz" -> "ORCL": the name up to the first '-', '_' or '.', and
    # only from names made of SYMBOL_FILE_NAME's characters.
    name = file.name
    if not SYMBOL_FILE_NAME.match(name):
        bad = sorted({ch for ch in name if not SYMBOL_FILE_NAME.match(ch)})
        renamed = re.sub(r"[^A-Za-z0-9.^=_-]", "_", name)
        raise IngestError(
            f"{file}: cannot take a symbol from the file name {name!r}: it contains "
            f"{bad}, and a symbol is only taken from names made of letters, digits and "
            "'. ^ = _ -' (the part before the first '-', '_' or '.'). Rename the file "
            f"(e.g. {renamed!r}) or pass the symbol: read_yahoo_csv(path, symbol='XYZ')."
        )
    symbol = re.split(r"[-_.]", name, maxsplit=1)[0].upper()
    if not symbol:
        raise IngestError(
            f"{file}: cannot take a symbol from the file name (it starts with '-', '_' or "
            "'.'). Pass it: read_yahoo_csv(path, symbol='XYZ')."
        )
    return symbol


def _read_csv(file: Path, header_only: bool = False) -> pd.DataFrame:
    # Every cell as text, so that each value can be checked and located by line. The
    # header is read as a data row: pandas then never turns surplus fields of the
    # first line into an index, and reports any row longer than line 1 by its number.
    try:
        table = pd.read_csv(
            file,
            header=None,
            index_col=False,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            encoding="utf-8-sig",
            nrows=1 if header_only else None,
        )
    except pd.errors.EmptyDataError as exc:
        raise IngestError(
            f"{file} is empty; expected a header line such as {','.join(YAHOO_COLUMNS)} or "
            f"{','.join(LONG_COLUMNS[:-1])}."
        ) from exc
    except pd.errors.ParserError as exc:
        raise IngestError(
            f"{file} is not a valid CSV file: {str(exc).strip()} (line 1 is the header; "
            "every line needs as many fields as the header)."
        ) from exc
    except UnicodeDecodeError as exc:
        raise IngestError(f"{file} is not UTF-8 text ({exc}); save it as UTF-8 CSV.") from exc
    except (OSError, EOFError, zlib.error) as exc:
        raise IngestError(f"{file} cannot be read ({exc}); is it a damaged archive?") from exc
    data = table.iloc[1:].reset_index(drop=True)
    data.columns = pd.Index([str(c).strip() for c in table.iloc[0]], dtype=object)
    return data


def _detect_format(file: Path) -> Literal["yahoo", "long"]:
    if _is_parquet(file):
        return "long"
    names = {_normalize(c) for c in _read_csv(file, header_only=True).columns}
    if {"timestamp", "symbol"} <= names:
        return "long"
    if "date" in names:
        return "yahoo"
    raise IngestError(
        f"{file}: cannot tell the format from the header (line 1) {sorted(names)}: expected "
        f"Yahoo columns {list(YAHOO_COLUMNS)} or long columns {list(LONG_COLUMNS)}. Fix the "
        "header or pass format='yahoo' / format='long'."
    )


def _normalize(name: Any) -> str:
    return re.sub(r"[\s_]+", "_", str(name).strip().lower())


def _as_text(values: pd.Series) -> pd.Series:
    return values.astype(object).where(values.notna(), "").astype(str).str.strip()


def _missing(values: pd.Series) -> np.ndarray:
    if values.dtype == object or pd.api.types.is_string_dtype(values):
        return _as_text(values).str.lower().isin(MISSING_TOKENS).to_numpy()
    return values.isna().to_numpy()


def _find_columns(
    raw: pd.DataFrame,
    file: Path,
    mapping: dict[str, str],
    expected: list[str],
    where: str,
    symbol: str | None,
) -> tuple[dict[str, str], dict[str, int]]:
    # Map canonical names to the file's column names and positions; check none is missing.
    source: dict[str, str] = {}
    position: dict[str, int] = {}
    for pos, col in enumerate(raw.columns):
        name = mapping.get(_normalize(col))
        if name is None:
            continue
        if name in source:
            raise IngestError(
                f"{file}: {where} names the column {name!r} twice ({source[name]!r} and "
                f"{str(col)!r}); keep one of them."
            )
        source[name], position[name] = str(col), pos
    needed = [c for c in mapping.values() if c != "adj_close" and not (symbol and c == "symbol")]
    missing = [c for c in needed if c not in source]
    if missing:
        names = [e for e in expected if mapping.get(_normalize(e)) in missing]
        optional = next(e for e in expected if _normalize(e) == "adj_close")
        raise IngestError(
            f"{file}: missing columns {names} in {where}; expected {expected} "
            f"({optional!r} optional), got {[str(c) for c in raw.columns]}."
        )
    return source, position


def _parse(
    raw: pd.DataFrame,
    file: Path,
    mapping: dict[str, str],
    expected: list[str],
    locate: Locate,
    symbol: str | None = None,
) -> pd.DataFrame:
    # Raw cells -> a long frame (timestamp, symbol, fields) indexed by file position.
    where = "the header (line 1)" if locate is _csv_line else "the Parquet schema"
    source, position = _find_columns(raw, file, mapping, expected, where, symbol)
    if raw.empty:
        raise IngestError(f"{file} has no data rows, only {where}.")
    fields = [f for f in (*FIELDS, *OPTIONAL_FIELDS) if f in source]
    cells = {c: raw.iloc[:, position[c]] for c in source}
    empty = {c: _missing(s) for c, s in cells.items()}
    blank = np.logical_and.reduce([empty[c] for c in cells])
    keep = ~blank  # blank lines are not rows

    def fail(pos: int, message: str) -> IngestError:
        return IngestError(f"{file}, {locate(pos)}: {message}")

    values: dict[str, np.ndarray] = {}
    for f in fields:
        col = cells[f]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            values[f] = col.to_numpy(np.float64, na_value=np.nan)
            continue
        text = _as_text(col)
        numbers = pd.to_numeric(text.to_numpy(object), errors="coerce").astype(np.float64)
        bad = np.flatnonzero(np.isnan(numbers) & ~empty[f] & keep)
        if len(bad):
            raise fail(
                bad[0],
                f"column {source[f]!r} has {text.iloc[bad[0]]!r}, which is not a number. "
                "Fix the value, or write null for a missing one.",
            )
        values[f] = np.where(empty[f], np.nan, numbers)

    stamps = cells["timestamp"]
    no_date = np.flatnonzero(empty["timestamp"] & keep)
    if len(no_date):
        raise fail(no_date[0], f"the row has values but no date in column {source['timestamp']!r}.")
    ts = _parse_dates(stamps, keep, source["timestamp"], fail, locate)

    if symbol is None:
        no_symbol = np.flatnonzero(empty["symbol"] & keep)
        if len(no_symbol):
            raise fail(no_symbol[0], "the row has no symbol; every row needs one.")
        symbols = _as_text(cells["symbol"]).to_numpy(object)
    else:
        symbols = np.full(len(raw), symbol, dtype=object)

    out = pd.DataFrame({"timestamp": ts, "symbol": symbols, **values})
    out = out[keep]
    all_missing = np.logical_and.reduce([np.isnan(out[f].to_numpy()) for f in fields])
    some_missing = np.logical_or.reduce([np.isnan(out[f].to_numpy()) for f in fields])
    dropped = out.index[all_missing]
    partial = out.index[some_missing & ~all_missing]
    out = out[~all_missing]
    if out.empty:
        raise IngestError(
            f"{file} has no bars: all {len(dropped)} data rows have every value missing "
            f"(first at {locate(dropped[0])})."
        )
    _check_unique(
        out, ["timestamp"] if symbol is not None else ["timestamp", "symbol"], file, locate
    )
    _warn_missing(file, dropped, partial, locate)
    return out


def _check_unique(out: pd.DataFrame, keys: list[str], file: Path, locate: Locate) -> None:
    # Raise on the first repeated date (per symbol), naming both places.
    dup = out.duplicated(keys)
    if not dup.any():
        return
    second = out.index[dup.to_numpy()][0]
    row = out.loc[second, keys]
    first = out.index[(out[keys] == row).all(axis=1).to_numpy()][0]
    what = f"the date {row['timestamp']}"
    if "symbol" in keys:
        what += f" for symbol {row['symbol']!r}"
    raise IngestError(
        f"{file}: {what} appears twice, at {locate(first)} and {locate(second)}; "
        "keep only one of them."
    )


def _parse_dates(
    stamps: pd.Series, keep: np.ndarray, column: str, fail: Fail, locate: Locate
) -> pd.Series:
    # Parse ISO 8601 dates; refuse partial dates and a mix of dates with and without
    # a UTC offset; different offsets are converted to UTC.
    if pd.api.types.is_datetime64_any_dtype(stamps):
        ts = stamps
    else:
        text = _as_text(stamps)
        partial = np.flatnonzero(text.str.match(_PARTIAL_DATE).to_numpy(bool) & keep)
        if len(partial):
            raise fail(
                partial[0],
                f"the date {text.iloc[partial[0]]!r} in column {column!r} has no day; "
                "write the full date (year-month-day, e.g. 2020-01-31).",
            )
        try:
            ts = pd.to_datetime(text, format="ISO8601", errors="coerce")
        except ValueError:  # mixed time zones: different offsets, or with and without
            _check_offsets_not_mixed(text, keep, column, fail, locate)
            ts = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
        bad = np.flatnonzero(ts.isna().to_numpy() & keep)
        if len(bad):
            raise fail(
                bad[0],
                f"cannot parse the date {text.iloc[bad[0]]!r} in column {column!r}; "
                "expected ISO 8601 like 2014-12-31 or 2014-12-31 16:00:00-05:00.",
            )
    if ts.dt.unit in ("s", "ms"):
        ts = ts.dt.as_unit("us")
    return ts


def _check_offsets_not_mixed(
    text: pd.Series, keep: np.ndarray, column: str, fail: Fail, locate: Locate
) -> None:
    # Raise at the first date whose kind (with or without a UTC offset) differs from
    # the first date's: a date without an offset has no place on the others' UTC axis.
    rows = np.flatnonzero(keep & ~text.str.lower().isin(MISSING_TOKENS).to_numpy(bool))
    if not len(rows):
        return
    aware = text.iloc[rows].str.contains(_UTC_OFFSET).to_numpy(bool)
    if aware.all() or not aware.any():
        return
    first, other = rows[0], rows[np.flatnonzero(aware != aware[0])[0]]
    with_offset, without = (first, other) if aware[0] else (other, first)
    raise fail(
        other,
        f"the date {text.iloc[other]!r} in column {column!r} "
        f"{'has no' if aware[0] else 'has a'} UTC offset, unlike the first date "
        f"{text.iloc[first]!r} ({locate(first)}). Dates in one file must all carry an "
        f"offset or none: write {text.iloc[without]!r} with its offset, as "
        f"{text.iloc[with_offset]!r} has, or drop every offset.",
    )


def _warn_missing(file: Path, dropped: pd.Index, partial: pd.Index, locate: Locate) -> None:
    parts = []
    if len(dropped):
        parts.append(
            f"dropped {len(dropped)} rows with every value missing (e.g. 'null'), first at "
            f"{locate(dropped[0])}: they are not bars"
        )
    if len(partial):
        parts.append(
            f"kept {len(partial)} rows with some values missing (as NaN), first at "
            f"{locate(partial[0])}"
        )
    if parts:
        warnings.warn(f"{file}: {'; '.join(parts)}.", DataQualityWarning, stacklevel=4)
