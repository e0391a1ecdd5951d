from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qresearch.backtest import from_signals
from qresearch.data.bars import Bars
from qresearch.exceptions import AlignmentError, ParameterError
from tests.conftest import make_bars

IDX = pd.date_range("2024-01-01", periods=6, name="timestamp")


def _bars(o, h, lo, c) -> Bars:
    frame = lambda v: pd.DataFrame({"A": [float(x) for x in v]}, index=IDX)  # noqa: E731
    return Bars(
        open=frame(o), high=frame(h), low=frame(lo), close=frame(c), volume=frame([1e6] * 6)
    )


def _sig(*rows: int) -> pd.DataFrame:
    s = pd.DataFrame({"A": [False] * 6}, index=IDX)
    s.iloc[list(rows), 0] = True
    return s


def test_stop_loss_fills_at_stop_or_gap_open_by_hand() -> None:
    # Entry signal day 1 -> buy at day 2 open (100). SL 5% -> 95.
    bars = _bars(
        o=[100, 100, 99, 96, 90, 90],
        h=[101, 101, 100, 97, 91, 91],
        lo=[99, 90, 96, 94, 89, 89],  # day 2 low 90 is the entry bar: no trigger
        c=[100, 100, 98, 95, 90, 90],
    )
    res = from_signals(bars, _sig(0), sl_stop=0.05, init_cash=1000.0)
    o = res.orders
    assert o["side"].tolist() == ["buy", "sell"] and o["exit"].tolist() == ["", "sl"]
    assert o["price"].tolist() == [100.0, 95.0]  # day 4 range 94..97 touches 95
    assert o["timestamp"].tolist() == [IDX[1], IDX[3]]
    assert res.equity.iloc[-1] == pytest.approx(950.0)
    # Same with a gap: day 4 opens at 93, below the stop -> fill at the open.
    gap = _bars(
        o=[100, 100, 99, 93, 90, 90],
        h=[101, 101, 100, 94, 91, 91],
        lo=[99, 99, 96, 92, 89, 89],
        c=[100, 100, 98, 93, 90, 90],
    )
    assert from_signals(gap, _sig(0), sl_stop=0.05, init_cash=1000.0).orders["price"].tolist() == [
        100.0,
        93.0,
    ]


def test_stop_loss_wins_when_both_touched_and_take_profit() -> None:
    bars = _bars(
        o=[100, 100, 100, 100, 100, 100],
        h=[100, 100, 111, 100, 100, 100],
        lo=[100, 100, 94, 100, 100, 100],
        c=[100, 100, 100, 100, 100, 100],
    )
    both = from_signals(bars, _sig(0), sl_stop=0.05, tp_stop=0.1, init_cash=1000.0)
    assert both.orders["exit"].tolist() == ["", "sl"] and both.orders["price"].iloc[1] == 95.0
    tp = from_signals(bars, _sig(0), tp_stop=0.1, init_cash=1000.0)
    assert tp.orders["exit"].tolist() == ["", "tp"] and tp.orders["price"].iloc[1] == pytest.approx(
        110.0
    )


def test_close_only_prices_check_stops_on_the_close() -> None:
    close = pd.DataFrame({"A": [100.0, 100.0, 96.0, 94.0, 90.0, 90.0]}, index=IDX)
    res = from_signals(close, _sig(0), sl_stop=0.05, init_cash=1000.0)
    assert res.orders["price"].tolist() == [100.0, 94.0]


