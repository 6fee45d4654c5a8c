"""Load the code of a notebook into a fresh namespace, as a kernel would run it.

Runs code cells in order, except the autograded test cells (they call the grader) and
cells tagged ``demo`` (plots, widgets, benchmarks: what a learner looks at, not what is
graded). A cell that raises is recorded and skipped, as a learner's half-finished cell
should cost that exercise's checks, not the whole notebook. IPython magics and shell
lines are dropped; top-level ``await`` works, as in Jupyter.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SKIP_TAGS = {"demo", "skip-grading"}


class NotebookError(Exception):
    """The file is not a notebook we can read."""


@dataclass
class CellError:
    index: int
    error: str


@dataclass
class Loaded:
    namespace: dict[str, Any]
    errors: list[CellError] = field(default_factory=list)


def read_notebook(path: Path) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NotebookError(f"cannot read {path}: {exc}") from None
    try:
        notebook = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(f"{Path(path).name} is not valid notebook JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise NotebookError(f"{Path(path).name} has no list of cells: not a Jupyter notebook")
    return notebook


def cell_source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def is_test_cell(cell: dict[str, Any]) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution")


def graded_code(notebook: dict[str, Any]) -> list[tuple[int, str]]:
    """The code cells the grader runs, with their index in the notebook."""
    out = []
    for index, cell in enumerate(notebook["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code" or is_test_cell(cell):
            continue
        if SKIP_TAGS.intersection(cell.get("metadata", {}).get("tags", [])):
            continue
        lines = [line for line in cell_source(cell).splitlines() if not line.lstrip().startswith(("%", "!"))]
        out.append((index, "\n".join(lines)))
    return out


def load(path: Path, module_name: str = "__notebook__") -> Loaded:
    """Execute the notebook's graded code cells in a new module namespace."""
    notebook = read_notebook(path)
    module = types.ModuleType(module_name)
    module.__file__ = str(path)
    namespace = module.__dict__
    sys.modules[module_name] = module  # as a kernel's __main__ is: Pydantic and pickle look classes up here
    loaded = Loaded(namespace)
    for index, source in graded_code(notebook):
        try:
            code = compile(
                source,
                f"<{Path(path).name} cell {index}>",
                "exec",
                flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
                dont_inherit=True,  # this module's `from __future__ import annotations` must not leak in
            )
            result = eval(code, namespace)
            if inspect.iscoroutine(result):
                asyncio.run(result)
        except BaseException as exc:
            loaded.errors.append(CellError(index, f"{type(exc).__name__}: {exc}"[:500]))
    return loaded
