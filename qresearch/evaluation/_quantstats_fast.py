"""Faster, output-identical replacements for quantstats' slowest report helpers.

quantstats' full report spends most of its non-drawing time in three helpers that run
a Python function per group:

- ``utils.group_returns(..., compounded=True)`` compounds each month or year with
  ``groupby(...).apply(stats.comp)``;
- ``_compat.safe_resample(data, freq, stats.comp)`` does the same per resampling bin;
- ``stats.drawdown_details`` slices the drawdown series by label once per drawdown
  period (about 1,500 on 15 years of daily data) and takes a pandas quantile of each.

The replacements compute the same numbers with one grouped product
(``(1 + r).groupby(key).prod() - 1`` is ``comp`` of every group) and with positional
numpy slices. They are swapped in only while :func:`qresearch.evaluation.write_tearsheet`
draws a report; tests compare each with the quantstats original on random data.
Inputs outside what the fast path handles (an unsorted or duplicated index, NaN in a
drawdown series) go to the original.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

_DETAIL_COLUMNS = ("start", "valley", "end", "days", "max drawdown", "99% max drawdown")


def fast_group_returns(group_returns: Callable[..., Any]) -> Any:
    """``utils.group_returns`` with the compounded case as one grouped product."""

    @functools.wraps(group_returns)
    def wrapper(returns: Any, groupby: Any, compounded: bool = False) -> Any:
        if not compounded or not isinstance(returns, pd.Series | pd.DataFrame):
            return group_returns(returns, groupby, compounded)
        return returns.add(1).groupby(groupby).prod() - 1

    return wrapper


def fast_safe_resample(safe_resample: Callable[..., Any], comp: Callable[..., Any]) -> Any:
    """``_compat.safe_resample`` with ``func_name=stats.comp`` as a resampled product."""

    @functools.wraps(safe_resample)
    def wrapper(data: Any, freq: Any, func_name: Any = None, **kwargs: Any) -> Any:
        if func_name is comp and not kwargs and isinstance(data, pd.Series | pd.DataFrame):
            return safe_resample(data.add(1), freq, "prod") - 1
        return safe_resample(data, freq, func_name, **kwargs)

    return wrapper


def fast_prepare_benchmark(prepare_benchmark: Callable[..., Any]) -> Any:
    """``utils._prepare_benchmark`` without its set comparison when the indexes are equal.

    quantstats re-aligns the benchmark when ``set(period) != set(benchmark.index)``;
    building two sets of timestamps on every one of its 15 calls costs more than the
    rest of the function. Equal indexes have equal sets, so the alignment is skipped
    exactly when quantstats would skip it.
    """

    @functools.wraps(prepare_benchmark)
    def wrapper(
        benchmark: Any = None, period: Any = "max", rf: Any = 0.0, prepare_returns: bool = True
    ) -> Any:
        if (
            isinstance(period, pd.DatetimeIndex)
            and isinstance(benchmark, pd.Series)
            and benchmark.index.equals(period)
        ):
            period = "max"
        return prepare_benchmark(benchmark, period, rf, prepare_returns)

    return wrapper


class PyplotWithoutRedraw:
    """The pyplot module, except that ``savefig`` does not redraw the figure on screen.

    ``pyplot.savefig`` ends with ``fig.canvas.draw_idle()``, which on the Agg canvas
    renders the whole figure once more after it was saved (a third render of every
    chart: quantstats saves SVG with a tight bounding box, itself two renders). The
    figures of a report are never shown, so quantstats' plotting modules get this
    proxy as their ``_plt`` while a report is drawn.
    """

    def __init__(self, pyplot: ModuleType, on_save: Callable[[], None] | None = None) -> None:
        self._pyplot = pyplot
        self._on_save = on_save

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pyplot, name)

    def savefig(self, *args: Any, **kwargs: Any) -> Any:
        result = self._pyplot.gcf().savefig(*args, **kwargs)
        if self._on_save is not None:
            self._on_save()  # one chart of the report is done (a progress bar ticks)
        return result


def _period_bounds(values: np.ndarray) -> tuple[list[int], list[int]]:
    # quantstats' start and end rules, on positions: a start is a drawdown day after a
    # day without one, an end the last drawdown day before a day without one; a
    # series that begins (ends) in a drawdown gets its first (last) position added.
    no_dd = values == 0
    starts = (np.flatnonzero(~no_dd[1:] & no_dd[:-1]) + 1).tolist()
    ends = np.flatnonzero(no_dd[1:] & ~no_dd[:-1]).tolist()
    if starts:
        if ends and starts[0] > ends[0]:
            starts.insert(0, 0)
        if not ends or starts[-1] > ends[-1]:
            ends.append(len(values) - 1)
    return starts, ends


def _drawdown_periods(drawdown: pd.Series) -> pd.DataFrame | None:
    # The table of one drawdown series, or None when the fast path does not apply.
    index = drawdown.index
    if not (
        isinstance(index, pd.DatetimeIndex) and index.is_unique and index.is_monotonic_increasing
    ):
        return None
    values = drawdown.to_numpy(dtype=float, na_value=np.nan)
    if np.isnan(values).any():
        return None
    starts, ends = _period_bounds(values)
    if not starts:
        return pd.DataFrame(index=[], columns=_DETAIL_COLUMNS)
    if len(starts) != len(ends):
        return None
    data = []
    for start, end in zip(starts, ends, strict=True):
        segment = values[start : end + 1]
        loss = -segment
        # remove_outliers(-dd, 0.99) keeps the losses below their 99% quantile
        # (pandas' linear interpolation, numpy's default); the 99% drawdown is minus
        # the largest of those.
        kept = loss[loss < np.quantile(loss, 0.99)]
        data.append(
            (
                index[start],
                index[start + int(np.argmin(segment))],
                index[end],
                (index[end] - index[start]).days + 1,
                segment.min() * 100,
                -kept.max() * 100 if kept.size else np.nan,
            )
        )
    df = pd.DataFrame(data=data, columns=_DETAIL_COLUMNS)
    df["days"] = df["days"].astype(int)
    df["max drawdown"] = df["max drawdown"].astype(float)
    df["99% max drawdown"] = df["99% max drawdown"].astype(float)
    for column in ("start", "end", "valley"):
        df[column] = df[column].dt.strftime("%Y-%m-%d")
    return df


def fast_drawdown_details(drawdown_details: Callable[..., Any], stats: ModuleType) -> Any:
    """``stats.drawdown_details`` on positional numpy slices, column by column."""

    def one(series: pd.Series) -> pd.DataFrame:
        table = _drawdown_periods(series)
        return drawdown_details(series) if table is None else table

    @functools.wraps(drawdown_details)
    def wrapper(drawdown: Any) -> Any:
        if isinstance(drawdown, pd.DataFrame):
            return stats.safe_concat({col: one(drawdown[col]) for col in drawdown.columns}, axis=1)
        if isinstance(drawdown, pd.Series):
            return one(drawdown)
        return drawdown_details(drawdown)

    return wrapper


def speed_patches(
    quantstats: ModuleType, on_save: Callable[[], None] | None = None
) -> list[tuple[Any, str, Any, tuple[Any, ...]]]:
    """Return (module, name, wrapper factory, extra factory arguments) per fast helper.

    ``safe_resample`` is imported by name into several quantstats modules; each
    binding is replaced. The pyplot proxy replaces the ``_plt`` of the plotting
    modules (only ``savefig`` differs); it calls ``on_save`` after each chart.
    """
    comp = quantstats.stats.comp
    patches: list[tuple[Any, str, Any, tuple[Any, ...]]] = [
        (quantstats.utils, "group_returns", fast_group_returns, ()),
        (quantstats.stats, "drawdown_details", fast_drawdown_details, (quantstats.stats,)),
        (quantstats.utils, "_prepare_benchmark", fast_prepare_benchmark, ()),
    ]
    for plotting in (quantstats._plotting.core, quantstats._plotting.wrappers):
        patches.append((plotting, "_plt", PyplotWithoutRedraw, (on_save,)))
    for name in ("_compat", "stats", "_plotting.core", "_plotting.wrappers"):
        module: Any = quantstats
        for part in name.split("."):
            module = getattr(module, part, None)
        if module is not None:
            patches.append((module, "safe_resample", fast_safe_resample, (comp,)))
    return patches
