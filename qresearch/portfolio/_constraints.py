"""Constraint parsing and enforcement for :func:`qresearch.portfolio.optimize` (private).

Bounds, group caps and the previous book are validated here; methods whose solver
cannot take a constraint natively get it enforced after the solve: bounds and group
caps by projection onto the feasible set (cvxpy), the turnover limit by blending
toward the previous book.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from qresearch._optional import import_optional
from qresearch._validation import check_number
from qresearch.exceptions import ParameterError

TOL = 1e-6
_NO_GROUP = object()


def parse_bounds(bounds: Any, symbols: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """Return (lower, upper) arrays over ``symbols`` from a pair or a mapping."""

    def pair(value: Any, where: str) -> tuple[float, float]:
        ok = isinstance(value, tuple | list) and len(value) == 2
        if ok:
            lo, hi = value
            ok = all(
                isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                for v in (lo, hi)
            )
        if not ok or not 0.0 <= lo <= hi <= 1.0:
            raise ParameterError(
                f"The 'bounds' parameter of optimize must be a pair (lower, upper) with "
                f"0 <= lower <= upper <= 1 (long-only), or a mapping symbol -> pair; got "
                f"{value!r}{where}."
            )
        return float(lo), float(hi)

    n = len(symbols)
    if isinstance(bounds, Mapping):
        lower, upper = np.zeros(n), np.ones(n)
        for i, s in enumerate(symbols):
            if s in bounds:
                lower[i], upper[i] = pair(bounds[s], f" for symbol {s!r}")
        return lower, upper
    lo, hi = pair(bounds, "")
    return np.full(n, lo), np.full(n, hi)


def parse_groups(groups: Any, group_caps: Any) -> dict[Any, float]:
    """Return ``{group: cap}`` from a mapping, or one cap for every group."""
    if group_caps is None:
        return {}
    if not isinstance(groups, Mapping) or not groups:
        raise ParameterError(
            "group_caps needs groups={symbol: group, ...} (the group of each symbol); "
            f"got groups={groups!r}."
        )
    labels = set(groups.values())
    if isinstance(group_caps, Mapping):
        caps = {g: check_number("group_caps", c, "optimize") for g, c in group_caps.items()}
    else:
        cap = check_number("group_caps", group_caps, "optimize")
        caps = dict.fromkeys(labels, cap)
    unknown = [g for g in caps if g not in labels]
    if unknown:
        raise ParameterError(
            f"group_caps names groups {unknown[:5]} that no symbol belongs to in groups; "
            f"known groups: {sorted(map(str, labels))[:10]}."
        )
    return caps


def parse_previous(previous: Any) -> pd.Series | None:
    """Return the previous weights as a float Series (None stays None)."""
    if previous is None:
        return None
    if not isinstance(previous, pd.Series) or not previous.index.is_unique:
        raise ParameterError(
            "The 'previous' parameter of optimize must be a pandas Series of weights "
            f"indexed by unique symbols; got {type(previous).__name__}."
        )
    values = pd.to_numeric(previous, errors="coerce").astype("float64")
    if not np.isfinite(values.to_numpy()).all():
        bad = list(values.index[~np.isfinite(values.to_numpy())])
        raise ParameterError(
            f"previous weights must be finite numbers; got NaN/inf for {bad[:5]}. "
            "Use 0.0 for symbols not held."
        )
    return values


def usable_window(x: pd.DataFrame, min_observations: int | None) -> tuple[pd.DataFrame, list[Any]]:
    """Drop symbols with too few returns or no variance, then incomplete rows."""
    need = max(2, math.ceil(len(x) / 2)) if min_observations is None else min_observations
    values = x.to_numpy(dtype=np.float64)
    finite = ~np.isnan(values)
    keep = finite.sum(axis=0) >= need
    # A symbol whose returns never change has no variance: nothing to allocate on.
    spread = np.nanmax(values, axis=0, initial=-np.inf) - np.nanmin(values, axis=0, initial=np.inf)
    keep &= spread > 0
    rows = finite[:, keep].all(axis=1)
    window = pd.DataFrame(values[np.ix_(rows, keep)], index=x.index[rows], columns=x.columns[keep])
    return window, list(x.columns[~keep])


def group_rows(
    symbols: pd.Index, groups: Mapping[Any, Any] | None, caps: Mapping[Any, float]
) -> list[tuple[np.ndarray, float]]:
    """Return one (member mask, cap) pair per capped group present among ``symbols``."""
    rows = []
    groups = groups or {}
    for g, cap in caps.items():
        mask = np.array([groups.get(s, _NO_GROUP) == g for s in symbols], dtype=bool)
        if mask.any():
            rows.append((mask, cap))
    return rows


def violations(
    w: np.ndarray, lower: np.ndarray, upper: np.ndarray, rows: list[tuple[np.ndarray, float]]
) -> str:
    """Describe the first violated bound or group cap; "" when all hold."""
    if np.any(w < lower - TOL) or np.any(w > upper + TOL):
        i = int(np.argmax(np.maximum(lower - w, w - upper)))
        return f"weight {w[i]:.6g} of asset #{i} outside [{lower[i]:g}, {upper[i]:g}]"
    for mask, cap in rows:
        if w[mask].sum() > cap + TOL:
            return f"a group holds {w[mask].sum():.6g} > its cap {cap:g}"
    return ""


def project(
    w: np.ndarray, lower: np.ndarray, upper: np.ndarray, rows: list[tuple[np.ndarray, float]]
) -> np.ndarray:
    """Return the nearest weights (least squares) with sum 1 within bounds and caps."""
    cp = import_optional("cvxpy", extra="opt")
    x = cp.Variable(len(w))
    cons = [cp.sum(x) == 1, x >= lower, x <= upper]
    cons += [cp.sum(x[np.flatnonzero(m)]) <= cap for m, cap in rows]
    prob = cp.Problem(cp.Minimize(cp.sum_squares(x - w)), cons)
    # CLARABEL (interior point) solves to ~1e-8; OSQP's ~1e-5 can miss the 1e-6 check.
    prob.solve(solver="CLARABEL")
    if prob.status not in ("optimal", "optimal_inaccurate") or x.value is None:
        raise RuntimeError(f"no weights satisfy bounds and group caps (status {prob.status})")
    out: np.ndarray = np.asarray(x.value, dtype=np.float64)
    return out


def blend(
    target: np.ndarray, prev_kept: np.ndarray, outside: float, limit: float
) -> tuple[np.ndarray, float]:
    """Move from the previous book toward ``target`` as far as L1 turnover <= ``limit``.

    Returns ``prev_kept + a (target - prev_kept)`` with the largest ``a`` in [0, 1]
    that keeps the turnover ``sum |w - prev_kept| + outside`` within ``limit``, and
    ``a``. ``prev_kept``: the previous weights of the window's symbols; ``outside``:
    the weight previously held in symbols outside the window (always sold). Raises
    ValueError when selling those alone trades more than ``limit``.
    """

    def turnover(a: float) -> float:
        return float(np.abs(a * (target - prev_kept)).sum() + outside)

    if turnover(1.0) <= limit:
        return target, 1.0
    if outside > limit + 1e-12:
        raise ValueError(
            f"selling the symbols outside the window already trades {outside:.6g} > "
            f"max_turnover {limit:g}"
        )
    # Turnover is linear in a: a = (limit - outside) / sum |target - prev_kept|.
    step = (limit - outside) / float(np.abs(target - prev_kept).sum())
    out: np.ndarray = prev_kept + step * (target - prev_kept)
    return out, step
