from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from qresearch.exceptions import AlignmentError, ParameterError
from qresearch.portfolio import (
    bottom_n,
    cap_weights,
    discrete_allocation,
    equal_weights,
    group_caps,
    inverse_vol_weights,
    normalize,
    rank_weights,
    top_n,
    vol_scaled_weights,
)
from tests.conftest import make_close

IDX = pd.date_range("2024-01-01", periods=3, name="timestamp")


def test_equal_weights_and_hold_rows() -> None:
    scores = pd.DataFrame(
        {"A": [1.0, np.nan, np.nan], "B": [2.0, 3.0, np.nan], "C": [np.nan, 1.0, np.nan]}, IDX
    )
    w = equal_weights(scores)
    assert w.iloc[0].tolist() == [0.5, 0.5, 0.0] and w.iloc[1].tolist() == [0.0, 0.5, 0.5]
    assert w.iloc[2].isna().all()


def test_inverse_vol_on_independent_vols() -> None:
    close = make_close(200, 4, seed=3, ragged=True)
    w = inverse_vol_weights(close, window=20)
    rets = close.pct_change(fill_method=None)
    t = close.index[150]
    window = rets.loc[:t].tail(20)
    vols = np.array(
        [np.std(window[c].to_numpy(), ddof=1) if window[c].notna().all() else np.nan for c in close]
    )
    inv = np.where(np.isnan(vols), 0.0, 1 / vols)
    np.testing.assert_allclose(w.loc[t].to_numpy(), inv / inv.sum(), rtol=1e-12)
    assert w.iloc[:20].isna().all().all()  # no full window yet: hold


def test_inverse_vol_diagonal_covariance_closed_form() -> None:
    # Two assets alternating +-a and +-b returns: vol ratio a:b -> weights b/(a+b), a/(a+b).
    a, b = 0.01, 0.03
    r = pd.DataFrame(
        {"X": [a, -a] * 10, "Y": [b, -b] * 10},
        index=pd.bdate_range("2024-01-01", periods=20, name="timestamp"),
    )
    close = (1 + r).cumprod() * 100
    w = inverse_vol_weights(close, window=10).dropna()
    ratio = w["X"] / w["Y"]
    assert np.allclose(ratio.to_numpy(), ratio.iloc[0]) and w.sum(axis=1).round(12).eq(1).all()
    vx = close["X"].pct_change().iloc[-10:].std()
    vy = close["Y"].pct_change().iloc[-10:].std()
    assert w["X"].iloc[-1] == pytest.approx((1 / vx) / (1 / vx + 1 / vy), rel=1e-12)


def test_vol_scaled_independent() -> None:
    close = make_close(100, 3, seed=4, ragged=False)
    w = vol_scaled_weights(close, target_volatility=0.1, window=30)
    t = close.index[-1]
    vols = close.pct_change().iloc[-30:].std() * np.sqrt(252)
    np.testing.assert_allclose(w.loc[t].to_numpy(), (0.1 / vols / 3).to_numpy(), rtol=1e-12)


def test_top_bottom_n_ties_and_nan() -> None:
    s = pd.DataFrame({"A": [3.0], "B": [5.0], "C": [5.0], "D": [np.nan]}, IDX[:1])
    assert top_n(s, 2).iloc[0].tolist() == [False, True, True, False]
    assert top_n(s, 1).iloc[0].tolist() == [False, True, False, False]  # first of the tie
    assert bottom_n(s, 1).iloc[0].tolist() == [True, False, False, False]
    assert top_n(s, 10).iloc[0].tolist() == [True, True, True, False]
    with pytest.raises(ParameterError, match="'n' parameter of top_n must be an integer >= 1"):
        top_n(s, 0)


