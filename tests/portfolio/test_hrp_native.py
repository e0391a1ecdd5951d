"""Native HRP / HERC (qresearch.portfolio._hrp) against riskfolio-lib as the oracle.

``optimize(method="hrp" | "herc")`` computes riskfolio's ``HCPortfolio`` rules with
numpy/scipy; every test here calls riskfolio directly on the same window and asks
for the same weights to 1e-12 (or the same error).
"""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from qresearch.exceptions import OptimizationError
from qresearch.portfolio import _hrp, _riskfolio, rebalance
from qresearch.portfolio.optimization import OPTIMIZE_METHODS, optimize
from qresearch.portfolio.risk_models import covariance

TOL = 1e-12


def riskfolio_weights(
    window: pd.DataFrame,
    model: str,
    *,
    cov: pd.DataFrame | None = None,
    lower: float | pd.Series | None = None,
    upper: float | pd.Series | None = None,
    **opts: Any,
) -> pd.Series:
    """The oracle: rp.HCPortfolio(...).optimization(rm="MV") on the same window."""
    rp = pytest.importorskip("riskfolio")
    kw: dict[str, Any] = {}
    if upper is not None:
        kw["w_max"] = upper
    if lower is not None:
        kw["w_min"] = lower
    options = {"codependence": "pearson", "linkage": "single", "max_k": 10, "leaf_order": True}
    options.update(opts)
    cov = window.cov() if cov is None else cov
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        port = rp.HCPortfolio(returns=window, **kw)
        w = port.optimization(
            model=model, rm="MV", rf=0, method_cov="custom_cov", custom_cov=cov, **options
        )
    return w["weights"].reindex(window.columns).astype("float64")


def native_weights(window: pd.DataFrame, model: str, **opts: Any) -> pd.Series:
    """_hrp.hierarchical on the same window and covariance as the oracle."""
    n = window.shape[1]
    options: dict[str, Any] = {
        "codependence": "pearson",
        "linkage": "single",
        "max_k": 10,
        "leaf_order": True,
    }
    options.update(opts)
    return _hrp.hierarchical(
        window,
        window.cov(),
        model=model,
        lower=np.zeros(n),
        upper=np.ones(n),
        cov_is_sample=True,
        **options,
    )


def assert_same(window: pd.DataFrame, method: str, **opts: Any) -> None:
    """Native weights equal the oracle's, raw and through optimize (or both fail alike)."""
    model = method.upper()
    try:
        peer = riskfolio_weights(window, model, **opts)
    except Exception as exc:  # riskfolio's own failure: the native code fails alike
        with pytest.raises(type(exc), match="^" + re.escape(str(exc)) + "$"):
            native_weights(window, model, **opts)
        with pytest.raises(OptimizationError) as err:
            optimize(window, method, min_observations=2, **opts)
        assert f"the solver raised {type(exc).__name__}: {exc}" in str(err.value)
        return
    raw = native_weights(window, model, **opts)
    np.testing.assert_allclose(raw.to_numpy(), peer.to_numpy(), rtol=0, atol=TOL)
    p = peer.to_numpy()
    if not (np.isfinite(p).all() and abs(p.sum() - 1) <= 1e-6 and p.min() >= -1e-6):
        # riskfolio's weights (HERC on a non-monotonic tree may not sum to 1): optimize
        # refuses them whichever code computed them.
        with pytest.raises(OptimizationError, match="NaN or infinite|summing to"):
            optimize(window, method, min_observations=2, **opts)
        return
    w = optimize(window, method, min_observations=2, **opts)
    assert list(w.index) == list(window.columns)
    np.testing.assert_allclose(w.to_numpy(), p, rtol=0, atol=TOL)


# --- real panels --------------------------------------------------------------------


def real_windows(sample_stocks: pd.DataFrame, lookback: int) -> list[pd.DataFrame]:
    r = sample_stocks.pct_change(fill_method=None)
    out = []
    for end in ("1995-06-30", "2003-12-31", "2009-03-31", "2014-09-30", "2018-04-11"):
        w = r.loc[:end].tail(lookback)
        out.append(w.loc[:, w.notna().all()])
    return out


