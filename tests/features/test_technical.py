"""Technical indicators against hand-computed cases and plain-Python loop references."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from qresearch.data.bars import Bars
from qresearch.exceptions import ParameterError
from qresearch.features import adx, atr, bollinger, ema, macd, rsi, sma, stochastic

IDX = pd.date_range("2020-01-01", periods=6, name="timestamp")


def _panel(values: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"A": values}, index=IDX[: len(values)])


def _bars(high: list[float], low: list[float], close: list[float]) -> Bars:
    return Bars(
        open=_panel(close),
        high=_panel(high),
        low=_panel(low),
        close=_panel(close),
        volume=_panel([1.0] * len(close)),
    )


# ---------------------------------------------------------------- loop references
def _smooth_ref(xs: list[float], alpha: float, min_periods: int) -> list[float]:
    # y_0 = first non-NaN x, y_t = (1 - alpha) y_{t-1} + alpha x_t; leading NaN only.
    out: list[float] = []
    y = math.nan
    seen = 0
    for x in xs:
        if math.isnan(x):
            assert seen == 0, "reference handles leading NaN only"
            out.append(math.nan)
            continue
        y = x if seen == 0 else (1 - alpha) * y + alpha * x
        seen += 1
        out.append(y if seen >= min_periods else math.nan)
    return out


def _ema_ref(xs: list[float], span: int) -> list[float]:
    return _smooth_ref(xs, 2.0 / (span + 1), span)


def _rsi_ref(xs: list[float], window: int) -> list[float]:
    gains = [math.nan] + [max(b - a, 0.0) for a, b in itertools.pairwise(xs)]
    losses = [math.nan] + [max(a - b, 0.0) for a, b in itertools.pairwise(xs)]
    g = _smooth_ref(gains, 1.0 / window, window)
    lo = _smooth_ref(losses, 1.0 / window, window)
    out = []
    for a, b in zip(g, lo, strict=True):
        if math.isnan(a):
            out.append(math.nan)
        elif a + b == 0.0:
            out.append(50.0)
        else:
            out.append(100.0 - 100.0 / (1.0 + a / b) if b > 0 else 100.0)
    return out


def _tr_ref(h: list[float], lo: list[float], c: list[float]) -> list[float]:
    out = []
    for t in range(len(c)):
        if math.isnan(h[t]):
            out.append(math.nan)
        elif t == 0 or math.isnan(c[t - 1]):
            out.append(h[t] - lo[t])
        else:
            out.append(max(h[t] - lo[t], abs(h[t] - c[t - 1]), abs(lo[t] - c[t - 1])))
    return out


def _adx_ref(h: list[float], lo: list[float], c: list[float], n: int) -> list[float]:
    first = next(i for i, v in enumerate(h) if not math.isnan(v))
    tr_all = _tr_ref(h, lo, c)
    pdm, mdm, tr = [], [], []
    for t in range(len(h)):
        if t <= first:
            pdm.append(math.nan)
            mdm.append(math.nan)
            tr.append(math.nan)
            continue
        up, down = h[t] - h[t - 1], lo[t - 1] - lo[t]
        pdm.append(up if up > down and up > 0 else 0.0)
        mdm.append(down if down > up and down > 0 else 0.0)
        tr.append(tr_all[t])
    s_tr = _smooth_ref(tr, 1.0 / n, n)
    s_p = _smooth_ref(pdm, 1.0 / n, n)
    s_m = _smooth_ref(mdm, 1.0 / n, n)
    dx = []
    for a, b, r in zip(s_p, s_m, s_tr, strict=True):
        if math.isnan(r):
            dx.append(math.nan)
            continue
        p, m = 100 * a / r, 100 * b / r
        dx.append(0.0 if p + m == 0 else 100 * abs(p - m) / (p + m))
    return _smooth_ref(dx, 1.0 / n, n)


def _columns(panel: pd.DataFrame) -> dict[str, list[float]]:
    return {c: [float(v) for v in panel[c]] for c in panel.columns}


# ---------------------------------------------------------------- hand-computed cases
def test_sma_hand_case() -> None:
    out = sma(_panel([1.0, 2.0, 3.0, 5.0]), window=3)
    np.testing.assert_allclose(out["A"], [np.nan, np.nan, 2.0, 10 / 3])


def test_ema_hand_case_seeded_with_first_value() -> None:
    # alpha = 2/3: 1, 1 + 2/3*(4-1) = 3, 3 + 2/3*(7-3) = 17/3
    out = ema(_panel([1.0, 4.0, 7.0]), span=2)
    np.testing.assert_allclose(out["A"], [np.nan, 3.0, 17 / 3])


def test_rsi_hand_case_and_flat_prices() -> None:
    # changes +1, -1, +2; alpha 1/2: gains 1, .5, 1.25; losses 0, .5, .25
    out = rsi(_panel([10.0, 11.0, 10.0, 12.0]), window=2)
    np.testing.assert_allclose(out["A"], [np.nan, np.nan, 50.0, 100 * 1.25 / 1.5])
    flat = rsi(_panel([5.0] * 4), window=2)
    np.testing.assert_allclose(flat["A"], [np.nan, np.nan, 50.0, 50.0])
    rising = rsi(_panel([1.0, 2.0, 3.0, 4.0]), window=2)
    assert rising["A"].iloc[-1] == 100.0


def test_macd_fields_and_hand_case() -> None:
    out = macd(_panel([1.0, 4.0, 7.0, 1.0]), fast=1, slow=2, signal=2)
    assert list(out.columns) == [("macd", "A"), ("signal", "A"), ("hist", "A")]
    line = [np.nan, 1.0, 4 / 3, 1 - 23 / 9]
    np.testing.assert_allclose(out["macd"]["A"], line)
    # signal: seeded with 1.0 at row 1, then 1 + 2/3*(4/3 - 1) = 11/9, reported from row 2
    sig2 = 11 / 9
    sig3 = sig2 + 2 / 3 * (line[3] - sig2)
    np.testing.assert_allclose(out["signal"]["A"], [np.nan, np.nan, sig2, sig3])
    np.testing.assert_allclose(out["hist"]["A"], np.subtract(line, [np.nan, np.nan, sig2, sig3]))


def test_bollinger_hand_case() -> None:
    out = bollinger(_panel([1.0, 3.0, 3.0, 3.0]), window=2, k=2.0)
    row = out.xs("A", axis=1, level="symbol").iloc[1]
    assert row.to_dict() == {"mid": 2.0, "upper": 4.0, "lower": 0.0, "pct_b": 0.75}
    # zero-width bands: %b undefined
    assert math.isnan(out["pct_b"]["A"].iloc[3])
    assert out["upper"]["A"].iloc[3] == 3.0


def test_atr_hand_case() -> None:
    bars = _bars([11.0, 12.0, 14.0], [9.0, 10.0, 13.0], [10.0, 11.0, 13.5])
    # TR: 2 (no prev close), max(2, 2, 0)=2, max(1, 3, 2)=3 -> Wilder(1/2): 2, 2, 2.5
    np.testing.assert_allclose(atr(bars, window=2)["A"], [np.nan, 2.0, 2.5])


def test_adx_hand_case_trending_up() -> None:
    bars = _bars([2.0, 3.0, 4.0, 5.0], [1.0, 2.0, 3.0, 4.0], [2.0, 3.0, 4.0, 5.0])
    np.testing.assert_allclose(adx(bars, window=2)["A"], [np.nan, np.nan, np.nan, 100.0])


def test_stochastic_hand_case() -> None:
    bars = _bars([2.0, 4.0, 3.0], [1.0, 2.0, 1.0], [1.5, 3.0, 2.0])
    out = stochastic(bars, k=2, d=2)
    np.testing.assert_allclose(out["k"]["A"], [np.nan, 200 / 3, 100 / 3])
    np.testing.assert_allclose(out["d"]["A"], [np.nan, np.nan, 50.0])


# ------------------------------------------------------- references on bundled data
@pytest.mark.parametrize("span", [5, 20])
def test_ema_matches_loop_on_sample(sample_stocks: pd.DataFrame, span: int) -> None:
    close = sample_stocks.iloc[:, :6]
    out = ema(close, span=span)
    for c, xs in _columns(close).items():
        np.testing.assert_allclose(out[c], _ema_ref(xs, span), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("window", [2, 14])
def test_rsi_matches_loop_on_sample(sample_stocks: pd.DataFrame, window: int) -> None:
    close = sample_stocks.iloc[:, :6]
    out = rsi(close, window=window)
    for c, xs in _columns(close).items():
        np.testing.assert_allclose(out[c], _rsi_ref(xs, window), rtol=1e-9, atol=1e-9)


def test_macd_matches_loop_on_sample(sample_stocks: pd.DataFrame) -> None:
    close = sample_stocks.iloc[:, :4]
    out = macd(close)
    for c, xs in _columns(close).items():
        line = [a - b for a, b in zip(_ema_ref(xs, 12), _ema_ref(xs, 26), strict=True)]
        sig = _ema_ref(line, 9)
        np.testing.assert_allclose(out["macd"][c], line, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(out["signal"][c], sig, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("window", [3, 14])
def test_atr_and_adx_match_loops_on_sample(sample_bars: Bars, window: int) -> None:
    out_atr = atr(sample_bars, window=window)
    out_adx = adx(sample_bars, window=window)
    h, lo, c = (_columns(getattr(sample_bars, f)) for f in ("high", "low", "close"))
    for s in sample_bars.symbols:
        tr = _tr_ref(h[s], lo[s], c[s])
        np.testing.assert_allclose(
            out_atr[s], _smooth_ref(tr, 1.0 / window, window), rtol=1e-10, atol=1e-12
        )
        np.testing.assert_allclose(
            out_adx[s], _adx_ref(h[s], lo[s], c[s], window), rtol=1e-9, atol=1e-9
        )
        first = out_adx[s].first_valid_index()
        assert out_adx[s].index.get_loc(first) == sample_bars.close[s].notna().argmax() + (
            2 * window - 1
        )


def test_bollinger_and_stochastic_against_numpy_windows(sample_bars: Bars) -> None:
    close = sample_bars.close["ORCL"].to_numpy()
    high = sample_bars.high["ORCL"].to_numpy()
    low = sample_bars.low["ORCL"].to_numpy()
    bb = bollinger(sample_bars.close, window=20, k=2.0)
    st = stochastic(sample_bars, k=14, d=3)
    for t in [19, 500, 4000]:
        w = close[t - 19 : t + 1]
        assert bb["mid"]["ORCL"].iloc[t] == pytest.approx(w.mean(), rel=1e-12)
        assert bb["upper"]["ORCL"].iloc[t] == pytest.approx(w.mean() + 2 * w.std(), rel=1e-10)
        ks = [
            100
            * (close[u] - low[u - 13 : u + 1].min())
            / (high[u - 13 : u + 1].max() - low[u - 13 : u + 1].min())
            for u in (t - 2, t - 1, t)
        ]
        if t >= 15:
            assert st["k"]["ORCL"].iloc[t] == pytest.approx(ks[-1], rel=1e-12)
            assert st["d"]["ORCL"].iloc[t] == pytest.approx(sum(ks) / 3, rel=1e-12)


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda c: sma(c, window=0), r"'window' parameter of sma must be an integer >= 1; got 0"),
        (lambda c: ema(c, span=2.5), r"'span' parameter of ema must be an integer"),
        (lambda c: rsi(c, window=True), r"'window' parameter of rsi .* got True"),
        (lambda c: macd(c, fast=26, slow=12), r"'fast' .* smaller than 'slow'; got fast=26"),
        (lambda c: bollinger(c, k=-1.0), r"'k' parameter of bollinger .* got -1.0"),
        (lambda c: bollinger(c, window=1), r"'window' parameter of bollinger .* >= 2"),
    ],
)
def test_parameter_errors(call, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        call(_panel([1.0, 2.0, 3.0]))


def test_ohlc_parameter_errors() -> None:
    bars = _bars([2.0, 3.0], [1.0, 2.0], [1.5, 2.5])
    with pytest.raises(ParameterError, match=r"'window' parameter of atr"):
        atr(bars, window=0)
    with pytest.raises(ParameterError, match=r"'d' parameter of stochastic"):
        stochastic(bars, d=0)
    with pytest.raises(ParameterError, match=r"'window' parameter of adx"):
        adx(bars, window=-3)
