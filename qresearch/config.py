"""Frozen configuration dataclasses whose content hash (``config_id``) every result carries."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from qresearch.exceptions import ConfigError

__all__ = ["Config", "DemoConfig", "config_hash"]


def _jsonable(value: Any) -> Any:
    """Convert a config value into canonical JSON-able data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return value.as_posix()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise ConfigError(
        f"Config values must be JSON-like (numbers, strings, lists, dicts, dates); "
        f"got {type(value).__name__}: {value!r}."
    )


def config_hash(data: Any) -> str:
    """Return the 12-hex-digit SHA-256 of ``data``'s canonical JSON.

    Examples
    --------
    >>> config_hash({"b": 1, "a": [1, 2]}) == config_hash({"a": [1, 2], "b": 1})
    True
    >>> len(config_hash({}))
    12
    """
    payload = json.dumps(_jsonable(data), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


@dataclass(frozen=True, kw_only=True)
class Config:
    """Base class of frozen, hashable configurations.

    Subclasses are ``@dataclass(frozen=True, kw_only=True)``, validate in
    ``validate()`` (called from ``__post_init__``), and inherit :attr:`config_id`,
    :meth:`to_dict`, :meth:`to_json` and :meth:`from_dict`.
    """

    kind: ClassVar[str] = "config"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` on invalid values (override in subclasses)."""

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as JSON-able data."""
        out: dict[str, Any] = _jsonable(self)
        return out

    def to_json(self) -> str:
        """Return canonical JSON (sorted keys) including ``kind`` and ``config_id``."""
        return json.dumps(
            {"kind": self.kind, "config_id": self.config_id, **self.to_dict()},
            sort_keys=True,
            indent=2,
        )

    @property
    def config_id(self) -> str:
        """A content hash of the class kind and every field: equal configs, equal ids."""
        return config_hash({"kind": self.kind, **self.to_dict()})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        """Build the config from :meth:`to_dict` output (``kind``/``config_id`` ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names - {"kind", "config_id"})
        if unknown:
            raise ConfigError(
                f"Unknown fields for {cls.__name__}: {unknown}; valid fields are {sorted(names)}."
            )
        kwargs = {k: v for k, v in data.items() if k in names}
        for f in dataclasses.fields(cls):
            if f.name in kwargs and isinstance(kwargs[f.name], list):
                kwargs[f.name] = tuple(kwargs[f.name])
        return cls(**kwargs)


@dataclass(frozen=True, kw_only=True)
class DemoConfig(Config):
    """Parameters of the reference research pipeline run by ``make demo``.

    Examples
    --------
    >>> a = DemoConfig(out_dir="reports/demo")
    >>> a.config_id == DemoConfig(out_dir="reports/demo").config_id
    True
    >>> a.config_id == DemoConfig(out_dir="reports/other").config_id
    False
    >>> DemoConfig(symbols=())
    Traceback (most recent call last):
    ...
    qresearch.exceptions.ConfigError: DemoConfig.symbols must name at least one symbol; got ().
    """

    kind: ClassVar[str] = "demo"

    out_dir: str = "reports/demo"
    lake_root: str = "data/lake"
    symbols: tuple[str, ...] = ("ORCL", "NVDA", "YHOO")
    start: str | None = None
    end: str | None = None

    def validate(self) -> None:
        """Check the symbols and dates."""
        if not self.symbols:
            raise ConfigError(
                f"DemoConfig.symbols must name at least one symbol; got {self.symbols!r}."
            )
        import pandas as pd

        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None:
                try:
                    pd.Timestamp(value)
                except ValueError as exc:
                    raise ConfigError(
                        f"DemoConfig.{name} must be a date like '2010-01-01'; got {value!r}."
                    ) from exc
