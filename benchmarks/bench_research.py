"""qr.research.sweep: a 16-run sweep of a callable, n_jobs=1 vs 2 vs a dask LocalCluster.

Part 1, the cost of the sweep machinery: a callable that does no work (it returns a
precomputed 7126-day returns Series), swept over 2 and over 16 parameter values; the
overhead per run is the slope (wall16 - wall2) / 14 and what is left of wall2 is the
fixed cost of a sweep (starting the worker processes, importing qresearch in them).
Per run the sweep computes the stats, writes a Parquet and a JSON file and ticks the
progress bar; the table (PSR/DSR) is built once per sweep, included.
Part 2, real work: the callable backtests a month-end top-n momentum portfolio of the
bundled 20-stock panel (1990-2018) with ``from_weights`` (lookback x top_n grid, 8 x 2 = 16 runs).
Each case runs in a fresh process: the first sweep (spawning workers, loading numba's
cache) and the median of 3 more, each a full sweep from scratch (``resume=False``,
new pool each time). Overhead per run = (wall - callable seconds / workers) / 16, the
callable seconds being the sum of the per-trial durations measured in the workers.
The LocalCluster (2 worker processes, 1 thread each) is started once per case, outside
the timing; its start-up time is reported separately.
Part 3, notebooks: a 16-run sweep of a small notebook (a parameters cell with ``seed``;
a cell that imports qresearch, draws 2520 daily returns and records metrics and
returns), each run a papermill execution with a fresh kernel. The notebook's own work
is the sum of its cells' execution times (papermill's per-cell ``duration``); overhead
per run = (wall - notebook seconds / workers) / 16: kernel start and stop, papermill,
the parameter check, manifest and trial files.
Run: .venv/bin/python benchmarks/bench_research.py
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _harness import emit, run_in_subprocess

GRID = {"lookback": [21, 42, 63, 84, 126, 189, 252, 378], "top_n": [3, 5]}
N_RUNS = 16
REPEAT = 3
NB_REPEAT = 2

NB_PARAMETERS = "seed = 0"
NB_WORK = """\
import numpy as np
import pandas as pd
import qresearch.api as qr

