"""Progress bars: shown when asked, silent by default outside a terminal."""

from __future__ import annotations

import qresearch.api as qr
from qresearch._progress import progress_bar


def test_silent_stand_in_and_real_bar(capsys) -> None:
    bar = progress_bar(3, "x")  # stderr is not a terminal under pytest
    bar.update(2)
    bar.close()
    assert bar.n == 2 and capsys.readouterr().err == ""
    bar = progress_bar(3, "work", unit="step", show=True)
    bar.update(3)
    bar.close()
    assert "work" in capsys.readouterr().err


def test_rebalance_progress(capsys) -> None:
    close = qr.datasets.load_sample("stocks").loc["2012":"2013"]
    quiet = qr.portfolio.rebalance(close, every="QE", lookback=63, method="equal")
    assert capsys.readouterr().err == ""
    shown = qr.portfolio.rebalance(close, every="QE", lookback=63, method="equal", progress=True)
    err = capsys.readouterr().err
    assert "rebalance" in err and "date" in err
    assert quiet.equals(shown)
