"""Lake write/read vs plain pandas + pyarrow on the same hive-partitioned Parquet.

Panel: seeded random-walk OHLCV, 2520 sessions x 1000 symbols (2.52 M rows).
Cases (each in a fresh process, median of 5 after a warm-up, peak RSS):
- write:        qresearch Lake.write (atomic staged upsert) vs pandas.DataFrame.to_parquet
                with partition_cols (not atomic, no upsert)
- read_all:     Lake.read() -> Bars vs pandas.read_parquet(root) + pivot to wide close
- read_slice:   10 symbols x 2 years: Lake.read(symbols, start, end) vs
                pandas.read_parquet(root, filters=...) + pivot
Run: .venv/bin/python benchmarks/bench_lake.py
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _harness import emit, run_in_subprocess, time_case

N_ROWS, N_SYMBOLS = 2520, 1000
WORK = Path(tempfile.gettempdir()) / "qresearch-bench-lake"


def make_long() -> pd.DataFrame:
    rng = np.random.default_rng(42)
    idx = pd.bdate_range("2010-01-01", periods=N_ROWS)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, (N_ROWS, N_SYMBOLS)), axis=0))
    spread = np.abs(rng.normal(0, 0.005, (N_ROWS, N_SYMBOLS)))
    symbols = np.array([f"S{i:04d}" for i in range(N_SYMBOLS)])
    return pd.DataFrame(
        {
            "timestamp": np.repeat(idx.values, N_SYMBOLS),
            "symbol": np.tile(symbols, N_ROWS),
            "open": close.ravel(),
            "high": (close * (1 + spread)).ravel(),
            "low": (close * (1 - spread)).ravel(),
            "close": close.ravel(),
            "volume": rng.integers(1_000, 1_000_000, N_ROWS * N_SYMBOLS).astype(float),
        }
    )


def pandas_root() -> Path:
    return WORK / "pandas"


def lake_root() -> Path:
    return WORK / "lake"


def prepare() -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    long = make_long()
    long.to_parquet(WORK / "long.parquet")
    from qresearch.data import Lake

    Lake(lake_root()).write(long)
    long.assign(year=long["timestamp"].dt.year).to_parquet(
        pandas_root(), partition_cols=["symbol", "year"], max_partitions=20_000
    )


def case(name: str) -> None:
    slice_symbols = [f"S{i:04d}" for i in range(0, 1000, 100)]
    start, end = pd.Timestamp("2013-01-01"), pd.Timestamp("2014-12-31")
    if name.startswith("write"):
        long = pd.read_parquet(WORK / "long.parquet")
    if name == "write_qresearch":
        from qresearch.data import Lake

        target = WORK / "w_lake"
        emit(time_case(lambda: Lake(target).write(long), repeat=3))
    elif name == "write_pandas":
        target = WORK / "w_pandas"

        def write_pandas() -> None:
            shutil.rmtree(target, ignore_errors=True)
            long.assign(year=long["timestamp"].dt.year).to_parquet(
                target, partition_cols=["symbol", "year"], max_partitions=20_000
            )

        emit(time_case(write_pandas, repeat=3))
    elif name == "read_all_qresearch":
        from qresearch.data import Lake

        emit(time_case(lambda: Lake(lake_root()).read().close))
    elif name == "read_all_pandas":
        emit(
            time_case(
                lambda: pd.read_parquet(
                    pandas_root(), columns=["timestamp", "symbol", "close"]
                ).pivot(index="timestamp", columns="symbol", values="close")
            )
        )
    elif name == "read_slice_qresearch":
        from qresearch.data import Lake

        emit(time_case(lambda: Lake(lake_root()).read(slice_symbols, start, end).close))
    elif name == "read_slice_pandas":

        def read_slice() -> pd.DataFrame:
            df = pd.read_parquet(
                pandas_root(),
                filters=[
                    ("symbol", "in", slice_symbols),
                    ("year", ">=", 2013),
                    ("year", "<=", 2014),
                ],
            )
            df = df[(df["timestamp"] >= start) & (df["timestamp"] <= end)]
            return df.pivot(index="timestamp", columns="symbol", values="close")

        emit(time_case(read_slice))
    else:
        raise SystemExit(f"unknown case {name}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case")
    args = parser.parse_args()
    if args.case:
        case(args.case)
        return
    print(f"preparing {N_ROWS} x {N_SYMBOLS} OHLCV in {WORK} ...", flush=True)
    prepare()
    print(
        f"{'case':12s} {'qresearch s':>12s} {'pandas s':>10s} {'ratio':>7s} "
        f"{'qr peak MB':>11s} {'pd peak MB':>11s}"
    )
    for name in ("write", "read_all", "read_slice"):
        q = run_in_subprocess(__file__, f"{name}_qresearch")
        p = run_in_subprocess(__file__, f"{name}_pandas")
        print(
            f"{name:12s} {q['median_s']:12.3f} {p['median_s']:10.3f} "
            f"{p['median_s'] / q['median_s']:6.2f}x {q['peak_rss_mb']:11.0f} "
            f"{p['peak_rss_mb']:11.0f}",
            flush=True,
        )
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
