"""Process entry points for the lake concurrency tests (importable by spawned children)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SYMBOLS = ("A", "B")


def frame(dates: list[str], symbols: tuple[str, ...] = SYMBOLS) -> pd.DataFrame:
    """A long frame for ``dates`` x ``symbols``; close encodes (date, symbol) uniquely."""
    ts = pd.to_datetime(dates)
    rows = []
    for k, symbol in enumerate(symbols):
        close = ts.year * 10_000.0 + ts.day_of_year * 10.0 + k
        rows.append(
            pd.DataFrame(
                {
                    "timestamp": ts,
                    "symbol": symbol,
                    "open": close,
                    "high": close + 1.0,
                    "low": close - 1.0,
                    "close": close,
                    "volume": np.full(len(ts), 100.0),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def write_batches(root: str, dates: list[str], batch: int, barrier: Any) -> None:
    """Wait for every writer, then upsert ``dates`` in batches of ``batch`` dates."""
    from qresearch.data.lake import Lake

    lake = Lake(root)
    barrier.wait(timeout=60)
    for i in range(0, len(dates), batch):
        lake.write(frame(dates[i : i + batch]))


def write_then_hang(root: str, dates: list[str], ready: str) -> None:
    """Start a write, and hang (to be killed) once two partition files are staged."""
    import qresearch.data._lake_io as lake_io
    from qresearch.data.lake import Lake

    real = lake_io._write_parquet
    staged = [0]

    def slow(table: Any, path: Path) -> None:
        real(table, path)
        staged[0] += 1
        if staged[0] >= 2:
            Path(ready).touch()
            time.sleep(120)

    lake_io._write_parquet = slow  # type: ignore[assignment]
    Lake(root).write(frame(dates, ("A", "B", "NEW")))
