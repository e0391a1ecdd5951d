"""Cross-sectional transforms: hand-computed rows, NaN handling, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qresearch.exceptions import ParameterError
from qresearch.features import (
    cross_sectional_demean,
    cross_sectional_rank,
    cross_sectional_zscore,
    neutralize,
    winsorize,
)

NAN = np.nan


def _x() -> pd.DataFrame:
    idx = pd.date_range("2020-01-01", periods=3, name="timestamp")
    x = pd.DataFrame(
        [[3.0, 1.0, NAN, 2.0], [1.0, 1.0, 4.0, NAN], [NAN, NAN, NAN, 5.0]],
        index=idx,
        columns=pd.Index(list("ABCD"), name="symbol"),
    )
    return x


def test_rank_pct_and_raw_with_ties_and_nan() -> None:
    out = cross_sectional_rank(_x())
    np.testing.assert_allclose(out.iloc[0], [1.0, 1 / 3, NAN, 2 / 3])
    np.testing.assert_allclose(out.iloc[1], [0.5, 0.5, 1.0, NAN])
    np.testing.assert_allclose(out.iloc[2], [NAN, NAN, NAN, 1.0])
    raw = cross_sectional_rank(_x(), pct=False)
    np.testing.assert_allclose(raw.iloc[1], [1.5, 1.5, 3.0, NAN])


def test_demean_and_zscore() -> None:
    dm = cross_sectional_demean(_x())
    np.testing.assert_allclose(dm.iloc[0], [1.0, -1.0, NAN, 0.0])
    np.testing.assert_allclose(dm.iloc[1], [-1.0, -1.0, 2.0, NAN])
    np.testing.assert_allclose(dm.iloc[2], [NAN, NAN, NAN, 0.0])
    z = cross_sectional_zscore(_x())
    np.testing.assert_allclose(z.iloc[0], [1.0, -1.0, NAN, 0.0])
    sd = np.std([1.0, 1.0, 4.0], ddof=1)
    np.testing.assert_allclose(z.iloc[1], [-1 / sd, -1 / sd, 2 / sd, NAN])
    assert z.iloc[2].isna().all()  # one value: no dispersion


def test_winsorize_per_row_quantiles() -> None:
    idx = pd.date_range("2020-01-01", periods=2, name="timestamp")
    x = pd.DataFrame(
        [[1.0, 2.0, 3.0, 4.0, 100.0], [-50.0, 0.0, NAN, 1.0, 2.0]], index=idx, columns=list("ABCDE")
    )
    out = winsorize(x, lower=0.25, upper=0.75)
    # row 0: quantiles 2 and 4; row 1 over [-50, 0, 1, 2]: q25 = -12.5, q75 = 1.25
    np.testing.assert_allclose(out.iloc[0], [2.0, 2.0, 3.0, 4.0, 4.0])
    np.testing.assert_allclose(out.iloc[1], [-12.5, 0.0, NAN, 1.0, 1.25])
    np.testing.assert_allclose(winsorize(x, lower=0.0, upper=1.0), x)


def test_neutralize_within_groups() -> None:
    groups = {"A": "tech", "B": "tech", "C": "energy", "D": "energy"}
    out = neutralize(_x(), groups)
    np.testing.assert_allclose(out.iloc[0], [1.0, -1.0, NAN, 0.0])
    np.testing.assert_allclose(out.iloc[1], [0.0, 0.0, 0.0, NAN])
    np.testing.assert_allclose(out.iloc[2], [NAN, NAN, NAN, 0.0])
    assert list(out.columns) == list("ABCD")
    assert out.columns.name == "symbol"


def test_inputs_are_not_mutated() -> None:
    x = _x()
    before = x.copy()
    for fn in (cross_sectional_rank, cross_sectional_zscore, cross_sectional_demean, winsorize):
        fn(x)
    neutralize(x, dict.fromkeys(x.columns, 0))
    pd.testing.assert_frame_equal(x, before)


def test_errors() -> None:
    with pytest.raises(ParameterError, match=r"no group for 2 symbols \['C', 'D'\]"):
        neutralize(_x(), {"A": 1, "B": 1})
    with pytest.raises(ParameterError, match=r"'groups' parameter of neutralize must be a mapping"):
        neutralize(_x(), ["A", "B"])  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"0 <= lower < upper <= 1; got lower=0.9, upper=0.1"):
        winsorize(_x(), lower=0.9, upper=0.1)
    with pytest.raises(ParameterError, match=r"'lower' parameter of winsorize .* got -0.1"):
        winsorize(_x(), lower=-0.1)
    with pytest.raises(ParameterError, match=r"upper <= 1; got lower=0.01, upper=1.5"):
        winsorize(_x(), upper=1.5)
    with pytest.raises(ParameterError, match=r"'pct' parameter of cross_sectional_rank"):
        cross_sectional_rank(_x(), pct="yes")  # type: ignore[arg-type]
