"""Exceptions and warnings raised by qresearch.

Every exception derives from :class:`QResearchError` and also from the builtin it
refines, so ``except ValueError`` works as well as ``except QResearchError``.
Messages name the argument, show the offending value (symbol, timestamp, column)
and say how to fix it.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AlignmentError",
    "AuthenticationError",
    "BrokerError",
    "CacheWarning",
    "CalendarError",
    "ConfigError",
    "DataQualityWarning",
    "DataValidationError",
    "DatasetNotFoundError",
    "IngestError",
    "LakeError",
    "LiveSafetyError",
    "OptimizationError",
    "OptionalDependencyError",
    "OrderRejectedError",
    "PanelError",
    "ParameterError",
    "QResearchDeprecationWarning",
    "QResearchError",
    "QResearchWarning",
    "RunError",
    "StrategyError",
    "TransientBrokerError",
    "UnknownSymbolError",
]


class QResearchError(Exception):
    """Base class of every error raised on purpose by qresearch."""


class ParameterError(QResearchError, ValueError):
    """An argument has an invalid value (not one of the choices, out of range)."""


class PanelError(QResearchError, ValueError):
    """A panel (dates x symbols DataFrame) is malformed: index, columns or dtypes."""


class AlignmentError(PanelError):
    """Two panels that must share index and columns do not; call ``qr.data.align``."""


class DataValidationError(QResearchError, ValueError):
    """Bar data failed validation.

    Attributes
    ----------
    report : pandas.DataFrame or None
        One row per problem with columns ``check, symbol, timestamp, column, value``.
    """

    def __init__(self, message: str, report: Any = None) -> None:
        super().__init__(message)
        self.report = report


class DatasetNotFoundError(QResearchError, ValueError):
    """An unknown bundled sample dataset or symbol was requested."""


class IngestError(QResearchError, ValueError):
    """A file could not be ingested; the message names the file and the line."""


class LakeError(QResearchError, RuntimeError):
    """The Parquet lake could not be read or written."""


class CalendarError(QResearchError, ValueError):
    """An unknown exchange calendar or an invalid session range was requested."""


class ConfigError(QResearchError, ValueError):
    """A configuration object was given an invalid value."""


class OptimizationError(QResearchError, RuntimeError):
    """A portfolio optimization was infeasible or its solver failed."""


class OptionalDependencyError(QResearchError, ImportError):
    """An optional dependency is missing; the message names the pip extra to install."""


class QResearchWarning(UserWarning):
    """Base class of qresearch warnings."""


class CacheWarning(QResearchWarning):
    """A cache entry was unreadable or did not match its request (never used; recomputed)."""


class DataQualityWarning(QResearchWarning):
    """Data was usable but suspicious (gaps, stale prices, flagged delistings)."""


class QResearchDeprecationWarning(QResearchWarning, DeprecationWarning):
    """A deprecated name was used; the message names the replacement.

    Old parameter names stay accepted for one release (see the "Vocabulary" section of
    README.md) and are removed in the next one.
    """


class RunError(QResearchError, RuntimeError):
    """A research run failed, or could not start; ``record`` is its RunRecord (or None)."""

    def __init__(self, message: str, record: Any = None) -> None:
        super().__init__(message)
        self.record = record


class StrategyError(QResearchError, RuntimeError):
    """A strategy raised inside the simulator or the live runner; names the bar and method."""


class BrokerError(QResearchError, RuntimeError):
    """A broker (paper, ccxt or Alpaca adapter) refused or failed a request.

    Messages name the venue, the request and the client order id; never a key.
    """


class TransientBrokerError(BrokerError):
    """A timeout, network error or rate limit that persisted through every retry."""


class AuthenticationError(BrokerError):
    """The venue refused the credentials (names the environment variables to set)."""


class UnknownSymbolError(BrokerError, KeyError):
    """The venue does not list the symbol (names it and how to find the listed ones)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class OrderRejectedError(BrokerError):
    """The venue rejected an order (insufficient funds, invalid size or price)."""


class LiveSafetyError(QResearchError, RuntimeError):
    """A safety default was not overridden: real orders need dry_run=False and confirm_live=True."""
