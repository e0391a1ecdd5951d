"""Import optional dependencies with an install hint that names the pip extra."""

from __future__ import annotations

import importlib
from types import ModuleType

from qresearch.exceptions import OptionalDependencyError

# The pip extra that provides each optional top-level module.
EXTRAS: dict[str, str] = {
    "riskfolio": "opt",
    "pypfopt": "opt",
    "quantstats": "report",
    "plotly": "report",
    "papermill": "research",
    "tqdm": "research",
    "sklearn": "research",
    "statsmodels": "stats",
    "vectorbt": "vbt",
    "ccxt": "live",
    "alpaca": "live",
    "dask": "dist",
    "distributed": "dist",
}


def import_optional(module: str, extra: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`OptionalDependencyError` naming the extra.

    Parameters
    ----------
    module : str
        Dotted module name, e.g. ``"quantstats"`` or ``"pypfopt.efficient_frontier"``.
    extra : str, optional
        The qresearch pip extra that installs it; looked up from the top-level
        module name when omitted.

    Returns
    -------
    types.ModuleType
        The imported module.

    Raises
    ------
    OptionalDependencyError
        When the module is not installed.

    Examples
    --------
    >>> import_optional("json").__name__
    'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        extra = extra or EXTRAS.get(top)
        hint = f'pip install "qresearch[{extra}]"' if extra else f"pip install {top}"
        raise OptionalDependencyError(
            f"This feature needs the optional dependency {module!r}, which is not "
            f"installed ({exc}). Install it with: {hint}"
        ) from exc
