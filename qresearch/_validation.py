"""Boundary checks shared by every public function.

Messages name the argument, show the offending value and say the fix. These helpers
run once at the public boundary; kernels never re-check.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from qresearch.exceptions import AlignmentError, PanelError, ParameterError

INDEX_NAME = "timestamp"
COLUMNS_NAME = "symbol"


def _preview(items: Iterable[Any], limit: int = 5) -> str:
    """Render at most ``limit`` items of a collection for an error message."""
    items = list(items)
    shown = ", ".join(repr(x) for x in items[:limit])
    more = f", ... ({len(items) - limit} more)" if len(items) > limit else ""
    return f"[{shown}{more}]"


def check_choice(name: str, value: Any, choices: Sequence[Any], func: str = "") -> None:
    """Raise :class:`ParameterError` when ``value`` is not one of ``choices``."""
    if value not in choices:
        where = f" of {func}" if func else ""
        raise ParameterError(
            f"The {name!r} parameter{where} must be one of {list(choices)}; got {value!r} instead."
        )


def check_datetime_index(index: pd.Index, name: str) -> pd.DatetimeIndex:
    """Check that ``index`` is a sorted, unique DatetimeIndex and return it."""
    if not isinstance(index, pd.DatetimeIndex):
        raise PanelError(
            f"{name} must have a DatetimeIndex; got {type(index).__name__} "
            f"(first values {_preview(index[:3])}). "
            f"Convert it with {name}.index = pd.to_datetime({name}.index)."
        )
    if index.hasnans:
        raise PanelError(
            f"{name} has NaT in its index. Drop those rows: {name} = {name}[{name}.index.notna()]."
        )
    if not index.is_unique:
        dupes = index[index.duplicated()].unique()
        raise PanelError(
            f"{name} has {len(dupes)} duplicated timestamps, first {dupes[0]}. "
            f"Remove duplicates, e.g. {name} = {name}[~{name}.index.duplicated(keep='last')]."
        )
    if not index.is_monotonic_increasing:
        pos = int(np.flatnonzero(np.diff(index.asi8) < 0)[0]) + 1
        raise PanelError(
            f"{name} index is not sorted: {index[pos]} comes after {index[pos - 1]}. "
            f"Sort it with {name} = {name}.sort_index()."
        )
    return index


def check_panel(
    obj: Any,
    name: str,
    *,
    numeric: bool = True,
    allow_empty: bool = False,
) -> pd.DataFrame:
    """Check that ``obj`` is a dates x symbols panel and return it unchanged.

    Parameters
    ----------
    obj : Any
        The candidate panel.
    name : str
        The argument name used in error messages.
    numeric : bool, default True
        Require every column to have a numeric (or boolean) dtype.
    allow_empty : bool, default False
        Accept a panel with no rows or no columns.

    Returns
    -------
    pandas.DataFrame
        ``obj`` itself (never a copy, never modified).

    Raises
    ------
    PanelError
        When ``obj`` is not a DataFrame, its index is not a sorted unique
        DatetimeIndex, its columns repeat, or a column is not numeric.
    """
    if isinstance(obj, pd.Series):
        raise PanelError(
            f"{name} must be a DataFrame (dates x symbols); got a Series. "
            f"Use {name}.to_frame() for a single symbol."
        )
    if not isinstance(obj, pd.DataFrame):
        raise PanelError(
            f"{name} must be a pandas DataFrame (dates x symbols); got {type(obj).__name__}."
        )
    if not allow_empty and (obj.shape[0] == 0 or obj.shape[1] == 0):
        raise PanelError(f"{name} is empty (shape {obj.shape}); pass at least one row and column.")
    check_datetime_index(obj.index, name)
    if not obj.columns.is_unique:
        dupes = obj.columns[obj.columns.duplicated()].unique()
        raise PanelError(
            f"{name} has duplicated columns {_preview(dupes)}; each symbol must appear once."
        )
    if numeric and not all(_numeric_dtype(dt) for dt in set(obj.dtypes.to_numpy())):
        # each distinct dtype checked once (a wide panel has thousands of columns)
        bad = [c for c, dt in obj.dtypes.items() if not _numeric_dtype(dt)]
        if bad:
            raise PanelError(
                f"{name} has non-numeric columns {_preview(bad)} "
                f"(dtype {obj.dtypes[bad[0]]}). Convert them with pd.to_numeric."
            )
    return obj


def _numeric_dtype(dt: Any) -> bool:
    return bool(pd.api.types.is_numeric_dtype(dt) or pd.api.types.is_bool_dtype(dt))


def check_aligned(a: pd.DataFrame, b: pd.DataFrame, name_a: str, name_b: str) -> None:
    """Raise :class:`AlignmentError` unless ``a`` and ``b`` share index and columns.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2020-01-01", periods=2, name="timestamp")
    >>> a = pd.DataFrame({"A": [1.0, 2.0]}, index=idx)
    >>> b = pd.DataFrame({"A": [1.0, 2.0], "XYZ": [0.0, 1.0]}, index=idx)
    >>> check_aligned(a, b, "close", "weights")
    Traceback (most recent call last):
    ...
    qresearch.exceptions.AlignmentError: close and weights are not aligned: ... qr.data.align(...
    """
    problems: list[str] = []
    if not a.columns.equals(b.columns):
        only_a = [c for c in a.columns if c not in set(b.columns)]
        only_b = [c for c in b.columns if c not in set(a.columns)]
        if only_a:
            problems.append(f"{len(only_a)} symbols only in {name_a} ({_preview(only_a)})")
        if only_b:
            problems.append(f"{len(only_b)} symbols only in {name_b} ({_preview(only_b)})")
        if not only_a and not only_b:
            problems.append("the same symbols in a different order")
    if not a.index.equals(b.index):
        only_a_ts = a.index.difference(b.index)
        only_b_ts = b.index.difference(a.index)
        if len(only_a_ts):
            problems.append(f"{len(only_a_ts)} timestamps only in {name_a} (first {only_a_ts[0]})")
        if len(only_b_ts):
            problems.append(f"{len(only_b_ts)} timestamps only in {name_b} (first {only_b_ts[0]})")
        if not len(only_a_ts) and not len(only_b_ts):
            problems.append("the same timestamps with a different order or time zone")
    if problems:
        raise AlignmentError(
            f"{name_a} and {name_b} are not aligned: {'; '.join(problems)}. "
            f"Call qr.data.align({name_a}, {name_b}) first."
        )


def check_same_tz(indexes: Sequence[pd.DatetimeIndex], names: Sequence[str]) -> None:
    """Raise :class:`PanelError` when tz-naive and tz-aware indexes are mixed."""
    kinds = {n: (idx.tz is not None) for idx, n in zip(indexes, names, strict=True)}
    if len(set(kinds.values())) > 1:
        aware = [n for n, k in kinds.items() if k]
        naive = [n for n, k in kinds.items() if not k]
        raise PanelError(
            f"Cannot mix tz-aware ({aware}) and tz-naive ({naive}) timestamps. "
            "Localize the naive ones, e.g. panel.tz_localize('UTC'), or drop the time zone "
            "with panel.tz_convert(None)."
        )


def to_timestamp(value: Any, name: str, tz: Any = None) -> pd.Timestamp | None:
    """Parse a date-like ``value`` into a Timestamp matching ``tz`` (None stays None)."""
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ParameterError(
            f"The {name!r} argument must be a date like '2014-01-31'; got {value!r}."
        ) from exc
    if ts is pd.NaT:
        raise ParameterError(f"The {name!r} argument must be a date; got NaT.")
    if tz is not None and ts.tz is None:
        ts = ts.tz_localize(tz)
    elif tz is None and ts.tz is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts


def check_symbols(requested: Iterable[Any], available: Sequence[Any], name: str) -> list[Any]:
    """Return ``requested`` as a list, raising when any symbol is unknown."""
    if isinstance(requested, str):
        requested = [requested]
    req = list(requested)
    avail = set(available)
    missing = [s for s in req if s not in avail]
    if missing:
        raise PanelError(
            f"Unknown symbols in {name}: {_preview(missing)}. Available: {_preview(available, 25)}."
        )
    return req


def check_columns(df: pd.DataFrame, required: Sequence[str], name: str) -> None:
    """Raise :class:`PanelError` naming the columns of ``required`` missing from ``df``."""
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise PanelError(
            f"{name} is missing columns {missing}; a long bars frame needs {list(required)} "
            f"(got {list(df.columns)}). Rename them, e.g. df.rename(columns=str.lower)."
        )


def check_number(
    name: str, value: Any, func: str, *, minimum: float = 0.0, strict: bool = True
) -> float:
    """Return ``value`` as a float if it is a finite real number above ``minimum``.

    ``strict`` excludes ``minimum`` itself. Raises :class:`ParameterError` naming
    the parameter and the function otherwise (NumPy scalars are accepted; booleans
    are not numbers here).
    """
    ok = (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool | np.bool_)
        and math.isfinite(float(value))
    )
    if not ok or float(value) < minimum or (strict and float(value) == minimum):
        raise ParameterError(
            f"The {name!r} parameter of {func} must be a finite number "
            f"{'>' if strict else '>='} {minimum:g}; got {value!r}."
        )
    return float(value)


def check_int(name: str, value: Any, func: str, *, minimum: int = 1) -> int:
    """Return ``value`` as an int if it is an integer >= ``minimum``.

    NumPy integers are accepted, booleans refused. Raises :class:`ParameterError`
    naming the parameter and the function otherwise.
    """
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)
    if not ok or int(value) < minimum:
        raise ParameterError(
            f"The {name!r} parameter of {func} must be an integer >= {minimum}; "
            f"got {value!r} instead."
        )
    return int(value)


def float_panel(obj: Any, name: str) -> pd.DataFrame:
    """Validate a panel with :func:`check_panel` and return a float64 copy of it.

    Stage functions work on the copy, so they never mutate their input.
    """
    check_panel(obj, name)
    return obj.astype("float64")


def invalid_prices(
    panels: dict[str, np.ndarray], index: pd.Index, columns: pd.Index
) -> pd.DataFrame:
    """Return the cells of price arrays that are present but not finite and positive.

    ``panels`` maps a field name ("close", "open", ...) to a float array (T, C); NaN
    means "no price" and is fine. The frame has ``timestamp, symbol, field, price``,
    one row per bad cell, in field then time order.
    """
    rows = []
    for field, a in panels.items():
        bad = ~np.isnan(a) & ~(np.isfinite(a) & (a > 0))
        if bad.any():
            r, c = np.nonzero(bad)
            rows.append(
                pd.DataFrame(
                    {
                        "timestamp": index[r],
                        "symbol": columns[c],
                        "field": field,
                        "price": a[r, c],
                    }
                )
            )
    if not rows:
        return pd.DataFrame(
            {
                "timestamp": index[:0],
                "symbol": columns[:0],
                "field": pd.Series([], dtype="str"),
                "price": pd.Series([], dtype="float64"),
            }
        )
    return pd.concat(rows, ignore_index=True)


def check_prices(bad: pd.DataFrame, func: str, option: str | None = None) -> None:
    """Raise :class:`DataValidationError` naming the first bad price of ``bad``.

    ``bad`` comes from :func:`invalid_prices`; ``option`` names the argument that
    skips bad prices instead (mentioned in the fix).
    """
    if bad.empty:
        return
    from qresearch.exceptions import DataValidationError

    first = bad.iloc[0]
    fix = "Fix or drop those rows (qr.data.validate_bars(bars) lists them)"
    if option:
        fix += f", or pass {option} to skip them and record each as a rejection"
    raise DataValidationError(
        f"{func}: {len(bad)} price(s) are not finite and positive; first "
        f"{first['field']} {float(first['price'])!r} for {first['symbol']!r} at "
        f"{first['timestamp']}. {fix}."
    )


def check_open_interval(
    name: str, value: Any, func: str, *, low: float = 0.0, high: float = 1.0
) -> float:
    """Return ``value`` as a float if it is a finite real number with ``low < value < high``.

    NumPy scalars are accepted, booleans refused. Raises :class:`ParameterError`
    naming the parameter and the function otherwise.

    Examples
    --------
    >>> check_open_interval("confidence", 0.95, "stats")
    0.95
    >>> check_open_interval("confidence", 95, "stats")
    Traceback (most recent call last):
    ...
    qresearch.exceptions.ParameterError: The 'confidence' parameter of stats must be ...
    """
    ok = (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool | np.bool_)
        and math.isfinite(float(value))
    )
    if not ok or not low < float(value) < high:
        raise ParameterError(
            f"The {name!r} parameter of {func} must be a number in the open interval "
            f"({low:g}, {high:g}); got {value!r}."
        )
    return float(value)


def check_index_order(index: pd.Index, name: str) -> None:
    """Raise :class:`PanelError` unless ``index`` is unique, NaN-free and increasing.

    Works for any index type (a DatetimeIndex, a RangeIndex, ...): rows in time
    order, each timestamp once.
    """
    if index.hasnans:
        raise PanelError(
            f"{name} has NaN/NaT in its index. Drop those rows: "
            f"{name} = {name}[{name}.index.notna()]."
        )
    if not index.is_unique:
        dupes = index[index.duplicated()].unique()
        raise PanelError(
            f"{name} has {len(dupes)} duplicated index labels, first {dupes[0]}. Keep one row "
            f"per timestamp, e.g. {name} = {name}[~{name}.index.duplicated(keep='last')]."
        )
    if not index.is_monotonic_increasing:
        # Error path only: find the first label that is not after its predecessor
        # (labels that do not compare, e.g. mixed types, are reported at the start).
        try:
            pos = next((i for i in range(1, len(index)) if not index[i - 1] < index[i]), 1)
        except TypeError:
            pos = 1
        raise PanelError(
            f"{name} index is not sorted: {index[pos]} comes after {index[pos - 1]}. "
            f"Sort it with {name} = {name}.sort_index()."
        )


def check_returns(obj: Any, name: str, func: str) -> tuple[pd.DataFrame, bool]:
    """Validate simple returns (a Series or a DataFrame) and return a float64 frame copy.

    A Series is one portfolio, a DataFrame one portfolio per column. The index must
    be unique and sorted (:func:`check_index_order`), columns unique, values numeric
    (not boolean) and never infinite; NaN is allowed (callers skip it per column).

    Returns
    -------
    (pandas.DataFrame, bool)
        The returns as a float64 DataFrame (a Series becomes its only column) and
        whether ``obj`` was a Series.
    """
    if isinstance(obj, pd.Series):
        frame, is_series = obj.to_frame(), True
    elif isinstance(obj, pd.DataFrame):
        frame, is_series = obj, False
    else:
        raise ParameterError(
            f"The {name!r} argument of {func} must be a pandas Series of returns (one "
            f"portfolio) or a DataFrame (one column per portfolio); got {type(obj).__name__}."
        )
    if frame.shape[1] == 0:
        raise ParameterError(f"{name} passed to {func} has no columns; pass at least one.")
    if not frame.columns.is_unique:
        dupes = frame.columns[frame.columns.duplicated()].unique()
        raise PanelError(
            f"{name} has duplicated columns {_preview(dupes)}; each portfolio must appear once."
        )
    bad = [
        c
        for c, dt in frame.dtypes.items()
        if not pd.api.types.is_numeric_dtype(dt) or pd.api.types.is_bool_dtype(dt)
    ]
    if bad:
        where = "" if is_series else f" (column {bad[0]!r})"
        raise ParameterError(
            f"{name} passed to {func} must hold numeric returns; got dtype "
            f"{frame.dtypes[bad[0]]}{where}. Pass simple returns as floats "
            "(pd.to_numeric converts strings)."
        )
    check_index_order(frame.index, name)
    values = frame.to_numpy(dtype="float64", na_value=np.nan)
    infinite = np.isinf(values)
    if infinite.any():
        row, col = (int(i[0]) for i in np.nonzero(infinite))
        where = "" if is_series else f" in column {frame.columns[col]!r}"
        raise ParameterError(
            f"{name} has an infinite return at {frame.index[row]}{where}; fix the input data "
            "(a return of inf usually comes from a price of 0)."
        )
    return pd.DataFrame(values, index=frame.index, columns=frame.columns), is_series


def check_real(name: str, value: Any, func: str) -> float:
    """Return ``value`` as a float if it is a finite real number (booleans refused).

    Examples
    --------
    >>> check_real("shift", -0.5, "f")
    -0.5
    >>> check_real("shift", float("inf"), "f")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    qresearch.exceptions.ParameterError: The 'shift' parameter of f must be a finite ...
    """
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)
    if not ok or not math.isfinite(float(value)):
        raise ParameterError(
            f"The {name!r} parameter of {func} must be a finite number; got {value!r}."
        )
    return float(value)


def check_periods_per_year(
    value: Any, func: str, *, allow_none: bool = False, whole: bool = False
) -> float | None:
    """Return ``periods_per_year`` as a float: a finite number > 0 (252 daily, 12 monthly).

    ``allow_none`` accepts None (per-period units); ``whole`` requires a whole number
    (quantstats' reports take an int).

    Examples
    --------
    >>> check_periods_per_year(252, "stats")
    252.0
    >>> check_periods_per_year(True, "stats")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    qresearch.exceptions.ParameterError: The 'periods_per_year' parameter of stats must be ...
    """
    if value is None and allow_none:
        return None
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)
    ok = ok and math.isfinite(float(value)) and float(value) > 0
    if ok and whole:
        ok = float(value).is_integer()
    if not ok:
        kind = "a whole number > 0" if whole else "a finite number > 0"
        extra = " or None for per-period units" if allow_none else ""
        raise ParameterError(
            f"The 'periods_per_year' parameter of {func} must be {kind} (252 for daily, "
            f"52 weekly, 12 monthly){extra}; got {value!r}."
        )
    return float(value)
