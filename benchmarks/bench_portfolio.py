"""Walk-forward rebalance timings: per-date solve time, n_jobs=1 vs 2, cache hit on re-run.

Panels: the bundled 20-stock panel (1990-2018, monthly, lookback 252) and a seeded
synthetic 500-symbol panel: all 2520 sessions for the closed forms (equal,
inverse_vol), the last 756 sessions (3 years, ~24 month ends after the 252-day
lookback) for the optimizers, whose 500-asset solves take ~2 s each in the libraries.
Methods: closed forms and, when the optimizer adapters are installed, HRP
(riskfolio-lib ``HCPortfolio``) and max-Sharpe (PyPortfolioOpt ``EfficientFrontier``).
Peer ("direct s"): the same per-date windows solved by the library called directly in
a plain loop, so ``n_jobs=1 s / direct s`` is qresearch's overhead. Libraries are
imported before timing (``import riskfolio`` alone takes ~2.5 s).
Run: .venv/bin/python benchmarks/bench_portfolio.py
"""

from __future__ import annotations

import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qresearch.data.calendar import rebalance_dates
from qresearch.datasets import load_sample
from qresearch.portfolio import rebalance

LOOKBACK = 252


def synthetic(n_rows: int = 2520, n_symbols: int = 500) -> pd.DataFrame:
    rng = np.random.default_rng(42)
    idx = pd.bdate_range("2010-01-01", periods=n_rows, name="timestamp")
    market = rng.normal(0.0003, 0.01, (n_rows, 1))
    rets = 0.8 * market + rng.normal(0, 0.015, (n_rows, n_symbols))
    return pd.DataFrame(
        100 * np.exp(np.cumsum(rets, axis=0)),
        index=idx,
        columns=[f"S{i:03d}" for i in range(n_symbols)],
    )


def optimizers_installed() -> bool:
    try:
        import pypfopt  # noqa: F401
        import riskfolio  # noqa: F401

        import qresearch.portfolio.optimization  # noqa: F401
    except ImportError:
        return False
    return True


def windows(close: pd.DataFrame) -> list[pd.DataFrame]:
    # The per-date windows rebalance solves (full lookback, listed at the date).
    returns = close.pct_change(fill_method=None)
    out = []
    for t in rebalance_dates(close.index, every="ME"):
        pos = close.index.get_loc(t)
        if pos < LOOKBACK:
            continue
        window = returns.iloc[pos - LOOKBACK + 1 : pos + 1]
        ok = close.loc[t].notna() & window.notna().all()
        if ok.sum() >= 2:
            out.append(window.loc[:, ok])
    return out


def direct_hrp(window: pd.DataFrame) -> Any:
    import riskfolio as rp

    port = rp.HCPortfolio(returns=window)
    return port.optimization(model="HRP", codependence="pearson", rm="MV", linkage="single")


def direct_max_sharpe(window: pd.DataFrame) -> Any:
    from pypfopt import EfficientFrontier
    from pypfopt.exceptions import OptimizationError

    mu, cov = window.mean() * 252, window.cov() * 252
    try:
        return EfficientFrontier(mu, cov).max_sharpe()
    except OptimizationError:  # OSQP's iteration limit: retry as qresearch does
        return EfficientFrontier(mu, cov, solver="CLARABEL").max_sharpe()


DIRECT: dict[str, Callable[[pd.DataFrame], Any]] = {
    "hrp": direct_hrp,
    "max_sharpe": direct_max_sharpe,
}


def quiet_call(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn()
    return time.perf_counter() - t0, out


def main() -> None:
    optimizers = optimizers_installed()
    methods = ["equal", "inverse_vol"] + (["hrp", "max_sharpe"] if optimizers else [])
    big = synthetic()
    panels = {
        "bundled 20 stocks": (load_sample("stocks"), load_sample("stocks")),
        "synthetic 500": (big, big.iloc[-3 * LOOKBACK :]),
    }
    print(
        f"{'panel':18s} {'method':12s} {'dates':>5s} {'n_jobs=1 s':>10s} {'per date ms':>11s} "
        f"{'n_jobs=2 s':>10s} {'cache re-run s':>14s} {'direct s':>9s}"
    )
    for name, (full, short) in panels.items():
        for method in methods:
            close = full if method in ("equal", "inverse_vol") else short
            cache = Path(tempfile.mkdtemp(prefix="qr-bench-cache-"))
            run = partial(rebalance, close, every="ME", lookback=LOOKBACK, method=method)
            t1, w = quiet_call(partial(run, cache_dir=cache))
            t_cache, again = quiet_call(partial(run, cache_dir=cache))
            t2, par = quiet_call(partial(run, n_jobs=2))
            pd.testing.assert_frame_equal(w, again)
            pd.testing.assert_frame_equal(w, par)
            shutil.rmtree(cache, ignore_errors=True)
            dates = int(w.notna().any(axis=1).sum())
            direct = "-"
            if method in DIRECT:
                wins = windows(close)
                assert len(wins) == dates
                t_direct, _ = quiet_call(partial(list, map(DIRECT[method], wins)))
                direct = f"{t_direct:.2f}"
            print(
                f"{name:18s} {method:12s} {dates:5d} {t1:10.2f} {1000 * t1 / dates:11.1f} "
                f"{t2:10.2f} {t_cache:14.2f} {direct:>9s}",
                flush=True,
            )


if __name__ == "__main__":
    main()