idx = pd.bdate_range("2010-01-01", periods=2520, name="timestamp")
r = pd.Series(np.random.default_rng(seed).normal(0.0004, 0.01, len(idx)), index=idx)
qr.research.record_metrics({"mean": float(r.mean())})
qr.research.record_returns(r)
"""


def momentum(lookback: int, top_n: int) -> Any:
    """Month-end top-n by trailing return over ``lookback`` rows, 10 bps fees."""
    from qresearch.backtest import from_weights
    from qresearch.datasets import load_sample

    close = load_sample("stocks")
    mom = close.pct_change(lookback, fill_method=None)
    month_end = close.index.to_series().groupby(close.index.to_period("M")).max().to_numpy()
    ranks = mom.loc[month_end].rank(axis=1, ascending=False)
    weights = (ranks <= top_n).astype(float) / top_n
    weights[mom.loc[month_end].isna().all(axis=1)] = float("nan")
    return from_weights(close, weights.reindex(close.index), fees=0.001)


_NOOP_RETURNS: Any = None


def noop(seed: int) -> Any:
    """Return the same precomputed daily returns for every ``seed`` (no work)."""
    global _NOOP_RETURNS
    if _NOOP_RETURNS is None:
        import numpy as np
        import pandas as pd

        idx = pd.bdate_range("1990-01-01", periods=7126, name="timestamp")
        rng = np.random.default_rng(0)
        _NOOP_RETURNS = pd.Series(rng.normal(0.0004, 0.01, len(idx)), index=idx)
    return _NOOP_RETURNS


def _one_sweep(
    scheduler: Any, n_jobs: int, target: Any = momentum, grid: Any = GRID
) -> tuple[float, float]:
    # Wall seconds of one full sweep and the callable's own seconds (sum over trials).
    from qresearch.research.sweeps import expand_grid, sweep

    out = Path(tempfile.mkdtemp(prefix="qresearch-bench-sweep-"))
    try:
        t0 = time.perf_counter()
        result = sweep(
            target, grid, n_jobs=n_jobs, scheduler=scheduler, out_dir=out, progress=False
        )
        table = result.table()
        wall = time.perf_counter() - t0
        if len(table) != len(expand_grid(grid)) or not (table["status"] == "ok").all():
            raise RuntimeError(f"sweep failed:\n{table[['status', 'error']]}")
        return wall, float(table["duration_s"].sum())
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _write_notebook(folder: Path) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(NB_PARAMETERS)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(NB_WORK)]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = folder / "bench_nb.ipynb"
    nbformat.write(nb, path)
    return path


def _notebook_sweep(scheduler: Any, n_jobs: int, notebook: Path) -> tuple[float, float]:
    # Wall seconds of one notebook sweep and the notebooks' own seconds (sum of the
    # executed cells' papermill durations over all runs).
    from qresearch.research.sweeps import sweep

    out = Path(tempfile.mkdtemp(prefix="qresearch-bench-nbsweep-"))
    try:
        grid = {"seed": list(range(N_RUNS))}
        t0 = time.perf_counter()
        result = sweep(
            notebook, grid, n_jobs=n_jobs, scheduler=scheduler, out_dir=out, progress=False
        )
        table = result.table()
        wall = time.perf_counter() - t0
        if len(table) != N_RUNS or not (table["status"] == "ok").all():
            raise RuntimeError(f"notebook sweep failed:\n{table[['status', 'error']]}")
        own = 0.0
        for executed in (out / "runs").glob("*/bench_nb.ipynb"):
            cells = json.loads(executed.read_text())["cells"]
            own += sum(c["metadata"]["papermill"]["duration"] or 0.0 for c in cells)
        return wall, own
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _start_cluster(wanted: bool) -> tuple[Any, Any, float]:
    # A LocalCluster of 2 worker processes (1 thread each), its client and start-up
    # seconds; (None, None, 0.0) when not wanted.
    if not wanted:
        return None, None, 0.0
    import distributed

    t0 = time.perf_counter()
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = distributed.Client(cluster)
    return cluster, client, time.perf_counter() - t0


def notebook_case(name: str) -> None:
    cluster, client, startup = _start_cluster(name.endswith("dask"))
    n_jobs = {"nb-serial": 1, "nb-pool2": 2, "nb-dask": 2}[name]
    folder = Path(tempfile.mkdtemp(prefix="qresearch-bench-nb-"))
    try:
        notebook = _write_notebook(folder)
        first_wall, _ = _notebook_sweep(client, n_jobs, notebook)
        runs = [_notebook_sweep(client, n_jobs, notebook) for _ in range(NB_REPEAT)]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    wall = statistics.median(w for w, _ in runs)
    own = statistics.median(o for _, o in runs)
    emit(
        {
            "first_s": first_wall,
            "median_s": wall,
            "own_s": own,
            "overhead_s_per_run": (wall - own / n_jobs) / N_RUNS,
            "cluster_startup_s": startup,
        }
    )


def case(name: str) -> None:
    if name.startswith("nb-"):
        notebook_case(name)
        return
    cluster, client, startup = _start_cluster(name == "dask")
    n_jobs = {"serial": 1, "pool2": 2, "dask": 2}[name]
    try:
        noop_walls = {}
        for n in (2, N_RUNS):
            grid = {"seed": list(range(n))}
            _one_sweep(client, n_jobs, noop, grid)  # warm-up
            noop_walls[n] = statistics.median(
                _one_sweep(client, n_jobs, noop, grid)[0] for _ in range(REPEAT)
            )
        per_run = (noop_walls[N_RUNS] - noop_walls[2]) / (N_RUNS - 2)
        first_wall, first_own = _one_sweep(client, n_jobs)
        runs = [_one_sweep(client, n_jobs) for _ in range(REPEAT)]
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    walls = [w for w, _ in runs]
    own = statistics.median(o for _, o in runs)
    wall = statistics.median(walls)
    emit(
        {
            "first_s": first_wall,
            "first_own_s": first_own,
            "median_s": wall,
            "own_s": own,
            "noop_wall_2_s": noop_walls[2],
            "noop_wall_16_s": noop_walls[N_RUNS],
            "overhead_ms_per_run": 1000 * per_run,
            "fixed_s": noop_walls[2] - 2 * per_run,
            "cluster_startup_s": startup,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case")
    args = parser.parse_args()
    if args.case:
        case(args.case)
        return
    print(f"sweeps of {N_RUNS} runs, median of {REPEAT}, each case in a fresh process")
    rows = {}
    for label, name in (("n_jobs=1", "serial"), ("n_jobs=2", "pool2"), ("LocalCluster 2", "dask")):
        rows[label] = run_in_subprocess(__file__, name)
    print("no-op callable: overhead per run = (wall16 - wall2) / 14; fixed = wall2 - 2 x that")
    print(f"{'':16s} {'wall2 s':>8s} {'wall16 s':>9s} {'ms/run':>7s} {'fixed s':>8s}")
    for label, r in rows.items():
        print(
            f"{label:16s} {r['noop_wall_2_s']:8.2f} {r['noop_wall_16_s']:9.2f} "
            f"{r['overhead_ms_per_run']:7.1f} {r['fixed_s']:8.2f}"
        )
    print("momentum backtests (20 stocks x 7126 days); callable s = sum of the trials' times")
    print(f"{'':16s} {'first s':>8s} {'median s':>9s} {'callable s':>10s}")
    for label, r in rows.items():
        print(f"{label:16s} {r['first_s']:8.2f} {r['median_s']:9.2f} {r['own_s']:10.2f}")
    startup = rows["LocalCluster 2"]["cluster_startup_s"]
    print(f"LocalCluster start-up (not in the sweep times): {startup:.2f} s")
    nb_rows = {}
    for label, name in (
        ("n_jobs=1", "nb-serial"),
        ("n_jobs=2", "nb-pool2"),
        ("LocalCluster 2", "nb-dask"),
    ):
        nb_rows[label] = run_in_subprocess(__file__, name)
    print(f"notebook sweeps of {N_RUNS} runs (papermill, a kernel per run), median of {NB_REPEAT}")
    print("overhead per run = (wall - notebook s / workers) / 16; notebook s = sum of cell times")
    print(f"{'':16s} {'first s':>8s} {'median s':>9s} {'notebook s':>10s} {'s/run':>6s}")
    for label, r in nb_rows.items():
        print(
            f"{label:16s} {r['first_s']:8.2f} {r['median_s']:9.2f} {r['own_s']:10.2f} "
            f"{r['overhead_s_per_run']:6.2f}"
        )
    print(json.dumps({"callable": rows, "notebook": nb_rows}))


if __name__ == "__main__":
    main()
