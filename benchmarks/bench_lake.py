"""Lake vs its peers: one Parquet file per year, wide Parquet per field, ArcticDB.

Panel: seeded random-walk OHLCV, 2520 sessions x 1000 symbols (2.52 M rows); pass
``--symbols 5000`` for the large case. The same data (written once to a Parquet file)
feeds every system. Systems:

- ``qresearch``: :class:`qresearch.data.Lake` (year files holding every symbol, sorted
  by symbol and timestamp; atomic staged upserts under the writer lock, fsync).
- ``yearly``: one Parquet file per year with all symbols (long, as generated:
  timestamp-major), written and read with pandas (``to_parquet`` / ``read_parquet``
  with filters, then ``pivot``). Not atomic, no upsert.
- ``wide``: one wide Parquet file per (field, year), symbols as columns (pyarrow).
- ``arcticdb``: ArcticDB on LMDB, one wide frame per field (symbols as columns).
  ArcticDB needs pandas < 3, so its cases run in ``benchmarks/.venv-arcticdb``, created
  on first use with ``python -m venv`` and ``pip install -r
  benchmarks/requirements-arcticdb.txt``; when that fails the ArcticDB column is
  skipped with a note.

Operations (each the same result for every system, as wide dates x symbols panels):
- ``write``:      the whole panel into an empty store (qresearch: ``Lake.write(bars)``)
- ``read_panel``: the close field, all dates x all symbols
- ``read_all``:   the five OHLCV fields, all dates x all symbols (``Lake.read()``)
- ``slice``:      five fields, 10 symbols x 2 years (2013-2014)
- ``xsection``:   five fields, one day x all symbols

Each case runs in a fresh process: median of 5 runs after a warm-up (3 for writes,
each into an empty store, cleanup untimed) and the process's peak RSS. The load
average is printed with the figures (the machine may be shared).

Run: .venv/bin/python benchmarks/bench_lake.py [--symbols 5000] [--systems ...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _harness import time_case  # noqa: E402

N_ROWS = 2520
FIELDS = ("open", "high", "low", "close", "volume")
SYSTEMS = ("qresearch", "yearly", "wide", "arcticdb")
OPS = ("write", "read_panel", "read_all", "slice", "xsection")
ARCTIC_VENV = HERE / ".venv-arcticdb"
ARCTIC_REQUIREMENTS = HERE / "requirements-arcticdb.txt"
SLICE_START, SLICE_END = pd.Timestamp("2013-01-01"), pd.Timestamp("2014-12-31")
DAY = pd.Timestamp("2016-06-15")
# Targets of the issue: qresearch time / peer time must stay below these.
TARGETS = {
    "write": ("yearly", 1.5),
    "read_panel": ("arcticdb", 3.0),
    "read_all": ("arcticdb", 1.5),
    "slice": ("arcticdb", 5.0),
    "xsection": ("yearly", 2.0),
}


def work_dir(n_symbols: int) -> Path:
    return Path(tempfile.gettempdir()) / f"qresearch-bench-lake-{n_symbols}"


def slice_symbols(n_symbols: int) -> list[str]:
    return [f"S{i:04d}" for i in range(0, n_symbols, n_symbols // 10)][:10]


def make_long(n_symbols: int) -> pd.DataFrame:
    rng = np.random.default_rng(42)
    idx = pd.bdate_range("2010-01-01", periods=N_ROWS)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, (N_ROWS, n_symbols)), axis=0))
    spread = np.abs(rng.normal(0, 0.005, (N_ROWS, n_symbols)))
    symbols = np.array([f"S{i:04d}" for i in range(n_symbols)])
    return pd.DataFrame(
        {
            "timestamp": np.repeat(idx.values, n_symbols).astype("datetime64[us]"),
            "symbol": np.tile(symbols, N_ROWS),
            "open": close.ravel(),
            "high": (close * (1 + spread)).ravel(),
            "low": (close * (1 - spread)).ravel(),
            "close": close.ravel(),
            "volume": rng.integers(1_000, 1_000_000, N_ROWS * n_symbols).astype(float),
        }
    )


# ------------------------------------------------------------------ timing
def run_case(python: str, case: str, n_symbols: int) -> dict[str, float]:
    done = subprocess.run(
        [python, str(Path(__file__).resolve()), "--case", case, "--symbols", str(n_symbols)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"case {case} failed:\n{done.stderr[-3000:]}")
    out: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


# ----------------------------------------------------------------- systems
def pivot(frame: pd.DataFrame, fields: tuple[str, ...] = FIELDS) -> dict[str, pd.DataFrame]:
    return {f: frame.pivot(index="timestamp", columns="symbol", values=f) for f in fields}


def case_qresearch(op: str, work: Path, n_symbols: int) -> dict[str, float]:
    from qresearch.data import Bars, Lake

    root = work / "qresearch"
    syms = slice_symbols(n_symbols)
    if op == "write":
        bars = Bars.from_long(pd.read_parquet(work / "long.parquet"))
        target = work / "w_qresearch"
        return time_case(
            lambda: Lake(target).write(bars),
            repeat=3,
            setup=lambda: shutil.rmtree(target, ignore_errors=True),
        )
    lake = Lake(root)
    if op == "read_panel":
        return time_case(lambda: lake.read_panel("close"))
    if op == "read_all":
        return time_case(lambda: lake.read())
    if op == "slice":
        return time_case(lambda: lake.read(syms, SLICE_START, SLICE_END))
    if op == "xsection":
        return time_case(lambda: lake.read(start=DAY, end=DAY))
    raise SystemExit(f"unknown op {op}")


def _write_yearly(long: pd.DataFrame, root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    years = long["timestamp"].dt.year
    for year in sorted(years.unique()):
        long[years == year].to_parquet(root / f"{year}.parquet", index=False)


def case_yearly(op: str, work: Path, n_symbols: int) -> dict[str, float]:
    root = work / "yearly"
    syms = slice_symbols(n_symbols)
    if op == "write":
        long = pd.read_parquet(work / "long.parquet")
        target = work / "w_yearly"
        return time_case(
            lambda: _write_yearly(long, target),
            repeat=3,
            setup=lambda: shutil.rmtree(target, ignore_errors=True),
        )
    files = sorted(str(p) for p in root.glob("*.parquet"))
    if op == "read_panel":
        return time_case(
            lambda: pd.read_parquet(files, columns=["timestamp", "symbol", "close"]).pivot(
                index="timestamp", columns="symbol", values="close"
            )
        )
    if op == "read_all":
        return time_case(lambda: pivot(pd.read_parquet(files)))
    if op == "slice":
        two = [f for f in files if Path(f).stem in ("2013", "2014")]

        def read_slice() -> dict[str, pd.DataFrame]:
            frame = pd.read_parquet(two, filters=[("symbol", "in", syms)])
            ts = frame["timestamp"]
            return pivot(frame[(ts >= SLICE_START) & (ts <= SLICE_END)])

        return time_case(read_slice)
    if op == "xsection":
        one = str(root / f"{DAY.year}.parquet")
        return time_case(lambda: pivot(pd.read_parquet(one, filters=[("timestamp", "==", DAY)])))
    raise SystemExit(f"unknown op {op}")


def _write_wide(long: pd.DataFrame, root: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    root.mkdir(parents=True, exist_ok=True)
    for field, panel in pivot(long).items():
        for year, part in panel.groupby(panel.index.year):
            table = pa.Table.from_pandas(part, preserve_index=True)
            pq.write_table(table, root / f"{field}-{year}.parquet")


def _read_wide(root: Path, field: str, columns: list[str] | None = None, years=None):  # type: ignore[no-untyped-def]
    import pyarrow.parquet as pq

    files = sorted(root.glob(f"{field}-*.parquet"))
    if years is not None:
        files = [f for f in files if int(f.stem.split("-")[1]) in years]
    cols = None if columns is None else [*columns, "timestamp"]
    return pd.concat([pq.read_table(f, columns=cols).to_pandas() for f in files])


def case_wide(op: str, work: Path, n_symbols: int) -> dict[str, float]:
    root = work / "wide"
    syms = slice_symbols(n_symbols)
    if op == "write":
        long = pd.read_parquet(work / "long.parquet")
        target = work / "w_wide"
        return time_case(
            lambda: _write_wide(long, target),
            repeat=3,
            setup=lambda: shutil.rmtree(target, ignore_errors=True),
        )
    if op == "read_panel":
        return time_case(lambda: _read_wide(root, "close"))
    if op == "read_all":
        return time_case(lambda: {f: _read_wide(root, f) for f in FIELDS})
    if op == "slice":
        return time_case(
            lambda: {
                f: _read_wide(root, f, syms, years=(2013, 2014)).loc[SLICE_START:SLICE_END]
                for f in FIELDS
            }
        )
    if op == "xsection":
        return time_case(
            lambda: {f: _read_wide(root, f, years=(DAY.year,)).loc[[DAY]] for f in FIELDS}
        )
    raise SystemExit(f"unknown op {op}")


def _arctic_library(path: Path, create: bool = False):  # type: ignore[no-untyped-def]
    import arcticdb

    ac = arcticdb.Arctic(f"lmdb://{path}?map_size=40GB")
    if create:
        return ac.get_library("bench", create_if_missing=True)
    return ac["bench"]


def _write_arctic(panels: dict[str, pd.DataFrame], path: Path) -> None:
    lib = _arctic_library(path, create=True)
    for field, panel in panels.items():
        lib.write(field, panel)


def case_arcticdb(op: str, work: Path, n_symbols: int) -> dict[str, float]:
    syms = slice_symbols(n_symbols)
    if op == "write":
        panels = pivot(pd.read_parquet(work / "long.parquet"))
        target = work / "w_arcticdb"
        return time_case(
            lambda: _write_arctic(panels, target),
            repeat=3,
            setup=lambda: shutil.rmtree(target, ignore_errors=True),
        )
    lib = _arctic_library(work / "arcticdb")
    if op == "read_panel":
        return time_case(lambda: lib.read("close").data)
    if op == "read_all":
        return time_case(lambda: {f: lib.read(f).data for f in FIELDS})
    if op == "slice":
        return time_case(
            lambda: {
                f: lib.read(f, date_range=(SLICE_START, SLICE_END), columns=syms).data
                for f in FIELDS
            }
        )
    if op == "xsection":
        return time_case(lambda: {f: lib.read(f, date_range=(DAY, DAY)).data for f in FIELDS})
    raise SystemExit(f"unknown op {op}")


CASES = {
    "qresearch": case_qresearch,
    "yearly": case_yearly,
    "wide": case_wide,
    "arcticdb": case_arcticdb,
}


# ------------------------------------------------------------------ set-up
def arctic_python() -> tuple[str | None, str]:
    """The ArcticDB environment's interpreter (created on first use), or None and why."""
    python = ARCTIC_VENV / "bin" / "python"
    probe = [str(python), "-c", "import arcticdb, pandas; assert pandas.__version__ < '3'"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return str(python), ""
    print(f"creating {ARCTIC_VENV} for the ArcticDB cases (pip install) ...", flush=True)
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(ARCTIC_VENV)],
        [str(python), "-m", "pip", "install", "-q", "-r", str(ARCTIC_REQUIREMENTS)],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            return None, f"{' '.join(step[:4])} failed: {done.stderr.strip()[-500:]}"
    if subprocess.run(probe, capture_output=True).returncode != 0:
        return None, "arcticdb does not import in the new environment"
    return str(python), ""


