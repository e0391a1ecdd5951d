"""Label timings: triple barrier vs straightforward loops, CUSUM filter and FFD.

Panel: seeded random walk, 2520 sessions x 1000 symbols. Triple barrier: every bar an
event, pt = sl = 1, horizon 10, vol = EWM std (span 50) of simple returns.
References (one event at a time, as AFML's applyPtSlOnT1): a numpy loop timed on 50
columns and a pandas loop timed on 5 columns, both extrapolated linearly to 1000
columns (event count scales with columns); their labels are checked against qresearch
on the timed columns. Also timed on the full panel: ``cusum_filter(close, 0.05)`` and
``frac_diff_ffd(log(close), d=0.4, threshold=1e-4)``.
Each case runs in a fresh process: first call (includes loading/compiling numba
kernels), median of warm calls, peak RSS.
Run: .venv/bin/python benchmarks/bench_labels.py
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _harness import emit, import_time, run_in_subprocess, time_case

N_ROWS, N_SYMBOLS, HORIZON, SPAN = 2520, 1000, 10, 50
NUMPY_COLS, PANDAS_COLS = 50, 5


def make_close() -> pd.DataFrame:
    rng = np.random.default_rng(42)
    idx = pd.bdate_range("2010-01-01", periods=N_ROWS, name="timestamp")
    return pd.DataFrame(
        100 * np.exp(np.cumsum(rng.normal(0.0002, 0.02, (N_ROWS, N_SYMBOLS)), axis=0)),
        index=idx,
        columns=pd.Index([f"S{i:04d}" for i in range(N_SYMBOLS)], name="symbol"),
    )


def reference_numpy(close: pd.DataFrame) -> pd.DataFrame:
    # One event at a time; the window is a numpy slice, first touches via flatnonzero.
    vol = close.pct_change(fill_method=None).ewm(span=SPAN).std().to_numpy()
    values = close.to_numpy()
    n = len(values)
    recs = []
    for c, sym in enumerate(close.columns):
        for i in range(n - 1):
            p0, v = values[i, c], vol[i, c]
            if not (np.isfinite(p0) and np.isfinite(v) and v > 0):
                continue
            path = values[i + 1 : i + HORIZON + 1, c] / p0 - 1.0
            up = np.flatnonzero(path >= v)
            dn = np.flatnonzero(path <= -v)
            k_up = up[0] if len(up) else HORIZON + 1
            k_dn = dn[0] if len(dn) else HORIZON + 1
            if k_up < k_dn:
                k, label = k_up, 1
            elif k_dn < k_up:
                k, label = k_dn, -1
            else:
                k = len(path) - 1
                label = int(np.sign(path[k]))
            recs.append((close.index[i], sym, close.index[i + 1 + k], path[k], label))
    out = pd.DataFrame(recs, columns=["timestamp", "symbol", "t1", "ret", "label"])
    return out.set_index(["timestamp", "symbol"]).sort_index()


def reference_pandas(close: pd.DataFrame) -> pd.DataFrame:
    # AFML snippet 3.2 style: a pandas Series path per event, earliest touch by .min().
    vol = close.pct_change(fill_method=None).ewm(span=SPAN).std()
    recs = []
    for sym in close.columns:
        s, vs = close[sym], vol[sym]
        for i in range(len(s) - 1):
            v = vs.iloc[i]
            if not v > 0:
                continue
            path = s.iloc[i + 1 : i + HORIZON + 1] / s.iloc[i] - 1.0
            t_up = path[path >= v].index.min()
            t_dn = path[path <= -v].index.min()
            t1 = min(t for t in (t_up, t_dn, path.index[-1]) if not pd.isna(t))
            label = 1 if t1 == t_up else -1 if t1 == t_dn else int(np.sign(path[t1]))
            recs.append((s.index[i], sym, t1, path[t1], label))
    out = pd.DataFrame(recs, columns=["timestamp", "symbol", "t1", "ret", "label"])
    return out.set_index(["timestamp", "symbol"]).sort_index()


def compare(ref: pd.DataFrame, close: pd.DataFrame) -> dict[str, float]:
    from qresearch.labels import triple_barrier

    mine = triple_barrier(close, horizon=HORIZON, vol_span=SPAN)
    same_index = list(mine.index) == list(ref.index)
    return {
        "events_checked": float(len(ref)),
        "same_events": float(same_index),
        "label_mismatches": float((mine["label"].to_numpy() != ref["label"].to_numpy()).sum()),
        "t1_mismatches": float((mine["t1"].to_numpy() != ref["t1"].to_numpy()).sum()),
        "max_abs_ret_diff": float(np.max(np.abs(mine["ret"].to_numpy() - ref["ret"].to_numpy()))),
    }


def once(fn: object) -> dict[str, float]:
    import resource

    t0 = time.perf_counter()
    fn()  # type: ignore[operator]
    elapsed = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"first_s": elapsed, "median_s": elapsed, "peak_rss_mb": peak}


def case(name: str) -> None:
    close = make_close()
    if name == "triple_barrier":
        from qresearch.labels import triple_barrier

        result = time_case(lambda: triple_barrier(close, horizon=HORIZON, vol_span=SPAN))
        result["events"] = float(len(triple_barrier(close, horizon=HORIZON, vol_span=SPAN)))
        emit(result)
    elif name == "ref_numpy":
        sub = close.iloc[:, :NUMPY_COLS]
        result = once(lambda: reference_numpy(sub))
        result.update(compare(reference_numpy(sub), sub))
        emit(result)
    elif name == "ref_pandas":
        sub = close.iloc[:, :PANDAS_COLS]
        result = once(lambda: reference_pandas(sub))
        result.update(compare(reference_pandas(sub), sub))
        emit(result)
    elif name == "cusum":
        from qresearch.labels import cusum_filter

        result = time_case(lambda: cusum_filter(close, 0.05))
        result["events"] = float(cusum_filter(close, 0.05).to_numpy().sum())
        emit(result)
    elif name == "ffd":
        from qresearch.features import frac_diff_ffd

        logp = np.log(close)
        emit(time_case(lambda: frac_diff_ffd(logp, d=0.4, threshold=1e-4)))
    else:
        raise SystemExit(f"unknown case {name}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case")
    args = parser.parse_args()
    if args.case:
        case(args.case)
        return
    print(f"triple_barrier, {N_ROWS} x {N_SYMBOLS}, every bar an event, horizon {HORIZON}")
    q = run_in_subprocess(__file__, "triple_barrier")
    rn = run_in_subprocess(__file__, "ref_numpy")
    rp = run_in_subprocess(__file__, "ref_pandas")
    scale_n, scale_p = N_SYMBOLS / NUMPY_COLS, N_SYMBOLS / PANDAS_COLS
    print(f"{'':34s} {'first call s':>12s} {'median s':>9s} {'peak MB':>8s}")
    print(
        f"{'qresearch triple_barrier':34s} {q['first_s']:12.3f} {q['median_s']:9.3f} "
        f"{q['peak_rss_mb']:8.0f}   ({q['events']:.0f} events)"
    )
    for label, r, scale, cols in (
        ("numpy loop reference", rn, scale_n, NUMPY_COLS),
        ("pandas loop reference (AFML)", rp, scale_p, PANDAS_COLS),
    ):
        full = r["median_s"] * scale
        print(
            f"{label:34s} {'':12s} {full:9.1f} {r['peak_rss_mb']:8.0f}   "
            f"(timed {r['median_s']:.2f} s on {cols} columns, extrapolated x{scale:.0f})"
        )
        print(
            f"  speed-up of qresearch: {full / q['median_s']:.0f}x; checked on "
            f"{r['events_checked']:.0f} events: same events {bool(r['same_events'])}, "
            f"label mismatches {r['label_mismatches']:.0f}, t1 mismatches "
            f"{r['t1_mismatches']:.0f}, max |ret diff| {r['max_abs_ret_diff']:.1e}"
        )
    cu = run_in_subprocess(__file__, "cusum")
    ff = run_in_subprocess(__file__, "ffd")
    print(f"\nsame panel, full {N_ROWS} x {N_SYMBOLS}:")
    print(
        f"{'cusum_filter(close, 0.05)':34s} {cu['first_s']:12.3f} {cu['median_s']:9.4f} "
        f"{cu['peak_rss_mb']:8.0f}   ({cu['events']:.0f} events)"
    )
    print(
        f"{'frac_diff_ffd(log, d=0.4, 1e-4)':34s} {ff['first_s']:12.3f} {ff['median_s']:9.4f} "
        f"{ff['peak_rss_mb']:8.0f}"
    )
    t_imp = min(import_time("qresearch.labels") for _ in range(3))
    print(f"import qresearch.labels {t_imp:.3f} s")
    rows = {"triple_barrier": q, "ref_numpy": rn, "ref_pandas": rp, "cusum": cu, "ffd": ff}
    print(json.dumps({"rows": rows, "import_s": t_imp}))


if __name__ == "__main__":
    main()
