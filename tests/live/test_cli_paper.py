"""``qresearch paper``: a strategy on the paper broker over lake bars, resumable.

Most tests call ``qresearch.cli.main`` in this process (the paper broker's numba kernel
compiles once); one runs the console script in a subprocess.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from qresearch.cli import main
from qresearch.data import Lake
from qresearch.datasets import load_sample
from qresearch.live import PaperBroker, StateStore
from qresearch.sim import Simulator
from tests.live.sma_strategy import SmaCross

SYMBOLS = ["ORCL", "NVDA"]
STRATEGY = f"{Path(__file__).with_name('sma_strategy.py')}:SmaCross"
START, END = "2014-01-01", "2014-12-31"  # 252 bars


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("paper") / "lake"
    Lake(root).write(load_sample("ohlcv", symbols=SYMBOLS))
    return root


def paper(lake: Path, store: Path, *extra: str, strategy: str = STRATEGY) -> list[str]:
    return [
        "paper", strategy, "--symbols", *SYMBOLS, "--lake", str(lake), "--start", START,
        "--end", END, "--store", str(store), "--status-dir", str(store.parent / "live"),
        *extra,
    ]  # fmt: skip


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def account(store: Path) -> dict[str, Any]:
    # The final state of a session, read back from its files (the runner is closed).
    broker = PaperBroker(SYMBOLS, 100_000.0, fees=0.001, journal=store.with_suffix(".paper.db"))
    with StateStore(store) as st:
        fills = st.fills()[["timestamp", "symbol", "side", "qty", "price", "fee"]]
        out = {
            "positions": broker.positions(),
            "cash": broker.balance(),
            "fills": fills.reset_index(drop=True),
            "equity": st.equity(),
            "orders": st.orders()[["client_order_id", "symbol", "side", "qty", "status"]],
        }
    broker.close()
    return out


def test_a_resumed_session_ends_as_an_uninterrupted_one(
    lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "a" / "state.db"
    code, out, err = run(paper(lake, store, "--bars", "200"), capsys)
    assert code == 0, err
    assert "bars this run: 200 (new session)" in out
    assert "last bar: 2014-10-16" in out
    page = store.parent / "live" / "state" / "index.html"
    assert f"status page: {page}" in out and page.is_file()
    assert (store.parent / "state.paper.db").is_file()  # the paper account's journal
    assert not store.with_name("state.db.lock").exists()  # released at the end

    code, out, err = run(paper(lake, store), capsys)
    assert code == 0, err
    assert "bars this run: 52 (resumed after 2014-10-16); bars in the session: 252" in out
    assert "last bar: 2014-12-31" in out
    resumed = account(store)

    other = tmp_path / "b" / "state.db"
    code, out_b, err = run(paper(lake, other), capsys)
    assert code == 0, err
    assert "bars this run: 252 (new session)" in out_b
    whole = account(other)

    assert resumed["positions"] == whole["positions"] == {"ORCL": 100.0, "NVDA": 100.0}
    assert resumed["cash"] == whole["cash"] < 100_000.0
    pd.testing.assert_frame_equal(resumed["fills"], whole["fills"])
    pd.testing.assert_series_equal(resumed["equity"], whole["equity"])
    pd.testing.assert_frame_equal(resumed["orders"], whole["orders"])
    # Both print the same account (the lines after the bar counts).
    assert out.splitlines()[2:-2] == out_b.splitlines()[2:-2]
    assert f"cash: {whole['cash']:,.2f}" in out
    pnl = whole["equity"].iloc[-1] - 100_000.0
    assert f"P&L: {pnl:+,.2f}" in out and f"fills: {len(whole['fills'])}" in out
    assert len(whole["fills"]) > 2

    # The fills are the simulator's on the same bars with the same costs.
    bars = Lake(lake).read(SYMBOLS, start=START, end=END)
    sim = Simulator(bars, 100_000.0, fees=0.001).run(SmaCross())
    expected = sim.fills[["timestamp", "symbol", "side", "qty", "price", "fees"]]
    got = whole["fills"].rename(columns={"fee": "fees"})
    assert expected["timestamp"].astype("datetime64[ns]").tolist() == got["timestamp"].tolist()
    for column in ("symbol", "side", "qty", "price", "fees"):
        assert expected[column].tolist() == got[column].tolist(), column


def test_running_again_at_the_end_adds_nothing(
    lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "s.db"
    assert run(paper(lake, store, "--end", "2014-03-31"), capsys)[0] == 0
    first = account(store)
    code, out, _ = run(paper(lake, store, "--end", "2014-03-31"), capsys)
    assert code == 0
    assert "bars this run: 0 (resumed after 2014-03-31)" in out
    again = account(store)
    pd.testing.assert_frame_equal(first["fills"], again["fills"])
    assert first["cash"] == again["cash"]


def test_dry_run_records_orders_and_sends_none(
    lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "dry.db"
    code, out, err = run(paper(lake, store, "--dry-run", "--bars", "80"), capsys)
    assert code == 0, err
    assert "dry run: orders recorded, none sent" in out
    assert "fills: 0" in out and "positions: none (flat)" in out
    state = account(store)
    assert state["positions"] == {} and state["cash"] == 100_000.0
    statuses = set(state["orders"]["status"])
    assert statuses == {"dry_run"}
    assert f"orders recorded, not sent (dry run): {len(state['orders'])}" in out
    page = (tmp_path / "live" / "dry" / "index.html").read_text(encoding="utf-8")
    assert "DRY-RUN" in page


def test_the_kill_file_stops_before_the_first_bar(
    lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "k.db"
    store.with_name("k.db.kill").touch()
    code, out, _ = run(paper(lake, store), capsys)
    assert code == 0
    assert "bars this run: 0 (new session)" in out
    assert "stopped by the kill switch: kill file" in out


def test_a_module_importable_from_the_working_directory(
    lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "paper_cli_strategy_mod.py").write_text(
        "class BuyFirst:\n"
        "    def on_bar(self, ctx):\n"
        "        if ctx.i == 0:\n"
        "            ctx.buy('ORCL', 10)\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.delitem(sys.modules, "paper_cli_strategy_mod", raising=False)
    argv = paper(lake, tmp_path / "m.db", "--bars", "5", strategy="paper_cli_strategy_mod:BuyFirst")
    code, out, err = run(argv, capsys)
    sys.modules.pop("paper_cli_strategy_mod", None)
    assert code == 0, err
    assert "session m: BuyFirst on ORCL, NVDA" in out
    assert "fills: 1" in out


@pytest.mark.parametrize(
    ("strategy", "code", "message"),
    [
        ("sma_strategy", 2, "is not MODULE:Class or path/to/file.py:Class"),
        ("no_such_module_xyz:Strategy", 2, "no module named 'no_such_module_xyz'"),
        ("missing/strategy.py:SmaCross", 2, "strategy file missing/strategy.py not found"),
        (
            f"{STRATEGY[: -len(':SmaCross')]}:SmaCros",
            2,
            "no class 'SmaCros'; did you mean SmaCross?",
        ),
        (f"{STRATEGY[: -len(':SmaCross')]}:NoOnBar", 2, "has no on_bar(ctx) method"),
        ("tests.live.sma_strategy:NoOnBar", 2, "has no on_bar(ctx) method"),
        ("tests.live.sma_strategy:Raises", 5, "Raises.on_bar raised RuntimeError at bar 59"),
    ],
)
def test_a_bad_strategy_is_one_line_and_an_exit_status(
    lake: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    strategy: str,
    code: int,
    message: str,
) -> None:
    got, _, err = run(paper(lake, tmp_path / "s.db", strategy=strategy), capsys)
    assert got == code
    assert err.startswith("qresearch paper: error: ") and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    if code == 5:  # the store is consistent: the bars before the failing one are done
        with StateStore(tmp_path / "s.db") as st:
            assert len(st.equity()) == 59


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        ({"--lake": "nowhere"}, 3, "the lake folder nowhere does not exist"),
        ({"--lake": "empty"}, 3, "holds no bars; ingest them first"),
        ({"--symbols": "ORCX"}, 4, "symbol(s) ORCX not in the lake at"),
        ({"--start": "2020-01-01"}, 4, "no bars of ORCL, NVDA between --start 2020-01-01"),
        ({"--start": "not-a-date"}, 2, "--start 'not-a-date' is not a date"),
        ({"--cash": "0"}, 2, "--cash must be a number > 0"),
        ({"--bars": "0"}, 2, "--bars must be >= 1"),
    ],
)
def test_bad_input_is_one_line_and_an_exit_status(
    lake: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    change: dict[str, str],
    code: int,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    argv = paper(lake, tmp_path / "s.db", "--bars", "3")
    for option, value in change.items():
        if option not in argv:
            argv += [option, value]
            continue
        at = argv.index(option)
        argv[at + 1 : at + (3 if option == "--symbols" else 2)] = [value]
    got, _, err = run(argv, capsys)
    assert got == code, err
    assert err.startswith("qresearch paper: error: ") and message in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "s.db").exists()  # refused before opening anything


def test_another_account_on_the_same_store_is_refused(
    lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "s.db"
    assert run(paper(lake, store, "--bars", "3"), capsys)[0] == 0
    code, _, err = run(paper(lake, store, "--cash", "5000"), capsys)
    assert code == 2
    assert "belongs to a broker with other settings" in err


def test_console_script(lake: Path, tmp_path: Path) -> None:
    exe = shutil.which("qresearch", path=str(Path(sys.executable).parent))
    command = [exe] if exe else [sys.executable, "-m", "qresearch"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [*command, "paper", "--help"], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0
    assert (
        "examples:" in done.stdout and "qresearch paper tests/live/sma_strategy.py" in done.stdout
    )
    assert "exit status:" in done.stdout
    store = tmp_path / "s.db"
    done = subprocess.run(
        [*command, *paper(lake, store, "--bars", "60")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "bars this run: 60 (new session)" in done.stdout
    assert "status page:" in done.stdout and (tmp_path / "live" / "s" / "index.html").is_file()
    done = subprocess.run(
        [*command, *paper(lake / "nope", store)], capture_output=True, text=True, env=env
    )
    assert done.returncode == 3
    assert done.stderr.startswith("qresearch paper: error: the lake folder")
    assert "Traceback" not in done.stderr
