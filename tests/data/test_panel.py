from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qresearch.data.panel import align, fingerprint
from qresearch.exceptions import PanelError, ParameterError


def _p(start: str, n: int, cols: list[str], value: float = 1.0) -> pd.DataFrame:
    idx = pd.date_range(start, periods=n, name="timestamp")
    return pd.DataFrame(value, index=idx, columns=cols)


def test_inner_join_by_hand() -> None:
    a = _p("2020-01-01", 4, ["A", "B"], 1.0)
    b = _p("2020-01-03", 4, ["C", "B"], 2.0)
    x, y = align(a, b)
    assert list(x.index.strftime("%d")) == ["03", "04"] and list(x.columns) == ["B"]
    assert y.equals(pd.DataFrame(2.0, index=x.index, columns=["B"]))


def test_outer_join_fills_nan_keeps_first_order() -> None:
    a = _p("2020-01-01", 2, ["B", "A"], 1.0)
    b = _p("2020-01-02", 2, ["C", "A"], 2.0)
    x, y = align(a, b, join="outer")
    assert list(x.columns) == ["B", "A", "C"] and len(x) == 3
    assert np.isnan(x.loc["2020-01-03", "A"]) and np.isnan(x["C"]).all()
    assert y.loc["2020-01-03", "A"] == 2.0 and np.isnan(y.loc["2020-01-01", "A"])


def test_three_panels_and_no_mutation() -> None:
    a, b, c = _p("2020-01-01", 5, ["A"]), _p("2020-01-02", 5, ["A"]), _p("2020-01-03", 5, ["A"])
    before = a.copy()
    out = align(a, b, c)
    assert len(out) == 3 and all(len(o) == 3 for o in out)
    pd.testing.assert_frame_equal(a, before)


def test_errors() -> None:
    a = _p("2020-01-01", 2, ["A"])
    with pytest.raises(PanelError, match="at least two panels"):
        align(a)
    with pytest.raises(ParameterError, match="'join' parameter of align must be one of"):
        align(a, a, join="left")  # type: ignore[arg-type]
    with pytest.raises(PanelError, match="Cannot mix tz-aware"):
        align(a, a.tz_localize("UTC"))
    with pytest.raises(PanelError, match=r"panels\[1\] must be a pandas DataFrame"):
        align(a, [1, 2])  # type: ignore[arg-type]


def test_fingerprint_sensitive_to_values_index_columns() -> None:
    a = _p("2020-01-01", 3, ["A", "B"])
    assert fingerprint(a) == fingerprint(a.copy())
    assert fingerprint(a) != fingerprint(a.rename(columns={"B": "C"}))
    assert fingerprint(a) != fingerprint(a.shift(1, freq="D"))
    changed = a.copy()
    changed.iloc[1, 1] = 1.0000001
    assert fingerprint(a) != fingerprint(changed)
    assert len(fingerprint(a["A"])) == 16
