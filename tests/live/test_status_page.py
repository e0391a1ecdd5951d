"""The live status page and the Jupyter Status: what the snapshot says is what is shown.

The unit tests read the HTML text; two render the written page in headless Chromium
(a screenshot that is not blank, and the DOM after load).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from qresearch.exceptions import ParameterError
from qresearch.live import status as status_module
from qresearch.live.status import Status, render_status_html, write_status_page

N_BARS = 300
SECTIONS = ("summary", "equity", "positions", "orders", "fills", "risk", "guard", "reconciliation")


def make_snapshot(mode: str = "paper", guard_state: str = "ok") -> dict[str, Any]:
    """A session after 300 hourly bars: 3 positions, 2 open orders, 10 fills, 2 events."""
    rng = np.random.default_rng(7)
    idx = pd.date_range("2024-03-01 14:00", periods=N_BARS, freq="h", tz="UTC")
    equity = pd.Series(100_000.0 * np.exp(np.cumsum(rng.normal(0.0002, 0.004, N_BARS))), index=idx)
    positions = pd.DataFrame(
        {
            "symbol": ["AAPL", "MSFT", "BTC/USDT"],
            "qty": [120.0, -35.0, 0.4215],
            "avg_price": [182.5, 410.2, 61_250.0],
            "last_price": [185.75, 405.0, 62_100.5],
        }
    )
    positions["market_value"] = positions["qty"] * positions["last_price"]
    positions["unrealized_pnl"] = positions["qty"] * (
        positions["last_price"] - positions["avg_price"]
    )
    open_orders = pd.DataFrame(
        {
            "client_order_id": [
                "qr-0a1b2c3d4e5f60718293a4b5c6d7e",
                "qr-ffee00112233445566778899aab",
            ],
            "symbol": ["AAPL", "NVDA"],
            "side": ["sell", "buy"],
            "qty": [50.0, 10.0],
            "filled": [20.0, 0.0],
            "order_type": ["limit", "stop_limit"],
            "limit_price": [190.0, 905.0],
            "stop_price": [np.nan, 900.0],
            "status": ["open", "open"],
            "submitted_at": [idx[-2], idx[-1]],
        }
    )
    fills = pd.DataFrame(
        {
            "timestamp": idx[-1:-21:-2],  # most recent first
            "symbol": ["AAPL", "MSFT", "BTC/USDT", "AAPL", "MSFT"] * 2,
            "side": ["buy", "sell"] * 5,
            "qty": [10.0, 5.0, 0.05, 20.0, 15.0, 10.0, 5.0, 0.1, 30.0, 15.0],
            "price": rng.uniform(150.0, 450.0, 10).round(2),
            "fee": rng.uniform(0.1, 2.0, 10).round(4),
            "fill_id": [f"F{i:05d}" for i in range(10, 0, -1)],
            "client_order_id": [f"qr-{i:029x}" for i in range(10)],
        }
    )
    risk_events = pd.DataFrame(
        {
            "timestamp": [idx[120], idx[250]],
            "kind": ["order_blocked", "halt"],
            "detail": ["AAPL buy 5,000 exceeds max_position_value", "daily loss limit hit"],
        }
    )
    guard: dict[str, Any] = {
        "state": guard_state,
        "limits": {
            "max_position_value": 50_000.0,
            "max_daily_loss": 0.03,
            "max_orders_per_bar": 20,
        },
    }
    if guard_state != "ok":
        guard["reason"] = "daily loss 3.2% > 3%"
    return {
        "session": "sma-crossover-paper",
        "strategy": "sma_crossover",
        "broker": "paper",
        "mode": mode,
        "updated_at": idx[-1] + pd.Timedelta(seconds=3),
        "last_bar": idx[-1],
        "bars_seen": N_BARS,
        "init_cash": 100_000.0,
        "cash": 61_234.5,
        "equity": equity,
        "positions": positions,
        "open_orders": open_orders,
        "fills": fills,
        "risk_events": risk_events,
        "guard": guard,
        "reconciliation": [
            "AAPL: broker holds 120, local book 100; took the broker's 120",
            "order qr-0a1b2c3d open at the broker, unknown locally; adopted",
        ],
    }


@pytest.fixture(scope="module")
def snapshot() -> dict[str, Any]:
    return make_snapshot()


@pytest.fixture(scope="module")
def page(snapshot: dict[str, Any]) -> str:
    return render_status_html(snapshot)


def _section(page: str, ident: str) -> str:
    start = (
        page.index(f'<section id="{ident}">') if ident != "summary" else page.index('id="summary"')
    )
    end = page.find("</section>", start)
    return page[start : end if end != -1 else None]


def _rows(table_html: str) -> list[list[str]]:
    body = table_html[table_html.index("<tbody>") : table_html.index("</tbody>")]
    return [
        [html.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<td[^>]*>(.*?)</td>", r)]
        for r in re.findall(r"<tr>(.*?)</tr>", body)
    ]


# -- the HTML text ----------------------------------------------------------------------


def test_empty_snapshot_renders_every_section() -> None:
    page = render_status_html({})
    for ident in SECTIONS[1:]:
        assert f'<section id="{ident}">' in page
    assert "<svg" in _section(page, "equity") and "No equity yet" in page
    assert "No open positions." in page and "No open orders." in page
    assert "No fills yet." in page and "No risk events." in page
    assert "No differences at the last start." in page
    assert "MODE UNKNOWN" in page
    # Before the first bar: frames with columns but no rows, an empty equity.
    first = {
        "session": "s",
        "mode": "dry-run",
        "cash": 5_000.0,
        "init_cash": 5_000.0,
        "last_bar": None,
        "equity": pd.Series(dtype=float),
        "positions": pd.DataFrame(columns=list(status_module.POSITION_COLUMNS)),
        "fills": pd.DataFrame(),
        "guard": {"state": "ok", "limits": {}},
        "reconciliation": [],
    }
    page = render_status_html(first)
    assert "No equity yet" in page and "No open positions." in page and "No fills yet." in page
    assert "5,000.00" in page and "DRY-RUN" in page


def test_full_snapshot_has_each_section_and_the_figures(page: str, snapshot: dict) -> None:
    for ident in SECTIONS:
        assert f'id="{ident}"' in page
    assert page.count("<section ") == len(SECTIONS) - 1
    assert "<table>" in _section(page, "positions")
    assert "<title>sma-crossover-paper \u00b7 PAPER \u00b7 qresearch live</title>" in page
    equity = snapshot["equity"]
    summary = _section(page, "summary")
    assert f"{equity.iloc[-1]:,.2f}" in summary
    assert f"{equity.iloc[-1] - 100_000:+,.2f}" in summary
    assert "61,234.50" in summary and "2024-03-14 01:00:00 UTC" in summary
    assert "daily loss limit hit" in _section(page, "risk")
    assert "max position value" in _section(page, "guard")
    assert "took the broker&#x27;s 120" in _section(page, "reconciliation")
    assert len(_rows(_section(page, "fills"))) == 10
    assert len(_rows(_section(page, "orders"))) == 2
    assert len(_rows(_section(page, "risk"))) == 2


def test_positions_table_shows_the_snapshot_values(page: str, snapshot: dict) -> None:
    rows = _rows(_section(page, "positions"))
    assert [r[0] for r in rows] == ["AAPL", "MSFT", "BTC/USDT"]
    assert [r[1] for r in rows] == ["120", "-35", "0.4215"]
    pos = snapshot["positions"]
    assert rows[0][4] == f"{pos['market_value'][0]:,.2f}" == "22,290.00"
    assert rows[0][5] == "+390.00" and rows[1][5] == "+182.00"
    assert rows[2][3] == "62,100.50"
    total = _section(page, "positions").split("<tfoot>")[1]
    assert f"{pos['market_value'].sum():,.2f}" in total
    assert f"{pos['unrealized_pnl'].sum():+,.2f}" in total
    # Profits green, losses red.
    assert re.search(r'color:#1a7f37;">\+390\.00<', page)
    orders = _rows(_section(page, "orders"))
    assert orders[0][:5] == ["qr-0a1b2c3d4e5f60718293a4b5c6d7e", "AAPL", "sell", "50", "20"]
    assert orders[0][7] == "\u2013" and orders[1][6:8] == ["905.00", "900.00"]


def test_number_formats() -> None:
    assert status_module._money(1234567.891) == "1,234,567.89"
    assert status_module._signed(-1234.5) == "-1,234.50" and status_module._signed(0.5) == "+0.50"
    assert status_module._qty(1500.0) == "1,500" and status_module._qty(0.00012) == "0.00012"
    assert (
        status_module._price(0.5) == "0.5000" and status_module._price(0.000012345) == "1.234e-05"
    )
    assert status_module._money(None) == status_module._money(np.nan) == "\u2013"
    day = pd.Timestamp("2024-01-02")
    assert status_module._time(day) == "2024-01-02 00:00:00"
    assert status_module._time(day, date_only=True) == "2024-01-02"
    assert status_module._time(day.tz_localize("UTC")) == "2024-01-02 00:00:00 UTC"
    assert status_module._time("not a time") == "not a time"


def test_daily_bars_show_dates_intraday_bars_show_times() -> None:
    idx = pd.bdate_range("2024-01-02", periods=5)
    snap = {
        "equity": pd.Series(range(100, 105), index=idx, dtype=float),
        "last_bar": idx[-1],
        "fills": pd.DataFrame({"timestamp": idx[::-1], "symbol": ["A"] * 5}),
    }
    page = render_status_html(snap)
    assert ">2024-01-08</div>" in _section(page, "summary")  # the last bar
    assert "2024-01-02</text>" in page and "00:00:00" not in page.split("<footer>")[0]
    # intraday: a fill at midnight among others keeps its time
    snap["fills"] = pd.DataFrame(
        {"timestamp": pd.to_datetime(["2024-01-03 00:00", "2024-01-02 15:30"])}
    )
    assert "2024-01-03 00:00:00" in _section(render_status_html(snap), "fills")


def test_values_are_escaped() -> None:
    snap = make_snapshot()
    snap["session"] = "<b>s</b>"
    positions = snap["positions"].copy()
    positions.loc[0, "symbol"] = "<script>alert(1)</script>"
    snap["positions"] = positions
    snap["guard"] = {"state": "halted", "reason": "<img src=x onerror=alert(1)>", "limits": {}}
    snap["reconciliation"] = ["a & b <c>"]
    page = render_status_html(snap)
    assert "<script>" not in page and "<img" not in page and "<b>s</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in _section(page, "positions")
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "a &amp; b &lt;c&gt;" in page and "&lt;b&gt;s&lt;/b&gt;" in page


def test_page_is_self_contained(page: str) -> None:
    assert "<script" not in page and "<link" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "plotly" not in page.lower() and "cdn" not in page.lower()
    assert "<style>" in page


def test_refresh_meta_present_or_absent(snapshot: dict) -> None:
    assert '<meta http-equiv="refresh" content="5">' in render_status_html(snapshot)
    assert '<meta http-equiv="refresh" content="30">' in render_status_html(
        snapshot, refresh_seconds=30
    )
    assert "http-equiv" not in render_status_html(snapshot, refresh_seconds=None)
    for bad in (0, -5, 2.5, True):
        with pytest.raises(ParameterError, match="refresh_seconds"):
            render_status_html(snapshot, refresh_seconds=bad)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="mapping"):
        render_status_html([("session", "x")])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("mode", "label", "color"),
    [("dry-run", "DRY-RUN", "#546e7a"), ("paper", "PAPER", "#1565c0"), ("live", "LIVE", "#c62828")],
)
def test_mode_banner_has_its_own_color(mode: str, label: str, color: str) -> None:
    page = render_status_html(make_snapshot(mode=mode))
    banner = re.search(
        r'<div class="banner" id="mode-banner" style="background:([^"]+)">'
        r'<span class="mode">([^<]+)</span>',
        page,
    )
    assert banner and banner.groups() == (color, label)
    assert 'id="guard-banner"' not in page


@pytest.mark.parametrize(
    ("state", "text"), [("halted", "TRADING HALTED"), ("killed", "KILL SWITCH")]
)
def test_guard_banner_when_halted_or_killed(state: str, text: str) -> None:
    page = render_status_html(make_snapshot(guard_state=state))
    banner = page[page.index('id="guard-banner"') : page.index("<main>")]
    assert text in banner and "daily loss 3.2% &gt; 3%" in banner
    assert state.upper() in _section(page, "guard")


def test_equity_chart_points_and_labels(page: str, snapshot: dict) -> None:
    svg = _section(page, "equity")
    points = re.search(r'class="equity-line"[^>]*points="([^"]+)"', svg)
    assert points and len(points.group(1).split()) == N_BARS
    assert 'class="drawdown-area"' in svg
    equity = snapshot["equity"]
    labels = [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]+)</text>", svg)]
    assert f"{equity.max():,.2f}" in labels and f"{equity.min():,.2f}" in labels
    assert "2024-03-01 14:00:00 UTC" in labels and "2024-03-14 01:00:00 UTC" in labels
    dd = (equity / equity.cummax() - 1).min()
    assert f"{dd:.1%}" in labels and "0%" in labels


def test_equity_chart_with_one_point_flat_and_long() -> None:
    one = status_module._equity_svg(pd.Series([100.0], index=pd.to_datetime(["2024-01-02"])))
    assert "<circle" in one and "2024-01-02" in one and "100.00" in one and "nan" not in one
    flat = status_module._equity_svg(pd.Series([5.0] * 4))
    assert flat.count(">5.00</text>") == 1 and "nan" not in flat
    long = pd.Series(np.cumsum(np.random.default_rng(1).normal(size=100_000)) + 1_000.0)
    svg = status_module._equity_svg(long)
    points = re.search(r'points="([^"]+)"', svg)
    assert points and len(points.group(1).split()) <= 2 * 960
    # the extremes survive the thinning
    ys = [float(p.split(",")[1]) for p in points.group(1).split()]
    assert min(ys) == pytest.approx(20.0) and max(ys) == pytest.approx(214.0)


def test_write_creates_the_folder_and_replaces_the_page(tmp_path: Path, snapshot: dict) -> None:
    folder = tmp_path / "reports" / "live" / "sma"
    path = write_status_page({"session": "first"}, folder)
    assert path == folder / "index.html" and "first" in path.read_text(encoding="utf-8")
    assert write_status_page(snapshot, str(folder), refresh_seconds=None) == path
    text = path.read_text(encoding="utf-8")
    assert "sma-crossover-paper" in text and "http-equiv" not in text
    assert sorted(p.name for p in folder.iterdir()) == ["index.html"]
    assert path.stat().st_mode & 0o044  # readable by a local web server, unlike mkstemp's 0600


def test_failed_write_keeps_the_old_page_and_no_temp_file(
    tmp_path: Path, snapshot: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_status_page({"session": "old page"}, tmp_path)
    old = path.read_text(encoding="utf-8")
    seen: list[str] = []

    def failing_replace(src: Any, dst: Any) -> None:
        seen.append(Path(src).read_text(encoding="utf-8"))  # the new page was complete
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write_status_page(snapshot, tmp_path)
    assert path.read_text(encoding="utf-8") == old
    assert [p.name for p in tmp_path.iterdir()] == ["index.html"]
    assert seen and seen[0] == render_status_html(snapshot)


# -- Status (Jupyter and the terminal) ---------------------------------------------------


def test_status_repr_html_has_the_key_figures(snapshot: dict) -> None:
    status = Status(snapshot)
    out = status._repr_html_()
    equity = snapshot["equity"]
    for figure in (
        "PAPER",
        "2024-03-14 01:00:00 UTC",
        f"{equity.iloc[-1]:,.2f}",
        "61,234.50",
        f"{equity.iloc[-1] - 100_000:+,.2f}",
        "OK",
        "AAPL",
        "BTC/USDT",
        "0.4215",
        "qr-ffee00112233445566778899aab",
    ):
        assert figure in out, figure
    assert "<svg" in out and "<polyline" in out  # qresearch._html's sparkline
    assert "<style" not in out and "<script" not in out


def test_status_repr_is_a_few_lines(snapshot: dict) -> None:
    snap = dict(snapshot, guard={"state": "killed", "reason": "manual kill", "limits": {}})
    text = repr(Status(snap))
    lines = text.splitlines()
    assert 3 <= len(lines) <= 6
    assert lines[0] == "Status sma-crossover-paper: PAPER, sma_crossover on paper"
    equity = snapshot["equity"].iloc[-1]
    assert f"equity {equity:,.2f}  cash 61,234.50  P&L {equity - 100_000:+,.2f}" in text
    assert "guard killed (manual kill)" in text and "open orders 2" in text


def test_status_tables_and_empty_status(snapshot: dict) -> None:
    status = Status(snapshot)
    assert status.snapshot == snapshot and status.snapshot is not snapshot
    assert status.positions["qty"].tolist() == [120.0, -35.0, 0.4215]
    assert len(status.open_orders) == 2 and len(status.fills) == 10
    assert status.risk_events["kind"].tolist() == ["order_blocked", "halt"]
    empty = Status({})
    assert empty.positions.empty and list(empty.fills.columns) == list(status_module.FILL_COLUMNS)
    assert "No open positions." in empty._repr_html_() and "equity \u2013" in repr(empty)


def test_import_is_light() -> None:
    code = (
        "import json, sys, qresearch.live.status\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    heavy = {"plotly", "matplotlib", "scipy", "numba", "sklearn", "quantstats"}
    assert not heavy & set(json.loads(out))


# -- in a browser --------------------------------------------------------------------------

needs_chromium = pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="chromium is not installed (apt-get install chromium): the rendered page "
    "cannot be checked",
)


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory, snapshot: dict) -> Path:
    folder = tmp_path_factory.mktemp("reports") / "live" / snapshot["session"]
    return write_status_page(snapshot, folder)


@needs_chromium
def test_screenshot_is_not_blank(written: Path) -> None:
    png = written.with_name("screenshot.png")
    _chromium(
        "--hide-scrollbars",
        "--window-size=1280,2200",
        f"--screenshot={png}",
        written.resolve().as_uri(),
    )
    assert png.exists() and png.stat().st_size > 30_000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    try:
        from PIL import Image
    except ImportError:  # the file size above is the check then
        return
    with Image.open(png) as image:
        assert image.size == (1280, 2200)
        gray = np.asarray(image.convert("L"), dtype=float)
    assert gray.std() > 10  # not one flat colour
    # The mode banner (PAPER blue) spans the top of the page.
    with Image.open(png) as image:
        r, g, b = image.convert("RGB").getpixel((5, 5))
    assert (r, g, b) == (0x15, 0x65, 0xC0)


@needs_chromium
def test_rendered_dom_has_the_chart_and_the_positions(written: Path, snapshot: dict) -> None:
    dom = _chromium("--window-size=1280,2200", "--dump-dom", written.resolve().as_uri()).stdout
    equity = dom[dom.index('<section id="equity">') :]
    svg = equity[: equity.index("</svg>")]
    line = re.search(r'<polyline[^>]*points="([^"]+)"', svg)
    assert line and len(line.group(1).split()) == N_BARS
    assert re.search(r'<path class="drawdown-area" d="M[^"]{1000,}"', svg)
    rows = _rows(_section(dom, "positions"))
    assert [r[:2] for r in rows] == [["AAPL", "120"], ["MSFT", "-35"], ["BTC/USDT", "0.4215"]]
    assert "sma-crossover-paper" in dom and "PAPER" in dom
