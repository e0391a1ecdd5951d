"""Papermill runs of parameterized notebooks, each in its own folder with a manifest.

``run_notebook(path, params)`` checks ``params`` against the notebook's ``parameters``
cell, executes it with papermill into ``out_dir/<run_id>/`` and writes
``manifest.json`` there. The run id is the notebook's name and a hash of its code and
the resolved parameters, so the same run is recognised and not repeated.
``load_runs(out_dir)`` tabulates every run.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import shutil
import socket
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from qresearch._process import pid_alive
from qresearch.exceptions import RunError
from qresearch.research.manifest import (
    RECORDS_FILE,
    RETURNS_FILE,
    RUN_DIR_ENV,
    data_fingerprint,
    git_info,
    jsonable,
    package_versions,
    read_json,
    write_json_atomic,
)
from qresearch.research.parameters import (
    cell_source,
    check_parameters,
    code_hash,
    identify,
    notebook_parameters,
    notebook_run_id,
    parameters_cell,
    read_notebook,
)

__all__ = [
    "RunError",
    "RunRecord",
    "RunsTable",
    "check_parameters",
    "load_runs",
    "notebook_parameters",
    "notebook_run_id",
    "run_notebook",
]

MANIFEST_FILE = "manifest.json"
KERNEL_LOG = "kernel.log"  # the kernel process's own messages (not cell output)
_MISSING = object()


# ---------------------------------------------------------------------------- records


def _html_table(rows: Mapping[str, Any]) -> str:
    cells = "".join(
        f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
        f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
        for k, v in rows.items()
    )
    return f"<table>{cells}</table>"


@dataclass(frozen=True)
class RunRecord:
    """One run of a notebook: its folder, status, parameters, metrics and manifest.

    Attributes
    ----------
    run_id : str
        ``<notebook name>-<config_id>``; also the run folder's name.
    path : Path
        The run folder.
    status : str
        ``"completed"``, ``"failed"`` or ``"running"``.
    params : dict
        The parameters the notebook ran with (declared defaults updated with the given
        ones, and ``out_dir`` when run_notebook set it).
    metrics : dict
        What the notebook recorded with ``record_metrics``.
    manifest : dict
        The whole ``manifest.json``.
    notebook_path : Path
        The executed notebook inside the run folder.
    """

    run_id: str
    path: Path
    status: str
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)
    notebook_path: Path = Path()

    @classmethod
    def load(cls, path: str | Path) -> RunRecord:
        """Read the record of the run folder ``path`` (its ``manifest.json``)."""
        path = Path(path).expanduser().resolve()
        manifest = read_json(path / MANIFEST_FILE)
        return cls(
            run_id=str(manifest.get("run_id", path.name)),
            path=path,
            status=str(manifest.get("status", "unknown")),
            params=dict(manifest.get("parameters") or {}),
            metrics=dict(manifest.get("metrics") or {}),
            manifest=manifest,
            notebook_path=path / Path(str(manifest.get("notebook", "notebook.ipynb"))).name,
        )

    def __hash__(self) -> int:
        return hash((self.run_id, self.status, str(self.path)))

    @property
    def ok(self) -> bool:
        """True when the run completed."""
        return self.status == "completed"

    def returns(self) -> pd.Series | None:
        """Return the returns the notebook recorded with ``record_returns``, or None.

        Read from ``returns.parquet`` in the run folder as a float Series named
        ``"returns"``.
        """
        path = self.path / RETURNS_FILE
        if not path.is_file():
            return None
        frame = pd.read_parquet(path)
        return frame.iloc[:, 0].astype("float64").rename("returns")

    @property
    def error(self) -> dict[str, Any] | None:
        """The error of a failed run (type, message, cell index and source), else None."""
        error = self.manifest.get("error")
        return dict(error) if isinstance(error, dict) else None

    def __repr__(self) -> str:
        return (
            f"RunRecord(run_id={self.run_id!r}, status={self.status!r}, "
            f"params={self.params!r}, metrics={self.metrics!r}, path={str(self.path)!r})"
        )

    def _repr_html_(self) -> str:
        rows: dict[str, Any] = {"run_id": self.run_id, "status": self.status}
        rows.update({f"param {k}": v for k, v in self.params.items()})
        rows.update({f"metric {k}": v for k, v in self.metrics.items()})
        if self.error:
            rows["error"] = f"{self.error.get('ename')}: {self.error.get('evalue')}"
            rows["failing cell"] = self.error.get("cell_index")
        rows["folder"] = self.path
        return _html_table(rows)


# ---------------------------------------------------------------------------- running


@contextlib.contextmanager
def _run_lock(out_dir: Path, run_id: str) -> Iterator[None]:
    # One process per run id: an exclusive lock file beside the run folder, holding the
    # pid and host; a lock left by a dead process on this host is taken over.
    lock = out_dir / f".{run_id}.lock"
    me = f"{os.getpid()} {socket.gethostname()}"
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                pid_text, host = lock.read_text().split(maxsplit=1)
                stale = host.strip() == socket.gethostname() and not pid_alive(int(pid_text))
            except (OSError, ValueError):
                stale = True
            if not stale:
                raise RunError(
                    f"run {run_id} is already running ({lock} is held by process "
                    f"{lock.read_text().strip()}). Wait for it, or delete the lock file if "
                    "that process is gone."
                ) from None
            lock.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(me)
        break
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def _kernel_manager_class(env: Mapping[str, str], log: Any) -> type:
    # An AsyncKernelManager that starts the kernel with ``env`` added to its environment,
    # so record_data / record_metrics find the run folder (no global os.environ change),
    # and the kernel process's own stdout/stderr (its log, not cell output) in ``log``.
    from jupyter_client.manager import AsyncKernelManager

    extra = dict(env)

    class _RunKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            merged = dict(kw.pop("env", None) or os.environ)
            merged.update(extra)
            kw.setdefault("stdout", log)
            kw.setdefault("stderr", log)
            await super().start_kernel(env=merged, **kw)

    return _RunKernelManager


def _last_started_cell(executed: Path) -> tuple[int, str] | None:
    # For errors that are not a cell's exception (a timeout, a dead kernel): the last
    # cell papermill started, as (index in the source notebook, source), or None.
    try:
        cells = json.loads(executed.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    added = {"injected-parameters", "papermill-error-cell-tag"}
    index, found = -1, None
    for cell in cells:
        if added & set(cell.get("metadata", {}).get("tags") or []):
            continue
        index += 1
        if cell.get("metadata", {}).get("papermill", {}).get("start_time"):
            found = (index, cell_source(cell))
    return found


def _failure(
    exc: BaseException, nb: Mapping[str, Any], injected: bool, executed: Path
) -> dict[str, Any]:
    # The manifest's error entry: type, message and the failing cell's index in the
    # source notebook (papermill counts its injected-parameters cell) and source.
    error: dict[str, Any] = {"ename": type(exc).__name__, "evalue": " ".join(str(exc).split())}
    cell_index = getattr(exc, "cell_index", None)
    source = str(getattr(exc, "source", ""))
    if isinstance(cell_index, int):
        params_at = parameters_cell(nb)
        if injected and params_at is not None and cell_index > params_at:
            cell_index -= 1
        error.update(
            ename=str(getattr(exc, "ename", error["ename"])),
            evalue=str(getattr(exc, "evalue", "")),
            execution_count=getattr(exc, "exec_count", None),
        )
    else:
        last = _last_started_cell(executed)
        if last is None:
            return error
        cell_index, source = last
    error.update(
        cell_index=cell_index,
        cell_source=source if len(source) <= 500 else source[:500] + " ...",
    )
    return error


def _artifacts(run_dir: Path, notebook_name: str) -> list[dict[str, Any]]:
    own = {MANIFEST_FILE, RECORDS_FILE, KERNEL_LOG, notebook_name}
    return [
        {"path": p.relative_to(run_dir).as_posix(), "bytes": p.stat().st_size}
        for p in sorted(run_dir.rglob("*"))
        if p.is_file() and p.name not in own and not p.name.startswith(".")
    ]


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="milliseconds")


def run_notebook(
    path: str | Path,
    params: Mapping[str, Any] | None = None,
    out_dir: str | Path = "reports/runs",
    kernel: str | None = None,
    timeout: float | None = None,
    *,
    force: bool = False,
    inputs: Sequence[str | Path] | None = None,
    cwd: str | Path | None = None,
    raise_on_failure: bool = True,
) -> RunRecord:
    """Execute a parameterized notebook with papermill into ``out_dir/<run_id>/``.

    The run folder holds the executed notebook, ``manifest.json`` (run id, notebook,
    parameters, ``config_id``, recorded data and their fingerprint, git commit and
    dirty flag, Python and package versions, seed, start/end time, duration, status,
    metrics, artifacts, and for a failed run the error and the failing cell) and
    whatever the notebook wrote there. The notebook finds its folder through
    :func:`~qresearch.research.current_run_dir` (the ``QRESEARCH_RUN_DIR`` environment
    variable); if it declares an ``out_dir`` parameter that is not given, it is set to
    the run folder (not part of the run id).

    Parameters
    ----------
    path : str or Path
        The notebook (.ipynb) with a cell tagged ``parameters``.
    params : mapping, optional
        Parameter values; checked against the parameters cell (names and the types of
        the literal defaults) before anything runs.
    out_dir : str or Path
        Folder of the run folders (created).
    kernel : str, optional
        Jupyter kernel name; default ``"python3"`` (the Python running qresearch).
    timeout : float, optional
        Seconds each cell may run (default: no limit).
    force : bool
        Run again even if a completed run with the same id exists.
    inputs : sequence of paths, optional
        Data files or folders the notebook reads; their bytes are hashed into the run
        id (and listed in the manifest), so changed data is a new run.
    cwd : str or Path, optional
        Working folder of the kernel (default: the current one).
    raise_on_failure : bool
        Raise :class:`RunError` when the notebook fails (default); with False, return
        the failed RunRecord.

    Returns
    -------
    RunRecord
        The run; the existing one when the same notebook code and parameters already
        completed in ``out_dir`` (unless ``force``).

    Raises
    ------
    ParameterError
        Missing notebook, unknown parameter or a value of the wrong type.
    RunError
        The notebook raised (``exc.record`` is the failed run; its folder keeps the
        partially executed notebook), or the same run is running in another process.
    """
    from qresearch._optional import import_optional

    path = Path(path).expanduser()
    nb = read_notebook(path)
    given = dict(params or {})
    run_id, config_id, resolved, fingerprints = identify(path, given, inputs)
    root = Path(out_dir).expanduser().resolve()
    run_dir = root / run_id
    manifest_path = run_dir / MANIFEST_FILE

    if not force and manifest_path.is_file():
        with contextlib.suppress(OSError, ValueError):
            existing = RunRecord.load(run_dir)
            if existing.ok:
                return existing

    pm = import_optional("papermill", extra="research")
    root.mkdir(parents=True, exist_ok=True)
    with _run_lock(root, run_id):
        if run_dir.exists():
            shutil.rmtree(run_dir)  # a failed, interrupted or forced earlier run
        run_dir.mkdir(parents=True)
        declared = notebook_parameters(path)
        injected_params = dict(given)
        injected: dict[str, Any] = {}
        if "out_dir" in declared and "out_dir" not in given:
            injected["out_dir"] = str(run_dir)
        injected_params.update(injected)
        workdir = Path(cwd).expanduser().resolve() if cwd is not None else Path.cwd()
        manifest: dict[str, Any] = {
            "run_id": run_id,
            "config_id": config_id,
            "notebook": str(path),
            "notebook_sha": code_hash(nb),
            "inputs": fingerprints,
            "parameters": {**resolved, **injected},
            "parameters_given": given,
            "injected": injected,
            "seed": resolved.get("seed"),
            "kernel": kernel or "python3",
            "cwd": str(workdir),
            "git": git_info(path.resolve().parent, path),
            "versions": package_versions(),
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": _now(),
            "status": "running",
        }
        write_json_atomic(manifest_path, manifest)
        out_nb = run_dir / path.name
        t0 = time.perf_counter()
        error: BaseException | None = None
        stack = contextlib.ExitStack()
        try:
            kernel_log = stack.enter_context((run_dir / KERNEL_LOG).open("ab"))
            pm.execute_notebook(
                str(path),
                str(out_nb),
                parameters=injected_params,
                kernel_name=kernel or "python3",
                language="python",
                execution_timeout=timeout,
                progress_bar=False,
                cwd=str(workdir),
                kernel_manager_class=_kernel_manager_class(
                    {RUN_DIR_ENV: str(run_dir), "QRESEARCH_RUN_ID": run_id}, kernel_log
                ),
            )
        except BaseException as exc:  # recorded, then re-raised or returned below
            error = exc
        finally:
            stack.close()
        records: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            if (run_dir / RECORDS_FILE).is_file():
                records = read_json(run_dir / RECORDS_FILE)
        if not isinstance(records, dict):
            records = {}
        data = [d for d in records.get("data") or [] if isinstance(d, dict)]
        manifest.update(
            status="completed" if error is None else "failed",
            finished=_now(),
            duration_s=round(time.perf_counter() - t0, 3),
            data=data,
            data_fingerprint=data_fingerprint(data),
            metrics=records.get("metrics", {}),
            returns=records.get("returns"),
            artifacts=_artifacts(run_dir, path.name),
        )
        if error is not None:
            manifest["error"] = _failure(error, nb, bool(injected_params), out_nb)
        write_json_atomic(manifest_path, manifest)
    record = RunRecord.load(run_dir)
    if error is not None:
        if not isinstance(error, Exception):  # KeyboardInterrupt, SystemExit
            raise error
        if raise_on_failure:
            err = record.error or {}
            raise RunError(
                f"notebook {str(path)!r} failed in cell {err.get('cell_index')} "
                f"({err.get('ename')}: {err.get('evalue')}); the partial notebook and the "
                f"manifest (status 'failed') are in {run_dir}.",
                record,
            ) from error
    return record


# ---------------------------------------------------------------------------- the table


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    # Nested dicts become dotted columns; lists become tuples (hashable, sortable).
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, list):
        out[prefix] = tuple(value)
    else:
        out[prefix] = value


class RunsTable(pd.DataFrame):
    """The table of runs (a DataFrame) that renders compactly in Jupyter."""

    @property
    def _constructor(self) -> type[RunsTable]:
        return RunsTable

    def _repr_html_(self) -> str:
        frame = pd.DataFrame(self)
        html_text: str = frame.to_html(
            max_rows=60,
            max_cols=30,
            float_format=lambda x: f"{x:.4g}",
            na_rep="",
            border=0,
            classes="qresearch-runs",
        )
        return html_text


_FIXED = ("status", "notebook", "started", "duration_s", "data_fingerprint", "git_commit", "path")


def load_runs(out_dir: str | Path = "reports/runs") -> RunsTable:
    """Return one row per run folder in ``out_dir``: parameters, status and metrics.

    Columns: ``status``, ``notebook``, every parameter, every metric (nested values as
    dotted names; a parameter named like a fixed column gets a ``param.`` prefix, a
    metric whose name is taken a ``metric.`` prefix), then
    ``started``, ``duration_s``, ``data_fingerprint``, ``git_commit`` and ``path``;
    the index is ``run_id``, ordered by start time. ``df.attrs["params"]`` and
    ``df.attrs["metrics"]`` list the parameter and metric columns. A folder whose
    manifest cannot be read is a row with status ``"unreadable"`` and the reason in
    ``error``. A missing folder gives an empty table.
    """
    root = Path(out_dir).expanduser()
    rows: list[dict[str, Any]] = []
    param_cols: list[str] = []
    metric_cols: list[str] = []
    folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    for folder in folders:
        if folder.name.startswith(".") or not (folder / MANIFEST_FILE).exists():
            continue
        try:
            record = RunRecord.load(folder)
        except (OSError, ValueError) as exc:
            rows.append(
                {"run_id": folder.name, "status": "unreadable", "error": str(exc), "path": folder}
            )
            continue
        m = record.manifest
        row: dict[str, Any] = {"run_id": record.run_id, "status": record.status}
        row["notebook"] = Path(str(m.get("notebook", ""))).name
        params: dict[str, Any] = {}
        _flatten("", record.params, params)
        metrics: dict[str, Any] = {}
        _flatten("", jsonable(record.metrics), metrics)
        taken = {*_FIXED, "run_id", "error"}
        for k, v in params.items():
            col = k if k not in taken else f"param.{k}"
            row[col] = v
            if col not in param_cols:
                param_cols.append(col)
        for k, v in metrics.items():
            col = k if k not in taken and k not in params else f"metric.{k}"
            row[col] = v
            if col not in metric_cols:
                metric_cols.append(col)
        if record.error:
            row["error"] = f"{record.error.get('ename')}: {record.error.get('evalue')}"
        row.update(
            started=m.get("started"),
            duration_s=m.get("duration_s"),
            data_fingerprint=m.get("data_fingerprint"),
            git_commit=(m.get("git") or {}).get("commit"),
            path=str(folder),
        )
        rows.append(row)
    columns = ["status", "notebook", *param_cols, *metric_cols]
    columns += [c for c in ("error", *_FIXED[2:]) if any(c in r for r in rows)]
    table = pd.DataFrame(rows, columns=["run_id", *columns])
    if not table.empty:
        table["started"] = pd.to_datetime(table["started"], utc=True, format="ISO8601")
        table = table.sort_values("started", kind="stable")
    table = table.set_index("run_id")
    out = RunsTable(table)
    out.attrs["params"] = param_cols
    out.attrs["metrics"] = metric_cols
    return out
