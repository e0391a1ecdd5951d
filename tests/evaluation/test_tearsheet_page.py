"""write_tearsheet as a person sees it: the page's figures, notes and charts.

One demo-style report (a strategy that is flat until it first trades, named
``"equity"``, against an equal-weight benchmark of the bundled stocks) is written once;
the tests read its HTML, and one renders it in headless Chromium.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from qresearch.evaluation import metrics, tearsheet
from qresearch.evaluation.tearsheet import write_tearsheet

FIRST_TRADE = 126  # the strategy is flat (zero returns) before this row


@pytest.fixture(scope="module")
def series(sample_stocks: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    # 2001-2014 (14 years: quantstats thins the EOY labels beyond 10). The benchmark
    # moves from the first day, the strategy only from row FIRST_TRADE: quantstats'
    # match_dates would start both there.
    close = sample_stocks.loc["2001":"2014"]
    returns = close.pct_change(fill_method=None).iloc[1:]
    strategy = returns[["AAPL", "GE"]].mean(axis=1).fillna(0.0).rename("equity")
    strategy.iloc[:FIRST_TRADE] = 0.0
    benchmark = returns.mean(axis=1).fillna(0.0).rename("equal weight")
    return strategy, benchmark


@pytest.fixture(scope="module")
def page(tmp_path_factory, series: tuple[pd.Series, pd.Series]) -> Path:
    strategy, benchmark = series
    path = tmp_path_factory.mktemp("page") / "tearsheet.html"
    return write_tearsheet(strategy, path, benchmark=benchmark, title="demo-style")


@pytest.fixture(scope="module")
def text(page: Path) -> str:
    return page.read_text(encoding="utf-8")


def _metric_row(text: str, name: str) -> list[str]:
    # The cells of the "Key Performance Metrics" row `name`: [benchmark, strategy].
    match = re.search(rf"<tr><td>{re.escape(name)}</td>((?:<td>[^<]*</td>)+)</tr>", text)
    assert match, name
    return re.findall(r"<td>([^<]*)</td>", match.group(1))


def test_page_figures_equal_the_printed_stats(
    text: str, series: tuple[pd.Series, pd.Series]
) -> None:
    # What `qresearch demo` prints (qr.evaluation.stats on every date) is what the page
    # says; quantstats alone would start at the first non-zero return (FIRST_TRADE).
    strategy, benchmark = series
    printed = metrics.stats(strategy)
    assert _metric_row(text, "CAGR")[1] == f"{printed['cagr']:.2%}"
    assert _metric_row(text, "Sharpe")[1] == f"{printed['sharpe']:.2f}"
    # quantstats drops trailing zeros here ("-69.8%")
    max_dd = float(_metric_row(text, "Max Drawdown")[1].rstrip("%"))
    assert max_dd == round(printed["max_drawdown"] * 100, 2)
    bench = metrics.stats(benchmark)
    assert _metric_row(text, "CAGR")[0] == f"{bench['cagr']:.2%}"
    assert _metric_row(text, "Sharpe")[0] == f"{bench['sharpe']:.2f}"
    # On the matched dates the figures differ, so the test would catch a regression.
    matched = metrics.stats(strategy.iloc[FIRST_TRADE:])
    assert f"{matched['cagr']:.2%}" != f"{printed['cagr']:.2%}"


def test_page_says_which_dates_it_covers(text: str, series: tuple[pd.Series, pd.Series]) -> None:
    strategy, _ = series
    first = strategy.index[0]
    assert "(matched dates)" not in text
    assert first.strftime("%e %b, %Y") + " - " in text  # quantstats' header date range
    (note,) = re.findall(r'<p id="qr-coverage">(.*?)</p>', text, flags=re.S)
    assert f"all {len(strategy):,} returns" in note
    assert f"from {first:%Y-%m-%d} to {strategy.index[-1]:%Y-%m-%d}" in note
    assert "benchmark (equal weight) is read at exactly these dates" in note
    assert "filled with 0" in note


def test_coverage_note_without_benchmark_and_escaped() -> None:
    idx = pd.date_range("2024-01-01", periods=3)
    r = pd.Series([0.0, 0.01, -0.01], index=idx)
    note = tearsheet._coverage_note(r, None)
    assert "all 3 returns of the strategy, from 2024-01-01 to 2024-01-03." in note
    assert "benchmark" not in note
    bench = pd.Series(0.0, index=idx, name="<b>&")
    assert "benchmark (&lt;b&gt;&amp;)" in tearsheet._coverage_note(r, bench)


def test_no_missing_glyph_after_cagr(text: str) -> None:
    assert "\ufe6a" not in text
    assert "<tr><td>CAGR</td>" in text
    fixed = tearsheet._fix_html("<style></style><td>CAGR\ufe6a</td>", "")
    assert fixed == f"<style>{tearsheet._EXTRA_CSS}</style><td>CAGR</td>"


def test_fonts_that_exist_come_first_in_the_css(text: str) -> None:
    assert '"DejaVu Sans"' in text.split("</style>", 1)[0]
    assert matplotlib.font_manager.findfont("DejaVu Sans", fallback_to_default=False)


def test_undefined_eoy_cells_show_a_dash_only_in_the_eoy_table() -> None:
    page = (
        "<style></style><h4>params</h4><table><tr><td>nan</td></tr></table>"
        '<div id="eoy"><table><tr><td>1989</td><td>0.00</td><td>nan</td><td> -nan% </td>'
        "<td>+</td></tr></table></div>"
    )
    fixed = tearsheet._fix_html(page, '<p id="qr-coverage">n.</p>')
    eoy = fixed[fixed.index('<div id="eoy">') :]
    assert "nan" not in eoy
    assert eoy.count('<td class="qr-na">&ndash;</td>') == 2
    assert "<table><tr><td>nan</td></tr></table>" in fixed  # other tables untouched
    assert '<h4>params</h4>\n        <p id="qr-coverage">n.</p>' in fixed
    assert '#eoy table td.qr-na:after{content:""}' in fixed


def test_eoy_table_has_every_year_and_no_nan(
    text: str, series: tuple[pd.Series, pd.Series]
) -> None:
    strategy, _ = series
    eoy = text[text.index('<div id="eoy">') :]
    eoy = eoy[: eoy.index("</table>")]
    years = [int(y) for y in re.findall(r"<tr><td>(\d{4})</td>", eoy)]
    assert years == sorted(set(strategy.index.year))
    assert not re.search(r"<td>\s*-?nan", eoy, flags=re.I)
    assert "<th>Won</th>" in eoy.replace(' style="text-align: right;"', "")


def test_eoy_bars_sit_at_zero_to_n_minus_one(quantstats_module) -> None:
    # pandas 3 puts bars on a year-end DatetimeIndex at period ordinals (1990 -> 20);
    # fed an index of years, quantstats' bars sit where its labels are.
    idx = pd.date_range("2001-01-01", "2012-12-31", freq="B")
    rng = np.random.default_rng(0)
    r = pd.Series(rng.normal(0.0005, 0.01, len(idx)), index=idx, name="s")
    b = pd.Series(rng.normal(0.0003, 0.01, len(idx)), index=idx, name="b")
    core = quantstats_module._plotting.core
    with tearsheet._fixed_quantstats(quantstats_module):
        fig = quantstats_module.plots.yearly_returns(r, b, show=False, subtitle=False)
    assert core.plot_returns_bars.__name__ == "plot_returns_bars"
    assert not hasattr(core.plot_returns_bars, "__wrapped__")  # the original is back
    ax = fig.axes[0]
    centers = sorted(round(p.get_x() + p.get_width() / 2) for p in ax.patches if p.get_width() < 1)
    assert centers == sorted(list(range(12)) * 2)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    ticks = list(ax.get_xticks())
    assert labels == [str(y) for y in range(2001, 2013)]  # 12 years: every one labelled
    assert ticks == list(range(12))
    matplotlib.pyplot.close(fig)


@pytest.fixture(scope="module")
def quantstats_module():
    with warnings.catch_warnings(), matplotlib.rc_context():
        warnings.simplefilter("ignore")
        return tearsheet._import_quantstats(matplotlib)


def _xticks(svg: str) -> list[tuple[float, str]]:
    # (x, label) of each visible x tick of a matplotlib SVG (its grid line is drawn);
    # label "" for an unlabelled tick.
    axis = svg[svg.index('<g id="xtick_1"') : svg.index('id="matplotlib.axis_2"')]
    ticks = []
    for block in axis.split('<g id="xtick_')[1:]:
        line = re.search(r'd="M ([-\d.]+) ', block)
        label = re.search(r"<!-- (.*?) -->", block)
        if line:
            ticks.append((float(line.group(1)), label.group(1) if label else ""))
    return ticks


def _bar_centers(svg: str) -> list[float]:
    # x centers of the bars: the rectangles drawn before the legend, without the
    # figure and axes backgrounds.
    body = svg[: svg.index('id="legend_1"')]
    centers = []
    for d in re.findall(r'<g id="patch_\d+">\s*<path d="([^"]+)"', body):
        xs = [float(x) for x in re.findall(r"[ML] ([-\d.]+) ", d)]
        centers.append(((min(xs) + max(xs)) / 2, max(xs) - min(xs)))
    background = max(w for _, w in centers)
    return sorted(c for c, w in centers if w < background / 2)


needs_chromium = pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="chromium is not installed (apt-get install chromium): the rendered page "
    "cannot be checked",
)


def _rendered_dom(page: Path) -> str:
    # The DOM of the page after Chromium loaded it (scripts run, SVG parsed).
    done = subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1400,6000",
            "--dump-dom",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


# Measures, after load, the right edges of the right-hand column and of the EOY
# table's last header cell ("Won") and writes them into the DOM.
_MEASURE = """<script>window.addEventListener("load", function () {
  var column = document.getElementById("right").getBoundingClientRect();
  var cells = document.querySelectorAll("#eoy table th");
  var last = cells[cells.length - 1];
  document.body.setAttribute("data-layout", JSON.stringify(
    {column: column.right, last: last.getBoundingClientRect().right, text: last.textContent}));
});</script></body>"""


@needs_chromium
def test_eoy_table_fits_its_column_in_the_widest_font(page: Path, tmp_path: Path) -> None:
    # DejaVu Sans, the widest fallback of the page's font list, forced on every cell.
    widest = '#eoy table td,#eoy table th{font-family:"DejaVu Sans"!important}</style>'
    text = page.read_text(encoding="utf-8").replace("</style>", widest, 1)
    measured = tmp_path / "measured.html"
    measured.write_text(text.replace("</body>", _MEASURE, 1), encoding="utf-8")
    found = re.search(r'data-layout="([^"]+)"', _rendered_dom(measured))
    assert found, "the measuring script did not run"
    layout = json.loads(html.unescape(found.group(1)))
    assert layout["text"] == "Won"
    assert layout["last"] <= layout["column"] + 0.5, layout


@needs_chromium
def test_rendered_page_in_chromium(page: Path, series: tuple[pd.Series, pd.Series]) -> None:
    strategy, _ = series
    dom = _rendered_dom(page)
    assert 'id="qr-coverage"' in dom and "\ufe6a" not in dom
    eoy_table = dom[dom.index('<div id="eoy">') :]
    eoy_table = eoy_table[: eoy_table.index("</table>")]
    assert not re.search(r">\s*-?nan%?\s*<", eoy_table, flags=re.I)

    section = dom[dom.index('<div id="eoy_returns">') :]
    svg = section[: section.index("</svg>")]
    ticks = _xticks(svg)
    years = sorted(set(strategy.index.year))
    labelled = [(x, int(label)) for x, label in ticks if label]
    # The labels are the years in order, every step-th year from the first.
    step = labelled[1][1] - labelled[0][1]
    assert [y for _, y in labelled] == years[::step]
    assert len(ticks) == len(years)
    # One pair of bars (benchmark, strategy) per year, centred on that year's tick.
    centers = _bar_centers(svg)
    assert len(centers) == 2 * len(years)
    spacing = (ticks[-1][0] - ticks[0][0]) / (len(ticks) - 1)
    for i, (x, _) in enumerate(ticks):
        pair = centers[2 * i : 2 * i + 2]
        assert abs(sum(pair) / 2 - x) < 0.05 * spacing, (i, x, pair)


def test_heatmap_months_without_returns_are_empty(quantstats_module) -> None:
    # quantstats fills months without a return with 0 ("0.00" before the first and
    # after the last date); while a report is drawn they are NaN (an empty cell).
    idx = pd.to_datetime(["2023-12-29", "2024-01-02", "2024-01-03", "2024-03-01"])
    r = pd.Series([0.0, 0.1, 0.1, -0.5], index=idx)
    with tearsheet._fixed_quantstats(quantstats_module):
        table = quantstats_module.stats.monthly_returns(r, eoy=False)
    assert quantstats_module.stats.monthly_returns(r, eoy=False).isna().sum().sum() == 0
    assert table.shape == (2, 12)
    assert table.notna().sum().sum() == 3  # Dec 2023, Jan and Mar 2024
    assert table.iloc[0, 11] == 0.0  # a month with a zero return keeps its 0
    assert table.iloc[1, 0] == pytest.approx(0.21)
    assert table.iloc[1, 2] == pytest.approx(-0.5)
    assert np.isnan(table.iloc[1, 1])  # February 2024: no return
