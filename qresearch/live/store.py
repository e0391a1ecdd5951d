"""The live runner's durable state: a SQLite file in WAL mode, one transaction per change.

Tables
------
``meta``
    Key/value settings and progress: strategy id, broker, initial cash, the last bar
    fully processed (``last_bar``), the strategy's persisted ``ctx.state``, the guard.
``orders``
    One row per order the strategy decided, keyed by its deterministic client order id
    (UNIQUE). Written with status ``"new"`` *before* submission and updated after:
    ``"submitted"``, then the venue's final state (``"filled"``, ``"cancelled"``,
    ``"rejected"``, ``"expired"``); or ``"blocked"`` (the risk guard refused it, with
    the reason), ``"dry_run"`` (logged, never sent), ``"unsent"`` (written, then the
    process died before the venue got it: found nowhere at restart).
``fills``
    One row per venue execution, keyed by the venue's fill id (PRIMARY KEY): a fill
    reported twice is recorded once.
``bars``
    Per processed bar: cash and equity (the status page's equity curve).
``events``
    Risk events, blocked orders, kill switch, and every difference resolved when the
    runner reconciled the store with the broker at start.

``PRAGMA synchronous=FULL``: a committed change survives a killed process and a power
loss. Opening a store that another live runner holds open is refused (a lock file).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from qresearch._process import pid_alive
from qresearch.exceptions import ParameterError
from qresearch.live.broker import BrokerFill, LiveOrder

__all__ = ["StateStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY,
    client_order_id TEXT NOT NULL UNIQUE,
    bar TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    qty REAL NOT NULL,
    order_type TEXT NOT NULL,
    limit_price REAL,
    stop_price REAL,
    tif TEXT NOT NULL,
    status TEXT NOT NULL,
    broker_order_id TEXT,
    filled REAL NOT NULL DEFAULT 0,
    avg_price REAL,
    reason TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS fills (
    fill_id TEXT PRIMARY KEY,
    client_order_id TEXT NOT NULL,
    broker_order_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    qty REAL NOT NULL,
    price REAL NOT NULL,
    fee REAL NOT NULL,
    timestamp TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS bars (
    timestamp TEXT PRIMARY KEY, cash REAL NOT NULL, equity REAL NOT NULL, data TEXT
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    timestamp TEXT,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
"""

# Order states after which nothing changes.
FINAL = frozenset({"filled", "cancelled", "rejected", "expired", "blocked", "dry_run"})
# Order states the venue has (or may have): checked against it.
AT_VENUE = frozenset({"submitted"})


def _now() -> str:
    return pd.Timestamp.now(tz="UTC").isoformat()


def _ts(value: Any) -> str | None:
    if value is None:
        return None
    return pd.Timestamp(value).isoformat()


