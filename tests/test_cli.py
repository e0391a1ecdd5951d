from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from qresearch.cli import main, run_demo


def test_demo_writes_reports_and_lake(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, lake = tmp_path / "reports" / "demo", tmp_path / "lake"
    manifest_path = run_demo(out, lake)
    manifest = json.loads(manifest_path.read_text())
    assert manifest["status"] == "ok"
    assert manifest["validation_problems"] == 0
    assert manifest["rows"] == 5036 + 4012 + 4713
    assert manifest["monthly_bars"] == 240  # Jan 1995 .. Dec 2014
    assert manifest["missing_sessions"] == 0
    assert manifest["backtest"]["orders"] > 100 and manifest["backtest"]["fees"] > 0
    stats = pd.read_csv(out / "stats.csv", index_col=0)["value"]
    equity = pd.read_csv(out / "equity.csv", index_col=0)["equity"]
    assert float(stats["total_return"]) == pytest.approx(equity.iloc[-1] / 10_000 - 1)
    html = (out / "tearsheet.html").read_text()
    assert "top-5 momentum" in html and "Sharpe" in html
    assert (out / "performance.html").stat().st_size > 10_000
    # The simulator replays the same weights and reconciles fill by fill with the backtest.
    summary = pd.read_csv(out / "reconciliation.csv", index_col=0)["value"]
    assert int(summary["unexplained"]) == 0
    assert int(summary["fills_simulated"]) == int(summary["fills_vectorized"]) > 100
    assert float(summary["max_abs_relative_equity_difference"]) < 1e-9
    daily = pd.read_csv(out / "reconciliation_daily.csv", index_col=0, parse_dates=True)
    assert list(daily.columns) == ["vectorized", "simulated", "difference", "relative"]
    assert daily["vectorized"].tolist() == equity.tolist()
    assert daily["relative"].abs().max() < 1e-9
    assert manifest["reconciliation"]["unexplained"] == 0
    # index.html links every output and shows the headline figures; the quickstart
    # notebook runs when notebooks/ is in the working directory (the repository root).
    page = (out / "index.html").read_text()
    for name in ("tearsheet.html", "performance.html", "manifest.json", "stats.csv"):
        assert f'href="{name}"' in page
    assert "unexplained" in page and "sharpe" in page and "http" not in page
    if (Path.cwd() / "notebooks" / "00_quickstart.ipynb").is_file():
        assert manifest["quickstart"] == "quickstart.html"
        quick = (out / "quickstart.html").read_text()
        # Figures drawn by plotly.js embedded in the page, no script from the network.
        assert "Plotly.newPlot" in quick and '<script src="http' not in quick
    assert manifest["reconciliation"]["fills_vectorized"] == manifest["backtest"]["orders"]
    assert len(manifest["config_id"]) == 12 and len(manifest["data_fingerprint"]) == 16
    coverage = pd.read_csv(out / "coverage.csv", index_col=0)
    assert coverage.loc["ORCL", "rows"] == 5036 and coverage.loc["NVDA", "rows"] == 4012
    assert (lake / "year=2014" / "data.parquet").is_file()  # year files, every symbol
    printed = capsys.readouterr().out
    assert "round trip OK" in printed and "unexplained: 0" in printed
    # Idempotent: a second run upserts the same rows, never duplicates.
    run_demo(out, lake)
    again = pd.read_csv(out / "coverage.csv", index_col=0)
    pd.testing.assert_frame_equal(coverage, again)


def test_demo_failure_is_recorded_in_manifest(tmp_path: Path) -> None:
    blocker = tmp_path / "lake"
    blocker.write_text("a file where the lake folder should be")
    with pytest.raises(Exception):  # noqa: B017 - whatever the OS error, the manifest says failed
        run_demo(tmp_path / "out", blocker)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["status"] == "failed" and manifest["error"]


def test_samples_and_coverage_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["samples"]) == 0
    assert "ohlcv" in capsys.readouterr().out
    assert main(["coverage", "--lake", str(tmp_path / "empty")]) == 2
    assert "error" in capsys.readouterr().err


