"""The lake on an object store: s3:// through fsspec/s3fs, against a local moto S3 server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import qresearch.data._lake_io as lake_io
from qresearch.data.bars import FIELDS
from qresearch.data.lake import Lake
from qresearch.exceptions import LakeError
from tests.conftest import make_bars

pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")
boto3 = pytest.importorskip("boto3")


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 (no network), for the whole module."""
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(endpoint: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Any:
    """A fresh bucket; returns (url of a lake in it, storage_options, s3fs filesystem)."""
    import s3fs

    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    bucket = "lake-" + request.node.name.replace("_", "-").lower()[:40]
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    ).create_bucket(Bucket=bucket)
    options = {
        "key": "test",
        "secret": "test",
        "endpoint_url": endpoint,
        "client_kwargs": {"region_name": "us-east-1"},
        "skip_instance_cache": True,
    }
    return f"s3://{bucket}/research/lake", options, s3fs.S3FileSystem(**options)


def _objects(fs: Any, url: str) -> dict[str, bytes]:
    path = url.split("://", 1)[1]
    fs.invalidate_cache()
    return {str(k)[len(path) + 1 :]: fs.cat_file(k) for k in fs.find(path)}


def test_round_trip_upsert_and_sql_on_s3(s3: Any) -> None:
    url, options, fs = s3
    bars = make_bars(n_rows=600, n_symbols=5)  # 2015 .. 2017, ragged
    lake = Lake(url, storage_options=options)
    assert repr(lake) == f"Lake({url!r})" and lake.layout == 2
    assert lake.symbols() == [] and lake.vacuum() == []
    lake.write(bars)
    assert lake.read().equals(bars)
    assert sorted(_objects(fs, url)) == [
        ".lake.json",
        "year=2015/data.parquet",
        "year=2016/data.parquet",
        "year=2017/data.parquet",
    ]
    assert json.loads(_objects(fs, url)[".lake.json"])["lake_format"] == 2
    window = lake.read(symbols=["S003", "S001"], start="2016-02-01", end="2016-05-31")
    assert window.equals(
        bars.select(symbols=["S003", "S001"], start="2016-02-01", end="2016-05-31")
    )
    # An upsert of one symbol in one year rewrites only that object.
    before = _objects(fs, url)
    update = bars.select(symbols=["S002"], start="2016-03-01", end="2016-03-10")
    lake.write(update.replace(close=update.close + 1))
    after = _objects(fs, url)
    assert sorted(k for k in after if after[k] != before[k]) == ["year=2016/data.parquet"]
    assert lake.read_panel("close", "S002", start="2016-03-01", end="2016-03-10").equals(
        update.close + 1
    )
    assert lake.write(lake.read(symbols="S000")).pipe(
        lambda s: (s["rows_before"] == s["rows_after"]).all()
    )
    assert _objects(fs, url) == after  # idempotent: nothing rewritten
    # DuckDB SQL over the objects (through fsspec, no httpfs download).
    got = lake.sql("SELECT symbol, count(*) AS n FROM bars GROUP BY 1 ORDER BY 1")
    assert got["n"].tolist() == bars.close.notna().sum().tolist()
    cov = lake.coverage()
    assert cov["rows"].tolist() == bars.close.notna().sum().tolist()
    # Delete, down to an emptied year.
    lake.write(
        pd.DataFrame(
            {
                "timestamp": pd.to_datetime(["2030-01-02"]),
                "symbol": ["Z"],
                **{f: [1.0] for f in FIELDS},
            }
        )
    )
    lake.delete("Z")
    assert "year=2030/data.parquet" not in _objects(fs, url)
    assert lake.symbols() == bars.symbols
    # The time-zone rule holds on object stores too.
    aware = bars.select(symbols=["S000"]).to_long()
    aware["timestamp"] = aware["timestamp"].dt.tz_localize("UTC")
    with pytest.raises(LakeError, match=r"tz-aware \(UTC\) but the lake .* stores tz-naive"):
        lake.write(aware)


def test_failed_staging_changes_no_object(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    url, options, fs = s3
    bars = make_bars(n_rows=500, n_symbols=3)
    lake = Lake(url, storage_options=options)
    lake.write(bars)
    before = _objects(fs, url)
    real = lake_io._write_parquet
    calls = [0]
    guard = threading.Lock()

    def failing(table: Any, path: Path) -> None:
        with guard:
            calls[0] += 1
            n = calls[0]
        if n >= 2:
            raise RuntimeError("simulated crash while staging")
        real(table, path)

    monkeypatch.setattr(lake_io, "_write_parquet", failing)
    with pytest.raises(RuntimeError, match="simulated crash") as info:
        lake.write(bars.replace(close=bars.close * 2))
    assert any("rolled back" in note for note in info.value.__notes__)
    monkeypatch.undo()
    assert _objects(fs, url) == before
    assert lake.read().equals(bars)
    assert not [p for p in Path(lake._store.staging).iterdir() if ".tmp-" in p.name]


def test_writers_of_one_machine_take_turns(s3: Any) -> None:
    url, options, _ = s3
    dates = pd.bdate_range("2020-12-01", "2021-01-29")  # two year files
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            lake = Lake(url, storage_options=options)
            for day in dates[k::3]:
                lake.write(
                    pd.DataFrame(
                        {"timestamp": [day], "symbol": ["A"], **{f: [float(k)] for f in FIELDS}}
                    )
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    close = Lake(url, storage_options=options).read_panel("close")["A"]
    assert len(close) == len(dates)
    expected = np.array([float(i % 3) for i in range(len(dates))])
    np.testing.assert_array_equal(close.to_numpy(), expected)


def test_storage_options_need_a_url(tmp_path: Path) -> None:
    from qresearch.exceptions import ParameterError

    with pytest.raises(ParameterError, match="storage_options.*object-store URLs"):
        Lake(tmp_path, storage_options={"anon": True})
    assert Lake(f"file://{tmp_path}").root == tmp_path


def test_a_damaged_rule_object_names_the_object_and_the_fix(s3: Any) -> None:
    url, options, fs = s3
    lake = Lake(url, storage_options=options)
    lake.write(make_bars(n_rows=300, n_symbols=2))
    key = url[len("s3://") :] + "/.lake.json"
    rule = json.loads(fs.cat_file(key))
    for damaged in (b"{not json", json.dumps({**rule, "timezone": 5}).encode()):
        fs.pipe_file(key, damaged)
        with pytest.raises(
            LakeError,
            match=r"time-zone rule '.*\.lake\.json' is damaged .*Delete that object: the next "
            r"Lake\.write rebuilds it from the year files",
        ):
            lake.write(make_bars(n_rows=300, n_symbols=2))
