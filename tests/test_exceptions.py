from __future__ import annotations

import pytest

import qresearch.exceptions as exc
from qresearch._optional import import_optional


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (exc.PanelError, ValueError),
        (exc.AlignmentError, ValueError),
        (exc.ParameterError, ValueError),
        (exc.DataValidationError, ValueError),
        (exc.DatasetNotFoundError, ValueError),
        (exc.IngestError, ValueError),
        (exc.LakeError, RuntimeError),
        (exc.CalendarError, ValueError),
        (exc.ConfigError, ValueError),
        (exc.OptimizationError, RuntimeError),
        (exc.OptionalDependencyError, ImportError),
        (exc.StrategyError, RuntimeError),
        (exc.RunError, RuntimeError),
    ],
)
def test_every_error_is_a_qresearch_error_and_a_builtin(cls: type, builtin: type) -> None:
    assert issubclass(cls, exc.QResearchError)
    assert issubclass(cls, builtin)


def test_alignment_error_is_a_panel_error() -> None:
    assert issubclass(exc.AlignmentError, exc.PanelError)


def test_data_quality_warning_is_a_user_warning() -> None:
    assert issubclass(exc.DataQualityWarning, exc.QResearchWarning)
    assert issubclass(exc.CacheWarning, exc.QResearchWarning)
    assert issubclass(exc.QResearchWarning, UserWarning)


def test_data_validation_error_carries_report() -> None:
    err = exc.DataValidationError("bad", report=[1, 2])
    assert err.report == [1, 2]
    assert str(err) == "bad"


def test_import_optional_names_the_extra_for_a_known_module(monkeypatch) -> None:
    import sys

    # A None entry in sys.modules makes `import quantstats` raise ImportError.
    monkeypatch.setitem(sys.modules, "quantstats", None)
    with pytest.raises(exc.OptionalDependencyError, match=r'pip install "qresearch\[report\]"'):
        import_optional("quantstats")


def test_import_optional_unknown_module_suggests_plain_pip() -> None:
    with pytest.raises(exc.OptionalDependencyError, match="pip install no_such_module_xyz"):
        import_optional("no_such_module_xyz")


def test_import_optional_explicit_extra() -> None:
    with pytest.raises(exc.OptionalDependencyError, match=r"qresearch\[live\]"):
        import_optional("no_such_module_xyz.sub", extra="live")


def test_import_optional_returns_module() -> None:
    import json

    assert import_optional("json") is json
