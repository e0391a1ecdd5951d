"""from_weights vs vectorbt from_orders(targetpercent, cash sharing) on the same orders.

Panel: seeded random walk, 2520 sessions x 1000 symbols. Weights: month-end top-100 by
252-day momentum (skip none), equal weight, fees 10 bps; NaN rows = hold. vectorbt gets
the same weights lagged one bar (qresearch applies the lag itself).
Each case runs in a fresh process: first call (compile / JIT) time, median of 5 warm
calls, peak RSS. Also the import time of each library. Equity equality is checked.
Second part: from_signals with random entries/exits (2% density each), sl 5%, tp 10%,
fees 10 bps, vs vectorbt from_signals on the same lagged signals
(stop_entry_price="fillprice").
Run: .venv/bin/python benchmarks/bench_backtest.py
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _harness import emit, import_time, run_in_subprocess, time_case

N_ROWS, N_SYMBOLS, TOP = 2520, 1000, 100
CHECK = Path("/tmp/qresearch-bench-backtest-equity.npy")
CHECK_SIG = Path("/tmp/qresearch-bench-backtest-signals.npy")


def make_inputs() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(42)
    idx = pd.bdate_range("2010-01-01", periods=N_ROWS, name="timestamp")
    close = pd.DataFrame(
        100 * np.exp(np.cumsum(rng.normal(0.0002, 0.02, (N_ROWS, N_SYMBOLS)), axis=0)),
        index=idx,
        columns=[f"S{i:04d}" for i in range(N_SYMBOLS)],
    )
    mom = close.pct_change(252, fill_method=None)
    month_end = idx.to_series().groupby(idx.to_period("M")).max().to_numpy()
    ranks = mom.loc[month_end].rank(axis=1, ascending=False)
    w = (ranks <= TOP).astype(float) / TOP
    w[mom.loc[month_end].isna().all(axis=1)] = np.nan  # no momentum yet: hold
    return close, w.reindex(idx)


def make_signals(close: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    # Random entries and exits, each with 2% density.
    rng = np.random.default_rng(7)
    entries = pd.DataFrame(rng.random(close.shape) < 0.02, index=close.index, columns=close.columns)
    exits = pd.DataFrame(rng.random(close.shape) < 0.02, index=close.index, columns=close.columns)
    return entries, exits


def case(name: str) -> None:
    close, w = make_inputs()
    if name == "qresearch":
        from qresearch.backtest import from_weights

        def run() -> np.ndarray:
            return from_weights(close, w, fees=0.001, init_cash=1e6).equity.to_numpy()

        result = time_case(run)
        np.save(CHECK, run())
        emit(result)
    elif name == "qresearch_norecords":
        from qresearch.backtest import from_weights

        emit(time_case(lambda: from_weights(close, w, fees=0.001, init_cash=1e6, records=False)))
    elif name == "vectorbt":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import vectorbt as vbt

            lagged = w.shift(1)

            def run() -> np.ndarray:
                pf = vbt.Portfolio.from_orders(
                    close,
                    size=lagged,
                    size_type="targetpercent",
                    cash_sharing=True,
                    group_by=True,
                    call_seq="auto",
                    fees=0.001,
                    init_cash=1e6,
                    freq="1D",
                )
                return pf.value().to_numpy()

            result = time_case(run)
            mine = np.load(CHECK)
            result["max_rel_diff_vs_qresearch"] = float(np.max(np.abs(run() / mine - 1)))
            emit(result)
    elif name == "signals_qresearch":
        from qresearch.backtest import from_signals

        entries, exits = make_signals(close)

        def run_sig() -> np.ndarray:
            res = from_signals(close, entries, exits, sl_stop=0.05, tp_stop=0.1, fees=0.001)
            return res.equity.to_numpy()

        result = time_case(run_sig)
        np.save(CHECK_SIG, run_sig())
        emit(result)
    elif name == "signals_vectorbt":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import vectorbt as vbt

            entries, exits = make_signals(close)
            e1, x1 = entries.shift(1, fill_value=False), exits.shift(1, fill_value=False)

            def run_sig() -> np.ndarray:
                pf = vbt.Portfolio.from_signals(
                    close,
                    e1,
                    x1,
                    sl_stop=0.05,
                    tp_stop=0.1,
                    fees=0.001,
                    init_cash=1.0,
                    stop_entry_price="fillprice",
                    freq="1D",
                )
                return pf.value().sum(axis=1).to_numpy()

            result = time_case(run_sig)
            mine = np.load(CHECK_SIG)
            result["max_rel_diff_vs_qresearch"] = float(np.max(np.abs(run_sig() / mine - 1)))
            emit(result)
    else:
        raise SystemExit(f"unknown case {name}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case")
    args = parser.parse_args()
    if args.case:
        case(args.case)
        return
    print(f"from_weights, {N_ROWS} x {N_SYMBOLS}, monthly top-{TOP} momentum, fees 10 bps")
    q = run_in_subprocess(__file__, "qresearch")
    qn = run_in_subprocess(__file__, "qresearch_norecords")
    v = run_in_subprocess(__file__, "vectorbt")
    rows = {"qresearch": q, "qresearch records=False": qn, "vectorbt 1.2": v}
    print(f"{'':26s} {'first call s':>12s} {'median s':>9s} {'peak MB':>8s}")
    for label, r in rows.items():
        print(f"{label:26s} {r['first_s']:12.3f} {r['median_s']:9.4f} {r['peak_rss_mb']:8.0f}")
    print(f"speed-up vs vectorbt: {v['median_s'] / q['median_s']:.1f}x (median warm call)")
    print(f"equity max relative difference: {v['max_rel_diff_vs_qresearch']:.2e}")
    print("\nfrom_signals, same panel, entries/exits 2% density each, sl 5%, tp 10%, fees 10 bps")
    qs = run_in_subprocess(__file__, "signals_qresearch")
    vs = run_in_subprocess(__file__, "signals_vectorbt")
    for label, r in {"qresearch": qs, "vectorbt 1.2": vs}.items():
        print(f"{label:26s} {r['first_s']:12.3f} {r['median_s']:9.4f} {r['peak_rss_mb']:8.0f}")
    print(f"speed-up vs vectorbt: {vs['median_s'] / qs['median_s']:.1f}x (median warm call)")
    print(f"equity max relative difference: {vs['max_rel_diff_vs_qresearch']:.2e}")
    rows.update({"signals qresearch": qs, "signals vectorbt": vs})
    t_q = min(import_time("qresearch.backtest") for _ in range(3))
    t_v = min(import_time("vectorbt") for _ in range(3))
    print(f"import qresearch.backtest {t_q:.3f} s, import vectorbt {t_v:.3f} s ({t_v / t_q:.0f}x)")
    print(json.dumps({"rows": rows, "import_s": {"qresearch.backtest": t_q, "vectorbt": t_v}}))


if __name__ == "__main__":
    main()
