"""Interactive performance charts of a return series (plotly).

:func:`plot_performance` draws one figure with the cumulative growth of 1 (against a
benchmark when given), the drawdown, the rolling Sharpe ratio and a heatmap of
monthly returns. plotly is imported when the function is called, so importing this
module stays light; it comes with the ``report`` extra (``pip install
"qresearch[report]"``).
"""

from __future__ import annotations

import calendar
import math
from typing import TYPE_CHECKING, Any

import pandas as pd

from qresearch._compat import renamed_parameters
from qresearch._optional import import_optional
from qresearch._validation import check_int
from qresearch.evaluation.metrics import _check_periods, _clean, drawdown
from qresearch.exceptions import AlignmentError, ParameterError

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["monthly_returns_table", "plot_performance", "rolling_sharpe"]

_MONTHS = list(calendar.month_abbr)[1:]

# Growth beyond this factor (largest / smallest growth of 1 drawn) switches the growth
# panel to a log axis when log_scale is None: on a linear axis the early years are flat.
LOG_SCALE_GROWTH = 10.0

# Pixel heights of the panels; the heatmap gets a row height at which its 10px cell
# labels and its year labels stay readable.
_GROWTH_PX, _DRAWDOWN_PX, _SHARPE_PX = 420, 190, 190
_HEATMAP_ROW_PX, _HEATMAP_MIN_PX = 22, 160
_SPACING_PX, _MARGIN_TOP_PX, _MARGIN_BOTTOM_PX = 60, 110, 60


def _benchmark_label(strategy_name: str, benchmark_name: Any) -> str:
    # The benchmark's legend name: its Series name when that differs from the
    # strategy's, else "Benchmark" (two traces called "equity" cannot be told apart).
    if benchmark_name is None or str(benchmark_name) == strategy_name:
        return "Benchmark"
    return str(benchmark_name)


def _wants_log_scale(*growth: pd.Series) -> bool:
    # A log axis when the largest growth-of-1 value (over the curves and the starting
    # 1) is more than LOG_SCALE_GROWTH times the smallest and all are positive (a log
    # axis cannot show a total loss).
    values = pd.concat([g.dropna() for g in growth] + [pd.Series([1.0])])
    low, high = float(values.min()), float(values.max())
    return low > 0 and high / low > LOG_SCALE_GROWTH


def _returns_series(returns: Any, name: str = "returns", min_length: int = 1) -> pd.Series:
    # A float Series on a sorted, unique DatetimeIndex with its NaN rows dropped.
    r = _clean(returns, name)
    if len(r) < min_length:
        raise ParameterError(
            f"{name} has {len(r)} non-NaN values; at least {min_length} are needed."
        )
    if not isinstance(r.index, pd.DatetimeIndex):
        raise ParameterError(
            f"{name} must have a DatetimeIndex; got a {type(r.index).__name__}. "
            "Index the returns by timestamp (e.g. BacktestResult.returns)."
        )
    if r.index.has_duplicates:
        first = r.index[r.index.duplicated()][0]
        raise ParameterError(
            f"{name} has duplicate timestamps (first: {first}); keep one row per timestamp."
        )
    if not r.index.is_monotonic_increasing:
        raise ParameterError(f"{name} is not sorted by timestamp; call {name}.sort_index() first.")
    return r


def _aligned_benchmark(benchmark: Any, index: pd.DatetimeIndex) -> pd.Series:
    # The benchmark's returns at exactly the strategy's timestamps; never fills gaps.
    if isinstance(benchmark, str):
        raise ParameterError(
            f"benchmark must be a pandas Series of returns; got the string {benchmark!r}. "
            "qresearch never downloads data: load the benchmark's prices (from your lake "
            "or qr.datasets.load_sample) and pass prices.pct_change()."
        )
    b = _returns_series(benchmark, "benchmark")
    if (index.tz is None) != (b.index.tz is None):
        raise AlignmentError(
            f"returns and benchmark disagree on time zones (returns: {index.tz}, "
            f"benchmark: {b.index.tz}); convert one with tz_localize / tz_convert first."
        )
    missing = index[~index.isin(b.index)]
    if len(missing):
        raise AlignmentError(
            f"benchmark does not cover the returns index: no benchmark return at "
            f"{missing[0]} (first of {len(missing)} missing timestamps). Pass a benchmark "
            "with a value at every timestamp of returns, e.g. "
            "benchmark.reindex(returns.index).fillna(0.0) to treat the gaps as flat."
        )
    return b.reindex(index)


def _check_window(window: Any, n_returns: int, func: str = "rolling_sharpe") -> int:
    # A rolling standard deviation needs two returns: an int >= 2, at most the data.
    window = check_int("window", window, func, minimum=2)
    if window > n_returns:
        raise ParameterError(
            f"The 'window' parameter ({window}) exceeds the {n_returns} "
            "returns; pass a smaller window or a longer return series."
        )
    return int(window)


