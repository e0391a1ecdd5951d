"""Native hierarchical risk parity (HRP) and HERC in numpy/scipy (private).

The rules of riskfolio-lib's ``HCPortfolio.optimization(model="HRP"|"HERC",
rm="MV", method_cov="custom_cov")``, written again on arrays, so that
``optimize(method="hrp")`` and ``"herc"`` give riskfolio's weights (equal to 1e-12,
tested against it) without its per-cluster DataFrame work:

1. Codependence of the returns (``codependence``) and the distance
   ``sqrt(clip((1 - c) / 2, 0, 1))`` (``sqrt(clip(1 - |c|, 0, 1))`` for the
   ``abs_*`` codependences).
2. ``scipy.cluster.hierarchy.linkage(method=linkage, optimal_ordering=leaf_order)``
   on the condensed distances; the leaves of the tree give the asset order.
3. HRP: recursive bisection of that order (left half ``len // 2``); each half's
   variance is ``w' C w`` under inverse-variance weights inside the half, and the
   left half gets ``1 - v_left / (v_left + v_right)`` of the parent's weight.
   HERC: ``k`` clusters by the two-difference gap statistic (cuts of up to
   ``min(max_k, sqrt(n)) + 2`` clusters tried), weight split at the ``k - 1``
   highest merges by the summed variance of the clusters on each side,
   inverse-variance weights inside each cluster.
4. Bounds: riskfolio's post-fit (clip to ``[lower, upper]``, give what was cut off
   or added to the weights strictly inside their bounds, pro rata; at most 100
   rounds).

Codependences done here: :data:`NATIVE_CODEPENDENCES`. The others (``gerber1``,
``gerber2``, ``distance``, ``mutual_info``, ``tail``) are not: the caller sends
them to riskfolio (``optimize`` does, see its docstring). Ties in the distances
(two identical columns) are broken by the input order in scipy's linkage and leaf
ordering, so the distances must be those riskfolio sees bit for bit wherever they
tie: Spearman correlations are computed exactly (integer rank sums), Kendall ones
by pandas as riskfolio does, and Pearson ones with BLAS unless two columns are
(almost) perfectly correlated, in which case pandas' ``DataFrame.corr`` (riskfolio's
own call) is used instead.

scipy is imported inside the functions: importing :mod:`qresearch.portfolio` stays
light.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["NATIVE_CODEPENDENCES", "hierarchical"]

NATIVE_CODEPENDENCES: frozenset[str] = frozenset(
    {"pearson", "spearman", "kendall", "abs_pearson", "abs_spearman", "abs_kendall"}
)
# Off-diagonal |correlation| at or above 1 - this: the BLAS Pearson path hands over
# to pandas, whose rounding decides the ties between (near-)duplicate columns.
_COLLINEAR = 1e-9
_MAX_FIT_ROUNDS = 100
# Below this many rows, sums of products of centred ranks are exact in float64.
_EXACT_RANK_ROWS = 2**17


# --- codependence and distance -------------------------------------------------------


def _pearson(returns: pd.DataFrame, sample_cov: np.ndarray | None) -> np.ndarray:
    if sample_cov is None:
        x = returns.to_numpy(dtype=np.float64)
        xc = x - x.mean(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = xc / np.sqrt(np.einsum("ij,ij->j", xc, xc))
        corr: np.ndarray = z.T @ z
    else:  # the caller's sample covariance of these returns: no second product
        with np.errstate(invalid="ignore", divide="ignore"):
            inv_sd = 1.0 / np.sqrt(np.diag(sample_cov))
        corr = sample_cov * inv_sd[:, None] * inv_sd[None, :]
    np.fill_diagonal(corr, 0.0)
    near = max(float(corr.max(initial=0.0)), -float(corr.min(initial=0.0)))
    np.fill_diagonal(corr, 1.0)
    if not near < 1.0 - _COLLINEAR:  # also NaN
        # (Near-)duplicate columns: their distances tie, and which way a tie goes
        # depends on the last bits; take them from pandas, as riskfolio does.
        exact: np.ndarray = returns.corr(method="pearson").to_numpy(dtype=np.float64)
        return exact
    return corr


def _spearman(x: np.ndarray) -> np.ndarray:
    # pandas' nancorr_spearman without NaN: centred average ranks (multiples of 1/2),
    # so every product and sum is exact and BLAS gives pandas' numbers bit for bit.
    from scipy.stats import rankdata

    t = x.shape[0]
    r = rankdata(x, method="average", axis=0) - (t + 1) / 2.0
    s = r.T @ r
    d = np.diag(s).copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        corr: np.ndarray = s / np.sqrt(np.outer(d, d))
    corr[~np.isfinite(corr)] = np.nan
    return corr


def codependence_matrix(
    returns: pd.DataFrame, codependence: str, sample_cov: np.ndarray | None = None
) -> np.ndarray:
    """Return riskfolio's codependence matrix of a complete window (native kinds only).

    ``sample_cov``: the sample covariance of ``returns``, if the caller has it
    (Pearson correlations are then read off it).
    """
    base = codependence.removeprefix("abs_")
    if base == "pearson":
        c = _pearson(returns, sample_cov)
    elif base == "spearman" and returns.shape[0] < _EXACT_RANK_ROWS:
        c = _spearman(returns.to_numpy(dtype=np.float64))
    elif base in ("spearman", "kendall"):
        c = returns.corr(method=base).to_numpy(dtype=np.float64)
    else:
        raise ValueError(f"codependence {codependence!r} has no native implementation")
    return np.abs(c) if codependence.startswith("abs_") else c


def condensed_distance(codep: np.ndarray, codependence: str) -> np.ndarray:
    """Riskfolio's distance of a codependence matrix, condensed (upper triangle, rows)."""
    from scipy.spatial.distance import squareform

    upper = squareform(codep, checks=False)
    if codependence.startswith("abs_"):
        out: np.ndarray = np.sqrt(np.clip(1.0 - upper, 0.0, 1.0))
    else:
        out = np.sqrt(np.clip((1.0 - upper) / 2.0, 0.0, 1.0))
    return out


