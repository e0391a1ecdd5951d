"""write_tearsheet: offline, quiet, atomic, and leaves matplotlib as it found it."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from qresearch.evaluation import tearsheet
from qresearch.evaluation.tearsheet import write_tearsheet
from qresearch.exceptions import AlignmentError, OptionalDependencyError, ParameterError

TITLE = "AAPL <2010-2014> & co"


@pytest.fixture(scope="module")
def aapl(sample_stocks: pd.DataFrame) -> pd.Series:
    return sample_stocks["AAPL"].pct_change().loc["2010":"2014"]


@pytest.fixture(scope="module")
def ge(sample_stocks: pd.DataFrame) -> pd.Series:
    return sample_stocks["GE"].pct_change()  # 1990-2018: read at AAPL's timestamps


@pytest.fixture(scope="module")
def quantstats():
    # Import it the way write_tearsheet does, so the session's rcParams stay clean.
    with warnings.catch_warnings(), matplotlib.rc_context():
        warnings.simplefilter("ignore")
        return tearsheet._import_quantstats(matplotlib)


@pytest.fixture(autouse=True)
def _restore_matplotlib():
    backend, interactive = matplotlib.get_backend(auto_select=False), plt.isinteractive()
    yield
    plt.close("all")
    plt.interactive(interactive)
    if matplotlib.get_backend(auto_select=False) != (backend or "agg"):
        plt.switch_backend(backend or "agg")


NETWORK_ATTEMPTS: list[tuple[Any, ...]] = []


def _no_network(*args: Any, **kwargs: Any) -> Any:
    NETWORK_ATTEMPTS.append(args)  # recorded too, in case a caller swallows the error
    raise OSError(f"network access attempted: {args!r}")


class _Written:
    """What happened while two real tearsheets were written (see ``written``)."""

    def __init__(self) -> None:
        self.paths: dict[str, Path] = {}
        self.records: list[warnings.WarningMessage] = []
        self.logs: list[logging.LogRecord] = []
        self.filters_unchanged = False
        self.rc_unchanged = False
        self.figures: list[int] = []


class _ListHandler(logging.Handler):
    def __init__(self, sink: list[logging.LogRecord]) -> None:
        super().__init__(logging.WARNING)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(record)


@pytest.fixture(scope="module")
def written(tmp_path_factory, aapl: pd.Series, ge: pd.Series, quantstats) -> _Written:
    # Two real reports (without and with a benchmark) written with every socket call
    # and quantstats' download helpers made to fail, warnings recorded and logs caught.
    out = _Written()
    folder = tmp_path_factory.mktemp("reports")
    handler = _ListHandler(out.logs)
    logging.getLogger().addHandler(handler)
    filters = list(warnings.filters)
    rc = {k: matplotlib.rcParams[k] for k in ("axes.facecolor", "font.family", "lines.linewidth")}
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(socket.socket, "connect", _no_network)
            mp.setattr(socket.socket, "connect_ex", _no_network)
            mp.setattr(socket, "create_connection", _no_network)
            mp.setattr(socket, "getaddrinfo", _no_network)
            mp.setattr(quantstats.utils, "download_returns", _no_network)
            mp.setattr(quantstats._compat, "safe_yfinance_download", _no_network)
            with warnings.catch_warnings(record=True) as records:
                warnings.simplefilter("always")
                out.paths["plain"] = write_tearsheet(
                    aapl, str(folder / "new" / "dir" / "plain.html"), title=TITLE
                )
                out.paths["bench"] = write_tearsheet(
                    aapl, folder / "bench.html", benchmark=ge, title="vs GE", risk_free=0.02
                )
                out.filters_unchanged = warnings.filters[1:] == filters
            out.records = list(records)
    finally:
        logging.getLogger().removeHandler(handler)
    out.rc_unchanged = rc == {k: matplotlib.rcParams[k] for k in rc}
    out.figures = plt.get_fignums()
    return out


def test_report_is_html_with_title_and_metrics(written: _Written, tmp_path_factory) -> None:
    path = written.paths["plain"]
    assert isinstance(path, Path) and path.is_file()
    assert path.parent.name == "dir"  # missing parent folders were created
    text = path.read_text(encoding="utf-8")
    assert (
        text.lstrip().startswith("<!--") and "<html" in text and text.rstrip().endswith("</html>")
    )
    assert "AAPL &lt;2010-2014&gt; &amp; co" in text  # the title, HTML-escaped
    assert "Sharpe" in text and "Max Drawdown" in text
    assert " 4 Jan, 2010 - 31 Dec, 2014" in text
    assert "<svg" in text  # the charts are embedded
    assert [p.name for p in path.parent.iterdir()] == ["plain.html"]  # no temp file left


def test_report_with_benchmark(written: _Written) -> None:
    text = written.paths["bench"].read_text(encoding="utf-8")
    assert "vs GE" in text and "Benchmark: GE" in text and "RF: 2.0%" in text
    assert "EOY Returns vs Benchmark" in text


def test_no_warning_log_or_state_leaks(written: _Written) -> None:
    assert NETWORK_ATTEMPTS == []
    assert [str(w.message) for w in written.records] == []
    assert [r.getMessage() for r in written.logs] == []  # e.g. findfont: 'Arial' not found
    assert written.filters_unchanged
    assert written.rc_unchanged
    assert written.figures == []


def test_offline_from_a_fresh_interpreter(tmp_path: Path) -> None:
    # Block every socket event with an audit hook before anything is imported, turn
    # warnings into errors, and expect no output on stderr (no log records either).
    code = textwrap.dedent(
        f"""
        import json, sys, warnings
        def hook(event, args):
            if event.startswith("socket.") and event != "socket.__new__":
                raise RuntimeError(f"network access: {{event}} {{args}}")
        sys.addaudithook(hook)
        warnings.simplefilter("error")
        from qresearch.datasets import load_sample
        from qresearch.evaluation.tearsheet import write_tearsheet
        close = load_sample("stocks")
        r = close["AAPL"].pct_change().loc["2014"]
        a = write_tearsheet(r, {str(tmp_path / "a.html")!r})
        b = write_tearsheet(r, {str(tmp_path / "b.html")!r}, benchmark=close["GE"].pct_change())
        import matplotlib.pyplot as plt
        print(json.dumps([a.is_file(), b.is_file(), plt.get_fignums()]))
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [True, True, []]
    assert done.stderr == ""


