"""Exchange trading calendars: sessions, rebalance dates and gaps in a panel.

The calendars come from ``exchange_calendars`` (a core dependency), imported lazily
inside the functions so that ``import qresearch.data.calendar`` stays light. It is
preferred over ``pandas_market_calendars`` because that package delegates most
exchanges to ``exchange_calendars`` anyway, while ``exchange_calendars`` itself has a
session-level API (``sessions_in_range``, ``date_to_session``), ships the holiday
rules (including one-off closures such as Hurricane Sandy) in pure Python and never
touches the network.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from qresearch._typing import BoolArray, Int64Array
from qresearch._validation import (
    COLUMNS_NAME,
    INDEX_NAME,
    check_choice,
    check_datetime_index,
    check_int,
    check_panel,
    to_timestamp,
)
from qresearch.exceptions import CalendarError, ParameterError

if TYPE_CHECKING:
    from exchange_calendars import ExchangeCalendar

__all__ = ["PERIODS", "PERIOD_ALIASES", "missing_sessions", "rebalance_dates", "trading_sessions"]

Period = Literal["week_end", "month_end", "quarter_end", "year_end", "W", "ME", "QE", "YE"]
PERIODS: tuple[str, ...] = ("week_end", "month_end", "quarter_end", "year_end")
"""The named rebalance periods of :func:`rebalance_dates` (weeks run Monday..Sunday)."""
PERIOD_ALIASES: dict[str, str] = {
    "W": "week_end",
    "ME": "month_end",
    "QE": "quarter_end",
    "YE": "year_end",
}
"""pandas offset aliases accepted for the periods (``"W"`` is weeks ending Sunday)."""

_DAY = pd.Timedelta(days=1)


def trading_sessions(start: Any, end: Any, exchange: str = "XNYS") -> pd.DatetimeIndex:
    """Return the trading sessions of an exchange between two dates, both inclusive.

    Parameters
    ----------
    start, end : date-like
        First and last calendar dates (``"1995-01-03"``, a Timestamp, ...); a time
        of day is ignored, a tz-aware value is converted to UTC first.
    exchange : str, default "XNYS"
        An ``exchange_calendars`` name or alias: ``"XNYS"`` (NYSE), ``"XNAS"``,
        ``"XLON"``, ``"XTKS"``, ``"XHKG"``, ``"CMES"``, ``"24/7"``, ...

    Returns
    -------
    pandas.DatetimeIndex
        The session dates, tz-naive ``datetime64[us]`` at midnight, named ``timestamp``.

    Raises
    ------
    CalendarError
        For an unknown exchange, ``start`` after ``end``, or dates outside the
        range the exchange's calendar supports.
    ParameterError
        When ``start`` or ``end`` is not a date.

    Notes
    -----
    The calendar is built to cover the dates asked for, so 1990s dates work even
    though ``exchange_calendars`` builds only about the last 20 years by default.

    Examples
    --------
    >>> s = trading_sessions("2012-10-26", "2012-11-01")  # NYSE closed for Hurricane Sandy
    >>> list(s.strftime("%m-%d"))
    ['10-26', '10-31', '11-01']
    >>> trading_sessions("1990-01-01", "1990-01-03").strftime("%Y-%m-%d").tolist()
    ['1990-01-02', '1990-01-03']
    """
    lo = _to_date(start, "start")
    hi = _to_date(end, "end")
    if lo > hi:
        raise CalendarError(
            f"trading_sessions: start {lo.date()} is after end {hi.date()}; swap them."
        )
    return _sessions(_calendar(exchange, lo, hi), lo, hi)


def rebalance_dates(
    index: pd.DatetimeIndex | pd.DataFrame | pd.Series,
    every: Period | int = "month_end",
    *,
    offset: int = 0,
    exchange: str | None = "XNYS",
    include_partial_last: bool = False,
) -> pd.DatetimeIndex:
    """Return the dates of ``index`` on which to rebalance: period ends or every n-th date.

    Parameters
    ----------
    index : pandas.DatetimeIndex, DataFrame or Series
        The dates available (a panel's index is used); sorted and unique.
    every : {"week_end", "month_end", "quarter_end", "year_end"} or int, default "month_end"
        A named period: the last date of ``index`` in each calendar week (Monday to
        Sunday), month, quarter or year; the pandas aliases ``"W"``, ``"ME"``,
        ``"QE"``, ``"YE"`` mean the same. An int ``n >= 1``: every n-th date of
        ``index``, starting at position ``offset``.
    offset : int, default 0
        With an integer ``every``, the position of the first rebalance date (e.g.
        skip a warm-up window). Must be 0 with a named period.
    exchange : str or None, default "XNYS"
        The calendar that decides whether the period of the last date of ``index``
        is complete. With None, the last period is treated as incomplete.
    include_partial_last : bool, default False
        Also return the last date of ``index`` when its period may not be complete.

    Returns
    -------
    pandas.DatetimeIndex
        A subset of ``index`` (same dtype and time zone), named ``timestamp``.

    Raises
    ------
    PanelError
        When ``index`` is not a sorted, unique DatetimeIndex (or a panel with one).
    ParameterError
        For an unknown ``every``, an integer ``every < 1``, a negative ``offset`` or
        an ``offset`` given with a named period.
    CalendarError
        For an unknown ``exchange``.

    Notes
    -----
    Point-in-time rule for the last period: the data may stop before its period
    ends, and then its last date is not the period end. The last date of ``index``
    is returned only when the exchange calendar has no session after it in the same
    period (or ``include_partial_last=True``). So dates computed on data truncated
    at any date equal the full-data dates up to that date, except possibly the one
    in the truncated data's last period. Every other period ends at its last date
    present in ``index``: when the last session of a month is missing from the data,
    the month's rebalance date is the session before it, which is known to be the
    month's last only once the next month's first date arrives. Reindex the data to
    the exchange sessions (see :func:`missing_sessions`) if that matters.

    Dates are read as session dates (their wall-clock date). For intraday indexes
    the last timestamp of each period is returned, and a last day that is a
    session is taken as complete: drop an unfinished last day first.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = trading_sessions("2024-01-02", "2024-03-15")
    >>> rebalance_dates(idx, "month_end").strftime("%m-%d").tolist()  # March incomplete
    ['01-31', '02-29']
    >>> rebalance_dates(idx, "month_end", include_partial_last=True).strftime("%m-%d").tolist()
    ['01-31', '02-29', '03-15']
    >>> rebalance_dates(idx, "week_end")[:2].strftime("%m-%d").tolist()
    ['01-05', '01-12']
    >>> rebalance_dates(idx, 21, offset=1).strftime("%m-%d").tolist()
    ['01-03', '02-02', '03-05']
    """
    if isinstance(index, pd.DataFrame | pd.Series):
        name = "index.index"
        index = index.index
    else:
        name = "index"
    check_datetime_index(index, name)
    _check_int("offset", offset, minimum=0)
    if not isinstance(include_partial_last, bool):
        raise ParameterError(
            "The 'include_partial_last' parameter of rebalance_dates must be a bool; "
            f"got {include_partial_last!r}."
        )
    if not isinstance(every, str):
        if isinstance(every, bool) or not isinstance(every, int | np.integer) or every < 1:
            raise ParameterError(
                f"The 'every' parameter of rebalance_dates must be one of {list(PERIODS)} or "
                f"an int >= 1 (every n-th date); got {every!r} instead."
            )
        return _as_index(index[offset::every], keep_dtype=True)
    check_choice("every", every, [*PERIODS, *PERIOD_ALIASES], "rebalance_dates")
    period = PERIOD_ALIASES.get(every, every)
    if offset:
        raise ParameterError(
            f"The 'offset' parameter of rebalance_dates applies only to an integer 'every'; "
            f"got offset={offset} with every={every!r}. Use offset=0."
        )
    if not len(index):
        return _as_index(index, keep_dtype=True)
    dates = _session_dates(index)
    codes = _period_codes(dates, period)
    is_last = np.empty(len(index), dtype=bool)
    is_last[:-1] = codes[1:] != codes[:-1]
    if include_partial_last:
        is_last[-1] = True
    elif exchange is None:
        is_last[-1] = False
    else:
        last = dates[-1]
        calendar = _calendar(exchange, last, last + pd.Timedelta(days=7))
        following = pd.DatetimeIndex([calendar.date_to_session(last + _DAY, direction="next")])
        is_last[-1] = bool(_period_codes(following, period)[0] != codes[-1])
    return _as_index(index[is_last], keep_dtype=True)


def missing_sessions(panel: pd.DataFrame, exchange: str = "XNYS") -> pd.DataFrame:
    """Find the sessions a panel lacks and the dates it has that are not sessions.

    Parameters
    ----------
    panel : pandas.DataFrame
        A dates x symbols panel (prices, or any field of bars).
    exchange : str, default "XNYS"
        The exchange calendar to compare with (see :func:`trading_sessions`).

    Returns
    -------
    pandas.DataFrame
        Columns ``symbol, timestamp, kind``, sorted by timestamp then symbol (in
        column order), with a fresh RangeIndex:

        - ``kind="missing"``: a session between the symbol's first and last valid
          (non-NaN) observation on which it has no valid value (NaN, or no row);
        - ``kind="extra"``: a date of ``panel.index`` that is not a session of the
          exchange (one row per date, ``symbol`` missing: NaN).

        ``timestamp`` holds tz-naive session dates. Empty when the panel follows the
        calendar.

    Raises
    ------
    PanelError
        When ``panel`` is not a panel.
    CalendarError
        For an unknown exchange or dates outside its calendar.

    Notes
    -----
    The index is read as session dates: a timestamp's wall-clock date (in its own
    time zone), so intraday panels are checked per day. Symbols without any valid
    value report nothing (``validate_bars`` reports them as ``empty_symbol``).

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> idx = pd.DatetimeIndex(["2024-07-02", "2024-07-03", "2024-07-04", "2024-07-08"],
    ...                        name="timestamp")
    >>> px = pd.DataFrame({"A": [1.0, np.nan, 1.0, 1.0]}, index=idx)
    >>> missing_sessions(px)
      symbol  timestamp     kind
    0      A 2024-07-03  missing
    1    NaN 2024-07-04    extra
    2      A 2024-07-05  missing
    """
    check_panel(panel, "panel", numeric=False, allow_empty=True)
    columns = panel.columns
    if not len(panel.index):
        return _report(np.array([], dtype=np.int64), pd.DatetimeIndex([]), columns, [])
    dates = _session_dates(panel.index)
    # one row per distinct date: valid if any row of that date is valid
    starts = np.flatnonzero(np.r_[True, dates[1:] != dates[:-1]])
    day_dates = dates[starts]
    notna: BoolArray = panel.notna().to_numpy()
    valid: BoolArray = (
        np.logical_or.reduceat(notna, starts, axis=0) if len(starts) < len(dates) else notna
    )
    first_day, last_day = day_dates[0], day_dates[-1]
    sessions = _sessions(_calendar(exchange, first_day, last_day), first_day, last_day)
    sessions = sessions.as_unit(day_dates.unit)  # compare integer stamps in one unit
    pos = sessions.get_indexer(day_dates)
    on_session = pos >= 0
    valid_on_session = np.zeros((len(sessions), len(columns)), dtype=bool)
    valid_on_session[pos[on_session]] = valid[on_session]
    # each symbol's first and last valid date (any date, session or not)
    has_any = np.asarray(valid.any(axis=0), dtype=bool)
    first = day_dates.asi8[np.argmax(valid, axis=0)]
    last = day_dates.asi8[len(day_dates) - 1 - np.argmax(valid[::-1], axis=0)]
    s = sessions.asi8[:, None]
    in_life = has_any[None, :] & (s >= first[None, :]) & (s <= last[None, :])
    srow, scol = np.nonzero(in_life & ~valid_on_session)
    extra = day_dates[~on_session]
    stamps = sessions[srow].append(extra)
    symbol_pos = np.r_[scol, np.full(len(extra), -1)].astype(np.int64)
    kinds = ["missing"] * len(srow) + ["extra"] * len(extra)
    return _report(symbol_pos, stamps, columns, kinds)


# ------------------------------------------------------------------- helpers
def _calendar(exchange: Any, start: pd.Timestamp, end: pd.Timestamp) -> ExchangeCalendar:
    """Return the ``exchange_calendars`` calendar of ``exchange`` covering start..end."""
    import exchange_calendars as xcals

    names = xcals.get_calendar_names(include_aliases=True)
    if not isinstance(exchange, str) or exchange not in names:
        close = difflib.get_close_matches(str(exchange).upper(), names, n=3)
        hint = f" Did you mean {close}?" if close else ""
        common = ["XNYS", "XNAS", "XLON", "XTKS", "XHKG", "XFRA", "CMES", "24/7"]
        raise CalendarError(
            f"Unknown exchange {exchange!r}.{hint} Valid names include {common} "
            f"({len(names)} in all; see exchange_calendars.get_calendar_names())."
        )
    name = xcals.resolve_alias(exchange)
    cls = _calendar_class(name)
    bound_min, bound_max = cls.bound_min(), cls.bound_max()
    if bound_min is not None and start < bound_min:
        raise CalendarError(
            f"The {exchange} calendar starts on {bound_min.date()}; got a date {start.date()}. "
            f"Use dates from {bound_min.date()} on, or another exchange."
        )
    if bound_max is not None and end > bound_max:
        raise CalendarError(
            f"The {exchange} calendar ends on {bound_max.date()}; got a date {end.date()}. "
            f"Use dates up to {bound_max.date()}."
        )
    # Whole years with a year of margin, at least the default range: few distinct
    # (start, end) pairs, so that built calendars are reused from the cache.
    lo = min(pd.Timestamp(year=start.year - 1, month=1, day=1), cls.default_start())
    hi = max(pd.Timestamp(year=end.year + 1, month=12, day=31), cls.default_end())
    if bound_min is not None:
        lo = max(lo, bound_min)
    if bound_max is not None:
        hi = min(hi, bound_max)
    return _build_calendar(name, lo, hi)


# exchange_calendars caches one calendar per name only (the last start/end asked for),
# so alternating ranges would rebuild it (~0.3 s) on every call; cache here instead.
@functools.cache
def _calendar_class(name: str) -> type[ExchangeCalendar]:
    """Return the calendar class of a canonical exchange name (built once)."""
    import exchange_calendars as xcals

    with _quiet_pandas_deprecations():
        return type(xcals.get_calendar(name))


@functools.lru_cache(maxsize=16)
def _build_calendar(name: str, start: pd.Timestamp, end: pd.Timestamp) -> ExchangeCalendar:
    """Build the calendar of a canonical exchange name from start to end."""
    import exchange_calendars as xcals

    with _quiet_pandas_deprecations():
        return xcals.get_calendar(name, start=start, end=end)


@contextlib.contextmanager
def _quiet_pandas_deprecations() -> Iterator[None]:
    # exchange_calendars 4.x uses pandas APIs that pandas 3.x deprecates (Series.values
    # on tz-aware data, DatetimeIndex.weekday) while building a calendar; nothing a
    # user can act on. The filter is scoped to the build: no global filter changes.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        yield


def _sessions(
    calendar: ExchangeCalendar, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DatetimeIndex:
    """Return the calendar's sessions in start..end, clipped to the calendar's range."""
    lo = max(start, calendar.first_session)
    hi = min(end, calendar.last_session)
    if lo > hi:
        return _as_index(pd.DatetimeIndex([]))
    return _as_index(calendar.sessions_in_range(lo, hi))


def _to_date(value: Any, name: str) -> pd.Timestamp:
    """Parse ``value`` into a tz-naive midnight Timestamp."""
    ts = to_timestamp(value, name)
    if ts is None:
        raise ParameterError(f"The {name!r} argument must be a date like '2014-01-31'; got None.")
    return ts.normalize()


def _session_dates(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Return the wall-clock dates of ``index`` as a tz-naive DatetimeIndex."""
    if index.tz is not None:
        index = index.tz_localize(None)
    return index.normalize()


