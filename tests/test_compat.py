"""The deprecated-parameter mechanism (qresearch/_compat.py) on stand-in functions."""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import pytest

from qresearch import _compat
from qresearch._compat import deprecation_message, renamed_parameters
from qresearch.exceptions import ParameterError, QResearchDeprecationWarning, QResearchWarning
from tests.test_import import HEAVY, _loaded_after


@renamed_parameters(lookback="window", annualize="periods_per_year")
def trailing_mean(
    values: list[float], window: int = 2, *, periods_per_year: float | None = None
) -> float:
    """Mean of the last ``window`` values (times ``periods_per_year`` when given)."""
    out = sum(values[-window:]) / window
    return out if periods_per_year is None else out * periods_per_year


class Holder:
    @renamed_parameters(n="window")
    def last(self, field: str, window: int) -> tuple[str, int]:
        return field, window


MESSAGE = (
    r"The 'lookback' parameter of trailing_mean is deprecated and will be removed in the "
    r"next release; use 'window' instead: trailing_mean\(\.\.\., window=\.\.\.\)\."
)


def test_old_keyword_maps_to_the_new_one_and_warns() -> None:
    with pytest.warns(QResearchDeprecationWarning, match=MESSAGE):
        assert trailing_mean([1.0, 2.0, 3.0, 4.0], lookback=4) == 2.5
    with pytest.warns(QResearchDeprecationWarning, match="'annualize' parameter of trailing_mean"):
        assert trailing_mean([1.0, 3.0], annualize=12) == 24.0
    with pytest.warns(QResearchDeprecationWarning, match="'n' parameter of Holder.last"):
        assert Holder().last("close", n=5) == ("close", 5)


def test_new_names_do_not_warn() -> None:
    # pytest turns qresearch warnings into errors: any warning here fails the test.
    assert trailing_mean([1.0, 2.0, 3.0, 4.0], window=4, periods_per_year=2) == 5.0
    assert trailing_mean([1.0, 2.0, 3.0, 4.0], 4) == 2.5
    assert Holder().last("close", 3) == ("close", 3)


@pytest.mark.parametrize(
    "call",
    [
        lambda: trailing_mean([1.0, 2.0], lookback=2, window=2),
        lambda: trailing_mean([1.0, 2.0], 2, lookback=2),  # the new one by position
        lambda: trailing_mean([1.0, 2.0], annualize=1, periods_per_year=1),
        lambda: Holder().last("close", 3, n=3),
    ],
)
def test_both_names_raise(call: Any) -> None:
    with pytest.raises(ParameterError, match=r"got both '\w+' \(deprecated\) and '\w+'"):
        call()


def test_the_warning_points_at_the_caller() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trailing_mean([1.0, 2.0], lookback=2)
    assert len(caught) == 1
    assert caught[0].filename == __file__


def test_signature_name_and_doc_are_the_function_s_own() -> None:
    sig = inspect.signature(trailing_mean)
    assert list(sig.parameters) == ["values", "window", "periods_per_year"]
    assert trailing_mean.__name__ == "trailing_mean"
    assert trailing_mean.__doc__ is not None and "window" in trailing_mean.__doc__
    assert list(inspect.signature(Holder.last).parameters) == ["self", "field", "window"]


def test_names_are_registered() -> None:
    assert _compat.DEPRECATED[f"{__name__}.trailing_mean"] == {
        "lookback": "window",
        "annualize": "periods_per_year",
    }
    assert _compat.DEPRECATED[f"{__name__}.Holder.last"] == {"n": "window"}


def test_declaration_errors_are_caught_at_definition() -> None:
    with pytest.raises(TypeError, match="still has the deprecated parameter 'lookback'"):

        @renamed_parameters(lookback="window")
        def both(window: int, lookback: int) -> None: ...

    with pytest.raises(TypeError, match="has no parameter 'window'"):

        @renamed_parameters(lookback="window")
        def neither(span: int) -> None: ...


def test_options_passed_on_through_kwargs_can_be_renamed() -> None:
    @renamed_parameters(max_leverage="max_gross")
    def forward(**options: Any) -> dict[str, Any]:
        return options

    with pytest.warns(QResearchDeprecationWarning, match="'max_leverage' parameter of"):
        assert forward(max_leverage=2.0) == {"max_gross": 2.0}
    with pytest.raises(ParameterError, match="got both"):
        forward(max_leverage=2.0, max_gross=2.0)


def test_warning_class() -> None:
    assert issubclass(QResearchDeprecationWarning, QResearchWarning)
    assert issubclass(QResearchDeprecationWarning, DeprecationWarning)
    text = deprecation_message("f", "old", "new")
    assert "f" in text and "'old'" in text and "'new'" in text and "next release" in text


def test_compat_imports_nothing_heavy() -> None:
    loaded = _loaded_after("import qresearch._compat")
    assert not loaded & (HEAVY | {"pandas", "numpy", "duckdb", "pyarrow"})
