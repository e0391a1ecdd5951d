"""Rebalance records live on a result object and survive the weight transforms."""

from __future__ import annotations

import pandas as pd
import pytest

import qresearch.api as qr
from qresearch.portfolio import RebalanceResult, cap_weights, normalize, rebalance_result
from qresearch.portfolio.risk import cap_leverage, limit_turnover, target_volatility


@pytest.fixture(scope="module")
def with_fallback() -> pd.DataFrame:
    close = qr.datasets.load_sample("stocks").loc["2012":"2014"].dropna(axis=1).iloc[:, :5]
    # Upper bounds summing to 0.05: max_sharpe is infeasible and falls back.
    return qr.portfolio.rebalance(
        close, every="QE", lookback=126, method="max_sharpe", bounds=(0.0, 0.01),
        fallback="inverse_vol",
    )  # fmt: skip


def test_transforms_keep_the_records(with_fallback) -> None:
    records = with_fallback.attrs["fallback"]
    assert len(records) >= 8 and all(r["method"] == "inverse_vol" for r in records.values())
    close = qr.datasets.load_sample("stocks").loc["2012":"2014"][with_fallback.columns]
    for out in (
        cap_weights(with_fallback, 0.5),
        normalize(with_fallback, gross=0.8),
        cap_leverage(with_fallback, max_gross=0.9),
        limit_turnover(with_fallback, 0.5),
        target_volatility(with_fallback, close, target_volatility=0.1, window=63),
    ):
        assert out.attrs["fallback"] == records
    # A plain pandas operation may drop attrs; the result object keeps them.
    res = RebalanceResult.from_weights(with_fallback)
    assert res.fallback == records and len(res.dates) == len(with_fallback.dropna(how="all"))
    summary = res.summary()
    assert (summary["fallback"] == "inverse_vol").sum() == len(records)
    assert "RebalanceResult(" in repr(res) and "<table" in res._repr_html_()


def test_rebalance_result_runs_rebalance() -> None:
    close = qr.datasets.load_sample("stocks").loc["2010":"2011"]
    res = rebalance_result(close, every="QE", lookback=63, method="equal")
    pd.testing.assert_frame_equal(
        res.weights, qr.portfolio.rebalance(close, every="QE", lookback=63, method="equal")
    )
    assert res.fallback == {} and (res.summary()["gross"].round(12) == 1.0).all()
