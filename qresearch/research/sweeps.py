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
import itertools
import json
import os
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qresearch._process import pid_alive
from qresearch.exceptions import ParameterError
from qresearch.research._sweep_result import SweepResult, _atomic_write_bytes

__all__ = ["SweepResult", "expand_grid", "load_sweep", "sweep"]


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


def _returns_of(value: Any) -> pd.Series:
    # A BacktestResult (its .returns) or a returns Series, as a float Series.
    # A frame's .returns would be its column of that name, not the frame.
    is_pandas = isinstance(value, pd.Series | pd.DataFrame)
    returns = value if is_pandas else getattr(value, "returns", value)
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
    # The returns the notebook recorded (record_returns -> returns.parquet), if any.
    returns = record.returns()
    return None if returns is None else _returns_of(returns)


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
            if pid.isdigit() and not pid_alive(int(pid)):
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
    from qresearch._progress import progress_bar

    return progress_bar(total, desc, unit="run", show=show, initial=initial)


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
    if not callable(target):
        from qresearch.research.runs import check_parameters

        for params in trials:  # unknown names and wrong types, before anything runs
            check_parameters(target, params)
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
