"""Tiny harness: time a case in a fresh subprocess and report its peak RSS.

Each case runs in its own interpreter so that peak memory (``VmHWM``) belongs to that
case alone; the timing is the median of ``repeat`` runs after one warm-up call.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def peak_rss_mb() -> float:
    """This process's peak RSS in MB (VmHWM: unlike ``ru_maxrss``, not inherited from
    the parent across fork and exec); ``ru_maxrss`` where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_case(
    fn: Callable[[], Any], repeat: int = 5, setup: Callable[[], None] | None = None
) -> dict[str, float]:
    """Call ``fn`` once to warm up, then ``repeat`` times; return first/median seconds.

    ``setup`` runs before every call, untimed (e.g. removing what a write created).
    """
    if setup:
        setup()
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    runs = []
    for _ in range(repeat):
        if setup:
            setup()
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return {"first_s": first, "median_s": statistics.median(runs), "peak_rss_mb": peak_rss_mb()}


def run_in_subprocess(script: str, case: str, *args: str) -> dict[str, float]:
    """Run ``script --case CASE`` in a fresh interpreter and parse its JSON line."""
    done = subprocess.run(
        [sys.executable, script, "--case", case, *args], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"case {case} failed:\n{done.stderr}")
    out: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def emit(result: dict[str, float]) -> None:
    """Print a case result as the JSON line ``run_in_subprocess`` reads."""
    print(json.dumps(result))


def import_time(module: str) -> float:
    """Seconds to ``import module`` in a fresh interpreter (warnings ignored)."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True
    )
    return float(out.stdout.strip().splitlines()[-1])