def test_ingest_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "abc-2020.csv"
    csv.write_text(
        "Date,Open,High,Low,Close,Adj Close,Volume\n"
        "2020-01-02,10,11,9,10.5,10.5,1000\n"
        "2020-01-03,10.5,12,10,11.5,11.5,2000\n"
    )
    lake = tmp_path / "lake"
    assert main(["ingest", str(csv), "--lake", str(lake)]) == 0
    assert main(["coverage", "--lake", str(lake)]) == 0
    out = capsys.readouterr().out
    assert "ABC" in out and "2020-01-03" in out


def test_module_entry_point_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "qresearch", "samples"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "stocks" in done.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "qresearch", "nope"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_tearsheet_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from qresearch.datasets import load_sample

    close = load_sample("stocks").loc["2013":"2014"]
    close["AAPL"].pct_change().dropna().rename("AAPL").to_csv(tmp_path / "r.csv")
    close["GE"].pct_change().dropna().rename("GE").to_csv(tmp_path / "b.csv")
    out = tmp_path / "t.html"
    code = main(
        [
            "tearsheet",
            str(tmp_path / "r.csv"),
            "--benchmark",
            str(tmp_path / "b.csv"),
            "--out",
            str(out),
            "--title",
            "AAPL vs GE",
        ]
    )
    assert code == 0 and "AAPL vs GE" in out.read_text()
    close[["AAPL", "GE"]].to_csv(tmp_path / "two.csv")
    assert main(["tearsheet", str(tmp_path / "two.csv"), "--out", str(out)]) == 2
    assert "one return column" in capsys.readouterr().err


# ------------------------------------------------ bad input: one line, non-zero exit
def _one_error_line(capsys: pytest.CaptureFixture[str], command: str) -> str:
    # stderr holds exactly one line, the error of the command, and no traceback.
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"qresearch {command}: ") and "Traceback" not in err
    return lines[0]


RETURNS_OK = "date,r\n2020-01-02,0.01\n2020-01-03,-0.02\n"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("missing.csv", None, r"returns file .*missing.csv: no such file\. Check the path"),
        ("empty.csv", "", r"returns file .*empty.csv is empty; expected a header line"),
        ("header.csv", "date,r\n", r"returns file .*header.csv has a header but no rows"),
        (
            "text.csv",
            "date,r\n2020-01-02,0.01\n2020-01-03,abc\n",
            r"returns file .*text.csv, line 3: 'abc' in column 'r' is not a number\. Write",
        ),
        (
            "dates.csv",
            "date,r\n2020-01-02,0.01\nyesterday,0.02\n",
            r"returns file .*dates.csv, line 3: cannot read the date 'yesterday'",
        ),
        (
            "two.csv",
            "date,a,b\n2020-01-02,0.01,0.02\n",
            r"must have a date column and one return column; got columns \['a', 'b'\]",
        ),
        ("folder", "dir", r"returns file .*folder is a folder; pass a file"),
    ],
    ids=["missing", "empty", "header-only", "not-a-number", "bad-date", "two-columns", "folder"],
)
def test_tearsheet_bad_returns_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str | None, message: str
) -> None:
    path = tmp_path / name
    if text == "dir":
        path.mkdir()
    elif text is not None:
        path.write_text(text)
    assert main(["tearsheet", str(path), "--out", str(tmp_path / "t.html")]) == 2
    assert re.search(message, _one_error_line(capsys, "tearsheet"))
    assert not (tmp_path / "t.html").exists()


def test_tearsheet_bad_benchmark_and_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "r.csv").write_text(RETURNS_OK)
    (tmp_path / "b.csv").write_text("")
    code = main(["tearsheet", str(tmp_path / "r.csv"), "--benchmark", str(tmp_path / "b.csv")])
    assert code == 2
    assert "benchmark file" in _one_error_line(capsys, "tearsheet")
    (tmp_path / "afile").write_text("x")
    code = main(["tearsheet", str(tmp_path / "r.csv"), "--out", str(tmp_path / "afile" / "t.html")])
    assert code == 2
    line = _one_error_line(capsys, "tearsheet")
    assert re.search(r"--out .*afile: .*afile is a file, not a folder", line)


