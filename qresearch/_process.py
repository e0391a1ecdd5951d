"""Process liveness, for the lock and temp files that name their writer's pid."""

from __future__ import annotations

import os
import sys


def pid_alive(pid: int) -> bool:
    """Return True when a process with this id may exist on this machine.

    POSIX: signal 0 probes without touching the process (a process of another user is
    alive). Windows has no such probe (``os.kill`` there terminates the process), so a
    pid is taken as alive and callers fall back on the file's age or owner.
    """
    if pid <= 0:
        return False
    if sys.platform == "win32":  # pragma: no cover - no safe liveness probe
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: alive, owned by another user
        return True
    return True
