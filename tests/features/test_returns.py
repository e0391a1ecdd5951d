"""Returns and momentum: hand-computed cases and errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from qresearch.exceptions import PanelError, ParameterError
from qresearch.features import momentum, returns

IDX = pd.date_range("2020-01-01", periods=5, name="timestamp")


def _close() -> pd.DataFrame:
    close = pd.DataFrame(
        {"A": [100.0, 110.0, 99.0, 99.0, 198.0], "B": [np.nan, 10.0, 20.0, np.nan, 40.0]},
        index=IDX,
    )
    close.columns.name = "symbol"
    return close


def test_simple_returns_hand_case() -> None:
    out = returns(_close())
    np.testing.assert_allclose(out["A"], [np.nan, 0.1, -0.1, 0.0, 1.0])
    # NaN is never filled: the return into and out of a missing price is NaN
    np.testing.assert_allclose(out["B"], [np.nan, np.nan, 1.0, np.nan, np.nan])
    assert out.index.equals(IDX)
    assert out.columns.name == "symbol"


def test_multi_period_and_log_returns() -> None:
    out = returns(_close(), periods=2, kind="log")
    np.testing.assert_allclose(
        out["A"], [np.nan, np.nan, math.log(0.99), math.log(0.9), math.log(2.0)]
    )
    np.testing.assert_allclose(out["B"], [np.nan, np.nan, np.nan, np.nan, math.log(2.0)])


def test_integer_panel_is_accepted_and_not_mutated() -> None:
    close = pd.DataFrame({"A": [1, 2, 4]}, index=IDX[:3])
    before = close.copy()
    out = returns(close)
    np.testing.assert_allclose(out["A"], [np.nan, 1.0, 1.0])
    pd.testing.assert_frame_equal(close, before)


def test_momentum_hand_case() -> None:
    out = momentum(_close(), window=3, skip=1)
    # t=3: close[2] / close[0] - 1 = -0.01; t=4: close[3] / close[1] - 1 = -0.1
    np.testing.assert_allclose(out["A"], [np.nan, np.nan, np.nan, -0.01, -0.1])
    assert out["B"].isna().all()  # close[3] of B is missing
    np.testing.assert_allclose(momentum(_close(), window=2, skip=0)["B"], [np.nan] * 4 + [1.0])
    no_skip = momentum(_close(), window=4, skip=0)
    assert no_skip["A"].iloc[4] == pytest.approx(0.98)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"periods": 0}, r"'periods' parameter of returns must be an integer >= 1; got 0"),
        ({"periods": -1}, r"got -1 instead"),
        ({"kind": "pct"}, r"'kind' parameter of returns must be one of \['simple', 'log'\]"),
    ],
)
def test_returns_parameter_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        returns(_close(), **kwargs)


def test_momentum_parameter_errors() -> None:
    with pytest.raises(ParameterError, match=r"'skip' .* smaller than 'window'; got skip=5"):
        momentum(_close(), window=5, skip=5)
    with pytest.raises(ParameterError, match=r"'skip' parameter of momentum .* >= 0"):
        momentum(_close(), window=5, skip=-1)


def test_panel_errors() -> None:
    with pytest.raises(PanelError, match=r"close must be a DataFrame .*got a Series"):
        returns(_close()["A"])  # type: ignore[arg-type]
    with pytest.raises(PanelError, match=r"close index is not sorted"):
        returns(_close().iloc[::-1])
    bad = _close().assign(A=list("abcde"))
    with pytest.raises(PanelError, match=r"non-numeric columns \['A'\]"):
        momentum(bad, window=2, skip=0)