@pytest.fixture(scope="module")
def windows(sample_stocks: pd.DataFrame) -> list[pd.DataFrame]:
    return real_windows(sample_stocks, 252) + real_windows(sample_stocks, 63)[-2:]


@pytest.mark.parametrize("method", ["hrp", "herc"])
@pytest.mark.parametrize(
    ("linkage", "codependence", "leaf_order"),
    [
        ("single", "pearson", True),
        ("single", "pearson", False),
        ("ward", "pearson", True),
        ("average", "spearman", True),
        ("complete", "abs_pearson", True),
        ("weighted", "abs_spearman", False),
        ("centroid", "pearson", True),
        ("median", "spearman", True),
    ],
)
def test_real_windows_equal_riskfolio(
    windows: list[pd.DataFrame], method: str, linkage: str, codependence: str, leaf_order: bool
) -> None:
    for window in windows:
        assert_same(
            window, method, linkage=linkage, codependence=codependence, leaf_order=leaf_order
        )


@pytest.mark.parametrize("method", ["hrp", "herc"])
def test_kendall_equals_riskfolio(windows: list[pd.DataFrame], method: str) -> None:
    for window in windows[-2:]:
        assert_same(window, method, codependence="kendall", linkage="average")
        assert_same(window, method, codependence="abs_kendall", linkage="single")


@pytest.mark.parametrize("method", ["hrp", "herc"])
@pytest.mark.parametrize("estimator", ["ledoit_wolf", "ewma"])
def test_allocation_uses_the_chosen_covariance(
    windows: list[pd.DataFrame], method: str, estimator: Any
) -> None:
    window = windows[3]
    cov = covariance(window, estimator, ewma_span=30)
    peer = riskfolio_weights(window, method.upper(), cov=cov, linkage="ward")
    w = optimize(window, method, covariance=estimator, ewma_span=30, linkage="ward")
    np.testing.assert_allclose(w.to_numpy(), peer.to_numpy(), rtol=0, atol=TOL)


@pytest.mark.parametrize("method", ["hrp", "herc"])
def test_bounds_equal_riskfolio(windows: list[pd.DataFrame], method: str) -> None:
    window = windows[4]
    n = window.shape[1]
    for lo, hi in ((0.02, 0.09), (0.0, 0.07), (0.03, 1.0)):
        peer = riskfolio_weights(
            window,
            method.upper(),
            lower=pd.Series(lo, index=window.columns) if lo > 0 else None,
            upper=pd.Series(hi, index=window.columns) if hi < 1 else None,
        )
        w = optimize(window, method, bounds=(lo, hi))
        np.testing.assert_allclose(w.to_numpy(), peer.to_numpy(), rtol=0, atol=TOL)
        assert w.min() >= lo - 1e-9 and w.max() <= hi + 1e-9 and n * hi >= 1
    per_symbol = {"AAPL": (0.1, 0.2), "XOM": (0.0, 0.01), "GE": (0.05, 0.06)}
    lower = pd.Series(0.0, index=window.columns)
    upper = pd.Series(1.0, index=window.columns)
    for s, (lo, hi) in per_symbol.items():
        lower[s], upper[s] = lo, hi
    peer = riskfolio_weights(window, method.upper(), lower=lower, upper=upper)
    w = optimize(window, method, bounds=per_symbol)
    np.testing.assert_allclose(w.to_numpy(), peer.to_numpy(), rtol=0, atol=TOL)


def test_upper_bounds_summing_just_under_one_fail_as_before(
    windows: list[pd.DataFrame],
) -> None:
    # Six symbols capped at 1/6: the caps sum to 0.9999999999999999 and riskfolio
    # refuses them; so does the native code (an OptimizationError either way).
    window = windows[0].iloc[:, :6]
    assert np.full(6, 1 / 6).sum() < 1.0
    for method in ("hrp", "hrp_riskfolio", "herc", "herc_riskfolio"):
        with pytest.raises(OptimizationError, match="Sum of upper bounds must be higher"):
            optimize(window, method, bounds=(0.0, 1 / 6))


