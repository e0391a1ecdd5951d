"""The ``qresearch`` command-line tool.

Commands: demo, ingest, migrate, coverage, tearsheet, samples, run, runs, sweep, paper.

Run ``qresearch --help`` for the commands and ``qresearch CMD --help`` for options.

Errors: bad input (a missing, empty or malformed file, a folder that cannot be
written, a bad option) prints one line, ``qresearch CMD: error: <problem and fix>``,
on stderr and exits with status 2; an unexpected failure prints one line too and
exits with status 1. ``qresearch --traceback CMD ...`` shows the Python traceback
instead. A leading ``~`` in a path argument is expanded to the home folder.
``qresearch run`` (papermill runs; ``qresearch runs`` lists them) exits 3 for a
missing notebook, 4 for a bad parameter and 5 for a failed notebook. ``qresearch paper``
(a strategy on the paper broker over bars replayed from the lake, resumable) exits 2 for
a bad strategy, 3 for a missing or empty lake, 4 for an unknown symbol or an empty date
range and 5 when the strategy raises.
"""

from __future__ import annotations

import argparse
import json
import numbers
import os
import platform
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from qresearch.exceptions import ParameterError, QResearchError

__all__ = ["main", "run_demo"]

# The demo portfolio's costs and capital, shared by the backtest and the simulator.
_DEMO_FEES = 0.001
_DEMO_CASH = 10_000.0


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for dist in ("qresearch", "numpy", "pandas", "pyarrow", "duckdb", "exchange-calendars"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    return out


def run_demo(out_dir: str | Path = "reports/demo", lake_root: str | Path = "data/lake") -> Path:
    """Run the reference research pipeline on the bundled data and write ``out_dir``.

    Steps: load the bundled OHLCV sample, validate it, ingest it into the Parquet lake
    at ``lake_root``, read it back through DuckDB, check the round trip and validate
    the read-back bars, back-adjust and resample them to months, check them against
    the XNYS calendar, backtest a monthly top-5 momentum portfolio of the bundled
    20-stock panel with :func:`~qresearch.backtest.from_weights`, replay the same
    weights as orders in the event-driven :class:`~qresearch.sim.Simulator` and
    reconcile the two engines (:func:`~qresearch.sim.reconcile`), and write
    ``coverage.csv``, ``validation.csv``, ``stats.csv``, ``equity.csv``,
    ``orders.csv``, ``tearsheet.html`` (quantstats, against an equal-weight
    benchmark), ``performance.html`` (plotly), ``reconciliation.csv`` (the
    reconciliation summary), ``reconciliation_daily.csv`` (equity of both engines per
    bar and their difference) and ``manifest.json`` into ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        Folder for the outputs (created).
    lake_root : str or Path
        The lake folder (created; existing data for the sample symbols is upserted).

    Returns
    -------
    Path
        ``out_dir/manifest.json``.

    Raises
    ------
    QResearchError
        When a step fails; the manifest is then written with ``status: "failed"``.
    """
    import pandas as pd

    from qresearch.config import DemoConfig
    from qresearch.data import (
        Lake,
        back_adjust,
        fingerprint,
        missing_sessions,
        rebalance_dates,
        validate_bars,
    )
    from qresearch.datasets import load_sample

    config = DemoConfig(out_dir=str(out_dir), lake_root=str(lake_root))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    manifest: dict[str, Any] = {
        "kind": "demo",
        "config": config.to_dict(),
        "config_id": config.config_id,
        "versions": _versions(),
        "started": pd.Timestamp.now(tz="UTC").isoformat(),
        "status": "running",
    }
    manifest_path = out / "manifest.json"

    def step(name: str) -> Any:
        # Print and time one pipeline step.
        print(f"[demo] {name} ...", flush=True)
        return time.perf_counter()

    try:
        t = step("load bundled sample (ORCL, NVDA, YHOO daily OHLCV)")
        bars = load_sample("ohlcv", symbols=list(config.symbols))
        timings["load_sample"] = time.perf_counter() - t
        print(f"       {bars}")

        t = step("validate bars")
        report = validate_bars(bars, raise_on_error=False)
        report.to_csv(out / "validation.csv", index=False)
        timings["validate"] = time.perf_counter() - t
        print(f"       {len(report)} problems found")

        t = step(f"ingest into the Parquet lake at {config.lake_root}")
        lake = Lake(config.lake_root)
        if lake.layout == 1:  # a lake an earlier release wrote: convert it first
            migrated = lake.migrate()
            print(f"       migrated the lake to year files ({int(migrated['rows'].sum())} rows)")
        lake.write(bars)
        timings["lake_write"] = time.perf_counter() - t

        t = step("read back through DuckDB and compare")
        back = lake.read(symbols=list(config.symbols)).select(symbols=list(config.symbols))
        same = back.select(start=bars.index[0], end=bars.index[-1]).close.equals(bars.close)
        timings["lake_read"] = time.perf_counter() - t
        if not same:
            raise QResearchError(
                "The lake round trip changed the data: the close read back from "
                f"{config.lake_root} differs from the bundled sample. Delete the folder "
                "and run the demo again."
            )
        print("       round trip OK: lake.read() == bundled sample")
        problems = len(validate_bars(back, raise_on_error=False))
        print(f"       read-back bars validated: {problems} problems")

        t = step("back-adjust for dividends, resample to months, check the calendar")
        monthly = back_adjust(back).resample("ME")
        month_ends = rebalance_dates(back.index, every="month_end")
        gaps = missing_sessions(back.close)
        timings["adjust_resample_calendar"] = time.perf_counter() - t
        print(
            f"       {len(monthly)} monthly bars, {len(month_ends)} complete month ends, "
            f"{len(gaps)} missing/extra XNYS sessions"
        )

        t = step("backtest: monthly top-5 momentum on the 20-stock panel, 10 bps fees")
        close, weights = _demo_weights()
        result = _demo_backtest(close, weights)
        timings["backtest"] = time.perf_counter() - t
        headline = result.stats()
        headline.to_csv(out / "stats.csv", header=["value"])
        result.equity.to_frame("equity").to_csv(out / "equity.csv")
        result.orders.to_csv(out / "orders.csv", index=False)
        t = step("tearsheet (quantstats, offline) vs the equal-weight 20-stock benchmark")
        benchmark = _demo_benchmark()
        result.tearsheet(
            out / "tearsheet.html", benchmark=benchmark, title="qresearch demo: top-5 momentum"
        )
        result.plot(benchmark=benchmark).write_html(out / "performance.html", include_plotlyjs=True)
        timings["tearsheet"] = time.perf_counter() - t
        print(
            f"       {len(result.orders)} orders; CAGR {headline['cagr']:.2%}, Sharpe "
            f"{headline['sharpe']:.2f}, max drawdown {headline['max_drawdown']:.2%}; "
            f"equity 10000 -> {result.equity.iloc[-1]:,.0f} after {headline['fees']:,.0f} fees"
        )

        t = step("replay the same weights in the event-driven simulator and reconcile")
        reconciliation = _demo_reconcile(result, close, weights)
        summary = reconciliation.summary()
        summary.to_csv(out / "reconciliation.csv", header=["value"])
        reconciliation.daily.to_csv(out / "reconciliation_daily.csv")
        timings["simulate_reconcile"] = time.perf_counter() - t
        for key, value in summary.items():
            shown = int(value) if float(value).is_integer() else f"{value:.3g}"
            print(f"       {key}: {shown}")
        if summary["unexplained"]:
            raise QResearchError(
                f"The simulator's replay of the demo weights differs from the vectorized "
                f"backtest in {summary['unexplained']} fills with no reason; see "
                f"{out / 'reconciliation.csv'} and qr.sim.reconcile(...).unexplained."
            )

        t = step("execute the quickstart notebook (papermill) and convert it to HTML")
        manifest["quickstart"] = _demo_quickstart(out)
        timings["quickstart"] = time.perf_counter() - t
        print(f"       {manifest['quickstart']}")

        coverage = lake.coverage()
        coverage.to_csv(out / "coverage.csv")
        print("\nLake coverage:")
        print(coverage.to_string())
        manifest.update(
            status="ok",
            data_fingerprint=fingerprint(bars.close),
            rows=int(bars.close.notna().sum().sum()),
            validation_problems=len(report),
            monthly_bars=len(monthly),
            backtest_config_id=result.config_id,
            backtest={k: _jsonable_stat(v) for k, v in headline.items()},
            reconciliation={k: _jsonable_stat(v) for k, v in summary.items()},
            missing_sessions=len(gaps),
        )
        return manifest_path
    except Exception as exc:
        manifest.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        manifest["timings_s"] = {k: round(v, 4) for k, v in timings.items()}
        manifest["finished"] = pd.Timestamp.now(tz="UTC").isoformat()
        manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True))
        index = _write_demo_index(out, manifest)
        print(f"\n[demo] wrote {out}/ (manifest.json status={manifest['status']})")
        print(f"[demo] open {index} in a browser: tearsheet, figures, stats, quickstart")


