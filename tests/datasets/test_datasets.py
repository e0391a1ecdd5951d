from __future__ import annotations

import gzip
import io
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from qresearch.data.bars import Bars
from qresearch.datasets import describe_samples, load_sample
from qresearch.exceptions import DatasetNotFoundError


def test_stocks_panel_shape_and_raggedness(sample_stocks: pd.DataFrame) -> None:
    s = sample_stocks
    assert s.shape == (7126, 20)
    assert s.index.name == "timestamp" and s.columns.name == "symbol"
    assert s.index[0] == pd.Timestamp("1989-12-29") and s.index[-1] == pd.Timestamp("2018-04-11")
    assert s.index.is_monotonic_increasing and s.index.is_unique
    # Ragged: NaN before listing, never zero; no gaps after listing.
    assert s["FB"].first_valid_index() == pd.Timestamp("2012-05-18")
    assert s["BABA"].first_valid_index() == pd.Timestamp("2014-09-19")
    assert s["AAPL"].notna().all()
    assert (s.fillna(1.0) > 0).all().all()
    # Values straight from the source file (first data row): AAPL 0.117203, GE 0.352438.
    assert s.loc["1989-12-29", "AAPL"] == pytest.approx(0.117203)
    assert s.loc["1989-12-29", "GE"] == pytest.approx(0.352438)


def test_ohlcv_bars(sample_bars: Bars) -> None:
    b = sample_bars
    assert b.symbols == ["ORCL", "NVDA", "YHOO"]
    assert b.fields == ["open", "high", "low", "close", "volume", "adj_close"]
    # First ORCL row of orcl-1995-2014.csv.
    row = b["ORCL"].loc["1995-01-03"]
    assert row.tolist() == pytest.approx(
        [2.179012, 2.191358, 2.117284, 2.117284, 36301200.0, 1.883304]
    )
    assert b.close["NVDA"].first_valid_index() == pd.Timestamp("1999-01-22")
    assert b.close["YHOO"].first_valid_index() == pd.Timestamp("1996-04-12")
    assert b.index[-1] == pd.Timestamp("2014-12-31")
    counts = b.close.notna().sum()
    assert counts.to_dict() == {"ORCL": 5036, "NVDA": 4012, "YHOO": 4713}


def test_ohlcv_matches_an_independent_read_of_the_file(sample_bars: Bars) -> None:
    raw = resources.files("qresearch.datasets").joinpath("_data", "nvda-1999-2014.csv.gz")
    text = gzip.decompress(raw.read_bytes()).decode()
    lines = text.strip().splitlines()
    assert lines[0] == "Date,Open,High,Low,Close,Adj Close,Volume"
    last = lines[-1].split(",")
    got = sample_bars["NVDA"].loc[last[0]]
    assert got["close"] == float(last[4]) and got["volume"] == float(last[6])
    df = pd.read_csv(io.StringIO(text))
    np.testing.assert_allclose(sample_bars.close["NVDA"].dropna().to_numpy(), df["Close"])


def test_adjustment_factor_available(sample_bars: Bars) -> None:
    f = sample_bars.adjustment_factor
    assert f.loc["1995-01-03", "ORCL"] == pytest.approx(1.883304 / 2.117284)
    assert f.loc["2014-12-31", "YHOO"] == pytest.approx(1.0)  # YHOO paid no dividends


def test_symbol_subset_in_order() -> None:
    b = load_sample("ohlcv", symbols=["YHOO", "ORCL"])
    assert isinstance(b, Bars) and b.symbols == ["YHOO", "ORCL"]
    one = load_sample("ohlcv", symbols="ORCL")
    assert isinstance(one, Bars) and one.symbols == ["ORCL"]
    assert one.index[0] == pd.Timestamp("1995-01-03") and len(one) == 5036
    s = load_sample("stocks", symbols=["JPM", "AAPL"])
    assert list(s.columns) == ["JPM", "AAPL"]


def test_unknown_name_lists_valid_names() -> None:
    with pytest.raises(
        DatasetNotFoundError, match=r"Unknown sample dataset 'prices'.*\['ohlcv', 'stocks'\]"
    ):
        load_sample("prices")  # type: ignore[arg-type]


def test_unknown_symbol_lists_available() -> None:
    with pytest.raises(
        DatasetNotFoundError, match=r"no symbols \['MSFT'\].*'ORCL', 'NVDA', 'YHOO'"
    ):
        load_sample("ohlcv", symbols=["MSFT"])
    with pytest.raises(DatasetNotFoundError, match=r"no symbols \['ZZZ'\]"):
        load_sample("stocks", symbols=["ZZZ"])


def test_each_call_returns_a_fresh_object() -> None:
    a = load_sample("stocks")
    a.iloc[0, 0] = -1.0
    assert load_sample("stocks").iloc[0, 0] != -1.0


def test_describe_samples() -> None:
    assert set(describe_samples()) == {"stocks", "ohlcv"}