def monthly_returns_table(returns: pd.Series) -> pd.DataFrame:
    """Return compounded monthly returns in percent, one row per year.

    Parameters
    ----------
    returns : pandas.Series
        Simple periodic returns on a DatetimeIndex (NaN rows are dropped).

    Returns
    -------
    pandas.DataFrame
        Index the years, columns the months 1..12; each cell is ``(prod(1 + r) - 1) *
        100`` over the returns of that month, NaN for a month without returns.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.to_datetime(["2024-01-02", "2024-01-03", "2024-03-01"])
    >>> t = monthly_returns_table(pd.Series([0.1, 0.1, -0.5], index=idx))
    >>> t.loc[2024, [1, 2, 3]].round(6).tolist()
    [21.0, nan, -50.0]
    """
    r = _returns_series(returns)
    growth = (1.0 + r).groupby([r.index.year, r.index.month]).prod() - 1.0
    table = (growth * 100.0).unstack().reindex(columns=range(1, 13))
    table.index.name, table.columns.name = "year", "month"
    return table


@renamed_parameters(rolling_window="window")
def rolling_sharpe(
    returns: pd.Series, window: int = 126, periods_per_year: float = 252
) -> pd.Series:
    """Return the rolling annualized Sharpe ratio (no risk-free rate).

    Each value is ``mean / std(ddof=1) * sqrt(periods_per_year)`` over the last
    ``window`` returns, as :func:`qresearch.evaluation.sharpe`; NaN for the
    first ``window - 1`` periods and for windows without dispersion.

    Parameters
    ----------
    returns : pandas.Series
        Simple periodic returns on a DatetimeIndex (NaN rows are dropped).
    window : int, default 126
        Number of returns per window (>= 2). Formerly ``rolling_window``
        (deprecated alias, removed in the next release).
    periods_per_year : float, default 252
        Periods per year: 252 daily, 52 weekly, 12 monthly.

    Returns
    -------
    pandas.Series
        On the index of the non-NaN returns, named ``"rolling_sharpe"``.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2024-01-01", periods=4)
    >>> rolling_sharpe(pd.Series([0.01, 0.03, 0.02, 0.02], index=idx), 2, 1).round(4).tolist()
    [nan, 1.4142, 3.5355, nan]
    """
    p = _check_periods(periods_per_year)
    r = _returns_series(returns)
    window = _check_window(window, len(r))
    rolling = r.rolling(window)
    sd = rolling.std(ddof=1)
    out = rolling.mean() / sd.where(sd > 0) * math.sqrt(p)
    out.name = "rolling_sharpe"
    return out


