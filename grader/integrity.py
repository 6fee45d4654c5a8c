"""Detect a notebook that patches the grader, the reference or the libraries checks use.

Before the learner's code runs, record the identity of every attribute of the guarded
modules, the reference namespace and the classes in them; after, compare. Added names
are fine (imports); replaced or deleted ones are tampering.
"""

from __future__ import annotations

import builtins
import sys
import types
from typing import Any

# The grader, the mock, and the top level of libraries the checks compute with. Only
# functions, classes and modules are compared: data (counters, caches, RNG state) may
# change legitimately while a notebook runs.
GUARDED_PREFIXES = ("grader", "mock_llm", "numpy", "hypothesis")
GUARDED_EXACT = ("math", "json", "time", "statistics", "builtins")

Snapshot = dict[str, int]


def _guarded_modules() -> list[tuple[str, types.ModuleType]]:
    out = []
    for name, module in list(sys.modules.items()):
        if not isinstance(module, types.ModuleType):
            continue
        top = name.split(".", 1)[0]
        if name in GUARDED_EXACT or (top in GUARDED_PREFIXES and (top in {"grader", "mock_llm"} or "." not in name)):
            out.append((name, module))
    return out


def _guarded(value: Any) -> bool:
    return callable(value) or isinstance(value, types.ModuleType)


def _walk(label: str, mapping: dict[str, Any], out: Snapshot, depth: int = 0) -> None:
    for key, value in list(mapping.items()):
        if not _guarded(value):
            continue
        out[f"{label}.{key}"] = id(value)
        if depth == 0 and isinstance(value, type):
            for attr, member in list(vars(value).items()):
                if _guarded(member) or isinstance(member, staticmethod | classmethod | property):
                    out[f"{label}.{key}.{attr}"] = id(member)


def snapshot(reference: dict[str, Any]) -> Snapshot:
    out: Snapshot = {}
    for name, module in _guarded_modules():
        out[f"sys.modules[{name}]"] = id(module)
        _walk(name, vars(module), out)
    _walk("reference", reference, out)
    _walk("builtins", vars(builtins), out)
    return out


def changes(before: Snapshot, reference: dict[str, Any]) -> list[str]:
    """Names whose object was replaced or removed since ``before``."""
    after = snapshot(reference)
    return sorted(name for name, ident in before.items() if after.get(name) != ident)
