"""``stats`` computes every column at once and gives today's values.

``metrics._stats_reference`` is the pandas path ``stats`` used before (one pandas
reduction per metric, kept privately as the reference); the vectorized path must give
the same table (labels, object dtype, Python types) with every number equal to
1e-12, for Series and DataFrames, with NaN holes, ragged starts, constant and
all-zero columns and too few returns.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qresearch.evaluation import metrics as m


def _assert_same(got: Any, expected: Any) -> None:
    # Same labels, dtypes and Python types; numbers equal to 1e-12 (NaN == NaN).
    assert type(got) is type(expected)
    if isinstance(expected, pd.DataFrame):
        pd.testing.assert_index_equal(got.index, expected.index, exact=True)
        pd.testing.assert_index_equal(got.columns, expected.columns, exact=True)
        assert all(dt == np.dtype(object) for dt in [*got.dtypes, *expected.dtypes])
        for col in expected.columns:
            _assert_same(got[col], expected[col])
        return
    pd.testing.assert_index_equal(got.index, expected.index, exact=True)
    assert got.name == expected.name and got.dtype == expected.dtype == object
    for key in expected.index:
        a, b = got[key], expected[key]
        assert type(a) is type(b), (key, type(a), type(b))
        if isinstance(b, float) and math.isnan(b):
            assert math.isnan(a), key
        elif isinstance(b, float):
            assert math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0), (key, a, b)
        else:
            assert a == b, key


@st.composite
def return_frames(draw: Any) -> pd.DataFrame:
    n_rows = draw(st.integers(1, 40))
    n_cols = draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    scale = draw(st.sampled_from([1e-4, 0.01, 0.2, 3.0]))
    values = rng.normal(draw(st.floats(-0.01, 0.01)), scale, (n_rows, n_cols))
    values = np.maximum(values, -0.99)
    for j in range(n_cols):
        kind = rng.integers(0, 8)
        if kind == 0:
            values[:, j] = rng.choice([0.0, 0.01, -0.003, 1 / 3])  # no dispersion
        elif kind == 1:
            values[rng.random(n_rows) < 0.3, j] = np.nan  # holes
        elif kind == 2:
            values[: rng.integers(0, n_rows), j] = np.nan  # ragged start
        elif kind == 3:
            values[rng.random(n_rows) < 0.5, j] = 0.0  # zero returns (win rate)
        elif kind == 4:
            values[:, j] = np.round(values[:, j], 2)  # ties at the VaR quantile
        elif kind == 5 and n_rows > 2:
            values[:, j] = np.nan
            values[rng.integers(0, n_rows, 2), j] = 0.02  # one or two returns
    values[0, 0] = values[0, 0] if not np.isnan(values[:, 0]).all() else 0.01
    for j in range(n_cols):
        if np.isnan(values[:, j]).all():
            values[-1, j] = -0.02
    index = (
        pd.date_range("2024-01-01", periods=n_rows, name="timestamp")
        if draw(st.booleans())
        else pd.RangeIndex(n_rows)
    )
    return pd.DataFrame(values, index=index, columns=[f"c{j}" for j in range(n_cols)])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    return_frames(),
    st.sampled_from([252, 52, 12, 1, 365.25]),
    st.sampled_from([0.0, 0.03, -0.5]),
    st.sampled_from([0.95, 0.9, 0.99, 0.5]),
)
def test_frame_stats_equal_the_reference(
    frame: pd.DataFrame, periods: float, risk_free: float, confidence: float
) -> None:
    kw = {"periods_per_year": periods, "risk_free": risk_free, "confidence": confidence}
    table = m.stats(frame, **kw)
    _assert_same(table, m._stats_reference(frame, **kw))
    for col in frame.columns:
        one = m.stats(frame[col], **kw)
        _assert_same(one, m._stats_reference(frame[col], **kw))


def test_bundled_sweep_equals_the_reference(sample_stocks: pd.DataFrame) -> None:
    daily = sample_stocks.pct_change(fill_method=None).iloc[1:]  # ragged listings
    daily = daily.dropna(axis=1, how="all")
    for frame in (daily, daily.loc["2012":].dropna(axis=1)):
        _assert_same(m.stats(frame), m._stats_reference(frame))
        _assert_same(
            m.stats(frame, 12, 0.02, confidence=0.9),
            m._stats_reference(frame, 12, 0.02, confidence=0.9),
        )
    wide = pd.concat({k: daily.loc["2012":].dropna(axis=1) * k for k in (0.5, 1.0, 2.0)}, axis=1)
    _assert_same(m.stats(wide), m._stats_reference(wide))


def test_one_validation_and_one_quantile_per_call(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = pd.DataFrame(np.random.default_rng(0).normal(0, 0.01, (50, 8)))
    frame.iloc[:5, 2] = np.nan
    calls = {"check_returns": 0, "quantile": 0}

    def counted(name: str, func: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return func(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(m, "check_returns", counted("check_returns", m.check_returns))
    monkeypatch.setattr(m, "_quantile_rows", counted("quantile", m._quantile_rows))
    m.stats(frame)
    assert calls == {"check_returns": 1, "quantile": 1}


def test_quantile_equals_numpy_per_column() -> None:
    rng = np.random.default_rng(1)
    x = np.round(rng.normal(0, 1, (7, 31)), 1)  # ties
    x[2, :10] = np.nan
    x[3, ::2] = np.nan
    x[4, 1:] = np.nan  # one value
    nan = np.isnan(x)
    n = (~nan).sum(axis=1)
    for q in (0.0, 0.05, 0.5, 0.51, 0.95, 1.0):
        got = m._quantile_rows(x, nan, n, q)
        expected = [np.quantile(row[~np.isnan(row)], q) for row in x]
        np.testing.assert_array_equal(got, expected)
        full = m._quantile_rows(np.nan_to_num(x), None, np.full(7, 31), q)
        np.testing.assert_array_equal(full, np.quantile(np.nan_to_num(x), q, axis=1))


def test_empty_column_is_still_refused() -> None:
    frame = pd.DataFrame({"a": [0.1, 0.2], "b": [np.nan, np.nan]})
    with pytest.raises(m.ParameterError, match="no non-NaN value in column 'b'"):
        m.stats(frame)
    with pytest.raises(m.ParameterError, match="no non-NaN value"):
        m.stats(pd.Series([], dtype=float))


def test_cagr_beyond_the_float_range_is_inf_without_a_warning() -> None:
    # Three days of +1e6x: (1e18) ** 84 overflows; both paths say inf, and no warning
    # (pytest turns none into an error here, so check explicitly).
    idx = pd.bdate_range("2020-01-01", periods=3)
    frame = pd.DataFrame({"huge": [1e6, 1e6, 1e6], "plain": [0.01, 0.02, -0.01]}, index=idx)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = m.stats(frame)
    assert table.loc["cagr", "huge"] == np.inf
    assert table.loc["cagr", "plain"] == pytest.approx(1.0302**84 * 0.99**84 - 1.0, rel=1e-9)
    _assert_same(table, m._stats_reference(frame))
