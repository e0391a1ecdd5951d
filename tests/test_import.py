"""``import qresearch`` must stay light: no numba, scipy or optional library."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = {
    "numba",
    "scipy",
    "sklearn",
    "cvxpy",
    "vectorbt",
    "quantstats",
    "riskfolio",
    "pypfopt",
    "plotly",
    "papermill",
    "matplotlib",
    "statsmodels",
}


def _loaded_after(statement: str) -> set[str]:
    code = (
        f"import sys, json\n{statement}\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "statement",
    [
        "import qresearch",
        "import qresearch.api as qr",
        "import qresearch.data",
        "import qresearch.backtest",
        "import qresearch.evaluation",
        "import qresearch.portfolio",
        "import qresearch.features",
        "import qresearch.signals",
        "import qresearch.labels",
        "import qresearch.model_selection",
        "import qresearch.sim",
        "import qresearch.research",
    ],
)
def test_import_is_light(statement: str) -> None:
    loaded = _loaded_after(statement)
    assert not (loaded & HEAVY), f"{statement} loaded {sorted(loaded & HEAVY)}"


def test_plain_import_loads_no_data_libraries() -> None:
    loaded = _loaded_after("import qresearch")
    assert not (loaded & {"pandas", "duckdb", "pyarrow", "exchange_calendars"})


def test_the_probe_detects_a_heavy_import() -> None:
    # Guard against a probe that can never fail.
    assert "scipy" in _loaded_after("import qresearch; import scipy")


def test_lazy_submodules_resolve() -> None:
    import qresearch

    assert qresearch.datasets.__name__ == "qresearch.datasets"
    assert "data" in dir(qresearch)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = qresearch.nope  # type: ignore[attr-defined]


def test_version_matches_metadata() -> None:
    from importlib.metadata import version

    import qresearch

    assert qresearch.__version__ == version("qresearch")
