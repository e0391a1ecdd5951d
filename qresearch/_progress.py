"""One tqdm progress bar rule for long operations (rebalance, simulations, sweeps).

``show=None`` shows a bar only when stderr is a terminal, so papermill, CI logs and
notebooks run under tests stay clean; ``show=True`` asks for one (tqdm, from the
``research`` extra); ``show=False`` never. Without a bar the same calls do nothing.
"""

from __future__ import annotations

import sys
from typing import Any


class _Silent:
    # The no-op stand-in for a tqdm bar.
    n = 0

    def update(self, n: int = 1) -> None:
        self.n += n

    def refresh(self) -> None:
        return None

    def close(self) -> None:
        return None


def progress_bar(
    total: int, desc: str, *, unit: str = "it", show: bool | None = None, initial: int = 0
) -> Any:
    """Return a tqdm bar, or a silent stand-in with the same ``update``/``close``."""
    if show is None:
        show = sys.stderr.isatty()
    if not show:
        return _Silent()
    from qresearch._optional import import_optional

    tqdm = import_optional("tqdm.auto", extra="research")
    return tqdm.tqdm(total=total, initial=initial, desc=desc, unit=unit)
