"""The live trading status page (one self-contained HTML file) and its Jupyter summary.

The live/paper runner calls :func:`write_status_page` after every bar, which keeps
``reports/live/<session>/index.html`` up to date, and ``runner.status()`` returns a
:class:`Status` that renders in Jupyter. Both read a plain *snapshot* dict, so the
page can be written, tested and looked at without a runner.

The page is self-contained: inline CSS, charts drawn here as inline SVG, no script
and no link to the network. It refreshes itself in the browser (``<meta
http-equiv="refresh">``) and is replaced atomically, so a browser never loads half a
page. Every value is HTML-escaped.

The snapshot
------------
Every key is optional: a missing key, ``None`` or an empty frame renders as "none
yet" (the page before the first bar).

==================  ==========================================================
key                 value
==================  ==========================================================
``session``         str, the session name (the page title and banner)
``strategy``        str, the strategy's name
``broker``          str, the broker's name (``"paper"``, ``"alpaca"``, ...)
``mode``            ``"dry-run"``, ``"paper"`` or ``"live"`` (a coloured banner)
``updated_at``      Timestamp of the snapshot
``last_bar``        Timestamp of the last bar processed, or ``None``
``bars_seen``       int, bars processed in this session
``init_cash``       float, the starting cash (P&L is equity minus this)
``cash``            float, the cash now
``equity``          pd.Series of account equity by bar timestamp (may be empty)
``positions``       DataFrame: symbol, qty, avg_price, last_price, market_value,
                    unrealized_pnl
``open_orders``     DataFrame: client_order_id, symbol, side, qty, filled,
                    order_type, limit_price, stop_price, status, submitted_at
``fills``           DataFrame, most recent first (the runner passes the last ~50):
                    timestamp, symbol, side, qty, price, fee, fill_id,
                    client_order_id
``risk_events``     DataFrame: timestamp, kind, detail (blocked orders, halts,
                    the kill switch)
``guard``           dict: ``state`` (``"ok"``, ``"halted"`` or ``"killed"``),
                    ``limits`` (dict name -> value), optional ``reason``
``reconciliation``  list of str: the differences resolved at the last start
==================  ==========================================================

Frames may carry more columns than these; they are shown after the documented ones.

The page's sections have stable ids: ``#summary``, ``#equity`` (an ``<svg>`` with the
equity line and the drawdown area below it), ``#positions``, ``#orders``, ``#fills``,
``#risk``, ``#guard`` and ``#reconciliation``.

This module imports only pandas, numpy and qresearch's own light helpers.

Examples
--------
>>> import pandas as pd
>>> snapshot = {
...     "session": "sma-paper", "mode": "paper", "init_cash": 10_000.0, "cash": 4_000.0,
...     "equity": pd.Series([10_000.0, 10_150.0],
...                         index=pd.to_datetime(["2024-01-02", "2024-01-03"])),
...     "positions": pd.DataFrame({"symbol": ["AAPL"], "qty": [30.0],
...                                "market_value": [6_150.0]}),
... }
>>> page = render_status_html(snapshot)
>>> '<section id="positions">' in page and "6,150.00" in page
True
>>> print(Status(snapshot))  # doctest: +ELLIPSIS
Status sma-paper: PAPER, ...
  equity 10,150.00  cash 4,000.00  P&L +150.00 (+1.50%)
  ...
"""

from __future__ import annotations

import html
import itertools
import math
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qresearch._html import shown, summary_html
from qresearch.exceptions import ParameterError

__all__ = [
    "FILL_COLUMNS",
    "ORDER_COLUMNS",
    "POSITION_COLUMNS",
    "RISK_COLUMNS",
    "Status",
    "render_status_html",
    "write_status_page",
]

POSITION_COLUMNS = ("symbol", "qty", "avg_price", "last_price", "market_value", "unrealized_pnl")
ORDER_COLUMNS = (
    "client_order_id",
    "symbol",
    "side",
    "qty",
    "filled",
    "order_type",
    "limit_price",
    "stop_price",
    "status",
    "submitted_at",
)
FILL_COLUMNS = (
    "timestamp",
    "symbol",
    "side",
    "qty",
    "price",
    "fee",
    "fill_id",
    "client_order_id",
)
RISK_COLUMNS = ("timestamp", "kind", "detail")

# mode -> (banner text, banner colour)
_MODES = {
    "dry-run": ("DRY-RUN", "#546e7a"),
    "paper": ("PAPER", "#1565c0"),
    "live": ("LIVE", "#c62828"),
}
# guard state -> (banner text, colour); "ok" has no banner
_GUARD = {
    "ok": ("OK", "#2e7d32"),
    "halted": ("TRADING HALTED", "#e65100"),
    "killed": ("KILL SWITCH ENGAGED", "#4a0000"),
}
_UP, _DOWN = "#1a7f37", "#c62828"
_DASH = "\u2013"  # what an empty or missing value shows