def test_trailing_stop_and_time_stop() -> None:
    bars = _bars(
        o=[100, 100, 110, 120, 113, 100],
        h=[100, 100, 115, 121, 114, 100],
        lo=[100, 100, 108, 118, 112, 99],
        c=[100, 100, 112, 120, 113, 100],
    )
    trail = from_signals(bars, _sig(0), sl_stop=0.05, sl_trail=True, init_cash=1000.0)
    # Reference trails to the high of day 4 (121): stop 114.95; day 5 opens at 113 below it.
    assert trail.orders["price"].tolist() == [100.0, 113.0]
    timed = from_signals(bars, _sig(0), time_stop=2, init_cash=1000.0)
    assert (
        timed.orders["exit"].tolist() == ["", "time"]
        and timed.orders["timestamp"].iloc[1] == IDX[3]
    )
    assert timed.orders["price"].iloc[1] == 120.0  # next-open execution price of day 4


def test_exit_signal_fees_slippage_and_conflicts() -> None:
    close = pd.DataFrame({"A": [10.0, 10.0, 10.0, 12.0, 12.0, 12.0]}, index=IDX)
    res = from_signals(close, _sig(0), _sig(2), fees=0.01, slippage=0.001, init_cash=100.0)
    size = 100 / 1.01 / 10.01
    assert res.orders["size"].tolist() == pytest.approx([size, size])
    assert res.equity.iloc[-1] == pytest.approx(size * 11.988 * 0.99)
    assert res.orders["exit"].tolist() == ["", "signal"]
    # Entry and exit on the same bar cancel; entries while long do not add.
    assert from_signals(close, _sig(0), _sig(0), init_cash=100.0).orders.empty
    assert len(from_signals(close, _sig(0, 1, 2), init_cash=100.0).orders) == 1


def test_short_and_both_directions() -> None:
    close = pd.DataFrame({"A": [10.0, 10.0, 8.0, 8.0, 10.0, 10.0]}, index=IDX)
    short = from_signals(close, _sig(0), _sig(2), direction="short", init_cash=100.0)
    assert short.orders["side"].tolist() == ["sell", "buy"]
    assert short.equity.iloc[-1] == pytest.approx(100 + 10 * 2)
    both = from_signals(close, _sig(2), _sig(0), direction="both", init_cash=100.0)
    # Short 10 @ 10 on day 2, cover @ 8 and go long with all cash (120 / 8 = 15) on day 4.
    assert both.orders["side"].tolist() == ["sell", "buy", "buy"]
    assert both.positions["A"].iloc[-1] == pytest.approx(15.0)
    assert both.equity.iloc[-1] == pytest.approx(150.0)


def test_size_types() -> None:
    close = pd.DataFrame({"A": [10.0] * 6}, index=IDX)
    for size, size_type, shares in (
        (3.0, "amount", 3.0),
        (50.0, "value", 5.0),
        (0.5, "percent", 5.0),
        (0.2, "target_percent", 2.0),
    ):
        res = from_signals(close, _sig(0), init_cash=100.0, size=size, size_type=size_type)
        assert res.positions["A"].iloc[-1] == pytest.approx(shares), size_type


def test_cash_sharing_pools_cash() -> None:
    close = pd.DataFrame({"A": [10.0] * 6, "B": [5.0] * 6}, index=IDX)
    e = pd.DataFrame({"A": [True] + [False] * 5, "B": [True] + [False] * 5}, index=IDX)
    shared = from_signals(close, e, init_cash=100.0, cash_sharing=True)
    assert shared.positions.iloc[-1].tolist() == pytest.approx([10.0, 0.0])  # A took all cash
    apart = from_signals(close, e, init_cash=100.0)
    assert apart.positions.iloc[-1].tolist() == pytest.approx([10.0, 20.0])
    assert apart.init_cash == 200.0 and apart.equity.iloc[-1] == pytest.approx(200.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"direction": "up"}, "'direction' parameter of from_signals"),
        ({"size": -1.0}, "'size' parameter of from_signals must be > 0"),
        ({"size": np.inf, "size_type": "value"}, "inf only with size_type='amount'"),
        ({"size": 2.0, "size_type": "percent"}, r"fraction in \(0, 1\]"),
        ({"sl_stop": 1.5}, "0 < sl_stop < 1"),
        ({"tp_stop": -0.1}, "'tp_stop' parameter of from_signals must be a finite number > 0"),
        ({"time_stop": 0}, "'time_stop' parameter"),
        ({"sl_stop": pd.Series({"B": 0.1})}, r"no value for symbols \['A'\]"),
    ],
)
def test_bad_arguments(kwargs: dict, match: str) -> None:
    close = pd.DataFrame({"A": [10.0] * 6}, index=IDX)
    with pytest.raises(ParameterError, match=match):
        from_signals(close, _sig(0), **kwargs)


