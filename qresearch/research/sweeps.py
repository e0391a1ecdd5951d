"""Parameter sweeps: run a notebook or a callable over a grid, in parallel, resumably.

:func:`sweep` expands a grid into trials, runs them on a local process pool (spawn
context) or a dask.distributed cluster, and writes each finished trial to
``out_dir/trials/<trial_id>.json`` (parameters, status, error, stats; the completion
marker) plus ``<trial_id>.parquet`` (its returns) as soon as it finishes, each file
written to a unique temporary name and renamed into place. A crash loses at most the
trials in flight; ``resume=True`` skips the trials already completed (failed ones run
again). :class:`SweepResult` reads that folder back: a ranked table with the
probabilistic and deflated Sharpe ratios of every trial, the probability of backtest
overfitting across the grid, a plotly heatmap and a self-contained HTML report.

dask, papermill, plotly and tqdm are imported only inside the functions that use them.
"""

from __future__ import annotations

import hashlib
import html
import itertools
import json
import math
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qresearch.exceptions import ParameterError

__all__ = ["SweepResult", "expand_grid", "load_sweep", "sweep"]

STATS_COLUMNS = ("sharpe", "cagr", "max_drawdown", "volatility", "sortino", "total_return")
"""The stats shown in :meth:`SweepResult.table`, after the parameters and status."""


NOTEBOOK_RETURNS_FILE = "returns.parquet"
"""A swept notebook's returns: this file in its run folder (one column), if written."""


def expand_grid(grid: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]]) -> list[dict]:
    """Return the trials of a grid as a list of parameter dicts.

    Parameters
    ----------
    grid : dict of lists, or list of dicts
        ``{"a": [1, 2], "b": ["x"]}`` is the cartesian product (in key order, the last
        key varying fastest); a list of dicts is taken as the trials themselves.

    Returns
    -------
    list of dict
        One dict per trial, without duplicates (first occurrence kept).

    Examples
    --------
    >>> expand_grid({"lookback": [20, 60], "top_n": [5]})
    [{'lookback': 20, 'top_n': 5}, {'lookback': 60, 'top_n': 5}]
    >>> expand_grid([{"a": 1}, {"a": 2, "b": 3}])
    [{'a': 1}, {'a': 2, 'b': 3}]
    """
    if isinstance(grid, Mapping):
        keys = list(grid)
        for key in keys:
            values = grid[key]
            if isinstance(values, str | bytes) or not isinstance(values, Sequence):
                raise ParameterError(
                    f"The grid passed to sweep must map each parameter to a list of values; "
                    f"{key!r} maps to {values!r}. Write {key!r}: [{values!r}]."
                )
            if len(values) == 0:
                raise ParameterError(
                    f"The grid passed to sweep has no values for {key!r}; give at least one."
                )
        trials = [
            dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())
        ]
    elif isinstance(grid, Sequence) and not isinstance(grid, str | bytes):
        bad = [g for g in grid if not isinstance(g, Mapping)]
        if bad:
            raise ParameterError(
                f"A list grid passed to sweep must hold one dict of parameters per trial; "
                f"got {bad[0]!r}."
            )
        trials = [dict(g) for g in grid]
    else:
        raise ParameterError(
            "The grid passed to sweep must be a dict of lists (cartesian product) or a list "
            f"of dicts (one per trial); got {type(grid).__name__}."
        )
    if not trials:
        raise ParameterError("The grid passed to sweep is empty; give at least one trial.")
    seen: dict[str, dict] = {}
    for params in trials:
        for key in params:
            if not isinstance(key, str) or not key.isidentifier():
                raise ParameterError(
                    f"Sweep parameter names must be Python identifiers; got {key!r}."
                )
        seen.setdefault(trial_id(params), params)
    return list(seen.values())


def _canonical(params: Mapping[str, Any]) -> str:
    # Canonical JSON of a trial's parameters (numpy scalars as Python numbers).
    def default(value: Any) -> Any:
        if isinstance(value, np.generic):
            return value.item()
        raise ParameterError(
            f"Sweep parameter values must be JSON values (numbers, strings, bools, None, "
            f"lists); got {value!r} of type {type(value).__name__}."
        )

    return json.dumps(dict(params), sort_keys=True, default=default, separators=(",", ":"))


