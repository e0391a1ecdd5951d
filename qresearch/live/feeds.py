"""Bar feeds of the live runner: a replay of stored bars, and a polling feed.

A feed is an object with ``bars(after=None)`` yielding ``(timestamp, bar)`` pairs in
time order, ``bar`` a DataFrame with a row per symbol and the columns open, high, low,
close, volume. ``after`` skips the bars at or before a timestamp (a restarted runner
resumes after its last processed bar).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from qresearch.exceptions import ParameterError

__all__ = ["PollingFeed", "ReplayFeed"]

_FIELDS = ("open", "high", "low", "close", "volume")


class ReplayFeed:
    """Replay stored bars (a lake, a lake folder or ``Bars``) one bar at a time.

    Parameters
    ----------
    lake_or_bars : Lake, str, Path or Bars
        Where the bars come from: a :class:`~qresearch.data.lake.Lake` (or its root
        folder) read with ``symbols``, ``start`` and ``end``; or ``Bars``.
    symbols : list of str, optional
        The symbols (all of the lake's when None; for ``Bars``, a subset).
    start, end : date-like, optional
        Inclusive bounds.
    speed : float, optional
        Bars per second to pace a demo (None: as fast as the runner goes).
    sleep : callable, default time.sleep

    Examples
    --------
    >>> from qresearch.datasets import load_sample
    >>> feed = ReplayFeed(load_sample("ohlcv", symbols=["ORCL"]), end="1995-01-05")
    >>> [(str(ts.date()), float(bar.loc["ORCL", "close"])) for ts, bar in feed.bars()][:2]
    [('1995-01-03', 2.1173), ('1995-01-04', 2.1358)]
    """

    def __init__(
        self,
        lake_or_bars: Any,
        symbols: str | Iterable[str] | None = None,
        start: Any = None,
        end: Any = None,
        *,
        speed: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        from qresearch.data.bars import Bars

        if isinstance(symbols, str):
            symbols = [symbols]
        if isinstance(lake_or_bars, str | Path):
            from qresearch.data.lake import Lake

            root = Path(lake_or_bars)
            if not root.is_dir():
                raise ParameterError(
                    f"ReplayFeed: the lake folder {str(root)!r} does not exist; ingest bars "
                    "first (qresearch ingest ... --lake DIR) or pass Bars."
                )
            lake_or_bars = Lake(root)
        if isinstance(lake_or_bars, Bars):
            from qresearch.exceptions import PanelError

            try:
                bars = lake_or_bars.select(symbols, start, end)
            except PanelError as exc:
                raise ParameterError(f"ReplayFeed: {exc}") from None
            frames = {f: getattr(bars, f) for f in _FIELDS if getattr(bars, f, None) is not None}
        elif hasattr(lake_or_bars, "read"):
            read = lake_or_bars.read(symbols, start=start, end=end)
            frames = {f: getattr(read, f) for f in _FIELDS if getattr(read, f, None) is not None}
        else:
            raise ParameterError(
                "ReplayFeed takes a Lake, a lake folder or Bars; got "
                f"{type(lake_or_bars).__name__}."
            )
        if "close" not in frames or frames["close"].empty:
            raise ParameterError(
                f"ReplayFeed: no bars for symbols={symbols!r} between {start} and {end}."
            )
        if speed is not None and not (isinstance(speed, int | float) and speed > 0):
            raise ParameterError(
                f"ReplayFeed: speed is bars per second > 0 or None; got {speed!r}."
            )
        self.frames = frames
        self.symbols = list(frames["close"].columns)
        self.index = frames["close"].index
        self.speed = speed
        self._sleep = sleep

    def bars(self, after: Any = None) -> Iterator[tuple[pd.Timestamp, pd.DataFrame]]:
        """Yield ``(timestamp, bar)`` for every bar after ``after`` (all when None)."""
        index = self.index
        start = 0 if after is None else int(index.searchsorted(pd.Timestamp(after), side="right"))
        arrays = {f: p.to_numpy(dtype=float) for f, p in self.frames.items()}
        for i in range(start, len(index)):
            if self.speed is not None and i > start:
                self._sleep(1.0 / self.speed)
            bar = pd.DataFrame({f: a[i] for f, a in arrays.items()}, index=self.symbols)
            yield index[i], bar

    def __len__(self) -> int:
        return len(self.index)


class PollingFeed:
    """Poll a venue for the latest closed bar every ``interval`` seconds.

    Parameters
    ----------
    fetch : callable
        ``fetch()`` returns ``(timestamp, bar)`` of the latest closed bar, or None
        when there is none yet; see :meth:`from_ccxt`.
    interval : float, default 60.0
        Seconds between polls.
    max_bars : int, optional
        Stop after this many new bars (None: poll until the runner stops).
    sleep : callable, default time.sleep

    A bar is yielded once: only when its timestamp is later than the last one.
    """

    def __init__(
        self,
        fetch: Callable[[], tuple[Any, pd.DataFrame] | None],
        *,
        interval: float = 60.0,
        max_bars: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not callable(fetch):
            raise ParameterError(
                f"PollingFeed: fetch must be callable; got {type(fetch).__name__}."
            )
        if not (isinstance(interval, int | float) and interval >= 0):
            raise ParameterError(f"PollingFeed: interval is seconds >= 0; got {interval!r}.")
        self.fetch = fetch
        self.interval = float(interval)
        self.max_bars = max_bars
        self._sleep = sleep

    def bars(self, after: Any = None) -> Iterator[tuple[pd.Timestamp, pd.DataFrame]]:
        """Yield each new closed bar after ``after``, polling until ``max_bars``."""
        last = None if after is None else pd.Timestamp(after)
        n = 0
        while self.max_bars is None or n < self.max_bars:
            got = self.fetch()
            if got is not None:
                ts, bar = pd.Timestamp(got[0]), got[1]
                if last is None or ts > last:
                    last = ts
                    n += 1
                    yield ts, bar
                    continue
            self._sleep(self.interval)

    @classmethod
    def from_ccxt(
        cls, exchange: Any, symbols: Iterable[str], timeframe: str = "1m", **kwargs: Any
    ) -> PollingFeed:
        """Poll ``exchange.fetch_ohlcv`` (ccxt's unified API) for the last closed candle.

        ``exchange`` is a ccxt exchange (``CCXTBroker.exchange``). Each poll asks every
        symbol for its last two candles and keeps the second to last (the last one is
        still forming); a symbol without it has NaN in the bar.
        """
        syms = list(symbols)

        def fetch() -> tuple[pd.Timestamp, pd.DataFrame] | None:
            rows, stamps = {}, []
            for s in syms:
                candles = exchange.fetch_ohlcv(s, timeframe=timeframe, limit=2)
                if len(candles) >= 2:
                    t, o, h, low, c, v = candles[-2][:6]
                    stamps.append(t)
                    rows[s] = {"open": o, "high": h, "low": low, "close": c, "volume": v}
            if not stamps:
                return None
            ts = pd.Timestamp(max(stamps), unit="ms")
            bar = pd.DataFrame.from_dict(rows, orient="index").reindex(syms)
            return ts, bar.reindex(columns=list(_FIELDS))

        return cls(fetch, **kwargs)
