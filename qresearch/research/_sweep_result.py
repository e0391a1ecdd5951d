"""SweepResult: the trials of a sweep folder, ranked, with PSR, DSR, PBO and a report.

Written by :func:`qresearch.research.sweeps.sweep`; plotly is imported only by the
methods that draw.
"""

from __future__ import annotations

import html
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import pandas as pd

from qresearch.exceptions import ParameterError

__all__ = ["STATS_COLUMNS", "SweepResult"]

STATS_COLUMNS = ("sharpe", "cagr", "max_drawdown", "volatility", "sortino", "total_return")
"""The stats shown in :meth:`SweepResult.table`, after the parameters and status."""


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    # Unique temporary file in the same folder, flushed, then renamed into place.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class SweepResult:
    """The trials of a sweep folder: ranked table, DSR, PBO, heatmap and HTML report.

    Parameters
    ----------
    out_dir : path
        The sweep folder written by :func:`sweep`.
    trial_ids : list of str, optional
        Restrict to these trials (default: every trial in the folder).
    n_resumed : int
        How many trials were found complete and skipped by the run that made this.
    """

    def __init__(
        self, out_dir: str | os.PathLike, trial_ids: list[str] | None = None, n_resumed: int = 0
    ) -> None:
        self.out_dir = Path(out_dir)
        self.n_resumed = n_resumed
        meta_path = self.out_dir / "sweep.json"
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        self.name: str = meta.get("name", self.out_dir.name)
        self.periods_per_year: float = float(meta.get("periods_per_year", 252))
        paths = sorted((self.out_dir / "trials").glob("*.json"))
        records = [json.loads(p.read_text()) for p in paths]
        if trial_ids is not None:
            order = {tid: i for i, tid in enumerate(trial_ids)}
            records = sorted(
                (r for r in records if r["trial_id"] in order), key=lambda r: order[r["trial_id"]]
            )
        self.records: list[dict[str, Any]] = records
        self._table: pd.DataFrame | None = None

    def returns(self) -> pd.DataFrame:
        """Return the trials' returns, one column per trial id (ok trials with returns)."""
        cols = {}
        for rec in self.records:
            path = self.out_dir / "trials" / f"{rec['trial_id']}.parquet"
            if rec.get("status") == "ok" and rec.get("has_returns") and path.exists():
                cols[rec["trial_id"]] = pd.read_parquet(path)["returns"]
        return pd.DataFrame(cols)

    def table(self) -> pd.DataFrame:
        """Return one row per trial, ranked by Sharpe (failed trials last).

        Columns: the parameters, ``status``, the stats (``sharpe``, ``cagr``,
        ``max_drawdown``, ...; a notebook's own metrics otherwise), ``psr`` (the
        probabilistic Sharpe ratio against 0), ``dsr`` (the deflated Sharpe ratio with
        ``N`` = the trials with returns and ``V`` the variance of their per-period
        Sharpe ratios), ``error``, ``duration_s`` and ``trial_id``.
        """
        if self._table is not None:
            return self._table.copy()
        from qresearch.evaluation import deflated_sharpe_ratio, probabilistic_sharpe_ratio

        rows = []
        params = list(dict.fromkeys(k for r in self.records for k in r["params"]))
        for rec in self.records:
            row: dict[str, Any] = dict(rec["params"])
            row["status"] = rec.get("status")
            metrics = rec.get("metrics", {})
            values = {**metrics, **rec.get("stats", {})}
            extra = [k for k in metrics if k not in STATS_COLUMNS and k not in row]
            for key in [*STATS_COLUMNS, *extra]:
                row[key] = values.get(key, math.nan)
            row.update(error=rec.get("error") or "", duration_s=rec.get("duration_s"))
            row["trial_id"] = rec["trial_id"]
            rows.append(row)
        table = pd.DataFrame(rows)
        returns = {c: s.dropna() for c, s in self.returns().items()}
        returns = {c: s for c, s in returns.items() if len(s) >= 3 and s.std() > 0}
        sharpes = [float(s.mean() / s.std(ddof=1)) for s in returns.values()]
        psr, dsr = {}, {}
        for tid, series in returns.items():
            psr[tid] = probabilistic_sharpe_ratio(series)
            if len(sharpes) >= 2:
                dsr[tid] = deflated_sharpe_ratio(series, trials_sharpe=sharpes)
            else:
                dsr[tid] = deflated_sharpe_ratio(series, n_trials=1, sharpe_variance=0.0)
        if not table.empty:
            at = len(params) + 1 + len(STATS_COLUMNS)
            table.insert(at, "psr", table["trial_id"].map(psr).astype(float))
            table.insert(at + 1, "dsr", table["trial_id"].map(dsr).astype(float))
            ok = (table["status"] == "ok").astype(int)
            table = table.assign(_ok=ok).sort_values(
                ["_ok", "sharpe"], ascending=[False, False], na_position="last", kind="stable"
            )
            table = table.drop(columns="_ok").reset_index(drop=True)
            table.index.name = "rank"
            table.index += 1
        self._table = table
        return table.copy()

    def best(self) -> pd.Series:
        """Return the table row of the completed trial with the highest Sharpe ratio."""
        table = self.table()
        ok = table[table["status"] == "ok"]
        if ok.empty:
            raise ParameterError(f"Sweep {self.name} has no completed trial; see table()['error'].")
        return ok.iloc[0]

    def pbo(self, n_partitions: int = 16) -> Any:
        """Return the probability of backtest overfitting across the trials (PBOResult).

        Uses the rows where every trial has a return; ``n_partitions`` is lowered (to
        an even number) until each block has 2 rows. None with fewer than 2 trials or
        fewer than 4 common rows.
        """
        from qresearch.evaluation import probability_of_backtest_overfitting

        matrix = self.returns().dropna()
        if matrix.shape[1] < 2 or len(matrix) < 4:
            return None
        s = n_partitions
        while s > 2 and len(matrix) < 2 * s:
            s -= 2
        return probability_of_backtest_overfitting(matrix, n_partitions=s)

    def heatmap(self, x: str, y: str, metric: str = "sharpe") -> Any:
        """Return a plotly heatmap of ``metric`` over parameters ``x`` and ``y``.

        Completed trials only; when other parameters vary too, each cell shows the
        mean over them (the title says so).
        """
        import plotly.graph_objects as go

        table = self.table()
        for name, what in ((x, "x"), (y, "y"), (metric, "metric")):
            if name not in table.columns:
                raise ParameterError(
                    f"The {what!r} parameter of heatmap must be a column of table(); got "
                    f"{name!r}. Columns: {list(table.columns)}."
                )
        ok = table[table["status"] == "ok"]
        grid = ok.pivot_table(index=y, columns=x, values=metric, aggfunc="mean")
        others = [
            c for c in self.parameters() if c not in (x, y) and table[c].nunique(dropna=False) > 1
        ]
        title = f"{self.name}: {metric} by {x} and {y}"
        if others:
            title += f" (mean over {', '.join(others)})"
        fig = go.Figure(
            go.Heatmap(
                z=grid.to_numpy(),
                x=[str(v) for v in grid.columns],
                y=[str(v) for v in grid.index],
                colorscale="RdYlGn",
                colorbar={"title": metric},
                hovertemplate=f"{x}=%{{x}}<br>{y}=%{{y}}<br>{metric}=%{{z:.4g}}<extra></extra>",
            )
        )
        fig.update_layout(
            title=title, xaxis_title=x, yaxis_title=y, xaxis_type="category", yaxis_type="category"
        )
        return fig

    def parameters(self) -> list[str]:
        """Return the parameter names, in grid order."""
        return list(dict.fromkeys(k for r in self.records for k in r["params"]))

    def _summary_html(self) -> str:
        table = self.table()
        n_ok = int((table["status"] == "ok").sum()) if not table.empty else 0
        parts = [
            f"<p><b>Sweep {html.escape(self.name)}</b>: {len(table)} trials, {n_ok} completed, "
            f"{len(table) - n_ok} failed.</p>"
        ]
        if n_ok:
            best = self.best()
            # numpy scalars as plain Python values (126, not np.int64(126))
            values = {p: getattr(best[p], "item", lambda v=best[p]: v)() for p in self.parameters()}
            shown = ", ".join(f"{p}={v!r}" for p, v in values.items())
            parts.append(
                f"<p>Best by Sharpe: {html.escape(shown)}: Sharpe {best['sharpe']:.3f}, "
                f"PSR {best['psr']:.3f}, deflated Sharpe ratio {best['dsr']:.3f} "
                f"(N={n_ok} trials).</p>"
            )
        pbo = self.pbo()
        if pbo is not None:
            parts.append(
                f"<p>Probability of backtest overfitting (CSCV, S={pbo.n_partitions}): "
                f"{pbo.pbo:.3f}.</p>"
            )
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        table = self.table().drop(columns=["trial_id"], errors="ignore")
        return self._summary_html() + table.head(20).to_html(float_format="{:.4g}".format)

    def __repr__(self) -> str:
        return (
            f"SweepResult({self.name!r}, {len(self.records)} trials, out_dir={str(self.out_dir)!r})"
        )

    def to_html(self, path: str | os.PathLike | None = None) -> Path:
        """Write a self-contained HTML report (plotly.js inlined); return its path.

        Default path ``out_dir/report.html``. The heatmap is drawn over the first two
        parameters that take more than one value.
        """
        target = Path(path) if path is not None else self.out_dir / "report.html"
        table = self.table()
        body = [self._summary_html()]
        varying = [p for p in self.parameters() if table[p].nunique(dropna=False) > 1]
        if len(varying) >= 2 and (table["status"] == "ok").any():
            fig = self.heatmap(varying[0], varying[1])
            body.append(fig.to_html(full_html=False, include_plotlyjs=True))
        body.append(table.to_html(float_format="{:.4g}".format, na_rep=""))
        page = (
            "<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>Sweep {html.escape(self.name)}</title></head><body>"
            + "\n".join(body)
            + "</body></html>"
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write_bytes(target, page.encode())
        return target
