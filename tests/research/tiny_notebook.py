"""A tiny parameterized notebook for the research tests, written with nbformat."""

from __future__ import annotations

from pathlib import Path

import nbformat

PARAMS_CELL = """\
# Parameters (papermill overrides these)
window = 10
rate = 0.5
method = "hrp"
flag = False
symbols = ["A", "B"]
seed = 7
start = None
out_dir = "unused"
"""

WORK_CELL = """\
import pandas as pd
import qresearch.api as qr

close = pd.DataFrame(
    {"A": [1.0, 2.0, 3.0]}, index=pd.date_range("2020-01-01", periods=3, name="timestamp")
)
close = qr.research.record_data(close, name="close")
qr.research.record_metrics({"sharpe": window * rate, "trades": 3})
qr.research.record_returns(close["A"].pct_change())
with open(f"{out_dir}/artifact.txt", "w") as fh:
    fh.write(method)
"""

FAIL_CELL = """\
if method == "boom":
    raise ValueError("the notebook failed on purpose")
"""


def write_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook(
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        }
    )
    params = nbformat.v4.new_code_cell(PARAMS_CELL)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A tiny research notebook"),
        params,
        nbformat.v4.new_code_cell(WORK_CELL),
        nbformat.v4.new_code_cell(FAIL_CELL),
        nbformat.v4.new_code_cell("print('done')"),
    ]
    nbformat.write(nb, path)
    return path
