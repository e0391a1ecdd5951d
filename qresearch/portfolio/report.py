"""``RebalanceResult``: rebalance weights with what happened on each date, as an object.

``rebalance`` records per date the optimizer's fallbacks, the symbols it dropped from
the window and the adjustments it made. In ``DataFrame.attrs`` those records are lost
by many pandas operations; ``rebalance(..., details=True)`` returns them on this
object instead, and the weight transforms of :mod:`qresearch.portfolio` carry the
attrs of their input forward.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["RebalanceResult", "keep_attrs"]

RECORDS = ("fallback", "dropped", "notes")


def keep_attrs(out: pd.DataFrame, source: pd.DataFrame) -> pd.DataFrame:
    """Return ``out`` with a copy of ``source.attrs`` (the records of ``rebalance``)."""
    if source.attrs:
        out.attrs = {k: (dict(v) if isinstance(v, dict) else v) for k, v in source.attrs.items()}
    return out


@dataclass(frozen=True)
class RebalanceResult:
    """Target weights of a walk-forward rebalance and the records of each date.

    Attributes
    ----------
    weights : DataFrame
        As ``rebalance`` returns them (NaN rows: hold).
    fallback : dict
        Rebalance date -> ``{"method", "reason"}`` where the optimizer failed and the
        fallback method's weights were used.
    dropped : dict
        Rebalance date -> symbols left out of the window (not enough data).
    notes : dict
        Rebalance date -> adjustments made to a solution (e.g. projected onto the
        constraints).
    """

    weights: pd.DataFrame
    fallback: dict[Any, Any] = field(default_factory=dict)
    dropped: dict[Any, Any] = field(default_factory=dict)
    notes: dict[Any, Any] = field(default_factory=dict)

    @classmethod
    def from_weights(cls, weights: pd.DataFrame) -> RebalanceResult:
        """Build the result from weights that carry ``rebalance``'s attrs."""
        records = {name: dict(weights.attrs.get(name) or {}) for name in RECORDS}
        return cls(weights=weights, **records)

    @property
    def dates(self) -> pd.DatetimeIndex:
        """The rebalance dates (rows with targets)."""
        return pd.DatetimeIndex(self.weights.dropna(how="all").index)

    def summary(self) -> pd.DataFrame:
        """Return one row per rebalance date: symbols held, gross, fallback, dropped, notes."""
        w = self.weights.loc[self.dates]
        return pd.DataFrame(
            {
                "holdings": (w.fillna(0.0) != 0).sum(axis=1),
                "gross": w.abs().sum(axis=1),
                "fallback": [self.fallback.get(t, {}).get("method", "") for t in w.index],
                "dropped": [len(self.dropped.get(t, ())) for t in w.index],
                "notes": ["; ".join(map(str, self.notes.get(t, ()))) for t in w.index],
            },
            index=w.index,
        )

    def __repr__(self) -> str:
        return (
            f"RebalanceResult({len(self.dates)} dates, {self.weights.shape[1]} symbols, "
            f"{len(self.fallback)} fallback(s), {len(self.dropped)} date(s) with dropped "
            "symbols)"
        )

    def _repr_html_(self) -> str:
        head = html.escape(repr(self))
        return f"<div><b>{head}</b>{self.summary().tail(12).to_html()}</div>"
