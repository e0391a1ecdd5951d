from __future__ import annotations

import json
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
    assert manifest["reconciliation"]["fills_vectorized"] == manifest["backtest"]["orders"]
    assert len(manifest["config_id"]) == 12 and len(manifest["data_fingerprint"]) == 16
    coverage = pd.read_csv(out / "coverage.csv", index_col=0)
    assert coverage.loc["ORCL", "rows"] == 5036 and coverage.loc["NVDA", "rows"] == 4012
    assert (lake / "symbol=ORCL").is_dir()
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
