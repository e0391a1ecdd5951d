"""Walk-forward rebalance timings: per-date solve time, n_jobs=1 vs 2, cache hit on re-run.

Panels: the bundled 20-stock panel (1990-2018, monthly, lookback 252) and a seeded
synthetic 500-symbol panel: all 2520 sessions for the closed forms (equal,
inverse_vol), the last 756 sessions (3 years, ~24 month ends after the 252-day
lookback) for the optimizers, whose 500-asset solves take ~2 s each in the libraries.
Methods: closed forms and, when the optimizer adapters are installed, HRP (qresearch's
native code since it stopped calling riskfolio-lib) and max-Sharpe (PyPortfolioOpt
``EfficientFrontier``). Peer ("direct s"): the same per-date windows solved by the
library called directly in a plain loop (riskfolio ``HCPortfolio`` for HRP, so its
ratio is native vs riskfolio; PyPortfolioOpt for max-Sharpe, so ``n_jobs=1 s /
direct s`` is qresearch's overhead). Libraries are imported before timing (``import
riskfolio`` alone takes ~2.5 s).

Other part (run first), each case in a fresh process (first call, median of warm calls, peak
RSS): native ``optimize(method="hrp")`` / ``"herc"`` vs riskfolio's ``HCPortfolio``
on the same 500-symbol x 252-day window (weights compared), and the 104-date monthly
walk-forward ``rebalance(method="hrp")`` on the whole 500-symbol panel, with
``method="hrp_riskfolio"`` on its first dates for the per-date ratio (all 104 dates
take ~3 min in riskfolio). The load average is printed with the figures.
Run: .venv/bin/python benchmarks/bench_portfolio.py  (``--hrp-only``: that part only)
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import os
import shutil
import sys
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

sys.path.insert(0, str(Path(__file__).parent))
from _harness import emit, run_in_subprocess, time_case

LOOKBACK = 252
HRP_CHECK = Path(tempfile.gettempdir()) / "qresearch-bench-portfolio-{}.npy"
RISKFOLIO_DATES = 6  # dates of the riskfolio walk-forward (~2 s each at 500 symbols)


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


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} (2 cores)"


def hrp_window() -> pd.DataFrame:
    # The last 252 returns of the 500-symbol panel (complete: every symbol listed).
    return synthetic().pct_change(fill_method=None).iloc[-LOOKBACK:]


def riskfolio_hc(window: pd.DataFrame, model: str) -> np.ndarray:
    import riskfolio as rp

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        port = rp.HCPortfolio(returns=window)
        w = port.optimization(
            model=model, codependence="pearson", rm="MV", rf=0, linkage="single", leaf_order=True
        )
    return np.asarray(w["weights"].reindex(window.columns), dtype=np.float64)


def case(name: str) -> None:
    # One timed case, run in a fresh interpreter by run_in_subprocess.
    from qresearch.portfolio import optimize

    if name in ("hrp_native", "herc_native"):
        window = hrp_window()
        method = name.split("_")[0]
        result = time_case(lambda: optimize(window, method), repeat=7)
        np.save(str(HRP_CHECK).format(method), optimize(window, method).to_numpy())
        emit(result)
    elif name in ("hrp_riskfolio", "herc_riskfolio"):
        window = hrp_window()
        model = name.split("_")[0].upper()
        importlib.import_module("riskfolio")  # imported before timing

        result = time_case(lambda: riskfolio_hc(window, model), repeat=3)
        native = np.load(str(HRP_CHECK).format(model.lower()))
        result["max_abs_diff"] = float(np.max(np.abs(riskfolio_hc(window, model) - native)))
        emit(result)
    elif name == "rebalance_native":
        close = synthetic()
        run = partial(rebalance, close, every="ME", lookback=LOOKBACK, method="hrp")
        result = time_case(run, repeat=2)
        w = run()
        np.save(str(HRP_CHECK).format("rebalance"), w.to_numpy())
        result["dates"] = int(w.notna().any(axis=1).sum())
        emit(result)
    elif name == "rebalance_riskfolio":
        importlib.import_module("riskfolio")  # imported before timing

        full = synthetic()
        dates = [
            t for t in rebalance_dates(full.index, every="ME") if full.index.get_loc(t) >= LOOKBACK
        ]
        close = full.loc[: dates[RISKFOLIO_DATES - 1]]
        run = partial(rebalance, close, every="ME", lookback=LOOKBACK, method="hrp_riskfolio")
        result = time_case(run, repeat=1)
        w = run()
        native = np.load(str(HRP_CHECK).format("rebalance"))[: len(close)]
        result["dates"] = int(w.notna().any(axis=1).sum())
        result["max_abs_diff"] = float(np.nanmax(np.abs(w.to_numpy() - native)))
        emit(result)
    else:
        raise SystemExit(f"unknown case {name}")


def hrp_part() -> None:
    print(
        f"native HRP / HERC vs riskfolio HCPortfolio, one 500 x {LOOKBACK} window "
        f"(single linkage, leaf order, pearson, MV); {load()}"
    )
    print(f"{'':34s} {'first call s':>12s} {'median s':>9s} {'peak MB':>8s}")
    rows: dict[str, Any] = {}
    for method in ("hrp", "herc"):
        native = run_in_subprocess(__file__, f"{method}_native")
        peer = run_in_subprocess(__file__, f"{method}_riskfolio")
        for label, r in (
            (f'optimize(method="{method}")', native),
            (f"riskfolio HCPortfolio {method.upper()}", peer),
        ):
            print(f"{label:34s} {r['first_s']:12.3f} {r['median_s']:9.4f} {r['peak_rss_mb']:8.0f}")
        print(
            f"  speed-up {peer['median_s'] / native['median_s']:.0f}x (median warm call); "
            f"weights max abs diff {peer['max_abs_diff']:.1e}"
        )
        rows[method] = {"native": native, "riskfolio": peer}
    print(f'\nrebalance(method="hrp"), 500 symbols, month ends, lookback {LOOKBACK}; {load()}')
    native = run_in_subprocess(__file__, "rebalance_native")
    peer = run_in_subprocess(__file__, "rebalance_riskfolio")
    print(f"{'':34s} {'dates':>5s} {'median s':>9s} {'per date ms':>11s} {'peak MB':>8s}")
    for label, r in (
        ('rebalance(method="hrp")', native),
        ('rebalance(method="hrp_riskfolio")', peer),
    ):
        per_date = 1000 * r["median_s"] / r["dates"]
        print(
            f"{label:34s} {r['dates']:5d} {r['median_s']:9.2f} {per_date:11.1f} "
            f"{r['peak_rss_mb']:8.0f}"
        )
    ratio = (peer["median_s"] / peer["dates"]) / (native["median_s"] / native["dates"])
    print(
        f"  per-date speed-up {ratio:.0f}x; weights max abs diff on the common dates "
        f"{peer['max_abs_diff']:.1e}; {load()}"
    )
    rows["rebalance"] = {"native": native, "riskfolio": peer}
    print(json.dumps(rows))


def rebalance_part() -> None:
    optimizers = optimizers_installed()
    methods = ["equal", "inverse_vol"] + (["hrp", "max_sharpe"] if optimizers else [])
    big = synthetic()
    panels = {
        "bundled 20 stocks": (load_sample("stocks"), load_sample("stocks")),
        "synthetic 500": (big, big.iloc[-3 * LOOKBACK :]),
    }
    print(f"\nwalk-forward rebalance, month ends, lookback {LOOKBACK}; {load()}")
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case")
    parser.add_argument("--hrp-only", action="store_true")
    args = parser.parse_args()
    if args.case:
        case(args.case)
        return
    if optimizers_installed():
        hrp_part()  # first: its cases' peak RSS must not include this process's growth
    if not args.hrp_only:
        rebalance_part()


if __name__ == "__main__":
    main()
