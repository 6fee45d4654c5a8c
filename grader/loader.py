"""Load the code of a notebook into a fresh namespace, as a kernel would run it.

Runs code cells in order, except the autograded test cells (they call the grader) and
cells tagged ``demo`` (plots, widgets, benchmarks: what a learner looks at, not what is
graded). A cell that raises is recorded and skipped, as a learner's half-finished cell
should cost that exercise's checks, not the whole notebook. IPython magics and shell
lines are dropped; top-level ``await`` works, as in Jupyter.

Cells are named as a learner finds them in JupyterLab: by position counting every cell
from 1, and by their first line.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import re
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SKIP_TAGS = {"demo", "skip-grading"}
LEARNER_LABEL = "notebook"
REFERENCE_LABEL = "reference"
_CELL_FILE = re.compile(r"^<(\w+) cell (\d+)>$")
_first_lines: dict[str, str] = {}


class NotebookError(Exception):
    """The file is not a notebook we can read."""


@dataclass
class CellError:
    index: int
    error: str
    first_line: str = ""  # the cell's first line of code: JupyterLab shows no cell numbers

    @property
    def where(self) -> str:
        return f"cell {self.index}" + (f" (`{self.first_line}`)" if self.first_line else "")


@dataclass
class Loaded:
    namespace: dict[str, Any]
    errors: list[CellError] = field(default_factory=list)


def read_notebook(path: Path) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NotebookError(f"cannot read {Path(path).name}: {exc}") from None
    return parse_notebook(text, Path(path).name)


def parse_notebook(text: str, name: str) -> dict[str, Any]:
    try:
        notebook = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(f"{name} is not valid notebook JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise NotebookError(f"{name} has no list of cells: not a Jupyter notebook")
    return notebook


def cell_source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def grade_meta(cell: dict[str, Any]) -> dict[str, Any]:
    meta = cell.get("metadata", {}) if isinstance(cell, dict) else {}
    nbgrader = meta.get("nbgrader", {}) if isinstance(meta, dict) else {}
    return nbgrader if isinstance(nbgrader, dict) else {}


def is_test_cell(cell: dict[str, Any]) -> bool:
    meta = grade_meta(cell)
    return bool(meta.get("grade")) and not meta.get("solution")


def _tags(cell: dict[str, Any]) -> set[str]:
    meta = cell.get("metadata", {})
    tags = meta.get("tags", []) if isinstance(meta, dict) else []
    return {t for t in tags if isinstance(t, str)} if isinstance(tags, list) else set()


def _python(source: str) -> str:
    """The cell as plain Python, as IPython runs it: magics and shell escapes become harmless calls.

    IPython's own transformer, so a continuation line that starts with ``%`` or ``!`` (an
    operator wrapped by a formatter) stays code, as it does in Jupyter.
    """
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # pragma: no cover - IPython ships with the kit
        return source
    if source.lstrip().startswith("%%"):  # a cell magic (%%time, %%capture): grade the code it wraps
        source = source.lstrip().split("\n", 1)[1] if "\n" in source.lstrip() else ""
    try:
        python = TransformerManager().transform_cell(source)  # type: ignore[no-untyped-call]
    except Exception:
        return source  # a syntax error is reported when the cell is compiled
    return re.sub(r"get_ipython\(\)\.(run_line_magic|run_cell_magic|system|getoutput)\(", "_skip(", python)


def graded_code(notebook: dict[str, Any]) -> list[tuple[int, str]]:
    """The code cells the grader runs, with their index in the notebook (from 0)."""
    out = []
    for index, cell in enumerate(notebook["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code" or is_test_cell(cell):
            continue
        if SKIP_TAGS.intersection(_tags(cell)):
            continue
        out.append((index, _python(cell_source(cell))))
    return out


def _skip(*args: Any, **kwargs: Any) -> None:
    """Stands in for a magic or a shell command (``%timeit``, ``!pip``) when a notebook is graded."""


def cell_filename(label: str, index: int) -> str:
    return f"<{label} cell {index + 1}>"


def is_learner_file(filename: str) -> bool:
    return filename.startswith(f"<{LEARNER_LABEL} cell ")


def describe_cell(filename: str, lineno: int | None = None) -> str | None:
    """``<notebook cell 10>`` -> ``cell 10 (`class SemanticCache:`), line 4``; None for other files."""
    match = _CELL_FILE.match(filename)
    if not match:
        return None
    first = _first_lines.get(filename)
    text = f"cell {match.group(2)}" + (f" (`{first}`)" if first else "")
    return text + (f", line {lineno}" if lineno else "")


def _first_line(source: str) -> str:
    for line in source.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return stripped if len(stripped) <= 60 else stripped[:57] + "..."
    return ""


def execute(notebook: dict[str, Any], path: Path, module_name: str, label: str) -> Loaded:
    """Execute the notebook's graded code cells in a new module namespace."""
    module = types.ModuleType(module_name)
    module.__file__ = str(path)
    namespace = module.__dict__
    namespace["_skip"] = _skip  # magics and shell escapes do nothing when graded
    sys.modules[module_name] = module  # as a kernel's __main__ is: Pydantic and pickle look classes up here
    loaded = Loaded(namespace)
    for index, source in graded_code(notebook):
        filename = cell_filename(label, index)
        _first_lines[filename] = _first_line(source)
        try:
            code = compile(
                source,
                filename,
                "exec",
                flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
                dont_inherit=True,  # this module's `from __future__ import annotations` must not leak in
            )
            result = eval(code, namespace)
            if inspect.iscoroutine(result):
                asyncio.run(result)
        except BaseException as exc:
            loaded.errors.append(CellError(index + 1, f"{type(exc).__name__}: {exc}"[:500], _first_lines[filename]))
    return loaded


def load(path: Path, module_name: str = "__notebook__", label: str = LEARNER_LABEL) -> Loaded:
    """Read and execute a notebook (see :func:`execute`)."""
    return execute(read_notebook(path), path, module_name, label)