# How the cells of a column are formatted (any other column: plain escaped text).
_QTY = frozenset({"qty", "filled"})
_MONEY = frozenset({"market_value", "fee"})
_PRICE = frozenset({"avg_price", "last_price", "limit_price", "stop_price", "price"})
_SIGNED = frozenset({"unrealized_pnl", "realized_pnl", "pnl"})
_TIME = frozenset({"submitted_at", "timestamp", "updated_at", "filled_at"})
_IDS = frozenset({"client_order_id", "fill_id", "order_id", "venue_order_id"})
_NUM_STYLE = "text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap"


# -- values ---------------------------------------------------------------------------


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or an array: not a missing scalar
        return False


def _number(value: Any) -> float | None:
    # A finite float, or None for a missing or non-numeric value.
    if _missing(value) or isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _money(value: Any) -> str:
    x = _number(value)
    return _DASH if x is None else f"{x:,.2f}"


def _signed(value: Any) -> str:
    x = _number(value)
    return _DASH if x is None else f"{x:+,.2f}"


def _price(value: Any) -> str:
    # Two decimals, more for prices below 1 (crypto, penny stocks).
    x = _number(value)
    if x is None:
        return _DASH
    if x == 0 or abs(x) >= 1:
        return f"{x:,.2f}"
    return f"{x:.4f}" if abs(x) >= 0.01 else f"{x:.4g}"


def _qty(value: Any) -> str:
    x = _number(value)
    if x is None:
        return _DASH
    if x.is_integer():
        return f"{x:,.0f}"
    return f"{x:,.8f}".rstrip("0").rstrip(".")


def _timestamp(value: Any) -> pd.Timestamp | None:
    if _missing(value):
        return None
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        return None
    return None if pd.isna(ts) else ts


def _dates_only(values: Iterable[Any]) -> bool:
    """Return True when every timestamp in ``values`` is at midnight (daily bars)."""
    if isinstance(values, pd.DatetimeIndex):
        return len(values) > 0 and bool((values == values.normalize()).all())
    if isinstance(values, pd.Index):
        return False  # bar numbers or labels, not times
    stamps = [_timestamp(v) for v in values if not _missing(v)]
    return bool(stamps) and all(ts is not None and ts == ts.normalize() for ts in stamps)


def _time(value: Any, date_only: bool = False) -> str:
    # "2024-03-14 01:00:00 UTC", or "2024-03-14" for a column of daily bars.
    if _missing(value):
        return _DASH
    ts = _timestamp(value)
    if ts is None:
        return str(value)
    if date_only and ts == ts.normalize():
        return ts.strftime("%Y-%m-%d")
    text = ts.strftime("%Y-%m-%d %H:%M:%S")
    return f"{text} {ts.tzname()}" if ts.tzinfo is not None else text


def _text(value: Any) -> str:
    return _DASH if _missing(value) else str(value)


def _color(x: float | None) -> str:
    return "" if not x else f"color:{_UP if x > 0 else _DOWN};"


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _series(value: Any) -> pd.Series:
    # The equity as finite floats (NaN, inf and non-numbers dropped).
    if value is None:
        return pd.Series(dtype="float64")
    s = value if isinstance(value, pd.Series) else pd.Series(value)
    s = pd.to_numeric(s, errors="coerce").astype("float64")
    return s[np.isfinite(s.to_numpy())]


def _frame(value: Any, columns: Sequence[str]) -> pd.DataFrame:
    # A snapshot table as a DataFrame (missing: empty with the documented columns).
    if isinstance(value, pd.DataFrame):
        return value
    if value is None:
        return pd.DataFrame(columns=list(columns))
    frame = pd.DataFrame(value)
    return frame if len(frame.columns) else pd.DataFrame(columns=list(columns))