def test_ingest_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "abc.csv"
    csv.write_text("Date,Open,High,Low,Close,Volume\n2020-01,10,11,9,10.5,1000\n")
    assert main(["ingest", str(csv), "--lake", str(tmp_path / "lake")]) == 2
    assert "abc.csv, line 2: the date '2020-01'" in _one_error_line(capsys, "ingest")
    assert main(["ingest", str(tmp_path / "nope.csv"), "--lake", str(tmp_path / "lake")]) == 2
    assert "nope.csv: no such file" in _one_error_line(capsys, "ingest")
    (tmp_path / "afile").write_text("x")
    lake = tmp_path / "afile" / "lake"
    csv.write_text("Date,Open,High,Low,Close,Volume\n2020-01-02,10,11,9,10.5,1000\n")
    assert main(["ingest", str(csv), "--lake", str(lake)]) == 2
    assert "afile is a file, not a folder" in _one_error_line(capsys, "ingest")
    assert main(["demo", "--out", str(tmp_path / "afile" / "out")]) == 2
    assert "afile is a file, not a folder" in _one_error_line(capsys, "demo")


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write to read-only folders"
)
def test_read_only_lake_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "abc.csv"
    csv.write_text("Date,Open,High,Low,Close,Volume\n2020-01-02,10,11,9,10.5,1000\n")
    lake = tmp_path / "lake"
    lake.mkdir()
    lake.chmod(0o555)
    try:
        assert main(["ingest", str(csv), "--lake", str(lake)]) == 2
    finally:
        lake.chmod(0o755)
    assert "permission denied" in _one_error_line(capsys, "ingest")


def test_unwritable_lake_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # As root nothing is read-only: stand in for the OS's answers.
    csv = tmp_path / "abc.csv"
    csv.write_text("Date,Open,High,Low,Close,Volume\n2020-01-02,10,11,9,10.5,1000\n")
    lake = tmp_path / "lake"
    lake.mkdir()
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    assert main(["ingest", str(csv), "--lake", str(lake)]) == 2
    line = _one_error_line(capsys, "ingest")
    assert f"--lake {lake}: cannot write to {lake} (permission denied)" in line
    monkeypatch.undo()

    from qresearch.data import Lake

    def refuse(self, bars, mode="upsert"):
        raise PermissionError(13, "Permission denied", str(lake / "symbol=ABC"))

    monkeypatch.setattr(Lake, "write", refuse)
    assert main(["ingest", str(csv), "--lake", str(lake)]) == 2
    line = _one_error_line(capsys, "ingest")
    assert line.endswith(
        f"Permission denied: {lake / 'symbol=ABC'}. Check the path and its permissions."
    )


def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    for argv, prog in (
        (["tearsheet"], "qresearch tearsheet"),
        (["ingest", "--format", "csv", "a.csv"], "qresearch ingest"),
        (["coverage", "--nope"], "qresearch"),  # extra arguments: the top-level parser
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and err.startswith(f"{prog}: error: ")
        assert err.rstrip().endswith(f"(see {prog} --help)")


def test_unexpected_errors_are_one_line_unless_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import qresearch.cli as cli

    def broken(args):
        raise KeyError("boom")

    monkeypatch.setattr(cli, "_cmd_samples", broken)
    assert main(["samples"]) == 1
    line = _one_error_line(capsys, "samples")
    assert "unexpected error (KeyError): 'boom'" in line and "qresearch --traceback samples" in line
    with pytest.raises(KeyError, match="boom"):
        main(["--traceback", "samples"])


def test_tilde_in_paths_is_the_home_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "abc-2020.csv").write_text(
        "Date,Open,High,Low,Close,Volume\n2020-01-02,10,11,9,10.5,1000\n"
    )
    assert main(["ingest", "~/abc-2020.csv", "--lake", "~/lake"]) == 0
    assert (tmp_path / "lake" / "year=2020" / "data.parquet").is_file()
    assert main(["coverage", "--lake", "~/lake"]) == 0
    assert "ABC" in capsys.readouterr().out
    assert main(["tearsheet", "~/missing.csv"]) == 2
    assert f"returns file {tmp_path / 'missing.csv'}: no such file" in _one_error_line(
        capsys, "tearsheet"
    )


def test_console_script_prints_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("")
    for argv in (["tearsheet", "missing.csv"], ["tearsheet", "empty.csv"]):
        done = subprocess.run(
            [sys.executable, "-m", "qresearch", *argv],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
        assert done.returncode == 2
        assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
        assert done.stderr.startswith("qresearch tearsheet: error: returns file ")
