"""Run manifests and what a notebook records into its run.

Inside a run started by :func:`qresearch.research.run_notebook`, the kernel's
environment holds ``QRESEARCH_RUN_DIR`` (the run folder). :func:`record_data` and
:func:`record_metrics` then add to ``records.json`` in that folder (read, update, write
a temp file, ``os.replace``), and the run copies it into ``manifest.json`` when the
notebook ends. Outside a run they do nothing, return their input and never fail, so
the same notebook runs unchanged in JupyterLab.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import platform
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "RECORDS_FILE",
    "RETURNS_FILE",
    "RUN_DIR_ENV",
    "current_run_dir",
    "data_fingerprint",
    "git_info",
    "jsonable",
    "package_versions",
    "read_json",
    "record_data",
    "record_metrics",
    "record_returns",
    "write_json_atomic",
]

# The environment variable run_notebook sets in the kernel, and the file the
# notebook's records go to inside the run folder.
RUN_DIR_ENV = "QRESEARCH_RUN_DIR"
RECORDS_FILE = "records.json"
# The file record_returns writes into the run folder (sweeps read it for PSR/DSR/PBO).
RETURNS_FILE = "returns.parquet"

# Packages whose versions every manifest lists (when installed).
_PACKAGES = (
    "qresearch",
    "numpy",
    "pandas",
    "numba",
    "scipy",
    "pyarrow",
    "duckdb",
    "papermill",
    "nbclient",
    "ipykernel",
)

T = TypeVar("T")


def current_run_dir() -> Path | None:
    """Return the folder of the run this code executes in, or None outside a run.

    Examples
    --------
    >>> import os
    >>> current_run_dir() is None or RUN_DIR_ENV in os.environ
    True
    """
    value = os.environ.get(RUN_DIR_ENV)
    if not value:
        return None
    path = Path(value)
    return path if path.is_dir() else None


def jsonable(value: Any) -> Any:
    """Convert ``value`` to strict JSON data (NaN and infinities become None).

    Numpy scalars become numbers, timestamps ISO strings, Series and mappings dicts,
    arrays and tuples lists; anything else its ``str``.

    Examples
    --------
    >>> jsonable({"a": float("nan"), "b": (1, 2.5), 3: "x"})
    {'a': None, 'b': [1, 2.5], '3': 'x'}
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return value.as_posix()
    if hasattr(value, "to_dict") and hasattr(value, "index"):  # pandas Series
        return jsonable(value.to_dict())
    if type(value).__name__ in ("datetime64", "timedelta64"):  # numpy: not as an int
        return str(value)
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return jsonable(value.tolist())
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def write_json_atomic(path: str | Path, data: Any) -> Path:
    """Write ``data`` as JSON to ``path`` atomically (temp file + ``os.replace``).

    A reader sees the old file or the new one, never a partial one.
    """
    path = Path(path)
    text = json.dumps(jsonable(data), indent=2, sort_keys=True, allow_nan=False)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_json(path: str | Path) -> Any:
    """Return the JSON data in ``path``."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _update_records(run_dir: Path, key: str, update: Any) -> None:
    # Read records.json, apply one update, write it back atomically.
    path = run_dir / RECORDS_FILE
    try:
        records = read_json(path) if path.exists() else {}
    except (OSError, ValueError):
        records = {}
    if not isinstance(records, dict):
        records = {}
    if key == "metrics":
        records["metrics"] = {**records.get("metrics", {}), **update}
    elif key == "returns":
        records["returns"] = update
    else:
        entries = [d for d in records.get("data", []) if d.get("name") != update["name"]]
        records["data"] = [*entries, update]
    write_json_atomic(path, records)


def _describe_data(obj: Any, name: str) -> dict[str, Any]:
    # Fingerprint and shape of a panel, Series or Bars (one hash over its fields).
    from qresearch.data import Bars, fingerprint

    if isinstance(obj, Bars):
        fields = ("open", "high", "low", "close", "volume", "adj_close")
        panels = [(f, getattr(obj, f, None)) for f in fields]
        parts = [f"{f}:{fingerprint(p)}" for f, p in panels if p is not None]
        digest = hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
        frame, kind = obj.close, "bars"
    else:
        digest, frame = fingerprint(obj), obj
        kind = "panel" if getattr(obj, "ndim", 2) == 2 else "series"
    index = frame.index
    columns = list(frame.columns) if getattr(frame, "ndim", 1) == 2 else [frame.name]
    return {
        "name": name,
        "kind": kind,
        "fingerprint": digest,
        "rows": len(index),
        "columns": len(columns),
        "symbols": [str(c) for c in columns[:20]],
        "start": index[0] if len(index) else None,
        "end": index[-1] if len(index) else None,
    }


def record_data(data: T, name: str | None = None) -> T:
    """Record the fingerprint of a panel, Series or ``Bars`` a notebook loaded.

    Inside a run the manifest lists it (name, fingerprint, shape, symbols, first and
    last timestamp) and its ``data_fingerprint`` combines all of them; outside a run
    this does nothing. Never fails: a problem is recorded as an ``error`` entry.

    Parameters
    ----------
    data : DataFrame, Series or Bars
        The data the notebook works on.
    name : str, optional
        Its name in the manifest (default ``"data"``; a later record of the same name
        replaces the earlier one).

    Returns
    -------
    The input, unchanged, so ``close = qr.research.record_data(load(...))`` works.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.Series([1.0, 2.0], name="x")
    >>> record_data(s, name="x") is s
    True
    """
    run_dir = current_run_dir()
    if run_dir is None:
        return data
    label = str(name) if name is not None else "data"
    try:
        entry = _describe_data(data, label)
    except Exception as exc:  # never fail a notebook over bookkeeping
        entry = {"name": label, "error": f"{type(exc).__name__}: {exc}"}
    with contextlib.suppress(Exception):
        _update_records(run_dir, "data", jsonable(entry))
    return data


def record_metrics(metrics: T) -> T:
    """Record headline metrics (a mapping or Series of name -> value) of a run.

    Inside a run the metrics go into the manifest and the ``load_runs`` table (later
    values of the same name replace earlier ones); outside a run this does nothing.
    Values are stored as JSON (numpy numbers as numbers, NaN as null, timestamps as
    ISO strings, anything else as text). Never fails.

    Returns
    -------
    The input, unchanged.

    Examples
    --------
    >>> record_metrics({"sharpe": 1.2})
    {'sharpe': 1.2}
    """
    run_dir = current_run_dir()
    if run_dir is None:
        return metrics
    try:
        values = jsonable(metrics)
        if not isinstance(values, dict):
            values = {"value": values}
        _update_records(run_dir, "metrics", values)
    except Exception:
        pass
    return metrics


def _returns_series(value: Any) -> Any:
    # A BacktestResult / SimResult (their .returns) or a Series (or one-column frame)
    # of simple returns, validated, as a float64 Series named "returns".
    import pandas as pd

    from qresearch._validation import check_returns
    from qresearch.exceptions import ParameterError

    # A frame's .returns would be its column of that name, not the frame.
    is_pandas = isinstance(value, pd.Series | pd.DataFrame)
    returns = value if is_pandas else getattr(value, "returns", value)
    if isinstance(returns, pd.DataFrame) and returns.shape[1] != 1:
        hint = f", e.g. returns[{str(returns.columns[0])!r}]" if returns.shape[1] else ""
        raise ParameterError(
            f"record_returns takes the returns of one portfolio; got a DataFrame with "
            f"{returns.shape[1]} columns. Record one column{hint}."
        )
    if isinstance(returns, pd.DataFrame):
        returns = returns.iloc[:, 0]
    if not isinstance(returns, pd.Series):
        raise ParameterError(
            "record_returns takes a BacktestResult, a SimResult or a pandas Series of simple "
            f"returns; got {type(value).__name__}."
        )
    frame, _ = check_returns(returns, "returns", "record_returns")
    return frame.iloc[:, 0].rename("returns")


def record_returns(returns: T) -> T:
    """Record the periodic returns of a run, for sweeps and later comparison.

    Inside a run the returns are written to ``returns.parquet`` in the run folder (a
    temporary file, then ``os.replace``; a later call replaces it) and the manifest
    lists their length and dates. A notebook sweep reads them to compute each trial's
    statistics, the probabilistic and deflated Sharpe ratios and the probability of
    backtest overfitting; :meth:`RunRecord.returns` reads them back. Outside a run
    nothing is written, but the input is still checked, so a mistake shows while the
    notebook is developed.

    Parameters
    ----------
    returns : BacktestResult, SimResult, Series or one-column DataFrame
        Simple periodic returns (a result's ``.returns``) on a sorted, unique index;
        NaN is kept (statistics skip it), infinity is refused.

    Returns
    -------
    The input, unchanged.

    Raises
    ------
    ParameterError
        For anything that is not the returns of one portfolio, infinite returns or
        non-numeric values (inside and outside a run).
    PanelError
        For an unsorted or duplicated index.
    OSError
        When the run folder cannot be written (the run then fails: a sweep would
        otherwise rank it without its returns).

    Examples
    --------
    >>> import pandas as pd
    >>> r = pd.Series([0.01, -0.02], index=pd.to_datetime(["2024-01-02", "2024-01-03"]))
    >>> record_returns(r) is r
    True
    """
    series = _returns_series(returns)
    run_dir = current_run_dir()
    if run_dir is None:
        return returns
    path = run_dir / RETURNS_FILE
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=run_dir)
    os.close(fd)
    try:
        series.to_frame().to_parquet(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    index = series.index
    entry = {
        "file": RETURNS_FILE,
        "rows": len(series),
        "non_null": int(series.notna().sum()),
        "start": index[0] if len(index) else None,
        "end": index[-1] if len(index) else None,
    }
    _update_records(run_dir, "returns", jsonable(entry))
    return returns


def data_fingerprint(entries: list[dict[str, Any]]) -> str | None:
    """Return one hash over the recorded data fingerprints (None if nothing was recorded)."""
    parts = sorted(f"{e.get('name')}:{e.get('fingerprint')}" for e in entries)
    if not parts:
        return None
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def git_info(folder: str | Path, notebook: str | Path | None = None) -> dict[str, Any] | None:
    """Return ``{"commit", "dirty", "notebook_clean"}`` of the git repo holding ``folder``.

    ``dirty`` is True when tracked files differ from the commit; ``notebook_clean``
    when the notebook is tracked and unmodified. Returns None outside a git repository
    or without git; never raises.
    """

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args],
                cwd=str(folder),
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return None
    status = git("status", "--porcelain", "--untracked-files=no")
    info: dict[str, Any] = {
        "commit": commit.strip(),
        "dirty": None if status is None else bool(status.strip()),
    }
    if notebook is not None:
        mine = git("status", "--porcelain", "--", str(Path(notebook).resolve()))
        tracked = git("ls-files", "--error-unmatch", "--", str(Path(notebook).resolve()))
        info["notebook_clean"] = mine is not None and not mine.strip() and tracked is not None
    return info


def package_versions() -> dict[str, str]:
    """Return the Python version and the versions of the key packages (when installed)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for dist in _PACKAGES:
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            continue
    return out
