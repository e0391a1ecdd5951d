"""One name per concept across the public API (README.md, "Vocabulary").

A registry test scans the signature of everything the stage packages export and fails
on a retired name, or on a name used outside the functions it belongs to. Every
deprecated alias still accepted (``qresearch._compat.DEPRECATED``) is tested here:
it gives the same result as the new name, warns, and raises next to the new name.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest

from qresearch import _compat
from qresearch.exceptions import ParameterError, QResearchDeprecationWarning, StrategyError
from tests.conftest import make_bars, make_close

PACKAGES = (
    "features",
    "labels",
    "signals",
    "portfolio",
    "evaluation",
    "backtest",
    "sim",
    "data",
    "model_selection",
    "datasets",
)

# Retired names: each concept has one name now (old -> new in README's Vocabulary).
FORBIDDEN = {
    "annualize": "periods_per_year",
    "target_vol": "target_volatility",
    "max_leverage": "max_gross",
    "risk_free_rate": "risk_free",
    "rolling_window": "window",
}

# Names kept for one kind of function only.
RESERVED = {
    # prices: the engines, which take a close panel or Bars; every other price input is close.
    "prices": {"qresearch.backtest.engine.from_weights", "qresearch.backtest.engine.from_signals"},
    # lookback: rebalance's estimation window (DESIGN.md contract); trailing rows are window.
    "lookback": {"qresearch.portfolio.rebalancing.rebalance"},
    # span: EWM decay only.
    "span": {
        "qresearch.features.technical.ema",
        "qresearch.features.volatility.ewm_volatility",
        "qresearch.labels.barriers.daily_volatility",
    },
}


def _callables(module: ModuleType, seen: set[str]) -> Iterator[tuple[str, Callable[..., Any]]]:
    # Every exported function, class constructor and public method, once; exported
    # submodules (qr.portfolio.risk, ...) are scanned too.
    for name in getattr(module, "__all__", []):
        obj = getattr(module, name)
        if inspect.ismodule(obj):
            if obj.__name__.startswith("qresearch.") and obj.__name__ not in seen:
                seen.add(obj.__name__)
                yield from _callables(obj, seen)
            continue
        if inspect.isclass(obj):
            members = [obj.__init__] if "__init__" in vars(obj) else []
            for attr, value in vars(obj).items():
                if attr.startswith("_"):
                    continue
                value = getattr(value, "__func__", value)  # static/class methods
                if inspect.isfunction(value):
                    members.append(value)
            for func in members:
                key = f"{func.__module__}.{func.__qualname__}"
                if key not in seen:
                    seen.add(key)
                    yield key, func
        elif callable(obj):
            key = f"{getattr(obj, '__module__', module.__name__)}.{getattr(obj, '__qualname__', name)}"
            if key not in seen:
                seen.add(key)
                yield key, obj


def _public_signatures() -> dict[str, list[str]]:
    seen: set[str] = set()
    out: dict[str, list[str]] = {}
    for package in PACKAGES:
        module = importlib.import_module(f"qresearch.{package}")
        for key, func in _callables(module, seen):
            try:
                out[key] = list(inspect.signature(func).parameters)
            except (TypeError, ValueError):  # builtins without a signature
                continue
    return out


SIGNATURES = _public_signatures()


def test_the_scan_covers_the_api() -> None:
    # Guard against a scan that finds nothing and so can never fail.
    assert len(SIGNATURES) > 150
    for key in (
        "qresearch.features.momentum.momentum",
        "qresearch.portfolio.risk.target_volatility",
        "qresearch.portfolio.optimization.optimize",
        "qresearch.sim.context.Context.history",
        "qresearch.data.bars.Bars.__init__",
    ):
        assert key in SIGNATURES, key


def test_no_public_parameter_uses_a_retired_name() -> None:
    bad = [
        f"{key}({name}=...): use {FORBIDDEN[name]!r}"
        for key, params in SIGNATURES.items()
        for name in params
        if name in FORBIDDEN
    ]
    assert not bad, "retired parameter names in the public API:\n" + "\n".join(bad)


@pytest.mark.parametrize("name", sorted(RESERVED))
def test_reserved_names_stay_with_their_functions(name: str) -> None:
    users = {key for key, params in SIGNATURES.items() if name in params}
    assert users == RESERVED[name], f"{name!r} used by {sorted(users - RESERVED[name])}"


def _registered() -> dict[str, dict[str, str]]:
    # The package's deprecated names, without the stand-ins that tests and the
    # _compat doctest decorate.
    return {
        key: renames
        for key, renames in _compat.DEPRECATED.items()
        if key.startswith("qresearch.") and not key.startswith("qresearch._compat.")
    }


def test_deprecated_names_are_gone_from_signatures() -> None:
    # The wrapper shows the function's own signature: new names only.
    assert _registered()
    for key, renames in _registered().items():
        params = SIGNATURES[key]
        for old, new in renames.items():
            assert old not in params, key
            takes_kwargs = key.endswith(".rebalance")  # passes optimize's options on
            assert new in params or takes_kwargs, (key, new)


# ---------------------------------------------------------------- the aliases, one by one
def _close() -> pd.DataFrame:
    return make_close(200, 4, seed=3)


def _returns() -> pd.Series:
    return _close()["S000"].pct_change().dropna()


def _weights() -> pd.DataFrame:
    close = _close()
    w = pd.DataFrame(np.nan, index=close.index, columns=close.columns)
    w.iloc[::20] = 0.25
    return w


def _history(kwargs: dict[str, Any]) -> list[pd.DataFrame]:
    from qresearch.sim import Simulator

    seen: list[pd.DataFrame] = []

    class Look:
        def on_bar(self, ctx: Any) -> None:
            if ctx.i in (2, 10):
                seen.append(ctx.history("close", **kwargs))

    Simulator(make_bars(20, 2, ragged=False), 1e5).run(Look())
    return seen


def _plot(kwargs: dict[str, Any]) -> Any:
    pytest.importorskip("plotly")
    from qresearch.evaluation import plot_performance

    fig = plot_performance(_returns(), **kwargs)
    return pd.Series(fig.data[2].y)  # the rolling Sharpe trace


def _optimize(method: str, **fixed: Any) -> Callable[[dict[str, Any]], pd.Series]:
    def run(kwargs: dict[str, Any]) -> pd.Series:
        from qresearch.portfolio import optimize

        if method == "max_sharpe":
            pytest.importorskip("pypfopt")
        window = _close().iloc[-120:].pct_change().iloc[1:]
        return optimize(window, method, **fixed, **kwargs)

    return run


def _rebalance(kwargs: dict[str, Any]) -> pd.DataFrame:
    from qresearch.portfolio import rebalance

    kwargs = {"close": _close(), **kwargs} if "prices" not in kwargs else kwargs
    return rebalance(every="QE", lookback=40, method="inverse_vol", **kwargs)


def _label(kwargs: dict[str, Any]) -> pd.DataFrame:
    from qresearch.labels import triple_barrier

    return triple_barrier(horizon=5, touch="hl", **kwargs)


def _call(path: str, *args: Any, **fixed: Any) -> Callable[[dict[str, Any]], Any]:
    module, name = path.rsplit(".", 1)

    def run(kwargs: dict[str, Any]) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **fixed, **kwargs)

    return run


# (function as named in the warning, registry key, old, new, value, call(kwargs))
ALIASES: list[tuple[str, str, str, str, Any, Callable[[dict[str, Any]], Any]]] = [
    (
        "momentum",
        "qresearch.features.momentum.momentum",
        "lookback",
        "window",
        30,
        _call("qresearch.features.momentum", _close(), skip=2),
    ),
    (
        "rolling_volatility",
        "qresearch.features.volatility.rolling_volatility",
        "annualize",
        "periods_per_year",
        252,
        _call("qresearch.features.rolling_volatility", _close(), 10),
    ),
    (
        "rolling_sharpe",
        "qresearch.evaluation.plots.rolling_sharpe",
        "rolling_window",
        "window",
        21,
        _call("qresearch.evaluation.rolling_sharpe", _returns()),
    ),
    (
        "plot_performance",
        "qresearch.evaluation.plots.plot_performance",
        "rolling_window",
        "window",
        21,
        _plot,
    ),
    (
        "vol_scaled_weights",
        "qresearch.portfolio.weights.vol_scaled_weights",
        "target_vol",
        "target_volatility",
        0.2,
        _call("qresearch.portfolio.vol_scaled_weights", _close(), window=20),
    ),
    (
        "discrete_allocation",
        "qresearch.portfolio.weights.discrete_allocation",
        "prices",
        "close",
        pd.Series({"A": 30.0, "B": 45.0}),
        _call(
            "qresearch.portfolio.discrete_allocation",
            pd.Series({"A": 0.5, "B": 0.5}),
            capital=1000.0,
        ),
    ),
    (
        "target_volatility",
        "qresearch.portfolio.risk.target_volatility",
        "target_vol",
        "target_volatility",
        0.3,
        _call("qresearch.portfolio.risk.target_volatility", _weights(), _close(), window=30),
    ),
    (
        "target_volatility",
        "qresearch.portfolio.risk.target_volatility",
        "lookback",
        "window",
        30,
        _call("qresearch.portfolio.risk.target_volatility", _weights(), _close(), 0.3),
    ),
    (
        "optimize",
        "qresearch.portfolio.optimization.optimize",
        "max_leverage",
        "max_gross",
        1.5,
        _optimize("inverse_vol", target_volatility=5.0),
    ),
    (
        "optimize",
        "qresearch.portfolio.optimization.optimize",
        "risk_free_rate",
        "risk_free",
        0.05,
        _optimize("max_sharpe"),
    ),
    (
        "rebalance",
        "qresearch.portfolio.rebalancing.rebalance",
        "prices",
        "close",
        _close(),
        _rebalance,
    ),
    (
        "rebalance",
        "qresearch.portfolio.rebalancing.rebalance",
        "max_leverage",
        "max_gross",
        1.5,
        lambda kw: _rebalance({"target_volatility": 5.0, **kw}),
    ),
    (
        "rebalance",
        "qresearch.portfolio.rebalancing.rebalance",
        "risk_free_rate",
        "risk_free",
        0.02,
        _rebalance,
    ),
    (
        "triple_barrier",
        "qresearch.labels.barriers.triple_barrier",
        "prices",
        "close",
        make_bars(80, 3),
        _label,
    ),
    ("Context.history", "qresearch.sim.context.Context.history", "n", "window", 4, _history),
]


def _same(a: Any, b: Any) -> None:
    if isinstance(a, tuple):
        for x, y in zip(a, b, strict=True):
            _same(x, y)
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y)
    elif isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    elif isinstance(a, pd.Series):
        pd.testing.assert_series_equal(a, b)
    else:
        assert a == b


def test_every_deprecated_alias_is_tested() -> None:
    registered = {(key, old) for key, renames in _registered().items() for old in renames}
    assert registered == {(key, old) for _, key, old, *_ in ALIASES}


@pytest.mark.parametrize(
    ("func", "key", "old", "new", "value", "call"),
    ALIASES,
    ids=[f"{a[0]}-{a[2]}" for a in ALIASES],
)
def test_alias_maps_and_warns(
    func: str, key: str, old: str, new: str, value: Any, call: Callable[..., Any]
) -> None:
    expected = call({new: value})
    message = (
        f"The '{old}' parameter of {re.escape(func)} is deprecated and will be removed in "
        f"the next release; use '{new}' instead"
    )
    with pytest.warns(QResearchDeprecationWarning, match=message):
        got = call({old: value})
    _same(got, expected)


@pytest.mark.parametrize(
    ("func", "key", "old", "new", "value", "call"),
    ALIASES,
    ids=[f"{a[0]}-{a[2]}" for a in ALIASES],
)
def test_alias_next_to_the_new_name_raises(
    func: str, key: str, old: str, new: str, value: Any, call: Callable[..., Any]
) -> None:
    error = StrategyError if func == "Context.history" else ParameterError
    with pytest.raises(error, match=rf"{re.escape(func)} got both '{old}' \(deprecated\)"):
        call({old: value, new: value})
