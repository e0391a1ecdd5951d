"""The rebalance cache: content-hash keys, concurrent runs, corrupt entries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import qresearch.portfolio.rebalancing as rb
from qresearch.datasets import load_sample
from qresearch.exceptions import ParameterError
from qresearch.portfolio import rebalance
from qresearch.portfolio.rebalancing import CacheWarning


@pytest.fixture(scope="module")
def close() -> pd.DataFrame:
    return load_sample("stocks").loc["2012":"2014"].dropna(axis=1)


OPTS: dict[str, Any] = {"every": "QE", "lookback": 63, "method": "inverse_vol"}


def _entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.json"))


def _no_solve(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("solved again instead of reading the cache")

    monkeypatch.setattr(rb, "_solve", boom)


# -- the key covers every input ------------------------------------------------------


def _window(n_symbols: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    idx = pd.bdate_range("2020-01-01", periods=20, name="timestamp")
    return pd.DataFrame(
        rng.normal(0, 0.01, (20, n_symbols)), index=idx, columns=[f"S{i}" for i in range(n_symbols)]
    )


def test_key_sees_every_element_of_a_long_series_option() -> None:
    # pandas shortens repr() of a Series longer than 60 rows: the middle was not keyed.
    caps = pd.Series(np.linspace(1e9, 5e9, 100), index=[f"S{i}" for i in range(100)])
    changed = caps.copy()
    changed["S40"] *= 1000
    assert repr(caps) == repr(changed)  # what the old key saw
    w = _window()
    key = rb._cache_key(w, "black_litterman", {"market_caps": caps})
    assert key != rb._cache_key(w, "black_litterman", {"market_caps": changed})
    assert key == rb._cache_key(w, "black_litterman", {"market_caps": caps.copy()})


@pytest.mark.parametrize(
    "change",
    [
        lambda o: {**o, "arr": o["arr"] * np.where(np.arange(5000) == 2500, 2.0, 1.0)},
        lambda o: {**o, "frame": o["frame"].rename(columns={"a": "z"})},
        lambda o: {**o, "frame": o["frame"].set_axis(o["frame"].index + 1)},
        lambda o: {**o, "series": o["series"].set_axis(list("qbc"))},
        lambda o: {**o, "series": o["series"].rename("other")},
        lambda o: {**o, "bounds": {**o["bounds"], "S1": (0.0, 0.5)}},
        lambda o: {**o, "views": [("S0", 0.05), ("S1", 0.0201)]},
        lambda o: {**o, "when": pd.Timestamp("2020-01-01", tz="UTC")},
        lambda o: {**o, "n": 1.0},
        lambda o: {**o, "flag": 1},
    ],
)
def test_key_covers_values_index_columns_and_types(change: Any) -> None:
    opts = {
        "arr": np.ones(5000),
        "frame": pd.DataFrame({"a": np.arange(70.0), "b": np.arange(70.0)}),
        "series": pd.Series([1.0, 2.0, 3.0], index=list("abc"), name="caps"),
        "bounds": {"S0": (0.0, 0.3), "S1": (0.0, 0.4)},
        "views": [("S0", 0.05), ("S1", 0.02)],
        "when": pd.Timestamp("2020-01-01"),
        "n": 1,
        "flag": True,
    }
    w = _window()
    assert rb._cache_key(w, "hrp", opts) != rb._cache_key(w, "hrp", change(opts))


def test_key_covers_the_window_date_and_previous_weights_not_dict_order() -> None:
    w = _window()
    key = rb._cache_key(w, "hrp", {"a": 1, "b": 2}, "2020-01-28")
    assert key == rb._cache_key(w.copy(), "hrp", {"b": 2, "a": 1}, "2020-01-28")
    assert key != rb._cache_key(w.set_axis(w.index + pd.Timedelta(days=1)), "hrp", {"a": 1, "b": 2})
    assert key != rb._cache_key(w.rename(columns={"S0": "X"}), "hrp", {"a": 1, "b": 2})
    assert key != rb._cache_key(w, "hrp", {"a": 1, "b": 2}, "2020-01-29")
    assert key != rb._cache_key(w, "hrp", {"a": 1, "b": 2}, "2020-01-28", w.iloc[-1])


def test_key_does_not_depend_on_the_process() -> None:
    # String hashing is salted per process: the key must not depend on it (set order).
    code = (
        "import numpy as np, pandas as pd; from qresearch.portfolio import rebalancing as rb;"
        "w = pd.DataFrame(np.eye(3), columns=['a', 'b', 'c']);"
        "print(rb._cache_key(w, 'hrp', {'s': {'x', 'y', 'z'}, 'd': {'q': 1, 'p': 2}}))"
    )
    keys = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert len(keys) == 1


def test_option_without_hashable_content_is_refused_by_name() -> None:
    with pytest.raises(ParameterError, match=r"cache on optimize_kwargs\['f'\] \(function"):
        rb._cache_key(_window(), "hrp", {"f": lambda x: x})
    with pytest.raises(ParameterError, match=r"optimize_kwargs\['o'\] \(object.*without cache_dir"):
        rb._cache_key(_window(), "hrp", {"o": object()})


def test_changed_long_market_caps_are_not_served_from_the_cache(tmp_path: Path) -> None:
    # The audit: 1000x one market cap of 80 hit the stale entry (weight 0.0025 vs 0.18).
    rng = np.random.default_rng(3)
    idx = pd.bdate_range("2015-01-02", periods=140, name="timestamp")
    symbols = [f"S{i}" for i in range(80)]
    close = pd.DataFrame(
        50 * np.exp(np.cumsum(rng.normal(3e-4, 0.015, (140, 80)), axis=0)),
        index=idx,
        columns=symbols,
    )
    caps = pd.Series(np.linspace(1e9, 5e9, 80), index=symbols)
    opts = {"every": "QE", "lookback": 126, "method": "black_litterman", "views": {"S0": 0.05}}
    rebalance(close, market_caps=caps, cache_dir=tmp_path, **opts)
    changed = caps.copy()
    changed["S40"] *= 1000
    cached = rebalance(close, market_caps=changed, cache_dir=tmp_path, **opts)
    fresh = rebalance(close, market_caps=changed, **opts)
    pd.testing.assert_frame_equal(cached, fresh)
    assert len(_entries(tmp_path)) == 2


# -- concurrent runs and planted symlinks ---------------------------------------------


def test_two_runs_sharing_a_cache_dir_interleaved(
    close: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both runs write every entry before either moves it into place: with one fixed
    # temporary name the second rename found nothing and the run crashed.
    barrier = threading.Barrier(2, timeout=20)
    real_replace = os.replace

    def replace_in_step(src: Any, dst: Any) -> None:
        barrier.wait()
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_in_step)
    results: dict[int, Any] = {}

    def run(i: int) -> None:
        try:
            results[i] = rebalance(close, cache_dir=tmp_path, **OPTS)
        except BaseException as exc:  # reported below
            results[i] = exc
            barrier.abort()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    monkeypatch.undo()
    assert all(isinstance(r, pd.DataFrame) for r in results.values()), results
    pd.testing.assert_frame_equal(results[0], results[1])
    pd.testing.assert_frame_equal(results[0], rebalance(close, **OPTS))
    assert len(results) == 2 and not list(tmp_path.glob(".*"))  # no temporary file left


_RUN = """
import sys
from qresearch.datasets import load_sample
from qresearch.portfolio import rebalance
close = load_sample("stocks").loc["2012":"2014"].dropna(axis=1)
w = rebalance(close, cache_dir=sys.argv[1], every="ME", lookback=63, method="inverse_vol")
w.to_pickle(sys.argv[2])
"""


def test_processes_sharing_a_cache_dir(close: pd.DataFrame, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RUN, str(cache), str(tmp_path / f"w{i}.pkl")],
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errors
    fresh = rebalance(close, every="ME", lookback=63, method="inverse_vol")
    for i in range(4):
        pd.testing.assert_frame_equal(pd.read_pickle(tmp_path / f"w{i}.pkl"), fresh)
    assert len(_entries(cache)) == len(fresh.dropna(how="all"))
    assert not list(cache.glob(".*"))


def test_symlink_planted_at_a_temporary_name_is_not_written_through(
    close: pd.DataFrame, tmp_path: Path
) -> None:
    # The old writer used the fixed name .<entry>.tmp and followed a symlink there.
    cache = tmp_path / "cache"
    first = rebalance(close, cache_dir=cache, **OPTS)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    for p in _entries(cache):
        p.unlink()
        (cache / f".{p.name}.tmp").symlink_to(victim)
    again = rebalance(close, cache_dir=cache, **OPTS)
    assert victim.read_text() == "precious"
    pd.testing.assert_frame_equal(again, first)
    assert all(not p.is_symlink() for p in _entries(cache))


def test_symlink_planted_at_an_entry_is_ignored_and_replaced(
    close: pd.DataFrame, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    first = rebalance(close, cache_dir=cache, **OPTS)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    entry = _entries(cache)[0]
    entry.unlink()
    entry.symlink_to(victim)
    with pytest.warns(CacheWarning, match="not valid JSON"):
        again = rebalance(close, cache_dir=cache, **OPTS)
    assert victim.read_text() == "precious"
    pd.testing.assert_frame_equal(again, first)
    assert not entry.is_symlink()  # replaced by a real entry


# -- corrupt or edited entries ----------------------------------------------------------


def _scale_floats(obj: Any) -> Any:
    # Every float in a JSON document doubled: an edited entry that still parses.
    if isinstance(obj, float):
        return obj * 2 + 0.01
    if isinstance(obj, dict):
        return {k: _scale_floats(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_scale_floats(v) for v in obj]
    return obj


CORRUPTIONS = {
    "bad JSON": (lambda p, other: p.write_text("{not json"), "not valid JSON"),
    "truncated": (lambda p, other: p.write_text(p.read_text()[:40]), "not valid JSON"),
    "empty": (lambda p, other: p.write_text(""), "not valid JSON"),
    "not a mapping": (lambda p, other: p.write_text("[1, 2]"), "does not have the fields"),
    "edited weights": (
        lambda p, other: p.write_text(json.dumps(_scale_floats(json.loads(p.read_text())))),
        "checksum",
    ),
    "another date's entry": (
        lambda p, other: p.write_text(other.read_text()),
        "another request",
    ),
    "binary garbage": (lambda p, other: p.write_bytes(b"\xff\xfe\x00"), "cannot be read"),
}


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_corrupt_or_edited_entry_is_recomputed_with_a_warning(
    close: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    corrupt, reason = CORRUPTIONS[name]
    first = rebalance(close, cache_dir=tmp_path, **OPTS)
    entries = _entries(tmp_path)
    corrupt(entries[1], entries[2])
    with pytest.warns(CacheWarning, match=f"{entries[1].name} for .*{reason}"):
        again = rebalance(close, cache_dir=tmp_path, **OPTS)
    pd.testing.assert_frame_equal(again, first)
    _no_solve(monkeypatch)  # the entry was rewritten: a third run reads every date
    pd.testing.assert_frame_equal(rebalance(close, cache_dir=tmp_path, **OPTS), first)


def _entry(key: str, symbols: list[str], weights: list[Any]) -> str:
    body = {"version": rb.CACHE_VERSION, "key": key, "symbols": symbols}
    body |= {"weights": weights, "attrs": {}}
    return json.dumps({**body, "checksum": rb._entry_checksum(body)})


MISMATCHES = {
    "other symbols": (lambda s, w: (["AAPL", "GE"], [0.5, 0.5]), "symbols do not match"),
    "unknown symbol": (lambda s, w: ([*s, "NOPE"], [*w, 0.0]), "symbols do not match"),
    "reordered symbols": (lambda s, w: (s[::-1], w[::-1]), "symbols do not match"),
    "NaN weight": (lambda s, w: (s, [float("nan"), *w[1:]]), "not one finite number"),
    "missing weight": (lambda s, w: (s, w[:-1]), "not one finite number"),
    "text weight": (lambda s, w: (s, ["0.5", *w[1:]]), "not one finite number"),
}


@pytest.mark.parametrize("name", sorted(MISMATCHES))
def test_entry_not_matching_its_request_is_ignored(
    close: pd.DataFrame, tmp_path: Path, name: str
) -> None:
    # A well-formed entry with a valid checksum whose content is not this date's answer.
    change, reason = MISMATCHES[name]
    first = rebalance(close, cache_dir=tmp_path, **OPTS)
    path = _entries(tmp_path)[0]
    entry = json.loads(path.read_text())
    path.write_text(_entry(entry["key"], *change(entry["symbols"], entry["weights"])))
    with pytest.warns(CacheWarning, match=reason):
        again = rebalance(close, cache_dir=tmp_path, **OPTS)
    pd.testing.assert_frame_equal(again, first)


def test_entries_are_complete_files_readable_by_others(close: pd.DataFrame, tmp_path: Path) -> None:
    rebalance(close, cache_dir=tmp_path, **OPTS)
    entries = _entries(tmp_path)
    assert entries and not list(tmp_path.glob(".*"))
    for p in entries:
        entry = json.loads(p.read_text())
        assert entry["key"] == p.stem and entry["version"] == rb.CACHE_VERSION
        if os.name == "posix":
            assert p.stat().st_mode & 0o044 == 0o044