def _demo_quickstart(out: Path) -> str:
    # Execute notebooks/00_quickstart.ipynb (small parameters) into out/ and convert it
    # to HTML; return a note for the index page (the file name, or why it is missing).
    source = Path.cwd() / "notebooks" / "00_quickstart.ipynb"
    if not source.is_file():
        return "not run: notebooks/00_quickstart.ipynb is not in the working directory"
    try:
        import nbconvert
        import papermill

        from qresearch.research.runs import _kernel_manager_class

        executed = out / "quickstart.ipynb"
        # The kernel process's own log (ipykernel's start-up warnings) goes to a file,
        # not into the demo's output.
        with (out / "quickstart.kernel.log").open("wb") as kernel_log:
            papermill.execute_notebook(
                str(source),
                str(executed),
                parameters={"start": "2010-01-01", "out_dir": str(out / "quickstart")},
                progress_bar=False,
                log_output=False,
                cwd=str(Path.cwd()),
                kernel_manager_class=_kernel_manager_class({}, kernel_log),
            )
        nb = _with_plotly_html(executed)
        body, _ = nbconvert.HTMLExporter().from_notebook_node(nb)
        # Self-contained: drop the template's require.js / MathJax from a CDN (unused).
        body = re.sub(r'<script src="https?://[^"]*">\s*</script>', "", body)
        (out / "quickstart.html").write_text(body, encoding="utf-8")
    except Exception as exc:  # the page says what went wrong; the demo goes on
        return f"not run: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    return "quickstart.html"


def _with_plotly_html(path: Path) -> Any:
    # The executed notebook with an HTML rendering beside each plotly figure (plotly.js
    # embedded once), so its HTML export shows the figures without network access.
    import nbformat
    import plotly.io as pio

    nb = nbformat.read(str(path), as_version=4)
    first = True
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            figure = data.get("application/vnd.plotly.v1+json")
            if figure is None or "text/html" in data:
                continue
            fig = pio.from_json(json.dumps(figure))
            data["text/html"] = pio.to_html(fig, include_plotlyjs=first, full_html=False)
            first = False
    return nb


