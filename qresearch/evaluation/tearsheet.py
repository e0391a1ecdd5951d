"""Write quantstats' full HTML tearsheet offline, quietly and atomically.

:func:`write_tearsheet` wraps :func:`quantstats.reports.html` so that it

- never touches the network: the benchmark must be a return Series (quantstats would
  download a ticker string with yfinance);
- leaks no warnings or font-lookup log records from quantstats' dependencies;
- renders with matplotlib's Agg backend and leaves the caller's matplotlib state
  (backend, rcParams, open figures, interactive mode) as it found it, except that
  Agg stays selected when no backend had been chosen yet;
- writes the report through a temporary file in the target folder, so a failure
  leaves no half-written report;
- fixes what quantstats gets wrong on the page: every statistic uses all the dates of
  the returns (quantstats would silently start at the first date on which both the
  strategy and the benchmark moved), and the page says which dates it covers; the
  "EOY Returns vs Benchmark" bars sit on their year labels with pandas 3; the metric
  "CAGR" has no glyph that common fonts lack; an undefined EOY cell shows a dash, not
  "nan"; the EOY table fits its column; the monthly heatmap leaves months without a
  return empty instead of printing 0.00.

quantstats comes with the ``report`` extra (``pip install "qresearch[report]"``) and
is imported when the function is called.
"""

from __future__ import annotations

import calendar
import contextlib
import functools
import html
import logging
import math
import os
import re
import sys
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from qresearch._optional import import_optional
from qresearch._progress import progress_bar
from qresearch._validation import check_periods_per_year
from qresearch.evaluation._quantstats_fast import speed_patches
from qresearch.evaluation.plots import _aligned_benchmark, _returns_series
from qresearch.exceptions import ParameterError

__all__ = ["write_tearsheet"]

# rcParams that quantstats sets when it is first imported (a seaborn theme, Arial).
# qresearch imports it inside rc_context, so the caller's rcParams are restored, and
# re-applies this style only while a tearsheet is drawn.
_QUANTSTATS_STYLE: dict[str, Any] = {}


def _selected_backend(mpl: ModuleType) -> str | None:
    # The chosen matplotlib backend, or None while matplotlib would still pick one.
    try:
        backend = mpl.get_backend(auto_select=False)
    except TypeError:  # matplotlib < 3.10
        backend = mpl.rcParams._get_backend_or_none()
    return None if backend is None else str(backend)


@contextlib.contextmanager
def _offscreen_matplotlib(mpl: ModuleType, plt: ModuleType) -> Iterator[None]:
    # Draw with Agg, non-interactively and without font-lookup log noise; then restore
    # the backend, rcParams, interactive mode and logger, and close the new figures.
    previous = _selected_backend(mpl)
    open_before = set(plt.get_fignums())
    font_logger = logging.getLogger("matplotlib.font_manager")
    font_level = font_logger.level
    font_logger.setLevel(logging.ERROR)  # "findfont: Font family 'Arial' not found."
    try:
        # switch_backend closes every open figure: switch only when none is open. The
        # caller's figures otherwise stay, and ours are drawn on their backend (ioff).
        if previous is None or (previous.lower() != "agg" and not open_before):
            plt.switch_backend("agg")
        with mpl.rc_context(), plt.ioff():
            yield
    finally:
        font_logger.setLevel(font_level)
        for number in set(plt.get_fignums()) - open_before:
            plt.close(number)
        if previous is not None and _selected_backend(mpl) != previous:
            plt.switch_backend(previous)


def _import_quantstats(mpl: ModuleType) -> ModuleType:
    # Import quantstats (inside rc_context) and remember the style its import sets.
    if "quantstats" in sys.modules:
        return import_optional("quantstats", extra="report")
    before = mpl.rcParams.copy()
    quantstats = import_optional("quantstats", extra="report")
    after = mpl.rcParams.copy()
    _QUANTSTATS_STYLE.update(
        {key: after[key] for key in after if key != "backend" and after[key] != before[key]}
    )
    return quantstats


# Characters quantstats writes into the page that common fonts (Arial, Liberation Sans)
# lack: the browser would draw a missing-glyph box. "CAGR\ufe6a%" is its metric key.
_GLYPH_REPLACEMENTS: dict[str, str] = {"\ufe6a": ""}