def trial_id(params: Mapping[str, Any]) -> str:
    """Return the 12-hex id of a trial: SHA-256 of its canonical parameter JSON.

    Examples
    --------
    >>> trial_id({"b": 2, "a": 1}) == trial_id({"a": 1, "b": 2})
    True
    """
    return hashlib.sha256(_canonical(params).encode()).hexdigest()[:12]


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    # Unique temporary file in the same folder, flushed, then renamed into place.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _pid_alive(pid: int) -> bool:
    # True when a process with this id exists (temp files name their writer's pid).
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _returns_of(value: Any) -> pd.Series:
    # A BacktestResult (its .returns) or a returns Series, as a float Series.
    returns = getattr(value, "returns", value)
    if isinstance(returns, pd.DataFrame) and returns.shape[1] == 1:
        returns = returns.iloc[:, 0]
    if not isinstance(returns, pd.Series):
        raise ParameterError(
            "A swept callable must return a BacktestResult or a pandas Series of returns; "
            f"got {type(value).__name__}."
        )
    return returns.astype("float64").rename("returns")


def _stats_of(returns: pd.Series, periods_per_year: float) -> dict[str, Any]:
    from qresearch.evaluation import stats

    values = stats(returns.dropna(), periods_per_year=periods_per_year)
    out: dict[str, Any] = {}
    for key, value in values.items():
        if hasattr(value, "isoformat"):
            out[str(key)] = value.isoformat()
        elif isinstance(value, int | np.integer):
            out[str(key)] = int(value)
        else:
            out[str(key)] = float(value)
    return out


def _run_trial(
    target: Callable[..., Any] | str,
    params: dict[str, Any],
    periods_per_year: float,
    runs_dir: str,
) -> dict[str, Any]:
    # Run one trial (in a worker); never raises: failures come back as status "failed".
    started = time.perf_counter()
    out: dict[str, Any] = {"status": "ok", "error": None, "stats": {}, "metrics": {}}
    returns: pd.Series | None = None
    try:
        if callable(target):
            returns = _returns_of(target(**params))
        else:
            record = _run_notebook_trial(target, params, runs_dir)
            out["metrics"] = dict(getattr(record, "metrics", None) or {})
            out["run_path"] = str(getattr(record, "path", ""))
            if getattr(record, "status", None) == "completed":
                returns = _notebook_returns(record)
            else:
                error = getattr(record, "error", None) or {}
                out["status"] = "failed"
                out["error"] = (
                    f"{error.get('ename', 'RunError')}: {error.get('evalue', '')} "
                    f"(cell {error.get('cell_index')}; run folder {out['run_path']})"
                )
        if returns is not None:
            out["stats"] = _stats_of(returns, periods_per_year)
    except Exception as exc:
        out.update(
            status="failed",
            error=f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(limit=8),
        )
        returns = None
    out["duration_s"] = time.perf_counter() - started
    out["returns"] = returns
    return out


def _run_notebook_trial(path: str, params: dict[str, Any], runs_dir: str) -> Any:
    from qresearch.research.runs import run_notebook  # the other half of qr.research

    return run_notebook(path, params, out_dir=runs_dir, raise_on_failure=False)


def _notebook_returns(record: Any) -> pd.Series | None:
    # The returns a notebook wrote to returns.parquet in its run folder, if any.
    path = Path(record.path) / NOTEBOOK_RETURNS_FILE
    return _returns_of(pd.read_parquet(path)) if path.exists() else None


def _target_name(target: Callable[..., Any] | str | os.PathLike) -> str:
    if callable(target):
        return str(getattr(target, "__name__", type(target).__name__))
    return Path(target).stem


