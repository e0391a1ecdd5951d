from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qresearch.backtest import from_weights
from qresearch.data.bars import Bars
from qresearch.exceptions import AlignmentError, ConfigError, PanelError, ParameterError
from tests.conftest import make_bars, make_close

IDX = pd.date_range("2024-01-01", periods=4, name="timestamp")


def test_one_asset_round_trip_with_fees_and_slippage_by_hand() -> None:
    close = pd.DataFrame({"A": [10.0, 10.0, 12.0, 12.0]}, index=IDX)
    w = pd.DataFrame({"A": [1.0, np.nan, 0.0, np.nan]}, index=IDX)
    res = from_weights(close, w, init_cash=1000.0, fees=0.01, slippage=0.001)
    # Day 2: buy at 10 * 1.001 with all cash, fees included: size = 1000 / 1.01 / 10.01.
    size = 1000 / 1.01 / 10.01
    # Day 4 (weights of day 3, lagged): sell everything at 12 * 0.999, paying 1%.
    final = size * 11.988 * 0.99
    assert res.equity.tolist() == pytest.approx([1000.0, size * 10, size * 12, final], rel=1e-12)
    o = res.orders
    assert o["side"].tolist() == ["buy", "sell"]
    assert o["size"].tolist() == pytest.approx([size, size], rel=1e-12)
    assert o["price"].tolist() == pytest.approx([10.01, 11.988])
    assert o["fees"].tolist() == pytest.approx([1000 - 1000 / 1.01, size * 11.988 * 0.01])
    assert res.fees_paid.sum() == pytest.approx(o["fees"].sum())
    assert res.positions["A"].tolist() == pytest.approx([0.0, size, size, 0.0])
    assert res.cash.iloc[-1] == pytest.approx(final)


def test_execution_modes_trade_at_the_right_price() -> None:
    opens = pd.DataFrame({"A": [9.0, 20.0, 30.0, 40.0]}, index=IDX)
    close = pd.DataFrame({"A": [10.0, 21.0, 31.0, 41.0]}, index=IDX)
    bars = Bars(open=opens, high=close + 1, low=opens - 1, close=close, volume=close * 0 + 1)
    w = pd.DataFrame({"A": [1.0, np.nan, np.nan, np.nan]}, index=IDX)
    nxt_open = from_weights(bars, w, init_cash=100.0)  # default for Bars: next open
    assert nxt_open.orders["price"].tolist() == [20.0]
    assert nxt_open.orders["timestamp"].tolist() == [IDX[1]]
    assert nxt_open.equity.iloc[-1] == pytest.approx(100 / 20 * 41)
    nxt_close = from_weights(close, w, init_cash=100.0)  # default for a panel: next close
    assert nxt_close.orders["price"].tolist() == [21.0]
    same = from_weights(close, w, init_cash=100.0, execution="close")
    assert same.orders["price"].tolist() == [10.0] and same.orders["timestamp"][0] == IDX[0]


def _reference_no_fees(close: pd.DataFrame, weights: pd.DataFrame, cash0: float) -> np.ndarray:
    # Independent frictionless implementation: at each lagged rebalance, shares = w * V / p.
    shares = np.zeros(close.shape[1])
    cash = cash0
    out = []
    target = weights.shift(1).to_numpy()
    px = close.to_numpy()
    for i in range(len(close)):
        if not np.isnan(target[i]).all():
            value = cash + float(np.nansum(shares * px[i]))
            new = np.where(np.isnan(target[i]), shares, target[i] * value / px[i])
            cash = value - float(np.nansum(new * px[i]))
            shares = new
        out.append(cash + float(np.nansum(shares * px[i])))
    return np.array(out)


def test_monthly_equal_weight_rebalance_of_three_assets() -> None:
    close = make_close(130, 3, seed=7, ragged=False)
    w = pd.DataFrame(np.nan, index=close.index, columns=close.columns)
    month_end = close.index.to_series().groupby(close.index.to_period("M")).max()
    w.loc[month_end.to_numpy()] = 1.0 / 3.0
    res = from_weights(close, w, init_cash=1000.0)
    np.testing.assert_allclose(
        res.equity.to_numpy(), _reference_no_fees(close, w, 1000.0), rtol=1e-12
    )
    # Realized weights right after each rebalance equal the targets.
    fills = res.orders["timestamp"].unique()
    np.testing.assert_allclose(res.weights.loc[fills].to_numpy(), 1 / 3, rtol=1e-12)
    assert set(res.orders["timestamp"]) == {
        close.index[close.index.get_loc(t) + 1] for t in month_end[:-1]
    }


