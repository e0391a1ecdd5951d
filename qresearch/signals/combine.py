"""Combine aligned score panels into one: weighted mean, weighted sum or sign vote."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from qresearch._validation import check_aligned, check_choice
from qresearch.exceptions import PanelError, ParameterError
from qresearch.signals._common import check_real, float_panel

__all__ = ["combine"]


def _named_panels(signals: Any, func: str) -> tuple[list[Hashable], list[pd.DataFrame]]:
    # The panels of a mapping or a list/tuple, with the names used in messages.
    if isinstance(signals, pd.DataFrame | pd.Series):
        raise PanelError(
            f"signals passed to {func} must be a list or dict of DataFrames; got one "
            f"{type(signals).__name__}. Wrap it: {func}([panel_a, panel_b])."
        )
    if isinstance(signals, Mapping):
        keys: list[Hashable] = list(signals)
        items = [signals[k] for k in keys]
        names = [f"signals[{k!r}]" for k in keys]
    elif isinstance(signals, Sequence) and not isinstance(signals, str | bytes):
        keys = list(range(len(signals)))
        items = list(signals)
        names = [f"signals[{i}]" for i in keys]
    else:
        raise PanelError(
            f"signals passed to {func} must be a list or dict of DataFrames (dates x "
            f"symbols); got {type(signals).__name__}."
        )
    if not items:
        raise ParameterError(f"signals passed to {func} is empty; pass at least one panel.")
    panels = [float_panel(p, n) for p, n in zip(items, names, strict=True)]
    for panel, name in zip(panels[1:], names[1:], strict=True):
        check_aligned(panels[0], panel, names[0], name)
    return keys, panels


def _weights(weights: Any, keys: list[Hashable], by_key: bool, func: str) -> np.ndarray:
    if weights is None:
        return np.ones(len(keys))
    if by_key:
        if not isinstance(weights, Mapping) or set(weights) != set(keys):
            got = sorted(map(repr, weights)) if isinstance(weights, Mapping) else weights
            raise ParameterError(
                f"The 'weights' parameter of {func} must be a dict with the keys of "
                f"signals {sorted(map(repr, keys))}; got {got!r}."
            )
        values = [weights[k] for k in keys]
    else:
        if isinstance(weights, Mapping) or not isinstance(weights, Sequence | np.ndarray):
            raise ParameterError(
                f"The 'weights' parameter of {func} must be a list of {len(keys)} numbers "
                f"(one per signal); got {weights!r}."
            )
        values = list(weights)
        if len(values) != len(keys):
            raise ParameterError(
                f"The 'weights' parameter of {func} must have one number per signal "
                f"({len(keys)}); got {len(values)}."
            )
    out = np.array([check_real("weights", v, func) for v in values])
    if not np.any(out != 0):
        raise ParameterError(f"The 'weights' parameter of {func} are all zero; got {values!r}.")
    return out


def combine(
    signals: Mapping[Hashable, pd.DataFrame] | Sequence[pd.DataFrame],
    weights: Mapping[Hashable, float] | Sequence[float] | None = None,
    *,
    method: Literal["mean", "sum", "vote"] = "mean",
    skipna: bool = True,
) -> pd.DataFrame:
    """Combine aligned score (or signal) panels cell by cell.

    With signal values ``s_i`` and weights ``w_i``:

    - ``"mean"``: ``sum(w_i * s_i) / sum(|w_i|)``, the weighted average;
    - ``"sum"``: ``sum(w_i * s_i)``;
    - ``"vote"``: ``sign(sum(w_i * sign(s_i)))``, a weighted majority of directions
      in {-1, 0, 1} (0 on a tie).

    Parameters
    ----------
    signals : list or dict of pandas.DataFrame
        Numeric or boolean panels with identical index and columns (booleans count
        as 1/0).
    weights : list or dict of float, optional
        One finite weight per signal (a dict keyed like ``signals`` when it is a
        dict); default 1 each. Negative weights flip a signal.
    method : {"mean", "sum", "vote"}, default "mean"
        How to combine.
    skipna : bool, default True
        Leave NaN signals out of a cell (the mean renormalizes over the rest); the
        cell is NaN only when every signal is NaN. False: any NaN makes the cell NaN.

    Returns
    -------
    pandas.DataFrame
        Float panel, same index and columns.

    Raises
    ------
    AlignmentError
        When the panels do not share index and columns.

    Notes
    -----
    Causal: cell ``(t, symbol)`` depends on the same cell of the inputs only.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2024-01-01", periods=2, name="timestamp")
    >>> a = pd.DataFrame({"X": [1.0, -1.0], "Y": [0.5, float("nan")]}, index=idx)
    >>> b = pd.DataFrame({"X": [3.0, -2.0], "Y": [-1.0, 2.0]}, index=idx)
    >>> combine([a, b], [1.0, 3.0]).to_numpy().tolist()
    [[2.5, -0.625], [-1.75, 2.0]]
    >>> combine({"mom": a, "rev": b}, method="vote").to_numpy().tolist()
    [[1.0, 0.0], [-1.0, 1.0]]
    """
    func = "combine"
    keys, panels = _named_panels(signals, func)
    check_choice("method", method, ["mean", "sum", "vote"], func)
    if not isinstance(skipna, bool):
        raise ParameterError(f"The 'skipna' parameter of {func} must be True or False.")
    w = _weights(weights, keys, isinstance(signals, Mapping), func)
    stack = np.stack([p.to_numpy() for p in panels])  # (signals, rows, columns)
    missing = np.isnan(stack)
    if method == "vote":
        stack = np.sign(stack)
    contrib = np.where(missing, 0.0, stack * w[:, None, None])
    total = contrib.sum(axis=0)
    if method == "mean":
        norm = np.where(missing, 0.0, np.abs(w)[:, None, None]).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            total = total / norm
    elif method == "vote":
        total = np.sign(total)
    bad = missing.all(axis=0) if skipna else missing.any(axis=0)
    total = np.where(bad, np.nan, total)
    return pd.DataFrame(total, index=panels[0].index, columns=panels[0].columns)