# CSS appended to quantstats' style: fonts that exist on every platform (DejaVu Sans
# ships with matplotlib and most Linux systems), a dash for undefined EOY cells
# without the "%" quantstats' CSS appends, and an EOY table that fits its 320px column.
_EXTRA_CSS = (
    'body,p,table,td,th{font-family:Arial,"Liberation Sans","DejaVu Sans",Helvetica,'
    "sans-serif}"
    "#eoy table td,#eoy table th{font-size:12px;padding-left:3px;padding-right:3px}"
    "#eoy table th{overflow-wrap:anywhere}"
    '#eoy table td.qr-na:after{content:""}'
    "#qr-coverage{color:#555;margin:6px 0 0}"
)

# Charts in quantstats' full report without a benchmark; a benchmark adds the rolling
# beta and the EOY bars against it (the progress bar's total).
_CHARTS = 12

_NAN_CELL = re.compile(r"<td>\s*-?nan%?\s*</td>", re.IGNORECASE)


def _indexed_by_year(data: Any) -> Any:
    # Year-end values indexed by the year (an integer Index). pandas 3 places the bars
    # of a bar plot on a regular DatetimeIndex at period ordinals (1990 -> 20), even
    # without a freq, while quantstats puts its year labels at 0..n-1; on an integer
    # index the bars sit at 0..n-1 and quantstats labels them with the index itself.
    if isinstance(data, pd.Series | pd.DataFrame) and isinstance(data.index, pd.DatetimeIndex):
        data = data.copy()
        data.index = pd.Index(data.index.year, name="year")
    return data


def _bars_on_their_labels(plot_returns_bars: Callable[..., Any]) -> Any:
    # quantstats' EOY bar chart, fed year-end returns indexed by year: the wrapper does
    # the resampling quantstats would do (it needs the DatetimeIndex) and passes
    # resample=None.
    @functools.wraps(plot_returns_bars)
    def wrapper(returns: Any, benchmark: Any = None, *args: Any, **kwargs: Any) -> Any:
        resample = kwargs.pop("resample", "YE")
        if resample is not None:
            resampled = []
            for data in (returns, benchmark):
                if isinstance(data, pd.Series | pd.DataFrame):
                    # (1 + r).prod() - 1 per bin is quantstats' stats.comp of the bin
                    data = data.add(1).resample(resample).prod().sub(1)
                resampled.append(data)
            returns, benchmark = resampled
        return plot_returns_bars(
            _indexed_by_year(returns), _indexed_by_year(benchmark), *args, resample=None, **kwargs
        )

    return wrapper


def _blank_months_without_returns(monthly_returns: Callable[..., Any]) -> Any:
    # quantstats' monthly table (used only by its heatmaps) with NaN, drawn as an empty
    # cell, for the months without a return: quantstats fills them with 0 ("0.00"
    # before the first and after the last date would read as flat months).
    @functools.wraps(monthly_returns)
    def wrapper(returns: Any, *args: Any, **kwargs: Any) -> Any:
        table = monthly_returns(returns, *args, **kwargs)
        series = returns.iloc[:, 0] if isinstance(returns, pd.DataFrame) else returns
        if not isinstance(getattr(series, "index", None), pd.DatetimeIndex):
            return table
        index = series.dropna().index
        seen = set(zip(index.strftime("%Y"), index.strftime("%b").str.upper(), strict=True))
        months = [m for m in table.columns if str(m).upper() in _MONTH_NAMES]
        empty = pd.DataFrame(
            [[(str(year), str(m).upper()) not in seen for m in months] for year in table.index],
            index=table.index,
            columns=months,
        )
        table = table.copy()
        table[months] = table[months].mask(empty)
        return table

    return wrapper


_MONTH_NAMES = tuple(m.upper() for m in calendar.month_abbr[1:])  # quantstats' columns


