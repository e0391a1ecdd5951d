"""Technical indicators against hand-computed cases, plain-Python loop references and TA-Lib.

The ``seed="sma"`` references (``_talib_*_ref``) follow TA-Lib's C code (ta_RSI.c,
ta_ATR.c, ta_ADX.c) line by line, independently of qresearch's kernel; when the
``talib`` package is installed the same comparisons also run against it.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from qresearch.data.bars import Bars
from qresearch.exceptions import ParameterError
from qresearch.features import adx, atr, bollinger, ema, macd, rsi, sma, stochastic
from qresearch.features._nb import wilder_seeded_nb, wilder_seeded_py
from tests.conftest import make_bars

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


# ------------------------------------------- TA-Lib's rules (seed="sma"), as loops
# Each takes one gap-free series (lists of floats) and returns TA-Lib's output, NaN
# over its lookback, with TA-Lib's arithmetic (sums, prev * (n - 1) + x).
def _talib_rsi_ref(c: list[float], n: int) -> list[float]:
    out = [math.nan] * len(c)
    gain = loss = 0.0
    for t in range(1, n + 1):  # first average: mean of the first n changes
        d = c[t] - c[t - 1]
        if d < 0:
            loss -= d
        else:
            gain += d
    gain, loss = gain / n, loss / n
    out[n] = 100.0 * gain / (gain + loss) if gain + loss != 0 else 50.0
    for t in range(n + 1, len(c)):
        d = c[t] - c[t - 1]
        gain, loss = gain * (n - 1), loss * (n - 1)
        if d < 0:
            loss -= d
        else:
            gain += d
        gain, loss = gain / n, loss / n
        out[t] = 100.0 * gain / (gain + loss) if gain + loss != 0 else 50.0
    return out


def _talib_tr(h: list[float], lo: list[float], c: list[float], t: int) -> float:
    return max(h[t] - lo[t], abs(h[t] - c[t - 1]), abs(lo[t] - c[t - 1]))


def _talib_atr_ref(h: list[float], lo: list[float], c: list[float], n: int) -> list[float]:
    out = [math.nan] * len(c)
    prev = sum(_talib_tr(h, lo, c, t) for t in range(1, n + 1)) / n  # TRANGE from bar 1
    out[n] = prev
    for t in range(n + 1, len(c)):
        prev = (prev * (n - 1) + _talib_tr(h, lo, c, t)) / n
        out[t] = prev
    return out


def _talib_adx_ref(h: list[float], lo: list[float], c: list[float], n: int) -> list[float]:
    out = [math.nan] * len(c)

    def dm(t: int) -> tuple[float, float]:
        up, down = h[t] - h[t - 1], lo[t - 1] - lo[t]
        if down > 0 and up < down:
            return 0.0, down
        if up > 0 and up > down:
            return up, 0.0
        return 0.0, 0.0

    def dx(p_dm: float, m_dm: float, tr: float) -> float:
        p, m = 100.0 * p_dm / tr, 100.0 * m_dm / tr
        return 100.0 * abs(m - p) / (m + p) if m + p != 0 else 0.0

    p_dm = m_dm = tr = 0.0
    t = 0
    for _ in range(n - 1):  # the DM and TR sums start with n - 1 bars
        t += 1
        a, b = dm(t)
        p_dm, m_dm, tr = p_dm + a, m_dm + b, tr + _talib_tr(h, lo, c, t)
    sum_dx = 0.0
    for _ in range(n):  # then one Wilder step per bar; the first n DX are averaged
        t += 1
        a, b = dm(t)
        p_dm = p_dm - p_dm / n + a
        m_dm = m_dm - m_dm / n + b
        tr = tr - tr / n + _talib_tr(h, lo, c, t)
        sum_dx += dx(p_dm, m_dm, tr)
    adx_prev = sum_dx / n
    out[t] = adx_prev
    while t + 1 < len(c):
        t += 1
        a, b = dm(t)
        p_dm = p_dm - p_dm / n + a
        m_dm = m_dm - m_dm / n + b
        tr = tr - tr / n + _talib_tr(h, lo, c, t)
        adx_prev = (adx_prev * (n - 1) + dx(p_dm, m_dm, tr)) / n
        out[t] = adx_prev
    return out


def _listed(bars: Bars, symbol: str) -> tuple[np.ndarray, list[list[float]]]:
    # Rows where the symbol trades (the bundled data has leading NaN only) and its
    # gap-free high, low and close there.
    mask = bars.close[symbol].notna().to_numpy()
    return mask, [
        getattr(bars, f)[symbol].to_numpy()[mask].tolist() for f in ("high", "low", "close")
    ]


def _assert_same(ours: np.ndarray, ref: list[float] | np.ndarray, rtol: float, atol: float) -> None:
    # Same NaN positions (same warm-up) and values to the tolerance.
    ref = np.asarray(ref, dtype=np.float64)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    np.testing.assert_allclose(ours, ref, rtol=rtol, atol=atol)


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


# --------------------------------------------------------- seed="sma" (TA-Lib's rules)
def test_reference_loops_reproduce_published_talib_values() -> None:
    # The reference loops above against hand arithmetic of TA-Lib's rules:
    # RSI(3) of 10, 11, 10, 12, 11: gains 1, 0, 2 -> 1; losses 0, 1, 0 -> 1/3; RSI 75;
    # then gain (2 + 0) / 3, loss (2/3 + 1) / 3 -> 100 * (2/3) / (2/3 + 5/9) = 600/11.
    np.testing.assert_allclose(
        _talib_rsi_ref([10.0, 11.0, 10.0, 12.0, 11.0], 3), [np.nan] * 3 + [75.0, 600 / 11]
    )
    # ATR(2): TR from bar 1 = 2, 3, 1 -> mean 2.5 at bar 2, then (2.5 + 1) / 2.
    h, lo, c = [11.0, 12.0, 14.0, 14.0], [9.0, 10.0, 13.0, 13.0], [10.0, 11.0, 13.5, 13.5]
    np.testing.assert_allclose(_talib_atr_ref(h, lo, c, 2), [np.nan, np.nan, 2.5, 1.75])
    # ADX(2) of a steady uptrend: only +DM, so every DX and ADX is 100.
    up = [1.0, 2.0, 3.0, 4.0, 5.0]
    np.testing.assert_allclose(
        _talib_adx_ref([u + 1 for u in up], up, [u + 1 for u in up], 2),
        [np.nan] * 3 + [100.0, 100.0],
    )


@pytest.mark.parametrize("window", [2, 5, 14])
def test_seed_sma_equals_talib_rules_on_sample(sample_bars: Bars, window: int) -> None:
    out_rsi = rsi(sample_bars.close, window=window, seed="sma")
    out_atr = atr(sample_bars, window=window, seed="sma")
    out_adx = adx(sample_bars, window=window, seed="sma")
    for s in sample_bars.symbols:
        mask, (h, lo, c) = _listed(sample_bars, s)
        for out in (out_rsi, out_atr, out_adx):  # nothing before the listing
            assert np.isnan(out[s].to_numpy()[~mask]).all()
        _assert_same(out_rsi[s].to_numpy()[mask], _talib_rsi_ref(c, window), 1e-10, 1e-10)
        _assert_same(out_atr[s].to_numpy()[mask], _talib_atr_ref(h, lo, c, window), 1e-10, 0.0)
        _assert_same(out_adx[s].to_numpy()[mask], _talib_adx_ref(h, lo, c, window), 1e-10, 1e-10)


@pytest.mark.parametrize("window", [3, 14])
def test_seed_sma_equals_talib_itself(sample_bars: Bars, window: int) -> None:
    talib = pytest.importorskip("talib")
    out_rsi = rsi(sample_bars.close, window=window, seed="sma")
    out_atr = atr(sample_bars, window=window, seed="sma")
    out_adx = adx(sample_bars, window=window, seed="sma")
    for s in sample_bars.symbols:
        mask, (h, lo, c) = _listed(sample_bars, s)
        h_, lo_, c_ = (np.asarray(v) for v in (h, lo, c))
        _assert_same(out_rsi[s].to_numpy()[mask], talib.RSI(c_, window), 1e-10, 1e-10)
        _assert_same(out_atr[s].to_numpy()[mask], talib.ATR(h_, lo_, c_, window), 1e-10, 0.0)
        _assert_same(out_adx[s].to_numpy()[mask], talib.ADX(h_, lo_, c_, window), 1e-10, 1e-10)


@pytest.mark.parametrize(
    ("rows", "bound_rsi", "bound_atr", "bound_adx"),
    [(10, 5.6e-3, 6.0e-4, 5.8e-3), (20, 4.1e-8, 7.5e-9, 5.9e-7), (30, 1e-10, 1e-10, 1e-10)],
)
def test_default_seed_agreement_with_talib_is_as_documented(
    sample_bars: Bars, rows: int, bound_rsi: float, bound_atr: float, bound_adx: float
) -> None:
    # The figures stated in the module docstring (window 14, from row rows * window on).
    n = 14
    out_rsi, out_atr, out_adx = rsi(sample_bars.close, n), atr(sample_bars, n), adx(sample_bars, n)
    worst = {"rsi": 0.0, "atr": 0.0, "adx": 0.0}
    for s in sample_bars.symbols:
        mask, (h, lo, c) = _listed(sample_bars, s)
        start = rows * n
        pairs = {
            "rsi": (out_rsi[s].to_numpy()[mask], np.asarray(_talib_rsi_ref(c, n))),
            "atr": (out_atr[s].to_numpy()[mask], np.asarray(_talib_atr_ref(h, lo, c, n))),
            "adx": (out_adx[s].to_numpy()[mask], np.asarray(_talib_adx_ref(h, lo, c, n))),
        }
        for name, (ours, ref) in pairs.items():
            diff = np.abs(ours[start:] - ref[start:])
            if name == "atr":
                diff = diff / ref[start:]
            worst[name] = max(worst[name], float(diff.max()))
    assert worst["rsi"] <= bound_rsi and worst["atr"] <= bound_atr
    assert worst["adx"] <= bound_adx


def test_seed_sma_hand_cases() -> None:
    close = pd.DataFrame(
        {"A": [10.0, 11.0, 10.0, 12.0, 11.0]},
        index=pd.date_range("2020-01-01", periods=5, name="timestamp"),
    )
    np.testing.assert_allclose(
        rsi(close, window=3, seed="sma")["A"], [np.nan] * 3 + [75.0, 600 / 11]
    )
    np.testing.assert_allclose(
        rsi(_panel([5.0] * 4), window=2, seed="sma")["A"], [np.nan] * 2 + [50.0] * 2
    )
    bars = _bars([11.0, 12.0, 14.0, 14.0], [9.0, 10.0, 13.0, 13.0], [10.0, 11.0, 13.5, 13.5])
    np.testing.assert_allclose(atr(bars, window=2, seed="sma")["A"], [np.nan, np.nan, 2.5, 1.75])
    up = _bars([2.0, 3.0, 4.0, 5.0, 6.0], [1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 3.0, 4.0, 5.0, 6.0])
    np.testing.assert_allclose(
        adx(up, window=2, seed="sma")["A"], [np.nan, np.nan, np.nan, 100.0, 100.0]
    )


def test_seed_sma_skips_a_halt() -> None:
    # A missing close inside the series: no change on the halt row nor the row after;
    # the averages hold there and resume with the next change, with no extra decay.
    close = _panel([10.0, 11.0, 10.0, np.nan, 12.0, 13.0])
    out = rsi(close, window=2, seed="sma")["A"].tolist()
    # changes: +1, -1, NaN, NaN, +1 -> gains .5 (seed), hold, hold, (.5 + 1) / 2 = .75;
    # losses .5, hold, hold, .25
    np.testing.assert_allclose(out, [np.nan, np.nan, 50.0, 50.0, 50.0, 75.0])


@pytest.mark.parametrize("seed_count", [0, 1, 3, 4])
def test_wilder_seeded_numba_equals_python_twin(seed_count: int) -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(60, 4))
    x[:9, 1] = np.nan  # late listing
    x[[20, 21, 40], 2] = np.nan  # halts
    x[:, 3] = np.nan  # never listed
    py = wilder_seeded_py(x, 4, seed_count, np.empty_like(x))
    nb = wilder_seeded_nb(x, 4, seed_count, np.empty_like(x))
    np.testing.assert_array_equal(py, nb)
    assert np.isnan(py[:, 3]).all()
    # The halt rows repeat the last average; the first value appears after seed_count values.
    np.testing.assert_array_equal(py[[20, 21], 2], py[[19, 19], 2])
    assert np.isnan(py[: 9 + max(seed_count, 1) - 1, 1]).all()
    assert not np.isnan(py[9 + max(seed_count, 1) - 1, 1])


def test_wilder_seeded_kernel_hand_case() -> None:
    x = np.array([[2.0], [4.0], [np.nan], [6.0], [1.0]])
    # seed = (2 + 4) / 2 = 3, halt holds 3, then (3 + 6) / 2, then (4.5 + 1) / 2
    out = wilder_seeded_py(x, 2, 2, np.empty_like(x))[:, 0]
    np.testing.assert_allclose(out, [np.nan, 3.0, 3.0, 4.5, 2.75])
    # ADX-style seed: the sum of the first n - 1 = 1 values, divided by n
    out = wilder_seeded_py(x, 2, 1, np.empty_like(x))[:, 0]
    np.testing.assert_allclose(out, [1.0, 2.5, 2.5, 4.25, 2.625])


@pytest.mark.parametrize("name", ["rsi", "atr", "adx"])
def test_seed_sma_has_no_look_ahead(sample_bars: Bars, name: str) -> None:
    # As tests/test_leakage.py, for the option the feature registry does not call.
    def run(bars: Bars) -> pd.DataFrame:
        if name == "rsi":
            return rsi(bars.close, window=14, seed="sma")
        return {"atr": atr, "adx": adx}[name](bars, window=14, seed="sma")

    for bars, cuts in (
        (sample_bars, ["1996-06-28", "2003-06-30", "2014-12-30"]),
        (make_bars(260, 6, seed=3, ragged=True), ["2015-03-02", "2015-06-01", "2015-10-15"]),
    ):
        full = run(bars)
        for cut in cuts:
            part = run(Bars(**{f: getattr(bars, f).loc[:cut] for f in bars.fields}))
            assert part.notna().to_numpy().any()
            pd.testing.assert_frame_equal(part, full.loc[:cut], check_exact=True)


@pytest.mark.parametrize("seed", ["SMA", "wilder", None, 1])
def test_seed_must_be_first_or_sma(seed) -> None:
    bars = _bars([2.0, 3.0], [1.0, 2.0], [1.5, 2.5])
    with pytest.raises(
        ParameterError, match=r"'seed' parameter of rsi must be one of \['first', 'sma'\]"
    ):
        rsi(bars.close, seed=seed)
    with pytest.raises(ParameterError, match=r"'seed' parameter of atr .* got"):
        atr(bars, seed=seed)
    with pytest.raises(ParameterError, match=r"'seed' parameter of adx .* got"):
        adx(bars, seed=seed)


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
