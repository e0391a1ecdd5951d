"""Walk-forward, point-in-time target weights: ``rebalance``."""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qresearch._validation import check_aligned, check_panel
from qresearch.data.bars import Bars
from qresearch.data.calendar import Period, rebalance_dates
from qresearch.exceptions import ParameterError

__all__ = ["CLOSED_FORM_METHODS", "rebalance"]

CLOSED_FORM_METHODS: tuple[str, ...] = ("equal", "inverse_vol")


def _closed_form(returns: pd.DataFrame, method: str) -> pd.Series:
    # Equal or inverse-volatility weights over the window's columns.
    if method == "equal":
        return pd.Series(1.0 / returns.shape[1], index=returns.columns, name="weights")
    vol = returns.std(ddof=1)
    inv = (1.0 / vol).where(vol > 0, 0.0)
    if inv.sum() == 0:
        return pd.Series(1.0 / returns.shape[1], index=returns.columns, name="weights")
    return (inv / inv.sum()).rename("weights")


# What optimize records on a date's weights, kept per date in ``rebalance(...).attrs``.
RECORDED = ("fallback", "dropped", "notes")


def _solve(
    returns: pd.DataFrame, method: str, date: Any, previous: pd.Series | None, kwargs: dict
) -> pd.Series:
    # Weights of one rebalance date (module-level so process pools can pickle it).
    # With optimizer options (bounds, target_volatility, ...) every method, closed
    # forms and single symbols included, goes through optimize so the options apply.
    if returns.shape[1] == 1 and not kwargs:
        return pd.Series(1.0, index=returns.columns, name="weights")
    if method in CLOSED_FORM_METHODS and not kwargs:
        return _closed_form(returns, method)
    from qresearch.portfolio.optimization import optimize

    if "min_observations" not in kwargs:
        # Every symbol passed the eligibility rule of rebalance: optimize keeps them all.
        kwargs = {**kwargs, "min_observations": max(2, int(returns.notna().sum().min()))}
    return optimize(returns, method, date=date, previous=previous, **kwargs)


def _cache_key(returns: pd.DataFrame, method: str, kwargs: dict) -> str:
    # Content hash of the solver inputs: window values, symbols, method, options.
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(returns.to_numpy(dtype=np.float64)).tobytes())
    h.update(json.dumps([list(map(str, returns.columns)), method], default=str).encode())
    h.update(json.dumps(kwargs, sort_keys=True, default=repr).encode())
    return h.hexdigest()[:32]


