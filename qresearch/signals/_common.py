"""Boundary helpers shared by the signal modules (private).

They validate once at the public boundary and return float64 copies, so no signal
function ever mutates its input.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from qresearch._validation import check_aligned
from qresearch._validation import check_int as check_int
from qresearch._validation import check_real as check_real
from qresearch._validation import float_panel as float_panel
from qresearch.exceptions import AlignmentError, PanelError


def float_series_or_panel(obj: Any, name: str, func: str) -> pd.Series | pd.DataFrame:
    # A panel, or a Series with any index (e.g. long labels indexed by (timestamp,
    # symbol)); returns a float64 copy of the same kind.
    if isinstance(obj, pd.DataFrame):
        return float_panel(obj, name)
    if not isinstance(obj, pd.Series):
        raise PanelError(
            f"{name} passed to {func} must be a pandas Series (e.g. indexed by "
            f"(timestamp, symbol)) or a DataFrame (dates x symbols); got {type(obj).__name__}."
        )
    if not (pd.api.types.is_numeric_dtype(obj.dtype) or pd.api.types.is_bool_dtype(obj.dtype)):
        raise PanelError(
            f"{name} passed to {func} must be numeric; got dtype {obj.dtype}. "
            "Convert it with pd.to_numeric."
        )
    return obj.astype("float64")


def check_like(
    a: pd.Series | pd.DataFrame, b: Any, name_a: str, name_b: str, func: str
) -> pd.Series | pd.DataFrame:
    # ``b`` must be of the same kind as ``a`` and aligned with it; returns a float64 copy.
    if isinstance(a, pd.DataFrame):
        out = float_panel(b, name_b)
        check_aligned(a, out, name_a, name_b)
        return out
    out = float_series_or_panel(b, name_b, func)
    if not isinstance(out, pd.Series):
        raise PanelError(
            f"{name_b} passed to {func} must be a Series like {name_a}; got a DataFrame."
        )
    if not out.index.equals(a.index):
        raise AlignmentError(
            f"{name_a} and {name_b} passed to {func} are not aligned: their indexes differ "
            f"(lengths {len(a)} and {len(out)}). Reindex it first, e.g. "
            f"{name_b} = {name_b}.reindex({name_a}.index)."
        )
    return out


def wrap_like(values: np.ndarray, like: pd.Series | pd.DataFrame) -> pd.Series | pd.DataFrame:
    # Re-wrap an array with the index (and columns / name) of ``like``.
    if isinstance(like, pd.DataFrame):
        return pd.DataFrame(values, index=like.index, columns=like.columns)
    return pd.Series(values, index=like.index, name=like.name)
