"""Type aliases shared across qresearch. Imports nothing heavy at run time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import pandas as pd

Float64Array: TypeAlias = npt.NDArray[np.float64]
Int64Array: TypeAlias = npt.NDArray[np.int64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]

Panel: TypeAlias = "pd.DataFrame"
"""A dates x symbols DataFrame with a sorted, unique DatetimeIndex named ``timestamp``."""

Join: TypeAlias = Literal["inner", "outer"]
Field: TypeAlias = Literal["open", "high", "low", "close", "volume", "adj_close"]
DateLike: TypeAlias = "str | pd.Timestamp | np.datetime64 | None"
