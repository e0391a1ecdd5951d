"""Lazy package exports (PEP 562): a name loads its defining module on first access."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from typing import Any


def lazy_attribute(package: str, names: Mapping[str, str], name: str) -> Any:
    """Return ``name`` of ``package`` from the module ``names[name]`` (full dotted path).

    The value is then stored in the package, so the next access is a plain lookup.
    Raises AttributeError for a name the package does not export.
    """
    module = names.get(name)
    if module is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    setattr(sys.modules[package], name, value)
    return value


def lazy_dir(package: str, names: Mapping[str, str]) -> list[str]:
    """Return the package's names, the lazy exports included (its ``__dir__``)."""
    return sorted(set(vars(sys.modules[package])) | set(names))
