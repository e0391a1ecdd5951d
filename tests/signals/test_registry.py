"""Generic checks over every signal in REGISTRY: no look-ahead, no mutation, shape."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import qresearch.signals as qs
from qresearch.data.bars import Bars
from qresearch.exceptions import PanelError
from tests.conftest import make_bars

BOOLEAN = {"crossover", "crossunder", "top_n_signals", "bottom_n_signals"}


def test_registry_lists_every_public_function() -> None:
    public = {n for n in qs.__all__ if callable(getattr(qs, n))}
    assert public == set(qs.REGISTRY) | set(qs.NOT_SIGNALS)
    assert not set(qs.REGISTRY) & set(qs.NOT_SIGNALS)
    for name, (fn, _) in qs.REGISTRY.items():
        assert fn is getattr(qs, name)


@pytest.mark.parametrize("name", sorted(qs.REGISTRY))
def test_same_index_and_symbols_and_no_mutation(name: str) -> None:
    bars = make_bars(120, 4, seed=5)
    before = {f: getattr(bars, f).copy(deep=True) for f in bars.fields}
    fn, build = qs.REGISTRY[name]
    kwargs = build(bars)
    originals = {k: copy.deepcopy(v) for k, v in kwargs.items() if not isinstance(v, Bars)}
    out = fn(**kwargs)
    assert isinstance(out, pd.DataFrame)
    assert out.index.equals(bars.index)
    assert list(out.columns) == bars.symbols
    expected_dtype = np.bool_ if name in BOOLEAN else np.float64
    assert (out.dtypes == expected_dtype).all()
    for f, panel in before.items():
        pd.testing.assert_frame_equal(getattr(bars, f), panel)
    for k, v in originals.items():
        if isinstance(v, pd.DataFrame):
            pd.testing.assert_frame_equal(kwargs[k], v)
        elif isinstance(v, dict):
            for key, panel in v.items():
                if isinstance(panel, pd.DataFrame):
                    pd.testing.assert_frame_equal(kwargs[k][key], panel)
                else:
                    assert kwargs[k][key] == panel
        else:
            assert kwargs[k] == v


@pytest.mark.parametrize("name", sorted(qs.REGISTRY))
def test_rejects_a_non_panel_first_argument(name: str) -> None:
    fn, build = qs.REGISTRY[name]
    kwargs = build(make_bars(30, 2))
    first = next(iter(kwargs))
    kwargs[first] = [1.0, 2.0, 3.0]
    with pytest.raises(PanelError, match=r"(DataFrame|Bars|Series)"):
        fn(**kwargs)


def test_import_is_light() -> None:
    code = (
        "import sys, json\nimport qresearch.signals\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = set(json.loads(out.strip().splitlines()[-1]))
    assert not loaded & {"numba", "scipy", "statsmodels", "sklearn"}