class _Figures:
    """The headline figures of a snapshot, read once for the page and for Jupyter."""

    def __init__(self, snapshot: Mapping[str, Any]) -> None:
        if not isinstance(snapshot, Mapping):
            raise ParameterError(f"snapshot must be a mapping (a dict), got {type(snapshot)!r}")
        self.session = _text(snapshot.get("session") or "live session")
        self.strategy = _text(snapshot.get("strategy"))
        self.broker = _text(snapshot.get("broker"))
        mode = str(snapshot.get("mode") or "").lower()
        self.mode = mode
        self.mode_label, self.mode_color = _MODES.get(
            mode, (f"MODE {mode.upper()}" if mode else "MODE UNKNOWN", "#6d4c41")
        )
        self.updated_at = snapshot.get("updated_at")
        self.last_bar = snapshot.get("last_bar")
        bars = _number(snapshot.get("bars_seen"))
        self.bars_seen = 0 if bars is None else int(bars)
        self.equity = _series(snapshot.get("equity"))
        # daily bars show dates; intraday bars show the time too
        self.daily = _dates_only(self.equity.index if len(self.equity) else [self.last_bar])
        self.positions = _frame(snapshot.get("positions"), POSITION_COLUMNS)
        self.orders = _frame(snapshot.get("open_orders"), ORDER_COLUMNS)
        self.fills = _frame(snapshot.get("fills"), FILL_COLUMNS)
        self.risk = _frame(snapshot.get("risk_events"), RISK_COLUMNS)
        guard = snapshot.get("guard") or {}
        self.guard_state = str(guard.get("state") or "ok").lower()
        self.guard_reason = guard.get("reason")
        self.limits: Mapping[str, Any] = guard.get("limits") or {}
        self.reconciliation = [str(x) for x in (snapshot.get("reconciliation") or [])]

        self.init_cash = _number(snapshot.get("init_cash"))
        self.cash = _number(snapshot.get("cash"))
        self.market_value = self._column_sum(self.positions, "market_value")
        self.unrealized = self._column_sum(self.positions, "unrealized_pnl")
        if len(self.equity):
            self.equity_now: float | None = float(self.equity.iloc[-1])
        elif self.cash is not None:  # before the first bar: cash and what is held
            self.equity_now = self.cash + (self.market_value or 0.0)
        else:
            self.equity_now = None
        self.pnl = self.pct = None
        if self.equity_now is not None and self.init_cash is not None:
            self.pnl = self.equity_now - self.init_cash
            self.pct = self.pnl / self.init_cash if self.init_cash else None
        self.drawdown = _drawdown(self.equity)

    @staticmethod
    def _column_sum(frame: pd.DataFrame, column: str) -> float | None:
        if column not in frame.columns or frame.empty:
            return None
        values = pd.to_numeric(frame[column], errors="coerce")
        return float(values.sum()) if values.notna().any() else None

    @property
    def pnl_text(self) -> str:
        if self.pnl is None:
            return _DASH
        return _signed(self.pnl) + ("" if self.pct is None else f" ({self.pct:+.2%})")


def _drawdown(equity: pd.Series) -> pd.Series:
    # The fall from the running peak (0 at a peak, -0.1 ten percent below it).
    if equity.empty:
        return equity
    peak = equity.cummax()
    return (equity / peak.where(peak > 0) - 1.0).fillna(0.0).clip(upper=0.0)


# -- tables ---------------------------------------------------------------------------


def _cell(column: str, value: Any, date_only: bool = False) -> str:
    if column in _SIGNED:
        x = _number(value)
        return f'<td style="{_NUM_STYLE};{_color(x)}">{_esc(_signed(x))}</td>'
    if column in _QTY:
        return f'<td style="{_NUM_STYLE}">{_esc(_qty(value))}</td>'
    if column in _MONEY:
        return f'<td style="{_NUM_STYLE}">{_esc(_money(value))}</td>'
    if column in _PRICE:
        return f'<td style="{_NUM_STYLE}">{_esc(_price(value))}</td>'
    if column in _TIME:
        return f'<td style="white-space:nowrap">{_esc(_time(value, date_only))}</td>'
    if column == "side":
        side = _text(value)
        color = {"buy": _UP, "sell": _DOWN}.get(side.lower(), "inherit")
        return f'<td style="color:{color};font-weight:600">{_esc(side)}</td>'
    if column in _IDS:
        return f'<td class="id" style="white-space:nowrap">{_esc(_text(value))}</td>'
    return f"<td>{_esc(_text(value))}</td>"


def _header(column: str) -> str:
    numeric = column in _SIGNED | _QTY | _MONEY | _PRICE
    style = ' style="text-align:right"' if numeric else ""
    return f"<th{style}>{_esc(column.replace('_', ' '))}</th>"


def _table(
    frame: pd.DataFrame,
    columns: Sequence[str],
    *,
    empty: str,
    limit: int | None = None,
    total: Mapping[str, Any] | None = None,
    compact: bool = False,
) -> str:
    """Render ``frame`` (documented ``columns`` first, then any others) as a table.

    ``limit`` rows at most; ``total``: a footer row (column -> value); ``compact``: a
    small font set on the table itself (Jupyter, where the page's CSS is absent).
    """
    if frame.empty:
        return f'<p class="empty">{_esc(empty)}</p>'
    names = [c for c in columns if c in frame.columns]
    names += [str(c) for c in frame.columns if c not in columns]
    shown_rows = frame if limit is None else frame.head(limit)
    head = "".join(_header(c) for c in names)
    daily = {c for c in names if c in _TIME and _dates_only(shown_rows[c])}
    body = []
    for row in shown_rows.itertuples(index=False, name=None):
        values = dict(zip([str(c) for c in frame.columns], row, strict=True))
        row_cells = "".join(_cell(c, values.get(c), c in daily) for c in names)
        body.append(f"<tr>{row_cells}</tr>")
    foot = ""
    if total:
        cells = [
            _cell(c, total[c]) if c in total else ("<td>Total</td>" if i == 0 else "<td></td>")
            for i, c in enumerate(names)
        ]
        foot = "<tfoot><tr>" + "".join(cells) + "</tr></tfoot>"
    table_style = ' style="font-size:12px"' if compact else ""
    more = ""
    if limit is not None and len(frame) > limit:
        more = f'<p class="more">{len(frame) - limit:,} more not shown.</p>'
    return (
        f'<div class="scroll"><table{table_style}><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody>{foot}</table></div>{more}"
    )