def test_bad_signals() -> None:
    close = pd.DataFrame({"A": [10.0] * 6}, index=IDX)
    with pytest.raises(ParameterError, match="entries must be a boolean panel"):
        from_signals(close, _sig(0).astype(float))
    with pytest.raises(AlignmentError, match="entries and exits are not aligned"):
        from_signals(close, _sig(0), _sig(1).iloc[1:])


def test_numba_equals_python_and_identities() -> None:
    bars = make_bars(120, 5, seed=21)
    rng = np.random.default_rng(1)
    e = pd.DataFrame(rng.random(bars.shape) < 0.1, index=bars.index, columns=bars.symbols)
    x = pd.DataFrame(rng.random(bars.shape) < 0.1, index=bars.index, columns=bars.symbols)
    kw = dict(
        direction="both", sl_stop=0.03, tp_stop=0.05, fees=0.001, slippage=0.001, init_cash=100.0
    )
    a = from_signals(bars, e, x, engine="numba", **kw)
    b = from_signals(bars, e, x, engine="python", **kw)
    pd.testing.assert_series_equal(a.equity, b.equity, check_exact=True)
    pd.testing.assert_frame_equal(a.orders, b.orders, check_exact=True)
    holdings = (a.positions * bars.close.ffill()).fillna(0.0).sum(axis=1)
    np.testing.assert_allclose(a.cash + holdings, a.equity, rtol=1e-10)
    assert (a.orders["fees"] >= 0).all()


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), direction=st.sampled_from(["long", "short", "both"]))
def test_truncation_invariance(seed: int, direction: str) -> None:
    bars = make_bars(60, 3, seed=seed % 50)
    rng = np.random.default_rng(seed)
    e = pd.DataFrame(rng.random(bars.shape) < 0.15, index=bars.index, columns=bars.symbols)
    x = pd.DataFrame(rng.random(bars.shape) < 0.15, index=bars.index, columns=bars.symbols)
    kw = dict(direction=direction, sl_stop=0.02, tp_stop=0.04, init_cash=100.0, engine="python")
    full = from_signals(bars, e, x, **kw)
    cut = int(rng.integers(10, 59))
    part = from_signals(bars.select(end=bars.index[cut - 1]), e.iloc[:cut], x.iloc[:cut], **kw)
    pd.testing.assert_series_equal(full.equity.iloc[:cut], part.equity, check_exact=True)


@pytest.fixture(scope="module")
def vbt():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pytest.importorskip("vectorbt")


