"""Trades from the numba kernel equal the Python loop they replaced, row for row.

``_reference_trades`` is a frozen copy of ``trades_from_fills`` before the kernel
(one dict per trade, built in a Python loop over each key's fills); the kernel, its
Python twin and the reference must give the same frame (columns, dtypes, order,
values) on random order sets and on backtests, and ``BacktestResult.stats()`` the same
statistics as the frozen stats path.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qresearch.backtest import from_signals, from_weights
from qresearch.backtest import trades as tr
from qresearch.backtest._nb_trades import trades_py
from qresearch.backtest.trades import TRADE_COLUMNS, closed_trades, trades_from_fills
from qresearch.evaluation import metrics
from tests.conftest import make_bars, make_close

# -- the frozen reference (trades_from_fills before the numba kernel) -----------------


def _ref_close_trade(
    t: dict[str, Any], exit_idx: int, last: np.ndarray, high: np.ndarray, low: np.ndarray
) -> dict[str, Any]:
    size = t["entry_size"]
    entry_price = t["entry_value"] / size
    exit_price = t["exit_value"] / t["exit_size"] if t["exit_size"] > 0 else math.nan
    if t["status"] == "open":
        remaining = size - t["exit_size"]
        exit_value = t["exit_value"] + remaining * last[exit_idx]
        exit_price = exit_value / size
    sign = 1.0 if t["direction"] == "long" else -1.0
    pnl = sign * (exit_price * size - entry_price * size) - t["entry_fees"] - t["exit_fees"]
    lo = low[t["entry_idx"] : exit_idx + 1]
    hi = high[t["entry_idx"] : exit_idx + 1]
    worst = np.nanmin(lo) if sign > 0 else np.nanmax(hi)
    best = np.nanmax(hi) if sign > 0 else np.nanmin(lo)
    return {
        "symbol": t["symbol"],
        "direction": t["direction"],
        "status": t["status"],
        "entry_idx": t["entry_idx"],
        "exit_idx": exit_idx,
        "size": size,
        "entry_price": entry_price,
        "exit_price": exit_price,
        "entry_fees": t["entry_fees"],
        "exit_fees": t["exit_fees"],
        "pnl": pnl,
        "return": pnl / (entry_price * size),
        "mae": sign * (worst / entry_price - 1.0),
        "mfe": sign * (best / entry_price - 1.0),
    }


def _reference_trades(
    fills: pd.DataFrame,
    close: pd.DataFrame,
    high: pd.DataFrame | None = None,
    low: pd.DataFrame | None = None,
    *,
    group_columns: tuple[str, ...] = (),
) -> pd.DataFrame:
    index = close.index
    last_close = close.ffill()
    high = close if high is None else high
    low = close if low is None else low
    pos_of = {ts: i for i, ts in enumerate(index)}
    rows: list[dict[str, Any]] = []
    keys = [*group_columns, "symbol"]
    for key, part in fills.groupby(keys, sort=False) if len(fills) else []:
        symbol = key[-1] if isinstance(key, tuple) else key
        groups = dict(zip(group_columns, key[:-1], strict=True)) if group_columns else {}
        col_last = last_close[symbol].to_numpy(np.float64)
        col_high = high[symbol].to_numpy(np.float64)
        col_low = low[symbol].to_numpy(np.float64)
        pos = 0.0
        trade: dict[str, Any] | None = None
        for ts, side, size, price, fee in zip(
            part["timestamp"], part["side"], part["size"], part["price"], part["fees"], strict=True
        ):
            i = pos_of[ts]
            delta = size if side == "buy" else -size
            remaining, fee_left = size, fee
            if trade is not None and np.sign(delta) != np.sign(pos):
                closing = min(remaining, abs(pos))
                share = fee_left * closing / remaining
                trade["exit_size"] += closing
                trade["exit_value"] += closing * price
                trade["exit_fees"] += share
                remaining -= closing
                fee_left -= share
                pos += math.copysign(closing, delta)
                if abs(pos) <= 1e-9 * max(trade["entry_size"], 1e-12):
                    pos = 0.0
                    trade["status"] = "closed"
                    rows.append(
                        {**groups, **_ref_close_trade(trade, i, col_last, col_high, col_low)}
                    )
                    trade = None
            if remaining > 1e-12 * max(size, 1.0):
                if trade is None:
                    trade = {
                        "symbol": symbol,
                        "direction": "long" if delta > 0 else "short",
                        "status": "open",
                        "entry_idx": i,
                        "entry_size": 0.0,
                        "entry_value": 0.0,
                        "entry_fees": 0.0,
                        "exit_size": 0.0,
                        "exit_value": 0.0,
                        "exit_fees": 0.0,
                    }
                trade["entry_size"] += remaining
                trade["entry_value"] += remaining * price
                trade["entry_fees"] += fee_left
                pos += math.copysign(remaining, delta)
        if trade is not None:
            row = _ref_close_trade(trade, len(index) - 1, col_last, col_high, col_low)
            row["exit_idx"] = -1
            rows.append({**groups, **row})
    if not rows:
        return pd.DataFrame(columns=[*group_columns, *TRADE_COLUMNS])
    out = pd.DataFrame(rows)
    entry_idx = out.pop("entry_idx").to_numpy()
    exit_idx = out.pop("exit_idx").to_numpy()
    out["entry_time"] = index[entry_idx]
    closed = exit_idx >= 0
    exit_time = pd.Series(pd.NaT, index=out.index, dtype=index.dtype)
    exit_time[closed] = index[exit_idx[closed]]
    out["exit_time"] = exit_time
    end_idx = np.where(closed, exit_idx, len(index) - 1)
    out["duration_bars"] = end_idx - entry_idx
    out["duration"] = index[end_idx] - index[entry_idx]
    return out[[*group_columns, *TRADE_COLUMNS]]


# -- checks ---------------------------------------------------------------------------


def _check_all_equal(
    fills: pd.DataFrame,
    close: pd.DataFrame,
    high: pd.DataFrame | None = None,
    low: pd.DataFrame | None = None,
    group_columns: tuple[str, ...] = (),
) -> pd.DataFrame:
    # Reference == numba kernel == Python twin, exactly; closed_trades == the frame's
    # closed rows. Returns the trades.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # nanmin of an all-NaN slice
        expected = _reference_trades(fills, close, high, low, group_columns=group_columns)
    got = trades_from_fills(fills, close, high, low, group_columns=group_columns)
    twin = tr._trades_frame(fills, close, high, low, group_columns=group_columns, kernel=trades_py)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    pd.testing.assert_frame_equal(twin, expected, check_exact=True)
    for kernel in (None, trades_py):
        pnl, ret, bars = closed_trades(fills, close, group_columns=group_columns, kernel=kernel)
        done = got[got["status"] == "closed"] if len(got) else got
        np.testing.assert_array_equal(pnl.to_numpy(), done["pnl"].to_numpy(dtype=float))
        np.testing.assert_array_equal(ret.to_numpy(), done["return"].to_numpy(dtype=float))
        np.testing.assert_array_equal(bars.to_numpy(), done["duration_bars"].to_numpy(dtype=int))
    return got


@st.composite
def order_sets(draw: Any) -> tuple[pd.DataFrame, pd.DataFrame, Any, Any, tuple[str, ...]]:
    # Random fills in time order over a few symbols: round sizes (exact closes and
    # flips), odd sizes (partial closes, residues), a tiny size, NaN closes, an
    # all-NaN close column, fills of one symbol within one bar, optional sweep keys.
    n_bars = draw(st.integers(1, 12))
    n_syms = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    n_orders = draw(st.integers(0, 40))
    grouped = draw(st.booleans())
    bars = draw(st.booleans())
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2024-01-01", periods=n_bars, name="timestamp", unit="us")
    symbols = [f"S{i}" for i in range(n_syms)]
    close = pd.DataFrame(rng.uniform(5, 15, (n_bars, n_syms)), index=idx, columns=symbols)
    close = close.mask(rng.random(close.shape) < 0.2)
    if n_syms > 1 and rng.random() < 0.3:
        close[symbols[-1]] = np.nan
    sizes = np.array([1.0, 2.0, 3.0, 0.5, 1.5, 1e-13, 7.25])
    rows = np.sort(rng.integers(0, n_bars, n_orders))
    size = np.where(rng.random(n_orders) < 0.7, rng.choice(sizes, n_orders), rng.random(n_orders))
    fills = pd.DataFrame(
        {
            "timestamp": idx[rows],
            "symbol": rng.choice(symbols, n_orders),
            "side": rng.choice(["buy", "sell"], n_orders),
            "size": size,
            "price": rng.uniform(5, 15, n_orders),
            "fees": np.where(rng.random(n_orders) < 0.3, 0.0, rng.uniform(0, 0.5, n_orders)),
        }
    )
    group_columns: tuple[str, ...] = ()
    if grouped:
        fills.insert(0, "k", rng.choice([1, 2], n_orders))
        fills.insert(1, "name", rng.choice(["a", "b"], n_orders))
        group_columns = ("k", "name")
    high = low = None
    if bars:
        high = close * (1 + rng.uniform(0, 0.1, close.shape))
        low = close * (1 - rng.uniform(0, 0.1, close.shape))
    return fills, close, high, low, group_columns


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(order_sets())
def test_kernel_twin_and_reference_give_the_same_trades(case: Any) -> None:
    fills, close, high, low, group_columns = case
    _check_all_equal(fills, close, high, low, group_columns)


def _random_weights(close: pd.DataFrame, seed: int, hold: float = 0.5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    w = pd.DataFrame(rng.normal(0, 0.3, close.shape), index=close.index, columns=close.columns)
    return w.mask(rng.random(w.shape) < hold)


@pytest.mark.parametrize("seed", range(6))
def test_backtest_trades_equal_the_reference(seed: int) -> None:
    # Long/short weights (flips, partial closes), delisted symbols, fees, Bars (MAE/MFE).
    bars = make_bars(150, 5, seed=seed)
    w = _random_weights(bars.close, seed)
    res = from_weights(bars, w, init_cash=1e4, fees=0.001, fixed_fees=0.1, over_leverage="scale")
    got = _check_all_equal(res.orders, res.close, res.high, res.low)
    pd.testing.assert_frame_equal(res.trades, got, check_exact=True)
    assert len(got) > 10 and {"open", "closed"} == set(got["status"])
    close = make_close(150, 5, seed=seed)  # ragged: late listings
    res = from_weights(close, _random_weights(close, seed + 10), over_leverage="scale")
    pd.testing.assert_frame_equal(res.trades, _check_all_equal(res.orders, res.close))


def test_sweep_and_signal_trades_equal_the_reference() -> None:
    bars = make_bars(120, 4, seed=7)
    w = _random_weights(bars.close, 7)
    weights = pd.concat({(1, "a"): w, (2, "b"): w * 0.5}, axis=1, names=["k", "j", "symbol"])
    sweep = from_weights(bars, weights, init_cash=1e3, over_leverage="scale")
    close = sweep.close.iloc[:, :4].droplevel([0, 1], axis=1)
    expected = _check_all_equal(sweep.orders, close, bars.high, bars.low, ("k", "j"))
    pd.testing.assert_frame_equal(sweep.trades, expected, check_exact=True)
    assert list(sweep.trades.columns[:3]) == ["k", "j", "symbol"]
    e = bars.close > bars.close.rolling(5).mean()
    sig = from_signals(bars, e, ~e, sl_stop=0.03, fees=0.001)
    pd.testing.assert_frame_equal(
        sig.trades, _check_all_equal(sig.orders, sig.close, sig.high, sig.low), check_exact=True
    )


def test_no_orders_gives_todays_empty_frame() -> None:
    close = make_close(5, 2, ragged=False)
    fills = pd.DataFrame(
        {
            "timestamp": close.index[:0],
            "symbol": pd.Series([], dtype="str"),
            "side": pd.Series([], dtype="str"),
            "size": pd.Series([], dtype="float64"),
            "price": pd.Series([], dtype="float64"),
            "fees": pd.Series([], dtype="float64"),
        }
    )
    _check_all_equal(fills, close)
    # Only a float-residue fill: no trade either.
    tiny = pd.DataFrame(
        {
            "timestamp": close.index[:1],
            "symbol": ["S000"],
            "side": ["buy"],
            "size": [1e-13],
            "price": [10.0],
            "fees": [0.0],
        }
    )
    assert _check_all_equal(tiny, close).empty


def test_unknown_symbol_timestamp_or_misaligned_bars_raise() -> None:
    close = make_close(5, 2, ragged=False)
    fills = pd.DataFrame(
        {
            "timestamp": close.index[:1],
            "symbol": ["S000"],
            "side": ["buy"],
            "size": [1.0],
            "price": [10.0],
            "fees": [0.0],
        }
    )
    with pytest.raises(KeyError, match="XYZ"):
        trades_from_fills(fills.assign(symbol="XYZ"), close)
    with pytest.raises(KeyError):
        trades_from_fills(fills.assign(timestamp=pd.Timestamp("1999-01-01")), close)
    with pytest.raises(ValueError, match="high has 4 rows but close has 5"):
        trades_from_fills(fills, close, close.iloc[:4], close)


def _reference_stats(res: Any, periods_per_year: float = 252, risk_free: float = 0.0) -> Any:
    # BacktestResult.stats() before the kernel: the frozen trades and the pandas stats
    # path (metrics._stats_reference), one call per sweep column.
    def one(ret: pd.Series, fees: pd.Series, turn: pd.Series, n: int, trades: Any) -> Any:
        s = metrics._stats_reference(ret, periods_per_year, risk_free)
        if trades is not None:
            s = pd.Series(
                {**s.to_dict(), **metrics.trade_stats(trades).to_dict()}, name=s.name, dtype=object
            )
        s["orders"] = n
        s["fees"] = float(fees.sum())
        s["turnover"] = float(turn.mean() * periods_per_year)
        return s

    if isinstance(res.equity, pd.Series):
        trades = _reference_trades(res.orders, res.close, res.high, res.low)
        return one(res.returns, res.fees_paid, res.turnover, len(res.orders), trades)
    keys = list(res.equity.columns.names)
    counts = res.orders.groupby(keys, sort=False).size() if len(res.orders) else pd.Series()
    cols = {}
    for key in res.equity.columns:
        n = int(counts.get(key, 0)) if len(counts) else 0
        cols[key] = one(res.returns[key], res.fees_paid[key], res.turnover[key], n, None)
    out = pd.DataFrame(cols)
    out.columns.names = keys
    return out


def _assert_same_stats(got: pd.Series, expected: pd.Series, rel: float) -> None:
    pd.testing.assert_index_equal(got.index, expected.index, exact=True)
    assert got.name == expected.name and got.dtype == expected.dtype == object
    for key in expected.index:
        a, b = got[key], expected[key]
        assert type(a) is type(b), key
        if isinstance(b, float) and not math.isnan(b) and not math.isinf(b):
            assert a == pytest.approx(b, rel=rel, abs=0.0), key
        elif isinstance(b, float):
            assert (math.isnan(a) and math.isnan(b)) or a == b, key
        else:
            assert a == b, key


@pytest.mark.parametrize("risk_free", [0.0, 0.03])
def test_result_stats_equal_the_reference(risk_free: float) -> None:
    bars = make_bars(200, 5, seed=11)
    w = _random_weights(bars.close, 11)
    res = from_weights(bars, w, init_cash=1e4, fees=0.001, over_leverage="scale")
    got, expected = res.stats(risk_free=risk_free), _reference_stats(res, risk_free=risk_free)
    _assert_same_stats(got, expected, rel=0.0)  # the same operations: bit for bit
    assert got["trades"] > 20
    sweep = from_weights(
        bars,
        pd.concat({1: w, 2: w * 0.5, 3: w * 0.0}, axis=1, names=["k", "symbol"]),
        over_leverage="scale",
    )
    got_t, expected_t = (
        sweep.stats(risk_free=risk_free),
        _reference_stats(sweep, risk_free=risk_free),
    )
    # Today a RangeIndex when the keys happen to be 1, 2, 3: the same labels.
    pd.testing.assert_index_equal(got_t.columns, expected_t.columns, exact="equiv")
    for col in expected_t.columns:
        _assert_same_stats(got_t[col], expected_t[col], rel=1e-12)
