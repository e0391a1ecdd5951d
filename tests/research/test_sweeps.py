"""Sweeps: grid expansion, local and dask runs, failure isolation, resume, the report."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qresearch.evaluation import stats as qr_stats
from qresearch.exceptions import ParameterError
from qresearch.research.sweeps import SweepResult, expand_grid, load_sweep, sweep, trial_id

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))  # spawned workers inherit sys.path and import sweep_helpers
import sweep_helpers as helpers  # noqa: E402


def _trial_files(folder: Path, ext: str) -> list[Path]:
    return sorted((folder / "trials").glob(f"*.{ext}"))


# -- grid expansion ---------------------------------------------------------------------


def test_expand_grid_cartesian_product_in_key_order() -> None:
    trials = expand_grid({"a": [1, 2], "b": ["x", "y"]})
    assert trials == [
        {"a": 1, "b": "x"},
        {"a": 1, "b": "y"},
        {"a": 2, "b": "x"},
        {"a": 2, "b": "y"},
    ]


def test_expand_grid_list_of_dicts_and_duplicates_dropped() -> None:
    trials = expand_grid([{"a": 1}, {"a": 2, "b": 3}, {"a": 1}])
    assert trials == [{"a": 1}, {"a": 2, "b": 3}]
    assert trial_id({"a": np.int64(1)}) == trial_id({"a": 1})


@pytest.mark.parametrize(
    ("grid", "match"),
    [
        ({"a": 3}, "list of values"),
        ({"a": "abc"}, "list of values"),
        ({"a": []}, "no values"),
        ([], "empty"),
        ([1, 2], "one dict"),
        (5, "dict of lists"),
        ({"not valid": [1]}, "identifiers"),
        ({"a": [object()]}, "JSON values"),
    ],
)
def test_expand_grid_bad_input(grid: object, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        expand_grid(grid)  # type: ignore[arg-type]


def test_sweep_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="n_jobs"):
        sweep(helpers.slow_returns, {"seed": [1]}, n_jobs=0, out_dir=tmp_path)
    with pytest.raises(ParameterError, match="not found"):
        sweep(tmp_path / "missing.ipynb", {"seed": [1]}, out_dir=tmp_path)
    with pytest.raises(ParameterError, match="cannot be pickled"):
        sweep(lambda seed: helpers.slow_returns(seed), {"seed": [1]}, n_jobs=2, out_dir=tmp_path)
    with pytest.raises(ParameterError, match="scheduler"):
        sweep(helpers.slow_returns, {"seed": [1]}, scheduler=8786, out_dir=tmp_path)
    with pytest.raises(ParameterError, match="callable or a notebook"):
        sweep(42, {"seed": [1]}, out_dir=tmp_path)  # type: ignore[arg-type]


# -- callable sweeps --------------------------------------------------------------------

GRID = {"lookback": [20, 60, 120], "top_n": [2, 4]}


@pytest.fixture(scope="module")
def serial(tmp_path_factory: pytest.TempPathFactory) -> SweepResult:
    out = tmp_path_factory.mktemp("serial")
    return sweep(helpers.momentum, GRID, n_jobs=1, out_dir=out, progress=False)


def test_callable_sweep_serial(serial: SweepResult) -> None:
    table = serial.table()
    assert len(table) == 6
    assert (table["status"] == "ok").all()
    assert list(table.columns[:3]) == ["lookback", "top_n", "status"]
    for col in ("sharpe", "cagr", "max_drawdown", "psr", "dsr", "trial_id"):
        assert col in table.columns
    assert table["sharpe"].is_monotonic_decreasing
    assert len(_trial_files(serial.out_dir, "json")) == 6
    assert len(_trial_files(serial.out_dir, "parquet")) == 6
    # The stored stats are the backtest's own.
    best = serial.best()
    direct = helpers.momentum(int(best["lookback"]), int(best["top_n"]))
    assert best["sharpe"] == pytest.approx(direct.stats()["sharpe"], rel=1e-12)
    pd.testing.assert_series_equal(
        serial.returns()[best["trial_id"]],
        direct.returns.astype(float),
        check_names=False,
        check_freq=False,
    )


def test_callable_sweep_two_processes_matches_serial(serial: SweepResult, tmp_path: Path) -> None:
    parallel = sweep(helpers.momentum, GRID, n_jobs=2, out_dir=tmp_path, progress=False)
    cols = ["lookback", "top_n", "status", "sharpe", "cagr", "max_drawdown", "psr", "dsr"]
    pd.testing.assert_frame_equal(parallel.table()[cols], serial.table()[cols])
    # Everything done: resuming starts no pool and returns the same trials.
    again = sweep(helpers.momentum, GRID, n_jobs=2, out_dir=tmp_path, progress=False)
    assert again.n_resumed == 6
    pd.testing.assert_frame_equal(again.table(), parallel.table())


def test_dsr_and_psr_match_direct_calls(serial: SweepResult) -> None:
    from qresearch.evaluation import deflated_sharpe_ratio, probabilistic_sharpe_ratio

    table = serial.table().set_index("trial_id")
    returns = {
        tid: helpers.momentum(**serial_params).returns.dropna()
        for tid, serial_params in ((r["trial_id"], r["params"]) for r in serial.records)
    }
    # Per-period Sharpe ratios (mean / std with ddof=1) of every trial, computed here.
    sharpes = [float(np.mean(r) / np.std(r, ddof=1)) for r in returns.values()]
    for tid, r in returns.items():
        assert table.loc[tid, "dsr"] == pytest.approx(
            deflated_sharpe_ratio(r, trials_sharpe=sharpes), rel=1e-12
        )
        assert table.loc[tid, "psr"] == pytest.approx(probabilistic_sharpe_ratio(r), rel=1e-12)
    # Six trials deflate: DSR < PSR for every trial.
    assert (table["dsr"] < table["psr"]).all()


def test_pbo_on_the_matrix_of_trial_returns(serial: SweepResult) -> None:
    from qresearch.evaluation import probability_of_backtest_overfitting

    pbo = serial.pbo()
    assert pbo is not None
    direct = probability_of_backtest_overfitting(serial.returns().dropna(), n_partitions=16)
    assert pbo.pbo == direct.pbo
    assert 0.0 <= pbo.pbo <= 1.0


def test_failure_isolation(tmp_path: Path) -> None:
    grid = [{"lookback": lb, "fail_on": 60} for lb in (20, 60, 120)]
    result = sweep(helpers.momentum, grid, n_jobs=2, out_dir=tmp_path, progress=False)
    table = result.table().set_index("lookback")
    assert table.loc[60, "status"] == "failed"
    assert "RuntimeError: lookback 60 is broken on purpose" in table.loc[60, "error"]
    assert math.isnan(table.loc[60, "sharpe"])
    assert (table.drop(index=60)["status"] == "ok").all()
    assert result.table()["status"].iloc[-1] == "failed"  # failed trials rank last
    record = json.loads((tmp_path / "trials" / f"{trial_id(grid[1])}.json").read_text())
    assert "Traceback" in record["traceback"]


def test_callable_returning_wrong_type_is_a_failed_trial(tmp_path: Path) -> None:
    result = sweep(helpers.not_returns, [{"value": 1}], n_jobs=1, out_dir=tmp_path, progress=False)
    assert result.table()["error"].iloc[0].startswith("ParameterError: A swept callable")
    with pytest.raises(ParameterError, match="no completed trial"):
        result.best()


def test_resume_skips_completed_and_reruns_failed(tmp_path: Path) -> None:
    grid = {"seed": [1, 2, 3]}
    first = sweep(helpers.slow_returns, grid, n_jobs=1, out_dir=tmp_path, progress=False)
    assert first.n_resumed == 0
    # Mark one trial failed: resume runs it again and only it.
    path = tmp_path / "trials" / f"{trial_id({'seed': 2})}.json"
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, "status": "failed"}))
    again = sweep(helpers.slow_returns, grid, n_jobs=1, out_dir=tmp_path, progress=False)
    assert again.n_resumed == 2
    assert (again.table()["status"] == "ok").all()
    fresh = sweep(
        helpers.slow_returns, grid, n_jobs=1, out_dir=tmp_path, resume=False, progress=False
    )
    assert fresh.n_resumed == 0
    assert len(_trial_files(tmp_path, "json")) == 3
    assert len(load_sweep(tmp_path).table()) == 3


_KILLED_SWEEP = """
import sys
sys.path.insert(0, {helpers!r})
import sweep_helpers
from qresearch.research.sweeps import sweep
if __name__ == "__main__":
    sweep(sweep_helpers.slow_returns, {{"seed": list(range(8)), "sleep_s": [0.4]}},
          n_jobs=2, out_dir={out!r}, progress=False)
