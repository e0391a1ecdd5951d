"""Generic checks over every feature in REGISTRY: no look-ahead, no mutation, shape."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import qresearch.features as qf
from qresearch.data.bars import Bars
from qresearch.exceptions import PanelError
from tests.conftest import make_bars


def _symbols(out: pd.DataFrame) -> pd.Index:
    cols = out.columns
    return cols.get_level_values(-1).unique() if isinstance(cols, pd.MultiIndex) else cols


def test_registry_lists_every_public_function() -> None:
    public = {n for n in qf.__all__ if callable(getattr(qf, n))}
    assert public == set(qf.REGISTRY) | set(qf.NOT_FEATURES)
    assert not set(qf.REGISTRY) & set(qf.NOT_FEATURES)
    for name, (fn, _) in qf.REGISTRY.items():
        assert fn is getattr(qf, name)


@pytest.mark.parametrize("name", sorted(qf.REGISTRY))
def test_same_index_and_symbols_and_no_mutation(name: str) -> None:
    bars = make_bars(120, 4, seed=5)
    before = {f: getattr(bars, f).copy(deep=True) for f in bars.fields}
    fn, build = qf.REGISTRY[name]
    kwargs = build(bars)
    originals = {k: copy.deepcopy(v) for k, v in kwargs.items() if not isinstance(v, Bars)}
    out = fn(**kwargs)
    assert isinstance(out, pd.DataFrame)
    assert out.index.equals(bars.index)
    assert list(_symbols(out)) == bars.symbols
    assert (out.dtypes == np.float64).all()
    for f, panel in before.items():
        pd.testing.assert_frame_equal(getattr(bars, f), panel)
    for k, v in originals.items():
        if isinstance(v, pd.DataFrame):
            pd.testing.assert_frame_equal(kwargs[k], v)
        elif isinstance(v, pd.Series):
            pd.testing.assert_series_equal(kwargs[k], v)
        else:
            assert kwargs[k] == v


@pytest.mark.parametrize("name", sorted(qf.REGISTRY))
def test_rejects_a_non_panel_first_argument(name: str) -> None:
    fn, build = qf.REGISTRY[name]
    kwargs = build(make_bars(30, 2))
    first = next(iter(kwargs))
    kwargs[first] = [1.0, 2.0, 3.0]
    with pytest.raises(PanelError, match=r"(DataFrame|Bars|Series)"):
        fn(**kwargs)


@pytest.mark.parametrize("name", ["atr", "adx", "stochastic"])
def test_ohlc_features_explain_that_they_need_bars(name: str) -> None:
    fn = getattr(qf, name)
    with pytest.raises(PanelError, match=r"qresearch.data.Bars; got DataFrame"):
        fn(make_bars(30, 2).close)


def test_import_is_light() -> None:
    code = (
        "import sys, json\nimport qresearch.features\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = set(json.loads(out.strip().splitlines()[-1]))
    assert not loaded & {"numba", "scipy", "statsmodels", "sklearn"}
