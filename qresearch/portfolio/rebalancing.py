"""Walk-forward, point-in-time target weights: ``rebalance``."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import enum
import hashlib
import json
import math
import multiprocessing
import numbers
import os
import tempfile
import types
import warnings
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qresearch._compat import renamed_parameters
from qresearch._validation import check_aligned, check_panel
from qresearch.data.bars import Bars
from qresearch.data.calendar import Period, rebalance_dates
from qresearch.exceptions import CacheWarning, ParameterError
from qresearch.portfolio.report import RebalanceResult

__all__ = [
    "CLOSED_FORM_METHODS",
    "CacheWarning",
    "RebalanceResult",
    "rebalance",
    "rebalance_result",
]


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


# Bump when the key or the entry format changes: old entries are then never read.
CACHE_VERSION = 2

# Objects whose content cannot be hashed (code, classes): a cache key cannot cover them.
_UNHASHABLE = (
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.ModuleType,
    type,
)


def _feed(h: Any, obj: Any, where: str) -> None:
    # Feed a type-tagged, length-prefixed encoding of obj's whole content into h:
    # arrays by their bytes, Series/DataFrames by values + index + columns, containers
    # element by element (never repr(), which pandas shortens for long objects).
    def tag(kind: str, payload: bytes = b"") -> None:
        h.update(f"{kind}:{len(payload)}:".encode() + payload)

    if obj is None:
        tag("none")
    elif isinstance(obj, bool | np.bool_):
        tag("bool", b"1" if obj else b"0")
    elif isinstance(obj, enum.Enum):
        tag("enum", f"{type(obj).__qualname__}.{obj.name}".encode())
        _feed(h, obj.value, where)
    elif isinstance(obj, numbers.Integral):
        tag("int", str(int(obj)).encode())
    elif isinstance(obj, numbers.Real):
        tag("float", float(obj).hex().encode())
    elif isinstance(obj, str):
        tag("str", obj.encode("utf-8", "surrogatepass"))
    elif isinstance(obj, bytes):
        tag("bytes", obj)
    elif isinstance(obj, pd.Timestamp | pd.Timedelta):
        tag(type(obj).__name__, f"{obj.value}|{getattr(obj, 'tz', None)}".encode())
    elif isinstance(obj, dt.datetime | dt.date | dt.time | dt.timedelta):
        tag(type(obj).__name__, repr(obj).encode())
    elif isinstance(obj, np.datetime64 | np.timedelta64):
        tag(str(obj.dtype), np.asarray(obj).tobytes())
    elif isinstance(obj, pd.DataFrame):
        tag("frame", repr(obj.shape).encode())
        _feed(h, obj.index, f"{where}.index")
        _feed(h, obj.columns, f"{where}.columns")
        dtypes = set(obj.dtypes)
        if len(dtypes) == 1 and isinstance(next(iter(dtypes)), np.dtype):
            _feed_values(h, obj.to_numpy(), where)  # one block (a returns window)
        else:
            for i in range(obj.shape[1]):
                _feed_values(h, obj.iloc[:, i].array, f"{where}[{obj.columns[i]!r}]")
    elif isinstance(obj, pd.Series):
        tag("series")
        _feed(h, obj.name, f"{where}.name")
        _feed(h, obj.index, f"{where}.index")
        _feed_values(h, obj.array, where)
    elif isinstance(obj, pd.MultiIndex):
        tag("multiindex", str(obj.nlevels).encode())
        _feed(h, list(obj.names), f"{where}.names")
        for i in range(obj.nlevels):
            _feed_values(h, obj.get_level_values(i).array, f"{where}.level{i}")
    elif isinstance(obj, pd.Index):
        tag(type(obj).__name__)
        _feed(h, obj.name, f"{where}.name")
        _feed_values(h, obj.array, where)
    elif isinstance(obj, np.ndarray):
        _feed_values(h, obj, where)
    elif isinstance(obj, Mapping):
        tag("dict", str(len(obj)).encode())
        # Order-free: items sorted by the digest of their key.
        items = []
        for k, v in obj.items():
            kh = hashlib.sha256()
            _feed(kh, k, where)
            items.append((kh.digest(), k, v))
        for digest, k, v in sorted(items, key=lambda item: item[0]):
            h.update(digest)
            _feed(h, v, f"{where}[{k!r}]")
    elif isinstance(obj, list | tuple):
        tag(type(obj).__name__, str(len(obj)).encode())
        for i, item in enumerate(obj):
            _feed(h, item, f"{where}[{i}]")
    elif isinstance(obj, set | frozenset):
        digests = []
        for item in obj:
            ih = hashlib.sha256()
            _feed(ih, item, where)
            digests.append(ih.digest())
        tag("set", b"".join(sorted(digests)))
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        tag("dataclass", type(obj).__qualname__.encode())
        _feed(h, {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}, where)
    else:
        kind = "code or a class" if isinstance(obj, _UNHASHABLE) else "an unsupported type"
        raise ParameterError(
            f"rebalance cannot key its cache on {where} ({type(obj).__name__}, "
            f"{kind}): only numbers, strings, dates, arrays, Series, DataFrames and "
            "lists/tuples/dicts/sets of them are hashed by content. Pass a value of "
            "those types, or run without cache_dir."
        )


def _feed_values(h: Any, values: Any, where: str) -> None:
    # An ndarray by dtype, shape and bytes; object and extension arrays element-wise.
    if isinstance(values, np.ndarray) and values.dtype != object:
        data = np.ascontiguousarray(values)
        h.update(f"array:{data.dtype.str}:{data.shape}:".encode())
        h.update(data.tobytes())
        return
    if not isinstance(values, np.ndarray):
        dtype = str(values.dtype)
        values = values.to_numpy() if hasattr(values, "to_numpy") else np.asarray(values)
        if values.dtype != object:
            h.update(f"ext:{dtype}:".encode())
            _feed_values(h, values, where)
            return
        h.update(f"ext:{dtype}:".encode())
    flat = values.ravel(order="C")
    if all(type(item) is str for item in flat):
        # Fast path for symbol labels: lengths, then the UTF-8 bytes.
        encoded = [item.encode("utf-8", "surrogatepass") for item in flat]
        h.update(f"strings:{values.shape}:".encode())
        h.update(np.array([len(e) for e in encoded], dtype=np.int64).tobytes())
        h.update(b"".join(encoded))
        return
    h.update(f"objects:{values.shape}:".encode())
    for i, item in enumerate(flat):
        _feed(h, item, f"{where}[{i}]")


def _cache_key(
    returns: pd.DataFrame,
    method: str,
    kwargs: Mapping[str, Any],
    date: Any = None,
    previous: pd.Series | None = None,
) -> str:
    # Content hash of every input of one date's solve: the window (values, dates and
    # symbols), method, options, date and previous weights.
    h = hashlib.sha256()
    _feed(h, ("qresearch.rebalance", CACHE_VERSION, method), "method")
    _feed(h, returns, "the returns window")
    _feed(h, date, "the rebalance date")
    _feed(h, dict(kwargs), "optimize_kwargs")
    _feed(h, previous, "the previous weights")
    return h.hexdigest()[:32]


def _entry_checksum(body: Mapping[str, Any]) -> str:
    # Integrity check of a cache entry: an edited or truncated entry fails it.
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class _Cache:
    """One folder of per-date solutions, keyed by :func:`_cache_key`.

    Writes go to a unique temporary file in the folder (``tempfile.mkstemp``: never an
    existing path, so never through a planted symlink) and are moved into place with
    ``os.replace``: concurrent runs sharing the folder never see a partial entry.
    Reads check the entry against its request and ignore it, with a
    :class:`CacheWarning`, when it does not match.
    """

    def __init__(self, folder: Path, columns: pd.Index) -> None:
        self.folder = folder
        # JSON keys are strings: map them back to the panel's symbols (e.g. int PERMNOs).
        self.by_name = {str(c): c for c in columns}

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def read(self, key: str, date: Any, window: pd.DataFrame) -> pd.Series | None:
        path = self.path(key)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            self._ignore(path, date, f"it cannot be read ({exc})")
            return None
        try:
            entry = json.loads(text)
        except ValueError as exc:
            self._ignore(path, date, f"it is not valid JSON ({exc})")
            return None
        problem = self._check(entry, key, window)
        if problem:
            self._ignore(path, date, problem)
            return None
        w = pd.Series(
            entry["weights"],
            index=pd.Index([self.by_name[s] for s in entry["symbols"]]),
            name="weights",
            dtype="float64",
        )
        w.attrs.update(entry["attrs"])
        return w

    def _check(self, entry: Any, key: str, window: pd.DataFrame) -> str:
        # Why the entry cannot be the solution of this request ("" when it can).
        fields = {"version", "key", "symbols", "weights", "attrs", "checksum"}
        if not isinstance(entry, dict) or set(entry) != fields:
            return f"it does not have the fields {sorted(fields)}"
        if entry["version"] != CACHE_VERSION or entry["key"] != key:
            return "it was written for another request (version or key differ)"
        body = {k: v for k, v in entry.items() if k != "checksum"}
        if entry["checksum"] != _entry_checksum(body):
            return "its checksum does not match its content (edited or truncated)"
        symbols, weights, attrs = entry["symbols"], entry["weights"], entry["attrs"]
        expected = [str(c) for c in window.columns]
        if (
            not isinstance(symbols, list)
            or symbols[: len(expected)] != expected
            or len(set(symbols)) != len(symbols)
            or not all(s in self.by_name for s in symbols)
        ):
            return f"its symbols do not match the request's {expected[:5]}..."
        if not (
            isinstance(weights, list)
            and len(weights) == len(symbols)
            and all(
                isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                for v in weights
            )
        ):
            return "its weights are not one finite number per symbol"
        if not isinstance(attrs, dict) or not set(attrs) <= set(RECORDED):
            return f"its records are not a mapping of {list(RECORDED)}"
        return ""

    def _ignore(self, path: Path, date: Any, reason: str) -> None:
        warnings.warn(
            f"Ignoring the rebalance cache entry {path} for {date}: {reason}. The date is "
            "solved again and the entry rewritten; delete the cache folder if this repeats.",
            CacheWarning,
            stacklevel=5,
        )

    def write(self, key: str, w: pd.Series) -> None:
        weights = [float(v) for v in w.to_numpy()]
        if not all(math.isfinite(v) for v in weights):
            return  # never cache what a read would refuse
        body = {
            "version": CACHE_VERSION,
            "key": key,
            "symbols": [str(k) for k in w.index],
            "weights": weights,
            "attrs": {k: w.attrs[k] for k in RECORDED if w.attrs.get(k)},
        }
        # Round-trip through JSON first so the checksum covers what a read will see.
        body = json.loads(json.dumps(body, default=str))
        text = json.dumps({**body, "checksum": _entry_checksum(body)})
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{key}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                if hasattr(os, "fchmod"):
                    os.fchmod(fh.fileno(), 0o644)  # mkstemp's 0o600 hides entries from others
                fh.write(text)
            os.replace(tmp, self.path(key))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


@renamed_parameters(prices="close", max_leverage="max_gross", risk_free_rate="risk_free")
def rebalance(
    close: pd.DataFrame | Bars,
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
    progress: bool | None = None,
    **optimize_kwargs: Any,
) -> pd.DataFrame:
    """Compute walk-forward target weights, each from data up to its rebalance date.

    Parameters
    ----------
    close : DataFrame or Bars
        Close panel (Bars: their close). Formerly ``prices`` (deprecated alias,
        removed in the next release).
    scores : DataFrame, optional
        Higher is better; with ``top_n`` only the ``top_n`` best-scored eligible
        symbols of each date are held. Aligned with ``close``.
    every : str or int, default "ME"
        Rebalance calendar, as :func:`qresearch.data.rebalance_dates`: ``"ME"`` /
        ``"month_end"``, ``"W"`` / ``"week_end"``, ``"QE"``, ``"YE"``, or every n bars.
    lookback : int, default 252
        Bars of simple returns in each estimation window (ending at the date).
    method : str, default "inverse_vol"
        ``"equal"``, ``"inverse_vol"``, or an optimizer method of
        :func:`qresearch.portfolio.optimize` (``"hrp"``, ``"max_sharpe"``,
        ``"min_volatility"``, ``"risk_parity"``, ...), which receives
        ``optimize_kwargs``, the date and the previous weights (``max_leverage`` and
        ``risk_free_rate`` among them are deprecated aliases of ``max_gross`` and
        ``risk_free``, removed in the next release).
    universe : DataFrame of bool, optional
        Symbols allowed on each date (e.g. index membership), aligned with ``close``.
    top_n : int, optional
        Hold only the ``top_n`` highest ``scores`` among eligible symbols.
    n_jobs : int, default 1
        Solve dates in parallel processes (spawned). Ignored when a date depends on
        the previous solution (``max_turnover`` or ``fallback="previous"``): those
        dates are solved in order, and the previous weights are part of the cache key.
    cache_dir : str or Path, optional
        Keep each date's solution in this folder, keyed by a content hash of every
        input of the solve: the window (return values, dates and symbols), method,
        date, every option (arrays by their bytes, Series and DataFrames by values,
        index and columns; an option whose content cannot be hashed, such as a
        function, raises :class:`~qresearch.exceptions.ParameterError`) and the
        previous weights. A re-run with the same inputs reads them instead of solving
        again. Runs may share the folder concurrently: each entry is written to a
        unique temporary file and moved into place atomically. An entry that is
        unreadable, not valid JSON, fails its checksum or does not match its request
        (other symbols, non-finite weights) is never used: the date is solved again,
        the entry rewritten and a :class:`CacheWarning` issued.
    min_history : float, default 1.0
        Fraction of the ``lookback`` window a symbol must have prices for (all of it
        by default) to be eligible; missing returns inside the window are not filled.
    progress : bool, optional
        A tqdm bar over the rebalance dates (None: only when stderr is a terminal, so
        papermill and CI logs stay clean).

    Returns
    -------
    DataFrame
        Target weights decided at the close of each rebalance date (0 for symbols not
        held), NaN on every other row ("hold": the backtest trades only on
        rebalance rows). Same index and columns as ``close``. ``attrs["fallback"]``,
        ``attrs["dropped"]`` and ``attrs["notes"]`` map each rebalance date on which
        :func:`qresearch.portfolio.optimize` used its fallback, dropped symbols from the
        window or adjusted a solution to the constraints to that record (also when the
        date was read from the cache). The weight transforms of ``qr.portfolio``
        (``cap_weights``, ``normalize``, ``target_volatility``, ...) carry these attrs
        forward; :func:`rebalance_result` returns them on a :class:`RebalanceResult`.

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
    close = close.close if isinstance(close, Bars) else check_panel(close, "close")
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
        check_aligned(close, scores, "close", "scores")
    if universe is not None:
        check_panel(universe, "universe")
        check_aligned(close, universe, "close", "universe")
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

    cache: _Cache | None = None
    if cache_dir is not None:
        folder = Path(cache_dir)
        folder.mkdir(parents=True, exist_ok=True)
        cache = _Cache(folder, close.columns)
    out = pd.DataFrame(np.nan, index=close.index, columns=close.columns)
    solutions: dict[Any, pd.Series] = {}

    def key_of(t: Any, window: pd.DataFrame, previous: pd.Series | None = None) -> str:
        return "" if cache is None else _cache_key(window, method, optimize_kwargs, t, previous)

    def cached(key: str, t: Any, window: pd.DataFrame) -> pd.Series | None:
        return None if cache is None else cache.read(key, t, window)

    from qresearch._progress import progress_bar

    bar = progress_bar(len(jobs), "rebalance", unit="date", show=progress)

    def store(t: Any, key: str, w: pd.Series) -> None:
        # Keep one date's solution (with its record), and cache it atomically.
        solutions[t] = w
        bar.update(1)
        if cache is not None:
            cache.write(key, w)

    if sequential:
        # Path-dependent (turnover limit, fallback to the previous weights): solve in date
        # order, each date seeing the previous solution, which is part of its cache key.
        previous: pd.Series | None = None
        for t, window in jobs:
            key = key_of(t, window, previous)
            w = cached(key, t, window)
            if w is None:
                store(t, key, _solve(window, method, t, previous, optimize_kwargs))
            else:
                solutions[t] = w
                bar.update(1)
            previous = solutions[t].reindex(close.columns, fill_value=0.0)
    else:
        todo: list[tuple[Any, pd.DataFrame, str]] = []
        for t, window in jobs:
            key = key_of(t, window)
            w = cached(key, t, window)
            if w is None:
                todo.append((t, window, key))
            else:
                solutions[t] = w
                bar.update(1)
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
    bar.close()
    for t, w in solutions.items():
        row = pd.Series(0.0, index=close.columns)
        row[w.index] = w.to_numpy()
        out.loc[t] = row.to_numpy()
    for name in RECORDED:
        out.attrs[name] = {t: w.attrs[name] for t, w in solutions.items() if w.attrs.get(name)}
    return out


def rebalance_result(
    close: pd.DataFrame | Bars, scores: pd.DataFrame | None = None, **kwargs: Any
) -> RebalanceResult:
    """Run :func:`rebalance` and return its weights with the records of every date.

    The same arguments as :func:`rebalance`; the result's ``fallback``, ``dropped`` and
    ``notes`` hold per date what ``rebalance`` otherwise keeps only in
    ``DataFrame.attrs`` (which many pandas operations drop).

    Examples
    --------
    >>> import qresearch.api as qr
    >>> close = qr.datasets.load_sample("stocks").loc["2010":"2011"]
    >>> res = qr.portfolio.rebalance_result(close, every="QE", lookback=63, method="equal")
    >>> len(res.dates), res.fallback
    (7, {})
    """
    return RebalanceResult.from_weights(rebalance(close, scores, **kwargs))
