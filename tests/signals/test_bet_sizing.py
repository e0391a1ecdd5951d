"""Bet sizing (AFML ch. 10): formulas with math.erf, loop references, errors."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from qresearch.exceptions import AlignmentError, PanelError, ParameterError
from qresearch.signals import (
    average_active_bets,
    bet_size,
    bet_size_dynamic,
    discretize_bet,
    sigmoid_width,
)


def _size(p: float, k: int = 2) -> float:
    # AFML 10.1 written out: z = (p - 1/K) / sqrt(p (1 - p)), m = 2 Phi(z) - 1.
    if p in (0.0, 1.0):
        return 1.0 if p == 1.0 else -1.0
    z = (p - 1.0 / k) / math.sqrt(p * (1.0 - p))
    return 2.0 * 0.5 * (1.0 + math.erf(z / math.sqrt(2.0))) - 1.0


# --- bet_size ------------------------------------------------------------------------


@pytest.mark.parametrize("k", [2, 3, 5, 10])
def test_bet_size_matches_formula(k: int) -> None:
    probs = [0.0, 0.01, 0.2, 1.0 / k, 0.45, 0.5, 0.55, 0.7, 0.93, 0.999, 1.0]
    got = bet_size(pd.Series(probs), n_classes=k)
    np.testing.assert_allclose(got.to_numpy(), [_size(p, k) for p in probs], rtol=0, atol=1e-13)


def test_bet_size_k_class_properties() -> None:
    # AFML figure 10.1: zero at p = 1/K, increasing in p, and for a fixed p the size
    # grows with the number of classes.
    p = np.linspace(0.05, 0.95, 19)
    sizes = {k: bet_size(pd.Series(p), n_classes=k).to_numpy() for k in (2, 3, 4, 10)}
    for k, s in sizes.items():
        assert abs(float(bet_size(pd.Series([1.0 / k]), n_classes=k).iloc[0])) < 1e-12
        assert (np.diff(s) > 0).all()
    assert (sizes[2] < sizes[3]).all() and (sizes[3] < sizes[4]).all()
    assert (sizes[4] < sizes[10]).all()


def test_bet_size_hand_value() -> None:
    # p = 0.6, K = 2: z = 0.1 / sqrt(0.24) = 0.2041241; Phi(z) = Phi(0.2) + phi(0.2) dz
    # - 0.2 phi(0.2) dz^2 / 2 = 0.5792597 + 0.0016127 - 0.0000007 = 0.5808717;
    # m = 2 Phi - 1 = 0.1617435.
    assert float(bet_size(pd.Series([0.6])).iloc[0]) == pytest.approx(0.1617435, abs=2e-7)


def test_bet_size_panel_with_side_and_step() -> None:
    idx = pd.date_range("2024-01-01", periods=3, name="timestamp")
    prob = pd.DataFrame({"A": [0.6, 0.9, np.nan], "B": [0.55, 0.3, 0.99]}, index=idx)
    side = pd.DataFrame({"A": [1.0, -1.0, 1.0], "B": [-1.0, 1.0, np.nan]}, index=idx)
    got = bet_size(prob, side=side)
    # p = 0.3 < 1/2 means "don't bet" (AFML getSignal: pred = 0): 0, not a reversed bet
    expected = np.array([[_size(0.6), -_size(0.55)], [-_size(0.9), 0.0], [np.nan, np.nan]])
    np.testing.assert_allclose(got.to_numpy(), expected, atol=1e-13)
    stepped = bet_size(prob, step=0.1, side=side)
    np.testing.assert_allclose(stepped.to_numpy(), np.round(expected / 0.1) * 0.1, atol=1e-13)
    assert isinstance(got, pd.DataFrame) and got.index.equals(idx)
    assert not np.signbit(bet_size(pd.Series([0.5]), side=pd.Series([-1.0]))).any()


def test_bet_size_long_labels_series() -> None:
    index = pd.MultiIndex.from_tuples(
        [(pd.Timestamp("2024-01-02"), "A"), (pd.Timestamp("2024-01-02"), "B")],
        names=["timestamp", "symbol"],
    )
    prob = pd.Series([0.7, 0.4], index=index, name="prob")
    before = prob.copy()
    got = bet_size(prob, step=0.05)
    assert got.index.equals(index) and got.name == "prob"
    np.testing.assert_allclose(
        got.to_numpy(), [round(_size(0.7) / 0.05) * 0.05, round(_size(0.4) / 0.05) * 0.05]
    )
    pd.testing.assert_series_equal(prob, before)


def test_bet_size_errors() -> None:
    p = pd.Series([0.2, 1.2], index=["x", "y"])
    with pytest.raises(ParameterError, match=r"probabilities in \[0, 1\]; got 'y' = 1.2"):
        bet_size(p)
    with pytest.raises(ParameterError, match=r"'n_classes' parameter of bet_size .* >= 2; got 1"):
        bet_size(pd.Series([0.5]), n_classes=1)
    with pytest.raises(
        ParameterError, match=r"'step' parameter of bet_size must be in \(0, 1\].*; got 0"
    ):
        bet_size(pd.Series([0.5]), step=0)
    with pytest.raises(ParameterError, match=r"side .* -1, 0 or 1 .* got 1 = 0.5"):
        bet_size(pd.Series([0.5, 0.6]), side=pd.Series([1.0, 0.5]))
    with pytest.raises(AlignmentError, match=r"prob and side passed to bet_size are not aligned"):
        bet_size(pd.Series([0.5, 0.6]), side=pd.Series([1.0]))
    with pytest.raises(PanelError, match=r"side passed to bet_size must be a Series like prob"):
        bet_size(
            pd.Series([0.5]),
            side=pd.DataFrame({"A": [1.0]}, index=pd.DatetimeIndex(["2024-01-01"])),
        )
    with pytest.raises(PanelError, match=r"must be a pandas Series .* or a DataFrame .* got list"):
        bet_size([0.5, 0.6])  # type: ignore[arg-type]
    with pytest.raises(PanelError, match=r"must be numeric; got dtype"):
        bet_size(pd.Series(["a"]))


# --- discretize_bet ----------------------------------------------------------------------


def test_discretize_bet() -> None:
    idx = pd.date_range("2024-01-01", periods=2, name="timestamp")
    size = pd.DataFrame({"A": [0.34, -0.96], "B": [np.nan, 1.7]}, index=idx)
    got = discretize_bet(size, 0.2)
    expected = [[0.4, np.nan], [-1.0, 1.0]]
    np.testing.assert_allclose(got.to_numpy(), expected, atol=1e-12)
    assert discretize_bet(pd.Series([-0.01]), 0.5).iloc[0] == 0.0
    assert not np.signbit(discretize_bet(pd.Series([-0.01]), 0.5)).any()
    with pytest.raises(ParameterError, match=r"'step' parameter of discretize_bet .* got 1.5"):
        discretize_bet(size, 1.5)


# --- average_active_bets -----------------------------------------------------------------


def _loop_average(t0, t1, sizes, bars, include_end=False):
    out = []
    for bar in bars:
        active = [
            s
            for a, b, s in zip(t0, t1, sizes, strict=True)
            if a <= bar and (pd.isna(b) or bar < b or (include_end and bar == b))
        ]
        out.append(sum(active) / len(active) if active else 0.0)
    return out


def test_average_active_bets_hand_case() -> None:
    t0 = pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-02", "2024-01-05"])
    sizes = pd.Series([1.0, 0.5, -0.3, 0.8], index=t0)
    t1 = pd.Series(pd.to_datetime(["2024-01-03", "2024-01-04", "2024-01-02", "NaT"]), index=t0)
    bars = pd.date_range("2024-01-01", periods=6, name="timestamp")
    # Jan 2: bets 1 and 2 (bet 3 opens and ends on Jan 2, so it is never active).
    assert average_active_bets(sizes, t1, bars).tolist() == [1.0, 0.75, 0.5, 0.0, 0.8, 0.8]
    inclusive = average_active_bets(sizes, t1, bars, include_end=True).tolist()
    assert inclusive == pytest.approx([1.0, 0.4, 0.75, 0.5, 0.8, 0.8])


@pytest.mark.parametrize("include_end", [False, True])
def test_average_active_bets_matches_loop(include_end: bool) -> None:
    rng = np.random.default_rng(3)
    bars = pd.bdate_range("2022-01-03", periods=80, name="timestamp")
    pos0 = np.sort(rng.choice(70, 30, replace=False))
    t0 = bars[pos0]
    t1 = pd.DatetimeIndex([bars[min(p + int(rng.integers(0, 12)), 79)] for p in pos0]).where(
        rng.random(30) > 0.1
    )
    sizes = pd.Series(rng.uniform(-1, 1, 30), index=t0, name="size")
    got = average_active_bets(sizes, pd.Series(t1, index=t0), bars, include_end=include_end)
    assert got.index.equals(bars) and got.name == "size"
    np.testing.assert_allclose(
        got.to_numpy(),
        _loop_average(list(t0), list(t1), sizes.tolist(), bars, include_end),
        atol=1e-12,
    )


def test_average_active_bets_long_format_gives_a_panel() -> None:
    rng = np.random.default_rng(4)
    bars = pd.bdate_range("2022-01-03", periods=40, name="timestamp")
    rows = []
    for sym in ("B", "A"):
        for p in np.sort(rng.choice(35, 10, replace=False)):
            rows.append((bars[p], sym, bars[min(p + int(rng.integers(1, 8)), 39)]))
    index = pd.MultiIndex.from_tuples([(a, s) for a, s, _ in rows], names=["timestamp", "symbol"])
    t1 = pd.Series([b for _, _, b in rows], index=index)
    sizes = pd.Series(rng.uniform(-1, 1, len(rows)), index=index)
    got = average_active_bets(sizes, t1, bars)
    assert isinstance(got, pd.DataFrame)
    assert list(got.columns) == ["A", "B"] and got.index.equals(bars)
    for sym in ("A", "B"):
        mask = index.get_level_values(1) == sym
        expected = _loop_average(
            list(index.get_level_values(0)[mask]), list(t1[mask]), sizes[mask].tolist(), bars
        )
        np.testing.assert_allclose(got[sym].to_numpy(), expected, atol=1e-12)


def test_average_active_bets_tz_aware() -> None:
    t0 = pd.DatetimeIndex(["2024-01-01", "2024-01-02"], tz="UTC")
    sizes = pd.Series([1.0, -1.0], index=t0)
    t1 = pd.Series(pd.DatetimeIndex(["2024-01-03", "2024-01-03"], tz="UTC"), index=t0)
    bars = pd.date_range("2024-01-01", periods=3, tz="UTC", name="timestamp")
    assert average_active_bets(sizes, t1, bars).tolist() == [1.0, 0.0, 0.0]
    with pytest.raises(PanelError, match=r"Cannot mix tz-aware"):
        average_active_bets(sizes, t1, bars.tz_convert(None))


def test_average_active_bets_errors() -> None:
    t0 = pd.to_datetime(["2024-01-01", "2024-01-02"])
    sizes = pd.Series([1.0, 0.5], index=t0)
    t1 = pd.Series(pd.to_datetime(["2024-01-03", "2024-01-04"]), index=t0)
    bars = pd.date_range("2024-01-01", periods=4, name="timestamp")
    with pytest.raises(ParameterError, match=r"sizes passed to average_active_bets has NaN"):
        average_active_bets(pd.Series([1.0, np.nan], index=t0), t1, bars)
    with pytest.raises(AlignmentError, match=r"sizes and t1 .* are not aligned"):
        average_active_bets(sizes, t1.iloc[:1], bars)
    with pytest.raises(ParameterError, match=r"must be >= t0; the bet .* ends at 2023-12-31"):
        average_active_bets(
            sizes, pd.Series(pd.to_datetime(["2023-12-31", "2024-01-04"]), index=t0), bars
        )
    with pytest.raises(PanelError, match=r"t1 passed to average_active_bets must hold timestamps"):
        average_active_bets(sizes, pd.Series([1, 2], index=t0), bars)
    with pytest.raises(
        PanelError, match=r"index passed to average_active_bets must be a DatetimeIndex"
    ):
        average_active_bets(sizes, t1, list(bars))  # type: ignore[arg-type]
    with pytest.raises(PanelError, match=r"index is not sorted"):
        average_active_bets(sizes, t1, bars[::-1])
    with pytest.raises(PanelError, match=r"indexed by the bet start times t0"):
        average_active_bets(pd.Series([1.0]), pd.Series(pd.to_datetime(["2024-01-01"])), bars)
    with pytest.raises(
        PanelError, match=r"sizes passed to average_active_bets must be a pandas Series"
    ):
        average_active_bets(sizes.to_frame(), t1, bars)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"'include_end' parameter"):
        average_active_bets(sizes, t1, bars, include_end=1)  # type: ignore[arg-type]


# --- dynamic sizing ------------------------------------------------------------------------


def test_sigmoid_width_and_dynamic_size() -> None:
    # AFML 10.4: w = x^2 (m^-2 - 1); at divergence x the size is m again.
    w = sigmoid_width(10.0, 0.95)
    assert w == pytest.approx(100.0 * (1.0 / 0.9025 - 1.0), rel=1e-14)
    forecast = pd.Series([110.0, 100.0, 90.0, 102.0])
    market = pd.Series([100.0, 100.0, 100.0, 100.0])
    got = bet_size_dynamic(forecast, market, w)
    expected = [x / math.sqrt(w + x * x) for x in (10.0, 0.0, -10.0, 2.0)]
    np.testing.assert_allclose(got.to_numpy(), expected, rtol=1e-14)
    assert got.iloc[0] == pytest.approx(0.95, rel=1e-14)


def test_dynamic_errors() -> None:
    with pytest.raises(ParameterError, match=r"'size' parameter of sigmoid_width .* got 1.0"):
        sigmoid_width(10.0, 1.0)
    with pytest.raises(ParameterError, match=r"'divergence' .* non-zero"):
        sigmoid_width(0.0, 0.5)
    with pytest.raises(ParameterError, match=r"'width' parameter of bet_size_dynamic must be > 0"):
        bet_size_dynamic(pd.Series([1.0]), pd.Series([1.0]), 0.0)
    with pytest.raises(AlignmentError, match=r"forecast_price and market_price"):
        bet_size_dynamic(pd.Series([1.0]), pd.Series([1.0], index=[5]), 1.0)


def test_import_does_not_load_scipy() -> None:
    code = "import sys\nimport qresearch.signals\nprint('scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"
