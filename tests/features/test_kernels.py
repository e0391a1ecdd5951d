"""Numba kernels of the features against their former pandas code, their twins and TA-Lib.

``_old_*`` below are the feature implementations as they were before the kernels
(pandas expressions, copied verbatim); the kernels must give the same values to
1e-12 on messy random panels (late listings, halts, delistings, flat stretches, an
all-NaN column, tiny and huge price scales, an odd number of columns). Measured:
bit-identical (max difference 0) with pandas 3.1.

TA-Lib (``talib``, a test/benchmark-only dependency) is compared where the
definitions agree; the comment above the TA-Lib tests says where and why they differ.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

import qresearch.features as qf
from qresearch.data.bars import Bars
from qresearch.exceptions import ParameterError
from qresearch.features import _nb, _nb_rows, _nb_windows, fracdiff
from qresearch.features._common import ewm_weights

NAN = np.nan


# ----------------------------------------------------------- former implementations
def _stack(parts: dict[str, pd.DataFrame], like: pd.DataFrame) -> pd.DataFrame:
    out = pd.concat(parts, axis=1, names=["field", like.columns.name or "symbol"])
    out.index = like.index
    return out


def _old_wilder(x: pd.DataFrame, window: int) -> pd.DataFrame:
    return x.ewm(alpha=1.0 / window, adjust=False, min_periods=window).mean()


def _old_wilder_seeded(x: np.ndarray, window: int, seed_count: int) -> np.ndarray:
    # The former kernel (wilder_seeded_py before the window kernels), verbatim.
    out = np.empty_like(x)
    n_rows, n_cols = x.shape
    for c in range(n_cols):
        total = 0.0
        seen = 0
        avg = math.nan
        for t in range(n_rows):
            v = x[t, c]
            if math.isnan(v):
                out[t, c] = avg
                continue
            if seen < seed_count:
                total += v
                seen += 1
                if seen == seed_count:
                    avg = total / window
                out[t, c] = avg
                continue
            if seen == 0:
                avg = 0.0
            avg = (avg * (window - 1) + v) / window
            seen += 1
            out[t, c] = avg
    return out


def _old_wilder_sma(x: pd.DataFrame, window: int, seed_count: int) -> pd.DataFrame:
    values = np.ascontiguousarray(x.to_numpy(dtype=np.float64))
    out = _old_wilder_seeded(values, window, seed_count)
    return pd.DataFrame(out, index=x.index, columns=x.columns)


def _old_ema(close: pd.DataFrame, span: int) -> pd.DataFrame:
    return close.astype("float64").ewm(span=span, adjust=False, min_periods=span).mean()


def _old_rsi(close: pd.DataFrame, window: int, seed: str = "first") -> pd.DataFrame:
    prices = close.astype("float64")
    change = prices - prices.shift(1)
    gains, losses = change.clip(lower=0.0), (-change).clip(lower=0.0)
    if seed == "sma":
        gain = _old_wilder_sma(gains, window, window)
        loss = _old_wilder_sma(losses, window, window)
    else:
        gain = _old_wilder(gains, window)
        loss = _old_wilder(losses, window)
    total = gain + loss
    out = 100.0 * gain / total.where(total > 0.0)
    return out.mask((total == 0.0) & gain.notna(), 50.0)


def _old_macd(close: pd.DataFrame, fast: int, slow: int, signal: int) -> pd.DataFrame:
    prices = close.astype("float64")
    line = _old_ema(prices, fast) - _old_ema(prices, slow)
    sig = line.ewm(span=signal, adjust=False, min_periods=signal).mean()
    return _stack({"macd": line, "signal": sig, "hist": line - sig}, prices)


def _old_bollinger(close: pd.DataFrame, window: int, k: float) -> pd.DataFrame:
    prices = close.astype("float64")
    roll = prices.rolling(window, min_periods=window)
    mid = roll.mean()
    std = roll.std(ddof=0)
    upper = mid + k * std
    lower = mid - k * std
    width = upper - lower
    pct_b = (prices - lower) / width.where(width > 0.0)
    return _stack({"mid": mid, "upper": upper, "lower": lower, "pct_b": pct_b}, prices)


def _old_true_range(bars: Bars) -> pd.DataFrame:
    high = bars.high.astype("float64")
    low = bars.low.astype("float64")
    prev = bars.close.astype("float64").shift(1)
    hl = (high - low).to_numpy()
    hc = (high - prev).abs().to_numpy()
    lc = (low - prev).abs().to_numpy()
    tr = np.where(np.isnan(hl), np.nan, np.fmax(hl, np.fmax(hc, lc)))
    return pd.DataFrame(tr, index=bars.close.index, columns=bars.close.columns)


def _old_atr(bars: Bars, window: int, seed: str = "first") -> pd.DataFrame:
    tr = _old_true_range(bars)
    if seed == "sma":
        has_prev = bars.close.astype("float64").shift(1).notna()
        return _old_wilder_sma(tr.where(has_prev), window, window)
    return _old_wilder(tr, window)


def _old_adx(bars: Bars, window: int, seed: str = "first") -> pd.DataFrame:
    high = bars.high.astype("float64")
    low = bars.low.astype("float64")
    up = high - high.shift(1)
    down = low.shift(1) - low
    plus_dm = up.where((up > down) & (up > 0.0), 0.0).where(up.notna() & down.notna())
    minus_dm = down.where((down > up) & (down > 0.0), 0.0).where(up.notna() & down.notna())
    tr = _old_true_range(bars).where(plus_dm.notna())
    if seed == "sma":
        tr_s = _old_wilder_sma(tr, window, window - 1)
        plus_s = _old_wilder_sma(plus_dm, window, window - 1)
        minus_s = _old_wilder_sma(minus_dm, window, window - 1)
    else:
        tr_s = _old_wilder(tr, window)
        plus_s = _old_wilder(plus_dm, window)
        minus_s = _old_wilder(minus_dm, window)
    tr_s = tr_s.where(tr_s > 0.0)
    plus_di = 100.0 * plus_s / tr_s
    minus_di = 100.0 * minus_s / tr_s
    total = plus_di + minus_di
    dx = (100.0 * (plus_di - minus_di).abs() / total.where(total > 0.0)).mask(total == 0.0, 0.0)
    if seed == "sma":
        ready = plus_dm.notna() & (plus_dm.notna().cumsum() >= window)
        return _old_wilder_sma(dx.where(ready), window, window)
    return _old_wilder(dx, window)


def _old_stochastic(bars: Bars, k: int, d: int) -> pd.DataFrame:
    close = bars.close.astype("float64")
    highest = bars.high.astype("float64").rolling(k, min_periods=k).max()
    lowest = bars.low.astype("float64").rolling(k, min_periods=k).min()
    rng = highest - lowest
    pct_k = 100.0 * (close - lowest) / rng.where(rng > 0.0)
    pct_d = pct_k.rolling(d, min_periods=d).mean()
    return _stack({"k": pct_k, "d": pct_d}, close)


def _old_rolling_volatility(
    close: pd.DataFrame, window: int, periods_per_year: float | None
) -> pd.DataFrame:
    prices = close.astype("float64")
    vol = (prices / prices.shift(1) - 1.0).rolling(window, min_periods=window).std()
    if periods_per_year is not None:
        vol = vol * math.sqrt(periods_per_year)
    return vol


def _old_rolling_zscore(x: pd.DataFrame, window: int) -> pd.DataFrame:
    values = x.astype("float64")
    roll = values.rolling(window, min_periods=window)
    std = roll.std()
    return (values - roll.mean()) / std.where(std > 0.0)


def _old_rank(x: pd.DataFrame, pct: bool) -> pd.DataFrame:
    return x.astype("float64").rank(axis=1, pct=pct, method="average", na_option="keep")


def _old_ffd_loop(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    # The former direct kernel (frac_diff_ffd_py before the blocked rewrite), verbatim.
    out = np.empty_like(x)
    n_rows, n_cols = x.shape
    width = weights.shape[0]
    for c in range(n_cols):
        for t in range(n_rows):
            if t < width - 1:
                out[t, c] = math.nan
                continue
            acc = 0.0
            for k in range(width - 1, -1, -1):
                v = x[t - k, c]
                if math.isnan(v):
                    acc = math.nan
                    break
                acc += weights[k] * v
            out[t, c] = acc
    return out


# ---------------------------------------------------------------- messy panels
def _messy_bars(n_rows: int = 320, seed: int = 0) -> Bars:
    """Nine symbols, each with one awkward feature (odd count: the pair kernels)."""
    rng = np.random.default_rng(seed)
    n_cols = 9
    idx = pd.bdate_range("2016-01-04", periods=n_rows, name="timestamp")
    cols = pd.Index([f"S{i}" for i in range(n_cols)], name="symbol")
    close = 50.0 * np.exp(np.cumsum(rng.normal(0.0003, 0.02, (n_rows, n_cols)), axis=0))
    close[:, 6] *= 1e-4  # tiny prices
    close[:, 7] *= 1e5  # huge prices
    close[:60, 1] = NAN  # late listing
    close[250:, 2] = NAN  # delisted
    close[[100, 101, 102, 103, 170, 230], 3] = NAN  # halts
    close[120:160, 4] = close[119, 4]  # flat stretch: zero changes, constant windows
    close[:, 5] = NAN  # never listed
    close[[30, 31, 200], 8] = NAN
    spread = np.abs(rng.normal(0, 0.01, (n_rows, n_cols)))
    high = close * (1 + spread)
    low = close * (1 - np.abs(rng.normal(0, 0.01, (n_rows, n_cols))))
    high[120:160, 4] = close[120:160, 4]  # zero ranges
    low[120:160, 4] = close[120:160, 4]
    high[[40, 41, 210], 8] = NAN  # a field missing on its own
    low[[90], 8] = NAN
    open_ = np.where(np.isnan(close), NAN, (high + low) / 2)

    def frame(a: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(a, index=idx, columns=cols)

    volume = frame(np.where(np.isnan(close), NAN, 1e5))
    return Bars(
        open=frame(open_), high=frame(high), low=frame(low), close=frame(close), volume=volume
    )


def _messy_x(n_rows: int = 320, seed: int = 1) -> pd.DataFrame:
    """A generic messy panel for rolling_zscore and the rank (includes runs of ties)."""
    bars = _messy_bars(n_rows, seed)
    x = bars.close.copy()
    x["S0"] = np.round(x["S0"].to_numpy(), 0)  # repeated values
    x["S6"] = bars.close["S6"] / bars.close["S6"].shift(1) - 1.0  # returns
    return x


MESSY = [_messy_bars(seed=s) for s in (0, 1)]

# name -> (new function, old function, kwargs)
CASES: list[tuple[str, Callable[..., Any], Callable[..., Any], dict[str, Any]]] = [
    *[("ema", qf.ema, _old_ema, {"span": s}) for s in (2, 3, 20)],
    *[("rsi", qf.rsi, _old_rsi, {"window": w}) for w in (2, 3, 14)],
    *[("rsi", qf.rsi, _old_rsi, {"window": w, "seed": "sma"}) for w in (2, 14)],
    ("macd", qf.macd, _old_macd, {"fast": 12, "slow": 26, "signal": 9}),
    ("macd", qf.macd, _old_macd, {"fast": 2, "slow": 3, "signal": 3}),
    *[("bollinger", qf.bollinger, _old_bollinger, {"window": w, "k": 2.0}) for w in (2, 20)],
    *[("atr", qf.atr, _old_atr, {"window": w}) for w in (1, 2, 14)],
    ("atr", qf.atr, _old_atr, {"window": 14, "seed": "sma"}),
    *[("adx", qf.adx, _old_adx, {"window": w}) for w in (1, 2, 14)],
    *[("adx", qf.adx, _old_adx, {"window": w, "seed": "sma"}) for w in (2, 14)],
    *[
        ("stochastic", qf.stochastic, _old_stochastic, {"k": k, "d": d})
        for k, d in ((14, 3), (1, 1))
    ],
    *[
        ("rolling_volatility", qf.rolling_volatility, _old_rolling_volatility, {"window": w})
        for w in (2, 20)
    ],
    (
        "rolling_volatility",
        qf.rolling_volatility,
        _old_rolling_volatility,
        {"window": 20, "periods_per_year": 252},
    ),
    *[("rolling_zscore", qf.rolling_zscore, _old_rolling_zscore, {"window": w}) for w in (2, 20)],
]
OHLC = {"atr", "adx", "stochastic"}


def _call(fn: Callable[..., Any], name: str, bars: Bars, kwargs: dict[str, Any]) -> pd.DataFrame:
    if name in OHLC:
        return fn(bars, **kwargs)
    if name == "rolling_volatility":
        return fn(bars.close, kwargs["window"], kwargs.get("periods_per_year"))
    if name == "rolling_zscore":
        return fn(_messy_x(len(bars.index)), **kwargs)
    return fn(bars.close, **kwargs)


def _max_diff(new: pd.DataFrame, old: pd.DataFrame) -> tuple[float, float]:
    a, b = new.to_numpy(), old.to_numpy()
    both = ~np.isnan(a) & ~np.isnan(b)
    diff = np.abs(a[both] - b[both])
    rel = diff / np.maximum(np.abs(b[both]), 1e-300)
    return float(diff.max(initial=0.0)), float(rel.max(initial=0.0))


# ------------------------------------------------------------- old vs new (1e-12)
@pytest.mark.parametrize(
    ("name", "new", "old", "kwargs"), CASES, ids=[f"{c[0]}-{c[3]}" for c in CASES]
)
@pytest.mark.parametrize("bars", MESSY, ids=["seed0", "seed1"])
def test_kernel_equals_former_pandas_code(
    bars: Bars, name: str, new: Callable[..., Any], old: Callable[..., Any], kwargs: dict[str, Any]
) -> None:
    got = _call(new, name, bars, kwargs)
    want = _call(old, name, bars, kwargs)
    # Same index, columns (levels included), dtypes and NaN positions; values to 1e-12.
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12, atol=1e-12)
    if isinstance(want.columns, pd.MultiIndex):
        for lg, lw in zip(got.columns.levels, want.columns.levels, strict=True):
            pd.testing.assert_index_equal(lg, lw)
    np.testing.assert_array_equal(got.isna().to_numpy(), want.isna().to_numpy())
    abs_diff, rel_diff = _max_diff(got, want)
    assert abs_diff <= 1e-12 * max(1.0, float(np.nanmax(np.abs(want.to_numpy()), initial=1.0)))
    assert rel_diff <= 1e-12


def test_messy_panels_exercise_the_awkward_cases() -> None:
    # The comparisons above would prove little if the panels had no gaps or flat runs.
    bars = MESSY[0]
    close = bars.close
    assert close["S5"].isna().all() and close["S1"].iloc[:60].isna().all()
    assert close["S2"].iloc[250:].isna().all() and close["S3"].iloc[100:104].isna().all()
    assert (qf.stochastic(bars, 14, 3)["k"]["S4"].iloc[140:160].isna()).all()  # zero range
    flat_rsi = qf.rsi(close, 14)["S4"].iloc[125:160].to_numpy()  # zero gains and losses
    assert np.ptp(flat_rsi) < 1e-9 and flat_rsi[0] != 50.0
    # constant windows: pandas' std is 0 or a round-off residue, the z-score 0 or NaN
    assert (np.nan_to_num(qf.rolling_zscore(close, 20)["S4"].iloc[140:160]) == 0.0).all()
    assert close.shape[1] % 2 == 1


@pytest.mark.parametrize("pct", [True, False])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rank_equals_pandas_rank(pct: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2020-01-01", periods=120, name="timestamp")
    x = rng.integers(-3, 4, (120, 41)).astype(float)  # many ties
    x[rng.random(x.shape) < 0.2] = NAN
    x[5] = NAN  # an empty row
    x[6, :7] = np.inf
    x[6, 7:14] = -np.inf
    x[7, ::2], x[7, 1::2] = -0.0, 0.0  # -0.0 ties with 0.0
    x[8, 1:] = NAN  # one value
    x[9:60] = rng.normal(size=(51, 41))  # no ties
    frame = pd.DataFrame(x, index=idx, columns=pd.Index([f"S{i}" for i in range(41)], name="s"))
    got = qf.cross_sectional_rank(frame, pct=pct)
    pd.testing.assert_frame_equal(got, _old_rank(frame, pct), check_exact=True)
    one = frame[["S0"]]
    pd.testing.assert_frame_equal(qf.cross_sectional_rank(one, pct=pct), _old_rank(one, pct))


def test_rank_in_chunks_of_rows_equals_pandas(monkeypatch: pytest.MonkeyPatch) -> None:
    # Chunks of 2 rows (41 columns, 100 cells): boundaries between tie-free rows, rows
    # with ties, empty and partly missing rows; the last chunk is a single row.
    from qresearch.features import cross_section

    monkeypatch.setattr(cross_section, "_RANK_CHUNK_CELLS", 100)
    rng = np.random.default_rng(8)
    idx = pd.bdate_range("2020-01-01", periods=31, name="timestamp")
    x = rng.normal(size=(31, 41))
    x[::3] = np.round(x[::3])  # ties every third row
    x[rng.random(x.shape) < 0.1] = NAN
    x[4] = NAN
    frame = pd.DataFrame(x, index=idx, columns=pd.Index([f"S{i}" for i in range(41)], name="s"))
    for pct in (True, False):
        got = qf.cross_sectional_rank(frame, pct=pct)
        pd.testing.assert_frame_equal(got, _old_rank(frame, pct), check_exact=True)


def test_rank_of_integer_panel_and_messy_panel() -> None:
    x = _messy_x()
    pd.testing.assert_frame_equal(qf.cross_sectional_rank(x), _old_rank(x, True), check_exact=True)
    ints = (x.fillna(0) * 10).astype("int64")
    pd.testing.assert_frame_equal(
        qf.cross_sectional_rank(ints, pct=False), _old_rank(ints, False), check_exact=True
    )


# ------------------------------------------------------------ primitives vs pandas
def _primitive_panel(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = 100.0 + rng.normal(size=(400, 7))
    x[rng.random(x.shape) < 0.05] = NAN
    x[:30, 1] = NAN
    x[100:130, 2] = 3.1  # constant windows
    x[200:260, 3] = 0.1
    x[300:320, 4], x[320:340, 4] = -0.0, 0.0
    x[250:, 5] = NAN
    x[:, 6] = rng.normal(size=400) * np.exp(rng.normal(size=400) * 5)  # wild scales
    return x


@pytest.mark.parametrize("window", [1, 2, 3, 20])
@pytest.mark.parametrize("seed", [0, 1])
def test_rolling_primitives_equal_pandas_bit_for_bit(window: int, seed: int) -> None:
    x = _primitive_panel(seed)
    roll = pd.DataFrame(x).rolling(window, min_periods=window)
    want = {
        "mean": roll.mean().to_numpy(),
        "var0": roll.var(ddof=0).to_numpy(),
        "var1": roll.var(ddof=1).to_numpy(),
        "max": roll.max().to_numpy(),
        "min": roll.min().to_numpy(),
    }
    for c in range(x.shape[1]):
        col = x[:, c]
        got = {
            "mean": _nb_windows.roll_mean_1d_py(col, window, np.empty(400)),
            "var0": _nb_windows.roll_var_1d_py(col, window, 0, np.empty(400)),
            "var1": _nb_windows.roll_var_1d_py(col, window, 1, np.empty(400)),
            "max": _nb_windows.roll_extreme_1d_py(col, window, True, *np.empty((2, 400))),
            "min": _nb_windows.roll_extreme_1d_py(col, window, False, *np.empty((2, 400))),
        }
        for key in want:
            np.testing.assert_array_equal(got[key], want[key][:, c], err_msg=f"{key} col {c}")


@pytest.mark.parametrize("span", [2, 3, 5, 26])
def test_ewm_primitive_equals_pandas_bit_for_bit(span: int) -> None:
    x = _primitive_panel(2)
    x[np.random.default_rng(3).random(x.shape) < 0.2] = 0.0  # equal consecutive values
    for kwargs in ({"span": span}, {"alpha": 1.0 / span}):
        alpha, com_is_one = ewm_weights(**kwargs)  # type: ignore[arg-type]
        want = pd.DataFrame(x).ewm(**kwargs, adjust=False, min_periods=span).mean().to_numpy()
        for c in range(x.shape[1]):
            got = _nb_windows.ewm_mean_1d_py(x[:, c], alpha, com_is_one, span, np.empty(400))
            np.testing.assert_array_equal(got, want[:, c])


# ------------------------------------------------- row blocks (vectorized) vs pandas
def _block_panel(n_rows: int, n_cols: int, seed: int, positive: bool) -> np.ndarray:
    """Columns for the row-block kernels: several blocks, the last one partial.

    Random walks next to every awkward case of _primitive_panel (gaps, late starts,
    early ends, flat stretches that make pandas recompute a variance, signed zeros,
    wild scales); ``positive`` keeps prices finite and positive for returns.
    """
    rng = np.random.default_rng(seed)
    x = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, (n_rows, n_cols)), axis=0))
    x[:40, 3] = NAN
    x[n_rows // 2 :, 4] = NAN
    x[60:64, 5] = NAN
    x[:, 6] = NAN
    x[::7, 7] = NAN
    x[50:90, 8] = 42.0  # flat: the variance is recomputed (the column is flagged)
    x[:, 9] = np.round(x[:, 9])  # repeated values
    x[10, 10] = 1e12
    x[:, 11] = 1e-3 * np.round(x[:, 11] * 1e3)
    x[:, 12] = np.exp(rng.normal(size=n_rows) * 5)  # wild scales
    x[:, 13] = 1e9 + rng.normal(size=n_rows) * 1e-3  # tiny variance around a huge mean
    if not positive:
        x[:, 14] = rng.normal(size=n_rows) * np.exp(rng.normal(size=n_rows) * 5)
        x[30:50, 15], x[50:70, 15] = -0.0, 0.0
        x[:, 16] = -x[:, 16]
    x[:, 17] = np.where(rng.random(n_rows) < 0.3, NAN, x[:, 17])
    return np.asfortranarray(x)


def _pandas_rolling(x: np.ndarray, window: int) -> dict[str, np.ndarray]:
    df = pd.DataFrame(x)
    roll = df.rolling(window, min_periods=window)
    std1, mid, std0 = roll.std(), roll.mean(), roll.std(ddof=0)
    upper, lower = mid + 2.0 * std0, mid - 2.0 * std0
    band = upper - lower
    rets = (df / df.shift(1) - 1).rolling(window, min_periods=window).std()
    return {
        "zscore": ((df - mid) / std1.where(std1 > 0)).to_numpy(),
        "mid": mid.to_numpy(),
        "upper": upper.to_numpy(),
        "lower": lower.to_numpy(),
        "pct_b": ((df - lower) / band.where(band > 0)).to_numpy(),
        "volatility": rets.to_numpy(),
    }


def _row_block_kernels(x: np.ndarray, window: int, kernels: Any) -> dict[str, np.ndarray]:
    def out() -> np.ndarray:
        return np.full(x.shape, -1.0, order="F")

    got = {"zscore": out(), "mid": out(), "upper": out(), "lower": out(), "pct_b": out()}
    kernels["rolling_zscore"](x, window, got["zscore"])
    kernels["bollinger"](x, window, 2.0, got["mid"], got["upper"], got["lower"], got["pct_b"])
    got["volatility"] = out()
    bad = kernels["rolling_volatility"](x, window, math.nan, got["volatility"])
    present = x[~np.isnan(x)]
    assert (bad > 0) == bool((present <= 0).any())  # a price that is not positive is refused
    return got


@pytest.mark.parametrize("window", [2, 3, 20])
@pytest.mark.parametrize("positive", [True, False])
def test_row_block_kernels_equal_pandas_bit_for_bit(window: int, positive: bool) -> None:
    # 77 columns: blocks of 32, 32 and 13; the flagged columns take the scalar path.
    x = _block_panel(300, 77, seed=window, positive=positive)
    want = _pandas_rolling(x, window)
    got = _row_block_kernels(x, window, {k: _nb.kernel(k) for k in _nb_rows_kernels()})
    for key in want:
        if key == "volatility" and not positive:
            continue
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)


def test_row_block_python_twins_equal_pandas_and_both_paths_run() -> None:
    x = _block_panel(90, 40, seed=4, positive=True)  # blocks of 32 and 8
    twins = {k: getattr(_nb_windows, f"{k}_py") for k in _nb_rows_kernels()}
    got = _row_block_kernels(x, 5, twins)
    want = _pandas_rolling(x, 5)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    # The block kernel flags the columns where pandas recomputes a variance (a window
    # emptied by trailing NaN, a flat stretch, a 1e12 spike leaving it), not the others; twin and compiled kernel agree, and unflagged columns are pandas'.
    from numba import njit

    xb = np.ascontiguousarray(x[:, :32])
    roll = pd.DataFrame(xb).rolling(20, min_periods=20)
    runs = {}
    for name, fn in (
        ("py", _nb_rows.roll_mean_var_rows_py),
        ("nb", njit(error_model="numpy")(_nb_rows.roll_mean_var_rows_py)),
    ):
        mean_b, var_b, flags = np.empty((90, 32)), np.empty((90, 32)), np.zeros(32)
        fn(xb, 20, 1, mean_b, var_b, flags)
        runs[name] = (mean_b, var_b, flags)
        np.testing.assert_array_equal(mean_b, roll.mean().to_numpy())
        kept = flags == 0.0
        np.testing.assert_array_equal(var_b[:, kept], roll.var().to_numpy()[:, kept])
    for a, b in zip(runs["py"], runs["nb"], strict=True):
        np.testing.assert_array_equal(a, b)
    assert np.flatnonzero(runs["py"][2]).tolist() == [4, 8, 10]


def _nb_rows_kernels() -> tuple[str, ...]:
    return ("rolling_zscore", "bollinger", "rolling_volatility")


# ------------------------------------------------------------------ twins equal
def _twin_args(name: str, rng: np.random.Generator) -> tuple[Any, ...]:
    bars = _messy_bars(seed=int(rng.integers(0, 100)))
    h, lo, c = (np.asfortranarray(getattr(bars, f).to_numpy()) for f in ("high", "low", "close"))
    n = c.shape[1]

    def out(k: int = 1) -> np.ndarray:
        return np.full((c.shape[0], k * n), -1.0, order="F")

    a14, one14 = ewm_weights(alpha=1 / 14)
    if name == "ema":
        return (c, *ewm_weights(span=3), 3, out())
    if name == "rsi":
        return (c, 2, *ewm_weights(alpha=0.5), False, out())
    if name == "macd":
        o = out(3)
        spans = [12, *ewm_weights(span=12), 26, *ewm_weights(span=26), 9, *ewm_weights(span=9)]
        return (c, *spans, o[:, :n], o[:, n : 2 * n], o[:, 2 * n :])
    if name == "bollinger":
        o = out(4)
        return (c, 5, 2.0, o[:, :n], o[:, n : 2 * n], o[:, 2 * n : 3 * n], o[:, 3 * n :])
    if name == "rolling_volatility":
        return (c, 5, math.sqrt(252), out())
    if name == "rolling_zscore":
        return (c, 4, out())
    if name in ("atr", "adx"):
        return (h, lo, c, 14, a14, one14, bool(rng.integers(0, 2)), out())
    if name == "stochastic":
        o = out(2)
        return (h, lo, c, 5, 3, o[:, :n], o[:, n:])
    raise AssertionError(name)


@pytest.mark.parametrize("name", [k[: -len("_py")] for k in _nb._WINDOW_KERNELS])
def test_window_kernels_numba_equals_python_twin(name: str) -> None:
    # Two identical argument sets (same seed); outputs start at -1.
    args_py = _twin_args(name, np.random.default_rng(11))
    args_nb = _twin_args(name, np.random.default_rng(11))
    getattr(_nb_windows, f"{name}_py")(*args_py)
    _nb.kernel(name)(*args_nb)
    arrays = [(a, b) for a, b in zip(args_py, args_nb, strict=True) if isinstance(a, np.ndarray)]
    for a, b in arrays:
        np.testing.assert_array_equal(a, b)
    assert not (arrays[-1][0] == -1.0).any()  # the (last) output was filled


def test_rank_and_ffd_kernels_numba_equal_python_twins() -> None:
    rng = np.random.default_rng(5)
    x = rng.integers(0, 6, (50, 13)).astype(float)
    x[rng.random(x.shape) < 0.2] = NAN
    order = np.argsort(x, axis=1)
    for pct in (True, False):
        py = _nb.rank_rows_py(x, order, pct, np.empty_like(x))
        nb = _nb.kernel("rank_rows")(x, order, pct, np.empty_like(x))
        np.testing.assert_array_equal(py, nb)
    logp = np.asfortranarray(np.log(_messy_bars().close.to_numpy()))
    filled_py, filled_nb = np.empty_like(logp), np.empty_like(logp)
    center_py, center_nb = np.empty(9), np.empty(9)
    direct_py, direct_nb = np.empty(9, bool), np.empty(9, bool)
    logp[50, 0] = np.inf
    _nb.ffd_fft_prepare_py(logp, filled_py, center_py, direct_py)
    _nb.kernel("ffd_fft_prepare")(logp, filled_nb, center_nb, direct_nb)
    np.testing.assert_array_equal(filled_py, filled_nb)
    np.testing.assert_array_equal(center_py, center_nb)
    np.testing.assert_array_equal(direct_py, direct_nb)
    assert direct_py.tolist() == [True] + [False] * 8
    offset = center_py * 0.3
    out_py = _nb.ffd_fft_finish_py(logp, filled_py, 7, offset, np.empty_like(logp))
    out_nb = _nb.kernel("ffd_fft_finish")(logp, filled_py, 7, offset, np.empty_like(logp))
    np.testing.assert_array_equal(out_py, out_nb)


# ----------------------------------------------------------- no look-ahead (exact)
TRUNCATION_CASES = [c for c in CASES if c[0] != "rolling_zscore"] + [
    ("rolling_zscore", qf.rolling_zscore, _old_rolling_zscore, {"window": 20}),
    ("cross_sectional_rank", qf.cross_sectional_rank, _old_rank, {"pct": True}),
]


@pytest.mark.parametrize(
    ("name", "new", "kwargs"),
    [(c[0], c[1], c[3]) for c in TRUNCATION_CASES],
    ids=[f"{c[0]}-{c[3]}" for c in TRUNCATION_CASES],
)
def test_kernels_have_no_look_ahead_on_messy_bars(
    name: str, new: Callable[..., Any], kwargs: dict[str, Any]
) -> None:
    bars = MESSY[1]

    def run(b: Bars) -> pd.DataFrame:
        if name in ("rolling_zscore", "cross_sectional_rank"):
            return new(b.close, **kwargs)
        return _call(new, name, b, kwargs)

    full = run(bars)
    for cut in bars.index[[45, 101, 165, 251, 300]]:
        part = run(Bars(**{f: getattr(bars, f).loc[:cut] for f in bars.fields}))
        assert part.notna().to_numpy().any()
        pd.testing.assert_frame_equal(part, full.loc[:cut], check_exact=True)


# --------------------------------------------------------------- frac diff (FFT)
def _ffd_panel(n_rows: int = 1600, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2000-01-03", periods=n_rows, name="timestamp")
    logp = 4.6 + np.cumsum(rng.normal(0.0002, 0.02, (n_rows, 7)), axis=0)
    logp[: n_rows * 3 // 16, 1] = NAN  # late listing
    logp[n_rows * 3 // 4 :, 2] = NAN  # delisted
    logp[[n_rows * 7 // 16, n_rows * 7 // 16 + 1, n_rows * 11 // 16], 3] = NAN  # halts
    logp[:, 4] += 1e4  # a high level: the error scales with it, not with the spread
    logp[:, 5] = NAN  # never listed
    logp[n_rows * 9 // 16, 6] = np.inf  # an infinite value: that column is summed directly
    return pd.DataFrame(logp, index=idx, columns=pd.Index([f"S{i}" for i in range(7)], name="s"))


def _scale(x: pd.DataFrame, weights: np.ndarray) -> np.ndarray:
    # The size of a fractional difference of each column: max |x| * sum |w|.
    values = np.abs(x.to_numpy())
    level = np.array([v[np.isfinite(v)].max(initial=1.0) for v in values.T])
    return level * np.abs(weights).sum()


@pytest.mark.parametrize(("d", "threshold"), [(0.4, 1e-3), (0.4, 1e-4), (0.4, 1e-5), (0.8, 1e-5)])
def test_ffd_fft_equals_direct_sum_to_rounding(d: float, threshold: float) -> None:
    x = _ffd_panel()
    weights = qf.ffd_weights(d, threshold)
    with np.errstate(invalid="ignore"):
        direct = qf.frac_diff_ffd(x, d, threshold, method="direct")
        fft = qf.frac_diff_ffd(x, d, threshold, method="fft")
    np.testing.assert_array_equal(direct.isna().to_numpy(), fft.isna().to_numpy())
    both = np.isfinite(direct.to_numpy())
    err = np.abs(np.where(both, fft.to_numpy(), 0.0) - np.where(both, direct.to_numpy(), 0.0))
    rel = err.max(axis=0) / _scale(x, weights)
    # Measured ~1e-16 of the scale (d=0.4: 1.5e-17 .. 1.3e-16); 1e-12 required.
    assert rel.max() <= 1e-12, rel
    # The infinite column is summed directly: identical, infinities and all.
    np.testing.assert_array_equal(fft["S6"].to_numpy(), direct["S6"].to_numpy())
    # NaN rules: leading and trailing NaN, the halts and the warm-up.
    width = len(weights)
    assert fft["S1"].iloc[: 300 + width - 1].isna().all()
    assert pd.notna(fft["S1"].iloc[-1]) == (300 + width <= len(x))
    assert fft["S2"].iloc[1200:].isna().all() and fft["S5"].isna().all()
    assert fft["S3"].iloc[700 : 700 + width].isna().all()
    assert pd.notna(fft["S3"].iloc[-1]) == (702 + width <= len(x))


def test_ffd_direct_kernel_equals_former_loop_bit_for_bit() -> None:
    x = np.asfortranarray(_ffd_panel(400).to_numpy())
    for width in (1, 2, 5, 63, 64, 65, 130, 399, 400, 401):
        w = qf.ffd_weights(0.45, 1e-12, max_width=width)
        with np.errstate(invalid="ignore"):
            want = _old_ffd_loop(x, w)
            got = _nb.frac_diff_ffd_nb(x, w, np.empty_like(x))
            twin = _nb.frac_diff_ffd_py(x[:, :3], w, np.empty_like(x[:, :3]))
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(twin, want[:, :3])


def test_ffd_auto_switches_to_fft_at_the_threshold() -> None:
    x = _ffd_panel(600).drop(columns="S6")
    width = fracdiff.FFT_MIN_WIDTH
    w = qf.ffd_weights(0.4, 1e-12, max_width=width + 1)
    below = float(abs(w[width - 2])) * 0.999  # keeps width - 1 weights
    at = float(abs(w[width - 1])) * 0.999  # keeps width weights
    assert len(qf.ffd_weights(0.4, below)) == width - 1
    assert len(qf.ffd_weights(0.4, at)) == width
    pd.testing.assert_frame_equal(
        qf.frac_diff_ffd(x, 0.4, below), qf.frac_diff_ffd(x, 0.4, below, method="direct")
    )
    pd.testing.assert_frame_equal(
        qf.frac_diff_ffd(x, 0.4, at), qf.frac_diff_ffd(x, 0.4, at, method="fft"), check_exact=True
    )


def test_ffd_fft_series_short_data_and_errors() -> None:
    x = _ffd_panel(500)
    s = x["S0"]
    out = qf.frac_diff_ffd(s, 0.4, 1e-5, method="fft")
    assert isinstance(out, pd.Series) and out.name == "S0"
    ref = qf.frac_diff_ffd(s, 0.4, 1e-5, method="direct")
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12 * 5 * 3)
    # a window longer than the data: all NaN either way; d=0: one weight, x itself
    assert qf.frac_diff_ffd(x.iloc[:20], 0.3, 1e-6, method="fft").isna().all().all()
    pd.testing.assert_frame_equal(qf.frac_diff_ffd(x, 0.0, method="fft"), x)
    with pytest.raises(ParameterError, match=r"'method' parameter of frac_diff_ffd"):
        qf.frac_diff_ffd(x, 0.4, method="fast")


def test_ffd_fft_truncation_changes_only_rounding() -> None:
    # The FFT's rounding depends on the whole column, so cutting the data is not exact
    # bit for bit (method="direct" is, see the leakage tests); the values before the
    # cut agree to ~1e-16 of the scale and the NaN pattern is identical.
    x = _ffd_panel(1600).drop(columns="S6")
    d, threshold = 0.4, 1e-4
    weights = qf.ffd_weights(d, threshold)
    assert len(weights) >= fracdiff.FFT_MIN_WIDTH
    full = qf.frac_diff_ffd(x, d, threshold)
    for cut in x.index[[500, 800, 1301]]:
        part = qf.frac_diff_ffd(x.loc[:cut], d, threshold)
        before = full.loc[:cut]
        np.testing.assert_array_equal(part.isna().to_numpy(), before.isna().to_numpy())
        err = np.abs(np.nan_to_num(part.to_numpy()) - np.nan_to_num(before.to_numpy()))
        assert (err.max(axis=0) / _scale(x, weights)).max() <= 1e-12
        part_direct = qf.frac_diff_ffd(x.loc[:cut], d, threshold, method="direct")
        full_direct = qf.frac_diff_ffd(x, d, threshold, method="direct")
        pd.testing.assert_frame_equal(part_direct, full_direct.loc[:cut], check_exact=True)


# ------------------------------------------------------------------------ TA-Lib
# Where TA-Lib and qresearch agree or differ (the checks below, on gap-free panels):
# - bollinger = BBANDS(matype=0) (population std) to 1e-10 relative (TA-Lib sums x and
#   x^2; %b computed from its bands);
# - stochastic = STOCHF(fastd_matype=0) %K and %D to 1e-10, from the row where TA-Lib's
#   %D starts (it reports %K only from there); a zero high-low range is NaN here, 0 there;
# - rolling_volatility = STDDEV(ROCP(close, 1)) * sqrt(n / (n - 1)) (TA-Lib's std is the
#   population one) to 1e-9 relative;
# - rolling_zscore = (x - SMA) / (STDDEV * sqrt(n / (n - 1))) to 1e-9;
# - rsi / atr / adx with seed="sma" = RSI / ATR / ADX to 1e-10 (also on the bundled data,
#   test_technical.py).
# Where they differ by definition: EMA, MACD and the default seed="first" Wilder
# smoothing start from the first value, TA-Lib from the mean of the first `span`
# values (and MACD starts its fast EMA where the slow one starts); the difference
# decays as (1 - alpha)^n: below 1e-9 of the price from ~30 spans on.


def _clean_ohlc(n_rows: int = 900, n_cols: int = 4, seed: int = 8) -> Bars:
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2010-01-04", periods=n_rows, name="timestamp")
    close = 40.0 * np.exp(np.cumsum(rng.normal(0.0003, 0.02, (n_rows, n_cols)), axis=0))
    high = close * (1 + np.abs(rng.normal(0, 0.01, close.shape)))
    low = close * (1 - np.abs(rng.normal(0, 0.01, close.shape)))
    f = lambda a: pd.DataFrame(a, index=idx, columns=[f"S{i}" for i in range(n_cols)])  # noqa: E731
    return Bars(open=f(close), high=f(high), low=f(low), close=f(close), volume=f(close * 0 + 1))


def _cols(bars: Bars) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    return [
        (
            s,
            *(
                np.ascontiguousarray(getattr(bars, f)[s].to_numpy())
                for f in ("high", "low", "close")
            ),
        )
        for s in bars.symbols
    ]


def _close_to(ours: np.ndarray, theirs: np.ndarray, start: int, rtol: float, atol: float) -> None:
    np.testing.assert_allclose(ours[start:], theirs[start:], rtol=rtol, atol=atol)


def test_talib_bollinger_stochastic_volatility_zscore() -> None:
    talib = pytest.importorskip("talib")
    bars = _clean_ohlc()
    n, k = 20, 2.0
    bb = qf.bollinger(bars.close, n, k)
    st = qf.stochastic(bars, 14, 3)
    vol = qf.rolling_volatility(bars.close, n)
    z = qf.rolling_zscore(bars.close, n)
    corr = math.sqrt(n / (n - 1))
    for s, h, lo, c in _cols(bars):
        upper, mid, lower = talib.BBANDS(c, n, k, k, 0)
        _close_to(bb["mid"][s].to_numpy(), mid, n - 1, 1e-12, 0)
        _close_to(bb["upper"][s].to_numpy(), upper, n - 1, 1e-10, 0)
        _close_to(bb["lower"][s].to_numpy(), lower, n - 1, 1e-10, 0)
        _close_to(bb["pct_b"][s].to_numpy(), (c - lower) / (upper - lower), n - 1, 0, 1e-8)
        fast_k, fast_d = talib.STOCHF(h, lo, c, 14, 3, 0)
        _close_to(st["k"][s].to_numpy(), fast_k, 14 + 3 - 2, 0, 1e-10)
        _close_to(st["d"][s].to_numpy(), fast_d, 14 + 3 - 2, 0, 1e-10)
        _close_to(vol[s].to_numpy(), talib.STDDEV(talib.ROCP(c, 1), n, 1) * corr, n, 1e-9, 0)
        ta_z = (c - talib.SMA(c, n)) / (talib.STDDEV(c, n, 1) * corr)
        _close_to(z[s].to_numpy(), ta_z, n - 1, 0, 1e-9)


def test_talib_wilder_family_and_emas() -> None:
    talib = pytest.importorskip("talib")
    bars = _clean_ohlc()
    for s, h, lo, c in _cols(bars):
        for n in (3, 14):
            _close_to(
                qf.rsi(bars.close, n, seed="sma")[s].to_numpy(), talib.RSI(c, n), 0, 1e-10, 1e-10
            )
            _close_to(
                qf.atr(bars, n, seed="sma")[s].to_numpy(), talib.ATR(h, lo, c, n), 0, 1e-10, 0
            )
            _close_to(
                qf.adx(bars, n, seed="sma")[s].to_numpy(), talib.ADX(h, lo, c, n), 0, 1e-10, 1e-10
            )
            # default seed: the first-value seed fades out
            _close_to(qf.rsi(bars.close, n)[s].to_numpy(), talib.RSI(c, n), 30 * n, 0, 1e-9)
            _close_to(qf.atr(bars, n)[s].to_numpy(), talib.ATR(h, lo, c, n), 30 * n, 1e-9, 0)
        span = 20
        _close_to(qf.ema(bars.close, span)[s].to_numpy(), talib.EMA(c, span), 30 * span, 1e-9, 0)
        line, sig, hist = talib.MACD(c, 12, 26, 9)
        ours = qf.macd(bars.close, 12, 26, 9)
        scale = float(np.abs(c).max())
        for field, theirs in (("macd", line), ("signal", sig), ("hist", hist)):
            _close_to(ours[field][s].to_numpy(), theirs, 30 * 26, 0, 1e-9 * scale)
