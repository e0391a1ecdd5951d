"""PSR, DSR and PBO against hand formulas, scipy, the published example and brute force."""

from __future__ import annotations

import math
import statistics
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from qresearch.evaluation import overfitting as ov
from qresearch.evaluation.overfitting import (
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
)
from qresearch.exceptions import ParameterError

GAMMA = 0.5772156649015329


def _phi(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def _hand_psr(r: list[float], benchmark: float) -> float:
    # Plain-Python PSR: sample std (ddof=1), population skew and non-excess kurtosis.
    n = len(r)
    mean = sum(r) / n
    dev = [x - mean for x in r]
    m2 = sum(d * d for d in dev) / n
    m3 = sum(d**3 for d in dev) / n
    m4 = sum(d**4 for d in dev) / n
    sd = math.sqrt(sum(d * d for d in dev) / (n - 1))
    sr = mean / sd
    skew, kurt = m3 / m2**1.5, m4 / m2**2
    z = (sr - benchmark) * math.sqrt(n - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
    return _phi(z)


def _hand_sr0(n: int, variance: float) -> float:
    inv = statistics.NormalDist().inv_cdf
    return math.sqrt(variance) * ((1 - GAMMA) * inv(1 - 1 / n) + GAMMA * inv(1 - 1 / (n * math.e)))


@pytest.fixture
def rets() -> pd.Series:
    rng = np.random.default_rng(7)
    idx = pd.bdate_range("2020-01-01", periods=500, name="timestamp")
    # Skewed, fat-tailed returns so that the moment terms matter.
    r = rng.standard_t(4, 500) * 0.01 + 0.0008 - 0.004 * (rng.random(500) < 0.05)
    return pd.Series(r, index=idx, name="strat")


# --- PSR --------------------------------------------------------------------------------


def test_psr_tiny_series_by_hand() -> None:
    r = [0.02, -0.01, 0.03, 0.0, 0.01, -0.02, 0.025, 0.005]
    assert probabilistic_sharpe_ratio(pd.Series(r)) == pytest.approx(_hand_psr(r, 0.0), rel=1e-12)
    assert probabilistic_sharpe_ratio(pd.Series(r), 0.1) == pytest.approx(
        _hand_psr(r, 0.1), rel=1e-12
    )


def test_psr_matches_direct_formula(rets: pd.Series) -> None:
    got = probabilistic_sharpe_ratio(rets, benchmark_sharpe=0.02)
    assert isinstance(got, float)
    assert got == pytest.approx(_hand_psr(rets.tolist(), 0.02), rel=1e-10)


def test_moments_match_scipy(rets: pd.Series) -> None:
    sr, skew, kurt = ov._moments(rets.to_numpy())
    assert sr == pytest.approx(rets.mean() / rets.std(ddof=1), rel=1e-12)
    assert skew == pytest.approx(stats.skew(rets.to_numpy()), rel=1e-10)
    assert kurt == pytest.approx(stats.kurtosis(rets.to_numpy(), fisher=False), rel=1e-10)


def test_psr_annualized_benchmark_is_converted(rets: pd.Series) -> None:
    annual = probabilistic_sharpe_ratio(rets, benchmark_sharpe=1.2, periods_per_year=252)
    per_period = probabilistic_sharpe_ratio(rets, benchmark_sharpe=1.2 / math.sqrt(252))
    assert annual == pytest.approx(per_period, rel=1e-14)
    assert annual == pytest.approx(_hand_psr(rets.tolist(), 1.2 / math.sqrt(252)), rel=1e-10)


def test_psr_decreases_with_the_benchmark(rets: pd.Series) -> None:
    values = [probabilistic_sharpe_ratio(rets, b) for b in (-0.1, 0.0, 0.05, 0.1, 0.3)]
    assert values == sorted(values, reverse=True)
    assert 0.0 < values[-1] < values[0] < 1.0


def test_psr_dataframe_gives_one_value_per_column(rets: pd.Series) -> None:
    df = pd.DataFrame({"a": rets, "b": -rets * 0.5 + 0.001})
    df.columns.name = "symbol"
    df.iloc[:10, 1] = np.nan  # ragged: NaN rows are dropped per column
    before = df.copy()
    out = probabilistic_sharpe_ratio(df, 0.01)
    assert isinstance(out, pd.Series)
    assert list(out.index) == ["a", "b"] and out.index.name == "symbol"
    assert out["a"] == pytest.approx(_hand_psr(df["a"].tolist(), 0.01), rel=1e-10)
    assert out["b"] == pytest.approx(_hand_psr(df["b"].dropna().tolist(), 0.01), rel=1e-10)
    pd.testing.assert_frame_equal(df, before)


def test_psr_constant_returns_is_nan() -> None:
    assert math.isnan(probabilistic_sharpe_ratio(pd.Series([0.01] * 10)))


# --- expected max Sharpe and DSR ---------------------------------------------------------


def test_published_dsr_example() -> None:
    # Bailey & López de Prado (2014), numerical example: N = 100 trials, annualized
    # V = 1/2, daily returns (250 a year), T = 1250, annualized SR 2.5, skew -3, kurt 10:
    # SR0 ≈ 0.1132 per day and DSR ≈ 0.9004.
    sr0 = expected_max_sharpe(100, 0.5) / math.sqrt(250)
    assert sr0 == pytest.approx(0.1132, abs=5e-5)
    dsr = ov._psr(2.5 / math.sqrt(250), sr0, 1250, -3.0, 10.0)
    assert dsr == pytest.approx(0.9004, abs=5e-5)


@pytest.mark.parametrize(("n", "v"), [(2, 1.0), (10, 0.25), (1000, 0.04), (37, 2.0)])
def test_expected_max_sharpe_formula(n: int, v: float) -> None:
    assert expected_max_sharpe(n, v) == pytest.approx(_hand_sr0(n, v), rel=1e-12)


def test_expected_max_sharpe_is_close_to_simulated_maximum() -> None:
    # The approximation of E[max of N normals] is within a few percent for large N.
    rng = np.random.default_rng(1)
    simulated = rng.standard_normal((4000, 500)).max(axis=1).mean()
    assert expected_max_sharpe(500, 1.0) == pytest.approx(simulated, rel=0.03)


def test_expected_max_sharpe_one_trial_is_zero() -> None:
    assert expected_max_sharpe(1, 3.0) == 0.0
    assert expected_max_sharpe(np.int64(5), 0.0) == 0.0


def test_dsr_with_trials_sharpe(rets: pd.Series) -> None:
    trials = [0.02, 0.05, -0.01, 0.03, 0.04, 0.0, 0.06]
    sr0 = _hand_sr0(len(trials), statistics.variance(trials))
    got = deflated_sharpe_ratio(rets, trials_sharpe=trials)
    assert got == pytest.approx(_hand_psr(rets.tolist(), sr0), rel=1e-10)
    same = deflated_sharpe_ratio(
        rets, n_trials=len(trials), sharpe_variance=statistics.variance(trials)
    )
    assert got == pytest.approx(same, rel=1e-14)


def test_dsr_annualized_trials(rets: pd.Series) -> None:
    trials = np.array([0.8, 1.5, -0.3, 0.2, 1.1])
    got = deflated_sharpe_ratio(rets, trials_sharpe=pd.Series(trials), periods_per_year=252)
    sr0 = _hand_sr0(5, statistics.variance(trials.tolist())) / math.sqrt(252)
    assert got == pytest.approx(_hand_psr(rets.tolist(), sr0), rel=1e-10)


def test_dsr_one_trial_equals_psr(rets: pd.Series) -> None:
    assert deflated_sharpe_ratio(rets, n_trials=1, sharpe_variance=0.7) == pytest.approx(
        probabilistic_sharpe_ratio(rets), rel=1e-14
    )


def test_dsr_falls_with_more_trials(rets: pd.Series) -> None:
    values = [deflated_sharpe_ratio(rets, n_trials=n, sharpe_variance=1e-3) for n in (2, 10, 100)]
    assert values == sorted(values, reverse=True)


def test_dsr_dataframe(rets: pd.Series) -> None:
    df = pd.DataFrame({"a": rets, "b": rets.shift(1)})
    out = deflated_sharpe_ratio(df, n_trials=20, sharpe_variance=0.002)
    assert isinstance(out, pd.Series)
    sr0 = _hand_sr0(20, 0.002)
    assert out["b"] == pytest.approx(_hand_psr(rets.iloc[:-1].tolist(), sr0), rel=1e-10)


# --- PSR / DSR errors ----------------------------------------------------------------------


def test_psr_errors(rets: pd.Series) -> None:
    with pytest.raises(ParameterError, match=r"at least 3 non-NaN returns; got 2"):
        probabilistic_sharpe_ratio(pd.Series([0.01, np.nan, 0.02]))
    with pytest.raises(ParameterError, match=r"in column 'b'"):
        probabilistic_sharpe_ratio(pd.DataFrame({"a": [0.1, 0.2, 0.0], "b": [0.1, np.nan, 0]}))
    with pytest.raises(ParameterError, match=r"must be a pandas Series .* got list"):
        probabilistic_sharpe_ratio([0.01, 0.02, 0.03])  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"infinite value"):
        probabilistic_sharpe_ratio(pd.Series([0.01, np.inf, 0.02, 0.0]))
    with pytest.raises(ParameterError, match=r"must be numeric; column 'x'"):
        probabilistic_sharpe_ratio(pd.DataFrame({"x": ["a", "b", "c"]}))
    with pytest.raises(ParameterError, match=r"'periods_per_year' .* got 0"):
        probabilistic_sharpe_ratio(rets, 1.0, periods_per_year=0)
    with pytest.raises(ParameterError, match=r"'benchmark_sharpe' .* finite number; got nan"):
        probabilistic_sharpe_ratio(rets, float("nan"))


def test_dsr_errors(rets: pd.Series) -> None:
    with pytest.raises(ParameterError, match=r"either 'trials_sharpe' or both"):
        deflated_sharpe_ratio(rets, trials_sharpe=[0.1, 0.2], n_trials=3)
    with pytest.raises(ParameterError, match=r"needs the trials"):
        deflated_sharpe_ratio(rets, n_trials=3)
    with pytest.raises(ParameterError, match=r"at least 2 finite Sharpe ratios .* got 1 values"):
        deflated_sharpe_ratio(rets, trials_sharpe=[0.1])
    with pytest.raises(ParameterError, match=r"with NaN or inf"):
        deflated_sharpe_ratio(rets, trials_sharpe=[0.1, np.nan, 0.3])
    with pytest.raises(ParameterError, match=r"'n_trials' .* integer >= 1 .* got 0"):
        deflated_sharpe_ratio(rets, n_trials=0, sharpe_variance=0.1)
    with pytest.raises(ParameterError, match=r"'n_trials' .* got 2.5"):
        expected_max_sharpe(2.5, 0.1)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"'sharpe_variance' .* >= 0; got -0.1"):
        expected_max_sharpe(10, -0.1)