def _positions_table(f: _Figures, limit: int | None = None, compact: bool = False) -> str:
    total = {}
    if f.market_value is not None:
        total["market_value"] = f.market_value
    if f.unrealized is not None:
        total["unrealized_pnl"] = f.unrealized
    if len(f.positions) < 2 or "symbol" not in f.positions.columns:
        total = {}
    return _table(
        f.positions,
        POSITION_COLUMNS,
        empty="No open positions.",
        limit=limit,
        total=total,
        compact=compact,
    )


# -- the equity chart -----------------------------------------------------------------


def _thin(values: np.ndarray, limit: int) -> np.ndarray:
    """Return the positions of at most ~``limit`` points that keep every swing visible."""
    n = len(values)
    if n <= limit:
        return np.arange(n)
    edges = np.linspace(0, n, limit // 2 + 1).astype(int)
    keep = {0, n - 1}
    for a, b in itertools.pairwise(edges):
        if b > a:
            segment = values[a:b]
            keep.update((a + int(segment.argmin()), a + int(segment.argmax())))
    return np.array(sorted(keep))


def _label(value: Any, date_only: bool) -> str:
    if isinstance(value, pd.Timestamp | np.datetime64):
        return _time(value, date_only)
    return _text(value)


def _equity_svg(equity: pd.Series, init_cash: float | None = None) -> str:
    """Draw the equity line above its drawdown area as one inline SVG (any length >= 0)."""
    width, left, right, top = 960, 96, 20, 12
    eq_h, gap, dd_h, bottom = 210, 26, 70, 26
    height = top + eq_h + gap + dd_h + bottom
    x0, x1 = left, width - right
    eq_top, eq_bottom = top, top + eq_h
    dd_top = eq_bottom + gap
    dd_bottom = dd_top + dd_h
    font = 'font-size="12" fill="#555"'
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" '
        f'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg" '
        f'role="img" aria-label="equity and drawdown">',
        f'<rect x="{x0}" y="{eq_top}" width="{x1 - x0}" height="{eq_h}" fill="#fafbfc" '
        'stroke="#d0d7de"/>',
        f'<rect x="{x0}" y="{dd_top}" width="{x1 - x0}" height="{dd_h}" fill="#fafbfc" '
        'stroke="#d0d7de"/>',
        f'<text x="{x0}" y="{dd_top - 8}" {font}>Drawdown</text>',
    ]
    n = len(equity)
    if n == 0:
        parts.append(
            f'<text x="{(x0 + x1) / 2}" y="{(eq_top + eq_bottom) / 2}" text-anchor="middle" '
            f'font-size="15" fill="#888">No equity yet: the first bar has not arrived.</text>'
        )
        parts.append("</svg>")
        return "".join(parts)

    values = equity.to_numpy(dtype="float64")
    lo, hi = float(values.min()), float(values.max())
    pad = 8  # keep the line off the frame

    def x_at(i: np.ndarray) -> np.ndarray:
        return x0 + (x1 - x0) * (i / (n - 1) if n > 1 else np.full(len(i), 0.5))

    def y_at(v: np.ndarray) -> np.ndarray:
        if hi == lo:
            return np.full(len(v), (eq_top + eq_bottom) / 2)
        return eq_bottom - pad - (v - lo) / (hi - lo) * (eq_h - 2 * pad)

    def label_y(v: float) -> float:
        return float(y_at(np.array([v]))[0])

    # y labels: the maximum and the minimum (one label for a flat line), on grid lines
    marks = [hi] if hi == lo else [hi, lo]
    for v in marks:
        y = label_y(v)
        parts.append(
            f'<line x1="{x0}" x2="{x1}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e1e4e8" '
            'stroke-dasharray="3 3"/>'
        )
        parts.append(
            f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end" {font}>{_esc(_money(v))}</text>'
        )
    # the starting cash, when it lies inside the range and its label has room
    if init_cash is not None and lo < init_cash < hi:
        y = label_y(init_cash)
        if all(abs(y - label_y(v)) >= 16 for v in marks):
            parts.append(
                f'<line x1="{x0}" x2="{x1}" y1="{y:.1f}" y2="{y:.1f}" stroke="#999" '
                'stroke-dasharray="6 4"/>'
                f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
                f'fill="#999">start {_esc(_money(init_cash))}</text>'
            )

    idx = _thin(values, 2 * (x1 - x0))
    xs, ys = x_at(idx.astype("float64")), y_at(values[idx])
    if n == 1:
        parts.append(
            f'<circle cx="{xs[0]:.1f}" cy="{ys[0]:.1f}" r="4" fill="#1f6feb">'
            f"<title>{_esc(_money(values[0]))}</title></circle>"
        )
    else:
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
        parts.append(
            f'<polyline class="equity-line" fill="none" stroke="#1f6feb" stroke-width="1.6" '
            f'stroke-linejoin="round" points="{points}"/>'
        )
        parts.append(f'<circle cx="{xs[-1]:.1f}" cy="{ys[-1]:.1f}" r="3" fill="#1f6feb"/>')

    # drawdown: an area from 0 (top of its panel) down to the deepest fall
    dd = _drawdown(equity).to_numpy(dtype="float64")
    deepest = float(dd.min())
    parts.append(f'<text x="{x0 - 6}" y="{dd_top + 4}" text-anchor="end" {font}>0%</text>')
    if deepest < 0:
        parts.append(
            f'<text x="{x0 - 6}" y="{dd_bottom}" text-anchor="end" {font}>'
            f"{_esc(f'{deepest:.1%}')}</text>"
        )
        didx = _thin(dd, 2 * (x1 - x0))
        dx = x_at(didx.astype("float64"))
        dy = dd_top + dd[didx] / deepest * (dd_h - 2)
        path = " ".join(f"L{x:.1f},{y:.1f}" for x, y in zip(dx, dy, strict=True))
        parts.append(
            f'<path class="drawdown-area" d="M{dx[0]:.1f},{dd_top} {path} '
            f'L{dx[-1]:.1f},{dd_top} Z" fill="#f4a6a6" fill-opacity="0.6" stroke="#c62828" '
            'stroke-width="1"/>'
        )
    else:
        parts.append(
            f'<line x1="{x0}" x2="{x1}" y1="{dd_top + 1}" y2="{dd_top + 1}" stroke="#c62828"/>'
        )

    # x labels: the first and the last bar's time (one centred label for one bar)
    date_y = dd_bottom + 18
    daily = _dates_only(equity.index)
    first, last = _label(equity.index[0], daily), _label(equity.index[-1], daily)
    if n == 1:
        parts.append(
            f'<text x="{(x0 + x1) / 2}" y="{date_y}" text-anchor="middle" {font}>'
            f"{_esc(first)}</text>"
        )
    else:
        parts.append(f'<text x="{x0}" y="{date_y}" {font}>{_esc(first)}</text>')
        parts.append(f'<text x="{x1}" y="{date_y}" text-anchor="end" {font}>{_esc(last)}</text>')
        parts.append(
            f'<text x="{(x0 + x1) / 2}" y="{date_y}" text-anchor="middle" font-size="11" '
            f'fill="#999">{n:,} bars</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


# -- the page -------------------------------------------------------------------------

_CSS = """
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",
  Arial,sans-serif;color:#1f2328;background:#f6f8fa}
main{max-width:1240px;margin:0 auto;padding:16px 20px 40px}
.banner{color:#fff;padding:10px 20px;font-weight:600;display:flex;flex-wrap:wrap;
  gap:6px 18px;align-items:baseline}
.banner .mode{font-size:20px;letter-spacing:.08em}
.banner .meta{font-weight:400;opacity:.92}
.guard-banner{color:#fff;padding:10px 20px;font-size:17px;font-weight:700}
.guard-banner .reason{font-weight:400}
h1{font-size:22px;margin:8px 0 2px}
.sub{color:#57606a;margin:0 0 14px}
h2{font-size:16px;margin:0 0 8px}
h2 .count{color:#57606a;font-weight:400;font-size:13px;margin-left:6px}
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:14px 16px;
  margin:0 0 14px}
.tiles{display:grid;grid-template-columns:repeat(4,minmax(0,1fr));gap:10px;margin:0 0 14px}
@media (max-width:760px){.tiles{grid-template-columns:repeat(2,minmax(0,1fr))}}
.tile{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:10px 12px}
.tile .k{color:#57606a;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.tile .v{font-size:20px;font-weight:600;font-variant-numeric:tabular-nums;
  white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.tile .v.t{font-size:16px;white-space:normal;line-height:1.5}
.tile .n{color:#57606a;font-size:12px}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:0 14px}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:13px}
th{text-align:left;color:#57606a;font-weight:600;border-bottom:2px solid #d0d7de;
  padding:5px 8px;white-space:nowrap}
td{padding:4px 8px;border-bottom:1px solid #eaeef2}
tbody tr:nth-child(even){background:#f6f8fa}
tfoot td{font-weight:600;border-top:2px solid #d0d7de;border-bottom:none}
td.id{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,monospace;font-size:12px;
  color:#57606a;white-space:nowrap}
.empty{color:#8c959f;margin:4px 0}
.more{color:#57606a;font-size:12px;margin:6px 0 0}
.badge{display:inline-block;color:#fff;border-radius:4px;padding:1px 8px;font-weight:600}
ul.recon{margin:4px 0;padding-left:20px}
svg.chart{display:block;width:100%;min-width:640px;height:auto}
footer{color:#8c959f;font-size:12px;text-align:center}
"""


def _tile(key: str, value: str, note: str = "", style: str = "", when: bool = False) -> str:
    # One headline figure; ``when``: a time, in a smaller font that may wrap.
    extra = f'<div class="n">{_esc(note)}</div>' if note else ""
    style_attr = f' style="{style}"' if style else ""
    kind = "v t" if when else "v"
    return (
        f'<div class="tile"><div class="k">{_esc(key)}</div>'
        f'<div class="{kind}"{style_attr}>{_esc(value)}</div>{extra}</div>'
    )


def _section(ident: str, title: str, body: str, count: int | None = None) -> str:
    counter = f'<span class="count">{count:,}</span>' if count is not None else ""
    return f'<section id="{ident}"><h2>{_esc(title)}{counter}</h2>{body}</section>'


def _guard_body(f: _Figures) -> str:
    _, color = _GUARD.get(f.guard_state, ("", "#6d4c41"))
    reason = ""
    if not _missing(f.guard_reason) and str(f.guard_reason):
        reason = f' <span class="reason">{_esc(f.guard_reason)}</span>'
    state = f'<p><span class="badge" style="background:{color}">{_esc(f.guard_state.upper())}'
    state += f"</span>{reason}</p>"
    if not f.limits:
        return state + '<p class="empty">No limits set.</p>'
    rows = "".join(
        f'<tr><td>{_esc(str(k).replace("_", " "))}</td><td style="{_NUM_STYLE}">'
        f"{_esc(_DASH if _missing(v) else shown(v))}</td></tr>"
        for k, v in f.limits.items()
    )
    return (
        state + "<table><thead><tr><th>limit</th><th style='text-align:right'>value</th>"
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )


def _reconciliation_body(f: _Figures) -> str:
    if not f.reconciliation:
        return '<p class="empty">No differences at the last start.</p>'
    items = "".join(f"<li>{_esc(x)}</li>" for x in f.reconciliation)
    return f'<ul class="recon">{items}</ul>'


def _check_refresh(refresh_seconds: int | None) -> None:
    if refresh_seconds is None:
        return
    if (
        isinstance(refresh_seconds, bool)
        or not isinstance(refresh_seconds, int | np.integer)
        or refresh_seconds < 1
    ):
        raise ParameterError(
            f"refresh_seconds must be a positive integer or None, got {refresh_seconds!r}"
        )


def render_status_html(snapshot: Mapping[str, Any], *, refresh_seconds: int | None = 5) -> str:
    """Return the live status page of ``snapshot`` as one self-contained HTML document.

    The page has a coloured banner for the mode (DRY-RUN grey, PAPER blue, LIVE red)
    and one for a halted or killed guard, headline figures, the equity and drawdown
    chart (inline SVG), and sections ``#positions``, ``#orders``, ``#fills``,
    ``#risk``, ``#guard`` and ``#reconciliation``. It loads nothing from the network.

    Parameters
    ----------
    snapshot : Mapping[str, Any]
        The session's state; every key is optional (see the module docstring).
    refresh_seconds : int or None, default 5
        The browser reloads the page every this many seconds (a ``<meta
        http-equiv="refresh">``); ``None`` for a page that does not reload.

    Returns
    -------
    str
        The HTML document.

    Raises
    ------
    ParameterError
        If ``snapshot`` is not a mapping or ``refresh_seconds`` is not a positive integer.

    Examples
    --------
    >>> page = render_status_html({"session": "demo", "mode": "live"}, refresh_seconds=10)
    >>> '<meta http-equiv="refresh" content="10">' in page
    True
    >>> "<title>demo \u00b7 LIVE" in page and 'id="equity"' in page
    True
    """
    _check_refresh(refresh_seconds)
    f = _Figures(snapshot)
    refresh = (
        f'<meta http-equiv="refresh" content="{int(refresh_seconds)}">'
        if refresh_seconds is not None
        else ""
    )
    title = f"{f.session} \u00b7 {f.mode_label} \u00b7 qresearch live"

    meta = [f"session {f.session}"]
    if f.strategy != _DASH:
        meta.append(f"strategy {f.strategy}")
    if f.broker != _DASH:
        meta.append(f"broker {f.broker}")
    banner = (
        f'<div class="banner" id="mode-banner" style="background:{f.mode_color}">'
        f'<span class="mode">{_esc(f.mode_label)}</span>'
        f'<span class="meta">{_esc(" | ".join(meta))}</span></div>'
    )
    if f.guard_state != "ok":
        text, color = _GUARD.get(f.guard_state, (f"GUARD {f.guard_state.upper()}", "#6d4c41"))
        reason = ""
        if not _missing(f.guard_reason) and str(f.guard_reason):
            reason = f': <span class="reason">{_esc(f.guard_reason)}</span>'
        banner += (
            f'<div class="guard-banner" id="guard-banner" style="background:{color}">'
            f"{_esc(text)}{reason}</div>"
        )

    dd_now = float(f.drawdown.iloc[-1]) if len(f.drawdown) else None
    dd_max = float(f.drawdown.min()) if len(f.drawdown) else None
    tiles = [
        _tile("Equity", _money(f.equity_now)),
        _tile(
            "P&L",
            _signed(f.pnl),
            "" if f.pct is None else f"{f.pct:+.2%} since start",
            _color(f.pnl),
        ),
        _tile(
            "Cash",
            _money(f.cash),
            "" if f.init_cash is None else f"started with {_money(f.init_cash)}",
        ),
        _tile(
            "Unrealized P&L",
            _signed(f.unrealized),
            f"{len(f.positions):,} positions",
            _color(f.unrealized),
        ),
        _tile(
            "Drawdown",
            _DASH if dd_now is None else f"{dd_now:.2%}",
            "" if dd_max is None else f"max {dd_max:.2%}",
            _color(dd_now) if dd_now else "",
        ),
        _tile("Last bar", _time(f.last_bar, f.daily), f"{f.bars_seen:,} bars seen", when=True),
        _tile(
            "Guard",
            f.guard_state.upper(),
            f"{len(f.risk):,} risk events",
            f"color:{_GUARD.get(f.guard_state, ('', '#6d4c41'))[1]}",
        ),
        _tile(
            "Updated",
            _time(f.updated_at),
            "" if refresh_seconds is None else f"page reloads every {refresh_seconds} s",
            when=True,
        ),
    ]
    sub = f"{f.strategy} on {f.broker}" if f.strategy != _DASH or f.broker != _DASH else ""

    body = [
        f"<h1>{_esc(f.session)}</h1>",
        f'<p class="sub">{_esc(sub)}</p>' if sub else "",
        f'<div class="tiles" id="summary">{"".join(tiles)}</div>',
        _section(
            "equity", "Equity", f'<div class="scroll">{_equity_svg(f.equity, f.init_cash)}</div>'
        ),
        _section("positions", "Positions", _positions_table(f), len(f.positions)),
        _section(
            "orders",
            "Open orders",
            _table(f.orders, ORDER_COLUMNS, empty="No open orders."),
            len(f.orders),
        ),
        _section(
            "fills",
            "Recent fills",
            _table(f.fills, FILL_COLUMNS, empty="No fills yet."),
            len(f.fills),
        ),
        '<div class="grid2">',
        _section(
            "risk",
            "Risk events",
            _table(f.risk, RISK_COLUMNS, empty="No risk events."),
            len(f.risk),
        ),
        _section("guard", "Risk guard", _guard_body(f)),
        "</div>",
        _section(
            "reconciliation",
            "Reconciliation at the last start",
            _reconciliation_body(f),
            len(f.reconciliation),
        ),
        f"<footer>qresearch live status \u00b7 written {_esc(_time(f.updated_at))}</footer>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{refresh}<title>{_esc(title)}</title><style>{_CSS}</style></head>"
        f"<body>{banner}<main>{''.join(body)}</main></body></html>\n"
    )


def write_status_page(
    snapshot: Mapping[str, Any], folder: str | os.PathLike[str], *, refresh_seconds: int | None = 5
) -> Path:
    """Write the status page of ``snapshot`` to ``folder/index.html``, atomically.

    The page (:func:`render_status_html`) goes to a temporary file in ``folder`` that
    then replaces ``index.html`` (``os.replace``): a browser reloading it sees the old
    page or the new one, never half of one. If anything fails, the old page stays and
    the temporary file is removed. ``folder`` is created when missing.

    Parameters
    ----------
    snapshot : Mapping[str, Any]
        The session's state (see the module docstring).
    folder : str or os.PathLike
        The session's report folder, e.g. ``reports/live/<session>``.
    refresh_seconds : int or None, default 5
        Passed to :func:`render_status_html`.

    Returns
    -------
    Path
        The path of ``index.html``.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp()) / "live" / "demo"
    >>> path = write_status_page({"session": "demo", "mode": "dry-run"}, folder)
    >>> path.name, "DRY-RUN" in path.read_text(encoding="utf-8")
    ('index.html', True)
    """
    page = render_status_html(snapshot, refresh_seconds=refresh_seconds)
    out = Path(folder) / "index.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    # A unique name beside the target, so os.replace is atomic (same file system) and
    # the page gets the usual permissions (mkstemp would create it 0600).
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8") as fh:
            fh.write(page)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out


# -- Jupyter --------------------------------------------------------------------------


class Status:
    """The state of a live session, as ``runner.status()`` returns it.

    It shows itself in Jupyter as a compact summary (headline figures with an equity
    sparkline, then positions and open orders) and as a few lines of text in a
    terminal; its tables are the snapshot's DataFrames.

    Parameters
    ----------
    snapshot : Mapping[str, Any]
        The session's state (see the module docstring); copied into :attr:`snapshot`.

    Attributes
    ----------
    snapshot : dict
        The snapshot this status shows.

    Examples
    --------
    >>> import pandas as pd
    >>> status = Status({
    ...     "session": "demo", "mode": "paper", "init_cash": 1_000.0, "cash": 400.0,
    ...     "equity": pd.Series([1_000.0, 980.0]),
    ...     "positions": pd.DataFrame({"symbol": ["ETH/USDT"], "qty": [0.25]}),
    ... })
    >>> status.positions["qty"].tolist()
    [0.25]
    >>> "P&amp;L" in status._repr_html_() and "-20.00" in repr(status)
    True
    """

    def __init__(self, snapshot: Mapping[str, Any]) -> None:
        _Figures(snapshot)  # fails early on what could not be shown
        self.snapshot: dict[str, Any] = dict(snapshot)

    @property
    def positions(self) -> pd.DataFrame:
        """The open positions (columns ``POSITION_COLUMNS``; empty when flat).

        Examples
        --------
        >>> Status({}).positions.columns.tolist()[:2]
        ['symbol', 'qty']
        """
        return _frame(self.snapshot.get("positions"), POSITION_COLUMNS)

    @property
    def open_orders(self) -> pd.DataFrame:
        """The working orders (columns ``ORDER_COLUMNS``; empty when none).

        Examples
        --------
        >>> len(Status({}).open_orders)
        0
        """
        return _frame(self.snapshot.get("open_orders"), ORDER_COLUMNS)

    @property
    def fills(self) -> pd.DataFrame:
        """The recent fills, most recent first (columns ``FILL_COLUMNS``).

        Examples
        --------
        >>> "fill_id" in Status({}).fills.columns
        True
        """
        return _frame(self.snapshot.get("fills"), FILL_COLUMNS)

    @property
    def risk_events(self) -> pd.DataFrame:
        """The risk guard's events: blocked orders, halts, the kill switch.

        Examples
        --------
        >>> Status({}).risk_events.columns.tolist()
        ['timestamp', 'kind', 'detail']
        """
        return _frame(self.snapshot.get("risk_events"), RISK_COLUMNS)

    def _repr_html_(self) -> str:
        f = _Figures(self.snapshot)
        guard = f.guard_state.upper()
        if f.guard_state != "ok" and not _missing(f.guard_reason) and str(f.guard_reason):
            guard += f" ({f.guard_reason})"
        rows = {
            "mode": f.mode_label,
            "last bar": _time(f.last_bar, f.daily),
            "bars seen": f"{f.bars_seen:,}",
            "equity": _money(f.equity_now),
            "cash": _money(f.cash),
            "P&L": f.pnl_text,
            "guard": guard,
        }
        note = f"{f.strategy} on {f.broker}, updated {_time(f.updated_at)}"
        head = summary_html(f"Live session {f.session}", rows, note, f.equity.to_numpy())
        style = "font-size:12px;margin:6px 0 2px"
        positions = f'<div style="{style}"><b>Positions</b> ({len(f.positions):,})</div>'
        orders = f'<div style="{style}"><b>Open orders</b> ({len(f.orders):,})</div>'
        position_table = _positions_table(f, limit=20, compact=True)
        order_table = _table(
            f.orders, ORDER_COLUMNS, empty="No open orders.", limit=20, compact=True
        )
        return (
            f'<div style="font-size:12px">{head}{positions}{position_table}{orders}{order_table}'
            "</div>"
        )

    def __repr__(self) -> str:
        f = _Figures(self.snapshot)
        guard = f.guard_state
        if f.guard_state != "ok" and not _missing(f.guard_reason) and str(f.guard_reason):
            guard += f" ({f.guard_reason})"
        return "\n".join(
            [
                f"Status {f.session}: {f.mode_label}, {f.strategy} on {f.broker}",
                f"  last bar {_time(f.last_bar, f.daily)}  bars {f.bars_seen:,}  "
                f"updated {_time(f.updated_at)}",
                f"  equity {_money(f.equity_now)}  cash {_money(f.cash)}  P&L {f.pnl_text}",
                f"  guard {guard}  positions {len(f.positions):,}  open orders "
                f"{len(f.orders):,}  fills {len(f.fills):,}  risk events {len(f.risk):,}",
            ]
        )