@contextlib.contextmanager
def _fixed_quantstats(
    quantstats: ModuleType, on_save: Callable[[], None] | None = None
) -> Iterator[None]:
    # Swap in the fixed EOY bar chart and monthly table, and the fast helpers, while a
    # report is drawn, then put the originals back. A quantstats without these
    # functions is left alone. on_save is called after each chart is saved.
    patches: list[tuple[Any, str, Callable[..., Any], tuple[Any, ...]]] = [
        (quantstats._plotting.core, "plot_returns_bars", _bars_on_their_labels, ()),
        (quantstats.stats, "monthly_returns", _blank_months_without_returns, ()),
    ]
    patches += speed_patches(quantstats, on_save)
    originals: list[tuple[Any, str, Any]] = []
    for module, name, fix, extra in patches:
        original = getattr(module, name, None)
        if original is not None:
            originals.append((module, name, original))
            setattr(module, name, fix(original, *extra))
    try:
        yield
    finally:
        for module, name, original in originals:
            setattr(module, name, original)


def _coverage_note(r: pd.Series, bench: pd.Series | None) -> str:
    # One sentence under the title: which dates every statistic, table and chart uses.
    first, last = r.index[0].strftime("%Y-%m-%d"), r.index[-1].strftime("%Y-%m-%d")
    note = (
        f"Every statistic, table and chart covers all {len(r):,} returns of the strategy, "
        f"from {first} to {last}"
    )
    if bench is not None:
        name = html.escape(str(bench.name))
        note += (
            f", and the benchmark ({name}) is read at exactly these dates (a benchmark "
            "return filled with 0 before the call counts as a flat day). The figures equal "
            "qr.evaluation.stats of the same series; they are not limited to the dates on "
            "which both series moved"
        )
    return f'<p id="qr-coverage">{note}.</p>'


def _fix_html(text: str, note: str) -> str:
    # Post-process quantstats' page: glyphs, undefined EOY cells, CSS, coverage note.
    for bad, good in _GLYPH_REPLACEMENTS.items():
        text = text.replace(bad, good)
    start = text.find('<div id="eoy">')
    end = text.find("</table>", start)
    if start >= 0 and end >= 0:
        eoy = _NAN_CELL.sub('<td class="qr-na">&ndash;</td>', text[start:end])
        text = text[:start] + eoy + text[end:]
    text = text.replace("</style>", _EXTRA_CSS + "</style>", 1)
    head = text.find("</h4>")
    if head >= 0:
        head += len("</h4>")
        text = text[:head] + "\n        " + note + text[head:]
    return text


def _check_periods_per_year(periods_per_year: Any) -> int:
    # quantstats' reports take a whole number of periods per year.
    value = check_periods_per_year(periods_per_year, "write_tearsheet", whole=True)
    return int(value or 0)


def _check_not_prices(r: pd.Series, name: str) -> None:
    # quantstats treats a series with min >= 0 and max > 1 as prices and differences it.
    if len(r) and r.min() >= 0 and r.max() > 1:
        raise ParameterError(
            f"{name} looks like prices, not returns (all >= 0, max {r.max():g}); quantstats "
            "would difference it. Pass simple returns, e.g. prices.pct_change()."
        )


