"""Event-driven simulator (qr.sim): weight replay vs from_weights, SMA crossover vs backtrader.

1. ``TargetWeights`` replay on seeded OHLCV bars, 2520 sessions x 1000 symbols: month-end
   top-100 by 252-bar momentum, equal weight, NaN rows elsewhere (hold), fees 10 bps,
   fills at the next open. Timed: ``sim.run`` (a fresh ``TargetWeights`` each call) after
   one warm-up run; asset-bar events/s = rows x symbols / median seconds. In the same
   run ``from_weights(execution="next_open")`` on the same weights, and the two
   equities are compared (final value and whole curve, relative).
2. The same replay on 98,000 one-minute-like bars x 100 symbols (390 bars a session):
   top-10 by the last session's return at each session's last bar.
3. SMA(10)/SMA(30) long-only crossover on the bundled ORCL bars (5036 days), 100
   shares, fees 0.1%, market orders filled at the next open, vs backtrader 1.9
   (``bt.indicators.SMA`` + ``CrossOver``, cheat-on-open off, commission 0.001). Both
   are timed end to end from bars in memory (indicators, engine set-up, run); the fills
   (dates, sides, quantities, prices) and final values are checked equal.
   Crossover rule (both sides): fast - slow > 0 now and the last non-zero difference
   before now < 0 (backtrader's CrossOver/NonZeroDifference); below mirrored.
Each case runs in a fresh process: first call, median of 5 warm calls (15 in the SMA
cases), peak RSS (also after the first run alone, as ``peak_1_run_mb``).
Run: .venv/bin/python benchmarks/bench_sim.py
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _harness import emit, peak_rss_mb, run_in_subprocess, time_case

DAILY = {"rows": 2520, "symbols": 1000, "top": 100, "lookback": 252}
MINUTE = {"rows": 98_000, "symbols": 100, "top": 10, "lookback": 390}
SESSION = 390  # bars per session of the minute panel
SYMBOL, FAST, SLOW, SHARES, FEES, CASH = "ORCL", 10, 30, 100, 0.001, 100_000.0
SMA_REPEAT = 15  # warm calls timed in the SMA cases (a qresearch call is ~10 ms)
TMP = Path("/tmp")


def make_bars(
    index: pd.DatetimeIndex, n_symbols: int, drift: float, vol: float, seed: int = 42
) -> Any:
    # Seeded random-walk closes; open off the close by a small gap, high/low around both.
    from qresearch.data import Bars

    rng = np.random.default_rng(seed)
    shape = (len(index), n_symbols)
    close = 100 * np.exp(np.cumsum(rng.normal(drift, vol, shape), axis=0))
    open_ = close * np.exp(rng.normal(0.0, vol / 4, shape))
    spread = np.abs(rng.normal(0.0, vol / 4, shape))
    high = np.maximum(open_, close) * (1 + spread)
    low = np.minimum(open_, close) * (1 - spread)
    volume = rng.integers(1_000, 1_000_000, shape).astype(float)
    cols = pd.Index([f"S{i:04d}" for i in range(n_symbols)], name="symbol")

    def panel(a: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(a, index=index, columns=cols)

    panels = {"open": open_, "high": high, "low": low, "close": close, "volume": volume}
    return Bars(**{name: panel(a) for name, a in panels.items()})


def top_weights(close: pd.DataFrame, rows: np.ndarray, lookback: int, top: int) -> pd.DataFrame:
    # Equal weight on the top-`top` trailing returns at `rows`; NaN rows elsewhere (hold).
    mom = close.pct_change(lookback, fill_method=None).iloc[rows]
    w = (mom.rank(axis=1, ascending=False) <= top).astype(float) / top
    w[mom.isna().all(axis=1)] = np.nan  # no momentum yet: hold
    return w.reindex(close.index)


def replay_inputs(which: str) -> tuple[Any, pd.DataFrame]:
    if which == "daily":
        spec = DAILY
        idx = pd.bdate_range("2010-01-01", periods=spec["rows"], name="timestamp")
        bars = make_bars(idx, spec["symbols"], 0.0002, 0.02)
        rows = idx.to_series().groupby(idx.to_period("M")).max().to_numpy()
        rows = idx.get_indexer(rows)
    else:
        spec = MINUTE
        days = pd.bdate_range("2024-01-02", periods=-(-spec["rows"] // SESSION))
        minutes = pd.timedelta_range("9h30min", periods=SESSION, freq="min")
        idx = pd.DatetimeIndex(
            (days.values[:, None] + minutes.values[None, :]).ravel()[: spec["rows"]],
            name="timestamp",
        )
        bars = make_bars(idx, spec["symbols"], 0.0002 / SESSION, 0.02 / math.sqrt(SESSION))
        rows = np.arange(SESSION - 1, spec["rows"], SESSION)
    return bars, top_weights(bars.close, rows, spec["lookback"], spec["top"])


def replay_case(name: str) -> None:
    engine, which = name.split("_")
    bars, weights = replay_inputs(which)
    check = TMP / f"qresearch-bench-sim-{which}-equity.npy"
    n_events = bars.close.shape[0] * bars.close.shape[1]
    if engine == "sim":
        import qresearch.sim as qs

        t0 = time.perf_counter()
        sim = qs.Simulator(bars, init_cash=1e6, fees=0.001, market_fill="open")
        ctor_s = time.perf_counter() - t0

        def run() -> Any:
            return sim.run(qs.TargetWeights(weights))

        t0 = time.perf_counter()
        res = run()
        first = time.perf_counter() - t0
        peak_1 = peak_rss_mb()
        np.save(check, res.equity.to_numpy())
        out = time_case(run)
        out.update(
            first_s=first,
            peak_1_run_mb=peak_1,
            ctor_s=ctor_s,
            events_per_s=n_events / out["median_s"],
            fills=len(res.fills),
            orders=len(res.order_book),
            rebalances=int(weights.notna().any(axis=1).sum()),
        )
        emit(out)
    elif engine == "fw":
        from qresearch.backtest import from_weights

        def run_fw() -> Any:
            return from_weights(bars, weights, fees=0.001, init_cash=1e6, execution="next_open")

        out = time_case(run_fw)
        mine = run_fw().equity.to_numpy()
        sim_eq = np.load(check)
        out["final_rel_diff"] = float(abs(sim_eq[-1] / mine[-1] - 1))
        out["max_rel_diff"] = float(np.max(np.abs(sim_eq / mine - 1)))
        out["final_equity"] = float(mine[-1])
        emit(out)
    else:
        raise SystemExit(f"unknown case {name}")


# ---- 3. SMA crossover on ORCL


class SmaCross:
    """Long 100 shares from a fast-over-slow cross to the next cross below.

    ``last`` is the last non-zero ``fast - slow`` before this bar (backtrader's
    NonZeroDifference), so touching the slow average without crossing is no signal.
    """

    def __init__(self, fast: np.ndarray, slow: np.ndarray) -> None:
        self.fast, self.slow = fast, slow
        self.last = math.nan

    def on_bar(self, ctx: Any) -> None:
        d = self.fast[ctx.i] - self.slow[ctx.i]
        held = ctx.position(SYMBOL)
        if d > 0 and self.last < 0 and held == 0:
            ctx.buy(SYMBOL, SHARES)
        elif d < 0 and self.last > 0 and held > 0:
            ctx.sell(SYMBOL, held)
        if d != 0 and not math.isnan(d):
            self.last = d


def orcl_bars() -> Any:
    import qresearch.datasets as qd

    return qd.load_sample("ohlcv", symbols=[SYMBOL])


def sma_case(name: str) -> None:
    bars = orcl_bars()
    n_bars = len(bars.close)
    check = TMP / "qresearch-bench-sim-sma-fills.pkl"
    if name == "sma_qresearch":
        import qresearch.features as qf
        import qresearch.sim as qs

        def run() -> Any:
            fast = qf.sma(bars.close, FAST)[SYMBOL].to_numpy()
            slow = qf.sma(bars.close, SLOW)[SYMBOL].to_numpy()
            sim = qs.Simulator(bars, init_cash=CASH, fees=FEES, market_fill="open")
            return sim.run(SmaCross(fast, slow))

        out = time_case(run, repeat=SMA_REPEAT)
        res = run()
        fills = res.fills[["timestamp", "side", "qty", "price", "fees"]]
        pd.to_pickle({"fills": fills, "final": res.final_value}, check)
        op = bars.open[SYMBOL].loc[fills["timestamp"]].to_numpy()
        out.update(
            bars_per_s=n_bars / out["median_s"],
            fills=len(fills),
            final_value=res.final_value,
            max_abs_diff_vs_open=float(np.max(np.abs(fills["price"].to_numpy() - op))),
        )
        emit(out)
    elif name in ("sma_backtrader", "sma_backtrader_stdstats"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import backtrader as bt

            emit(backtrader_case(bt, bars, stdstats=name.endswith("stdstats")))
    else:
        raise SystemExit(f"unknown case {name}")


def backtrader_case(bt: Any, bars: Any, stdstats: bool) -> dict[str, Any]:
    class BtSmaCross(bt.Strategy):
        def __init__(self) -> None:
            self.fast = bt.indicators.SMA(self.data.close, period=FAST)
            self.slow = bt.indicators.SMA(self.data.close, period=SLOW)
            self.cross = bt.indicators.CrossOver(self.fast, self.slow)
            self.fills: list[tuple[Any, float, float, float]] = []

        def next(self) -> None:
            if not self.position:
                if self.cross[0] > 0:
                    self.buy(size=SHARES)
            elif self.cross[0] < 0:
                self.close()

        def notify_order(self, order: Any) -> None:
            if order.status == order.Completed:
                ex = order.executed
                self.fills.append((bt.num2date(ex.dt), ex.size, ex.price, ex.comm))

    df = pd.DataFrame({f: getattr(bars, f)[SYMBOL] for f in ("open", "high", "low", "close")})
    df["volume"] = bars.volume[SYMBOL]

    def run() -> tuple[Any, float]:
        cerebro = bt.Cerebro(stdstats=stdstats)  # cheat_on_open off: fills at the next open
        cerebro.adddata(bt.feeds.PandasData(dataname=df))
        cerebro.addstrategy(BtSmaCross)
        cerebro.broker.setcash(CASH)
        cerebro.broker.setcommission(commission=FEES)
        strat = cerebro.run()[0]
        return strat, cerebro.broker.getvalue()

    out: dict[str, Any] = time_case(run, repeat=SMA_REPEAT)
    strat, value = run()
    out["bars_per_s"] = len(df) / out["median_s"]
    out["fills"] = len(strat.fills)
    out["final_value"] = value
    # Compare with qresearch's fills (written by the sma_qresearch case).
    q = pd.read_pickle(TMP / "qresearch-bench-sim-sma-fills.pkl")
    qf = q["fills"]
    b = pd.DataFrame(strat.fills, columns=["timestamp", "size", "price", "comm"])
    same_n = len(b) == len(qf)
    if same_n:
        b_dates = pd.DatetimeIndex(b["timestamp"]).normalize()
        q_signed = np.where(qf["side"] == "buy", 1.0, -1.0) * qf["qty"].to_numpy()
        same_dates = bool((b_dates == pd.DatetimeIndex(qf["timestamp"])).all())
        same_sizes = bool((b["size"].to_numpy() == q_signed).all())
        price_rel = float(np.max(np.abs(b["price"].to_numpy() / qf["price"].to_numpy() - 1)))
        fee_rel = float(np.max(np.abs(b["comm"].to_numpy() / qf["fees"].to_numpy() - 1)))
    else:
        same_dates = same_sizes = False
        price_rel = fee_rel = math.nan
    out.update(
        fills_match=bool(same_n and same_dates and same_sizes and price_rel < 1e-12),
        same_dates=same_dates,
        same_sides_qty=same_sizes,
        price_max_rel_diff=price_rel,
        fee_max_rel_diff=fee_rel,
        final_rel_diff=abs(value / q["final"] - 1),
    )
    # The indicators themselves: backtrader's SMA (math.fsum / n) vs pandas' rolling mean.
    from qresearch.features import sma

    sides = []
    for line, window in ((strat.fast, FAST), (strat.slow, SLOW)):
        mine = sma(bars.close, window)[SYMBOL].to_numpy()
        theirs = np.asarray(line.array[: len(mine)], dtype=float)
        sides.append((mine, theirs))
        ok = ~np.isnan(mine)
        out[f"sma{window}_max_rel_diff"] = float(np.max(np.abs(theirs[ok] / mine[ok] - 1)))
    d_mine = sides[0][0] - sides[1][0]
    d_bt = sides[0][1] - sides[1][1]
    ok = ~np.isnan(d_mine)
    out["sign_disagreements"] = int((np.sign(d_mine[ok]) != np.sign(d_bt[ok])).sum())
    out["exact_ties"] = int((d_mine[ok] == 0).sum())
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case")
    args = parser.parse_args()
    if args.case:
        if args.case.startswith("sma_"):
            sma_case(args.case)
        else:
            replay_case(args.case)
        return
    rows: dict[str, Any] = {}
    print("TargetWeights replay (qr.sim) vs from_weights(execution='next_open'), fees 10 bps")
    head = (
        f"{'panel':22s} {'rebal':>5s} {'fills':>7s} {'first s':>8s} {'median s':>9s} "
        f"{'events/s':>11s} {'peak MB':>8s} {'peak 1 run':>10s} {'fw med s':>9s} "
        f"{'fw faster':>9s} {'final rel diff':>14s}"
    )
    print(head)
    for which, spec in (("daily", DAILY), ("minute", MINUTE)):
        s = run_in_subprocess(__file__, f"sim_{which}")
        f = run_in_subprocess(__file__, f"fw_{which}")
        rows[f"sim_{which}"], rows[f"fw_{which}"] = s, f
        label = f"{spec['rows']} x {spec['symbols']} {which}"
        print(
            f"{label:22s} {s['rebalances']:5.0f} {s['fills']:7.0f} {s['first_s']:8.3f} "
            f"{s['median_s']:9.4f} {s['events_per_s']:11,.0f} {s['peak_rss_mb']:8.0f} "
            f"{s['peak_1_run_mb']:10.0f} {f['median_s']:9.4f} "
            f"{s['median_s'] / f['median_s']:8.1f}x {f['final_rel_diff']:14.1e}"
        )
    d = rows["sim_daily"]
    print(
        f"daily: {d['events_per_s']:,.0f} events/s (target > 1,000,000): "
        f"{'ok' if d['events_per_s'] > 1e6 else 'MISSED'}; peak {d['peak_rss_mb']:.0f} MB "
        f"(target < 1024): {'ok' if d['peak_rss_mb'] < 1024 else 'MISSED'}"
    )
    for which in ("daily", "minute"):
        f = rows[f"fw_{which}"]
        agree = f["final_rel_diff"] <= 1e-9
        print(
            f"{which}: final equity sim vs from_weights rel diff {f['final_rel_diff']:.1e} "
            f"(<= 1e-9: {agree}); whole curve max {f['max_rel_diff']:.1e}; "
            f"Simulator() {rows[f'sim_{which}']['ctor_s']:.3f} s"
        )

    print(f"\nSMA({FAST})/SMA({SLOW}) crossover, {SYMBOL} daily bars, {SHARES} shares, fees 0.1%")
    q = run_in_subprocess(__file__, "sma_qresearch")
    b = run_in_subprocess(__file__, "sma_backtrader")
    bd = run_in_subprocess(__file__, "sma_backtrader_stdstats")
    rows.update(sma_qresearch=q, sma_backtrader=b, sma_backtrader_stdstats=bd)
    print(f"{'':34s} {'first s':>8s} {'median s':>9s} {'bars/s':>9s} {'peak MB':>8s}")
    for label, r in (
        ("qresearch qr.sim", q),
        ("backtrader 1.9 (stdstats=False)", b),
        ("backtrader 1.9 (Cerebro defaults)", bd),
    ):
        print(
            f"{label:34s} {r['first_s']:8.3f} {r['median_s']:9.4f} {r['bars_per_s']:9,.0f} "
            f"{r['peak_rss_mb']:8.0f}"
        )
    ratio = q["bars_per_s"] / b["bars_per_s"]
    print(
        f"speed-up vs backtrader: {ratio:.1f}x (stdstats=False; target >= 20x: "
        f"{'ok' if ratio >= 20 else 'MISSED'}), "
        f"{q['bars_per_s'] / bd['bars_per_s']:.1f}x vs Cerebro defaults"
    )
    print(
        f"fills match: {b['fills_match']} ({q['fills']:.0f} vs {b['fills']:.0f} fills; same "
        f"dates {b['same_dates']}, same sides/qty {b['same_sides_qty']}, price max rel diff "
        f"{b['price_max_rel_diff']:.1e}, fees {b['fee_max_rel_diff']:.1e}); final value rel "
        f"diff {b['final_rel_diff']:.1e}"
    )
    print(
        f"SMA vs backtrader: max rel diff {b[f'sma{FAST}_max_rel_diff']:.1e} / "
        f"{b[f'sma{SLOW}_max_rel_diff']:.1e}, sign(fast - slow) disagreements "
        f"{b['sign_disagreements']}, exact ties fast == slow {b['exact_ties']}; qresearch "
        f"fill prices vs the open: max abs diff {q['max_abs_diff_vs_open']:.1e}"
    )
    print(json.dumps({"rows": rows}))


if __name__ == "__main__":
    main()