@renamed_parameters(rolling_window="window")
def plot_performance(
    returns: pd.Series,
    *,
    benchmark: pd.Series | None = None,
    title: str = "qresearch backtest",
    periods_per_year: float = 252,
    window: int = 126,
    log_scale: bool | None = None,
) -> go.Figure:
    """Plot cumulative growth, drawdown, rolling Sharpe and monthly returns.

    Parameters
    ----------
    returns : pandas.Series
        Simple periodic returns of the strategy on a sorted DatetimeIndex (NaN rows
        are dropped), e.g. ``BacktestResult.returns``.
    benchmark : pandas.Series, optional
        Simple returns of a benchmark. It must have a value at every timestamp of
        ``returns``; it is read at those timestamps only.
    title : str, default "qresearch backtest"
        Figure title.
    periods_per_year : float, default 252
        Periods per year, used to annualize the rolling Sharpe ratio.
    window : int, default 126
        Number of returns per rolling Sharpe window. Formerly ``rolling_window``
        (deprecated alias, removed in the next release).
    log_scale : bool, optional
        Draw the cumulative growth on a logarithmic axis. By default (None) the axis
        is logarithmic when the growth spans more than a factor of 10 (largest over
        smallest value of the curves and the starting 1), linear otherwise.

    Returns
    -------
    plotly.graph_objects.Figure
        Four stacked panels sharing the time axis, then the heatmap:

        1. growth of 1, ``cumprod(1 + r)``: the strategy trace named after the
           returns (or ``"Strategy"``), the benchmark trace after the benchmark
           when its name differs from the strategy's (else ``"Benchmark"``);
        2. ``"Drawdown"``: :func:`qresearch.evaluation.drawdown`, as a fraction;
        3. ``"Rolling Sharpe"``: :func:`rolling_sharpe`;
        4. ``"Monthly returns"``: :func:`monthly_returns_table` (percent), years x
           months, every year labelled; the figure grows with the number of years
           so that each cell keeps a readable label.

    Raises
    ------
    ParameterError
        For empty or non-datetime returns, a bad window or periods_per_year, or a
        benchmark given as a ticker string.
    AlignmentError
        When the benchmark misses a timestamp of the returns (the message names it).
    OptionalDependencyError
        When plotly is not installed (``pip install "qresearch[report]"``).

    Examples
    --------
    >>> from qresearch.datasets import load_sample
    >>> r = load_sample("stocks")["AAPL"].pct_change().loc["2014"]
    >>> fig = plot_performance(r, window=63)
    >>> [trace.name for trace in fig.data]
    ['AAPL', 'Drawdown', 'Rolling Sharpe', 'Monthly returns']
    """
    graph_objects = import_optional("plotly.graph_objects", extra="report")
    subplots = import_optional("plotly.subplots", extra="report")
    if not isinstance(title, str):
        raise ParameterError(f"The 'title' parameter must be a string; got {title!r}.")
    if log_scale is not None and not isinstance(log_scale, bool):
        raise ParameterError(
            f"The 'log_scale' parameter must be True, False or None (automatic); got {log_scale!r}."
        )
    p = _check_periods(periods_per_year)
    r = _returns_series(returns)
    window = _check_window(window, len(r), "plot_performance")
    bench = None if benchmark is None else _aligned_benchmark(benchmark, r.index)

    table = monthly_returns_table(r)
    heatmap_px = max(_HEATMAP_MIN_PX, _HEATMAP_ROW_PX * len(table))
    panels_px = [_GROWTH_PX, _DRAWDOWN_PX, _SHARPE_PX, heatmap_px]
    plot_px = sum(panels_px) + 3 * _SPACING_PX
    fig = subplots.make_subplots(
        rows=4,
        cols=1,
        row_heights=[px / sum(panels_px) for px in panels_px],
        vertical_spacing=_SPACING_PX / plot_px,
        subplot_titles=(
            "Growth of 1",
            "Drawdown",
            f"Rolling Sharpe ({window} periods)",
            "Monthly returns (%)",
        ),
    )
    strategy_name = "Strategy" if r.name is None else str(r.name)
    growth = (1.0 + r).cumprod()
    bench_growth = None if bench is None else (1.0 + bench).cumprod()
    if log_scale is None:
        log_scale = _wants_log_scale(growth, *([] if bench_growth is None else [bench_growth]))
    fig.add_trace(
        graph_objects.Scatter(x=r.index, y=growth.to_numpy(), name=strategy_name, mode="lines"),
        row=1,
        col=1,
    )
    if bench is not None and bench_growth is not None:
        fig.add_trace(
            graph_objects.Scatter(
                x=bench.index,
                y=bench_growth.to_numpy(),
                name=_benchmark_label(strategy_name, bench.name),
                mode="lines",
                line={"color": "gray"},
            ),
            row=1,
            col=1,
        )
    fig.add_trace(
        graph_objects.Scatter(
            x=r.index,
            y=drawdown(r).to_numpy(),
            name="Drawdown",
            mode="lines",
            fill="tozeroy",
            line={"color": "firebrick"},
            showlegend=False,
        ),
        row=2,
        col=1,
    )
    fig.add_trace(
        graph_objects.Scatter(
            x=r.index,
            y=rolling_sharpe(r, window, p).to_numpy(),
            name="Rolling Sharpe",
            mode="lines",
            line={"color": "darkslateblue"},
            showlegend=False,
        ),
        row=3,
        col=1,
    )
    fig.add_trace(
        graph_objects.Heatmap(
            z=table.to_numpy(),
            x=_MONTHS,
            y=[str(year) for year in table.index],
            name="Monthly returns",
            colorscale="RdYlGn",
            zmid=0.0,
            texttemplate="%{z:.1f}",
            textfont={"size": 10},
            xgap=1,
            ygap=1,
            hovertemplate="%{y} %{x}: %{z:.2f}%<extra></extra>",
            showscale=False,
        ),
        row=4,
        col=1,
    )
    # The three time-series panels zoom together; the heatmap has its own axes.
    fig.update_xaxes(matches="x", row=2, col=1)
    fig.update_xaxes(matches="x", row=3, col=1)
    fig.update_yaxes(type="log" if log_scale else "linear", row=1, col=1)
    fig.update_yaxes(tickformat=".0%", row=2, col=1)
    fig.update_yaxes(title_text="log scale" if log_scale else None, row=1, col=1)
    fig.update_yaxes(type="category", autorange="reversed", dtick=1, row=4, col=1)
    fig.update_layout(
        title={"text": title},
        height=plot_px + _MARGIN_TOP_PX + _MARGIN_BOTTOM_PX,
        hovermode="x unified",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0.0},
        margin={"t": _MARGIN_TOP_PX, "b": _MARGIN_BOTTOM_PX},
    )
    return fig
