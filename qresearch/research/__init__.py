"""Research runs: papermill notebook runs with manifests, and the table of runs.

``run_notebook(path, params)`` executes a parameterized notebook into
``reports/runs/<run_id>/`` with the executed notebook and ``manifest.json``;
inside the notebook, ``record_data(panel)``, ``record_metrics({...})`` and
``record_returns(result)`` add the data fingerprints, headline metrics and returns
to it (and write nothing outside a run);
``load_runs("reports/runs")`` tabulates every run, and ``sweep(path, grid)`` runs
a grid of them (``sweeps.py``). Papermill loads only when a
notebook runs, so ``import qresearch.research`` stays light.
"""

from __future__ import annotations

from qresearch.research.manifest import (
    RUN_DIR_ENV,
    current_run_dir,
    record_data,
    record_metrics,
    record_returns,
)
from qresearch.research.parameters import (
    check_parameters,
    notebook_parameters,
    notebook_run_id,
)
from qresearch.research.runs import RunError, RunRecord, RunsTable, load_runs, run_notebook
from qresearch.research.sweeps import SweepResult, expand_grid, load_sweep, sweep

__all__ = [
    "RUN_DIR_ENV",
    "RunError",
    "RunRecord",
    "RunsTable",
    "SweepResult",
    "check_parameters",
    "current_run_dir",
    "expand_grid",
    "load_runs",
    "load_sweep",
    "notebook_parameters",
    "notebook_run_id",
    "record_data",
    "record_metrics",
    "record_returns",
    "run_notebook",
    "sweep",
]
