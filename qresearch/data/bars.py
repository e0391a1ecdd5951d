"""``Bars``: an immutable container of aligned OHLCV panels."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from qresearch._validation import (
    COLUMNS_NAME,
    INDEX_NAME,
    _preview,
    check_aligned,
    check_choice,
    check_columns,
    check_panel,
    check_symbols,
    to_timestamp,
)
from qresearch.exceptions import PanelError

__all__ = ["FIELDS", "PRICE_FIELDS", "Bars"]

PRICE_FIELDS: tuple[str, ...] = ("open", "high", "low", "close")
FIELDS: tuple[str, ...] = (*PRICE_FIELDS, "volume")
OPTIONAL_FIELDS: tuple[str, ...] = ("adj_close",)


@dataclass(frozen=True, eq=False)
class Bars:
    """Aligned open/high/low/close/volume panels (dates x symbols).

    Every panel shares one sorted, unique ``DatetimeIndex`` named ``timestamp`` and
    one set of symbol columns. NaN means "no bar" (not listed, halted), never zero.
    The panels are stored as given; treat them as read-only.

    Parameters
    ----------
    open, high, low, close, volume : pandas.DataFrame
        Aligned panels.
    adj_close : pandas.DataFrame, optional
        Dividend- and split-adjusted close (as Yahoo's "Adj Close"). When present,
        :attr:`adjustment_factor` is ``adj_close / close``; see
        :func:`qresearch.data.adjust.back_adjust`.

    Raises
    ------
    PanelError, AlignmentError
        When a panel is malformed or the panels are not aligned.

    Examples
    --------
    >>> import pandas as pd
    >>> long = pd.DataFrame({
    ...     "timestamp": pd.to_datetime(["2020-01-02", "2020-01-03"] * 2),
    ...     "symbol": ["A", "A", "B", "B"],
    ...     "open": [1.0, 2.0, 10.0, 11.0], "high": [1.5, 2.5, 10.5, 11.5],
    ...     "low": [0.5, 1.5, 9.5, 10.5], "close": [1.2, 2.2, 10.2, 11.2],
    ...     "volume": [100.0, 200.0, 300.0, 400.0]})
    >>> bars = Bars.from_long(long)
    >>> bars.symbols
    ['A', 'B']
    >>> bars.close.loc["2020-01-03", "B"]
    np.float64(11.2)
    >>> Bars.from_long(bars.to_long()).equals(bars)
    True
    """

    open: pd.DataFrame
    high: pd.DataFrame
    low: pd.DataFrame
    close: pd.DataFrame
    volume: pd.DataFrame
    adj_close: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        check_panel(self.close, "bars.close", allow_empty=True)
        for name in (*FIELDS, *OPTIONAL_FIELDS):
            panel = getattr(self, name)
            if panel is None or name == "close":
                continue
            check_panel(panel, f"bars.{name}", allow_empty=True)
            check_aligned(self.close, panel, "bars.close", f"bars.{name}")

    # ------------------------------------------------------------------ basics
    @property
    def index(self) -> pd.DatetimeIndex:
        """The shared timestamp index."""
        return self.close.index

    @property
    def symbols(self) -> list[Any]:
        """The symbols, in column order."""
        return list(self.close.columns)

    @property
    def fields(self) -> list[str]:
        """The fields present: OHLCV, plus ``adj_close`` when given."""
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_timestamps, n_symbols)``."""
        return self.close.shape

    @property
    def adjustment_factor(self) -> pd.DataFrame:
        """``adj_close / close``: the multiplier that back-adjusts raw prices.

        Raises
        ------
        PanelError
            When these bars carry no ``adj_close``.
        """
        if self.adj_close is None:
            raise PanelError(
                "These bars have no adj_close, so no adjustment factor. Load them with "
                "adj_close (e.g. load_sample('ohlcv') or Bars.from_long with an "
                "'adj_close' column), or adjust with an explicit table: "
                "qr.data.adjust_by_actions(bars, actions)."
            )
        return self.adj_close / self.close

    def panels(self) -> dict[str, pd.DataFrame]:
        """Return a dict of field name -> panel for the fields present."""
        return {name: getattr(self, name) for name in self.fields}

    def __len__(self) -> int:
        return len(self.index)

    def __iter__(self) -> Iterator[str]:
        return iter(self.fields)

    def __repr__(self) -> str:
        span = f"{self.index[0]} .. {self.index[-1]}" if len(self.index) else "empty"
        return (
            f"Bars({self.shape[0]} timestamps x {self.shape[1]} symbols "
            f"{_preview(self.symbols, 6)}, {span}, fields={self.fields})"
        )

    def equals(self, other: object) -> bool:
        """Return True when ``other`` holds the same fields with equal panels."""
        if not isinstance(other, Bars) or self.fields != other.fields:
            return False
        return all(getattr(self, f).equals(getattr(other, f)) for f in self.fields)

    def __getitem__(self, key: Any) -> Any:
        """``bars["ORCL"]`` -> that symbol's OHLCV DataFrame; a list -> a new Bars."""
        if isinstance(key, list | tuple | pd.Index):
            return self.select(symbols=list(key))
        check_symbols([key], self.symbols, "bars[...]")
        frame = pd.DataFrame({f: getattr(self, f)[key] for f in self.fields})
        frame.columns.name = "field"
        return frame

    # ------------------------------------------------------------- conversion
    @classmethod
    def from_long(
        cls,
        df: pd.DataFrame,
        *,
        timestamp: str = "timestamp",
        symbol: str = "symbol",
    ) -> Bars:
        """Build Bars from a long DataFrame, one row per (timestamp, symbol).

        Parameters
        ----------
        df : pandas.DataFrame
            Columns ``timestamp, symbol, open, high, low, close, volume`` and
            optionally ``adj_close``; other columns are ignored.
        timestamp, symbol : str
            Names of the timestamp and symbol columns.

        Returns
        -------
        Bars
            Symbols in order of first appearance, timestamps sorted; missing
            (timestamp, symbol) pairs are NaN.

        Raises
        ------
        PanelError
            When a column is missing, a timestamp does not parse, or a
            (timestamp, symbol) pair appears twice.
        """
        if not isinstance(df, pd.DataFrame):
            raise PanelError(f"df must be a long pandas DataFrame; got {type(df).__name__}.")
        check_columns(df, [timestamp, symbol, *FIELDS], "df")
        try:
            ts = pd.to_datetime(df[timestamp])
        except (TypeError, ValueError) as exc:
            raise PanelError(f"df[{timestamp!r}] does not parse as datetimes: {exc}") from exc
        if ts.isna().any():
            row = int(np.flatnonzero(ts.isna().to_numpy())[0])
            raise PanelError(f"df[{timestamp!r}] has a missing timestamp at row {row}.")
        sym = df[symbol]
        blank = sym.isna() | (sym.astype(str).str.strip() == "")
        if blank.any():
            row = int(np.flatnonzero(blank.to_numpy())[0])
            raise PanelError(
                f"df[{symbol!r}] has {int(blank.sum())} missing or empty symbols, first at "
                f"row {row}. Every row needs a symbol; drop or fill those rows first."
            )
        keys = pd.DataFrame({timestamp: ts, symbol: sym})
        dup = keys.duplicated()
        if dup.any():
            first = keys[dup].iloc[0]
            raise PanelError(
                f"df has {int(dup.sum())} duplicated (timestamp, symbol) rows, first "
                f"({first[timestamp]}, {first[symbol]!r}). Drop them with "
                f"df.drop_duplicates([{timestamp!r}, {symbol!r}], keep='last')."
            )
        present = [f for f in (*FIELDS, *OPTIONAL_FIELDS) if f in df.columns]
        wide = (
            pd.DataFrame({**{f: df[f].to_numpy() for f in present}}, index=keys.index)
            .set_index(pd.MultiIndex.from_frame(keys, names=[INDEX_NAME, COLUMNS_NAME]))
            .unstack(COLUMNS_NAME)
            .sort_index()
        )
        order = list(pd.unique(keys[symbol]))
        out: dict[str, pd.DataFrame] = {}
        for f in present:
            panel = wide[f].astype("float64").reindex(columns=order)
            panel.columns.name = COLUMNS_NAME
            panel.index.name = INDEX_NAME
            out[f] = panel
        return cls(**out)

    def to_long(self, *, dropna: bool = True) -> pd.DataFrame:
        """Return a long DataFrame with columns ``timestamp, symbol`` and the fields.

        Parameters
        ----------
        dropna : bool, default True
            Drop (timestamp, symbol) rows where every field is NaN (not listed).

        Returns
        -------
        pandas.DataFrame
            Sorted by symbol (in column order), then timestamp, with a fresh RangeIndex.
        """
        stacked = {f: getattr(self, f).stack(future_stack=True) for f in self.fields}
        long = pd.DataFrame(stacked)
        long.index.names = [INDEX_NAME, COLUMNS_NAME]
        if dropna:
            long = long.dropna(how="all")
        long = long.reset_index()
        position = {s: i for i, s in enumerate(self.symbols)}
        long = long.sort_values(
            [COLUMNS_NAME, INDEX_NAME],
            key=lambda col: col.map(position) if col.name == COLUMNS_NAME else col,
            kind="stable",
        )
        return long.reset_index(drop=True)

    # -------------------------------------------------------------- selection
    def select(
        self,
        symbols: Iterable[Any] | str | None = None,
        start: Any = None,
        end: Any = None,
    ) -> Bars:
        """Return the bars of ``symbols`` between ``start`` and ``end`` (both inclusive).

        Raises
        ------
        PanelError
            When a symbol is unknown.
        """
        cols = self.symbols if symbols is None else check_symbols(symbols, self.symbols, "symbols")
        tz = self.index.tz
        lo = to_timestamp(start, "start", tz)
        hi = to_timestamp(end, "end", tz)
        mask = np.ones(len(self.index), dtype=bool)
        if lo is not None:
            mask &= self.index >= lo
        if hi is not None:
            mask &= self.index <= hi
        return Bars(**{f: getattr(self, f).loc[mask, cols] for f in self.fields})

    def replace(self, **panels: pd.DataFrame) -> Bars:
        """Return a copy with some panels replaced (validated again)."""
        return replace(self, **panels)

    # ------------------------------------------------------------- resampling
    def resample(
        self,
        rule: str,
        *,
        label: Literal["last_bar", "period_end"] = "last_bar",
        closed: Literal["left", "right"] | None = None,
    ) -> Bars:
        """Aggregate to a lower frequency: open first, high max, low min, close last, volume sum.

        Parameters
        ----------
        rule : str
            A pandas offset alias: ``"W"`` (weeks ending Sunday), ``"W-FRI"``,
            ``"ME"`` (month end), ``"QE"``, ``"YE"``, ``"2D"``, ...
        label : {"last_bar", "period_end"}, default "last_bar"
            Stamp each period with its last bar's timestamp present in the panel
            (the moment the aggregate is known), or with the calendar period end.
        closed : {"left", "right"}, optional
            Which side of each bin is closed; pandas' default for the rule when None
            (right-closed for week/month/quarter/year ends).

        Returns
        -------
        Bars
            One row per period that contains at least one bar. A symbol with no bar in
            a period is NaN there (volume too). ``open`` is the first available open,
            ``close`` the last available close within the period.

        Notes
        -----
        No look-ahead: a period aggregates only bars stamped at or before its end, and
        with ``label="last_bar"`` it is stamped no later than its last bar. The last
        period may be partial when the data stops before the period end.

        Examples
        --------
        >>> import pandas as pd
        >>> idx = pd.date_range("2024-01-29", periods=5, freq="D", name="timestamp")
        >>> px = pd.DataFrame({"A": [1.0, 2.0, 3.0, 4.0, 5.0]}, index=idx)
        >>> bars = Bars(open=px, high=px + 1, low=px - 1, close=px, volume=px * 10)
        >>> m = bars.resample("ME")
        >>> m.close["A"].tolist(), m.volume["A"].tolist(), list(m.index.strftime("%m-%d"))
        ([3.0, 5.0], [60.0, 90.0], ['01-31', '02-02'])
        """
        check_choice("label", label, ["last_bar", "period_end"], "Bars.resample")
        check_choice("closed", closed, [None, "left", "right"], "Bars.resample")
        try:
            stamps = pd.Series(self.index, index=self.index).resample(rule, closed=closed).last()
        except (ValueError, TypeError) as exc:
            raise PanelError(
                f"The 'rule' parameter of Bars.resample must be a pandas offset alias such as "
                f"'W', 'ME', 'QE'; got {rule!r} ({exc})."
            ) from exc
        keep = stamps.notna().to_numpy()
        how = {
            "open": "first",
            "high": "max",
            "low": "min",
            "close": "last",
            "adj_close": "last",
        }
        out: dict[str, pd.DataFrame] = {}
        for f in self.fields:
            r = getattr(self, f).resample(rule, closed=closed)
            agg = r.sum(min_count=1) if f == "volume" else getattr(r, how[f])()
            agg = agg.loc[keep]
            if label == "last_bar":
                agg.index = pd.DatetimeIndex(stamps[keep])
            agg.index.name = INDEX_NAME
            agg.columns.name = self.close.columns.name
            out[f] = agg
        return Bars(**out)
