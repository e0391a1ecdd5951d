"""Feature timings: the indicator kernels vs TA-Lib, frac-diff vs scipy, rank vs argsort.

Panel: seeded synthetic OHLCV, 2520 sessions x 1000 symbols, no missing values (so
that every peer is correct on it). Peers, run on the same data in the same run:

- TA-Lib's C functions (Python ``talib``) looped over the 1000 columns, on
  contiguous column arrays prepared before timing (the loop and the C calls only;
  no DataFrame is built): EMA, RSI, ATR, ADX, MACD, BBANDS (+ %b with numpy),
  STOCHF, STDDEV(ROCP) for the rolling volatility, (x - SMA) / STDDEV for the
  rolling z-score;
- ``scipy.signal.fftconvolve(x, w[:, None], mode="full", axes=0)[:T]`` for
  ``frac_diff_ffd(log close, d=0.4, threshold)`` (no NaN handling: correct only
  because the panel has no NaN);
- ``numpy.argsort(values, axis=1)`` (no ranks, no ties) for ``cross_sectional_rank``;
- the former pandas code of each feature (``pandas`` column), for the speed-up.

Each case runs in a fresh process: first call (includes loading or compiling the
numba kernels), median of 5 warm calls (wall clock), peak RSS; "cpu ratio" is the
ratio of median CPU seconds (``time.process_time``), steadier when other processes
share the machine. The "agreement" column is the
largest difference between qresearch and the peer where their definitions agree
(relative to the peer's values; to the price for MACD, to max(|z|, 1) for the
z-score, to max|x| * sum|w| for frac-diff), from the row given. The default seeds of
EMA/MACD/RSI/ATR/ADX differ from TA-Lib's by design (see
``qresearch.features.technical``): they are compared after 30 windows.
Timings on a shared 2-core machine vary with its load, printed before and after.
Run: .venv/bin/python benchmarks/bench_features.py [--only FEATURE ...]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _harness import emit, run_in_subprocess, time_case

N_ROWS, N_SYMBOLS = 2520, 1000
FFD_D = 0.4


def make_bars() -> Any:
    from qresearch.data.bars import Bars

    rng = np.random.default_rng(42)
    idx = pd.bdate_range("2010-01-01", periods=N_ROWS, name="timestamp")
    cols = pd.Index([f"S{i:04d}" for i in range(N_SYMBOLS)], name="symbol")
    shape = (N_ROWS, N_SYMBOLS)
    close = 100 * np.exp(np.cumsum(rng.normal(0.0002, 0.02, shape), axis=0))
    open_ = close * np.exp(rng.normal(0, 0.005, shape))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.01, shape)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.01, shape)))
    volume = rng.integers(1_000, 1_000_000, shape).astype("float64")

    def frame(a: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(a, index=idx, columns=cols)

    return Bars(
        open=frame(open_),
        high=frame(high),
        low=frame(low),
        close=frame(close),
        volume=frame(volume),
    )


# ------------------------------------------------------------------- the cases
def qresearch_calls(bars: Any) -> dict[str, Callable[[], Any]]:
    import qresearch.features as qf

    close = bars.close
    logp = np.log(close)
    return {
        "ema": lambda: qf.ema(close, 20),
        "rsi": lambda: qf.rsi(close, 14),
        "atr": lambda: qf.atr(bars, 14),
        "adx": lambda: qf.adx(bars, 14),
        "macd": lambda: qf.macd(close, 12, 26, 9),
        "bollinger": lambda: qf.bollinger(close, 20, 2.0),
        "stochastic": lambda: qf.stochastic(bars, 14, 3),
        "rolling_volatility": lambda: qf.rolling_volatility(close, 20),
        "rolling_zscore": lambda: qf.rolling_zscore(close, 20),
        "cross_sectional_rank": lambda: qf.cross_sectional_rank(close),
        "frac_diff_ffd_1e-4": lambda: qf.frac_diff_ffd(logp, FFD_D, 1e-4),
        "frac_diff_ffd_1e-5": lambda: qf.frac_diff_ffd(logp, FFD_D, 1e-5),
    }


def peer_calls(bars: Any) -> dict[str, Callable[[], Any]]:
    import talib
    from scipy import signal

    from qresearch.features import ffd_weights

    def cols(panel: pd.DataFrame) -> list[np.ndarray]:
        return [np.ascontiguousarray(panel[s].to_numpy()) for s in panel.columns]

    c, h, lo = cols(bars.close), cols(bars.high), cols(bars.low)
    hlc = list(zip(h, lo, c, strict=True))
    corr = math.sqrt(20 / 19)
    values = bars.close.to_numpy()
    logp = np.log(values)

    def bbands_pct() -> list[Any]:
        out = []
        for x in c:
            upper, mid, lower = talib.BBANDS(x, 20, 2.0, 2.0, 0)
            out.append((upper, mid, lower, (x - lower) / (upper - lower)))
        return out

    def ffd(threshold: float) -> Callable[[], Any]:
        w = ffd_weights(FFD_D, threshold)[:, None]
        return lambda: signal.fftconvolve(logp, w, mode="full", axes=0)[:N_ROWS]

    return {
        "ema": lambda: [talib.EMA(x, 20) for x in c],
        "rsi": lambda: [talib.RSI(x, 14) for x in c],
        "atr": lambda: [talib.ATR(a, b, x, 14) for a, b, x in hlc],
        "adx": lambda: [talib.ADX(a, b, x, 14) for a, b, x in hlc],
        "macd": lambda: [talib.MACD(x, 12, 26, 9) for x in c],
        "bollinger": bbands_pct,
        "stochastic": lambda: [talib.STOCHF(a, b, x, 14, 3, 0) for a, b, x in hlc],
        "rolling_volatility": lambda: [talib.STDDEV(talib.ROCP(x, 1), 20, 1) * corr for x in c],
        "rolling_zscore": lambda: [
            (x - talib.SMA(x, 20)) / (talib.STDDEV(x, 20, 1) * corr) for x in c
        ],
        "cross_sectional_rank": lambda: np.argsort(values, axis=1),
        "frac_diff_ffd_1e-4": ffd(1e-4),
        "frac_diff_ffd_1e-5": ffd(1e-5),
    }


def pandas_calls(bars: Any) -> dict[str, Callable[[], Any]]:
    # The features' former pandas code (single-field parts, enough for timing).
    close, high, low = bars.close, bars.high, bars.low

    def wilder(x: pd.DataFrame) -> pd.DataFrame:
        return x.ewm(alpha=1 / 14, adjust=False, min_periods=14).mean()

    def true_range() -> pd.DataFrame:
        prev = close.shift(1)
        hl, hc, lc = (high - low).to_numpy(), (high - prev).abs(), (low - prev).abs()
        tr = np.where(np.isnan(hl), np.nan, np.fmax(hl, np.fmax(hc.to_numpy(), lc.to_numpy())))
        return pd.DataFrame(tr, index=close.index, columns=close.columns)

    def rsi() -> pd.DataFrame:
        change = close - close.shift(1)
        gain, loss = wilder(change.clip(lower=0.0)), wilder((-change).clip(lower=0.0))
        total = gain + loss
        return (100.0 * gain / total.where(total > 0.0)).mask((total == 0.0) & gain.notna(), 50.0)

    def adx() -> pd.DataFrame:
        up, down = high - high.shift(1), low.shift(1) - low
        valid = up.notna() & down.notna()
        plus_dm = up.where((up > down) & (up > 0.0), 0.0).where(valid)
        minus_dm = down.where((down > up) & (down > 0.0), 0.0).where(valid)
        tr_s = wilder(true_range().where(plus_dm.notna()))
        tr_s = tr_s.where(tr_s > 0.0)
        plus_di, minus_di = 100.0 * wilder(plus_dm) / tr_s, 100.0 * wilder(minus_dm) / tr_s
        total = plus_di + minus_di
        dx = (100.0 * (plus_di - minus_di).abs() / total.where(total > 0.0)).mask(total == 0.0, 0)
        return wilder(dx)

    def ema(x: pd.DataFrame, span: int) -> pd.DataFrame:
        return x.ewm(span=span, adjust=False, min_periods=span).mean()

    def macd() -> Any:
        line = ema(close, 12) - ema(close, 26)
        sig = ema(line, 9)
        return pd.concat({"macd": line, "signal": sig, "hist": line - sig}, axis=1)

    def bollinger() -> Any:
        roll = close.rolling(20, min_periods=20)
        mid, std = roll.mean(), roll.std(ddof=0)
        upper, lower = mid + 2.0 * std, mid - 2.0 * std
        width = upper - lower
        pct = (close - lower) / width.where(width > 0.0)
        return pd.concat({"mid": mid, "upper": upper, "lower": lower, "pct_b": pct}, axis=1)

    def stochastic() -> Any:
        hh, ll = high.rolling(14, min_periods=14).max(), low.rolling(14, min_periods=14).min()
        rng = hh - ll
        k = 100.0 * (close - ll) / rng.where(rng > 0.0)
        return pd.concat({"k": k, "d": k.rolling(3, min_periods=3).mean()}, axis=1)

    def zscore() -> pd.DataFrame:
        roll = close.rolling(20, min_periods=20)
        std = roll.std()
        return (close - roll.mean()) / std.where(std > 0.0)

    return {
        "ema": lambda: ema(close, 20),
        "rsi": rsi,
        "atr": lambda: wilder(true_range()),
        "adx": adx,
        "macd": macd,
        "bollinger": bollinger,
        "stochastic": stochastic,
        "rolling_volatility": lambda: (close / close.shift(1) - 1.0).rolling(20).std(),
        "rolling_zscore": zscore,
        "cross_sectional_rank": lambda: close.rank(axis=1, pct=True),
    }


def agreement(name: str, bars: Any, ours: Any) -> tuple[float, int]:
    # The largest relative difference to the peer where definitions agree, from a row.
    import talib

    from qresearch.features import ffd_weights

    n = 14
    worst, start = 0.0, 0
    if name.startswith("frac_diff_ffd"):
        threshold = float(name.rsplit("_", 1)[1])
        w = ffd_weights(FFD_D, threshold)
        logp = np.log(bars.close.to_numpy())
        from scipy import signal

        ref = signal.fftconvolve(logp, w[:, None], mode="full", axes=0)[:N_ROWS]
        start = len(w) - 1
        diff = np.abs(ours.to_numpy()[start:] - ref[start:])
        return float(diff.max() / (np.abs(logp).max() * np.abs(w).sum())), start
    if name == "cross_sectional_rank":
        ref = bars.close.rank(axis=1, pct=True).to_numpy()
        return float(np.abs(ours.to_numpy() - ref).max()), 0
    for s in bars.symbols[:50]:  # 50 columns are plenty
        h, lo, c = (
            np.ascontiguousarray(getattr(bars, f)[s].to_numpy()) for f in ("high", "low", "close")
        )
        if name == "ema":
            start, pairs = 30 * 20, [(ours[s], talib.EMA(c, 20))]
        elif name == "rsi":
            start, pairs = 30 * n, [(ours[s], talib.RSI(c, n))]
        elif name == "atr":
            start, pairs = 30 * n, [(ours[s], talib.ATR(h, lo, c, n))]
        elif name == "adx":
            start, pairs = 30 * n, [(ours[s], talib.ADX(h, lo, c, n))]
        elif name == "macd":
            start = 30 * 26
            pairs = list(
                zip(
                    (ours[f][s] for f in ("macd", "signal", "hist")),
                    talib.MACD(c, 12, 26, 9),
                    strict=True,
                )
            )
        elif name == "bollinger":
            upper, mid, lower = talib.BBANDS(c, 20, 2.0, 2.0, 0)
            start = 19
            pairs = [(ours["upper"][s], upper), (ours["mid"][s], mid), (ours["lower"][s], lower)]
        elif name == "stochastic":
            k, d = talib.STOCHF(h, lo, c, 14, 3, 0)
            start, pairs = 15, [(ours["k"][s], k), (ours["d"][s], d)]
        elif name == "rolling_volatility":
            start = 20
            pairs = [(ours[s], talib.STDDEV(talib.ROCP(c, 1), 20, 1) * math.sqrt(20 / 19))]
        elif name == "rolling_zscore":
            start = 19
            ref = (c - talib.SMA(c, 20)) / (talib.STDDEV(c, 20, 1) * math.sqrt(20 / 19))
            pairs = [(ours[s], ref)]
        else:
            raise SystemExit(f"unknown case {name}")
        for a, b in pairs:
            a = np.asarray(a, dtype=float)[start:]
            b = np.asarray(b, dtype=float)[start:]
            if name == "macd":  # the histogram crosses 0: relative to the price
                scale = np.abs(c[start:]).max()
            elif name == "rolling_zscore":
                scale = np.maximum(np.abs(b), 1.0)
            else:
                scale = np.abs(b)
            worst = max(worst, float(np.max(np.abs(a - b) / scale)))
    return worst, start


def cpu_median(fn: Callable[[], Any], repeat: int = 5) -> float:
    # Median CPU seconds of warm calls (time.process_time): less sensitive than the
    # wall clock to other processes on a shared machine.
    runs = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        runs.append(time.process_time() - t0)
    return statistics.median(runs)


def case(name: str) -> None:
    kind, feature = name.split(":", 1)
    bars = make_bars()
    if kind == "qr":
        fn = qresearch_calls(bars)[feature]
        result = time_case(fn)
        result["agreement"], result["from_row"] = agreement(feature, bars, fn())
    elif kind == "peer":
        fn = peer_calls(bars)[feature]
        result = time_case(fn)
    elif kind == "pandas":
        fn = pandas_calls(bars)[feature]
        result = time_case(fn, repeat=3)
    else:
        raise SystemExit(f"unknown case {name}")
    result["cpu_median_s"] = cpu_median(fn, 3 if kind == "pandas" else 5)
    emit(result)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case")
    parser.add_argument("--only", nargs="*", help="features to run (default: all)")
    args = parser.parse_args()
    if args.case:
        case(args.case)
        return
    features = [
        "ema",
        "rsi",
        "atr",
        "adx",
        "macd",
        "bollinger",
        "stochastic",
        "rolling_volatility",
        "rolling_zscore",
        "cross_sectional_rank",
        "frac_diff_ffd_1e-4",
        "frac_diff_ffd_1e-5",
    ]
    if args.only:
        features = [f for f in features if f in args.only]
    load_before = os.getloadavg()
    print(f"{N_ROWS} x {N_SYMBOLS} synthetic OHLCV; load average {load_before[0]:.2f}")
    print(
        f"{'feature':22s} {'first s':>8s} {'median s':>9s} {'peak MB':>8s} "
        f"{'peer s':>8s} {'ratio':>6s} {'cpu ratio':>9s} {'pandas s':>9s} {'speed-up':>8s} "
        f"{'agreement':>10s}"
    )
    rows: dict[str, dict[str, Any]] = {}
    for feature in features:
        q = run_in_subprocess(__file__, f"qr:{feature}")
        p = run_in_subprocess(__file__, f"peer:{feature}")
        old = None
        if not feature.startswith("frac_diff_ffd"):
            old = run_in_subprocess(__file__, f"pandas:{feature}")
        ratio = q["median_s"] / p["median_s"]
        cpu_ratio = q["cpu_median_s"] / p["cpu_median_s"]
        old_s = f"{old['median_s']:9.3f}" if old else f"{'-':>9s}"
        speedup = f"{old['median_s'] / q['median_s']:7.1f}x" if old else f"{'-':>8s}"
        print(
            f"{feature:22s} {q['first_s']:8.3f} {q['median_s']:9.4f} {q['peak_rss_mb']:8.0f} "
            f"{p['median_s']:8.4f} {ratio:6.2f} {cpu_ratio:9.2f} {old_s} {speedup} "
            f"{q['agreement']:10.1e}",
            flush=True,
        )
        rows[feature] = {
            "qresearch": q,
            "peer": p,
            "pandas": old,
            "ratio": ratio,
            "cpu_ratio": cpu_ratio,
        }
    load_after = os.getloadavg()
    print(f"load average after: {load_after[0]:.2f} (1 min), {load_after[1]:.2f} (5 min)")
    print(json.dumps({"rows": rows, "load": [load_before, load_after]}))


if __name__ == "__main__":
    main()
