"""triple_barrier: hand cases, an independent pandas loop, the kernel twin, errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qresearch.labels._nb as nb
from qresearch.data.bars import Bars
from qresearch.exceptions import (
    AlignmentError,
    PanelError,
    ParameterError,
    QResearchDeprecationWarning,
)
from qresearch.labels import cusum_filter, daily_volatility, triple_barrier, uniqueness_weights
from tests.conftest import make_bars, make_close

DEPRECATED_PRICES = (
    r"The 'prices' parameter of triple_barrier is deprecated and will be removed in the next "
    r"release; use 'close' instead"
)


def _panel(**cols: list[float]) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    idx = pd.date_range("2021-01-01", periods=n, name="timestamp")
    out = pd.DataFrame(cols, index=idx, dtype="float64")
    out.columns.name = "symbol"
    return out


def _row(lab: pd.DataFrame, i: int, sym: str = "A") -> pd.Series:
    return lab.xs(sym, level="symbol").iloc[i]


def _bars(open_: list[float], high: list[float], low: list[float], close: list[float]) -> Bars:
    c = _panel(A=close)
    return Bars(
        open=_panel(A=open_),
        high=_panel(A=high),
        low=_panel(A=low),
        close=c,
        volume=c * 0 + 1.0,
    )


# --------------------------------------------------------------------------- reference
def _tb_ref(
    close: pd.DataFrame,
    mask: pd.DataFrame,
    pt: float,
    sl: float,
    horizon: int,
    vol: pd.DataFrame,
    side: pd.DataFrame | None = None,
    min_ret: float = 0.0,
) -> pd.DataFrame:
    # AFML-style loop: side-adjusted return path, first index where it crosses
    # +pt*vol / -sl*vol, else the vertical barrier with the last finite close.
    recs: list[dict[str, Any]] = []
    n = len(close)
    for sym in close.columns:
        s = close[sym]
        for i in np.flatnonzero(mask[sym].to_numpy()):
            if i == n - 1:
                continue
            p0, v = s.iat[i], vol[sym].iat[i]
            if np.isnan(p0) or np.isnan(v) or v <= min_ret:
                continue
            sd = 1.0 if side is None else side[sym].iat[i]
            if sd not in (1.0, -1.0):
                continue
            path = (s.iloc[i + 1 : i + horizon + 1] / p0 - 1.0) * sd
            first_pt = path.index[path >= pt * v].min() if pt > 0 else pd.NaT
            first_sl = path.index[path <= -sl * v].min() if sl > 0 else pd.NaT
            hits = [t for t in (first_pt, first_sl) if not pd.isna(t)]
            if hits:
                t1 = min(hits)
                ret = path[t1]
                barrier = "pt" if t1 == first_pt else "sl"
            else:
                valid = path.dropna()
                if valid.empty:
                    continue
                t1, ret, barrier = path.index[-1], valid.iloc[-1], "vertical"
            if side is not None:
                label = int(ret > 0)
            else:
                label = {"pt": 1, "sl": -1}.get(barrier, int(np.sign(ret)))
            rec = {"timestamp": close.index[i], "symbol": sym, "t1": t1, "ret": ret}
            rec.update({"label": label, "barrier": barrier, "vol": v})
            if side is not None:
                rec["side"] = int(sd)
            recs.append(rec)
    out = pd.DataFrame(recs).set_index(["timestamp", "symbol"]).sort_index()
    return out


def _compare(got: pd.DataFrame, ref: pd.DataFrame) -> None:
    assert list(got.index) == list(ref.index)
    assert got["t1"].tolist() == ref["t1"].tolist()
    np.testing.assert_allclose(got["ret"], ref["ret"], rtol=1e-12, atol=1e-15)
    assert got["label"].tolist() == ref["label"].tolist()
    assert got["barrier"].astype(str).tolist() == ref["barrier"].tolist()
    np.testing.assert_array_equal(got["vol"], ref["vol"])
    if "side" in ref:
        assert got["side"].tolist() == ref["side"].tolist()


# --------------------------------------------------------------------------- hand cases
def test_output_structure() -> None:
    close = make_close(60, 3)
    lab = triple_barrier(close, horizon=5, vol_span=10)
    assert lab.index.names == ["timestamp", "symbol"]
    assert list(lab.columns) == ["t1", "ret", "label", "barrier", "vol"]
    assert lab.index.is_monotonic_increasing and lab.index.is_unique
    assert lab["t1"].dtype == close.index.dtype
    assert lab["label"].dtype == np.int64
    assert isinstance(lab["barrier"].dtype, pd.CategoricalDtype)
    assert list(lab["barrier"].cat.categories) == ["pt", "sl", "vertical"]
    assert lab["ret"].dtype == np.float64 and lab["vol"].dtype == np.float64


def test_symbols_sorted_within_timestamp() -> None:
    close = make_close(30, 3, ragged=False)[["S002", "S000", "S001"]]
    lab = triple_barrier(close, horizon=3, vol=0.02)
    first = lab.loc[close.index[0]]
    assert list(first.index) == ["S000", "S001", "S002"]


def test_gap_through_barrier_on_close_exits_at_the_close() -> None:
    close = _panel(A=[100.0, 101.0, 110.0, 100.0])
    row = _row(triple_barrier(close, horizon=3, vol=0.02), 0)
    assert row["t1"] == close.index[2]
    assert row["ret"] == pytest.approx(0.10)
    assert (row["label"], row["barrier"]) == (1, "pt")


def test_inclusive_barriers() -> None:
    # vol 0.25: barriers exactly 125 and 75 (1.25 and 0.75 are exact in binary)
    close = _panel(A=[100.0, 125.0], B=[100.0, 75.0])
    lab = triple_barrier(close, horizon=1, vol=0.25)
    assert lab["barrier"].tolist() == ["pt", "sl"]
    assert lab["label"].tolist() == [1, -1]


def test_touch_on_vertical_bar_counts_as_pt_or_sl() -> None:
    close = _panel(A=[100.0, 101.0, 101.5, 102.5], B=[100.0, 99.0, 98.5, 97.5])
    lab = triple_barrier(close, horizon=3, vol=0.02)
    a, b = _row(lab, 0, "A"), _row(lab, 0, "B")
    assert (a["barrier"], a["label"], a["t1"]) == ("pt", 1, close.index[3])
    assert (b["barrier"], b["label"], b["t1"]) == ("sl", -1, close.index[3])


def test_zero_return_at_vertical_is_label_zero() -> None:
    close = _panel(A=[100.0, 101.0, 100.0, 100.0])
    lab = triple_barrier(close, horizon=2, vol=0.02)
    first = _row(lab, 0)
    assert (first["barrier"], first["ret"], first["label"]) == ("vertical", 0.0, 0)
    second = _row(lab, 1)  # 101 -> 100: vertical, negative
    assert (second["barrier"], second["label"]) == ("vertical", -1)
    assert second["ret"] == pytest.approx(100 / 101 - 1)


def test_nan_gaps() -> None:
    close = _panel(A=[100.0, np.nan, 101.0, np.nan], B=[100.0, np.nan, 103.0, np.nan])
    lab = triple_barrier(close, horizon=3, vol=0.02)
    # A row 0: no touch; vertical bar (row 3) is NaN -> last finite close 101 at row 2,
    # t1 stays the vertical bar. Row 1 (NaN close) is no event; row 2 has only a NaN
    # after it; row 3 is the last bar.
    assert list(lab.index) == [(close.index[0], "A"), (close.index[0], "B")]
    a = _row(lab, 0, "A")
    assert (a["t1"], a["barrier"], a["label"]) == (close.index[3], "vertical", 1)
    assert a["ret"] == pytest.approx(0.01)
    b = _row(lab, 0, "B")  # the NaN is skipped, 103 touches the upper barrier
    assert (b["t1"], b["barrier"]) == (close.index[2], "pt")


def test_disabled_barriers() -> None:
    close = _panel(A=[100.0, 110.0, 90.0], B=[100.0, 90.0, 110.0])
    no_pt = triple_barrier(close, pt=0.0, sl=1.0, horizon=2, vol=0.02)
    assert _row(no_pt, 0, "A")["barrier"] == "sl"
    assert _row(no_pt, 0, "A")["t1"] == close.index[2]
    assert _row(no_pt, 0, "B")["barrier"] == "sl"
    no_sl = triple_barrier(close, pt=1.0, sl=0.0, horizon=2, vol=0.02)
    assert _row(no_sl, 0, "A")["barrier"] == "pt"
    assert _row(no_sl, 0, "B")["t1"] == close.index[2]
    assert _row(no_sl, 0, "B")["barrier"] == "pt"
    neither = triple_barrier(close, pt=0.0, sl=0.0, horizon=2, vol=0.02)
    assert set(neither["barrier"].astype(str)) == {"vertical"}
    assert _row(neither, 0, "A")["ret"] == pytest.approx(-0.10)


def test_asymmetric_widths() -> None:
    close = _panel(A=[100.0, 103.0, 105.0])
    lab = triple_barrier(close, pt=2.0, sl=1.0, horizon=2, vol=0.02)
    assert (_row(lab, 0)["barrier"], _row(lab, 0)["t1"]) == ("pt", close.index[2])


def test_horizon_truncated_at_the_end() -> None:
    close = _panel(A=[100.0, 100.1, 100.2, 100.3, 100.4])
    lab = triple_barrier(close, horizon=10, vol=0.5)
    assert len(lab) == 4  # the last bar has no later bar
    assert set(lab["t1"]) == {close.index[4]}
    assert set(lab["barrier"].astype(str)) == {"vertical"}


def test_touch_hl() -> None:
    up, lo = 102.0, 98.0  # vol 0.02 around 100
    cases = {
        # open, high, low, close of bar 1 -> (barrier, exit price)
        "high touches, close does not": ((100.5, 102.5, 100.0, 101.0), ("pt", up)),
        "gap up through upper": ((103.0, 104.0, 102.5, 103.5), ("pt", 103.0)),
        "low touches": ((100.0, 100.5, 97.0, 99.0), ("sl", lo)),
        "gap down through lower": ((95.0, 96.0, 94.0, 95.5), ("sl", 95.0)),
        "both, open inside: stop loss wins": ((100.0, 103.0, 97.0, 100.0), ("sl", lo)),
        "both, open above upper": ((102.5, 103.0, 97.0, 100.0), ("pt", 102.5)),
        "both, open below lower": ((97.5, 103.0, 97.0, 100.0), ("sl", 97.5)),
    }
    for name, ((o, h, low, c), (barrier, exit_price)) in cases.items():
        bars = _bars([100.0, o], [100.5, h], [99.5, low], [100.0, c])
        lab = triple_barrier(bars, horizon=1, vol=0.02, touch="hl")
        row = _row(lab, 0)
        assert row["barrier"] == barrier, name
        assert row["ret"] == pytest.approx(exit_price / 100.0 - 1.0, abs=1e-12), name
    # a short: the upper barrier is its stop loss and wins an ambiguous bar
    bars = _bars([100.0, 100.0], [100.5, 103.0], [99.5, 97.0], [100.0, 100.0])
    short = _panel(A=[-1.0, 0.0])
    lab = triple_barrier(bars, horizon=1, vol=0.02, touch="hl", side=short)
    assert _row(lab, 0)["barrier"] == "sl"
    assert _row(lab, 0)["ret"] == pytest.approx(-0.02)
    bars = _bars([100.0, 97.5], [100.5, 103.0], [99.5, 97.0], [100.0, 100.0])
    lab = triple_barrier(bars, horizon=1, vol=0.02, touch="hl", side=short)
    assert (_row(lab, 0)["barrier"], _row(lab, 0)["label"]) == ("pt", 1)  # opened below
    # the close mode ignores the intrabar range
    bars = _bars([100.0, 100.5], [100.5, 102.5], [99.5, 100.0], [100.0, 101.0])
    assert _row(triple_barrier(bars.close, horizon=1, vol=0.02), 0)["barrier"] == "vertical"


def test_side_and_meta_labels() -> None:
    close = _panel(
        A=[100.0, 97.0],  # short, price falls 3%: take profit
        B=[100.0, 103.0],  # short, price rises 3%: stop loss
        C=[100.0, 103.0],  # long, price rises: take profit
        D=[100.0, 100.5],  # short, small rise: vertical, loss
        E=[100.0, 90.0],  # side 0: no event
        F=[100.0, 90.0],  # side NaN: no event
    )
    side = _panel(
        A=[-1.0, 1.0], B=[-1.0, 1.0], C=[1.0, 1.0], D=[-1.0, 1.0], E=[0.0, 1.0], F=[np.nan, 1]
    )
    lab = triple_barrier(close, horizon=1, vol=0.02, side=side)
    assert list(lab.columns) == ["t1", "ret", "label", "barrier", "vol", "side"]
    got = lab.xs(close.index[0], level="timestamp")
    assert list(got.index) == ["A", "B", "C", "D"]
    assert got["barrier"].astype(str).tolist() == ["pt", "sl", "pt", "vertical"]
    assert got["label"].tolist() == [1, 0, 1, 0]
    assert got["side"].tolist() == [-1, -1, 1, -1]
    np.testing.assert_allclose(got["ret"], [0.03, -0.03, 0.03, -0.005], atol=1e-12)


def test_side_asymmetric_widths_apply_to_the_bet() -> None:
    # short with pt=2, sl=1: take profit at 96 (price down 4%), stop at 102
    close = _panel(A=[100.0, 97.0, 96.0], B=[100.0, 101.0, 102.0])
    side = _panel(A=[-1.0, 0.0, 0.0], B=[-1.0, 0.0, 0.0])
    lab = triple_barrier(close, pt=2.0, sl=1.0, horizon=2, vol=0.02, side=side)
    a, b = _row(lab, 0, "A"), _row(lab, 0, "B")
    assert (a["barrier"], a["t1"], a["label"]) == ("pt", close.index[2], 1)
    assert a["ret"] == pytest.approx(0.04)
    assert (b["barrier"], b["t1"], b["label"]) == ("sl", close.index[2], 0)


def test_events_none_panel_and_datetimeindex() -> None:
    close = make_close(40, 3, ragged=False)
    all_ = triple_barrier(close, horizon=3, vol=0.02)
    assert len(all_) == 39 * 3
    mask = pd.DataFrame(False, index=close.index, columns=close.columns)
    mask.iloc[[3, 10], 0] = True
    mask.iloc[20, 2] = True
    mask.iloc[-1, 1] = True  # last bar: dropped
    lab = triple_barrier(close, events=mask, horizon=3, vol=0.02)
    expect = [(close.index[3], "S000"), (close.index[10], "S000"), (close.index[20], "S002")]
    assert list(lab.index) == expect
    pd.testing.assert_frame_equal(lab, all_.loc[expect], check_index_type=False)
    dates = pd.DatetimeIndex([close.index[7], close.index[2], close.index[7]])
    by_dates = triple_barrier(close, events=dates, horizon=3, vol=0.02)
    assert by_dates.index.get_level_values(0).unique().tolist() == [
        close.index[2],
        close.index[7],
    ]
    assert len(by_dates) == 6


def test_default_vol_and_min_ret() -> None:
    close = make_close(80, 2)
    lab = triple_barrier(close, horizon=5, vol_span=20)
    vol = close.pct_change(fill_method=None).ewm(span=20).std()
    np.testing.assert_array_equal(lab["vol"], [vol.at[t, s] for t, s in lab.index])
    pd.testing.assert_frame_equal(daily_volatility(close, 20), vol)
    cut = float(vol.stack().median())
    high = triple_barrier(close, horizon=5, vol_span=20, min_ret=cut)
    assert (high["vol"] > cut).all()
    assert len(high) == int((lab["vol"] > cut).sum())
    # vol == 0 is dropped by default (vol > min_ret)
    flat = _panel(A=[100.0, 100.0, 100.0, 100.0, 101.0])
    assert triple_barrier(flat, horizon=1, vol=flat * 0.0).empty


def test_empty_result_keeps_columns() -> None:
    close = _panel(A=[100.0, 101.0])
    lab = triple_barrier(close, events=pd.DataFrame(False, close.index, close.columns), vol=0.1)
    assert lab.empty
    assert list(lab.columns) == ["t1", "ret", "label", "barrier", "vol"]
    assert lab.index.names == ["timestamp", "symbol"]


def test_inputs_not_mutated() -> None:
    bars = make_bars(60, 3)
    close = bars.close
    side = np.sign(close.diff()).fillna(0.0)
    snapshot = [close.copy(), side.copy(), bars.high.copy()]
    triple_barrier(bars, side=side, touch="hl", horizon=4)
    for before, after in zip(snapshot, [close, side, bars.high], strict=True):
        pd.testing.assert_frame_equal(before, after)


# ------------------------------------------------------------------ bundled data checks
def test_matches_independent_loop_on_bundled_data(sample_stocks: pd.DataFrame) -> None:
    close = sample_stocks
    mask = cusum_filter(close, 0.1)
    vol = close.pct_change(fill_method=None).ewm(span=50).std()
    got = triple_barrier(close, events=mask, pt=1.0, sl=2.0, horizon=10)
    ref = _tb_ref(close, mask, 1.0, 2.0, 10, vol)
    assert len(got) > 1000
    _compare(got, ref)
    assert set(got["barrier"].astype(str)) == {"pt", "sl", "vertical"}


def test_meta_labels_match_independent_loop(sample_stocks: pd.DataFrame) -> None:
    close = sample_stocks.iloc[-1500:]
    mask = cusum_filter(close, 0.04)
    side = np.sign(close.pct_change(20, fill_method=None))
    vol = close.pct_change(fill_method=None).ewm(span=30).std()
    got = triple_barrier(close, events=mask, pt=2.0, sl=1.0, horizon=15, vol=vol, side=side)
    ref = _tb_ref(close, mask, 2.0, 1.0, 15, vol, side=side)
    assert len(got) > 300
    _compare(got, ref)


def test_kernel_equals_python_twin(
    sample_stocks: pd.DataFrame, sample_bars: Bars, monkeypatch: pytest.MonkeyPatch
) -> None:
    close = sample_stocks.iloc[-2500:]
    side = np.sign(close.pct_change(5, fill_method=None))
    bars = sample_bars.select(start="2010-01-01")
    runs = [
        lambda: triple_barrier(close, pt=1.0, sl=1.5, horizon=10),
        lambda: triple_barrier(close, pt=0.0, sl=1.0, horizon=7, side=side),
        lambda: triple_barrier(bars, horizon=10, touch="hl"),
    ]
    fast = [run() for run in runs]
    monkeypatch.setattr(nb, "triple_barrier_nb", nb.triple_barrier_py)
    for run, expected in zip(runs, fast, strict=True):
        pd.testing.assert_frame_equal(run(), expected, check_exact=True)


# ------------------------------------------------------------------------ properties
@settings(max_examples=60, deadline=None)
@given(
    rets=st.lists(st.floats(-0.08, 0.08), min_size=6, max_size=40),
    nan_at=st.lists(st.integers(0, 39), max_size=5),
    horizon=st.integers(1, 8),
    pt=st.sampled_from([0.0, 0.5, 1.0, 2.0]),
    sl=st.sampled_from([0.0, 0.5, 1.0, 2.0]),
    vol=st.floats(0.005, 0.1),
)
def test_properties(
    rets: list[float], nan_at: list[int], horizon: int, pt: float, sl: float, vol: float
) -> None:
    prices = 100.0 * np.exp(np.cumsum(rets))
    prices[[i for i in nan_at if i < len(prices)]] = np.nan
    close = _panel(A=prices.tolist(), B=prices[::-1].tolist())
    lab = triple_barrier(close, pt=pt, sl=sl, horizon=horizon, vol=vol)
    pos0 = close.index.get_indexer(lab.index.get_level_values(0))
    pos1 = close.index.get_indexer(lab["t1"])
    assert (pos1 > pos0).all()
    assert (pos1 <= pos0 + horizon).all()
    assert set(lab["label"]) <= {-1, 0, 1}
    hit = lab["barrier"].astype(str)
    assert (lab["label"][hit == "pt"] == 1).all() and (lab["label"][hit == "sl"] == -1).all()
    if pt == 0:
        assert not (hit == "pt").any()
    if sl == 0:
        assert not (hit == "sl").any()
    if not lab.empty:
        mask = pd.DataFrame(True, index=close.index, columns=close.columns)
        volp = pd.DataFrame(vol, index=close.index, columns=close.columns)
        _compare(lab, _tb_ref(close, mask, pt, sl, horizon, volp))


# ---------------------------------------------------------------------------- errors
def test_parameter_errors() -> None:
    close = make_close(30, 2)
    f = "triple_barrier"
    with pytest.raises(ParameterError, match=f"'pt' parameter of {f} must be a finite number >= 0"):
        triple_barrier(close, pt=-1.0)
    with pytest.raises(ParameterError, match="'sl' parameter .* got nan"):
        triple_barrier(close, sl=np.nan)
    for bad in (0, 2.5, True):
        with pytest.raises(ParameterError, match=f"'horizon' parameter of {f} must be an integer"):
            triple_barrier(close, horizon=bad)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="'vol_span' parameter .* >= 1; got 0"):
        triple_barrier(close, vol_span=0)
    with pytest.raises(ParameterError, match="'min_ret' parameter .* got -0.1"):
        triple_barrier(close, min_ret=-0.1)
    with pytest.raises(ParameterError, match=r"'touch' parameter of .* one of \['close', 'hl'\]"):
        triple_barrier(close, touch="high")  # type: ignore[arg-type]
    with pytest.raises(
        ParameterError, match=r"touch='hl' in triple_barrier needs .* Bars as close"
    ):
        triple_barrier(close, touch="hl")


def test_vol_errors() -> None:
    close = make_close(30, 2)
    with pytest.raises(ParameterError, match="'vol' parameter of triple_barrier .* got 0"):
        triple_barrier(close, vol=0)
    with pytest.raises(ParameterError, match="got a Series"):
        triple_barrier(close, vol=close["S000"])  # type: ignore[arg-type]
    neg = close * 0 + 0.01
    neg.iloc[4, 1] = -0.01
    with pytest.raises(ParameterError, match=r"'vol' panel .* >= 0; got -0.01 for 'S001'"):
        triple_barrier(close, vol=neg)
    with pytest.raises(AlignmentError, match="close and vol are not aligned: 1 timestamps"):
        triple_barrier(close, vol=(close * 0 + 0.01).iloc[1:])


def test_side_errors() -> None:
    close = make_close(30, 2)
    side = close * 0 + 1.0
    side.iloc[3, 0] = 2.0
    with pytest.raises(ParameterError, match=r"must hold -1, 0, \+1 or NaN; got 2.0 for 'S000'"):
        triple_barrier(close, side=side)
    with pytest.raises(AlignmentError, match=r"close and side are not aligned: 1 symbols only"):
        triple_barrier(close, side=(close * 0 + 1.0)[["S000"]])


def test_events_errors() -> None:
    close = make_close(30, 2)
    with pytest.raises(ParameterError, match="'events' panel of triple_barrier must be boolean"):
        triple_barrier(close, events=(close > 50).astype(float))
    with pytest.raises(AlignmentError, match="close and events are not aligned"):
        triple_barrier(close, events=(close > 50).iloc[:-2])
    with pytest.raises(AlignmentError, match="1 'events' timestamps .* not in close.index"):
        triple_barrier(close, events=pd.DatetimeIndex(["1999-01-01"]))
    with pytest.raises(AlignmentError, match="both be tz-naive or both tz-aware"):
        triple_barrier(close, events=close.index[:3].tz_localize("UTC"))
    with pytest.raises(ParameterError, match="'events' parameter .* got list"):
        triple_barrier(close, events=[close.index[0]])  # type: ignore[arg-type]


def test_close_errors() -> None:
    close = make_close(30, 2)
    bad = close.copy()
    bad.iloc[2, 0] = -5.0
    with pytest.raises(PanelError, match="positive prices; got -5.0 for 'S000'"):
        triple_barrier(bad)
    with pytest.raises(PanelError, match="index is not sorted"):
        triple_barrier(close.iloc[::-1])


def test_bars_as_close() -> None:
    # Bars in close: their close is labelled; touch="hl" also reads high, low and open.
    bars = make_bars(60, 3)
    pd.testing.assert_frame_equal(
        triple_barrier(bars, horizon=5), triple_barrier(bars.close, horizon=5)
    )
    assert not triple_barrier(bars, horizon=5, touch="hl").equals(triple_barrier(bars, horizon=5))


def _warns_prices() -> Any:
    return pytest.warns(QResearchDeprecationWarning, match=DEPRECATED_PRICES)


def test_deprecated_prices_keyword() -> None:
    # One release of triple_barrier(close_panel, prices=bars): the Bars now go in close.
    bars = make_bars(60, 3)
    expected = triple_barrier(bars, horizon=5, touch="hl")
    with _warns_prices():
        got = triple_barrier(bars.close, horizon=5, prices=bars, touch="hl")
    pd.testing.assert_frame_equal(got, expected)
    with _warns_prices():  # close by keyword
        got = triple_barrier(close=bars.close, prices=bars, horizon=5, touch="hl")
    pd.testing.assert_frame_equal(got, expected)
    with _warns_prices():  # prices alone
        got = triple_barrier(prices=bars, horizon=5, touch="hl")
    pd.testing.assert_frame_equal(got, expected)
    with _warns_prices():  # the close panel given is the one labelled
        scaled = triple_barrier(bars.close * 1.01, horizon=5, prices=bars, touch="hl")
    assert not scaled.equals(expected)
    pd.testing.assert_frame_equal(
        scaled, triple_barrier(bars.replace(close=bars.close * 1.01), horizon=5, touch="hl")
    )
    with pytest.raises(ParameterError, match="got both 'prices' .* as 'close'"):
        triple_barrier(bars, prices=bars, touch="hl")
    with _warns_prices(), pytest.raises(ParameterError, match="'prices' parameter .* a qresearch"):
        triple_barrier(bars.close, prices=bars.close, touch="hl")
    shifted = bars.select(start=bars.index[1])
    with _warns_prices(), pytest.raises(AlignmentError, match="close and prices are not aligned"):
        triple_barrier(bars.close, prices=shifted, touch="hl")


def test_explicit_events_on_nan_close_or_vol_are_dropped() -> None:
    close = _panel(A=[100.0, np.nan, 101.0, 102.0, 103.0], B=[100.0, 101.0, 102.0, 103.0, 104.0])
    vol = close * 0 + 0.02
    vol.iloc[2, 1] = np.nan
    events = pd.DataFrame(True, index=close.index, columns=close.columns)
    lab = triple_barrier(close, events=events, horizon=2, vol=vol)
    starts = set(lab.index)
    assert (close.index[1], "A") not in starts  # NaN close
    assert (close.index[2], "B") not in starts  # NaN vol
    assert (close.index[0], "A") in starts and (close.index[3], "B") in starts
    assert len(lab) == 8 - 2


def test_import_is_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, qresearch.labels; "
        "print([m for m in ('numba', 'scipy', 'statsmodels', 'sklearn') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_hl_bar_without_high_low_is_tested_on_its_close() -> None:
    # Bar 2 has a close 5% up (barrier at +2%) but no open/high/low: it still takes profit.
    idx = pd.date_range("2021-01-04", periods=4, name="timestamp")
    close = pd.DataFrame({"A": [100.0, 100.5, 105.0, 104.0]}, index=idx)
    hl = pd.DataFrame({"A": [100.0, 100.5, np.nan, 104.0]}, index=idx)
    bars = Bars(open=hl, high=hl, low=hl, close=close, volume=close * 0 + 1.0)
    lab = triple_barrier(bars, events=idx[[0]], pt=2.0, sl=2.0, horizon=3, vol=0.01, touch="hl")
    assert lab["barrier"].astype(str).tolist() == ["pt"]
    assert lab["t1"].iloc[0] == idx[2]
    assert lab["ret"].iloc[0] == pytest.approx(0.05)  # its "open" is its close: a gap fill


def test_numpy_scalar_parameters_are_accepted() -> None:
    close = make_close(60, 2)
    a = triple_barrier(close, pt=np.int64(2), sl=np.float32(1.0), vol=0.01, min_ret=np.int64(0))
    b = triple_barrier(close, pt=2.0, sl=1.0, vol=0.01)
    pd.testing.assert_frame_equal(a, b)


def test_labels_with_mixed_time_zones_are_refused() -> None:
    idx = pd.date_range("2021-01-04", periods=30, name="timestamp", tz="UTC")
    close = pd.DataFrame({"A": 100.0 * 1.01 ** np.arange(30.0)}, index=idx)
    lab = triple_barrier(close, horizon=3, vol=0.01)
    bad = lab.assign(t1=lab["t1"].dt.tz_localize(None))
    with pytest.raises(PanelError, match=r"mix time zones.*tz_localize\('UTC'\)"):
        uniqueness_weights(bad, idx)
