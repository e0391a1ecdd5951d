from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qresearch.backtest import from_weights

IDX = pd.date_range("2024-01-01", periods=4, name="timestamp")


def _res():
    close = pd.DataFrame({"A": [10.0, 10.0, 20.0, 20.0], "B": [10.0, 10.0, 10.0, 5.0]}, index=IDX)
    w = pd.DataFrame(
        {"A": [0.5, np.nan, np.nan, np.nan], "B": [-0.5, np.nan, np.nan, np.nan]}, index=IDX
    )
    return from_weights(close, w, init_cash=100.0, fees=0.01)


def test_returns_weights_exposure_turnover_by_hand() -> None:
    res = _res()
    # Day 2: short B first (sell 5 @ 10, fee 0.5), then buy A with 50 target (5 @ 10, fee 0.5).
    assert res.orders["side"].tolist() == ["sell", "buy"]
    assert res.positions.iloc[1].tolist() == pytest.approx([5.0, -5.0])
    assert res.cash.iloc[1] == pytest.approx(100 + 50 - 0.5 - 50 - 0.5)
    eq = [100.0, 99.0, 99.0 + 50.0, 99.0 + 50.0 + 25.0]
    assert res.equity.tolist() == pytest.approx(eq)
    assert res.returns.tolist() == pytest.approx([0.0, -0.01, 149 / 99 - 1, 174 / 149 - 1])
    assert res.weights.iloc[1].tolist() == pytest.approx([50 / 99, -50 / 99])
    assert res.exposure.iloc[2].tolist() == pytest.approx([(100 + 50) / 149, (100 - 50) / 149])
    assert res.turnover.tolist() == pytest.approx([0.0, 1.0, 0.0, 0.0])
    assert res.costs.sum() == pytest.approx(1.0)


def test_stats_and_repr() -> None:
    res = _res()
    s = res.stats()
    assert s["orders"] == 2 and s["fees"] == pytest.approx(1.0)
    assert s["total_return"] == pytest.approx(0.74)
    assert s["turnover"] == pytest.approx(252 / 4)
    assert "2 orders" in repr(res) and res.config_id == _res().config_id
    assert res.config["fees"] == 0.01 and res.config["execution"] == "next_close"


def test_trades_by_hand_with_flip_and_open_trade() -> None:
    from qresearch.data.bars import Bars

    idx = pd.date_range("2024-01-01", periods=6, name="timestamp")
    c = pd.DataFrame({"A": [10.0, 10.0, 12.0, 9.0, 8.0, 10.0]}, index=idx)
    bars = Bars(open=c, high=c + 1, low=c - 1, close=c, volume=c * 0 + 1e6)
    w = pd.DataFrame({"A": [1.0, np.nan, -1.0, np.nan, np.nan, np.nan]}, index=idx)
    res = from_weights(bars, w, init_cash=100.0, execution="next_close")
    t = res.trades
    assert t["direction"].tolist() == ["long", "short"]
    long, short = t.iloc[0], t.iloc[1]
    # Long: 10 shares bought at 10 on day 2, sold at 9 on day 4 (the flip).
    assert long["status"] == "closed" and long["size"] == pytest.approx(10.0)
    assert long["entry_price"] == 10.0 and long["exit_price"] == 9.0
    assert long["pnl"] == pytest.approx(-10.0) and long["return"] == pytest.approx(-0.1)
    assert long["entry_time"] == idx[1] and long["exit_time"] == idx[3]
    assert long["duration_bars"] == 2
    # Highs/lows over days 2..4: high 13 -> MFE +30%, low 8 -> MAE -20%.
    assert long["mfe"] == pytest.approx(0.3) and long["mae"] == pytest.approx(-0.2)
    # Short: equity 90 at day 4 -> short 10 shares at 9; still open, valued at 10.
    assert short["status"] == "open" and pd.isna(short["exit_time"])
    assert short["size"] == pytest.approx(10.0) and short["pnl"] == pytest.approx(-10.0)
    assert short["mae"] == pytest.approx(-(11 / 9 - 1))
    assert short["mfe"] == pytest.approx(1 - 7 / 9)


def test_no_trades_gives_empty_frame() -> None:
    close = pd.DataFrame({"A": [10.0] * 4}, index=IDX)
    res = from_weights(close, close * np.nan)
    assert res.trades.empty and "pnl" in res.trades.columns


def test_plot_and_tearsheet_from_result(tmp_path) -> None:
    from qresearch.exceptions import ParameterError

    idx = pd.bdate_range("2020-01-01", periods=300, name="timestamp")
    rng = np.random.default_rng(0)
    close = pd.DataFrame(
        100 * np.exp(np.cumsum(rng.normal(0, 0.01, (300, 2)), axis=0)), idx, ["A", "B"]
    )
    w = pd.DataFrame(np.nan, index=idx, columns=close.columns)
    w.iloc[::20] = 0.5
    res = from_weights(close, w, init_cash=100.0)
    fig = res.plot(title="demo")
    assert "Drawdown" in {t.name for t in fig.data}
    path = res.tearsheet(tmp_path / "t.html", title="my tearsheet")
    assert "my tearsheet" in path.read_text()
    sweep = from_weights(close, pd.concat({1: w, 2: w}, axis=1))
    with pytest.raises(ParameterError, match="plot shows one portfolio"):
        sweep.plot()
    with pytest.raises(ParameterError, match="tearsheet shows one portfolio"):
        sweep.tearsheet(tmp_path / "x.html")


def test_config_id_identifies_the_run() -> None:
    import pandas as pd

    from qresearch.backtest import from_signals, from_weights
    from tests.conftest import make_close

    close = make_close(40, 3, seed=1, ragged=False)
    w = pd.DataFrame(1 / 3, index=close.index, columns=close.columns)
    w2 = w.copy()
    w2.iloc[10, 0] = 0.2
    a, b = from_weights(close, w), from_weights(close, w2)
    assert a.config_id != b.config_id  # same options, different weights
    assert a.config_id == from_weights(close.copy(), w.copy()).config_id
    assert a.config_id != from_weights(close * 1.01, w).config_id  # different prices
    e = close > close.rolling(5).mean()
    e2 = e.copy()
    e2.iloc[20, 1] = not e2.iloc[20, 1]
    assert from_signals(close, e).config_id != from_signals(close, e2).config_id


def test_html_repr_has_stats_and_sparkline() -> None:
    import pandas as pd

    from qresearch.backtest import from_weights
    from tests.conftest import make_close

    close = make_close(60, 3, seed=2, ragged=False)
    w = pd.DataFrame(1 / 3, index=close.index, columns=close.columns)
    page = from_weights(close, w, init_cash=1000.0)._repr_html_()
    assert "BacktestResult" in page and "sharpe" in page and "<svg" in page and "<polyline" in page
    sweep = pd.concat({1: w, 2: w * 0.5}, axis=1, names=["k", "symbol"])
    assert "2 portfolios" in from_weights(close, sweep)._repr_html_()