def write_tearsheet(
    returns: pd.Series,
    path: str | os.PathLike[str],
    *,
    benchmark: pd.Series | None = None,
    title: str = "qresearch backtest",
    periods_per_year: int = 252,
    risk_free: float = 0.0,
    progress: bool | None = None,
) -> Path:
    """Write quantstats' full HTML tearsheet of a return series, offline.

    Parameters
    ----------
    returns : pandas.Series
        Simple periodic returns on a sorted DatetimeIndex, e.g.
        ``BacktestResult.returns``. NaN rows are dropped; a tz-aware index is made
        naive in its own time zone (wall-clock dates are kept).
    path : str or os.PathLike
        The HTML file to write; missing parent folders are created and an existing
        file is replaced.
    benchmark : pandas.Series, optional
        Simple returns of a benchmark with a value at every timestamp of
        ``returns`` (read at those timestamps only). A ticker string is refused:
        qresearch never downloads data.
    title : str, default "qresearch backtest"
        Report title (HTML-escaped).
    periods_per_year : int, default 252
        Periods per year: 252 daily, 52 weekly, 12 monthly.
    risk_free : float, default 0.0
        Annual risk-free rate (quantstats ``rf``).
    progress : bool, optional
        A tqdm bar that ticks once per chart (14 with a benchmark, 12 without) and
        once for the page. ``None`` (default) shows it only when stderr is a terminal,
        so papermill and CI logs stay clean; ``True`` always, ``False`` never.

    Returns
    -------
    pathlib.Path
        The path of the written report.

    Raises
    ------
    ParameterError
        For returns that are not a Series on a DatetimeIndex, have fewer than two
        non-NaN values or look like prices; a benchmark that is not a Series; bad
        ``title``, ``periods_per_year`` or ``risk_free``; ``path`` a folder.
    AlignmentError
        When the benchmark misses a timestamp of the returns (the message names it).
    OptionalDependencyError
        When quantstats is not installed (``pip install "qresearch[report]"``).

    Notes
    -----
    quantstats draws with matplotlib. The charts are rendered with the Agg backend
    when no figure is open (the previous backend is restored afterwards); with open
    figures the current backend is kept, non-interactively, and only the figures made
    here are closed. When no backend had been chosen yet (a plain script that has
    not plotted), Agg stays selected, as ``matplotlib.use("Agg")`` would. rcParams,
    warning filters and the interactive mode are restored. The HTML links a favicon
    and quantstats.io, which a browser may fetch when the report is opened.

    Every figure of the page uses all the non-NaN returns (quantstats' ``match_dates``
    is off), so the CAGR, Sharpe and drawdown equal :func:`qresearch.evaluation.stats`
    of the same series; a line under the title names the dates covered. While the
    report is drawn, quantstats' EOY bar chart and monthly table are replaced by fixed
    versions (bars on their year labels with pandas 3, empty heatmap cells for months
    without a return); the originals are put back afterwards.

    Examples
    --------
    >>> from qresearch.datasets import load_sample
    >>> r = load_sample("stocks")["AAPL"].pct_change().loc["2014"]
    >>> write_tearsheet(r, "reports/aapl.html", title="AAPL 2014")  # doctest: +SKIP
    PosixPath('reports/aapl.html')
    """
    if not isinstance(title, str):
        raise ParameterError(f"The 'title' parameter must be a string; got {title!r}.")
    periods = _check_periods_per_year(periods_per_year)
    if isinstance(risk_free, bool) or not (
        isinstance(risk_free, int | float | np.integer | np.floating) and math.isfinite(risk_free)
    ):
        raise ParameterError(
            f"The 'risk_free' parameter must be a finite annual rate such as 0.02; "
            f"got {risk_free!r}."
        )
    r = _returns_series(returns, min_length=2)
    _check_not_prices(r, "returns")
    bench = None
    if benchmark is not None:
        bench = _aligned_benchmark(benchmark, r.index)
        _check_not_prices(bench, "benchmark")
        bench.name = "Benchmark" if bench.name is None else str(bench.name)
    if r.index.tz is not None:
        r = r.tz_localize(None)
        bench = None if bench is None else bench.tz_localize(None)
    out = Path(path)
    if out.is_dir():
        raise ParameterError(f"path {str(out)!r} is a folder; pass a file name such as x.html.")

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        mpl = import_optional("matplotlib", extra="report")
        plt = import_optional("matplotlib.pyplot", extra="report")
        with _offscreen_matplotlib(mpl, plt):
            quantstats = _import_quantstats(mpl)
            mpl.rcParams.update(_QUANTSTATS_STYLE)
            out.parent.mkdir(parents=True, exist_ok=True)
            # A unique name beside the target, so os.replace is atomic and the file
            # gets the usual permissions (mkstemp would create it 0600).
            tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex}.tmp")
            bar = progress_bar(
                _CHARTS + (bench is not None) * 2 + 1, "tearsheet", unit="chart", show=progress
            )
            try:
                with _fixed_quantstats(quantstats, bar.update):
                    quantstats.reports.html(
                        r,
                        benchmark=bench,
                        rf=float(risk_free),
                        title=html.escape(title),
                        output=str(tmp),
                        periods_per_year=periods,
                        download_filename=out.name,
                        strategy_title="Strategy" if r.name is None else str(r.name),
                        match_dates=False,
                    )
                page = tmp.read_text(encoding="utf-8")
                tmp.write_text(_fix_html(page, _coverage_note(r, bench)), encoding="utf-8")
                os.replace(tmp, out)
                bar.update(1)  # the page
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            finally:
                bar.close()
    return out
