"""Each README example runs on its own, as a script (in a temporary working directory)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


BLOCKS = _python_blocks()


def test_readme_has_the_two_quickstart_commands() -> None:
    text = README.read_text()
    quickstart = text.split("## Quickstart", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [ln.split("#")[0].strip() for ln in quickstart.strip().splitlines()]
    assert commands == ["make demo", "make test"]


def test_readme_has_python_examples() -> None:
    assert BLOCKS, "README has no python example"


@pytest.mark.parametrize("number", range(1, len(BLOCKS) + 1))
def test_readme_example_runs_alone(
    number: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    # A fresh namespace per block: a block that leans on another one's names fails here.
    block = BLOCKS[number - 1]
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__main__"}
    exec(compile(block, f"README.md (python block {number})", "exec"), namespace)
    if "qr.data.Lake(" in block:
        assert (tmp_path / "data" / "lake").is_dir()
        assert "ORCL" in capsys.readouterr().out
    if "qr.backtest.from_weights(" in block:
        assert namespace["res"].stats()["orders"] > 0  # type: ignore[attr-defined]
    if "qr.sim.reconcile(" in block:
        assert "unexplained" in capsys.readouterr().out