class StateStore:
    """The durable state of a live session (see the module docstring for the tables).

    Parameters
    ----------
    path : str or Path
        The SQLite file (created with its folder). ``":memory:"`` keeps it in memory
        (tests; nothing survives the process).

    Examples
    --------
    >>> store = StateStore(":memory:")
    >>> store.set_meta("strategy_id", "sma")
    >>> store.get_meta("strategy_id")
    'sma'
    >>> store.close()
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock_path: Path | None = None
        if self.path != ":memory:":
            p = Path(self.path)
            if p.is_dir():
                raise ParameterError(
                    f"store {self.path!r} is a folder; pass a file such as state.db."
                )
            p.parent.mkdir(parents=True, exist_ok=True)
            self._take_lock(p)
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def _take_lock(self, path: Path) -> None:
        # One live runner per store: an exclusive lock file holding our pid; a lock of
        # a process that no longer runs is taken over.
        lock = path.with_name(path.name + ".lock")
        for _ in range(2):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    pid = int(lock.read_text().strip() or "0")
                except (OSError, ValueError):
                    pid = 0
                if pid and pid_alive(pid):
                    who = "this process" if pid == os.getpid() else f"process {pid}"
                    raise ParameterError(
                        f"The state store {str(path)!r} is in use by {who} (a live runner "
                        f"or an open StateStore); close it first, or use another store. "
                        f"Lock: {lock}."
                    ) from None
                lock.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as fh:
                fh.write(str(os.getpid()))
            self._lock_path = lock
            return

    def close(self) -> None:
        """Close the database and release the lock."""
        self._db.close()
        if self._lock_path is not None:
            self._lock_path.unlink(missing_ok=True)
            self._lock_path = None

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``, rollback on error)."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # ---- meta
    def get_meta(self, key: str, default: Any = None) -> Any:
        """Return the JSON value stored under ``key`` (``default`` when missing)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row["value"])

    def set_meta(self, key: str, value: Any, db: sqlite3.Connection | None = None) -> None:
        """Store ``value`` (JSON) under ``key`` (in ``db``'s open transaction if given)."""
        sql = "INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"
        if db is not None:
            db.execute(sql, (key, json.dumps(value)))
            return
        with self.transaction() as tx:
            tx.execute(sql, (key, json.dumps(value)))

    # ---- orders
    def order(self, client_order_id: str) -> dict[str, Any] | None:
        """Return the order row of ``client_order_id`` as a dict, or None."""
        row = self._db.execute(
            "SELECT * FROM orders WHERE client_order_id = ?", (client_order_id,)
        ).fetchone()
        return None if row is None else dict(row)

    def add_order(self, order: LiveOrder, bar: Any, status: str, reason: str = "") -> int:
        """Write a new order (one transaction); return its local id."""
        now = _now()
        with self.transaction() as tx:
            cur = tx.execute(
                "INSERT INTO orders (client_order_id, bar, symbol, side, qty, order_type, "
                "limit_price, stop_price, tif, status, reason, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    order.client_order_id, _ts(bar), order.symbol, order.side, order.qty,
                    order.order_type, order.limit_price, order.stop_price, order.tif, status,
                    reason, now, now,
                ),
            )  # fmt: skip
            return int(cur.lastrowid or 0)

    def update_order(self, client_order_id: str, **fields: Any) -> None:
        """Update columns of one order (one transaction)."""
        if not fields:
            return
        fields["updated_at"] = _now()
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self.transaction() as tx:
            tx.execute(
                f"UPDATE orders SET {cols} WHERE client_order_id = ?",
                (*fields.values(), client_order_id),
            )

    def order_rows(self, statuses: Any = None) -> list[dict[str, Any]]:
        """Return orders (all, or with a status in ``statuses``) as dicts, oldest first."""
        return [dict(r) for r in self._db.execute(*_orders_query(statuses))]

    def orders(self, statuses: Any = None) -> pd.DataFrame:
        """Orders (all, or those with a status in ``statuses``), oldest first."""
        sql, args = _orders_query(statuses)
        return pd.read_sql_query(sql, self._db, params=args)

    # ---- fills
    def has_fill(self, fill_id: str) -> bool:
        """Return True when the fill is recorded."""
        row = self._db.execute("SELECT 1 FROM fills WHERE fill_id = ?", (fill_id,)).fetchone()
        return row is not None

    def add_fill(self, fill: BrokerFill) -> bool:
        """Record a fill once, and its order's filled quantity (one transaction).

        Returns False (and changes nothing) when the fill id is already recorded.
        """
        with self.transaction() as tx:
            if tx.execute("SELECT 1 FROM fills WHERE fill_id = ?", (fill.fill_id,)).fetchone():
                return False
            tx.execute(
                "INSERT INTO fills VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    fill.fill_id, fill.client_order_id, fill.broker_order_id, fill.symbol,
                    fill.side, fill.qty, fill.price, fill.fee, _ts(fill.timestamp), _now(),
                ),
            )  # fmt: skip
            row = tx.execute(
                "SELECT SUM(qty) AS q, SUM(qty * price) AS v FROM fills WHERE client_order_id = ?",
                (fill.client_order_id,),
            ).fetchone()
            if row["q"]:
                tx.execute(
                    "UPDATE orders SET filled = ?, avg_price = ?, updated_at = ? "
                    "WHERE client_order_id = ?",
                    (row["q"], row["v"] / row["q"], _now(), fill.client_order_id),
                )
        return True

    def last_fill_time(self) -> pd.Timestamp | None:
        """Return the time of the latest recorded fill (None before the first)."""
        row = self._db.execute("SELECT MAX(timestamp) AS t FROM fills").fetchone()
        return None if row["t"] is None else pd.Timestamp(row["t"])

    def fills(self, limit: int | None = None) -> pd.DataFrame:
        """Return the recorded fills, oldest first (the last ``limit`` when given)."""
        df = pd.read_sql_query("SELECT * FROM fills ORDER BY timestamp, rowid", self._db)
        if limit is not None:
            df = df.tail(limit)
        df["timestamp"] = pd.to_datetime(df["timestamp"])
        return df

    def position_book(self) -> pd.DataFrame:
        """Return per symbol, from the recorded fills, the position and its cash flows.

        Columns: qty, avg_price (of the open position), cash_flow (the sum of -signed
        qty x price - fee) and fees.
        """
        fills = self.fills()
        rows: dict[str, dict[str, float]] = {}
        for f in fills.itertuples():
            r = rows.setdefault(
                f.symbol, {"qty": 0.0, "avg_price": 0.0, "cash_flow": 0.0, "fees": 0.0}
            )
            signed = f.qty if f.side == "buy" else -f.qty
            q0 = r["qty"]
            q1 = q0 + signed
            if q0 == 0 or (q0 > 0) == (signed > 0):  # opening or adding
                r["avg_price"] = (
                    (abs(q0) * r["avg_price"] + f.qty * f.price) / abs(q1) if q1 else 0.0
                )
            elif abs(signed) > abs(q0):  # flipping: the rest opens at this price
                r["avg_price"] = f.price
            elif q1 == 0:
                r["avg_price"] = 0.0
            r["qty"] = q1
            r["cash_flow"] += -signed * f.price - f.fee
            r["fees"] += f.fee
        df = pd.DataFrame.from_dict(
            rows, orient="index", columns=["qty", "avg_price", "cash_flow", "fees"]
        )
        df.index.name = "symbol"
        return df

    # ---- bars and events
    def add_bar(
        self,
        timestamp: Any,
        cash: float,
        equity: float,
        bar: pd.DataFrame | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """Mark a bar fully processed, in one transaction.

        Stores its cash, equity and data (the rows of ``bar``, for ``ctx.history``
        after a restart), sets ``last_bar`` and the ``meta`` entries given (the
        strategy's state, the guard).
        """
        # json.dumps keeps every float exactly (to_json would round to 10 digits).
        data = None if bar is None else json.dumps(bar.to_dict(orient="split"))
        with self.transaction() as tx:
            tx.execute(
                "INSERT INTO bars VALUES (?, ?, ?, ?) ON CONFLICT(timestamp) DO UPDATE SET "
                "cash = excluded.cash, equity = excluded.equity, data = excluded.data",
                (_ts(timestamp), cash, equity, data),
            )
            self.set_meta("last_bar", _ts(timestamp), db=tx)
            for key, value in (meta or {}).items():
                self.set_meta(key, value, db=tx)

    def bar_data(self) -> list[tuple[pd.Timestamp, pd.DataFrame]]:
        """Return every processed bar's data, oldest first (to rebuild the history)."""
        out = []
        for row in self._db.execute("SELECT timestamp, data FROM bars ORDER BY timestamp"):
            if row["data"] is not None:
                parts = json.loads(row["data"])
                frame = pd.DataFrame(
                    parts["data"], index=[str(i) for i in parts["index"]], columns=parts["columns"]
                ).astype(float)
                out.append((pd.Timestamp(row["timestamp"]), frame))
        return out

    def equity(self) -> pd.Series:
        """Equity at the close of every processed bar."""
        df = pd.read_sql_query("SELECT timestamp, equity FROM bars ORDER BY timestamp", self._db)
        return pd.Series(
            df["equity"].to_numpy(dtype=float),
            index=pd.DatetimeIndex(pd.to_datetime(df["timestamp"]), name="timestamp"),
            name="equity",
        )

    def add_event(self, kind: str, detail: str, timestamp: Any = None) -> None:
        """Record a risk event, a blocked order or a reconciliation difference."""
        with self.transaction() as tx:
            tx.execute(
                "INSERT INTO events (timestamp, kind, detail, recorded_at) VALUES (?, ?, ?, ?)",
                (_ts(timestamp), kind, detail, _now()),
            )

    def events(self, kind: str | None = None) -> pd.DataFrame:
        """Return the recorded events (of one kind when given), oldest first."""
        sql, args = "SELECT timestamp, kind, detail FROM events", tuple[str, ...]()
        if kind is not None:
            sql, args = sql + " WHERE kind = ?", (kind,)
        return pd.read_sql_query(sql + " ORDER BY id", self._db, params=args)

    def __repr__(self) -> str:
        return f"StateStore({self.path!r})"


def _orders_query(statuses: Any) -> tuple[str, tuple[str, ...]]:
    # SELECT of the orders (with a status in `statuses` unless None), oldest first.
    if statuses is None:
        return "SELECT * FROM orders ORDER BY id", ()
    args = tuple(statuses)
    marks = ", ".join("?" * len(args))
    return f"SELECT * FROM orders WHERE status IN ({marks}) ORDER BY id", args