def _write_demo_index(out: Path, manifest: dict[str, Any]) -> Path:
    # A self-contained page (no network needed) linking every demo output.
    import html

    def table(rows: dict[str, Any]) -> str:
        cells = "".join(
            f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_shown(v))}</td></tr>"
            for k, v in rows.items()
        )
        return f"<table>{cells}</table>"

    quick = manifest.get("quickstart", "")
    links = [
        ("tearsheet.html", "quantstats tearsheet vs the equal-weight benchmark"),
        ("performance.html", "plotly figure: equity, drawdown, rolling Sharpe, monthly returns"),
        ("quickstart.html", "the quickstart notebook, executed"),
        ("manifest.json", "run manifest: config, data fingerprint, timings, versions"),
        ("stats.csv", "headline statistics"),
        ("reconciliation.csv", "vectorized vs event-driven reconciliation"),
        ("orders.csv", "every fill of the backtest"),
        ("equity.csv", "equity per bar"),
        ("coverage.csv", "lake coverage"),
    ]
    items = []
    for name, what in links:
        if (out / name).exists():
            items.append(f'<li><a href="{name}">{name}</a>: {html.escape(what)}</li>')
        elif name == "quickstart.html" and quick:
            items.append(f"<li>{name}: {html.escape(str(quick))}</li>")
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>qresearch demo</title>
<style>body{{font-family:"DejaVu Sans","Liberation Sans",Arial,sans-serif;margin:2em;
max-width:60em;color:#222}} table{{border-collapse:collapse;margin:.5em 0 1.5em}}
th,td{{border-bottom:1px solid #ddd;padding:.2em .8em;text-align:left}}
th{{font-weight:normal;color:#555}} h2{{margin-top:1.5em}}</style></head><body>
<h1>qresearch demo</h1>
<p>Status <b>{html.escape(str(manifest.get("status")))}</b>, finished
{html.escape(str(manifest.get("finished", "")))}, config {
        html.escape(str(manifest.get("config_id", "")))
    }.</p>
<h2>Outputs</h2><ul>{"".join(items)}</ul>
<h2>Backtest: month-end top-5 momentum, 10 bps fees</h2>{table(manifest.get("backtest", {}))}
<h2>Reconciliation with the event-driven simulator</h2>
{table(manifest.get("reconciliation", {}))}
</body></html>
"""
    path = out / "index.html"
    tmp = out / ".index.html.tmp"
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path


def _shown(value: Any) -> str:
    # A number as people read it in a table.
    if isinstance(value, float):
        return f"{value:,.6g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3g}"
    return str(value)


def _demo_weights() -> tuple[Any, Any]:
    # Month-end top-5 by 126-day momentum among stocks with a full 126-day history,
    # equal weight (qr.portfolio.rebalance): the 20-stock close panel and the weights.
    from qresearch.datasets import load_sample
    from qresearch.portfolio import rebalance

    close = load_sample("stocks")
    momentum = close.pct_change(126, fill_method=None)
    weights = rebalance(close, momentum, every="ME", lookback=126, method="equal", top_n=5)
    return close, weights


def _demo_backtest(close: Any, weights: Any) -> Any:
    # The weights traded at the next close with 10 bps fees, from 10,000 of cash.
    from qresearch.backtest import from_weights

    return from_weights(close, weights, fees=_DEMO_FEES, init_cash=_DEMO_CASH)


def _demo_reconcile(result: Any, close: Any, weights: Any) -> Any:
    # The same weights as target-percent orders in the simulator, filled at the next
    # close with the same fees and cash, reconciled fill by fill with the backtest.
    from qresearch.sim import Simulator, TargetWeights, reconcile

    sim = Simulator(close, _DEMO_CASH, fees=_DEMO_FEES, market_fill="close")
    return reconcile(result, sim.run(TargetWeights(weights)))


def _demo_benchmark() -> Any:
    # Daily returns of an equal-weight portfolio of the listed stocks (rebalanced daily).
    from qresearch.datasets import load_sample

    returns = load_sample("stocks").pct_change(fill_method=None).mean(axis=1)
    return returns.fillna(0.0).rename("equal weight")


def _jsonable_stat(value: Any) -> Any:
    # Stats values as JSON: timestamps as ISO strings, counts as ints, numbers as floats.
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, numbers.Integral):
        return int(value)
    return float(value)


def _path(text: str) -> Path:
    # argparse type of every path argument: a leading ~ is the home folder.
    return Path(text).expanduser()


def _check_writable_folder(folder: Path, option: str) -> None:
    # The folder, or its nearest existing parent (it is created on write), must be a
    # folder we may write to; say which part of the path is wrong.
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ParameterError(
            f"{option} {folder}: {existing} is a file, not a folder. Pass a folder path "
            "(missing folders are created)."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ParameterError(
            f"{option} {folder}: cannot write to {existing} (permission denied). Pass a "
            "folder you can write to, or change its permissions."
        )


def _check_input_file(path: Path, what: str) -> None:
    # An input file must exist and be a file.
    if not path.exists():
        raise ParameterError(f"{what} {path}: no such file. Check the path (cwd is {Path.cwd()}).")
    if not path.is_file():
        raise ParameterError(f"{what} {path} is a folder; pass a file.")


def _cmd_demo(args: argparse.Namespace) -> int:
    _check_writable_folder(args.out, "--out")
    _check_writable_folder(args.lake, "--lake")
    run_demo(args.out, args.lake)
    return 0


def _cmd_ingest(args: argparse.Namespace) -> int:
    from qresearch.data import Lake, ingest

    _check_writable_folder(args.lake, "--lake")
    summary = ingest(args.paths, Lake(args.lake), format=args.format, mode=args.mode)
    print(summary.to_string())
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    from qresearch.data import Lake

    lake = Lake(args.lake)
    if lake.layout == 2:
        lake.migrate()  # removes leftovers of an interrupted migration, if any
        print(f"{args.lake}: already in the year-file layout; nothing to migrate")
        return 0
    table = lake.migrate()
    print(table.to_string(index=False))
    print(f"{args.lake}: migrated {int(table['rows'].sum())} rows into {len(table)} year files")
    return 0


def _cmd_coverage(args: argparse.Namespace) -> int:
    from qresearch.data import Lake

    print(Lake(args.lake).coverage().to_string())
    return 0


def _read_returns(path: Path, what: str) -> Any:
    # A return series from a CSV: first column the dates, the only other column the
    # simple returns (an empty cell is a missing return). Problems name the line.
    import pandas as pd

    _check_input_file(path, f"{what} file")
    try:
        frame = pd.read_csv(path, index_col=0, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError as exc:
        raise ParameterError(
            f"{what} file {path} is empty; expected a header line (date,<name>) and one "
            "row per date with a simple return."
        ) from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ParameterError(
            f"{what} file {path} is not a valid UTF-8 CSV file ({' '.join(str(exc).split())})."
        ) from exc
    if frame.shape[1] != 1:
        raise ParameterError(
            f"{what} file {str(path)!r} must have a date column and one return column; "
            f"got columns {list(frame.columns)}."
        )
    if frame.empty:
        raise ParameterError(f"{what} file {path} has a header but no rows of returns.")
    text = frame.iloc[:, 0].str.strip()
    values = pd.to_numeric(text.where(text != ""), errors="coerce")
    bad = (values.isna() & (text != "")).to_numpy().nonzero()[0]
    if len(bad):
        raise ParameterError(
            f"{what} file {path}, line {bad[0] + 2}: {text.iloc[bad[0]]!r} in column "
            f"{frame.columns[0]!r} is not a number. Write simple returns such as 0.012 "
            "(leave the cell empty for a missing one)."
        )
    dates = pd.to_datetime(pd.Series(frame.index, dtype=object), errors="coerce")
    no_date = dates.isna().to_numpy().nonzero()[0]
    if len(no_date):
        raise ParameterError(
            f"{what} file {path}, line {no_date[0] + 2}: cannot read the date "
            f"{frame.index[no_date[0]]!r} in the first column; write dates like 2014-12-31."
        )
    return pd.Series(values.to_numpy("float64"), index=pd.DatetimeIndex(dates), name=text.name)


def _cmd_tearsheet(args: argparse.Namespace) -> int:
    from qresearch.evaluation.tearsheet import write_tearsheet

    returns = _read_returns(args.returns, "returns")
    benchmark = _read_returns(args.benchmark, "benchmark") if args.benchmark else None
    _check_writable_folder(args.out.parent, "--out")
    if benchmark is not None:
        benchmark = benchmark.reindex(returns.index).fillna(0.0)
    path = write_tearsheet(returns, args.out, benchmark=benchmark, title=args.title)
    print(f"wrote {path}")
    return 0


def _cmd_samples(args: argparse.Namespace) -> int:
    from qresearch.datasets import describe_samples

    for name, text in describe_samples().items():
        print(f"{name:8s} {text}")
    return 0


# Exit codes of `qresearch run` (besides 0, and 1/2 for unexpected errors/bad options).
EXIT_NO_NOTEBOOK = 3
EXIT_BAD_PARAMETER = 4
EXIT_RUN_FAILED = 5

_RUN_EPILOG = """\
examples:
  qresearch run notebooks/03_cross_sectional_momentum.ipynb -p top_n 5 -p method hrp
  qresearch run notebooks/03_cross_sectional_momentum.ipynb -f params.json --out reports/runs

Values are read as JSON/YAML scalars: 10 -> int, 0.5 -> float, true -> bool,
hrp -> str, [ORCL, NVDA] -> list. -p overrides a value from -f. The same notebook
code and parameters are run once: a completed run is reused (--force runs again).

exit status:
  0  the run completed (or a completed run was reused)
  3  the notebook does not exist
  4  an unknown parameter, a value of the wrong type, a bad -f file or a missing --input
  5  the notebook failed (its folder keeps the partial notebook, status "failed")
  2  other bad input; 1  an unexpected error
"""

_RUNS_EPILOG = """\
examples:
  qresearch runs
  qresearch runs --out reports/runs --sort sharpe
  qresearch runs --status failed
"""


def _param_value(text: str) -> Any:
    # A -p value as a JSON scalar or list, else YAML (when installed), else the text.
    # YAML dates and other non-JSON values stay text.
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        import yaml
    except ImportError:
        return text
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return text
    return value


def _read_params_file(path: Path) -> dict[str, Any]:
    # -f: a JSON or YAML mapping of parameter name -> value.
    _check_input_file(path, "-f parameters file")
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as exc:
            raise ParameterError(
                f"-f {path}: reading YAML needs PyYAML, which is not installed; pass a .json "
                'file, or install it: pip install "qresearch[research]".'
            ) from exc
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ParameterError(f"-f {path} is not valid YAML ({_one_line(exc)}).") from exc
    elif suffix == ".json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ParameterError(f"-f {path} is not valid JSON ({exc}).") from exc
    else:
        raise ParameterError(
            f"-f {path}: unknown file type {suffix!r}; pass a .json, .yaml or .yml file."
        )
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParameterError(
            f"-f {path} must hold a mapping of parameter name -> value; got a "
            f"{type(data).__name__}."
        )
    return {str(k): v for k, v in data.items()}


def _cmd_run(args: argparse.Namespace) -> int:
    from qresearch.research import RunError, notebook_parameters, run_notebook

    prefix = "qresearch run: error:"
    if not args.notebook.is_file():
        where = "is a folder" if args.notebook.exists() else "does not exist"
        print(f"{prefix} notebook {args.notebook} {where} (cwd is {Path.cwd()}).", file=sys.stderr)
        return EXIT_NO_NOTEBOOK
    _check_writable_folder(args.out, "--out")  # bad input: status 2, like every command
    notebook_parameters(args.notebook)  # an unreadable notebook or parameters cell: 2
    try:
        params = _read_params_file(args.params_file) if args.params_file else {}
        params.update({key: _param_value(value) for key, value in args.param or []})
    except ParameterError as exc:
        print(f"{prefix} {_one_line(exc)}", file=sys.stderr)
        return EXIT_BAD_PARAMETER
    try:
        record = run_notebook(
            args.notebook,
            params,
            out_dir=args.out,
            kernel=args.kernel,
            timeout=args.timeout,
            force=args.force,
            inputs=args.input,
        )
    except RunError as exc:
        if exc.record is None:  # the same run is running elsewhere
            raise
        print(f"run folder: {exc.record.path}")
        print(f"status: {exc.record.status}")
        print(f"{prefix} {_one_line(exc)}", file=sys.stderr)
        return EXIT_RUN_FAILED
    except ParameterError as exc:
        if args.traceback:
            raise
        print(f"{prefix} {_one_line(exc)}", file=sys.stderr)
        return EXIT_BAD_PARAMETER
    reused = record.manifest.get("pid") != os.getpid()
    print(f"run folder: {record.path}")
    note = " (a completed run of the same code and parameters; --force runs again)"
    print(f"status: {record.status}{note if reused else ''}")
    if record.metrics:
        shown = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in record.metrics.items()
        )
        print(f"metrics: {shown}")
    return 0


def _cmd_runs(args: argparse.Namespace) -> int:
    from qresearch.research import load_runs

    table = load_runs(args.out)
    if args.status:
        table = table[table["status"] == args.status]
    if table.empty:
        which = f" with status {args.status!r}" if args.status else ""
        print(f"no runs{which} in {args.out}")
        return 0
    if args.sort:
        if args.sort not in table.columns:
            raise ParameterError(
                f"--sort {args.sort!r} is not a column of the runs table; choose one of "
                f"{list(table.columns)}."
            )
        table = table.sort_values(args.sort, ascending=args.ascending, na_position="last")
    hidden = ["path", "data_fingerprint", "git_commit"]
    shown = table.drop(columns=[c for c in hidden if c in table.columns])
    if "started" in shown.columns:
        shown = shown.assign(started=shown["started"].dt.strftime("%Y-%m-%d %H:%M:%S"))
    print(shown.to_string(float_format=lambda x: f"{x:.4g}", na_rep=""))
    return 0


_SWEEP_EPILOG = """\
examples:
  qresearch sweep notebooks/03_cross_sectional_momentum.ipynb --grid grid.json --jobs 4
  qresearch sweep NOTEBOOK --grid grid.yaml --scheduler tcp://10.0.0.5:8786 --out reports/sweeps/x

grid.json, a dict of lists (every combination is run) or a list of dicts (one per run):
  {"top_n": [3, 5, 10], "method": ["hrp", "equal"]}

Completed runs in --out are skipped (run again to resume). Prints the trials ranked
by Sharpe (with the probabilistic and deflated Sharpe ratios) and writes report.html.

exit status:
  0  the sweep ran (failed trials are listed in the table)
  3  the notebook does not exist
  4  a missing or malformed grid file, or a parameter the notebook does not declare
     (or of the wrong type)
  2  other bad input; 1  an unexpected error
"""


def _read_grid_file(path: Path) -> Any:
    # --grid: JSON or YAML, a dict of lists or a list of dicts, checked by expand_grid.
    from qresearch.research.sweeps import expand_grid

    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as exc:
            raise ParameterError(
                "reading YAML needs PyYAML; pass a .json file or pip install pyyaml."
            ) from exc
        try:
            grid = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ParameterError(f"--grid {path} is not valid YAML ({_one_line(exc)}).") from exc
    else:
        try:
            grid = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ParameterError(f"--grid {path} is not valid JSON ({exc}).") from exc
    expand_grid(grid)
    return grid


def _cmd_sweep(args: argparse.Namespace) -> int:
    from qresearch.research.runs import check_parameters
    from qresearch.research.sweeps import expand_grid, sweep

    prefix = "qresearch sweep: error:"
    if not args.notebook.is_file():
        print(f"{prefix} notebook {args.notebook} not found; check the path.", file=sys.stderr)
        return EXIT_NO_NOTEBOOK
    try:
        grid = _read_grid_file(args.grid)
        for params in expand_grid(grid):
            check_parameters(args.notebook, params)
    except (QResearchError, OSError, ValueError) as exc:
        print(f"{prefix} --grid {args.grid}: {_one_line(exc)}", file=sys.stderr)
        return EXIT_BAD_PARAMETER
    if args.jobs < 1:
        raise ParameterError(f"--jobs must be >= 1; got {args.jobs}.")
    result = sweep(
        args.notebook, grid, n_jobs=args.jobs, scheduler=args.scheduler, out_dir=args.out
    )
    shown = result.table().drop(columns=["trial_id", "duration_s"])
    print(shown.to_string(float_format=lambda x: f"{x:.4g}", na_rep=""))
    print(f"report: {result.to_html()}")
    return 0


_PAPER_EPILOG = """\
examples:
  qresearch paper tests/live/sma_strategy.py:SmaCross --symbols ORCL NVDA --lake data/lake
  qresearch paper mystrategies.sma:SmaCross --symbols ORCL NVDA --lake data/lake \\
      --start 2014-01-01 --store reports/live/sma.db --bars 100

STRATEGY is MODULE:Class (a module importable from the working directory) or
path/to/file.py:Class; the class is created with no arguments and needs an on_bar(ctx)
method: the same object qr.sim.Simulator.run takes. Orders go to a paper broker (the
simulator's fill rules and costs) over the lake's bars, replayed one by one.

Run it again with the same --store and it resumes after the last bar it processed:
the store (orders, fills, strategy state) and the paper account's journal,
<store>.paper.db, survive the process. --bars N stops after N new bars. --dry-run
records the orders the strategy decides without sending any. Creating <store>.kill
(or sending SIGUSR1) stops the run before the next bar. The status page,
<status-dir>/<store file name without extension>/index.html, is rewritten after
every bar.

exit status:
  0  the run completed (or stopped after --bars N, or by the kill switch)
  2  a bad strategy (a malformed MODULE:Class, a missing module, file or class, a
     class without on_bar) or another bad option
  3  the lake folder does not exist or holds no bars
  4  a symbol that is not in the lake, or no bars between --start and --end
  5  the strategy raised (the store stays consistent: run again to resume)
  1  an unexpected error
"""

EXIT_NO_DATA = 3
EXIT_STRATEGY_FAILED = 5


def _load_strategy_class(spec: str) -> type:
    # MODULE:Class (importable from the working directory) or path/to/file.py:Class.
    import importlib
    import importlib.util
    import inspect

    where, sep, name = spec.rpartition(":")
    if not sep or not where or not name.isidentifier():
        raise ParameterError(
            f"strategy {spec!r} is not MODULE:Class or path/to/file.py:Class (for example "
            "strategies.sma:SmaCross)."
        )
    if where.endswith(".py") or "/" in where or os.sep in where:
        path = Path(where).expanduser()
        if not path.is_file():
            raise ParameterError(
                f"strategy file {path} not found (cwd is {Path.cwd()}); check the path."
            )
        module_name = "_qresearch_strategy_" + re.sub(r"\W", "_", path.stem)
        module_spec = importlib.util.spec_from_file_location(module_name, path)
        if module_spec is None or module_spec.loader is None:
            raise ParameterError(f"strategy file {path} cannot be imported as Python.")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_name] = module
        try:
            module_spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(module_name, None)
            raise ParameterError(
                f"importing the strategy file {path} failed: {type(exc).__name__}: {_one_line(exc)}"
            ) from exc
    else:
        cwd = str(Path.cwd())
        if cwd not in sys.path and "" not in sys.path:
            sys.path.insert(0, cwd)
        try:
            module = importlib.import_module(where)
        except ModuleNotFoundError as exc:
            if exc.name and (where == exc.name or where.startswith(exc.name + ".")):
                raise ParameterError(
                    f"no module named {where!r} (looked in the working directory {cwd} and "
                    "the installed packages); pass MODULE:Class or path/to/file.py:Class."
                ) from exc
            raise ParameterError(
                f"importing the strategy module {where!r} failed: {_one_line(exc)}"
            ) from exc
        except Exception as exc:
            raise ParameterError(
                f"importing the strategy module {where!r} failed: {type(exc).__name__}: "
                f"{_one_line(exc)}"
            ) from exc
    cls = getattr(module, name, None)
    if cls is None:
        import difflib

        classes = sorted(
            n
            for n, v in vars(module).items()
            if inspect.isclass(v) and v.__module__ == module.__name__
        )
        close = difflib.get_close_matches(name, classes, n=3)
        hint = (
            f"; did you mean {', '.join(close)}?"
            if close
            else f"; it defines {', '.join(classes[:10]) or 'no class'}."
        )
        raise ParameterError(f"{where} has no class {name!r}{hint}")
    if not inspect.isclass(cls):
        raise ParameterError(
            f"{where}:{name} is a {type(cls).__name__}, not a class; pass the strategy class."
        )
    if not callable(getattr(cls, "on_bar", None)):
        raise ParameterError(
            f"{where}:{name} has no on_bar(ctx) method: a strategy defines on_bar(ctx) "
            "(and optionally on_start, on_fill, on_stop), as for qr.sim.Simulator.run."
        )
    return cls


def _paper_lake_symbols(lake_root: Path, symbols: list[str]) -> tuple[int, str]:
    # (exit status, message) of a missing or empty lake or unknown symbols; (0, "") if ok.
    import difflib

    from qresearch.data import Lake

    if not lake_root.is_dir():
        where = "is a file, not a folder" if lake_root.exists() else "does not exist"
        return EXIT_NO_DATA, (
            f"the lake folder {lake_root} {where} (cwd is {Path.cwd()}); ingest bars first: "
            f"qresearch ingest FILES --lake {lake_root}."
        )
    available = Lake(lake_root).symbols()
    if not available:
        return EXIT_NO_DATA, (
            f"the lake at {lake_root} holds no bars; ingest them first: qresearch ingest "
            f"FILES --lake {lake_root}."
        )
    unknown = [s for s in symbols if s not in available]
    if unknown:
        close = sorted({m for s in unknown for m in difflib.get_close_matches(s, available, 2)})
        hint = f" (close matches: {', '.join(close)})" if close else ""
        return EXIT_BAD_PARAMETER, (
            f"symbol(s) {', '.join(unknown)} not in the lake at {lake_root}{hint}; it holds "
            f"{', '.join(available[:20])}{' ...' if len(available) > 20 else ''}."
        )
    return 0, ""


def _cmd_paper(args: argparse.Namespace) -> int:
    import math

    import pandas as pd

    from qresearch.exceptions import StrategyError
    from qresearch.live import LiveRunner, PaperBroker, ReplayFeed

    prefix = "qresearch paper: error:"
    cls = _load_strategy_class(args.strategy)  # bad strategy: status 2
    symbols = list(dict.fromkeys(args.symbols))
    if not (math.isfinite(args.cash) and args.cash > 0):
        raise ParameterError(f"--cash must be a number > 0; got {args.cash}.")
    if not (math.isfinite(args.fees) and args.fees >= 0):
        raise ParameterError(f"--fees must be a fraction >= 0 (0.001 = 10 bps); got {args.fees}.")
    if args.bars is not None and args.bars < 1:
        raise ParameterError(f"--bars must be >= 1; got {args.bars}.")
    for option, value in (("--start", args.start), ("--end", args.end)):
        try:
            if value is not None:
                pd.Timestamp(value)
        except ValueError:
            raise ParameterError(
                f"{option} {value!r} is not a date; write it like 2014-01-31."
            ) from None
    status, message = _paper_lake_symbols(args.lake, symbols)
    if status:
        print(f"{prefix} {message}", file=sys.stderr)
        return status
    if args.store.is_dir():
        raise ParameterError(f"--store {args.store} is a folder; pass a file such as state.db.")
    _check_writable_folder(args.store.parent, "--store")
    _check_writable_folder(args.status_dir, "--status-dir")
    try:
        feed = ReplayFeed(args.lake, symbols, args.start, args.end)
    except ParameterError as exc:  # no bars in the date range
        print(
            f"{prefix} no bars of {', '.join(symbols)} between --start {args.start} and "
            f"--end {args.end or '(the last bar)'} in the lake at {args.lake}; see its dates "
            f"with qresearch coverage --lake {args.lake} ({_one_line(exc)})",
            file=sys.stderr,
        )
        return EXIT_BAD_PARAMETER
    try:
        strategy = cls()
    except Exception as exc:
        raise ParameterError(
            f"creating the strategy {cls.__name__}() failed ({type(exc).__name__}: "
            f"{_one_line(exc)}); the class is created with no arguments: give its "
            "parameters defaults."
        ) from exc
    journal = args.store.with_name(args.store.stem + ".paper.db")
    broker = PaperBroker(symbols, args.cash, fees=args.fees, journal=journal)
    try:
        runner = LiveRunner(
            strategy,
            broker,
            feed,
            store=args.store,
            dry_run=args.dry_run,
            status_dir=args.status_dir,
        )
    except BaseException:
        broker.close()
        raise
    try:
        before = len(runner.store.equity())
        resumed = runner.store.get_meta("last_bar")
        try:
            runner.run(max_bars=args.bars)
        except StrategyError as exc:
            if args.traceback:
                raise
            print(f"{prefix} {_one_line(exc)}", file=sys.stderr)
            return EXIT_STRATEGY_FAILED
        _print_paper_session(runner, before, resumed, journal, pd)
    finally:
        runner.close()
    return 0


def _print_paper_session(runner: Any, before: int, resumed: Any, journal: Path, pd: Any) -> None:
    # Positions and P&L of a paper session after a run (what the status page shows).
    snap = runner.snapshot()
    equity_curve = snap["equity"]
    equity = float(equity_curve.iloc[-1]) if len(equity_curve) else float(snap["cash"])
    init = float(snap["init_cash"])
    pnl = equity - init
    done = len(equity_curve) - before
    n_fills = len(runner.store.fills())
    last = snap["last_bar"]
    mode = {"paper": "paper orders", "dry-run": "dry run: orders recorded, none sent"}
    print(f"session {snap['session']}: {snap['strategy']} on {', '.join(runner.ctx.symbols)} "
          f"({mode.get(snap['mode'], snap['mode'])})")  # fmt: skip
    where = f"resumed after {pd.Timestamp(resumed).date()}" if resumed else "new session"
    print(f"bars this run: {done} ({where}); bars in the session: {len(equity_curve)}")
    print(f"last bar: {'none' if last is None else pd.Timestamp(last).date()}")
    positions = snap["positions"]
    if positions.empty:
        print("positions: none (flat)")
    else:
        print("positions:")
        shown = positions.set_index("symbol").astype(float)
        print(shown.to_string(formatters={"qty": "{:,.10g}".format}, float_format="{:,.2f}".format))
    print(f"equity: {equity:,.2f}")
    print(f"cash: {float(snap['cash']):,.2f}")
    print(f"P&L: {pnl:+,.2f} ({pnl / init:+.2%} on the initial cash {init:,.2f})")
    print(f"fills: {n_fills}")
    orders = runner.store.orders()
    if runner.dry_run:
        print(f"orders recorded, not sent (dry run): {int((orders['status'] == 'dry_run').sum())}")
    risk = snap["risk_events"]
    if len(risk):
        print(
            f"risk events: {len(risk)} (last: {risk['kind'].iloc[-1]}: {risk['detail'].iloc[-1]})"
        )
    for difference in snap["reconciliation"]:
        print(f"reconciled at start: {difference}")
    if snap["guard"]["state"] == "killed":
        print(f"stopped by the kill switch: {snap['guard']['reason']}")
    if runner.status_dir is not None:
        print(f"status page: {runner.status_dir / 'index.html'}")
    print(f"state store: {runner.store.path} (paper account journal: {journal}); run again "
          "with the same --store to resume")  # fmt: skip


class _Parser(argparse.ArgumentParser):
    # Usage errors as one line (the problem and where to find help), exit status 2.
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``qresearch`` command."""
    parser = _Parser(prog="qresearch", description=__doc__)
    parser.add_argument("--version", action="version", version=_versions()["qresearch"])
    parser.add_argument(
        "--traceback", action="store_true", help="show the Python traceback of an error"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="run the reference pipeline on the bundled data")
    p.add_argument("--out", type=_path, default="reports/demo", help="output folder")
    p.add_argument("--lake", type=_path, default="data/lake", help="lake folder (data/lake)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("ingest", help="ingest Yahoo-style or long CSV/Parquet files")
    p.add_argument("paths", type=_path, nargs="+", help="files to ingest")
    p.add_argument("--lake", type=_path, default="data/lake", help="lake folder (data/lake)")
    p.add_argument("--format", default="auto", choices=["auto", "yahoo", "long"])
    p.add_argument("--mode", default="upsert", choices=["upsert", "replace"])
    p.set_defaults(func=_cmd_ingest)

    p = sub.add_parser(
        "migrate",
        help="convert a lake written by an earlier release to the year-file layout",
        description=(
            "Rewrite a lake in the old layout (symbol=<S>/year=<Y>/data.parquet) as one "
            "Parquet file per year holding every symbol, under the writer lock; every row "
            "is checked before the old folders are removed. Example:\n"
            "  qresearch migrate --lake data/lake"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--lake", type=_path, default="data/lake", help="lake folder (data/lake)")
    p.set_defaults(func=_cmd_migrate)

    p = sub.add_parser("coverage", help="print first/last timestamp and rows per symbol")
    p.add_argument("--lake", type=_path, default="data/lake", help="lake folder (data/lake)")
    p.set_defaults(func=_cmd_coverage)

    p = sub.add_parser("tearsheet", help="write a quantstats HTML tearsheet of a returns CSV")
    p.add_argument("returns", type=_path, help="CSV: a date column and one of simple returns")
    p.add_argument("--out", type=_path, default="reports/tearsheet.html", help="output HTML path")
    p.add_argument("--benchmark", type=_path, help="CSV of benchmark returns (never downloaded)")
    p.add_argument("--title", default="qresearch tearsheet")
    p.set_defaults(func=_cmd_tearsheet)

    p = sub.add_parser("samples", help="list the bundled sample datasets")
    p.set_defaults(func=_cmd_samples)

    p = sub.add_parser(
        "run",
        help="run a parameterized notebook with papermill into reports/runs/<run_id>/",
        epilog=_RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("notebook", type=_path, help="the .ipynb file (with a 'parameters' cell)")
    p.add_argument(
        "-p",
        "--param",
        nargs=2,
        action="append",
        metavar=("KEY", "VALUE"),
        help="a parameter (repeat for more)",
    )
    p.add_argument(
        "-f", "--params-file", type=_path, help="JSON or YAML file of parameters (name: value)"
    )
    p.add_argument("--out", type=_path, default="reports/runs", help="runs folder (reports/runs)")
    p.add_argument("--force", action="store_true", help="run again even if already completed")
    p.add_argument("--kernel", default=None, help="Jupyter kernel name (default python3)")
    p.add_argument("--timeout", type=float, default=None, help="seconds each cell may run")
    p.add_argument(
        "--input",
        type=_path,
        action="append",
        metavar="PATH",
        help="a data file or folder the notebook reads; its bytes are part of the run id",
    )
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser(
        "runs",
        help="print the table of runs (parameters, status, metrics)",
        epilog=_RUNS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", type=_path, default="reports/runs", help="runs folder (reports/runs)")
    p.add_argument("--sort", help="column to sort by, largest first (e.g. sharpe)")
    p.add_argument("--ascending", action="store_true", help="sort smallest first")
    p.add_argument("--status", help="only runs with this status (completed, failed, running)")
    p.set_defaults(func=_cmd_runs)

    p = sub.add_parser(
        "sweep",
        help="run a notebook over a parameter grid (local processes or a dask cluster)",
        epilog=_SWEEP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("notebook", type=_path, help="the .ipynb file (with a 'parameters' cell)")
    p.add_argument("--grid", type=_path, required=True, help="JSON or YAML grid file")
    p.add_argument("--jobs", type=int, default=2, help="local worker processes (2)")
    p.add_argument("--scheduler", help="dask scheduler address, e.g. tcp://host:8786")
    p.add_argument("--out", type=_path, help="sweep folder (reports/sweeps/<notebook name>)")
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser(
        "paper",
        help="run a strategy on the paper broker over bars from the lake (resumable)",
        epilog=_PAPER_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("strategy", metavar="STRATEGY", help="MODULE:Class or path/to/file.py:Class")
    p.add_argument("--symbols", nargs="+", required=True, help="symbols to trade (in the lake)")
    p.add_argument("--lake", type=_path, default="data/lake", help="lake folder (data/lake)")
    p.add_argument("--start", default="2010-01-01", help="first bar date (2010-01-01)")
    p.add_argument("--end", default=None, help="last bar date (default: the lake's last)")
    p.add_argument(
        "--store",
        type=_path,
        default="reports/live/state.db",
        help="state store, resumed when it exists (reports/live/state.db)",
    )
    p.add_argument("--cash", type=float, default=100_000.0, help="initial cash (100000)")
    p.add_argument("--fees", type=float, default=0.001, help="fees per fill (0.001 = 10 bps)")
    p.add_argument("--bars", type=int, default=None, help="stop after N new bars")
    p.add_argument(
        "--status-dir", type=_path, default="reports/live", help="status pages (reports/live)"
    )
    p.add_argument("--dry-run", action="store_true", help="record orders without sending any")
    p.set_defaults(func=_cmd_paper)
    return parser


def _one_line(exc: BaseException) -> str:
    # An exception as one line: OS errors as "reason: path", others by their message.
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}. Check the path and its permissions."
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code.

    Returns 0 on success, 2 on bad input (after one line on stderr naming the
    problem), 1 on an unexpected error (one line too) and 130 on Ctrl-C. With
    ``--traceback`` errors propagate with their traceback instead.
    """
    args = build_parser().parse_args(argv)
    prefix = f"qresearch {args.command}:"
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        if args.traceback:
            raise
        print(f"{prefix} interrupted", file=sys.stderr)
        return 130
    except (QResearchError, OSError, ValueError) as exc:
        # Bad input: our own errors, files that cannot be read or written, and
        # pandas/numpy refusing a value.
        if args.traceback:
            raise
        print(f"{prefix} error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:
        if args.traceback:
            raise
        print(
            f"{prefix} unexpected error ({type(exc).__name__}): {_one_line(exc)} Run "
            f"`qresearch --traceback {args.command} ...` to see where.",
            file=sys.stderr,
        )
        return 1
