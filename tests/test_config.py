from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest

from qresearch.config import Config, DemoConfig, config_hash
from qresearch.exceptions import ConfigError


def test_config_id_is_sha256_of_canonical_json() -> None:
    cfg = DemoConfig(out_dir="x", symbols=("A",))
    payload = {
        "kind": "demo",
        "end": None,
        "lake_root": "data/lake",
        "out_dir": "x",
        "start": None,
        "symbols": ["A"],
    }
    expected = hashlib.sha256(
        json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()[:12]
    assert cfg.config_id == expected


def test_config_id_changes_with_any_field() -> None:
    base = DemoConfig()
    ids = {
        base.config_id,
        DemoConfig(start="2010-01-01").config_id,
        DemoConfig(symbols=("ORCL",)).config_id,
        DemoConfig(lake_root="elsewhere").config_id,
    }
    assert len(ids) == 4


def test_config_is_frozen() -> None:
    cfg = DemoConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.out_dir = "y"  # type: ignore[misc]


def test_config_round_trip() -> None:
    cfg = DemoConfig(symbols=("ORCL", "NVDA"), start="2001-01-01")
    data = json.loads(cfg.to_json())
    assert data["config_id"] == cfg.config_id and data["kind"] == "demo"
    back = DemoConfig.from_dict(data)
    assert back == cfg and back.config_id == cfg.config_id


def test_from_dict_rejects_unknown_fields() -> None:
    with pytest.raises(ConfigError, match=r"Unknown fields for DemoConfig: \['colour'\]"):
        DemoConfig.from_dict({"colour": "red"})


def test_invalid_values() -> None:
    with pytest.raises(ConfigError, match="must name at least one symbol"):
        DemoConfig(symbols=())
    with pytest.raises(ConfigError, match=r"DemoConfig.start must be a date .* got 'soon'"):
        DemoConfig(start="soon")


def test_config_hash_handles_paths_dates_and_rejects_objects() -> None:
    import datetime as dt

    assert config_hash({"p": Path("a/b")}) == config_hash({"p": "a/b"})
    assert config_hash({"d": dt.date(2020, 1, 2)}) == config_hash({"d": "2020-01-02"})
    with pytest.raises(ConfigError, match="must be JSON-like .* got object"):
        config_hash({"x": object()})


def test_subclass_inherits_hashing() -> None:
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Tiny(Config):
        n: int = 1

    assert Tiny(n=1).config_id == Tiny(n=1).config_id != Tiny(n=2).config_id
