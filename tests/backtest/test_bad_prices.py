"""Prices that are not finite and positive are refused up front, or skipped and recorded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qresearch.backtest import from_signals, from_weights
from qresearch.data.bars import Bars
from qresearch.exceptions import DataValidationError, ParameterError
from tests.conftest import make_bars


def _weights(bars: Bars) -> pd.DataFrame:
    w = pd.DataFrame(np.nan, index=bars.index, columns=bars.close.columns)
    w.iloc[::5] = 1.0 / bars.close.shape[1]
    return w.where(bars.close.notna())


@pytest.mark.parametrize("engine", ["numba", "python"])
@pytest.mark.parametrize("value", [np.inf, 0.0, -5.0])
@pytest.mark.parametrize("field", ["close", "open"])
def test_from_weights_refuses_bad_prices(engine, value, field) -> None:
    bars = make_bars(60, 3, seed=1, ragged=False)
    bad = Bars(**{f: getattr(bars, f).copy() for f in ("open", "high", "low", "close", "volume")})
    getattr(bad, field).iloc[31, 1] = value
    with pytest.raises(
        DataValidationError, match=rf"{field} {value!r} for 'S001' at {bars.index[31]}"
    ):
        from_weights(bad, _weights(bars), init_cash=1e4, engine=engine)


@pytest.mark.parametrize("engine", ["numba", "python"])
def test_skip_equals_missing_prices_and_records_them(engine) -> None:
    bars = make_bars(60, 3, seed=1, ragged=False)
    w = _weights(bars)
    bad = {f: getattr(bars, f).copy() for f in ("open", "high", "low", "close", "volume")}
    bad["open"].iloc[31, 1] = np.inf
    bad["close"].iloc[40, 2] = 0.0
    res = from_weights(Bars(**bad), w, init_cash=1e4, bad_prices="skip", engine=engine)
    nan = {f: p.copy() for f, p in bad.items()}
    nan["open"].iloc[31, 1] = np.nan
    nan["close"].iloc[40, 2] = np.nan
    ref = from_weights(Bars(**nan), w, init_cash=1e4, engine=engine)
    assert res.equity.notna().all() and np.isfinite(res.equity).all()
    pd.testing.assert_series_equal(res.equity, ref.equity)
    rej = res.rejections
    assert rej[["symbol", "field", "reason"]].values.tolist() == [
        ["S002", "close", "invalid_price"], ["S001", "open", "invalid_price"]]  # fmt: skip
    assert list(rej["timestamp"]) == [bars.index[40], bars.index[31]]
    assert from_weights(bars, w, init_cash=1e4).rejections.empty
    with pytest.raises(ParameterError, match="bad_prices"):
        from_weights(bars, w, bad_prices="ignore")


@pytest.mark.parametrize("engine", ["numba", "python"])
@pytest.mark.parametrize("field", ["open", "low", "close"])
def test_from_signals_refuses_bad_prices_instead_of_dropping_entries(engine, field) -> None:
    bars = make_bars(60, 2, seed=2, ragged=False)
    entries = pd.DataFrame(False, bars.index, bars.close.columns)
    entries.iloc[10] = True
    bad = {f: getattr(bars, f).copy() for f in ("open", "high", "low", "close", "volume")}
    bad[field].iloc[11, 0] = -1.0 if field != "close" else np.inf
    with pytest.raises(DataValidationError, match=f"for 'S000' at {bars.index[11]}"):
        from_signals(Bars(**bad), entries, sl_stop=0.1, init_cash=1e4, engine=engine)
    res = from_signals(
        Bars(**bad), entries, sl_stop=0.1, init_cash=1e4, bad_prices="skip", engine=engine
    )
    assert np.isfinite(res.equity).all() and len(res.rejections) == 1


def test_close_panel_zero_price_is_refused_not_a_zero_division() -> None:
    close = make_bars(30, 2, seed=3, ragged=False).close
    bad = close.copy()
    bad.iloc[12, 0] = 0.0
    w = pd.DataFrame(0.5, index=close.index, columns=close.columns)
    for engine in ("numba", "python"):
        with pytest.raises(DataValidationError, match="close 0.0 for 'S000'"):
            from_weights(bad, w, engine=engine)
