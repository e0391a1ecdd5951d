"""Cross-sectional transforms: each row (one timestamp) is treated on its own.

NaN stays NaN and is excluded from the row statistics, so a symbol that is not
listed yet neither gets a value nor moves the others. Row-wise transforms cannot
look ahead in time.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np
import pandas as pd

from qresearch._validation import _preview, check_number
from qresearch.exceptions import ParameterError
from qresearch.features._common import float_panel
from qresearch.features._nb import kernel

__all__ = [
    "cross_sectional_demean",
    "cross_sectional_rank",
    "cross_sectional_zscore",
    "neutralize",
    "winsorize",
]


# Cells per chunk of cross_sectional_rank (~2 MB of float64 values).
_RANK_CHUNK_CELLS = 1 << 18


def cross_sectional_rank(x: pd.DataFrame, pct: bool = True) -> pd.DataFrame:
    """Rank the symbols of each row (ties share their average rank).

    Parameters
    ----------
    x : pandas.DataFrame
        Numeric panel (dates x symbols).
    pct : bool, default True
        Return ``rank / count`` in (0, 1] instead of ranks 1..count.

    Returns
    -------
    pandas.DataFrame
        Same index and columns; NaN where ``x`` is NaN.

    Notes
    -----
    The same values as ``x.rank(axis=1, pct=pct, method="average",
    na_option="keep")`` (infinite values are ranked, ``-0.0`` ties with ``0.0``),
    computed from one ``numpy.argsort`` of the panel's rows and a numba pass that
    gives each run of equal values the mean of its positions
    (:func:`qresearch.features._nb.rank_rows_py`).

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2020-01-01", periods=1, name="timestamp")
    >>> x = pd.DataFrame({"A": [3.0], "B": [1.0], "C": [float("nan")], "D": [2.0]}, index=idx)
    >>> cross_sectional_rank(x).iloc[0].tolist()
    [1.0, 0.3333333333333333, nan, 0.6666666666666666]
    >>> cross_sectional_rank(x, pct=False).iloc[0].tolist()
    [3.0, 1.0, nan, 2.0]
    """
    values = float_panel(x, "x")
    if not isinstance(pct, bool):
        raise ParameterError(
            f"The 'pct' parameter of cross_sectional_rank must be True or False; got {pct!r}."
        )
    # A chunk of rows at a time, made contiguous for the sort and the ranking pass:
    # the chunk's copy and sort order stay small and reuse freed memory (a whole-panel
    # order array costs 8 bytes per cell of fresh pages).
    panel = values.to_numpy(dtype=np.float64)
    out = np.empty(panel.shape, dtype=np.float64)
    rank_rows = kernel("rank_rows")
    step = max(1, _RANK_CHUNK_CELLS // max(1, panel.shape[1]))
    for start in range(0, panel.shape[0], step):
        rows = np.ascontiguousarray(panel[start : start + step])
        rank_rows(rows, np.argsort(rows, axis=1), pct, out[start : start + step])
    return pd.DataFrame(out, index=values.index, columns=values.columns, copy=False)


def cross_sectional_demean(x: pd.DataFrame) -> pd.DataFrame:
    """Subtract each row's mean (over its non-NaN values).

    Parameters
    ----------
    x : pandas.DataFrame
        Numeric panel (dates x symbols).

    Returns
    -------
    pandas.DataFrame
        Same index and columns; NaN where ``x`` is NaN.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2020-01-01", periods=1, name="timestamp")
    >>> x = pd.DataFrame({"A": [3.0], "B": [1.0], "C": [float("nan")]}, index=idx)
    >>> cross_sectional_demean(x).iloc[0].tolist()
    [1.0, -1.0, nan]
    """
    values = float_panel(x, "x")
    return values.sub(values.mean(axis=1), axis=0)


def cross_sectional_zscore(x: pd.DataFrame) -> pd.DataFrame:
    """Standardize each row by its mean and sample standard deviation (``ddof=1``).

    Parameters
    ----------
    x : pandas.DataFrame
        Numeric panel (dates x symbols).

    Returns
    -------
    pandas.DataFrame
        Same index and columns; NaN where ``x`` is NaN and on rows with fewer than
        two values or zero dispersion.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2020-01-01", periods=1, name="timestamp")
    >>> x = pd.DataFrame({"A": [3.0], "B": [1.0], "C": [float("nan")], "D": [2.0]}, index=idx)
    >>> cross_sectional_zscore(x).iloc[0].tolist()
    [1.0, -1.0, nan, 0.0]
    """
    values = float_panel(x, "x")
    std = values.std(axis=1, ddof=1)
    return values.sub(values.mean(axis=1), axis=0).div(std.where(std > 0.0), axis=0)


def winsorize(x: pd.DataFrame, lower: float = 0.01, upper: float = 0.99) -> pd.DataFrame:
    """Clip each row to its ``lower`` and ``upper`` quantiles.

    Parameters
    ----------
    x : pandas.DataFrame
        Numeric panel (dates x symbols).
    lower, upper : float, default 0.01, 0.99
        Quantile levels, ``0 <= lower < upper <= 1``, computed per row over the
        non-NaN values with linear interpolation (``DataFrame.quantile``).

    Returns
    -------
    pandas.DataFrame
        Same index and columns; NaN where ``x`` is NaN.

    Raises
    ------
    ParameterError
        When the quantile levels are out of order or outside [0, 1].

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2020-01-01", periods=1, name="timestamp")
    >>> x = pd.DataFrame([[1.0, 2.0, 3.0, 4.0, 100.0]], index=idx, columns=list("ABCDE"))
    >>> winsorize(x, lower=0.25, upper=0.75).iloc[0].tolist()
    [2.0, 2.0, 3.0, 4.0, 4.0]
    """
    values = float_panel(x, "x")
    lo = check_number("lower", lower, "winsorize", strict=False)
    hi = check_number("upper", upper, "winsorize", strict=False)
    if not lo < hi <= 1.0:
        raise ParameterError(
            f"The 'lower' and 'upper' parameters of winsorize must satisfy "
            f"0 <= lower < upper <= 1; got lower={lower!r}, upper={upper!r}. "
            "Use e.g. lower=0.01, upper=0.99."
        )
    q_lo = values.quantile(lo, axis=1)
    q_hi = values.quantile(hi, axis=1)
    return values.clip(lower=q_lo, upper=q_hi, axis=0)


def neutralize(x: pd.DataFrame, groups: Mapping[Hashable, Hashable]) -> pd.DataFrame:
    """Demean each row within groups of symbols (e.g. sectors).

    Parameters
    ----------
    x : pandas.DataFrame
        Numeric panel (dates x symbols).
    groups : Mapping
        Symbol -> group label; every column of ``x`` must have one.

    Returns
    -------
    pandas.DataFrame
        ``x`` minus the mean of its group on the same row (non-NaN values only);
        same index and columns; NaN where ``x`` is NaN.

    Raises
    ------
    ParameterError
        When ``groups`` is not a mapping or a symbol has no group.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2020-01-01", periods=1, name="timestamp")
    >>> x = pd.DataFrame([[1.0, 3.0, 10.0, float("nan")]], index=idx, columns=list("ABCD"))
    >>> neutralize(x, {"A": "tech", "B": "tech", "C": "energy", "D": "energy"}).iloc[0].tolist()
    [-1.0, 1.0, 0.0, nan]
    """
    values = float_panel(x, "x")
    if not isinstance(groups, Mapping):
        raise ParameterError(
            f"The 'groups' parameter of neutralize must be a mapping symbol -> group; "
            f"got {type(groups).__name__}. Use e.g. dict(zip(symbols, sectors))."
        )
    missing = [c for c in values.columns if c not in groups]
    if missing:
        raise ParameterError(
            f"groups passed to neutralize has no group for {len(missing)} symbols "
            f"{_preview(missing)}. Add them, e.g. groups[symbol] = 'other'."
        )
    labels = pd.Series([groups[c] for c in values.columns], index=values.columns)
    group_mean = values.T.groupby(labels, sort=False).transform("mean").T
    return values - group_mean
