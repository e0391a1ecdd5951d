"""Statistics: BacktestResult.stats() (trades from the numba kernel) and qr.evaluation.stats.

1. One portfolio: the bench_backtest run (2520 sessions x 1000 symbols, month-end
   top-100 momentum, fees 10 bps): ``res.stats()`` vs vectorbt ``pf.stats()`` on the
   same orders (``Portfolio.from_orders(targetpercent, cash sharing)``). vectorbt
   caches per Portfolio object, so each of its timed calls gets a fresh Portfolio
   (built outside the timing); the cached repeat is shown too, and vectorbt with
   ``trades_type="positions"`` (flat-to-flat trades, as qresearch's; its default counts
   exit trades).
2. 2520 x 5000 daily rebalancing (~4.5 M orders, ~1.3 M round trips): long the top
   630 and short the bottom 630 of an AR(1) random signal (phi 0.8), equal weight
   (gross 1), rebalanced every day; ``res.stats()`` time and the
   peak memory it adds (VmHWM reset before the call, minus the resident size before
   it), and the same for ``res.trades`` (the full trades frame).
3. ``qr.evaluation.stats`` on 2520 x 1000 returns vs a vectorized numpy baseline of the
   same metrics (no validation, no NaN handling, plain arrays out), and the pandas
   path it replaced (``metrics._stats_reference``); also a ragged (NaN-start) frame.

Each case runs in a fresh process. Run: .venv/bin/python benchmarks/bench_stats.py
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import re
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _harness import emit, run_in_subprocess, time_case
from bench_backtest import make_inputs

BIG_ROWS, BIG_SYMBOLS, BIG_SIDE, BIG_PHI = 2520, 5000, 630, 0.8
EVAL_ROWS, EVAL_COLS = 2520, 1000


def _status_mb(field: str) -> float:
    # VmRSS / VmHWM of this process in MB (Linux).
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"{field}:\s+(\d+)", text).group(1)) / 1024  # type: ignore[union-attr]


def _reset_peak() -> bool:
    # Reset VmHWM to the current resident size (Linux >= 4.0); False if not allowed.
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def measure_extra(fn: Callable[[], Any], repeat: int = 3) -> dict[str, float]:
    """First and median seconds of ``fn`` and the peak memory its first call adds."""
    gc.collect()
    before = _status_mb("VmRSS")
    reset = _reset_peak()
    t0 = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t0
    extra = _status_mb("VmHWM") - before
    del out
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return {
        "first_s": first,
        "median_s": statistics.median(runs),
        "extra_peak_mb": extra if reset else math.nan,
        "rss_before_mb": before,
    }


def time_fresh(make: Callable[[], Any], run: Callable[[Any], Any], repeat: int = 5) -> dict:
    """Like ``time_case`` but each call gets a fresh object from ``make`` (not timed)."""
    obj = make()
    t0 = time.perf_counter()
    run(obj)
    first = time.perf_counter() - t0
    runs = []
    for _ in range(repeat):
        obj = make()
        t0 = time.perf_counter()
        run(obj)
        runs.append(time.perf_counter() - t0)
    peak_mb = _status_mb("VmHWM")
    return {"first_s": first, "median_s": statistics.median(runs), "peak_rss_mb": peak_mb}


def big_inputs() -> tuple[pd.DataFrame, pd.DataFrame]:
    # Random-walk closes and daily long/short weights from a persistent AR(1) signal.
    rng = np.random.default_rng(1)
    idx = pd.bdate_range("2010-01-01", periods=BIG_ROWS, name="timestamp")
    cols = [f"S{i:04d}" for i in range(BIG_SYMBOLS)]
    steps = rng.normal(0.0002, 0.02, (BIG_ROWS, BIG_SYMBOLS))
    close = pd.DataFrame(100 * np.exp(np.cumsum(steps, axis=0)), index=idx, columns=cols)
    del steps
    phi = BIG_PHI
    signal = np.empty((BIG_ROWS, BIG_SYMBOLS))
    signal[0] = rng.normal(size=BIG_SYMBOLS)
    noise = rng.normal(size=(BIG_ROWS, BIG_SYMBOLS)) * math.sqrt(1 - phi**2)
    for t in range(1, BIG_ROWS):
        signal[t] = phi * signal[t - 1] + noise[t]
    del noise
    rank = signal.argsort(axis=1).argsort(axis=1)
    del signal
    k = BIG_SIDE
    w = np.where(rank >= BIG_SYMBOLS - k, 0.5 / k, np.where(rank < k, -0.5 / k, 0.0))
    return close, pd.DataFrame(w, index=idx, columns=cols)


def numpy_stats(r: np.ndarray, p: float = 252.0, confidence: float = 0.95) -> dict[str, Any]:
    """The stats() metrics of NaN-free returns ``r`` (T, N), vectorized in plain numpy."""
    n = r.shape[0]
    mean = r.mean(axis=0)
    sd = r.std(axis=0, ddof=1)
    wealth = np.prod(1.0 + r, axis=0)
    cagr = wealth ** (p / n) - 1.0
    downside = np.sqrt((np.minimum(r, 0.0) ** 2).sum(axis=0) / n)
    equity = np.cumprod(1.0 + r, axis=0)
    peak = np.maximum.accumulate(np.maximum(equity, 1.0), axis=0)
    mdd = np.minimum((equity / peak).min(axis=0) - 1.0, 0.0)
    d = r - mean
    d2 = d * d
    m2, m3, m4 = d2.sum(axis=0), (d2 * d).sum(axis=0), (d2 * d2).sum(axis=0)
    skew = n * math.sqrt(n - 1) / (n - 2) * m3 / m2**1.5
    kurt = (n + 1) * n * (n - 1) / ((n - 2) * (n - 3)) * m4 / m2**2 - 3 * (n - 1) ** 2 / (
        (n - 2) * (n - 3)
    )
    alpha = 1.0 - confidence
    z = NormalDist().inv_cdf(alpha)
    phi = math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    q = np.quantile(r, alpha, axis=0)
    tail = r <= q
    return {
        "start": 0,
        "end": n - 1,
        "periods": np.full(r.shape[1], n),
        "total_return": wealth - 1.0,
        "cagr": cagr,
        "volatility": sd * math.sqrt(p),
        "sharpe": mean / sd * math.sqrt(p),
        "sortino": mean / downside * math.sqrt(p),
        "max_drawdown": mdd,
        "calmar": cagr / -mdd,
        "skew": skew,
        "kurtosis": kurt,
        "var": mean + sd * z,
        "cvar": mean - sd * phi / alpha,
        "var_historical": q,
        "cvar_historical": np.where(tail, r, 0.0).sum(axis=0) / tail.sum(axis=0),
        "win_rate": (r > 0).sum(axis=0) / (r != 0).sum(axis=0),
        "best": r.max(axis=0),
        "worst": r.min(axis=0),
    }


def eval_returns(ragged: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    idx = pd.bdate_range("2010-01-01", periods=EVAL_ROWS, name="timestamp")
    values = rng.normal(0.0003, 0.01, (EVAL_ROWS, EVAL_COLS))
    if ragged:
        for j in range(EVAL_COLS):
            values[: rng.integers(0, EVAL_ROWS // 2), j] = np.nan
    return pd.DataFrame(values, index=idx, columns=[f"p{j}" for j in range(EVAL_COLS)])


def _one_portfolio() -> Any:
    from qresearch.backtest import from_weights

    close, w = make_inputs()
    return close, w, from_weights(close, w, fees=0.001, init_cash=1e6)


def case(name: str) -> None:
    if name == "one_qresearch":
        _, _, res = _one_portfolio()
        result: dict[str, Any] = time_case(res.stats)
        s = res.stats()
        result |= {"orders": len(res.orders), "trades": s["trades"], "sharpe": s["sharpe"]}
        emit(result)
    elif name == "one_vectorbt":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import vectorbt as vbt

            close, w, res = _one_portfolio()
            lagged = w.shift(1)

            def make(trades_type: str = "exittrades") -> Any:
                return vbt.Portfolio.from_orders(
                    close,
                    size=lagged,
                    size_type="targetpercent",
                    cash_sharing=True,
                    group_by=True,
                    call_seq="auto",
                    fees=0.001,
                    init_cash=1e6,
                    freq="1D",
                    trades_type=trades_type,
                )

            result = time_fresh(make, lambda pf: pf.stats())
            positions = time_fresh(lambda: make("positions"), lambda pf: pf.stats())
            result["positions_median_s"] = positions["median_s"]
            pf = make()
            result["cached_median_s"] = time_case(pf.stats)["median_s"]
            s = make("positions").stats()
            result |= {
                "orders": len(pf.orders.records),
                "trades": int(s["Total Closed Trades"]),
                "sharpe": float(s["Sharpe Ratio"]),
            }
            emit(result)
    elif name == "big_stats":
        from qresearch.backtest import from_weights

        close, w = big_inputs()
        t0 = time.perf_counter()
        res = from_weights(close, w, fees=0.001, init_cash=1e6)
        backtest_s = time.perf_counter() - t0
        del close, w
        stats_fig = measure_extra(res.stats)
        trades_fig = measure_extra(lambda: res.trades, repeat=1)
        s = res.stats()
        payload: dict[str, Any] = {
            "orders": len(res.orders),
            "trades": s["trades"],
            "backtest_s": backtest_s,
            "stats": stats_fig,
            "trades_frame": trades_fig,
        }
        emit(payload)
    elif name == "eval_qresearch":
        from qresearch.evaluation import stats

        f = eval_returns()
        emit(time_case(lambda: stats(f)))
    elif name == "eval_qresearch_ragged":
        from qresearch.evaluation import stats

        f = eval_returns(ragged=True)
        emit(time_case(lambda: stats(f)))
    elif name == "eval_reference":
        from qresearch.evaluation.metrics import _stats_reference

        f = eval_returns()
        emit(time_case(lambda: _stats_reference(f), repeat=3))
    elif name == "eval_numpy":
        from qresearch.evaluation import stats

        f = eval_returns()
        result = time_case(lambda: numpy_stats(f.to_numpy()))
        mine, theirs = stats(f), numpy_stats(f.to_numpy())
        worst = 0.0
        for key, values in theirs.items():
            if key in ("start", "end"):
                continue
            got = mine.loc[key].to_numpy(dtype=np.float64)
            worst = max(worst, float(np.max(np.abs(got / values - 1.0))))
        result["max_rel_diff_vs_qresearch"] = worst
        emit(result)
    else:
        raise SystemExit(f"unknown case {name}")


def _row(label: str, r: dict[str, Any]) -> None:
    print(f"{label:34s} {r['first_s']:10.3f} {r['median_s']:9.4f} {r.get('peak_rss_mb', 0):8.0f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case")
    args = parser.parse_args()
    if args.case:
        case(args.case)
        return
    header = f"{'':34s} {'first s':>10s} {'median s':>9s} {'peak MB':>8s}"
    print("1. res.stats(), one portfolio: 2520 x 1000, month-end top-100 momentum, fees 10 bps")
    q1 = run_in_subprocess(__file__, "one_qresearch")
    v1 = run_in_subprocess(__file__, "one_vectorbt")
    print(header)
    _row("qresearch res.stats()", q1)
    _row("vectorbt 1.2 pf.stats() (fresh pf)", v1)
    print(f"{'  trades_type=positions':34s} {'':10s} {v1['positions_median_s']:9.4f}")
    print(f"{'  same pf again (cached)':34s} {'':10s} {v1['cached_median_s']:9.4f}")
    print(
        f"orders {q1['orders']} / {v1['orders']}, closed positions qresearch {q1['trades']} / "
        f"vectorbt {v1['trades']}, sharpe {q1['sharpe']:.6f} / {v1['sharpe']:.6f} (vectorbt "
        "annualizes with 365 days)"
    )
    print(f"vectorbt (fresh pf) / qresearch: {v1['median_s'] / q1['median_s']:.1f}x")

    print(f"\n2. res.stats(), {BIG_ROWS} x {BIG_SYMBOLS} daily long/short rebalancing")
    big: dict[str, Any] = run_in_subprocess(__file__, "big_stats")
    print(
        f"orders {big['orders']}, closed trades {big['trades']}, backtest {big['backtest_s']:.1f} s"
    )
    for label, key in (("res.stats()", "stats"), ("res.trades (frame)", "trades_frame")):
        r = big[key]
        print(
            f"{label:20s} first {r['first_s']:.3f} s, median {r['median_s']:.3f} s, "
            f"extra peak {r['extra_peak_mb']:.0f} MB (resident before {r['rss_before_mb']:.0f} MB)"
        )

    print(f"\n3. qr.evaluation.stats, {EVAL_ROWS} x {EVAL_COLS} returns")
    eq = run_in_subprocess(__file__, "eval_qresearch")
    en = run_in_subprocess(__file__, "eval_numpy")
    er = run_in_subprocess(__file__, "eval_reference")
    eg = run_in_subprocess(__file__, "eval_qresearch_ragged")
    print(header)
    _row("qresearch stats", eq)
    _row("numpy baseline", en)
    _row("previous pandas path", er)
    _row("qresearch stats, ragged starts", eg)
    print(
        f"qresearch / numpy: {eq['median_s'] / en['median_s']:.2f}x; "
        f"previous / qresearch: {er['median_s'] / eq['median_s']:.1f}x; "
        f"max relative difference vs numpy {en['max_rel_diff_vs_qresearch']:.1e}"
    )
    rows = {
        "one_qresearch": q1,
        "one_vectorbt": v1,
        "big": big,
        "eval_qresearch": eq,
        "eval_numpy": en,
        "eval_reference": er,
        "eval_qresearch_ragged": eg,
    }
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
