"""Private storage backends of :mod:`qresearch.data.lake`: a local folder or an object store.

Both hold the same year files (``year=<YYYY>/data.parquet``) and rule file
(``.lake.json``). :class:`LocalStore` is the folder the lake always was: temp files
beside their targets, ``os.replace``, the ``flock`` writer lock in the folder.
:class:`RemoteStore` is an fsspec URL (``s3://bucket/lake``, ``gcs://...``,
``memory://...``): files are staged on the local disk and each is then uploaded with
one PUT (an object appears whole or not at all; there is no rename), and the writer
lock is a ``flock`` on a local file keyed by the URL, so it orders the writers of one
machine only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qresearch.data._lake_files import YearFile, file_path, list_files, open_file
from qresearch.data._lake_io import _makedirs, _tmp_name
from qresearch.data._lake_lock import (
    LAKE_FORMAT,
    RULE_FILE,
    WriterLock,
    lake_type,
    load_format,
    rule_mismatch,
    rule_timezone,
    save_rule,
    settle_rule,
)
from qresearch.exceptions import LakeError

if TYPE_CHECKING:
    import pyarrow as pa


class LocalStore:
    """A lake in a local folder (see the module docstring of :mod:`qresearch.data.lake`)."""

    remote = False
    fs: Any = None

    def __init__(self, root: Path) -> None:
        self.root = root

    def list_files(self) -> list[YearFile]:
        return list_files(self.root)

    def lake_type(self, files: Sequence[YearFile]) -> pa.DataType:
        return lake_type(self.root, files)

    def settle(self, ts_type: pa.DataType, existing: Sequence[YearFile]) -> bool:
        # Check (or fix) the time-zone rule; whether the rule file must be (re)written.
        save = settle_rule(self.root, ts_type, existing)
        return save or load_format(self.root) != LAKE_FORMAT

    def save_rule(self, tz: str | None) -> None:
        save_rule(self.root, tz)

    def target(self, year: int) -> tuple[Path, Path, list[Path]]:
        # (final path, temp path beside it, folders created for it)
        final = file_path(self.root, year)
        created = _makedirs(final.parent)
        return final, final.parent / _tmp_name(), created

    def commit(self, tmp: Path, final: Path) -> None:
        os.replace(tmp, final)

    def remove(self, final: Path) -> None:
        final.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            final.parent.rmdir()

    def lock(self, timeout: float | None, action: str, *, create: bool) -> WriterLock:
        return WriterLock(self.root, timeout, action, create=create)

    def location(self, yf: YearFile) -> str:
        return str(yf.path)


def lock_folder(url: str) -> Path:
    """Return the local folder of the writer lock (and staged files) of the lake at ``url``."""
    digest = hashlib.sha256(url.encode()).hexdigest()[:20]
    return Path(tempfile.gettempdir()) / "qresearch-lake-locks" / digest


class RemoteStore:
    """A lake at an fsspec URL (``s3://bucket/lake``): see the module docstring."""

    remote = True

    def __init__(self, url: str, storage_options: dict[str, Any] | None) -> None:
        import fsspec

        self.url = url.rstrip("/")
        self.protocol = self.url.split("://", 1)[0]
        try:
            self.fs, path = fsspec.core.url_to_fs(self.url, **(storage_options or {}))
        except (ImportError, ValueError) as exc:
            raise LakeError(
                f"Cannot open the lake at {url!r}: {exc}. Object stores need fsspec and the "
                "package of the protocol (s3fs for s3://, gcsfs for gcs://)."
            ) from exc
        self.path = str(path).rstrip("/")
        self.root = self.url
        self.staging = lock_folder(self.url)

    def key(self, name: str) -> str:
        return f"{self.path}/{name}"

    def list_files(self) -> list[YearFile]:
        self.fs.invalidate_cache()  # listings and object sizes change under us
        try:
            keys = self.fs.glob(self.key("year=*/data.parquet"))
        except FileNotFoundError:
            return []
        out: list[YearFile] = []
        for key in keys:
            folder = str(key).rsplit("/", 2)[-2]
            try:
                year = int(folder[len("year=") :])
            except ValueError:
                raise LakeError(
                    f"Unexpected folder {self.protocol}://{key} in the lake: the year must be an "
                    "integer. Move it out of the lake."
                ) from None
            out.append(YearFile(year, str(key)))
        return sorted(out, key=lambda f: f.year)

    def load_rule(self) -> tuple[bool, str | None]:
        where = f"{self.url}/{RULE_FILE}"
        try:
            self.fs.invalidate_cache(self.key(RULE_FILE))
            text = self.fs.cat_file(self.key(RULE_FILE)).decode("utf-8")
        except FileNotFoundError:
            return False, None
        return True, rule_timezone(text, where, "object", "year files")

    def lake_type(self, files: Sequence[YearFile]) -> pa.DataType:
        import pyarrow as pa

        found, tz = self.load_rule()
        if found:
            return pa.timestamp("us", tz=tz)
        error: LakeError | None = None
        for yf in files:
            try:
                opened = open_file(yf, None, self.fs)
            except LakeError as exc:
                error = error or exc
                continue
            opened.close()
            return opened.ts_type
        if error is not None:
            raise error
        return pa.timestamp("us")

    def settle(self, ts_type: pa.DataType, existing: Sequence[YearFile]) -> bool:
        found, tz = self.load_rule()
        if not existing:
            return not found or tz != ts_type.tz
        lake_tz = tz if found else self.lake_type(existing).tz
        if lake_tz != ts_type.tz:
            raise rule_mismatch(ts_type.tz, lake_tz, self.url)
        return not found

    def save_rule(self, tz: str | None) -> None:
        note = (
            "tz-naive timestamps (UTC by convention)"
            if tz is None
            else f"UTC instants shown in {tz}"
        )
        rule = {"lake_format": LAKE_FORMAT, "timezone": tz, "rule": note}
        self.fs.pipe_file(self.key(RULE_FILE), (json.dumps(rule, indent=2) + "\n").encode())

    def target(self, year: int) -> tuple[str, Path, list[Path]]:
        # Staged on the local disk, in the lock folder (swept like a local lake's temps).
        created = _makedirs(self.staging)
        return self.key(f"year={year}/data.parquet"), self.staging / _tmp_name(), created

    def commit(self, tmp: Path, final: str) -> None:
        self.fs.put_file(str(tmp), final)  # one PUT: the object appears whole
        tmp.unlink(missing_ok=True)

    def remove(self, final: str) -> None:
        self.fs.rm_file(final)

    def lock(self, timeout: float | None, action: str, *, create: bool) -> WriterLock:
        _makedirs(self.staging)
        return WriterLock(self.staging, timeout, action, create=True)

    def location(self, yf: YearFile) -> str:
        return f"{self.protocol}://{yf.path}"
