from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import qresearch.portfolio.rebalancing as rb
from qresearch.datasets import load_sample
from qresearch.exceptions import AlignmentError, ParameterError
from qresearch.portfolio import rebalance


@pytest.fixture(scope="module")
def close(sample_stocks: pd.DataFrame) -> pd.DataFrame:
    return sample_stocks.loc["2011":"2014"]


def test_inverse_vol_rows_are_point_in_time(close: pd.DataFrame) -> None:
    w = rebalance(close, every="ME", lookback=63, method="inverse_vol")
    held = w.dropna(how="all")
    assert len(held) >= 40 and (w.index.difference(held.index).size > 0)
    np.testing.assert_allclose(held.sum(axis=1), 1.0)
    t = held.index[10]
    rets = close.pct_change(fill_method=None).loc[:t].tail(63)
    ok = rets.notna().all() & close.loc[t].notna()
    vol = rets.loc[:, ok].std()
    expected = (1 / vol) / (1 / vol).sum()
    np.testing.assert_allclose(
        held.loc[t, expected.index].to_numpy(), expected.to_numpy(), rtol=1e-12
    )
    assert (held.loc[t, ~ok] == 0).all()
    # FB lists 2012-05-18: no weight before it has 63 returns.
    assert (held.loc[:"2012-08-01", "FB"] == 0).all() and held.loc["2013", "FB"].gt(0).all()


def test_top_n_scores_and_universe(close: pd.DataFrame) -> None:
    scores = close.pct_change(126, fill_method=None)
    w = rebalance(close, scores, top_n=3, method="equal", lookback=63)
    held = w.dropna(how="all")
    assert (held.gt(0).sum(axis=1) <= 3).all() and (held.gt(0).sum(axis=1) == 3).any()
    t = held.index[-1]
    best = scores.loc[t].dropna().nlargest(3).index
    assert set(held.columns[held.loc[t] > 0]) == set(best)
    universe = pd.DataFrame(True, index=close.index, columns=close.columns)
    universe["AAPL"] = False
    u = rebalance(close, universe=universe, method="equal", lookback=63)
    assert (u.dropna(how="all")["AAPL"] == 0).all()


def test_truncation_invariance(close: pd.DataFrame) -> None:
    full = rebalance(close, every="ME", lookback=63)
    for cut in ("2012-06-29", "2013-12-31"):
        part = rebalance(close.loc[:cut], every="ME", lookback=63)
        pd.testing.assert_frame_equal(full.loc[:cut], part)


def test_cache_hit_and_parallel(close: pd.DataFrame, tmp_path, monkeypatch) -> None:
    first = rebalance(close, lookback=63, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.json"))) == len(first.dropna(how="all"))

    def boom(*args, **kwargs):
        raise AssertionError("solved again instead of reading the cache")

    monkeypatch.setattr(rb, "_solve", boom)
    second = rebalance(close, lookback=63, cache_dir=tmp_path)
    pd.testing.assert_frame_equal(first, second)
    monkeypatch.undo()
    parallel = rebalance(close, lookback=63, n_jobs=2)
    pd.testing.assert_frame_equal(first, parallel)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"lookback": 1}, ParameterError, "'lookback' parameter of rebalance"),
        ({"n_jobs": 0}, ParameterError, "'n_jobs' parameter"),
        ({"top_n": 3}, ParameterError, "top_n needs scores"),
        ({"min_history": 0}, ParameterError, "'min_history' parameter"),
        ({"every": "fortnight"}, ParameterError, "'every' parameter of rebalance_dates"),
    ],
)
def test_bad_arguments(close: pd.DataFrame, kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        rebalance(close, **kwargs)


def test_misaligned_scores(close: pd.DataFrame) -> None:
    with pytest.raises(AlignmentError, match="close and scores are not aligned"):
        rebalance(close, close.iloc[:-5], top_n=2)


def test_turnover_chain_survives_a_partial_cache(tmp_path) -> None:
    # Dates cached by an earlier, shorter run must seed the turnover limit of the new ones.
    close = load_sample("stocks").loc["2012":"2014"].dropna(axis=1)
    opts = {"every": "ME", "lookback": 126, "method": "min_vol", "max_turnover": 0.2}
    fresh = rebalance(close, **opts)
    rebalance(close.loc[:"2013-12-31"], cache_dir=tmp_path, **opts)
    resumed = rebalance(close, cache_dir=tmp_path, **opts)
    pd.testing.assert_frame_equal(resumed, fresh)
    held = fresh.dropna(how="all")
    assert (held.diff().abs().sum(axis=1).iloc[1:] <= 0.2 + 1e-6).all()


def test_fallback_previous_runs_in_date_order() -> None:
    close = load_sample("stocks").loc["2012":"2014"].dropna(axis=1)
    w = rebalance(close, every="ME", lookback=126, method="hrp", fallback="previous", n_jobs=2)
    held = w.dropna(how="all")
    assert len(held) == 30
    assert np.allclose(held.sum(axis=1), 1.0)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_fallbacks_are_recorded_per_date_and_survive_the_cache(tmp_path, n_jobs: int) -> None:
    # Fewer than 20 symbols cannot be fully invested under a 5% cap: every date falls back.
    close = load_sample("stocks").loc["2013":"2014"].dropna(axis=1)
    opts = {"every": "QE", "lookback": 126, "method": "max_sharpe", "bounds": (0.0, 0.05)}
    opts |= {"fallback": "inverse_vol", "cache_dir": tmp_path, "n_jobs": n_jobs}
    first = rebalance(close, **opts)
    dates = first.dropna(how="all").index
    assert len(dates) >= 5 and set(first.attrs["fallback"]) == set(dates)
    record = first.attrs["fallback"][dates[0]]
    assert record["method"] == "inverse_vol" and "max_sharpe" in record["reason"]
    again = rebalance(close, **opts)  # every date from the cache
    pd.testing.assert_frame_equal(again, first)
    assert again.attrs["fallback"] == first.attrs["fallback"]
    assert rebalance(close, every="QE", lookback=126).attrs["fallback"] == {}


def test_optimizer_keeps_every_symbol_rebalance_found_eligible() -> None:
    # BABA lists in 2014-09: ~70 returns at 2014-12-31, eligible with min_history=0.2 of
    # 252 (51 needed) though below optimize's own default of half the window.
    close = load_sample("stocks").loc["2012":"2014"]
    w = rebalance(close, every="QE", lookback=252, method="hrp", min_history=0.2)
    assert w.loc["2014-12-31", "BABA"] > 0
    assert w.attrs["dropped"] == {}


def test_cache_round_trips_non_string_symbols(tmp_path) -> None:
    close = load_sample("stocks").loc["2013":"2014"].dropna(axis=1).iloc[:, :4]
    close.columns = [101, 102, 103, 104]
    first = rebalance(close, every="QE", lookback=63, method="hrp", cache_dir=tmp_path)
    again = rebalance(close, every="QE", lookback=63, method="hrp", cache_dir=tmp_path)
    pd.testing.assert_frame_equal(again, first)


def test_previous_and_date_are_refused_by_name() -> None:
    close = load_sample("stocks").loc["2013":"2014"].dropna(axis=1)
    with pytest.raises(ParameterError, match=r"\['previous'\].*passes each date"):
        rebalance(close, method="hrp", previous=pd.Series({"AAPL": 1.0}))
