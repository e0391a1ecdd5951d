"""Private helpers of :mod:`qresearch.data.lake`: the writer lock, the time-zone rule, vacuum.

- The writer lock is an OS lock (``fcntl.flock``; ``msvcrt.locking`` on Windows) on
  ``root/.lake.lock``. Every write, delete and vacuum holds it for its whole
  read-merge-stage-rename, so writers of one lake run one at a time. The OS drops the
  lock of a process that dies, so a killed writer never blocks the next one. While a
  call holds the lock the file holds ``"<pid> <action>"``; a clean release empties it,
  so the next holder that finds it non-empty knows the previous one was killed
  mid-way and sweeps the lake (:func:`sweep`).
- The time-zone rule (tz-naive, or the zone name) is stored in ``root/.lake.json``,
  written atomically (temp file, fsync, rename) under the lock.
- The rule file also records the layout: ``"lake_format": 2`` for year files
  (``year=<YYYY>/data.parquet``); format 1 (or no rule file) with ``symbol=`` folders is
  the old layout, read transparently and converted by ``Lake.migrate()``.
- Both names start with a dot: DuckDB globs and pyarrow/Spark dataset discovery ignore
  them.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from qresearch._process import pid_alive
from qresearch.data._lake_io import _makedirs, _Stale, _timestamp_type, _tmp_name
from qresearch.exceptions import LakeError

if TYPE_CHECKING:
    import pyarrow as pa

LAKE_FORMAT = 2
"""The layout this release writes: one file per year holding every symbol."""
LOCK_FILE = ".lake.lock"
RULE_FILE = ".lake.json"
TRASH_PREFIX = ".deleting-"
STALE_AFTER_SECONDS = 3600.0
"""Age after which a temp file is stale even if a process with its pid is alive."""

# Temp files of partition and rule writes: ".<name>.tmp-<pid>-<32 hex>" (releases before
# the lock wrote ".data.parquet.tmp-<32 hex>", without the pid).
_TMP_RE = re.compile(r"^\.(?:data\.parquet|lake\.json)\.tmp-(?:(\d+)-)?[0-9a-f]{32}$")
_POLL_MAX_SECONDS = 0.05


# ------------------------------------------------------------------ OS locks
if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _lock_blocking(fd: int) -> None:
        while not _try_lock(fd):
            time.sleep(_POLL_MAX_SECONDS)

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _lock_blocking(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _same_file(fd: int, path: Path) -> bool:
    # After locking, check that `path` still names the locked file: a failed first write
    # removes the lock file of the lake it created, and a waiter must then lock afresh.
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)


def _open_lock_file(path: Path) -> int:
    # Open (or create) the lock file. A lock file created by another user may be
    # read-only to us: locking works on a read-only descriptor too (only the
    # "<pid> <action>" note is then not written).
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except PermissionError:
        if not path.is_file():
            raise
        return os.open(path, os.O_RDONLY)


def _holder(path: Path) -> str:
    # The "<pid> <action>" the current holder wrote, for error messages (best effort).
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""
    return f" ({text.split()[1]} by pid {text.split()[0]})" if len(text.split()) == 2 else ""


class WriterLock:
    """Hold the lake's inter-process writer lock in a ``with`` block.

    ``created`` lists the folders (the root and its parents) created to hold the lock
    file; ``interrupted`` is the ``"<pid> <action>"`` left by a holder that was killed
    before releasing, or ``""``. Raises :class:`LakeError` after ``timeout`` seconds
    (``None`` waits as long as needed); ``OSError`` passes through for the caller to
    explain.
    """

    def __init__(self, root: Path, timeout: float | None, action: str, *, create: bool) -> None:
        self.root = root
        self.path = root / LOCK_FILE
        self.timeout = timeout
        self.action = action
        self.create = create
        self.created: list[Path] = []
        self.interrupted = ""
        self._fd: int | None = None

    def __enter__(self) -> WriterLock:
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while True:
            if self.create:
                self.created += _makedirs(self.root)
            fd = _open_lock_file(self.path)
            try:
                if not self._wait(fd, deadline):
                    raise LakeError(
                        f"{self.action} waited {self.timeout:g} s (lock_timeout) for the lake "
                        f"lock {str(self.path)!r}, held by another writer{_holder(self.path)}. "
                        "Wait for it to finish, or pass a longer Lake(root, lock_timeout=...) "
                        "(None waits as long as needed). The OS releases the lock of a process "
                        "that dies, so never delete that file."
                    )
                if _same_file(fd, self.path):
                    break
                _unlock(fd)
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)
        self._fd = fd
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            self.interrupted = os.read(fd, 200).decode("utf-8", "replace").strip()
            with contextlib.suppress(OSError):  # a read-only lock file takes no note
                os.ftruncate(fd, 0)
                os.lseek(fd, 0, os.SEEK_SET)
                os.write(fd, f"{os.getpid()} {self.action}\n".encode())
        except BaseException:
            self._release()
            raise
        return self

    def _wait(self, fd: int, deadline: float | None) -> bool:
        # Lock `fd`, polling until `deadline` (None: block); False when it passed.
        if deadline is None:
            _lock_blocking(fd)
            return True
        delay = 0.001
        while not _try_lock(fd):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(delay, left))
            delay = min(2 * delay, _POLL_MAX_SECONDS)
        return True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._release()

    def _release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # a clean release: nothing for the next holder to sweep
            _unlock(fd)
        finally:
            os.close(fd)

    def discard_new_root(self) -> None:
        """Remove the lock file and the folders this lock created (a failed first write)."""
        if not self.created:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        for folder in reversed(self.created):
            with contextlib.suppress(OSError):
                folder.rmdir()


# ---------------------------------------------------------------- the tz rule
def load_rule(root: Path) -> tuple[bool, str | None]:
    """Return ``(found, tz)`` from ``root/.lake.json`` (``tz`` None: tz-naive)."""
    path = root / RULE_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return False, None
    except OSError as exc:
        raise LakeError(
            f"Cannot read the lake's time-zone rule {str(path)!r} ({exc}). Make it readable."
        ) from exc
    return True, rule_timezone(text, str(path), "file", "partition files")


def rule_timezone(text: str, where: str, kind: str, source: str) -> str | None:
    """Return the ``timezone`` of a rule file's text (None: tz-naive).

    A damaged rule raises :class:`LakeError` naming ``where`` and the fix: delete that
    ``kind`` ("file", "object"), which the next write rebuilds from the ``source``.
    """
    try:
        tz = json.loads(text)["timezone"]
        if tz is not None and not isinstance(tz, str):
            raise TypeError(f"timezone {tz!r} is not a string or null")
    except (ValueError, KeyError, TypeError) as exc:
        raise LakeError(
            f"The lake's time-zone rule {where!r} is damaged ({exc!r}). Delete that {kind}: "
            f"the next Lake.write rebuilds it from the {source}."
        ) from exc
    return tz


def load_format(root: Path) -> int:
    """Return the ``lake_format`` recorded in ``root/.lake.json`` (0 when there is none)."""
    path = root / RULE_FILE
    try:
        rule = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0  # missing (load_rule reports a damaged or unreadable file)
    value = rule.get("lake_format", 1) if isinstance(rule, dict) else 0
    return value if isinstance(value, int) else 0


def save_rule(root: Path, tz: str | None) -> None:
    """Write ``root/.lake.json`` atomically (temp file, fsync, rename)."""
    note = (
        "tz-naive timestamps (UTC by convention)" if tz is None else f"UTC instants shown in {tz}"
    )
    rule = {"lake_format": LAKE_FORMAT, "timezone": tz, "rule": note}
    text = json.dumps(rule, indent=2) + "\n"
    tmp = root / _tmp_name(RULE_FILE)
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, root / RULE_FILE)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _tz_of_files(parts: Sequence[Any]) -> tuple[bool, str | None]:
    # (found, tz) of the first readable partition: the rule of a lake written before the
    # rule file existed (every write then checked against the first file).
    for part in parts:
        try:
            return True, _timestamp_type(part.path).tz
        except LakeError:
            continue
    return False, None


def lake_type(root: Path, parts: Sequence[Any]) -> pa.DataType:
    """Return the lake's timestamp type: the recorded rule, else that of its files.

    ``parts`` are the data files (anything with a ``path``), of either layout.
    """
    import pyarrow as pa

    found, tz = load_rule(root)
    if not found:
        found, tz = _tz_of_files(parts)
    if found:
        return pa.timestamp("us", tz=tz)
    if not all(p.path.exists() for p in parts):
        raise _Stale(LakeError(f"The lake at {str(root)!r} changed while it was read."))
    return _timestamp_type(parts[0].path)  # raises the error naming the file


def settle_rule(root: Path, ts_type: pa.DataType, existing: Sequence[Any]) -> bool:
    """Fix or check the time-zone rule (under the lock); return whether to save it.

    The first write into an empty lake fixes the rule; later writes must match it.
    """
    found, tz = load_rule(root)
    if not existing:
        return not found or tz != ts_type.tz
    lake_tz = tz
    if not found:
        readable, lake_tz = _tz_of_files(existing)
        if not readable:  # every partition is damaged: nothing to contradict
            lake_tz = ts_type.tz
    if lake_tz != ts_type.tz:
        raise rule_mismatch(ts_type.tz, lake_tz, root)
    return not found


# --------------------------------------------------------------------- vacuum


def _stale_tmp(entry: os.DirEntry[str], now: float, killed: int | None) -> bool:
    # Called under the lock, so no writer that honours it is staging. A temp file is stale
    # when its writer's process is gone, is this one, or is the killed holder `killed`
    # (perhaps a zombie), or when it is older than STALE_AFTER_SECONDS (pid reused, or a
    # name without a pid from an older release).
    match = _TMP_RE.match(entry.name)
    if match is None or not entry.is_file(follow_symlinks=False):
        return False
    pid = None if match.group(1) is None else int(match.group(1))
    if pid is not None and (pid in (os.getpid(), killed) or not pid_alive(pid)):
        return True
    try:
        return now - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER_SECONDS
    except FileNotFoundError:
        return False


def _entries(folder: str | Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as it:
            return list(it)
    except FileNotFoundError:
        return []


def sweep(root: Path, interrupted: str = "") -> list[Path]:
    """Remove stale temp files, trash folders and empty partition folders; return them.

    Call with the writer lock held; ``interrupted`` is :attr:`WriterLock.interrupted`.
    Partition files and foreign files are never touched.
    """
    removed: list[Path] = []
    now = time.time()
    head = interrupted.split(maxsplit=1)[0] if interrupted else ""
    killed = int(head) if head.isdigit() else None

    def unlink(entry: os.DirEntry[str]) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(entry.path)
            removed.append(Path(entry.path))

    def rmdir_if_empty(path: str) -> None:
        try:
            os.rmdir(path)
        except OSError:  # not empty (or gone): keep it
            return
        removed.append(Path(path))

    for entry in _entries(root):
        name = entry.name
        if name.startswith(TRASH_PREFIX) and entry.is_dir(follow_symlinks=False):
            # A delete killed after its rename: the symbol is already invisible.
            shutil.rmtree(entry.path, ignore_errors=True)
            if not os.path.lexists(entry.path):
                removed.append(Path(entry.path))
        elif _stale_tmp(entry, now, killed):
            unlink(entry)
        elif name.startswith("year=") and entry.is_dir(follow_symlinks=False):
            for file in _entries(entry.path):
                if _stale_tmp(file, now, killed):
                    unlink(file)
            rmdir_if_empty(entry.path)
        elif name.startswith("symbol=") and entry.is_dir(follow_symlinks=False):  # format 1
            for year in _entries(entry.path):
                if not (year.name.startswith("year=") and year.is_dir(follow_symlinks=False)):
                    continue
                for file in _entries(year.path):
                    if _stale_tmp(file, now, killed):
                        unlink(file)
                rmdir_if_empty(year.path)
            rmdir_if_empty(entry.path)
    return sorted(removed)


# --------------------------------------------------------------------- errors
def explain_os_error(exc: OSError, action: str, root: Path | str) -> LakeError:
    """Turn an ``OSError`` of a write, delete or vacuum into a LakeError naming the fix."""
    where = exc.filename if exc.filename is not None else root
    if isinstance(exc, PermissionError) or exc.errno == errno.EROFS:
        fix = (
            "The lake folder is not writable by this process: make it writable (e.g. "
            f"chmod -R u+w {str(root)!r}) or use another root. Reading needs no write access."
        )
    elif exc.errno == errno.ENOSPC:
        fix = "The disk is full: free space, then run the same call again."
    else:
        fix = "Fix the cause, then run the same call again."
    return LakeError(
        f"{action} on the lake at {str(root)!r} failed on {str(where)!r}: "
        f"{exc.strerror or exc}. {fix}"
    )


def rule_mismatch(data_tz: str | None, lake_tz: str | None, root: Path | str) -> LakeError:
    """Return the error for data whose time zone breaks the lake's time-zone rule."""

    def describe(tz: str | None) -> str:
        return "tz-naive (UTC by convention)" if tz is None else f"tz-aware ({tz})"

    if lake_tz is None:
        convert = ".dt.tz_convert('UTC').dt.tz_localize(None)"
    elif data_tz is None:
        convert = f".dt.tz_localize('UTC').dt.tz_convert({lake_tz!r})"
    else:
        convert = f".dt.tz_convert({lake_tz!r})"
    where = str(root / RULE_FILE) if isinstance(root, Path) else f"{root}/{RULE_FILE}"
    return LakeError(
        f"data timestamps are {describe(data_tz)} but the lake at {str(root)!r} stores "
        f"{describe(lake_tz)} timestamps: its time-zone rule, fixed by its first write and "
        f"recorded in {where!r}. Convert them first: long = bars.to_long(); "
        f"long['timestamp'] = long['timestamp']{convert}; then lake.write(long)."
    )