def _period_codes(dates: pd.DatetimeIndex, every: str) -> Int64Array:
    """Return an integer code per date, equal for dates in the same period."""
    if every == "week_end":
        days = dates.to_numpy().astype("datetime64[D]").astype(np.int64)
        return (days + 3) // 7  # 1970-01-01 is a Thursday: weeks start on Monday
    year = dates.year.to_numpy().astype(np.int64)
    month = dates.month.to_numpy().astype(np.int64)
    if every == "month_end":
        return year * 12 + month - 1
    if every == "quarter_end":
        return year * 4 + (month - 1) // 3
    return year


def _as_index(index: pd.DatetimeIndex, *, keep_dtype: bool = False) -> pd.DatetimeIndex:
    """Return a copy named ``timestamp`` without freq (in microseconds unless kept)."""
    out = pd.DatetimeIndex(index, name=INDEX_NAME, freq=None)
    return out if keep_dtype else out.as_unit("us")


def _check_int(name: str, value: Any, *, minimum: int) -> None:
    """Raise ParameterError unless ``value`` is an int (not bool) >= ``minimum``."""
    check_int(name, value, "rebalance_dates", minimum=minimum)


def _report(
    symbol_pos: Int64Array, stamps: pd.DatetimeIndex, columns: pd.Index, kinds: list[str]
) -> pd.DataFrame:
    """Build the sorted ``symbol, timestamp, kind`` frame of :func:`missing_sessions`."""
    order = np.lexsort((symbol_pos, stamps.asi8))
    pos = symbol_pos[order]
    if len(columns):
        symbol = pd.Series(columns.take(np.maximum(pos, 0))).where(pos >= 0)
    else:  # only extra dates can be reported
        symbol = pd.Series(np.full(len(pos), np.nan), dtype=object)
    return pd.DataFrame(
        {
            COLUMNS_NAME: symbol,
            INDEX_NAME: _as_index(stamps[order]),
            "kind": pd.array(np.asarray(kinds, dtype=object)[order], dtype="str"),
        }
    )
