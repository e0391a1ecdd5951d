"""Sample weights: hand cases, AFML-style pandas loops, sequential bootstrap, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import qresearch.labels._nb as nb
from qresearch.exceptions import AlignmentError, PanelError, ParameterError
from qresearch.labels import (
    num_concurrent_events,
    return_attribution_weights,
    seq_bootstrap,
    time_decay_weights,
    triple_barrier,
    uniqueness_weights,
)

IDX = pd.date_range("2021-01-04", periods=6, name="timestamp")


def _labels(spans: list[tuple[int, int, str]], idx: pd.DatetimeIndex = IDX) -> pd.DataFrame:
    mi = pd.MultiIndex.from_arrays(
        [idx[[a for a, _, _ in spans]], [s for _, _, s in spans]], names=["timestamp", "symbol"]
    )
    return pd.DataFrame({"t1": idx[[b for _, b, _ in spans]]}, index=mi)


# three overlapping labels of A, one lone label of B
SPANS = [(0, 3, "A"), (1, 4, "A"), (3, 5, "A"), (1, 4, "B")]


def test_concurrency_hand_case() -> None:
    out = num_concurrent_events(_labels(SPANS), IDX)
    assert out.columns.tolist() == ["A", "B"]
    assert out["A"].tolist() == [1, 2, 2, 3, 2, 1]
    assert out["B"].tolist() == [0, 1, 1, 1, 1, 0]  # other symbols never overlap
    pd.testing.assert_index_equal(out.index, IDX)


def test_uniqueness_hand_case() -> None:
    w = uniqueness_weights(_labels(SPANS), IDX)
    # A concurrency 1 2 2 3 2 1
    # L0 bars 0-3: (1 + 1/2 + 1/2 + 1/3) / 4 ; L1 bars 1-4: (1/2 + 1/2 + 1/3 + 1/2) / 4
    # L2 bars 3-5: (1/3 + 1/2 + 1) / 3 ; B alone: 1
    expected = [(7 / 3) / 4, (11 / 6) / 4, (11 / 6) / 3, 1.0]
    np.testing.assert_allclose(w.to_numpy(), expected, rtol=1e-12)
    pd.testing.assert_index_equal(w.index, _labels(SPANS).index)
    assert w.name == "uniqueness"


def test_return_attribution_hand_case() -> None:
    close = pd.DataFrame(
        {"A": [100.0, 110.0, 99.0, 99.0, 108.9, 100.0], "B": 100.0 + np.arange(6.0)},
        index=IDX,
    )
    labels = _labels(SPANS)
    r = np.log(close["A"]).diff().to_numpy()
    # labels of A earning the return of each bar (t0 < t <= t1): 0 1 2 2 2 1
    c = [0, 1, 2, 2, 2, 1]
    raw = [
        abs(r[1] / c[1] + r[2] / c[2] + r[3] / c[3]),  # (0, 3]
        abs(r[2] / c[2] + r[3] / c[3] + r[4] / c[4]),  # (1, 4]
        abs(r[4] / c[4] + r[5] / c[5]),  # (3, 5]
        abs(np.log(104.0 / 101.0)),  # B alone over (1, 4]
    ]
    expected = np.array(raw) * 4 / sum(raw)
    w = return_attribution_weights(labels, close)
    np.testing.assert_allclose(w.to_numpy(), expected, rtol=1e-12)
    assert w.sum() == pytest.approx(4.0)


def test_return_attribution_nan_and_flat() -> None:
    close = pd.DataFrame({"A": [100.0, np.nan, 110.0, 121.0, 133.1, 133.1]}, index=IDX)
    labels = _labels([(0, 2, "A"), (2, 4, "A")])
    # the move across the gap counts from the last finite price: the first label earns
    # log(1.1), the second 2 log(1.1); weights sum to 2
    np.testing.assert_allclose(return_attribution_weights(labels, close), [2 / 3, 4 / 3])
    flat = close.fillna(110.0) * 0 + 5.0
    np.testing.assert_array_equal(return_attribution_weights(labels, flat), [1.0, 1.0])


def test_time_decay_hand_case() -> None:
    u = pd.Series([0.5, 0.25, 0.25], index=IDX[:3])
    # cumulative .5 .75 1
    np.testing.assert_allclose(time_decay_weights(u, 0.5), [0.75, 0.875, 1.0])
    np.testing.assert_allclose(time_decay_weights(u, 1.0), [1.0, 1.0, 1.0])
    np.testing.assert_allclose(time_decay_weights(u, 0.0), [0.5, 0.75, 1.0])
    # c = -0.5: slope 1 / (0.5 * 1) = 2, const -1 -> max(0, -1 + 2x)
    np.testing.assert_allclose(time_decay_weights(u, -0.5), [0.0, 0.5, 1.0])
    shuffled = u.iloc[[2, 0, 1]]
    out = time_decay_weights(shuffled, 0.5)
    pd.testing.assert_index_equal(out.index, shuffled.index)
    np.testing.assert_allclose(out, [1.0, 0.75, 0.875])


def test_time_decay_on_label_multiindex() -> None:
    labels = _labels(SPANS).sort_index()
    u = uniqueness_weights(labels, IDX)
    out = time_decay_weights(u.iloc[::-1], last_weight=0.0)
    cum = np.cumsum(u.to_numpy())  # labels are sorted by (t0, symbol)
    np.testing.assert_allclose(out.iloc[::-1].to_numpy(), cum / cum[-1])


# ------------------------------------------------------------- AFML loops on real data
def _concurrency_ref(labels: pd.DataFrame, index: pd.DatetimeIndex) -> pd.DataFrame:
    out = pd.DataFrame(0, index=index, columns=sorted(set(labels.index.get_level_values(1))))
    for (t0, sym), t1 in labels["t1"].items():
        out.loc[t0:t1, sym] += 1
    return out


def test_match_afml_loops_on_bundled_data(sample_stocks: pd.DataFrame) -> None:
    close = sample_stocks[["AAPL", "GE", "FB"]].iloc[-400:]
    labels = triple_barrier(close, horizon=15, pt=2.0, sl=2.0)
    counts = _concurrency_ref(labels, close.index)
    got = num_concurrent_events(labels, close.index)
    np.testing.assert_array_equal(got.to_numpy(), counts.to_numpy())
    assert got.columns.tolist() == ["AAPL", "FB", "GE"]
    u_ref = [(1.0 / counts.loc[t0:t1, sym]).mean() for (t0, sym), t1 in labels["t1"].items()]
    np.testing.assert_allclose(uniqueness_weights(labels, close.index), u_ref, rtol=1e-10)
    logret = np.log(close.ffill()).diff()
    earning = pd.DataFrame(0, index=close.index, columns=counts.columns)  # t0 < t <= t1
    for (t0, sym), t1 in labels["t1"].items():
        earning.loc[t0:t1, sym] += 1
        earning.loc[t0, sym] -= 1
    raw = np.array(
        [
            abs((logret.loc[t0:t1, sym].iloc[1:] / earning.loc[t0:t1, sym].iloc[1:]).sum())
            for (t0, sym), t1 in labels["t1"].items()
        ]
    )
    np.testing.assert_allclose(
        return_attribution_weights(labels, close), raw * len(raw) / raw.sum(), rtol=1e-9
    )


# ---------------------------------------------------------------- sequential bootstrap
def _seq_bootstrap_ref(labels: pd.DataFrame, index: pd.DatetimeIndex, uniforms: np.ndarray):
    # AFML snippets 4.3-4.5 with an indicator matrix over (symbol, bar) cells.
    cols = {}
    for k, ((t0, sym), t1) in enumerate(labels["t1"].items()):
        col = pd.Series(0.0, index=pd.MultiIndex.from_product([["A", "B", "C"], index]))
        col.loc[(sym, slice(t0, t1))] = 1.0
        cols[k] = col
    ind = pd.DataFrame(cols)
    phi: list[int] = []
    for u in uniforms:
        avg = pd.Series(0.0, index=ind.columns)
        for i in ind.columns:
            c = ind[[*phi, i]].sum(axis=1)
            avg[i] = (ind[i] / c)[ind[i] > 0].mean()
        prob = (avg / avg.sum()).to_numpy()
        phi.append(int(np.flatnonzero(np.cumsum(prob) > u)[0]))
    return np.array(phi)


def test_seq_bootstrap_matches_afml_reference() -> None:
    idx = pd.date_range("2021-01-04", periods=12, name="timestamp")
    spans = [(0, 3, "A"), (1, 5, "A"), (2, 2, "A"), (6, 9, "A"), (0, 11, "B"), (4, 7, "C")]
    spans += [(5, 8, "C"), (9, 11, "A"), (10, 11, "C")]
    labels = _labels(spans, idx)
    got = seq_bootstrap(labels, n=25, seed=123, index=idx)
    uniforms = np.random.default_rng(123).random(25)
    np.testing.assert_array_equal(got, _seq_bootstrap_ref(labels, idx, uniforms))


def test_seq_bootstrap_reproducible_and_kernel_twin(monkeypatch: pytest.MonkeyPatch) -> None:
    idx = pd.date_range("2021-01-04", periods=300, name="timestamp")
    rng = np.random.default_rng(5)
    t0 = np.sort(rng.choice(290, 80, replace=False))
    spans = [
        (int(a), int(min(a + rng.integers(1, 15), 299)), "AB"[i % 2]) for i, a in enumerate(t0)
    ]
    labels = _labels(spans, idx)
    a = seq_bootstrap(labels, seed=7)
    assert a.shape == (80,) and a.dtype == np.int64
    np.testing.assert_array_equal(a, seq_bootstrap(labels, seed=7))
    np.testing.assert_array_equal(a, seq_bootstrap(labels, seed=np.random.default_rng(7)))
    assert not np.array_equal(a, seq_bootstrap(labels, seed=8))
    monkeypatch.setattr(nb, "seq_bootstrap_nb", nb.seq_bootstrap_py)
    np.testing.assert_array_equal(a, seq_bootstrap(labels, seed=7))


def _avg_uniqueness_of_sample(labels: pd.DataFrame, index: pd.DatetimeIndex, sample) -> float:
    drawn = labels.iloc[sample]
    drawn = drawn.set_axis(
        pd.MultiIndex.from_arrays(
            [drawn.index.get_level_values(0), drawn.index.get_level_values(1)],
            names=["timestamp", "symbol"],
        )
    )
    return float(uniqueness_weights(drawn, index).mean())


def _exact_draw_frequencies() -> np.ndarray:
    # Enumerate all 27 sequences of 3 draws with AFML's probabilities on the bars
    # {0,1,2}, {2,3}, {4,5}: the expected share of each label among the draws.
    bars = [{0, 1, 2}, {2, 3}, {4, 5}]
    freq = np.zeros(3)

    def walk(drawn: list[int], p: float) -> None:
        if len(drawn) == 3:
            for j in drawn:
                freq[j] += p / 3
            return
        avg = []
        for i in range(3):
            c = {b: sum(b in bars[j] for j in drawn) + 1 for b in bars[i]}
            avg.append(np.mean([1 / c[b] for b in bars[i]]))
        for i in range(3):
            walk([*drawn, i], p * avg[i] / sum(avg))

    walk([], 1.0)
    return freq


def test_seq_bootstrap_favours_unique_labels() -> None:
    # AFML 4.5.3 example: labels on bars {0,1,2}, {2,3}, {4,5}; label 2 is unique
    labels = _labels([(0, 2, "A"), (2, 3, "A"), (4, 5, "A")])
    draws = np.stack([seq_bootstrap(labels, seed=s) for s in range(1500)])
    exact = _exact_draw_frequencies()
    assert exact[2] > 0.35  # the isolated label is drawn more often than 1/3
    freq = np.bincount(draws.ravel(), minlength=3) / draws.size
    se = np.sqrt(exact * (1 - exact) / draws.size)
    assert (np.abs(freq - exact) < 4 * se).all()
    # the first draw is uniform
    first = np.bincount(draws[:, 0], minlength=3) / len(draws)
    assert (np.abs(first - 1 / 3) < 4 * np.sqrt(2 / 9 / len(draws))).all()
    rng = np.random.default_rng(0)
    seq_u = [
        _avg_uniqueness_of_sample(labels, IDX, seq_bootstrap(labels, seed=s)) for s in range(150)
    ]
    std_u = [_avg_uniqueness_of_sample(labels, IDX, rng.integers(0, 3, 3)) for _ in range(150)]
    assert np.mean(seq_u) > np.mean(std_u) + 0.03


def test_seq_bootstrap_default_index_and_n() -> None:
    # every bar starts or ends a label: the default index (union of t0 and t1) is IDX
    labels = _labels([(0, 1, "A"), (1, 3, "A"), (2, 4, "A"), (3, 5, "A")])
    full = seq_bootstrap(labels, n=50, seed=3, index=IDX)
    assert len(full) == 50
    np.testing.assert_array_equal(seq_bootstrap(labels, n=50, seed=3), full)
    assert len(seq_bootstrap(labels, seed=3)) == 4


# ------------------------------------------------------------------------- errors
def test_label_frame_errors() -> None:
    labels = _labels(SPANS)
    with pytest.raises(PanelError, match="'labels' argument of uniqueness_weights must be the"):
        uniqueness_weights(labels["t1"], IDX)  # type: ignore[arg-type]
    with pytest.raises(PanelError, match=r"\(timestamp, symbol\) MultiIndex"):
        uniqueness_weights(labels.reset_index(level=1), IDX)
    with pytest.raises(PanelError, match="needs a 't1' column"):
        uniqueness_weights(labels.rename(columns={"t1": "end"}), IDX)
    with pytest.raises(PanelError, match="'t1' column .* must hold timestamps"):
        uniqueness_weights(labels.assign(t1=1.0), IDX)
    with pytest.raises(PanelError, match="have t1 before t0"):
        uniqueness_weights(labels.assign(t1=IDX[0]), IDX)
    with pytest.raises(PanelError, match="NaT values in 't1'"):
        uniqueness_weights(labels.assign(t1=pd.NaT).astype({"t1": "datetime64[ns]"}), IDX)
    with pytest.raises(AlignmentError, match=r"label t1 timestamps passed to num_concurrent"):
        num_concurrent_events(labels, IDX[:5])
    with pytest.raises(PanelError, match="'index' argument of num_concurrent_events must be"):
        num_concurrent_events(labels, list(IDX))  # type: ignore[arg-type]
    with pytest.raises(PanelError, match="must be sorted and unique"):
        num_concurrent_events(labels, IDX[::-1])


def test_weight_parameter_errors() -> None:
    labels = _labels(SPANS)
    close = pd.DataFrame({"A": 100.0 + np.arange(6.0)}, index=IDX)
    with pytest.raises(AlignmentError, match=r"symbols not in close: \['B'\]"):
        return_attribution_weights(labels, close)
    u = uniqueness_weights(labels, IDX)
    for bad in (-1.0, 1.5, np.nan, True):
        with pytest.raises(ParameterError, match="'last_weight' parameter .* in \\(-1, 1\\]"):
            time_decay_weights(u, bad)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="finite values >= 0"):
        time_decay_weights(u * -1.0)
    with pytest.raises(ParameterError, match="must be a numeric pandas Series"):
        time_decay_weights(u.to_numpy())  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="sums to 0"):
        time_decay_weights(u * 0.0)
    with pytest.raises(ParameterError, match="'n' parameter of seq_bootstrap must be an integer"):
        seq_bootstrap(labels, n=0)
    with pytest.raises(ParameterError, match="is empty; nothing to draw"):
        seq_bootstrap(labels.iloc[:0])


def test_return_attribution_back_to_back_labels_share_nothing() -> None:
    # A constant 1% per bar and labels [0, 2], [2, 4], [4, 6]: each earns two bars alone.
    idx = pd.date_range("2021-01-04", periods=8, name="timestamp")
    close = pd.DataFrame({"A": 100.0 * 1.01 ** np.arange(8.0)}, index=idx)
    labels = _labels([(0, 2, "A"), (2, 4, "A"), (4, 6, "A")], idx)
    np.testing.assert_allclose(return_attribution_weights(labels, close), [1.0, 1.0, 1.0])
