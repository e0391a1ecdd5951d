"""Deprecated parameter names, accepted for one release.

The public API uses one name per concept (README.md, "Vocabulary"). When a parameter
is renamed, :func:`renamed_parameters` keeps the old keyword working for one release:
it passes the value on under the new name and warns with
:class:`~qresearch.exceptions.QResearchDeprecationWarning`. Passing both names raises
:class:`~qresearch.exceptions.ParameterError`. The wrapper keeps the function's own
signature (``functools.wraps``), so IDEs, ``inspect.signature`` and mypy show only the
new names.

This module imports only the standard library and ``qresearch.exceptions``.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from typing import Any, TypeVar, cast

from qresearch.exceptions import ParameterError, QResearchDeprecationWarning

__all__ = [
    "DEPRECATED",
    "deprecation_message",
    "register",
    "renamed_parameters",
    "warn_renamed",
]

F = TypeVar("F", bound=Callable[..., Any])

# "module.qualname" of every function with deprecated parameter names -> {old: new}.
DEPRECATED: dict[str, dict[str, str]] = {}

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def deprecation_message(func: str, old: str, new: str) -> str:
    """Return the warning text for the deprecated parameter ``old`` of ``func``."""
    return (
        f"The {old!r} parameter of {func} is deprecated and will be removed in the next "
        f"release; use {new!r} instead: {func}(..., {new}=...)."
    )


def warn_renamed(func: str, old: str, new: str, *, stacklevel: int = 2) -> None:
    """Warn that ``func`` got the deprecated keyword ``old`` (now ``new``).

    ``stacklevel`` counts as for :func:`warnings.warn` called where this is called.
    """
    warnings.warn(
        deprecation_message(func, old, new), QResearchDeprecationWarning, stacklevel=stacklevel + 1
    )


def register(func: Callable[..., Any], renames: dict[str, str]) -> None:
    """Record the deprecated names of ``func`` in :data:`DEPRECATED`."""
    key = f"{func.__module__}.{func.__qualname__}"
    DEPRECATED.setdefault(key, {}).update(renames)


def renamed_parameters(**renames: str) -> Callable[[F], F]:
    """Accept the old keyword names ``old=new`` of the decorated function for one release.

    A call with ``old=value`` runs as ``new=value`` and warns with
    :class:`~qresearch.exceptions.QResearchDeprecationWarning` (naming the function, both
    names and the removal in the next release); a call with both names (``new`` passed
    by keyword or by position) raises :class:`~qresearch.exceptions.ParameterError`.
    ``new`` must be a parameter of the function, or the function must take ``**kwargs``
    (options it passes on, e.g. ``rebalance`` to ``optimize``).

    Examples
    --------
    >>> import warnings
    >>> @renamed_parameters(lookback="window")
    ... def mean_of_last(values, window=2):
    ...     return sum(values[-window:]) / window
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     mean_of_last([1, 2, 3, 4], lookback=4)
    2.5
    >>> print(caught[0].message)  # doctest: +ELLIPSIS
    The 'lookback' parameter of mean_of_last is deprecated and will be removed in ...
    """

    def decorate(func: F) -> F:
        params = inspect.signature(func).parameters
        takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        for old, new in renames.items():
            # Programming errors in the declaration, caught at import time.
            if old in params:
                raise TypeError(f"{func.__qualname__} still has the deprecated parameter {old!r}")
            if new not in params and not takes_kwargs:
                raise TypeError(f"{func.__qualname__} has no parameter {new!r} to rename to")
        positions = {name: i for i, (name, p) in enumerate(params.items()) if p.kind in _POSITIONAL}
        name = func.__qualname__
        register(func, renames)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if kwargs and not renames.keys().isdisjoint(kwargs):
                for old, new in renames.items():
                    if old not in kwargs:
                        continue
                    if new in kwargs or positions.get(new, len(args)) < len(args):
                        raise ParameterError(
                            f"{name} got both {old!r} (deprecated) and {new!r}, the new name "
                            f"of the same parameter; pass only {new}=... ."
                        )
                    warn_renamed(name, old, new, stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return cast(F, wrapper)

    return decorate
