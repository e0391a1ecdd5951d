from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qresearch._validation import (
    check_aligned,
    check_choice,
    check_panel,
    check_same_tz,
    check_symbols,
    to_timestamp,
)
from qresearch.exceptions import AlignmentError, PanelError, ParameterError


def _panel(n: int = 3, cols=("A", "B")) -> pd.DataFrame:
    idx = pd.date_range("2020-01-01", periods=n, name="timestamp")
    return pd.DataFrame(np.arange(n * len(cols), dtype=float).reshape(n, -1), idx, list(cols))


def test_check_panel_returns_input_unchanged() -> None:
    p = _panel()
    assert check_panel(p, "close") is p


def test_check_panel_rejects_series() -> None:
    with pytest.raises(PanelError, match=r"close must be a DataFrame .* got a Series.*to_frame"):
        check_panel(_panel()["A"], "close")


def test_check_panel_rejects_non_frame() -> None:
    with pytest.raises(PanelError, match="close must be a pandas DataFrame .* got ndarray"):
        check_panel(np.zeros((2, 2)), "close")


def test_check_panel_rejects_empty() -> None:
    with pytest.raises(PanelError, match=r"close is empty \(shape \(0, 2\)\)"):
        check_panel(_panel().iloc[:0], "close")
    assert check_panel(_panel().iloc[:0], "close", allow_empty=True).empty


def test_check_panel_rejects_non_datetime_index() -> None:
    with pytest.raises(PanelError, match=r"close must have a DatetimeIndex; got RangeIndex"):
        check_panel(_panel().reset_index(drop=True), "close")


def test_check_panel_rejects_duplicates_naming_the_timestamp() -> None:
    p = _panel()
    p = pd.concat([p, p.iloc[[1]]]).sort_index()
    with pytest.raises(PanelError, match=r"1 duplicated timestamps, first 2020-01-02"):
        check_panel(p, "close")


def test_check_panel_rejects_unsorted_naming_the_pair() -> None:
    p = _panel().iloc[[0, 2, 1]]
    with pytest.raises(PanelError, match=r"not sorted: 2020-01-02 .* after 2020-01-03.*sort_index"):
        check_panel(p, "close")


def test_check_panel_rejects_nat() -> None:
    p = _panel()
    p.index = pd.DatetimeIndex([p.index[0], pd.NaT, p.index[2]])
    with pytest.raises(PanelError, match="NaT in its index"):
        check_panel(p, "close")


def test_check_panel_rejects_duplicate_columns() -> None:
    p = _panel(cols=("A", "A"))
    with pytest.raises(PanelError, match=r"duplicated columns \['A'\]"):
        check_panel(p, "close")


def test_check_panel_rejects_text_columns() -> None:
    p = _panel().astype({"B": object})
    p["B"] = "x"
    with pytest.raises(PanelError, match=r"non-numeric columns \['B'\].*pd.to_numeric"):
        check_panel(p, "close")
    assert check_panel(p, "close", numeric=False) is p


def test_check_aligned_lists_symbols_and_timestamps() -> None:
    a = _panel(3)
    b = _panel(4, cols=("A", "C"))
    with pytest.raises(AlignmentError) as info:
        check_aligned(a, b, "close", "weights")
    msg = str(info.value)
    assert "1 symbols only in close (['B'])" in msg
    assert "1 symbols only in weights (['C'])" in msg
    assert "1 timestamps only in weights (first 2020-01-04" in msg
    assert "Call qr.data.align(close, weights) first." in msg


def test_check_aligned_detects_column_order() -> None:
    a = _panel()
    with pytest.raises(AlignmentError, match="same symbols in a different order"):
        check_aligned(a, a[["B", "A"]], "a", "b")
    check_aligned(a, a.copy(), "a", "b")  # no error


def test_check_same_tz() -> None:
    naive = _panel().index
    aware = naive.tz_localize("UTC")
    check_same_tz([naive, naive], ["a", "b"])
    with pytest.raises(
        PanelError, match=r"Cannot mix tz-aware \(\['b'\]\) and tz-naive \(\['a'\]\)"
    ):
        check_same_tz([naive, aware], ["a", "b"])


def test_check_choice() -> None:
    check_choice("join", "inner", ["inner", "outer"])
    with pytest.raises(ParameterError, match=r"The 'join' parameter of align must be one of"):
        check_choice("join", "left", ["inner", "outer"], "align")


def test_to_timestamp() -> None:
    assert to_timestamp(None, "start") is None
    assert to_timestamp("2020-01-02", "start") == pd.Timestamp("2020-01-02")
    assert to_timestamp("2020-01-02", "start", "UTC") == pd.Timestamp("2020-01-02", tz="UTC")
    naive = to_timestamp(pd.Timestamp("2020-01-02 05:00", tz="US/Eastern"), "start")
    assert naive == pd.Timestamp("2020-01-02 10:00")
    with pytest.raises(ParameterError, match="'start' argument must be a date"):
        to_timestamp("not a date", "start")
    with pytest.raises(ParameterError, match="got NaT"):
        to_timestamp(pd.NaT, "start")


def test_check_symbols() -> None:
    assert check_symbols("A", ["A", "B"], "symbols") == ["A"]
    with pytest.raises(PanelError, match=r"Unknown symbols in symbols: \['Z'\]"):
        check_symbols(["A", "Z"], ["A", "B"], "symbols")


def test_check_number() -> None:
    from qresearch._validation import check_number

    assert check_number("x", 2, "f") == 2.0
    assert check_number("x", 0, "f", strict=False) == 0.0
    for bad in (0, -1, float("nan"), float("inf"), True, "1"):
        with pytest.raises(
            ParameterError, match=r"The 'x' parameter of f must be a finite number > 0"
        ):
            check_number("x", bad, "f")
    with pytest.raises(ParameterError, match=">= 1"):
        check_number("x", 0.5, "f", minimum=1.0, strict=False)