def rebalance(
    prices: pd.DataFrame | Bars,
    scores: pd.DataFrame | None = None,
    *,
    every: Period | int = "ME",
    lookback: int = 252,
    method: str = "inverse_vol",
    universe: pd.DataFrame | None = None,
    top_n: int | None = None,
    n_jobs: int = 1,
    cache_dir: str | Path | None = None,
    min_history: float = 1.0,
    **optimize_kwargs: Any,
) -> pd.DataFrame:
    """Compute walk-forward target weights, each from data up to its rebalance date.

    Parameters
    ----------
    prices : DataFrame or Bars
        Close panel (Bars: their close).
    scores : DataFrame, optional
        Higher is better; with ``top_n`` only the ``top_n`` best-scored eligible
        symbols of each date are held. Aligned with ``prices``.
    every : str or int, default "ME"
        Rebalance calendar, as :func:`qresearch.data.rebalance_dates`: ``"ME"`` /
        ``"month_end"``, ``"W"`` / ``"week_end"``, ``"QE"``, ``"YE"``, or every n bars.
    lookback : int, default 252
        Bars of simple returns in each estimation window (ending at the date).
    method : str, default "inverse_vol"
        ``"equal"``, ``"inverse_vol"``, or an optimizer method of
        :func:`qresearch.portfolio.optimize` (``"hrp"``, ``"max_sharpe"``,
        ``"min_volatility"``, ``"risk_parity"``, ...), which receives
        ``optimize_kwargs``, the date and the previous weights.
    universe : DataFrame of bool, optional
        Symbols allowed on each date (e.g. index membership), aligned with ``prices``.
    top_n : int, optional
        Hold only the ``top_n`` highest ``scores`` among eligible symbols.
    n_jobs : int, default 1
        Solve dates in parallel processes (spawned). Ignored when a date depends on
        the previous solution (``max_turnover`` or ``fallback="previous"``): those
        dates are solved in order, and the previous weights are part of the cache key.
    cache_dir : str or Path, optional
        Keep each date's solution in this folder, keyed by a hash of its inputs
        (window, symbols, method, options); a re-run with the same inputs reads
        them instead of solving again.
    min_history : float, default 1.0
        Fraction of the ``lookback`` window a symbol must have prices for (all of it
        by default) to be eligible; missing returns inside the window are not filled.

    Returns
    -------
    DataFrame
        Target weights decided at the close of each rebalance date (0 for symbols not
        held), NaN on every other row ("hold": the backtest trades only on
        rebalance rows). Same index and columns as ``prices``. ``attrs["fallback"]``,
        ``attrs["dropped"]`` and ``attrs["notes"]`` map each rebalance date on which
        :func:`qresearch.portfolio.optimize` used its fallback, dropped symbols from the
        window or adjusted a solution to the constraints to that record (also when the
        date was read from the cache).

    Notes
    -----
    Point in time: the weights of date t use prices up to and including t only
    (scores and universe at t too); symbols not yet listed, or without a full
    window, get no weight. Dates with no eligible symbol stay NaN. Feed the result to
    :func:`qresearch.backtest.from_weights`, which applies the execution lag.

    Examples
    --------
    >>> import qresearch.api as qr
    >>> close = qr.datasets.load_sample("stocks").loc["2010":"2012"]
    >>> w = rebalance(close, every="ME", lookback=63, method="inverse_vol")
    >>> bool(w.dropna(how="all").sum(axis=1).round(12).eq(1.0).all())
    True
    """
    close = prices.close if isinstance(prices, Bars) else check_panel(prices, "prices")
    clash = sorted({"previous", "date"} & set(optimize_kwargs))
    if clash:
        raise ParameterError(
            f"rebalance got {clash}: it passes each date and the previous solution to "
            "optimize itself. Drop them (use max_turnover or fallback='previous' to make "
            "a date depend on the previous weights)."
        )
    if not (isinstance(lookback, int) and not isinstance(lookback, bool) and lookback >= 2):
        raise ParameterError(
            f"The 'lookback' parameter of rebalance must be an int >= 2; got {lookback!r}."
        )
    if not (isinstance(n_jobs, int) and n_jobs >= 1):
        raise ParameterError(
            f"The 'n_jobs' parameter of rebalance must be an int >= 1; got {n_jobs!r}."
        )
    if not (isinstance(min_history, int | float) and 0 < min_history <= 1):
        raise ParameterError(
            f"The 'min_history' parameter of rebalance must be in (0, 1]; got {min_history!r}."
        )
    if top_n is not None:
        if scores is None:
            raise ParameterError("top_n needs scores: pass scores=... (higher is better).")
        if not (isinstance(top_n, int) and top_n >= 1):
            raise ParameterError(
                f"The 'top_n' parameter of rebalance must be an int >= 1; got {top_n!r}."
            )
    if scores is not None:
        check_panel(scores, "scores")
        check_aligned(close, scores, "prices", "scores")
    if universe is not None:
        check_panel(universe, "universe")
        check_aligned(close, universe, "prices", "universe")
    sequential = (
        optimize_kwargs.get("max_turnover") is not None
        or optimize_kwargs.get("fallback") == "previous"
    )

    dates = rebalance_dates(close.index, every=every)
    returns = close.pct_change(fill_method=None)
    need = math.ceil(min_history * lookback)
    jobs: list[tuple[Any, pd.DataFrame]] = []
    for t in dates:
        pos = close.index.get_loc(t)
        if pos < lookback:
            continue
        window = returns.iloc[pos - lookback + 1 : pos + 1]
        eligible = close.loc[t].notna() & (window.notna().sum() >= need)
        if universe is not None:
            eligible &= universe.loc[t].fillna(False).astype(bool)
        if scores is not None:
            eligible &= scores.loc[t].notna()
            if top_n is not None:
                ranked = scores.loc[t].where(eligible).rank(ascending=False, method="first")
                eligible &= ranked <= top_n
        cols = list(close.columns[eligible.to_numpy()])
        if cols:
            jobs.append((t, window[cols].dropna(how="any") if need == lookback else window[cols]))

    cache = Path(cache_dir) if cache_dir is not None else None
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
    out = pd.DataFrame(np.nan, index=close.index, columns=close.columns)
    solutions: dict[Any, pd.Series] = {}

    by_name = {str(c): c for c in close.columns}

    def cached(key: str) -> pd.Series | None:
        hit = cache / f"{key}.json" if cache is not None else None
        if hit is None or not hit.exists():
            return None
        entry = json.loads(hit.read_text())
        # JSON keys are strings: map them back to the panel's symbols (e.g. int PERMNOs).
        w = pd.Series(
            {by_name[k]: v for k, v in entry["weights"].items()}, name="weights", dtype="float64"
        )
        w.attrs.update(entry["attrs"])
        return w

    def store(t: Any, key: str, w: pd.Series) -> None:
        # Keep one date's solution (with its record), and cache it atomically.
        solutions[t] = w
        if cache is not None:
            entry = {
                "weights": {str(k): float(v) for k, v in w.items()},
                "attrs": {k: w.attrs[k] for k in RECORDED if w.attrs.get(k)},
            }
            tmp = cache / f".{key}.json.tmp"
            tmp.write_text(json.dumps(entry, default=str))
            tmp.replace(cache / f"{key}.json")

    if sequential:
        # Path-dependent (turnover limit, fallback to the previous weights): solve in date
        # order, each date seeing the previous solution, which is part of its cache key.
        previous: pd.Series | None = None
        for t, window in jobs:
            held = None if previous is None else previous[previous != 0.0]
            extra = {} if held is None else {"previous": {str(k): v for k, v in held.items()}}
            key = _cache_key(window, method, {**optimize_kwargs, **extra})
            w = cached(key)
            if w is None:
                store(t, key, _solve(window, method, t, previous, optimize_kwargs))
            else:
                solutions[t] = w
            previous = solutions[t].reindex(close.columns, fill_value=0.0)
    else:
        todo: list[tuple[Any, pd.DataFrame, str]] = []
        for t, window in jobs:
            key = _cache_key(window, method, optimize_kwargs)
            w = cached(key)
            if w is None:
                todo.append((t, window, key))
            else:
                solutions[t] = w
        if n_jobs > 1 and len(todo) > 1:
            # "spawn", not fork: a forked worker hangs in a solver whose thread pool the
            # parent already started (cvxpy's CLARABEL, used by PyPortfolioOpt, riskfolio).
            spawn = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=n_jobs, mp_context=spawn) as pool:
                futures = [
                    pool.submit(_solve, window, method, t, None, optimize_kwargs)
                    for t, window, _ in todo
                ]
                for (t, _, key), fut in zip(todo, futures, strict=True):
                    store(t, key, fut.result())
        else:
            for t, window, key in todo:
                store(t, key, _solve(window, method, t, None, optimize_kwargs))
    for t, w in solutions.items():
        row = pd.Series(0.0, index=close.columns)
        row[w.index] = w.to_numpy()
        out.loc[t] = row.to_numpy()
    for name in RECORDED:
        out.attrs[name] = {t: w.attrs[name] for t, w in solutions.items() if w.attrs.get(name)}
    return out
