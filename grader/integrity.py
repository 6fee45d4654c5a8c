"""Integrity: what a submission did to the grader, and what its code reaches for.

Three layers, each giving a reason a human can read:

- **static**: the learner's code is parsed (never run) for imports of the grader, names
  of the reference, and introspection that could reach the checks' data (frames,
  ``sys.modules``, ``gc``), ``ctypes`` and subprocesses;
- **locked cells**: each locked test cell must be the released one, by ``grade_id``;
  edited or deleted cells are reported (the engine never runs them anyway);
- **runtime**: before the learner's code runs, the grader, the mock, the top level of
  the libraries checks compute with, and builtins are snapshotted, *with* their objects;
  after, anything replaced or deleted is put back, so grading always uses the original
  checks, and the change is reported.

A flag never changes a score by itself: the submission is graded with the original
checks, and the flag sends it to a human.
"""

from __future__ import annotations

import ast
import builtins
import re
import sys
import types
from dataclasses import dataclass
from typing import Any

from .loader import cell_source, grade_meta, graded_code

# Only functions, classes and modules are compared: data (counters, caches, RNG state) may
# change legitimately while a notebook runs.
# (Not openai or pydantic: their lazy attributes change identity when first accessed.)
GUARDED_PREFIXES = ("grader", "mock_llm", "numpy", "hypothesis")
GUARDED_EXACT = ("math", "json", "time", "statistics", "builtins", "asyncio", "os", "posix", "io", "signal", "resource")
DEEP = ("grader", "mock_llm")  # every submodule, not just the top level


@dataclass(frozen=True)
class Slot:
    """One guarded binding: ``owner[key]`` (a module's or class's ``__dict__``) held ``value``."""

    owner: Any
    key: str
    value: Any
    label: str


def _guarded_modules() -> list[tuple[str, types.ModuleType]]:
    out = []
    for name, module in list(sys.modules.items()):
        if not isinstance(module, types.ModuleType):
            continue
        top = name.split(".", 1)[0]
        if name in GUARDED_EXACT or (top in GUARDED_PREFIXES and (top in DEEP or "." not in name)):
            out.append((name, module))
    return out


def _guarded(value: Any) -> bool:
    return callable(value) or isinstance(value, types.ModuleType | staticmethod | classmethod | property)


class Snapshot:
    def __init__(self) -> None:
        self.slots: list[Slot] = []
        self.modules: dict[str, types.ModuleType] = {}
        for name, module in _guarded_modules():
            self.modules[name] = module
            self._walk(name, module, vars(module), depth=0)
        self._walk("builtins", builtins, vars(builtins), depth=1)

    def _walk(self, label: str, owner: Any, mapping: Any, depth: int) -> None:
        for key, value in list(mapping.items()):
            if not _guarded(value):
                continue
            self.slots.append(Slot(owner, key, value, f"{label}.{key}"))
            if depth == 0 and isinstance(value, type) and getattr(value, "__module__", "").startswith(DEEP):
                self._walk(f"{label}.{key}", value, vars(value), depth=1)

    def changes(self) -> list[str]:
        """Names whose object was replaced or removed since the snapshot."""
        changed = [slot.label for slot in self.slots if _current(slot) is not slot.value]
        changed += [f"sys.modules[{n!r}]" for n, m in self.modules.items() if sys.modules.get(n) is not m]
        return sorted(set(changed))

    def restore(self) -> list[str]:
        """Put every guarded binding back; the names that had changed."""
        changed = self.changes()
        for slot in self.slots:
            if _current(slot) is not slot.value:
                try:
                    setattr(slot.owner, slot.key, slot.value)
                except (AttributeError, TypeError):
                    vars(slot.owner)[slot.key] = slot.value  # a module's dict, or builtins
        for name, module in self.modules.items():
            sys.modules[name] = module
        return changed


def _current(slot: Slot) -> Any:
    return vars(slot.owner).get(slot.key, _MISSING)


_MISSING = object()


# --- static scan -------------------------------------------------------------------------------