@pytest.mark.parametrize(
    ("direction", "vbt_direction", "stops"),
    [
        ("long", "longonly", {"sl_stop": 0.05, "tp_stop": 0.1}),
        ("short", "shortonly", {"sl_stop": 0.04, "tp_stop": 0.08}),
        ("both", "both", {"sl_stop": 0.06}),
        ("long", "longonly", {"sl_stop": 0.05, "sl_trail": True}),
    ],
)
@pytest.mark.slow
def test_equals_vectorbt_from_signals(
    vbt, sample_bars: Bars, direction, vbt_direction, stops
) -> None:
    bars = sample_bars.select(start="2003-01-01")
    fast = bars.close.rolling(10).mean()
    slow = bars.close.rolling(40).mean()
    entries = (fast > slow) & (fast.shift(1) <= slow.shift(1))
    exits = (fast < slow) & (fast.shift(1) >= slow.shift(1))
    kw = dict(fees=0.001, slippage=0.0005, init_cash=10_000.0)
    res = from_signals(bars, entries, exits, direction=direction, **stops, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pf = vbt.Portfolio.from_signals(
            bars.close,
            entries.shift(1, fill_value=False),
            exits.shift(1, fill_value=False),
            price=bars.open,
            open=bars.open,
            high=bars.high,
            low=bars.low,
            direction=vbt_direction,
            stop_entry_price="fillprice",
            stop_exit_price="stoplimit",
            freq="1D",
            **stops,
            **kw,
        )
        value = pf.value().sum(axis=1)
    np.testing.assert_allclose(res.equity.to_numpy(), value.to_numpy(), rtol=1e-9)


def test_signal_sweep_equals_separate_runs() -> None:
    bars = make_bars(100, 3, seed=9)
    fast = {n: bars.close.rolling(n).mean() for n in (5, 10)}
    slow = bars.close.rolling(20).mean()
    entries = pd.concat({n: f > slow for n, f in fast.items()}, axis=1, names=["fast", "symbol"])
    exits = pd.concat({n: f < slow for n, f in fast.items()}, axis=1, names=["fast", "symbol"])
    for sharing in (False, True):
        kw = dict(
            sl_stop=pd.Series(0.03, index=bars.symbols),
            fees=0.001,
            init_cash=100.0,
            cash_sharing=sharing,
        )
        both = from_signals(bars, entries, exits, **kw)
        assert list(both.equity.columns) == [5, 10]
        for n in (5, 10):
            one = from_signals(bars, entries[n], exits[n], **kw)
            np.testing.assert_allclose(both.equity[n].to_numpy(), one.equity.to_numpy(), rtol=1e-12)
            assert (both.orders["fast"] == n).sum() == len(one.orders)
        assert both.stats().shape[1] == 2


@pytest.mark.slow
@pytest.mark.parametrize("cash_sharing", [False, True])
@pytest.mark.parametrize(("direction", "vbt_direction"), [("short", "shortonly"), ("both", "both")])
def test_covering_a_short_is_limited_by_cash_like_vectorbt(
    vbt, direction, vbt_direction, cash_sharing
) -> None:
    # Prices triple while short: covering costs more than the cash; vectorbt covers
    # what the cash buys and stays short for the rest.
    idx = pd.date_range("2020-01-01", periods=12, name="timestamp")
    close = pd.DataFrame(
        {
            "A": [10, 10, 12, 15, 20, 25, 30, 30, 28, 25, 20, 20.0],
            "B": [10, 10, 9, 8, 8, 9, 10, 11, 12, 12, 13, 13.0],
        },
        index=idx,
    )
    entries = pd.DataFrame(False, idx, close.columns)
    exits = pd.DataFrame(False, idx, close.columns)
    if direction == "short":
        entries.iloc[0] = True
        exits.iloc[6] = True
        exits.iloc[9] = True
    else:
        exits.iloc[0] = True  # "both": an exit opens a short
        entries.iloc[6] = True  # reverse to long: cover first
    kw = dict(fees=0.001, init_cash=1000.0)
    res = from_signals(close, entries, exits, direction=direction, cash_sharing=cash_sharing, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pf = vbt.Portfolio.from_signals(
            close,
            entries.shift(1, fill_value=False),
            exits.shift(1, fill_value=False),
            direction=vbt_direction,
            freq="1D",
            cash_sharing=cash_sharing,
            group_by=True if cash_sharing else None,
            **kw,
        )
        value = pf.value()
        value = value if cash_sharing else value.sum(axis=1)
    np.testing.assert_allclose(res.equity.to_numpy(), value.to_numpy(), rtol=1e-9)
    assert (res.cash >= -1e-9).all()
    if direction == "short":
        assert res.positions["A"].iloc[7] < 0  # only part of the short was covered