# --- allocation ----------------------------------------------------------------------


def _inverse_variance(var: np.ndarray) -> np.ndarray:
    # riskfolio's naive risk: 1 / (sqrt(var))**2 per asset.
    out: np.ndarray = 1.0 / np.power(np.sqrt(var), 2)
    return out


def _cluster_variance(cov: np.ndarray, inv: np.ndarray) -> float:
    # Variance of one cluster under its inverse-variance weights (riskfolio squares
    # the volatility sqrt(w' C w); kept for the last bits).
    if inv.shape[0] == 1:
        v = float(cov[0, 0])
    else:
        w = inv * (1.0 / inv.sum())
        v = float(w @ cov @ w)
    return float(np.power(np.sqrt(v), 2))


def _segment_variances(
    cov: np.ndarray, inv: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> np.ndarray:
    # _cluster_variance of the contiguous clusters [starts[i], ends[i]) of the
    # seriated covariance, all at once (lengths within one of each other, padded).
    lengths = ends - starts
    offsets = np.arange(int(lengths.max()))
    valid = offsets[None, :] < lengths[:, None]
    idx = np.where(valid, starts[:, None] + offsets[None, :], (ends - 1)[:, None])
    iv = np.where(valid, inv[idx], 0.0)
    nw = iv * (1.0 / iv.sum(axis=1))[:, None]
    sub = cov[idx[:, :, None], idx[:, None, :]]
    v = np.einsum("ki,ki->k", nw, np.matmul(sub, nw[:, :, None])[:, :, 0])
    v = np.where(lengths == 1, cov[starts, starts], v)
    out: np.ndarray = np.power(np.sqrt(v), 2)
    return out


def _bisection(cov_sorted: np.ndarray, inv_sorted: np.ndarray) -> np.ndarray:
    # HRP recursive bisection over the seriated order, level by level as riskfolio:
    # every cluster longer than 1 splits at len // 2; the left half's weight is
    # multiplied by 1 - v_left / (v_left + v_right), the right half's by the rest.
    n = inv_sorted.shape[0]
    w = np.ones(n)
    starts, ends = np.array([0]), np.array([n])
    while True:
        keep = ends - starts > 1
        starts, ends = starts[keep], ends[keep]
        if not len(starts):
            return w
        mids = starts + (ends - starts) // 2
        child_starts = np.column_stack([starts, mids]).ravel()
        child_ends = np.column_stack([mids, ends]).ravel()
        var = _segment_variances(cov_sorted, inv_sorted, child_starts, child_ends)
        alpha = 1.0 - var[0::2] / (var[0::2] + var[1::2])
        factor = np.ones(n)
        lengths = child_ends - child_starts
        pos = np.arange(int(lengths.sum())) + np.repeat(
            child_starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths
        )
        factor[pos] = np.repeat(np.column_stack([alpha, 1.0 - alpha]).ravel(), lengths)
        w *= factor
        starts, ends = child_starts, child_ends


def _two_diff_k(dist: np.ndarray, z: np.ndarray, cuts: np.ndarray, max_k: int) -> int:
    # riskfolio's two_diff_gap_stat: the number of clusters whose two-difference gap
    # of within-cluster distance dispersion is largest (k <= min(max_k, sqrt(n)) + 2).
    # ``cuts`` is scipy's cut_tree(z): column i, the clusters after i merges.
    import scipy.cluster.hierarchy as hr
    from scipy.spatial.distance import squareform

    monotonic = bool(hr.is_monotonic(z))
    n = dist.shape[0]
    bound = min(max_k, np.sqrt(n)) + 2
    kept: list[np.ndarray] = []  # distinct cuts from 1 cluster up, first of repeats
    cluster_k: list[int] = []
    seen: set[bytes] = set()
    w_list: list[float] = []
    for j in range(n - 1, -1, -1):
        col = cuts[:, j]
        if not monotonic:
            col = np.unique(col, return_inverse=True)[1].reshape(-1)
        key = np.ascontiguousarray(col).tobytes()
        if key in seen:
            continue
        seen.add(key)
        kept.append(col)
        k = len(np.unique(col))
        cluster_k.append(k)
        if k == 1:
            w_list.append(-np.inf)
        elif k > bound:
            break
        else:
            level = kept[cluster_k.index(k)]
            d_list = []
            for i in range(int(level.max()) + 1):
                members = np.flatnonzero(level == i)
                pdist = squareform(dist[np.ix_(members, members)], checks=False)
                if pdist.shape[0] != 0:
                    d_list.append(np.nan_to_num(pdist.std()))
            w_list.append(float(np.sum(d_list)))
    series = pd.Series(w_list, dtype="float64")
    gaps = series.shift(-2) + series - 2 * series.shift(-1)
    k_index = int(gaps.idxmax())
    k = cluster_k[k_index]
    if not monotonic:
        j = len(np.unique(hr.fcluster(z, k, criterion="maxclust")))
        while k != j:
            j += 1
            k = len(np.unique(hr.fcluster(z, j, criterion="maxclust")))
    return k


def _leaf_spans(z: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    # Leaves of every node (id < 2n - 1) as a span [start, start + size) of the
    # leaves_list order, the order of ClusterNode.pre_order().
    size = np.ones(2 * n - 1, dtype=np.int64)
    size[n:] = z[:, 3].astype(np.int64)
    start = np.zeros(2 * n - 1, dtype=np.int64)
    children = z[:, :2].astype(np.int64)
    for node in range(2 * n - 2, n - 1, -1):  # parents before their children
        left, right = children[node - n]
        start[left] = start[node]
        start[right] = start[node] + size[left]
    return start, size


def _herc(z: np.ndarray, dist: np.ndarray, cov: np.ndarray, inv: np.ndarray, max_k: int) -> Any:
    # riskfolio's _hierarchical_recursive_bisection with rm="MV", model="HERC": the
    # k - 1 highest nodes split their weight by the summed variance of the clusters
    # (fcluster maxclust k) on each side; inverse variance inside the k clusters
    # (cut_tree).
    import scipy.cluster.hierarchy as hr

    n = cov.shape[0]
    cuts = hr.cut_tree(z)
    k = _two_diff_k(dist, z, cuts, max_k)
    heights = np.concatenate([np.zeros(n), z[:, 2]])  # leaves first, as to_tree
    top = np.argsort(heights)[::-1][: k - 1]
    labels = hr.fcluster(z, k, criterion="maxclust")
    clusters = [np.flatnonzero(labels == j) for j in range(labels.min(), labels.max() + 1)]
    risk = [_cluster_variance(cov[np.ix_(c, c)], inv[c]) if len(c) else 0.0 for c in clusters]
    order = hr.leaves_list(z)
    start, size = _leaf_spans(z, n)
    children = z[:, :2].astype(np.int64)
    w = np.ones(n)
    for node in top:
        if node < n:  # a leaf
            continue
        a, b = children[node - n]
        left = order[start[a] : start[a] + size[a]]
        right = order[start[b] : start[b] + size[b]]
        left_set, right_set = set(left.tolist()), set(right.tolist())
        left_risk: Any = 0
        right_risk: Any = 0
        for c, r in zip(clusters, risk, strict=True):
            in_cluster = set(c.tolist())
            if in_cluster <= left_set:
                left_risk += r
            elif in_cluster <= right_set:
                right_risk += r
        if isinstance(left_risk, int) and isinstance(right_risk, int):
            # No cluster of the cut lies on either side (a non-monotonic tree):
            # riskfolio divides 0 by 0 here.
            raise ZeroDivisionError("division by zero")
        with np.errstate(invalid="ignore", divide="ignore"):
            alpha = 1 - np.float64(left_risk) / (left_risk + right_risk)
        w[left] *= alpha
        w[right] *= 1 - alpha
    cut = cuts[:, n - k]  # cut_tree(z, n_clusters=k)
    for i in range(k):
        members = np.flatnonzero(cut == i)
        if len(members):
            inv_c = inv[members]
            w[members] *= inv_c * (1.0 / inv_c.sum())
    return w


def _fit_bounds(w: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    # riskfolio's Step-4: clip, then spread what was cut off over the free weights.
    rounds = 0
    while (np.any(upper < w) or np.any(lower > w)) and rounds < _MAX_FIT_ROUNDS:
        original = w
        w = np.maximum(np.minimum(w, upper), lower)
        free = (w < upper) & (w > lower)
        delta = np.maximum(original - upper, 0).sum() + np.minimum(original - lower, 0).sum()
        if delta != 0:
            w = w.copy()
            w[free] += delta * w[free] / w[free].sum()
        rounds += 1
    return w


def hierarchical(
    returns: pd.DataFrame,
    cov: Any,
    *,
    model: str,
    lower: np.ndarray,
    upper: np.ndarray,
    linkage: str,
    codependence: str,
    max_k: int,
    leaf_order: bool,
    cov_is_sample: bool = False,
) -> pd.Series:
    """Return HRP (``model="HRP"``) or HERC (``"HERC"``) weights of a complete window.

    Parameters
    ----------
    returns : DataFrame
        NaN-free dates x symbols returns (at least 2 columns): the codependence.
    cov : DataFrame or ndarray
        Covariance of the symbols in the same order: the allocation.
    model : {"HRP", "HERC"}
    lower, upper : ndarray
        Weight bounds per symbol, fitted after the allocation as riskfolio does.
    linkage, codependence, max_k, leaf_order
        As ``HCPortfolio.optimization``; ``codependence`` one of
        :data:`NATIVE_CODEPENDENCES`.
    cov_is_sample : bool, default False
        ``cov`` is the sample covariance of ``returns`` (ddof 1): Pearson
        correlations are derived from it instead of from the returns again.

    Returns
    -------
    Series
        Weights over ``returns.columns`` (sum 1 unless the bounds cannot be fitted).
    """
    import scipy.cluster.hierarchy as hr
    from scipy.spatial.distance import squareform

    if codependence not in NATIVE_CODEPENDENCES:
        raise ValueError(f"codependence {codependence!r} has no native implementation")
    if model not in ("HRP", "HERC"):
        raise ValueError(f"model {model!r} has no native implementation")
    c = np.asarray(cov, dtype=np.float64)
    upper = np.minimum(1.0, np.asarray(upper, dtype=np.float64))
    lower = np.maximum(0.0, np.asarray(lower, dtype=np.float64))
    if upper.sum() < 1.0:
        raise ValueError("Sum of upper bounds must be higher equal than 1")
    if not np.all(upper >= lower):
        raise ValueError("All upper bounds must be higher than lower bounds")
    codep = codependence_matrix(returns, codependence, c if cov_is_sample else None)
    pdist = condensed_distance(codep, codependence)
    z = hr.linkage(pdist, method=linkage, optimal_ordering=leaf_order)
    inv = _inverse_variance(np.diag(c))
    if model == "HRP":
        order = hr.leaves_list(z)
        w_sorted = _bisection(c[np.ix_(order, order)], inv[order])
        w = np.empty_like(w_sorted)
        w[order] = w_sorted
    else:
        w = _herc(z, squareform(pdist), c, inv, max_k)
    w = _fit_bounds(w, lower, upper)
    return pd.Series(w, index=returns.columns, dtype="float64")