def test_nan_row_means_hold_and_always_rebalances_back() -> None:
    close = pd.DataFrame({"A": [10.0, 12.0, 15.0, 15.0], "B": [10.0, 8.0, 12.0, 10.0]}, index=IDX)
    w = pd.DataFrame(
        {"A": [0.5, np.nan, np.nan, np.nan], "B": [0.5, np.nan, np.nan, np.nan]}, index=IDX
    )
    hold = from_weights(close, w, init_cash=100.0)
    assert len(hold.orders) == 2
    always = from_weights(close, w, init_cash=100.0, rebalance="always")
    assert len(always.orders) > 2
    np.testing.assert_allclose(always.weights.iloc[2].to_numpy(), [0.5, 0.5])


def test_delisted_position_is_closed_at_last_price_and_flagged() -> None:
    close = pd.DataFrame({"A": [10.0, 11.0, 12.0, np.nan], "B": [5.0, 5.0, 5.0, 5.0]}, index=IDX)
    w = pd.DataFrame(
        {"A": [0.5, np.nan, np.nan, np.nan], "B": [0.5, np.nan, np.nan, np.nan]}, index=IDX
    )
    res = from_weights(close, w, init_cash=100.0)
    last = res.orders.iloc[-1]
    assert bool(last["delisted"]) and last["symbol"] == "A" and last["price"] == 12.0
    assert res.positions["A"].iloc[-1] == 0.0
    assert res.equity.iloc[-1] == pytest.approx(50 / 11 * 12 + 50)


def test_shorts_and_sweep_equal_separate_runs() -> None:
    close = make_close(60, 4, seed=2, ragged=False)
    rng = np.random.default_rng(3)
    w1 = pd.DataFrame(rng.normal(0, 0.3, close.shape), index=close.index, columns=close.columns)
    w2 = w1.where(rng.random(close.shape) > 0.5)
    sweep = pd.concat({0.1: w1, 0.2: w2}, axis=1, names=["k", "symbol"])
    both = from_weights(close, sweep, init_cash=1000.0, fees=0.001, over_leverage="scale")
    for key, w in ((0.1, w1), (0.2, w2)):
        one = from_weights(close, w, init_cash=1000.0, fees=0.001, over_leverage="scale")
        np.testing.assert_allclose(both.equity[key].to_numpy(), one.equity.to_numpy(), rtol=1e-12)
    assert list(both.equity.columns) == [0.1, 0.2]
    assert set(both.orders["k"]) == {0.1, 0.2}
    assert both.stats().shape[1] == 2
    assert (both.positions < 0).any().any()  # shorts happened


def test_size_granularity_whole_shares() -> None:
    close = pd.DataFrame({"A": [3.0, 3.0, 3.0, 3.0]}, index=IDX)
    w = pd.DataFrame({"A": [1.0, np.nan, np.nan, np.nan]}, index=IDX)
    res = from_weights(close, w, init_cash=100.0, size_granularity=1.0)
    assert res.orders["size"].tolist() == [33.0]
    assert res.cash.iloc[-1] == pytest.approx(1.0)


def test_leverage_allows_borrowing() -> None:
    close = pd.DataFrame({"A": [10.0, 10.0, 11.0, 11.0]}, index=IDX)
    w = pd.DataFrame({"A": [2.0, np.nan, np.nan, np.nan]}, index=IDX)
    with pytest.raises(ParameterError, match="gross exposure of 2 .*above leverage=1"):
        from_weights(close, w, init_cash=100.0)
    capped = from_weights(close, w, init_cash=100.0, over_leverage="scale")
    assert capped.positions["A"].iloc[-1] == pytest.approx(10.0)  # scaled to 1.0
    levered = from_weights(close, w, init_cash=100.0, leverage=2.0)
    assert levered.positions["A"].iloc[-1] == pytest.approx(20.0)
    assert levered.cash.iloc[-1] == pytest.approx(-100.0)
    assert levered.equity.iloc[-1] == pytest.approx(120.0)


