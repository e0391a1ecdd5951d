"""Every notebook runs end to end under papermill with small parameters."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("00_quickstart.ipynb", {"start": "2010-01-01", "end": "2014-12-31", "top_n": 3}),
        ("01_data_lake.ipynb", {"start": "2013-01-01", "end": "2014-06-30", "symbols": ["ORCL"]}),
        (
            "02_meta_labeling.ipynb",
            {"start": "2008-01-01", "end": "2014-12-31", "n_estimators": 20, "n_splits": 3},
        ),
        (
            "03_cross_sectional_momentum.ipynb",
            {"start": "2010-01-01", "end": "2014-12-31", "top_n": 5},
        ),
        # Every alternative the parameters cell lists ("inverse_vol" runs in 05_sweep).
        # Optimizers that concentrate the book: the 20% cap then leaves cash, never crashes.
        *[
            (
                "03_cross_sectional_momentum.ipynb",
                {"start": "2012-01-01", "end": "2014-12-31", "top_n": 5, "method": method},
            )
            for method in ("max_sharpe", "min_vol", "risk_parity", "equal")
        ],
        ("04_event_driven_validation.ipynb", {"start": "2005-01-01", "end": "2014-12-31"}),
        (
            "05_sweep.ipynb",
            {
                "top_n": [3, 5],
                "lookback": [126],
                "start": "2014-01-01",
                "n_jobs": 2,
                "notebook": str(NOTEBOOKS / "03_cross_sectional_momentum.ipynb"),
            },
        ),
        (
            "05_paper_trading.ipynb",
            {"start": "2014-01-01", "end": "2014-12-31", "symbols": ["ORCL", "NVDA"]},
        ),
    ],
)
def test_notebook_runs_under_papermill(name: str, params: dict, tmp_path: Path) -> None:
    pm = pytest.importorskip("papermill")

    params = {**params, "lake_root": str(tmp_path / "lake"), "out_dir": str(tmp_path / "out")}
    out = tmp_path / name
    pm.execute_notebook(
        str(NOTEBOOKS / name), str(out), parameters=params, kernel_name="python3", cwd=str(tmp_path)
    )
    nbformat = pytest.importorskip("nbformat")

    executed = nbformat.read(out, as_version=4)
    errors = [
        o
        for c in executed.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors
    warnings = [
        o["text"]
        for c in executed.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "stream" and o.get("name") == "stderr" and "Warning" in o["text"]
    ]
    assert not warnings
    if name.startswith("01"):
        assert (tmp_path / "lake" / "year=2013" / "data.parquet").is_file()
    elif name.startswith("04"):
        import pandas as pd

        summary = pd.read_csv(tmp_path / "out" / "reconciliation.csv", index_col=0)["value"]
        assert int(summary["unexplained"]) == 0
        assert (tmp_path / "out" / "performance.html").exists()
    elif name.startswith("05_paper"):
        assert (tmp_path / "out" / "state" / "index.html").exists()  # the status page
    elif name.startswith("05"):
        assert (tmp_path / "out" / "report.html").exists()
        assert len(list((tmp_path / "out" / "trials").glob("*.json"))) == 2
    else:
        assert (tmp_path / "out" / "tearsheet.html").exists()


@pytest.mark.parametrize(
    "name",
    [
        "00_quickstart.ipynb",
        "01_data_lake.ipynb",
        "02_meta_labeling.ipynb",
        "03_cross_sectional_momentum.ipynb",
        "04_event_driven_validation.ipynb",
        "05_sweep.ipynb",
        "05_paper_trading.ipynb",
    ],
)
def test_notebook_finds_the_project_root_from_any_folder(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first code cell sets ROOT: the folder holding pyproject.toml above the working
    # directory (as under `make lab`, which starts in notebooks/), else the working directory.
    nbformat = pytest.importorskip("nbformat")

    cells = nbformat.read(NOTEBOOKS / name, as_version=4).cells
    first = next(c for c in cells if c.cell_type == "code")
    assert "parameters" not in first.metadata.get("tags", [])
    for cwd, root in [
        (NOTEBOOKS, NOTEBOOKS.parent),
        (NOTEBOOKS.parent / "qresearch" / "portfolio", NOTEBOOKS.parent),
        (tmp_path, tmp_path),
    ]:
        monkeypatch.chdir(cwd)
        namespace: dict[str, object] = {}
        exec(first.source, namespace)
        assert namespace["ROOT"] == root
