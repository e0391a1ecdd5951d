"""Data layer: Bars, the Parquet/DuckDB lake, ingest, validation, adjustment, calendars.

Also panel alignment (``align``) and content fingerprints (``fingerprint``).

Names are imported lazily so that ``import qresearch.data`` stays light; DuckDB,
pyarrow and exchange_calendars load when a function that needs them runs.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> module inside qresearch.data that defines it
_EXPORTS: dict[str, str] = {
    "Bars": "bars",
    "FIELDS": "bars",
    "align": "panel",
    "fingerprint": "panel",
    "validate_bars": "validate",
    "Lake": "lake",
    "read_yahoo_csv": "ingestion",
    "read_long": "ingestion",
    "ingest": "ingestion",
    "back_adjust": "adjust",
    "adjust_by_actions": "adjust",
    "adjustment_factors": "adjust",
    "trading_sessions": "calendar",
    "rebalance_dates": "calendar",
    "missing_sessions": "calendar",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    # PEP 562 lazy export: load the defining module on first access.
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'qresearch.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"qresearch.data.{module_name}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
