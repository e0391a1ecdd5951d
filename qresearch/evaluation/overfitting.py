"""Backtest overfitting statistics (Bailey & López de Prado).

- :func:`probabilistic_sharpe_ratio` (PSR, Bailey & López de Prado 2012): the
  probability that the true Sharpe ratio exceeds a benchmark, given the track length
  and the skew and kurtosis of the returns.
- :func:`expected_max_sharpe` and :func:`deflated_sharpe_ratio` (DSR, Bailey & López
  de Prado 2014): the PSR against the Sharpe ratio expected from the best of
  ``N`` skill-less trials.
- :func:`probability_of_backtest_overfitting` (PBO by combinatorially symmetric
  cross-validation, CSCV, Bailey, Borwein, López de Prado & Zhu 2015).

Conventions: the Sharpe ratio is the per-period ``mean(r) / std(r, ddof=1)`` of the
returns as given (pass excess returns to account for a risk-free rate); skewness and
kurtosis are the population (biased) moment estimates ``m3 / m2**1.5`` and
``m4 / m2**2`` with ``m_k = mean((r - mean(r))**k)`` (``scipy.stats.skew`` and
``scipy.stats.kurtosis(fisher=False)``), so the kurtosis of a normal is 3. With these
moments the PSR variance term ``1 - skew * SR + (kurt - 1) / 4 * SR**2`` is never
negative. ``scipy`` is imported only when a function runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from qresearch._typing import Float64Array
from qresearch._validation import check_periods_per_year, check_real
from qresearch.exceptions import ParameterError

__all__ = [
    "PBOResult",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
]

EULER_GAMMA = 0.5772156649015329
"""The Euler-Mascheroni constant used by the expected maximum of ``N`` normals."""

MIN_OBSERVATIONS = 3


def _ndtr(x: Any) -> Any:
    # Standard normal CDF (scipy loaded on first use).
    from scipy.special import ndtr

    return ndtr(x)


def _ndtri(p: float) -> float:
    # Standard normal quantile (scipy loaded on first use).
    from scipy.special import ndtri

    return float(ndtri(p))


def _check_periods(periods_per_year: Any, func: str) -> float | None:
    # None (per-period units) or a positive number of periods per year.
    return check_periods_per_year(periods_per_year, func, allow_none=True)


def _return_columns(returns: Any, func: str) -> tuple[list[Float64Array], list[Any], bool]:
    # Split a Series or DataFrame of returns into NaN-free float arrays, one per column.
    if isinstance(returns, pd.Series):
        frame, is_series = returns.to_frame(), True
    elif isinstance(returns, pd.DataFrame):
        frame, is_series = returns, False
    else:
        raise ParameterError(
            f"returns passed to {func} must be a pandas Series (one strategy) or DataFrame "
            f"(one column per strategy); got {type(returns).__name__}."
        )
    arrays: list[Float64Array] = []
    for col in frame.columns:
        series = frame[col]
        if not pd.api.types.is_numeric_dtype(series.dtype):
            raise ParameterError(
                f"returns passed to {func} must be numeric; column {col!r} has dtype "
                f"{series.dtype}. Convert it with pd.to_numeric."
            )
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        if np.isinf(values).any():
            raise ParameterError(
                f"returns passed to {func} has an infinite value in column {col!r}; "
                "fix the input data."
            )
        values = values[~np.isnan(values)]
        if len(values) < MIN_OBSERVATIONS:
            where = "" if is_series else f" in column {col!r}"
            raise ParameterError(
                f"returns passed to {func} needs at least {MIN_OBSERVATIONS} non-NaN "
                f"returns{where}; got {len(values)}. Use a longer track record."
            )
        arrays.append(values)
    if not arrays:
        raise ParameterError(f"returns passed to {func} has no columns.")
    return arrays, list(frame.columns), is_series


def _moments(r: Float64Array) -> tuple[float, float, float]:
    # Per-period Sharpe (ddof=1), population skewness and non-excess kurtosis.
    mean = float(r.mean())
    centered = r - mean
    m2 = float(np.mean(centered**2))
    if m2 == 0.0:
        return math.nan, math.nan, math.nan
    sd = float(np.std(r, ddof=1))
    skew = float(np.mean(centered**3)) / m2**1.5
    kurt = float(np.mean(centered**4)) / m2**2
    return mean / sd, skew, kurt


def _psr(sharpe: float, benchmark: float, n_obs: int, skew: float, kurtosis: float) -> float:
    # PSR from the moments (per-period Sharpe ratios); NaN when undefined.
    var_term = 1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    if not math.isfinite(sharpe) or not var_term > 0.0:
        return math.nan
    z = (sharpe - benchmark) * math.sqrt(n_obs - 1) / math.sqrt(var_term)
    return float(_ndtr(z))


def _psr_of_returns(returns: Any, benchmark: float, func: str) -> float | pd.Series:
    arrays, columns, is_series = _return_columns(returns, func)
    values = []
    for r in arrays:
        sharpe, skew, kurtosis = _moments(r)
        values.append(_psr(sharpe, benchmark, len(r), skew, kurtosis))
    if is_series:
        return values[0]
    return pd.Series(values, index=pd.Index(columns, name=returns.columns.name), name=func)


def probabilistic_sharpe_ratio(
    returns: pd.Series | pd.DataFrame,
    benchmark_sharpe: float = 0.0,
    periods_per_year: float | None = None,
) -> float | pd.Series:
    r"""Return the probability that the true Sharpe ratio exceeds ``benchmark_sharpe``.

    .. math::

        PSR = \Phi\left(\frac{(\widehat{SR} - SR^*)\sqrt{n - 1}}
              {\sqrt{1 - \gamma_3 \widehat{SR} + \frac{\gamma_4 - 1}{4}\widehat{SR}^2}}\right)

    with :math:`\widehat{SR}` the per-period Sharpe ratio ``mean / std(ddof=1)``,
    :math:`\gamma_3, \gamma_4` the skewness and (non-excess) kurtosis of the returns
    (see the module docstring) and ``n`` the number of non-NaN returns.

    Parameters
    ----------
    returns : Series or DataFrame
        Periodic (excess) returns; NaN rows are dropped per column. At least 3 returns.
    benchmark_sharpe : float, default 0.0
        :math:`SR^*`. In per-period units when ``periods_per_year`` is None; otherwise
        an annualized Sharpe ratio, converted with ``benchmark_sharpe /
        sqrt(periods_per_year)``.
    periods_per_year : float, optional
        Units of ``benchmark_sharpe`` (252 for daily returns, ...). The statistic
        itself never annualizes the observed Sharpe ratio.

    Returns
    -------
    float or Series
        A probability in [0, 1] (a Series per column for a DataFrame); NaN for
        constant returns.

    Examples
    --------
    >>> import pandas as pd
    >>> r = pd.Series([0.02, -0.01, 0.03, 0.0, 0.01, -0.02, 0.025, 0.005])
    >>> round(probabilistic_sharpe_ratio(r), 4)
    0.8581
    >>> round(probabilistic_sharpe_ratio(r, benchmark_sharpe=1.0, periods_per_year=252), 4)
    0.8202
    """
    func = "probabilistic_sharpe_ratio"
    bench = check_real("benchmark_sharpe", benchmark_sharpe, func)
    ppy = _check_periods(periods_per_year, func)
    if ppy is not None:
        bench /= math.sqrt(ppy)
    return _psr_of_returns(returns, bench, func)


def expected_max_sharpe(n_trials: int, sharpe_variance: float) -> float:
    r"""Return the expected maximum Sharpe ratio of ``n_trials`` skill-less trials.

    .. math::

        SR_0 = \sqrt{V}\left((1 - \gamma)\Phi^{-1}\left(1 - \frac{1}{N}\right)
               + \gamma\,\Phi^{-1}\left(1 - \frac{1}{N e}\right)\right)

    with :math:`\gamma` the Euler-Mascheroni constant (Bailey & López de Prado 2014).
    One trial involves no selection: :math:`SR_0 = 0`.

    Parameters
    ----------
    n_trials : int
        Number of independent trials :math:`N` (>= 1).
    sharpe_variance : float
        Variance :math:`V` of the Sharpe ratios across trials (>= 0), in the units
        of the returned value (per period, or annualized when ``V`` is).

    Returns
    -------
    float
        :math:`SR_0`, in the units of ``sqrt(sharpe_variance)``.

    Examples
    --------
    >>> round(expected_max_sharpe(100, 0.5), 4)  # annualized V = 1/2, 100 trials
    1.7894
    >>> expected_max_sharpe(1, 0.5)
    0.0
    """
    func = "expected_max_sharpe"
    ok = isinstance(n_trials, int | np.integer) and not isinstance(n_trials, bool)
    if not ok or n_trials < 1:
        raise ParameterError(
            f"The 'n_trials' parameter of {func} must be an integer >= 1 (the number of "
            f"strategies tried); got {n_trials!r}."
        )
    variance = check_real("sharpe_variance", sharpe_variance, func)
    if variance < 0:
        raise ParameterError(
            f"The 'sharpe_variance' parameter of {func} must be >= 0; got {sharpe_variance!r}."
        )
    n = int(n_trials)
    if n == 1:
        return 0.0
    z = (1.0 - EULER_GAMMA) * _ndtri(1.0 - 1.0 / n) + EULER_GAMMA * _ndtri(1.0 - 1.0 / (n * math.e))
    return math.sqrt(variance) * z


def deflated_sharpe_ratio(
    returns: pd.Series | pd.DataFrame,
    trials_sharpe: Sequence[float] | np.ndarray | pd.Series | None = None,
    n_trials: int | None = None,
    sharpe_variance: float | None = None,
    periods_per_year: float | None = None,
) -> float | pd.Series:
    """Return the PSR of ``returns`` against the expected maximum Sharpe of the trials.

    ``DSR = PSR(SR_0)`` with ``SR_0 = expected_max_sharpe(N, V)``: the probability
    that the selected strategy's true Sharpe ratio beats the best Sharpe ratio that
    ``N`` skill-less trials would produce by chance.

    Parameters
    ----------
    returns : Series or DataFrame
        Periodic (excess) returns of the selected strategy (or one per column).
    trials_sharpe : sequence of float, optional
        The Sharpe ratios of every trial of the search (selected one included):
        ``N = len(trials_sharpe)`` and ``V`` their sample variance (ddof=1).
    n_trials, sharpe_variance : int and float, optional
        ``N`` and ``V`` given directly, instead of ``trials_sharpe``.
    periods_per_year : float, optional
        None: ``trials_sharpe`` / ``sharpe_variance`` are per-period. Otherwise they
        are annualized and converted with ``SR_0 / sqrt(periods_per_year)``.

    Returns
    -------
    float or Series
        A probability in [0, 1]; conventionally significant above 0.95.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> r = pd.Series(np.random.default_rng(0).normal(0.001, 0.01, 1000))
    >>> round(deflated_sharpe_ratio(r, n_trials=1, sharpe_variance=0.0), 4)  # = PSR(0)
    0.9532
    >>> round(deflated_sharpe_ratio(r, n_trials=100, sharpe_variance=0.5,
    ...                             periods_per_year=252), 4)
    0.0303
    """
    func = "deflated_sharpe_ratio"
    ppy = _check_periods(periods_per_year, func)
    if trials_sharpe is not None:
        if n_trials is not None or sharpe_variance is not None:
            raise ParameterError(
                f"{func} takes either 'trials_sharpe' or both 'n_trials' and "
                "'sharpe_variance'; got both. Drop one of them."
            )
        trials = np.asarray(trials_sharpe, dtype="float64").ravel()
        if len(trials) < 2 or not np.isfinite(trials).all():
            raise ParameterError(
                f"The 'trials_sharpe' parameter of {func} must hold at least 2 finite "
                f"Sharpe ratios (one per trial); got {len(trials)} values"
                f"{' with NaN or inf' if len(trials) and not np.isfinite(trials).all() else ''}."
            )
        n, variance = len(trials), float(np.var(trials, ddof=1))
    elif n_trials is None or sharpe_variance is None:
        raise ParameterError(
            f"{func} needs the trials: pass 'trials_sharpe' (the Sharpe ratio of every "
            "trial) or both 'n_trials' and 'sharpe_variance'."
        )
    else:
        n, variance = n_trials, sharpe_variance
    sr0 = expected_max_sharpe(n, variance)
    if ppy is not None:
        sr0 /= math.sqrt(ppy)
    return _psr_of_returns(returns, sr0, func)


@dataclass(frozen=True)
class PBOResult:
    """Outcome of :func:`probability_of_backtest_overfitting`.

    Attributes
    ----------
    pbo : float
        Probability of backtest overfitting: the fraction of combinations whose
        logit is <= 0 (the in-sample best trial ranks in the lower half out of sample).
    logits : numpy.ndarray
        ``ln(w / (1 - w))`` per combination, ``w`` the relative out-of-sample rank.
    relative_rank : numpy.ndarray
        ``w = rank / (N + 1)`` of the in-sample best trial among the out-of-sample
        performances (rank 1 = worst, average ranks for ties).
    best_trial : numpy.ndarray
        Column position of the in-sample best trial, per combination.
    is_performance, oos_performance : numpy.ndarray
        In-sample and out-of-sample performance of that trial, per combination.
    combinations : list of tuple of int
        The blocks (0-based) forming the in-sample half of each combination.
    n_partitions : int
        Number of row blocks ``S``.
    """

    pbo: float
    logits: Float64Array
    relative_rank: Float64Array
    best_trial: np.ndarray
    is_performance: Float64Array
    oos_performance: Float64Array
    combinations: list[tuple[int, ...]]
    n_partitions: int

    @property
    def degradation_slope(self) -> float:
        """Return the slope of the OOS on IS performance regression (least squares)."""
        return float(np.polyfit(self.is_performance, self.oos_performance, 1)[0])

    @property
    def probability_of_loss(self) -> float:
        """Return the fraction of combinations whose selected trial has OOS performance < 0."""
        return float(np.mean(self.oos_performance < 0))


def _trials_matrix(trials_returns: Any, func: str) -> Float64Array:
    if isinstance(trials_returns, pd.DataFrame):
        bad = [
            c for c, dt in trials_returns.dtypes.items() if not pd.api.types.is_numeric_dtype(dt)
        ]
        if bad:
            raise ParameterError(
                f"trials_returns passed to {func} must be numeric; column {bad[0]!r} has dtype "
                f"{trials_returns.dtypes[bad[0]]}."
            )
        values = trials_returns.to_numpy(dtype="float64", na_value=np.nan)
    elif isinstance(trials_returns, np.ndarray):
        values = np.asarray(trials_returns, dtype="float64")
    else:
        raise ParameterError(
            f"trials_returns passed to {func} must be a DataFrame or 2-D array "
            f"(rows: periods, columns: trials); got {type(trials_returns).__name__}."
        )
    if values.ndim != 2 or values.shape[1] < 2:
        raise ParameterError(
            f"trials_returns passed to {func} must be 2-D with at least 2 trials (columns); "
            f"got shape {values.shape}."
        )
    if not np.isfinite(values).all():
        row = int(np.flatnonzero(~np.isfinite(values).all(axis=1))[0])
        raise ParameterError(
            f"trials_returns passed to {func} has NaN or inf (first in row {row}); CSCV needs "
            "a complete matrix. Drop or fill those rows first, e.g. trials_returns.dropna()."
        )
    return values


def _sharpe_of_blocks(
    sums: Float64Array,
    sumsq: Float64Array,
    counts: Float64Array,
    mask: Float64Array,
    means: Float64Array,
) -> Float64Array:
    # Per-period Sharpe ratio (ddof=1) of each trial over the union of the blocks in each
    # mask row, from per-block sums of the returns centered on their full-sample ``means``
    # (centering keeps the sum-of-squares variance free of cancellation).
    n = (mask @ counts)[:, None]
    total = mask @ sums
    centered_mean = total / n
    var = (mask @ sumsq - total * centered_mean) / (n - 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (centered_mean + means) / np.sqrt(np.maximum(var, 0.0))


def _apply_metric(
    metric: Callable[[Float64Array], Float64Array], block: Float64Array, n_trials: int, func: str
) -> Float64Array:
    out = np.asarray(metric(block), dtype="float64").ravel()
    if out.shape != (n_trials,):
        raise ParameterError(
            f"The 'metric' of {func} must return one score per trial ({n_trials}); "
            f"got an array of shape {out.shape}."
        )
    return out


def probability_of_backtest_overfitting(
    trials_returns: pd.DataFrame | np.ndarray,
    n_partitions: int = 16,
    metric: Callable[[Float64Array], Float64Array] | None = None,
) -> PBOResult:
    """Estimate the probability of backtest overfitting by CSCV (Bailey et al. 2015).

    The ``T x N`` matrix of trial returns is split by rows into ``S = n_partitions``
    contiguous blocks (``numpy.array_split``: sizes differ by at most one row). For
    each of the ``C(S, S/2)`` ways to pick half of the blocks as the in-sample set
    (the rest is out of sample), the trial with the best in-sample performance is
    selected, its out-of-sample relative rank ``w = rank / (N + 1)`` computed and
    turned into the logit ``ln(w / (1 - w))``. PBO is the fraction of logits <= 0.

    Parameters
    ----------
    trials_returns : DataFrame or 2-D array
        Rows: periods, columns: trials (strategy configurations). No NaN.
    n_partitions : int, default 16
        Even number of blocks ``S`` >= 2, at most the number of rows / 2.
    metric : callable, optional
        Performance of each trial: maps a ``(rows, N)`` array to ``N`` scores
        (higher is better). Default: the per-period Sharpe ratio ``mean / std(ddof=1)``.

    Returns
    -------
    PBOResult
        ``pbo``, the per-combination ``logits``, IS/OOS performance of the selected
        trial, and ``degradation_slope`` / ``probability_of_loss``.

    Examples
    --------
    >>> import numpy as np
    >>> noise = np.random.default_rng(0).normal(0.0, 0.01, size=(400, 20))
    >>> res = probability_of_backtest_overfitting(noise, n_partitions=8)
    >>> len(res.logits), 0.2 < res.pbo < 0.8
    (70, True)
    """
    func = "probability_of_backtest_overfitting"
    ok = isinstance(n_partitions, int | np.integer) and not isinstance(n_partitions, bool)
    if not ok or n_partitions < 2 or n_partitions % 2:
        raise ParameterError(
            f"The 'n_partitions' parameter of {func} must be an even integer >= 2 "
            f"(e.g. 16); got {n_partitions!r}."
        )
    if metric is not None and not callable(metric):
        raise ParameterError(
            f"The 'metric' parameter of {func} must be a callable mapping a (rows, trials) "
            f"array to one score per trial, or None for the Sharpe ratio; got {metric!r}."
        )
    values = _trials_matrix(trials_returns, func)
    n_rows, n_trials = values.shape
    s = int(n_partitions)
    if n_rows < 2 * s:
        raise ParameterError(
            f"trials_returns passed to {func} has {n_rows} rows, too few for "
            f"n_partitions={s}: each block needs at least 2 rows. Use n_partitions <= "
            f"{max(n_rows // 4 * 2, 2)} or more data."
        )
    blocks = np.array_split(np.arange(n_rows), s)
    combos = list(combinations(range(s), s // 2))
    mask = np.zeros((len(combos), s))
    for i, combo in enumerate(combos):
        mask[i, list(combo)] = 1.0
    if metric is None:
        means = values.mean(axis=0)
        centered = values - means
        sums = np.array([centered[b].sum(axis=0) for b in blocks])
        sumsq = np.array([(centered[b] ** 2).sum(axis=0) for b in blocks])
        counts = np.array([float(len(b)) for b in blocks])
        is_perf = _sharpe_of_blocks(sums, sumsq, counts, mask, means)
        oos_perf = _sharpe_of_blocks(sums, sumsq, counts, 1.0 - mask, means)
    else:
        is_perf = np.empty((len(combos), n_trials))
        oos_perf = np.empty((len(combos), n_trials))
        for i, combo in enumerate(combos):
            inside = np.concatenate([blocks[j] for j in combo])
            outside = np.concatenate([blocks[j] for j in range(s) if j not in combo])
            is_perf[i] = _apply_metric(metric, values[inside], n_trials, func)
            oos_perf[i] = _apply_metric(metric, values[outside], n_trials, func)
    best = np.argmax(np.where(np.isnan(is_perf), -np.inf, is_perf), axis=1)
    rows = np.arange(len(combos))
    oos_best = oos_perf[rows, best]
    below = (oos_perf < oos_best[:, None]).sum(axis=1)
    ties = (oos_perf == oos_best[:, None]).sum(axis=1)
    rank = below + (ties + 1) / 2.0  # average rank, 1 = worst
    w = rank / (n_trials + 1.0)
    logits = np.log(w / (1.0 - w))
    return PBOResult(
        pbo=float(np.mean(logits <= 0.0)),
        logits=logits,
        relative_rank=w,
        best_trial=best,
        is_performance=is_perf[rows, best],
        oos_performance=oos_best,
        combinations=combos,
        n_partitions=s,
    )