# --- PBO -----------------------------------------------------------------------------------


def _brute_force_pbo(
    m: np.ndarray, blocks: list[list[int]], score
) -> tuple[float, list[float], list[float], list[float]]:
    # Independent CSCV: explicit loops over combinations, trials and ranks.
    s = len(blocks)
    n = m.shape[1]
    logits, is_best, oos_best = [], [], []
    for combo in combinations(range(s), s // 2):
        inside = [i for j in combo for i in blocks[j]]
        outside = [i for j in range(s) if j not in combo for i in blocks[j]]
        is_scores = [score([m[i, k] for i in inside]) for k in range(n)]
        oos_scores = [score([m[i, k] for i in outside]) for k in range(n)]
        best = max(range(n), key=lambda k: (is_scores[k], -k))
        target = oos_scores[best]
        rank = (
            sum(1 for v in oos_scores if v < target)
            + (sum(1 for v in oos_scores if v == target) + 1) / 2
        )
        w = rank / (n + 1)
        logits.append(math.log(w / (1 - w)))
        is_best.append(is_scores[best])
        oos_best.append(target)
    pbo = sum(1 for x in logits if x <= 0) / len(logits)
    return pbo, logits, is_best, oos_best


def _sharpe(x: list[float]) -> float:
    return statistics.mean(x) / statistics.stdev(x)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pbo_matches_brute_force_small(seed: int) -> None:
    m = np.random.default_rng(seed).normal(0.0005, 0.01, size=(24, 6))
    blocks = [list(range(i * 6, i * 6 + 6)) for i in range(4)]
    pbo, logits, is_best, oos_best = _brute_force_pbo(m, blocks, _sharpe)
    res = probability_of_backtest_overfitting(m, n_partitions=4)
    assert res.pbo == pbo
    assert res.combinations == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    np.testing.assert_allclose(res.logits, logits, rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.is_performance, is_best, rtol=1e-10)
    np.testing.assert_allclose(res.oos_performance, oos_best, rtol=1e-10)


def test_pbo_uneven_blocks_and_custom_metric() -> None:
    # 10 rows in 4 blocks: sizes 3, 3, 2, 2 (numpy.array_split).
    m = np.random.default_rng(4).normal(0.0, 0.01, size=(10, 5))
    blocks = [[0, 1, 2], [3, 4, 5], [6, 7], [8, 9]]
    pbo, logits, _, oos_best = _brute_force_pbo(m, blocks, statistics.mean)
    res = probability_of_backtest_overfitting(m, n_partitions=4, metric=lambda a: a.mean(axis=0))
    assert res.pbo == pbo
    np.testing.assert_allclose(res.logits, logits, atol=1e-12)
    np.testing.assert_allclose(res.oos_performance, oos_best, rtol=1e-12)
    pbo_sharpe, logits_sharpe, _, _ = _brute_force_pbo(m, blocks, _sharpe)
    res_sharpe = probability_of_backtest_overfitting(m, n_partitions=4)
    assert res_sharpe.pbo == pbo_sharpe
    np.testing.assert_allclose(res_sharpe.logits, logits_sharpe, atol=1e-12)


def test_pbo_ties_get_average_rank() -> None:
    # Trials 0 and 1 are identical: OOS rank of the IS best is the average of the tie.
    rng = np.random.default_rng(5)
    base = rng.normal(0.0, 0.01, size=(16, 3))
    m = np.column_stack([base[:, 0], base[:, 0], base[:, 1], base[:, 2]])
    blocks = [list(range(i * 4, i * 4 + 4)) for i in range(4)]
    pbo, logits, _, _ = _brute_force_pbo(m, blocks, _sharpe)
    res = probability_of_backtest_overfitting(m, n_partitions=4)
    np.testing.assert_allclose(res.logits, logits, atol=1e-12)
    assert res.pbo == pbo


def test_pbo_of_pure_noise_is_about_one_half() -> None:
    values = []
    for seed in range(6):
        noise = np.random.default_rng(seed).normal(0.0, 0.01, size=(800, 40))
        values.append(probability_of_backtest_overfitting(noise, n_partitions=10).pbo)
    assert 0.35 < float(np.mean(values)) < 0.65


def test_pbo_of_a_dominant_trial_is_zero() -> None:
    rng = np.random.default_rng(8)
    m = rng.normal(0.0, 0.01, size=(640, 30))
    m[:, 17] = rng.normal(0.01, 0.01, size=640)  # Sharpe 1 per period
    df = pd.DataFrame(m, columns=[f"t{i}" for i in range(30)])
    res = probability_of_backtest_overfitting(df, n_partitions=16)
    assert res.pbo == 0.0
    assert len(res.logits) == math.comb(16, 8)
    assert (res.best_trial == 17).all()
    np.testing.assert_allclose(res.relative_rank, 30 / 31)
    assert res.probability_of_loss == 0.0


def test_pbo_dataframe_equals_array_and_no_mutation() -> None:
    m = np.random.default_rng(9).normal(0.0, 0.01, size=(60, 7))
    df = pd.DataFrame(m)
    before = df.copy()
    a = probability_of_backtest_overfitting(df, n_partitions=6)
    b = probability_of_backtest_overfitting(m, n_partitions=6)
    np.testing.assert_array_equal(a.logits, b.logits)
    pd.testing.assert_frame_equal(df, before)


def test_pbo_degradation_slope_and_loss() -> None:
    m = np.random.default_rng(10).normal(0.0002, 0.01, size=(200, 12))
    res = probability_of_backtest_overfitting(m, n_partitions=8)
    fit = stats.linregress(res.is_performance, res.oos_performance)
    assert res.degradation_slope == pytest.approx(fit.slope, rel=1e-9)
    assert res.probability_of_loss == pytest.approx(
        sum(1 for x in res.oos_performance if x < 0) / len(res.oos_performance)
    )


def test_pbo_result_is_frozen() -> None:
    res = probability_of_backtest_overfitting(np.random.default_rng(0).normal(size=(8, 3)), 2)
    with pytest.raises(AttributeError):
        res.pbo = 0.0  # type: ignore[misc]


def test_pbo_errors() -> None:
    m = np.random.default_rng(0).normal(size=(40, 4))
    with pytest.raises(ParameterError, match=r"'n_partitions' .* even integer >= 2 .* got 5"):
        probability_of_backtest_overfitting(m, n_partitions=5)
    with pytest.raises(ParameterError, match=r"'n_partitions' .* got 0"):
        probability_of_backtest_overfitting(m, n_partitions=0)
    with pytest.raises(ParameterError, match=r"has 40 rows, too few for n_partitions=32"):
        probability_of_backtest_overfitting(m, n_partitions=32)
    bad = m.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ParameterError, match=r"NaN or inf \(first in row 3\)"):
        probability_of_backtest_overfitting(bad, n_partitions=4)
    with pytest.raises(ParameterError, match=r"at least 2 trials .* shape \(40, 1\)"):
        probability_of_backtest_overfitting(m[:, :1], n_partitions=4)
    with pytest.raises(ParameterError, match=r"DataFrame or 2-D array .* got list"):
        probability_of_backtest_overfitting(m.tolist(), n_partitions=4)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"one score per trial \(4\)"):
        probability_of_backtest_overfitting(m, n_partitions=4, metric=lambda a: a.mean())
    with pytest.raises(ParameterError, match=r"'metric' .* must be a callable"):
        probability_of_backtest_overfitting(m, n_partitions=4, metric="sharpe")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"must be numeric; column 'x'"):
        probability_of_backtest_overfitting(pd.DataFrame({"x": ["a"] * 8, "y": [0.1] * 8}), 2)


def test_import_does_not_load_scipy() -> None:
    import subprocess
    import sys

    code = "import sys\nimport qresearch.evaluation.overfitting\nprint('scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"