def prepare(work: Path, n_symbols: int, systems: list[str], arctic: str | None) -> None:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    long = make_long(n_symbols)
    long.to_parquet(work / "long.parquet", index=False)
    if "qresearch" in systems:
        from qresearch.data import Bars, Lake

        Lake(work / "qresearch").write(Bars.from_long(long))
    if "yearly" in systems:
        _write_yearly(long, work / "yearly")
    if "wide" in systems:
        _write_wide(long, work / "wide")
    del long
    if "arcticdb" in systems and arctic is not None:
        code = (
            "import sys, pandas as pd; sys.path.insert(0, sys.argv[1]); import bench_lake as b; "
            "from pathlib import Path; w = Path(sys.argv[2]); "
            "b._write_arctic(b.pivot(pd.read_parquet(w / 'long.parquet')), w / 'arcticdb')"
        )
        subprocess.run([arctic, "-c", code, str(HERE), str(work)], check=True)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", help="internal: run one case SYSTEM_OP in this process")
    parser.add_argument("--symbols", type=int, default=1000)
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS)
    parser.add_argument("--ops", nargs="+", default=list(OPS), choices=OPS)
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    args = parser.parse_args()
    work = work_dir(args.symbols)
    if args.case:
        system, op = args.case.split("_", 1)
        print(json.dumps(CASES[system](op, work, args.symbols)))
        return
    systems = list(args.systems)
    arctic = None
    if "arcticdb" in systems:
        arctic, why = arctic_python()
        if arctic is None:
            print(f"NOTE: ArcticDB skipped: {why}", flush=True)
            systems.remove("arcticdb")
    print(f"preparing {N_ROWS} x {args.symbols} OHLCV in {work} ({load()}) ...", flush=True)
    prepare(work, args.symbols, systems, arctic)
    results: dict[str, dict[str, dict[str, float]]] = {op: {} for op in args.ops}
    header = f"{'operation':11s}" + "".join(f" {s + ' s':>12s}" for s in systems)
    header += "   target" + "".join(f" {s[:8] + ' MB':>11s}" for s in systems)
    print(header, flush=True)
    for op in args.ops:
        for system in systems:
            python = arctic if system == "arcticdb" else sys.executable
            assert python is not None
            results[op][system] = run_case(python, f"{system}_{op}", args.symbols)
        row = results[op]
        line = f"{op:11s}" + "".join(f" {row[s]['median_s']:12.3f}" for s in systems)
        peer, limit = TARGETS[op]
        if "qresearch" in row and peer in row:
            ratio = row["qresearch"]["median_s"] / row[peer]["median_s"]
            verdict = "ok" if ratio <= limit else "MISSED"
            line += f"  {ratio:4.2f}x/{limit:g}x {peer} {verdict}"
        line += "".join(f" {row[s]['peak_rss_mb']:11.0f}" for s in systems)
        print(line, flush=True)
    print(f"done ({load()})")
    if args.json:
        args.json.write_text(json.dumps({"symbols": args.symbols, "results": results}, indent=2))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
