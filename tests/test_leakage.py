"""No look-ahead, in one place: every public feature and signal, truncated at several dates.

The registry is the union of ``qresearch.features.REGISTRY`` and
``qresearch.signals.REGISTRY`` (each lists every public function of its stage; the
stage tests check that nothing public is missing). A function passes when its output
on data cut at a date equals the full-sample output up to that date, exactly, on the
bundled data and on ragged synthetic bars.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

import qresearch.features as qf
import qresearch.signals as qs
from qresearch.data.bars import Bars
from tests.conftest import make_bars

CUTS = ["1996-06-28", "1999-02-26", "2003-06-30", "2009-12-31", "2014-12-30"]

REGISTRY: dict[str, tuple[Callable[..., Any], Callable[[Bars], dict[str, Any]]]] = {
    **{f"features.{name}": entry for name, entry in qf.REGISTRY.items()},
    **{f"signals.{name}": entry for name, entry in qs.REGISTRY.items()},
}


def _truncate(bars: Bars, cut: str) -> Bars:
    return Bars(**{f: getattr(bars, f).loc[:cut] for f in bars.fields})


def test_registry_covers_every_public_feature_and_signal() -> None:
    for module, registry, excluded in (
        (qf, qf.REGISTRY, qf.NOT_FEATURES),
        (qs, qs.REGISTRY, qs.NOT_SIGNALS),
    ):
        public = {n for n in module.__all__ if callable(getattr(module, n))}
        assert public == set(registry) | set(excluded)
    assert len(REGISTRY) == len(qf.REGISTRY) + len(qs.REGISTRY)


@pytest.mark.parametrize("name", sorted(REGISTRY))
@pytest.mark.parametrize("cut", CUTS)
def test_truncation_no_look_ahead(sample_bars: Bars, name: str, cut: str) -> None:
    fn, build = REGISTRY[name]
    full = fn(**build(sample_bars))
    part = fn(**build(_truncate(sample_bars, cut)))
    values = part.to_numpy()
    # Something must be computed before the cut, or the comparison proves nothing.
    assert values.any() if values.dtype == bool else pd.notna(values).any()
    pd.testing.assert_frame_equal(part, full.loc[:cut], check_exact=True)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_truncation_on_ragged_synthetic_bars(name: str) -> None:
    # Late listings and delistings: each symbol's window starts and ends on its own.
    bars = make_bars(260, 6, seed=3, ragged=True)
    fn, build = REGISTRY[name]
    full = fn(**build(bars))
    for cut in bars.index[[40, 97, 150, 201]]:
        part = fn(**build(_truncate(bars, str(cut.date()))))
        pd.testing.assert_frame_equal(part, full.loc[:cut], check_exact=True)


def test_the_truncation_check_catches_a_look_ahead(sample_bars: Bars) -> None:
    # A centred moving average peeks one bar ahead: the check above must fail on it.
    def peeking(close: pd.DataFrame) -> pd.DataFrame:
        return close.rolling(3, center=True).mean()

    full = peeking(sample_bars.close)
    part = peeking(_truncate(sample_bars, CUTS[2]).close)
    with pytest.raises(AssertionError):
        pd.testing.assert_frame_equal(part, full.loc[: CUTS[2]], check_exact=True)
