"""Bundled real sample data: daily US stock prices shipped inside the package.

``load_sample("stocks")``: adjusted close of 20 US stocks, 1989-12-29 .. 2018-04-11,
ragged (NaN before each listing). ``load_sample("ohlcv")``: unadjusted daily OHLCV of
ORCL (1995-2014), NVDA (1999-2014) and YHOO (1996-2014) as :class:`~qresearch.data.Bars`,
with ``adj_close`` so that ``bars.adjustment_factor`` is available. Source: Yahoo
Finance-derived public daily prices.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal, overload

from qresearch.exceptions import DatasetNotFoundError

if TYPE_CHECKING:
    import pandas as pd

    from qresearch.data.bars import Bars

__all__ = ["OHLCV_FILES", "SAMPLES", "describe_samples", "load_sample"]

OHLCV_FILES: dict[str, str] = {
    "ORCL": "orcl-1995-2014.csv.gz",
    "NVDA": "nvda-1999-2014.csv.gz",
    "YHOO": "yhoo-1996-2014.csv.gz",
}
STOCKS_FILE = "stock_prices.csv.gz"

SAMPLES: dict[str, str] = {
    "stocks": "panel: adjusted close of 20 US stocks, 1989-12-29 .. 2018-04-11 (ragged)",
    "ohlcv": "Bars: ORCL, NVDA, YHOO daily OHLCV + adj_close, 1995-01-03 .. 2014-12-31",
}


def describe_samples() -> dict[str, str]:
    """Return the names of the bundled samples with a one-line description each."""
    return dict(SAMPLES)


def sample_path(filename: str) -> Any:
    """Return a path-like resource for a bundled file (used by ingest examples)."""
    return resources.files("qresearch.datasets").joinpath("_data", filename)


def _read_yahoo(symbol: str) -> pd.DataFrame:
    import pandas as pd

    with resources.as_file(sample_path(OHLCV_FILES[symbol])) as path:
        df = pd.read_csv(path, parse_dates=["Date"], compression="gzip")
    df = df.rename(
        columns={
            "Date": "timestamp",
            "Open": "open",
            "High": "high",
            "Low": "low",
            "Close": "close",
            "Adj Close": "adj_close",
            "Volume": "volume",
        }
    )
    df["symbol"] = symbol
    df["volume"] = df["volume"].astype("float64")
    return df


@overload
def load_sample(
    name: Literal["stocks"], symbols: Iterable[str] | str | None = None
) -> pd.DataFrame: ...
@overload
def load_sample(name: Literal["ohlcv"], symbols: Iterable[str] | str | None = None) -> Bars: ...
def load_sample(
    name: Literal["stocks", "ohlcv"],
    symbols: Iterable[str] | str | None = None,
) -> pd.DataFrame | Bars:
    """Load a bundled real dataset (no network).

    Parameters
    ----------
    name : {"stocks", "ohlcv"}
        ``"stocks"`` returns a close panel (DataFrame, index ``timestamp``, columns
        ``symbol``); ``"ohlcv"`` returns :class:`~qresearch.data.Bars`.
    symbols : str or list of str, optional
        A subset of the symbols, in the order given.

    Returns
    -------
    pandas.DataFrame or Bars

    Raises
    ------
    DatasetNotFoundError
        For an unknown name or symbol; the message lists the valid ones.

    Examples
    --------
    >>> close = load_sample("stocks")
    >>> close.shape
    (7126, 20)
    >>> str(close["FB"].first_valid_index().date())
    '2012-05-18'
    >>> bars = load_sample("ohlcv", symbols=["ORCL"])
    >>> bars.symbols, len(bars)
    (['ORCL'], 5036)
    """
    if name not in SAMPLES:
        raise DatasetNotFoundError(
            f"Unknown sample dataset {name!r}. Valid names: {sorted(SAMPLES)} "
            f"({'; '.join(f'{k}: {v}' for k, v in SAMPLES.items())})."
        )
    if isinstance(symbols, str):
        symbols = [symbols]
    import pandas as pd

    if name == "stocks":
        with resources.as_file(sample_path(STOCKS_FILE)) as path:
            close = pd.read_csv(path, parse_dates=["date"], index_col="date", compression="gzip")
        close.index.name = "timestamp"
        close.columns.name = "symbol"
        close = close.astype("float64")
        if symbols is not None:
            close = close[_check_sample_symbols(list(symbols), list(close.columns), name)]
        return close

    from qresearch.data.bars import Bars

    wanted = (
        list(OHLCV_FILES)
        if symbols is None
        else _check_sample_symbols(list(symbols), list(OHLCV_FILES), name)
    )
    long = pd.concat([_read_yahoo(s) for s in wanted], ignore_index=True)
    bars = Bars.from_long(long)
    return bars.select(symbols=wanted)


def _check_sample_symbols(requested: list[str], available: list[str], name: str) -> list[str]:
    missing = [s for s in requested if s not in available]
    if missing:
        raise DatasetNotFoundError(
            f"Sample {name!r} has no symbols {missing}. Available: {available}."
        )
    return requested