def test_min_trade_skips_small_orders() -> None:
    close = pd.DataFrame({"A": [10.0, 10.0, 10.0, 10.0]}, index=IDX)
    w = pd.DataFrame({"A": [0.5, 0.51, np.nan, np.nan]}, index=IDX)
    assert len(from_weights(close, w, init_cash=100.0).orders) == 2
    assert len(from_weights(close, w, init_cash=100.0, min_trade=0.02).orders) == 1


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"fees": -0.001}, ConfigError, "Costs.fees must be a finite number >= 0"),
        ({"slippage": 1.5}, ConfigError, "must be < 1"),
        ({"init_cash": 0.0}, ParameterError, "'init_cash' parameter of from_weights"),
        ({"leverage": 0.5}, ParameterError, "'leverage' parameter"),
        ({"min_trade": 2}, ParameterError, "'min_trade' parameter"),
        ({"size_granularity": 0}, ParameterError, "'size_granularity' parameter"),
        ({"execution": "tomorrow"}, ParameterError, "'execution' parameter of from_weights"),
        ({"rebalance": "weekly"}, ParameterError, "'rebalance' parameter"),
        ({"execution": "next_open"}, ParameterError, "needs opening prices"),
    ],
)
def test_bad_arguments(kwargs: dict, error: type, match: str) -> None:
    close = pd.DataFrame({"A": [10.0] * 4}, index=IDX)
    with pytest.raises(error, match=match):
        from_weights(close, close * 0 + 1.0, **kwargs)


def test_misaligned_and_bad_weights() -> None:
    close = pd.DataFrame({"A": [10.0] * 4, "B": [5.0] * 4}, index=IDX)
    with pytest.raises(AlignmentError, match=r"1 symbols only in weights \(\['C'\]\)"):
        from_weights(close, close.rename(columns={"B": "C"}) * 0)
    with pytest.raises(AlignmentError, match="timestamps only in prices"):
        from_weights(close, close.iloc[1:] * 0)
    with pytest.raises(ParameterError, match=r"infinite value at \(2024-01-01 00:00:00, 'A'\)"):
        from_weights(close, close.replace(10.0, np.inf))
    with pytest.raises(PanelError, match="weights must be a pandas DataFrame"):
        from_weights(close, [1, 2])  # type: ignore[arg-type]
    sweep = pd.concat({1: close, 2: close[["B", "A"]]}, axis=1)
    with pytest.raises(AlignmentError, match="not the symbols of prices"):
        from_weights(close, sweep)


def test_inputs_not_mutated(bars: Bars) -> None:
    w = (bars.close * 0 + 0.2).where(bars.close.notna())
    before_w, before_c = w.copy(), bars.close.copy()
    from_weights(bars, w, fees=0.001)
    pd.testing.assert_frame_equal(w, before_w)
    pd.testing.assert_frame_equal(bars.close, before_c)


def test_numba_kernel_equals_python_twin() -> None:
    bars = make_bars(80, 6, seed=11)
    rng = np.random.default_rng(5)
    w = pd.DataFrame(rng.normal(0.1, 0.3, bars.shape), index=bars.index, columns=bars.symbols)
    w = w.where(rng.random(bars.shape) > 0.4)
    kw = dict(fees=0.001, fixed_fees=0.01, slippage=0.0005, init_cash=100.0, over_leverage="scale")
    a = from_weights(bars, w, engine="numba", **kw)
    b = from_weights(bars, w, engine="python", **kw)
    pd.testing.assert_series_equal(a.equity, b.equity, check_exact=True)
    pd.testing.assert_frame_equal(a.orders, b.orders, check_exact=True)
    pd.testing.assert_frame_equal(a.positions, b.positions, check_exact=True)


