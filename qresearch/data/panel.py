"""Panel helpers: alignment of several dates x symbols panels."""

from __future__ import annotations

from typing import Literal

import pandas as pd

from qresearch._validation import check_choice, check_panel, check_same_tz

__all__ = ["align", "fingerprint"]


def align(
    *panels: pd.DataFrame, join: Literal["inner", "outer"] = "inner"
) -> tuple[pd.DataFrame, ...]:
    """Align panels on a common index and common columns.

    Parameters
    ----------
    *panels : pandas.DataFrame
        Two or more dates x symbols panels.
    join : {"inner", "outer"}, default "inner"
        ``"inner"`` keeps the timestamps and symbols present in every panel;
        ``"outer"`` keeps those present in any panel and fills the rest with NaN
        (NaN means "no data", never zero).

    Returns
    -------
    tuple of pandas.DataFrame
        The panels, in the order given, sharing one index (sorted) and one column
        order (that of the first panel, then new symbols in order of appearance).
        Inputs are not modified.

    Raises
    ------
    PanelError
        When fewer than two panels are given, a panel is malformed, or tz-aware
        and tz-naive panels are mixed.

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"A": [1.0, 2.0, 3.0]},
    ...                  index=pd.date_range("2020-01-01", periods=3, name="timestamp"))
    >>> b = pd.DataFrame({"A": [5.0, 6.0], "B": [7.0, 8.0]},
    ...                  index=pd.date_range("2020-01-02", periods=2, name="timestamp"))
    >>> x, y = align(a, b)
    >>> x.shape, y.shape, list(y.columns)
    ((2, 1), (2, 1), ['A'])
    >>> x, y = align(a, b, join="outer")
    >>> list(y.columns), float(x.loc["2020-01-03", "B"]) != float(x.loc["2020-01-03", "B"])
    (['A', 'B'], True)
    """
    from qresearch.exceptions import PanelError

    check_choice("join", join, ["inner", "outer"], "align")
    if len(panels) < 2:
        raise PanelError(f"align needs at least two panels; got {len(panels)}.")
    names = [f"panels[{i}]" for i in range(len(panels))]
    for p, n in zip(panels, names, strict=True):
        check_panel(p, n, numeric=False, allow_empty=True)
    check_same_tz([p.index for p in panels], names)

    index = panels[0].index
    columns = list(panels[0].columns)
    for p in panels[1:]:
        if join == "inner":
            index = index.intersection(p.index)
            keep = set(p.columns)
            columns = [c for c in columns if c in keep]
        else:
            index = index.union(p.index)
            seen = set(columns)
            columns += [c for c in p.columns if c not in seen]
    index = index.sort_values()
    index.name = panels[0].index.name or "timestamp"
    out = []
    for p in panels:
        q = p.reindex(index=index, columns=columns)
        q.columns.name = p.columns.name
        out.append(q)
    return tuple(out)


def fingerprint(obj: pd.DataFrame | pd.Series) -> str:
    """Return a 16-hex-digit content hash of a panel (values, index and columns).

    Equal data give equal fingerprints across runs and machines; run manifests
    record it so a result can be traced to the exact data it used.

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"A": [1.0, 2.0]}, index=pd.date_range("2020-01-01", periods=2))
    >>> fingerprint(a) == fingerprint(a.copy()), fingerprint(a) == fingerprint(a * 2)
    (True, False)
    """
    import hashlib

    h = hashlib.sha256()
    h.update(pd.util.hash_pandas_object(obj, index=True).to_numpy().tobytes())
    cols = obj.columns if isinstance(obj, pd.DataFrame) else [obj.name]
    h.update(repr(list(cols)).encode())
    return h.hexdigest()[:16]