class _Store:
    # The trial files of one sweep folder.
    def __init__(self, out_dir: Path) -> None:
        self.trials = out_dir / "trials"
        self.trials.mkdir(parents=True, exist_ok=True)
        for tmp in self.trials.glob(".*.tmp"):  # left by a killed sweep: remove
            pid = tmp.name.rsplit(".", 3)[-3]
            if pid.isdigit() and not _pid_alive(int(pid)):
                tmp.unlink(missing_ok=True)

    def completed(self) -> set[str]:
        done = set()
        for path in self.trials.glob("*.json"):
            try:
                if json.loads(path.read_text()).get("status") == "ok":
                    done.add(path.stem)
            except (OSError, ValueError):
                continue  # unreadable: run it again
        return done

    def write(self, tid: str, params: dict[str, Any], outcome: dict[str, Any]) -> None:
        # Returns first, then the JSON record that marks the trial complete.
        returns = outcome.pop("returns", None)
        if returns is not None:
            frame = returns.to_frame("returns")
            _atomic_write_bytes(self.trials / f"{tid}.parquet", frame.to_parquet())
        record = {"trial_id": tid, "params": params, **outcome, "has_returns": returns is not None}
        text = json.dumps(record, indent=1, sort_keys=True, default=str)
        _atomic_write_bytes(self.trials / f"{tid}.json", text.encode())


def _progress(total: int, initial: int, desc: str, show: bool | None) -> Any:
    from tqdm.auto import tqdm

    disable = not sys.stderr.isatty() if show is None else not show
    return tqdm(total=total, initial=initial, desc=desc, unit="run", disable=disable)


def _iter_local(
    target: Any, todo: list[dict], n_jobs: int, ppy: float, runs_dir: str
) -> Iterator[tuple[dict, dict]]:
    if n_jobs == 1 or len(todo) <= 1:
        for params in todo:
            yield params, _run_trial(target, params, ppy, runs_dir)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(n_jobs, len(todo)), mp_context=ctx) as pool:
        futures = {pool.submit(_run_trial, target, p, ppy, runs_dir): p for p in todo}
        for fut in as_completed(futures):
            yield futures[fut], _outcome(fut)


def _outcome(fut: Any) -> dict[str, Any]:
    # A future's outcome; a worker that died or could not unpickle is a failed trial.
    try:
        result: dict[str, Any] = fut.result()
        return result
    except Exception as exc:
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "stats": {}}


def _iter_dask(
    target: Any, todo: list[dict], scheduler: Any, ppy: float, runs_dir: str
) -> Iterator[tuple[dict, dict]]:
    from qresearch._optional import import_optional

    distributed = import_optional("distributed", extra="dist")
    own = isinstance(scheduler, str)
    client = distributed.Client(scheduler) if own else scheduler
    try:
        futures = {client.submit(_run_trial, target, p, ppy, runs_dir, pure=False): p for p in todo}
        for fut in distributed.as_completed(list(futures)):
            yield futures[fut], _outcome(fut)
            fut.release()
    finally:
        if own:
            client.close()


