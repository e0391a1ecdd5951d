"""Notebook parameters: the parameters cell, value checks, run ids (no notebook runs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qresearch.exceptions import ParameterError
from qresearch.research import (
    check_parameters,
    notebook_parameters,
    run_notebook,
)
from tests.research.tiny_notebook import write_notebook

nbformat = pytest.importorskip("nbformat")


@pytest.fixture
def runs(tmp_path: Path) -> dict:
    return {"notebook": write_notebook(tmp_path / "tiny.ipynb")}


def test_parameters_are_read_from_the_parameters_cell(runs: dict) -> None:
    declared = notebook_parameters(runs["notebook"])
    assert declared == {
        "window": 10,
        "rate": 0.5,
        "method": "hrp",
        "flag": False,
        "symbols": ["A", "B"],
        "seed": 7,
        "start": None,
        "out_dir": "unused",
    }


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"windw": 5}, r"has no parameter 'windw'.*declares: window=10, rate=0.5"),
        ({"window": "10"}, r"parameter 'window' must be an int like its default 10; got str"),
        ({"window": 1.5}, r"'window' must be an int .*got float 1.5"),
        ({"window": True}, r"'window' must be an int"),
        ({"flag": 1}, r"'flag' must be a bool"),
        ({"method": 3}, r"'method' must be a str"),
        ({"symbols": "A"}, r"'symbols' must be a list"),
        ({"rate": float("nan")}, r"'rate' = nan is not JSON data"),
    ],
)
def test_bad_parameters_raise_before_running(
    runs: dict, tmp_path: Path, params: dict, match: str
) -> None:
    with pytest.raises(ParameterError, match=match) as info:
        run_notebook(runs["notebook"], params, out_dir=tmp_path / "runs")
    assert "tiny.ipynb" in str(info.value)
    assert not (tmp_path / "runs").exists()


def test_parameter_types_that_are_fine(runs: dict) -> None:
    resolved = check_parameters(
        runs["notebook"], {"rate": 1, "symbols": ("X",), "start": "2020-01-01", "flag": True}
    )
    assert resolved["rate"] == 1 and resolved["symbols"] == ["X"]
    assert resolved["start"] == "2020-01-01" and resolved["flag"] is True


def test_notebook_problems(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match=r"notebook 'nope.ipynb' does not exist"):
        run_notebook("nope.ipynb", {})
    bad = tmp_path / "bad.ipynb"
    bad.write_text("not json")
    with pytest.raises(ParameterError, match="is not a JSON notebook"):
        notebook_parameters(bad)
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("%matplotlib inline\nx = 1\ny = (")
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell]
    nbformat.write(nb, tmp_path / "syntax.ipynb")
    with pytest.raises(ParameterError, match=r"parameters cell \(cell 0\) is not valid Python"):
        notebook_parameters(tmp_path / "syntax.ipynb")
    nb.cells = [nbformat.v4.new_code_cell("x = 1")]
    nbformat.write(nb, tmp_path / "none.ipynb")
    assert notebook_parameters(tmp_path / "none.ipynb") == {}
    with pytest.raises(ParameterError, match=r"has no parameter 'x'; .*declares: none"):
        check_parameters(tmp_path / "none.ipynb", {"x": 2})
    cell = nbformat.v4.new_code_cell(
        "import pandas as pd\nwhen: str = pd.Timestamp('2020')\nn: int = 3"
    )
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell]
    nbformat.write(nb, tmp_path / "expr.ipynb")
    assert notebook_parameters(tmp_path / "expr.ipynb") == {"when": ..., "n": 3}
    assert check_parameters(tmp_path / "expr.ipynb", {"when": "2021"}) == {"when": "2021", "n": 3}
