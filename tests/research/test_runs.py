"""Notebook runs: manifests, reuse, parameter checks, failures, the runs table, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from qresearch.cli import _param_value
from qresearch.exceptions import PanelError, ParameterError
from qresearch.research import (
    RUN_DIR_ENV,
    RunError,
    RunRecord,
    check_parameters,
    load_runs,
    notebook_run_id,
    record_data,
    record_metrics,
    run_notebook,
)
from qresearch.research.manifest import git_info, write_json_atomic
from tests.conftest import make_bars, make_close
from tests.research.tiny_notebook import write_notebook

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("papermill")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    # One completed and one failed run, shared by the tests below (each takes seconds).
    root = tmp_path_factory.mktemp("runs")
    notebook = write_notebook(root / "tiny.ipynb")
    out = root / "reports" / "runs"
    ok = run_notebook(notebook, {"window": 20}, out_dir=out)
    with pytest.raises(RunError, match="failed in cell 3") as info:
        run_notebook(notebook, {"method": "boom"}, out_dir=out)
    return {"root": root, "notebook": notebook, "out": out, "ok": ok, "failed": info.value}


# -- runs and manifests -----------------------------------------------------------------


def test_a_run_writes_its_folder_and_manifest(runs: dict) -> None:
    record: RunRecord = runs["ok"]
    assert record.status == "completed" and record.ok
    assert record.path == runs["out"].resolve() / record.run_id
    assert record.run_id.startswith("tiny-")
    assert record.notebook_path == record.path / "tiny.ipynb"
    assert record.notebook_path.is_file()
    manifest = json.loads((record.path / "manifest.json").read_text())
    assert manifest == record.manifest
    assert manifest["run_id"] == record.run_id
    assert record.run_id.endswith(manifest["config_id"])
    assert manifest["notebook"] == str(runs["notebook"])
    assert manifest["parameters_given"] == {"window": 20}
    assert manifest["parameters"]["window"] == 20 and manifest["parameters"]["rate"] == 0.5
    # out_dir was declared and not given: it points at the run folder.
    assert manifest["injected"] == {"out_dir": str(record.path)}
    assert record.params["out_dir"] == str(record.path)
    assert manifest["seed"] == 7 and manifest["inputs"] is None
    assert record.metrics == {"sharpe": 10.0, "trades": 3}
    assert manifest["versions"]["python"] and manifest["versions"]["papermill"]
    assert manifest["started"] <= manifest["finished"] and manifest["duration_s"] > 0
    artifacts = {a["path"]: a["bytes"] for a in manifest["artifacts"]}
    assert artifacts.pop("artifact.txt") == 3 and set(artifacts) == {"returns.parquet"}
    # record_returns: the file, its manifest entry and RunRecord.returns().
    assert manifest["returns"]["file"] == "returns.parquet"
    assert manifest["returns"]["rows"] == 3 and manifest["returns"]["non_null"] == 2
    assert manifest["returns"]["start"].startswith("2020-01-01")
    pd.testing.assert_series_equal(
        record.returns(),
        pd.Series(
            [float("nan"), 1.0, 0.5],
            index=pd.date_range("2020-01-01", periods=3, name="timestamp"),
            name="returns",
        ),
        check_freq=False,
    )
    assert (record.path / "kernel.log").is_file()  # the kernel's own log, not an artifact
    assert (record.path / "artifact.txt").read_text() == "hrp"
    # The data the notebook recorded, with the fingerprint qr.data.fingerprint gives.
    from qresearch.data import fingerprint

    close = pd.DataFrame(
        {"A": [1.0, 2.0, 3.0]}, index=pd.date_range("2020-01-01", periods=3, name="timestamp")
    )
    (entry,) = manifest["data"]
    assert entry["name"] == "close" and entry["fingerprint"] == fingerprint(close)
    assert entry["rows"] == 3 and entry["symbols"] == ["A"]
    assert entry["start"].startswith("2020-01-01") and entry["end"].startswith("2020-01-03")
    assert len(manifest["data_fingerprint"]) == 16
    assert "error" not in manifest
    assert not list(runs["out"].glob(".*.lock"))  # the run lock is released


def test_the_same_run_is_recognised_and_not_repeated(runs: dict) -> None:
    again = run_notebook(runs["notebook"], {"window": 20}, out_dir=runs["out"])
    assert again == runs["ok"]
    # Passing a default explicitly is the same run.
    same = run_notebook(runs["notebook"], {"window": 20, "rate": 0.5}, out_dir=runs["out"])
    assert same.run_id == runs["ok"].run_id
    # Other parameters are another run id (not executed here).
    other = check_parameters(runs["notebook"], {"window": 21})
    assert other["window"] == 21


def test_run_ids_without_running(runs: dict, tmp_path: Path) -> None:
    notebook = runs["notebook"]
    assert notebook_run_id(notebook, {"window": 20}) == runs["ok"].run_id
    assert notebook_run_id(notebook, {"window": 21}) != runs["ok"].run_id
    # Input data files are part of the id: changed bytes, another run.
    data = tmp_path / "lake"
    (data / "sub").mkdir(parents=True)
    (data / "sub" / "a.csv").write_text("1,2\n")
    (data / ".lock").write_text("ignored")
    with_data = notebook_run_id(notebook, {"window": 20}, inputs=[data])
    assert with_data != runs["ok"].run_id
    (data / ".lock").write_text("still ignored")
    assert notebook_run_id(notebook, {"window": 20}, inputs=[data]) == with_data
    (data / "sub" / "a.csv").write_text("1,3\n")
    assert notebook_run_id(notebook, {"window": 20}, inputs=[data]) != with_data
    with pytest.raises(ParameterError, match=r"inputs: '.*nothing' does not exist"):
        notebook_run_id(notebook, {}, inputs=[tmp_path / "nothing"])


def test_force_runs_again(runs: dict) -> None:
    first = runs["ok"]
    forced = run_notebook(runs["notebook"], {"window": 20}, out_dir=runs["out"], force=True)
    assert forced.run_id == first.run_id and forced.ok
    assert forced.manifest["started"] > first.manifest["started"]
    assert forced.metrics == first.metrics


# -- failures ---------------------------------------------------------------------------


def test_a_failed_run_keeps_its_folder_marked_failed(runs: dict) -> None:
    exc: RunError = runs["failed"]
    record = exc.record
    assert record is not None and record.status == "failed" and not record.ok
    assert "ValueError" in str(exc) and str(record.path) in str(exc)
    error = record.error
    assert error is not None
    assert error["ename"] == "ValueError"
    assert error["evalue"] == "the notebook failed on purpose"
    assert error["cell_index"] == 3  # in the source notebook (markdown cell counted)
    assert 'raise ValueError("the notebook failed on purpose")' in error["cell_source"]
    # The partially executed notebook: the cells before ran, the last one did not.
    executed = nbformat.read(record.notebook_path, as_version=4)
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert any(o.get("output_type") == "error" for o in outputs)
    assert not any("done" in str(o.get("text", "")) for o in outputs)
    # What ran before the failure is recorded; the completed run is untouched.
    assert record.metrics == {"sharpe": 5.0, "trades": 3}
    assert runs["ok"].path.is_dir() and RunRecord.load(runs["ok"].path).ok


def test_a_timeout_is_a_failed_run_and_can_be_returned(tmp_path: Path) -> None:
    notebook = tmp_path / "slow.ipynb"
    nb = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}}
    )
    params = nbformat.v4.new_code_cell("secs = 60")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("import time\ntime.sleep(secs)")]
    nbformat.write(nb, notebook)
    record = run_notebook(
        notebook, {"secs": 30}, out_dir=tmp_path / "runs", timeout=1, raise_on_failure=False
    )
    assert record.status == "failed" and record.error["ename"] == "CellTimeoutError"
    assert record.error["cell_index"] == 1 and "time.sleep" in record.error["cell_source"]
    assert record.manifest["duration_s"] < 30
    assert record.manifest["git"] is None  # outside a git repository


# -- recording inside / outside a run ---------------------------------------------------


def test_recording_outside_a_run_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(RUN_DIR_ENV, raising=False)
    close = make_close()
    assert record_data(close) is close
    metrics = {"sharpe": object()}
    assert record_metrics(metrics) is metrics
    # A run folder that no longer exists is "outside a run" too.
    monkeypatch.setenv(RUN_DIR_ENV, "/no/such/folder")
    assert record_data(close, name="x") is close


def test_recording_inside_a_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import numpy as np

    from qresearch.data import fingerprint

    monkeypatch.setenv(RUN_DIR_ENV, str(tmp_path))
    close, bars = make_close(), make_bars()
    assert record_data(close, name="close") is close
    assert record_data(bars, name="bars") is bars
    assert record_data(close.iloc[:, 0], name="one") is not None
    record_data("not a panel", name="odd")  # never fails; recorded as an error
    record_data(close.iloc[:10], name="close")  # replaces the earlier "close"
    record_metrics({"sharpe": np.float64(1.5), "n": np.int64(3), "bad": float("inf")})
    record_metrics(pd.Series({"sharpe": 2.0, "end": pd.Timestamp("2020-01-01")}))
    records = json.loads((tmp_path / "records.json").read_text())
    names = [d["name"] for d in records["data"]]
    assert names == ["bars", "one", "odd", "close"]
    by_name = {d["name"]: d for d in records["data"]}
    assert by_name["close"]["fingerprint"] == fingerprint(close.iloc[:10])
    assert by_name["close"]["rows"] == 10
    assert by_name["bars"]["kind"] == "bars" and len(by_name["bars"]["fingerprint"]) == 16
    assert by_name["one"]["kind"] == "series"
    assert "error" in by_name["odd"]
    assert records["metrics"] == {"sharpe": 2.0, "n": 3, "bad": None, "end": "2020-01-01T00:00:00"}
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_record_returns(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import numpy as np

    from qresearch.backtest import from_weights
    from qresearch.research import record_returns

    close = make_close()
    result = from_weights(close, pd.DataFrame(0.1, index=close.index, columns=close.columns))
    # Outside a run: checked, nothing written, the input returned.
    monkeypatch.delenv(RUN_DIR_ENV, raising=False)
    assert record_returns(result) is result
    # Inside a run: returns.parquet holds result.returns; a later call replaces it.
    monkeypatch.setenv(RUN_DIR_ENV, str(tmp_path))
    assert record_returns(result) is result
    stored = pd.read_parquet(tmp_path / "returns.parquet")["returns"]
    np.testing.assert_array_equal(stored.to_numpy(), result.returns.to_numpy())
    assert stored.index.equals(result.returns.index)
    half = result.returns.iloc[:50].to_frame("anything")  # a one-column frame
    record_returns(half)
    assert len(pd.read_parquet(tmp_path / "returns.parquet")) == 50
    records = json.loads((tmp_path / "records.json").read_text())
    assert records["returns"]["rows"] == 50 and records["returns"]["file"] == "returns.parquet"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("inside", [False, True])
@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        (pd.DataFrame({"a": [0.1], "returns": [0.2]}), ParameterError, "2 columns.*'a'"),
        (pd.DataFrame(index=[1, 2]), ParameterError, "0 columns"),
        ([0.1, 0.2], ParameterError, "got list"),
        (pd.Series([0.1, float("inf")]), ParameterError, "infinite return at 1"),
        (pd.Series(["0.1", "x"]), ParameterError, "numeric returns"),
        (pd.Series([0.1, 0.2], index=[2, 1]), PanelError, "not sorted"),
    ],
)
def test_record_returns_refuses_what_is_not_returns(
    bad: object,
    error: type,
    match: str,
    inside: bool,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from qresearch.research import record_returns

    if inside:
        monkeypatch.setenv(RUN_DIR_ENV, str(tmp_path))
    else:
        monkeypatch.delenv(RUN_DIR_ENV, raising=False)
    with pytest.raises(error, match=match):
        record_returns(bad)
    assert not (tmp_path / "returns.parquet").exists()


def test_manifest_writes_are_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "manifest.json"
    write_json_atomic(path, {"status": "running"})

    def broken(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        write_json_atomic(path, {"status": "completed"})
    assert json.loads(path.read_text()) == {"status": "running"}
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


def test_git_info_outside_a_repository_is_none(tmp_path: Path) -> None:
    assert git_info(tmp_path) is None
    info = git_info(Path(__file__).parent, Path(__file__))
    if info is not None:  # inside the project's repository
        assert len(info["commit"]) == 40 and isinstance(info["dirty"], bool)


# -- the runs table ---------------------------------------------------------------------


def test_load_runs(runs: dict) -> None:
    table = load_runs(runs["out"])
    assert len(table) == 2 and table.index.name == "run_id"
    ok, failed = runs["ok"].run_id, runs["failed"].record.run_id
    assert table.loc[ok, "status"] == "completed" and table.loc[failed, "status"] == "failed"
    assert table.loc[ok, "window"] == 20 and table.loc[failed, "method"] == "boom"
    assert table.loc[ok, "sharpe"] == 10.0 and table.loc[failed, "sharpe"] == 5.0
    assert table.loc[ok, "symbols"] == ("A", "B")
    assert "ValueError" in table.loc[failed, "error"]
    assert "window" in table.attrs["params"] and table.attrs["metrics"] == ["sharpe", "trades"]
    assert table["started"].is_monotonic_increasing
    html = table._repr_html_()
    assert "<table" in html and ok in html
    assert isinstance(table[table["status"] == "failed"], pd.DataFrame)
    import pickle

    assert pickle.loads(pickle.dumps(table)).equals(table)
    path = runs["ok"].path
    assert len({RunRecord.load(path), RunRecord.load(path)}) == 1  # hashable, equal


def test_load_runs_of_odd_folders(tmp_path: Path) -> None:
    assert load_runs(tmp_path / "missing").empty
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "manifest.json").write_text("{")
    (tmp_path / "empty").mkdir()  # no manifest: not a run
    (tmp_path / "one").mkdir()
    write_json_atomic(
        tmp_path / "one" / "manifest.json",
        {
            "run_id": "one",
            "status": "completed",
            "notebook": "x.ipynb",
            "started": "2026-01-01T00:00:00+00:00",
            "parameters": {"status": 1, "cfg": {"a": 1}},
            "metrics": {"status": 2.0, "window": 3},
        },
    )
    table = load_runs(tmp_path)
    assert list(table.index) == ["one", "broken"]
    assert table.loc["broken", "status"] == "unreadable"
    # A name taken by a fixed column or a parameter is prefixed for metrics.
    assert table.loc["one", "cfg.a"] == 1 and table.loc["one", "param.status"] == 1
    assert table.loc["one", "metric.status"] == 2.0 and table.loc["one", "window"] == 3


def test_run_record_renders_as_html(runs: dict) -> None:
    html = runs["failed"].record._repr_html_()
    assert "<table" in html and "failed" in html and "ValueError" in html
    assert "RunRecord(run_id=" in repr(runs["ok"])


# -- the command line -------------------------------------------------------------------


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "qresearch", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_run_and_runs(runs: dict, tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("rate: 2\nmethod: ew\n")
    out = tmp_path / "runs"
    args = ("run", runs["notebook"], "-f", params, "-p", "window", "3", "--out", out)
    done = _cli(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (record,) = [RunRecord.load(p) for p in out.iterdir() if not p.name.startswith(".")]
    assert f"run folder: {record.path}" in done.stdout and "status: completed" in done.stdout
    assert record.params["window"] == 3 and record.params["rate"] == 2
    assert record.params["method"] == "ew" and record.metrics["sharpe"] == 6
    again = _cli(*args, cwd=tmp_path)
    assert again.returncode == 0 and "--force runs again" in again.stdout

    table = _cli("runs", "--out", runs["out"], "--sort", "sharpe", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert "sharpe" in lines[0] and runs["ok"].run_id in lines[2]  # largest first
    failed = _cli("runs", "--out", runs["out"], "--status", "failed", cwd=tmp_path)
    assert runs["failed"].record.run_id in failed.stdout and runs["ok"].run_id not in failed.stdout
    bad = _cli("runs", "--out", runs["out"], "--sort", "sharp", cwd=tmp_path)
    assert bad.returncode == 2 and "--sort 'sharp' is not a column" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    empty = _cli("runs", "--out", tmp_path / "none", cwd=tmp_path)
    assert empty.returncode == 0 and "no runs" in empty.stdout


def test_cli_exit_codes(runs: dict, tmp_path: Path) -> None:
    missing = _cli("run", tmp_path / "nope.ipynb", cwd=tmp_path)
    assert missing.returncode == 3 and "does not exist" in missing.stderr
    unknown = _cli("run", runs["notebook"], "-p", "windw", "3", cwd=tmp_path)
    assert unknown.returncode == 4 and "has no parameter 'windw'" in unknown.stderr
    wrong = _cli("run", runs["notebook"], "-p", "window", "abc", cwd=tmp_path)
    assert wrong.returncode == 4 and "'window' must be an int" in wrong.stderr
    (tmp_path / "p.toml").write_text("")
    bad_file = _cli("run", runs["notebook"], "-f", tmp_path / "p.toml", cwd=tmp_path)
    assert bad_file.returncode == 4 and "unknown file type" in bad_file.stderr
    (tmp_path / "broken.ipynb").write_text("not json")
    broken = _cli("run", tmp_path / "broken.ipynb", cwd=tmp_path)
    assert broken.returncode == 2 and "is not a JSON notebook" in broken.stderr
    for out in (missing, unknown, wrong, bad_file, broken):
        assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert not (tmp_path / "reports").exists()
    failed = _cli(
        "run", runs["notebook"], "-p", "method", "boom", "--out", runs["out"], cwd=tmp_path
    )
    assert failed.returncode == 5
    assert "status: failed" in failed.stdout and "ValueError" in failed.stderr
    helps = _cli("run", "--help", cwd=tmp_path).stdout
    assert "qresearch run notebooks/" in helps and "5  the notebook failed" in helps
    assert "qresearch runs --out" in _cli("runs", "--help", cwd=tmp_path).stdout


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("10", 10),
        ("0.5", 0.5),
        ("hrp", "hrp"),
        ("true", True),
        ("null", None),
        ('"10"', "10"),
        ("[ORCL, NVDA]", ["ORCL", "NVDA"]),
        ("[1, 2]", [1, 2]),
        ("2020-01-01", "2020-01-01"),  # YAML would make a date; kept as text
        ("a: b: c", "a: b: c"),  # not valid YAML: the text
    ],
)
def test_cli_values_are_json_or_yaml_scalars(text: str, value: object) -> None:
    assert _param_value(text) == value