# --- seeded random data, ties and degenerate windows ---------------------------------


def random_window(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = int(rng.choice([3, 5, 20, 60, 252]))
    n = int(rng.choice([2, 3, 4, 7, 15, 40]))
    factor = rng.normal(0, 0.01, (t, 1)) * rng.uniform(0, 1.5, n)
    x = factor + rng.normal(0, 0.01, (t, n))
    return pd.DataFrame(x, columns=[f"S{i:02d}" for i in range(n)])


def degenerate(window: pd.DataFrame, kind: str) -> pd.DataFrame:
    w = window.copy()
    if kind == "duplicate_last":  # a copy of the first column, far from it
        w["DUP"] = w.iloc[:, 0]
    elif kind == "duplicate_next":  # a copy right after the original
        w.insert(1, "DUP", w.iloc[:, 0])
    elif kind == "three_copies":
        w["C1"] = w.iloc[:, -1]
        w.insert(0, "C0", w.iloc[:, -2])
    elif kind == "scaled":  # perfectly correlated, twice the volatility
        w["TWICE"] = 2.0 * w.iloc[:, 1]
    elif kind == "negated":  # perfectly anti-correlated
        w["NEG"] = -w.iloc[:, 1]
    elif kind == "rounded":  # few distinct values: tied ranks and tied distances
        w = w.round(3)
        w = w.loc[:, w.std() > 0]
    return w


@pytest.mark.parametrize("seed", range(16))
@pytest.mark.parametrize("method", ["hrp", "herc"])
def test_random_windows_equal_riskfolio(seed: int, method: str) -> None:
    window = random_window(seed)
    linkage = ("single", "ward", "average", "complete")[seed % 4]
    for codependence in ("pearson", "spearman", "abs_pearson"):
        assert_same(
            window, method, linkage=linkage, codependence=codependence, leaf_order=seed % 3 > 0
        )


@pytest.mark.parametrize(
    "kind",
    ["duplicate_last", "duplicate_next", "three_copies", "scaled", "negated", "rounded"],
)
@pytest.mark.parametrize("seed", [1, 5, 7, 14])  # 20x7, 60x15, 252x7, 3x15
@pytest.mark.parametrize("method", ["hrp", "herc"])
def test_ties_equal_riskfolio(seed: int, method: str, kind: str) -> None:
    window = degenerate(random_window(seed), kind)
    if window.shape[1] < 2:
        pytest.skip("nothing left to cluster")
    for linkage, codependence in (
        ("single", "pearson"),
        ("average", "spearman"),
        ("ward", "abs_pearson"),
    ):
        assert_same(window, method, linkage=linkage, codependence=codependence)


def test_identical_columns_share_riskfolio_weights(windows: list[pd.DataFrame]) -> None:
    # Two copies of AAPL, far apart in column order: the tie between them is broken
    # the way riskfolio breaks it (its weights for the two copies usually differ).
    window = windows[4].copy()
    window["AAPL2"] = window["AAPL"]
    for method in ("hrp", "herc"):
        assert_same(window, method)
        assert_same(window, method, linkage="ward")


def test_constant_and_short_columns_are_dropped_as_before(windows: list[pd.DataFrame]) -> None:
    window = windows[3].copy()
    window["FLAT"] = 0.0  # no variance: dropped before the solver, weight 0
    window.iloc[:200, 2] = np.nan  # too few returns: dropped
    for method in ("hrp", "herc"):
        w = optimize(window, method)
        assert w.attrs["dropped"] == [window.columns[2], "FLAT"]
        assert w["FLAT"] == 0.0 and w.iloc[2] == 0.0
        kept = window.drop(columns=["FLAT", window.columns[2]])
        peer = riskfolio_weights(kept, method.upper())
        np.testing.assert_allclose(w[kept.columns].to_numpy(), peer.to_numpy(), atol=TOL)
        same = optimize(window, f"{method}_riskfolio")
        np.testing.assert_allclose(w.to_numpy(), same.to_numpy(), rtol=0, atol=TOL)
        assert same.attrs["dropped"] == w.attrs["dropped"]


# --- routing: native by default, riskfolio on request or for other codependences -----


def test_methods_listed() -> None:
    for name in ("hrp", "herc", "hrp_riskfolio", "herc_riskfolio", "hrp_pypfopt"):
        assert name in OPTIMIZE_METHODS


def test_hrp_and_herc_never_call_riskfolio(
    windows: list[pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("riskfolio was called")

    monkeypatch.setattr(_riskfolio, "hierarchical", refuse)
    for method in ("hrp", "herc"):
        for codependence in sorted(_hrp.NATIVE_CODEPENDENCES):
            w = optimize(windows[4], method, codependence=codependence)
            assert np.isclose(w.sum(), 1.0)


@pytest.mark.parametrize("codependence", ["gerber1", "distance"])
def test_other_codependences_go_to_riskfolio(
    windows: list[pd.DataFrame], codependence: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("riskfolio")
    window = windows[4]
    want = optimize(window, "hrp_riskfolio", codependence=codependence)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the native code was called")

    monkeypatch.setattr(_hrp, "hierarchical", refuse)
    w = optimize(window, "hrp", codependence=codependence)
    pd.testing.assert_series_equal(w, want)
    peer = riskfolio_weights(window, "HRP", codependence=codependence)
    np.testing.assert_allclose(w.to_numpy(), peer.to_numpy(), rtol=0, atol=TOL)


def test_riskfolio_methods_equal_native(windows: list[pd.DataFrame]) -> None:
    pytest.importorskip("riskfolio")
    window = windows[2]
    for method in ("hrp", "herc"):
        native = optimize(window, method, linkage="ward", bounds=(0.0, 0.2))
        peer = optimize(window, f"{method}_riskfolio", linkage="ward", bounds=(0.0, 0.2))
        np.testing.assert_allclose(native.to_numpy(), peer.to_numpy(), rtol=0, atol=TOL)
        assert peer.attrs["method"] == f"{method}_riskfolio"


def test_rebalance_hrp_equals_riskfolio(sample_stocks: pd.DataFrame) -> None:
    pytest.importorskip("riskfolio")
    close = sample_stocks.loc["2013":"2015"]
    native = rebalance(close, every="QE", lookback=252, method="hrp")
    peer = rebalance(close, every="QE", lookback=252, method="hrp_riskfolio")
    assert native.notna().any(axis=1).sum() >= 8
    np.testing.assert_allclose(native.to_numpy(), peer.to_numpy(), rtol=0, atol=TOL)


def test_option_errors_are_the_same(windows: list[pd.DataFrame]) -> None:
    from qresearch.exceptions import ParameterError

    for method in ("hrp", "hrp_riskfolio", "herc_riskfolio"):
        with pytest.raises(ParameterError, match="'linkage' parameter"):
            optimize(windows[0], method, linkage="fancy")
        with pytest.raises(ParameterError, match="'max_k' parameter"):
            optimize(windows[0], method, max_k=1)
        with pytest.raises(ParameterError, match=r"unknown option\(s\) \['rm'\]"):
            optimize(windows[0], method, rm="CVaR")


# --- import weight -------------------------------------------------------------------


def test_import_portfolio_is_light_and_hrp_needs_no_riskfolio() -> None:
    code = (
        "import sys\n"
        "import qresearch.portfolio\n"
        "heavy = {'riskfolio', 'pypfopt', 'cvxpy', 'scipy'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n"
        "import numpy as np, pandas as pd\n"
        "x = np.random.default_rng(0).normal(0, 0.01, (100, 6))\n"
        "w = qresearch.portfolio.optimize(pd.DataFrame(x), 'hrp')\n"
        "w = qresearch.portfolio.optimize(pd.DataFrame(x), 'herc')\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, after = out.stdout.strip().splitlines()
    assert before == "[]"
    assert after == "['scipy']"  # the native code needs scipy only