def sweep(
    target: Callable[..., Any] | str | os.PathLike,
    grid: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]],
    n_jobs: int = 2,
    scheduler: Any = None,
    resume: bool = True,
    out_dir: str | os.PathLike | None = None,
    *,
    periods_per_year: float = 252,
    progress: bool | None = None,
) -> SweepResult:
    """Run ``target`` once per trial of ``grid``; return the :class:`SweepResult`.

    Parameters
    ----------
    target : callable or path
        A picklable function of the parameters (keyword arguments) returning a
        ``BacktestResult`` (its ``.returns`` are used) or a returns Series; or the path
        of a papermill notebook, run with ``qr.research.run_notebook`` (its metrics, and
        its returns when the notebook recorded them).
    grid : dict of lists, or list of dicts
        The trials (see :func:`expand_grid`).
    n_jobs : int, default 2
        Worker processes of the local pool (spawn context); 1 runs in this process.
        Ignored when ``scheduler`` is given.
    scheduler : str or distributed.Client, optional
        ``"tcp://host:port"`` of a dask scheduler, or a ``distributed.Client``: run the
        trials on that cluster (results are written here, by this process).
    resume : bool, default True
        Skip the trials already completed in ``out_dir``; False runs every trial again.
    out_dir : path, optional
        Folder of the sweep; default ``reports/sweeps/<name>`` (the function's name
        or the notebook's stem).
    periods_per_year : float, default 252
        Of the returns, for the stats.
    progress : bool, optional
        Show a tqdm progress bar; default: only when stderr is a terminal.

    Returns
    -------
    SweepResult
        Every trial in ``out_dir``; failed trials carry their status and error.

    Notes
    -----
    A failing trial never stops the others. Each trial is written the moment it
    finishes, atomically, so a killed sweep resumes where it stopped.
    """
    if not (callable(target) or isinstance(target, str | os.PathLike)):
        raise ParameterError(
            f"The 'target' parameter of sweep must be a callable or a notebook path; got "
            f"{type(target).__name__}."
        )
    if not callable(target):
        target = str(target)
        if not Path(target).is_file():
            raise ParameterError(f"sweep: notebook {target} not found. Check the path.")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise ParameterError(
            f"The 'n_jobs' parameter of sweep must be an integer >= 1; got {n_jobs!r}."
        )
    if scheduler is not None and not (isinstance(scheduler, str) or hasattr(scheduler, "submit")):
        raise ParameterError(
            "The 'scheduler' parameter of sweep must be a dask scheduler address "
            f"('tcp://host:8786') or a distributed.Client; got {scheduler!r}."
        )
    trials = expand_grid(grid)
    if scheduler is None and n_jobs > 1 and callable(target):
        _check_picklable(target)
    name = _target_name(target)
    folder = Path(out_dir) if out_dir is not None else Path("reports/sweeps") / name
    store = _Store(folder)
    meta = {
        "name": name,
        "target": str(target) if not callable(target) else name,
        "n_trials": len(trials),
        "periods_per_year": periods_per_year,
    }
    _atomic_write_bytes(folder / "sweep.json", json.dumps(meta, indent=1).encode())
    done = store.completed() if resume else set()
    todo = [p for p in trials if trial_id(p) not in done]
    runs_dir = str(folder / "runs")
    outcomes: Iterator[tuple[dict, dict]]
    if not todo:
        outcomes = iter(())
    elif scheduler is not None:
        outcomes = _iter_dask(target, todo, scheduler, periods_per_year, runs_dir)
    else:
        outcomes = _iter_local(target, todo, n_jobs, periods_per_year, runs_dir)
    bar = _progress(len(trials), len(trials) - len(todo), f"sweep {name}", progress)
    try:
        for params, outcome in outcomes:
            store.write(trial_id(params), params, outcome)
            bar.update(1)
    finally:
        bar.close()
    ids = [trial_id(p) for p in trials]
    return SweepResult(folder, trial_ids=ids, n_resumed=len(trials) - len(todo))


def _check_picklable(target: Callable[..., Any]) -> None:
    # Worker processes import the function by name: refuse lambdas and notebook functions.
    import pickle

    try:
        pickle.dumps(target)
    except Exception as exc:
        raise ParameterError(
            f"sweep with n_jobs > 1 sends the function to worker processes, but "
            f"{_target_name(target)!r} cannot be pickled ({type(exc).__name__}: {exc}). "
            "Define it at the top level of a module (not in a notebook cell or as a "
            "lambda), or pass n_jobs=1."
        ) from exc


def load_sweep(out_dir: str | os.PathLike) -> SweepResult:
    """Return the :class:`SweepResult` of every trial written in ``out_dir``."""
    folder = Path(out_dir)
    if not (folder / "trials").is_dir():
        raise ParameterError(f"load_sweep: {folder} holds no sweep (no trials/ folder).")
    return SweepResult(folder)