def test_rank_weights_books() -> None:
    rng = np.random.default_rng(0)
    scores = pd.DataFrame(
        rng.normal(size=(5, 6)),
        index=pd.date_range("2024-01-01", periods=5, name="timestamp"),
        columns=list("ABCDEF"),
    )
    scores.iloc[1, 2] = np.nan
    lo = rank_weights(scores)
    np.testing.assert_allclose(lo.sum(axis=1), 1.0)
    assert (lo >= 0).all().all() and lo.iloc[1, 2] == 0.0
    ls = rank_weights(scores, long_short=True)
    np.testing.assert_allclose(ls.abs().sum(axis=1), 1.0)
    np.testing.assert_allclose(ls.sum(axis=1), 0.0, atol=1e-12)
    betas = pd.DataFrame(
        rng.uniform(0.5, 1.5, size=scores.shape), index=scores.index, columns=scores.columns
    )
    bn = rank_weights(scores, long_short=True, betas=betas)
    np.testing.assert_allclose((bn * betas).sum(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(bn.sum(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(bn.abs().sum(axis=1), 1.0)
    with pytest.raises(ParameterError, match="betas only applies"):
        rank_weights(scores, betas=betas)
    with pytest.raises(AlignmentError):
        rank_weights(scores, long_short=True, betas=betas.iloc[:, :3])


def test_normalize_gross_net_and_errors() -> None:
    w = pd.DataFrame({"A": [0.3, np.nan], "B": [-0.1, np.nan], "C": [np.nan, np.nan]}, IDX[:2])
    g = normalize(w, gross=1.0)
    assert g.iloc[0, :2].tolist() == pytest.approx([0.75, -0.25]) and np.isnan(g.iloc[0, 2])
    assert g.iloc[1].isna().all()
    n = normalize(w, gross=2.0, net=1.0)
    assert n.iloc[0, :2].tolist() == pytest.approx([1.5, -0.5])
    with pytest.raises(ParameterError, match=r"\|net\| <= gross"):
        normalize(w, gross=1.0, net=2.0)
    with pytest.raises(ParameterError, match="has no short position"):
        normalize(w.clip(lower=0), gross=1.0, net=0.0)


def test_cap_weights_by_hand_and_errors() -> None:
    w = pd.DataFrame({"A": [0.7, np.nan], "B": [0.2, np.nan], "C": [0.1, np.nan]}, IDX[:2])
    c = cap_weights(w, 0.4)
    assert c.iloc[0].tolist() == pytest.approx([0.4, 0.4, 0.2])
    assert c.iloc[1].isna().all()
    # 3 x 0.3 < 1: the caps cannot hold the row; each name at the cap, 0.1 stays in cash.
    assert cap_weights(w, 0.3).iloc[0].tolist() == pytest.approx([0.3, 0.3, 0.3])
    with pytest.raises(ParameterError, match="long-only"):
        cap_weights(w * -1, 0.5)
    with pytest.raises(ParameterError, match="'min_weight' parameter"):
        cap_weights(w, 0.4, min_weight=0.5)
    dropped = cap_weights(
        pd.DataFrame({"A": [0.5], "B": [0.45], "C": [0.05]}, IDX[:1]), 0.6, min_weight=0.1
    )
    assert dropped.iloc[0].tolist() == pytest.approx([0.5 / 0.95, 0.45 / 0.95, 0.0])


def test_cap_weights_infeasible_cap_leaves_the_excess_in_cash() -> None:
    # 3 positions capped at 0.2 can hold 0.6 of 1.0: each gets 0.2, 0.4 is cash.
    w = pd.DataFrame({"A": [1 / 3, 0.5], "B": [1 / 3, 0.3], "C": [1 / 3, 0.2]}, IDX[:2])
    w.attrs["notes"] = {IDX[1]: ["from rebalance"]}
    out = cap_weights(w, 0.2)
    assert out.iloc[0].tolist() == pytest.approx([0.2, 0.2, 0.2])
    assert out.iloc[0].sum() == pytest.approx(0.6)
    assert out.iloc[1].tolist() == pytest.approx([0.2, 0.2, 0.2])
    notes = out.attrs["notes"]
    assert "left in cash" in notes[IDX[0]][0] and "0.4" in notes[IDX[0]][0]
    assert notes[IDX[1]][0] == "from rebalance" and "left in cash" in notes[IDX[1]][1]
    assert w.attrs["notes"] == {IDX[1]: ["from rebalance"]}  # input attrs not mutated
    # A zero weight never becomes a position.
    zero = cap_weights(pd.DataFrame({"A": [0.6], "B": [0.4], "C": [0.0]}, IDX[:1]), 0.3)
    assert zero.iloc[0].tolist() == pytest.approx([0.3, 0.3, 0.0])


@settings(max_examples=50, deadline=None)
@given(
    raw=st.lists(st.floats(0.0, 1.0), min_size=3, max_size=12),
    cap=st.floats(0.1, 0.9),
)
@example(raw=[0.5, 0.5, 0.5, 0.25, 5e-324], cap=0.21875)  # a subnormal weight must absorb
def test_cap_weights_properties(raw: list[float], cap: float) -> None:
    w = np.array(raw)
    if w.sum() == 0:
        return
    w = w / w.sum()
    frame = pd.DataFrame([w], index=IDX[:1], columns=[f"S{i}" for i in range(len(w))])
    out = cap_weights(frame, cap).iloc[0].to_numpy()
    assert out.max() <= cap + 1e-9
    # The row keeps its sum when the caps can hold it, else every name sits at the cap.
    assert out.sum() == pytest.approx(min(1.0, cap * (w > 0).sum()))
    assert ((out > 0) <= (w > 0)).all()  # never creates a position


def test_discrete_allocation() -> None:
    shares, cash = discrete_allocation(
        pd.Series({"A": 0.6, "B": 0.4}), pd.Series({"A": 10.0, "B": 33.0}), 1000.0
    )
    # Floors: A 60 (600), B 12 (396); leftover 4 buys nothing.
    assert shares.tolist() == [60.0, 12.0] and cash == pytest.approx(4.0)
    lots, left = discrete_allocation(
        pd.Series({"A": 1.0}), pd.Series({"A": 7.0}), 100.0, lot_size=5
    )
    assert lots.tolist() == [10.0] and left == pytest.approx(30.0)
    with pytest.raises(ParameterError, match="no positive price"):
        discrete_allocation(pd.Series({"A": 1.0}), pd.Series({"B": 7.0}), 100.0)
    with pytest.raises(ParameterError, match="long-only"):
        discrete_allocation(pd.Series({"A": -1.0}), pd.Series({"A": 7.0}), 100.0)


def test_group_caps() -> None:
    w = pd.DataFrame({"A": [0.3], "B": [0.3], "C": [0.4]}, IDX[:1])
    out = group_caps(w, {"A": "tech", "B": "tech", "C": "energy"}, 0.4)
    assert out.iloc[0].tolist() == pytest.approx([0.2, 0.2, 0.4])


REGISTRY = {
    "equal_weights": lambda c: equal_weights(c),
    "inverse_vol_weights": lambda c: inverse_vol_weights(c, window=10),
    "vol_scaled_weights": lambda c: vol_scaled_weights(c, window=10),
    "top_n": lambda c: top_n(c.pct_change(5, fill_method=None), 2),
    "rank_weights": lambda c: rank_weights(c.pct_change(5, fill_method=None), long_short=True),
    # Rows with fewer than two listed names hold (an equal weight of 1 cannot be capped).
    "cap_weights": lambda c: cap_weights(
        equal_weights(c.notna() & (c.notna().sum(axis=1) >= 2).to_numpy()[:, None]), 0.5
    ),
}


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_no_look_ahead(name: str) -> None:
    close = make_close(120, 5, seed=8)
    fn = REGISTRY[name]
    full = fn(close)
    for cut in (30, 61, 100):
        part = fn(close.iloc[:cut])
        pd.testing.assert_frame_equal(full.iloc[:cut], part)


def test_inputs_not_mutated() -> None:
    close = make_close(60, 4, seed=2)
    before = close.copy()
    for fn in REGISTRY.values():
        fn(close)
    pd.testing.assert_frame_equal(close, before)