"""


def test_resume_after_kill(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    script = tmp_path / "run_sweep.py"
    script.write_text(_KILLED_SWEEP.format(helpers=str(HERE), out=str(out)))
    proc = subprocess.Popen([sys.executable, str(script)], start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while len(_trial_files(out, "json")) < 2:
            assert proc.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline, "no trial finished within 120 s"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its workers
        proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    done_before = len(_trial_files(out, "json"))
    dead = out / "trials" / f".abc.json.{proc.pid}.123.tmp"  # as a kill mid-write leaves
    dead.write_text("{")
    assert 2 <= done_before < 8
    result = sweep(
        helpers.slow_returns,
        {"seed": list(range(8)), "sleep_s": [0.4]},
        n_jobs=1,
        out_dir=out,
        progress=False,
    )
    assert result.n_resumed == done_before
    table = result.table()
    assert sorted(table["seed"]) == list(range(8))
    assert (table["status"] == "ok").all()
    assert len(_trial_files(out, "json")) == 8
    assert len(_trial_files(out, "parquet")) == 8
    assert not dead.exists()  # temp files of dead writers are removed on resume
    # Every JSON is a whole trial record that names itself.
    for path in _trial_files(out, "json"):
        assert json.loads(path.read_text())["trial_id"] == path.stem


def test_progress_bar_silent_unless_stderr_is_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sweep(helpers.slow_returns, {"seed": [1, 2]}, n_jobs=1, out_dir=tmp_path / "a")
    assert capsys.readouterr().err == ""  # pytest's stderr is not a TTY
    sweep(helpers.slow_returns, {"seed": [1, 2]}, n_jobs=1, out_dir=tmp_path / "b", progress=True)
    err = capsys.readouterr().err
    assert "sweep slow_returns" in err and "2/2" in err


# -- dask -------------------------------------------------------------------------------


def test_sweep_on_a_dask_cluster(serial: SweepResult, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            processes=False, n_workers=2, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        result = sweep(helpers.momentum, GRID, scheduler=client, out_dir=tmp_path, progress=False)
    cols = ["lookback", "top_n", "status", "sharpe", "dsr"]
    pd.testing.assert_frame_equal(result.table()[cols], serial.table()[cols])


# -- report -----------------------------------------------------------------------------


def test_heatmap_and_html_report(serial: SweepResult, tmp_path: Path) -> None:
    pytest.importorskip("plotly")
    fig = serial.heatmap("lookback", "top_n", metric="sharpe")
    z = np.asarray(fig.data[0].z)
    assert z.shape == (2, 3)
    table = serial.table()
    expected = table.set_index(["top_n", "lookback"]).loc[(4, 60), "sharpe"]
    assert z[1, 1] == pytest.approx(expected)
    assert list(fig.data[0].x) == ["20", "60", "120"]
    with pytest.raises(ParameterError, match="column of table"):
        serial.heatmap("lookback", "nope")
    path = serial.to_html(tmp_path / "report.html")
    page = path.read_text()
    assert "deflated Sharpe ratio" in page and "Probability of backtest overfitting" in page
    assert "<script" in page and '<script src="http' not in page  # plotly.js inlined
    assert "Best by Sharpe" in serial._repr_html_()
    assert "6 trials" in repr(serial)


def test_heatmap_averages_over_other_parameters(tmp_path: Path) -> None:
    pytest.importorskip("plotly")
    grid = {"seed": [1, 2], "sleep_s": [0.0, 0.001], "other": [0, 1]}
    result = sweep(helpers.slow_returns_with, grid, n_jobs=1, out_dir=tmp_path, progress=False)
    fig = result.heatmap("seed", "sleep_s")
    assert "mean over other" in fig.layout.title.text


def test_fast_import_rule() -> None:
    code = (
        "import sys, qresearch.research.sweeps; "
        "print(sorted(m for m in ('dask', 'distributed', 'papermill', 'plotly', 'tqdm') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- notebooks --------------------------------------------------------------------------

_NOTEBOOK_CELLS = [
    ("parameters", "seed = 0\nfail = False"),
    (
        None,
        "import numpy as np\n"
        "import pandas as pd\n"
        "from qresearch.research import record_metrics, record_returns\n"
        "if fail:\n"
        "    raise ValueError('asked to fail')\n"
        "idx = pd.bdate_range('2020-01-01', periods=100, name='timestamp')\n"
        "r = pd.Series(np.random.default_rng(seed).normal(0.001, 0.01, 100), index=idx)\n"
        "record_metrics({'mean_return': float(r.mean())})\n"
        "record_returns(r)",
    ),
]


def _write_notebook(tmp_path: Path) -> Path:
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("papermill")
    nb = nbformat.v4.new_notebook()
    for tag, source in _NOTEBOOK_CELLS:
        cell = nbformat.v4.new_code_cell(source)
        if tag:
            cell.metadata["tags"] = [tag]
        nb.cells.append(cell)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = tmp_path / "toy.ipynb"
    nbformat.write(nb, path)
    return path


def test_notebook_sweep(tmp_path: Path) -> None:
    path = _write_notebook(tmp_path)
    grid = [{"seed": 1, "fail": False}, {"seed": 2, "fail": False}, {"seed": 3, "fail": True}]
    result = sweep(path, grid, n_jobs=2, out_dir=tmp_path / "sweep", progress=False)
    table = result.table().set_index("seed")
    assert table.loc[3, "status"] == "failed"
    assert "asked to fail" in table.loc[3, "error"]
    assert (table.loc[[1, 2], "status"] == "ok").all()
    for seed in (1, 2):
        r = pd.Series(np.random.default_rng(seed).normal(0.001, 0.01, 100))
        assert table.loc[seed, "mean_return"] == pytest.approx(r.mean())
        # The recorded returns reach the trial: its Sharpe is theirs (hand formula).
        sharpe = r.mean() / r.std(ddof=1) * math.sqrt(252)
        assert table.loc[seed, "sharpe"] == pytest.approx(sharpe, rel=1e-9)
        assert math.isfinite(table.loc[seed, "dsr"])
    assert result.name == "toy"


# -- command line -----------------------------------------------------------------------


def test_cli_sweep_help_shows_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    from qresearch.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "qresearch sweep notebooks/" in out and "--grid" in out and '"top_n": [3, 5' in out


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("grid.json", "{not json", "not valid JSON"),
        ("grid.yaml", "a: [1, 2\n", "not valid YAML"),
        ("grid.json", '{"a": 3}', "list of values"),
        ("grid.json", "[]", "empty"),
        ("missing.json", None, "No such file"),
    ],
)
def test_cli_sweep_bad_grid_exits_4(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str | None, match: str
) -> None:
    from qresearch.cli import main

    notebook = tmp_path / "nb.ipynb"
    notebook.write_text("{}")
    grid = tmp_path / name
    if text is not None:
        grid.write_text(text)
    code = main(["sweep", str(notebook), "--grid", str(grid), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 4
    assert err.count("\n") == 1 and err.startswith("qresearch sweep: error: --grid")
    assert match in err
    assert not (tmp_path / "o").exists()


def test_cli_sweep_missing_notebook_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from qresearch.cli import main

    grid = tmp_path / "grid.json"
    grid.write_text('{"seed": [1]}')
    assert main(["sweep", str(tmp_path / "nope.ipynb"), "--grid", str(grid)]) == 3
    assert "not found" in capsys.readouterr().err


def test_cli_sweep_runs_and_prints_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from qresearch.cli import main

    notebook = _write_notebook(tmp_path)
    grid = tmp_path / "grid.yaml"
    grid.write_text("seed: [1, 2]\n")
    out = tmp_path / "sweep"
    assert (
        main(["sweep", str(notebook), "--grid", str(grid), "--jobs", "1", "--out", str(out)]) == 0
    )
    printed = capsys.readouterr().out
    assert "seed" in printed and "dsr" in printed and "mean_return" in printed
    assert printed.strip().splitlines()[-1] == f"report: {out / 'report.html'}"
    assert (out / "report.html").is_file()


def test_sweep_on_a_scheduler_address(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        processes=False,
        n_workers=1,
        threads_per_worker=2,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        result = sweep(
            helpers.slow_returns, {"seed": [1, 2, 3]}, scheduler=address, out_dir=tmp_path
        )
    table = result.table()
    assert sorted(table["seed"]) == [1, 2, 3] and (table["status"] == "ok").all()
    expected = helpers.slow_returns(2)
    assert table.set_index("seed").loc[2, "sharpe"] == pytest.approx(qr_stats(expected)["sharpe"])


def test_notebook_sweep_checks_parameters_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from qresearch.cli import main

    path = _write_notebook(tmp_path)
    with pytest.raises(ParameterError, match="nope"):
        sweep(path, {"nope": [1]}, out_dir=tmp_path / "s")
    with pytest.raises(ParameterError, match="seed"):
        sweep(path, {"seed": ["one"]}, out_dir=tmp_path / "s")
    assert not (tmp_path / "s" / "trials").exists() or not _trial_files(tmp_path / "s", "json")
    grid = tmp_path / "grid.json"
    grid.write_text('{"nope": [1, 2]}')
    assert main(["sweep", str(path), "--grid", str(grid), "--out", str(tmp_path / "c")]) == 4
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nope" in err
