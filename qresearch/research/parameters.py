"""Notebook parameters: the ``parameters`` cell, checks of given values, run ids.

The cell tagged ``parameters`` (papermill's convention) is parsed with :mod:`ast`,
never run: each ``name = <literal>`` declares a parameter and its default. Values are
checked against the defaults' types before a run starts, and a run's id hashes the
notebook's code, the resolved parameters and, optionally, the input data's bytes.
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from qresearch.config import config_hash
from qresearch.exceptions import ParameterError

__all__ = ["check_parameters", "notebook_parameters", "notebook_run_id"]


def read_notebook(path: Path) -> dict[str, Any]:
    # The notebook's JSON (nbformat 4); problems name the file.
    if not path.is_file():
        where = "is a folder" if path.exists() else "does not exist"
        raise ParameterError(
            f"notebook {str(path)!r} {where}. Pass the path of an .ipynb file "
            f"(cwd is {Path.cwd()})."
        )
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParameterError(f"notebook {str(path)!r} is not a JSON notebook ({exc}).") from exc
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ParameterError(f"notebook {str(path)!r} has no list of cells; is it an .ipynb?")
    return nb


def cell_source(cell: Mapping[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def parameters_cell(nb: Mapping[str, Any]) -> int | None:
    # Index of the first cell tagged "parameters" (papermill's rule), or None.
    for i, cell in enumerate(nb["cells"]):
        if "parameters" in (cell.get("metadata", {}).get("tags") or []):
            return i
    return None


_SIMPLE_TYPES = {"int": int, "float": float, "str": str, "bool": bool, "list": list, "dict": dict}


def notebook_parameters(path: str | Path) -> dict[str, Any]:
    """Return the parameters a notebook declares: name -> literal default value.

    The first cell tagged ``parameters`` is parsed with :mod:`ast` (it is not run):
    every ``name = <literal>`` (or ``name: type = <literal>``) is a parameter. A
    default that is not a literal (``pd.Timestamp(...)``) is returned as ``...``
    (Ellipsis): the name is known, its type is not checked.

    Raises
    ------
    ParameterError
        If the notebook cannot be read or its parameters cell is not valid Python.
    """
    path = Path(path).expanduser()
    nb = read_notebook(path)
    index = parameters_cell(nb)
    if index is None:
        return {}
    # Drop IPython magics and shell lines, which ast cannot parse.
    lines = [
        "" if ln.lstrip().startswith(("%", "!")) else ln
        for ln in cell_source(nb["cells"][index]).splitlines()
    ]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError as exc:
        raise ParameterError(
            f"notebook {str(path)!r}: the parameters cell (cell {index}) is not valid Python "
            f"(line {exc.lineno}: {exc.msg})."
        ) from exc
    out: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        try:
            default = ast.literal_eval(value)
        except ValueError:
            default = ...
        for target in targets:
            if isinstance(target, ast.Name):
                out[target.id] = default
    return out


def _type_ok(value: Any, default: Any) -> bool:
    # int for float is fine; bool is neither int nor float here; None/`...` accept all.
    if default is None or default is ...:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(default, list | tuple):
        return isinstance(value, list | tuple)
    if isinstance(default, dict):
        return isinstance(value, dict)
    return isinstance(value, type(default))


def check_parameters(path: str | Path, params: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``params`` against the notebook's parameters cell; return the resolved ones.

    Returns the declared defaults updated with ``params`` (tuples as lists).

    Raises
    ------
    ParameterError
        On an unknown name, a value of the wrong type (an int for a float default is
        fine) or a value that is not JSON data; the message names the notebook, the
        parameter and the known ones.
    """
    declared = notebook_parameters(path)
    known = ", ".join(f"{k}={v!r}" for k, v in declared.items()) or "none"
    for name, value in params.items():
        if name not in declared:
            raise ParameterError(
                f"notebook {str(path)!r} has no parameter {name!r}; its parameters cell "
                f"declares: {known}."
            )
        if not _type_ok(value, declared[name]):
            default = declared[name]
            kind = type(default).__name__
            article = "an" if kind[0] in "aeiou" else "a"
            raise ParameterError(
                f"notebook {str(path)!r}: parameter {name!r} must be {article} {kind} "
                f"like its default {default!r}; got "
                f"{type(value).__name__} {value!r}. Known parameters: {known}."
            )
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ParameterError(
                f"notebook {str(path)!r}: parameter {name!r} = {value!r} is not JSON data "
                "(numbers, strings, booleans, None, lists, dicts)."
            ) from exc
    resolved = {k: v for k, v in declared.items() if v is not ...}
    resolved.update(params)
    out: dict[str, Any] = json.loads(json.dumps(resolved))  # tuples -> lists
    return out


def code_hash(nb: Mapping[str, Any]) -> str:
    # Hash of the cells' types and sources: outputs and metadata do not change a run.
    h = hashlib.sha256()
    for cell in nb["cells"]:
        h.update(f"{cell.get('cell_type')}\0{cell_source(cell)}\0".encode())
    return h.hexdigest()[:16]


def inputs_fingerprint(inputs: Sequence[str | Path]) -> dict[str, str]:
    # SHA-256 (16 hex) of each input file's bytes; a folder hashes its files' relative
    # paths and bytes (dot-files skipped). A missing input is a ParameterError.
    out: dict[str, str] = {}
    for item in inputs:
        path = Path(item).expanduser()
        if not path.exists():
            raise ParameterError(
                f"inputs: {str(path)!r} does not exist; pass the data files or folders "
                "the notebook reads."
            )
        h = hashlib.sha256()
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            rel = file.relative_to(path)
            if any(part.startswith(".") for part in rel.parts):
                continue
            h.update(f"{rel.as_posix()}\0".encode())
            with file.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
        out[str(item)] = h.hexdigest()[:16]
    return out


def notebook_run_id(
    path: str | Path,
    params: Mapping[str, Any] | None = None,
    inputs: Sequence[str | Path] | None = None,
) -> str:
    """Return the run id :func:`run_notebook` gives these arguments, without running.

    ``<notebook name>-<config_id>``: ``config_id`` hashes the notebook's code cells,
    the resolved parameters (defaults included) and, when given, the bytes of the
    ``inputs`` files. Raises :class:`ParameterError` like :func:`run_notebook`.
    """
    return identify(Path(path).expanduser(), dict(params or {}), inputs)[0]


def identify(
    path: Path, given: dict[str, Any], inputs: Sequence[str | Path] | None
) -> tuple[str, str, dict[str, Any], dict[str, str] | None]:
    # (run_id, config_id, resolved parameters, input fingerprints) of a run.
    nb = read_notebook(path)
    resolved = check_parameters(path, given)
    identity: dict[str, Any] = {"notebook": code_hash(nb), "parameters": resolved}
    fingerprints = inputs_fingerprint(inputs) if inputs else None
    if fingerprints is not None:
        identity["inputs"] = sorted(fingerprints.values())
    config_id = config_hash(identity)
    return f"{path.stem}-{config_id}", config_id, resolved, fingerprints
