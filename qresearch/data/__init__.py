"""Data layer: Bars, the Parquet/DuckDB lake, ingest, validation, adjustment, calendars.

Also panel alignment (``align``) and content fingerprints (``fingerprint``).

Names are imported lazily so that ``import qresearch.data`` stays light; DuckDB,
pyarrow and exchange_calendars load when a function that needs them runs.
"""

from __future__ import annotations

from typing import Any

from qresearch._lazy import lazy_attribute, lazy_dir

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


_MODULES = {name: f"qresearch.data.{module}" for name, module in _EXPORTS.items()}


def __getattr__(name: str) -> Any:
    return lazy_attribute(__name__, _MODULES, name)


def __dir__() -> list[str]:
    return lazy_dir(__name__, _MODULES)