def test_truncation_does_not_change_the_past() -> None:
    close = make_close(120, 5, seed=4)
    rng = np.random.default_rng(8)
    w = pd.DataFrame(rng.random(close.shape), index=close.index, columns=close.columns)
    w = w.div(w.sum(axis=1), axis=0).where(close.notna(), 0.0)
    full = from_weights(close, w, fees=0.001)
    for cut in (30, 77, 119):
        part = from_weights(close.iloc[:cut], w.iloc[:cut], fees=0.001)
        pd.testing.assert_series_equal(full.equity.iloc[:cut], part.equity, check_exact=True)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    fees=st.sampled_from([0.0, 0.0005, 0.01]),
    fixed=st.sampled_from([0.0, 0.1]),
    slip=st.sampled_from([0.0, 0.001]),
    shorts=st.booleans(),
)
def test_accounting_identities(
    seed: int, fees: float, fixed: float, slip: float, shorts: bool
) -> None:
    rng = np.random.default_rng(seed)
    close = make_close(40, 4, seed=seed % 97)
    raw = rng.normal(0.2, 0.5, close.shape) if shorts else rng.random(close.shape)
    w = pd.DataFrame(raw, index=close.index, columns=close.columns).where(
        rng.random(close.shape) > 0.3
    )
    w = w.div(np.maximum(w.abs().sum(axis=1), 1.0), axis=0)  # gross <= leverage 1
    res = from_weights(
        close, w, fees=fees, fixed_fees=fixed, slippage=slip, init_cash=1000.0, engine="python"
    )
    holdings = (res.positions * close.ffill()).fillna(0.0).sum(axis=1)
    np.testing.assert_allclose(res.cash + holdings, res.equity, rtol=1e-10, atol=1e-9)
    assert (res.orders["fees"] >= 0).all() and (res.fees_paid >= 0).all()
    # Permuting the symbols permutes the positions and leaves equity unchanged.
    perm = list(rng.permutation(close.columns))
    res_p = from_weights(
        close[perm],
        w[perm],
        fees=fees,
        fixed_fees=fixed,
        slippage=slip,
        init_cash=1000.0,
        engine="python",
    )
    np.testing.assert_allclose(res_p.equity, res.equity, rtol=1e-9)
    # Zero weights everywhere: no trade, flat equity.
    flat = from_weights(
        close, w * 0.0, fees=fees, fixed_fees=fixed, init_cash=1000.0, engine="python"
    )
    assert len(flat.orders) == 0 and (flat.equity == 1000.0).all()


def _flat_bars(close: pd.DataFrame, volume: float) -> Bars:
    return Bars(open=close, high=close, low=close, close=close, volume=close * 0 + volume)


def test_participation_caps_fills_by_bar_volume() -> None:
    idx = pd.date_range("2024-01-01", periods=5, name="timestamp")
    close = pd.DataFrame({"A": [10.0] * 5}, index=idx)
    bars = _flat_bars(close, 100.0)
    w = pd.DataFrame({"A": [1.0] + [np.nan] * 4}, index=idx)
    once = from_weights(bars, w, init_cash=1000.0, participation=0.1, execution="next_close")
    assert once.orders["size"].tolist() == [10.0]  # wants 100 shares, 10% of 100 volume
    always = from_weights(
        bars, w, init_cash=1000.0, participation=0.1, rebalance="always", execution="next_close"
    )
    assert always.orders["size"].tolist() == [10.0] * 4
    assert always.positions["A"].iloc[-1] == 40.0


def test_square_root_impact_by_hand() -> None:
    n = 25
    idx = pd.date_range("2024-01-01", periods=n, name="timestamp")
    px = 10.0 * (1 + 0.01 * (-1.0) ** np.arange(n))
    close = pd.DataFrame({"A": px}, index=idx)
    bars = _flat_bars(close, 10_000.0)
    w = pd.DataFrame({"A": [np.nan] * n}, index=idx)
    w.iloc[n - 2] = 1.0  # decided at bar 23, filled at the close of bar 24
    res = from_weights(bars, w, init_cash=1000.0, impact=0.5, execution="next_close")
    rets = px[1:] / px[:-1] - 1
    # rets[k] is the return of bar k + 1: the 20 returns known after bar 23 are rets[3:23].
    sigma = np.std(rets[3:23], ddof=1)
    wanted = 1000.0 / px[-1]
    expected_price = px[-1] * (1 + 0.5 * sigma * np.sqrt(wanted / 10_000.0))
    assert res.orders["price"].iloc[0] == pytest.approx(expected_price, rel=1e-12)
    assert res.orders["size"].iloc[0] == pytest.approx(1000.0 / expected_price, rel=1e-12)