def test_importing_the_module_is_light() -> None:
    code = (
        "import sys, json\nimport qresearch.evaluation.tearsheet\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert not loaded & {"quantstats", "matplotlib", "plotly", "yfinance", "seaborn"}


class _FakeHtml:
    """Stand-in for quantstats.reports.html: records the call, draws, writes."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[dict[str, Any]] = []

    def __call__(self, returns: pd.Series, **kwargs: Any) -> None:
        kwargs["returns"] = returns
        kwargs["backend"] = matplotlib.get_backend()
        kwargs["interactive"] = plt.isinteractive()
        self.calls.append(kwargs)
        plt.figure()  # left open on purpose: write_tearsheet must close it
        Path(kwargs["output"]).write_text("<html>partial", encoding="utf-8")
        if self.fail:
            raise RuntimeError("quantstats failed")


@pytest.fixture
def fake_html(monkeypatch: pytest.MonkeyPatch, quantstats) -> _FakeHtml:
    fake = _FakeHtml()
    monkeypatch.setattr(quantstats.reports, "html", fake)
    return fake


def test_arguments_passed_to_quantstats(
    fake_html: _FakeHtml, aapl: pd.Series, ge: pd.Series, tmp_path: Path
) -> None:
    r = aapl.copy()
    r.iloc[100] = np.nan
    path = write_tearsheet(
        r, tmp_path / "x.html", benchmark=ge, periods_per_year=252.0, risk_free=0.01
    )  # type: ignore[arg-type]
    (call,) = fake_html.calls
    expected = r.dropna()
    pd.testing.assert_series_equal(call["returns"], expected, check_names=False)
    pd.testing.assert_series_equal(call["benchmark"], ge.loc[expected.index], check_names=False)
    assert call["benchmark"].name == "GE" and call["strategy_title"] == "AAPL"
    assert call["rf"] == 0.01 and call["periods_per_year"] == 252
    assert isinstance(call["periods_per_year"], int)
    assert call["download_filename"] == "x.html"
    assert Path(call["output"]).parent == tmp_path and call["output"] != str(path)
    assert path.read_text() == "<html>partial"


def test_tz_aware_returns_become_naive_wall_clock(
    fake_html: _FakeHtml, aapl: pd.Series, tmp_path: Path
) -> None:
    r = aapl.dropna().tz_localize("America/New_York")
    bench = (r * 0.5).tz_convert("UTC")  # same instants in another zone
    write_tearsheet(r, tmp_path / "tz.html", benchmark=bench)
    (call,) = fake_html.calls
    assert call["returns"].index.tz is None and call["benchmark"].index.tz is None
    assert call["returns"].index.equals(aapl.dropna().index)
    np.testing.assert_allclose(call["benchmark"].to_numpy(), (aapl.dropna() * 0.5).to_numpy())


def test_inputs_are_not_mutated(
    fake_html: _FakeHtml, aapl: pd.Series, ge: pd.Series, tmp_path: Path
) -> None:
    r, b = aapl.copy(), ge.copy()
    r.name, b.name = None, None
    write_tearsheet(r, tmp_path / "m.html", benchmark=b)
    pd.testing.assert_series_equal(r, aapl.rename(None))
    pd.testing.assert_series_equal(b, ge.rename(None))
    (call,) = fake_html.calls
    assert call["strategy_title"] == "Strategy" and call["benchmark"].name == "Benchmark"


def test_draws_with_agg_then_restores_the_backend(
    fake_html: _FakeHtml, aapl: pd.Series, tmp_path: Path
) -> None:
    plt.switch_backend("pdf")
    plt.ion()
    write_tearsheet(aapl, tmp_path / "b.html")
    (call,) = fake_html.calls
    assert call["backend"] == "agg" and call["interactive"] is False
    assert matplotlib.get_backend() == "pdf" and plt.isinteractive()
    assert plt.get_fignums() == []


def test_keeps_open_figures_and_their_backend(
    fake_html: _FakeHtml, aapl: pd.Series, tmp_path: Path
) -> None:
    plt.switch_backend("pdf")
    mine = plt.figure()
    write_tearsheet(aapl, tmp_path / "f.html")
    # Switching backends would close the caller's figure: keep "pdf", close only ours.
    assert fake_html.calls[0]["backend"] == "pdf"
    assert plt.get_fignums() == [mine.number]
    assert matplotlib.get_backend() == "pdf"


def test_rc_params_are_restored(fake_html: _FakeHtml, aapl: pd.Series, tmp_path: Path) -> None:
    custom = {"axes.facecolor": "#123456", "font.family": ["serif"], "lines.linewidth": 3.0}
    with matplotlib.rc_context(custom):
        write_tearsheet(aapl, tmp_path / "rc.html")
        assert {k: matplotlib.rcParams[k] for k in custom} == custom


def test_failure_leaves_no_file(
    monkeypatch: pytest.MonkeyPatch, quantstats, aapl: pd.Series, tmp_path: Path
) -> None:
    fake = _FakeHtml(fail=True)
    monkeypatch.setattr(quantstats.reports, "html", fake)
    path = tmp_path / "out" / "report.html"
    with pytest.raises(RuntimeError, match="quantstats failed"):
        write_tearsheet(aapl, path)
    assert fake.calls  # it did start writing the temporary file
    assert list(path.parent.iterdir()) == []
    assert plt.get_fignums() == []


def test_failure_keeps_the_previous_report(
    monkeypatch: pytest.MonkeyPatch, quantstats, aapl: pd.Series, tmp_path: Path
) -> None:
    monkeypatch.setattr(quantstats.reports, "html", _FakeHtml(fail=True))
    path = tmp_path / "report.html"
    path.write_text("previous report", encoding="utf-8")
    with pytest.raises(RuntimeError):
        write_tearsheet(aapl, path)
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    assert path.read_text(encoding="utf-8") == "previous report"


def test_overwrites_an_existing_report(
    fake_html: _FakeHtml, aapl: pd.Series, tmp_path: Path
) -> None:
    path = tmp_path / "report.html"
    path.write_text("old", encoding="utf-8")
    assert write_tearsheet(aapl, str(path)) == path
    assert path.read_text(encoding="utf-8") == "<html>partial"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_missing_quantstats_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, aapl: pd.Series, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "quantstats", None)
    with pytest.raises(OptionalDependencyError, match=r"qresearch\[report\]"):
        write_tearsheet(aapl, tmp_path / "sub" / "x.html")
    assert not (tmp_path / "sub").exists()


def test_benchmark_ticker_is_refused(aapl: pd.Series, tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="never downloads"):
        write_tearsheet(aapl, tmp_path / "x.html", benchmark="SPY")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="pandas Series"):
        write_tearsheet(aapl, tmp_path / "x.html", benchmark=[0.01] * 10)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_misaligned_benchmark(aapl: pd.Series, ge: pd.Series, tmp_path: Path) -> None:
    r = aapl.dropna()
    with pytest.raises(AlignmentError, match="2010-01-05 00:00:00 \\(first of 1 missing"):
        write_tearsheet(r, tmp_path / "x.html", benchmark=ge.drop(r.index[1]))
    with pytest.raises(AlignmentError, match="time zones"):
        write_tearsheet(r, tmp_path / "x.html", benchmark=ge.tz_localize("UTC"))


@pytest.mark.parametrize(
    ("returns", "match"),
    [
        (
            pd.Series([0.01], index=pd.date_range("2024-01-01", periods=1)),
            "1 non-NaN values; at least 2",
        ),
        (
            pd.Series([np.nan, 0.01, np.nan], index=pd.date_range("2024-01-01", periods=3)),
            "at least 2",
        ),
        (pd.Series(dtype="float64"), "at least 2"),
        (pd.Series([0.01, 0.02, 0.03]), "DatetimeIndex"),
        (np.array([0.01, 0.02]), "pandas Series"),
        (pd.Series([0.01, 0.02], index=pd.to_datetime(["2024-01-02", "2024-01-01"])), "sort_index"),
        (
            pd.Series([100.0, 101.0, 99.0], index=pd.date_range("2024-01-01", periods=3)),
            "looks like prices",
        ),
    ],
)
def test_bad_returns(returns, match: str, tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match=match):
        write_tearsheet(returns, tmp_path / "x.html")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"periods_per_year": 0}, "periods_per_year"),
        ({"periods_per_year": 252.5}, "periods_per_year"),
        ({"periods_per_year": "252"}, "periods_per_year"),
        ({"periods_per_year": True}, "periods_per_year"),
        ({"risk_free": float("nan")}, "risk_free"),
        ({"risk_free": "0.02"}, "risk_free"),
        ({"title": 3}, "title"),
    ],
)
def test_bad_parameters(
    aapl: pd.Series, tmp_path: Path, kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(ParameterError, match=match):
        write_tearsheet(aapl, tmp_path / "x.html", **kwargs)


def test_path_that_is_a_folder(aapl: pd.Series, tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="is a folder"):
        write_tearsheet(aapl, tmp_path)