class SweepResult:
    """The trials of a sweep folder: ranked table, DSR, PBO, heatmap and HTML report.

    Parameters
    ----------
    out_dir : path
        The sweep folder written by :func:`sweep`.
    trial_ids : list of str, optional
        Restrict to these trials (default: every trial in the folder).
    n_resumed : int
        How many trials were found complete and skipped by the run that made this.
    """

    def __init__(
        self, out_dir: str | os.PathLike, trial_ids: list[str] | None = None, n_resumed: int = 0
    ) -> None:
        self.out_dir = Path(out_dir)
        self.n_resumed = n_resumed
        meta_path = self.out_dir / "sweep.json"
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        self.name: str = meta.get("name", self.out_dir.name)
        self.periods_per_year: float = float(meta.get("periods_per_year", 252))
        paths = sorted((self.out_dir / "trials").glob("*.json"))
        records = [json.loads(p.read_text()) for p in paths]
        if trial_ids is not None:
            order = {tid: i for i, tid in enumerate(trial_ids)}
            records = sorted(
                (r for r in records if r["trial_id"] in order), key=lambda r: order[r["trial_id"]]
            )
        self.records: list[dict[str, Any]] = records
        self._table: pd.DataFrame | None = None

    def returns(self) -> pd.DataFrame:
        """Return the trials' returns, one column per trial id (ok trials with returns)."""
        cols = {}
        for rec in self.records:
            path = self.out_dir / "trials" / f"{rec['trial_id']}.parquet"
            if rec.get("status") == "ok" and rec.get("has_returns") and path.exists():
                cols[rec["trial_id"]] = pd.read_parquet(path)["returns"]
        return pd.DataFrame(cols)

    def table(self) -> pd.DataFrame:
        """Return one row per trial, ranked by Sharpe (failed trials last).

        Columns: the parameters, ``status``, the stats (``sharpe``, ``cagr``,
        ``max_drawdown``, ...; a notebook's own metrics otherwise), ``psr`` (the
        probabilistic Sharpe ratio against 0), ``dsr`` (the deflated Sharpe ratio with
        ``N`` = the trials with returns and ``V`` the variance of their per-period
        Sharpe ratios), ``error``, ``duration_s`` and ``trial_id``.
        """
        if self._table is not None:
            return self._table.copy()
        from qresearch.evaluation import deflated_sharpe_ratio, probabilistic_sharpe_ratio

        rows = []
        params = list(dict.fromkeys(k for r in self.records for k in r["params"]))
        for rec in self.records:
            row: dict[str, Any] = dict(rec["params"])
            row["status"] = rec.get("status")
            metrics = rec.get("metrics", {})
            values = {**metrics, **rec.get("stats", {})}
            extra = [k for k in metrics if k not in STATS_COLUMNS and k not in row]
            for key in [*STATS_COLUMNS, *extra]:
                row[key] = values.get(key, math.nan)
            row.update(error=rec.get("error"), duration_s=rec.get("duration_s"))
            row["trial_id"] = rec["trial_id"]
            rows.append(row)
        table = pd.DataFrame(rows)
        returns = {c: s.dropna() for c, s in self.returns().items()}
        returns = {c: s for c, s in returns.items() if len(s) >= 3 and s.std() > 0}
        sharpes = [float(s.mean() / s.std(ddof=1)) for s in returns.values()]
        psr, dsr = {}, {}
        for tid, series in returns.items():
            psr[tid] = probabilistic_sharpe_ratio(series)
            if len(sharpes) >= 2:
                dsr[tid] = deflated_sharpe_ratio(series, trials_sharpe=sharpes)
            else:
                dsr[tid] = deflated_sharpe_ratio(series, n_trials=1, sharpe_variance=0.0)
        if not table.empty:
            at = len(params) + 1 + len(STATS_COLUMNS)
            table.insert(at, "psr", table["trial_id"].map(psr).astype(float))
            table.insert(at + 1, "dsr", table["trial_id"].map(dsr).astype(float))
            ok = (table["status"] == "ok").astype(int)
            table = table.assign(_ok=ok).sort_values(
                ["_ok", "sharpe"], ascending=[False, False], na_position="last", kind="stable"
            )
            table = table.drop(columns="_ok").reset_index(drop=True)
            table.index.name = "rank"
            table.index += 1
        self._table = table
        return table.copy()

    def best(self) -> pd.Series:
        """Return the table row of the completed trial with the highest Sharpe ratio."""
        table = self.table()
        ok = table[table["status"] == "ok"]
        if ok.empty:
            raise ParameterError(f"Sweep {self.name} has no completed trial; see table()['error'].")
        return ok.iloc[0]

    def pbo(self, n_partitions: int = 16) -> Any:
        """Return the probability of backtest overfitting across the trials (PBOResult).

        Uses the rows where every trial has a return; ``n_partitions`` is lowered (to
        an even number) until each block has 2 rows. None with fewer than 2 trials or
        fewer than 4 common rows.
        """
        from qresearch.evaluation import probability_of_backtest_overfitting

        matrix = self.returns().dropna()
        if matrix.shape[1] < 2 or len(matrix) < 4:
            return None
        s = n_partitions
        while s > 2 and len(matrix) < 2 * s:
            s -= 2
        return probability_of_backtest_overfitting(matrix, n_partitions=s)

    def heatmap(self, x: str, y: str, metric: str = "sharpe") -> Any:
        """Return a plotly heatmap of ``metric`` over parameters ``x`` and ``y``.

        Completed trials only; when other parameters vary too, each cell shows the
        mean over them (the title says so).
        """
        import plotly.graph_objects as go

        table = self.table()
        for name, what in ((x, "x"), (y, "y"), (metric, "metric")):
            if name not in table.columns:
                raise ParameterError(
                    f"The {what!r} parameter of heatmap must be a column of table(); got "
                    f"{name!r}. Columns: {list(table.columns)}."
                )
        ok = table[table["status"] == "ok"]
        grid = ok.pivot_table(index=y, columns=x, values=metric, aggfunc="mean")
        others = [
            c for c in self.parameters() if c not in (x, y) and table[c].nunique(dropna=False) > 1
        ]
        title = f"{self.name}: {metric} by {x} and {y}"
        if others:
            title += f" (mean over {', '.join(others)})"
        fig = go.Figure(
            go.Heatmap(
                z=grid.to_numpy(),
                x=[str(v) for v in grid.columns],
                y=[str(v) for v in grid.index],
                colorscale="RdYlGn",
                colorbar={"title": metric},
                hovertemplate=f"{x}=%{{x}}<br>{y}=%{{y}}<br>{metric}=%{{z:.4g}}<extra></extra>",
            )
        )
        fig.update_layout(
            title=title, xaxis_title=x, yaxis_title=y, xaxis_type="category", yaxis_type="category"
        )
        return fig

    def parameters(self) -> list[str]:
        """Return the parameter names, in grid order."""
        return list(dict.fromkeys(k for r in self.records for k in r["params"]))

    def _summary_html(self) -> str:
        table = self.table()
        n_ok = int((table["status"] == "ok").sum()) if not table.empty else 0
        parts = [
            f"<p><b>Sweep {html.escape(self.name)}</b>: {len(table)} trials, {n_ok} completed, "
            f"{len(table) - n_ok} failed.</p>"
        ]
        if n_ok:
            best = self.best()
            shown = ", ".join(f"{p}={best[p]!r}" for p in self.parameters())
            parts.append(
                f"<p>Best by Sharpe: {html.escape(shown)}: Sharpe {best['sharpe']:.3f}, "
                f"PSR {best['psr']:.3f}, deflated Sharpe ratio {best['dsr']:.3f} "
                f"(N={n_ok} trials).</p>"
            )
        pbo = self.pbo()
        if pbo is not None:
            parts.append(
                f"<p>Probability of backtest overfitting (CSCV, S={pbo.n_partitions}): "
                f"{pbo.pbo:.3f}.</p>"
            )
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        table = self.table().drop(columns=["trial_id"], errors="ignore")
        return self._summary_html() + table.head(20).to_html(float_format="{:.4g}".format)

    def __repr__(self) -> str:
        return (
            f"SweepResult({self.name!r}, {len(self.records)} trials, out_dir={str(self.out_dir)!r})"
        )

    def to_html(self, path: str | os.PathLike | None = None) -> Path:
        """Write a self-contained HTML report (plotly.js inlined); return its path.

        Default path ``out_dir/report.html``. The heatmap is drawn over the first two
        parameters that take more than one value.
        """
        target = Path(path) if path is not None else self.out_dir / "report.html"
        table = self.table()
        body = [self._summary_html()]
        varying = [p for p in self.parameters() if table[p].nunique(dropna=False) > 1]
        if len(varying) >= 2 and (table["status"] == "ok").any():
            fig = self.heatmap(varying[0], varying[1])
            body.append(fig.to_html(full_html=False, include_plotlyjs=True))
        body.append(table.to_html(float_format="{:.4g}".format, na_rep=""))
        page = (
            "<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>Sweep {html.escape(self.name)}</title></head><body>"
            + "\n".join(body)
            + "</body></html>"
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write_bytes(target, page.encode())
        return target