INTROSPECTION = {
    "_getframe": "reads the interpreter's call stack (sys._getframe)",
    "currentframe": "reads the interpreter's call stack (inspect.currentframe)",
    "f_back": "walks the call stack (f_back)",
    "f_locals": "reads another function's variables (f_locals)",
    "f_globals": "reads another module's globals (f_globals)",
    "tb_frame": "walks the call stack (tb_frame)",
    "gi_frame": "walks the call stack (gi_frame)",
    "get_objects": "searches the interpreter's memory (gc.get_objects)",
    "get_referrers": "searches the interpreter's memory (gc.get_referrers)",
    "get_referents": "searches the interpreter's memory (gc.get_referents)",
    "__subclasses__": "enumerates the interpreter's classes (__subclasses__)",
    "_current_frames": "reads other threads' stacks (sys._current_frames)",
}
RAW_OS = {
    "system": "starts other programs",
    "popen": "starts other programs",
    "execv": "starts other programs",
    "execvp": "starts other programs",
    "spawnv": "starts other programs",
    "fork": "starts a process of its own",
    "write": "writes to raw file descriptors",
    "dup2": "redirects raw file descriptors",
    "fdopen": "opens raw file descriptors",
    "open": "opens files below Python's file objects",
}
FORBIDDEN_MODULES = {
    "grader": "imports the grader",
    "ctypes": "uses ctypes (raw memory access)",
    "subprocess": "starts other programs (subprocess)",
    "importlib": "imports modules by computed names (importlib)",
}
NAMED = re.compile(r"__reference__|\bsolutions/|grader\.(?:nb|checks|hidden|registry|oracle|worker|runner)")


def scan_code(source: str, where: str) -> list[str]:
    """Reasons to look at this code twice; empty for ordinary code."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []  # the loader reports it as the cell's error
    reasons: list[str] = []
    for node in ast.walk(tree):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module]
        for module in modules:
            top = module.split(".", 1)[0]
            if top in FORBIDDEN_MODULES:
                reasons.append(f"{where} {FORBIDDEN_MODULES[top]}")
        if isinstance(node, ast.Attribute) and node.attr in INTROSPECTION:
            reasons.append(f"{where} {INTROSPECTION[node.attr]}")
        elif isinstance(node, ast.Attribute) and node.attr == "modules" and _is_name(node.value, "sys"):
            reasons.append(f"{where} looks modules up in sys.modules")
        elif isinstance(node, ast.Attribute) and node.attr in RAW_OS and _is_name(node.value, "os"):
            reasons.append(f"{where} {RAW_OS[node.attr]} (os.{node.attr})")
        elif isinstance(node, ast.Name) and node.id in {"__import__", "__builtins__"}:
            reasons.append(f"{where} uses {node.id}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and (named := NAMED.search(node.value)):
            reasons.append(f"{where} names the grader or the reference ({named.group(0)!r})")
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.Delete):
            targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and _root_name(target) in {"builtins", "np", "numpy", "grader"}:
                    reasons.append(f"{where} assigns to {_root_name(target)}.{target.attr}")
    return list(dict.fromkeys(reasons))


def _is_name(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def scan_notebook(notebook: dict[str, Any]) -> list[str]:
    reasons: list[str] = []
    for index, source in graded_code(notebook):
        reasons += scan_code(source, f"cell {index + 1}")
    return reasons


HIDDEN_TESTS = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[ \t]*$", re.M | re.S)


def _normalise(source: str) -> str:
    """A test cell's text without trailing spaces, and without the hidden tests nbgrader strips on release."""
    source = HIDDEN_TESTS.sub("", source)
    return "\n".join(line.rstrip() for line in source.strip().splitlines() if line.strip())


def locked_cells(submitted: dict[str, Any], released: dict[str, Any]) -> list[str]:
    """Locked cells of the release that the submission deleted or edited, by grade_id."""
    theirs: dict[str, str] = {}
    for cell in submitted.get("cells", []):
        if isinstance(cell, dict) and grade_meta(cell).get("grade_id"):
            theirs.setdefault(str(grade_meta(cell)["grade_id"]), cell_source(cell))
    reasons = []
    for cell in released.get("cells", []):
        meta = grade_meta(cell)
        if not meta.get("locked") or not meta.get("grade_id"):
            continue
        grade_id = str(meta["grade_id"])
        if grade_id not in theirs:
            reasons.append(f"the locked cell {grade_id} was deleted")
        elif _normalise(theirs[grade_id]) != _normalise(cell_source(cell)):
            reasons.append(f"the locked cell {grade_id} was edited")
    return reasons