def test_impact_needs_bars_and_valid_costs() -> None:
    close = pd.DataFrame({"A": [10.0] * 4}, index=IDX)
    with pytest.raises(ParameterError, match="need bar volume"):
        from_weights(close, close * 0 + 1.0, impact=0.1)
    with pytest.raises(ConfigError, match="participation is a fraction of bar volume"):
        from_weights(close, close * 0 + 1.0, participation=1.5)


def test_result_does_not_share_memory_with_inputs() -> None:
    close = make_close(30, 3, seed=1, ragged=False)
    w = close * 0 + 0.3
    res = from_weights(close, w)
    before = res.close.copy()
    close.iloc[0, 0] = 999.0
    pd.testing.assert_frame_equal(res.close, before)


def _risk_case():
    idx = pd.date_range("2024-01-01", periods=8, name="timestamp")
    close = pd.DataFrame({"A": [100.0, 100.0, 90.0, 80.0, 85.0, 90.0, 95.0, 100.0]}, index=idx)
    w = pd.DataFrame({"A": [1.0] + [np.nan] * 7}, index=idx)
    return close, w


def test_drawdown_halt_liquidates_next_bar_and_stays_flat() -> None:
    from qresearch.portfolio.risk import RiskLimits

    close, w = _risk_case()
    res = from_weights(close, w, init_cash=100.0, risk=RiskLimits(max_drawdown=0.15))
    # Bought 1 share at 100 (bar 1); 80 at bar 3 is a 20% drawdown -> sold at 85 on bar 4.
    o = res.orders
    assert o["side"].tolist() == ["buy", "sell"] and o["risk_exit"].tolist() == [False, True]
    assert o["timestamp"].iloc[1] == close.index[4] and o["price"].iloc[1] == 85.0
    assert res.equity.iloc[-1] == pytest.approx(85.0) and res.positions["A"].iloc[-1] == 0.0


def test_cooldown_resumes_with_latest_targets() -> None:
    from qresearch.portfolio.risk import RiskLimits

    close, w = _risk_case()
    res = from_weights(
        close, w, init_cash=100.0, risk=RiskLimits(max_drawdown=0.15, cooldown_bars=1)
    )
    # Liquidated at 85 (bar 4), flat on bar 5, re-buys at 95 on bar 6.
    assert res.orders["price"].tolist() == [100.0, 85.0, 95.0]
    assert res.equity.iloc[-1] == pytest.approx(85.0 / 95.0 * 100.0)


def test_bar_loss_and_losing_streak_limits() -> None:
    from qresearch.portfolio.risk import RiskLimits

    close, w = _risk_case()
    loss = from_weights(close, w, init_cash=100.0, risk=RiskLimits(bar_loss_limit=0.1))
    assert loss.orders["timestamp"].iloc[1] == close.index[3]  # -10% on bar 2 -> sold bar 3
    streak = from_weights(close, w, init_cash=100.0, risk=RiskLimits(max_losing_bars=2))
    assert streak.orders["timestamp"].iloc[1] == close.index[4]  # bars 2 and 3 lost
    numba = from_weights(
        close, w, init_cash=100.0, risk=RiskLimits(max_losing_bars=2, cooldown_bars=0)
    )
    python = from_weights(
        close,
        w,
        init_cash=100.0,
        risk=RiskLimits(max_losing_bars=2, cooldown_bars=0),
        engine="python",
    )
    pd.testing.assert_frame_equal(numba.orders, python.orders, check_exact=True)
    assert numba.config["risk"]["max_losing_bars"] == 2


def test_risk_limits_validation() -> None:
    from qresearch.portfolio.risk import RiskLimits

    with pytest.raises(ConfigError, match="max_losing_bars must be an int >= 1"):
        RiskLimits(max_losing_bars=0)
    with pytest.raises(ConfigError, match="cooldown_bars must be an int >= 0"):
        RiskLimits(cooldown_bars=-2)
